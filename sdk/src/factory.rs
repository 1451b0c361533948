//! Connector factories: the DDL face of a connector.

use std::sync::Arc;

use crate::error::{did_you_mean, Error, Result};
use crate::format::{Decoder, Encoder, FormatContext, FormatFactory};
use crate::options::{ConfigOption, OptionSet, Options, RawOptions, Validator};
use crate::registry::Registry;
use crate::schema::{ColumnKind, TableSchema};
use crate::sink::DynamicSink;
use crate::source::DynamicSource;

/// The option that names the connector.
pub const CONNECTOR: ConfigOption<String> =
    ConfigOption::new("connector").description("The connector to use, e.g. 'kafka'.");

/// A metadata key a connector can read or write (`METADATA FROM 'key'`).
#[derive(Debug, Clone)]
pub struct MetadataSpec {
    /// The key.
    pub key: &'static str,
    /// The Flink type, as a type string.
    pub data_type: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Readable by the source.
    pub readable: bool,
    /// Writable by the sink.
    pub writable: bool,
}

/// A place where a format is chosen, e.g. `value.format` with fallback `format`.
#[derive(Debug, Clone, Copy)]
pub struct FormatSlot {
    /// The option naming the format.
    pub option: ConfigOption<String>,
}

/// Everything a factory gets to create a source or sink.
pub struct TableContext<'a> {
    /// The table's name.
    pub table_name: String,
    /// The declared schema.
    pub schema: TableSchema,
    /// The validated options.
    pub options: Options,
    /// The registry, for formats.
    pub registry: &'a Registry,
}

/// A resolved format with its options: cheap to clone, so each reader and writer can make its own
/// decoder or encoder.
#[derive(Clone)]
pub struct FormatHandle {
    factory: Arc<dyn FormatFactory>,
    options: Options,
}

impl std::fmt::Debug for FormatHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormatHandle")
            .field("format", &self.factory.identifier())
            .finish()
    }
}

impl FormatHandle {
    /// The format's identifier (`json`, `csv`, ...).
    pub fn identifier(&self) -> &'static str {
        self.factory.identifier()
    }

    /// The row kinds the format carries.
    pub fn changelog_mode(&self) -> crate::changelog::ChangelogMode {
        self.factory.changelog_mode()
    }

    /// The format's options (prefix removed).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The same format with `key` (written without the format prefix) set to `value` unless the
    /// user set it: how a connector supplies a default it alone knows, as Flink's Kafka connector
    /// defaults `avro-confluent.subject` to `<topic>-value`.
    pub fn with_default_option(mut self, key: &str, value: impl Into<String>) -> Self {
        self.options = self.options.with_default(key, value);
        self
    }

    /// A new decoder reading rows of `schema`.
    pub fn decoder(&self, schema: arrow::datatypes::SchemaRef) -> Result<Box<dyn Decoder>> {
        self.factory.create_decoder(&FormatContext {
            schema,
            options: self.options.clone(),
        })
    }

    /// The metadata keys the format can read (without any connector prefix).
    pub fn metadata(&self) -> Vec<MetadataSpec> {
        self.factory.metadata()
    }

    /// A new decoder reading rows of `schema` followed by the format metadata `keys` (see
    /// [`crate::format`] for the column layout).
    pub fn decoder_with_metadata(
        &self,
        schema: arrow::datatypes::SchemaRef,
        keys: &[String],
    ) -> Result<Box<dyn Decoder>> {
        self.factory.create_decoder_with_metadata(
            &FormatContext {
                schema,
                options: self.options.clone(),
            },
            keys,
        )
    }

    /// A writer of one whole file of rows of `schema`, if the format writes whole files (see
    /// [`FormatFactory::create_bulk_writer`]).
    pub fn bulk_writer(
        &self,
        schema: arrow::datatypes::SchemaRef,
        out: Box<dyn std::io::Write + Send>,
        path: &str,
    ) -> Option<Result<Box<dyn crate::format::BulkWriter>>> {
        self.factory.create_bulk_writer(
            &FormatContext {
                schema,
                options: self.options.clone(),
            },
            out,
            path,
        )
    }

    /// A reader of whole files of rows of `schema`, if the format reads whole files (see
    /// [`FormatFactory::create_bulk_reader`]).
    pub fn bulk_reader(
        &self,
        schema: arrow::datatypes::SchemaRef,
    ) -> Option<Result<Box<dyn crate::format::BulkReader>>> {
        self.factory.create_bulk_reader(&FormatContext {
            schema,
            options: self.options.clone(),
        })
    }

    /// A new encoder writing rows of `schema`.
    pub fn encoder(&self, schema: arrow::datatypes::SchemaRef) -> Result<Box<dyn Encoder>> {
        self.factory.create_encoder(&FormatContext {
            schema,
            options: self.options.clone(),
        })
    }
}

impl TableContext<'_> {
    /// The format chosen by `slot` (e.g. `value.format` falling back to `format`), with its
    /// options taken from the right prefix (`json.`, `value.json.`), or None when not set.
    pub fn format(&self, slot: &ConfigOption<String>) -> Result<Option<FormatHandle>> {
        let o = &self.options;
        let Some(id) = o.get_optional(slot)? else {
            return Ok(None);
        };
        let key = std::iter::once(slot.key())
            .chain(slot.descriptor().fallback_keys.iter().copied())
            .find(|k| o.raw().contains_key(*k))
            .unwrap_or(slot.key());
        let prefix = key.strip_suffix("format").unwrap_or("");
        Ok(Some(FormatHandle {
            factory: self.registry.format(&id)?,
            options: o.format_options(prefix, &id),
        }))
    }

    fn required_format(&self, slot: &ConfigOption<String>) -> Result<FormatHandle> {
        self.format(slot)?.ok_or_else(|| Error::MissingOption {
            context: self.options.context().to_string(),
            key: slot.key().to_string(),
            description: "the format of the records".into(),
        })
    }

    /// Where each metadata column of the table is read from, for a connector whose format chosen
    /// by `slot` exposes its metadata under `prefix` (`"value."` for Kafka, `""` for files), given
    /// the connector's own keys. See [`split_metadata_columns`].
    pub fn format_metadata_plan(
        &self,
        slot: &ConfigOption<String>,
        prefix: &str,
        connector: &[MetadataSpec],
    ) -> Result<MetadataPlan> {
        let offered = match self.format(slot)? {
            Some(f) => f.metadata(),
            None => Vec::new(),
        };
        split_metadata_columns(&self.schema, connector, prefix, &offered)
    }

    /// A decoder for the format chosen by `slot`, reading rows of `schema`.
    pub fn decoder(
        &self,
        slot: &ConfigOption<String>,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Box<dyn Decoder>> {
        self.required_format(slot)?.decoder(schema)
    }

    /// An encoder for the format chosen by `slot`, writing rows of `schema`.
    pub fn encoder(
        &self,
        slot: &ConfigOption<String>,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Box<dyn Encoder>> {
        self.required_format(slot)?.encoder(schema)
    }
}

/// A connector: identifier, options, and the sources and sinks it creates.
pub trait ConnectorFactory: Send + Sync {
    /// The identifier used in `'connector' = '...'`.
    fn identifier(&self) -> &'static str;
    /// One line describing the connector.
    fn description(&self) -> &'static str;
    /// Options, required and optional (all of them, for docs and generated wrappers).
    fn options(&self) -> OptionSet;
    /// The options that apply when the table is used as a source or as a sink, when they differ
    /// (as with Flink's separate source and sink factories). Defaults to [`ConnectorFactory::options`].
    fn options_for(&self, _usage: Usage) -> OptionSet {
        self.options()
    }
    /// Where formats are chosen (empty for connectors without formats).
    fn format_slots(&self) -> Vec<FormatSlot> {
        Vec::new()
    }
    /// Metadata keys for `METADATA` columns.
    fn metadata(&self) -> Vec<MetadataSpec> {
        Vec::new()
    }
    /// The prefix under which the metadata of the format chosen in `slot` is offered as
    /// `METADATA FROM '<prefix><key>'` columns (Flink's Kafka connector uses `value.` for the value
    /// format; the filesystem connector no prefix), or None (the default) when the connector does
    /// not pass format metadata on. See [`crate::format`] for the whole contract.
    fn format_metadata_prefix(&self, _slot: &FormatSlot) -> Option<&'static str> {
        None
    }
    /// Whether the connector can be read from.
    fn supports_source(&self) -> bool;
    /// Whether the connector can be written to.
    fn supports_sink(&self) -> bool;
    /// Create a source (no I/O: connections are opened by readers and enumerators).
    fn create_source(&self, _ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        Err(Error::Unsupported(format!(
            "connector '{}' cannot be used as a source (it is sink-only)",
            self.identifier()
        )))
    }
    /// Create a sink (no I/O).
    fn create_sink(&self, _ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Err(Error::Unsupported(format!(
            "connector '{}' cannot be used as a sink (it is source-only)",
            self.identifier()
        )))
    }
}

/// Whether a table is being read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// As a source.
    Source,
    /// As a sink.
    Sink,
}

/// Validate a table's options and metadata columns against its connector and formats, as Flink's
/// `FactoryUtil` does, and return the typed options.
pub fn validate_table(
    registry: &Registry,
    factory: &dyn ConnectorFactory,
    table_name: &str,
    schema: &TableSchema,
    raw: &RawOptions,
    usage: Option<Usage>,
) -> Result<Options> {
    let context = format!(
        "table '{table_name}' (connector '{}')",
        factory.identifier()
    );
    let own = match usage {
        Some(u) => factory.options_for(u),
        None => factory.options(),
    };
    let mut format_sets: Vec<(String, OptionSet)> = Vec::new();
    // Format metadata offered as connector metadata: (full key, spec).
    let mut format_meta: Vec<(String, MetadataSpec)> = Vec::new();
    for slot in factory.format_slots() {
        let d = slot.option.descriptor();
        let keys: Vec<&'static str> = d.all_keys().collect();
        if let Some((key, id)) = keys
            .into_iter()
            .find_map(|k| raw.get(k).map(|v| (k, v.clone())))
        {
            let f = registry.format(&id).map_err(|e| match e {
                Error::UnknownFactory {
                    suggestion,
                    available,
                    ..
                } => Error::InvalidOption {
                    context: context.clone(),
                    key: key.to_string(),
                    value: id.clone(),
                    reason: format!(
                        "no format named '{id}' is registered.{suggestion} Available: {available}"
                    ),
                },
                other => other,
            })?;
            let prefix = key.strip_suffix("format").unwrap_or("");
            format_sets.push((format!("{prefix}{id}."), f.options()));
            if let Some(mp) = factory.format_metadata_prefix(&slot) {
                for m in f.metadata() {
                    format_meta.push((format!("{mp}{}", m.key), m));
                }
            }
        }
    }
    let bad_records = crate::bad_records::options();
    let mut v = Validator::new();
    v.add("", &own).accept_key(CONNECTOR.key());
    v.add("", &bad_records);
    // Options the runner reads for any table with a WATERMARK, whatever the connector.
    let watermark_options = OptionSet::new().optional(crate::source::SCAN_WATERMARK_IDLE_TIMEOUT);
    if !schema.watermarks.is_empty() {
        v.add("", &watermark_options);
    }
    for (p, s) in &format_sets {
        v.add(p.clone(), s);
    }
    v.validate(&context, raw)?;

    let meta = factory.metadata();
    for c in &schema.columns {
        if let ColumnKind::Metadata { is_virtual, .. } = &c.kind {
            let key = c.metadata_key().unwrap_or(&c.name);
            let found = meta
                .iter()
                .find(|m| m.key == key)
                .or_else(|| format_meta.iter().find(|(k, _)| k == key).map(|(_, m)| m));
            let Some(spec) = found else {
                let keys: Vec<&str> = meta
                    .iter()
                    .map(|m| m.key)
                    .chain(format_meta.iter().map(|(k, _)| k.as_str()))
                    .collect();
                return Err(Error::Schema(format!(
                    "{context}: column '{}' reads metadata key '{key}', which the connector does not offer.{} Available metadata keys: {}",
                    c.name,
                    did_you_mean(key, keys.iter().copied()),
                    if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
                )));
            };
            if let Ok(offered) = crate::types::DataType::parse(spec.data_type) {
                let (from_t, to_t) = match usage {
                    Some(Usage::Sink) => (&c.data_type, &offered),
                    _ => (&offered, &c.data_type),
                };
                if !crate::types::castable(from_t, to_t) {
                    return Err(Error::Schema(format!(
                        "{context}: column '{}' is declared {} but metadata key '{key}' is {}; declare it {} (or a type it casts to)",
                        c.name, c.data_type, spec.data_type, spec.data_type
                    )));
                }
            }
            if usage == Some(Usage::Source) && !spec.readable {
                return Err(Error::Schema(format!(
                    "{context}: metadata key '{key}' (column '{}') can only be written",
                    c.name
                )));
            }
            if usage == Some(Usage::Sink) && !is_virtual && !spec.writable {
                return Err(Error::Schema(format!(
                    "{context}: metadata key '{key}' (column '{}') is read-only; declare the column VIRTUAL",
                    c.name
                )));
            }
        }
    }
    let options = Options::new(context, raw.clone());
    crate::bad_records::check(&options)?;
    Ok(options)
}

/// Where one metadata column of a table is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataSource {
    /// The connector fills it from its own metadata key.
    Connector {
        /// The connector's key.
        key: String,
    },
    /// The format fills it: it is the decoded batch's column number
    /// `physical columns + position`, where `position` indexes [`MetadataPlan::format_keys`].
    Format {
        /// The format's key (connector prefix removed).
        key: String,
        /// Index into [`MetadataPlan::format_keys`].
        position: usize,
    },
}

/// For each metadata column of a table, who fills it; built by [`split_metadata_columns`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataPlan {
    /// One entry per metadata column of the table, in declaration order (the order of
    /// [`TableSchema::metadata_columns`]).
    pub sources: Vec<MetadataSource>,
    /// The distinct format keys to ask the decoder for, in order of first use (pass them to
    /// [`FormatHandle::decoder_with_metadata`]).
    pub format_keys: Vec<String>,
}

impl MetadataPlan {
    /// The table's metadata columns, in declaration order, for one decoded batch: a format column
    /// is taken from `decoded` (column `physical + position`), a connector column from
    /// `connector(key)` (which must return one value per row of `decoded`); each is cast to the
    /// type of its field in `fields` (the metadata fields of
    /// [`TableSchema::produced_arrow_schema`], in order) when it differs.
    pub fn metadata_columns(
        &self,
        decoded: &arrow::array::RecordBatch,
        physical: usize,
        fields: &[arrow::datatypes::FieldRef],
        mut connector: impl FnMut(&str) -> Result<arrow::array::ArrayRef>,
    ) -> Result<Vec<arrow::array::ArrayRef>> {
        if fields.len() != self.sources.len() {
            return Err(Error::internal(format!(
                "metadata plan has {} columns but {} fields were given",
                self.sources.len(),
                fields.len()
            )));
        }
        let mut out = Vec::with_capacity(fields.len());
        for (src, field) in self.sources.iter().zip(fields) {
            let col = match src {
                MetadataSource::Connector { key } => connector(key)?,
                MetadataSource::Format { key, position } => decoded
                    .columns()
                    .get(physical + position)
                    .cloned()
                    .ok_or_else(|| {
                        Error::internal(format!(
                            "the decoder returned no column for format metadata key '{key}'"
                        ))
                    })?,
            };
            out.push(if col.data_type() == field.data_type() {
                col
            } else {
                arrow::compute::cast(&col, field.data_type())?
            });
        }
        Ok(out)
    }
}

/// Split a table's metadata columns between the connector (keys in `connector`) and its format
/// (keys in `format` offered as `<format_prefix><key>`). Connector keys win when both match. A key
/// neither offers is an error naming the column (normally caught earlier by [`validate_table`]).
pub fn split_metadata_columns(
    schema: &TableSchema,
    connector: &[MetadataSpec],
    format_prefix: &str,
    format: &[MetadataSpec],
) -> Result<MetadataPlan> {
    let mut plan = MetadataPlan::default();
    for c in schema.metadata_columns() {
        let key = c.metadata_key().unwrap_or(&c.name);
        if connector.iter().any(|m| m.key == key) {
            plan.sources.push(MetadataSource::Connector {
                key: key.to_string(),
            });
            continue;
        }
        let fkey = key
            .strip_prefix(format_prefix)
            .filter(|k| format.iter().any(|m| m.key == *k));
        let Some(fkey) = fkey else {
            return Err(Error::Schema(format!(
                "column '{}' reads metadata key '{key}', which neither the connector nor its format offers",
                c.name
            )));
        };
        let position = match plan.format_keys.iter().position(|k| k == fkey) {
            Some(p) => p,
            None => {
                plan.format_keys.push(fkey.to_string());
                plan.format_keys.len() - 1
            }
        };
        plan.sources.push(MetadataSource::Format {
            key: fkey.to_string(),
            position,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::ConfigOption;
    use crate::types::DataType;

    struct Fake;
    const TOPIC: ConfigOption<String> = ConfigOption::new("topic");
    const GROUP: ConfigOption<String> = ConfigOption::new("properties.group.id");

    impl ConnectorFactory for Fake {
        fn identifier(&self) -> &'static str {
            "fake"
        }
        fn description(&self) -> &'static str {
            "fake"
        }
        fn options(&self) -> OptionSet {
            OptionSet::new().required(TOPIC).optional(GROUP)
        }
        fn options_for(&self, usage: Usage) -> OptionSet {
            match usage {
                Usage::Source => self.options(),
                Usage::Sink => OptionSet::new().required(TOPIC),
            }
        }
        fn metadata(&self) -> Vec<MetadataSpec> {
            vec![MetadataSpec {
                key: "offset",
                data_type: "BIGINT NOT NULL",
                description: "offset",
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
    }

    fn raw(pairs: &[(&str, &str)]) -> RawOptions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_keys_types_and_directions() {
        let r = Registry::new();
        let opts = raw(&[("connector", "fake"), ("topic", "t")]);
        let ok = TableSchema::parse_columns("v STRING, o BIGINT METADATA FROM 'offset' VIRTUAL")
            .unwrap();
        validate_table(&r, &Fake, "t", &ok, &opts, Some(Usage::Source)).unwrap();
        validate_table(&r, &Fake, "t", &ok, &opts, Some(Usage::Sink)).unwrap();

        let typo = TableSchema::parse_columns("v STRING, o BIGINT METADATA FROM 'ofset'").unwrap();
        let e = validate_table(&r, &Fake, "t", &typo, &opts, Some(Usage::Source))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Did you mean 'offset'?"), "{e}");

        let bad_type =
            TableSchema::parse_columns("v STRING, o ARRAY<INT> METADATA FROM 'offset'").unwrap();
        let e = validate_table(&r, &Fake, "t", &bad_type, &opts, Some(Usage::Source))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("declared ARRAY<INT>") && e.contains("BIGINT"),
            "{e}"
        );

        let persisted =
            TableSchema::parse_columns("v STRING, o BIGINT METADATA FROM 'offset'").unwrap();
        let e = validate_table(&r, &Fake, "t", &persisted, &opts, Some(Usage::Sink))
            .unwrap_err()
            .to_string();
        assert!(e.contains("read-only") && e.contains("VIRTUAL"), "{e}");
    }

    #[test]
    fn options_per_usage() {
        let r = Registry::new();
        let s = TableSchema::parse_columns("v STRING").unwrap();
        let opts = raw(&[
            ("connector", "fake"),
            ("topic", "t"),
            ("properties.group.id", "g"),
        ]);
        validate_table(&r, &Fake, "t", &s, &opts, Some(Usage::Source)).unwrap();
        let e = validate_table(&r, &Fake, "t", &s, &opts, Some(Usage::Sink))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported option 'properties.group.id'"),
            "{e}"
        );
    }

    #[test]
    fn unknown_format_is_named() {
        struct WithFormat;
        const FORMAT: ConfigOption<String> = ConfigOption::new("format");
        impl ConnectorFactory for WithFormat {
            fn identifier(&self) -> &'static str {
                "wf"
            }
            fn description(&self) -> &'static str {
                "wf"
            }
            fn options(&self) -> OptionSet {
                OptionSet::new().required(FORMAT)
            }
            fn format_slots(&self) -> Vec<FormatSlot> {
                vec![FormatSlot { option: FORMAT }]
            }
            fn supports_source(&self) -> bool {
                true
            }
            fn supports_sink(&self) -> bool {
                false
            }
        }
        let r = Registry::new();
        let s = TableSchema::parse_columns("v STRING").unwrap();
        let e = validate_table(
            &r,
            &WithFormat,
            "t",
            &s,
            &raw(&[("connector", "wf"), ("format", "jsn")]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'format'") && e.contains("no format named 'jsn'"),
            "{e}"
        );
    }

    /// A format with two metadata keys, and a connector passing them on under `value.`.
    struct MetaFormat;
    impl FormatFactory for MetaFormat {
        fn identifier(&self) -> &'static str {
            "metaf"
        }
        fn description(&self) -> &'static str {
            "metaf"
        }
        fn options(&self) -> OptionSet {
            OptionSet::new()
        }
        fn metadata(&self) -> Vec<MetadataSpec> {
            vec![
                MetadataSpec {
                    key: "source.table",
                    data_type: "STRING NULL",
                    description: "table",
                    readable: true,
                    writable: false,
                },
                MetadataSpec {
                    key: "ingestion-timestamp",
                    data_type: "TIMESTAMP_LTZ(3) NULL",
                    description: "ts",
                    readable: true,
                    writable: false,
                },
            ]
        }
        fn create_decoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
            Err(Error::Unsupported("no".into()))
        }
        fn create_encoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
            Err(Error::Unsupported("no".into()))
        }
    }

    const VALUE_FORMAT: ConfigOption<String> = ConfigOption::new("value.format");
    const KEY_FORMAT: ConfigOption<String> = ConfigOption::new("key.format");

    struct MetaConn;
    impl ConnectorFactory for MetaConn {
        fn identifier(&self) -> &'static str {
            "mc"
        }
        fn description(&self) -> &'static str {
            "mc"
        }
        fn options(&self) -> OptionSet {
            OptionSet::new().required(VALUE_FORMAT).optional(KEY_FORMAT)
        }
        fn format_slots(&self) -> Vec<FormatSlot> {
            vec![
                FormatSlot {
                    option: VALUE_FORMAT,
                },
                FormatSlot { option: KEY_FORMAT },
            ]
        }
        fn format_metadata_prefix(&self, slot: &FormatSlot) -> Option<&'static str> {
            (slot.option.key() == "value.format").then_some("value.")
        }
        fn metadata(&self) -> Vec<MetadataSpec> {
            Fake.metadata()
        }
        fn supports_source(&self) -> bool {
            true
        }
        fn supports_sink(&self) -> bool {
            false
        }
    }

    #[test]
    fn format_metadata_is_offered_under_the_connector_prefix() {
        let mut r = Registry::new();
        r.register_format(Arc::new(MetaFormat));
        let opts = raw(&[("connector", "mc"), ("value.format", "metaf")]);
        let ok = TableSchema::parse_columns(
            "v STRING, t STRING METADATA FROM 'value.source.table' VIRTUAL, \
             o BIGINT METADATA FROM 'offset' VIRTUAL, \
             ts TIMESTAMP_LTZ(3) METADATA FROM 'value.ingestion-timestamp' VIRTUAL, \
             t2 STRING METADATA FROM 'value.source.table' VIRTUAL",
        )
        .unwrap();
        validate_table(&r, &MetaConn, "t", &ok, &opts, Some(Usage::Source)).unwrap();

        // Unprefixed: not offered, and the error lists the prefixed key.
        let bare =
            TableSchema::parse_columns("v STRING, t STRING METADATA FROM 'source.table' VIRTUAL")
                .unwrap();
        let e = validate_table(&r, &MetaConn, "t", &bare, &opts, Some(Usage::Source))
            .unwrap_err()
            .to_string();
        assert!(e.contains("value.source.table"), "{e}");

        // Type checked against the format's declaration.
        let bad = TableSchema::parse_columns(
            "v STRING, t ARRAY<INT> METADATA FROM 'value.source.table' VIRTUAL",
        )
        .unwrap();
        let e = validate_table(&r, &MetaConn, "t", &bad, &opts, Some(Usage::Source))
            .unwrap_err()
            .to_string();
        assert!(e.contains("declared ARRAY<INT>"), "{e}");

        // Read-only: a persisted column is refused on a sink.
        let persisted =
            TableSchema::parse_columns("v STRING, t STRING METADATA FROM 'value.source.table'")
                .unwrap();
        let e = validate_table(&r, &MetaConn, "t", &persisted, &opts, Some(Usage::Sink))
            .unwrap_err()
            .to_string();
        assert!(e.contains("read-only"), "{e}");

        // The key format's metadata is not passed on (no prefix for that slot).
        let opts_k = raw(&[
            ("connector", "mc"),
            ("value.format", "metaf"),
            ("key.format", "metaf"),
        ]);
        let keyed =
            TableSchema::parse_columns("v STRING, t STRING METADATA FROM 'key.source.table'")
                .unwrap();
        assert!(validate_table(&r, &MetaConn, "t", &keyed, &opts_k, Some(Usage::Source)).is_err());

        // The plan: connector key, then format keys deduplicated in order of first use.
        let ctx = TableContext {
            table_name: "t".into(),
            schema: ok.clone(),
            options: Options::new("t", opts.clone()),
            registry: &r,
        };
        let plan = ctx
            .format_metadata_plan(&VALUE_FORMAT, "value.", &MetaConn.metadata())
            .unwrap();
        assert_eq!(
            plan.format_keys,
            vec![
                "source.table".to_string(),
                "ingestion-timestamp".to_string()
            ]
        );
        assert_eq!(
            plan.sources,
            vec![
                MetadataSource::Format {
                    key: "source.table".into(),
                    position: 0
                },
                MetadataSource::Connector {
                    key: "offset".into()
                },
                MetadataSource::Format {
                    key: "ingestion-timestamp".into(),
                    position: 1
                },
                MetadataSource::Format {
                    key: "source.table".into(),
                    position: 0
                },
            ]
        );
        // Without the prefix the same table does not split.
        assert!(
            split_metadata_columns(&ok, &MetaConn.metadata(), "", &MetaFormat.metadata()).is_err()
        );

        // The decoded layout: physical fields, then one per key, typed by the format.
        let phys = ok.physical_arrow_schema();
        let s = crate::format::format_metadata_schema(
            "metaf",
            &phys,
            &MetaFormat.metadata(),
            &plan.format_keys,
        )
        .unwrap();
        let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["v", "source.table", "ingestion-timestamp"]);
        assert_eq!(
            DataType::from_arrow_field(s.field(2)).unwrap().to_string(),
            "TIMESTAMP_LTZ(3)"
        );
        let e = crate::format::format_metadata_schema(
            "metaf",
            &phys,
            &MetaFormat.metadata(),
            &["source.tabel".to_string()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Did you mean 'source.table'?"), "{e}");

        // A format without metadata refuses keys, and accepts none.
        let handle = ctx.format(&VALUE_FORMAT).unwrap().unwrap();
        assert_eq!(handle.metadata().len(), 2);
        let e = Fake2Format
            .create_decoder_with_metadata(
                &FormatContext {
                    schema: phys.clone(),
                    options: Options::new("t", RawOptions::new()),
                },
                &["x".to_string()],
            )
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("offers no metadata"), "{e}");
    }

    #[test]
    fn metadata_columns_are_taken_in_table_order_and_cast() {
        use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
        let schema = TableSchema::parse_columns(
            "v STRING, o BIGINT METADATA FROM 'offset' VIRTUAL, \
             t STRING METADATA FROM 'source.table' VIRTUAL",
        )
        .unwrap();
        let plan =
            split_metadata_columns(&schema, &Fake.metadata(), "", &MetaFormat.metadata()).unwrap();
        let decoded = RecordBatch::try_from_iter([
            ("v", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
            (
                "source.table",
                Arc::new(StringArray::from(vec!["t1", "t2"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let produced = schema.produced_arrow_schema();
        let cols = plan
            .metadata_columns(&decoded, 1, &produced.fields()[1..], |key| {
                assert_eq!(key, "offset");
                // An INT column where the table says BIGINT: cast.
                Ok(Arc::new(Int32Array::from(vec![7, 8])) as ArrayRef)
            })
            .unwrap();
        let off = cols[0].as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(off.values(), &[7, 8]);
        let t = cols[1].as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(t.value(1), "t2");
        assert!(plan
            .metadata_columns(&decoded, 1, &produced.fields()[2..], |_| unreachable!())
            .is_err());
    }

    struct Fake2Format;
    impl FormatFactory for Fake2Format {
        fn identifier(&self) -> &'static str {
            "plain"
        }
        fn description(&self) -> &'static str {
            "plain"
        }
        fn options(&self) -> OptionSet {
            OptionSet::new()
        }
        fn create_decoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Decoder>> {
            Err(Error::Unsupported("no".into()))
        }
        fn create_encoder(&self, _ctx: &FormatContext) -> Result<Box<dyn Encoder>> {
            Err(Error::Unsupported("no".into()))
        }
    }
}
