//! Resolution of the per-field options (`fields.#.*`) into a generation plan, with validation.

use std::collections::BTreeMap;

use headrace_sdk::error::did_you_mean;
use headrace_sdk::options::{OptionValue, Options};
use headrace_sdk::schema::TableSchema;
use headrace_sdk::types::{DataType, LogicalType};

use crate::error::DatagenError;
use crate::options::FieldKind;

/// Default string/bytes length (Flink's `RANDOM_STRING_LENGTH_DEFAULT`).
pub const DEFAULT_STRING_LENGTH: u32 = 100;
/// Default ARRAY/MAP/MULTISET size (Flink's `RANDOM_COLLECTION_LENGTH_DEFAULT`).
pub const DEFAULT_COLLECTION_LENGTH: u32 = 3;

const KIND: &str = "kind";
const MIN: &str = "min";
const MAX: &str = "max";
const MAX_PAST: &str = "max-past";
const LENGTH: &str = "length";
const VAR_LEN: &str = "var-len";
const START: &str = "start";
const END: &str = "end";
const NULL_RATE: &str = "null-rate";
const SUFFIXES: [&str; 9] = [
    KIND, MIN, MAX, MAX_PAST, LENGTH, VAR_LEN, START, END, NULL_RATE,
];

/// How one field (a column or a nested field) is generated.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPlan {
    /// The field path as written in option keys (`buyer.first_name`, `tags.element`).
    pub path: String,
    /// The field's type.
    pub data_type: DataType,
    /// The share of NULLs, 0 to 1.
    pub null_rate: f64,
    /// The generator.
    pub spec: GenSpec,
}

/// A generator with its resolved parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum GenSpec {
    /// Random BOOLEAN.
    Boolean,
    /// Random TINYINT..BIGINT in `min..=max`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// Random FLOAT/DOUBLE in `min..max`.
    Float {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Random DECIMAL with unscaled values in `min..=max`.
    Decimal {
        /// Smallest unscaled value.
        min: i128,
        /// Largest unscaled value.
        max: i128,
    },
    /// Random hexadecimal strings (CHAR/VARCHAR/STRING), as Flink's `nextHexString`.
    Chars {
        /// The length (the maximum with `var_len`).
        len: u32,
        /// Lengths uniform in `1..=len`.
        var_len: bool,
    },
    /// Random bytes (BINARY/VARBINARY/BYTES).
    Bytes {
        /// The length (the maximum with `var_len`).
        len: u32,
        /// Lengths uniform in `1..=len`.
        var_len: bool,
    },
    /// The current date.
    Date,
    /// The current time of day.
    Time,
    /// The current timestamp minus a random duration up to `max_past_ms`.
    Timestamp {
        /// `fields.#.max-past` in milliseconds.
        max_past_ms: i64,
    },
    /// An ARRAY of `len` random elements.
    Array {
        /// Number of elements.
        len: u32,
        /// The element generator.
        element: Box<FieldPlan>,
    },
    /// A MAP of up to `len` entries (duplicate keys are dropped).
    Map {
        /// Number of entries generated (before dropping duplicate keys).
        len: u32,
        /// The key generator.
        key: Box<FieldPlan>,
        /// The value generator.
        value: Box<FieldPlan>,
    },
    /// A MULTISET of up to `len` distinct elements, each with a count in 1..=10.
    Multiset {
        /// Number of elements generated (before dropping duplicates).
        len: u32,
        /// The element generator.
        element: Box<FieldPlan>,
    },
    /// A ROW of random fields.
    Row {
        /// One plan per field.
        fields: Vec<FieldPlan>,
    },
    /// A sequence: row index `i` gets `start + i` (in steps of 1), for `count` rows.
    Sequence {
        /// The first value.
        start: SeqStart,
        /// How many values the sequence has.
        count: u64,
    },
}

/// The first value of a sequence, by type family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqStart {
    /// Integers, strings (the number as text) and bytes (the text's bytes).
    Int(i64),
    /// FLOAT and DOUBLE.
    Float(f64),
    /// DECIMAL: unscaled start and the unscaled value of 1.
    Decimal {
        /// Unscaled start.
        start: i128,
        /// Unscaled step (10^scale).
        step: i128,
    },
}

/// The plan of every physical column.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// One per physical column, in order.
    pub columns: Vec<FieldPlan>,
    /// The length of the shortest sequence, if any field is a sequence.
    pub sequence_rows: Option<u64>,
}

#[derive(Debug, Clone)]
struct PathInfo {
    data_type: DataType,
    top_level: bool,
    /// Why the field can never be NULL besides NOT NULL (map keys, multiset elements).
    never_null: Option<&'static str>,
}

fn walk(
    path: String,
    dt: &DataType,
    top_level: bool,
    never_null: Option<&'static str>,
    out: &mut BTreeMap<String, PathInfo>,
) {
    match &dt.logical {
        LogicalType::Array(e) => walk(format!("{path}.element"), e, false, None, out),
        LogicalType::Multiset(e) => walk(
            format!("{path}.element"),
            e,
            false,
            Some("multiset elements are map keys in Arrow and cannot be NULL"),
            out,
        ),
        LogicalType::Map(k, v) => {
            walk(
                format!("{path}.key"),
                k,
                false,
                Some("map keys cannot be NULL"),
                out,
            );
            walk(format!("{path}.value"), v, false, None, out);
        }
        LogicalType::Row(fields) => {
            for f in fields {
                walk(format!("{path}.{}", f.name), &f.data_type, false, None, out);
            }
        }
        _ => {}
    }
    out.insert(
        path,
        PathInfo {
            data_type: dt.clone(),
            top_level,
            never_null,
        },
    );
}

/// Split `fields.<path>.<suffix>` into path and suffix.
pub(crate) fn split_field_key(key: &str) -> Option<(&str, &'static str)> {
    let rest = key.strip_prefix("fields.")?;
    SUFFIXES.iter().find_map(|s| {
        let path = rest.strip_suffix(s)?.strip_suffix('.')?;
        (!path.is_empty()).then_some((path, *s))
    })
}

struct Resolver<'a> {
    context: &'a str,
    /// (path, suffix) -> (key, value)
    opts: BTreeMap<(String, &'static str), (String, String)>,
}

fn key_of(path: &str, suffix: &str) -> String {
    format!("fields.{path}.{suffix}")
}

fn int_range(t: &LogicalType) -> Option<(i64, i64)> {
    Some(match t {
        LogicalType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
        LogicalType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        LogicalType::Int => (i32::MIN.into(), i32::MAX.into()),
        LogicalType::BigInt => (i64::MIN, i64::MAX),
        _ => return None,
    })
}

fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// Parse a decimal literal into an unscaled value with `scale` digits after the point that fits
/// `precision` digits.
pub(crate) fn parse_decimal(s: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let t = s.trim();
    let hint =
        format!("expected a decimal number such as '12.5' that fits DECIMAL({precision}, {scale})");
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(hint);
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        return Err(format!(
            "'{t}' has more than {scale} digits after the point; DECIMAL({precision}, {scale}) \
             keeps {scale}"
        ));
    }
    let mut v: i128 = 0;
    for c in int.chars().chain(
        frac_trimmed
            .chars()
            .chain(std::iter::repeat('0'))
            .take(scale as usize),
    ) {
        let d = i128::from(c as u8 - b'0');
        v = v
            .checked_mul(10)
            .and_then(|x| x.checked_add(d))
            .ok_or_else(|| hint.clone())?;
    }
    if v > pow10(u32::from(precision)) - 1 {
        return Err(format!(
            "'{t}' does not fit DECIMAL({precision}, {scale}) (at most {} digits before the point)",
            precision - scale
        ));
    }
    Ok(if neg { -v } else { v })
}

/// Render an unscaled decimal with `scale` digits after the point.
pub(crate) fn format_decimal(v: i128, scale: u8) -> String {
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

impl<'a> Resolver<'a> {
    fn raw(&self, path: &str, suffix: &'static str) -> Option<(&str, &str)> {
        self.opts
            .get(&(path.to_string(), suffix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn invalid(&self, key: &str, value: &str, reason: impl Into<String>) -> DatagenError {
        DatagenError::InvalidValue {
            context: self.context.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn typed<T: OptionValue>(
        &self,
        path: &str,
        suffix: &'static str,
    ) -> Result<Option<T>, DatagenError> {
        match self.raw(path, suffix) {
            None => Ok(None),
            Some((k, v)) => T::parse_option(v)
                .map(Some)
                .map_err(|r| self.invalid(k, v, r)),
        }
    }

    fn not_applicable(&self, path: &str, suffix: &str, dt: &DataType, fix: String) -> DatagenError {
        DatagenError::NotApplicable {
            context: self.context.to_string(),
            key: key_of(path, suffix),
            field: path.to_string(),
            data_type: dt.to_string(),
            fix,
        }
    }

    fn int_value(
        &self,
        path: &str,
        suffix: &'static str,
        lo: i64,
        hi: i64,
        dt: &DataType,
    ) -> Result<Option<i64>, DatagenError> {
        let Some((k, v)) = self.raw(path, suffix) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
            _ => Err(self.invalid(
                k,
                v,
                format!("expected a whole number between {lo} and {hi} (the range of {dt})"),
            )),
        }
    }

    fn float_value(
        &self,
        path: &str,
        suffix: &'static str,
        limit: f64,
        dt: &DataType,
    ) -> Result<Option<f64>, DatagenError> {
        let Some((k, v)) = self.raw(path, suffix) else {
            return Ok(None);
        };
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x.abs() <= limit => Ok(Some(x)),
            _ => Err(self.invalid(
                k,
                v,
                format!(
                    "expected a finite number between {} and {limit:e} (the range of {dt})",
                    -limit
                ),
            )),
        }
    }

    fn decimal_value(
        &self,
        path: &str,
        suffix: &'static str,
        p: u8,
        s: u8,
    ) -> Result<Option<i128>, DatagenError> {
        let Some((k, v)) = self.raw(path, suffix) else {
            return Ok(None);
        };
        parse_decimal(v, p, s)
            .map(Some)
            .map_err(|r| self.invalid(k, v, r))
    }

    fn check_order<T: PartialOrd + std::fmt::Display>(
        &self,
        path: &str,
        (lo_s, lo): (&'static str, T),
        (hi_s, hi): (&'static str, T),
        show: impl Fn(&T) -> String,
    ) -> Result<(), DatagenError> {
        if lo > hi {
            let shown = |s, v: &T| match self.raw(path, s) {
                Some((_, raw)) => format!("= '{raw}'"),
                None => format!("(not set: default {}, as in Flink)", show(v)),
            };
            return Err(DatagenError::BoundsReversed {
                context: self.context.to_string(),
                low_key: key_of(path, lo_s),
                low: shown(lo_s, &lo),
                high_key: key_of(path, hi_s),
                high: shown(hi_s, &hi),
            });
        }
        Ok(())
    }

    fn length(&self, path: &str, default: u32) -> Result<u32, DatagenError> {
        match self.typed::<i32>(path, LENGTH)? {
            None => Ok(default),
            Some(n) if n >= 0 => Ok(n as u32),
            Some(n) => {
                let k = key_of(path, LENGTH);
                Err(self.invalid(&k, &n.to_string(), "the length must be 0 or more"))
            }
        }
    }

    /// Check that every option set for `path` applies to its type and kind.
    fn check_applicable(
        &self,
        path: &str,
        info: &PathInfo,
        kind: FieldKind,
    ) -> Result<(), DatagenError> {
        let dt = &info.data_type;
        let t = &dt.logical;
        let numeric = dt.is_numeric();
        for suffix in SUFFIXES {
            if self.raw(path, suffix).is_none() {
                continue;
            }
            let fix: Option<String> = match (kind, suffix) {
                (_, KIND) if !info.top_level => Some(
                    "fields inside ARRAY, MAP, MULTISET and ROW are always random; set the kind \
                     of a top-level column only, or remove the option"
                        .into(),
                ),
                (_, KIND | NULL_RATE) => None,
                (FieldKind::Sequence, START | END) => None,
                (FieldKind::Sequence, _) => Some(format!(
                    "it only applies to random fields, and 'fields.{path}.kind' is 'sequence' \
                     (a sequence runs from 'fields.{path}.start' to 'fields.{path}.end'); remove \
                     the option or the kind"
                )),
                (FieldKind::Random, START | END) => Some(format!(
                    "it only applies to sequences; add 'fields.{path}.kind' = 'sequence' or remove \
                     the option"
                )),
                (FieldKind::Random, MIN | MAX) if !numeric => Some(
                    "'min' and 'max' only apply to numeric types (TINYINT, SMALLINT, INT, BIGINT, \
                     FLOAT, DOUBLE, DECIMAL); remove the option"
                        .into(),
                ),
                (FieldKind::Random, MAX_PAST)
                    if !matches!(t, LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_)) =>
                {
                    Some(
                        "'max-past' only applies to TIMESTAMP and TIMESTAMP_LTZ fields; remove the \
                         option"
                            .into(),
                    )
                }
                (FieldKind::Random, LENGTH) => match t {
                    LogicalType::Char(_) | LogicalType::Binary(_) => Some(
                        "custom length for fixed-length types (CHAR/BINARY) is not supported: \
                         CHAR(n) and BINARY(n) always have length n; change the declared length \
                         or remove the option"
                            .into(),
                    ),
                    LogicalType::VarChar(_)
                    | LogicalType::VarBinary(_)
                    | LogicalType::Array(_)
                    | LogicalType::Map(_, _)
                    | LogicalType::Multiset(_) => None,
                    _ => Some(
                        "'length' only applies to VARCHAR, STRING, VARBINARY, BYTES, ARRAY, MAP \
                         and MULTISET fields; remove the option"
                            .into(),
                    ),
                },
                (FieldKind::Random, VAR_LEN)
                    if !matches!(t, LogicalType::VarChar(_) | LogicalType::VarBinary(_)) =>
                {
                    Some(
                        "'var-len' only applies to variable-length types (VARCHAR, STRING, \
                         VARBINARY, BYTES); remove the option"
                            .into(),
                    )
                }
                _ => None,
            };
            if let Some(fix) = fix {
                return Err(self.not_applicable(path, suffix, dt, fix));
            }
        }
        Ok(())
    }

    fn resolve(
        &self,
        path: &str,
        paths: &BTreeMap<String, PathInfo>,
    ) -> Result<FieldPlan, DatagenError> {
        let info = paths.get(path).ok_or_else(|| DatagenError::UnknownField {
            context: self.context.to_string(),
            key: path.to_string(),
            field: path.to_string(),
            suggestion: String::new(),
            available: String::new(),
        })?;
        let dt = &info.data_type;
        let kind = if info.top_level {
            self.typed::<FieldKind>(path, KIND)?
                .unwrap_or(FieldKind::Random)
        } else {
            FieldKind::Random
        };
        self.check_applicable(path, info, kind)?;

        let null_rate = match self.typed::<f64>(path, NULL_RATE)? {
            None => 0.0,
            Some(r) if (0.0..=1.0).contains(&r) => r,
            Some(r) => {
                let k = key_of(path, NULL_RATE);
                return Err(self.invalid(
                    &k,
                    &r.to_string(),
                    "expected a proportion between 0 and 1, e.g. 0.1",
                ));
            }
        };
        if null_rate > 0.0 {
            if !dt.nullable {
                return Err(self.not_applicable(
                    path,
                    NULL_RATE,
                    dt,
                    "the field is declared NOT NULL; set the null rate to 0 or drop NOT NULL from \
                     the type"
                        .into(),
                ));
            }
            if let Some(why) = info.never_null {
                return Err(self.not_applicable(
                    path,
                    NULL_RATE,
                    dt,
                    format!("{why}; remove the option"),
                ));
            }
        }

        let spec = match kind {
            FieldKind::Sequence => self.sequence(path, dt)?,
            FieldKind::Random => self.random(path, dt, paths)?,
        };
        Ok(FieldPlan {
            path: path.to_string(),
            data_type: dt.clone(),
            null_rate,
            spec,
        })
    }

    fn sequence(&self, path: &str, dt: &DataType) -> Result<GenSpec, DatagenError> {
        let t = &dt.logical;
        let supported = dt.is_numeric()
            || matches!(
                t,
                LogicalType::Char(_)
                    | LogicalType::VarChar(_)
                    | LogicalType::Binary(_)
                    | LogicalType::VarBinary(_)
            );
        if !supported {
            return Err(DatagenError::KindMismatch {
                context: self.context.to_string(),
                key: key_of(path, KIND),
                field: path.to_string(),
                data_type: dt.to_string(),
                fix: "a sequence works for numeric types (TINYINT, SMALLINT, INT, BIGINT, FLOAT, \
                      DOUBLE, DECIMAL), strings (CHAR, VARCHAR, STRING) and bytes (BINARY, \
                      VARBINARY, BYTES); use 'random' (the default) for this field"
                    .into(),
            });
        }
        for s in [START, END] {
            if self.raw(path, s).is_none() {
                return Err(DatagenError::MissingSequenceBound {
                    context: self.context.to_string(),
                    field: path.to_string(),
                    missing: key_of(path, s),
                });
            }
        }
        let (start, count) = match t {
            LogicalType::Float | LogicalType::Double => {
                let limit = if *t == LogicalType::Float {
                    f64::from(f32::MAX)
                } else {
                    f64::MAX
                };
                let (Some(a), Some(b)) = (
                    self.float_value(path, START, limit, dt)?,
                    self.float_value(path, END, limit, dt)?,
                ) else {
                    return Err(self.internal_missing(path));
                };
                self.check_order(path, (START, a), (END, b), |v| format!("{v:e}"))?;
                let span = (b - a).floor();
                let count = if span >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    span as u64 + 1
                };
                (SeqStart::Float(a), count)
            }
            LogicalType::Decimal { precision, scale } => {
                let (Some(a), Some(b)) = (
                    self.decimal_value(path, START, *precision, *scale)?,
                    self.decimal_value(path, END, *precision, *scale)?,
                ) else {
                    return Err(self.internal_missing(path));
                };
                self.check_order(path, (START, a), (END, b), |v| format_decimal(*v, *scale))?;
                let step = pow10(u32::from(*scale));
                let n = (b - a) / step + 1;
                (
                    SeqStart::Decimal { start: a, step },
                    u64::try_from(n).unwrap_or(u64::MAX),
                )
            }
            other => {
                let (lo, hi) = int_range(other).unwrap_or((i64::MIN, i64::MAX));
                let (Some(a), Some(b)) = (
                    self.int_value(path, START, lo, hi, dt)?,
                    self.int_value(path, END, lo, hi, dt)?,
                ) else {
                    return Err(self.internal_missing(path));
                };
                self.check_order(path, (START, a), (END, b), |v| v.to_string())?;
                let n = i128::from(b) - i128::from(a) + 1;
                (SeqStart::Int(a), u64::try_from(n).unwrap_or(u64::MAX))
            }
        };
        Ok(GenSpec::Sequence { start, count })
    }

    fn internal_missing(&self, path: &str) -> DatagenError {
        DatagenError::MissingSequenceBound {
            context: self.context.to_string(),
            field: path.to_string(),
            missing: key_of(path, START),
        }
    }

    fn string_length(
        &self,
        path: &str,
        declared: u32,
        fixed: bool,
        dt: &DataType,
    ) -> Result<(u32, bool), DatagenError> {
        if fixed {
            return Ok((declared, false));
        }
        let len = self.length(path, DEFAULT_STRING_LENGTH.min(declared))?;
        if len > declared {
            return Err(self.invalid(
                &key_of(path, LENGTH),
                &len.to_string(),
                format!(
                    "custom length {len} for variable-length type {dt} should be at most {declared}, \
                     the length declared in the schema"
                ),
            ));
        }
        let var_len = self.typed::<bool>(path, VAR_LEN)?.unwrap_or(false);
        Ok((len, var_len))
    }

    fn random(
        &self,
        path: &str,
        dt: &DataType,
        paths: &BTreeMap<String, PathInfo>,
    ) -> Result<GenSpec, DatagenError> {
        Ok(match &dt.logical {
            LogicalType::Boolean => GenSpec::Boolean,
            t @ (LogicalType::TinyInt
            | LogicalType::SmallInt
            | LogicalType::Int
            | LogicalType::BigInt) => {
                let (lo, hi) = int_range(t).unwrap_or((i64::MIN, i64::MAX));
                let min = self.int_value(path, MIN, lo, hi, dt)?.unwrap_or(lo);
                let max = self.int_value(path, MAX, lo, hi, dt)?.unwrap_or(hi);
                self.check_order(path, (MIN, min), (MAX, max), |v| v.to_string())?;
                GenSpec::Int { min, max }
            }
            t @ (LogicalType::Float | LogicalType::Double) => {
                // Flink's defaults: the smallest positive value (Java's MIN_VALUE) to the largest.
                let (limit, tiny) = if *t == LogicalType::Float {
                    (f64::from(f32::MAX), f64::from(f32::from_bits(1)))
                } else {
                    (f64::MAX, f64::from_bits(1))
                };
                let min = self.float_value(path, MIN, limit, dt)?.unwrap_or(tiny);
                let max = self.float_value(path, MAX, limit, dt)?.unwrap_or(limit);
                self.check_order(path, (MIN, min), (MAX, max), |v| format!("{v:e}"))?;
                GenSpec::Float { min, max }
            }
            LogicalType::Decimal { precision, scale } => {
                // Flink's default range is [Double.MIN_VALUE, largest value of the type].
                let largest = pow10(u32::from(*precision)) - 1;
                let min = self
                    .decimal_value(path, MIN, *precision, *scale)?
                    .unwrap_or(0);
                let max = self
                    .decimal_value(path, MAX, *precision, *scale)?
                    .unwrap_or(largest);
                self.check_order(path, (MIN, min), (MAX, max), |v| format_decimal(*v, *scale))?;
                GenSpec::Decimal { min, max }
            }
            LogicalType::Char(n) => GenSpec::Chars {
                len: *n,
                var_len: false,
            },
            LogicalType::VarChar(n) => {
                let (len, var_len) = self.string_length(path, *n, false, dt)?;
                GenSpec::Chars { len, var_len }
            }
            LogicalType::Binary(n) => GenSpec::Bytes {
                len: *n,
                var_len: false,
            },
            LogicalType::VarBinary(n) => {
                let (len, var_len) = self.string_length(path, *n, false, dt)?;
                GenSpec::Bytes { len, var_len }
            }
            LogicalType::Date => GenSpec::Date,
            LogicalType::Time(_) => GenSpec::Time,
            LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_) => {
                let past = self
                    .typed::<std::time::Duration>(path, MAX_PAST)?
                    .unwrap_or_default();
                GenSpec::Timestamp {
                    max_past_ms: i64::try_from(past.as_millis()).unwrap_or(i64::MAX),
                }
            }
            LogicalType::Array(_) => GenSpec::Array {
                len: self.length(path, DEFAULT_COLLECTION_LENGTH)?,
                element: Box::new(self.resolve(&format!("{path}.element"), paths)?),
            },
            LogicalType::Multiset(_) => GenSpec::Multiset {
                len: self.length(path, DEFAULT_COLLECTION_LENGTH)?,
                element: Box::new(self.resolve(&format!("{path}.element"), paths)?),
            },
            LogicalType::Map(_, _) => GenSpec::Map {
                len: self.length(path, DEFAULT_COLLECTION_LENGTH)?,
                key: Box::new(self.resolve(&format!("{path}.key"), paths)?),
                value: Box::new(self.resolve(&format!("{path}.value"), paths)?),
            },
            LogicalType::Row(fields) => GenSpec::Row {
                fields: fields
                    .iter()
                    .map(|f| self.resolve(&format!("{path}.{}", f.name), paths))
                    .collect::<Result<_, _>>()?,
            },
        })
    }
}

/// Resolve the `fields.#.*` options for the physical columns of `schema`.
pub fn resolve_plan(options: &Options, schema: &TableSchema) -> Result<Plan, DatagenError> {
    let mut paths = BTreeMap::new();
    for c in schema.physical_columns() {
        walk(c.name.clone(), &c.data_type, true, None, &mut paths);
    }
    let mut opts = BTreeMap::new();
    for (key, value) in options.raw() {
        let Some((path, suffix)) = split_field_key(key) else {
            continue;
        };
        if !paths.contains_key(path) {
            let columns: Vec<&str> = schema.physical_columns().map(|c| c.name.as_str()).collect();
            let mut suggestion = did_you_mean(path, paths.keys().map(String::as_str));
            if suggestion.is_empty() {
                // A nested path under a misspelt column: suggest the column.
                if let Some(head) = path.split('.').next() {
                    suggestion = did_you_mean(head, columns.iter().copied());
                }
            }
            let available = if paths.is_empty() {
                "none (the table has no physical columns)".to_string()
            } else {
                paths.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            return Err(DatagenError::UnknownField {
                context: options.context().to_string(),
                key: key.clone(),
                field: path.to_string(),
                suggestion,
                available,
            });
        }
        opts.insert((path.to_string(), suffix), (key.clone(), value.clone()));
    }
    let r = Resolver {
        context: options.context(),
        opts,
    };
    let columns = schema
        .physical_columns()
        .map(|c| r.resolve(&c.name, &paths))
        .collect::<Result<Vec<_>, _>>()?;
    let sequence_rows = columns
        .iter()
        .filter_map(|c| match c.spec {
            GenSpec::Sequence { count, .. } => Some(count),
            _ => None,
        })
        .min();
    Ok(Plan {
        columns,
        sequence_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.5", 10, 2), Ok(1250));
        assert_eq!(parse_decimal("-0.01", 10, 2), Ok(-1));
        assert_eq!(parse_decimal("7", 3, 0), Ok(7));
        assert_eq!(parse_decimal("1.500", 5, 1), Ok(15));
        assert!(parse_decimal("1.25", 5, 1)
            .unwrap_err()
            .contains("1 digits"));
        assert!(parse_decimal("1000", 5, 2)
            .unwrap_err()
            .contains("does not fit"));
        assert!(parse_decimal("abc", 5, 2).is_err());
        assert!(parse_decimal("-", 5, 2).is_err());
        assert_eq!(format_decimal(-1, 2), "-0.01");
        assert_eq!(format_decimal(12345, 2), "123.45");
        assert_eq!(format_decimal(7, 0), "7");
    }

    #[test]
    fn field_keys() {
        assert_eq!(split_field_key("fields.a.kind"), Some(("a", "kind")));
        assert_eq!(
            split_field_key("fields.a.b.max-past"),
            Some(("a.b", "max-past"))
        );
        assert_eq!(split_field_key("fields.a.max"), Some(("a", "max")));
        assert_eq!(split_field_key("fields..max"), None);
        assert_eq!(split_field_key("rows-per-second"), None);
    }
}
