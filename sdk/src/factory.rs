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

    /// A new decoder reading rows of `schema`.
    pub fn decoder(&self, schema: arrow::datatypes::SchemaRef) -> Result<Box<dyn Decoder>> {
        self.factory.create_decoder(&FormatContext {
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
        }
    }
    let mut v = Validator::new();
    v.add("", &own).accept_key(CONNECTOR.key());
    for (p, s) in &format_sets {
        v.add(p.clone(), s);
    }
    v.validate(&context, raw)?;

    let meta = factory.metadata();
    for c in &schema.columns {
        if let ColumnKind::Metadata { is_virtual, .. } = &c.kind {
            let key = c.metadata_key().unwrap_or(&c.name);
            let Some(spec) = meta.iter().find(|m| m.key == key) else {
                let keys: Vec<&str> = meta.iter().map(|m| m.key).collect();
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
    Ok(Options::new(context, raw.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::ConfigOption;

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
}
