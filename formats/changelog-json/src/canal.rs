//! `canal-json`: Alibaba Canal's flat-message envelope.

use regex::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;

use headrace_sdk::changelog::RowKind;
use headrace_sdk::factory::MetadataSpec;

use crate::common::{
    array_elements, as_text, describe, envelope, keys_anywhere, merge_before, raw_of, Envelope,
    MetaSlot, Reason, Rows,
};

/// The format identifier.
pub const FORMAT: &str = "canal-json";

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

/// The metadata `canal-json` offers, as Flink's format does.
pub fn metadata() -> Vec<MetadataSpec> {
    vec![
        meta(
            "database",
            "STRING NULL",
            "The originating database ('database').",
        ),
        meta("table", "STRING NULL", "The originating table ('table')."),
        meta(
            "sql-type",
            "MAP<STRING NULL, INT NULL> NULL",
            "The SQL type of each column ('sqlType').",
        ),
        meta(
            "pk-names",
            "ARRAY<STRING NULL> NULL",
            "The primary key columns ('pkNames').",
        ),
        meta(
            "ingestion-timestamp",
            "TIMESTAMP_LTZ(3) NULL",
            "The time at which Canal processed the event ('ts').",
        ),
        meta(
            "event-timestamp",
            "TIMESTAMP_LTZ(3) NULL",
            "The time at which the event was made in the database ('es').",
        ),
    ]
}

/// Where each metadata key is found.
pub(crate) fn slot(key: &str) -> Option<MetaSlot> {
    let (path, epoch_millis) = match key {
        "database" => ("database", false),
        "table" => ("table", false),
        "sql-type" => ("sqlType", false),
        "pk-names" => ("pkNames", false),
        "ingestion-timestamp" => ("ts", true),
        "event-timestamp" => ("es", true),
        _ => return None,
    };
    Some(MetaSlot { path, epoch_millis })
}

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
    #[serde(borrow, default, rename = "sqlType")]
    sql_type: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "pkNames")]
    pk_names: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    es: Option<&'a RawValue>,
}

/// The Canal envelope reader.
pub(crate) struct Canal {
    pub(crate) database: Option<Regex>,
    pub(crate) table: Option<Regex>,
    pub(crate) slots: Vec<MetaSlot>,
}

fn not_null(r: Option<&RawValue>) -> Option<&RawValue> {
    r.filter(|r| r.get().trim() != "null")
}

impl Envelope for Canal {
    const FORMAT: &'static str = FORMAT;

    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        // An update's row before is merged from 'old' and 'data' as text: those records are read
        // envelope first. (A record merely mentioning "UPDATE" elsewhere takes that path too.)
        let mark = rows.len();
        if !mentions_update(record) && self.one_pass(record, rows).is_some() {
            return Ok(());
        }
        // Anything unusual: start again with the envelope read first, which names the problem.
        rows.rollback(mark);
        self.two_pass(record, rows)
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

/// The fields of a message read in one pass (the rows of 'data' already decoded).
#[derive(Default)]
struct Fields<'a> {
    /// How many rows 'data' held; None when it was absent or null.
    data: Option<usize>,
    kind: Option<&'a RawValue>,
    database: Option<&'a RawValue>,
    table: Option<&'a RawValue>,
    sql_type: Option<&'a RawValue>,
    pk_names: Option<&'a RawValue>,
    ts: Option<&'a RawValue>,
    es: Option<&'a RawValue>,
}

/// Reads a message object, decoding the row objects of 'data' straight into `rows`.
struct OnePass<'r> {
    rows: &'r mut Rows,
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
        f.write_str("a Canal message object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        use serde::de::Error as _;
        let mut f = Fields::default();
        let mut seen = [false; 8];
        while let Some(key) = map.next_key::<&'de str>()? {
            let slot = match key {
                "data" => 0,
                "type" => 1,
                "database" => 2,
                "table" => 3,
                "sqlType" => 4,
                "pkNames" => 5,
                "ts" => 6,
                "es" => 7,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(A::Error::custom("duplicate field"));
            }
            match slot {
                0 => {
                    f.data = map.next_value_seed(DataRows {
                        rows: &mut *self.rows,
                    })?
                }
                1 => f.kind = map.next_value()?,
                2 => f.database = map.next_value()?,
                3 => f.table = map.next_value()?,
                4 => f.sql_type = map.next_value()?,
                5 => f.pk_names = map.next_value()?,
                6 => f.ts = map.next_value()?,
                _ => f.es = map.next_value()?,
            }
        }
        Ok(f)
    }
}

/// The 'data' array: each element a row object decoded into `rows`; the number of rows, or
/// None for `null`.
struct DataRows<'r> {
    rows: &'r mut Rows,
}

impl<'de> serde::de::DeserializeSeed<'de> for DataRows<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DataRows<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of row objects")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<usize>, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Option<usize>, A::Error> {
        use serde::de::Error as _;
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

impl Canal {
    /// Read an INSERT or DELETE message and its rows in one pass over the record; None when
    /// anything is unusual (or the message is an UPDATE), leaving rows behind for the caller to
    /// roll back.
    fn one_pass(&mut self, record: &[u8], rows: &mut Rows) -> Option<()> {
        use serde::de::DeserializeSeed;
        let mark = rows.len();
        let mut de = serde_json::Deserializer::from_slice(record);
        let m = OnePass { rows: &mut *rows }.deserialize(&mut de).ok()?;
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
        let kind: &str = serde_json::from_str(not_null(m.kind)?.get()).ok()?;
        let rk = match kind {
            "INSERT" => RowKind::Insert,
            "DELETE" => RowKind::Delete,
            // A DDL event: no rows (as Flink ignores it).
            "CREATE" => {
                rows.rollback(mark);
                return Some(());
            }
            _ => return None,
        };
        let n = m.data?;
        if !rows.push_kinds(&vec![rk; n]) {
            return None;
        }
        self.push_metadata(rows, &m, mark).ok()
    }

    /// The metadata columns of the rows pushed after the first `mark`.
    fn push_metadata(&self, rows: &mut Rows, m: &Fields<'_>, mark: usize) -> Result<(), Reason> {
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

    fn two_pass(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason> {
        let m: Message<'_> = envelope(record, "the record", "Canal")?;
        // Filters first, on the text of 'database' and 'table' (a full match, as Java's).
        if let Some(re) = &self.database {
            if m.database.is_none() {
                return Err(
                    "field 'database' is missing but 'canal-json.database.include' is set".into(),
                );
            }
            if !re.is_match(&as_text(m.database)) {
                return Ok(());
            }
        }
        if let Some(re) = &self.table {
            if m.table.is_none() {
                return Err(
                    "field 'table' is missing but 'canal-json.table.include' is set".into(),
                );
            }
            if !re.is_match(&as_text(m.table)) {
                return Ok(());
            }
        }
        let kind = match not_null(m.kind) {
            None => return Err("field 'type' is missing or null".into()),
            Some(k) => serde_json::from_str::<String>(k.get()).map_err(|_| {
                format!(
                    "field 'type': expected a string, found {}",
                    describe(k.get())
                )
            })?,
        };
        let mark = rows.len();
        match kind.as_str() {
            "INSERT" | "DELETE" => {
                let data = not_null(m.data)
                    .ok_or_else(|| format!("field 'data' is missing or null in a message with 'type' = '{kind}'"))?;
                let rk = if kind == "INSERT" { RowKind::Insert } else { RowKind::Delete };
                for (i, r) in array_elements(data, "data")?.into_iter().enumerate() {
                    rows.push(r.get(), rk, &format!("data[{i}]"))?;
                }
            }
            "UPDATE" => {
                let data = not_null(m.data)
                    .ok_or_else(|| "field 'data' is missing or null in a message with 'type' = 'UPDATE'".to_string())?;
                let old_raw = not_null(m.old)
                    .ok_or_else(|| "field 'old' is missing or null in a message with 'type' = 'UPDATE'".to_string())?;
                let data = array_elements(data, "data")?;
                let old = array_elements(old_raw, "old")?;
                if old.len() < data.len() {
                    return Err(format!(
                        "field 'old' has {} entries but 'data' has {}; every updated row needs its old values",
                        old.len(),
                        data.len()
                    ));
                }
                let changed = keys_anywhere(old_raw);
                for (i, (d, o)) in data.iter().zip(&old).enumerate() {
                    let before = merge_before(o, d, &changed, &format!("old[{i}]"), &format!("data[{i}]"))?;
                    rows.push(&before, RowKind::UpdateBefore, &format!("old[{i}]"))?;
                    rows.push(d.get(), RowKind::UpdateAfter, &format!("data[{i}]"))?;
                }
            }
            // A DDL event: no rows (as Flink ignores it).
            "CREATE" => return Ok(()),
            other => {
                return Err(format!(
                    "field 'type': unknown value \"{other}\" (expected \"INSERT\", \"UPDATE\", \"DELETE\" or \"CREATE\")"
                ))
            }
        }
        if rows.wants_metadata() {
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
            rows.push_meta(&values, rows.len() - mark)?;
        }
        Ok(())
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
