//! The `avro` format: one Avro datum (no header) per record.

use apache_avro::from_avro_datum;
use apache_avro::types::Value;
use arrow::datatypes::SchemaRef;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{
    BulkReader, BulkWriter, Decoder, Encoder, FormatContext, FormatFactory,
};
use headrace_sdk::options::{ConfigOption, OptionSet};
use headrace_sdk::Result;

use crate::direct::{batch_writers, write_row};
use crate::error::AvroError;
use crate::json;
use crate::rows::{record_values, Buffer, SharedSchema};
use crate::schema::{derive_table, Node, DEFAULT_RECORD_NAME};

/// The format identifier.
pub const FORMAT: &str = "avro";

headrace_sdk::option_enum! {
    /// How a datum is written: Avro's binary or JSON encoding.
    pub enum AvroEncoding {
        /// Avro binary encoding.
        Binary = "binary",
        /// Avro JSON encoding.
        Json = "json",
    }
}

headrace_sdk::option_enum! {
    /// The compression codec of Avro files.
    pub enum AvroCodec {
        /// No compression.
        Null = "null",
        /// Deflate (RFC 1951).
        Deflate = "deflate",
        /// Snappy, with a CRC32 per block (cargo feature `snappy`, on by default).
        Snappy = "snappy",
        /// Zstandard (cargo feature `zstandard`, on by default).
        Zstandard = "zstandard",
        /// Bzip2 (cargo feature `bzip2`).
        Bzip2 = "bzip2",
        /// XZ (cargo feature `xz`).
        Xz = "xz",
    }
}

/// `avro.codec`.
pub const CODEC: ConfigOption<AvroCodec> = ConfigOption::new("codec")
    .default_value("snappy")
    .description(
        "Compression codec of Avro files written by the filesystem connector: 'null', \
         'deflate', 'snappy', 'zstandard', 'bzip2' or 'xz' (the last two need the avro crate's \
         cargo features of the same name). Records sent to message systems are never compressed \
         by the format.",
    );

/// `avro.encoding`.
pub const ENCODING: ConfigOption<AvroEncoding> = ConfigOption::new("encoding")
    .default_value("binary")
    .description(
        "Encoding of each record: 'binary' (compact, the usual one) or 'json' (Avro's JSON \
         encoding: unions as {\"type\": value}, bytes as ISO-8859-1 strings).",
    );

/// `avro.timestamp_mapping.legacy`.
pub const TIMESTAMP_MAPPING_LEGACY: ConfigOption<bool> =
    ConfigOption::new("timestamp_mapping.legacy")
        .default_value("true")
        .description(
            "Use Flink's legacy timestamp mapping (the default, for compatibility): TIMESTAMP(p), \
             p <= 3, is written as timestamp-millis and TIMESTAMP_LTZ is not supported. With \
             'false', TIMESTAMP(p) is written as local-timestamp-millis/micros/nanos and \
             TIMESTAMP_LTZ(p) as timestamp-millis/micros/nanos, by precision. As in Flink, ARRAY \
             elements and MAP values always use the legacy mapping.",
        );

/// Settings of the `avro` format.
#[derive(Debug, Clone)]
pub struct AvroConfig {
    /// `avro.codec`.
    pub codec: AvroCodec,
    /// `avro.encoding`.
    pub encoding: AvroEncoding,
    /// `avro.timestamp_mapping.legacy`.
    pub legacy_timestamps: bool,
}

impl AvroConfig {
    /// The settings in `ctx`'s options.
    pub fn from_context(ctx: &FormatContext) -> Result<AvroConfig> {
        let o = &ctx.options;
        let codec = o.get(&CODEC)?;
        crate::file::codec(codec).map_err(|reason| o.invalid(&CODEC, codec_name(codec), reason))?;
        Ok(AvroConfig {
            codec,
            encoding: o.get(&ENCODING)?,
            legacy_timestamps: o.get(&TIMESTAMP_MAPPING_LEGACY)?,
        })
    }
}

fn codec_name(c: AvroCodec) -> String {
    use headrace_sdk::options::OptionValue;
    c.to_option_string()
}

/// The derived record node and parsed Avro schema of a table schema.
pub fn table_schema(
    schema: &SchemaRef,
    legacy: bool,
) -> std::result::Result<(Node, SharedSchema), AvroError> {
    let node = derive_table(schema, DEFAULT_RECORD_NAME, legacy).map_err(AvroError::Schema)?;
    let avro = node.to_schema()?;
    Ok((node, SharedSchema::new(avro)))
}

/// Decodes one Avro datum per record into rows.
#[derive(Debug)]
pub struct AvroDecoder {
    schema: SharedSchema,
    encoding: AvroEncoding,
    rows: Buffer,
}

impl AvroDecoder {
    /// A decoder of rows of `schema`.
    pub fn new(schema: SchemaRef, config: &AvroConfig) -> Result<AvroDecoder> {
        let (node, avro) = table_schema(&schema, config.legacy_timestamps)?;
        Ok(AvroDecoder {
            schema: avro,
            encoding: config.encoding,
            rows: Buffer::new(FORMAT, schema, node),
        })
    }

    /// The Avro schema records are read with.
    pub fn avro_schema(&self) -> &apache_avro::Schema {
        &self.schema
    }
}

/// Decode one datum of `schema`, insisting that every byte is used.
pub(crate) fn decode_datum(
    format: &'static str,
    writer: &apache_avro::Schema,
    reader: Option<&apache_avro::Schema>,
    record: &[u8],
    origin: &RecordOrigin,
) -> std::result::Result<Value, AvroError> {
    let bad = |reason: String| AvroError::Record {
        format,
        origin: origin.clone(),
        reason,
    };
    // apache-avro reserves room for as many items as a block announces: check counts first.
    crate::guard::check_datum(writer, record).map_err(|e| {
        bad(format!(
            "not an Avro datum of the table's schema ({} bytes): {e}",
            record.len()
        ))
    })?;
    let mut cur = Guarded {
        data: record,
        eof: false,
    };
    let v = from_avro_datum(writer, &mut cur, reader).map_err(|e| {
        bad(format!(
            "not an Avro datum of the table's schema ({} bytes): {e}",
            record.len()
        ))
    })?;
    // apache-avro reads a string cut short by the end of the input as null: catch it here.
    if cur.eof {
        return Err(bad(format!(
            "not an Avro datum of the table's schema: truncated ({} bytes end in the middle \
             of a value)",
            record.len()
        )));
    }
    if !cur.data.is_empty() {
        return Err(bad(format!(
            "{} bytes left over after the Avro datum ({} bytes in all): the record was written \
             with another schema",
            cur.data.len(),
            record.len()
        )));
    }
    Ok(v)
}

/// A reader over a record that remembers whether anyone read past its end.
pub(crate) struct Guarded<'a> {
    /// The bytes not read yet.
    pub(crate) data: &'a [u8],
    /// Whether a read found no byte left.
    pub(crate) eof: bool,
}

impl std::io::Read for Guarded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && self.data.is_empty() {
            self.eof = true;
            return Ok(0);
        }
        let n = buf.len().min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Decoder for AvroDecoder {
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()> {
        if let (AvroEncoding::Binary, Buffer::Direct(r, _)) = (self.encoding, &mut self.rows) {
            return r.read(record).map_err(|reason| {
                AvroError::Record {
                    format: FORMAT,
                    origin: origin.clone(),
                    reason: format!("not an Avro datum of the table's schema: {reason}"),
                }
                .into()
            });
        }
        let v = match self.encoding {
            AvroEncoding::Binary => decode_datum(FORMAT, &self.schema, None, record, origin)?,
            AvroEncoding::Json => {
                json::decode(&self.schema, record).map_err(|reason| AvroError::Record {
                    format: FORMAT,
                    origin: origin.clone(),
                    reason,
                })?
            }
        };
        self.rows.push_value(FORMAT, v, origin)?;
        Ok(())
    }

    fn buffered_rows(&self) -> usize {
        self.rows.len()
    }

    fn finish(&mut self) -> Result<ChangelogBatch> {
        Ok(self.rows.finish(FORMAT)?)
    }
}

/// Encodes each row as one Avro datum.
#[derive(Debug)]
pub struct AvroEncoder {
    node: Node,
    schema: SharedSchema,
    encoding: AvroEncoding,
}

impl AvroEncoder {
    /// An encoder of rows of `schema`.
    pub fn new(schema: SchemaRef, config: &AvroConfig) -> Result<AvroEncoder> {
        let (node, avro) = table_schema(&schema, config.legacy_timestamps)?;
        Ok(AvroEncoder {
            node,
            schema: avro,
            encoding: config.encoding,
        })
    }

    /// The Avro schema records are written with.
    pub fn avro_schema(&self) -> &apache_avro::Schema {
        &self.schema
    }
}

/// The error for a row that cannot be encoded.
pub(crate) fn encode_error(format: &'static str, reason: String) -> AvroError {
    AvroError::Record {
        format,
        origin: RecordOrigin::Other("the row being written".into()),
        reason,
    }
}

impl Encoder for AvroEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if self.encoding == AvroEncoding::Binary {
            let cols =
                batch_writers(&self.node, &batch.batch).map_err(|r| encode_error(FORMAT, r))?;
            let mut buf = Vec::new();
            for i in 0..batch.num_rows() {
                buf.clear();
                write_row(&cols, i, &mut buf)
                    .map_err(|r| encode_error(FORMAT, format!("row {i}: {r}")))?;
                emit(i, &buf)?;
            }
            return Ok(());
        }
        let values =
            record_values(&self.node, &batch.batch).map_err(|r| encode_error(FORMAT, r))?;
        for (i, v) in values.into_iter().enumerate() {
            let bytes = json::encode(&self.schema, &v)
                .map_err(|e| encode_error(FORMAT, format!("row {i}: {e}")))?;
            emit(i, &bytes)?;
        }
        Ok(())
    }
}

/// The `avro` format factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct AvroFormatFactory;

impl FormatFactory for AvroFormatFactory {
    fn identifier(&self) -> &'static str {
        FORMAT
    }

    fn description(&self) -> &'static str {
        "Avro records with a schema derived from the table schema as Flink derives it (Flink's 'avro')"
    }

    fn options(&self) -> OptionSet {
        OptionSet::new()
            .optional(CODEC)
            .optional(ENCODING)
            .optional(TIMESTAMP_MAPPING_LEGACY)
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Ok(Box::new(AvroDecoder::new(
            ctx.schema.clone(),
            &AvroConfig::from_context(ctx)?,
        )?))
    }

    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Ok(Box::new(AvroEncoder::new(
            ctx.schema.clone(),
            &AvroConfig::from_context(ctx)?,
        )?))
    }

    fn create_bulk_writer(
        &self,
        ctx: &FormatContext,
        out: Box<dyn std::io::Write + Send>,
        path: &str,
    ) -> Option<Result<Box<dyn BulkWriter>>> {
        let w = AvroConfig::from_context(ctx).and_then(|c| {
            Ok(crate::file::AvroFileWriter::new(
                out,
                &ctx.schema,
                &c,
                path,
            )?)
        });
        Some(w.map(|w| Box::new(w) as Box<dyn BulkWriter>))
    }

    fn create_bulk_reader(&self, ctx: &FormatContext) -> Option<Result<Box<dyn BulkReader>>> {
        Some(AvroConfig::from_context(ctx).map(|config| {
            Box::new(crate::file::AvroFileReader {
                schema: ctx.schema.clone(),
                config,
            }) as Box<dyn BulkReader>
        }))
    }
}
