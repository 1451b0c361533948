//! Columnar generation: each column is built directly as an Arrow array.
//!
//! Randomness is counter-based: value `k` of field `f` at row index `i` is a SplitMix64 output of
//! `(key(f), i)`, where `key(f)` is derived from the seed and the field path. So a row's values
//! depend only on the seed and the row's index, never on batch boundaries, on which reader
//! generated it, or on checkpoints: a restored split continues exactly where it stopped.

use std::collections::HashSet;
use std::iter::repeat_n;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, ListArray, MapArray, RecordBatch,
    RecordBatchOptions, StringArray, StructArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, FieldRef, Fields, SchemaRef, TimeUnit};
use arrow::row::{RowConverter, SortField};
use headrace_sdk::{Error, Result};

use crate::fields::{FieldPlan, GenSpec, Plan, SeqStart};

/// SplitMix64's increment (the golden ratio).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `idx`-th output of the SplitMix64 stream with seed `key`.
#[inline(always)]
fn draw(key: u64, idx: u64) -> u64 {
    mix(key.wrapping_add(idx.wrapping_mul(GAMMA)))
}

/// `x` scaled into `0..range` (Lemire's multiply-shift); `range == 0` means the full 2^64.
#[inline(always)]
fn bounded(x: u64, range: u64) -> u64 {
    if range == 0 {
        x
    } else {
        ((u128::from(x) * u128::from(range)) >> 64) as u64
    }
}

/// 8 random nibbles as 8 lowercase hexadecimal ASCII bytes (SWAR).
#[inline(always)]
fn hex8(x: u32) -> [u8; 8] {
    let x = u64::from(x);
    let mut v = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    let above9 = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (v + 0x3030_3030_3030_3030 + above9 * 39).to_le_bytes()
}

/// FNV-1a, to derive a field's key from its path.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    I8,
    I16,
    I32,
    I64,
}

#[derive(Debug, Clone)]
struct Nulls {
    key: u64,
    /// A value is NULL when its draw is below the threshold.
    threshold: u64,
    all: bool,
}

impl Nulls {
    fn build(&self, start: u64, n: usize) -> Option<NullBuffer> {
        if self.all {
            return Some(NullBuffer::new_null(n));
        }
        if self.threshold == 0 {
            return None;
        }
        let (key, t) = (self.key, self.threshold);
        Some(NullBuffer::new(BooleanBuffer::collect_bool(n, |j| {
            draw(key, start.wrapping_add(j as u64)) >= t
        })))
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Bool {
        key: u64,
    },
    Int {
        key: u64,
        min: i64,
        range: u64,
        width: Width,
    },
    Float {
        key: u64,
        min: f64,
        max: f64,
        single: bool,
    },
    Decimal {
        key: u64,
        min: i128,
        range: u128,
        precision: u8,
        scale: i8,
    },
    Text {
        key: u64,
        len_key: u64,
        len: u32,
        var_len: bool,
        binary: bool,
    },
    Date,
    Time {
        unit: TimeUnit,
    },
    Timestamp {
        key: u64,
        unit: TimeUnit,
        max_past_ms: i64,
    },
    SeqInt {
        start: i64,
        width: Width,
    },
    SeqFloat {
        start: f64,
        single: bool,
    },
    SeqDecimal {
        start: i128,
        step: i128,
        precision: u8,
        scale: i8,
    },
    SeqText {
        start: i64,
        binary: bool,
    },
    List {
        len: u32,
        field: FieldRef,
        child: Box<Node>,
    },
    Map {
        len: u32,
        entries: FieldRef,
        kv: Fields,
        key: Box<Node>,
        value: Box<Node>,
    },
    Multiset {
        len: u32,
        entries: FieldRef,
        kv: Fields,
        element: Box<Node>,
        count_key: u64,
    },
    Struct {
        fields: Fields,
        children: Vec<Node>,
    },
}

/// The generator of one field.
#[derive(Debug, Clone)]
struct Node {
    path: String,
    kind: Kind,
    nulls: Nulls,
}

fn mismatch(plan: &FieldPlan, t: &ArrowType) -> Error {
    Error::internal(format!(
        "datagen: field '{}' of type {} has Arrow type {t}, which its generator does not produce",
        plan.path, plan.data_type
    ))
}

impl Node {
    fn new(plan: &FieldPlan, t: &ArrowType, seed: u64) -> Result<Node> {
        let key = mix(seed ^ fnv1a(&plan.path));
        let nulls = Nulls {
            key: mix(key ^ 0x6A09_E667_F3BC_C909),
            threshold: if plan.null_rate >= 1.0 {
                0
            } else {
                // P(draw < threshold) = null_rate.
                (plan.null_rate * 18_446_744_073_709_551_616.0) as u64
            },
            all: plan.null_rate >= 1.0,
        };
        let len_key = mix(key ^ 0xBB67_AE85_84CA_A73B);
        let width = |t: &ArrowType| match t {
            ArrowType::Int8 => Some(Width::I8),
            ArrowType::Int16 => Some(Width::I16),
            ArrowType::Int32 => Some(Width::I32),
            ArrowType::Int64 => Some(Width::I64),
            _ => None,
        };
        let kind = match (&plan.spec, t) {
            (GenSpec::Boolean, ArrowType::Boolean) => Kind::Bool { key },
            (GenSpec::Int { min, max }, t) => Kind::Int {
                key,
                min: *min,
                // max - min + 1 wraps to 0 for the full 64-bit range, which `bounded` reads as 2^64.
                range: (*max as u64).wrapping_sub(*min as u64).wrapping_add(1),
                width: width(t).ok_or_else(|| mismatch(plan, t))?,
            },
            (GenSpec::Float { min, max }, ArrowType::Float32 | ArrowType::Float64) => Kind::Float {
                key,
                min: *min,
                max: *max,
                single: *t == ArrowType::Float32,
            },
            (GenSpec::Decimal { min, max }, ArrowType::Decimal128(p, s)) => Kind::Decimal {
                key,
                min: *min,
                // max - min can exceed i128::MAX (DECIMAL(38)); the wrapped difference is exact.
                range: (*max as u128).wrapping_sub(*min as u128).wrapping_add(1),
                precision: *p,
                scale: *s,
            },
            (GenSpec::Chars { len, var_len }, ArrowType::Utf8) => Kind::Text {
                key,
                len_key,
                len: *len,
                var_len: *var_len,
                binary: false,
            },
            (GenSpec::Bytes { len, var_len }, ArrowType::Binary) => Kind::Text {
                key,
                len_key,
                len: *len,
                var_len: *var_len,
                binary: true,
            },
            (GenSpec::Date, ArrowType::Date32) => Kind::Date,
            (GenSpec::Time, ArrowType::Time32(u) | ArrowType::Time64(u)) => Kind::Time { unit: *u },
            (GenSpec::Timestamp { max_past_ms }, ArrowType::Timestamp(u, _)) => Kind::Timestamp {
                key,
                unit: *u,
                max_past_ms: *max_past_ms,
            },
            (GenSpec::Sequence { start, .. }, t) => match (start, t) {
                (SeqStart::Int(s), ArrowType::Utf8) => Kind::SeqText {
                    start: *s,
                    binary: false,
                },
                (SeqStart::Int(s), ArrowType::Binary) => Kind::SeqText {
                    start: *s,
                    binary: true,
                },
                (SeqStart::Int(s), t) => Kind::SeqInt {
                    start: *s,
                    width: width(t).ok_or_else(|| mismatch(plan, t))?,
                },
                (SeqStart::Float(s), ArrowType::Float32 | ArrowType::Float64) => Kind::SeqFloat {
                    start: *s,
                    single: *t == ArrowType::Float32,
                },
                (SeqStart::Decimal { start, step }, ArrowType::Decimal128(p, s)) => {
                    Kind::SeqDecimal {
                        start: *start,
                        step: *step,
                        precision: *p,
                        scale: *s,
                    }
                }
                _ => return Err(mismatch(plan, t)),
            },
            (GenSpec::Array { len, element }, ArrowType::List(field)) => Kind::List {
                len: *len,
                field: field.clone(),
                child: Box::new(Node::new(element, field.data_type(), seed)?),
            },
            (GenSpec::Map { len, key: k, value }, ArrowType::Map(entries, _)) => {
                let kv = entry_fields(entries).ok_or_else(|| mismatch(plan, t))?;
                Kind::Map {
                    len: *len,
                    entries: entries.clone(),
                    key: Box::new(Node::new(k, kv[0].data_type(), seed)?),
                    value: Box::new(Node::new(value, kv[1].data_type(), seed)?),
                    kv,
                }
            }
            (GenSpec::Multiset { len, element }, ArrowType::Map(entries, _)) => {
                let kv = entry_fields(entries).ok_or_else(|| mismatch(plan, t))?;
                Kind::Multiset {
                    len: *len,
                    entries: entries.clone(),
                    element: Box::new(Node::new(element, kv[0].data_type(), seed)?),
                    count_key: mix(key ^ 0x3C6E_F372_FE94_F82B),
                    kv,
                }
            }
            (GenSpec::Row { fields }, ArrowType::Struct(arrow_fields))
                if fields.len() == arrow_fields.len() =>
            {
                Kind::Struct {
                    fields: arrow_fields.clone(),
                    children: fields
                        .iter()
                        .zip(arrow_fields.iter())
                        .map(|(p, f)| Node::new(p, f.data_type(), seed))
                        .collect::<Result<_>>()?,
                }
            }
            _ => return Err(mismatch(plan, t)),
        };
        Ok(Node {
            path: plan.path.clone(),
            kind,
            nulls,
        })
    }

    /// Rough bytes per value, to bound batch sizes.
    fn row_bytes(&self) -> usize {
        let w = |w: Width| match w {
            Width::I8 => 1,
            Width::I16 => 2,
            Width::I32 => 4,
            Width::I64 => 8,
        };
        match &self.kind {
            Kind::Bool { .. } => 1,
            Kind::Int { width, .. } | Kind::SeqInt { width, .. } => w(*width),
            Kind::Float { .. } | Kind::SeqFloat { .. } => 8,
            Kind::Decimal { .. } | Kind::SeqDecimal { .. } => 16,
            Kind::Text { len, .. } => (*len as usize).saturating_add(4),
            Kind::SeqText { .. } => 24,
            Kind::Date => 4,
            Kind::Time { .. } | Kind::Timestamp { .. } => 8,
            Kind::List { len, child, .. } => (*len as usize)
                .saturating_mul(child.row_bytes())
                .saturating_add(4),
            Kind::Map {
                len, key, value, ..
            } => (*len as usize)
                .saturating_mul(key.row_bytes().saturating_add(value.row_bytes()))
                .saturating_add(4),
            Kind::Multiset { len, element, .. } => (*len as usize)
                .saturating_mul(element.row_bytes().saturating_add(4))
                .saturating_add(4),
            Kind::Struct { children, .. } => children
                .iter()
                .fold(0usize, |a, c| a.saturating_add(c.row_bytes())),
        }
        .saturating_add(1)
    }

    fn generate(&self, start: u64, n: usize, now_ms: i64) -> Result<ArrayRef> {
        let nulls = self.nulls.build(start, n);
        let idx = |j: usize| start.wrapping_add(j as u64);
        let array: ArrayRef = match &self.kind {
            Kind::Bool { key } => {
                let key = *key;
                let values = BooleanBuffer::collect_bool(n, |j| draw(key, idx(j)) >> 63 == 1);
                Arc::new(BooleanArray::new(values, nulls))
            }
            Kind::Int {
                key,
                min,
                range,
                width,
            } => {
                let (key, min, range) = (*key, *min, *range);
                macro_rules! ints {
                    ($arr:ty, $t:ty) => {{
                        let mut v: Vec<$t> = Vec::with_capacity(n);
                        v.extend((0..n).map(|j| {
                            min.wrapping_add(bounded(draw(key, idx(j)), range) as i64) as $t
                        }));
                        Arc::new(<$arr>::try_new(ScalarBuffer::from(v), nulls)?)
                    }};
                }
                match width {
                    Width::I8 => ints!(Int8Array, i8),
                    Width::I16 => ints!(Int16Array, i16),
                    Width::I32 => ints!(Int32Array, i32),
                    Width::I64 => ints!(Int64Array, i64),
                }
            }
            Kind::Float {
                key,
                min,
                max,
                single,
            } => {
                let (key, min, max) = (*key, *min, *max);
                let span = max - min;
                let unit =
                    |j: usize| (draw(key, idx(j)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                let value = |j: usize| {
                    let u = unit(j);
                    if span.is_finite() {
                        min + u * span
                    } else {
                        min * (1.0 - u) + max * u
                    }
                };
                if *single {
                    let v: Vec<f32> = (0..n).map(|j| value(j) as f32).collect();
                    Arc::new(Float32Array::try_new(ScalarBuffer::from(v), nulls)?)
                } else {
                    let v: Vec<f64> = (0..n).map(value).collect();
                    Arc::new(Float64Array::try_new(ScalarBuffer::from(v), nulls)?)
                }
            }
            Kind::Decimal {
                key,
                min,
                range,
                precision,
                scale,
            } => {
                let v: Vec<i128> = (0..n)
                    .map(|j| min.wrapping_add(random_u128_below(*key, idx(j), *range) as i128))
                    .collect();
                Arc::new(
                    Decimal128Array::try_new(ScalarBuffer::from(v), nulls)?
                        .with_precision_and_scale(*precision, *scale)?,
                )
            }
            Kind::Text {
                key,
                len_key,
                len,
                var_len,
                binary,
            } => {
                let (offsets, values) = random_text(
                    &self.path, *key, *len_key, *len, *var_len, *binary, start, n,
                )?;
                text_array(offsets, values, nulls, *binary)?
            }
            Kind::Date => {
                let d = now_ms.div_euclid(MILLIS_PER_DAY) as i32;
                Arc::new(Date32Array::try_new(ScalarBuffer::from(vec![d; n]), nulls)?)
            }
            Kind::Time { unit } => {
                let ms = now_ms.rem_euclid(MILLIS_PER_DAY);
                match unit {
                    TimeUnit::Second => Arc::new(Time32SecondArray::try_new(
                        ScalarBuffer::from(vec![(ms / 1000) as i32; n]),
                        nulls,
                    )?),
                    TimeUnit::Millisecond => Arc::new(Time32MillisecondArray::try_new(
                        ScalarBuffer::from(vec![ms as i32; n]),
                        nulls,
                    )?),
                    TimeUnit::Microsecond => Arc::new(Time64MicrosecondArray::try_new(
                        ScalarBuffer::from(vec![ms * 1000; n]),
                        nulls,
                    )?),
                    TimeUnit::Nanosecond => Arc::new(Time64NanosecondArray::try_new(
                        ScalarBuffer::from(vec![ms * 1_000_000; n]),
                        nulls,
                    )?),
                }
            }
            Kind::Timestamp {
                key,
                unit,
                max_past_ms,
            } => {
                let unit = *unit;
                let to_unit = move |ms: i64| match unit {
                    TimeUnit::Second => ms.div_euclid(1000),
                    TimeUnit::Millisecond => ms,
                    TimeUnit::Microsecond => ms.saturating_mul(1000),
                    TimeUnit::Nanosecond => ms.saturating_mul(1_000_000),
                };
                let v: Vec<i64> = if *max_past_ms <= 0 {
                    vec![to_unit(now_ms); n]
                } else {
                    let (key, range) = (*key, (*max_past_ms as u64).wrapping_add(1));
                    let mut v = Vec::with_capacity(n);
                    v.extend((0..n).map(|j| {
                        to_unit(now_ms.saturating_sub(bounded(draw(key, idx(j)), range) as i64))
                    }));
                    v
                };
                let v = ScalarBuffer::from(v);
                match unit {
                    TimeUnit::Second => Arc::new(TimestampSecondArray::try_new(v, nulls)?),
                    TimeUnit::Millisecond => {
                        Arc::new(TimestampMillisecondArray::try_new(v, nulls)?)
                    }
                    TimeUnit::Microsecond => {
                        Arc::new(TimestampMicrosecondArray::try_new(v, nulls)?)
                    }
                    TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::try_new(v, nulls)?),
                }
            }
            Kind::SeqInt { start: s, width } => {
                let base = s.wrapping_add(start as i64);
                macro_rules! seq {
                    ($arr:ty, $t:ty) => {{
                        let mut v: Vec<$t> = Vec::with_capacity(n);
                        v.extend((0..n).map(|j| base.wrapping_add(j as i64) as $t));
                        Arc::new(<$arr>::try_new(ScalarBuffer::from(v), nulls)?)
                    }};
                }
                match width {
                    Width::I8 => seq!(Int8Array, i8),
                    Width::I16 => seq!(Int16Array, i16),
                    Width::I32 => seq!(Int32Array, i32),
                    Width::I64 => seq!(Int64Array, i64),
                }
            }
            Kind::SeqFloat { start: s, single } => {
                let value = |j: usize| *s + idx(j) as f64;
                if *single {
                    let v: Vec<f32> = (0..n).map(|j| value(j) as f32).collect();
                    Arc::new(Float32Array::try_new(ScalarBuffer::from(v), nulls)?)
                } else {
                    let v: Vec<f64> = (0..n).map(value).collect();
                    Arc::new(Float64Array::try_new(ScalarBuffer::from(v), nulls)?)
                }
            }
            Kind::SeqDecimal {
                start: s,
                step,
                precision,
                scale,
            } => {
                let v: Vec<i128> = (0..n)
                    .map(|j| s.wrapping_add(i128::from(idx(j)).wrapping_mul(*step)))
                    .collect();
                Arc::new(
                    Decimal128Array::try_new(ScalarBuffer::from(v), nulls)?
                        .with_precision_and_scale(*precision, *scale)?,
                )
            }
            Kind::SeqText { start: s, binary } => {
                let mut offsets = Vec::with_capacity(n + 1);
                let mut values = Vec::with_capacity(n * 8);
                offsets.push(0i32);
                for j in 0..n {
                    write_i64(&mut values, s.wrapping_add(idx(j) as i64));
                    offsets.push(i32::try_from(values.len()).map_err(|_| too_large(&self.path))?);
                }
                text_array(offsets, values, nulls, *binary)?
            }
            Kind::List { len, field, child } => {
                let total = children_len(&self.path, n, *len)?;
                let values = child.generate(start.wrapping_mul(u64::from(*len)), total, now_ms)?;
                Arc::new(ListArray::try_new(
                    field.clone(),
                    OffsetBuffer::from_lengths(repeat_n(*len as usize, n)),
                    values,
                    nulls,
                )?)
            }
            Kind::Map {
                len,
                entries,
                kv,
                key,
                value,
            } => {
                let total = children_len(&self.path, n, *len)?;
                let first = start.wrapping_mul(u64::from(*len));
                let keys = key.generate(first, total, now_ms)?;
                let values = value.generate(first, total, now_ms)?;
                map_array(entries, kv, keys, values, n, *len as usize, nulls)?
            }
            Kind::Multiset {
                len,
                entries,
                kv,
                element,
                count_key,
            } => {
                let total = children_len(&self.path, n, *len)?;
                let first = start.wrapping_mul(u64::from(*len));
                let keys = element.generate(first, total, now_ms)?;
                let ck = *count_key;
                let counts: Vec<i32> = (0..total)
                    .map(|j| 1 + bounded(draw(ck, first.wrapping_add(j as u64)), 10) as i32)
                    .collect();
                let counts: ArrayRef = Arc::new(Int32Array::from(counts));
                map_array(entries, kv, keys, counts, n, *len as usize, nulls)?
            }
            Kind::Struct { fields, children } => {
                let arrays = children
                    .iter()
                    .map(|c| c.generate(start, n, now_ms))
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(StructArray::try_new_with_length(
                    fields.clone(),
                    arrays,
                    nulls,
                    n,
                )?)
            }
        };
        Ok(array)
    }
}

fn entry_fields(entries: &FieldRef) -> Option<Fields> {
    match entries.data_type() {
        ArrowType::Struct(kv) if kv.len() == 2 => Some(kv.clone()),
        _ => None,
    }
}

fn too_large(path: &str) -> Error {
    Error::user(format!(
        "datagen: a batch of field '{path}' would exceed 2 GiB; lower 'fields.{path}.length' \
         or the batch size"
    ))
}

fn children_len(path: &str, n: usize, len: u32) -> Result<usize> {
    n.checked_mul(len as usize)
        .filter(|t| *t <= i32::MAX as usize)
        .ok_or_else(|| too_large(path))
}

/// A uniform value in `0..range` (`range == 0` is never passed: ranges are at least 1).
fn random_u128_below(key: u64, idx: u64, range: u128) -> u128 {
    let mut s = draw(key, idx);
    let mut next = || {
        let hi = s;
        s = mix(s.wrapping_add(GAMMA));
        let lo = s;
        s = mix(s.wrapping_add(GAMMA));
        (u128::from(hi) << 64) | u128::from(lo)
    };
    if range <= u128::from(u64::MAX) {
        let x = next() as u64;
        return u128::from(bounded(x, range as u64));
    }
    // Lemire's method with rejection, on 128 bits.
    let threshold = range.wrapping_neg() % range;
    let mut x = next();
    for _ in 0..64 {
        if x.wrapping_mul(range) >= threshold {
            break;
        }
        x = next();
    }
    mul_hi_u128(x, range)
}

fn mul_hi_u128(a: u128, b: u128) -> u128 {
    const M: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & M);
    let (b1, b0) = (b >> 64, b & M);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & M) + (p10 & M);
    p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64)
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Random hex strings (or bytes) for rows `start..start+n`: offsets and values.
#[allow(clippy::too_many_arguments)]
fn random_text(
    path: &str,
    key: u64,
    len_key: u64,
    len: u32,
    var_len: bool,
    binary: bool,
    start: u64,
    n: usize,
) -> Result<(Vec<i32>, Vec<u8>)> {
    let max_total = n
        .checked_mul(len as usize)
        .filter(|t| *t <= i32::MAX as usize)
        .ok_or_else(|| too_large(path))?;
    let chunk = if binary { 8 } else { 16 };
    let mut values = vec![0u8; max_total + 16];
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut pos = 0usize;
    let full = len as usize;
    for j in 0..n {
        let i = start.wrapping_add(j as u64);
        let l = if var_len && len > 0 {
            1 + bounded(draw(len_key, i), u64::from(len)) as usize
        } else {
            full
        };
        let mut x = draw(key, i);
        let mut written = 0;
        while written < l {
            let at = pos + written;
            if binary {
                values[at..at + 8].copy_from_slice(&x.to_le_bytes());
            } else {
                values[at..at + 8].copy_from_slice(&hex8(x as u32));
                values[at + 8..at + 16].copy_from_slice(&hex8((x >> 32) as u32));
            }
            written += chunk;
            x = mix(x.wrapping_add(GAMMA));
        }
        pos += l;
        offsets.push(pos as i32);
    }
    values.truncate(pos);
    Ok((offsets, values))
}

fn text_array(
    offsets: Vec<i32>,
    values: Vec<u8>,
    nulls: Option<NullBuffer>,
    binary: bool,
) -> Result<ArrayRef> {
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let values = Buffer::from_vec(values);
    Ok(if binary {
        Arc::new(BinaryArray::try_new(offsets, values, nulls)?)
    } else {
        Arc::new(StringArray::try_new(offsets, values, nulls)?)
    })
}

/// Build a map from `len` generated entries per row, dropping entries whose key repeats an
/// earlier key of the same row (a MAP's keys are unique).
fn map_array(
    entries: &FieldRef,
    kv: &Fields,
    keys: ArrayRef,
    values: ArrayRef,
    n: usize,
    len: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let mut keys = keys;
    let mut values = values;
    let mut lengths: Vec<usize> = vec![len; n];
    if len > 1 {
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let rows = converter.convert_columns(std::slice::from_ref(&keys))?;
        let mut keep = Vec::with_capacity(n * len);
        let mut seen: HashSet<arrow::row::Row<'_>> = HashSet::new();
        for (r, count) in lengths.iter_mut().enumerate() {
            let base = r * len;
            seen.clear();
            for k in 0..len {
                let fresh = seen.insert(rows.row(base + k));
                keep.push(fresh);
                if !fresh {
                    *count -= 1;
                }
            }
        }
        if keep.iter().any(|k| !k) {
            let mask = BooleanArray::from(keep);
            keys = arrow::compute::filter(keys.as_ref(), &mask)?;
            values = arrow::compute::filter(values.as_ref(), &mask)?;
        }
    }
    let entries_array = StructArray::try_new(kv.clone(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries.clone(),
        OffsetBuffer::from_lengths(lengths),
        entries_array,
        nulls,
        false,
    )?))
}

/// Generates batches for the physical columns of a table.
#[derive(Debug, Clone)]
pub struct Generator {
    schema: SchemaRef,
    columns: Vec<Node>,
}

impl Generator {
    /// A generator for `plan`, producing batches of `schema` (its Arrow form), seeded with `seed`.
    pub fn new(plan: &Plan, schema: SchemaRef, seed: u64) -> Result<Self> {
        if plan.columns.len() != schema.fields().len() {
            return Err(Error::internal(format!(
                "datagen: {} column plans for a schema of {} fields",
                plan.columns.len(),
                schema.fields().len()
            )));
        }
        let columns = plan
            .columns
            .iter()
            .zip(schema.fields().iter())
            .map(|(p, f)| Node::new(p, f.data_type(), seed))
            .collect::<Result<_>>()?;
        Ok(Generator { schema, columns })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rough size of a row in bytes.
    pub fn row_bytes(&self) -> usize {
        self.columns
            .iter()
            .fold(1usize, |a, c| a.saturating_add(c.row_bytes()))
    }

    /// The rows with indices `start..start + n`, with `now_ms` as the current time (epoch ms).
    pub fn batch(&self, start: u64, n: usize, now_ms: i64) -> Result<RecordBatch> {
        let columns = self
            .columns
            .iter()
            .map(|c| c.generate(start, n, now_ms))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits() {
        assert_eq!(&hex8(0x0123_4567), b"76543210");
        assert_eq!(&hex8(0x89ab_cdef), b"fedcba98");
    }

    #[test]
    fn integer_text() {
        let mut v = Vec::new();
        write_i64(&mut v, 0);
        v.push(b' ');
        write_i64(&mut v, -120);
        v.push(b' ');
        write_i64(&mut v, i64::MIN);
        assert_eq!(String::from_utf8(v).unwrap(), "0 -120 -9223372036854775808");
    }

    #[test]
    fn wide_multiplication() {
        assert_eq!(mul_hi_u128(u128::MAX, 2), 1);
        assert_eq!(mul_hi_u128(1 << 127, 4), 2);
        assert_eq!(mul_hi_u128(u128::MAX, u128::MAX), u128::MAX - 1);
        for i in 0..1000u64 {
            assert!(random_u128_below(7, i, 5) < 5);
            assert!(random_u128_below(7, i, 10u128.pow(38)) < 10u128.pow(38));
        }
    }

    #[test]
    fn bounded_range() {
        assert_eq!(bounded(u64::MAX, 10), 9);
        assert_eq!(bounded(0, 10), 0);
        assert_eq!(bounded(12345, 0), 12345);
    }
}
