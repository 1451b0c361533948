//! Options of the filesystem connector, with Flink's keys, defaults and meanings.
//!
//! Only the options this connector implements are declared; Flink's other filesystem keys
//! (`sink.partition-commit.*`, `auto-compaction`, `partition.time-extractor.*`, ...) are rejected
//! as unknown options rather than accepted and ignored.

use std::time::Duration;

use headrace_sdk::factory::FormatSlot;
use headrace_sdk::options::{ConfigOption, MemorySize, OptionSet};

/// `path`: the file or directory read or written.
pub const PATH: ConfigOption<String> = ConfigOption::new("path").description(
    "A file or a directory. A source reads the file, or every visible file below the directory \
     (recursively); a sink writes its part files below the directory.",
);

/// `format`: the format of the lines of the files.
pub const FORMAT: ConfigOption<String> = ConfigOption::new("format").description(
    "The format of the files: a line format, where each line holds one record (e.g. 'csv' or \
     'json'), or 'parquet' for Apache Parquet files.",
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
    OptionSet::new()
        .required(PATH)
        .required(FORMAT)
        .optional(PARTITION_DEFAULT_NAME)
        .optional(SINK_ROLLING_POLICY_FILE_SIZE)
        .optional(SINK_ROLLING_POLICY_ROLLOVER_INTERVAL)
        .optional(SINK_ROLLING_POLICY_INACTIVITY_INTERVAL)
        .optional(SINK_ROLLING_POLICY_CHECK_INTERVAL)
        .optional(SINK_PARALLELISM)
}

/// Every option (source and sink), for docs and builders.
pub fn all_options() -> OptionSet {
    OptionSet::new()
        .required(PATH)
        .required(FORMAT)
        .optional(SOURCE_MONITOR_INTERVAL)
        .optional(SOURCE_PATH_REGEX_PATTERN)
        .optional(PARTITION_DEFAULT_NAME)
        .optional(SINK_ROLLING_POLICY_FILE_SIZE)
        .optional(SINK_ROLLING_POLICY_ROLLOVER_INTERVAL)
        .optional(SINK_ROLLING_POLICY_INACTIVITY_INTERVAL)
        .optional(SINK_ROLLING_POLICY_CHECK_INTERVAL)
        .optional(SINK_PARALLELISM)
}
