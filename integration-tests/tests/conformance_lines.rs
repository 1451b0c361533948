//! Conformance of the example `lines` connector (`examples/custom-connector`): a bounded source of
//! STRING lines and an at-least-once sink, checked the way an outside author would check theirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use headrace_integration_tests::conformance::{ExternalContext, Failure, SourceSupport, Suite};
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::{Row, Value};
use headrace_sdk::schema::TableSchema;
use headrace_sdk::sink::DeliveryGuarantee;

/// The `lines` context: plain text files below a temporary directory.
struct LinesContext {
    dir: tempfile::TempDir,
    /// The files written per table, in order (the source's `path` lists them).
    files: Mutex<BTreeMap<String, Vec<PathBuf>>>,
    /// The sink guarantee the context claims (the connector's is at-least-once).
    sink_claim: DeliveryGuarantee,
}

impl LinesContext {
    fn new() -> Self {
        LinesContext {
            dir: tempfile::tempdir().unwrap(),
            files: Mutex::default(),
            sink_claim: DeliveryGuarantee::AtLeastOnce,
        }
    }

    fn sink_file(&self, table: &str) -> PathBuf {
        self.dir.path().join(format!("{table}.out.txt"))
    }
}

impl ExternalContext for LinesContext {
    fn name(&self) -> String {
        "lines".into()
    }

    /// The connector's fixed schema: one STRING column named `line` (the row's key).
    fn schema(&self) -> TableSchema {
        TableSchema::parse_columns("line STRING NOT NULL").unwrap()
    }

    fn table_options(
        &self,
        table: &str,
        usage: Usage,
        _bounded: bool,
    ) -> Result<RawOptions, Failure> {
        let path = match usage {
            Usage::Source => {
                let files = self.files.lock().unwrap();
                let list = files
                    .get(table)
                    .ok_or_else(|| Failure::new(format!("no data written to '{table}' yet")))?;
                list.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            }
            Usage::Sink => self.sink_file(table).display().to_string(),
        };
        let mut o: RawOptions = [("connector", "lines".to_string()), ("path", path)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if usage == Usage::Sink {
            // Write every batch at once: after a crash the rows since the last checkpoint are
            // written again, which at-least-once allows (and the crash check must tolerate).
            o.insert("sink.flush-interval".into(), "0 ms".into());
        }
        Ok(o)
    }

    fn write_test_data(&self, table: &str, split: usize, rows: &[Row]) -> Result<(), Failure> {
        let mut files = self.files.lock().unwrap();
        let list = files.entry(table.to_string()).or_default();
        let path = self
            .dir
            .path()
            .join(format!("{table}-{split}-{}.txt", list.len()));
        let mut text = String::new();
        for r in rows {
            match r.values.first() {
                Some(Value::String(s)) => text.push_str(s),
                other => return Err(Failure::new(format!("not a line: {other:?}"))),
            }
            text.push('\n');
        }
        std::fs::write(&path, text)?;
        list.push(path);
        Ok(())
    }

    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure> {
        let text = std::fs::read_to_string(self.sink_file(table))?;
        Ok(text
            .lines()
            .map(|l| Row::insert(vec![Value::String(l.to_string())]))
            .collect())
    }

    fn source(&self) -> Option<SourceSupport> {
        Some(SourceSupport {
            bounded: true,
            unbounded: false,
            guarantee: DeliveryGuarantee::ExactlyOnce,
        })
    }

    fn sink(&self) -> Option<DeliveryGuarantee> {
        Some(self.sink_claim)
    }
}

fn suite() -> Suite {
    let mut registry = headrace_sdk::registry::Registry::new();
    registry.register_connector(headrace_example_connector::factory());
    Suite::new(registry).with_runner(env!("CARGO_BIN_EXE_headrace-conformance-runner"))
}

/// The whole suite in one go, as an outside author would run it.
#[test]
fn lines_connector_conforms() {
    let report = suite().run_all(&LinesContext::new());
    eprintln!("{report}");
    assert!(report.failures().is_empty(), "{report}");
    assert_eq!(
        report.passed(),
        [
            "option_validation",
            "bounded_read",
            "sink_round_trip",
            "parallel_read",
            "sink_crash_recovery"
        ]
    );
}

/// The crash check can fail: claiming exactly-once for the at-least-once `lines` sink is caught
/// (rows written after the last checkpoint are written again after the SIGKILL).
#[test]
fn claiming_exactly_once_for_an_at_least_once_sink_fails() {
    let mut ctx = LinesContext::new();
    ctx.sink_claim = DeliveryGuarantee::ExactlyOnce;
    let e = suite().sink_crash_recovery(&ctx).unwrap_err();
    assert!(e.message.contains("duplicated [(\""), "{e}");
    assert!(e.message.contains("0 key(s) lost"), "{e}");
}
