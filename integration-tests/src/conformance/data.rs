//! Test data: a column per Flink type, deterministic rows with NULLs, and row comparison.
//!
//! Rows are generated and compared with the SDK's row view ([`Row`], [`Value`]); the first column of
//! a test schema is the row's *key*: NOT NULL, unique per row, and of an integer or string type, so
//! that losses and duplicates can be named by key.

use std::collections::BTreeMap;

use headrace_sdk::row::{Row, Timestamp, Value};
use headrace_sdk::schema::TableSchema;
use headrace_sdk::types::{DataType, LogicalType, RowField, MAX_LENGTH};

use super::Failure;

/// One nullable column type for every Flink logical type (several precisions where Flink has them):
/// the default of [`ExternalContext::supported_types`](super::ExternalContext::supported_types).
pub fn all_flink_types() -> Vec<DataType> {
    use LogicalType as L;
    let t = DataType::new;
    vec![
        t(L::Boolean),
        t(L::TinyInt),
        t(L::SmallInt),
        t(L::Int),
        t(L::BigInt),
        t(L::Float),
        t(L::Double),
        t(L::Decimal {
            precision: 10,
            scale: 2,
        }),
        t(L::Decimal {
            precision: 38,
            scale: 18,
        }),
        t(L::Char(3)),
        t(L::VarChar(20)),
        t(L::VarChar(MAX_LENGTH)),
        t(L::Binary(4)),
        t(L::VarBinary(10)),
        t(L::VarBinary(MAX_LENGTH)),
        t(L::Date),
        t(L::Time(0)),
        t(L::Time(3)),
        t(L::Timestamp(3)),
        t(L::Timestamp(6)),
        t(L::Timestamp(9)),
        t(L::TimestampLtz(3)),
        t(L::Array(Box::new(t(L::Int)))),
        t(L::Map(
            Box::new(t(L::VarChar(MAX_LENGTH)).not_null()),
            Box::new(t(L::Int)),
        )),
        t(L::Multiset(Box::new(t(L::VarChar(MAX_LENGTH))))),
        t(L::Row(vec![
            RowField {
                name: "a".into(),
                data_type: t(L::Int),
                description: None,
            },
            RowField {
                name: "b".into(),
                data_type: t(L::VarChar(MAX_LENGTH)),
                description: None,
            },
        ])),
    ]
}

/// The default test schema: the key `id BIGINT NOT NULL`, then one column per type, named after
/// its position and type (`c01_boolean`, `c08_decimal`, ...).
pub fn schema_for_types(types: &[DataType]) -> TableSchema {
    let key = (
        "id".to_string(),
        DataType::new(LogicalType::BigInt).not_null(),
    );
    let cols = types.iter().enumerate().map(|(i, t)| {
        let base: String = t
            .logical
            .to_string()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
            .collect::<String>()
            .to_ascii_lowercase();
        (format!("c{:02}_{base}", i + 1), t.clone())
    });
    TableSchema::physical(std::iter::once(key).chain(cols))
}

/// `n` rows of `schema` with keys `start..start + n`: every value is derived from the row's index,
/// nullable columns are NULL in every fifth row (a different row per column), strings carry
/// non-ASCII characters, quotes and backslashes.
pub fn generate_rows(schema: &TableSchema, start: u64, n: usize) -> Vec<Row> {
    let types: Vec<&DataType> = schema.physical_columns().map(|c| &c.data_type).collect();
    (0..n as u64)
        .map(|k| {
            let i = start + k;
            let values = types
                .iter()
                .enumerate()
                .map(|(col, t)| {
                    if col > 0 && t.nullable && (i + col as u64) % 5 == 4 {
                        Value::Null
                    } else {
                        value_for(t, i)
                    }
                })
                .collect();
            Row::insert(values)
        })
        .collect()
}

fn string_value(i: u64, max_chars: u32) -> String {
    let s = format!("r{i:07}-\u{fc}\"q\\/ \u{1F600}");
    s.chars().take(max_chars as usize).collect()
}

/// The (non-NULL) value of type `t` for row index `i`.
pub fn value_for(t: &DataType, i: u64) -> Value {
    let s = i as i64;
    match &t.logical {
        LogicalType::Boolean => Value::Boolean(i % 2 == 0),
        LogicalType::TinyInt => Value::TinyInt(((s * 37).rem_euclid(256) - 128) as i8),
        LogicalType::SmallInt => Value::SmallInt(((s * 4099).rem_euclid(65536) - 32768) as i16),
        LogicalType::Int => {
            Value::Int((s.wrapping_mul(1_000_003) as i32).wrapping_sub(500_000_000))
        }
        LogicalType::BigInt => Value::BigInt(s),
        LogicalType::Float => Value::Float(s as f32 * 0.5 - 3.25),
        // At most 15 significant digits: every correct parser reads them back exactly. (With
        // 17-digit values such as -1.9999999999999998 the `json` format's decoder is one ULP off.)
        LogicalType::Double => Value::Double((s * 1237 - 5000) as f64 / 1000.0),
        LogicalType::Decimal { precision, .. } => {
            let limit = 10i128.pow(u32::from((*precision).min(38)).saturating_sub(1));
            let v = (i128::from(s) * 12_345 + 7) % limit.max(1);
            Value::Decimal(if i % 2 == 1 { -v } else { v })
        }
        LogicalType::Char(n) => Value::String(
            (0..*n)
                .map(|j| char::from(b'a' + ((i / 26u64.pow(j.min(12))) % 26) as u8))
                .collect(),
        ),
        LogicalType::VarChar(n) => Value::String(string_value(i, *n)),
        LogicalType::Binary(n) => Value::Bytes(
            (0..*n)
                .map(|j| ((i * 31 + u64::from(j) * 97) % 256) as u8)
                .collect(),
        ),
        LogicalType::VarBinary(n) => {
            let len = (i % 6).min(u64::from(*n));
            Value::Bytes((0..len).map(|j| ((i * 13 + j * 101) % 256) as u8).collect())
        }
        LogicalType::Date => Value::Date(18_000 + (s * 37 % 20_000) as i32),
        LogicalType::Time(p) => {
            let secs = (s * 3671).rem_euclid(86_400);
            let frac = match p {
                0 => 0,
                1..=3 => (s * 7 % 1000) * 1_000_000,
                4..=6 => (s * 7_919 % 1_000_000) * 1000,
                _ => s * 7_919_017 % 1_000_000_000,
            };
            Value::Time(secs * 1_000_000_000 + frac)
        }
        LogicalType::Timestamp(p) | LogicalType::TimestampLtz(p) => {
            let mut millis = 1_700_000_000_000 + s * 3_600_123;
            if *p == 0 {
                millis -= millis.rem_euclid(1000);
            }
            let nanos_of_milli = match p {
                0..=3 => 0,
                4..=6 => (i * 137 % 1000) * 1000,
                _ => i * 137_457 % 1_000_000,
            } as u32;
            Value::Timestamp(Timestamp {
                millis,
                nanos_of_milli,
            })
        }
        LogicalType::Array(e) => Value::Array(
            (0..i % 4)
                .map(|k| {
                    if e.nullable && k == 2 {
                        Value::Null
                    } else {
                        value_for(e, i * 10 + k)
                    }
                })
                .collect(),
        ),
        LogicalType::Map(k, v) => Value::Map(
            (0..i % 3)
                .map(|j| {
                    let val = if v.nullable && j == 1 {
                        Value::Null
                    } else {
                        value_for(v, i * 10 + j)
                    };
                    (value_for(k, i * 10 + j), val)
                })
                .collect(),
        ),
        LogicalType::Multiset(e) => Value::Map(
            (0..i % 3)
                .map(|j| (value_for(e, i * 10 + j), Value::Int(j as i32 + 1)))
                .collect(),
        ),
        LogicalType::Row(fields) => Value::Row(
            fields
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    if f.data_type.nullable && (i + j as u64) % 4 == 3 {
                        Value::Null
                    } else {
                        value_for(&f.data_type, i + j as u64)
                    }
                })
                .collect(),
        ),
    }
}

/// The key of a row (its first value) as text: integers in decimal, strings as they are.
pub fn key_of(row: &Row) -> String {
    match row.values.first() {
        Some(Value::String(s)) => s.clone(),
        Some(Value::TinyInt(v)) => v.to_string(),
        Some(Value::SmallInt(v)) => v.to_string(),
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::BigInt(v)) => v.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// The value with map (and multiset) entries in a canonical order, so that systems that do not keep
/// the order of map entries compare equal.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Row(items) => Value::Row(items.iter().map(normalize).collect()),
        Value::Map(entries) => {
            let mut e: Vec<(Value, Value)> = entries
                .iter()
                .map(|(k, v)| (normalize(k), normalize(v)))
                .collect();
            e.sort_by_key(|(k, _)| format!("{k:?}"));
            Value::Map(e)
        }
        other => other.clone(),
    }
}

fn fingerprint(row: &Row) -> String {
    let vals: Vec<Value> = row.values.iter().map(normalize).collect();
    format!("{vals:?}")
}

/// What a comparison of rows found.
#[derive(Debug, Default, Clone)]
pub struct RowDiff {
    /// Expected rows not found (with how many copies are missing).
    pub missing: Vec<(Row, usize)>,
    /// Rows found more often than expected (with how many extra copies).
    pub extra: Vec<(Row, usize)>,
}

impl RowDiff {
    /// Whether the rows matched exactly.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }

    /// A report naming up to five rows of each kind, and for a missing row the row found with the
    /// same key (which shows which value came back different).
    pub fn describe(&self) -> String {
        let extra_by_key: BTreeMap<String, &Row> =
            self.extra.iter().map(|(r, _)| (key_of(r), r)).collect();
        let mut s = format!(
            "{} expected row(s) missing, {} unexpected or duplicated row(s)",
            self.missing.iter().map(|(_, n)| n).sum::<usize>(),
            self.extra.iter().map(|(_, n)| n).sum::<usize>()
        );
        for (r, n) in self.missing.iter().take(5) {
            s.push_str(&format!("\n  missing x{n}: {r:?}"));
            if let Some(got) = extra_by_key.get(&key_of(r)) {
                s.push_str(&format!("\n     got instead: {got:?}"));
            }
        }
        for (r, n) in self.extra.iter().take(5) {
            s.push_str(&format!("\n  unexpected x{n}: {r:?}"));
        }
        s
    }
}

/// Compare rows as multisets (order does not matter; map entry order does not matter).
pub fn diff_rows(expected: &[Row], actual: &[Row]) -> RowDiff {
    let mut counts: BTreeMap<String, (i64, Row)> = BTreeMap::new();
    for r in expected {
        counts.entry(fingerprint(r)).or_insert((0, r.clone())).0 += 1;
    }
    for r in actual {
        counts.entry(fingerprint(r)).or_insert((0, r.clone())).0 -= 1;
    }
    let mut d = RowDiff::default();
    for (_, (n, r)) in counts {
        if n > 0 {
            d.missing.push((r, n as usize));
        } else if n < 0 {
            d.extra.push((r, (-n) as usize));
        }
    }
    d
}

/// Fail unless `actual` holds exactly the `expected` rows.
pub fn assert_same_rows(what: &str, expected: &[Row], actual: &[Row]) -> Result<(), Failure> {
    let d = diff_rows(expected, actual);
    if d.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{what}: {} rows expected, {} read; {}",
            expected.len(),
            actual.len(),
            d.describe()
        )))
    }
}

/// Which keys of `expected` are missing from `actual`, and which keys occur more than once or were
/// never expected.
#[derive(Debug, Default, Clone)]
pub struct KeyReport {
    /// Expected keys never seen.
    pub missing: Vec<String>,
    /// Keys seen more than once, with their count.
    pub duplicated: Vec<(String, usize)>,
    /// Keys seen that were never expected.
    pub unexpected: Vec<String>,
}

/// Count keys.
pub fn key_report(
    expected: impl IntoIterator<Item = String>,
    actual: impl IntoIterator<Item = String>,
) -> KeyReport {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for k in actual {
        *seen.entry(k).or_default() += 1;
    }
    let mut r = KeyReport::default();
    let mut expected_set = std::collections::BTreeSet::new();
    for k in expected {
        if !seen.contains_key(&k) {
            r.missing.push(k.clone());
        }
        expected_set.insert(k);
    }
    for (k, n) in seen {
        if !expected_set.contains(&k) {
            r.unexpected.push(k);
        } else if n > 1 {
            r.duplicated.push((k, n));
        }
    }
    r
}

impl KeyReport {
    /// Check the report against a guarantee: no loss and nothing unexpected, and with
    /// `exactly_once` no duplicate either.
    pub fn check(&self, what: &str, exactly_once: bool) -> Result<(), Failure> {
        let dup_fail = exactly_once && !self.duplicated.is_empty();
        if self.missing.is_empty() && self.unexpected.is_empty() && !dup_fail {
            return Ok(());
        }
        Err(Failure::new(format!(
            "{what}: {} key(s) lost {:?}, {} duplicated {:?}{}, {} unexpected {:?}",
            self.missing.len(),
            self.missing.iter().take(5).collect::<Vec<_>>(),
            self.duplicated.len(),
            self.duplicated.iter().take(5).collect::<Vec<_>>(),
            if exactly_once {
                ""
            } else {
                " (allowed: at-least-once)"
            },
            self.unexpected.len(),
            self.unexpected.iter().take(5).collect::<Vec<_>>(),
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use arrow::datatypes::Schema;
    use headrace_sdk::row::{rows, RowBatchBuilder};
    use std::sync::Arc;

    #[test]
    fn generated_rows_cover_every_type_with_nulls_and_unique_keys() {
        let schema = schema_for_types(&all_flink_types());
        let data = generate_rows(&schema, 0, 20);
        let keys: std::collections::BTreeSet<String> = data.iter().map(key_of).collect();
        assert_eq!(keys.len(), 20);
        for col in 1..schema.columns.len() {
            assert!(data.iter().any(|r| r.values[col].is_null()), "column {col}");
            assert!(
                data.iter().any(|r| !r.values[col].is_null()),
                "column {col}"
            );
        }
        // Every value fits its Arrow type: the rows survive a batch round trip unchanged.
        let arrow = Arc::new(Schema::new(
            schema
                .columns
                .iter()
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<_>>(),
        ));
        let mut b = RowBatchBuilder::new(arrow);
        for r in &data {
            b.push(r.clone());
        }
        let back = rows(&b.build().unwrap()).unwrap();
        assert!(diff_rows(&data, &back).is_empty());
    }

    #[test]
    fn differences_are_found_and_named() {
        let schema = schema_for_types(&all_flink_types());
        let data = generate_rows(&schema, 0, 10);
        let mut changed = data.clone();
        changed[3].values[7] = Value::Double(0.5);
        changed.push(data[5].clone());
        changed.remove(8);
        let d = diff_rows(&data, &changed);
        assert_eq!(d.missing.len(), 2);
        assert_eq!(d.extra.len(), 2);
        let text = d.describe();
        assert!(text.contains("got instead"), "{text}");
        assert!(assert_same_rows("x", &data, &changed).is_err());

        let mut reordered = data.clone();
        for r in reordered.iter_mut() {
            for v in r.values.iter_mut() {
                if let Value::Map(e) = v {
                    e.reverse();
                }
            }
        }
        reordered.reverse();
        assert!(diff_rows(&data, &reordered).is_empty());
    }

    #[test]
    fn key_reports_follow_the_guarantee() {
        let exp = || (1..=5).map(|i| i.to_string());
        let dup = key_report(exp(), ["1", "2", "2", "3", "4", "5"].map(String::from));
        assert!(dup.check("d", false).is_ok());
        assert!(dup.check("d", true).is_err());
        let lost = key_report(exp(), ["1", "2", "3", "5"].map(String::from));
        assert!(lost.check("l", false).is_err());
        let odd = key_report(exp(), ["1", "2", "3", "4", "5", "6"].map(String::from));
        assert!(odd.check("o", false).is_err());
    }
}
