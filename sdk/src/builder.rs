//! The builder (DataStream) face of connectors.
//!
//! A builder collects the same key/value options a DDL `WITH` clause holds, through typed setters
//! named after the option keys, and resolves them through the same factory and validation. Connector
//! crates declare their builders with [`connector_builder!`](crate::connector_builder).

use std::sync::Arc;

use crate::error::Result;
use crate::factory::{validate_table, ConnectorFactory, TableContext, Usage};
use crate::options::{ConfigOption, OptionValue, RawOptions};
use crate::registry::Registry;
use crate::schema::TableSchema;
use crate::sink::DynamicSink;
use crate::source::DynamicSource;

/// The state every generated builder holds.
#[derive(Debug, Clone, Default)]
pub struct BuilderState {
    /// Options set so far.
    pub options: RawOptions,
    /// The schema, when set.
    pub schema: Option<TableSchema>,
    /// A name for error messages.
    pub name: Option<String>,
}

impl BuilderState {
    /// Set a typed option.
    pub fn set<T: OptionValue>(&mut self, o: ConfigOption<T>, v: T) {
        self.options
            .insert(o.key().to_string(), v.to_option_string());
    }

    fn context<'a>(
        &self,
        factory: &dyn ConnectorFactory,
        registry: &'a Registry,
        usage: Usage,
    ) -> Result<TableContext<'a>> {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-builder", factory.identifier()));
        let schema = self.schema.clone().unwrap_or_default();
        schema.validate()?;
        let options = validate_table(
            registry,
            factory,
            &name,
            &schema,
            &self.options,
            Some(usage),
        )?;
        Ok(TableContext {
            table_name: name,
            schema,
            options,
            registry,
        })
    }

    /// Validate and create a source.
    pub fn build_source(
        &self,
        factory: &dyn ConnectorFactory,
        registry: &Registry,
    ) -> Result<Arc<dyn DynamicSource>> {
        let ctx = self.context(factory, registry, Usage::Source)?;
        factory.create_source(&ctx)
    }

    /// Validate and create a sink.
    pub fn build_sink(
        &self,
        factory: &dyn ConnectorFactory,
        registry: &Registry,
    ) -> Result<Arc<dyn DynamicSink>> {
        let ctx = self.context(factory, registry, Usage::Sink)?;
        factory.create_sink(&ctx)
    }
}

/// Declare a builder with one typed setter per option.
///
/// ```ignore
/// headrace_sdk::connector_builder! {
///     /// Builds a datagen source.
///     pub struct DatagenSourceBuilder(DatagenFactory) {
///         rows_per_second: ROWS_PER_SECOND as i64,
///         number_of_rows: NUMBER_OF_ROWS as i64,
///     }
/// }
/// ```
/// Every setter stores the value under the option's key; `option(key, value)` sets any key
/// (forwarded prefixes, per-field templates); `build_source()` / `build_sink()` validate exactly as
/// DDL does.
#[macro_export]
macro_rules! connector_builder {
    ($(#[$m:meta])* $vis:vis struct $name:ident($factory:expr) {
        $($(#[$fm:meta])* $setter:ident : $opt:path as $t:ty),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default)]
        $vis struct $name {
            state: $crate::builder::BuilderState,
            registry: Option<$crate::registry::Registry>,
        }

        impl $name {
            $(
                #[doc = concat!("Sets `", stringify!($opt), "` (see the option's description in the connector docs).")]
                $(#[$fm])*
                pub fn $setter(mut self, v: impl Into<$t>) -> Self {
                    self.state.set($opt, v.into());
                    self
                }
            )*

            /// Set any option by key (e.g. `properties.*` or `fields.#.kind`).
            pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.state.options.insert(key.into(), value.into());
                self
            }

            /// The table schema of the rows read or written.
            pub fn schema(mut self, schema: $crate::schema::TableSchema) -> Self {
                self.state.schema = Some(schema);
                self
            }

            /// The columns, as a SQL column list (`"id BIGINT, name STRING"`).
            pub fn columns(mut self, spec: &str) -> $crate::error::Result<Self> {
                self.state.schema = Some($crate::schema::TableSchema::parse_columns(spec)?);
                Ok(self)
            }

            /// A name used in error messages.
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.state.name = Some(name.into());
                self
            }

            /// The registry used to find formats (default: everything registered globally).
            pub fn registry(mut self, registry: $crate::registry::Registry) -> Self {
                self.registry = Some(registry);
                self
            }

            /// The options set so far, as DDL would hold them.
            pub fn options(&self) -> &$crate::options::RawOptions {
                &self.state.options
            }

            fn resolved_registry(&self) -> $crate::registry::Registry {
                self.registry.clone().unwrap_or_else($crate::registry::Registry::from_inventory)
            }

            /// Validate the options and create the source.
            pub fn build_source(&self) -> $crate::error::Result<::std::sync::Arc<dyn $crate::source::DynamicSource>> {
                let r = self.resolved_registry();
                self.state.build_source(&$factory, &r)
            }

            /// Validate the options and create the sink.
            pub fn build_sink(&self) -> $crate::error::Result<::std::sync::Arc<dyn $crate::sink::DynamicSink>> {
                let r = self.resolved_registry();
                self.state.build_sink(&$factory, &r)
            }
        }
    };
}
