//! Helpers shared by the test files.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use headrace_format_json::JsonFormatFactory;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{FormatContext, FormatFactory};
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;
use headrace_sdk::types::{LogicalType, FLINK_TYPE_METADATA_KEY};
use serde_json::{json, Value as Json};

/// Every type the legacy (default) mapping supports.
pub const LEGACY: &str = "b BOOLEAN NOT NULL, ti TINYINT, si SMALLINT, i INT, bi BIGINT, \
    f FLOAT, d DOUBLE, `dec` DECIMAL(10, 3), big DECIMAL(38, 0), c CHAR(3), vc VARCHAR(10), \
    s STRING NOT NULL, bin BINARY(4), vb BYTES, dt DATE, t0 TIME(0), t3 TIME(3), \
    ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), arr ARRAY<INT>, m MAP<STRING, BIGINT>, \
    ms MULTISET<STRING>, r ROW<x INT, y STRING NOT NULL>, \
    nested ARRAY<ROW<a INT, b ARRAY<STRING>, c MAP<STRING, DOUBLE>, `inner` ROW<z BOOLEAN>>>";

/// The timestamps of the non-legacy mapping.
pub const MODERN: &str = "id INT NOT NULL, ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), \
    ltz3 TIMESTAMP_LTZ(3), ltz6 TIMESTAMP_LTZ(6), ltz9 TIMESTAMP_LTZ(9)";

/// The Arrow schema of `cols`; MULTISET columns carry their Flink type in the field metadata.
pub fn schema(cols: &str) -> SchemaRef {
    let ts = TableSchema::parse_columns(cols).unwrap();
    let fields: Vec<Field> = ts
        .physical_columns()
        .map(|c| {
            let f = c.data_type.to_arrow_field(&c.name);
            if matches!(c.data_type.logical, LogicalType::Multiset(_)) {
                f.with_metadata(HashMap::from([(
                    FLINK_TYPE_METADATA_KEY.to_string(),
                    c.data_type.logical.to_string(),
                )]))
            } else {
                f
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A format context with options.
pub fn ctx(schema: SchemaRef, fmt: &str, opts: &[(&str, &str)]) -> FormatContext {
    let raw: RawOptions = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FormatContext {
        schema,
        options: Options::new(format!("table 't' (format '{fmt}')"), raw),
    }
}

/// A Kafka-like origin.
pub fn origin(offset: i64) -> RecordOrigin {
    RecordOrigin::Log {
        topic: "orders".into(),
        partition: 1,
        offset,
    }
}

/// Rows of `cols` given as JSON objects (Flink's json format text forms).
pub fn rows(cols: &str, json_rows: &[Json]) -> RecordBatch {
    let c = ctx(schema(cols), "json", &[]);
    let mut d = JsonFormatFactory.create_decoder(&c).unwrap();
    for (i, r) in json_rows.iter().enumerate() {
        d.decode(r.to_string().as_bytes(), &origin(i as i64))
            .unwrap();
    }
    d.finish().unwrap().batch
}

/// Rows of [`LEGACY`] with edge values and NULLs.
pub fn legacy_rows() -> Vec<Json> {
    vec![
        json!({"b": true, "ti": -128, "si": 32767, "i": -2147483648i64, "bi": 9223372036854775807i64,
            "f": 1.5, "d": -2.25e300, "dec": 1234567.891, "big": "-99999999999999999999999999999999999999",
            "c": "abc", "vc": "héllo", "s": "", "bin": "AAEC/w==", "vb": "",
            "dt": "2026-11-25", "t0": "23:59:59", "t3": "12:34:56.789",
            "ts0": "1969-12-31 23:59:59", "ts3": "2026-11-25 12:34:56.123",
            "arr": [1, null, 3], "m": {"a": 1, "b": null}, "ms": {"x": 2, "y": 1},
            "r": {"x": null, "y": "why"},
            "nested": [{"a": 1, "b": ["p", null], "c": {"k": 0.5}, "inner": {"z": false}}, null,
                       {"a": null, "b": [], "c": {}, "inner": null}]}),
        json!({"b": false, "s": "only the NOT NULL columns", "ti": null, "r": null, "nested": []}),
        json!({"b": false, "s": "negative", "dec": -0.001, "big": "1", "ts3": "1900-01-01 00:00:00.001",
            "dt": "1000-01-01", "arr": [], "m": {}, "ms": {}, "r": {"x": 7, "y": ""}}),
    ]
}
/// The first row of `legacy_rows()` as Python's Avro libraries see it, normalised by `tests/py/norm.py`.
pub fn expected_first_legacy_row() -> Json {
    json!({
        "arr": [1, null, 3], "b": true, "bi": 9223372036854775807i64,
        "big": "dec:-99999999999999999999999999999999999999", "bin": "hex:000102ff",
        "c": "abc", "d": "float:-2.25e+300", "dec": "dec:1234567.891", "dt": "date:2026-11-25",
        "f": "float:1.5", "i": -2147483648i64, "m": {"a": 1, "b": null},
        "ms": {"x": 2, "y": 1},
        "nested": [
            {"a": 1, "b": ["p", null], "c": {"k": "float:0.5"}, "inner": {"z": false}},
            null,
            {"a": null, "b": [], "c": {}, "inner": null}
        ],
        "r": {"x": null, "y": "why"}, "s": "", "si": 32767, "t0": "time:23:59:59",
        "t3": "time:12:34:56.789000", "ti": -128, "ts0": "ts:1969-12-31T23:59:59",
        "ts3": "ts:2026-11-25T12:34:56.123000", "vb": "hex:", "vc": "héllo"
    })
}

pub mod registry;

/// The encoded records of `batch` (all inserts), one byte vector per row.
pub fn encode(
    e: &mut dyn headrace_sdk::format::Encoder,
    batch: &RecordBatch,
) -> headrace_sdk::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    e.encode(
        &headrace_sdk::changelog::ChangelogBatch::inserts(batch.clone()),
        &mut |_, b| {
            out.push(b.to_vec());
            Ok(())
        },
    )?;
    Ok(out)
}
