//! The bytes that cross the JNI boundary.
//!
//! Everything is little-endian. Java reads and writes the same layouts in
//! `io.headrace.flink.RowCodec` and `io.headrace.flink.Wire`.
//!
//! **Rows** (a batch): `i32` row count, then per row a kind byte (Flink's `RowKind` byte value) and
//! per column a presence byte (0 = NULL, 1 = value) followed by the value:
//!
//! | Flink type | bytes |
//! |---|---|
//! | BOOLEAN, TINYINT | 1 |
//! | SMALLINT | 2 |
//! | INT, DATE (days since epoch), TIME (milliseconds of the day, as Flink holds it) | 4 |
//! | BIGINT | 8 |
//! | FLOAT, DOUBLE | 4, 8 (IEEE bits) |
//! | DECIMAL(p, s) | p <= 18: the unscaled value as 8 bytes; else 16 bytes (big-endian two's complement, as `BigInteger` reads it) |
//! | CHAR, VARCHAR, BINARY, VARBINARY | `i32` length, then UTF-8 / raw bytes |
//! | TIMESTAMP, TIMESTAMP_LTZ | `i64` epoch milliseconds, `i32` nanoseconds of the millisecond |
//! | ARRAY | `i32` count, then elements (each with a presence byte) |
//! | MAP, MULTISET | `i32` count, then key and value (each with a presence byte); a multiset maps element to INT count |
//! | ROW | the fields (each with a presence byte) |
//!
//! **Versioned bytes lists** (writer state, committables): `i32` count, then per item `i32` version,
//! `i32` length, bytes. **Splits**: `i32` count, then per split the id (`i32` length, UTF-8), `i32`
//! version, `i32` length, bytes.

use std::sync::Arc;

use headrace_sdk::changelog::{ChangelogBatch, RowKind};
use headrace_sdk::row::{Row, RowBatchBuilder, Timestamp, Value};
use headrace_sdk::source::SourceSplit;
use headrace_sdk::state::VersionedBytes;
use headrace_sdk::types::{DataType, LogicalType};
use headrace_sdk::{Error, Result};

/// Appends little-endian values to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// A 32-bit integer.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A 64-bit integer.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A length (as `i32`), failing above `i32::MAX`.
    pub fn length(&mut self, n: usize) -> Result<()> {
        let n = i32::try_from(n).map_err(|_| {
            Error::internal(format!("{n} items or bytes exceed what Java can hold"))
        })?;
        self.i32(n);
        Ok(())
    }
    /// Length-prefixed bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.length(b.len())?;
        self.buf.extend_from_slice(b);
        Ok(())
    }
}

/// Reads little-endian values from a slice, with errors naming what was cut short.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        let Some(end) = end else {
            return Err(Error::internal(format!(
                "bridge data cut short: wanted {n} bytes at offset {} of {}",
                self.pos,
                self.data.len()
            )));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    /// A 32-bit integer.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    /// A 64-bit integer.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A length written by [`Writer::len`].
    pub fn length(&mut self) -> Result<usize> {
        let n = self.i32()?;
        usize::try_from(n)
            .map_err(|_| Error::internal(format!("negative length {n} in bridge data")))
    }
    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.length()?;
        self.take(n)
    }
    /// Whether everything was read.
    pub fn is_at_end(&self) -> bool {
        self.pos == self.data.len()
    }
}

/// Encode a list of versioned bytes.
pub fn write_versioned(w: &mut Writer, items: &[VersionedBytes]) -> Result<()> {
    w.length(items.len())?;
    for v in items {
        w.i32(v.version as i32);
        w.bytes(&v.bytes)?;
    }
    Ok(())
}

/// Decode a list of versioned bytes.
pub fn read_versioned(data: &[u8]) -> Result<Vec<VersionedBytes>> {
    let mut r = Reader::new(data);
    let n = r.length()?;
    (0..n)
        .map(|_| {
            Ok(VersionedBytes {
                version: r.i32()? as u32,
                bytes: r.bytes()?.to_vec(),
            })
        })
        .collect()
}

/// Encode splits.
pub fn write_splits(w: &mut Writer, splits: &[SourceSplit]) -> Result<()> {
    w.length(splits.len())?;
    for s in splits {
        w.bytes(s.id.as_bytes())?;
        w.i32(s.state.version as i32);
        w.bytes(&s.state.bytes)?;
    }
    Ok(())
}

/// Decode splits.
pub fn read_splits(data: &[u8]) -> Result<Vec<SourceSplit>> {
    let mut r = Reader::new(data);
    let n = r.length()?;
    (0..n)
        .map(|_| {
            let id = String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| Error::internal("a split id from Java is not UTF-8"))?;
            Ok(SourceSplit {
                id,
                state: VersionedBytes {
                    version: r.i32()? as u32,
                    bytes: r.bytes()?.to_vec(),
                },
            })
        })
        .collect()
}

/// Encode every row of `batch`, whose columns are `types` (the table's physical columns, in order).
pub fn write_rows(w: &mut Writer, batch: &ChangelogBatch, types: &[DataType]) -> Result<()> {
    let cols = batch.batch.columns();
    if cols.len() != types.len() {
        return Err(Error::internal(format!(
            "the source produced {} columns but the Flink table has {}",
            cols.len(),
            types.len()
        )));
    }
    let n = batch.num_rows();
    w.length(n)?;
    for i in 0..n {
        w.u8(batch.kind(i) as i8 as u8);
        for (c, t) in cols.iter().zip(types) {
            let v = Value::from_array(c.as_ref(), i)?;
            write_value(w, &v, t)?;
        }
    }
    Ok(())
}

fn mismatch(v: &Value, t: &DataType) -> Error {
    Error::internal(format!("value {v:?} does not match the Flink type {t}"))
}

/// Encode one value (with its presence byte) as type `t`.
pub fn write_value(w: &mut Writer, v: &Value, t: &DataType) -> Result<()> {
    if v.is_null() {
        w.u8(0);
        return Ok(());
    }
    w.u8(1);
    match (&t.logical, v) {
        (LogicalType::Boolean, Value::Boolean(b)) => w.u8(u8::from(*b)),
        (LogicalType::TinyInt, Value::TinyInt(x)) => w.u8(*x as u8),
        (LogicalType::SmallInt, Value::SmallInt(x)) => w.buf.extend_from_slice(&x.to_le_bytes()),
        (LogicalType::Int, Value::Int(x)) | (LogicalType::Date, Value::Date(x)) => w.i32(*x),
        (LogicalType::BigInt, Value::BigInt(x)) => w.i64(*x),
        (LogicalType::Float, Value::Float(x)) => w.buf.extend_from_slice(&x.to_le_bytes()),
        (LogicalType::Double, Value::Double(x)) => w.buf.extend_from_slice(&x.to_le_bytes()),
        (LogicalType::Time(_), Value::Time(nanos)) => w.i32((nanos / 1_000_000) as i32),
        (LogicalType::Decimal { precision, .. }, Value::Decimal(x)) => {
            if *precision <= 18 {
                w.i64(*x as i64);
            } else {
                w.buf.extend_from_slice(&x.to_be_bytes());
            }
        }
        (LogicalType::Char(_) | LogicalType::VarChar(_), Value::String(s)) => {
            w.bytes(s.as_bytes())?
        }
        (LogicalType::Binary(_) | LogicalType::VarBinary(_), Value::Bytes(b)) => w.bytes(b)?,
        (LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_), Value::Timestamp(ts)) => {
            w.i64(ts.millis);
            w.i32(ts.nanos_of_milli as i32);
        }
        (LogicalType::Array(et), Value::Array(items)) => {
            w.length(items.len())?;
            for x in items {
                write_value(w, x, et)?;
            }
        }
        (LogicalType::Map(kt, vt), Value::Map(items)) => {
            w.length(items.len())?;
            for (k, x) in items {
                write_value(w, k, kt)?;
                write_value(w, x, vt)?;
            }
        }
        (LogicalType::Multiset(et), Value::Map(items)) => {
            w.length(items.len())?;
            let count = DataType::new(LogicalType::Int);
            for (k, x) in items {
                write_value(w, k, et)?;
                write_value(w, x, &count)?;
            }
        }
        (LogicalType::Row(fields), Value::Row(vals)) => {
            if fields.len() != vals.len() {
                return Err(mismatch(v, t));
            }
            for (f, x) in fields.iter().zip(vals) {
                write_value(w, x, &f.data_type)?;
            }
        }
        _ => return Err(mismatch(v, t)),
    }
    Ok(())
}

/// Decode one value (with its presence byte) of type `t`.
pub fn read_value(r: &mut Reader<'_>, t: &DataType) -> Result<Value> {
    if r.u8()? == 0 {
        return Ok(Value::Null);
    }
    Ok(match &t.logical {
        LogicalType::Boolean => Value::Boolean(r.u8()? != 0),
        LogicalType::TinyInt => Value::TinyInt(r.u8()? as i8),
        LogicalType::SmallInt => Value::SmallInt(i16::from_le_bytes(r.array()?)),
        LogicalType::Int => Value::Int(r.i32()?),
        LogicalType::Date => Value::Date(r.i32()?),
        LogicalType::BigInt => Value::BigInt(r.i64()?),
        LogicalType::Float => Value::Float(f32::from_le_bytes(r.array()?)),
        LogicalType::Double => Value::Double(f64::from_le_bytes(r.array()?)),
        LogicalType::Time(_) => Value::Time(i64::from(r.i32()?) * 1_000_000),
        LogicalType::Decimal { precision, .. } => {
            if *precision <= 18 {
                Value::Decimal(i128::from(r.i64()?))
            } else {
                Value::Decimal(i128::from_be_bytes(r.array()?))
            }
        }
        LogicalType::Char(_) | LogicalType::VarChar(_) => Value::String(
            String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| Error::internal("a string from Java is not UTF-8"))?,
        ),
        LogicalType::Binary(_) | LogicalType::VarBinary(_) => Value::Bytes(r.bytes()?.to_vec()),
        LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_) => Value::Timestamp(Timestamp {
            millis: r.i64()?,
            nanos_of_milli: r.i32()? as u32,
        }),
        LogicalType::Array(et) => {
            let n = r.length()?;
            Value::Array((0..n).map(|_| read_value(r, et)).collect::<Result<_>>()?)
        }
        LogicalType::Map(kt, vt) => {
            let n = r.length()?;
            Value::Map(
                (0..n)
                    .map(|_| Ok((read_value(r, kt)?, read_value(r, vt)?)))
                    .collect::<Result<_>>()?,
            )
        }
        LogicalType::Multiset(et) => {
            let n = r.length()?;
            let count = DataType::new(LogicalType::Int);
            Value::Map(
                (0..n)
                    .map(|_| Ok((read_value(r, et)?, read_value(r, &count)?)))
                    .collect::<Result<_>>()?,
            )
        }
        LogicalType::Row(fields) => Value::Row(
            fields
                .iter()
                .map(|f| read_value(r, &f.data_type))
                .collect::<Result<_>>()?,
        ),
    })
}

/// Decode a batch written by Java into a [`ChangelogBatch`] of `schema`, whose columns are `types`.
pub fn read_rows(
    data: &[u8],
    types: &[DataType],
    schema: &Arc<arrow::datatypes::Schema>,
) -> Result<ChangelogBatch> {
    let mut r = Reader::new(data);
    let n = r.length()?;
    let mut b = RowBatchBuilder::new(schema.clone());
    for _ in 0..n {
        let kind = r.u8()? as i8;
        let kind = RowKind::from_byte(kind)
            .ok_or_else(|| Error::internal(format!("unknown row kind byte {kind} from Java")))?;
        let values = types
            .iter()
            .map(|t| read_value(&mut r, t))
            .collect::<Result<Vec<_>>>()?;
        b.push(Row::of(kind, values));
    }
    if !r.is_at_end() {
        return Err(Error::internal(
            "trailing bytes after a row batch from Java",
        ));
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn every_type_round_trips() {
        let spec = "b BOOLEAN, t TINYINT, s SMALLINT, i INT, l BIGINT, f FLOAT, d DOUBLE, \
                    c DECIMAL(10, 2), cb DECIMAL(38, 4), ch CHAR(3), v STRING, bi BINARY(2), vb BYTES, \
                    dt DATE, tm TIME(3), ts TIMESTAMP(9), ltz TIMESTAMP_LTZ(3), \
                    a ARRAY<INT>, m MAP<STRING, BIGINT>, ms MULTISET<STRING>, r ROW<x INT, y STRING>";
        let schema = headrace_sdk::schema::TableSchema::parse_columns(spec).unwrap();
        let types: Vec<DataType> = schema.columns.iter().map(|c| c.data_type.clone()).collect();
        let arrow = Arc::new(Schema::new(
            schema
                .columns
                .iter()
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<Field>>(),
        ));
        let full = vec![
            Value::Boolean(true),
            Value::TinyInt(-3),
            Value::SmallInt(-300),
            Value::Int(i32::MIN),
            Value::BigInt(i64::MAX),
            Value::Float(1.5),
            Value::Double(-2.25),
            Value::Decimal(-12345),
            Value::Decimal(-(10i128.pow(37)) + 7),
            Value::String("abc".into()),
            Value::String("héllo".into()),
            Value::Bytes(vec![1, 2]),
            Value::Bytes(vec![]),
            Value::Date(-1),
            Value::Time(3_600_123_000_000),
            Value::Timestamp(Timestamp {
                millis: -1,
                nanos_of_milli: 999_999,
            }),
            Value::Timestamp(Timestamp::from_millis(1_700_000_000_123)),
            Value::Array(vec![Value::Int(1), Value::Null]),
            Value::Map(vec![(Value::String("k".into()), Value::BigInt(9))]),
            Value::Map(vec![(Value::String("e".into()), Value::Int(2))]),
            Value::Row(vec![Value::Int(5), Value::Null]),
        ];
        let nulls = vec![Value::Null; full.len()];
        let mut w = Writer::new();
        w.length(2).unwrap();
        for (kind, row) in [(RowKind::Insert, &full), (RowKind::Delete, &nulls)] {
            w.u8(kind as i8 as u8);
            for (v, t) in row.iter().zip(&types) {
                write_value(&mut w, v, t).unwrap();
            }
        }
        let batch = read_rows(&w.buf, &types, &arrow).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.kind(1), RowKind::Delete);
        let mut again = Writer::new();
        write_rows(&mut again, &batch, &types).unwrap();
        assert_eq!(again.buf, w.buf, "Arrow round trip changed the bytes");
        let rows = headrace_sdk::row::rows(&batch).unwrap();
        assert_eq!(rows[0].values, full);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let t = [DataType::new(LogicalType::BigInt)];
        let schema = Arc::new(Schema::new(vec![t[0].to_arrow_field("x")]));
        let e = read_rows(&[1, 0, 0, 0, 0, 1, 5], &t, &schema)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut short"), "{e}");
    }

    #[test]
    fn splits_and_versioned_lists() {
        let s = vec![SourceSplit {
            id: "f-1".into(),
            state: VersionedBytes {
                version: 3,
                bytes: vec![9, 8],
            },
        }];
        let mut w = Writer::new();
        write_splits(&mut w, &s).unwrap();
        assert_eq!(read_splits(&w.buf).unwrap(), s);
        let v = vec![s[0].state.clone(), s[0].state.clone()];
        let mut w = Writer::new();
        write_versioned(&mut w, &v).unwrap();
        assert_eq!(read_versioned(&w.buf).unwrap(), v);
    }
}
