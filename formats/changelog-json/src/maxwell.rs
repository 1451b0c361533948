//! `maxwell-json`: Maxwell's change event envelope.

use serde::Deserialize;
use serde_json::value::RawValue;

use headrace_sdk::changelog::RowKind;

use crate::common::{
    describe, envelope, not_null, push_update, raw_of, string_field, At, Entries, Envelope, Keys,
    MetaKey, Reason, Rows, DATABASE, TABLE,
};

/// The format identifier.
pub const FORMAT: &str = "maxwell-json";

/// The metadata `maxwell-json` offers, as Flink's format does.
pub(crate) const METADATA: &[MetaKey] = &[
    DATABASE,
    TABLE,
    MetaKey::new(
        "primary-key-columns",
        "ARRAY<STRING NULL> NULL",
        "primary_key_columns",
        "The primary key columns ('primary_key_columns').",
    ),
    MetaKey::millis(
        "ingestion-timestamp",
        "ts",
        "The time at which Maxwell processed the event ('ts', in seconds).",
    ),
];

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    old: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    database: Option<&'a RawValue>,
    #[serde(borrow, default)]
    table: Option<&'a RawValue>,
    #[serde(borrow, default)]
    primary_key_columns: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
}

/// The Maxwell envelope reader.
pub(crate) struct Maxwell {
    pub(crate) slots: Vec<MetaKey>,
    /// `ignore-parse-errors`: a `ts` that is not a number reads as NULL.
    pub(crate) lenient: bool,
}

/// Maxwell's `ts` (seconds) as epoch milliseconds.
fn seconds_to_millis(raw: Option<&RawValue>) -> Result<Option<String>, Reason> {
    let Some(r) = not_null(raw) else {
        return Ok(None);
    };
    let t = r.get().trim();
    let text = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(t);
    let secs: i64 = text.parse().map_err(|_| {
        format!(
            "field 'ts': expected whole seconds since the epoch, found {}",
            describe(t)
        )
    })?;
    let ms = secs
        .checked_mul(1000)
        .ok_or_else(|| format!("field 'ts': {secs} seconds is out of range"))?;
    Ok(Some(ms.to_string()))
}

impl Envelope for Maxwell {
    const FORMAT: &'static str = FORMAT;

    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        let m: Message<'_> = envelope(record, "the record", "Maxwell")?;
        let kind = string_field(m.kind, "type")?;
        let data = || {
            not_null(m.data).ok_or_else(|| {
                format!("field 'data' is missing or null in a message with 'type' = '{kind}'")
            })
        };
        let mark = rows.len();
        match kind.as_str() {
            "insert" => rows.push(data()?.get(), RowKind::Insert, "data")?,
            "delete" => rows.push(data()?.get(), RowKind::Delete, "data")?,
            "update" => {
                let d = data()?;
                let old = not_null(m.old).ok_or_else(|| {
                    "field 'old' is missing or null in a message with 'type' = 'update'".to_string()
                })?;
                let old = Entries::of(old, At("old", None), "an object of the changed fields")?;
                let data = Entries::of(d, At("data", None), "a row object")?;
                let changed = Keys::anywhere(std::slice::from_ref(&old));
                push_update(
                    rows,
                    (&old, At("old", None)),
                    (&data, At("data", None)),
                    &changed,
                )?;
            }
            other => {
                return Err(format!(
                    "field 'type': unknown value \"{other}\" (expected \"insert\", \"update\" or \"delete\")"
                ))
            }
        }
        if rows.wants_metadata() {
            let mut values = Vec::with_capacity(self.slots.len());
            for s in &self.slots {
                values.push(match s.path {
                    "database" => raw_of(m.database),
                    "table" => raw_of(m.table),
                    "primary_key_columns" => raw_of(m.primary_key_columns),
                    "ts" => match seconds_to_millis(m.ts) {
                        Ok(v) => v,
                        Err(_) if self.lenient => None,
                        Err(e) => return Err(e),
                    },
                    _ => None,
                });
            }
            rows.push_meta(&values, rows.len() - mark)?;
        }
        Ok(())
    }
}

/// Write one changelog row as Flink's maxwell-json encoder does: `{"data":{..},"type":"insert"}`
/// for inserts and update-afters, `"type":"delete"` for update-befores and deletes.
pub(crate) fn wrap(kind: RowKind, row: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"data\":");
    out.extend_from_slice(row);
    if kind.is_accumulate() {
        out.extend_from_slice(b",\"type\":\"insert\"}");
    } else {
        out.extend_from_slice(b",\"type\":\"delete\"}");
    }
}
