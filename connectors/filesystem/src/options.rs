//! Options of the filesystem connector, with Flink's keys, defaults and meanings.
//!
//! Only the options this connector implements are declared; Flink's other filesystem keys
//! (`source.report-statistics`, `compaction.parallelism`) are rejected as unknown options rather
//! than accepted and ignored.

use std::time::Duration;

use headrace_sdk::factory::FormatSlot;
use headrace_sdk::options::{ConfigOption, MemorySize, OptionSet};

use crate::commit::CommitTrigger;

/// `path`: the file or directory read or written.
pub const PATH: ConfigOption<String> = ConfigOption::new("path").description(
    "A file or a directory. A source reads the file, or every visible file below the directory \
     (recursively); a sink writes its part files below the directory.",
);

/// `format`: the format of the lines of the files.
pub const FORMAT: ConfigOption<String> = ConfigOption::new("format").description(
    "The format of the files: a line format, where each line holds one record (e.g. 'csv' or \
     'json'), or a format of whole files: 'parquet' for Apache Parquet files, 'avro' for Avro \
     object container files.",
);

/// Where the format is chosen.
pub const FORMAT_SLOT: FormatSlot = FormatSlot { option: FORMAT };

/// `source.monitor-interval`: re-list the path this often; bounded when absent.
pub const SOURCE_MONITOR_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("source.monitor-interval").description(
        "How often the source lists the path again to find new files; each file is read once, \
         and the paths already handed out are kept in the checkpointed state. Without this \
         option the path is listed once and the source is bounded. Must be greater than 0.",
    );

/// `source.path.regex-pattern`: only files whose absolute path matches are read.
pub const SOURCE_PATH_REGEX_PATTERN: ConfigOption<String> =
    ConfigOption::new("source.path.regex-pattern").description(
        "A regular expression the whole absolute path of a file must match for the file to be \
         read (e.g. '/data/logs/.*\\.csv'). Hidden files are never read.",
    );

/// `partition.default-name`: the directory name of NULL or empty partition values.
pub const PARTITION_DEFAULT_NAME: ConfigOption<String> =
    ConfigOption::new("partition.default-name")
        .default_value("__DEFAULT_PARTITION__")
        .description(
            "The directory name used for a partition column whose value is NULL or the empty \
         string; when reading, a directory with this value gives NULL.",
        );

/// `sink.rolling-policy.file-size`: roll a part file once it reaches this size.
pub const SINK_ROLLING_POLICY_FILE_SIZE: ConfigOption<MemorySize> =
    ConfigOption::new("sink.rolling-policy.file-size")
        .default_value("128 mb")
        .description("A part file is closed and a new one started once it reaches this size.");

/// `sink.rolling-policy.rollover-interval`: roll a part file once it is this old.
pub const SINK_ROLLING_POLICY_ROLLOVER_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("sink.rolling-policy.rollover-interval")
        .default_value("30 min")
        .description(
            "A part file is closed once it has been open this long; checked every \
             'sink.rolling-policy.check-interval'.",
        );

/// `sink.rolling-policy.inactivity-interval`: roll a part file nobody wrote to for this long.
pub const SINK_ROLLING_POLICY_INACTIVITY_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("sink.rolling-policy.inactivity-interval")
        .default_value("30 min")
        .description(
            "A part file that received no row for this long is closed; checked every \
             'sink.rolling-policy.check-interval'.",
        );

/// `sink.rolling-policy.check-interval`: how often the time-based rolling rules are checked.
pub const SINK_ROLLING_POLICY_CHECK_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("sink.rolling-policy.check-interval")
        .default_value("1 min")
        .description(
            "How often open part files are checked against the rollover and inactivity \
             intervals.",
        );

/// `sink.parallelism`: the number of writers.
pub const SINK_PARALLELISM: ConfigOption<i32> = ConfigOption::new("sink.parallelism")
    .description("Number of parallel writers; 'parallelism.default' applies when unset.");

/// `sink.partition-commit.trigger`: when a partition is committed.
pub const SINK_PARTITION_COMMIT_TRIGGER: ConfigOption<CommitTrigger> =
    ConfigOption::new("sink.partition-commit.trigger")
        .default_value("process-time")
        .description(
            "When a partition is committed. 'process-time': once the wall clock passes the time \
             the partition was first written plus the delay. 'partition-time': once the \
             watermark (from the source table's WATERMARK declaration) passes the time extracted \
             from the partition values plus the delay; without a WATERMARK only the end of input \
             commits. Checked at every checkpoint; every partition is committed when a bounded \
             job ends.",
        );

/// `sink.partition-commit.delay`: how long after its time a partition is committed.
pub const SINK_PARTITION_COMMIT_DELAY: ConfigOption<Duration> =
    ConfigOption::new("sink.partition-commit.delay")
        .default_value("0 s")
        .description(
            "A partition is not committed before this delay: '1 d' for day partitions, '1 h' \
             for hour partitions.",
        );

/// `sink.partition-commit.watermark-time-zone`: the time zone of the watermark.
pub const SINK_PARTITION_COMMIT_WATERMARK_TIME_ZONE: ConfigOption<String> =
    ConfigOption::new("sink.partition-commit.watermark-time-zone")
        .default_value("UTC")
        .description(
            "The time zone in which a watermark becomes a local date-time to compare with \
             partition times ('UTC', a region such as 'America/Los_Angeles' or an offset such \
             as 'GMT-08:00'). 'UTC' suits a TIMESTAMP rowtime; with a TIMESTAMP_LTZ rowtime use \
             the session time zone.",
        );

/// `sink.partition-commit.policy.kind`: what committing a partition does.
pub const SINK_PARTITION_COMMIT_POLICY_KIND: ConfigOption<String> =
    ConfigOption::new("sink.partition-commit.policy.kind").description(
        "What committing a partition does: 'success-file' writes an empty success file into the \
         partition directory once its data is visible. Without this option partitions are not \
         committed. 'metastore' (Hive tables only) and 'custom' (Java classes) are rejected.",
    );

/// `sink.partition-commit.policy.class`: a Java commit policy class (not supported).
pub const SINK_PARTITION_COMMIT_POLICY_CLASS: ConfigOption<String> =
    ConfigOption::new("sink.partition-commit.policy.class").description(
        "The Java PartitionCommitPolicy class of the 'custom' policy; accepted for Flink DDL, \
         but the 'custom' policy is rejected because Headrace cannot run Java classes.",
    );

/// `sink.partition-commit.policy.class.parameters`: parameters of the custom policy class.
pub const SINK_PARTITION_COMMIT_POLICY_CLASS_PARAMETERS: ConfigOption<Vec<String>> =
    ConfigOption::new("sink.partition-commit.policy.class.parameters").description(
        "Constructor parameters of the 'custom' policy class, separated by ';' (accepted for \
         Flink DDL; see 'sink.partition-commit.policy.class').",
    );

/// `sink.partition-commit.success-file.name`: the name of the success file.
pub const SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME: ConfigOption<String> =
    ConfigOption::new("sink.partition-commit.success-file.name")
        .default_value("_SUCCESS")
        .description("The name of the file the 'success-file' policy writes.");

/// `partition.time-extractor.kind`: how a partition's time is extracted.
pub const PARTITION_TIME_EXTRACTOR_KIND: ConfigOption<String> =
    ConfigOption::new("partition.time-extractor.kind")
        .default_value("default")
        .description(
            "How the time of a partition is extracted from its values: 'default' (with \
             'timestamp-pattern' and 'timestamp-formatter'). 'custom' (a Java class) is \
             rejected.",
        );

/// `partition.time-extractor.class`: a Java extractor class (not supported).
pub const PARTITION_TIME_EXTRACTOR_CLASS: ConfigOption<String> =
    ConfigOption::new("partition.time-extractor.class").description(
        "The Java PartitionTimeExtractor class of the 'custom' kind; accepted for Flink DDL, but \
         the 'custom' kind is rejected.",
    );

/// `partition.time-extractor.timestamp-pattern`: how partition values form a timestamp.
pub const PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN: ConfigOption<String> =
    ConfigOption::new("partition.time-extractor.timestamp-pattern").description(
        "How the partition values form a timestamp string: '$dt', '$year-$month-$day \
         $hour:00:00' or '$dt $hour:00:00' ('$name' is replaced by the value of the partition \
         column 'name'). By default the first partition value is used.",
    );

/// `partition.time-extractor.timestamp-formatter`: how the timestamp string is parsed.
pub const PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER: ConfigOption<String> =
    ConfigOption::new("partition.time-extractor.timestamp-formatter").description(
        "A Java DateTimeFormatter pattern parsing the timestamp string, e.g. 'yyyyMMdd' or \
         'yyyy-MM-dd HH' (letters y, M, d, D, H, h, m, s, S, a, E; missing time fields are 0). \
         By default 'yyyy-MM-dd HH:mm:ss' with an optional fraction, or a date alone.",
    );

/// `auto-compaction`: merge each checkpoint's part files before they become visible.
pub const AUTO_COMPACTION: ConfigOption<bool> = ConfigOption::new("auto-compaction")
    .default_value("false")
    .description(
        "Whether the part files each checkpoint writes to a partition are merged into files of \
         'compaction.file-size' before they become visible (they stay hidden until then).",
    );

/// `compaction.file-size`: the size compacted files aim at.
pub const COMPACTION_FILE_SIZE: ConfigOption<MemorySize> =
    ConfigOption::new("compaction.file-size").description(
        "The target size of compacted files: a checkpoint's part files of a partition are \
         merged into files of at most this size; 'sink.rolling-policy.file-size' by default.",
    );

/// `sink.shuffle-by-partition.enable`: route rows of one partition to one writer.
pub const SINK_SHUFFLE_BY_PARTITION_ENABLE: ConfigOption<bool> =
    ConfigOption::new("sink.shuffle-by-partition.enable")
        .default_value("false")
        .description(
            "Send the rows of a partition to one writer (by the hash of the partition values), \
             so that with several writers each partition gets files from one writer only; the \
             partitions are spread over the writers. With 'false', rows go to any writer.",
        );

/// The options read when the table is a sink and commit partitions.
fn partition_commit_options(set: OptionSet) -> OptionSet {
    set.optional(SINK_SHUFFLE_BY_PARTITION_ENABLE)
        .optional(AUTO_COMPACTION)
        .optional(COMPACTION_FILE_SIZE)
        .optional(SINK_PARTITION_COMMIT_TRIGGER)
        .optional(SINK_PARTITION_COMMIT_DELAY)
        .optional(SINK_PARTITION_COMMIT_WATERMARK_TIME_ZONE)
        .optional(SINK_PARTITION_COMMIT_POLICY_KIND)
        .optional(SINK_PARTITION_COMMIT_POLICY_CLASS)
        .optional(SINK_PARTITION_COMMIT_POLICY_CLASS_PARAMETERS)
        .optional(SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME)
        .optional(PARTITION_TIME_EXTRACTOR_KIND)
        .optional(PARTITION_TIME_EXTRACTOR_CLASS)
        .optional(PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN)
        .optional(PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER)
}

/// The options read when the table is a source.
pub fn source_options() -> OptionSet {
    OptionSet::new()
        .required(PATH)
        .required(FORMAT)
        .optional(SOURCE_MONITOR_INTERVAL)
        .optional(SOURCE_PATH_REGEX_PATTERN)
        .optional(PARTITION_DEFAULT_NAME)
}

/// The options read when the table is a sink.
pub fn sink_options() -> OptionSet {
    let set = OptionSet::new()
        .required(PATH)
        .required(FORMAT)
        .optional(PARTITION_DEFAULT_NAME)
        .optional(SINK_ROLLING_POLICY_FILE_SIZE)
        .optional(SINK_ROLLING_POLICY_ROLLOVER_INTERVAL)
        .optional(SINK_ROLLING_POLICY_INACTIVITY_INTERVAL)
        .optional(SINK_ROLLING_POLICY_CHECK_INTERVAL)
        .optional(SINK_PARALLELISM);
    partition_commit_options(set)
}

/// Every option (source and sink), for docs and builders.
pub fn all_options() -> OptionSet {
    let set = OptionSet::new()
        .required(PATH)
        .required(FORMAT)
        .optional(SOURCE_MONITOR_INTERVAL)
        .optional(SOURCE_PATH_REGEX_PATTERN)
        .optional(PARTITION_DEFAULT_NAME)
        .optional(SINK_ROLLING_POLICY_FILE_SIZE)
        .optional(SINK_ROLLING_POLICY_ROLLOVER_INTERVAL)
        .optional(SINK_ROLLING_POLICY_INACTIVITY_INTERVAL)
        .optional(SINK_ROLLING_POLICY_CHECK_INTERVAL)
        .optional(SINK_PARALLELISM);
    partition_commit_options(set)
}
