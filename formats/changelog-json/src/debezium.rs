//! `debezium-json`: Debezium's change event envelope.

use serde::Deserialize;
use serde_json::value::RawValue;

use headrace_sdk::changelog::RowKind;

use crate::common::{
    as_text, describe, envelope, next_field, not_null, raw_of, string_field, Envelope, MetaKey,
    Reason, Rows,
};

/// The format identifier.
pub const FORMAT: &str = "debezium-json";

/// The metadata `debezium-json` offers, as Flink's format does.
pub(crate) const METADATA: &[MetaKey] = &[
    MetaKey::new("schema", "STRING NULL", "schema", "JSON string describing the schema of the payload (null unless 'debezium-json.schema-include' is true and the message has one)."),
    MetaKey::millis("ingestion-timestamp", "ts_ms", "The time at which the connector processed the event ('ts_ms' of the payload)."),
    MetaKey::millis("source.timestamp", "source.ts_ms", "The time at which the event was made in the database ('source.ts_ms')."),
    MetaKey::new("source.database", "STRING NULL", "source.db", "The originating database ('source.db')."),
    MetaKey::new("source.schema", "STRING NULL", "source.schema", "The originating database schema ('source.schema')."),
    MetaKey::new("source.table", "STRING NULL", "source.table", "The originating table ('source.table')."),
    MetaKey::new("source.properties", "MAP<STRING NULL, STRING NULL> NULL", "source", "Every field of the 'source' block, values as text."),
];

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
    pub(crate) slots: Vec<MetaKey>,
}

fn parse<'a>(bytes: &'a [u8], what: &str) -> Result<Message<'a>, Reason> {
    envelope(bytes, what, "Debezium")
}

impl Envelope for Debezium {
    const FORMAT: &'static str = FORMAT;

    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        let mark = rows.len();
        if self.one_pass(record, rows).is_some() {
            return Ok(());
        }
        // Anything unusual (an error, a row object where the operation has none, keys with
        // escapes, ...): start again with the envelope read first, which names the problem.
        rows.rollback(mark);
        self.two_pass(record, rows)
    }
}

/// One side of a change event read in one pass.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Not in the message.
    Absent,
    /// `null`.
    Null,
    /// A row object, decoded into the physical row of this index.
    Row(usize),
}

/// The fields of an envelope read in one pass (rows already decoded).
struct Fields<'a> {
    schema: Option<&'a RawValue>,
    payload: Option<Box<Fields<'a>>>,
    payload_raw: bool,
    before: Side,
    after: Side,
    op: Option<&'a RawValue>,
    source: Option<&'a RawValue>,
    ts_ms: Option<&'a RawValue>,
}

/// Reads an envelope object; with `sides` set, `before` and `after` are decoded straight into
/// `rows`, and with `payload` set, `payload` is read as an envelope too (schema-include).
struct OnePass<'r> {
    rows: &'r mut Rows,
    sides: bool,
    payload: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for OnePass<'_> {
    type Value = Fields<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for OnePass<'_> {
    type Value = Fields<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Debezium envelope object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut f = Fields {
            schema: None,
            payload: None,
            payload_raw: false,
            before: Side::Absent,
            after: Side::Absent,
            op: None,
            source: None,
            ts_ms: None,
        };
        let mut seen = [false; 7];
        let mut failure = None;
        const KEYS: [&str; 7] = [
            "schema", "payload", "before", "after", "op", "source", "ts_ms",
        ];
        while let Some(slot) = next_field(&mut map, &KEYS, &mut seen)? {
            match slot {
                0 => f.schema = map.next_value()?,
                1 if self.payload => {
                    f.payload = Some(Box::new(map.next_value_seed(OnePass {
                        rows: &mut *self.rows,
                        sides: true,
                        payload: false,
                    })?))
                }
                1 => f.payload_raw = map.next_value::<Option<&'de RawValue>>()?.is_some(),
                2 | 3 => {
                    let side = if self.sides {
                        let before = self.rows.physical_rows();
                        map.next_value_seed(self.rows.row_seed(&mut failure))?;
                        if self.rows.physical_rows() > before {
                            Side::Row(before)
                        } else {
                            Side::Null
                        }
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        Side::Absent
                    };
                    if slot == 2 {
                        f.before = side;
                    } else {
                        f.after = side;
                    }
                }
                4 => f.op = map.next_value()?,
                5 => f.source = map.next_value()?,
                _ => f.ts_ms = map.next_value()?,
            }
        }
        Ok(f)
    }
}

impl Debezium {
    /// Read the envelope and its rows in one pass over the record (the usual case); None when
    /// anything is unusual, leaving rows behind for the caller to roll back.
    fn one_pass(&mut self, record: &[u8], rows: &mut Rows) -> Option<()> {
        use serde::de::DeserializeSeed;
        let mark = rows.len();
        let mut de = serde_json::Deserializer::from_slice(record);
        let root = OnePass {
            rows: &mut *rows,
            // With schema-include the rows are inside 'payload'.
            sides: !self.schema_include,
            payload: self.schema_include,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        let schema = root.schema;
        let m = if self.schema_include {
            *root.payload?
        } else {
            if root.op.is_none() && root.payload_raw {
                return None;
            }
            root
        };
        let op: &str = serde_json::from_str(m.op?.get()).ok()?;
        let (kinds, ok): (&[RowKind], bool) = match op {
            "c" | "r" => (
                &[RowKind::Insert],
                m.after == Side::Row(mark) && !matches!(m.before, Side::Row(_)),
            ),
            "u" => (
                &[RowKind::UpdateBefore, RowKind::UpdateAfter],
                m.before == Side::Row(mark) && m.after == Side::Row(mark + 1),
            ),
            "d" => (
                &[RowKind::Delete],
                m.before == Side::Row(mark) && !matches!(m.after, Side::Row(_)),
            ),
            _ => return None,
        };
        if !ok || !rows.push_kinds(kinds) {
            return None;
        }
        self.push_metadata(rows, schema, m.source, m.ts_ms, mark)
            .ok()
    }

    /// The metadata columns of the rows pushed after the first `mark`.
    fn push_metadata(
        &self,
        rows: &mut Rows,
        schema: Option<&RawValue>,
        source: Option<&RawValue>,
        ts_ms: Option<&RawValue>,
        mark: usize,
    ) -> Result<(), Reason> {
        if !rows.wants_metadata() {
            return Ok(());
        }
        let src: Source<'_> = match source {
            Some(s) if s.get().trim() != "null" => serde_json::from_str(s.get()).map_err(|e| {
                format!(
                    "field 'source': expected an object, found {} ({e})",
                    describe(s.get())
                )
            })?,
            _ => Source::default(),
        };
        let values: Vec<Option<String>> = self
            .slots
            .iter()
            .map(|s| match s.path {
                "schema" => raw_of(schema),
                "ts_ms" => raw_of(ts_ms),
                "source.ts_ms" => raw_of(src.ts_ms),
                // Flink reads 'source' as MAP<STRING, STRING>: scalars as their text.
                "source.db" => text_of(src.db),
                "source.schema" => text_of(src.schema),
                "source.table" => text_of(src.table),
                "source" => raw_of(source),
                _ => None,
            })
            .collect();
        rows.push_meta(&values, rows.len() - mark)
    }

    fn two_pass(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
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
        let op = string_field(m.op, "op")?;
        let before = || {
            let what = if op == "u" { "an UPDATE" } else { "a DELETE" };
            not_null(m.before).ok_or_else(|| {
                format!(
                    "field 'before' of {what} message ('op' = '{op}') is null; with Debezium's \
                     Postgres connector, set the table's REPLICA IDENTITY to FULL"
                )
            })
        };
        let after = || {
            not_null(m.after).ok_or_else(|| {
                format!("field 'after' is missing or null in a message with 'op' = '{op}'")
            })
        };
        let mark = rows.len();
        match op.as_str() {
            "c" | "r" => rows.push(after()?.get(), RowKind::Insert, "after")?,
            "u" => {
                let (before, after) = (before()?, after()?);
                rows.push(before.get(), RowKind::UpdateBefore, "before")?;
                rows.push(after.get(), RowKind::UpdateAfter, "after")?;
            }
            "d" => rows.push(before()?.get(), RowKind::Delete, "before")?,
            other => {
                return Err(format!(
                    "field 'op': unknown value \"{other}\" (expected \"c\", \"r\", \"u\" or \"d\")"
                ))
            }
        }
        self.push_metadata(rows, schema, m.source, m.ts_ms, mark)
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
