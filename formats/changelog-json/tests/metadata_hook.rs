//! The SDK's format-metadata hook end to end, as a connector uses it: a Kafka-like connector
//! offering its value format's metadata under `value.`, a table reading `value.source.table`
//! and `value.ingestion-timestamp`, validated, planned, decoded and assembled in table order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::TimestampMillisecondType;
use headrace_format_changelog_json::factories;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::factory::{
    validate_table, ConnectorFactory, FormatSlot, MetadataSpec, TableContext, Usage,
};
use headrace_sdk::options::{ConfigOption, OptionSet, RawOptions};
use headrace_sdk::registry::Registry;
use headrace_sdk::schema::TableSchema;

const VALUE_FORMAT: ConfigOption<String> =
    ConfigOption::new("value.format").fallback_keys(&["format"]);

struct LogConnector;

impl ConnectorFactory for LogConnector {
    fn identifier(&self) -> &'static str {
        "log"
    }
    fn description(&self) -> &'static str {
        "a log"
    }
    fn options(&self) -> OptionSet {
        OptionSet::new().required(VALUE_FORMAT)
    }
    fn format_slots(&self) -> Vec<FormatSlot> {
        vec![FormatSlot {
            option: VALUE_FORMAT,
        }]
    }
    fn format_metadata_prefix(&self, _slot: &FormatSlot) -> Option<&'static str> {
        Some("value.")
    }
    fn metadata(&self) -> Vec<MetadataSpec> {
        vec![MetadataSpec {
            key: "offset",
            data_type: "BIGINT NOT NULL",
            description: "offset",
            readable: true,
            writable: false,
        }]
    }
    fn supports_source(&self) -> bool {
        true
    }
    fn supports_sink(&self) -> bool {
        false
    }
}

#[test]
fn a_connector_reads_format_metadata_through_the_sdk_hook() {
    let mut registry = Registry::new();
    for f in factories() {
        registry.register_format(f);
    }
    let schema = TableSchema::parse_columns(
        "id BIGINT, name STRING, \
         src_table STRING METADATA FROM 'value.source.table' VIRTUAL, \
         off BIGINT METADATA FROM 'offset' VIRTUAL, \
         ingested TIMESTAMP_LTZ(3) METADATA FROM 'value.ingestion-timestamp' VIRTUAL",
    )
    .unwrap();
    let raw: RawOptions = [("connector", "log"), ("format", "debezium-json")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = validate_table(
        &registry,
        &LogConnector,
        "cdc",
        &schema,
        &raw,
        Some(Usage::Source),
    )
    .unwrap();

    // A key the format does not offer is refused by validation, naming the offered ones.
    let typo = TableSchema::parse_columns("id BIGINT, t STRING METADATA FROM 'value.source.tabel'")
        .unwrap();
    let e = validate_table(
        &registry,
        &LogConnector,
        "cdc",
        &typo,
        &raw,
        Some(Usage::Source),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Did you mean 'value.source.table'?"), "{e}");

    let ctx = TableContext {
        table_name: "cdc".into(),
        schema: schema.clone(),
        options,
        registry: &registry,
    };
    let plan = ctx
        .format_metadata_plan(&VALUE_FORMAT, "value.", &LogConnector.metadata())
        .unwrap();
    assert_eq!(plan.format_keys, ["source.table", "ingestion-timestamp"]);

    let physical = schema.physical_arrow_schema();
    let format = ctx.format(&VALUE_FORMAT).unwrap().unwrap();
    let mut d = format
        .decoder_with_metadata(physical.clone(), &plan.format_keys)
        .unwrap();
    let records = [
        r#"{"before":null,"after":{"id":1,"name":"a"},"source":{"table":"t1"},"op":"c","ts_ms":1000}"#,
        r#"{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"source":{"table":"t1"},"op":"u","ts_ms":2000}"#,
    ];
    let mut offsets = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let before = d.buffered_rows();
        d.decode(
            r.as_bytes(),
            &RecordOrigin::Log {
                topic: "cdc".into(),
                partition: 0,
                offset: i as i64,
            },
        )
        .unwrap();
        offsets.extend(std::iter::repeat_n(i as i64, d.buffered_rows() - before));
    }
    let decoded = d.finish().unwrap();
    let n_phys = physical.fields().len();
    assert_eq!(decoded.batch.num_columns(), n_phys + plan.format_keys.len());

    // Assemble the produced row: physical columns, then each metadata column from its source.
    let produced_schema = schema.produced_arrow_schema();
    let mut columns: Vec<ArrayRef> = decoded.batch.columns()[..n_phys].to_vec();
    columns.extend(
        plan.metadata_columns(
            &decoded.batch,
            n_phys,
            &produced_schema.fields()[n_phys..],
            |key| {
                assert_eq!(key, "offset");
                Ok(Arc::new(Int64Array::from(offsets.clone())) as ArrayRef)
            },
        )
        .unwrap(),
    );
    let produced = decoded.with_batch(RecordBatch::try_new(produced_schema, columns).unwrap());
    assert_eq!(produced.num_rows(), 3);
    let b = &produced.batch;
    assert_eq!(b.column(2).as_string::<i32>().value(2), "t1");
    assert_eq!(
        b.column(3)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(2),
        1
    );
    assert_eq!(
        b.column(4)
            .as_primitive::<TimestampMillisecondType>()
            .value(1),
        2000
    );
    assert_eq!(produced.kind(1).short_string(), "-U");
    assert!(!b.column(4).is_null(0));
}
