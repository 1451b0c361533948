//! # JSON format
//!
//! `'format' = 'json'`: each record is one JSON object whose fields are the columns, as in Flink's
//! JSON format. A record may also be a JSON array of objects (one row each) or `null` (no row).
//!
//! | Flink type | JSON |
//! |---|---|
//! | BOOLEAN | `true` / `false` (the strings `"true"` / `"false"` are read too) |
//! | TINYINT, SMALLINT, INT, BIGINT | number (numeric strings are read too) |
//! | FLOAT, DOUBLE | number; NaN and infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | DECIMAL | number, written like Java's `BigDecimal.toString()` (or plain with `encode.decimal-as-plain-number`), rounded half up to the scale when read |
//! | CHAR, VARCHAR, STRING | string (an array or object read into a string column is kept as its JSON text) |
//! | BINARY, VARBINARY, BYTES | base64 string |
//! | DATE | `"2026-11-25"` |
//! | TIME | `"12:34:56"`, with the fraction (trailing zeros dropped) when it is not zero |
//! | TIMESTAMP | `"2026-11-25 12:34:56.123"` (SQL) or `"2026-11-25T12:34:56.123"` (ISO-8601) |
//! | TIMESTAMP_LTZ | the same in UTC followed by `Z` |
//! | ARRAY | array |
//! | MAP, MULTISET | object (keys are text; a multiset's values are the counts) |
//! | ROW | object |
//!
//! The SDK maps TIMESTAMP_LTZ to the same Arrow type as TIMESTAMP; the format treats a column as
//! TIMESTAMP_LTZ when its Arrow timestamp has a time zone or its field metadata
//! [`FLINK_TYPE_METADATA_KEY`] says so.
//!
//! | Option | Default | Type | Description |
//! |---|---|---|---|
//! | `json.fail-on-missing-field` | `false` | Boolean | Fail when a field is absent. |
//! | `json.ignore-parse-errors` | `false` | Boolean | Skip records that cannot be decoded. |
//! | `json.timestamp-format.standard` | `SQL` | Enum | `SQL` or `ISO-8601`. |
//! | `json.map-null-key.mode` | `FAIL` | Enum | `FAIL`, `DROP` or `LITERAL`. |
//! | `json.map-null-key.literal` | `null` | String | Key written for NULL keys in `LITERAL` mode. |
//! | `json.encode.decimal-as-plain-number` | `false` | Boolean | Never use exponents for decimals. |
//! | `json.encode.ignore-null-fields` | `false` | Boolean | Leave out NULL fields. |

mod column;
mod decode;
mod encode;
mod text;

use std::sync::Arc;

use headrace_sdk::changelog::ChangelogMode;
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, OptionSet};
use headrace_sdk::Result;

pub use column::FLINK_TYPE_METADATA_KEY;
pub use decode::{DecodeConfig, JsonDecoder, RowInPlace};
pub use encode::{EncodeConfig, JsonEncoder};

/// The format identifier.
pub const FORMAT: &str = "json";

headrace_sdk::option_enum! {
    /// How TIMESTAMP and TIMESTAMP_LTZ values are written and read.
    pub enum TimestampStandard {
        /// `2026-11-25 12:34:56.123` (and `...Z` for TIMESTAMP_LTZ).
        Sql = "SQL",
        /// `2026-11-25T12:34:56.123` (and `...Z` for TIMESTAMP_LTZ).
        Iso8601 = "ISO-8601",
    }
}

headrace_sdk::option_enum! {
    /// What the encoder does with a NULL key of a MAP.
    pub enum MapNullKeyMode {
        /// Fail the write.
        Fail = "FAIL",
        /// Leave the entry out.
        Drop = "DROP",
        /// Write the entry under the key given by `map-null-key.literal`.
        Literal = "LITERAL",
    }
}

/// `json.fail-on-missing-field`.
pub const FAIL_ON_MISSING_FIELD: ConfigOption<bool> = ConfigOption::new("fail-on-missing-field")
    .default_value("false")
    .description(
        "When reading, treat a record that lacks one of the table's fields as an error; \
         otherwise the absent field reads as NULL.",
    );

/// `json.ignore-parse-errors`.
pub const IGNORE_PARSE_ERRORS: ConfigOption<bool> = ConfigOption::new("ignore-parse-errors")
    .default_value("false")
    .description(
        "When reading, drop records that are not valid JSON or whose values do not fit the \
         table's types, instead of stopping the job; every dropped record is counted in the \
         job's skipped-record metric. (Flink instead keeps such a record with the bad field \
         set to NULL, which loses the value without a trace; Headrace drops and counts the \
         whole record.)",
    );

/// `json.timestamp-format.standard`.
pub const TIMESTAMP_FORMAT_STANDARD: ConfigOption<TimestampStandard> =
    ConfigOption::new("timestamp-format.standard")
        .default_value("SQL")
        .description(
            "Text form of TIMESTAMP and TIMESTAMP_LTZ values, read and written: 'SQL' puts a \
             space between date and time (2026-11-25 12:34:56.123), 'ISO-8601' a 'T' \
             (2026-11-25T12:34:56.123). TIMESTAMP_LTZ values are in UTC and end with 'Z'.",
        );

/// `json.map-null-key.mode`.
pub const MAP_NULL_KEY_MODE: ConfigOption<MapNullKeyMode> = ConfigOption::new("map-null-key.mode")
    .default_value("FAIL")
    .description(
        "When writing a MAP with a NULL key: 'FAIL' stops with an error, 'DROP' leaves the \
         entry out, 'LITERAL' writes it under the key set by 'map-null-key.literal'.",
    );

/// `json.map-null-key.literal`.
pub const MAP_NULL_KEY_LITERAL: ConfigOption<String> = ConfigOption::new("map-null-key.literal")
    .default_value("null")
    .description(
        "The object key written for a NULL map key when 'map-null-key.mode' is 'LITERAL'.",
    );

/// `json.encode.decimal-as-plain-number`.
pub const ENCODE_DECIMAL_AS_PLAIN_NUMBER: ConfigOption<bool> =
    ConfigOption::new("encode.decimal-as-plain-number")
        .default_value("false")
        .description(
            "When writing, spell DECIMAL values out in full (0.0000001) rather than with an \
             exponent (1E-7), which is used for very small magnitudes otherwise.",
        );

/// `json.encode.ignore-null-fields`.
pub const ENCODE_IGNORE_NULL_FIELDS: ConfigOption<bool> =
    ConfigOption::new("encode.ignore-null-fields")
        .default_value("false")
        .description(
            "When writing, leave fields whose value is NULL out of the object instead of writing \
             them as null.",
        );

/// The `json` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFormatFactory;

impl JsonFormatFactory {
    /// The decoder settings given by `ctx`'s options.
    pub fn decode_config(ctx: &FormatContext) -> Result<DecodeConfig> {
        let o = &ctx.options;
        let c = DecodeConfig {
            fail_on_missing_field: o.get(&FAIL_ON_MISSING_FIELD)?,
            ignore_parse_errors: o.get(&IGNORE_PARSE_ERRORS)?,
            timestamp_standard: o.get(&TIMESTAMP_FORMAT_STANDARD)?,
            null_on_bad_field: false,
        };
        if c.fail_on_missing_field && c.ignore_parse_errors {
            return Err(o.conflict(
                "'json.fail-on-missing-field' and 'json.ignore-parse-errors' cannot both be true; \
                 a missing field would fail and be ignored at once",
            ));
        }
        Ok(c)
    }

    /// The encoder settings given by `ctx`'s options.
    pub fn encode_config(ctx: &FormatContext) -> Result<EncodeConfig> {
        let o = &ctx.options;
        Ok(EncodeConfig {
            timestamp_standard: o.get(&TIMESTAMP_FORMAT_STANDARD)?,
            map_null_key_mode: o.get(&MAP_NULL_KEY_MODE)?,
            map_null_key_literal: o.get(&MAP_NULL_KEY_LITERAL)?,
            decimal_as_plain_number: o.get(&ENCODE_DECIMAL_AS_PLAIN_NUMBER)?,
            ignore_null_fields: o.get(&ENCODE_IGNORE_NULL_FIELDS)?,
        })
    }

    /// A decoder with its concrete type (for [`JsonDecoder::skipped`]).
    pub fn json_decoder(ctx: &FormatContext) -> Result<JsonDecoder> {
        JsonDecoder::new(ctx.schema.clone(), Self::decode_config(ctx)?)
    }

    /// An encoder with its concrete type.
    pub fn json_encoder(ctx: &FormatContext) -> Result<JsonEncoder> {
        JsonEncoder::new(ctx.schema.clone(), Self::encode_config(ctx)?)
    }
}

impl FormatFactory for JsonFormatFactory {
    fn identifier(&self) -> &'static str {
        FORMAT
    }

    fn description(&self) -> &'static str {
        "JSON objects, one per record, with fields named after the columns (Flink's 'json')"
    }

    fn options(&self) -> OptionSet {
        OptionSet::new()
            .optional(FAIL_ON_MISSING_FIELD)
            .optional(IGNORE_PARSE_ERRORS)
            .optional(TIMESTAMP_FORMAT_STANDARD)
            .optional(MAP_NULL_KEY_MODE)
            .optional(MAP_NULL_KEY_LITERAL)
            .optional(ENCODE_DECIMAL_AS_PLAIN_NUMBER)
            .optional(ENCODE_IGNORE_NULL_FIELDS)
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Ok(Box::new(Self::json_decoder(ctx)?))
    }

    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Ok(Box::new(Self::json_encoder(ctx)?))
    }
}

headrace_sdk::register_format!(JsonFormatFactory);

/// The json format factory, for runners that register formats explicitly.
pub fn factory() -> Arc<dyn FormatFactory> {
    Arc::new(JsonFormatFactory)
}
