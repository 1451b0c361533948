//! Decoding CSV records into Arrow columns.
//!
//! Values are parsed straight into growable column buffers; a record that fails is rolled back by
//! truncating every buffer to the previous row count.

use std::io::{Cursor, SeekFrom};
use std::sync::Arc;

use arrow::array::{
    make_array, ArrayRef, BinaryArray, BooleanArray, ListArray, PrimitiveArray, RecordBatch,
    RecordBatchOptions, StringArray, StructArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Decimal128Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, SchemaRef, TimeUnit,
};
use base64::Engine as _;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::{Error, RecordOrigin, Result};
use headrace_sdk::format::{Decoder, FormatContext};

use crate::schema::{columns, Column, Kind, Scalar};
use crate::text;
use crate::{Settings, IDENTIFIER};

/// Values of one Arrow column being built, with a validity flag per value.
enum Values {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Dec(Vec<i128>),
    Str(Vec<i32>, Vec<u8>),
    Bin(Vec<i32>, Vec<u8>),
}

struct Store {
    values: Values,
    valid: Vec<bool>,
}

fn nulls(valid: &mut Vec<bool>) -> Option<NullBuffer> {
    let v = std::mem::take(valid);
    if v.iter().all(|&b| b) {
        None
    } else {
        Some(NullBuffer::from(v))
    }
}

fn prim<T: ArrowPrimitiveType>(v: &mut Vec<T::Native>, n: Option<NullBuffer>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(
        ScalarBuffer::from(std::mem::take(v)),
        n,
    ))
}

fn offsets(o: &mut Vec<i32>) -> OffsetBuffer<i32> {
    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(o, vec![0])))
}

impl Store {
    fn new(s: Scalar) -> Store {
        let values = match s {
            Scalar::Bool => Values::Bool(Vec::new()),
            Scalar::I8 => Values::I8(Vec::new()),
            Scalar::I16 => Values::I16(Vec::new()),
            Scalar::I32 | Scalar::Date | Scalar::Time(_) => Values::I32(Vec::new()),
            Scalar::I64 | Scalar::Ts(..) => Values::I64(Vec::new()),
            Scalar::F32 => Values::F32(Vec::new()),
            Scalar::F64 => Values::F64(Vec::new()),
            Scalar::Dec(..) => Values::Dec(Vec::new()),
            Scalar::Str => Values::Str(vec![0], Vec::new()),
            Scalar::Bin => Values::Bin(vec![0], Vec::new()),
        };
        Store {
            values,
            valid: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.valid.len()
    }

    fn truncate(&mut self, n: usize) {
        if self.valid.len() <= n {
            return;
        }
        self.valid.truncate(n);
        match &mut self.values {
            Values::Bool(v) => v.truncate(n),
            Values::I8(v) => v.truncate(n),
            Values::I16(v) => v.truncate(n),
            Values::I32(v) => v.truncate(n),
            Values::I64(v) => v.truncate(n),
            Values::F32(v) => v.truncate(n),
            Values::F64(v) => v.truncate(n),
            Values::Dec(v) => v.truncate(n),
            Values::Str(o, d) | Values::Bin(o, d) => {
                o.truncate(n + 1);
                d.truncate(o.last().map_or(0, |&x| x as usize));
            }
        }
    }

    fn push_null(&mut self) {
        self.valid.push(false);
        match &mut self.values {
            Values::Bool(v) => v.push(false),
            Values::I8(v) => v.push(0),
            Values::I16(v) => v.push(0),
            Values::I32(v) => v.push(0),
            Values::I64(v) => v.push(0),
            Values::F32(v) => v.push(0.0),
            Values::F64(v) => v.push(0.0),
            Values::Dec(v) => v.push(0),
            Values::Str(o, _) | Values::Bin(o, _) => {
                let last = o.last().copied().unwrap_or(0);
                o.push(last);
            }
        }
    }

    /// Parse `b` as `sc` and append it. `Ok(true)` when the value became NULL (a decimal out of
    /// range, as in Flink); `Err` when it cannot be parsed (nothing is appended).
    fn parse_push(&mut self, sc: Scalar, b: &[u8]) -> std::result::Result<bool, ()> {
        match (&mut self.values, sc) {
            (Values::Bool(v), _) => v.push(text::parse_bool(b)),
            (Values::I8(v), _) => {
                v.push(text::parse_int(b, i8::MIN.into(), i8::MAX.into()).ok_or(())? as i8)
            }
            (Values::I16(v), _) => {
                v.push(text::parse_int(b, i16::MIN.into(), i16::MAX.into()).ok_or(())? as i16)
            }
            (Values::I32(v), Scalar::Date) => {
                let d = text::parse_date(b).ok_or(())?;
                v.push(i32::try_from(d).map_err(|_| ())?);
            }
            (Values::I32(v), Scalar::Time(u)) => {
                let n = text::parse_time(b, false).ok_or(())?;
                v.push(match u {
                    TimeUnit::Second => n / 1_000_000_000,
                    _ => n / 1_000_000,
                } as i32);
            }
            (Values::I32(v), _) => {
                v.push(text::parse_int(b, i32::MIN.into(), i32::MAX.into()).ok_or(())? as i32)
            }
            (Values::I64(v), Scalar::Ts(u, _)) => {
                let (s, n) = text::parse_timestamp(text::java_trim(b)).ok_or(())?;
                v.push(text::timestamp_to_unit(s, n, u).ok_or(())?);
            }
            (Values::I64(v), _) => v.push(text::parse_int(b, i64::MIN, i64::MAX).ok_or(())?),
            (Values::F32(v), _) => v.push(text::parse_float::<f32>(b).ok_or(())?),
            (Values::F64(v), _) => v.push(text::parse_float::<f64>(b).ok_or(())?),
            (Values::Dec(v), Scalar::Dec(p, s)) => match text::parse_decimal(b, p, s)? {
                Some(x) => v.push(x),
                None => {
                    tracing::debug!(
                        "csv: decimal {} does not fit DECIMAL({p}, {s}); read as NULL",
                        show(b)
                    );
                    self.push_null();
                    return Ok(true);
                }
            },
            (Values::Dec(_), _) => return Err(()),
            (Values::Str(o, d), _) => {
                std::str::from_utf8(b).map_err(|_| ())?;
                let end = i32::try_from(d.len() + b.len()).map_err(|_| ())?;
                d.extend_from_slice(b);
                o.push(end);
            }
            (Values::Bin(o, d), _) => {
                let start = d.len();
                if base64::engine::general_purpose::STANDARD
                    .decode_vec(b, d)
                    .is_err()
                {
                    d.truncate(start);
                    return Err(());
                }
                match i32::try_from(d.len()) {
                    Ok(end) => o.push(end),
                    Err(_) => {
                        d.truncate(start);
                        return Err(());
                    }
                }
            }
        }
        self.valid.push(true);
        Ok(false)
    }

    fn finish(&mut self, dt: &ArrowType) -> Result<ArrayRef> {
        let n = nulls(&mut self.valid);
        let a: ArrayRef = match &mut self.values {
            Values::Bool(v) => Arc::new(BooleanArray::new(
                BooleanBuffer::from_iter(std::mem::take(v)),
                n,
            )),
            Values::I8(v) => prim::<Int8Type>(v, n),
            Values::I16(v) => prim::<Int16Type>(v, n),
            Values::I32(v) => prim::<Int32Type>(v, n),
            Values::I64(v) => prim::<Int64Type>(v, n),
            Values::F32(v) => prim::<Float32Type>(v, n),
            Values::F64(v) => prim::<Float64Type>(v, n),
            Values::Dec(v) => prim::<Decimal128Type>(v, n),
            Values::Str(o, d) => Arc::new(StringArray::try_new(
                offsets(o),
                Buffer::from_vec(std::mem::take(d)),
                n,
            )?),
            Values::Bin(o, d) => Arc::new(BinaryArray::try_new(
                offsets(o),
                Buffer::from_vec(std::mem::take(d)),
                n,
            )?),
        };
        if a.data_type() == dt {
            return Ok(a);
        }
        let data = a.to_data().into_builder().data_type(dt.clone()).build()?;
        Ok(make_array(data))
    }
}

enum ColBuilder {
    Scalar(Store),
    List {
        offsets: Vec<i32>,
        valid: Vec<bool>,
        child: Store,
    },
    Row {
        children: Vec<Store>,
        valid: Vec<bool>,
    },
}

impl ColBuilder {
    fn push_null(&mut self) {
        match self {
            ColBuilder::Scalar(s) => s.push_null(),
            ColBuilder::List { offsets, valid, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
            ColBuilder::Row { children, valid } => {
                children.iter_mut().for_each(Store::push_null);
                valid.push(false);
            }
        }
    }

    /// Forget everything after the first `rows` rows.
    fn rollback(&mut self, rows: usize) {
        match self {
            ColBuilder::Scalar(s) => s.truncate(rows),
            ColBuilder::List {
                offsets,
                valid,
                child,
            } => {
                offsets.truncate(rows + 1);
                valid.truncate(rows);
                child.truncate(offsets.last().map_or(0, |&x| x as usize));
            }
            ColBuilder::Row { children, valid } => {
                children.iter_mut().for_each(|c| c.truncate(rows));
                valid.truncate(rows);
            }
        }
    }
}

/// Why a field could not be read: `Field` errors may become NULL, `Row` errors reject the record.
enum Fail {
    Field(String),
    Row(String),
}

/// Decodes CSV records (one line each) into rows of the format's schema.
pub struct CsvDecoder {
    s: Settings,
    schema: SchemaRef,
    cols: Vec<Column>,
    builders: Vec<ColBuilder>,
    rdr: csv::Reader<Cursor<Vec<u8>>>,
    rec: csv::ByteRecord,
    rows: usize,
    skipped: u64,
    nulled: u64,
}

impl CsvDecoder {
    /// A decoder for `ctx.schema` with `ctx.options` (keys without the `csv.` prefix).
    pub fn new(ctx: &FormatContext) -> Result<Self> {
        let s = Settings::from_options(&ctx.options)?;
        let cols = columns(ctx.options.context(), &ctx.schema)?;
        let builders = cols.iter().map(new_builder).collect();
        let mut b = csv::ReaderBuilder::new();
        b.has_headers(false)
            .flexible(true)
            .delimiter(s.delimiter)
            .quoting(s.quote.is_some())
            .quote(s.quote.unwrap_or(b'"'))
            .escape(s.escape)
            .buffer_capacity(4096);
        Ok(CsvDecoder {
            rdr: b.from_reader(Cursor::new(Vec::new())),
            s,
            schema: ctx.schema.clone(),
            cols,
            builders,
            rec: csv::ByteRecord::new(),
            rows: 0,
            skipped: 0,
            nulled: 0,
        })
    }

    /// Records dropped because of `ignore-parse-errors` since the decoder was created.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Fields read as NULL because of `ignore-parse-errors` since the decoder was created.
    pub fn nulled_fields(&self) -> u64 {
        self.nulled
    }

    fn bad(&self, origin: &RecordOrigin, reason: String) -> Error {
        Error::BadRecord {
            format: IDENTIFIER.to_string(),
            origin: origin.clone(),
            reason,
        }
    }

    /// Split `record` into `self.rec`; false when it holds no record (empty or a comment).
    fn split(&mut self, record: &[u8]) -> std::result::Result<bool, String> {
        if self.s.allow_comments && record.first() == Some(&b'#') {
            return Ok(false);
        }
        let src = self.rdr.get_mut().get_mut();
        src.clear();
        src.extend_from_slice(record);
        self.rdr
            .seek_raw(SeekFrom::Start(0), csv::Position::new())
            .map_err(|e| e.to_string())?;
        if !self
            .rdr
            .read_byte_record(&mut self.rec)
            .map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
        // whatever follows the first line must be line breaks only
        let consumed = usize::try_from(self.rdr.position().byte()).unwrap_or(usize::MAX);
        if record
            .get(consumed..)
            .is_some_and(|rest| rest.iter().any(|&c| c != b'\n' && c != b'\r'))
        {
            return Err(
                "the record holds more than one CSV line (a line break outside quotes)".into(),
            );
        }
        Ok(true)
    }

    fn parse_row(&mut self) -> std::result::Result<(), String> {
        let n = self.rec.len();
        let arity = self.cols.len();
        if n > arity {
            return Err(format!(
                "the record has {n} fields but the schema has {arity} columns"
            ));
        }
        let rows = self.rows;
        for ci in 0..arity {
            let col = &self.cols[ci];
            let b = &mut self.builders[ci];
            let outcome = match self.rec.get(ci) {
                None if self.s.ignore_parse_errors => Err(Fail::Field(String::new())),
                None => {
                    return Err(format!(
                        "column '{}': missing; the record has {n} fields but the schema has {arity} columns",
                        col.name
                    ))
                }
                Some(field) => push_column(&self.s, col, b, field),
            };
            match outcome {
                Ok(()) => {}
                Err(Fail::Row(m)) => return Err(m),
                Err(Fail::Field(m)) if !self.s.ignore_parse_errors => return Err(m),
                Err(Fail::Field(m)) => {
                    if !m.is_empty() {
                        tracing::trace!("csv: {m}; read as NULL");
                        self.nulled += 1;
                    }
                    if !col.nullable {
                        return Err(format!(
                            "column '{}' is NOT NULL but the value is NULL or missing",
                            col.name
                        ));
                    }
                    b.rollback(rows);
                    b.push_null();
                }
            }
        }
        Ok(())
    }
}

fn new_builder(c: &Column) -> ColBuilder {
    match &c.kind {
        Kind::Scalar(s) => ColBuilder::Scalar(Store::new(*s)),
        Kind::Array { elem, .. } => ColBuilder::List {
            offsets: vec![0],
            valid: Vec::new(),
            child: Store::new(*elem),
        },
        Kind::Row { children, .. } => ColBuilder::Row {
            children: children.iter().map(|c| Store::new(c.scalar)).collect(),
            valid: Vec::new(),
        },
    }
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 40 {
        format!("'{}...'", s.chars().take(40).collect::<String>())
    } else {
        format!("'{s}'")
    }
}

fn is_null(s: &Settings, b: &[u8]) -> bool {
    s.null_literal.as_deref().is_some_and(|n| n.as_bytes() == b)
}

fn field_error(what: &str, sc: Scalar, b: &[u8]) -> String {
    if sc == Scalar::Str {
        return format!("{what}: invalid UTF-8");
    }
    if let Scalar::Dec(p, s) = sc {
        return format!("{what}: cannot read {} as DECIMAL({p}, {s})", show(b));
    }
    format!("{what}: cannot read {} as {}", show(b), sc.name())
}

fn split_ranges(field: &[u8], delim: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if field.is_empty() {
        return out;
    }
    let mut start = 0;
    let mut i = 0;
    while i + delim.len() <= field.len() {
        if &field[i..i + delim.len()] == delim {
            out.push((start, i));
            i += delim.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push((start, field.len()));
    out
}

/// Append one element (or ROW field) `b` of type `sc` to `child`, NULL on failure when errors
/// are ignored.
fn push_element(
    s: &Settings,
    child: &mut Store,
    sc: Scalar,
    nullable: bool,
    b: Option<&[u8]>,
    what: impl Fn() -> String,
) -> std::result::Result<(), Fail> {
    let is_null = match b {
        None => {
            child.push_null();
            true
        }
        Some(b) if is_null(s, b) => {
            child.push_null();
            true
        }
        Some(b) => match child.parse_push(sc, b) {
            Ok(n) => n,
            Err(()) if s.ignore_parse_errors => {
                child.push_null();
                true
            }
            Err(()) => return Err(Fail::Field(field_error(&what(), sc, b))),
        },
    };
    if is_null && !nullable {
        return Err(Fail::Row(format!(
            "{} is NOT NULL but the value is NULL or missing",
            what()
        )));
    }
    Ok(())
}

fn push_column(
    s: &Settings,
    col: &Column,
    b: &mut ColBuilder,
    field: &[u8],
) -> std::result::Result<(), Fail> {
    if is_null(s, field) {
        if !col.nullable {
            return Err(Fail::Row(format!(
                "column '{}' is NOT NULL but the value is NULL",
                col.name
            )));
        }
        b.push_null();
        return Ok(());
    }
    match (&col.kind, b) {
        (Kind::Scalar(sc), ColBuilder::Scalar(st)) => match st.parse_push(*sc, field) {
            Ok(false) => Ok(()),
            Ok(true) if col.nullable => Ok(()),
            Ok(true) => Err(Fail::Row(format!(
                "column '{}' is NOT NULL but the value {} does not fit its type",
                col.name,
                show(field)
            ))),
            Err(()) => Err(Fail::Field(field_error(
                &format!("column '{}'", col.name),
                *sc,
                field,
            ))),
        },
        (
            Kind::Array {
                elem,
                elem_nullable,
                ..
            },
            ColBuilder::List {
                offsets,
                valid,
                child,
            },
        ) => {
            for (k, (a, z)) in split_ranges(field, &s.array_delimiter)
                .into_iter()
                .enumerate()
            {
                push_element(s, child, *elem, *elem_nullable, Some(&field[a..z]), || {
                    format!("column '{}' element {}", col.name, k + 1)
                })?;
            }
            let end = i32::try_from(child.len()).map_err(|_| {
                Fail::Row(format!("column '{}': too many array elements", col.name))
            })?;
            offsets.push(end);
            valid.push(true);
            Ok(())
        }
        (
            Kind::Row { children, .. },
            ColBuilder::Row {
                children: stores,
                valid,
            },
        ) => {
            let parts = split_ranges(field, &s.array_delimiter);
            if parts.is_empty() {
                stores.iter_mut().for_each(Store::push_null);
                valid.push(false);
                return Ok(());
            }
            if parts.len() != children.len() && !s.ignore_parse_errors {
                return Err(Fail::Field(format!(
                    "column '{}': the ROW has {} fields but {} were found in {}",
                    col.name,
                    children.len(),
                    parts.len(),
                    show(field)
                )));
            }
            for (k, (c, st)) in children.iter().zip(stores.iter_mut()).enumerate() {
                let part = parts.get(k).map(|&(a, z)| &field[a..z]);
                push_element(s, st, c.scalar, c.nullable, part, || {
                    format!("column '{}' field '{}'", col.name, c.name)
                })?;
            }
            valid.push(true);
            Ok(())
        }
        _ => Err(Fail::Row(format!(
            "column '{}': internal error: builder does not match the column",
            col.name
        ))),
    }
}

impl Decoder for CsvDecoder {
    fn skipped_records(&self) -> u64 {
        self.skipped()
    }

    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        let outcome = match self.split(record) {
            Ok(false) => return Ok(()),
            Ok(true) => self.parse_row(),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(reason) => {
                let rows = self.rows;
                self.builders.iter_mut().for_each(|b| b.rollback(rows));
                self.fail(origin, reason)
            }
        }
    }

    fn buffered_rows(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        self.finish_batch()
    }
}

impl CsvDecoder {
    fn fail(&mut self, origin: &RecordOrigin, reason: String) -> Result<()> {
        if self.s.ignore_parse_errors {
            self.skipped += 1;
            tracing::debug!(%origin, "csv: record skipped: {reason}");
            Ok(())
        } else {
            Err(self.bad(origin, reason))
        }
    }

    fn finish_batch(&mut self) -> Result<ChangelogBatch> {
        let mut arrays = Vec::with_capacity(self.cols.len());
        for (c, b) in self.cols.iter().zip(self.builders.iter_mut()) {
            let a: ArrayRef = match (b, &c.kind) {
                (ColBuilder::Scalar(s), _) => s.finish(&c.data_type)?,
                (
                    ColBuilder::List {
                        offsets: offs,
                        valid,
                        child,
                    },
                    Kind::Array { elem_field, .. },
                ) => {
                    let values = child.finish(elem_field.data_type())?;
                    Arc::new(ListArray::try_new(
                        elem_field.clone(),
                        offsets(offs),
                        values,
                        nulls(valid),
                    )?)
                }
                (ColBuilder::Row { children, valid }, Kind::Row { fields, .. }) => {
                    let arrays = children
                        .iter_mut()
                        .zip(fields.iter())
                        .map(|(s, f)| s.finish(f.data_type()))
                        .collect::<Result<Vec<_>>>()?;
                    Arc::new(StructArray::try_new(fields.clone(), arrays, nulls(valid))?)
                }
                _ => return Err(Error::internal("csv: builder does not match its column")),
            };
            arrays.push(a);
        }
        let rows = std::mem::take(&mut self.rows);
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        Ok(ChangelogBatch::inserts(batch))
    }
}
