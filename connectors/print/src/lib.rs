//! # Print sink connector
//!
//! `'connector' = 'print'`: writes every row to standard output (or standard error), one line per
//! row, exactly as Flink's print sink does:
//!
//! ```text
//! my-id:2> +I[1, foo]
//! ```
//!
//! The prefix is the `print-identifier`; when the sink runs with more than one subtask the subtask
//! number (1-based) is appended, after a `:` if there is an identifier; a non-empty prefix ends with
//! `"> "`. The row is rendered as Flink's `Row.toString()`: its kind (`+I`, `-U`, `+U`, `-D`) and
//! its fields in brackets, each as its Java type prints it (see `headrace_sdk::render`).
//!
//! | Option | Default | Type | Description |
//! |---|---|---|---|
//! | `print-identifier` | (none) | String | Message that identifies the print and is prefixed to each line. |
//! | `standard-error` | `false` | Boolean | Print to standard error instead of standard output. |
//! | `sink.parallelism` | (none) | Integer | Parallelism of the print sink. |

pub mod factory;
pub mod options;
pub mod sink;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use factory::PrintFactory;
pub use sink::{line_prefix, OutputFactory, PrintSink, PrintSinkBuilder, PrintWriter};

headrace_sdk::register_connector!(factory::PrintFactory);

/// The print factory, for runners that register connectors explicitly.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(PrintFactory)
}
