//! End to end: SQL jobs planned and run by the runtime, including a stop and a restore.

// Test helpers outside `#[test]` functions may panic too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{expected_lines, numbered, path_option, write, Line};
use headrace_example_connector::LineSplit;
use headrace_runtime::checkpoint::CheckpointStore;
use headrace_runtime::exec::{JobOutcome, JobSummary};
use headrace_runtime::testing::CommitFilesFactory;
use headrace_sdk::registry::Registry;

struct Paths {
    committed: PathBuf,
    lines_out: PathBuf,
    state: PathBuf,
}

fn paths(dir: &Path) -> Paths {
    Paths {
        committed: dir.join("committed"),
        lines_out: dir.join("out").join("lines.txt"),
        state: dir.join("state"),
    }
}

/// Read the files into an exactly-once `commit-files` sink and an at-least-once `lines` sink.
fn job_sql(files: &[PathBuf], p: &Paths, settings: &str) -> String {
    format!(
        "{settings}
        CREATE TABLE logs (
          line STRING,
          line_number BIGINT,
          file STRING METADATA VIRTUAL
        ) WITH ('connector' = 'lines', 'path' = '{input}');
        CREATE TABLE exact (file STRING, line_number BIGINT, line STRING)
          WITH ('connector' = 'commit-files', 'path' = '{committed}');
        CREATE TABLE copy (line STRING)
          WITH ('connector' = 'lines', 'path' = '{lines_out}', 'sink.flush-interval' = '10 ms');
        EXECUTE STATEMENT SET BEGIN
          INSERT INTO exact SELECT file, line_number, line FROM logs;
          INSERT INTO copy SELECT line FROM logs;
        END;",
        input = path_option(files),
        committed = p.committed.display(),
        lines_out = p.lines_out.display(),
    )
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_example_connector::factory())
        .register_connector(Arc::new(CommitFilesFactory));
    r
}

/// Plan and run `sql`; `stop_when` (rows read so far) decides when to ask the job to stop.
async fn run(
    sql: &str,
    state: &Path,
    stop_when: Option<Box<dyn Fn(u64) -> bool + Send>>,
) -> JobSummary {
    headrace_runtime::harness::run_sql(
        sql,
        &registry(),
        Some(state),
        stop_when,
        Duration::from_secs(120),
    )
    .await
    .unwrap()
}

/// The rows committed by `commit-files` (`+I[file, n, line]`, one per line) in `dir`.
fn committed_rows(dir: &Path) -> Vec<Line> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if !e.path().is_file() {
            continue;
        }
        for l in std::fs::read_to_string(e.path()).unwrap().lines() {
            let inner = l.strip_prefix("+I[").and_then(|l| l.strip_suffix(']'));
            let mut parts = inner.expect("a row").splitn(3, ", ");
            let (Some(file), Some(n), Some(line)) = (parts.next(), parts.next(), parts.next())
            else {
                panic!("bad row {l}")
            };
            out.push((line.to_string(), n.parse().unwrap(), file.to_string()));
        }
    }
    out.sort();
    out
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(String::from).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_job_reads_every_line_into_both_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "a.log", &numbered("a", 120)),
        write(dir.path(), "b.log", "only line, no newline"),
        write(dir.path(), "c.log", &numbered("c", 33)),
    ];
    let p = paths(dir.path());
    let sql = job_sql(
        &files,
        &p,
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         SET 'headrace.batch-size' = '7';",
    );
    let summary = run(&sql, &p.state, None).await;
    assert_eq!(summary.outcome, JobOutcome::Finished);
    let expected = expected_lines(&files);
    assert_eq!(summary.rows_in, vec![expected.len() as u64; 2]);
    assert_eq!(summary.rows_out, vec![expected.len() as u64; 2]);

    assert_eq!(committed_rows(&p.committed), expected);
    let mut lines: Vec<String> = expected.iter().map(|(l, _, _)| l.clone()).collect();
    lines.sort();
    assert_eq!(
        sorted_lines(&std::fs::read_to_string(&p.lines_out).unwrap()),
        lines
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_mid_file_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "a.log", &numbered("a", 20_000)),
        write(dir.path(), "b.log", &numbered("b", 15_000)),
    ];
    let total = expected_lines(&files).len() as u64;
    let p = paths(dir.path());
    let sql = job_sql(
        &files,
        &p,
        "SET 'parallelism.default' = '2'; SET 'headrace.batch-size' = '16';",
    );

    // Run 1: stop (with a final checkpoint) as soon as some rows were read.
    let first = run(&sql, &p.state, Some(Box::new(|read| read > 0))).await;
    assert_eq!(first.outcome, JobOutcome::Stopped, "{first:?}");
    let checkpoint = CheckpointStore::open(&p.state, 3)
        .unwrap()
        .latest()
        .unwrap()
        .expect("a checkpoint");
    assert!(!checkpoint.finished);
    let splits: Vec<LineSplit> = checkpoint
        .sources
        .values()
        .flat_map(|s| s.splits.iter())
        .map(|s| LineSplit::from_source_split(s).unwrap())
        .collect();
    assert!(
        splits.iter().any(|s| s.offset > 0 && s.next_line > 1),
        "the checkpoint holds a split stopped mid-file: {splits:?}"
    );

    // Run 2: same job, same state directory: resumes from the checkpoint and finishes.
    let second = run(&sql, &p.state, None).await;
    assert_eq!(second.outcome, JobOutcome::Finished);
    assert_eq!(second.restored_from, Some(checkpoint.checkpoint_id));
    // A pipeline that had read nothing when run 1 stopped reads everything in run 2; together
    // they must read less than twice the input (no start-over).
    assert!(
        second.rows_in.iter().sum::<u64>() < 2 * total,
        "run 2 did not start over: {:?} of {total}",
        second.rows_in
    );

    // Exactly-once sink: every line exactly once over both runs.
    let expected = expected_lines(&files);
    assert_eq!(committed_rows(&p.committed), expected);

    // At-least-once sink: every line at least once (rows written after the checkpoint in run 1
    // may appear twice).
    let written = sorted_lines(&std::fs::read_to_string(&p.lines_out).unwrap());
    let mut distinct = written.clone();
    distinct.dedup();
    let mut lines: Vec<String> = expected.iter().map(|(l, _, _)| l.clone()).collect();
    lines.sort();
    assert_eq!(distinct, lines, "no line lost");
    assert!(written.len() >= lines.len());
}
