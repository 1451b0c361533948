//! `debezium-json`: Debezium's change event envelope.

use serde::Deserialize;
use serde_json::value::RawValue;

use headrace_sdk::changelog::RowKind;
use headrace_sdk::factory::MetadataSpec;

use crate::common::{as_text, describe, envelope, raw_of, Envelope, MetaSlot, Reason, Rows};

/// The format identifier.
pub const FORMAT: &str = "debezium-json";

const fn meta(
    key: &'static str,
    data_type: &'static str,
    description: &'static str,
) -> MetadataSpec {
    MetadataSpec {
        key,
        data_type,
        description,
        readable: true,
        writable: false,
    }
}

/// The metadata `debezium-json` offers, as Flink's format does.
pub fn metadata() -> Vec<MetadataSpec> {
    vec![
        meta("schema", "STRING NULL", "JSON string describing the schema of the payload (null unless 'debezium-json.schema-include' is true and the message has one)."),
        meta("ingestion-timestamp", "TIMESTAMP_LTZ(3) NULL", "The time at which the connector processed the event ('ts_ms' of the payload)."),
        meta("source.timestamp", "TIMESTAMP_LTZ(3) NULL", "The time at which the event was made in the database ('source.ts_ms')."),
        meta("source.database", "STRING NULL", "The originating database ('source.db')."),
        meta("source.schema", "STRING NULL", "The originating database schema ('source.schema')."),
        meta("source.table", "STRING NULL", "The originating table ('source.table')."),
        meta("source.properties", "MAP<STRING NULL, STRING NULL> NULL", "Every field of the 'source' block, values as text."),
    ]
}

/// Where each metadata key is found.
pub(crate) fn slot(key: &str) -> Option<MetaSlot> {
    let (path, epoch_millis) = match key {
        "schema" => ("schema", false),
        "ingestion-timestamp" => ("ts_ms", true),
        "source.timestamp" => ("source.ts_ms", true),
        "source.database" => ("source.db", false),
        "source.schema" => ("source.schema", false),
        "source.table" => ("source.table", false),
        "source.properties" => ("source", false),
        _ => return None,
    };
    Some(MetaSlot { path, epoch_millis })
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    before: Option<&'a RawValue>,
    #[serde(borrow, default)]
    after: Option<&'a RawValue>,
    #[serde(borrow, default)]
    op: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ts_ms: Option<&'a RawValue>,
}

/// The `source` block, for the metadata read from it.
#[derive(Deserialize, Default)]
struct Source<'a> {
    #[serde(borrow, default)]
    ts_ms: Option<&'a RawValue>,
    #[serde(borrow, default)]
    db: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    table: Option<&'a RawValue>,
}

/// The Debezium envelope reader.
pub(crate) struct Debezium {
    pub(crate) schema_include: bool,
    pub(crate) slots: Vec<MetaSlot>,
}

fn parse<'a>(bytes: &'a [u8], what: &str) -> Result<Message<'a>, Reason> {
    envelope(bytes, what, "Debezium")
}

impl Envelope for Debezium {
    const FORMAT: &'static str = FORMAT;

    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        let root = parse(record, "the record")?;
        let schema = root.schema;
        let m = if self.schema_include {
            match root.payload {
                Some(p) => parse(p.get().as_bytes(), "field 'payload'")?,
                None => return Err(
                    "field 'payload' is missing or null, but 'debezium-json.schema-include' is \
                         true; set it to 'false' for messages without the schema/payload wrapper"
                        .to_string(),
                ),
            }
        } else {
            if root.op.is_none() && root.payload.is_some() {
                return Err(
                    "field 'op' is missing and the message has a 'payload': it looks like a \
                     message with schema; set 'debezium-json.schema-include' = 'true'"
                        .to_string(),
                );
            }
            root
        };
        let op = match m.op {
            None => return Err("field 'op' is missing or null".to_string()),
            Some(o) => serde_json::from_str::<String>(o.get()).map_err(|_| {
                format!("field 'op': expected a string, found {}", describe(o.get()))
            })?,
        };
        let mark = rows.len();
        match op.as_str() {
            "c" | "r" => {
                let after = row(m.after, "after", &op)?;
                rows.push(after.get(), RowKind::Insert, "after")?;
            }
            "u" => {
                let before = m
                    .before
                    .filter(|b| b.get().trim() != "null")
                    .ok_or_else(|| {
                        "field 'before' of an UPDATE message ('op' = 'u') is null; with Debezium's \
                     Postgres connector, set the table's REPLICA IDENTITY to FULL"
                            .to_string()
                    })?;
                let after = row(m.after, "after", &op)?;
                rows.push(before.get(), RowKind::UpdateBefore, "before")?;
                rows.push(after.get(), RowKind::UpdateAfter, "after")?;
            }
            "d" => {
                let before = m
                    .before
                    .filter(|b| b.get().trim() != "null")
                    .ok_or_else(|| {
                        "field 'before' of a DELETE message ('op' = 'd') is null; with Debezium's \
                     Postgres connector, set the table's REPLICA IDENTITY to FULL"
                            .to_string()
                    })?;
                rows.push(before.get(), RowKind::Delete, "before")?;
            }
            other => {
                return Err(format!(
                    "field 'op': unknown value \"{other}\" (expected \"c\", \"r\", \"u\" or \"d\")"
                ))
            }
        }
        if rows.wants_metadata() {
            let src: Source<'_> = match m.source {
                Some(s) if s.get().trim() != "null" => {
                    serde_json::from_str(s.get()).map_err(|e| {
                        format!(
                            "field 'source': expected an object, found {} ({e})",
                            describe(s.get())
                        )
                    })?
                }
                _ => Source::default(),
            };
            let values: Vec<Option<String>> = self
                .slots
                .iter()
                .map(|s| match s.path {
                    "schema" => raw_of(schema),
                    "ts_ms" => raw_of(m.ts_ms),
                    "source.ts_ms" => raw_of(src.ts_ms),
                    // Flink reads 'source' as MAP<STRING, STRING>: scalars as their text.
                    "source.db" => text_of(src.db),
                    "source.schema" => text_of(src.schema),
                    "source.table" => text_of(src.table),
                    "source" => raw_of(m.source),
                    _ => None,
                })
                .collect();
            rows.push_meta(&values, rows.len() - mark)?;
        }
        Ok(())
    }
}

fn text_of(raw: Option<&RawValue>) -> Option<String> {
    match raw {
        None => None,
        Some(r) if r.get().trim() == "null" => None,
        Some(r) if r.get().trim_start().starts_with('"') => Some(r.get().to_string()),
        Some(r) => Some(crate::common::json_string(&as_text(Some(r)))),
    }
}

fn row<'a>(raw: Option<&'a RawValue>, field: &str, op: &str) -> Result<&'a RawValue, Reason> {
    match raw {
        Some(r) if r.get().trim() != "null" => Ok(r),
        _ => Err(format!(
            "field '{field}' is missing or null in a message with 'op' = '{op}'"
        )),
    }
}

/// Write one changelog row as Flink's debezium-json encoder does: inserts and update-afters as
/// `{"before":null,"after":{..},"op":"c"}`, update-befores and deletes as
/// `{"before":{..},"after":null,"op":"d"}`; with `ignore_null_fields` the null side is left out.
pub(crate) fn wrap(kind: RowKind, row: &[u8], out: &mut Vec<u8>, ignore_null_fields: bool) {
    if kind.is_accumulate() {
        if ignore_null_fields {
            out.extend_from_slice(b"{\"after\":");
        } else {
            out.extend_from_slice(b"{\"before\":null,\"after\":");
        }
        out.extend_from_slice(row);
        out.extend_from_slice(b",\"op\":\"c\"}");
    } else {
        out.extend_from_slice(b"{\"before\":");
        out.extend_from_slice(row);
        if ignore_null_fields {
            out.extend_from_slice(b",\"op\":\"d\"}");
        } else {
            out.extend_from_slice(b",\"after\":null,\"op\":\"d\"}");
        }
    }
}
