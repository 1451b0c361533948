//! Conversions between Arrow columns and Avro values, driven by the derived [`Node`] tree.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::types::Value;
use apache_avro::Decimal;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, ListArray, MapArray,
    StringArray, StructArray, Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray,
    Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType as ArrowType, Fields, TimeUnit};

use crate::schema::{Kind, Node, TsUnit};

type R<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Arrow -> Avro
// ---------------------------------------------------------------------------------------------

/// The Avro values of every row of `array` (wrapped in the `["null", T]` union when the node is
/// nullable). `path` names the column in errors.
pub fn column_values(node: &Node, array: &dyn Array, path: &str) -> R<Vec<Value>> {
    let plain = plain_values(node, array, path)?;
    let mut out = Vec::with_capacity(plain.len());
    for (i, v) in plain.into_iter().enumerate() {
        out.push(match (v, node.nullable) {
            (Some(v), true) => Value::Union(1, Box::new(v)),
            (None, true) => Value::Union(0, Box::new(Value::Null)),
            (Some(v), false) => v,
            (None, false) => {
                return Err(format!(
                    "column '{path}' is NULL in row {i} but its type is NOT NULL"
                ))
            }
        });
    }
    Ok(out)
}

fn cast_to(array: &dyn Array, t: &ArrowType, path: &str) -> R<ArrayRef> {
    arrow::compute::cast(&arrow::array::make_array(array.to_data()), t).map_err(|e| {
        format!(
            "column '{path}': cannot read {} as {t}: {e}",
            array.data_type()
        )
    })
}

macro_rules! prim {
    ($array:expr, $ty:ty, $target:expr, $path:expr, |$x:ident| $conv:expr) => {{
        let owned;
        let a: &$ty = match $array.as_any().downcast_ref::<$ty>() {
            Some(a) => a,
            None => {
                owned = cast_to($array, &$target, $path)?;
                owned
                    .as_any()
                    .downcast_ref::<$ty>()
                    .ok_or_else(|| format!("column '{}': unexpected Arrow type", $path))?
            }
        };
        Ok((0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    None
                } else {
                    let $x = a.value(i);
                    Some($conv)
                }
            })
            .collect())
    }};
}

fn scale_down(v: i64, div: i64) -> i64 {
    v.div_euclid(div)
}

fn plain_values(node: &Node, array: &dyn Array, path: &str) -> R<Vec<Option<Value>>> {
    match &node.kind {
        Kind::Boolean => prim!(array, BooleanArray, ArrowType::Boolean, path, |x| {
            Value::Boolean(x)
        }),
        Kind::Int => match array.data_type() {
            ArrowType::Int8 => prim!(array, Int8Array, ArrowType::Int8, path, |x| Value::Int(
                x as i32
            )),
            ArrowType::Int16 => prim!(array, Int16Array, ArrowType::Int16, path, |x| {
                Value::Int(x as i32)
            }),
            _ => prim!(array, Int32Array, ArrowType::Int32, path, |x| Value::Int(x)),
        },
        Kind::Long => prim!(array, Int64Array, ArrowType::Int64, path, |x| Value::Long(
            x
        )),
        Kind::Float => prim!(array, Float32Array, ArrowType::Float32, path, |x| {
            Value::Float(x)
        }),
        Kind::Double => prim!(array, Float64Array, ArrowType::Float64, path, |x| {
            Value::Double(x)
        }),
        Kind::String => prim!(
            array,
            StringArray,
            ArrowType::Utf8,
            path,
            |x| Value::String(x.to_string())
        ),
        Kind::Bytes => prim!(array, BinaryArray, ArrowType::Binary, path, |x| {
            Value::Bytes(x.to_vec())
        }),
        Kind::Decimal { precision, scale } => {
            let t = ArrowType::Decimal128(*precision, *scale as i8);
            prim!(array, Decimal128Array, t, path, |x| Value::Decimal(
                Decimal::from(decimal_bytes(x))
            ))
        }
        Kind::Date => prim!(
            array,
            Date32Array,
            ArrowType::Date32,
            path,
            |x| Value::Date(x)
        ),
        Kind::TimeMillis => match array.data_type() {
            ArrowType::Time32(TimeUnit::Second) => {
                prim!(
                    array,
                    Time32SecondArray,
                    ArrowType::Time32(TimeUnit::Second),
                    path,
                    |x| Value::TimeMillis(x.saturating_mul(1000))
                )
            }
            ArrowType::Time64(TimeUnit::Microsecond) => prim!(
                array,
                Time64MicrosecondArray,
                ArrowType::Time64(TimeUnit::Microsecond),
                path,
                |x| Value::TimeMillis(scale_down(x, 1000) as i32)
            ),
            ArrowType::Time64(TimeUnit::Nanosecond) => prim!(
                array,
                Time64NanosecondArray,
                ArrowType::Time64(TimeUnit::Nanosecond),
                path,
                |x| Value::TimeMillis(scale_down(x, 1_000_000) as i32)
            ),
            _ => prim!(
                array,
                Time32MillisecondArray,
                ArrowType::Time32(TimeUnit::Millisecond),
                path,
                |x| Value::TimeMillis(x)
            ),
        },
        Kind::Timestamp { unit, local } => {
            let (u, local) = (*unit, *local);
            let mk = move |v: i64| -> Value {
                match (u, local) {
                    (TsUnit::Millis, false) => Value::TimestampMillis(v),
                    (TsUnit::Micros, false) => Value::TimestampMicros(v),
                    (TsUnit::Nanos, false) => Value::TimestampNanos(v),
                    (TsUnit::Millis, true) => Value::LocalTimestampMillis(v),
                    (TsUnit::Micros, true) => Value::LocalTimestampMicros(v),
                    (TsUnit::Nanos, true) => Value::LocalTimestampNanos(v),
                }
            };
            // Factor from the Arrow unit to the Avro unit: multiply (>0) or divide (<0).
            let target: i64 = match u {
                TsUnit::Millis => 1_000,
                TsUnit::Micros => 1_000_000,
                TsUnit::Nanos => 1_000_000_000,
            };
            let conv = move |v: i64, per_sec: i64| -> i64 {
                if per_sec <= target {
                    v.saturating_mul(target / per_sec)
                } else {
                    scale_down(v, per_sec / target)
                }
            };
            match array.data_type() {
                ArrowType::Timestamp(TimeUnit::Second, _) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<TimestampSecondArray>()
                        .ok_or("timestamp")?;
                    Ok(a.iter().map(|o| o.map(|v| mk(conv(v, 1)))).collect())
                }
                ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<TimestampMillisecondArray>()
                        .ok_or("timestamp")?;
                    Ok(a.iter().map(|o| o.map(|v| mk(conv(v, 1_000)))).collect())
                }
                ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .ok_or("timestamp")?;
                    Ok(a.iter()
                        .map(|o| o.map(|v| mk(conv(v, 1_000_000))))
                        .collect())
                }
                ArrowType::Timestamp(TimeUnit::Nanosecond, _) => {
                    let a = array
                        .as_any()
                        .downcast_ref::<TimestampNanosecondArray>()
                        .ok_or("timestamp")?;
                    Ok(a.iter()
                        .map(|o| o.map(|v| mk(conv(v, 1_000_000_000))))
                        .collect())
                }
                other => Err(format!(
                    "column '{path}': expected an Arrow timestamp, found {other}"
                )),
            }
        }
        Kind::Array(elem) => {
            let l = array
                .as_list_opt::<i32>()
                .ok_or_else(|| format!("column '{path}': expected an Arrow list"))?;
            let child = column_values(elem, l.values().as_ref(), &format!("{path}[]"))?;
            let mut child = child.into_iter();
            let offsets = l.value_offsets();
            let mut out = Vec::with_capacity(l.len());
            let mut pos = offsets.first().copied().unwrap_or(0) as usize;
            // Skip values before the first offset (sliced arrays).
            for _ in 0..pos {
                child.next();
            }
            for i in 0..l.len() {
                let end = offsets[i + 1] as usize;
                let items: Vec<Value> = child.by_ref().take(end - pos).collect();
                pos = end;
                out.push(if l.is_null(i) {
                    None
                } else {
                    Some(Value::Array(items))
                });
            }
            Ok(out)
        }
        Kind::Map(value) => {
            let m = array
                .as_map_opt()
                .ok_or_else(|| format!("column '{path}': expected an Arrow map"))?;
            let keys = cast_to(m.keys().as_ref(), &ArrowType::Utf8, path)?;
            let keys = keys.as_string::<i32>();
            let vals = column_values(value, m.values().as_ref(), &format!("{path}{{}}"))?;
            let offsets = m.value_offsets();
            let mut out = Vec::with_capacity(m.len());
            for i in 0..m.len() {
                if m.is_null(i) {
                    out.push(None);
                    continue;
                }
                let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
                let mut h = HashMap::with_capacity(e - s);
                for (j, v) in vals.iter().enumerate().take(e).skip(s) {
                    if keys.is_null(j) {
                        return Err(format!("column '{path}': a map key is NULL"));
                    }
                    h.insert(keys.value(j).to_string(), v.clone());
                }
                out.push(Some(Value::Map(h)));
            }
            Ok(out)
        }
        Kind::Record { fields, .. } => {
            let s = array
                .as_struct_opt()
                .ok_or_else(|| format!("column '{path}': expected an Arrow struct"))?;
            let mut cols = Vec::with_capacity(fields.len());
            for (i, (name, f)) in fields.iter().enumerate() {
                let c = s
                    .columns()
                    .get(i)
                    .ok_or_else(|| format!("column '{path}': missing field '{name}'"))?;
                let p = format!("{path}.{name}");
                // A NULL row makes its children unspecified: read them through the row's nulls.
                let vals = match (s.nulls(), f.nullable) {
                    (Some(n), false) if n.null_count() > 0 => {
                        let mut v = plain_values(f, c.as_ref(), &p)?;
                        for (j, x) in v.iter_mut().enumerate() {
                            if n.is_null(j) && x.is_none() {
                                *x = Some(Value::Null);
                            }
                        }
                        v.into_iter()
                            .enumerate()
                            .map(|(j, x)| {
                                x.ok_or_else(|| {
                                    format!(
                                        "column '{p}' is NULL in row {j} but its type is NOT NULL"
                                    )
                                })
                            })
                            .collect::<R<Vec<_>>>()?
                    }
                    _ => column_values(f, c.as_ref(), &p)?,
                };
                cols.push(vals.into_iter());
            }
            let mut out = Vec::with_capacity(s.len());
            for i in 0..s.len() {
                let mut rec = Vec::with_capacity(fields.len());
                for (c, (name, _)) in cols.iter_mut().zip(fields) {
                    rec.push((name.clone(), c.next().unwrap_or(Value::Null)));
                }
                out.push(if s.is_null(i) {
                    None
                } else {
                    Some(Value::Record(rec))
                });
            }
            Ok(out)
        }
    }
}

/// The minimal big-endian two's complement bytes of an unscaled decimal (Java's
/// `BigInteger.toByteArray()`).
pub fn decimal_bytes(v: i128) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (cur, next) = (b[start], b[start + 1]);
        if (cur == 0 && next & 0x80 == 0) || (cur == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

// ---------------------------------------------------------------------------------------------
// Avro -> Arrow
// ---------------------------------------------------------------------------------------------

fn strip_union(v: &Value) -> Option<&Value> {
    match v {
        Value::Union(_, inner) => strip_union(inner),
        Value::Null => None,
        other => Some(other),
    }
}

fn kind_name(v: &Value) -> String {
    let s = format!("{v:?}");
    s.split(['(', ' ']).next().unwrap_or("value").to_string()
}

fn mismatch(path: &str, expected: &str, v: &Value) -> String {
    format!(
        "field '{path}': expected {expected}, found {}",
        kind_name(v)
    )
}

/// Build the Arrow array of type `t` from one value per row (`None` for NULL); `path` names the
/// field in errors.
pub fn build_array(
    node: &Node,
    t: &ArrowType,
    values: &[Option<&Value>],
    path: &str,
) -> R<ArrayRef> {
    let vals: Vec<Option<&Value>> = values.iter().map(|v| v.and_then(strip_union)).collect();
    if !node.nullable {
        if let Some(i) = vals.iter().position(|v| v.is_none()) {
            return Err(format!(
                "field '{path}' is NULL (record {}) but its type is NOT NULL",
                i + 1
            ));
        }
    }
    let int = |v: &Value| -> R<i64> {
        match v {
            Value::Int(x) | Value::Date(x) | Value::TimeMillis(x) => Ok(*x as i64),
            Value::Long(x)
            | Value::TimeMicros(x)
            | Value::TimestampMillis(x)
            | Value::TimestampMicros(x)
            | Value::TimestampNanos(x)
            | Value::LocalTimestampMillis(x)
            | Value::LocalTimestampMicros(x)
            | Value::LocalTimestampNanos(x) => Ok(*x),
            other => Err(mismatch(path, "an integer", other)),
        }
    };
    macro_rules! collect {
        ($arr:ty, |$v:ident| $e:expr) => {{
            let a: $arr = vals
                .iter()
                .map(|o| o.map(|$v| $e).transpose())
                .collect::<R<_>>()?;
            Arc::new(a) as ArrayRef
        }};
    }
    let range = |x: i64, lo: i64, hi: i64, ty: &str| -> R<i64> {
        if x < lo || x > hi {
            Err(format!("field '{path}': {x} is out of range for {ty}"))
        } else {
            Ok(x)
        }
    };
    Ok(match t {
        ArrowType::Boolean => collect!(BooleanArray, |v| match v {
            Value::Boolean(b) => Ok(*b),
            o => Err(mismatch(path, "a boolean", o)),
        }),
        ArrowType::Int8 => collect!(Int8Array, |v| int(v)
            .and_then(|x| range(x, i8::MIN as i64, i8::MAX as i64, "TINYINT"))
            .map(|x| x as i8)),
        ArrowType::Int16 => collect!(Int16Array, |v| int(v)
            .and_then(|x| range(x, i16::MIN as i64, i16::MAX as i64, "SMALLINT"))
            .map(|x| x as i16)),
        ArrowType::Int32 => collect!(Int32Array, |v| int(v)
            .and_then(|x| range(x, i32::MIN as i64, i32::MAX as i64, "INT"))
            .map(|x| x as i32)),
        ArrowType::Int64 => collect!(Int64Array, |v| int(v)),
        ArrowType::Float32 => collect!(Float32Array, |v| match v {
            Value::Float(x) => Ok(*x),
            Value::Int(x) => Ok(*x as f32),
            Value::Long(x) => Ok(*x as f32),
            o => Err(mismatch(path, "a float", o)),
        }),
        ArrowType::Float64 => collect!(Float64Array, |v| match v {
            Value::Double(x) => Ok(*x),
            Value::Float(x) => Ok(*x as f64),
            Value::Int(x) => Ok(*x as f64),
            Value::Long(x) => Ok(*x as f64),
            o => Err(mismatch(path, "a double", o)),
        }),
        ArrowType::Utf8 => collect!(StringArray, |v| match v {
            Value::String(s) | Value::Enum(_, s) => Ok(s.as_str()),
            Value::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| format!("field '{path}': bytes are not valid UTF-8")),
            o => Err(mismatch(path, "a string", o)),
        }),
        ArrowType::Binary => collect!(BinaryArray, |v| match v {
            Value::Bytes(b) | Value::Fixed(_, b) => Ok(b.as_slice()),
            Value::String(s) => Ok(s.as_bytes()),
            o => Err(mismatch(path, "bytes", o)),
        }),
        ArrowType::Decimal128(p, s) => {
            // As Flink (DecimalData.fromUnscaledBytes): a value with more digits than the
            // column's precision reads as NULL (an error for a NOT NULL column).
            let max = 10i128.pow(u32::from(*p).min(38)) - 1;
            let fits = |x: Option<i128>| -> R<Option<i128>> {
                match x.filter(|x| *x <= max && *x >= -max) {
                    Some(x) => Ok(Some(x)),
                    None if node.nullable => Ok(None),
                    None => Err(format!(
                        "field '{path}': a decimal has more digits than DECIMAL({p}, {s}) allows                          (Flink reads it as NULL, which the NOT NULL column cannot hold)"
                    )),
                }
            };
            let a: Decimal128Array = vals
                .iter()
                .map(|o| {
                    o.map(|v| match v {
                        Value::Decimal(d) => <Vec<u8>>::try_from(d)
                            .map_err(|e| format!("field '{path}': {e}"))
                            .and_then(|b| fits(crate::read::unscaled(&b))),
                        Value::Bytes(b) | Value::Fixed(_, b) => fits(crate::read::unscaled(b)),
                        o => Err(mismatch(path, "a decimal", o)),
                    })
                    .transpose()
                    .map(Option::flatten)
                })
                .collect::<R<_>>()?;
            let a = a
                .with_precision_and_scale(*p, *s)
                .map_err(|e| format!("field '{path}': {e}"))?;
            if let Err(e) = a.validate_decimal_precision(*p) {
                return Err(format!("field '{path}': {e}"));
            }
            Arc::new(a)
        }
        ArrowType::Date32 => collect!(Date32Array, |v| match v {
            Value::Date(d) | Value::Int(d) => Ok(*d),
            o => Err(mismatch(path, "a date", o)),
        }),
        ArrowType::Time32(u) | ArrowType::Time64(u) => {
            // Any time value, as nanoseconds of the day.
            let nanos = |v: &Value| -> R<i64> {
                match v {
                    Value::TimeMillis(x) | Value::Int(x) => Ok(*x as i64 * 1_000_000),
                    Value::TimeMicros(x) | Value::Long(x) => Ok(*x * 1_000),
                    o => Err(mismatch(path, "a time", o)),
                }
            };
            match (t, u) {
                (ArrowType::Time32(TimeUnit::Second), _) => {
                    collect!(Time32SecondArray, |v| nanos(v)
                        .map(|n| (n / 1_000_000_000) as i32))
                }
                (ArrowType::Time32(_), _) => {
                    collect!(Time32MillisecondArray, |v| nanos(v)
                        .map(|n| (n / 1_000_000) as i32))
                }
                (_, TimeUnit::Microsecond) => {
                    collect!(Time64MicrosecondArray, |v| nanos(v).map(|n| n / 1_000))
                }
                _ => collect!(Time64NanosecondArray, |v| nanos(v)),
            }
        }
        ArrowType::Timestamp(u, tz) => {
            // Value in its own unit, and that unit per second.
            let raw = |v: &Value| -> R<(i64, i64)> {
                match v {
                    Value::TimestampMillis(x) | Value::LocalTimestampMillis(x) => Ok((*x, 1_000)),
                    Value::TimestampMicros(x) | Value::LocalTimestampMicros(x) => {
                        Ok((*x, 1_000_000))
                    }
                    Value::TimestampNanos(x) | Value::LocalTimestampNanos(x) => {
                        Ok((*x, 1_000_000_000))
                    }
                    Value::Long(x) => Ok((*x, 1_000)),
                    o => Err(mismatch(path, "a timestamp", o)),
                }
            };
            let per: i64 = match u {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let conv = |v: &Value| -> R<i64> {
                let (x, from) = raw(v)?;
                Ok(if from >= per {
                    x.div_euclid(from / per)
                } else {
                    x.saturating_mul(per / from)
                })
            };
            let a: Vec<Option<i64>> = vals
                .iter()
                .map(|o| o.map(conv).transpose())
                .collect::<R<_>>()?;
            let arr: ArrayRef = match u {
                TimeUnit::Second => {
                    Arc::new(TimestampSecondArray::from(a).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from(a).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from(a).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(a).with_timezone_opt(tz.clone()))
                }
            };
            arr
        }
        ArrowType::List(f) => {
            let Kind::Array(elem) = &node.kind else {
                return Err(format!("field '{path}': the schema is not an array"));
            };
            let mut offsets = Vec::with_capacity(vals.len() + 1);
            offsets.push(0i32);
            let mut items: Vec<Option<&Value>> = Vec::new();
            for v in &vals {
                if let Some(v) = v {
                    let Value::Array(xs) = v else {
                        return Err(mismatch(path, "an array", v));
                    };
                    items.extend(xs.iter().map(Some));
                }
                offsets.push(
                    i32::try_from(items.len())
                        .map_err(|_| format!("field '{path}': too many array items"))?,
                );
            }
            let child = build_array(elem, f.data_type(), &items, &format!("{path}[]"))?;
            let nulls = nulls_of(&vals);
            Arc::new(
                ListArray::try_new(f.clone(), OffsetBuffer::new(offsets.into()), child, nulls)
                    .map_err(|e| format!("field '{path}': {e}"))?,
            )
        }
        ArrowType::Map(entries, sorted) => {
            let Kind::Map(value) = &node.kind else {
                return Err(format!("field '{path}': the schema is not a map"));
            };
            let ArrowType::Struct(kv) = entries.data_type() else {
                return Err(format!(
                    "field '{path}': Arrow map entries are not a struct"
                ));
            };
            if kv.len() != 2 {
                return Err(format!("field '{path}': Arrow map entries need two fields"));
            }
            let mut offsets = Vec::with_capacity(vals.len() + 1);
            offsets.push(0i32);
            let mut keys: Vec<&str> = Vec::new();
            let mut items: Vec<Option<&Value>> = Vec::new();
            for v in &vals {
                if let Some(v) = v {
                    let Value::Map(m) = v else {
                        return Err(mismatch(path, "a map", v));
                    };
                    // Sorted keys: deterministic output.
                    let mut es: Vec<_> = m.iter().collect();
                    es.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, x) in es {
                        keys.push(k);
                        items.push(Some(x));
                    }
                }
                offsets.push(
                    i32::try_from(items.len())
                        .map_err(|_| format!("field '{path}': too many map entries"))?,
                );
            }
            let key_arr: ArrayRef = Arc::new(StringArray::from(keys));
            let key_arr = arrow::compute::cast(&key_arr, kv[0].data_type())
                .map_err(|e| format!("field '{path}': map keys: {e}"))?;
            let val_arr = build_array(value, kv[1].data_type(), &items, &format!("{path}{{}}"))?;
            let entries_arr = StructArray::try_new(kv.clone(), vec![key_arr, val_arr], None)
                .map_err(|e| format!("field '{path}': {e}"))?;
            Arc::new(
                MapArray::try_new(
                    entries.clone(),
                    OffsetBuffer::new(offsets.into()),
                    entries_arr,
                    nulls_of(&vals),
                    *sorted,
                )
                .map_err(|e| format!("field '{path}': {e}"))?,
            )
        }
        ArrowType::Struct(fields) => {
            let Kind::Record { fields: nodes, .. } = &node.kind else {
                return Err(format!("field '{path}': the schema is not a record"));
            };
            Arc::new(build_struct(nodes, fields, &vals, path)?)
        }
        other => {
            return Err(format!(
                "field '{path}': Arrow type {other} is not supported by the avro format"
            ))
        }
    })
}

fn nulls_of(vals: &[Option<&Value>]) -> Option<NullBuffer> {
    if vals.iter().all(|v| v.is_some()) {
        None
    } else {
        Some(NullBuffer::from(
            vals.iter().map(|v| v.is_some()).collect::<Vec<bool>>(),
        ))
    }
}

/// Build a struct array from record values (`None` for NULL rows).
pub fn build_struct(
    nodes: &[(String, Node)],
    fields: &Fields,
    vals: &[Option<&Value>],
    path: &str,
) -> R<StructArray> {
    let mut cols = Vec::with_capacity(fields.len());
    for (i, (f, (name, node))) in fields.iter().zip(nodes).enumerate() {
        let p = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let mut child: Vec<Option<&Value>> = Vec::with_capacity(vals.len());
        for v in vals {
            child.push(match v {
                None => None,
                Some(Value::Record(fs)) => match fs.get(i) {
                    Some((n, x)) if n == name => Some(x),
                    _ => fs.iter().find(|(n, _)| n == name).map(|(_, x)| x),
                },
                Some(other) => return Err(mismatch(path, "a record", other)),
            });
        }
        // Children of NULL rows may be anything: give NOT NULL children a placeholder.
        let arr = if !node.nullable && vals.iter().any(|v| v.is_none()) {
            let filled: Vec<Option<&Value>> = child
                .iter()
                .zip(vals)
                .map(|(c, v)| if v.is_none() { None } else { *c })
                .collect();
            let loose = Node {
                kind: node.kind.clone(),
                nullable: true,
            };
            // Arrow accepts nulls in a NOT NULL child where the parent row is NULL.
            build_array(&loose, f.data_type(), &filled, &p)?
        } else {
            build_array(node, f.data_type(), &child, &p)?
        };
        cols.push(arr);
    }
    StructArray::try_new(fields.clone(), cols, nulls_of(vals))
        .map_err(|e| format!("field '{path}': {e}"))
}
