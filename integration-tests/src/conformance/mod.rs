//! The connector conformance suite, after Flink's `SourceTestSuiteBase` and `SinkTestSuiteBase`.
//!
//! A connector author implements one small trait, [`ExternalContext`], which knows how to reach the
//! external system *without* the connector under test (write rows into a fresh table, topic or
//! directory; read what a sink wrote), and gets a battery of checks for every capability and
//! delivery guarantee the context claims:
//!
//! | Check | Applies when |
//! |---|---|
//! | [`Suite::bounded_read`]: rows of every supported type, with NULLs, read back equal | bounded source |
//! | [`Suite::sink_round_trip`]: rows written by the sink read back equal | sink |
//! | [`Suite::parallel_read`]: several splits read by 3 readers, each row exactly once | bounded source |
//! | [`Suite::unbounded_stop_and_restore`]: checkpoint, stop, write more, restore: no loss (no duplicate for exactly-once) | unbounded source |
//! | [`Suite::source_crash_recovery`]: the job process is killed with SIGKILL and restarted while data arrives | unbounded source, runner binary |
//! | [`Suite::sink_crash_recovery`]: the same for a sink, fed by `datagen` | sink, runner binary |
//! | [`Suite::option_validation`]: a misspelt key gets the nearest-key suggestion, a missing required key is named | always |
//! | [`Suite::poison_records`]: an unparsable record fails the job naming its origin; skipped with ignore-parse-errors | context writes poison records |
//!
//! ```no_run
//! use headrace_integration_tests::conformance::{ExternalContext, Suite};
//! # fn my_context() -> Box<dyn ExternalContext> { unimplemented!() }
//! let ctx = my_context();
//! let suite = Suite::new(headrace_cli::builtin_registry());
//! let report = suite.run_all(ctx.as_ref());
//! assert!(report.failures().is_empty(), "{report}");
//! ```
//!
//! See `integration-tests/CONFORMANCE.md` for a walk-through.

mod data;
mod harness;
mod process;
mod suite;

use std::fmt;
use std::path::{Path, PathBuf};

use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::Row;
use headrace_sdk::schema::TableSchema;
use headrace_sdk::sink::DeliveryGuarantee;
use headrace_sdk::types::DataType;

pub use data::{
    all_flink_types, assert_same_rows, diff_rows, generate_rows, key_of, key_report, normalize,
    schema_for_types, value_for, KeyReport, RowDiff,
};
pub use harness::{CollectSink, RowsSource};
pub use process::runner_main;
pub use suite::{CheckResult, Outcome, Report, Suite, KEEP_ENV};

/// A failed check, or a context that could not do what the suite asked; the message says what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
        }
    }

    /// The same failure, with `context` in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Failure {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<headrace_sdk::Error> for Failure {
    fn from(e: headrace_sdk::Error) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<headrace_runtime::RuntimeError> for Failure {
    fn from(e: headrace_runtime::RuntimeError) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(e.to_string())
    }
}

/// The visible files below `dir` and its visible subdirectories, sorted: names starting with `.`
/// or `_` (in-progress and hidden files, as Flink's file sinks and readers treat them) are
/// skipped; none when `dir` does not exist. For contexts that read what a file sink committed.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with(['.', '_']) {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What a connector's source can do, as its context claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSupport {
    /// The source can read what is there and end.
    pub bounded: bool,
    /// The source can keep reading data written while it runs.
    pub unbounded: bool,
    /// What a restore from a checkpoint promises: `ExactlyOnce` (no loss, no duplicate) or
    /// `AtLeastOnce` (no loss).
    pub guarantee: DeliveryGuarantee,
}

/// A poison record written by [`ExternalContext::write_poison_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoisonRecord {
    /// Text the job's error must contain to name the record's origin (e.g. `"bad.json' line 2"`,
    /// or `"partition 0 offset 5"`).
    pub origin: String,
}

/// How the connector under test reaches one external system, independently of the connector.
///
/// One context serves a whole suite run; each check asks for its own table (`table` is a name
/// unique to the check, such as `"bounded_read"`), which the context creates fresh (a directory,
/// a topic, a database table) the first time it is named. Methods are blocking; they may use their
/// own runtime or client.
pub trait ExternalContext: Send + Sync {
    /// A name for reports, e.g. `"filesystem+json"`.
    fn name(&self) -> String;

    /// The `WITH (...)` options of `table` used as `usage`, including `'connector'`. For a source,
    /// `bounded` says which mode is asked for (e.g. a file source adds `source.monitor-interval`
    /// when it is false). Called after the check wrote its first data, so a context whose options
    /// list the data's location (files, partitions) can include it.
    fn table_options(
        &self,
        table: &str,
        usage: Usage,
        bounded: bool,
    ) -> Result<RawOptions, Failure>;

    /// The column types the connector (with its format) supports; default: every Flink type
    /// ([`all_flink_types`]).
    fn supported_types(&self) -> Vec<DataType> {
        all_flink_types()
    }

    /// The schema of every test table; default: `id BIGINT NOT NULL` then one column per
    /// [`ExternalContext::supported_types`]. The first column is the row's key: NOT NULL, of an
    /// integer or string type (a connector with a fixed schema returns it here).
    fn schema(&self) -> TableSchema {
        schema_for_types(&self.supported_types())
    }

    /// Write `rows` (of [`ExternalContext::schema`]) into split number `split` of `table` (a file,
    /// a partition, a shard) through the external system's own client, not through the connector.
    /// Writes to a split that already has data add to it (or to a new split of the same table).
    /// Data must be visible to readers when this returns.
    fn write_test_data(&self, table: &str, split: usize, rows: &[Row]) -> Result<(), Failure>;

    /// Read every row a sink committed to `table`, independently of the connector (ignoring
    /// uncommitted data such as in-progress files or open transactions).
    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure>;

    /// What the source supports; None when the connector has no source.
    fn source(&self) -> Option<SourceSupport>;

    /// The delivery guarantee of the sink with the options of
    /// [`ExternalContext::table_options`]; None when the connector has no sink.
    fn sink(&self) -> Option<DeliveryGuarantee>;

    /// Write one record the format cannot parse into split `split` of `table`, and say how the
    /// job's error names its origin; None (the default) when the connector cannot carry one (no
    /// format, or a typed external system).
    fn write_poison_record(
        &self,
        _table: &str,
        _split: usize,
    ) -> Result<Option<PoisonRecord>, Failure> {
        Ok(None)
    }

    /// Options that make the source skip unparsable records (e.g. `json.ignore-parse-errors`),
    /// added to [`ExternalContext::table_options`]; None when there are none.
    fn ignore_parse_errors_options(&self) -> Option<RawOptions> {
        None
    }

    /// Fault hook: restart the external system (a container restart, a broker bounce). Called by
    /// the crash checks between runs of the job; the default does nothing.
    fn restart_external(&self) -> Result<(), Failure> {
        Ok(())
    }
}
