//! Column buffers the decoder appends to, which (unlike Arrow's builders) can be truncated back to a
//! row count when a record fails halfway, and turn into Arrow arrays at the end of a batch.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::BooleanBufferBuilder as BoolBuilder;
use arrow::array::{make_array, ArrayData, ArrayRef, ListArray, MapArray, StructArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, Field, FieldRef, Fields, TimeUnit};

use headrace_sdk::types::DataType;
use headrace_sdk::{Error, Result};

/// Field metadata key whose value, a Flink type string, refines what the Arrow type alone cannot
/// tell (e.g. `TIMESTAMP_LTZ(3)`, which the SDK maps to a time-zone-less Arrow timestamp).
pub const FLINK_TYPE_METADATA_KEY: &str = "headrace.flink-type";

/// Maps field names to positions, trying the field after the previous match first.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) names: Vec<Box<str>>,
    map: Option<HashMap<Box<str>, usize>>,
}

impl Lookup {
    fn new(names: Vec<Box<str>>) -> Self {
        let map = (names.len() > 8).then(|| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect()
        });
        Lookup { names, map }
    }

    /// The position of `key`, trying `hint` first.
    #[inline]
    pub(crate) fn find(&self, key: &str, hint: usize) -> Option<usize> {
        if let Some(n) = self.names.get(hint) {
            if &**n == key {
                return Some(hint);
            }
        }
        match &self.map {
            Some(m) => m.get(key).copied(),
            None => self.names.iter().position(|n| &**n == key),
        }
    }
}

/// The values of one column, by kind.
#[derive(Debug)]
pub(crate) enum Data {
    Bool(BoolBuilder),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Decimal {
        vals: Vec<i128>,
        precision: u8,
        scale: i8,
    },
    Date(Vec<i32>),
    Time32(Vec<i32>, TimeUnit),
    Time64(Vec<i64>, TimeUnit),
    Timestamp {
        vals: Vec<i64>,
        unit: TimeUnit,
        ltz: bool,
    },
    /// UTF-8 strings (`binary == false`) or bytes.
    Bytes {
        offsets: Vec<i32>,
        data: Vec<u8>,
        binary: bool,
    },
    List {
        offsets: Vec<i32>,
        child: Box<Col>,
        field: FieldRef,
    },
    Map {
        offsets: Vec<i32>,
        keys: Box<Col>,
        values: Box<Col>,
        entries: FieldRef,
        sorted: bool,
    },
    Struct {
        lookup: Lookup,
        children: Vec<Col>,
        fields: Fields,
    },
}

/// One column being decoded.
#[derive(Debug)]
pub(crate) struct Col {
    pub(crate) data: Data,
    pub(crate) validity: BoolBuilder,
    pub(crate) nullable: bool,
    /// The Flink type, for error messages.
    pub(crate) type_name: Box<str>,
    pub(crate) arrow: ArrowType,
}

fn flink_type_of(field: &Field) -> Option<DataType> {
    if let Some(t) = field.metadata().get(FLINK_TYPE_METADATA_KEY) {
        if let Ok(t) = DataType::parse(t) {
            return Some(t);
        }
    }
    DataType::from_arrow(field.data_type())
        .ok()
        .map(|t| t.with_nullable(field.is_nullable()))
}

fn unsupported(field: &Field, why: &str) -> Error {
    Error::Unsupported(format!(
        "json format: field '{}' of Arrow type {}: {why}",
        field.name(),
        field.data_type()
    ))
}

impl Col {
    /// A column for `field`; errors for Arrow types outside the Flink mapping.
    pub(crate) fn new(field: &Field) -> Result<Col> {
        let flink = flink_type_of(field);
        let ltz = matches!(
            flink.as_ref().map(|t| &t.logical),
            Some(headrace_sdk::types::LogicalType::TimestampLtz(_))
        );
        let type_name: Box<str> = match &flink {
            Some(t) => t.logical.to_string().into(),
            None => field.data_type().to_string().into(),
        };
        let data = match field.data_type() {
            ArrowType::Boolean => Data::Bool(BoolBuilder::new(0)),
            ArrowType::Int8 => Data::I8(Vec::new()),
            ArrowType::Int16 => Data::I16(Vec::new()),
            ArrowType::Int32 => Data::I32(Vec::new()),
            ArrowType::Int64 => Data::I64(Vec::new()),
            ArrowType::Float32 => Data::F32(Vec::new()),
            ArrowType::Float64 => Data::F64(Vec::new()),
            ArrowType::Decimal128(p, s) => Data::Decimal {
                vals: Vec::new(),
                precision: *p,
                scale: *s,
            },
            ArrowType::Utf8 => Data::Bytes {
                offsets: vec![0],
                data: Vec::new(),
                binary: false,
            },
            ArrowType::Binary => Data::Bytes {
                offsets: vec![0],
                data: Vec::new(),
                binary: true,
            },
            ArrowType::Date32 => Data::Date(Vec::new()),
            ArrowType::Time32(u @ (TimeUnit::Second | TimeUnit::Millisecond)) => {
                Data::Time32(Vec::new(), *u)
            }
            ArrowType::Time64(u @ (TimeUnit::Microsecond | TimeUnit::Nanosecond)) => {
                Data::Time64(Vec::new(), *u)
            }
            ArrowType::Timestamp(u, tz) => Data::Timestamp {
                vals: Vec::new(),
                unit: *u,
                ltz: ltz || tz.is_some(),
            },
            ArrowType::List(f) => Data::List {
                offsets: vec![0],
                child: Box::new(Col::new(f)?),
                field: f.clone(),
            },
            ArrowType::Map(entries, sorted) => {
                let ArrowType::Struct(kv) = entries.data_type() else {
                    return Err(unsupported(field, "map entries are not a struct"));
                };
                if kv.len() != 2 {
                    return Err(unsupported(field, "map entries need a key and a value"));
                }
                let keys = Col::new(&kv[0])?;
                if matches!(
                    keys.data,
                    Data::List { .. } | Data::Map { .. } | Data::Struct { .. }
                ) {
                    return Err(unsupported(
                        field,
                        "JSON object keys are text, so map keys must be of a scalar type",
                    ));
                }
                Data::Map {
                    offsets: vec![0],
                    keys: Box::new(keys),
                    values: Box::new(Col::new(&kv[1])?),
                    entries: entries.clone(),
                    sorted: *sorted,
                }
            }
            ArrowType::Struct(fields) => Data::Struct {
                lookup: Lookup::new(fields.iter().map(|f| f.name().as_str().into()).collect()),
                children: fields.iter().map(|f| Col::new(f)).collect::<Result<_>>()?,
                fields: fields.clone(),
            },
            _ => return Err(unsupported(field, "not a type of Flink's Arrow mapping")),
        };
        Ok(Col {
            data,
            validity: BoolBuilder::new(0),
            nullable: field.is_nullable(),
            type_name,
            arrow: field.data_type().clone(),
        })
    }

    /// A root column holding the rows of `fields`.
    pub(crate) fn root(fields: &Fields) -> Result<Col> {
        Col::new(&Field::new("", ArrowType::Struct(fields.clone()), false))
    }

    /// Number of values.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.validity.len()
    }

    /// Append a NULL (also for NOT NULL children of a NULL parent, masked by the parent).
    pub(crate) fn push_null(&mut self) {
        self.validity.append(false);
        match &mut self.data {
            Data::Bool(b) => b.append(false),
            Data::I8(v) => v.push(0),
            Data::I16(v) => v.push(0),
            Data::I32(v) | Data::Date(v) | Data::Time32(v, _) => v.push(0),
            Data::I64(v) | Data::Time64(v, _) | Data::Timestamp { vals: v, .. } => v.push(0),
            Data::F32(v) => v.push(0.0),
            Data::F64(v) => v.push(0.0),
            Data::Decimal { vals, .. } => vals.push(0),
            Data::Bytes { offsets, .. }
            | Data::List { offsets, .. }
            | Data::Map { offsets, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
            }
            Data::Struct { children, .. } => {
                for c in children {
                    c.push_null();
                }
            }
        }
    }

    /// Drop values so that `len` remain, and nested values beyond what the kept ones refer to
    /// (left by a value that failed halfway).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.validity.truncate(len);
        match &mut self.data {
            Data::Bool(b) => b.truncate(len),
            Data::I8(v) => v.truncate(len),
            Data::I16(v) => v.truncate(len),
            Data::I32(v) | Data::Date(v) | Data::Time32(v, _) => v.truncate(len),
            Data::I64(v) | Data::Time64(v, _) | Data::Timestamp { vals: v, .. } => v.truncate(len),
            Data::F32(v) => v.truncate(len),
            Data::F64(v) => v.truncate(len),
            Data::Decimal { vals, .. } => vals.truncate(len),
            Data::Bytes { offsets, data, .. } => {
                offsets.truncate(len + 1);
                data.truncate(offsets.last().copied().unwrap_or(0) as usize);
            }
            Data::List { offsets, child, .. } => {
                offsets.truncate(len + 1);
                child.truncate(offsets.last().copied().unwrap_or(0) as usize);
            }
            Data::Map {
                offsets,
                keys,
                values,
                ..
            } => {
                offsets.truncate(len + 1);
                let n = offsets.last().copied().unwrap_or(0) as usize;
                keys.truncate(n);
                values.truncate(n);
            }
            Data::Struct { children, .. } => {
                for c in children {
                    c.truncate(len);
                }
            }
        }
    }

    fn take_nulls(&mut self) -> Option<NullBuffer> {
        let b = self.validity.finish();
        let n = NullBuffer::new(b);
        (n.null_count() > 0).then_some(n)
    }

    /// Turn the buffered values into an Arrow array and start empty.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef> {
        let len = self.len();
        let nulls = self.take_nulls();
        fn prim<T: arrow::datatypes::ArrowNativeType>(
            dt: &ArrowType,
            v: &mut Vec<T>,
            nulls: Option<NullBuffer>,
        ) -> Result<ArrayRef> {
            let len = v.len();
            // the next batch is likely as large: allocate once instead of growing
            let vals = std::mem::replace(v, Vec::with_capacity(len));
            let data = ArrayData::builder(dt.clone())
                .len(len)
                .add_buffer(Buffer::from_vec(vals))
                .nulls(nulls)
                .build()?;
            Ok(make_array(data))
        }
        let dt = self.arrow.clone();
        Ok(match &mut self.data {
            Data::Bool(b) => {
                let vals: BooleanBuffer = b.finish();
                Arc::new(arrow::array::BooleanArray::new(vals, nulls))
            }
            Data::I8(v) => prim(&dt, v, nulls)?,
            Data::I16(v) => prim(&dt, v, nulls)?,
            Data::I32(v) | Data::Date(v) | Data::Time32(v, _) => prim(&dt, v, nulls)?,
            Data::I64(v) | Data::Time64(v, _) | Data::Timestamp { vals: v, .. } => {
                prim(&dt, v, nulls)?
            }
            Data::F32(v) => prim(&dt, v, nulls)?,
            Data::F64(v) => prim(&dt, v, nulls)?,
            Data::Decimal { vals, .. } => prim(&dt, vals, nulls)?,
            Data::Bytes { offsets, data, .. } => {
                let mut next = Vec::with_capacity(offsets.len());
                next.push(0);
                let offs = std::mem::replace(offsets, next);
                let bytes = std::mem::replace(data, Vec::with_capacity(data.len()));
                let d = ArrayData::builder(dt)
                    .len(len)
                    .add_buffer(Buffer::from_vec(offs))
                    .add_buffer(Buffer::from_vec(bytes))
                    .nulls(nulls)
                    .build()?;
                make_array(d)
            }
            Data::List {
                offsets,
                child,
                field,
            } => {
                let offs = std::mem::replace(offsets, vec![0]);
                let values = child.finish()?;
                Arc::new(ListArray::try_new(
                    field.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    values,
                    nulls,
                )?)
            }
            Data::Map {
                offsets,
                keys,
                values,
                entries,
                sorted,
            } => {
                let offs = std::mem::replace(offsets, vec![0]);
                let ArrowType::Struct(kv) = entries.data_type() else {
                    return Err(Error::internal("json: map entries are not a struct"));
                };
                let k = keys.finish()?;
                let v = values.finish()?;
                let e = StructArray::try_new(kv.clone(), vec![k, v], None)?;
                Arc::new(MapArray::try_new(
                    entries.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    e,
                    nulls,
                    *sorted,
                )?)
            }
            Data::Struct {
                children, fields, ..
            } => {
                let arrays = children
                    .iter_mut()
                    .map(Col::finish)
                    .collect::<Result<Vec<_>>>()?;
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(len, nulls))
                } else {
                    Arc::new(StructArray::try_new(fields.clone(), arrays, nulls)?)
                }
            }
        })
    }

    /// The columns of a root struct, finished.
    pub(crate) fn finish_root(&mut self) -> Result<Vec<ArrayRef>> {
        self.validity = BoolBuilder::new(0);
        match &mut self.data {
            Data::Struct { children, .. } => children.iter_mut().map(Col::finish).collect(),
            _ => Err(Error::internal("json: root column is not a struct")),
        }
    }
}

/// Convert a length to an Arrow `i32` offset.
#[inline]
pub(crate) fn offset(len: usize) -> std::result::Result<i32, &'static str> {
    i32::try_from(len)
        .map_err(|_| "the batch holds more than 2 GiB of data in one column; finish batches sooner")
}
