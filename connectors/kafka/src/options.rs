//! Options of the `kafka` and `upsert-kafka` connectors, with the keys, defaults and meanings of
//! Flink's Kafka SQL connectors.

use std::time::Duration;

use headrace_sdk::factory::FormatSlot;
use headrace_sdk::options::{ConfigOption, OptionSet};
use headrace_sdk::sink::DeliveryGuaranteeOption;

/// `topic`: one topic or a `;`-separated list.
pub const TOPIC: ConfigOption<Vec<String>> = ConfigOption::new("topic").description(
    "Topic name(s) to read from or write to, separated by ';' (e.g. 'orders;returns'). A source \
     needs either 'topic' or 'topic-pattern'. A sink writes to the single topic given, or, when \
     several are listed, to the one named by the row's writable 'topic' metadata column.",
);

/// `topic-pattern`: a regular expression of topics to read.
pub const TOPIC_PATTERN: ConfigOption<String> = ConfigOption::new("topic-pattern").description(
    "A regular expression the whole topic name must match for the source to read it. New \
     matching topics are found by partition discovery. Exclusive with 'topic'.",
);

/// `properties.bootstrap.servers`: where the cluster is.
pub const BOOTSTRAP_SERVERS: ConfigOption<String> =
    ConfigOption::new("properties.bootstrap.servers")
        .description("Comma-separated list of Kafka brokers (host:port).");

/// `properties.group.id`: the consumer group.
pub const GROUP_ID: ConfigOption<String> = ConfigOption::new("properties.group.id").description(
    "The consumer group of the source. Offsets are kept in the job's checkpoints; they are \
     committed to this group when a checkpoint completes, for monitoring and for \
     'scan.startup.mode' = 'group-offsets'. Defaults to 'headrace-<table name>'.",
);

/// `format`: the value format.
pub const FORMAT: ConfigOption<String> = ConfigOption::new("format").description(
    "The format of message values, e.g. 'json' or 'csv' (the same as 'value.format').",
);

/// `value.format`: the value format.
pub const VALUE_FORMAT: ConfigOption<String> = ConfigOption::new("value.format")
    .fallback_keys(&["format"])
    .description("The format of message values, e.g. 'json'. 'format' is a synonym.");

/// `key.format`: the key format.
pub const KEY_FORMAT: ConfigOption<String> = ConfigOption::new("key.format").description(
    "The format of message keys. Needed when 'key.fields' is set (and always for upsert-kafka).",
);

/// Where the value format is chosen.
pub const VALUE_FORMAT_SLOT: FormatSlot = FormatSlot {
    option: VALUE_FORMAT,
};
/// Where the key format is chosen.
pub const KEY_FORMAT_SLOT: FormatSlot = FormatSlot { option: KEY_FORMAT };

/// `key.fields`: the physical columns stored in the message key.
pub const KEY_FIELDS: ConfigOption<Vec<String>> = ConfigOption::new("key.fields").description(
    "The physical columns read from and written to the message key, separated by ';', in the \
     order the key format writes them. Not used by upsert-kafka, whose key is the primary key.",
);

/// `key.fields-prefix`: a prefix the key columns carry in the table.
pub const KEY_FIELDS_PREFIX: ConfigOption<String> = ConfigOption::new("key.fields-prefix")
    .description(
        "A prefix of the key columns' names in the table, stripped to get the names in the key \
         format (e.g. 'k_' maps column 'k_id' to key field 'id'). Requires \
         'value.fields-include' = 'EXCEPT_KEY'.",
    );

headrace_sdk::option_enum! {
    /// `value.fields-include` values.
    pub enum ValueFieldsInclude {
        /// Every physical column is in the value.
        All = "ALL",
        /// Key columns are not in the value.
        ExceptKey = "EXCEPT_KEY",
    }
}

/// `value.fields-include`: whether the key columns are also in the value.
pub const VALUE_FIELDS_INCLUDE: ConfigOption<ValueFieldsInclude> =
    ConfigOption::new("value.fields-include")
        .default_value("ALL")
        .description(
            "Which physical columns the value holds: 'ALL' (also the key columns) or \
             'EXCEPT_KEY'.",
        );

headrace_sdk::option_enum! {
    /// `scan.startup.mode` values.
    pub enum StartupMode {
        /// From the earliest offset of each partition.
        EarliestOffset = "earliest-offset",
        /// From the end of each partition.
        LatestOffset = "latest-offset",
        /// From the consumer group's committed offsets.
        GroupOffsets = "group-offsets",
        /// From the first offset at or after a timestamp.
        Timestamp = "timestamp",
        /// From offsets given per partition.
        SpecificOffsets = "specific-offsets",
    }
}

/// `scan.startup.mode`.
pub const SCAN_STARTUP_MODE: ConfigOption<StartupMode> = ConfigOption::new("scan.startup.mode")
    .default_value("group-offsets")
    .description(
        "Where reading starts: 'earliest-offset', 'latest-offset', 'group-offsets' (the group's \
         committed offsets; partitions without one follow 'properties.auto.offset.reset', which \
         is 'none' by default: an error), 'timestamp' ('scan.startup.timestamp-millis') or \
         'specific-offsets' ('scan.startup.specific-offsets'). Partitions found later by \
         discovery are read from their earliest offset.",
    );

/// `scan.startup.specific-offsets`.
pub const SCAN_STARTUP_SPECIFIC_OFFSETS: ConfigOption<String> =
    ConfigOption::new("scan.startup.specific-offsets").description(
        "Start offsets per partition for 'specific-offsets' mode, e.g. \
         'partition:0,offset:42;partition:1,offset:300'. Partitions not listed start from the \
         group's committed offset.",
    );

/// `scan.startup.timestamp-millis`.
pub const SCAN_STARTUP_TIMESTAMP_MILLIS: ConfigOption<i64> =
    ConfigOption::new("scan.startup.timestamp-millis")
        .description("Start timestamp (epoch milliseconds) for 'timestamp' mode.");

headrace_sdk::option_enum! {
    /// `scan.bounded.mode` values.
    pub enum BoundedMode {
        /// Never ends.
        Unbounded = "unbounded",
        /// Ends at the offsets that were the latest when the job started.
        LatestOffset = "latest-offset",
        /// Ends at the consumer group's committed offsets.
        GroupOffsets = "group-offsets",
        /// Ends at the first offset at or after a timestamp.
        Timestamp = "timestamp",
        /// Ends at offsets given per partition.
        SpecificOffsets = "specific-offsets",
    }
}

/// `scan.bounded.mode`.
pub const SCAN_BOUNDED_MODE: ConfigOption<BoundedMode> = ConfigOption::new("scan.bounded.mode")
    .default_value("unbounded")
    .description(
        "Where a bounded read ends (the offset given is not read): 'unbounded', 'latest-offset' \
         (the end of each partition when the job starts), 'group-offsets', 'timestamp' \
         ('scan.bounded.timestamp-millis') or 'specific-offsets' \
         ('scan.bounded.specific-offsets').",
    );

/// `scan.bounded.specific-offsets`.
pub const SCAN_BOUNDED_SPECIFIC_OFFSETS: ConfigOption<String> =
    ConfigOption::new("scan.bounded.specific-offsets").description(
        "End offsets per partition for bounded 'specific-offsets' mode, e.g. \
         'partition:0,offset:42;partition:1,offset:300'.",
    );

/// `scan.bounded.timestamp-millis`.
pub const SCAN_BOUNDED_TIMESTAMP_MILLIS: ConfigOption<i64> =
    ConfigOption::new("scan.bounded.timestamp-millis")
        .description("End timestamp (epoch milliseconds) for bounded 'timestamp' mode.");

/// `scan.topic-partition-discovery.interval`.
pub const SCAN_TOPIC_PARTITION_DISCOVERY_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("scan.topic-partition-discovery.interval")
        .default_value("5 min")
        .description(
            "How often an unbounded source looks for new partitions (and, with 'topic-pattern', \
             new topics). '0' disables discovery.",
        );

/// `scan.parallelism`.
pub const SCAN_PARALLELISM: ConfigOption<usize> = ConfigOption::new("scan.parallelism")
    .description("Number of readers; defaults to the job's parallelism.");

headrace_sdk::option_enum! {
    /// `sink.partitioner` values.
    pub enum SinkPartitioner {
        /// Kafka's default: murmur2 hash of the key, or sticky for records without a key.
        Default = "default",
        /// Each writer writes to one partition (writer index modulo the partition count).
        Fixed = "fixed",
        /// Records are spread over all partitions in turn.
        RoundRobin = "round-robin",
    }
}

/// `sink.partitioner`.
pub const SINK_PARTITIONER: ConfigOption<SinkPartitioner> = ConfigOption::new("sink.partitioner")
    .default_value("default")
    .description(
        "How records are spread over partitions: 'default' (Kafka's: murmur2 hash of the key \
         like the Java client, so keys land where Java producers put them; records without a \
         key are spread), 'fixed' (each writer writes to one partition) or 'round-robin'.",
    );

/// `sink.delivery-guarantee`.
pub const SINK_DELIVERY_GUARANTEE: ConfigOption<DeliveryGuaranteeOption> =
    ConfigOption::new("sink.delivery-guarantee")
        .default_value("at-least-once")
        .description(
            "'none' (fire and forget), 'at-least-once' (every checkpoint waits until all records \
             are acknowledged) or 'exactly-once' (Kafka transactions committed with the \
             checkpoint; needs 'sink.transactional-id-prefix' and readers with \
             'isolation.level' = 'read_committed').",
        );

/// `sink.transactional-id-prefix`.
pub const SINK_TRANSACTIONAL_ID_PREFIX: ConfigOption<String> =
    ConfigOption::new("sink.transactional-id-prefix").description(
        "Prefix of the transactional ids of an exactly-once sink; must be unique among all jobs \
         writing to the cluster. A sink uses at most 'headrace.sink.transactional-id-pool-size' ids.",
    );

/// `headrace.sink.transactional-id-pool-size` (Headrace extension).
pub const SINK_TRANSACTIONAL_ID_POOL_SIZE: ConfigOption<usize> =
    ConfigOption::new("headrace.sink.transactional-id-pool-size")
        .default_value("2")
        .description(
            "Headrace extension: how many transactional ids an exactly-once sink cycles through \
             (one transaction is committing while the next one fills). Each id costs broker \
             memory until 'transactional.id.expiration.ms' passes, so the pool is small and \
             fixed. Inside Flink (per-writer pools) the default is 5: Flink keeps the \
             transactions of failed checkpoints open until the next completed one.",
        );

/// `sink.parallelism`.
pub const SINK_PARALLELISM: ConfigOption<usize> =
    ConfigOption::new("sink.parallelism").description("Number of writers.");

/// `sink.buffer-flush.max-rows` (upsert-kafka).
pub const SINK_BUFFER_FLUSH_MAX_ROWS: ConfigOption<usize> =
    ConfigOption::new("sink.buffer-flush.max-rows")
        .default_value("0")
        .description(
            "upsert-kafka: buffer up to this many rows per key before sending, keeping only the \
             last row per key; 0 disables buffering. Needs 'sink.buffer-flush.interval' too.",
        );

/// `sink.buffer-flush.interval` (upsert-kafka).
pub const SINK_BUFFER_FLUSH_INTERVAL: ConfigOption<Duration> =
    ConfigOption::new("sink.buffer-flush.interval")
        .default_value("0 ms")
        .description(
            "upsert-kafka: send buffered rows at least this often; 0 disables buffering. Needs \
             'sink.buffer-flush.max-rows' too.",
        );

/// Description of the forwarded `properties.*` keys.
pub const PROPERTIES_PREFIX_DESCRIPTION: &str =
    "Any librdkafka / Kafka client property, e.g. 'properties.security.protocol', \
     'properties.isolation.level' ('read_uncommitted' by default, as with Flink's Java client; \
     set 'read_committed' to read only committed transactions), \
     'properties.transaction.timeout.ms'.";

fn common() -> OptionSet {
    OptionSet::new()
        .required(BOOTSTRAP_SERVERS)
        .prefix("properties.", PROPERTIES_PREFIX_DESCRIPTION)
        .optional(KEY_FORMAT)
        .optional(KEY_FIELDS_PREFIX)
        .optional(VALUE_FORMAT)
        .optional(VALUE_FIELDS_INCLUDE)
}

/// Options of the `kafka` connector as a source.
pub fn kafka_source_options() -> OptionSet {
    common()
        .optional(TOPIC)
        .optional(TOPIC_PATTERN)
        .optional(GROUP_ID)
        .optional(KEY_FIELDS)
        .optional(SCAN_STARTUP_MODE)
        .optional(SCAN_STARTUP_SPECIFIC_OFFSETS)
        .optional(SCAN_STARTUP_TIMESTAMP_MILLIS)
        .optional(SCAN_BOUNDED_MODE)
        .optional(SCAN_BOUNDED_SPECIFIC_OFFSETS)
        .optional(SCAN_BOUNDED_TIMESTAMP_MILLIS)
        .optional(SCAN_TOPIC_PARTITION_DISCOVERY_INTERVAL)
        .optional(SCAN_PARALLELISM)
}

/// Options of the `kafka` connector as a sink.
pub fn kafka_sink_options() -> OptionSet {
    common()
        .required(TOPIC)
        .optional(KEY_FIELDS)
        .optional(SINK_PARTITIONER)
        .optional(SINK_DELIVERY_GUARANTEE)
        .optional(SINK_TRANSACTIONAL_ID_PREFIX)
        .optional(SINK_TRANSACTIONAL_ID_POOL_SIZE)
        .optional(SINK_PARALLELISM)
}

/// Every option of the `kafka` connector.
pub fn kafka_options() -> OptionSet {
    kafka_source_options()
        .optional(SINK_PARTITIONER)
        .optional(SINK_DELIVERY_GUARANTEE)
        .optional(SINK_TRANSACTIONAL_ID_PREFIX)
        .optional(SINK_TRANSACTIONAL_ID_POOL_SIZE)
        .optional(SINK_PARALLELISM)
}

/// Options of the `upsert-kafka` connector as a source.
pub fn upsert_source_options() -> OptionSet {
    common()
        .required(TOPIC)
        .optional(GROUP_ID)
        .optional(SCAN_PARALLELISM)
}

/// Options of the `upsert-kafka` connector as a sink.
pub fn upsert_sink_options() -> OptionSet {
    common()
        .required(TOPIC)
        .optional(SINK_PARALLELISM)
        .optional(SINK_BUFFER_FLUSH_MAX_ROWS)
        .optional(SINK_BUFFER_FLUSH_INTERVAL)
        .optional(SINK_DELIVERY_GUARANTEE)
        .optional(SINK_TRANSACTIONAL_ID_PREFIX)
        .optional(SINK_TRANSACTIONAL_ID_POOL_SIZE)
}

/// Every option of the `upsert-kafka` connector.
pub fn upsert_options() -> OptionSet {
    upsert_source_options()
        .optional(SINK_PARALLELISM)
        .optional(SINK_BUFFER_FLUSH_MAX_ROWS)
        .optional(SINK_BUFFER_FLUSH_INTERVAL)
        .optional(SINK_DELIVERY_GUARANTEE)
        .optional(SINK_TRANSACTIONAL_ID_PREFIX)
        .optional(SINK_TRANSACTIONAL_ID_POOL_SIZE)
}

/// One `partition:P,offset:O` entry of a specific-offsets option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffset {
    /// Partition number.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// Parse `partition:0,offset:42;partition:1,offset:300`; the error says what is wrong and how
/// to write it.
pub fn parse_specific_offsets(s: &str) -> Result<Vec<PartitionOffset>, String> {
    let mut out = Vec::new();
    for entry in s.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for kv in entry.split(',') {
            let (k, v) = kv.split_once(':').ok_or_else(|| {
                format!(
                    "entry '{entry}' is not of the form 'partition:<n>,offset:<n>' (e.g. \
                     'partition:0,offset:42;partition:1,offset:300')"
                )
            })?;
            match k.trim() {
                "partition" => {
                    partition = Some(v.trim().parse::<i32>().map_err(|_| {
                        format!("entry '{entry}': partition '{}' is not a number", v.trim())
                    })?)
                }
                "offset" => {
                    offset = Some(v.trim().parse::<i64>().map_err(|_| {
                        format!("entry '{entry}': offset '{}' is not a number", v.trim())
                    })?)
                }
                other => {
                    return Err(format!(
                    "entry '{entry}': unknown field '{other}' (expected 'partition' and 'offset')"
                ))
                }
            }
        }
        match (partition, offset) {
            (Some(partition), Some(offset)) if partition >= 0 && offset >= 0 => {
                out.push(PartitionOffset { partition, offset })
            }
            (Some(_), Some(_)) => {
                return Err(format!(
                    "entry '{entry}': partition and offset must not be negative"
                ))
            }
            _ => {
                return Err(format!(
                    "entry '{entry}' needs both 'partition:<n>' and 'offset:<n>'"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("no 'partition:<n>,offset:<n>' entry".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_offsets() {
        assert_eq!(
            parse_specific_offsets("partition:0,offset:42;partition:1,offset:300").unwrap(),
            vec![
                PartitionOffset {
                    partition: 0,
                    offset: 42
                },
                PartitionOffset {
                    partition: 1,
                    offset: 300
                }
            ]
        );
        let e = parse_specific_offsets("partition:0").unwrap_err();
        assert!(e.contains("needs both"), "{e}");
        let e = parse_specific_offsets("p:0,offset:1").unwrap_err();
        assert!(e.contains("unknown field 'p'"), "{e}");
        let e = parse_specific_offsets("partition:x,offset:1").unwrap_err();
        assert!(e.contains("not a number"), "{e}");
    }
}
