//! Step 1: the options.
//!
//! Every key a user may write in `WITH (...)` is declared once, here, as a typed [`ConfigOption`]
//! constant. Nothing else in the connector spells a key as a string. From these declarations the
//! SDK derives:
//!
//! - validation of DDL and builder options, with "Did you mean ...?" suggestions for typos and a
//!   clear message for a missing required option,
//! - the typed getters the factory uses (`ctx.options.get(&PATH)?` returns a `String`),
//! - the builder setters ([`LinesBuilder::path`](crate::LinesBuilder::path), ...),
//! - the connector docs (`headrace connectors`) and the Python wrappers.
//!
//! Values are written as Flink writes them: durations as `'500 ms'` or `'1 s'`, enumerations in
//! their lower-case Flink spelling. Follow Flink's naming conventions for keys: options that only
//! concern reading start with `scan.`, options that only concern writing start with `sink.`.

use std::time::Duration;

use headrace_sdk::options::{ConfigOption, OptionSet};

/// `path` (required String): the file(s) to read, or the file to append to.
///
/// A source reads every file of a `;`-separated list (`'a.txt;logs/b.txt'`), one split per file. A
/// sink appends to exactly one file. A required option has no default; when it is absent the SDK
/// reports `missing required option 'path' (<description>)` before the factory is even called.
pub const PATH: ConfigOption<String> = ConfigOption::new("path").description(
    "The file(s) to read, separated by ';' (each file is one split), or the single file the sink \
     appends to.",
);

headrace_sdk::option_enum! {
    /// What the source does with empty lines (`scan.empty-lines`).
    ///
    /// `option_enum!` generates the parsing (case-insensitive), the string form and the list of
    /// allowed values that error messages and docs show.
    pub enum EmptyLines {
        /// Emit empty lines as rows whose `line` is `''`.
        Keep = "keep",
        /// Drop empty lines. Line numbers still count them: `line_number` always matches the file.
        Skip = "skip",
    }
}

/// `scan.empty-lines` (Enum, default `keep`): whether empty lines become rows.
pub const SCAN_EMPTY_LINES: ConfigOption<EmptyLines> = ConfigOption::new("scan.empty-lines")
    .default_value("keep")
    .description(
        "What to do with empty lines when reading: 'keep' emits them as rows with an empty line, \
         'skip' drops them (line numbers still count them).",
    );

/// `sink.flush-interval` (Duration, default `1 s`): how long written rows may wait in memory.
///
/// The sink flushes its buffer to the file when a write finds the buffer older than this, and
/// always at a checkpoint and at the end of a bounded job (then also `fsync`ing the file).
pub const SINK_FLUSH_INTERVAL: ConfigOption<Duration> = ConfigOption::new("sink.flush-interval")
    .default_value("1 s")
    .description(
        "How long rows may stay buffered before the sink writes them to the file ('0 ms' writes \
         every batch). The sink also flushes and syncs the file at every checkpoint.",
    );

/// Every option of the `lines` connector besides `connector` itself.
///
/// One set serves both the source and the sink: [`ConnectorFactory::options`] has no usage
/// argument, so options that only one side reads are optional and simply ignored by the other.
///
/// [`ConnectorFactory::options`]: headrace_sdk::factory::ConnectorFactory::options
pub fn option_set() -> OptionSet {
    OptionSet::new()
        .required(PATH)
        .optional(SCAN_EMPTY_LINES)
        .optional(SINK_FLUSH_INTERVAL)
}
