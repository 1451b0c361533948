//! The print connector factory.

use std::sync::Arc;

use headrace_sdk::factory::{ConnectorFactory, TableContext};
use headrace_sdk::options::OptionSet;
use headrace_sdk::schema::ColumnKind;
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::Result;

use crate::options::{PRINT_IDENTIFIER, SINK_PARALLELISM, STANDARD_ERROR};
use crate::sink::PrintSink;

/// The identifier used in `'connector' = 'print'`.
pub const IDENTIFIER: &str = "print";

/// Creates [`PrintSink`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintFactory;

impl ConnectorFactory for PrintFactory {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Writes every row to standard output or standard error, as Flink's print sink does."
    }

    fn options(&self) -> OptionSet {
        crate::options::option_set()
    }

    fn supports_source(&self) -> bool {
        false
    }

    fn supports_sink(&self) -> bool {
        true
    }

    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Ok(Arc::new(create(ctx)?))
    }
}

/// Create the sink described by `ctx` (what [`PrintFactory::create_sink`] does, typed).
pub fn create(ctx: &TableContext<'_>) -> Result<PrintSink> {
    let o = &ctx.options;
    let identifier = o.get_optional(&PRINT_IDENTIFIER)?.unwrap_or_default();
    let to_stderr = o.get(&STANDARD_ERROR)?;
    let parallelism = match o.get_optional(&SINK_PARALLELISM)? {
        None => None,
        Some(p) if p >= 1 => Some(p as usize),
        Some(p) => {
            return Err(o.invalid(
                &SINK_PARALLELISM,
                p.to_string(),
                "the parallelism must be at least 1; remove the option to use the upstream \
                 parallelism",
            ))
        }
    };
    tracing::debug!(table = %ctx.table_name, %identifier, to_stderr, "creating print sink");
    // The declared types of the consumed columns (physical, then persisted metadata), which
    // tell TIMESTAMP_LTZ from TIMESTAMP.
    let types = ctx
        .schema
        .physical_columns()
        .chain(ctx.schema.metadata_columns().filter(|c| {
            matches!(
                c.kind,
                ColumnKind::Metadata {
                    is_virtual: false,
                    ..
                }
            )
        }))
        .map(|c| c.data_type.clone())
        .collect();
    Ok(PrintSink::new(
        ctx.schema.consumed_arrow_schema(),
        identifier,
        to_stderr,
        parallelism,
    )
    .with_types(types))
}
