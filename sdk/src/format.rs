//! Formats: turn bytes into rows (decoders) and rows into bytes (encoders).
//!
//! A connector that moves opaque records (Kafka messages, lines of a file) asks the
//! [`TableContext`](crate::factory::TableContext) for a decoder or encoder of the format the user
//! chose with `'format' = 'x'` (or `key.format` / `value.format`); the format's own options are
//! given prefixed with its identifier (`json.ignore-parse-errors`).
//!
//! # Format metadata columns
//!
//! Some formats carry facts about each record besides its row, as Flink's changelog formats do
//! (`debezium-json` offers `source.table`, `ingestion-timestamp`, ...). A format lists them in
//! [`FormatFactory::metadata`] (keys without any prefix, Flink type strings, read-only). The
//! contract between connector and format:
//!
//! 1. The connector decides under which prefix a format's keys appear in `METADATA FROM '...'`
//!    by overriding [`ConnectorFactory::format_metadata_prefix`](crate::factory::ConnectorFactory::format_metadata_prefix):
//!    Kafka uses `value.` for its value format (`'value.source.table'`), the filesystem connector
//!    no prefix (`'source.table'`). Connector keys win over format keys of the same name.
//!    [`validate_table`](crate::factory::validate_table) then accepts and type-checks those keys.
//! 2. At run time the connector calls
//!    [`split_metadata_columns`](crate::factory::split_metadata_columns) (or
//!    [`TableContext::format_metadata_plan`](crate::factory::TableContext::format_metadata_plan)),
//!    which says for each metadata column of the table whether the connector or the format fills
//!    it, and gives the distinct format keys (prefix removed) in order of first use.
//! 3. It asks for a decoder with [`FormatFactory::create_decoder_with_metadata`] (or
//!    [`FormatHandle::decoder_with_metadata`](crate::factory::FormatHandle::decoder_with_metadata)),
//!    passing the physical schema the format decodes and those keys.
//! 4. Every batch the decoder returns has the physical columns of the context's schema, in order,
//!    followed by one column per requested key, in the order requested, named after the key and
//!    typed as the format declares it ([`format_metadata_schema`] builds that schema). The
//!    connector moves those columns to where the table declares them and casts them to the
//!    declared type when it differs (as Flink inserts a cast):
//!    [`MetadataPlan::metadata_columns`](crate::factory::MetadataPlan::metadata_columns) does both,
//!    asking the connector only for its own keys. The batch's row kinds must be kept (changelog
//!    formats return `-U`/`+U`/`-D` rows), e.g. with
//!    [`ChangelogBatch::with_batch`](crate::changelog::ChangelogBatch::with_batch).
//!
//! A format without metadata keeps the default methods: asking it for keys is an error.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};

use crate::changelog::{ChangelogBatch, ChangelogMode};
use crate::error::{Error, RecordOrigin, Result};
use crate::factory::MetadataSpec;
use crate::options::{OptionSet, Options};
use crate::types::DataType;

/// Decodes records into rows, buffering them until [`Decoder::finish`].
pub trait Decoder: Send {
    /// Decode one record (which may yield zero, one or several rows), appending to the buffer.
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()>;
    /// Rows buffered since the last `finish`.
    fn buffered_rows(&self) -> usize;
    /// Take the buffered rows as a batch.
    fn finish(&mut self) -> Result<ChangelogBatch>;
    /// Records dropped so far because they could not be decoded and the format was told to
    /// ignore parse errors; connectors add them to their skipped-record metric.
    fn skipped_records(&self) -> u64 {
        0
    }
}

/// Encodes rows into records.
pub trait Encoder: Send {
    /// Encode every row of `batch`, calling `emit(row_index, bytes)` for each record produced.
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()>;
}

/// Where a format is used, given to its factory.
#[derive(Debug, Clone)]
pub struct FormatContext {
    /// The rows the format reads or writes.
    pub schema: SchemaRef,
    /// The format's options, with the `{format}.` prefix removed.
    pub options: Options,
}

/// Writes one whole file of a bulk format (a container with a header and blocks or a footer, such
/// as Avro object container files), for file connectors.
pub trait BulkWriter: Send {
    /// Append the rows of `batch`.
    fn write(&mut self, batch: &arrow::array::RecordBatch) -> Result<()>;
    /// Bytes written so far plus those buffered, for rolling part files by size.
    fn bytes_written(&self) -> u64;
    /// Write what is buffered and the end of the file, and flush it. The file is valid only after.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Reads whole files of a bulk format, for file connectors.
pub trait BulkReader: Send {
    /// Read every row of `input` (the file `path`, named in errors), handing them to `emit` in
    /// batches of at most `batch_rows`; returns the number of rows read.
    fn read(
        &mut self,
        input: Box<dyn std::io::Read + Send>,
        path: &str,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> Result<()>,
    ) -> Result<u64>;

    /// Whether [`read_range`](Self::read_range) can read part of a file (the format has sync
    /// points, as Avro's sync markers), so that readers can share a large file.
    fn splittable(&self) -> bool {
        false
    }

    /// Read the rows of the part of `input` that starts at byte `start` and ends before byte
    /// `end` (None: the end of the file). The format decides which records a range owns, so that
    /// ranges that tile a file read each record exactly once; returns the number of rows read.
    fn read_range(
        &mut self,
        input: Box<dyn SeekRead>,
        path: &str,
        start: u64,
        end: Option<u64>,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> Result<()>,
    ) -> Result<u64> {
        let _ = (input, start, end, batch_rows, emit);
        Err(crate::Error::internal(format!(
            "the reader of '{path}' cannot read part of a file"
        )))
    }

    /// Read as [`read_range`](Self::read_range) does (`start` 0 and `end` None: the whole file,
    /// as [`read`](Self::read)), but hand each unit of the file that does not decode (an Avro
    /// block, a header) to `bad` and go on with the next decodable unit, instead of failing.
    /// The rows of a bad unit are not emitted, none of them. The connector applies the table's
    /// bad-record policy to what `bad` receives. Readers that cannot skip units keep this
    /// default, which reads strictly (the first bad unit is the error).
    #[allow(clippy::too_many_arguments)]
    fn read_skipping_bad(
        &mut self,
        input: Box<dyn SeekRead>,
        path: &str,
        start: u64,
        end: Option<u64>,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> Result<()>,
        bad: &mut dyn FnMut(BadUnit) -> Result<()>,
    ) -> Result<u64> {
        let _ = bad;
        if start == 0 && end.is_none() {
            self.read(Box::new(input), path, batch_rows, emit)
        } else {
            self.read_range(input, path, start, end, batch_rows, emit)
        }
    }
}

/// A unit of a file (an Avro block, a Parquet row group, a header) that a bulk reader could not
/// decode, for the table's bad-record policy
/// ([`BulkReader::read_skipping_bad`]).
#[derive(Debug)]
pub struct BadUnit {
    /// The unit's bytes as read (may be empty when they are not at hand).
    pub raw: Vec<u8>,
    /// Where it is: `file '<path>' block at byte <b>`, `file '<path>' row group <n>`, ...
    pub origin: RecordOrigin,
    /// Why it does not decode (what the fail policy reports).
    pub error: Error,
}

/// A seekable input for [`BulkReader::read_range`].
pub trait SeekRead: std::io::Read + std::io::Seek + Send {}

impl<T: std::io::Read + std::io::Seek + Send> SeekRead for T {}

/// Creates decoders and encoders for one format identifier.
pub trait FormatFactory: Send + Sync {
    /// The identifier used in `'format' = '...'`.
    fn identifier(&self) -> &'static str;
    /// One line describing the format.
    fn description(&self) -> &'static str;
    /// The format's options, with keys written without the format prefix.
    fn options(&self) -> OptionSet;
    /// The row kinds the format can carry.
    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }
    /// A decoder, or an error if the format cannot read.
    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>>;
    /// An encoder, or an error if the format cannot write.
    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>>;
    /// A writer of whole files, for formats whose files are more than a sequence of records
    /// (Avro containers); None (the default) for record formats, which file connectors write
    /// with [`FormatFactory::create_encoder`], one record per line. `path` names the file.
    fn create_bulk_writer(
        &self,
        _ctx: &FormatContext,
        _out: Box<dyn std::io::Write + Send>,
        _path: &str,
    ) -> Option<Result<Box<dyn BulkWriter>>> {
        None
    }
    /// A reader of whole files, for formats that offer [`FormatFactory::create_bulk_writer`];
    /// None (the default) for record formats.
    fn create_bulk_reader(&self, _ctx: &FormatContext) -> Option<Result<Box<dyn BulkReader>>> {
        None
    }
    /// The metadata the format can read from its records (Flink's
    /// `DecodingFormat#listReadableMetadata`), keys without prefix. Empty by default.
    fn metadata(&self) -> Vec<MetadataSpec> {
        Vec::new()
    }
    /// A decoder whose batches carry, after the physical columns of `ctx.schema`, one column per
    /// key of `metadata_keys` (in that order, named after the key, typed as
    /// [`FormatFactory::metadata`] declares it: see [`format_metadata_schema`]). With no keys this
    /// is [`FormatFactory::create_decoder`]; formats without metadata refuse any key.
    fn create_decoder_with_metadata(
        &self,
        ctx: &FormatContext,
        metadata_keys: &[String],
    ) -> Result<Box<dyn Decoder>> {
        if metadata_keys.is_empty() {
            return self.create_decoder(ctx);
        }
        Err(Error::Schema(format!(
            "format '{}' offers no metadata, but metadata key(s) {} were asked of it",
            self.identifier(),
            metadata_keys.join(", ")
        )))
    }
}

/// The schema of the batches a decoder made by
/// [`FormatFactory::create_decoder_with_metadata`] returns: the `physical` fields, then one
/// nullable field per key of `keys`, named after the key, with the type `offered` declares for it.
/// Errors name a key the format does not offer.
pub fn format_metadata_schema(
    format: &str,
    physical: &SchemaRef,
    offered: &[MetadataSpec],
    keys: &[String],
) -> Result<SchemaRef> {
    let mut fields: Vec<arrow::datatypes::FieldRef> = physical.fields().iter().cloned().collect();
    for k in keys {
        let spec = offered
            .iter()
            .find(|m| m.key == k.as_str())
            .ok_or_else(|| {
                let avail: Vec<&str> = offered.iter().map(|m| m.key).collect();
                Error::Schema(format!(
                    "format '{format}' offers no metadata key '{k}'.{} Available: {}",
                    crate::error::did_you_mean(k, avail.iter().copied()),
                    if avail.is_empty() {
                        "none".to_string()
                    } else {
                        avail.join(", ")
                    }
                ))
            })?;
        let t = DataType::parse(spec.data_type)?.with_nullable(true);
        fields.push(Arc::new(t.to_arrow_field(k)));
    }
    Ok(Arc::new(Schema::new(fields)))
}
