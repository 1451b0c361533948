//! The `kafka` and `upsert-kafka` factories: option checks and creation of sources and sinks.

use std::sync::Arc;

use headrace_sdk::factory::{ConnectorFactory, FormatSlot, MetadataSpec, TableContext, Usage};
use headrace_sdk::options::OptionSet;
use headrace_sdk::sink::{DeliveryGuarantee, DynamicSink};
use headrace_sdk::source::DynamicSource;
use headrace_sdk::{Error, Result};
use regex::Regex;

use crate::client::ClientSettings;
use crate::layout::{KeySpec, Layout};
use crate::options::*;
use crate::sink::{KafkaSink, KafkaSinkConfig};
use crate::source::{KafkaSource, KafkaSourceConfig};

/// `'connector' = 'kafka'`.
pub const KAFKA: &str = "kafka";
/// `'connector' = 'upsert-kafka'`.
pub const UPSERT_KAFKA: &str = "upsert-kafka";

/// The metadata both connectors offer, as Flink documents it.
pub fn metadata_specs() -> Vec<MetadataSpec> {
    vec![
        MetadataSpec {
            key: "topic",
            data_type: "STRING NOT NULL",
            description: "Topic of the record; a sink with several topics writes each row to the topic it names.",
            readable: true,
            writable: true,
        },
        MetadataSpec {
            key: "partition",
            data_type: "INT NOT NULL",
            description: "Partition of the record.",
            readable: true,
            writable: false,
        },
        MetadataSpec {
            key: "headers",
            data_type: "MAP<STRING, BYTES> NOT NULL",
            description: "Headers of the record (written by a sink when the column is persisted).",
            readable: true,
            writable: true,
        },
        MetadataSpec {
            key: "leader-epoch",
            data_type: "INT NULL",
            description: "Leader epoch of the partition leader that wrote the record, if the broker reports it.",
            readable: true,
            writable: false,
        },
        MetadataSpec {
            key: "offset",
            data_type: "BIGINT NOT NULL",
            description: "Offset of the record in its partition.",
            readable: true,
            writable: false,
        },
        MetadataSpec {
            key: "timestamp",
            data_type: "TIMESTAMP_LTZ(3) NOT NULL",
            description: "Timestamp of the record (written by a sink when the column is persisted).",
            readable: true,
            writable: true,
        },
        MetadataSpec {
            key: "timestamp-type",
            data_type: "STRING NOT NULL",
            description: "Timestamp type of the record: NoTimestampType, CreateTime or LogAppendTime.",
            readable: true,
            writable: false,
        },
    ]
}

/// The `kafka` connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaFactory;

/// The `upsert-kafka` connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpsertKafkaFactory;

impl ConnectorFactory for KafkaFactory {
    fn identifier(&self) -> &'static str {
        KAFKA
    }
    fn description(&self) -> &'static str {
        "Reads and writes Apache Kafka topics (librdkafka): one split per partition with offsets \
         in checkpoints, key and value formats, metadata columns, exactly-once sinks with Kafka \
         transactions. Flink's 'kafka' connector options."
    }
    fn options(&self) -> OptionSet {
        kafka_options()
    }
    fn options_for(&self, usage: Usage) -> OptionSet {
        match usage {
            Usage::Source => kafka_source_options(),
            Usage::Sink => kafka_sink_options(),
        }
    }
    fn format_slots(&self) -> Vec<FormatSlot> {
        vec![KEY_FORMAT_SLOT, VALUE_FORMAT_SLOT]
    }
    fn metadata(&self) -> Vec<MetadataSpec> {
        metadata_specs()
    }
    fn format_metadata_prefix(&self, slot: &FormatSlot) -> Option<&'static str> {
        (slot.option.key() == VALUE_FORMAT.key()).then_some("value.")
    }
    fn supports_source(&self) -> bool {
        true
    }
    fn supports_sink(&self) -> bool {
        true
    }
    fn create_source(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        Ok(Arc::new(source(ctx, false)?))
    }
    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Ok(Arc::new(sink(ctx, false)?))
    }
}

impl ConnectorFactory for UpsertKafkaFactory {
    fn identifier(&self) -> &'static str {
        UPSERT_KAFKA
    }
    fn description(&self) -> &'static str {
        "Reads and writes a Kafka topic as a changelog keyed by the table's primary key: values \
         are upserts, tombstones are deletions. Flink's 'upsert-kafka' connector options."
    }
    fn options(&self) -> OptionSet {
        upsert_options()
    }
    fn options_for(&self, usage: Usage) -> OptionSet {
        match usage {
            Usage::Source => upsert_source_options(),
            Usage::Sink => upsert_sink_options(),
        }
    }
    fn format_slots(&self) -> Vec<FormatSlot> {
        vec![KEY_FORMAT_SLOT, VALUE_FORMAT_SLOT]
    }
    fn metadata(&self) -> Vec<MetadataSpec> {
        metadata_specs()
    }
    fn supports_source(&self) -> bool {
        true
    }
    fn supports_sink(&self) -> bool {
        true
    }
    fn create_source(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        Ok(Arc::new(source(ctx, true)?))
    }
    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Ok(Arc::new(sink(ctx, true)?))
    }
}

fn settings(ctx: &TableContext<'_>) -> ClientSettings {
    ClientSettings {
        properties: ctx.options.with_prefix("properties."),
        context: ctx.options.context().to_string(),
    }
}

/// Key columns (table names) and the value include mode, checked as Flink checks them.
fn key_fields(
    ctx: &TableContext<'_>,
    upsert: bool,
) -> Result<(Vec<String>, ValueFieldsInclude, Option<String>)> {
    let o = &ctx.options;
    let include = o.get(&VALUE_FIELDS_INCLUDE)?;
    let prefix = o.get_optional(&KEY_FIELDS_PREFIX)?;
    let has_key_format = o.contains(&KEY_FORMAT);
    if upsert {
        let pk = ctx.schema.primary_key.clone();
        if pk.is_empty() {
            return Err(Error::Schema(format!(
                "{}: upsert-kafka needs a primary key: add PRIMARY KEY (...) NOT ENFORCED to the table",
                o.context()
            )));
        }
        if !has_key_format {
            return Err(Error::MissingOption {
                context: o.context().to_string(),
                key: KEY_FORMAT.key().to_string(),
                description: "the format of the message key, which holds the primary key".into(),
            });
        }
        return Ok((pk, include, prefix));
    }
    let keys = o.get_optional(&KEY_FIELDS)?.unwrap_or_default();
    if !keys.is_empty() && !has_key_format {
        return Err(o.conflict(
            "'key.fields' is set but 'key.format' is not: add 'key.format' = 'json' (or another format) for the key",
        ));
    }
    if keys.is_empty() && has_key_format {
        return Err(o.conflict(
            "'key.format' is set but 'key.fields' is not: list the key columns in 'key.fields' (e.g. 'id;region')",
        ));
    }
    if prefix.is_some() && keys.is_empty() {
        return Err(o.conflict("'key.fields-prefix' needs 'key.fields'"));
    }
    Ok((keys, include, prefix))
}

fn source(ctx: &TableContext<'_>, upsert: bool) -> Result<KafkaSource> {
    let o = &ctx.options;
    let topics = o.get_optional(&TOPIC)?.unwrap_or_default();
    let pattern = o.get_optional(&TOPIC_PATTERN)?;
    if upsert && pattern.is_some() {
        return Err(o.conflict("upsert-kafka reads one topic: use 'topic', not 'topic-pattern'"));
    }
    let pattern = match (topics.is_empty(), pattern) {
        (false, Some(_)) => {
            return Err(o.conflict(
                "'topic' and 'topic-pattern' are both set; a source reads either a topic list or a pattern",
            ))
        }
        (true, None) => {
            return Err(Error::MissingOption {
                context: o.context().to_string(),
                key: "topic".into(),
                description: "the topic(s) to read; or set 'topic-pattern'".into(),
            })
        }
        (true, Some(p)) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| Error::InvalidOption {
            context: o.context().to_string(),
            key: TOPIC_PATTERN.key().into(),
            value: p.clone(),
            reason: format!("not a regular expression: {e}"),
        })?),
        (false, None) => None,
    };
    let (keys, include, prefix) = key_fields(ctx, upsert)?;
    let format_keys = ctx
        .format_metadata_plan(&VALUE_FORMAT, "value.", &metadata_specs())?
        .format_keys;
    let layout = Layout::new(
        o.context(),
        &ctx.schema,
        &KeySpec {
            fields: &keys,
            prefix: prefix.as_deref(),
            include,
        },
        false,
        upsert,
        &format_keys,
    )?;
    let (startup, bounded) = if upsert {
        (StartupMode::EarliestOffset, BoundedMode::Unbounded)
    } else {
        (o.get(&SCAN_STARTUP_MODE)?, o.get(&SCAN_BOUNDED_MODE)?)
    };
    let (startup_offsets, startup_timestamp) = mode_arguments(
        o,
        "scan.startup.mode",
        startup == StartupMode::SpecificOffsets,
        &SCAN_STARTUP_SPECIFIC_OFFSETS,
        startup == StartupMode::Timestamp,
        &SCAN_STARTUP_TIMESTAMP_MILLIS,
    )?;
    let (bounded_offsets, bounded_timestamp) = mode_arguments(
        o,
        "scan.bounded.mode",
        bounded == BoundedMode::SpecificOffsets,
        &SCAN_BOUNDED_SPECIFIC_OFFSETS,
        bounded == BoundedMode::Timestamp,
        &SCAN_BOUNDED_TIMESTAMP_MILLIS,
    )?;
    let discovery = if upsert {
        None
    } else {
        Some(o.get(&SCAN_TOPIC_PARTITION_DISCOVERY_INTERVAL)?).filter(|d| !d.is_zero())
    };
    let value_format = ctx
        .format(&VALUE_FORMAT)?
        .ok_or_else(|| Error::MissingOption {
            context: o.context().to_string(),
            key: "value.format".into(),
            description: "the format of message values ('format' is a synonym)".into(),
        })?;
    let key_format = ctx.format(&KEY_FORMAT)?;
    let group_id = o
        .get_optional(&GROUP_ID)?
        .unwrap_or_else(|| format!("headrace-{}", ctx.table_name));
    Ok(KafkaSource::new(KafkaSourceConfig {
        settings: settings(ctx),
        topics,
        pattern,
        group_id,
        startup,
        startup_offsets,
        startup_timestamp,
        bounded,
        bounded_offsets,
        bounded_timestamp,
        discovery,
        layout,
        key_format,
        value_format,
        format_keys,
        upsert,
        parallelism: o.get_optional(&SCAN_PARALLELISM)?,
    }))
}

/// The offsets or timestamp a startup or bounded mode needs, checked: `specific-offsets` needs
/// its offsets option, `timestamp` its timestamp option.
fn mode_arguments(
    o: &headrace_sdk::options::Options,
    mode_key: &str,
    wants_offsets: bool,
    offsets: &headrace_sdk::options::ConfigOption<String>,
    wants_timestamp: bool,
    timestamp: &headrace_sdk::options::ConfigOption<i64>,
) -> Result<(Vec<PartitionOffset>, Option<i64>)> {
    let parsed = if wants_offsets {
        let s = o.get_optional(offsets)?.ok_or_else(|| {
            o.conflict(format!(
                "'{mode_key}' = 'specific-offsets' needs '{}' (e.g. \
                 'partition:0,offset:42;partition:1,offset:300')",
                offsets.key()
            ))
        })?;
        parse_specific_offsets(&s).map_err(|r| o.invalid(offsets, &s, r))?
    } else {
        Vec::new()
    };
    let ts = o.get_optional(timestamp)?;
    if wants_timestamp && ts.is_none() {
        return Err(o.conflict(format!(
            "'{mode_key}' = 'timestamp' needs '{}'",
            timestamp.key()
        )));
    }
    Ok((parsed, ts))
}

fn sink(ctx: &TableContext<'_>, upsert: bool) -> Result<KafkaSink> {
    let o = &ctx.options;
    let topics = o.get(&TOPIC)?;
    if topics.is_empty() {
        return Err(o.invalid(&TOPIC, "", "at least one topic is needed"));
    }
    let (keys, include, prefix) = key_fields(ctx, upsert)?;
    let layout = Layout::new(
        o.context(),
        &ctx.schema,
        &KeySpec {
            fields: &keys,
            prefix: prefix.as_deref(),
            include,
        },
        true,
        upsert,
        &[],
    )?;
    let guarantee: DeliveryGuarantee = o.get(&SINK_DELIVERY_GUARANTEE)?.into();
    let prefix_opt = o.get_optional(&SINK_TRANSACTIONAL_ID_PREFIX)?;
    if guarantee == DeliveryGuarantee::ExactlyOnce && prefix_opt.is_none() {
        return Err(o.conflict(
            "'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix' \
             (a prefix unique to this job among all jobs writing to the cluster)",
        ));
    }
    let pool_size = o.get(&SINK_TRANSACTIONAL_ID_POOL_SIZE)?;
    if pool_size < 2 {
        return Err(o.invalid(
            &SINK_TRANSACTIONAL_ID_POOL_SIZE,
            pool_size.to_string(),
            "at least 2 ids are needed (one transaction commits while the next one fills)",
        ));
    }
    let (buffer_max_rows, buffer_interval) = if upsert {
        let rows = o.get(&SINK_BUFFER_FLUSH_MAX_ROWS)?;
        let iv = o.get(&SINK_BUFFER_FLUSH_INTERVAL)?;
        if (rows == 0) != iv.is_zero() {
            return Err(o.conflict(
                "'sink.buffer-flush.max-rows' and 'sink.buffer-flush.interval' must both be \
                 greater than 0 to enable buffering, or both 0",
            ));
        }
        (rows, iv)
    } else {
        (0, std::time::Duration::ZERO)
    };
    let partitioner = if upsert {
        SinkPartitioner::Default
    } else {
        o.get(&SINK_PARTITIONER)?
    };
    let value_format = ctx
        .format(&VALUE_FORMAT)?
        .ok_or_else(|| Error::MissingOption {
            context: o.context().to_string(),
            key: "value.format".into(),
            description: "the format of message values ('format' is a synonym)".into(),
        })?;
    let key_format = ctx.format(&KEY_FORMAT)?;
    let value_format = registry_subject(value_format, &topics, "value");
    let key_format = key_format.map(|f| registry_subject(f, &topics, "key"));
    Ok(KafkaSink::new(KafkaSinkConfig {
        settings: settings(ctx),
        topics,
        layout,
        key_format,
        value_format,
        partitioner,
        guarantee,
        transactional_id_prefix: prefix_opt,
        pool_size,
        subtask_pool_size: if o.contains(&SINK_TRANSACTIONAL_ID_POOL_SIZE) {
            pool_size
        } else {
            crate::sink::SUBTASK_DEFAULT_POOL_SIZE
        },
        parallelism: o.get_optional(&SINK_PARALLELISM)?,
        upsert,
        buffer_max_rows,
        buffer_interval,
    }))
}

/// Flink's `autoCompleteSchemaRegistrySubject`: with a single topic, a schema-registry format
/// without a subject registers under `<topic>-value` / `<topic>-key`.
fn registry_subject(
    f: headrace_sdk::factory::FormatHandle,
    topics: &[String],
    part: &str,
) -> headrace_sdk::factory::FormatHandle {
    match topics {
        [topic] if matches!(f.identifier(), "avro-confluent" | "debezium-avro-confluent") => {
            f.with_default_option("subject", format!("{topic}-{part}"))
        }
        _ => f,
    }
}
