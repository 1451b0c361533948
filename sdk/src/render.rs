//! Renders values exactly as Flink prints rows (its print sink, `Row.toString()`), given the declared
//! types, where the type-less `Display for Row` cannot.
//!
//! Flink prints rows through their Java external types: DECIMAL as `BigDecimal.toString()` (with
//! its scale: `1.50`), FLOAT/DOUBLE as `Float/Double.toString()` (`1.0E7`, `Infinity`),
//! TIMESTAMP_LTZ as `Instant.toString()` (`2024-01-01T00:00:00Z`). The SDK's row view carries
//! DECIMAL unscaled, renders floats the Rust way, and cannot tell TIMESTAMP_LTZ from TIMESTAMP (both
//! are Arrow timestamps without zone), so those values are rendered here from the declared types
//! and handed to `Display for Row` as text.

use crate::row::{Row, Timestamp, Value};
use crate::types::{DataType, LogicalType};

/// The row as Flink prints it (`+I[1.50, 1.0E7, 2024-01-01T00:00:00Z]`), given the declared types.
pub fn flink_row_string(row: Row, types: &[DataType]) -> String {
    if !types.iter().any(needs_rewrite) {
        return row.to_string();
    }
    let values = row
        .values
        .into_iter()
        .zip(types.iter())
        .map(|(v, t)| to_flink(v, t))
        .collect();
    Row::of(row.kind, values).to_string()
}

/// Whether values of `t` (or nested in it) need [`to_flink`].
pub fn needs_rewrite(t: &DataType) -> bool {
    match &t.logical {
        LogicalType::Decimal { .. }
        | LogicalType::Float
        | LogicalType::Double
        | LogicalType::TimestampLtz(_) => true,
        LogicalType::Array(e) | LogicalType::Multiset(e) => needs_rewrite(e),
        LogicalType::Map(k, v) => needs_rewrite(k) || needs_rewrite(v),
        LogicalType::Row(fields) => fields.iter().any(|f| needs_rewrite(&f.data_type)),
        _ => false,
    }
}

/// `v` (of type `t`) with decimals, floats and TIMESTAMP_LTZ values replaced by Flink's text.
pub fn to_flink(v: Value, t: &DataType) -> Value {
    match (v, &t.logical) {
        (Value::Decimal(d), LogicalType::Decimal { scale, .. }) => {
            Value::String(big_decimal(d, *scale))
        }
        (Value::Float(f), _) => Value::String(java_float(f64::from(f), true)),
        (Value::Double(d), _) => Value::String(java_float(d, false)),
        (Value::Timestamp(ts), LogicalType::TimestampLtz(_)) => Value::String(instant(ts)),
        (Value::Array(items), LogicalType::Array(e)) => {
            Value::Array(items.into_iter().map(|x| to_flink(x, e)).collect())
        }
        (Value::Map(items), LogicalType::Map(k, v)) => Value::Map(
            items
                .into_iter()
                .map(|(a, b)| (to_flink(a, k), to_flink(b, v)))
                .collect(),
        ),
        (Value::Map(items), LogicalType::Multiset(e)) => Value::Map(
            items
                .into_iter()
                .map(|(a, b)| (to_flink(a, e), b))
                .collect(),
        ),
        (Value::Row(items), LogicalType::Row(fields)) => Value::Row(
            items
                .into_iter()
                .zip(fields.iter())
                .map(|(x, f)| to_flink(x, &f.data_type))
                .collect(),
        ),
        (other, _) => other,
    }
}

/// Java's `BigDecimal.toString()` of `unscaled × 10^-scale`.
pub fn big_decimal(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = i64::from(scale);
    let adjusted = digits.len() as i64 - 1 - scale;
    if adjusted >= -6 {
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        let s = scale as usize;
        let padded = format!("{digits:0>width$}", width = s + 1);
        let (int, frac) = padded.split_at(padded.len() - s);
        return format!("{sign}{int}.{frac}");
    }
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    format!("{sign}{first}{point}{rest}E{adjusted}")
}

/// Java's `Double.toString()` (or `Float.toString()` with `single`).
pub fn java_float(v: f64, single: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Shortest round-trip digits, as Java (JDK 19+) prints them.
    let sci = if single {
        format!("{:e}", (v as f32).abs())
    } else {
        format!("{:e}", v.abs())
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let e = exp as usize + 1;
            let int = format!("{digits:0<e$}");
            let (int, frac) = int.split_at(e);
            let frac = if frac.is_empty() { "0" } else { frac };
            format!("{sign}{int}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// Java's `Instant.toString()` (ISO-8601 in UTC, seconds always shown).
pub fn instant(ts: Timestamp) -> String {
    let nanos = (ts.millis.rem_euclid(1000) as u32) * 1_000_000 + ts.nanos_of_milli;
    let Some(dt) = chrono::DateTime::from_timestamp(ts.millis.div_euclid(1000), 0) else {
        return ts.millis.to_string();
    };
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1000 == 0 {
        format!(".{:06}", nanos / 1000)
    } else {
        format!(".{nanos:09}")
    };
    format!("{}{fraction}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_as_big_decimal() {
        assert_eq!(big_decimal(150, 2), "1.50");
        assert_eq!(big_decimal(-5, 2), "-0.05");
        assert_eq!(big_decimal(123, 0), "123");
        assert_eq!(big_decimal(0, 3), "0.000");
        assert_eq!(big_decimal(1, 7), "1E-7");
        assert_eq!(big_decimal(12, 9), "1.2E-8");
    }

    #[test]
    fn floats_as_java() {
        assert_eq!(java_float(1.5, false), "1.5");
        assert_eq!(java_float(100.0, false), "100.0");
        assert_eq!(java_float(1e7, false), "1.0E7");
        assert_eq!(java_float(1234567.0, false), "1234567.0");
        assert_eq!(java_float(0.001, false), "0.001");
        assert_eq!(java_float(0.0001, false), "1.0E-4");
        assert_eq!(java_float(-2.5e-10, false), "-2.5E-10");
        assert_eq!(java_float(f64::INFINITY, false), "Infinity");
        assert_eq!(java_float(f64::NAN, false), "NaN");
        assert_eq!(java_float(-0.0, false), "-0.0");
        assert_eq!(java_float(f64::from(0.1f32), true), "0.1");
        assert_eq!(java_float(f64::from(f32::MAX), true), "3.4028235E38");
        assert_eq!(java_float(f64::MAX, false), "1.7976931348623157E308");
    }

    #[test]
    fn instants() {
        assert_eq!(
            instant(Timestamp::from_millis(1_704_067_200_000)),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            instant(Timestamp::from_millis(-1)),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            instant(Timestamp {
                millis: 0,
                nanos_of_milli: 1000
            }),
            "1970-01-01T00:00:00.000001Z"
        );
    }
}
