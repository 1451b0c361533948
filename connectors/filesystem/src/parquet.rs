//! Parquet as a bulk format of the filesystem connector (`'format' = 'parquet'`).
//!
//! Row formats hand the connector one record per line; Parquet files are columnar and can only be
//! read with their footer and written whole, so the connector reads and writes them itself with
//! the `parquet` crate's Arrow reader and writer. [`ParquetFormat`] is registered as the format
//! `parquet` so that DDL validation knows its options (`parquet.compression`, ...); it creates no
//! decoder or encoder, and other connectors that ask for one get an error saying so.
//!
//! Types: the columns are written with the SDK's Arrow mapping, with two adjustments Parquet needs
//! for other tools to read sensible types: `TIMESTAMP(0)` and `TIME(0)` (Arrow seconds, which
//! Parquet cannot express) are stored in milliseconds, and `TIMESTAMP_LTZ` is stored as a Parquet
//! timestamp adjusted to UTC. Reading casts back to the SDK's types, so a round trip is exact.
//!
//! Reading: one split per row group; the split's state is the row group and the rows of it already
//! emitted. Only the table's columns (matched by name) are decoded; a file lacking one of them,
//! or holding it with a type that cannot be read as the column's (see [`compatible`]), is an
//! error naming the column.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field, Fields, Schema, SchemaRef, TimeUnit};
use headrace_sdk::format::{Decoder, Encoder, FormatContext, FormatFactory};
use headrace_sdk::options::{ConfigOption, MemorySize, OptionSet, Options};
use headrace_sdk::types::{DataType, LogicalType};
use headrace_sdk::{Error, Result};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};

/// The identifier used in `'format' = 'parquet'`.
pub const IDENTIFIER: &str = "parquet";

headrace_sdk::option_enum! {
    /// `parquet.compression` values this build supports.
    pub enum ParquetCompression {
        /// No compression.
        Uncompressed = "UNCOMPRESSED",
        /// Snappy (Flink's and Parquet-MR's default).
        Snappy = "SNAPPY",
        /// Zstandard.
        Zstd = "ZSTD",
    }
}

headrace_sdk::option_enum! {
    /// `parquet.writer.version` values.
    pub enum ParquetWriterVersion {
        /// Parquet format version 1 data pages.
        V1 = "PARQUET_1_0",
        /// Parquet format version 2 data pages.
        V2 = "PARQUET_2_0",
    }
}

/// `parquet.compression`: the codec of written column chunks.
pub const COMPRESSION: ConfigOption<ParquetCompression> = ConfigOption::new("compression")
    .default_value("SNAPPY")
    .description(
        "Compression codec of the column chunks written: UNCOMPRESSED, SNAPPY or ZSTD. Reading \
         accepts files written with these codecs.",
    );

/// `parquet.compression.codec.zstd.level`: the ZSTD level.
pub const ZSTD_LEVEL: ConfigOption<i32> = ConfigOption::new("compression.codec.zstd.level")
    .default_value("3")
    .description("Compression level (1 to 22) when 'parquet.compression' is ZSTD.");

/// `parquet.block.size`: the size at which a row group is closed.
pub const BLOCK_SIZE: ConfigOption<MemorySize> = ConfigOption::new("block.size")
    .default_value("128 mb")
    .description(
        "A row group is closed once the data buffered for it reaches this size (a number of \
         bytes, or a size such as '64 mb'). Readers get one split per row group.",
    );

/// `parquet.page.size`: the target size of data pages.
pub const PAGE_SIZE: ConfigOption<MemorySize> = ConfigOption::new("page.size")
    .default_value("1 mb")
    .description("Target size of a data page within a column chunk.");

/// `parquet.enable.dictionary`: dictionary encoding.
pub const ENABLE_DICTIONARY: ConfigOption<bool> = ConfigOption::new("enable.dictionary")
    .default_value("true")
    .description("Whether columns are dictionary-encoded (falling back to plain encoding when a dictionary grows too large).");

/// `parquet.writer.version`: the data page version.
pub const WRITER_VERSION: ConfigOption<ParquetWriterVersion> = ConfigOption::new("writer.version")
    .default_value("PARQUET_1_0")
    .description(
        "PARQUET_1_0 or PARQUET_2_0: the version of the data pages written. Version 1 is \
             read by every tool.",
    );

/// The format `parquet`, registered so that `'format' = 'parquet'` and its options validate.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParquetFormat;

headrace_sdk::register_format!(ParquetFormat);

impl FormatFactory for ParquetFormat {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Apache Parquet columnar files; a bulk format of the filesystem connector (whole files, \
         not records), like Flink's 'parquet'."
    }

    fn options(&self) -> OptionSet {
        OptionSet::new()
            .optional(COMPRESSION)
            .optional(ZSTD_LEVEL)
            .optional(BLOCK_SIZE)
            .optional(PAGE_SIZE)
            .optional(ENABLE_DICTIONARY)
            .optional(WRITER_VERSION)
    }

    fn create_decoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
        Err(not_a_record_format())
    }

    fn create_encoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
        Err(not_a_record_format())
    }
}

fn not_a_record_format() -> Error {
    Error::Unsupported(
        "'parquet' is a bulk format: it reads and writes whole files, not single records, so \
         only the filesystem connector can use it"
            .into(),
    )
}

/// The Parquet settings of a table: writer properties from the `parquet.*` options.
#[derive(Debug, Clone)]
pub struct ParquetConfig {
    /// Properties of every file written.
    pub props: WriterProperties,
    /// Close a row group once this many bytes are buffered.
    pub block_size: u64,
}

impl ParquetConfig {
    /// The settings from the format's options (keys without the `parquet.` prefix).
    pub fn from_options(o: &Options) -> Result<Self> {
        let compression = match o.get(&COMPRESSION)? {
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => {
                let level = o.get(&ZSTD_LEVEL)?;
                let l = ZstdLevel::try_new(level).map_err(|e| {
                    o.invalid(
                        &ZSTD_LEVEL,
                        level.to_string(),
                        format!("not a ZSTD level: {e}"),
                    )
                })?;
                Compression::ZSTD(l)
            }
        };
        let block_size = o.get(&BLOCK_SIZE)?.bytes();
        if block_size == 0 {
            return Err(o.invalid(
                &BLOCK_SIZE,
                "0",
                "the row group size must be greater than 0",
            ));
        }
        let page_size = o.get(&PAGE_SIZE)?.bytes();
        if page_size == 0 {
            return Err(o.invalid(&PAGE_SIZE, "0", "the page size must be greater than 0"));
        }
        let version = match o.get(&WRITER_VERSION)? {
            ParquetWriterVersion::V1 => WriterVersion::PARQUET_1_0,
            ParquetWriterVersion::V2 => WriterVersion::PARQUET_2_0,
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_writer_version(version)
            .set_dictionary_enabled(o.get(&ENABLE_DICTIONARY)?)
            .set_data_page_size_limit(usize::try_from(page_size).unwrap_or(usize::MAX))
            .set_max_row_group_bytes(Some(usize::try_from(block_size).unwrap_or(usize::MAX)))
            .set_created_by(format!("headrace {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(ParquetConfig { props, block_size })
    }
}

/// The Arrow type a column of type `t` is stored with in Parquet files: the SDK's mapping, with
/// seconds stored as milliseconds and `TIMESTAMP_LTZ` marked as UTC.
pub fn stored_type(t: &DataType) -> ArrowType {
    let field = |name: &str, d: &DataType| Field::new(name, stored_type(d), d.nullable);
    match &t.logical {
        LogicalType::Timestamp(p) => ArrowType::Timestamp(stored_unit(*p), None),
        LogicalType::TimestampLtz(p) => ArrowType::Timestamp(stored_unit(*p), Some(UTC.into())),
        LogicalType::Time(p) => match stored_unit(*p) {
            TimeUnit::Millisecond => ArrowType::Time32(TimeUnit::Millisecond),
            u => ArrowType::Time64(u),
        },
        LogicalType::Array(e) => ArrowType::List(Arc::new(field("element", e))),
        LogicalType::Map(k, v) => map(field("key", k), field("value", v)),
        LogicalType::Multiset(e) => map(
            field("key", e),
            Field::new("value", ArrowType::Int32, false),
        ),
        LogicalType::Row(fs) => ArrowType::Struct(Fields::from(
            fs.iter()
                .map(|f| field(&f.name, &f.data_type))
                .collect::<Vec<_>>(),
        )),
        _ => t.to_arrow(),
    }
}

fn stored_unit(p: u8) -> TimeUnit {
    match headrace_sdk::types::precision_unit(p) {
        TimeUnit::Second => TimeUnit::Millisecond,
        u => u,
    }
}

fn map(key: Field, value: Field) -> ArrowType {
    ArrowType::Map(
        Arc::new(Field::new(
            "entries",
            ArrowType::Struct(Fields::from(vec![key.with_nullable(false), value])),
            false,
        )),
        false,
    )
}

/// The schema of the files written for `columns` (name and type of each stored column).
pub fn stored_schema<'a>(columns: impl IntoIterator<Item = (&'a str, &'a DataType)>) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .into_iter()
            .map(|(n, t)| Field::new(n, stored_type(t), t.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Whether values of Arrow type `from` (in a file) can be read as `to` (the table's): the same
/// type, a wider integer or float, a decimal with the same scale and at least the precision,
/// another string or binary encoding, a timestamp (with or without time zone) or time of
/// another unit (finer values are truncated to the table's precision, as a cast would), or
/// nested types whose parts can.
pub fn compatible(from: &ArrowType, to: &ArrowType) -> bool {
    use ArrowType as A;
    if from == to {
        return true;
    }
    let int_rank = |t: &A| match t {
        A::Int8 => Some(1),
        A::Int16 => Some(2),
        A::Int32 => Some(3),
        A::Int64 => Some(4),
        _ => None,
    };
    match (from, to) {
        (a, b) if int_rank(a).is_some() && int_rank(b).is_some() => int_rank(a) <= int_rank(b),
        (A::Float32, A::Float64) => true,
        (A::Decimal128(p1, s1), A::Decimal128(p2, s2)) => s1 == s2 && p1 <= p2,
        (A::Utf8 | A::LargeUtf8 | A::Utf8View, A::Utf8) => true,
        (A::Binary | A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_), A::Binary) => true,
        (A::Timestamp(..), A::Timestamp(..)) => true,
        (A::Time32(_) | A::Time64(_), A::Time32(_) | A::Time64(_)) => true,
        (A::Date32, A::Date32) => true,
        (A::List(a) | A::LargeList(a), A::List(b)) => compatible(a.data_type(), b.data_type()),
        (A::Map(a, _), A::Map(b, _)) => compatible(a.data_type(), b.data_type()),
        (A::Struct(a), A::Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| x.name() == y.name() && compatible(x.data_type(), y.data_type()))
        }
        _ => false,
    }
}

/// The time zone of `TIMESTAMP_LTZ` columns in files.
const UTC: &str = "UTC";

/// `t` with the time zone of every timestamp in it removed.
fn strip_tz(t: &ArrowType) -> ArrowType {
    let f = |f: &Field| f.clone().with_data_type(strip_tz(f.data_type()));
    match t {
        ArrowType::Timestamp(u, Some(_)) => ArrowType::Timestamp(*u, None),
        ArrowType::List(e) => ArrowType::List(Arc::new(f(e))),
        ArrowType::LargeList(e) => ArrowType::LargeList(Arc::new(f(e))),
        ArrowType::Map(e, sorted) => ArrowType::Map(Arc::new(f(e)), *sorted),
        ArrowType::Struct(fs) => {
            ArrowType::Struct(fs.iter().map(|x| f(x)).collect::<Vec<_>>().into())
        }
        other => other.clone(),
    }
}

/// The same values typed `to`, which differs from the data's type only in time zones of
/// timestamps (an Arrow timestamp holds UTC epoch values with or without a zone, and the SDK
/// keeps `TIMESTAMP_LTZ` as epoch values without one).
fn retype(data: arrow::array::ArrayData, to: &ArrowType) -> Result<arrow::array::ArrayData> {
    let child_types: Vec<ArrowType> = match to {
        ArrowType::List(e) | ArrowType::LargeList(e) | ArrowType::Map(e, _) => {
            vec![e.data_type().clone()]
        }
        ArrowType::Struct(fs) => fs.iter().map(|f| f.data_type().clone()).collect(),
        _ => Vec::new(),
    };
    let children = data
        .child_data()
        .iter()
        .zip(child_types.iter())
        .map(|(c, t)| retype(c.clone(), t))
        .collect::<Result<Vec<_>>>()?;
    let b = data.into_builder().data_type(to.clone());
    let b = if children.is_empty() {
        b
    } else {
        b.child_data(children)
    };
    Ok(b.build()?)
}

/// Convert `col` to type `to` (see [`compatible`]): time zones are relabelled, anything else
/// is cast.
pub fn convert(col: &ArrayRef, to: &ArrowType) -> Result<ArrayRef> {
    if col.data_type() == to {
        return Ok(col.clone());
    }
    let (from_plain, to_plain) = (strip_tz(col.data_type()), strip_tz(to));
    let mut c = col.clone();
    if *c.data_type() != from_plain {
        c = arrow::array::make_array(retype(c.to_data(), &from_plain)?);
    }
    if from_plain != to_plain {
        c = arrow::compute::cast(&c, &to_plain)?;
    }
    if to_plain != *to {
        c = arrow::array::make_array(retype(c.to_data(), to)?);
    }
    Ok(c)
}

fn read_error(path: &str, e: parquet::errors::ParquetError) -> Error {
    Error::user_with_source(
        format!("filesystem source: cannot read Parquet file '{path}': {e}"),
        e,
    )
}

/// A row group (or the footer) of a file that does not decode: a bad record of the table, with
/// the row group as origin (the unit the bad-record policy skips).
fn bad_row_group(path: &str, row_group: usize, reason: String) -> Error {
    Error::BadRecord {
        format: IDENTIFIER.into(),
        origin: headrace_sdk::error::RecordOrigin::Other(format!(
            "file '{path}' row group {row_group}"
        )),
        reason,
    }
}

fn open(path: &str) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("filesystem source: cannot open '{path}'"), e))
}

/// The row counts of the row groups of the file at `path`, read from its footer.
pub fn row_groups(path: &str) -> Result<Vec<u64>> {
    let f = open(path)?;
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
        .map_err(|e| read_error(path, e))?;
    Ok(meta
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| u64::try_from(rg.num_rows()).unwrap_or(0))
        .collect())
}

/// Reads the table's columns of one row group, from a given row on.
pub struct RowGroupReader {
    reader: ParquetRecordBatchReader,
    /// For each wanted column, its index in the batches `reader` yields.
    positions: Vec<usize>,
    /// The table's types of the wanted columns.
    wanted: SchemaRef,
    /// Rows in the row group.
    pub num_rows: u64,
    /// Compressed bytes of the row group.
    pub compressed_bytes: u64,
    /// The row group's index in the file.
    row_group: usize,
    /// Rows of the row group read so far (named in errors).
    rows_read: u64,
}

impl std::fmt::Debug for RowGroupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowGroupReader")
            .field("num_rows", &self.num_rows)
            .finish()
    }
}

impl RowGroupReader {
    /// Open row group `row_group` of `path`, skipping its first `skip` rows, decoding only the
    /// columns of `wanted` (matched by name) in batches of `batch_size` rows.
    pub fn open(
        path: &str,
        row_group: usize,
        skip: u64,
        wanted: SchemaRef,
        batch_size: usize,
    ) -> Result<Self> {
        let f = open(path)?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| {
            bad_row_group(
                path,
                row_group,
                format!("cannot read the Parquet footer: {e}"),
            )
        })?;
        let file_schema = builder.schema().clone();
        let rg_meta = builder
            .metadata()
            .row_groups()
            .get(row_group)
            .ok_or_else(|| {
                Error::user(format!(
                    "filesystem source: Parquet file '{path}' has {} row groups, but row group \
                     {row_group} was to be read (was the file changed after it was listed?)",
                    builder.metadata().num_row_groups()
                ))
            })?;
        let num_rows = u64::try_from(rg_meta.num_rows()).unwrap_or(0);
        let compressed_bytes = u64::try_from(rg_meta.compressed_size()).unwrap_or(0);
        let mut roots = Vec::with_capacity(wanted.fields().len());
        for f in wanted.fields() {
            let (i, ff) = file_schema.column_with_name(f.name()).ok_or_else(|| {
                Error::user(format!(
                    "filesystem source: Parquet file '{path}' has no column '{}' (its columns: \
                     {})",
                    f.name(),
                    file_schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            if !compatible(ff.data_type(), f.data_type()) {
                return Err(Error::user(format!(
                    "filesystem source: column '{}' of Parquet file '{path}' has type {}, which \
                     cannot be read as the table's {}",
                    f.name(),
                    ff.data_type(),
                    f.data_type()
                )));
            }
            roots.push(i);
        }
        // The reader yields the projected columns in file order.
        let mut sorted = roots.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let positions = roots
            .iter()
            .map(|r| sorted.iter().position(|s| s == r).unwrap_or(0))
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), sorted);
        let mut builder = builder
            .with_projection(mask)
            .with_row_groups(vec![row_group])
            .with_batch_size(batch_size.max(1));
        if skip > 0 {
            builder = builder.with_offset(usize::try_from(skip).unwrap_or(usize::MAX));
        }
        let reader = builder
            .build()
            .map_err(|e| bad_row_group(path, row_group, format!("cannot read it: {e}")))?;
        tracing::debug!(
            path,
            row_group,
            skip,
            num_rows,
            "filesystem: reading Parquet row group"
        );
        Ok(RowGroupReader {
            reader,
            positions,
            wanted,
            num_rows,
            compressed_bytes,
            row_group,
            rows_read: skip,
        })
    }

    /// The next batch of the wanted columns, in the table's types; None at the end.
    pub fn next_batch(&mut self, path: &str) -> Result<Option<RecordBatch>> {
        let Some(b) = self.reader.next() else {
            return Ok(None);
        };
        let (rg, from) = (self.row_group, self.rows_read + 1);
        let b = b.map_err(|e| {
            bad_row_group(
                path,
                rg,
                format!("cannot decode the rows from row {from} of the row group on: {e}"),
            )
        })?;
        let mut cols = Vec::with_capacity(self.positions.len());
        for (p, f) in self.positions.iter().zip(self.wanted.fields()) {
            let c = b.columns().get(*p).ok_or_else(|| {
                Error::internal("filesystem source: the Parquet reader returned too few columns")
            })?;
            cols.push(convert(c, f.data_type()).map_err(|e| {
                bad_row_group(
                    path,
                    rg,
                    format!(
                        "column '{}' (rows {from} to {} of the row group) cannot be read as {}: \
                         {e}",
                        f.name(),
                        from + b.num_rows() as u64 - 1,
                        f.data_type()
                    ),
                )
            })?);
        }
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        let out =
            RecordBatch::try_new_with_options(self.wanted.clone(), cols, &opts).map_err(|e| {
                bad_row_group(
                    path,
                    rg,
                    format!(
                        "rows {from} to {} of the row group do not fit the table: {e}",
                        from + b.num_rows() as u64 - 1
                    ),
                )
            })?;
        self.rows_read += b.num_rows() as u64;
        Ok(Some(out))
    }
}

/// An in-progress Parquet part file.
pub struct ParquetPart {
    writer: ArrowWriter<File>,
    stored: SchemaRef,
    block_size: u64,
}

impl std::fmt::Debug for ParquetPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetPart")
            .field("bytes_written", &self.writer.bytes_written())
            .finish()
    }
}

fn write_error(path: &std::path::Path, e: parquet::errors::ParquetError) -> Error {
    Error::external(
        format!(
            "filesystem sink: cannot write Parquet file {}: {e}",
            path.display()
        ),
        e,
    )
}

impl ParquetPart {
    /// Start a Parquet file in `file` with columns `stored`.
    pub fn new(
        file: File,
        path: &std::path::Path,
        stored: SchemaRef,
        config: &ParquetConfig,
    ) -> Result<Self> {
        let writer = ArrowWriter::try_new(file, stored.clone(), Some(config.props.clone()))
            .map_err(|e| write_error(path, e))?;
        Ok(ParquetPart {
            writer,
            stored,
            block_size: config.block_size,
        })
    }

    /// Append `batch` (the table's types), closing the row group once it reaches the block size.
    pub fn write(&mut self, batch: &RecordBatch, path: &std::path::Path) -> Result<()> {
        let cols = batch
            .columns()
            .iter()
            .zip(self.stored.fields())
            .map(|(c, f)| convert(c, f.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let b = RecordBatch::try_new_with_options(self.stored.clone(), cols, &opts)?;
        // The writer closes row groups at `max_row_group_bytes` (parquet.block.size) itself.
        self.writer.write(&b).map_err(|e| write_error(path, e))
    }

    /// The row group size limit.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// Bytes written so far plus the data buffered for the open row group.
    pub fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Write the footer and return the file.
    pub fn finish(self, path: &std::path::Path) -> Result<File> {
        self.writer.into_inner().map_err(|e| write_error(path, e))
    }
}

/// Merge Parquet part files written by this sink (all with the columns `stored`) into one file
/// `out`, re-encoding their rows with `config` (used by `auto-compaction`).
pub fn merge_files(
    inputs: &[&std::path::Path],
    out: File,
    out_path: &std::path::Path,
    stored: SchemaRef,
    config: &ParquetConfig,
) -> Result<File> {
    let mut part = ParquetPart::new(out, out_path, stored, config)?;
    for input in inputs {
        let shown = input.display().to_string();
        let f = open(&shown)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .and_then(|b| b.with_batch_size(8192).build())
            .map_err(|e| read_error(&shown, e))?;
        for b in reader {
            let b = b.map_err(|e| {
                Error::user_with_source(
                    format!("filesystem sink: cannot compact Parquet file '{shown}': {e}"),
                    e,
                )
            })?;
            part.write(&b, out_path)?;
        }
    }
    part.finish(out_path)
}
