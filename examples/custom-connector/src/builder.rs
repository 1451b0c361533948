//! Step 5: the builder, the connector's programmatic (DataStream-style) face.
//!
//! [`connector_builder!`](headrace_sdk::connector_builder) generates a builder with one typed
//! setter per option. Setters store the value under the option's key, exactly as a `WITH` clause
//! would, and `build_source()` / `build_sink()` run the same validation and the same factory code
//! as SQL. A builder and a DDL table with the same options are the same source.
//!
//! ```
//! use headrace_example_connector::{EmptyLines, LinesSource};
//!
//! # fn main() -> headrace_sdk::Result<()> {
//! let source = LinesSource::builder()
//!     .path("access.log;error.log")
//!     .scan_empty_lines(EmptyLines::Skip)
//!     .build_source()?;
//! assert_eq!(source.produced_schema().fields().len(), 2); // line, line_number
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::factory::LinesFactory;
use crate::options::{EmptyLines, PATH, SCAN_EMPTY_LINES, SINK_FLUSH_INTERVAL};
use crate::sink::LinesSink;
use crate::source::LinesSource;

headrace_sdk::connector_builder! {
    /// Builds a `lines` source or sink with the same validation as DDL
    /// (`LinesSource::builder()`, `LinesSink::builder()`).
    pub struct LinesBuilder(LinesFactory) {
        /// The file(s) to read (`;`-separated) or the file to append to.
        path: PATH as String,
        /// Keep or skip empty lines when reading.
        scan_empty_lines: SCAN_EMPTY_LINES as EmptyLines,
        /// How long written rows may stay buffered.
        sink_flush_interval: SINK_FLUSH_INTERVAL as Duration,
    }
}

impl LinesSource {
    /// A builder: `LinesSource::builder().path("a.txt;b.txt").build_source()?`.
    ///
    /// Without a schema the source produces `line STRING, line_number BIGINT`; to also read the
    /// `file` metadata, pass a [`TableSchema`](headrace_sdk::schema::TableSchema) with a metadata
    /// column to [`LinesBuilder::schema`].
    pub fn builder() -> LinesBuilder {
        LinesBuilder::default()
    }
}

impl LinesSink {
    /// A builder: `LinesSink::builder().path("out.txt").columns("line STRING")?.build_sink()?`.
    pub fn builder() -> LinesBuilder {
        LinesBuilder::default()
    }
}
