//! # Blackhole sink connector
//!
//! `'connector' = 'blackhole'`: a sink that swallows every row, as Flink's BlackHole connector does.
//! Useful for benchmarks and for checking that a query runs without looking at its output. It takes
//! no options besides `connector` and accepts every changelog kind.
//!
//! ```sql
//! CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'blackhole');
//! ```
//!
//! The runner counts the records it hands to the sink; the sink itself only drops them.

pub mod factory;
pub mod options;
pub mod sink;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use factory::BlackholeFactory;
pub use sink::{BlackholeSink, BlackholeSinkBuilder, BlackholeWriter};

headrace_sdk::register_connector!(factory::BlackholeFactory);

/// The blackhole factory, for runners that register connectors explicitly.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(BlackholeFactory)
}
