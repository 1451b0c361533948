//! Arrow rows to JSON bytes, written straight from the arrays.

use arrow::array::{Array, AsArray, BinaryArray, BooleanArray, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, SchemaRef, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use base64::Engine;

use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::Encoder;
use headrace_sdk::{Error, Result};

use crate::column::FLINK_TYPE_METADATA_KEY;
use crate::text;
use crate::{MapNullKeyMode, TimestampStandard, FORMAT};

/// How the encoder writes records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeConfig {
    /// How TIMESTAMP and TIMESTAMP_LTZ values are written.
    pub timestamp_standard: TimestampStandard,
    /// What to do with a NULL map key.
    pub map_null_key_mode: MapNullKeyMode,
    /// The key written for a NULL map key in `LITERAL` mode.
    pub map_null_key_literal: String,
    /// Write decimals without exponent.
    pub decimal_as_plain_number: bool,
    /// Leave out fields whose value is NULL.
    pub ignore_null_fields: bool,
}

impl Default for EncodeConfig {
    fn default() -> Self {
        EncodeConfig {
            timestamp_standard: TimestampStandard::Sql,
            map_null_key_mode: MapNullKeyMode::Fail,
            map_null_key_literal: "null".to_string(),
            decimal_as_plain_number: false,
            ignore_null_fields: false,
        }
    }
}

/// Encodes each row as one JSON object.
#[derive(Debug)]
pub struct JsonEncoder {
    schema: SchemaRef,
    config: EncodeConfig,
    buf: Vec<u8>,
    /// The JSON-escaped literal for NULL map keys (with quotes).
    null_key: Vec<u8>,
}

impl JsonEncoder {
    /// An encoder writing rows of `schema`.
    pub fn new(schema: SchemaRef, config: EncodeConfig) -> Result<Self> {
        for f in schema.fields() {
            check_type(f)?;
        }
        let mut null_key = Vec::new();
        serde_json::to_writer(&mut null_key, &config.map_null_key_literal)
            .map_err(|e| Error::internal(format!("json: {e}")))?;
        Ok(JsonEncoder {
            schema,
            config,
            buf: Vec::with_capacity(256),
            null_key,
        })
    }
}

fn check_type(f: &Field) -> Result<()> {
    let bad = |why: &str| {
        Error::Unsupported(format!(
            "json format: field '{}' of Arrow type {}: {why}",
            f.name(),
            f.data_type()
        ))
    };
    match f.data_type() {
        ArrowType::Boolean
        | ArrowType::Int8
        | ArrowType::Int16
        | ArrowType::Int32
        | ArrowType::Int64
        | ArrowType::Float32
        | ArrowType::Float64
        | ArrowType::Decimal128(_, _)
        | ArrowType::Utf8
        | ArrowType::Binary
        | ArrowType::Date32
        | ArrowType::Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | ArrowType::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | ArrowType::Timestamp(_, _) => Ok(()),
        ArrowType::List(c) => check_type(c),
        ArrowType::Map(e, _) => match e.data_type() {
            ArrowType::Struct(kv) if kv.len() == 2 => {
                if matches!(
                    kv[0].data_type(),
                    ArrowType::List(_) | ArrowType::Map(_, _) | ArrowType::Struct(_)
                ) {
                    return Err(bad(
                        "JSON object keys are text, so map keys must be of a scalar type",
                    ));
                }
                check_type(&kv[0])?;
                check_type(&kv[1])
            }
            _ => Err(bad("map entries must be a struct of key and value")),
        },
        ArrowType::Struct(fs) => fs.iter().try_for_each(|c| check_type(c)),
        _ => Err(bad("not a type of Flink's Arrow mapping")),
    }
}

fn is_ltz(f: &Field) -> bool {
    if let ArrowType::Timestamp(_, Some(_)) = f.data_type() {
        return true;
    }
    f.metadata()
        .get(FLINK_TYPE_METADATA_KEY)
        .and_then(|t| headrace_sdk::types::DataType::parse(t).ok())
        .is_some_and(|t| matches!(t.logical, headrace_sdk::types::LogicalType::TimestampLtz(_)))
}

/// A typed view of one array.
enum W<'a> {
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Dec(&'a [i128], i8),
    Date(&'a [i32]),
    Time32(&'a [i32], TimeUnit),
    Time64(&'a [i64], TimeUnit),
    Ts(&'a [i64], TimeUnit, bool),
    Str(&'a StringArray),
    Bin(&'a BinaryArray),
    List(&'a [i32], Box<Node<'a>>),
    Map(&'a [i32], Box<Node<'a>>, Box<Node<'a>>),
    Struct(Vec<(Vec<u8>, Node<'a>)>),
}

struct Node<'a> {
    nulls: Option<&'a NullBuffer>,
    w: W<'a>,
}

impl Node<'_> {
    #[inline]
    fn is_null(&self, i: usize) -> bool {
        self.nulls.is_some_and(|n| n.is_null(i))
    }
}

fn mismatch(f: &Field, a: &dyn Array) -> Error {
    Error::Schema(format!(
        "json format: column '{}' is declared as {} but the batch holds {}",
        f.name(),
        f.data_type(),
        a.data_type()
    ))
}

/// `"name":` escaped.
fn key_bytes(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 3);
    let _ = serde_json::to_writer(&mut k, name);
    k.push(b':');
    k
}

fn node<'a>(f: &Field, a: &'a dyn Array) -> Result<Node<'a>> {
    let m = || mismatch(f, a);
    let w = match (f.data_type(), a.data_type()) {
        (ArrowType::Boolean, ArrowType::Boolean) => W::Bool(a.as_boolean_opt().ok_or_else(m)?),
        (ArrowType::Int8, ArrowType::Int8) => W::I8(prim::<Int8Type>(a).ok_or_else(m)?),
        (ArrowType::Int16, ArrowType::Int16) => W::I16(prim::<Int16Type>(a).ok_or_else(m)?),
        (ArrowType::Int32, ArrowType::Int32) => W::I32(prim::<Int32Type>(a).ok_or_else(m)?),
        (ArrowType::Int64, ArrowType::Int64) => W::I64(prim::<Int64Type>(a).ok_or_else(m)?),
        (ArrowType::Float32, ArrowType::Float32) => W::F32(prim::<Float32Type>(a).ok_or_else(m)?),
        (ArrowType::Float64, ArrowType::Float64) => W::F64(prim::<Float64Type>(a).ok_or_else(m)?),
        (ArrowType::Decimal128(_, s), ArrowType::Decimal128(_, s2)) if s == s2 => {
            W::Dec(prim::<Decimal128Type>(a).ok_or_else(m)?, *s)
        }
        (ArrowType::Date32, ArrowType::Date32) => W::Date(prim::<Date32Type>(a).ok_or_else(m)?),
        (ArrowType::Time32(u), ArrowType::Time32(u2)) if u == u2 => match u {
            TimeUnit::Second => W::Time32(prim::<Time32SecondType>(a).ok_or_else(m)?, *u),
            _ => W::Time32(prim::<Time32MillisecondType>(a).ok_or_else(m)?, *u),
        },
        (ArrowType::Time64(u), ArrowType::Time64(u2)) if u == u2 => match u {
            TimeUnit::Microsecond => W::Time64(prim::<Time64MicrosecondType>(a).ok_or_else(m)?, *u),
            _ => W::Time64(prim::<Time64NanosecondType>(a).ok_or_else(m)?, *u),
        },
        (ArrowType::Timestamp(u, _), ArrowType::Timestamp(u2, _)) if u == u2 => {
            let v = match u {
                TimeUnit::Second => prim::<TimestampSecondType>(a),
                TimeUnit::Millisecond => prim::<TimestampMillisecondType>(a),
                TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(a),
                TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(a),
            };
            W::Ts(v.ok_or_else(m)?, *u, is_ltz(f))
        }
        (ArrowType::Utf8, ArrowType::Utf8) => W::Str(a.as_string_opt::<i32>().ok_or_else(m)?),
        (ArrowType::Binary, ArrowType::Binary) => W::Bin(a.as_binary_opt::<i32>().ok_or_else(m)?),
        (ArrowType::List(cf), ArrowType::List(_)) => {
            let l = a.as_list_opt::<i32>().ok_or_else(m)?;
            W::List(l.value_offsets(), Box::new(node(cf, l.values().as_ref())?))
        }
        (ArrowType::Map(e, _), ArrowType::Map(_, _)) => {
            let mp = a.as_map_opt().ok_or_else(m)?;
            let ArrowType::Struct(kv) = e.data_type() else {
                return Err(m());
            };
            if kv.len() != 2 {
                return Err(m());
            }
            W::Map(
                mp.value_offsets(),
                Box::new(node(&kv[0], mp.keys().as_ref())?),
                Box::new(node(&kv[1], mp.values().as_ref())?),
            )
        }
        (ArrowType::Struct(fs), ArrowType::Struct(_)) => {
            let s = a.as_struct_opt().ok_or_else(m)?;
            if s.num_columns() != fs.len() {
                return Err(m());
            }
            W::Struct(
                fs.iter()
                    .zip(s.columns())
                    .map(|(cf, c)| Ok((key_bytes(cf.name()), node(cf, c.as_ref())?)))
                    .collect::<Result<_>>()?,
            )
        }
        _ => return Err(m()),
    };
    Ok(Node {
        nulls: a.nulls(),
        w,
    })
}

fn prim<T: arrow::datatypes::ArrowPrimitiveType>(a: &dyn Array) -> Option<&[T::Native]> {
    a.as_primitive_opt::<T>().map(|p| p.values().as_ref())
}

struct Ctx<'a> {
    cfg: &'a EncodeConfig,
    iso: bool,
    null_key: &'a [u8],
    scratch: Vec<u8>,
}

fn write_float(out: &mut Vec<u8>, v: f64, as32: Option<f32>) {
    if v.is_finite() {
        let mut b = ryu::Buffer::new();
        match as32 {
            Some(f) => out.extend_from_slice(b.format_finite(f).as_bytes()),
            None => out.extend_from_slice(b.format_finite(v).as_bytes()),
        }
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

#[inline]
fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Write value `i` of `n`; the error names the problem, the caller adds the path.
fn write(
    n: &Node<'_>,
    i: usize,
    out: &mut Vec<u8>,
    cx: &mut Ctx<'_>,
) -> std::result::Result<(), String> {
    if n.is_null(i) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match &n.w {
        W::Bool(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
        W::I8(v) => write_int(out, v[i]),
        W::I16(v) => write_int(out, v[i]),
        W::I32(v) => write_int(out, v[i]),
        W::I64(v) => write_int(out, v[i]),
        W::F32(v) => write_float(out, f64::from(v[i]), Some(v[i])),
        W::F64(v) => write_float(out, v[i], None),
        W::Dec(v, s) => text::write_decimal(out, v[i], *s, cx.cfg.decimal_as_plain_number),
        W::Date(v) => {
            out.push(b'"');
            text::write_date(out, i64::from(v[i]));
            out.push(b'"');
        }
        W::Time32(v, u) => {
            out.push(b'"');
            text::write_time(out, i64::from(v[i]), *u);
            out.push(b'"');
        }
        W::Time64(v, u) => {
            out.push(b'"');
            text::write_time(out, v[i], *u);
            out.push(b'"');
        }
        W::Ts(v, u, ltz) => {
            out.push(b'"');
            text::write_timestamp(out, v[i], *u, cx.iso, *ltz);
            out.push(b'"');
        }
        W::Str(a) => {
            let _ = serde_json::to_writer(&mut *out, a.value(i));
        }
        W::Bin(a) => {
            out.push(b'"');
            let enc = base64::engine::general_purpose::STANDARD;
            let start = out.len();
            let raw = a.value(i);
            out.resize(start + raw.len().div_ceil(3) * 4, 0);
            let written = enc.encode_slice(raw, &mut out[start..]).unwrap_or(0);
            out.truncate(start + written);
            out.push(b'"');
        }
        W::List(offsets, child) => {
            let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
            out.push(b'[');
            for j in s..e {
                if j > s {
                    out.push(b',');
                }
                write(child, j, out, cx).map_err(|r| format!("[{}]{}", j - s, r))?;
            }
            out.push(b']');
        }
        W::Map(offsets, keys, values) => {
            let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
            out.push(b'{');
            let mut first = true;
            for j in s..e {
                let mark = out.len();
                if !first {
                    out.push(b',');
                }
                if keys.is_null(j) {
                    match cx.cfg.map_null_key_mode {
                        MapNullKeyMode::Fail => {
                            return Err(": the map has a NULL key; set 'json.map-null-key.mode' \
                                 to 'DROP' or 'LITERAL' to write it"
                                .to_string())
                        }
                        MapNullKeyMode::Drop => {
                            out.truncate(mark);
                            continue;
                        }
                        MapNullKeyMode::Literal => out.extend_from_slice(cx.null_key),
                    }
                } else if let W::Str(k) = &keys.w {
                    let _ = serde_json::to_writer(&mut *out, k.value(j));
                } else {
                    let mut scratch = std::mem::take(&mut cx.scratch);
                    scratch.clear();
                    write(keys, j, &mut scratch, cx)?;
                    if scratch.first() == Some(&b'"') {
                        out.extend_from_slice(&scratch);
                    } else {
                        out.push(b'"');
                        out.extend_from_slice(&scratch);
                        out.push(b'"');
                    }
                    cx.scratch = scratch;
                }
                out.push(b':');
                write(values, j, out, cx).map_err(|r| format!("[{}]{}", j - s, r))?;
                first = false;
            }
            out.push(b'}');
        }
        W::Struct(fields) => write_struct(fields, i, out, cx)?,
    }
    Ok(())
}

fn write_struct(
    fields: &[(Vec<u8>, Node<'_>)],
    i: usize,
    out: &mut Vec<u8>,
    cx: &mut Ctx<'_>,
) -> std::result::Result<(), String> {
    out.push(b'{');
    let mut first = true;
    for (key, child) in fields {
        if cx.cfg.ignore_null_fields && child.is_null(i) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(key);
        write(child, i, out, cx).map_err(|r| {
            let name = String::from_utf8_lossy(&key[..key.len() - 1]);
            format!(".{}{r}", name.trim_matches('"'))
        })?;
    }
    out.push(b'}');
    Ok(())
}

impl Encoder for JsonEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let b = &batch.batch;
        if b.num_columns() != self.schema.fields().len() {
            return Err(Error::Schema(format!(
                "json format: the batch has {} columns, the schema {}",
                b.num_columns(),
                self.schema.fields().len()
            )));
        }
        let fields = self
            .schema
            .fields()
            .iter()
            .zip(b.columns())
            .map(|(f, c)| Ok((key_bytes(f.name()), node(f, c.as_ref())?)))
            .collect::<Result<Vec<_>>>()?;
        let mut cx = Ctx {
            cfg: &self.config,
            iso: self.config.timestamp_standard == TimestampStandard::Iso8601,
            null_key: &self.null_key,
            scratch: Vec::new(),
        };
        for i in 0..b.num_rows() {
            self.buf.clear();
            if let Err(r) = write_struct(&fields, i, &mut self.buf, &mut cx) {
                let r = r.strip_prefix('.').unwrap_or(&r);
                let (path, reason) = r.split_once(": ").unwrap_or((r, ""));
                return Err(Error::BadRecord {
                    format: FORMAT.to_string(),
                    origin: RecordOrigin::Other(format!("row {i} of the batch being written")),
                    reason: format!("field '{path}': {reason}"),
                });
            }
            emit(i, &self.buf)?;
        }
        Ok(())
    }
}
