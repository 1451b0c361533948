//! # Writing a Headrace connector: the `lines` example
//!
//! A complete connector in five small files, meant to be copied. `'connector' = 'lines'` reads the
//! lines of local text files and appends lines to a local file:
//!
//! ```sql
//! CREATE TABLE logs (
//!   line        STRING,
//!   line_number BIGINT,
//!   file        STRING METADATA VIRTUAL     -- which file the line came from
//! ) WITH (
//!   'connector' = 'lines',
//!   'path' = 'access.log;error.log',        -- one split per file
//!   'scan.empty-lines' = 'skip'
//! );
//!
//! CREATE TABLE errors (line STRING) WITH ('connector' = 'lines', 'path' = 'errors.txt');
//!
//! INSERT INTO errors SELECT CONCAT(file, ':', CAST(line_number AS STRING), ': ', line)
//! FROM logs WHERE line LIKE '%ERROR%';
//! ```
//!
//! Read the modules in this order; each starts with what it shows:
//!
//! 1. [`options`]: typed option declarations (a required String, an enumeration, a Duration).
//! 2. [`factory`](mod@factory): the [`ConnectorFactory`]: identifier, options, metadata keys,
//!    and turning a validated table declaration into a source or sink.
//! 3. [`source`]: the source in Flink's split model: [`LinesSource`], an enumerator handing out
//!    one split per file, and readers whose split state (a byte offset) makes checkpoints resume
//!    mid-file.
//! 4. [`sink`]: an at-least-once sink that makes its file durable at every checkpoint.
//! 5. [`builder`]: the typed builder (`LinesSource::builder()`), generated from the options.
//!
//! and finally this file, which registers the connector (below).
//!
//! Nothing here depends on the runtime: a connector depends on `headrace-sdk` only. The examples
//! (`cargo run -p headrace-example-connector --example job_api` / `--example sql`) and the tests
//! run it with `headrace-runtime`.

pub mod builder;
pub mod factory;
pub mod options;
pub mod sink;
pub mod source;

use std::sync::Arc;

use headrace_sdk::factory::ConnectorFactory;

pub use builder::LinesBuilder;
pub use factory::{LinesFactory, IDENTIFIER};
pub use options::EmptyLines;
pub use sink::{LinesSink, LinesWriter};
pub use source::{LineSplit, LinesEnumerator, LinesReader, LinesSource};

// Step 6: registration.
//
// Global registration: any binary that links this crate finds the connector in
// `Registry::from_inventory()`, which the builders use by default and which runners and
// generators (docs, Python wrappers) enumerate. A crate is only linked if the binary uses
// something from it: write `use headrace_example_connector as _;` in one that otherwise does not.
headrace_sdk::register_connector!(LinesFactory);

/// The `lines` factory, for explicit registration:
/// `registry.register_connector(headrace_example_connector::factory())`.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(LinesFactory)
}
