//! Conformance of the `filesystem` connector with the `json` format.
//!
//! The context writes JSON lines files itself (its own encoder in `common/json_values.rs`, not
//! the `json` format) and reads the sink's committed part files itself (ignoring hidden
//! in-progress files).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/file_tables.rs"]
mod file_tables;
#[path = "common/json_values.rs"]
mod json_values;

use std::path::PathBuf;

use file_tables::FileTables;
use headrace_integration_tests::conformance::{
    all_flink_types, ExternalContext, Failure, Outcome, PoisonRecord, SourceSupport, Suite,
};
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::Row;
use headrace_sdk::sink::DeliveryGuarantee;
use headrace_sdk::types::{DataType, LogicalType};
use json_values::{decode_row, encode_object};

/// The filesystem + json context: one directory per table below a temporary directory.
struct FileSystemJson {
    tables: FileTables,
    /// Drop every n-th row when writing test data (to show that the checks can fail).
    drop_every: Option<usize>,
    /// Include TIMESTAMP_LTZ (on by default; off shows the rest of the suite without it).
    with_ltz: bool,
}

impl FileSystemJson {
    /// A context below a fresh temporary directory.
    fn new() -> Self {
        FileSystemJson {
            tables: FileTables::new("json"),
            drop_every: None,
            with_ltz: true,
        }
    }

    /// Write `text` as a new visible file of `table`, atomically (hidden temp file, then rename).
    fn write_file(&self, table: &str, split: usize, text: &str) -> Result<PathBuf, Failure> {
        self.tables
            .add_file(table, split, |tmp| Ok(std::fs::write(tmp, text)?))
    }
}

impl ExternalContext for FileSystemJson {
    fn name(&self) -> String {
        "filesystem+json".into()
    }

    /// Every Flink type. (TIMESTAMP_LTZ was left out until the SDK carried the Flink type in the
    /// Arrow field metadata: the `json` format then read LTZ columns as TIMESTAMP and rejected
    /// `"... 22:13:20Z"`; found by this suite, fixed, now included.)
    fn supported_types(&self) -> Vec<DataType> {
        all_flink_types()
            .into_iter()
            .filter(|t| self.with_ltz || !matches!(t.logical, LogicalType::TimestampLtz(_)))
            .collect()
    }

    fn table_options(
        &self,
        table: &str,
        usage: Usage,
        bounded: bool,
    ) -> Result<RawOptions, Failure> {
        self.tables.options(table, usage, bounded)
    }

    fn write_test_data(&self, table: &str, split: usize, rows: &[Row]) -> Result<(), Failure> {
        let schema = self.schema();
        let cols: Vec<(&str, &DataType)> = schema
            .physical_columns()
            .map(|c| (c.name.as_str(), &c.data_type))
            .collect();
        let mut text = String::new();
        for (i, r) in rows.iter().enumerate() {
            if self.drop_every.is_some_and(|n| i % n == n - 1) {
                continue;
            }
            text.push_str(&encode_object(&cols, &r.values));
            text.push('\n');
        }
        self.write_file(table, split, &text)?;
        Ok(())
    }

    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure> {
        let schema = self.schema();
        let mut rows = Vec::new();
        for f in self.tables.visible_files(table) {
            for (n, line) in std::fs::read_to_string(&f)?.lines().enumerate() {
                rows.push(
                    decode_row(&schema, line)
                        .map_err(|e| e.context(format!("{} line {}", f.display(), n + 1)))?,
                );
            }
        }
        Ok(rows)
    }

    fn source(&self) -> Option<SourceSupport> {
        Some(SourceSupport {
            bounded: true,
            unbounded: true,
            guarantee: DeliveryGuarantee::ExactlyOnce,
        })
    }

    fn sink(&self) -> Option<DeliveryGuarantee> {
        Some(DeliveryGuarantee::ExactlyOnce)
    }

    fn write_poison_record(
        &self,
        table: &str,
        split: usize,
    ) -> Result<Option<PoisonRecord>, Failure> {
        let p = self.write_file(table, split, "{\"id\": 1, \"c01_boolean\": tru\n")?;
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        Ok(Some(PoisonRecord {
            origin: format!("{name}' line 1"),
        }))
    }

    fn ignore_parse_errors_options(&self) -> Option<RawOptions> {
        Some([("json.ignore-parse-errors".to_string(), "true".to_string())].into())
    }
}

// ---- the tests ----

fn suite() -> Suite {
    Suite::new(headrace_cli::builtin_registry())
        .with_runner(env!("CARGO_BIN_EXE_headrace-conformance-runner"))
}

fn passed(r: Result<Outcome, Failure>) {
    match r {
        Ok(Outcome::Passed(s)) => eprintln!("passed: {s}"),
        Ok(Outcome::Skipped(s)) => panic!("unexpectedly skipped: {s}"),
        Err(e) => panic!("{e}"),
    }
}

/// One test per check of the suite (named after it), each on a fresh context.
macro_rules! one_test_per_check {
    ($($check:ident),* $(,)?) => {$(
        #[test]
        fn $check() {
            passed(suite().$check(&FileSystemJson::new()));
        }
    )*};
}

one_test_per_check!(
    bounded_read,
    sink_round_trip,
    parallel_read,
    option_validation,
    poison_records,
    unbounded_stop_and_restore,
    source_crash_recovery,
    sink_crash_recovery,
);

/// The checks can fail: a context that loses every tenth row it writes is caught by the bounded
/// and the parallel read, with the lost rows named.
#[test]
fn a_context_that_drops_rows_fails_the_checks() {
    let mut ctx = FileSystemJson::new();
    ctx.drop_every = Some(10);
    let e = suite().bounded_read(&ctx).unwrap_err();
    assert!(e.message.contains("expected row(s) missing"), "{e}");
    assert!(e.message.contains("BigInt(19)"), "{e}");
    let e = suite().parallel_read(&ctx).unwrap_err();
    assert!(e.message.contains("expected row(s) missing"), "{e}");
}

/// TIMESTAMP_LTZ through filesystem + json: the SDK carries the Flink type in the Arrow field
/// metadata, so the format writes and reads the 'Z' form.
#[test]
fn timestamp_ltz_round_trips() {
    let mut ctx = FileSystemJson::new();
    ctx.with_ltz = true;
    passed(suite().bounded_read(&ctx));
    passed(suite().sink_round_trip(&ctx));
}
