//! The `csv` format, following Flink's: one record is one CSV line whose fields map, by position,
//! to the physical columns of the table.
//!
//! # Types
//!
//! Values are written and read as Flink's CSV format writes them:
//!
//! | Flink type | text |
//! |---|---|
//! | `BOOLEAN` | `true` / `false` (reading: `true` in any case is true, anything else false) |
//! | `TINYINT` .. `BIGINT` | decimal digits (surrounding whitespace ignored) |
//! | `FLOAT`, `DOUBLE` | Java's `Float.toString`/`Double.toString` form (`1.0E10`, `NaN`, `Infinity`) |
//! | `DECIMAL(p, s)` | Java's `BigDecimal` text; read values are rounded half-up to `s`, and a value with more than `p` digits becomes NULL (as in Flink) |
//! | `CHAR`, `VARCHAR`, `STRING` | the text as is |
//! | `BINARY`, `VARBINARY`, `BYTES` | standard base64 with padding |
//! | `DATE` | `yyyy-MM-dd` (reading also accepts one-digit month and day) |
//! | `TIME(0..3)` | `HH:mm:ss[.fff]` (reading also accepts `HH:mm`); `TIME(4..9)` is rejected, as in Flink |
//! | `TIMESTAMP(p)` | `yyyy-MM-dd HH:mm:ss[.fffffffff]` |
//! | `TIMESTAMP_LTZ(p)` | the same followed by `Z` (UTC) |
//! | `ARRAY<t>` | the elements joined by `csv.array-element-delimiter`; `t` must not be nested |
//! | `ROW<...>` | the fields joined by `csv.array-element-delimiter`; fields must not be nested |
//!
//! `MAP` and `MULTISET` columns, and `ARRAY`/`ROW` nested inside `ARRAY`/`ROW`, are rejected when the
//! format is created, naming the column.
//!
//! NULL is written as `csv.null-literal`, or as an empty field when none is set. When reading, only a
//! field equal to the null literal is NULL: an empty field is an empty string for text columns and a
//! parse error for other types (Flink behaves the same way). Inside an `ARRAY` or `ROW`, an element
//! equal to the null literal is NULL. Without a null literal, an empty `ARRAY` field is an empty
//! array (so a NULL array written without a null literal reads back as empty), and an empty `ROW`
//! field is NULL.
//!
//! # Errors
//!
//! A field that cannot be parsed fails the record with an error naming the column, the value and
//! the record's origin. With `csv.ignore-parse-errors`, such a field becomes NULL instead (as in
//! Flink); records that cannot be used at all (too many fields, NULL in a `NOT NULL` column, more
//! than one CSV line) are skipped and counted ([`CsvDecoder::skipped`]). Missing trailing fields are
//! NULL with `csv.ignore-parse-errors` and an error otherwise. Empty records and, with
//! `csv.allow-comments`, lines starting with `#` yield no row.
//!
//! # Differences from Flink
//!
//! - `TIMESTAMP` and `TIMESTAMP_LTZ` arrive as the same Arrow type in the format's schema, so
//!   reading accepts a trailing `Z` for both, and writing appends `Z` only for Arrow timestamps
//!   carrying a time zone.
//! - The escape character is honoured inside quoted fields only (Jackson also honours it in
//!   unquoted fields); an unterminated quote ends at the end of the record rather than failing.
//! - Fields are quoted only when needed (delimiter, quote, line break), not also when they contain
//!   spaces.

use std::sync::Arc;

use headrace_sdk::error::{Error, Result};
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, OptionSet, Options};

mod decode;
mod encode;
mod schema;
mod text;

pub use decode::CsvDecoder;
pub use encode::CsvEncoder;

/// The format identifier.
pub const IDENTIFIER: &str = "csv";

/// `csv.field-delimiter`.
pub const FIELD_DELIMITER: ConfigOption<String> = ConfigOption::new("field-delimiter")
    .default_value(",")
    .description("The single character between fields. Java escapes such as '\\t' are understood.");

/// `csv.disable-quote-character`.
pub const DISABLE_QUOTE_CHARACTER: ConfigOption<bool> =
    ConfigOption::new("disable-quote-character")
        .default_value("false")
        .description(
            "Turn quoting off: fields are never quoted when written and quotes have no special \
             meaning when read. Cannot be combined with 'quote-character'.",
        );

/// `csv.quote-character`.
pub const QUOTE_CHARACTER: ConfigOption<String> = ConfigOption::new("quote-character")
    .default_value("\"")
    .description("The single character that encloses fields holding special characters.");

/// `csv.allow-comments`.
pub const ALLOW_COMMENTS: ConfigOption<bool> = ConfigOption::new("allow-comments")
    .default_value("false")
    .description("Skip records that start with '#'.");

/// `csv.ignore-parse-errors`.
pub const IGNORE_PARSE_ERRORS: ConfigOption<bool> = ConfigOption::new("ignore-parse-errors")
    .default_value("false")
    .description(
        "Instead of failing, read a field that cannot be parsed as NULL, and drop records \
         that cannot be read at all.",
    );

/// `csv.array-element-delimiter`.
pub const ARRAY_ELEMENT_DELIMITER: ConfigOption<String> =
    ConfigOption::new("array-element-delimiter")
        .default_value(";")
        .description("The string between the elements of an ARRAY and the fields of a ROW.");

/// `csv.escape-character`.
pub const ESCAPE_CHARACTER: ConfigOption<String> = ConfigOption::new("escape-character")
    .description("A single character that makes the next character literal inside a quoted field (none by default).");

/// `csv.null-literal`.
pub const NULL_LITERAL: ConfigOption<String> = ConfigOption::new("null-literal").description(
    "A string that stands for NULL, both ways (none by default: NULL is written as an empty field).",
);

/// `csv.write-bigdecimal-in-scientific-notation`.
pub const WRITE_BIGDECIMAL_IN_SCIENTIFIC_NOTATION: ConfigOption<bool> =
    ConfigOption::new("write-bigdecimal-in-scientific-notation")
        .default_value("true")
        .description(
            "Write DECIMAL values as Java's BigDecimal.toString does (e.g. '1E-8'); when false, \
             always write plain digits ('0.00000001').",
        );

/// Settings read from the options.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub delimiter: u8,
    pub quote: Option<u8>,
    pub allow_comments: bool,
    pub ignore_parse_errors: bool,
    pub array_delimiter: Vec<u8>,
    pub escape: Option<u8>,
    pub null_literal: Option<String>,
    pub scientific: bool,
}

/// Java's unescaping of the common backslash sequences (`\t`, `\n`, `\\`, `\uXXXX`, ...).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('b') => out.push('\u{8}'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| it.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn single_byte(o: &Options, opt: &ConfigOption<String>, raw: &str) -> Result<u8> {
    let v = unescape(raw);
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() => Ok(c as u8),
        (Some(_), None) => Err(o.invalid(opt, raw, "only ASCII characters are supported here")),
        _ => Err(o.invalid(opt, raw, "expected a single character")),
    }
}

impl Settings {
    pub(crate) fn from_options(o: &Options) -> Result<Settings> {
        let delimiter = single_byte(o, &FIELD_DELIMITER, &o.get(&FIELD_DELIMITER)?)?;
        let disable_quote = o.get(&DISABLE_QUOTE_CHARACTER)?;
        if disable_quote && o.contains(&QUOTE_CHARACTER) {
            return Err(o.conflict(
                "'quote-character' cannot be set when 'disable-quote-character' is true",
            ));
        }
        let quote = if disable_quote {
            None
        } else {
            Some(single_byte(o, &QUOTE_CHARACTER, &o.get(&QUOTE_CHARACTER)?)?)
        };
        let escape = match o.get_optional(&ESCAPE_CHARACTER)? {
            Some(e) => Some(single_byte(o, &ESCAPE_CHARACTER, &e)?),
            None => None,
        };
        let array_delimiter = unescape(&o.get(&ARRAY_ELEMENT_DELIMITER)?).into_bytes();
        if array_delimiter.is_empty() {
            return Err(o.invalid(&ARRAY_ELEMENT_DELIMITER, "", "must not be empty"));
        }
        if Some(delimiter) == quote {
            return Err(o.conflict("the field delimiter and the quote character must differ"));
        }
        Ok(Settings {
            delimiter,
            quote,
            allow_comments: o.get(&ALLOW_COMMENTS)?,
            ignore_parse_errors: o.get(&IGNORE_PARSE_ERRORS)?,
            array_delimiter,
            escape,
            null_literal: o.get_optional(&NULL_LITERAL)?,
            scientific: o.get(&WRITE_BIGDECIMAL_IN_SCIENTIFIC_NOTATION)?,
        })
    }
}

/// Factory of the `csv` format.
#[derive(Debug, Default, Clone, Copy)]
pub struct CsvFormat;

headrace_sdk::register_format!(CsvFormat);

/// The `csv` format factory.
pub fn factory() -> Arc<dyn FormatFactory> {
    Arc::new(CsvFormat)
}

impl FormatFactory for CsvFormat {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }
    fn description(&self) -> &'static str {
        "Comma-separated values: one line per record, fields matched to columns by position."
    }
    fn options(&self) -> OptionSet {
        OptionSet::new()
            .optional(FIELD_DELIMITER)
            .optional(DISABLE_QUOTE_CHARACTER)
            .optional(QUOTE_CHARACTER)
            .optional(ALLOW_COMMENTS)
            .optional(IGNORE_PARSE_ERRORS)
            .optional(ARRAY_ELEMENT_DELIMITER)
            .optional(ESCAPE_CHARACTER)
            .optional(NULL_LITERAL)
            .optional(WRITE_BIGDECIMAL_IN_SCIENTIFIC_NOTATION)
    }
    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Ok(Box::new(CsvDecoder::new(ctx)?))
    }
    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Ok(Box::new(CsvEncoder::new(ctx)?))
    }
}

pub(crate) fn csv_error(context: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{context}: csv {what} failed: {e}"))
}
