//! Step 2: the factory, the connector's DDL face.
//!
//! The runtime finds a factory by its identifier (`'connector' = 'lines'`), validates the table's
//! options against [`ConnectorFactory::options`] and its `METADATA` columns against
//! [`ConnectorFactory::metadata`], and only then calls [`ConnectorFactory::create_source`] or
//! [`ConnectorFactory::create_sink`] with a [`TableContext`] holding the table's name, declared
//! schema and validated options.
//!
//! The factory's job is to turn that context into a source or sink:
//!
//! 1. read the options with their typed getters (`ctx.options.get(&PATH)?`),
//! 2. check what the generic validation cannot know (here: the declared columns must be columns
//!    this connector can produce or consume), with errors that name the table and say how to fix
//!    it,
//! 3. build the source or sink, without any I/O: files are opened by enumerators, readers and
//!    writers, which run later and possibly elsewhere.

use std::path::PathBuf;
use std::sync::Arc;

use headrace_sdk::error::did_you_mean;
use headrace_sdk::prelude::*;

use crate::options::{option_set, PATH, SCAN_EMPTY_LINES, SINK_FLUSH_INTERVAL};
use crate::sink::LinesSink;
use crate::source::LinesSource;

/// The identifier users write in `'connector' = 'lines'`.
pub const IDENTIFIER: &str = "lines";

/// The metadata key of the file a line was read from (`file STRING METADATA VIRTUAL`).
pub const FILE_METADATA_KEY: &str = "file";

/// The physical columns of the connector when a table declares none (e.g. a builder without a
/// schema).
pub const DEFAULT_COLUMNS: &str = "line STRING, line_number BIGINT";

/// The `lines` connector: reads lines of local text files and appends lines to a local file.
///
/// A factory is a plain, stateless value: it is created once per process (by
/// [`register_connector!`](headrace_sdk::register_connector) or [`crate::factory()`]) and shared by
/// every table that uses the connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinesFactory;

/// What fills one column of the batches the source produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinesColumn {
    /// The text of the line, without its line terminator (`line STRING`).
    Line,
    /// The 1-based number of the line within its file (`line_number BIGINT`).
    LineNumber,
    /// The path of the file, as given in `path` (`METADATA FROM 'file'`).
    File,
}

impl ConnectorFactory for LinesFactory {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Reads lines of local text files (one split per file, resumable mid-file) and appends \
         lines to a local file (at-least-once). The example connector of the Headrace SDK."
    }

    fn options(&self) -> OptionSet {
        option_set()
    }

    /// Declaring a metadata key is all it takes for the SDK to accept `... METADATA FROM 'file'`
    /// columns (and to reject unknown keys with a suggestion, or writes to a read-only key).
    fn metadata(&self) -> Vec<MetadataSpec> {
        vec![MetadataSpec {
            key: FILE_METADATA_KEY,
            data_type: "STRING NOT NULL",
            description: "The path of the file the line was read from, as written in 'path'.",
            readable: true,
            writable: false,
        }]
    }

    fn supports_source(&self) -> bool {
        true
    }

    fn supports_sink(&self) -> bool {
        true
    }

    fn create_source(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        let o = &ctx.options;
        let paths = paths(o)?;
        let empty_lines = o.get(&SCAN_EMPTY_LINES)?;
        let (schema, columns) = source_columns(ctx)?;
        tracing::debug!(
            table = %ctx.table_name,
            files = paths.len(),
            ?empty_lines,
            "creating lines source"
        );
        Ok(Arc::new(LinesSource::new(
            paths,
            schema,
            columns,
            empty_lines,
        )))
    }

    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        let o = &ctx.options;
        let path = match paths(o)?.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(o.invalid(
                    &PATH,
                    o.get(&PATH)?,
                    "a lines sink appends to exactly one file; give a single path",
                ))
            }
        };
        let flush_interval = o.get(&SINK_FLUSH_INTERVAL)?;
        // The consumed schema is what the runtime hands to writers: physical columns, then
        // persisted metadata columns (the SDK already rejected writes to our read-only key).
        let schema = ctx.schema.consumed_arrow_schema();
        let physical: Vec<&Column> = ctx.schema.physical_columns().collect();
        if !matches!(physical.as_slice(), [c] if c.data_type.is_string()) {
            return Err(Error::Schema(format!(
                "{}: a lines sink writes one STRING column, but the table declares {}. Declare \
                 one column such as 'line STRING' and select the text to write into it",
                o.context(),
                describe(&physical)
            )));
        }
        tracing::debug!(
            table = %ctx.table_name,
            path = %path.display(),
            ?flush_interval,
            "creating lines sink"
        );
        Ok(Arc::new(LinesSink::new(path, schema, flush_interval)))
    }
}

/// The files named by `path`, in order, without duplicates.
fn paths(o: &Options) -> Result<Vec<PathBuf>> {
    let raw = o.get(&PATH)?;
    let mut out: Vec<PathBuf> = Vec::new();
    for p in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if out.contains(&p) {
            // Split ids must be unique, and reading a file twice is almost certainly a mistake.
            return Err(o.invalid(
                &PATH,
                raw.clone(),
                format!("'{}' is listed twice", p.display()),
            ));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(o.invalid(&PATH, raw, "no file given"));
    }
    Ok(out)
}

/// The produced Arrow schema and what fills each of its columns.
///
/// The runtime expects a source to produce the table's physical columns, then its metadata columns,
/// in declaration order ([`TableSchema::produced_arrow_schema`]); computed columns are evaluated by
/// the runtime. The generic validation already checked the metadata keys; the physical columns are
/// checked here because only the connector knows which ones it can fill.
fn source_columns(ctx: &TableContext<'_>) -> Result<(SchemaRef, Vec<LinesColumn>)> {
    let declared;
    let schema = if ctx.schema.columns.is_empty() {
        declared = TableSchema::parse_columns(DEFAULT_COLUMNS)?;
        &declared
    } else {
        &ctx.schema
    };
    let context = ctx.options.context();
    let mut columns = Vec::new();
    for c in schema.physical_columns() {
        let (column, ok) = match c.name.as_str() {
            "line" => (LinesColumn::Line, c.data_type.is_string()),
            "line_number" => (
                LinesColumn::LineNumber,
                c.data_type.logical == LogicalType::BigInt,
            ),
            other => {
                return Err(Error::Schema(format!(
                    "{context}: column '{other}' is not a column of the lines connector.{} \
                     Physical columns: 'line STRING', 'line_number BIGINT'; metadata: \
                     'file STRING METADATA VIRTUAL'",
                    did_you_mean(other, ["line", "line_number"])
                )))
            }
        };
        if !ok {
            return Err(Error::Schema(format!(
                "{context}: column '{}' is {}, but the lines connector produces {}",
                c.name,
                c.data_type,
                if column == LinesColumn::Line {
                    "STRING"
                } else {
                    "BIGINT"
                }
            )));
        }
        columns.push(column);
    }
    for c in schema.metadata_columns() {
        // `validate_table` guarantees the key is one of `metadata()`, i.e. `file`.
        if !c.data_type.is_string() {
            return Err(Error::Schema(format!(
                "{context}: metadata column '{}' is {}, but metadata '{FILE_METADATA_KEY}' is \
                 STRING",
                c.name, c.data_type
            )));
        }
        columns.push(LinesColumn::File);
    }
    Ok((schema.produced_arrow_schema(), columns))
}

fn describe(columns: &[&Column]) -> String {
    if columns.is_empty() {
        return "no physical column".to_string();
    }
    columns
        .iter()
        .map(|c| format!("'{} {}'", c.name, c.data_type))
        .collect::<Vec<_>>()
        .join(", ")
}
