//! JSON values as Flink's `json` format writes them, encoded and decoded independently of
//! Headrace's `json` format: shared by the conformance contexts whose external data is JSON
//! (`conformance_filesystem.rs`, `conformance_kafka.rs`), included with `#[path]`.
//!
//! Every Flink type: DECIMAL as a plain number, BYTES as base64, DATE / TIME / TIMESTAMP as
//! `yyyy-MM-dd` / `HH:mm:ss[.fff]` / `yyyy-MM-dd HH:mm:ss[.fff]` (TIMESTAMP_LTZ with a `Z`), MAP
//! and MULTISET as objects keyed by the key's text, ROW as a nested object.

use std::collections::BTreeMap;

use base64::Engine;
use headrace_integration_tests::conformance::Failure;
use headrace_sdk::row::{Row, Timestamp, Value};
use headrace_sdk::schema::TableSchema;
use headrace_sdk::types::{DataType, LogicalType};

// ---- an independent JSON encoder (Flink's JSON conventions) ----

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn time_text(nanos: i64) -> String {
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        s.push_str(format!(".{frac:09}").trim_end_matches('0'));
    }
    s
}

fn timestamp_text(t: &Timestamp, ltz: bool) -> String {
    let secs = t.millis.div_euclid(1000);
    let nanos = t.millis.rem_euclid(1000) * 1_000_000 + i64::from(t.nanos_of_milli);
    let mut s = format!(
        "{} {}",
        date_text(secs.div_euclid(86_400)),
        time_text(secs.rem_euclid(86_400) * 1_000_000_000 + nanos)
    );
    if ltz {
        s.push('Z');
    }
    s
}

fn decimal_text(unscaled: i128, scale: u8) -> String {
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let s = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!(
            "{}.{}",
            &digits[..digits.len() - scale],
            &digits[digits.len() - scale..]
        )
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

fn encode(t: &DataType, v: &Value) -> String {
    let js = |s: &str| serde_json::to_string(s).unwrap();
    match (v, &t.logical) {
        (Value::Null, _) => "null".into(),
        (Value::Boolean(b), _) => b.to_string(),
        (Value::TinyInt(x), _) => x.to_string(),
        (Value::SmallInt(x), _) => x.to_string(),
        (Value::Int(x), _) => x.to_string(),
        (Value::BigInt(x), _) => x.to_string(),
        (Value::Float(x), _) => format!("{x:?}"),
        (Value::Double(x), _) => format!("{x:?}"),
        (Value::Decimal(d), LogicalType::Decimal { scale, .. }) => decimal_text(*d, *scale),
        (Value::String(s), _) => js(s),
        (Value::Bytes(b), _) => js(&base64::engine::general_purpose::STANDARD.encode(b)),
        (Value::Date(d), _) => js(&date_text(i64::from(*d))),
        (Value::Time(n), _) => js(&time_text(*n)),
        (Value::Timestamp(ts), l) => js(&timestamp_text(
            ts,
            matches!(l, LogicalType::TimestampLtz(_)),
        )),
        (Value::Array(items), LogicalType::Array(e)) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| encode(e, i))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        (Value::Map(entries), LogicalType::Map(k, vt)) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(key, val)| format!("{}:{}", js(&key_text(k, key)), encode(vt, val)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (Value::Map(entries), LogicalType::Multiset(e)) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(key, val)| format!(
                    "{}:{}",
                    js(&key_text(e, key)),
                    encode(&DataType::new(LogicalType::Int), val)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (Value::Row(vals), LogicalType::Row(fields)) => {
            let cols: Vec<(&str, &DataType)> = fields
                .iter()
                .map(|f| (f.name.as_str(), &f.data_type))
                .collect();
            encode_object(&cols, vals)
        }
        (other, t) => panic!("cannot encode {other:?} as {t}"),
    }
}

fn key_text(t: &DataType, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => encode(t, other).trim_matches('"').to_string(),
    }
}

pub fn encode_object(cols: &[(&str, &DataType)], values: &[Value]) -> String {
    let fields: Vec<String> = cols
        .iter()
        .zip(values)
        .map(|((n, t), v)| format!("{}:{}", serde_json::to_string(n).unwrap(), encode(t, v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

// ---- an independent JSON decoder for the sink's part files ----

fn fail(msg: impl Into<String>) -> Failure {
    Failure::new(msg)
}

fn parse_decimal(text: &str, scale: u8) -> Result<i128, Failure> {
    let text = text.trim().trim_matches('"');
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (
            &text[..i],
            text[i + 1..]
                .parse::<i32>()
                .map_err(|e| fail(e.to_string()))?,
        ),
        None => (text, 0),
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: i128 = format!("{int}{frac}")
        .parse()
        .map_err(|_| fail(format!("bad decimal {text}")))?;
    let shift = exp - frac.len() as i32 + i32::from(scale);
    let v = if shift >= 0 {
        digits * 10i128.pow(shift as u32)
    } else {
        let p = 10i128.pow((-shift) as u32);
        if digits % p != 0 {
            return Err(fail(format!(
                "decimal {text} has more than {scale} fraction digits"
            )));
        }
        digits / p
    };
    Ok(if neg { -v } else { v })
}

fn parse_time(s: &str) -> Result<i64, Failure> {
    let bad = || fail(format!("bad time {s:?}"));
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let p: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [h, m, sec] = p.as_slice() else {
        return Err(bad());
    };
    let frac_nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(((h * 60 + m) * 60 + sec) * 1_000_000_000 + frac_nanos)
}

fn parse_date(s: &str) -> Result<i64, Failure> {
    let bad = || fail(format!("bad date {s:?}"));
    let p: Vec<&str> = s.split('-').collect();
    let [y, m, d] = p.as_slice() else {
        return Err(bad());
    };
    Ok(days_from_civil(
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    ))
}

fn parse_timestamp(s: &str) -> Result<Timestamp, Failure> {
    let s = s.trim_end_matches('Z');
    let (d, t) = s
        .split_once([' ', 'T'])
        .ok_or_else(|| fail(format!("bad timestamp {s:?}")))?;
    let nanos = parse_date(d)? * 86_400_000_000_000 + parse_time(t)?;
    Ok(Timestamp {
        millis: nanos.div_euclid(1_000_000),
        nanos_of_milli: nanos.rem_euclid(1_000_000) as u32,
    })
}

fn decode(t: &DataType, v: &serde_json::Value) -> Result<Value, Failure> {
    use serde_json::Value as J;
    let bad = || fail(format!("cannot read {v} as {t}"));
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match &t.logical {
        LogicalType::Boolean => Value::Boolean(v.as_bool().ok_or_else(bad)?),
        LogicalType::TinyInt => Value::TinyInt(v.as_i64().ok_or_else(bad)? as i8),
        LogicalType::SmallInt => Value::SmallInt(v.as_i64().ok_or_else(bad)? as i16),
        LogicalType::Int => Value::Int(v.as_i64().ok_or_else(bad)? as i32),
        LogicalType::BigInt => Value::BigInt(v.as_i64().ok_or_else(bad)?),
        LogicalType::Float => Value::Float(v.as_f64().ok_or_else(bad)? as f32),
        LogicalType::Double => Value::Double(v.as_f64().ok_or_else(bad)?),
        LogicalType::Decimal { scale, .. } => {
            Value::Decimal(parse_decimal(&v.to_string(), *scale)?)
        }
        LogicalType::Char(_) | LogicalType::VarChar(_) => {
            Value::String(v.as_str().ok_or_else(bad)?.into())
        }
        LogicalType::Binary(_) | LogicalType::VarBinary(_) => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().ok_or_else(bad)?)
                .map_err(|_| bad())?,
        ),
        LogicalType::Date => Value::Date(parse_date(v.as_str().ok_or_else(bad)?)? as i32),
        LogicalType::Time(_) => Value::Time(parse_time(v.as_str().ok_or_else(bad)?)?),
        LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_) => {
            Value::Timestamp(parse_timestamp(v.as_str().ok_or_else(bad)?)?)
        }
        LogicalType::Array(e) => Value::Array(
            v.as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|x| decode(e, x))
                .collect::<Result<_, _>>()?,
        ),
        LogicalType::Map(k, vt) => Value::Map(
            v.as_object()
                .ok_or_else(bad)?
                .iter()
                .map(|(key, val)| Ok((decode(k, &J::String(key.clone()))?, decode(vt, val)?)))
                .collect::<Result<_, Failure>>()?,
        ),
        LogicalType::Multiset(e) => Value::Map(
            v.as_object()
                .ok_or_else(bad)?
                .iter()
                .map(|(key, val)| {
                    Ok((
                        decode(e, &J::String(key.clone()))?,
                        Value::Int(val.as_i64().ok_or_else(bad)? as i32),
                    ))
                })
                .collect::<Result<_, Failure>>()?,
        ),
        LogicalType::Row(fields) => {
            let o = v.as_object().ok_or_else(bad)?;
            Value::Row(
                fields
                    .iter()
                    .map(|f| decode(&f.data_type, o.get(&f.name).unwrap_or(&J::Null)))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

pub fn decode_row(schema: &TableSchema, line: &str) -> Result<Row, Failure> {
    // Decimals are read from the raw text, as f64 cannot hold DECIMAL(38, 18).
    let raw: BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(line).map_err(|e| fail(format!("not a JSON object: {e}")))?;
    let mut values = Vec::new();
    for c in schema.physical_columns() {
        let v = match raw.get(&c.name) {
            None => Value::Null,
            Some(r) if r.get() == "null" => Value::Null,
            Some(r) => match c.data_type.logical {
                LogicalType::Decimal { scale, .. } => {
                    Value::Decimal(parse_decimal(r.get(), scale)?)
                }
                // serde_json's default float parsing may be one ULP off; Rust's is exact.
                LogicalType::Double => Value::Double(
                    r.get()
                        .parse()
                        .map_err(|_| fail(format!("bad DOUBLE {}", r.get())))?,
                ),
                LogicalType::Float => Value::Float(
                    r.get()
                        .parse()
                        .map_err(|_| fail(format!("bad FLOAT {}", r.get())))?,
                ),
                _ => decode(
                    &c.data_type,
                    &serde_json::from_str(r.get()).map_err(|e| fail(e.to_string()))?,
                )?,
            },
        };
        values.push(v);
    }
    Ok(Row::insert(values))
}
