//! The `raw` format, following Flink's: each record is the value of a single column.
//!
//! Supported column types (exactly one physical column):
//!
//! - `BYTES` / `VARBINARY(n)` / `BINARY(n)`: the record's bytes as they are;
//! - `STRING` / `VARCHAR(n)` / `CHAR(n)`: the record's bytes decoded with `raw.charset`
//!   (`UTF-8`, `ISO-8859-1` or `US-ASCII`);
//! - `BOOLEAN` (1 byte, non-zero is true), `TINYINT` (1 byte), `SMALLINT` (2), `INT` (4),
//!   `BIGINT` (8), `FLOAT` (4) and `DOUBLE` (8), in the byte order chosen by `raw.endianness`.
//!   A record of the wrong length is an error naming the column.
//!
//! Flink writes a NULL value as a null message (a Kafka tombstone). The SDK's encoder callback
//! takes a byte slice and cannot express "no value", so a NULL is written as an empty record.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, Int8Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{
    DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    SchemaRef,
};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::{Error, RecordOrigin, Result};
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, OptionSet};
use headrace_sdk::types::DataType;

/// The format identifier.
pub const IDENTIFIER: &str = "raw";

headrace_sdk::option_enum! {
    /// Byte order of numeric values.
    pub enum Endianness {
        /// Most significant byte first (network order).
        BigEndian = "big-endian",
        /// Least significant byte first.
        LittleEndian = "little-endian",
    }
}

/// The character sets `raw.charset` accepts.
pub const SUPPORTED_CHARSETS: &[&str] = &["UTF-8", "ISO-8859-1", "US-ASCII"];

/// `raw.charset`: how text columns are encoded in the record.
pub const CHARSET: ConfigOption<String> = ConfigOption::new("charset")
    .default_value("UTF-8")
    .description(
        "Character set of the bytes when the column is a character string type: \
         UTF-8, ISO-8859-1 (Latin-1) or US-ASCII.",
    );

/// `raw.endianness`: byte order of numeric columns.
pub const ENDIANNESS: ConfigOption<Endianness> = ConfigOption::new("endianness")
    .default_value("big-endian")
    .description(
        "Byte order used to read and write a numeric column (SMALLINT, INT, BIGINT, FLOAT, \
         DOUBLE): 'big-endian' or 'little-endian'.",
    );

/// A character set supported for text columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8; invalid sequences are an error.
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// US-ASCII: bytes above 0x7F are an error when reading; characters outside ASCII are an
    /// error when writing.
    Ascii,
}

impl Charset {
    /// Parse a charset name (case-insensitive, with Java's common aliases).
    pub fn parse(name: &str) -> Option<Charset> {
        let n = name.trim().to_ascii_uppercase().replace('_', "-");
        match n.as_str() {
            "UTF-8" | "UTF8" => Some(Charset::Utf8),
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "LATIN-1" | "ISO-LATIN-1" => {
                Some(Charset::Latin1)
            }
            "US-ASCII" | "ASCII" => Some(Charset::Ascii),
            _ => None,
        }
    }
}

/// The column type the format carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bytes,
    Text,
    Bool,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl Kind {
    fn width(self) -> Option<usize> {
        match self {
            Kind::Bytes | Kind::Text => None,
            Kind::Bool | Kind::I8 => Some(1),
            Kind::I16 => Some(2),
            Kind::I32 | Kind::F32 => Some(4),
            Kind::I64 | Kind::F64 => Some(8),
        }
    }
}

/// Factory of the `raw` format.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawFormat;

headrace_sdk::register_format!(RawFormat);

/// The `raw` format factory.
pub fn factory() -> Arc<dyn FormatFactory> {
    Arc::new(RawFormat)
}

/// Settings shared by decoder and encoder.
#[derive(Debug, Clone)]
struct Settings {
    schema: SchemaRef,
    column: String,
    kind: Kind,
    charset: Charset,
    big_endian: bool,
}

fn settings(ctx: &FormatContext) -> Result<Settings> {
    let fields = ctx.schema.fields();
    if fields.len() != 1 {
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        return Err(Error::Unsupported(format!(
            "{}: the raw format needs exactly one physical column, but the schema has {} ({})",
            ctx.options.context(),
            fields.len(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let field = &fields[0];
    let kind = match field.data_type() {
        ArrowType::Binary => Kind::Bytes,
        ArrowType::Utf8 => Kind::Text,
        ArrowType::Boolean => Kind::Bool,
        ArrowType::Int8 => Kind::I8,
        ArrowType::Int16 => Kind::I16,
        ArrowType::Int32 => Kind::I32,
        ArrowType::Int64 => Kind::I64,
        ArrowType::Float32 => Kind::F32,
        ArrowType::Float64 => Kind::F64,
        other => {
            let flink = DataType::from_arrow(other)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| other.to_string());
            return Err(Error::Unsupported(format!(
                "{}: column '{}' has type {flink}, which the raw format cannot carry; use \
                 BYTES/VARBINARY/BINARY, STRING/VARCHAR/CHAR, BOOLEAN, TINYINT, SMALLINT, INT, \
                 BIGINT, FLOAT or DOUBLE",
                ctx.options.context(),
                field.name()
            )));
        }
    };
    let charset_name = ctx.options.get(&CHARSET)?;
    let charset = Charset::parse(&charset_name).ok_or_else(|| {
        ctx.options.invalid(
            &CHARSET,
            charset_name.clone(),
            format!(
                "unsupported character set; supported: {}",
                SUPPORTED_CHARSETS.join(", ")
            ),
        )
    })?;
    let big_endian = ctx.options.get(&ENDIANNESS)? == Endianness::BigEndian;
    Ok(Settings {
        schema: ctx.schema.clone(),
        column: field.name().clone(),
        kind,
        charset,
        big_endian,
    })
}

impl FormatFactory for RawFormat {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }
    fn description(&self) -> &'static str {
        "Each record is the bytes of a single column (binary, text or a fixed-width number)."
    }
    fn options(&self) -> OptionSet {
        OptionSet::new().optional(CHARSET).optional(ENDIANNESS)
    }
    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Ok(Box::new(RawDecoder::new(ctx)?))
    }
    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Ok(Box::new(RawEncoder::new(ctx)?))
    }
}

enum Builder {
    Bytes(BinaryBuilder),
    Text(StringBuilder),
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Bytes => Builder::Bytes(BinaryBuilder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::I8 => Builder::I8(Int8Builder::new()),
            Kind::I16 => Builder::I16(Int16Builder::new()),
            Kind::I32 => Builder::I32(Int32Builder::new()),
            Kind::I64 => Builder::I64(Int64Builder::new()),
            Kind::F32 => Builder::F32(Float32Builder::new()),
            Kind::F64 => Builder::F64(Float64Builder::new()),
        }
    }
    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bytes(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I8(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
        }
    }
}

/// Decodes each record into one row of the single column.
pub struct RawDecoder {
    s: Settings,
    builder: Builder,
    rows: usize,
    text: String,
}

impl RawDecoder {
    /// A decoder for `ctx.schema` (exactly one column) with `ctx.options`.
    pub fn new(ctx: &FormatContext) -> Result<Self> {
        let s = settings(ctx)?;
        Ok(RawDecoder {
            builder: Builder::new(s.kind),
            s,
            rows: 0,
            text: String::new(),
        })
    }

    fn bad(&self, origin: &RecordOrigin, reason: String) -> Error {
        Error::BadRecord {
            format: IDENTIFIER.to_string(),
            origin: origin.clone(),
            reason: format!("column '{}': {reason}", self.s.column),
        }
    }
}

fn array<const N: usize>(record: &[u8]) -> Option<[u8; N]> {
    record.try_into().ok()
}

macro_rules! num {
    ($b:expr, $t:ty, $rec:expr, $be:expr) => {{
        // the length was checked before
        let a = array::<{ std::mem::size_of::<$t>() }>($rec).unwrap_or_default();
        $b.append_value(if $be {
            <$t>::from_be_bytes(a)
        } else {
            <$t>::from_le_bytes(a)
        })
    }};
}

impl Decoder for RawDecoder {
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        if let Some(w) = self.s.kind.width() {
            if record.len() != w {
                return Err(self.bad(
                    origin,
                    format!(
                        "a {} value needs exactly {w} byte{}, but the record has {}",
                        kind_name(self.s.kind),
                        if w == 1 { "" } else { "s" },
                        record.len()
                    ),
                ));
            }
        }
        let be = self.s.big_endian;
        match &mut self.builder {
            Builder::Bytes(b) => b.append_value(record),
            Builder::Text(b) => match self.s.charset {
                Charset::Utf8 => match std::str::from_utf8(record) {
                    Ok(s) => b.append_value(s),
                    Err(e) => {
                        let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                        return Err(self.bad(origin, reason));
                    }
                },
                Charset::Latin1 => {
                    self.text.clear();
                    self.text.extend(record.iter().map(|&c| char::from(c)));
                    b.append_value(&self.text);
                }
                Charset::Ascii => match record.iter().position(|c| !c.is_ascii()) {
                    None => b.append_value(String::from_utf8_lossy(record)),
                    Some(p) => {
                        let reason =
                            format!("byte 0x{:02X} at position {p} is not US-ASCII", record[p]);
                        return Err(self.bad(origin, reason));
                    }
                },
            },
            Builder::Bool(b) => b.append_value(record.first().is_some_and(|&c| c != 0)),
            Builder::I8(b) => num!(b, i8, record, be),
            Builder::I16(b) => num!(b, i16, record, be),
            Builder::I32(b) => num!(b, i32, record, be),
            Builder::I64(b) => num!(b, i64, record, be),
            Builder::F32(b) => num!(b, f32, record, be),
            Builder::F64(b) => num!(b, f64, record, be),
        }
        self.rows += 1;
        Ok(())
    }

    fn buffered_rows(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        let array = self.builder.finish();
        self.rows = 0;
        let batch = RecordBatch::try_new(self.s.schema.clone(), vec![array])?;
        Ok(ChangelogBatch::inserts(batch))
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Bytes => "BYTES",
        Kind::Text => "STRING",
        Kind::Bool => "BOOLEAN",
        Kind::I8 => "TINYINT",
        Kind::I16 => "SMALLINT",
        Kind::I32 => "INT",
        Kind::I64 => "BIGINT",
        Kind::F32 => "FLOAT",
        Kind::F64 => "DOUBLE",
    }
}

/// Encodes each row's single column as one record.
pub struct RawEncoder {
    s: Settings,
    buf: Vec<u8>,
}

impl RawEncoder {
    /// An encoder for `ctx.schema` (exactly one column) with `ctx.options`.
    pub fn new(ctx: &FormatContext) -> Result<Self> {
        Ok(RawEncoder {
            s: settings(ctx)?,
            buf: Vec::new(),
        })
    }
}

macro_rules! put {
    ($buf:expr, $arr:expr, $t:ty, $i:expr, $be:expr) => {{
        let v = $arr.as_primitive::<$t>().value($i);
        $buf.extend_from_slice(&if $be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }};
}

impl Encoder for RawEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let Some(col) = batch.batch.columns().first() else {
            return Err(Error::internal("raw format: the batch has no column"));
        };
        if col.data_type() != self.s.schema.field(0).data_type() {
            return Err(Error::internal(format!(
                "raw format: column '{}' is {} in the batch but {} in the schema",
                self.s.column,
                col.data_type(),
                self.s.schema.field(0).data_type()
            )));
        }
        let be = self.s.big_endian;
        for i in 0..col.len() {
            self.buf.clear();
            if col.is_null(i) {
                tracing::trace!(column = %self.s.column, row = i, "raw format: NULL written as an empty record");
                emit(i, &[])?;
                continue;
            }
            match self.s.kind {
                Kind::Bytes => {
                    emit(i, col.as_binary::<i32>().value(i))?;
                    continue;
                }
                Kind::Text => {
                    let s = col.as_string::<i32>().value(i);
                    match self.s.charset {
                        Charset::Utf8 => {
                            emit(i, s.as_bytes())?;
                            continue;
                        }
                        Charset::Latin1 | Charset::Ascii => {
                            let max = if self.s.charset == Charset::Latin1 {
                                0xFF
                            } else {
                                0x7F
                            };
                            for c in s.chars() {
                                let code = u32::from(c);
                                if code > max {
                                    return Err(Error::BadRecord {
                                        format: IDENTIFIER.to_string(),
                                        origin: RecordOrigin::Other(format!("row {i}")),
                                        reason: format!(
                                            "column '{}': character '{c}' (U+{code:04X}) cannot \
                                             be written in {}",
                                            self.s.column,
                                            if max == 0xFF {
                                                "ISO-8859-1"
                                            } else {
                                                "US-ASCII"
                                            }
                                        ),
                                    });
                                }
                                self.buf.push(code as u8);
                            }
                        }
                    }
                }
                Kind::Bool => self.buf.push(u8::from(col.as_boolean().value(i))),
                Kind::I8 => put!(self.buf, col, Int8Type, i, be),
                Kind::I16 => put!(self.buf, col, Int16Type, i, be),
                Kind::I32 => put!(self.buf, col, Int32Type, i, be),
                Kind::I64 => put!(self.buf, col, Int64Type, i, be),
                Kind::F32 => put!(self.buf, col, Float32Type, i, be),
                Kind::F64 => put!(self.buf, col, Float64Type, i, be),
            }
            emit(i, &self.buf)?;
        }
        Ok(())
    }
}
