//! `canal-json`: Alibaba Canal's flat-message envelope.

use regex::Regex;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use headrace_sdk::changelog::RowKind;

use crate::common::{
    array_elements, as_text, envelope_with, next_field, push_update, raw_of, string_field, At,
    Entries, Envelope, Keys, MetaKey, Reason, Rows, DATABASE, TABLE,
};

/// The format identifier.
pub const FORMAT: &str = "canal-json";

/// The metadata `canal-json` offers, as Flink's format does.
pub(crate) const METADATA: &[MetaKey] = &[
    DATABASE,
    TABLE,
    MetaKey::new(
        "sql-type",
        "MAP<STRING NULL, INT NULL> NULL",
        "sqlType",
        "The SQL type of each column ('sqlType').",
    ),
    MetaKey::new(
        "pk-names",
        "ARRAY<STRING NULL> NULL",
        "pkNames",
        "The primary key columns ('pkNames').",
    ),
    MetaKey::millis(
        "ingestion-timestamp",
        "ts",
        "The time at which Canal processed the event ('ts').",
    ),
    MetaKey::millis(
        "event-timestamp",
        "es",
        "The time at which the event was made in the database ('es').",
    ),
];

/// The Canal envelope reader.
pub(crate) struct Canal {
    pub(crate) database: Option<Regex>,
    pub(crate) table: Option<Regex>,
    pub(crate) slots: Vec<MetaKey>,
}

impl Envelope for Canal {
    const FORMAT: &'static str = FORMAT;

    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        // The rows of 'data' are decoded as the message is read, unless it may be an update:
        // then each row after needs its row before ahead of it, from 'old' (usually written
        // after 'data'), so the row objects are kept as borrowed fields until 'type' is known.
        // (A record merely mentioning "UPDATE" elsewhere is read that way too, with the same
        // rows.)
        let mark = rows.len();
        if self
            .one_pass(record, rows, mentions_update(record))
            .is_some()
        {
            return Ok(());
        }
        // Anything unusual: start again with the envelope read first, which names the problem.
        rows.rollback(mark);
        self.envelope_first(record, rows)
    }
}

/// Whether `record` holds the JSON string `"UPDATE"` anywhere.
fn mentions_update(record: &[u8]) -> bool {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER
        .get_or_init(|| memchr::memmem::Finder::new(b"\"UPDATE\""))
        .find(record)
        .is_some()
}

/// How a message's 'data' and 'old' arrays are read.
enum Read<'r> {
    /// The rows of 'data' straight into the physical columns; 'old' skipped.
    Rows(&'r mut Rows),
    /// The row objects of both as borrowed fields.
    Fields,
    /// Both as raw JSON, checked later part by part (the envelope-first path).
    Raw,
}

/// 'data' or 'old' as read.
enum Part<'a> {
    /// Absent or null.
    Missing,
    /// Decoded into this many rows.
    Rows(usize),
    /// Row objects as borrowed fields.
    Fields(Vec<Entries<'a>>),
    /// Not looked into yet.
    Raw(&'a RawValue),
}

/// The fields of a message.
struct Message<'a> {
    data: Part<'a>,
    old: Part<'a>,
    kind: Option<&'a RawValue>,
    database: Option<&'a RawValue>,
    table: Option<&'a RawValue>,
    sql_type: Option<&'a RawValue>,
    pk_names: Option<&'a RawValue>,
    ts: Option<&'a RawValue>,
    es: Option<&'a RawValue>,
}

/// Reads a message object in one pass, its 'data' and 'old' as `read` says.
struct MessageSeed<'r>(Read<'r>);

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Message<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Message<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = Message<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Canal message object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Message<'de>, A::Error> {
        const KEYS: [&str; 9] = [
            "data", "old", "type", "database", "table", "sqlType", "pkNames", "ts", "es",
        ];
        let mut m = Message {
            data: Part::Missing,
            old: Part::Missing,
            kind: None,
            database: None,
            table: None,
            sql_type: None,
            pk_names: None,
            ts: None,
            es: None,
        };
        let mut seen = [false; KEYS.len()];
        while let Some(slot) = next_field(&mut map, &KEYS, &mut seen)? {
            match (slot, &mut self.0) {
                (0, Read::Rows(rows)) => {
                    m.data = match map.next_value_seed(DataRows { rows })? {
                        Some(n) => Part::Rows(n),
                        None => Part::Missing,
                    }
                }
                (1, Read::Rows(_)) => {
                    map.next_value::<IgnoredAny>()?;
                }
                (0 | 1, Read::Fields) => {
                    let part = match map.next_value::<Option<Vec<Entries<'de>>>>()? {
                        Some(objects) => Part::Fields(objects),
                        None => Part::Missing,
                    };
                    *(if slot == 0 { &mut m.data } else { &mut m.old }) = part;
                }
                (0 | 1, Read::Raw) => {
                    let part = match map.next_value::<Option<&'de RawValue>>()? {
                        Some(raw) => Part::Raw(raw),
                        None => Part::Missing,
                    };
                    *(if slot == 0 { &mut m.data } else { &mut m.old }) = part;
                }
                (2, _) => m.kind = map.next_value()?,
                (3, _) => m.database = map.next_value()?,
                (4, _) => m.table = map.next_value()?,
                (5, _) => m.sql_type = map.next_value()?,
                (6, _) => m.pk_names = map.next_value()?,
                (7, _) => m.ts = map.next_value()?,
                _ => m.es = map.next_value()?,
            }
        }
        Ok(m)
    }
}

/// The 'data' array: each element a row object decoded into `rows`; the number of rows, or
/// None for `null`.
struct DataRows<'r> {
    rows: &'r mut Rows,
}

impl<'de> DeserializeSeed<'de> for DataRows<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataRows<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of row objects")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<usize>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<usize>, A::Error> {
        let mut failure = None;
        let mut n = 0;
        loop {
            let before = self.rows.physical_rows();
            if seq
                .next_element_seed(self.rows.row_seed(&mut failure))?
                .is_none()
            {
                return Ok(Some(n));
            }
            // A null element (no row) is an error the envelope-first path names.
            if self.rows.physical_rows() != before + 1 {
                return Err(A::Error::custom("not a row object"));
            }
            n += 1;
        }
    }
}

/// The row kind of each row of 'data' for a message 'type'; None for `UPDATE` (two rows each)
/// and `CREATE` (none).
fn row_kind(kind: &str) -> Result<Option<RowKind>, Reason> {
    match kind {
        "INSERT" => Ok(Some(RowKind::Insert)),
        "DELETE" => Ok(Some(RowKind::Delete)),
        "UPDATE" | "CREATE" => Ok(None),
        other => Err(format!(
            "field 'type': unknown value \"{other}\" (expected \"INSERT\", \"UPDATE\", \"DELETE\" or \"CREATE\")"
        )),
    }
}

impl Canal {
    /// Read a message and its rows in one pass over the record; None when anything is unusual,
    /// leaving rows behind for the caller to roll back.
    fn one_pass(&mut self, record: &[u8], rows: &mut Rows, as_fields: bool) -> Option<()> {
        let mark = rows.len();
        let read = if as_fields {
            Read::Fields
        } else {
            Read::Rows(&mut *rows)
        };
        let mut de = serde_json::Deserializer::from_slice(record);
        let m = MessageSeed(read).deserialize(&mut de).ok()?;
        de.end().ok()?;
        let filtered_out = |re: &Option<Regex>, v: Option<&RawValue>| match re {
            None => Some(false),
            Some(_) if v.is_none() => None,
            Some(re) => Some(!re.is_match(&as_text(v))),
        };
        if filtered_out(&self.database, m.database)? || filtered_out(&self.table, m.table)? {
            rows.rollback(mark);
            return Some(());
        }
        let kind: &str = serde_json::from_str(m.kind?.get()).ok()?;
        match (row_kind(kind).ok()?, &m.data) {
            // A DDL event: no rows (as Flink ignores it).
            _ if kind == "CREATE" => {
                rows.rollback(mark);
                return Some(());
            }
            (Some(rk), Part::Rows(n)) => rows.push_kinds(&vec![rk; *n]).then_some(())?,
            (Some(rk), Part::Fields(data)) => {
                for d in data {
                    rows.push_fields(d.iter(), rk, At("data", None)).ok()?;
                }
            }
            (None, Part::Fields(data)) => {
                let Part::Fields(old) = &m.old else {
                    return None;
                };
                if old.len() < data.len() {
                    return None;
                }
                let changed = Keys::anywhere(old);
                for (d, o) in data.iter().zip(old) {
                    push_update(rows, (o, At("old", None)), (d, At("data", None)), &changed)
                        .ok()?;
                }
            }
            _ => return None,
        }
        self.push_metadata(rows, &m, mark).ok()
    }

    /// The metadata columns of the rows pushed after the first `mark`.
    fn push_metadata(&self, rows: &mut Rows, m: &Message<'_>, mark: usize) -> Result<(), Reason> {
        if !rows.wants_metadata() {
            return Ok(());
        }
        let values: Vec<Option<String>> = self
            .slots
            .iter()
            .map(|s| match s.path {
                "database" => raw_of(m.database),
                "table" => raw_of(m.table),
                "sqlType" => raw_of(m.sql_type),
                "pkNames" => raw_of(m.pk_names),
                "ts" => raw_of(m.ts),
                "es" => raw_of(m.es),
                _ => None,
            })
            .collect();
        rows.push_meta(&values, rows.len() - mark)
    }

    /// Read the message first, then its parts one by one, naming the first problem.
    fn envelope_first(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        let m = envelope_with(record, "the record", "Canal", |de| {
            MessageSeed(Read::Raw).deserialize(de)
        })?;
        // Filters first, on the text of 'database' and 'table' (a full match, as Java's).
        for (re, value, field) in [
            (&self.database, m.database, "database"),
            (&self.table, m.table, "table"),
        ] {
            if let Some(re) = re {
                if value.is_none() {
                    return Err(format!(
                        "field '{field}' is missing but 'canal-json.{field}.include' is set"
                    ));
                }
                if !re.is_match(&as_text(value)) {
                    return Ok(());
                }
            }
        }
        let kind = string_field(m.kind, "type")?;
        let rk = row_kind(&kind)?;
        if kind == "CREATE" {
            // A DDL event: no rows (as Flink ignores it).
            return Ok(());
        }
        let missing = |field: &str| {
            format!("field '{field}' is missing or null in a message with 'type' = '{kind}'")
        };
        let Part::Raw(data) = m.data else {
            return Err(missing("data"));
        };
        let mark = rows.len();
        if let Some(rk) = rk {
            for (i, r) in array_elements(data, "data")?.into_iter().enumerate() {
                rows.push(r.get(), rk, &At("data", Some(i)).to_string())?;
            }
        } else {
            let Part::Raw(old) = m.old else {
                return Err(missing("old"));
            };
            let data = array_elements(data, "data")?;
            let old = array_elements(old, "old")?;
            if old.len() < data.len() {
                return Err(format!(
                    "field 'old' has {} entries but 'data' has {}; every updated row needs its old values",
                    old.len(),
                    data.len()
                ));
            }
            let old = (old.into_iter().enumerate())
                .map(|(i, o)| Entries::of(o, At("old", Some(i)), "an object of the changed fields"))
                .collect::<Result<Vec<_>, _>>()?;
            let changed = Keys::anywhere(&old);
            for (i, (d, o)) in data.into_iter().zip(&old).enumerate() {
                let at = At("data", Some(i));
                let d = Entries::of(d, at, "a row object")?;
                push_update(rows, (o, At("old", Some(i))), (&d, at), &changed)?;
            }
        }
        self.push_metadata(rows, &m, mark)
    }
}

/// Write one changelog row as Flink's canal-json encoder does: `{"data":[{..}],"type":"INSERT"}`
/// for inserts and update-afters, `"type":"DELETE"` for update-befores and deletes.
pub(crate) fn wrap(kind: RowKind, row: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"data\":[");
    out.extend_from_slice(row);
    if kind.is_accumulate() {
        out.extend_from_slice(b"],\"type\":\"INSERT\"}");
    } else {
        out.extend_from_slice(b"],\"type\":\"DELETE\"}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};
    use headrace_format_json::DecodeConfig;

    use super::*;

    fn canal() -> (Canal, Rows) {
        canal_with(DecodeConfig::default())
    }

    fn canal_with(config: DecodeConfig) -> (Canal, Rows) {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("weight", DataType::Float64, true),
        ]);
        let keys = ["table".to_string()];
        let (rows, slots) =
            Rows::new(FORMAT, Arc::new(schema), config, METADATA, &keys).expect("rows");
        let canal = Canal {
            database: None,
            table: None,
            slots,
        };
        (canal, rows)
    }

    fn batch(rows: &mut Rows) -> Vec<String> {
        let b = rows.finish().expect("finish");
        headrace_sdk::row::rows(&b)
            .expect("rows")
            .iter()
            .map(|r| format!("{r:?}"))
            .collect()
    }

    /// UPDATE messages, with 'old' after or before 'data', several rows, a column named only
    /// inside a nested value of 'old', and an escaped key, are read in one pass and give the rows
    /// the envelope-first path gives.
    #[test]
    fn updates_are_read_in_one_pass_like_envelope_first() {
        let records = [
            r#"{"data":[{"id":"1","name":"a","weight":"2"},{"id":"2","name":"b","weight":"3"}],"old":[{"weight":"1"},{"weight":null,"name":"x"}],"table":"t","type":"UPDATE"}"#,
            r#"{"type":"UPDATE","old":[{"id":"7","extra":{"name":"n"}}],"table":"t","data":[{"id":"8","name":"c","weight":"4"}]}"#,
            "{\"data\":[{\"id\":\"3\",\"na\\u006de\":\"d\",\"weight\":\"5\"}],\"old\":[{\"weight\":\"6\"}],\"table\":\"t\",\"type\":\"UPDATE\"}",
            // An INSERT mentioning "UPDATE" is read as fields too.
            r#"{"data":[{"id":"4","name":"UPDATE","weight":"7"}],"table":"t","type":"INSERT"}"#,
        ];
        let (mut one, mut one_rows) = canal();
        let (mut first, mut first_rows) = canal();
        for r in records {
            assert!(mentions_update(r.as_bytes()));
            assert!(
                one.one_pass(r.as_bytes(), &mut one_rows, true).is_some(),
                "{r}"
            );
            first
                .envelope_first(r.as_bytes(), &mut first_rows)
                .expect(r);
        }
        let got = batch(&mut one_rows);
        assert_eq!(got, batch(&mut first_rows));
        // Message 1: 'name' is named in old[1], so it is null in row 0's before (Flink's rule
        // over the whole 'old'); old[1] nulls 'weight' explicitly. Message 2: 'name' is named
        // only inside old's nested 'extra', so it is null before too; 'weight' is unchanged.
        let want = [
            r#"UpdateBefore, values: [BigInt(1), Null, Double(1.0), String("t")]"#,
            r#"UpdateAfter, values: [BigInt(1), String("a"), Double(2.0), String("t")]"#,
            r#"UpdateBefore, values: [BigInt(2), String("x"), Null, String("t")]"#,
            r#"UpdateAfter, values: [BigInt(2), String("b"), Double(3.0), String("t")]"#,
            r#"UpdateBefore, values: [BigInt(7), Null, Double(4.0), String("t")]"#,
            r#"UpdateAfter, values: [BigInt(8), String("c"), Double(4.0), String("t")]"#,
            r#"UpdateBefore, values: [BigInt(3), String("d"), Double(6.0), String("t")]"#,
            r#"UpdateAfter, values: [BigInt(3), String("d"), Double(5.0), String("t")]"#,
            r#"Insert, values: [BigInt(4), String("UPDATE"), Double(7.0), String("t")]"#,
        ];
        let want: Vec<String> = want
            .iter()
            .map(|w| format!("Row {{ kind: {w} }}"))
            .collect();
        assert_eq!(got, want);
    }

    /// A bad value in an update leaves the one-pass path, and the envelope-first path names it.
    #[test]
    fn a_bad_update_is_named_by_the_envelope_first_path() {
        let (mut c, mut rows) = canal();
        let r =
            br#"{"data":[{"id":"1"},{"id":"x"}],"old":[{"id":"0"},{"id":"1"}],"type":"UPDATE"}"#;
        assert!(c.one_pass(r, &mut rows, true).is_none());
        rows.rollback(0);
        let e = c.envelope_first(r, &mut rows).unwrap_err();
        assert!(e.contains("data[1].id"), "{e}");
    }

    /// With ignore-parse-errors (values that do not fit read as NULL) an update is still read in
    /// one pass, the bad value nulled in both rows that hold it.
    #[test]
    fn a_bad_value_in_a_lenient_update_is_null() {
        let (mut c, mut rows) = canal_with(DecodeConfig {
            null_on_bad_field: true,
            ..DecodeConfig::default()
        });
        let r = br#"{"data":[{"id":"1","name":"a","weight":"heavy"}],"old":[{"name":"b"}],"table":"t","type":"UPDATE"}"#;
        assert!(c.one_pass(r, &mut rows, true).is_some());
        assert_eq!(
            batch(&mut rows),
            [
                r#"Row { kind: UpdateBefore, values: [BigInt(1), String("b"), Null, String("t")] }"#,
                r#"Row { kind: UpdateAfter, values: [BigInt(1), String("a"), Null, String("t")] }"#,
            ]
        );
    }
}
