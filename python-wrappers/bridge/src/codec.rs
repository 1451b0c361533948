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

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder, Date32Array,
    Date32Builder, Decimal128Array, Float32Array, Float32Builder, Float64Array, Float64Builder,
    Int16Array, Int16Builder, Int32Array, Int32Builder, Int64Array, Int64Builder, Int8Array,
    Int8Builder, RecordBatch, RecordBatchOptions, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType as ArrowType, TimeUnit};
use headrace_sdk::changelog::{ChangelogBatch, RowKind};
use headrace_sdk::row::{timestamp_array, to_array, Timestamp, Value};
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
    /// A versioned item: `i32` version, then length-prefixed bytes.
    fn versioned(&mut self, v: &VersionedBytes) -> Result<()> {
        self.i32(v.version as i32);
        self.bytes(&v.bytes)
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
    /// A length written by [`Writer::length`].
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
    /// A versioned item written by [`Writer::versioned`].
    fn versioned(&mut self) -> Result<VersionedBytes> {
        Ok(VersionedBytes {
            version: self.i32()? as u32,
            bytes: self.bytes()?.to_vec(),
        })
    }
    /// A list: a length, then the items `item` reads.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.length()?;
        (0..n).map(|_| item(self)).collect()
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
        w.versioned(v)?;
    }
    Ok(())
}

/// Decode a list of versioned bytes.
pub fn read_versioned(data: &[u8]) -> Result<Vec<VersionedBytes>> {
    Reader::new(data).list(Reader::versioned)
}

/// Encode splits.
pub fn write_splits(w: &mut Writer, splits: &[SourceSplit]) -> Result<()> {
    w.length(splits.len())?;
    for s in splits {
        w.bytes(s.id.as_bytes())?;
        w.versioned(&s.state)?;
    }
    Ok(())
}

/// Decode splits.
pub fn read_splits(data: &[u8]) -> Result<Vec<SourceSplit>> {
    Reader::new(data).list(|r| {
        let id = String::from_utf8(r.bytes()?.to_vec())
            .map_err(|_| Error::internal("a split id from Java is not UTF-8"))?;
        Ok(SourceSplit {
            id,
            state: r.versioned()?,
        })
    })
}

/// A column read without per-value allocation where the types allow it.
struct Col<'a> {
    values: Values<'a>,
    /// The column's NULLs (`None`: it has none).
    nulls: Option<&'a NullBuffer>,
}

/// The values of a [`Col`], typed.
enum Values<'a> {
    Bool(&'a BooleanArray),
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    Date(&'a Date32Array),
    I64(&'a Int64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Dec64(&'a Decimal128Array),
    Dec128(&'a Decimal128Array),
    Utf8(&'a StringArray),
    Bin(&'a BinaryArray),
    Ts(&'a [i64], TimeUnit),
    /// Anything else goes through [`Value`].
    Other(&'a dyn Array),
}

impl<'a> Values<'a> {
    fn new(a: &'a dyn Array, t: &DataType) -> Values<'a> {
        let any = a.as_any();
        macro_rules! as_ {
            ($arr:ty, $variant:ident) => {
                match any.downcast_ref::<$arr>() {
                    Some(x) => Values::$variant(x),
                    None => Values::Other(a),
                }
            };
        }
        match (&t.logical, a.data_type()) {
            (LogicalType::Boolean, ArrowType::Boolean) => as_!(BooleanArray, Bool),
            (LogicalType::TinyInt, ArrowType::Int8) => as_!(Int8Array, I8),
            (LogicalType::SmallInt, ArrowType::Int16) => as_!(Int16Array, I16),
            (LogicalType::Int, ArrowType::Int32) => as_!(Int32Array, I32),
            (LogicalType::Date, ArrowType::Date32) => as_!(Date32Array, Date),
            (LogicalType::BigInt, ArrowType::Int64) => as_!(Int64Array, I64),
            (LogicalType::Float, ArrowType::Float32) => as_!(Float32Array, F32),
            (LogicalType::Double, ArrowType::Float64) => as_!(Float64Array, F64),
            (LogicalType::Decimal { precision, .. }, ArrowType::Decimal128(_, _)) => {
                if *precision <= 18 {
                    as_!(Decimal128Array, Dec64)
                } else {
                    as_!(Decimal128Array, Dec128)
                }
            }
            (LogicalType::Char(_) | LogicalType::VarChar(_), ArrowType::Utf8) => {
                as_!(StringArray, Utf8)
            }
            (LogicalType::Binary(_) | LogicalType::VarBinary(_), ArrowType::Binary) => {
                as_!(BinaryArray, Bin)
            }
            (
                LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_),
                ArrowType::Timestamp(unit, _),
            ) => {
                let values = match unit {
                    TimeUnit::Second => any
                        .downcast_ref::<TimestampSecondArray>()
                        .map(|x| x.values().as_ref()),
                    TimeUnit::Millisecond => any
                        .downcast_ref::<TimestampMillisecondArray>()
                        .map(|x| x.values().as_ref()),
                    TimeUnit::Microsecond => any
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .map(|x| x.values().as_ref()),
                    TimeUnit::Nanosecond => any
                        .downcast_ref::<TimestampNanosecondArray>()
                        .map(|x| x.values().as_ref()),
                };
                match values {
                    Some(v) => Values::Ts(v, *unit),
                    None => Values::Other(a),
                }
            }
            _ => Values::Other(a),
        }
    }
}

impl<'a> Col<'a> {
    /// Row `i` as a [`Flat`] value, or (`Err`) the array to read it from through [`Value`].
    /// Inlined into the row loops, where the `Flat` then never exists in memory.
    #[inline(always)]
    fn flat(&self, i: usize) -> std::result::Result<Flat<'a>, &'a dyn Array> {
        if let Values::Other(a) = self.values {
            return Err(a);
        }
        if self.nulls.is_some_and(|n| n.is_null(i)) {
            return Ok(Flat::Null);
        }
        Ok(match self.values {
            Values::Bool(a) => fixed([u8::from(a.value(i))]),
            Values::I8(a) => fixed(a.value(i).to_le_bytes()),
            Values::I16(a) => fixed(a.value(i).to_le_bytes()),
            Values::I32(a) => fixed(a.value(i).to_le_bytes()),
            Values::Date(a) => fixed(a.value(i).to_le_bytes()),
            Values::I64(a) => fixed(a.value(i).to_le_bytes()),
            Values::F32(a) => fixed(a.value(i).to_le_bytes()),
            Values::F64(a) => fixed(a.value(i).to_le_bytes()),
            Values::Dec64(a) | Values::Dec128(a) => Flat::Decimal(a.value(i)),
            Values::Utf8(a) => Flat::Bytes(a.value(i).as_bytes()),
            Values::Bin(a) => Flat::Bytes(a.value(i)),
            Values::Ts(v, unit) => Flat::Timestamp(Timestamp::from_unit(v[i], unit)),
            Values::Other(a) => return Err(a),
        })
    }
}

/// The columns of a batch a source produced, checked against the Flink table's `types`.
fn columns<'a>(batch: &'a ChangelogBatch, types: &[DataType]) -> Result<Vec<Col<'a>>> {
    let arrays = batch.batch.columns();
    if arrays.len() != types.len() {
        return Err(Error::internal(format!(
            "the source produced {} columns but the Flink table has {}",
            arrays.len(),
            types.len()
        )));
    }
    Ok(arrays
        .iter()
        .zip(types)
        .map(|(a, t)| Col {
            values: Values::new(a.as_ref(), t),
            nulls: a.nulls(),
        })
        .collect())
}

/// Encode every row of `batch`, whose columns are `types` (the table's physical columns, in order).
/// Flat columns are read straight from their Arrow arrays; nested ones through [`Value`].
pub fn write_rows(w: &mut Writer, batch: &ChangelogBatch, types: &[DataType]) -> Result<()> {
    let cols = columns(batch, types)?;
    let n = batch.num_rows();
    w.length(n)?;
    for i in 0..n {
        w.u8(batch.kind(i) as i8 as u8);
        for (c, t) in cols.iter().zip(types) {
            match c.flat(i) {
                Ok(v) => write_flat(w, v, t)?,
                Err(a) => write_value(w, &Value::from_array(a, i)?, t)?,
            }
        }
    }
    Ok(())
}

fn mismatch(v: &Value, t: &DataType) -> Error {
    Error::internal(format!("value {v:?} does not match the Flink type {t}"))
}

/// Encode one flat value (with its presence byte) as type `t`.
#[inline(always)]
fn write_flat(w: &mut Writer, v: Flat<'_>, t: &DataType) -> Result<()> {
    if let Flat::Null = v {
        w.u8(0);
        return Ok(());
    }
    w.u8(1);
    match v {
        Flat::Null => {}
        Flat::Fixed(b, n) => {
            // All 8 bytes, then the extra ones dropped: a fixed-size copy costs less than one of
            // `n` bytes.
            let end = w.buf.len() + n;
            w.buf.extend_from_slice(&b);
            w.buf.truncate(end);
        }
        Flat::Bytes(b) => w.bytes(b)?,
        Flat::Timestamp(ts) => {
            w.i64(ts.millis);
            w.i32(ts.nanos_of_milli as i32);
        }
        Flat::Decimal(x) => {
            if is_compact_decimal(t) {
                w.i64(x as i64);
            } else {
                w.buf.extend_from_slice(&x.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// Encode one value (with its presence byte) as type `t`.
pub fn write_value(w: &mut Writer, v: &Value, t: &DataType) -> Result<()> {
    match (&t.logical, v) {
        (LogicalType::Array(et), Value::Array(items)) => {
            w.u8(1);
            w.length(items.len())?;
            for x in items {
                write_value(w, x, et)?;
            }
        }
        (LogicalType::Map(kt, vt), Value::Map(items)) => {
            w.u8(1);
            w.length(items.len())?;
            for (k, x) in items {
                write_value(w, k, kt)?;
                write_value(w, x, vt)?;
            }
        }
        (LogicalType::Multiset(et), Value::Map(items)) => {
            w.u8(1);
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
            w.u8(1);
            for (f, x) in fields.iter().zip(vals) {
                write_value(w, x, &f.data_type)?;
            }
        }
        _ => write_flat(w, flat_of_value(v, t)?, t)?,
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

/// A column being built from Java's rows: Arrow builders for flat types, [`Value`]s otherwise.
enum Build {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    Date(Date32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Vec<Option<i128>>, bool),
    Utf8(StringBuilder),
    Bin(BinaryBuilder),
    Ts(Vec<Option<i64>>, TimeUnit),
    Other(Vec<Value>),
}

impl Build {
    fn new(t: &DataType, arrow: &ArrowType, rows: usize) -> Build {
        match (&t.logical, arrow) {
            (LogicalType::Boolean, ArrowType::Boolean) => {
                Build::Bool(BooleanBuilder::with_capacity(rows))
            }
            (LogicalType::TinyInt, ArrowType::Int8) => Build::I8(Int8Builder::with_capacity(rows)),
            (LogicalType::SmallInt, ArrowType::Int16) => {
                Build::I16(Int16Builder::with_capacity(rows))
            }
            (LogicalType::Int, ArrowType::Int32) => Build::I32(Int32Builder::with_capacity(rows)),
            (LogicalType::Date, ArrowType::Date32) => {
                Build::Date(Date32Builder::with_capacity(rows))
            }
            (LogicalType::BigInt, ArrowType::Int64) => {
                Build::I64(Int64Builder::with_capacity(rows))
            }
            (LogicalType::Float, ArrowType::Float32) => {
                Build::F32(Float32Builder::with_capacity(rows))
            }
            (LogicalType::Double, ArrowType::Float64) => {
                Build::F64(Float64Builder::with_capacity(rows))
            }
            (LogicalType::Decimal { precision, .. }, ArrowType::Decimal128(_, _)) => {
                Build::Dec(Vec::with_capacity(rows), *precision <= 18)
            }
            (LogicalType::Char(_) | LogicalType::VarChar(_), ArrowType::Utf8) => {
                Build::Utf8(StringBuilder::with_capacity(rows, rows * 16))
            }
            (LogicalType::Binary(_) | LogicalType::VarBinary(_), ArrowType::Binary) => {
                Build::Bin(BinaryBuilder::with_capacity(rows, rows * 16))
            }
            (
                LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_),
                ArrowType::Timestamp(unit, _),
            ) => Build::Ts(Vec::with_capacity(rows), *unit),
            _ => Build::Other(Vec::with_capacity(rows)),
        }
    }

    /// Read one value (with its presence byte); returns whether it was NULL.
    fn read(&mut self, r: &mut Reader<'_>, t: &DataType) -> Result<bool> {
        if let Build::Other(v) = self {
            let x = read_value(r, t)?;
            let null = x.is_null();
            v.push(x);
            return Ok(null);
        }
        if r.u8()? == 0 {
            self.push_null();
            return Ok(true);
        }
        match self {
            Build::Bool(b) => b.append_value(r.u8()? != 0),
            Build::I8(b) => b.append_value(r.u8()? as i8),
            Build::I16(b) => b.append_value(i16::from_le_bytes(r.array()?)),
            Build::I32(b) => b.append_value(r.i32()?),
            Build::Date(b) => b.append_value(r.i32()?),
            Build::I64(b) => b.append_value(r.i64()?),
            Build::F32(b) => b.append_value(f32::from_le_bytes(r.array()?)),
            Build::F64(b) => b.append_value(f64::from_le_bytes(r.array()?)),
            Build::Dec(v, small) => v.push(Some(if *small {
                i128::from(r.i64()?)
            } else {
                i128::from_be_bytes(r.array()?)
            })),
            Build::Utf8(b) => b.append_value(
                std::str::from_utf8(r.bytes()?)
                    .map_err(|_| Error::internal("a string from Java is not UTF-8"))?,
            ),
            Build::Bin(b) => b.append_value(r.bytes()?),
            Build::Ts(v, unit) => {
                let ts = Timestamp {
                    millis: r.i64()?,
                    nanos_of_milli: r.i32()? as u32,
                };
                v.push(Some(ts.to_unit(*unit)));
            }
            Build::Other(_) => {}
        }
        Ok(false)
    }

    fn finish(self, arrow: &ArrowType) -> Result<ArrayRef> {
        Ok(match self {
            Build::Bool(mut b) => Arc::new(b.finish()),
            Build::I8(mut b) => Arc::new(b.finish()),
            Build::I16(mut b) => Arc::new(b.finish()),
            Build::I32(mut b) => Arc::new(b.finish()),
            Build::Date(mut b) => Arc::new(b.finish()),
            Build::I64(mut b) => Arc::new(b.finish()),
            Build::F32(mut b) => Arc::new(b.finish()),
            Build::F64(mut b) => Arc::new(b.finish()),
            Build::Utf8(mut b) => Arc::new(b.finish()),
            Build::Bin(mut b) => Arc::new(b.finish()),
            Build::Dec(v, _) => match arrow {
                ArrowType::Decimal128(p, s) => {
                    Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *s)?)
                }
                _ => return Err(Error::internal("decimal column without a decimal type")),
            },
            Build::Ts(v, unit) => {
                let tz = match arrow {
                    ArrowType::Timestamp(_, tz) => tz.clone(),
                    _ => None,
                };
                timestamp_array(v, unit, tz)
            }
            Build::Other(v) => {
                let refs: Vec<&Value> = v.iter().collect();
                to_array(arrow, &refs)?
            }
        })
    }
}

/// Decode a batch written by Java into a [`ChangelogBatch`] of `schema`, whose columns are `types`.
/// Flat columns go straight into Arrow builders; nested ones through [`Value`].
pub fn read_rows(
    data: &[u8],
    types: &[DataType],
    schema: &Arc<arrow::datatypes::Schema>,
) -> Result<ChangelogBatch> {
    let (mut r, mut batch) = BatchIn::start(data, types, schema)?;
    for row in 0..batch.rows {
        batch.kind(r.u8()? as i8)?;
        for ((c, t), f) in batch.cols.iter_mut().zip(types).zip(schema.fields().iter()) {
            if c.read(&mut r, t)? && !f.is_nullable() {
                return Err(null_in_not_null(row, f));
            }
        }
    }
    batch.finish(&r, schema)
}

/// A batch being decoded from Java: a builder per column and the row kinds.
struct BatchIn {
    rows: usize,
    cols: Vec<Build>,
    kinds: Vec<RowKind>,
}

impl BatchIn {
    /// Check that the sink consumes as many columns as the Flink table's `types` and read the
    /// batch's row count.
    fn start<'a>(
        data: &'a [u8],
        types: &[DataType],
        schema: &arrow::datatypes::Schema,
    ) -> Result<(Reader<'a>, BatchIn)> {
        let fields = schema.fields();
        if fields.len() != types.len() {
            return Err(Error::internal(format!(
                "the sink consumes {} columns but the Flink table has {}",
                fields.len(),
                types.len()
            )));
        }
        let mut r = Reader::new(data);
        let rows = r.length()?;
        let cols = types
            .iter()
            .zip(fields.iter())
            .map(|(t, f)| Build::new(t, f.data_type(), rows))
            .collect();
        let kinds = Vec::with_capacity(rows);
        Ok((r, BatchIn { rows, cols, kinds }))
    }

    /// A row's kind byte.
    fn kind(&mut self, kind: i8) -> Result<()> {
        let k = RowKind::from_byte(kind)
            .ok_or_else(|| Error::internal(format!("unknown row kind byte {kind} from Java")))?;
        self.kinds.push(k);
        Ok(())
    }

    /// The batch, once `r` has read all of it.
    fn finish(
        self,
        r: &Reader<'_>,
        schema: &Arc<arrow::datatypes::Schema>,
    ) -> Result<ChangelogBatch> {
        if !r.is_at_end() {
            return Err(Error::internal(
                "trailing bytes after a row batch from Java",
            ));
        }
        finish_batch(self.cols, self.kinds, schema, self.rows)
    }
}

fn null_in_not_null(row: usize, f: &arrow::datatypes::Field) -> Error {
    Error::user(format!(
        "row {row}: column '{}' is NOT NULL but the row has NULL",
        f.name()
    ))
}

/// The row encodings a batch can cross in; Java names the one it uses on every call.
pub mod encoding {
    /// The compact row encoding of the module documentation: every Flink type, Table and
    /// DataStream API.
    pub const COMPACT: i32 = 0;
    /// Rows laid out as Flink's own `BinaryRowData`, for tables whose columns are all flat (see
    /// [`binary_row_supported`](super::binary_row_supported)): Java wraps them without decoding
    /// (source) or copies a `BinaryRowData`'s bytes as they are (sink).
    pub const BINARY_ROW: i32 = 1;
}

/// Refuse `types` that cannot cross as `BinaryRowData` (see [`binary_row_supported`]).
fn require_flat(types: &[DataType]) -> Result<()> {
    if binary_row_supported(types) {
        Ok(())
    } else {
        Err(Error::internal(
            "rows with nested columns cannot cross as BinaryRowData",
        ))
    }
}

/// Whether rows of `types` can cross as Flink's `BinaryRowData`: every column is a flat type
/// (no ARRAY, MAP, MULTISET or ROW, whose binary forms the bridge does not write).
pub fn binary_row_supported(types: &[DataType]) -> bool {
    types.iter().all(|t| {
        !matches!(
            t.logical,
            LogicalType::Array(_)
                | LogicalType::Map(..)
                | LogicalType::Multiset(_)
                | LogicalType::Row(_)
        )
    })
}

/// Bytes of the header and null bits of a `BinaryRowData` with `arity` fields (Flink's
/// `BinaryRowData.calculateBitSetWidthInBytes`): 8 header bits (the row kind) plus one bit per
/// field, rounded up to whole 8-byte words.
fn null_bits_bytes(arity: usize) -> usize {
    (arity + 8).div_ceil(64) * 8
}

fn is_compact_timestamp(t: &DataType) -> bool {
    matches!(t.logical, LogicalType::Timestamp(p) | LogicalType::TimestampLtz(p) if p <= 3)
}

fn is_compact_decimal(t: &DataType) -> bool {
    matches!(t.logical, LogicalType::Decimal { precision, .. } if precision <= 18)
}

/// One flat value on its way into a `BinaryRowData` slot.
enum Flat<'a> {
    Null,
    /// A fixed-size value: its little-endian bytes (at most 8) go at the start of the slot.
    Fixed([u8; 8], usize),
    /// CHAR/VARCHAR (UTF-8) and BINARY/VARBINARY bytes.
    Bytes(&'a [u8]),
    Timestamp(Timestamp),
    Decimal(i128),
}

fn fixed<const N: usize>(b: [u8; N]) -> Flat<'static> {
    let mut a = [0u8; 8];
    a[..N].copy_from_slice(&b);
    Flat::Fixed(a, N)
}

fn flat_of_value<'a>(v: &'a Value, t: &DataType) -> Result<Flat<'a>> {
    Ok(match (&t.logical, v) {
        (_, Value::Null) => Flat::Null,
        (LogicalType::Boolean, Value::Boolean(b)) => fixed([u8::from(*b)]),
        (LogicalType::TinyInt, Value::TinyInt(x)) => fixed(x.to_le_bytes()),
        (LogicalType::SmallInt, Value::SmallInt(x)) => fixed(x.to_le_bytes()),
        (LogicalType::Int, Value::Int(x)) | (LogicalType::Date, Value::Date(x)) => {
            fixed(x.to_le_bytes())
        }
        (LogicalType::Time(_), Value::Time(nanos)) => {
            fixed(((nanos / 1_000_000) as i32).to_le_bytes())
        }
        (LogicalType::BigInt, Value::BigInt(x)) => fixed(x.to_le_bytes()),
        (LogicalType::Float, Value::Float(x)) => fixed(x.to_le_bytes()),
        (LogicalType::Double, Value::Double(x)) => fixed(x.to_le_bytes()),
        (LogicalType::Decimal { .. }, Value::Decimal(x)) => Flat::Decimal(*x),
        (LogicalType::Char(_) | LogicalType::VarChar(_), Value::String(s)) => {
            Flat::Bytes(s.as_bytes())
        }
        (LogicalType::Binary(_) | LogicalType::VarBinary(_), Value::Bytes(b)) => Flat::Bytes(b),
        (LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_), Value::Timestamp(ts)) => {
            Flat::Timestamp(*ts)
        }
        _ => return Err(mismatch(v, t)),
    })
}

/// Appends `BinaryRowData` rows to a buffer (the layout of Flink's `BinaryRowWriter`, little-endian
/// as Flink's `MemorySegment` on x86-64 and aarch64).
struct BinaryRowOut<'w> {
    buf: &'w mut Vec<u8>,
    /// Where the row being written starts.
    start: usize,
    null_bits: usize,
}

impl BinaryRowOut<'_> {
    fn slot(&self, c: usize) -> usize {
        self.start + self.null_bits + 8 * c
    }

    fn set_slot(&mut self, c: usize, v: u64) {
        let s = self.slot(c);
        self.buf[s..s + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Append to the variable-length part (padded to whole words); the offset from the row start.
    fn var(&mut self, b: &[u8]) -> Result<u64> {
        let off = self.buf.len() - self.start;
        self.buf.extend_from_slice(b);
        let pad = (8 - b.len() % 8) % 8;
        self.buf.resize(self.buf.len() + pad, 0);
        u32::try_from(off)
            .map(u64::from)
            .map_err(|_| Error::internal("a row of more than 4 GB cannot cross into Flink"))
    }

    fn put(&mut self, c: usize, v: Flat<'_>, t: &DataType) -> Result<()> {
        match v {
            Flat::Null => {
                let bit = c + 8;
                self.buf[self.start + bit / 8] |= 1 << (bit % 8);
            }
            Flat::Fixed(b, n) => {
                let s = self.slot(c);
                self.buf[s..s + n].copy_from_slice(&b[..n]);
            }
            Flat::Bytes(b) => {
                if b.len() <= 7 {
                    // Short values live in the slot: the bytes, then 0x80 | length in its last byte.
                    let s = self.slot(c);
                    self.buf[s..s + b.len()].copy_from_slice(b);
                    self.buf[s + 7] = 0x80 | b.len() as u8;
                } else {
                    let len = u32::try_from(b.len()).map_err(|_| {
                        Error::internal("a value of more than 4 GB cannot cross into Flink")
                    })?;
                    let off = self.var(b)?;
                    self.set_slot(c, off << 32 | u64::from(len));
                }
            }
            Flat::Timestamp(ts) => {
                if is_compact_timestamp(t) {
                    self.set_slot(c, ts.millis as u64);
                } else {
                    let off = self.var(&ts.millis.to_le_bytes())?;
                    self.set_slot(c, off << 32 | u64::from(ts.nanos_of_milli));
                }
            }
            Flat::Decimal(x) => {
                if is_compact_decimal(t) {
                    self.set_slot(c, x as i64 as u64);
                } else {
                    // BigInteger's big-endian two's complement (16 bytes: longer than minimal is fine).
                    let off = self.var(&x.to_be_bytes())?;
                    self.set_slot(c, off << 32 | 16);
                }
            }
        }
        Ok(())
    }
}

/// Encode every row of `batch` as Flink `BinaryRowData`s: `i32` row count, then per row its `i32`
/// length and its bytes (header byte = row kind, null bits, an 8-byte slot per column, then the
/// variable-length part). Only for [`binary_row_supported`] columns.
pub fn write_binary_rows(w: &mut Writer, batch: &ChangelogBatch, types: &[DataType]) -> Result<()> {
    let cols = columns(batch, types)?;
    require_flat(types)?;
    let arity = types.len();
    let null_bits = null_bits_bytes(arity);
    let fixed_len = null_bits + 8 * arity;
    let n = batch.num_rows();
    w.length(n)?;
    for i in 0..n {
        let len_at = w.buf.len();
        w.i32(0);
        let start = w.buf.len();
        w.buf.resize(start + fixed_len, 0);
        w.buf[start] = batch.kind(i) as i8 as u8;
        let mut out = BinaryRowOut {
            buf: &mut w.buf,
            start,
            null_bits,
        };
        for (c, (col, t)) in cols.iter().zip(types).enumerate() {
            match col.flat(i) {
                Ok(v) => out.put(c, v, t)?,
                Err(a) => out.put(c, flat_of_value(&Value::from_array(a, i)?, t)?, t)?,
            }
        }
        let len = w.buf.len() - start;
        let len = i32::try_from(len)
            .map_err(|_| Error::internal("a row of more than 2 GB cannot cross into Flink"))?;
        w.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}

/// One `BinaryRowData` from Java, read field by field.
struct BinaryRowIn<'a> {
    row: &'a [u8],
    null_bits: usize,
    index: usize,
}

impl<'a> BinaryRowIn<'a> {
    fn err(&self, what: &str) -> Error {
        Error::internal(format!(
            "row {} from Java: {what} (a BinaryRowData of {} bytes)",
            self.index,
            self.row.len()
        ))
    }

    fn is_null(&self, c: usize) -> bool {
        let bit = c + 8;
        self.row[bit / 8] & (1 << (bit % 8)) != 0
    }

    fn slot(&self, c: usize) -> [u8; 8] {
        let s = self.null_bits + 8 * c;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.row[s..s + 8]);
        a
    }

    fn long(&self, c: usize) -> i64 {
        i64::from_le_bytes(self.slot(c))
    }

    fn var(&self, off: u64, len: usize) -> Result<&'a [u8]> {
        let off = off as usize;
        off.checked_add(len)
            .filter(|end| off >= self.null_bits && *end <= self.row.len())
            .map(|end| &self.row[off..end])
            .ok_or_else(|| self.err("a variable-length field points outside the row"))
    }

    fn bytes(&self, c: usize) -> Result<&'a [u8]> {
        let v = self.long(c) as u64;
        if v & (0x80 << 56) != 0 {
            let len = ((v >> 56) & 0x7f) as usize;
            if len > 7 {
                return Err(self.err("an inline field is longer than 7 bytes"));
            }
            let s = self.null_bits + 8 * c;
            Ok(&self.row[s..s + len])
        } else {
            self.var(v >> 32, (v & 0xffff_ffff) as usize)
        }
    }

    fn timestamp(&self, c: usize, t: &DataType) -> Result<Timestamp> {
        let v = self.long(c);
        if is_compact_timestamp(t) {
            return Ok(Timestamp::from_millis(v));
        }
        let v = v as u64;
        let millis: [u8; 8] = self
            .var(v >> 32, 8)?
            .try_into()
            .map_err(|_| self.err("a timestamp is cut short"))?;
        Ok(Timestamp {
            millis: i64::from_le_bytes(millis),
            nanos_of_milli: (v & 0xffff_ffff) as u32,
        })
    }

    fn decimal(&self, c: usize, t: &DataType) -> Result<i128> {
        let v = self.long(c);
        if is_compact_decimal(t) {
            return Ok(i128::from(v));
        }
        let v = v as u64;
        let be = self.var(v >> 32, (v & 0xffff_ffff) as usize)?;
        if be.is_empty() || be.len() > 16 {
            return Err(self.err("a decimal's unscaled value is not 1 to 16 bytes"));
        }
        // Sign-extend BigInteger's minimal big-endian two's complement to 16 bytes.
        let mut full = if be[0] & 0x80 != 0 {
            [0xff; 16]
        } else {
            [0; 16]
        };
        full[16 - be.len()..].copy_from_slice(be);
        Ok(i128::from_be_bytes(full))
    }

    fn value(&self, c: usize, t: &DataType) -> Result<Value> {
        if self.is_null(c) {
            return Ok(Value::Null);
        }
        let s = self.slot(c);
        Ok(match &t.logical {
            LogicalType::Boolean => Value::Boolean(s[0] != 0),
            LogicalType::TinyInt => Value::TinyInt(s[0] as i8),
            LogicalType::SmallInt => Value::SmallInt(i16::from_le_bytes([s[0], s[1]])),
            LogicalType::Int => Value::Int(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            LogicalType::Date => Value::Date(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            LogicalType::Time(_) => {
                Value::Time(i64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])) * 1_000_000)
            }
            LogicalType::BigInt => Value::BigInt(i64::from_le_bytes(s)),
            LogicalType::Float => Value::Float(f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            LogicalType::Double => Value::Double(f64::from_le_bytes(s)),
            LogicalType::Decimal { .. } => Value::Decimal(self.decimal(c, t)?),
            LogicalType::Char(_) | LogicalType::VarChar(_) => Value::String(
                String::from_utf8(self.bytes(c)?.to_vec())
                    .map_err(|_| self.err("a string is not UTF-8"))?,
            ),
            LogicalType::Binary(_) | LogicalType::VarBinary(_) => {
                Value::Bytes(self.bytes(c)?.to_vec())
            }
            LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_) => {
                Value::Timestamp(self.timestamp(c, t)?)
            }
            _ => return Err(self.err(&format!("type {t} cannot cross as BinaryRowData"))),
        })
    }
}

impl Build {
    fn push_null(&mut self) {
        match self {
            Build::Bool(b) => b.append_null(),
            Build::I8(b) => b.append_null(),
            Build::I16(b) => b.append_null(),
            Build::I32(b) => b.append_null(),
            Build::Date(b) => b.append_null(),
            Build::I64(b) => b.append_null(),
            Build::F32(b) => b.append_null(),
            Build::F64(b) => b.append_null(),
            Build::Dec(v, _) => v.push(None),
            Build::Utf8(b) => b.append_null(),
            Build::Bin(b) => b.append_null(),
            Build::Ts(v, _) => v.push(None),
            Build::Other(v) => v.push(Value::Null),
        }
    }

    /// Read field `c` of a binary row; returns whether it was NULL.
    fn read_binary(&mut self, row: &BinaryRowIn<'_>, c: usize, t: &DataType) -> Result<bool> {
        if row.is_null(c) {
            self.push_null();
            return Ok(true);
        }
        let s = row.slot(c);
        match self {
            Build::Bool(b) => b.append_value(s[0] != 0),
            Build::I8(b) => b.append_value(s[0] as i8),
            Build::I16(b) => b.append_value(i16::from_le_bytes([s[0], s[1]])),
            Build::I32(b) => b.append_value(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            Build::Date(b) => b.append_value(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            Build::I64(b) => b.append_value(i64::from_le_bytes(s)),
            Build::F32(b) => b.append_value(f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            Build::F64(b) => b.append_value(f64::from_le_bytes(s)),
            Build::Dec(v, _) => v.push(Some(row.decimal(c, t)?)),
            Build::Utf8(b) => b.append_value(
                std::str::from_utf8(row.bytes(c)?).map_err(|_| row.err("a string is not UTF-8"))?,
            ),
            Build::Bin(b) => b.append_value(row.bytes(c)?),
            Build::Ts(v, unit) => v.push(Some(row.timestamp(c, t)?.to_unit(*unit))),
            Build::Other(v) => v.push(row.value(c, t)?),
        }
        Ok(false)
    }
}

/// Decode `BinaryRowData` rows written by Java (the layout of [`write_binary_rows`]) into a
/// [`ChangelogBatch`] of `schema`, whose columns are `types`.
pub fn read_binary_rows(
    data: &[u8],
    types: &[DataType],
    schema: &Arc<arrow::datatypes::Schema>,
) -> Result<ChangelogBatch> {
    let (mut r, mut batch) = BatchIn::start(data, types, schema)?;
    require_flat(types)?;
    let arity = types.len();
    let null_bits = null_bits_bytes(arity);
    for index in 0..batch.rows {
        let len = r.length()?;
        let row = BinaryRowIn {
            row: r.take(len)?,
            null_bits,
            index,
        };
        if len < null_bits + 8 * arity {
            return Err(row.err(&format!("shorter than the {arity} fields of the table")));
        }
        batch.kind(row.row[0] as i8)?;
        let cols = batch.cols.iter_mut().zip(types).zip(schema.fields().iter());
        for (c, ((b, t), f)) in cols.enumerate() {
            if b.read_binary(&row, c, t)? && !f.is_nullable() {
                return Err(null_in_not_null(index, f));
            }
        }
    }
    batch.finish(&r, schema)
}

fn finish_batch(
    cols: Vec<Build>,
    kinds: Vec<RowKind>,
    schema: &Arc<arrow::datatypes::Schema>,
    n: usize,
) -> Result<ChangelogBatch> {
    let arrays = cols
        .into_iter()
        .zip(schema.fields().iter())
        .map(|(c, f)| c.finish(f.data_type()))
        .collect::<Result<Vec<_>>>()?;
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    if kinds.iter().all(|k| *k == RowKind::Insert) {
        Ok(ChangelogBatch::inserts(batch))
    } else {
        Ok(ChangelogBatch::with_kinds(batch, kinds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    /// Every flat Flink type, one column each.
    const FLAT_COLUMNS: &str = "b BOOLEAN, t TINYINT, s SMALLINT, i INT, l BIGINT, f FLOAT, \
        d DOUBLE, c DECIMAL(10, 2), cb DECIMAL(38, 4), ch CHAR(3), v STRING, bi BINARY(2), \
        vb BYTES, dt DATE, tm TIME(3), ts TIMESTAMP(9), ltz TIMESTAMP_LTZ(3)";

    /// The column types and the Arrow schema of a Flink column list.
    fn table(columns: &str) -> (Vec<DataType>, Arc<Schema>) {
        let schema = headrace_sdk::schema::TableSchema::parse_columns(columns).unwrap();
        let types: Vec<DataType> = schema.columns.iter().map(|c| c.data_type.clone()).collect();
        let arrow = Arc::new(Schema::new(
            schema
                .columns
                .iter()
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<Field>>(),
        ));
        (types, arrow)
    }

    /// A row of [`FLAT_COLUMNS`] with edge values; `v` is the STRING column's value.
    fn flat_row(v: &str) -> Vec<Value> {
        vec![
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
            Value::String(v.into()),
            Value::Bytes(vec![1, 2]),
            Value::Bytes(vec![]),
            Value::Date(-1),
            Value::Time(3_600_123_000_000),
            Value::Timestamp(Timestamp {
                millis: -1,
                nanos_of_milli: 999_999,
            }),
            Value::Timestamp(Timestamp::from_millis(1_700_000_000_123)),
        ]
    }

    #[test]
    fn every_type_round_trips() {
        let (types, arrow) = table(&format!(
            "{FLAT_COLUMNS}, a ARRAY<INT>, m MAP<STRING, BIGINT>, ms MULTISET<STRING>, \
             r ROW<x INT, y STRING>"
        ));
        let mut full = flat_row("héllo");
        full.extend([
            Value::Array(vec![Value::Int(1), Value::Null]),
            Value::Map(vec![(Value::String("k".into()), Value::BigInt(9))]),
            Value::Map(vec![(Value::String("e".into()), Value::Int(2))]),
            Value::Row(vec![Value::Int(5), Value::Null]),
        ]);
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
    fn every_flat_type_round_trips_as_binary_rows() {
        let (types, arrow) = table(FLAT_COLUMNS);
        assert!(binary_row_supported(&types));
        let rows = [
            flat_row("héllo, a string longer than seven bytes"),
            vec![
                Value::Boolean(false),
                Value::TinyInt(0),
                Value::SmallInt(1),
                Value::Int(7),
                Value::BigInt(-1),
                Value::Float(0.0),
                Value::Double(1e300),
                Value::Decimal(99),
                Value::Decimal(i128::from(i64::MAX) * 1000 + 1),
                Value::String("1234567".into()),
                Value::String("12345678".into()),
                Value::Bytes(vec![0, 255]),
                Value::Bytes(vec![9; 7]),
                Value::Date(19_000),
                Value::Time(0),
                Value::Timestamp(Timestamp::from_millis(0)),
                Value::Timestamp(Timestamp::from_millis(-86_400_000)),
            ],
            vec![Value::Null; 17],
        ];
        // Java's compact encoding -> Arrow, the way a sink batch is built.
        let mut w = Writer::new();
        w.length(rows.len()).unwrap();
        for (row, kind) in rows
            .iter()
            .zip([RowKind::Insert, RowKind::UpdateAfter, RowKind::Delete])
        {
            w.u8(kind as i8 as u8);
            for (v, t) in row.iter().zip(&types) {
                write_value(&mut w, v, t).unwrap();
            }
        }
        let batch = read_rows(&w.buf, &types, &arrow).unwrap();
        let mut bin = Writer::new();
        write_binary_rows(&mut bin, &batch, &types).unwrap();
        let back = read_binary_rows(&bin.buf, &types, &arrow).unwrap();
        assert_eq!(back.kind(1), RowKind::UpdateAfter);
        assert_eq!(back.kind(2), RowKind::Delete);
        let got = headrace_sdk::row::rows(&back).unwrap();
        for (g, want) in got.iter().zip(&rows) {
            assert_eq!(&g.values, want);
        }
        let mut again = Writer::new();
        write_binary_rows(&mut again, &back, &types).unwrap();
        assert_eq!(again.buf, bin.buf, "binary rows changed through Arrow");
    }

    /// The bytes Flink's `BinaryRowWriter` produces for the row +U (BIGINT 5, STRING "hello world!"
    /// (variable-length part), STRING "abc" (inline), INT NULL, TIMESTAMP(3) 7 ms (compact),
    /// TIMESTAMP(6) 1 ms + 2000 ns (variable-length part)).
    #[test]
    fn binary_row_layout_is_flinks() {
        let t: Vec<DataType> = [
            "BIGINT",
            "STRING",
            "STRING",
            "INT",
            "TIMESTAMP(3)",
            "TIMESTAMP(6)",
        ]
        .iter()
        .map(|s| DataType::parse(s).unwrap())
        .collect();
        let names = ["a", "b", "c", "d", "e", "f"];
        let arrow = Arc::new(Schema::new(
            t.iter()
                .zip(names)
                .map(|(t, n)| t.to_arrow_field(n))
                .collect::<Vec<_>>(),
        ));
        let mut w = Writer::new();
        w.length(1).unwrap();
        w.u8(RowKind::UpdateAfter as i8 as u8);
        let vals = [
            Value::BigInt(5),
            Value::String("hello world!".into()),
            Value::String("abc".into()),
            Value::Null,
            Value::Timestamp(Timestamp::from_millis(7)),
            Value::Timestamp(Timestamp {
                millis: 1,
                nanos_of_milli: 2000,
            }),
        ];
        for (v, t) in vals.iter().zip(&t) {
            write_value(&mut w, v, t).unwrap();
        }
        let batch = read_rows(&w.buf, &t, &arrow).unwrap();
        let mut bin = Writer::new();
        write_binary_rows(&mut bin, &batch, &t).unwrap();
        let mut want = vec![1u8, 0, 0, 0]; // one row
        let row_len: i32 = 8 + 6 * 8 + 16 + 8;
        want.extend_from_slice(&row_len.to_le_bytes());
        // Header: kind +U (2), null bit of field 3 (bit 3 + 8 = 11: byte 1, bit 3).
        want.extend_from_slice(&[2, 1 << 3, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&5i64.to_le_bytes());
        // "hello world!" at offset 56 (8 + 48), 12 bytes.
        want.extend_from_slice(&((56u64 << 32) | 12).to_le_bytes());
        want.extend_from_slice(&[b'a', b'b', b'c', 0, 0, 0, 0, 0x80 | 3]);
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&7i64.to_le_bytes());
        // TIMESTAMP(6): millis at offset 72, nanos of the milli in the slot.
        want.extend_from_slice(&((72u64 << 32) | 2000).to_le_bytes());
        want.extend_from_slice(b"hello world!\0\0\0\0");
        want.extend_from_slice(&1i64.to_le_bytes());
        assert_eq!(bin.buf, want);
    }

    #[test]
    fn binary_rows_refuse_nested_columns_and_bad_offsets() {
        let t = [DataType::parse("ARRAY<INT>").unwrap()];
        assert!(!binary_row_supported(&t));
        let t = [DataType::parse("STRING").unwrap()];
        let schema = Arc::new(Schema::new(vec![t[0].to_arrow_field("s")]));
        let mut data = vec![1, 0, 0, 0, 16, 0, 0, 0];
        data.extend_from_slice(&[0; 8]);
        // A string slot pointing at offset 64, 10 bytes: outside the 16-byte row.
        data.extend_from_slice(&((64u64 << 32) | 10).to_le_bytes());
        let e = read_binary_rows(&data, &t, &schema)
            .unwrap_err()
            .to_string();
        assert!(e.contains("points outside the row"), "{e}");
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
    fn null_in_a_not_null_column_is_named() {
        let t = [DataType::parse("BIGINT NOT NULL").unwrap()];
        let schema = Arc::new(Schema::new(vec![t[0].to_arrow_field("id")]));
        let e = read_rows(&[1, 0, 0, 0, 0, 0], &t, &schema)
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 'id' is NOT NULL"), "{e}");
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
