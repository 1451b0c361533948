//! Avro binary straight into Arrow columns, for records written with the table's own schema (the
//! `avro` format, and `avro-confluent` when the writer schema is the table's). Values go into
//! plain vectors first, so a record that fails half way is taken back out whole.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, Int8Array, ListArray, MapArray, RecordBatch,
    RecordBatchOptions, StringArray, StructArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType as ArrowType, Fields, SchemaRef, TimeUnit};

use crate::schema::{Kind, Node, TsUnit};

type R<T> = Result<T, String>;

/// A cursor over one record's bytes.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Skip `n` bytes (at most the remaining ones).
    pub fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.data.len());
    }

    /// Read a zig-zag variable-length long.
    pub fn long(&mut self) -> R<i64> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let b = *self
                .data
                .get(self.pos)
                .ok_or("truncated: the record ends inside a number")?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err("a variable-length number is longer than 64 bits".into());
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.remaining() {
            return Err(format!(
                "truncated: {n} bytes expected, {} left",
                self.remaining()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn bytes(&mut self) -> R<&'a [u8]> {
        let n = self.long()?;
        if n < 0 {
            return Err(format!("negative length {n}"));
        }
        self.take(n as usize)
    }

    /// Item count of the next block of an array or map (0 at the end).
    fn block(&mut self) -> R<usize> {
        let n = self.long()?;
        if n < 0 {
            self.long()?; // block size in bytes
        }
        let n = n.unsigned_abs() as usize;
        // Every item takes at least one byte... except empty records; bound by a generous limit.
        if n > self.remaining().saturating_mul(8).max(1 << 20) {
            return Err(format!("a block of {n} items cannot fit the record"));
        }
        Ok(n)
    }
}

/// Integer-like Arrow targets, with the factor from the Avro value.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Same,
    Mul(i64),
    Div(i64),
}

enum Vals {
    Bool(Vec<bool>),
    /// Integers, dates, times and timestamps, already in the Arrow unit; `lo..=hi` is the range.
    Int(Vec<i64>, Scale, i64, i64),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Str(Vec<u8>, Vec<i32>),
    Bin(Vec<u8>, Vec<i32>),
    /// Unscaled values and the largest magnitude the precision allows.
    Dec(Vec<i128>, i128),
    List(Vec<i32>, Box<Col>),
    Map(Vec<i32>, Vec<u8>, Vec<i32>, Box<Col>),
    Record(Vec<Col>),
}

/// One column being read.
pub struct Col {
    vals: Vals,
    valid: Vec<bool>,
    nullable: bool,
    /// Whether the Arrow field takes NULLs (a nullable Avro value read into a NOT NULL field,
    /// such as MULTISET counts, fails per record when NULL).
    arrow_nullable: bool,
    arrow: ArrowType,
    path: String,
}

fn per_second(u: &TimeUnit) -> i64 {
    match u {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

fn scale(from: i64, to: i64) -> Scale {
    if from == to {
        Scale::Same
    } else if from < to {
        Scale::Mul(to / from)
    } else {
        Scale::Div(from / to)
    }
}

/// The unscaled value of a decimal's big-endian two's complement bytes (sign-extension bytes in
/// front allowed); None when it does not fit 128 bits. No bytes are 0.
pub fn unscaled(mut b: &[u8]) -> Option<i128> {
    while b.len() > 16 && ((b[0] == 0 && b[1] & 0x80 == 0) || (b[0] == 0xff && b[1] & 0x80 != 0)) {
        b = &b[1..];
    }
    if b.len() > 16 {
        return None;
    }
    let fill = if b.first().is_some_and(|x| x & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut full = [fill; 16];
    full[16 - b.len()..].copy_from_slice(b);
    Some(i128::from_be_bytes(full))
}

impl Col {
    /// A column reading `node` into the Arrow type `t`; None when this reader cannot do it.
    pub fn new(node: &Node, t: &ArrowType, arrow_nullable: bool, path: &str) -> Option<Col> {
        let int = |lo: i64, hi: i64| Some(Vals::Int(Vec::new(), Scale::Same, lo, hi));
        let vals = match (&node.kind, t) {
            (Kind::Boolean, ArrowType::Boolean) => Some(Vals::Bool(Vec::new())),
            (Kind::Int, ArrowType::Int8) => int(i8::MIN as i64, i8::MAX as i64),
            (Kind::Int, ArrowType::Int16) => int(i16::MIN as i64, i16::MAX as i64),
            (Kind::Int, ArrowType::Int32) | (Kind::Date, ArrowType::Date32) => {
                int(i32::MIN as i64, i32::MAX as i64)
            }
            (Kind::Long, ArrowType::Int64) => int(i64::MIN, i64::MAX),
            (Kind::TimeMillis, ArrowType::Time32(u) | ArrowType::Time64(u)) => Some(Vals::Int(
                Vec::new(),
                scale(1_000, per_second(u)),
                i64::MIN,
                i64::MAX,
            )),
            (Kind::Timestamp { unit, .. }, ArrowType::Timestamp(u, _)) => {
                let from = match unit {
                    TsUnit::Millis => 1_000,
                    TsUnit::Micros => 1_000_000,
                    TsUnit::Nanos => 1_000_000_000,
                };
                Some(Vals::Int(
                    Vec::new(),
                    scale(from, per_second(u)),
                    i64::MIN,
                    i64::MAX,
                ))
            }
            (Kind::Float, ArrowType::Float32) => Some(Vals::F32(Vec::new())),
            (Kind::Double, ArrowType::Float64) => Some(Vals::F64(Vec::new())),
            (Kind::String, ArrowType::Utf8) => Some(Vals::Str(Vec::new(), vec![0])),
            (Kind::Bytes, ArrowType::Binary) => Some(Vals::Bin(Vec::new(), vec![0])),
            (Kind::Decimal { precision, scale }, ArrowType::Decimal128(p, s))
                if p == precision && *s == *scale as i8 =>
            {
                Some(Vals::Dec(Vec::new(), 10i128.pow(*precision as u32) - 1))
            }
            (Kind::Array(e), ArrowType::List(f)) => {
                let child = Col::new(e, f.data_type(), f.is_nullable(), &format!("{path}[]"))?;
                Some(Vals::List(vec![0], Box::new(child)))
            }
            (Kind::Map(v), ArrowType::Map(entries, _)) => match entries.data_type() {
                ArrowType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &ArrowType::Utf8 => {
                    let child = Col::new(
                        v,
                        kv[1].data_type(),
                        kv[1].is_nullable(),
                        &format!("{path}{{}}"),
                    )?;
                    Some(Vals::Map(vec![0], Vec::new(), vec![0], Box::new(child)))
                }
                _ => None,
            },
            (Kind::Record { fields, .. }, ArrowType::Struct(fs)) if fields.len() == fs.len() => {
                let mut cols = Vec::with_capacity(fs.len());
                for ((name, n), f) in fields.iter().zip(fs) {
                    let p = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    cols.push(Col::new(n, f.data_type(), f.is_nullable(), &p)?);
                }
                Some(Vals::Record(cols))
            }
            _ => None,
        }?;
        Some(Col {
            vals,
            valid: Vec::new(),
            nullable: node.nullable,
            arrow_nullable,
            arrow: t.clone(),
            path: path.to_string(),
        })
    }

    fn len(&self) -> usize {
        self.valid.len()
    }

    /// Append a placeholder (under a NULL parent, or a NULL value).
    fn push_null(&mut self) {
        self.valid.push(false);
        match &mut self.vals {
            Vals::Bool(v) => v.push(false),
            Vals::Int(v, ..) => v.push(0),
            Vals::F32(v) => v.push(0.0),
            Vals::F64(v) => v.push(0.0),
            Vals::Str(d, o) | Vals::Bin(d, o) => o.push(d.len() as i32),
            Vals::Dec(v, _) => v.push(0),
            Vals::List(o, _) => o.push(o.last().copied().unwrap_or(0)),
            Vals::Map(o, ..) => o.push(o.last().copied().unwrap_or(0)),
            Vals::Record(cols) => cols.iter_mut().for_each(Col::push_null),
        }
    }

    /// Read one value.
    pub fn read(&mut self, c: &mut Cursor<'_>) -> R<()> {
        if self.nullable {
            match c.long().map_err(|e| self.at(e))? {
                0 if self.arrow_nullable => {
                    self.push_null();
                    return Ok(());
                }
                0 => {
                    return Err(self.at("NULL, but the column is NOT NULL".into()));
                }
                1 => {}
                b => {
                    return Err(self.at(format!("union branch {b} does not exist (null or value)")))
                }
            }
        }
        let path = &self.path;
        let at = |e: String| format!("field '{path}': {e}");
        match &mut self.vals {
            Vals::Bool(v) => match c.take(1).map_err(at)?[0] {
                0 => v.push(false),
                1 => v.push(true),
                b => return Err(at(format!("{b} is not a boolean byte"))),
            },
            Vals::Int(v, s, lo, hi) => {
                let x = c.long().map_err(at)?;
                if x < *lo || x > *hi {
                    return Err(at(format!("{x} is out of range")));
                }
                v.push(match s {
                    Scale::Same => x,
                    Scale::Mul(m) => x.saturating_mul(*m),
                    Scale::Div(d) => x.div_euclid(*d),
                });
            }
            Vals::F32(v) => {
                let b = c.take(4).map_err(at)?;
                v.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            Vals::F64(v) => {
                let b = c.take(8).map_err(at)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                v.push(f64::from_le_bytes(a));
            }
            Vals::Str(d, o) => {
                let b = c.bytes().map_err(at)?;
                std::str::from_utf8(b).map_err(|e| at(format!("string is not UTF-8: {e}")))?;
                d.extend_from_slice(b);
                o.push(offset(d.len()).map_err(at)?);
            }
            Vals::Bin(d, o) => {
                let b = c.bytes().map_err(at)?;
                d.extend_from_slice(b);
                o.push(offset(d.len()).map_err(at)?);
            }
            Vals::Dec(v, max) => {
                let b = c.bytes().map_err(at)?;
                match unscaled(b).filter(|x| *x <= *max && *x >= -*max) {
                    Some(x) => v.push(x),
                    // As Flink (DecimalData.fromUnscaledBytes): a value with more digits than
                    // the column's precision reads as NULL.
                    None if self.arrow_nullable => {
                        v.push(0);
                        self.valid.push(false);
                        return Ok(());
                    }
                    None => {
                        return Err(at(format!(
                            "a decimal of {} bytes has more digits than the column's precision                              (Flink reads it as NULL, which the NOT NULL column cannot hold)",
                            b.len()
                        )))
                    }
                }
            }
            Vals::List(o, child) => {
                loop {
                    let n = c.block().map_err(at)?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        child.read(c)?;
                    }
                }
                o.push(offset(child.len()).map_err(at)?);
            }
            Vals::Map(o, kd, ko, child) => {
                loop {
                    let n = c.block().map_err(at)?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let k = c.bytes().map_err(at)?;
                        std::str::from_utf8(k)
                            .map_err(|e| at(format!("map key is not UTF-8: {e}")))?;
                        kd.extend_from_slice(k);
                        ko.push(offset(kd.len()).map_err(at)?);
                        child.read(c)?;
                    }
                }
                o.push(offset(child.len()).map_err(at)?);
            }
            Vals::Record(cols) => {
                for col in cols.iter_mut() {
                    col.read(c)?;
                }
            }
        }
        self.valid.push(true);
        Ok(())
    }

    fn at(&self, e: String) -> String {
        format!("field '{}': {e}", self.path)
    }

    /// Drop every value after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        self.valid.truncate(n);
        match &mut self.vals {
            Vals::Bool(v) => v.truncate(n),
            Vals::Int(v, ..) => v.truncate(n),
            Vals::F32(v) => v.truncate(n),
            Vals::F64(v) => v.truncate(n),
            Vals::Str(d, o) | Vals::Bin(d, o) => {
                o.truncate(n + 1);
                d.truncate(o.last().copied().unwrap_or(0) as usize);
            }
            Vals::Dec(v, _) => v.truncate(n),
            Vals::List(o, child) => {
                o.truncate(n + 1);
                child.truncate(o.last().copied().unwrap_or(0) as usize);
            }
            Vals::Map(o, kd, ko, child) => {
                o.truncate(n + 1);
                let m = o.last().copied().unwrap_or(0) as usize;
                ko.truncate(m + 1);
                kd.truncate(ko.last().copied().unwrap_or(0) as usize);
                child.truncate(m);
            }
            Vals::Record(cols) => cols.iter_mut().for_each(|c| c.truncate(n)),
        }
    }

    fn nulls(&self) -> Option<NullBuffer> {
        if self.valid.iter().all(|v| *v) {
            None
        } else {
            Some(NullBuffer::from(self.valid.clone()))
        }
    }

    /// Take the values read so far as an Arrow array.
    pub fn finish(&mut self) -> R<ArrayRef> {
        let nulls = self.nulls();
        self.valid.clear();
        let t = self.arrow.clone();
        let path = self.path.clone();
        let err = |e: arrow::error::ArrowError| format!("field '{path}': {e}");
        Ok(match &mut self.vals {
            Vals::Bool(v) => Arc::new(BooleanArray::new(std::mem::take(v).into(), nulls)),
            Vals::Int(v, ..) => {
                let v = std::mem::take(v);
                macro_rules! prim {
                    ($a:ty, $e:ty) => {
                        Arc::new(<$a>::new(v.iter().map(|x| *x as $e).collect(), nulls))
                    };
                }
                match &t {
                    ArrowType::Int8 => prim!(Int8Array, i8),
                    ArrowType::Int16 => prim!(Int16Array, i16),
                    ArrowType::Int32 => prim!(Int32Array, i32),
                    ArrowType::Date32 => prim!(Date32Array, i32),
                    ArrowType::Time32(TimeUnit::Second) => prim!(Time32SecondArray, i32),
                    ArrowType::Time32(_) => prim!(Time32MillisecondArray, i32),
                    ArrowType::Time64(TimeUnit::Microsecond) => {
                        Arc::new(Time64MicrosecondArray::new(v.into(), nulls))
                    }
                    ArrowType::Time64(_) => Arc::new(Time64NanosecondArray::new(v.into(), nulls)),
                    ArrowType::Timestamp(u, tz) => match u {
                        TimeUnit::Second => Arc::new(
                            TimestampSecondArray::new(v.into(), nulls)
                                .with_timezone_opt(tz.clone()),
                        ),
                        TimeUnit::Millisecond => Arc::new(
                            TimestampMillisecondArray::new(v.into(), nulls)
                                .with_timezone_opt(tz.clone()),
                        ),
                        TimeUnit::Microsecond => Arc::new(
                            TimestampMicrosecondArray::new(v.into(), nulls)
                                .with_timezone_opt(tz.clone()),
                        ),
                        TimeUnit::Nanosecond => Arc::new(
                            TimestampNanosecondArray::new(v.into(), nulls)
                                .with_timezone_opt(tz.clone()),
                        ),
                    },
                    _ => Arc::new(Int64Array::new(v.into(), nulls)),
                }
            }
            Vals::F32(v) => Arc::new(Float32Array::new(std::mem::take(v).into(), nulls)),
            Vals::F64(v) => Arc::new(Float64Array::new(std::mem::take(v).into(), nulls)),
            Vals::Str(d, o) => {
                let offsets = OffsetBuffer::new(std::mem::replace(o, vec![0]).into());
                Arc::new(
                    StringArray::try_new(offsets, std::mem::take(d).into(), nulls).map_err(err)?,
                )
            }
            Vals::Bin(d, o) => {
                let offsets = OffsetBuffer::new(std::mem::replace(o, vec![0]).into());
                Arc::new(
                    BinaryArray::try_new(offsets, std::mem::take(d).into(), nulls).map_err(err)?,
                )
            }
            Vals::Dec(v, _) => {
                let ArrowType::Decimal128(p, s) = t else {
                    return Err(format!("field '{path}': not a decimal column"));
                };
                let a = Decimal128Array::new(std::mem::take(v).into(), nulls)
                    .with_precision_and_scale(p, s)
                    .map_err(err)?;
                a.validate_decimal_precision(p).map_err(err)?;
                Arc::new(a)
            }
            Vals::List(o, child) => {
                let ArrowType::List(f) = &t else {
                    return Err(format!("field '{path}': not a list column"));
                };
                let values = child.finish()?;
                let offsets = OffsetBuffer::new(std::mem::replace(o, vec![0]).into());
                Arc::new(ListArray::try_new(f.clone(), offsets, values, nulls).map_err(err)?)
            }
            Vals::Map(o, kd, ko, child) => {
                let ArrowType::Map(entries, sorted) = &t else {
                    return Err(format!("field '{path}': not a map column"));
                };
                let ArrowType::Struct(kv) = entries.data_type() else {
                    return Err(format!("field '{path}': map entries are not a struct"));
                };
                let keys = StringArray::try_new(
                    OffsetBuffer::new(std::mem::replace(ko, vec![0]).into()),
                    std::mem::take(kd).into(),
                    None,
                )
                .map_err(err)?;
                let values = child.finish()?;
                let entries_arr =
                    StructArray::try_new(kv.clone(), vec![Arc::new(keys), values], None)
                        .map_err(err)?;
                let offsets = OffsetBuffer::new(std::mem::replace(o, vec![0]).into());
                Arc::new(
                    MapArray::try_new(entries.clone(), offsets, entries_arr, nulls, *sorted)
                        .map_err(err)?,
                )
            }
            Vals::Record(cols) => {
                let ArrowType::Struct(fs) = &t else {
                    return Err(format!("field '{path}': not a struct column"));
                };
                let arrays = cols.iter_mut().map(Col::finish).collect::<R<Vec<_>>>()?;
                Arc::new(StructArray::try_new(fs.clone(), arrays, nulls).map_err(err)?)
            }
        })
    }
}

fn offset(n: usize) -> R<i32> {
    i32::try_from(n).map_err(|_| "more than 2 GiB of values in one batch".to_string())
}

/// Reads whole records of a table into Arrow batches.
pub struct RecordReader {
    schema: SchemaRef,
    root: Col,
}

impl RecordReader {
    /// A reader of records of `node` (the table's record) into batches of `schema`; None when a
    /// column's Arrow type is not the one the Avro type reads into.
    pub fn new(node: &Node, schema: &SchemaRef) -> Option<RecordReader> {
        let fields: Fields = schema.fields().clone();
        let t = ArrowType::Struct(fields);
        let root = Col::new(
            &Node {
                kind: node.kind.clone(),
                nullable: false,
            },
            &t,
            false,
            "",
        )?;
        Some(RecordReader {
            schema: schema.clone(),
            root,
        })
    }

    /// Rows read since the last [`RecordReader::finish`].
    pub fn len(&self) -> usize {
        self.root.len()
    }

    /// Whether no row is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read one record; on error nothing of it is kept.
    pub fn read(&mut self, record: &[u8]) -> R<()> {
        let n = self.root.len();
        let mut c = Cursor::new(record);
        let r = self.root.read(&mut c).and_then(|_| {
            if c.remaining() > 0 {
                Err(format!(
                    "{} bytes left over after the Avro datum ({} bytes in all): the record was \
                     written with another schema",
                    c.remaining(),
                    record.len()
                ))
            } else {
                Ok(())
            }
        });
        if r.is_err() {
            self.root.truncate(n);
        }
        r
    }

    /// Drop every row after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        if n < self.root.len() {
            self.root.truncate(n);
        }
    }

    /// Read the next record at the cursor (records follow each other in a file block); on error
    /// nothing of it is kept.
    pub fn read_next(&mut self, c: &mut Cursor<'_>) -> R<()> {
        let n = self.root.len();
        let r = self.root.read(c);
        if r.is_err() {
            self.root.truncate(n);
        }
        r
    }

    /// The rows read so far as a batch.
    pub fn finish(&mut self) -> R<RecordBatch> {
        let rows = self.root.len();
        let arr = self.root.finish()?;
        let s = arr
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or("the table's record did not read as a struct")?;
        let (_, cols, _) = s.clone().into_parts();
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| format!("cannot build the batch: {e}"))
    }
}

fn put_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    put_long(b.len() as i64, out);
    out.extend_from_slice(b);
}

fn unwrap_union(v: &apache_avro::types::Value) -> &apache_avro::types::Value {
    match v {
        apache_avro::types::Value::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

/// Write a decoded value (of any schema with the table's shape: unions in any order, record
/// fields matched by name) as Avro binary of the table's own schema `node`; map entries sorted by
/// key.
pub fn value_bytes(
    node: &Node,
    v: &apache_avro::types::Value,
    path: &str,
    out: &mut Vec<u8>,
) -> R<()> {
    use apache_avro::types::Value as V;
    let v = unwrap_union(v);
    if matches!(v, V::Null) {
        if node.nullable {
            out.push(0);
            return Ok(());
        }
        return Err(format!("field '{path}' is NULL but its type is NOT NULL"));
    }
    if node.nullable {
        out.push(2);
    }
    let bad = || format!("field '{path}': a {v:?} does not fit {:?}", node.kind);
    match (&node.kind, v) {
        (Kind::Boolean, V::Boolean(b)) => out.push(*b as u8),
        (Kind::Int | Kind::Date | Kind::TimeMillis, V::Int(x) | V::Date(x) | V::TimeMillis(x)) => {
            put_long(*x as i64, out)
        }
        (Kind::TimeMillis, V::TimeMicros(x)) => put_long(x.div_euclid(1000), out),
        (Kind::Long, V::Long(x)) => put_long(*x, out),
        (Kind::Long, V::Int(x)) => put_long(*x as i64, out),
        (Kind::Float, V::Float(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Kind::Float, V::Int(x)) => out.extend_from_slice(&(*x as f32).to_le_bytes()),
        (Kind::Float, V::Long(x)) => out.extend_from_slice(&(*x as f32).to_le_bytes()),
        (Kind::Double, V::Double(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Kind::Double, V::Float(x)) => out.extend_from_slice(&(*x as f64).to_le_bytes()),
        (Kind::Double, V::Int(x)) => out.extend_from_slice(&(*x as f64).to_le_bytes()),
        (Kind::Double, V::Long(x)) => out.extend_from_slice(&(*x as f64).to_le_bytes()),
        (Kind::String, V::String(s) | V::Enum(_, s)) => put_bytes(s.as_bytes(), out),
        (Kind::Bytes, V::Bytes(b) | V::Fixed(_, b)) => put_bytes(b, out),
        (Kind::Bytes, V::String(s)) => put_bytes(s.as_bytes(), out),
        (Kind::String, V::Bytes(b)) => put_bytes(b, out),
        (Kind::Decimal { .. }, V::Decimal(d)) => {
            let b = <Vec<u8>>::try_from(d).map_err(|e| format!("field '{path}': {e}"))?;
            put_bytes(&b, out)
        }
        (Kind::Decimal { .. }, V::Bytes(b) | V::Fixed(_, b)) => put_bytes(b, out),
        (Kind::Timestamp { unit, .. }, v) => {
            let (x, from): (i64, i64) = match v {
                V::TimestampMillis(x) | V::LocalTimestampMillis(x) | V::Long(x) => (*x, 1_000),
                V::TimestampMicros(x) | V::LocalTimestampMicros(x) => (*x, 1_000_000),
                V::TimestampNanos(x) | V::LocalTimestampNanos(x) => (*x, 1_000_000_000),
                _ => return Err(bad()),
            };
            let to = match unit {
                TsUnit::Millis => 1_000,
                TsUnit::Micros => 1_000_000,
                TsUnit::Nanos => 1_000_000_000,
            };
            put_long(
                if from <= to {
                    x.saturating_mul(to / from)
                } else {
                    x.div_euclid(from / to)
                },
                out,
            )
        }
        (Kind::Array(e), V::Array(xs)) => {
            if !xs.is_empty() {
                put_long(xs.len() as i64, out);
                for x in xs {
                    value_bytes(e, x, &format!("{path}[]"), out)?;
                }
            }
            out.push(0);
        }
        (Kind::Map(e), V::Map(m)) => {
            if !m.is_empty() {
                put_long(m.len() as i64, out);
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    put_bytes(k.as_bytes(), out);
                    value_bytes(e, &m[k], &format!("{path}{{}}"), out)?;
                }
            }
            out.push(0);
        }
        (Kind::Record { fields, .. }, V::Record(fs)) => {
            for (i, (name, f)) in fields.iter().enumerate() {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let x = match fs.get(i) {
                    Some((n, x)) if n == name => x,
                    _ => match fs.iter().find(|(n, _)| n == name) {
                        Some((_, x)) => x,
                        None => &V::Null,
                    },
                };
                value_bytes(f, x, &p, out)?;
            }
        }
        _ => return Err(bad()),
    }
    Ok(())
}
