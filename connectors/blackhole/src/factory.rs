//! The blackhole connector factory.

use std::sync::Arc;

use headrace_sdk::factory::{ConnectorFactory, TableContext};
use headrace_sdk::options::OptionSet;
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::Result;

use crate::sink::BlackholeSink;

/// The identifier used in `'connector' = 'blackhole'`.
pub const IDENTIFIER: &str = "blackhole";

/// Creates [`BlackholeSink`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlackholeFactory;

impl ConnectorFactory for BlackholeFactory {
    fn identifier(&self) -> &'static str {
        IDENTIFIER
    }

    fn description(&self) -> &'static str {
        "Swallows every row it is given (for benchmarks and testing), like Flink's BlackHole sink."
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
        tracing::debug!(table = %ctx.table_name, "creating blackhole sink");
        Ok(Arc::new(BlackholeSink::new(
            ctx.schema.consumed_arrow_schema(),
        )))
    }
}
