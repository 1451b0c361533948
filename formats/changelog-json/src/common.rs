//! What the three envelopes share: rows decoded by the json format's decoder, row kinds, format
//! metadata columns, the error policy, and envelope encoding around the json format's encoder.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use arrow::array::{ArrayRef, Int8Array, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatchOptions;
use serde::de::value::MapDeserializer;
use serde::de::DeserializeSeed as _;
use serde_json::de::StrRead;
use serde_json::value::RawValue;

use headrace_format_json::{DecodeConfig, JsonDecoder, JsonEncoder};
use headrace_sdk::changelog::{ChangelogBatch, RowKind};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::factory::MetadataSpec;
use headrace_sdk::format::{format_metadata_schema, Decoder, Encoder};
use headrace_sdk::{Error, Result};

/// A reason a record cannot be decoded, naming the field where possible.
pub(crate) type Reason = String;

/// Rows being decoded: the physical columns (by the json format's decoder), the kind of each
/// row, and the requested metadata columns (by a second json decoder fed a small object per row).
pub(crate) struct Rows {
    physical: JsonDecoder,
    kinds: Vec<RowKind>,
    meta: Option<MetaColumns>,
    schema: SchemaRef,
}

/// The metadata columns: decoded from `{"<path>": <raw value>, ...}` objects; timestamps are read
/// as BIGINT epoch milliseconds and cast at the end.
struct MetaColumns {
    decoder: JsonDecoder,
    /// The JSON name of each metadata column (its place in the envelope, for error messages).
    names: Vec<&'static str>,
    /// The final Arrow field of each metadata column.
    fields: Vec<Field>,
    scratch: String,
}

/// One metadata key a format offers: what Flink declares for it, and where it is found in the
/// envelope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetaKey {
    /// The key, as in Flink.
    pub key: &'static str,
    /// The Flink type, as a type string.
    pub data_type: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The path in the envelope, used as the column's JSON name in errors (`source.ts_ms`).
    pub path: &'static str,
    /// Whether the value is epoch milliseconds for a TIMESTAMP_LTZ(3) column.
    pub epoch_millis: bool,
}

impl MetaKey {
    /// A key read as the JSON value at `path`.
    pub(crate) const fn new(
        key: &'static str,
        data_type: &'static str,
        path: &'static str,
        description: &'static str,
    ) -> MetaKey {
        MetaKey {
            key,
            data_type,
            description,
            path,
            epoch_millis: false,
        }
    }

    /// A TIMESTAMP_LTZ(3) key read from epoch milliseconds at `path`.
    pub(crate) const fn millis(
        key: &'static str,
        path: &'static str,
        description: &'static str,
    ) -> MetaKey {
        MetaKey {
            key,
            data_type: "TIMESTAMP_LTZ(3) NULL",
            description,
            path,
            epoch_millis: true,
        }
    }
}

/// `database`, as Canal and Maxwell offer it.
pub(crate) const DATABASE: MetaKey = MetaKey::new(
    "database",
    "STRING NULL",
    "database",
    "The originating database ('database').",
);

/// `table`, as Canal and Maxwell offer it.
pub(crate) const TABLE: MetaKey = MetaKey::new(
    "table",
    "STRING NULL",
    "table",
    "The originating table ('table').",
);

/// The metadata of a format's table, as the SDK declares it (readable, not writable).
pub(crate) fn specs(offered: &[MetaKey]) -> Vec<MetadataSpec> {
    offered
        .iter()
        .map(|m| MetadataSpec {
            key: m.key,
            data_type: m.data_type,
            description: m.description,
            readable: true,
            writable: false,
        })
        .collect()
}

impl Rows {
    /// Rows of `physical` followed by the metadata `keys` (among those `offered`), with the
    /// entry of `offered` of each key.
    pub(crate) fn new(
        format: &str,
        physical: SchemaRef,
        config: DecodeConfig,
        offered: &[MetaKey],
        keys: &[String],
    ) -> Result<(Rows, Vec<MetaKey>)> {
        let schema = format_metadata_schema(format, &physical, &specs(offered), keys)?;
        let mut slots = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                return Err(Error::Schema(format!(
                    "format '{format}': metadata key '{k}' was asked for twice; ask for each key once"
                )));
            }
            let slot = offered
                .iter()
                .find(|m| m.key == k)
                .copied()
                .ok_or_else(|| {
                    Error::internal(format!(
                        "format '{format}': no envelope place for metadata key '{k}'"
                    ))
                })?;
            slots.push(slot);
        }
        let meta = if keys.is_empty() {
            None
        } else {
            let n = physical.fields().len();
            let fields: Vec<Field> = schema.fields()[n..]
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let raw_fields: Vec<Field> = fields
                .iter()
                .zip(&slots)
                .map(|(f, s)| {
                    if s.epoch_millis {
                        Field::new(s.path, ArrowType::Int64, true)
                    } else {
                        f.clone().with_name(s.path)
                    }
                })
                .collect();
            Some(MetaColumns {
                decoder: JsonDecoder::new(Schema::new(raw_fields).into(), config)?,
                names: slots.iter().map(|s| s.path).collect(),
                fields,
                scratch: String::new(),
            })
        };
        Ok((
            Rows {
                physical: JsonDecoder::new(physical, config)?,
                kinds: Vec::new(),
                meta,
                schema,
            },
            slots,
        ))
    }

    /// Rows buffered.
    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether metadata columns were asked for.
    pub(crate) fn wants_metadata(&self) -> bool {
        self.meta.is_some()
    }

    /// Append one row from the JSON object `raw` found at envelope field `field`.
    pub(crate) fn push(&mut self, raw: &str, kind: RowKind, field: &str) -> Result<(), Reason> {
        let t = raw.trim_start();
        if !t.starts_with('{') {
            return Err(format!(
                "field '{field}': expected a JSON object holding the row, found {}",
                describe(t)
            ));
        }
        self.physical
            .decode_rows(raw.as_bytes())
            .map_err(|r| within(field, &r))?;
        self.kinds.push(kind);
        if self.physical.buffered_rows() != self.kinds.len() {
            return Err(format!(
                "field '{field}': expected exactly one row in the object"
            ));
        }
        Ok(())
    }

    /// Append one row from the fields of an object read before (see [`Entries`]), found at
    /// envelope field `at`.
    pub(crate) fn push_fields<'a>(
        &mut self,
        fields: impl Iterator<Item = (&'a str, &'a RawValue)>,
        kind: RowKind,
        at: At,
    ) -> Result<(), Reason> {
        let mut failure = None;
        let map = MapDeserializer::<_, serde_json::Error>::new(fields);
        if let Err(e) = self.physical.row_seed(&mut failure).deserialize(map) {
            return Err(within(
                &at.to_string(),
                &failure.unwrap_or_else(|| e.to_string()),
            ));
        }
        if !self.push_kinds(&[kind]) {
            return Err(format!(
                "field '{at}': expected exactly one row in the object"
            ));
        }
        Ok(())
    }

    /// A seed decoding the row object (or `null`: no row) a deserializer is at straight into the
    /// physical columns, for envelopes read in one pass; the row gets its kind later with
    /// [`Rows::push_kinds`]. A failure leaves no row behind.
    pub(crate) fn row_seed<'a>(
        &'a mut self,
        failure: &'a mut Option<String>,
    ) -> headrace_format_json::RowInPlace<'a> {
        self.physical.row_seed(failure)
    }

    /// Rows of the physical columns, including those decoded in place without a kind yet.
    pub(crate) fn physical_rows(&self) -> usize {
        self.physical.buffered_rows()
    }

    /// Give the rows decoded in place (see [`Rows::row_seed`]) their kinds, in order; false
    /// when their number does not match.
    pub(crate) fn push_kinds(&mut self, kinds: &[RowKind]) -> bool {
        if self.physical.buffered_rows() != self.kinds.len() + kinds.len() {
            return false;
        }
        self.kinds.extend_from_slice(kinds);
        true
    }

    /// Append the metadata values (raw JSON, None for absent) for the `rows` rows just pushed.
    pub(crate) fn push_meta(
        &mut self,
        values: &[Option<String>],
        rows: usize,
    ) -> Result<(), Reason> {
        let Some(m) = &mut self.meta else {
            return Ok(());
        };
        m.scratch.clear();
        m.scratch.push('{');
        for (i, (name, v)) in m.names.iter().zip(values).enumerate() {
            if i > 0 {
                m.scratch.push(',');
            }
            let _ = write!(m.scratch, "{}:", json_string(name));
            m.scratch.push_str(v.as_deref().unwrap_or("null"));
        }
        m.scratch.push('}');
        for _ in 0..rows {
            m.decoder.decode_rows(m.scratch.as_bytes())?;
        }
        Ok(())
    }

    /// Drop everything after the first `mark` rows (a record that failed halfway).
    pub(crate) fn rollback(&mut self, mark: usize) {
        self.kinds.truncate(mark);
        self.physical.truncate_rows(mark);
        if let Some(m) = &mut self.meta {
            m.decoder.truncate_rows(mark);
        }
    }

    /// The buffered rows as a changelog batch.
    pub(crate) fn finish(&mut self) -> Result<ChangelogBatch> {
        let rows = self.kinds.len();
        let phys = self.physical.finish()?;
        let mut columns: Vec<ArrayRef> = phys.batch.columns().to_vec();
        if let Some(m) = &mut self.meta {
            let meta = m.decoder.finish()?;
            for (col, f) in meta.batch.columns().iter().zip(&m.fields) {
                if col.data_type() == f.data_type() {
                    columns.push(col.clone());
                } else {
                    columns.push(arrow::compute::cast(col, f.data_type())?);
                }
            }
        }
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let kinds = Int8Array::from(self.kinds.drain(..).map(|k| k as i8).collect::<Vec<_>>());
        Ok(ChangelogBatch {
            batch,
            kinds: Some(kinds),
        })
    }
}

/// Prefix the field named in a json decoder error with the envelope field.
fn within(field: &str, reason: &str) -> Reason {
    match reason.strip_prefix("field '") {
        Some(rest) => format!("field '{field}.{rest}"),
        None => format!("field '{field}': {reason}"),
    }
}

/// A short description of a JSON value for errors.
pub(crate) fn describe(raw: &str) -> String {
    let t = raw.trim();
    match t.as_bytes().first() {
        None => "nothing".into(),
        Some(b'n') => "null".into(),
        Some(b'[') => "an array".into(),
        Some(b'{') => "an object".into(),
        Some(b'"') => format!("the string {}", clip(t)),
        _ => clip(t),
    }
}

fn clip(s: &str) -> String {
    if s.len() <= 40 {
        return s.to_string();
    }
    let mut end = 40;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The text of a scalar value as Jackson's `asText` gives it (strings unquoted, numbers and
/// booleans as written), "" for null, objects and arrays.
pub(crate) fn as_text(raw: Option<&RawValue>) -> String {
    let Some(r) = raw else {
        return String::new();
    };
    let t = r.get().trim();
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t).unwrap_or_default();
    }
    if t == "null" || t.starts_with('{') || t.starts_with('[') {
        return String::new();
    }
    t.to_string()
}

/// Raw JSON for a metadata value (absent stays None).
pub(crate) fn raw_of(raw: Option<&RawValue>) -> Option<String> {
    raw.map(|r| r.get().to_string())
}

/// Parse the envelope object `bytes` (`what` names it in errors, `envelope` is "Debezium" etc.).
/// Only a JSON object is accepted (serde would read a struct from an array too).
pub(crate) fn envelope<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
    envelope: &str,
) -> Result<T, Reason> {
    envelope_with(bytes, what, envelope, |de| T::deserialize(de))
}

/// [`envelope`] with the object read by `read`.
pub(crate) fn envelope_with<'a, T>(
    bytes: &'a [u8],
    what: &str,
    envelope: &str,
    read: impl FnOnce(&mut serde_json::Deserializer<StrRead<'a>>) -> serde_json::Result<T>,
) -> Result<T, Reason> {
    let s = std::str::from_utf8(bytes).map_err(|e| format!("{what} is not UTF-8: {e}"))?;
    if !s.trim_start().starts_with('{') {
        return Err(format!(
            "{what} is not a {envelope} JSON object; found {}",
            describe(s)
        ));
    }
    let mut de = serde_json::Deserializer::from_str(s);
    read(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            format!(
                "{what} is not a {envelope} JSON object ({e}); found {}",
                describe(s)
            )
        })
}

/// The elements of a JSON array.
pub(crate) fn array_elements<'a>(
    raw: &'a RawValue,
    field: &str,
) -> Result<Vec<&'a RawValue>, Reason> {
    serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_err(|e| {
        format!(
            "field '{field}': expected an array of row objects, found {} ({e})",
            describe(raw.get())
        )
    })
}

/// A field of the envelope, for errors: `data`, or `data[2]` for an element of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(pub &'static str, pub Option<usize>);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(i) => write!(f, "{}[{i}]", self.0),
            None => f.write_str(self.0),
        }
    }
}

/// An envelope field that is absent or `null` as None.
pub(crate) fn not_null(r: Option<&RawValue>) -> Option<&RawValue> {
    r.filter(|r| r.get().trim() != "null")
}

/// The string value of the envelope field `name` (`type`, `op`).
pub(crate) fn string_field(raw: Option<&RawValue>, name: &str) -> Result<String, Reason> {
    match not_null(raw) {
        None => Err(format!("field '{name}' is missing or null")),
        Some(r) => serde_json::from_str::<String>(r.get()).map_err(|_| {
            format!(
                "field '{name}': expected a string, found {}",
                describe(r.get())
            )
        }),
    }
}

/// The fields of a JSON object in order, a later duplicate replacing the earlier value.
pub(crate) struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Entries<'a> {
    /// The object at envelope field `at`, which must be `what` (for the error).
    pub(crate) fn of(raw: &'a RawValue, at: At, what: &str) -> Result<Entries<'a>, Reason> {
        serde_json::from_str(raw.get()).map_err(|e| {
            format!(
                "field '{at}': expected {what}, found {} ({e})",
                describe(raw.get())
            )
        })
    }

    /// The fields, for [`Rows::push_fields`].
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v))
    }
}

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> serde::de::Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
        let mut out: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(k) = map.next_key_seed(Key)? {
            let v: &'de RawValue = map.next_value()?;
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some(e) => e.1 = v,
                None => out.push((k, v)),
            }
        }
        Ok(Entries(out))
    }
}

/// A set of object keys: a short list (the usual few changed columns), a hash set past that.
#[derive(Default)]
pub(crate) struct Keys<'a> {
    few: Vec<Cow<'a, str>>,
    many: HashSet<Cow<'a, str>>,
}

impl<'a> Keys<'a> {
    /// Every object key anywhere in `objects`, at any depth (what Jackson's `findValue` on the
    /// whole `old` part of a message would find).
    pub(crate) fn anywhere(objects: &[Entries<'a>]) -> Keys<'a> {
        let mut keys = Keys::default();
        for (k, v) in objects.iter().flat_map(|o| &o.0) {
            keys.insert(k.clone());
            if v.get().trim_start().starts_with(['{', '[']) {
                let mut de = serde_json::Deserializer::from_str(v.get());
                // Already read as JSON once: no error here.
                let _ = serde::de::DeserializeSeed::deserialize(KeyWalker(&mut keys), &mut de);
            }
        }
        keys
    }

    fn insert(&mut self, k: Cow<'a, str>) {
        if self.contains(&k) {
            return;
        }
        if self.few.len() < 16 {
            self.few.push(k);
        } else {
            self.many.insert(k);
        }
    }

    /// Whether `k` is in the set.
    pub(crate) fn contains(&self, k: &str) -> bool {
        self.few.iter().any(|f| f == k) || (!self.many.is_empty() && self.many.contains(k))
    }
}

/// Collects the object keys of a JSON value, at any depth, without building the value.
struct KeyWalker<'k, 'a>(&'k mut Keys<'a>);

impl<'a> serde::de::DeserializeSeed<'a> for KeyWalker<'_, 'a> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> serde::de::Visitor<'a> for KeyWalker<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(KeyWalker(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(Key)? {
            self.0.insert(k);
            map.next_value_seed(KeyWalker(&mut *self.0))?;
        }
        Ok(())
    }
}

/// The next field of an envelope object that is one of `keys`, as its place in `keys` (the
/// others are skipped); a field given twice is an error, as with serde's derived structs.
pub(crate) fn next_field<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    keys: &[&str],
    seen: &mut [bool],
) -> Result<Option<usize>, A::Error> {
    while let Some(key) = map.next_key_seed(Key)? {
        let Some(i) = keys.iter().position(|k| *k == key) else {
            map.next_value::<serde::de::IgnoredAny>()?;
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(serde::de::Error::custom(format_args!(
                "duplicate field `{key}`"
            )));
        }
        return Ok(Some(i));
    }
    Ok(None)
}

/// An object key, borrowed from the input unless it has escapes.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// The two rows of one updated row, as Flink builds them for Canal and Maxwell: `+U` from `data`,
/// and before it `-U` from `old`, where a field keeps its value in `old` when it has one there, a
/// field named nowhere in the message's whole `old` part (`changed`, from [`Keys::anywhere`]) did
/// not change and takes its value in `data`, and any other field is null.
pub(crate) fn push_update(
    rows: &mut Rows,
    old: (&Entries<'_>, At),
    data: (&Entries<'_>, At),
    changed: &Keys<'_>,
) -> Result<(), Reason> {
    let unchanged = data.0.iter().filter(|(k, _)| !changed.contains(k));
    rows.push_fields(old.0.iter().chain(unchanged), RowKind::UpdateBefore, old.1)?;
    rows.push_fields(data.0.iter(), RowKind::UpdateAfter, data.1)
}

/// One envelope: how a record becomes rows.
pub(crate) trait Envelope: Send {
    /// The format identifier, for errors.
    const FORMAT: &'static str;
    /// Decode one non-empty record, pushing its rows (and their metadata) into `rows`. Returning
    /// Ok without rows skips the record (filtered out, or an event without rows).
    fn decode(&mut self, record: &[u8], rows: &mut Rows) -> Result<(), Reason>;
}

/// A decoder for one envelope, with the error policy of `ignore-parse-errors`.
pub(crate) struct ChangelogDecoder<E> {
    pub(crate) envelope: E,
    pub(crate) rows: Rows,
    pub(crate) ignore_parse_errors: bool,
    pub(crate) skipped: u64,
}

impl<E: Envelope> Decoder for ChangelogDecoder<E> {
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        // Tombstones (a Kafka record with a null or empty value) carry no change, as in Flink.
        if record.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let mark = self.rows.len();
        match self.envelope.decode(record, &mut self.rows) {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.rows.rollback(mark);
                if self.ignore_parse_errors {
                    self.skipped += 1;
                    tracing::debug!(format = E::FORMAT, %origin, %reason, "skipping a record that cannot be decoded");
                    Ok(())
                } else {
                    Err(Error::BadRecord {
                        format: E::FORMAT.to_string(),
                        origin: origin.clone(),
                        reason: format!(
                            "{reason} (set '{}.ignore-parse-errors' = 'true' to skip such records)",
                            E::FORMAT
                        ),
                    })
                }
            }
        }
    }

    fn buffered_rows(&self) -> usize {
        self.rows.len()
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        self.rows.finish()
    }

    fn skipped_records(&self) -> u64 {
        self.skipped
    }
}

/// Writes each changelog row inside an envelope around the json format's text of the row.
pub(crate) struct EnvelopeEncoder<F> {
    pub(crate) json: JsonEncoder,
    pub(crate) wrap: F,
    pub(crate) rows: Vec<Vec<u8>>,
    pub(crate) out: Vec<u8>,
}

impl<F> Encoder for EnvelopeEncoder<F>
where
    F: FnMut(RowKind, &[u8], &mut Vec<u8>) + Send,
{
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.rows.clear();
        let rows = &mut self.rows;
        self.json.encode(batch, &mut |_, bytes| {
            rows.push(bytes.to_vec());
            Ok(())
        })?;
        for (i, row) in self.rows.iter().enumerate() {
            self.out.clear();
            (self.wrap)(batch.kind(i), row, &mut self.out);
            emit(i, &self.out)?;
        }
        Ok(())
    }
}
