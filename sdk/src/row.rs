//! A row view for authors who think in rows.
//!
//! [`rows`] reads a [`ChangelogBatch`] as [`Row`]s; [`RowBatchBuilder`] builds a batch from rows.
//! Batches stay the unit that flows; rows are a convenience with a cost (one allocation per value).

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeStringArray,
    ListArray, MapArray, StringArray, StructArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType as ArrowType, FieldRef, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::changelog::{ChangelogBatch, RowKind};
use crate::error::{Error, Result};

/// A timestamp as Flink's `TimestampData` holds it: epoch milliseconds plus nanoseconds within the
/// millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Milliseconds since 1970-01-01T00:00:00.
    pub millis: i64,
    /// 0..999_999 nanoseconds within the millisecond.
    pub nanos_of_milli: u32,
}

impl Timestamp {
    /// From epoch milliseconds.
    pub fn from_millis(millis: i64) -> Self {
        Timestamp {
            millis,
            nanos_of_milli: 0,
        }
    }

    /// From a value of an Arrow timestamp array of `unit` (seconds, milliseconds, microseconds or
    /// nanoseconds since the epoch).
    #[inline]
    pub fn from_unit(v: i64, unit: TimeUnit) -> Self {
        match unit {
            TimeUnit::Second => Timestamp::from_millis(v.saturating_mul(1000)),
            TimeUnit::Millisecond => Timestamp::from_millis(v),
            TimeUnit::Microsecond => Timestamp {
                millis: v.div_euclid(1000),
                nanos_of_milli: (v.rem_euclid(1000) * 1000) as u32,
            },
            TimeUnit::Nanosecond => Timestamp {
                millis: v.div_euclid(1_000_000),
                nanos_of_milli: v.rem_euclid(1_000_000) as u32,
            },
        }
    }

    /// As a value of an Arrow timestamp array of `unit` (saturating at the ends of `i64`; finer
    /// digits than `unit` are dropped, rounding toward negative infinity).
    #[inline]
    pub fn to_unit(self, unit: TimeUnit) -> i64 {
        match unit {
            TimeUnit::Second => self.millis.div_euclid(1000),
            TimeUnit::Millisecond => self.millis,
            TimeUnit::Microsecond => self
                .millis
                .saturating_mul(1000)
                .saturating_add(i64::from(self.nanos_of_milli / 1000)),
            TimeUnit::Nanosecond => self
                .millis
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(self.nanos_of_milli)),
        }
    }
}

/// One value of any Flink type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// BOOLEAN
    Boolean(bool),
    /// TINYINT
    TinyInt(i8),
    /// SMALLINT
    SmallInt(i16),
    /// INT
    Int(i32),
    /// BIGINT
    BigInt(i64),
    /// FLOAT
    Float(f32),
    /// DOUBLE
    Double(f64),
    /// DECIMAL: the unscaled value (the scale comes from the column type).
    Decimal(i128),
    /// CHAR / VARCHAR / STRING
    String(String),
    /// BINARY / VARBINARY / BYTES
    Bytes(Vec<u8>),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// TIME: nanoseconds since midnight.
    Time(i64),
    /// TIMESTAMP / TIMESTAMP_LTZ
    Timestamp(Timestamp),
    /// ARRAY
    Array(Vec<Value>),
    /// MAP / MULTISET (element to count)
    Map(Vec<(Value, Value)>),
    /// ROW
    Row(Vec<Value>),
}

impl Value {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Read value `i` of an Arrow array.
    pub fn from_array(array: &dyn Array, i: usize) -> Result<Value> {
        if array.is_null(i) {
            return Ok(Value::Null);
        }
        macro_rules! get {
            ($t:ty) => {
                array
                    .as_any()
                    .downcast_ref::<$t>()
                    .ok_or_else(|| Error::internal("array type mismatch"))?
                    .value(i)
            };
        }
        Ok(match array.data_type() {
            ArrowType::Boolean => Value::Boolean(get!(BooleanArray)),
            ArrowType::Int8 => Value::TinyInt(get!(Int8Array)),
            ArrowType::Int16 => Value::SmallInt(get!(Int16Array)),
            ArrowType::Int32 => Value::Int(get!(Int32Array)),
            ArrowType::Int64 => Value::BigInt(get!(Int64Array)),
            ArrowType::Float32 => Value::Float(get!(Float32Array)),
            ArrowType::Float64 => Value::Double(get!(Float64Array)),
            ArrowType::Decimal128(_, _) => Value::Decimal(get!(Decimal128Array)),
            ArrowType::Utf8 => Value::String(get!(StringArray).to_string()),
            ArrowType::LargeUtf8 => Value::String(get!(LargeStringArray).to_string()),
            ArrowType::Binary => Value::Bytes(get!(BinaryArray).to_vec()),
            ArrowType::FixedSizeBinary(_) => Value::Bytes(get!(FixedSizeBinaryArray).to_vec()),
            ArrowType::Date32 => Value::Date(get!(Date32Array)),
            ArrowType::Time32(TimeUnit::Second) => {
                Value::Time(i64::from(get!(Time32SecondArray)) * 1_000_000_000)
            }
            ArrowType::Time32(_) => {
                Value::Time(i64::from(get!(Time32MillisecondArray)) * 1_000_000)
            }
            ArrowType::Time64(TimeUnit::Microsecond) => {
                Value::Time(get!(Time64MicrosecondArray) * 1000)
            }
            ArrowType::Time64(_) => Value::Time(get!(Time64NanosecondArray)),
            ArrowType::Timestamp(u, _) => {
                let v = match u {
                    TimeUnit::Second => get!(TimestampSecondArray),
                    TimeUnit::Millisecond => get!(TimestampMillisecondArray),
                    TimeUnit::Microsecond => get!(TimestampMicrosecondArray),
                    TimeUnit::Nanosecond => get!(TimestampNanosecondArray),
                };
                Value::Timestamp(Timestamp::from_unit(v, *u))
            }
            ArrowType::List(_) => {
                let l = array
                    .as_any()
                    .downcast_ref::<ListArray>()
                    .ok_or_else(|| Error::internal("array type mismatch"))?;
                let child = l.value(i);
                Value::Array(
                    (0..child.len())
                        .map(|j| Value::from_array(child.as_ref(), j))
                        .collect::<Result<_>>()?,
                )
            }
            ArrowType::Map(_, _) => {
                let m = array
                    .as_any()
                    .downcast_ref::<MapArray>()
                    .ok_or_else(|| Error::internal("array type mismatch"))?;
                let entries = m.value(i);
                let (k, v) = (entries.column(0), entries.column(1));
                Value::Map(
                    (0..entries.len())
                        .map(|j| {
                            Ok((
                                Value::from_array(k.as_ref(), j)?,
                                Value::from_array(v.as_ref(), j)?,
                            ))
                        })
                        .collect::<Result<_>>()?,
                )
            }
            ArrowType::Struct(_) => {
                let s = array
                    .as_any()
                    .downcast_ref::<StructArray>()
                    .ok_or_else(|| Error::internal("array type mismatch"))?;
                Value::Row(
                    s.columns()
                        .iter()
                        .map(|c| Value::from_array(c.as_ref(), i))
                        .collect::<Result<_>>()?,
                )
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "the row view does not read Arrow type {other}"
                )))
            }
        })
    }
}

/// One row with its changelog kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// +I, -U, +U or -D.
    pub kind: RowKind,
    /// One value per column.
    pub values: Vec<Value>,
}

macro_rules! getter {
    ($(#[$m:meta])* $name:ident, $variant:ident, $t:ty) => {
        $(#[$m])*
        pub fn $name(&self, i: usize) -> Option<$t> {
            match self.values.get(i) {
                Some(Value::$variant(v)) => Some(v.clone()),
                _ => None,
            }
        }
    };
}

impl Row {
    /// An insert row.
    pub fn insert(values: Vec<Value>) -> Self {
        Row {
            kind: RowKind::Insert,
            values,
        }
    }

    /// A row of the given kind.
    pub fn of(kind: RowKind, values: Vec<Value>) -> Self {
        Row { kind, values }
    }

    /// Number of fields.
    pub fn arity(&self) -> usize {
        self.values.len()
    }

    /// Whether field `i` is NULL (or absent).
    pub fn is_null_at(&self, i: usize) -> bool {
        self.values.get(i).is_none_or(Value::is_null)
    }

    /// Set field `i` (extending with NULLs if needed).
    pub fn set(&mut self, i: usize, v: Value) {
        if self.values.len() <= i {
            self.values.resize(i + 1, Value::Null);
        }
        self.values[i] = v;
    }

    getter!(/// BOOLEAN field.
        get_boolean, Boolean, bool);
    getter!(/// TINYINT field.
        get_byte, TinyInt, i8);
    getter!(/// SMALLINT field.
        get_short, SmallInt, i16);
    getter!(/// INT field.
        get_int, Int, i32);
    getter!(/// BIGINT field.
        get_long, BigInt, i64);
    getter!(/// FLOAT field.
        get_float, Float, f32);
    getter!(/// DOUBLE field.
        get_double, Double, f64);
    getter!(/// DECIMAL field (unscaled).
        get_decimal, Decimal, i128);
    getter!(/// DATE field (epoch days).
        get_date, Date, i32);
    getter!(/// TIME field (nanoseconds of day).
        get_time, Time, i64);
    getter!(/// TIMESTAMP field.
        get_timestamp, Timestamp, Timestamp);

    /// STRING field.
    pub fn get_string(&self, i: usize) -> Option<&str> {
        match self.values.get(i) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// BYTES field.
    pub fn get_binary(&self, i: usize) -> Option<&[u8]> {
        match self.values.get(i) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }
}

/// Read every row of a batch.
pub fn rows(batch: &ChangelogBatch) -> Result<Vec<Row>> {
    let cols = batch.batch.columns();
    (0..batch.num_rows())
        .map(|i| {
            Ok(Row {
                kind: batch.kind(i),
                values: cols
                    .iter()
                    .map(|c| Value::from_array(c.as_ref(), i))
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// Builds a [`ChangelogBatch`] from rows.
#[derive(Debug)]
pub struct RowBatchBuilder {
    schema: SchemaRef,
    rows: Vec<Row>,
}

impl RowBatchBuilder {
    /// A builder for rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        RowBatchBuilder {
            schema,
            rows: Vec::new(),
        }
    }

    /// Add a row.
    pub fn push(&mut self, row: Row) -> &mut Self {
        self.rows.push(row);
        self
    }

    /// Rows added so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Build the batch and start over.
    pub fn build(&mut self) -> Result<ChangelogBatch> {
        let rows = std::mem::take(&mut self.rows);
        let mut arrays = Vec::with_capacity(self.schema.fields().len());
        for (c, f) in self.schema.fields().iter().enumerate() {
            let vals: Vec<&Value> = rows
                .iter()
                .map(|r| r.values.get(c).unwrap_or(&Value::Null))
                .collect();
            if !f.is_nullable() {
                if let Some(i) = vals.iter().position(|v| v.is_null()) {
                    return Err(Error::user(format!(
                        "row {i}: column '{}' is NOT NULL but the row has NULL",
                        f.name()
                    )));
                }
            }
            arrays.push(
                to_array(f.data_type(), &vals)
                    .map_err(|e| Error::user(format!("column '{}': {e}", f.name())))?,
            );
        }
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?;
        let kinds: Vec<RowKind> = rows.iter().map(|r| r.kind).collect();
        if kinds.iter().all(|k| *k == RowKind::Insert) {
            Ok(ChangelogBatch::inserts(batch))
        } else {
            Ok(ChangelogBatch::with_kinds(batch, kinds))
        }
    }
}

fn nulls(vals: &[&Value]) -> Option<NullBuffer> {
    if vals.iter().any(|v| v.is_null()) {
        Some(NullBuffer::from(
            vals.iter().map(|v| !v.is_null()).collect::<Vec<bool>>(),
        ))
    } else {
        None
    }
}

fn mismatch(t: &ArrowType, v: &Value) -> Error {
    Error::user(format!("value {v:?} does not fit type {t}"))
}

/// An Arrow timestamp array of `unit` (and time zone `tz`, as in `Timestamp(unit, tz)`) from
/// values in that unit (see [`Timestamp::to_unit`]); `None` is NULL.
pub fn timestamp_array(values: Vec<Option<i64>>, unit: TimeUnit, tz: Option<Arc<str>>) -> ArrayRef {
    match unit {
        TimeUnit::Second => Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz)),
        TimeUnit::Millisecond => {
            Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz))
        }
        TimeUnit::Microsecond => {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz))
        }
        TimeUnit::Nanosecond => {
            Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz))
        }
    }
}

/// Build an array of type `t` from values.
pub fn to_array(t: &ArrowType, vals: &[&Value]) -> Result<ArrayRef> {
    macro_rules! prim {
        ($arr:ty, $variant:ident) => {{
            let v: Vec<Option<_>> = vals
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::$variant(x) => Ok(Some(x.clone())),
                    other => Err(mismatch(t, other)),
                })
                .collect::<Result<_>>()?;
            Arc::new(<$arr>::from(v)) as ArrayRef
        }};
    }
    let ts = |unit: TimeUnit| -> Result<Vec<Option<i64>>> {
        vals.iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::Timestamp(x) => Ok(Some(x.to_unit(unit))),
                other => Err(mismatch(t, other)),
            })
            .collect()
    };
    let time = |div: i64| -> Result<Vec<Option<i64>>> {
        vals.iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                Value::Time(x) => Ok(Some(x / div)),
                other => Err(mismatch(t, other)),
            })
            .collect()
    };
    Ok(match t {
        ArrowType::Boolean => prim!(BooleanArray, Boolean),
        ArrowType::Int8 => prim!(Int8Array, TinyInt),
        ArrowType::Int16 => prim!(Int16Array, SmallInt),
        ArrowType::Int32 => prim!(Int32Array, Int),
        ArrowType::Int64 => prim!(Int64Array, BigInt),
        ArrowType::Float32 => prim!(Float32Array, Float),
        ArrowType::Float64 => prim!(Float64Array, Double),
        ArrowType::Date32 => prim!(Date32Array, Date),
        ArrowType::Decimal128(p, s) => {
            let v: Vec<Option<i128>> = vals
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::Decimal(x) => Ok(Some(*x)),
                    other => Err(mismatch(t, other)),
                })
                .collect::<Result<_>>()?;
            Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *s)?)
        }
        ArrowType::Utf8 => {
            let v: Vec<Option<&str>> = vals
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::String(s) => Ok(Some(s.as_str())),
                    other => Err(mismatch(t, other)),
                })
                .collect::<Result<_>>()?;
            Arc::new(StringArray::from(v))
        }
        ArrowType::Binary => {
            let v: Vec<Option<&[u8]>> = vals
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::Bytes(s) => Ok(Some(s.as_slice())),
                    other => Err(mismatch(t, other)),
                })
                .collect::<Result<_>>()?;
            Arc::new(BinaryArray::from(v))
        }
        ArrowType::Time32(TimeUnit::Second) => Arc::new(Time32SecondArray::from(
            time(1_000_000_000)?
                .into_iter()
                .map(|o| o.map(|x| x as i32))
                .collect::<Vec<_>>(),
        )),
        ArrowType::Time32(_) => Arc::new(Time32MillisecondArray::from(
            time(1_000_000)?
                .into_iter()
                .map(|o| o.map(|x| x as i32))
                .collect::<Vec<_>>(),
        )),
        ArrowType::Time64(TimeUnit::Microsecond) => {
            Arc::new(Time64MicrosecondArray::from(time(1000)?))
        }
        ArrowType::Time64(_) => Arc::new(Time64NanosecondArray::from(time(1)?)),
        ArrowType::Timestamp(u, tz) => timestamp_array(ts(*u)?, *u, tz.clone()),
        ArrowType::List(field) => {
            let mut lens = Vec::with_capacity(vals.len());
            let mut children: Vec<&Value> = Vec::new();
            for v in vals {
                match v {
                    Value::Null => lens.push(0),
                    Value::Array(items) => {
                        lens.push(items.len());
                        children.extend(items.iter());
                    }
                    other => return Err(mismatch(t, other)),
                }
            }
            let child = to_array(field.data_type(), &children)?;
            Arc::new(ListArray::try_new(
                field.clone(),
                OffsetBuffer::from_lengths(lens),
                child,
                nulls(vals),
            )?)
        }
        ArrowType::Map(entries_field, sorted) => {
            let ArrowType::Struct(kv) = entries_field.data_type() else {
                return Err(Error::internal("map entries must be a struct"));
            };
            let mut lens = Vec::with_capacity(vals.len());
            let mut ks: Vec<&Value> = Vec::new();
            let mut vs: Vec<&Value> = Vec::new();
            for v in vals {
                match v {
                    Value::Null => lens.push(0),
                    Value::Map(items) => {
                        lens.push(items.len());
                        for (k, x) in items {
                            ks.push(k);
                            vs.push(x);
                        }
                    }
                    other => return Err(mismatch(t, other)),
                }
            }
            let fields: Vec<FieldRef> = kv.iter().cloned().collect();
            let entries = StructArray::try_new(
                kv.clone(),
                vec![
                    to_array(fields[0].data_type(), &ks)?,
                    to_array(fields[1].data_type(), &vs)?,
                ],
                None,
            )?;
            Arc::new(MapArray::try_new(
                entries_field.clone(),
                OffsetBuffer::from_lengths(lens),
                entries,
                nulls(vals),
                *sorted,
            )?)
        }
        ArrowType::Struct(fields) => {
            let null_row: Vec<Value> = vec![Value::Null; fields.len()];
            let mut cols: Vec<Vec<&Value>> = vec![Vec::with_capacity(vals.len()); fields.len()];
            for v in vals {
                let items = match v {
                    Value::Null => &null_row,
                    Value::Row(items) => items,
                    other => return Err(mismatch(t, other)),
                };
                for (j, col) in cols.iter_mut().enumerate() {
                    col.push(items.get(j).unwrap_or(&Value::Null));
                }
            }
            let arrays = fields
                .iter()
                .zip(cols.iter())
                .map(|(f, c)| to_array(f.data_type(), c))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(StructArray::try_new(fields.clone(), arrays, nulls(vals))?)
        }
        other => {
            return Err(Error::Unsupported(format!(
                "the row view does not build Arrow type {other}"
            )))
        }
    })
}

/// Renders rows as Flink's `Row.toString()` does: `+I[1, foo, null]`.
impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.kind.short_string())?;
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::TinyInt(v) => write!(f, "{v}"),
            Value::SmallInt(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::BigInt(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::String(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("[")?;
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", *x as i8)?;
                }
                f.write_str("]")
            }
            Value::Date(d) => match chrono::DateTime::from_timestamp(i64::from(*d) * 86400, 0) {
                Some(dt) => write!(f, "{}", dt.format("%Y-%m-%d")),
                None => write!(f, "{d}"),
            },
            Value::Time(n) => {
                let secs = n / 1_000_000_000;
                let nanos = n % 1_000_000_000;
                write!(f, "{:02}:{:02}", secs / 3600, (secs / 60) % 60)?;
                if secs % 60 != 0 || nanos != 0 {
                    write!(f, ":{:02}", secs % 60)?;
                }
                write_fraction(f, nanos as u32)
            }
            Value::Timestamp(t) => {
                let nanos = (t.millis.rem_euclid(1000) as u32) * 1_000_000 + t.nanos_of_milli;
                match chrono::DateTime::from_timestamp(t.millis.div_euclid(1000), 0) {
                    Some(dt) => {
                        write!(f, "{}", dt.format("%Y-%m-%dT%H:%M"))?;
                        let s = dt.format("%S").to_string();
                        if s != "00" || nanos != 0 {
                            write!(f, ":{s}")?;
                        }
                        write_fraction(f, nanos)
                    }
                    None => write!(f, "{}", t.millis),
                }
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Value::Map(items) => {
                f.write_str("{")?;
                for (i, (k, x)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={x}")?;
                }
                f.write_str("}")
            }
            Value::Row(items) => {
                f.write_str("+I[")?;
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Java's `LocalTime.toString` fraction: groups of 3 digits, trailing zero groups dropped.
fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u32) -> fmt::Result {
    if nanos == 0 {
        Ok(())
    } else if nanos % 1_000_000 == 0 {
        write!(f, ".{:03}", nanos / 1_000_000)
    } else if nanos % 1000 == 0 {
        write!(f, ".{:06}", nanos / 1000)
    } else {
        write!(f, ".{nanos:09}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TableSchema;

    #[test]
    fn round_trip_every_type() {
        let schema = TableSchema::parse_columns(
            "b BOOLEAN, t TINYINT, s SMALLINT, i INT NOT NULL, l BIGINT, f FLOAT, d DOUBLE, \
             dec DECIMAL(10, 2), str STRING, bin BYTES, dt DATE, tm TIME(3), ts TIMESTAMP(6), \
             ltz TIMESTAMP_LTZ(3), arr ARRAY<INT>, m MAP<STRING, BIGINT>, ms MULTISET<STRING>, \
             r ROW<x INT, y ARRAY<STRING>>",
        )
        .unwrap()
        .physical_arrow_schema();
        let full = Row::of(
            RowKind::UpdateAfter,
            vec![
                Value::Boolean(true),
                Value::TinyInt(-1),
                Value::SmallInt(300),
                Value::Int(7),
                Value::BigInt(1 << 40),
                Value::Float(1.5),
                Value::Double(-2.25),
                Value::Decimal(12345),
                Value::String("héllo".into()),
                Value::Bytes(vec![0, 255]),
                Value::Date(20000),
                Value::Time(3_723_004_000_000),
                Value::Timestamp(Timestamp {
                    millis: 1_700_000_000_123,
                    nanos_of_milli: 456_000,
                }),
                Value::Timestamp(Timestamp::from_millis(-1)),
                Value::Array(vec![Value::Int(1), Value::Null]),
                Value::Map(vec![(Value::String("k".into()), Value::BigInt(9))]),
                Value::Map(vec![(Value::String("a".into()), Value::Int(2))]),
                Value::Row(vec![Value::Int(3), Value::Array(vec![])]),
            ],
        );
        let mut nulls = vec![Value::Null; 18];
        nulls[3] = Value::Int(0);
        let null_row = Row::insert(nulls);
        let mut b = RowBatchBuilder::new(schema);
        b.push(full.clone()).push(null_row.clone());
        let batch = b.build().unwrap();
        assert_eq!(batch.num_rows(), 2);
        let back = rows(&batch).unwrap();
        assert_eq!(back, vec![full.clone(), null_row]);
        assert_eq!(back[0].get_long(4), Some(1 << 40));
        assert_eq!(back[0].get_string(8), Some("héllo"));
        let s = full.to_string();
        assert!(s.starts_with("+U[true, -1, 300, 7,"), "{s}");
        assert!(s.contains("2023-11-14T22:13:20.123456"), "{s}");
        assert!(s.contains("1969-12-31T23:59:59.999"), "{s}");
        assert!(s.contains("01:02:03.004"), "{s}");
        assert!(s.contains("{k=9}"), "{s}");
    }

    #[test]
    fn not_null_enforced() {
        let schema = TableSchema::parse_columns("i INT NOT NULL")
            .unwrap()
            .physical_arrow_schema();
        let mut b = RowBatchBuilder::new(schema);
        b.push(Row::insert(vec![Value::Null]));
        let e = b.build().unwrap_err().to_string();
        assert!(e.contains("'i' is NOT NULL"), "{e}");
    }
}
