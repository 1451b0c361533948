//! The filesystem connector factory: option validation and creation of sources and sinks.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use headrace_sdk::factory::{ConnectorFactory, FormatSlot, MetadataSpec, TableContext, Usage};
use headrace_sdk::format::{
    BulkReader, BulkWriter, Decoder, Encoder, FormatContext, FormatFactory,
};
use headrace_sdk::options::OptionSet;
use headrace_sdk::schema::TableSchema;
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::source::DynamicSource;
use headrace_sdk::{Error, Result};

use crate::commit::PartitionCommit;
use crate::options::*;
use crate::sink::{FileSink, RollingPolicy};
use crate::source::FileSource;

/// The identifier used in `'connector' = 'filesystem'`.
pub const IDENTIFIER: &str = "filesystem";

/// Metadata key: the file's full path.
pub const META_PATH: &str = "file.path";
/// Metadata key: the file's name.
pub const META_NAME: &str = "file.name";
/// Metadata key: the file's size in bytes.
pub const META_SIZE: &str = "file.size";
/// Metadata key: the file's last modification time.
pub const META_MODIFICATION_TIME: &str = "file.modification-time";

/// Creates [`FileSource`]s and [`FileSink`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystemFactory;

impl ConnectorFactory for FileSystemFactory {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Reads files line by line, Parquet files by row group and Avro files by ranges of \
         blocks, splitting large files for parallel readers (bounded, or watching a directory for \
         new files), and writes partitioned part files exactly once, like Flink's filesystem \
         connector."
    }

    fn options(&self) -> OptionSet {
        all_options()
    }

    fn options_for(&self, usage: Usage) -> OptionSet {
        match usage {
            Usage::Source => source_options(),
            Usage::Sink => sink_options(),
        }
    }

    fn format_slots(&self) -> Vec<FormatSlot> {
        vec![FORMAT_SLOT]
    }

    fn metadata(&self) -> Vec<MetadataSpec> {
        vec![
            MetadataSpec {
                key: META_PATH,
                data_type: "STRING NOT NULL",
                description: "The full path of the file the row was read from.",
                readable: true,
                writable: false,
            },
            MetadataSpec {
                key: META_NAME,
                data_type: "STRING NOT NULL",
                description: "The name of the file the row was read from (the last path element).",
                readable: true,
                writable: false,
            },
            MetadataSpec {
                key: META_SIZE,
                data_type: "BIGINT NOT NULL",
                description: "The size in bytes of the file the row was read from.",
                readable: true,
                writable: false,
            },
            MetadataSpec {
                key: META_MODIFICATION_TIME,
                data_type: "TIMESTAMP_LTZ(3) NOT NULL",
                description: "When the file the row was read from was last modified.",
                readable: true,
                writable: false,
            },
        ]
    }

    fn supports_source(&self) -> bool {
        true
    }

    fn supports_sink(&self) -> bool {
        true
    }

    fn create_source(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        Ok(Arc::new(create_source(ctx)?))
    }

    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Ok(Arc::new(create_sink(ctx)?))
    }
}

/// A format chosen for a table, kept so that each reader or writer can create its own decoder
/// or encoder.
#[derive(Clone)]
pub struct FormatHandle {
    factory: Arc<dyn FormatFactory>,
    ctx: FormatContext,
    /// Whether the format writes whole files through the SDK's bulk hooks
    /// ([`FormatFactory::create_bulk_writer`], e.g. Avro object container files).
    container: bool,
    /// Set when the format is Parquet, which the connector reads and writes itself.
    #[cfg(feature = "parquet")]
    parquet: Option<Arc<crate::parquet::ParquetConfig>>,
}

impl std::fmt::Debug for FormatHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormatHandle")
            .field("format", &self.factory.identifier())
            .finish()
    }
}

impl FormatHandle {
    /// The format of `ctx`'s `format` option, reading and writing rows of `schema`.
    fn new(ctx: &TableContext<'_>, schema: SchemaRef) -> Result<Self> {
        let id = ctx.options.get(&FORMAT)?;
        let factory = ctx.registry.format(&id)?;
        let options = ctx.options.format_options("", &id);
        #[cfg(feature = "parquet")]
        let parquet = if factory.identifier() == crate::parquet::IDENTIFIER {
            Some(Arc::new(crate::parquet::ParquetConfig::from_options(
                &options,
            )?))
        } else {
            None
        };
        let ctx_f = FormatContext { schema, options };
        #[cfg(feature = "parquet")]
        let own_bulk = parquet.is_some();
        #[cfg(not(feature = "parquet"))]
        let own_bulk = false;
        // Formats that read and write whole files through the SDK's bulk hooks (avro).
        // Creating a reader checks the format's options (a bad 'avro.codec' fails here).
        let container = match (own_bulk, factory.create_bulk_reader(&ctx_f)) {
            (false, Some(r)) => {
                r?;
                true
            }
            _ => false,
        };
        Ok(FormatHandle {
            factory,
            ctx: ctx_f,
            container,
            #[cfg(feature = "parquet")]
            parquet,
        })
    }

    /// The format's identifier (`json`, `csv`, ...).
    pub fn identifier(&self) -> &'static str {
        self.factory.identifier()
    }

    /// Whether the format reads and writes whole files (Parquet, Avro) rather than lines.
    pub fn is_bulk(&self) -> bool {
        #[cfg(feature = "parquet")]
        if self.parquet.is_some() {
            return true;
        }
        self.container
    }

    /// Whether the format reads and writes whole files through the SDK's bulk hooks
    /// ([`BulkWriter`], [`BulkReader`]), as Avro object container files.
    pub fn is_container(&self) -> bool {
        self.container
    }

    /// A writer of one whole file on `out`, for formats that are [containers](Self::is_container);
    /// `path` names the file in errors.
    pub fn bulk_writer(
        &self,
        out: Box<dyn std::io::Write + Send>,
        path: &str,
    ) -> Result<Box<dyn BulkWriter>> {
        self.factory
            .create_bulk_writer(&self.ctx, out, path)
            .unwrap_or_else(|| Err(self.not_container()))
    }

    /// A reader of whole files, for formats that are [containers](Self::is_container).
    pub fn bulk_reader(&self) -> Result<Box<dyn BulkReader>> {
        self.factory
            .create_bulk_reader(&self.ctx)
            .unwrap_or_else(|| Err(self.not_container()))
    }

    fn not_container(&self) -> Error {
        Error::internal(format!(
            "filesystem: format '{}' does not read or write whole files",
            self.factory.identifier()
        ))
    }

    /// The Parquet settings, when the format is Parquet.
    #[cfg(feature = "parquet")]
    pub fn parquet(&self) -> Option<&Arc<crate::parquet::ParquetConfig>> {
        self.parquet.as_ref()
    }

    /// The row kinds the format carries (changelog formats such as `debezium-json` carry all).
    pub fn changelog_mode(&self) -> headrace_sdk::changelog::ChangelogMode {
        if self.is_bulk() {
            return headrace_sdk::changelog::ChangelogMode::InsertOnly;
        }
        self.factory.changelog_mode()
    }

    /// The columns stored in the files, with the table's Arrow types.
    pub fn schema(&self) -> &SchemaRef {
        &self.ctx.schema
    }

    /// A new decoder.
    pub fn decoder(&self) -> Result<Box<dyn Decoder>> {
        self.factory.create_decoder(&self.ctx)
    }

    /// A new encoder.
    pub fn encoder(&self) -> Result<Box<dyn Encoder>> {
        self.factory.create_encoder(&self.ctx)
    }
}

/// Check the partition columns and return the schema of the columns stored in files (physical
/// columns that are not partition columns).
fn file_schema(ctx: &TableContext<'_>) -> Result<SchemaRef> {
    let schema: &TableSchema = &ctx.schema;
    for k in &schema.partition_keys {
        match schema.column(k) {
            Some(c) if c.is_physical() => {}
            _ => {
                return Err(Error::Schema(format!(
                    "{}: partition column '{k}' must be a physical column of the table",
                    ctx.options.context()
                )))
            }
        }
    }
    let fields: Vec<_> = schema
        .physical_columns()
        .filter(|c| !schema.partition_keys.contains(&c.name))
        .map(|c| c.data_type.to_arrow_field(&c.name))
        .collect();
    if fields.is_empty() {
        return Err(Error::Schema(format!(
            "{}: every physical column is a partition column; at least one column must be \
             stored in the files",
            ctx.options.context()
        )));
    }
    Ok(Arc::new(Schema::new(fields)))
}

fn positive(
    ctx: &TableContext<'_>,
    o: &headrace_sdk::options::ConfigOption<std::time::Duration>,
) -> Result<std::time::Duration> {
    let d = ctx.options.get(o)?;
    if d.is_zero() {
        return Err(ctx.options.invalid(
            o,
            ctx.options.raw().get(o.key()).cloned().unwrap_or_default(),
            "the interval must be greater than 0",
        ));
    }
    Ok(d)
}

fn default_name(ctx: &TableContext<'_>) -> Result<String> {
    let n = ctx.options.get(&PARTITION_DEFAULT_NAME)?;
    if n.is_empty() {
        return Err(ctx.options.invalid(
            &PARTITION_DEFAULT_NAME,
            n,
            "the default partition name must not be empty",
        ));
    }
    Ok(n)
}

/// Create the source described by `ctx` (what [`FileSystemFactory::create_source`] does, typed).
pub fn create_source(ctx: &TableContext<'_>) -> Result<FileSource> {
    let o = &ctx.options;
    let path = PathBuf::from(o.get(&PATH)?);
    let monitor = if o.contains(&SOURCE_MONITOR_INTERVAL) {
        Some(positive(ctx, &SOURCE_MONITOR_INTERVAL)?)
    } else {
        None
    };
    let regex = match o.get_optional(&SOURCE_PATH_REGEX_PATTERN)? {
        Some(p) => Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
            o.invalid(
                &SOURCE_PATH_REGEX_PATTERN,
                p.clone(),
                format!("not a valid regular expression: {e}"),
            )
        })?),
        None => None,
    };
    let file_schema = file_schema(ctx)?;
    let format = FormatHandle::new(ctx, file_schema.clone())?;
    if !format.is_bulk() {
        // Fail now, not in a reader, when the format cannot read these columns.
        ctx.decoder(&FORMAT, file_schema)?;
    }
    tracing::debug!(table = %ctx.table_name, path = %path.display(), ?monitor, "creating filesystem source");
    FileSource::new(
        path,
        format,
        &ctx.schema,
        default_name(ctx)?,
        monitor,
        regex,
    )
}

/// Create the sink described by `ctx` (what [`FileSystemFactory::create_sink`] does, typed).
pub fn create_sink(ctx: &TableContext<'_>) -> Result<FileSink> {
    let o = &ctx.options;
    let path = PathBuf::from(o.get(&PATH)?);
    let file_size = o.get(&SINK_ROLLING_POLICY_FILE_SIZE)?;
    if file_size.bytes() == 0 {
        return Err(o.invalid(
            &SINK_ROLLING_POLICY_FILE_SIZE,
            "0",
            "the part file size must be greater than 0",
        ));
    }
    let policy = RollingPolicy {
        file_size: file_size.bytes(),
        rollover_interval: positive(ctx, &SINK_ROLLING_POLICY_ROLLOVER_INTERVAL)?,
        inactivity_interval: positive(ctx, &SINK_ROLLING_POLICY_INACTIVITY_INTERVAL)?,
        check_interval: positive(ctx, &SINK_ROLLING_POLICY_CHECK_INTERVAL)?,
    };
    let parallelism = match o.get_optional(&SINK_PARALLELISM)? {
        Some(p) if p < 1 => {
            return Err(o.invalid(
                &SINK_PARALLELISM,
                p.to_string(),
                "the parallelism must be at least 1; remove the option to use the default",
            ))
        }
        other => other.map(|p| p as usize),
    };
    let file_schema = file_schema(ctx)?;
    let format = FormatHandle::new(ctx, file_schema.clone())?;
    if format.is_container() {
        // Fail now, not in a writer, when the format cannot write these columns.
        format
            .bulk_writer(Box::new(std::io::sink()), &path.display().to_string())?
            .finish()?;
    } else if !format.is_bulk() {
        ctx.encoder(&FORMAT, file_schema)?;
    }
    tracing::debug!(table = %ctx.table_name, path = %path.display(), "creating filesystem sink");
    let commit = PartitionCommit::from_options(o, &ctx.schema.partition_keys)?;
    let compaction = if o.get(&AUTO_COMPACTION)? {
        let size = o
            .get_optional(&COMPACTION_FILE_SIZE)?
            .map_or(file_size.bytes(), |s| s.bytes());
        if size == 0 {
            return Err(o.invalid(
                &COMPACTION_FILE_SIZE,
                "0",
                "the compaction file size must be greater than 0",
            ));
        }
        Some(size)
    } else {
        None
    };
    FileSink::new(
        path,
        format,
        &ctx.schema,
        default_name(ctx)?,
        policy,
        parallelism,
    )?
    .with_partition_commit(commit)
    .with_shuffle_by_partition(o.get(&SINK_SHUFFLE_BY_PARTITION_ENABLE)?)
    .with_compaction(compaction)
}
