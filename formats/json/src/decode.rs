//! JSON bytes to Arrow rows: serde visitors that write straight into the column buffers.

use std::fmt;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatchOptions;
use base64::Engine;
use serde::de::{
    self, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde_json::value::RawValue;

use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::Decoder;
use headrace_sdk::{Error, Result};

use crate::column::{offset, Col, Data, Lookup};
use crate::text::{self, DecimalError};
use crate::{TimestampStandard, FORMAT};

/// Lenient base64: standard alphabet, padding optional.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The `visit_*` methods of a nested-value visitor (list, map, row) for JSON scalars, which such a
/// column never accepts: each is a type mismatch naming the column's type.
macro_rules! reject_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
            Err(mismatch(Unexpected::Bool(v), &self.col.type_name))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
            Err(mismatch(Unexpected::Signed(v), &self.col.type_name))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
            Err(mismatch(Unexpected::Unsigned(v), &self.col.type_name))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
            Err(mismatch(Unexpected::Float(v), &self.col.type_name))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
            Err(mismatch(Unexpected::Str(v), &self.col.type_name))
        }
    };
}

/// How the decoder reads records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeConfig {
    /// Fail when a field of the schema is absent from the record (else it is NULL).
    pub fail_on_missing_field: bool,
    /// Skip records that cannot be decoded instead of failing.
    pub ignore_parse_errors: bool,
    /// How TIMESTAMP and TIMESTAMP_LTZ values are written.
    pub timestamp_standard: TimestampStandard,
    /// Read a field of an object whose value does not fit its type as NULL (when the column is
    /// nullable) instead of failing the record, as Flink's JSON deserializer does with
    /// `ignore-parse-errors`. Off by default; the `json` format leaves it off (it skips the whole
    /// record), the changelog formats turn it on with their `ignore-parse-errors`.
    pub null_on_bad_field: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            fail_on_missing_field: false,
            ignore_parse_errors: false,
            timestamp_standard: TimestampStandard::Sql,
            null_on_bad_field: false,
        }
    }
}

/// Decoding state shared by the visitors.
struct Cx {
    fail_on_missing: bool,
    null_on_bad_field: bool,
    iso: bool,
    /// Where the current error happened, innermost first.
    path: Vec<String>,
}

/// Decodes JSON records (one object, or an array of objects, per record) into Arrow rows.
pub struct JsonDecoder {
    schema: SchemaRef,
    root: Col,
    cx: Cx,
    ignore_parse_errors: bool,
    skipped: u64,
}

impl fmt::Debug for JsonDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonDecoder")
            .field("schema", &self.schema)
            .field("buffered_rows", &self.root.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl JsonDecoder {
    /// A decoder producing rows of `schema` (an Arrow schema from the SDK's type mapping).
    pub fn new(schema: SchemaRef, config: DecodeConfig) -> Result<Self> {
        Ok(JsonDecoder {
            root: Col::root(schema.fields())?,
            schema,
            cx: Cx {
                fail_on_missing: config.fail_on_missing_field,
                null_on_bad_field: config.null_on_bad_field,
                iso: config.timestamp_standard == TimestampStandard::Iso8601,
                path: Vec::new(),
            },
            ignore_parse_errors: config.ignore_parse_errors,
            skipped: 0,
        })
    }

    /// How many records were skipped because of `ignore-parse-errors`.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Decode one JSON value (an object, an array of objects, or `null`) into buffered rows,
    /// without the format's error policy: on failure the rows it added are dropped and the reason,
    /// naming the field (`field 'a.b': ...`), is returned. For formats that carry JSON rows inside
    /// an envelope (the changelog formats).
    pub fn decode_rows(&mut self, json: &[u8]) -> std::result::Result<(), String> {
        let before = self.root.len();
        let r = self.decode_inner(json);
        if r.is_err() {
            self.root.truncate(before);
        }
        r
    }

    /// A seed that decodes the JSON object a `serde_json` deserializer is at into one buffered
    /// row (or no row for `null`), for formats that read rows in the same pass as the envelope
    /// around them. On failure the row is dropped and the reason, naming the field as
    /// [`JsonDecoder::decode_rows`] does, is left in `failure`.
    pub fn row_seed<'a>(&'a mut self, failure: &'a mut Option<String>) -> RowInPlace<'a> {
        RowInPlace {
            decoder: self,
            failure,
        }
    }

    /// Drop the buffered rows after the first `rows` (nothing when fewer are buffered).
    pub fn truncate_rows(&mut self, rows: usize) {
        if rows < self.root.len() {
            self.root.truncate(rows);
        }
    }

    fn decode_inner(&mut self, record: &[u8]) -> std::result::Result<(), String> {
        self.cx.path.clear();
        let mut de = serde_json::Deserializer::from_slice(record);
        let r = RootSeed {
            col: &mut self.root,
            cx: &mut self.cx,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        r.map_err(|e| {
            let path = render_path(&self.cx.path);
            if path.is_empty() {
                e.to_string()
            } else {
                format!("field '{path}': {e}")
            }
        })
    }
}

fn render_path(segs: &[String]) -> String {
    let mut s = String::new();
    for seg in segs.iter().rev() {
        if !s.is_empty() && !seg.starts_with('[') {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}

impl Decoder for JsonDecoder {
    fn skipped_records(&self) -> u64 {
        self.skipped
    }

    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        let before = self.root.len();
        match self.decode_inner(record) {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.root.truncate(before);
                if self.ignore_parse_errors {
                    self.skipped += 1;
                    tracing::debug!(%origin, %reason, "json: skipping a record that cannot be decoded");
                    Ok(())
                } else {
                    Err(Error::BadRecord {
                        format: FORMAT.to_string(),
                        origin: origin.clone(),
                        reason,
                    })
                }
            }
        }
    }

    fn buffered_rows(&self) -> usize {
        self.root.len()
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        let rows = self.root.len();
        let columns = self.root.finish_root()?;
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        Ok(ChangelogBatch::inserts(batch))
    }
}

/// Decodes one row in place, inside a larger JSON document (see [`JsonDecoder::row_seed`]).
pub struct RowInPlace<'a> {
    decoder: &'a mut JsonDecoder,
    failure: &'a mut Option<String>,
}

impl fmt::Debug for RowInPlace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowInPlace").finish_non_exhaustive()
    }
}

impl<'de> DeserializeSeed<'de> for RowInPlace<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        let dec = self.decoder;
        dec.cx.path.clear();
        let before = dec.root.len();
        let r = d.deserialize_any(RootVisitor {
            col: &mut dec.root,
            cx: &mut dec.cx,
            allow_array: false,
        });
        if let Err(e) = &r {
            dec.root.truncate(before);
            let path = render_path(&dec.cx.path);
            *self.failure = Some(if path.is_empty() {
                e.to_string()
            } else {
                format!("field '{path}': {e}")
            });
        }
        r
    }
}

/// The whole record: an object (one row), an array of objects (a row each) or `null` (no row).
struct RootSeed<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(RootVisitor {
            col: self.col,
            cx: self.cx,
            allow_array: true,
        })
    }
}

struct RootVisitor<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
    allow_array: bool,
}

impl<'de> Visitor<'de> for RootVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (or an array of objects) holding the row")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        fill_struct(self.col, self.cx, map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        if !self.allow_array {
            return Err(A::Error::invalid_type(Unexpected::Seq, &self));
        }
        while seq
            .next_element_seed(RowSeed {
                col: self.col,
                cx: self.cx,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}

struct RowSeed<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(RootVisitor {
            col: self.col,
            cx: self.cx,
            allow_array: false,
        })
    }
}

/// Fill one struct value (a row, or a ROW field) from a JSON object.
fn fill_struct<'de, A: MapAccess<'de>>(
    col: &mut Col,
    cx: &mut Cx,
    mut map: A,
) -> std::result::Result<(), A::Error> {
    let Col { data, validity, .. } = col;
    let Data::Struct {
        lookup, children, ..
    } = data
    else {
        return Err(A::Error::custom("internal error: not a struct column"));
    };
    let row = validity.len();
    let mut hint = 0usize;
    while let Some(key) = map.next_key_seed(KeySeed { lookup, hint })? {
        let Some(i) = key else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        let Some(child) = children.get_mut(i) else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        if child.len() > row {
            // a duplicate key: the last one wins
            child.truncate(row);
        }
        if cx.null_on_bad_field {
            // Take the value's text first (syntax errors still fail the record), then decode it
            // on its own: a value that does not fit becomes NULL, as in Flink.
            let raw = map.next_value::<&'de RawValue>()?;
            let before = child.len();
            let path_len = cx.path.len();
            let mut de = serde_json::Deserializer::from_str(raw.get());
            if let Err(e) = (ValueSeed { col: child, cx }).deserialize(&mut de) {
                child.truncate(before);
                cx.path.truncate(path_len);
                if !child.nullable {
                    cx.path.push(lookup.names[i].to_string());
                    return Err(A::Error::custom(e));
                }
                child.push_null();
            }
        } else if let Err(e) = map.next_value_seed(ValueSeed { col: child, cx }) {
            cx.path.push(lookup.names[i].to_string());
            return Err(e);
        }
        hint = i + 1;
    }
    for (i, c) in children.iter_mut().enumerate() {
        if c.len() == row {
            if cx.fail_on_missing {
                cx.path.push(lookup.names[i].to_string());
                return Err(A::Error::custom(
                    "the field is missing and 'json.fail-on-missing-field' is true",
                ));
            }
            if !c.nullable {
                cx.path.push(lookup.names[i].to_string());
                return Err(A::Error::custom(format_args!(
                    "the field is missing but its type {} is NOT NULL",
                    c.type_name
                )));
            }
            c.push_null();
        }
    }
    validity.append(true);
    Ok(())
}

/// A key of an object: the position of the schema field it names, if any.
struct KeySeed<'a> {
    lookup: &'a Lookup,
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Option<usize>, E> {
        Ok(self.lookup.find(v, self.hint))
    }
}

/// One value into one column.
struct ValueSeed<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        match self.col.data {
            Data::Decimal { .. } => {
                let raw = <&'de RawValue as de::Deserialize>::deserialize(d)?;
                decimal_from_raw(self.col, raw.get())
            }
            Data::Struct { .. } => d.deserialize_any(StructVisitor {
                col: self.col,
                cx: self.cx,
            }),
            Data::List { .. } => d.deserialize_any(ListVisitor {
                col: self.col,
                cx: self.cx,
            }),
            Data::Map { .. } => d.deserialize_any(MapVisitor {
                col: self.col,
                cx: self.cx,
            }),
            _ => d.deserialize_any(Leaf {
                col: self.col,
                iso: self.cx.iso,
            }),
        }
    }
}

fn null_into<E: de::Error>(col: &mut Col) -> std::result::Result<(), E> {
    if col.nullable {
        col.push_null();
        Ok(())
    } else {
        Err(E::custom(format_args!(
            "null for a value of type {} NOT NULL",
            col.type_name
        )))
    }
}

fn mismatch<E: de::Error>(found: Unexpected<'_>, type_name: &str) -> E {
    E::custom(format_args!("expected {type_name}, found {found}"))
}

fn describe_raw(raw: &str) -> Unexpected<'_> {
    match raw.as_bytes().first() {
        Some(b'{') => Unexpected::Map,
        Some(b'[') => Unexpected::Seq,
        Some(b't') => Unexpected::Bool(true),
        Some(b'f') => Unexpected::Bool(false),
        _ => Unexpected::Other(raw),
    }
}

fn decimal_from_raw<E: de::Error>(col: &mut Col, raw: &str) -> std::result::Result<(), E> {
    if raw == "null" {
        return null_into(col);
    }
    let text: std::borrow::Cow<'_, str> = match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(raw)
            .map(Into::into)
            .map_err(E::custom)?,
        Some(b'-' | b'0'..=b'9') => raw.into(),
        _ => return Err(mismatch(describe_raw(raw), &col.type_name)),
    };
    let Data::Decimal {
        vals,
        precision,
        scale,
    } = &mut col.data
    else {
        return Err(E::custom("internal error: not a decimal column"));
    };
    match text::parse_decimal(&text, *precision, *scale) {
        Ok(v) => {
            vals.push(v);
            col.validity.append(true);
            Ok(())
        }
        Err(DecimalError::Syntax) => Err(E::custom(format_args!(
            "cannot read {text:?} as {}",
            col.type_name
        ))),
        Err(DecimalError::Overflow) => Err(E::custom(format_args!(
            "{text} does not fit {}",
            col.type_name
        ))),
    }
}

/// A scalar value.
struct Leaf<'a> {
    col: &'a mut Col,
    iso: bool,
}

fn push_bytes<E: de::Error>(
    offsets: &mut Vec<i32>,
    data: &mut Vec<u8>,
    b: &[u8],
) -> std::result::Result<(), E> {
    data.extend_from_slice(b);
    offsets.push(offset(data.len()).map_err(E::custom)?);
    Ok(())
}

fn int_from<T: TryFrom<i128>, E: de::Error>(v: i128, type_name: &str) -> std::result::Result<T, E> {
    T::try_from(v).map_err(|_| E::custom(format_args!("{v} is out of range for {type_name}")))
}

/// Append a value given as text (a JSON string, or an object key) to a scalar column.
pub(crate) fn push_text<E: de::Error>(
    col: &mut Col,
    s: &str,
    iso: bool,
) -> std::result::Result<(), E> {
    let Col {
        data,
        validity,
        type_name,
        ..
    } = col;
    let bad = || E::custom(format_args!("cannot read {s:?} as {type_name}"));
    match data {
        Data::Bytes {
            offsets,
            data,
            binary: false,
        } => push_bytes(offsets, data, s.as_bytes())?,
        Data::Bytes {
            offsets,
            data,
            binary: true,
        } => {
            let before = data.len();
            if BASE64.decode_vec(s, data).is_err() {
                data.truncate(before);
                return Err(E::custom(format_args!(
                    "cannot read {s:?} as {type_name}: not valid base64"
                )));
            }
            offsets.push(offset(data.len()).map_err(E::custom)?);
        }
        Data::Bool(b) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                b.append(true)
            } else if t.eq_ignore_ascii_case("false") {
                b.append(false)
            } else {
                return Err(bad());
            }
        }
        Data::I8(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::I16(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::I32(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::I64(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::F32(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::F64(v) => v.push(s.trim().parse().map_err(|_| bad())?),
        Data::Decimal {
            vals,
            precision,
            scale,
        } => match text::parse_decimal(s, *precision, *scale) {
            Ok(x) => vals.push(x),
            Err(DecimalError::Syntax) => return Err(bad()),
            Err(DecimalError::Overflow) => {
                return Err(E::custom(format_args!("{s} does not fit {type_name}")))
            }
        },
        Data::Date(v) => v.push(text::parse_date(s).ok_or_else(|| {
            E::custom(format_args!(
                "cannot read {s:?} as DATE: expected the form 'yyyy-MM-dd'"
            ))
        })?),
        Data::Time32(v, unit) => {
            let t = text::parse_time(s, *unit).and_then(|t| i32::try_from(t).ok());
            v.push(t.ok_or_else(|| {
                E::custom(format_args!(
                    "cannot read {s:?} as {type_name}: expected the form 'HH:mm:ss[.fff]'"
                ))
            })?)
        }
        Data::Time64(v, unit) => v.push(text::parse_time(s, *unit).ok_or_else(|| {
            E::custom(format_args!(
                "cannot read {s:?} as {type_name}: expected the form 'HH:mm:ss[.ffffff]'"
            ))
        })?),
        Data::Timestamp { vals, unit, ltz } => {
            let t = text::parse_timestamp(s, iso, *ltz, *unit).ok_or_else(|| {
                let form = match (iso, *ltz) {
                    (false, false) => "'yyyy-MM-dd HH:mm:ss[.fff]'",
                    (false, true) => "'yyyy-MM-dd HH:mm:ss[.fff]Z'",
                    (true, false) => "'yyyy-MM-ddTHH:mm:ss[.fff]'",
                    (true, true) => "'yyyy-MM-ddTHH:mm:ss[.fff]Z'",
                };
                let std = if iso { "ISO-8601" } else { "SQL" };
                E::custom(format_args!(
                    "cannot read {s:?} as {type_name}: expected the form {form} \
                     ('json.timestamp-format.standard' is '{std}'), within the range of the type"
                ))
            })?;
            vals.push(t)
        }
        Data::List { .. } | Data::Map { .. } | Data::Struct { .. } => {
            return Err(mismatch(Unexpected::Str(s), type_name))
        }
    }
    validity.append(true);
    Ok(())
}

impl Leaf<'_> {
    fn int<E: de::Error>(self, v: i128, found: Unexpected<'_>) -> std::result::Result<(), E> {
        let Col {
            data,
            validity,
            type_name,
            ..
        } = self.col;
        match data {
            Data::I8(x) => x.push(int_from(v, type_name)?),
            Data::I16(x) => x.push(int_from(v, type_name)?),
            Data::I32(x) => x.push(int_from(v, type_name)?),
            Data::I64(x) => x.push(int_from(v, type_name)?),
            Data::F32(x) => x.push(v as f32),
            Data::F64(x) => x.push(v as f64),
            Data::Bytes {
                offsets,
                data,
                binary: false,
            } => {
                let _ = write!(data, "{v}");
                offsets.push(offset(data.len()).map_err(E::custom)?);
            }
            _ => return Err(mismatch(found, type_name)),
        }
        validity.append(true);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Leaf<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of type {}", self.col.type_name)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        let Col {
            data,
            validity,
            type_name,
            ..
        } = self.col;
        match data {
            Data::Bool(b) => b.append(v),
            Data::Bytes {
                offsets,
                data,
                binary: false,
            } => push_bytes(offsets, data, if v { b"true" } else { b"false" })?,
            _ => return Err(mismatch(Unexpected::Bool(v), type_name)),
        }
        validity.append(true);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.int(i128::from(v), Unexpected::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        self.int(i128::from(v), Unexpected::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        if matches!(
            self.col.data,
            Data::I8(_) | Data::I16(_) | Data::I32(_) | Data::I64(_)
        ) {
            if v.fract() != 0.0 || !v.is_finite() || v.abs() >= 1.8e19 {
                return Err(E::custom(format_args!(
                    "{v} is not a whole number within the range of {}",
                    self.col.type_name
                )));
            }
            return self.int(v as i128, Unexpected::Float(v));
        }
        let Col {
            data,
            validity,
            type_name,
            ..
        } = self.col;
        match data {
            Data::F32(x) => x.push(v as f32),
            Data::F64(x) => x.push(v),
            Data::Bytes {
                offsets,
                data,
                binary: false,
            } => {
                let mut b = ryu::Buffer::new();
                push_bytes(offsets, data, b.format(v).as_bytes())?
            }
            _ => return Err(mismatch(Unexpected::Float(v), type_name)),
        }
        validity.append(true);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        push_text(self.col, v, self.iso)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        null_into(self.col)
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        null_into(self.col)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        self.container(|out| Echo(out).visit_seq(seq), Unexpected::Seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        self.container(|out| Echo(out).visit_map(map), Unexpected::Map)
    }
}

impl Leaf<'_> {
    /// A JSON array or object where a scalar is expected: kept as its JSON text for strings (as
    /// Flink does), an error otherwise.
    fn container<E: de::Error>(
        self,
        echo: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), E>,
        found: Unexpected<'_>,
    ) -> std::result::Result<(), E> {
        let Col {
            data,
            validity,
            type_name,
            ..
        } = self.col;
        match data {
            Data::Bytes {
                offsets,
                data,
                binary: false,
            } => {
                echo(data)?;
                offsets.push(offset(data.len()).map_err(E::custom)?);
                validity.append(true);
                Ok(())
            }
            _ => Err(mismatch(found, type_name)),
        }
    }
}

/// Re-writes a JSON value compactly (for a STRING column given an array or object).
struct Echo<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Echo<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Echo<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        serde_json::to_writer(&mut *self.0, &v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        serde_json::to_writer(&mut *self.0, v).map_err(E::custom)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        self.0.push(b'[');
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.push(b',');
            }
            if seq.next_element_seed(Echo(&mut *self.0))?.is_none() {
                self.0.truncate(mark);
                break;
            }
            first = false;
        }
        self.0.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        self.0.push(b'{');
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.push(b',');
            }
            if map.next_key_seed(Echo(&mut *self.0))?.is_none() {
                self.0.truncate(mark);
                break;
            }
            self.0.push(b':');
            map.next_value_seed(Echo(&mut *self.0))?;
            first = false;
        }
        self.0.push(b'}');
        Ok(())
    }
}

/// A ROW value.
struct StructVisitor<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

impl<'de> Visitor<'de> for StructVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object for {}", self.col.type_name)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        fill_struct(self.col, self.cx, map)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        null_into(self.col)
    }
    reject_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> std::result::Result<(), A::Error> {
        Err(mismatch(Unexpected::Seq, &self.col.type_name))
    }
}

/// An ARRAY value.
struct ListVisitor<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array for {}", self.col.type_name)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let Col { data, validity, .. } = self.col;
        let Data::List { offsets, child, .. } = data else {
            return Err(A::Error::custom("internal error: not a list column"));
        };
        let mut i = 0usize;
        loop {
            match seq.next_element_seed(ValueSeed {
                col: child,
                cx: self.cx,
            }) {
                Ok(Some(())) => i += 1,
                Ok(None) => break,
                Err(e) => {
                    self.cx.path.push(format!("[{i}]"));
                    return Err(e);
                }
            }
        }
        offsets.push(offset(child.len()).map_err(A::Error::custom)?);
        validity.append(true);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        null_into(self.col)
    }
    reject_scalars!();
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> std::result::Result<(), A::Error> {
        Err(mismatch(Unexpected::Map, &self.col.type_name))
    }
}

/// A MAP or MULTISET value.
struct MapVisitor<'a> {
    col: &'a mut Col,
    cx: &'a mut Cx,
}

/// A map key into the key column.
struct MapKeySeed<'a> {
    col: &'a mut Col,
    iso: bool,
}

impl<'de> DeserializeSeed<'de> for MapKeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MapKeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        push_text(self.col, v, self.iso)
            .map_err(|e: E| E::custom(format_args!("map key {v:?}: {e}")))
    }
}

impl<'de> Visitor<'de> for MapVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object for {}", self.col.type_name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let Col { data, validity, .. } = self.col;
        let Data::Map {
            offsets,
            keys,
            values,
            ..
        } = data
        else {
            return Err(A::Error::custom("internal error: not a map column"));
        };
        let iso = self.cx.iso;
        while map.next_key_seed(MapKeySeed { col: keys, iso })?.is_some() {
            if let Err(e) = map.next_value_seed(ValueSeed {
                col: values,
                cx: self.cx,
            }) {
                self.cx
                    .path
                    .push(format!("[{}]", keys.len().saturating_sub(1)));
                return Err(e);
            }
        }
        offsets.push(offset(keys.len()).map_err(A::Error::custom)?);
        validity.append(true);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        null_into(self.col)
    }
    reject_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> std::result::Result<(), A::Error> {
        Err(mismatch(Unexpected::Seq, &self.col.type_name))
    }
}
