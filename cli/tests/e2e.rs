//! End-to-end tests of the `headrace` binary: runs, validation exit codes, crash recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headrace"))
}

fn write_job(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sql).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    output_within(Command::new(bin()).args(args), Duration::from_secs(120))
}

/// Run to completion, failing the test (instead of hanging CI) after `limit`. Output is read
/// while the process runs (a child writing more than a pipe holds would otherwise block forever).
fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let stderr = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(|o| o.ok())
                .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
                .unwrap_or_default();
            panic!("headrace did not finish within {limit:?}; stderr: {stderr}");
        }
    }
}

/// Every committed line under `dir` (not the hidden in-progress files).
fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() {
                let text = std::fs::read_to_string(&p).unwrap();
                lines.extend(text.lines().map(String::from));
            }
        }
    }
    lines
}

fn first_field(line: &str) -> i64 {
    let inner = line.trim_start_matches("+I[").trim_end_matches(']');
    inner.split(", ").next().unwrap().parse().unwrap()
}

#[test]
fn bounded_job_with_filter_projection_and_computed_column() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let job = write_job(
        d.path(),
        "job.sql",
        &format!(
            "CREATE TABLE src (
                id BIGINT,
                name STRING,
                doubled AS id * 2
            ) WITH (
                'connector' = 'datagen',
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000',
                'fields.name.length' = '5'
            );
            CREATE TABLE snk (id BIGINT, x BIGINT, big BOOLEAN, n INT, q DECIMAL(10, 2), f DOUBLE) WITH (
                'connector' = 'commit-files', 'path' = '{}'
            );
            INSERT INTO snk SELECT id, doubled + 1, id > 500, CHAR_LENGTH(name),
                CAST(id AS DECIMAL(10, 2)) / 4, CAST(id AS DOUBLE) * 10000
            FROM src WHERE id % 10 = 0;",
            out.display()
        ),
    );
    let o = run(&["run", job.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut lines = committed_lines(&out);
    lines.sort_by_key(|l| first_field(l));
    assert_eq!(lines.len(), 100);
    assert_eq!(lines[0], "+I[10, 21, false, 5, 2.50, 100000.0]");
    assert_eq!(lines[99], "+I[1000, 2001, true, 5, 250.00, 1.0E7]");
}

#[test]
fn print_sink_output_and_summary() {
    let d = tempfile::tempdir().unwrap();
    let job = write_job(
        d.path(),
        "job.sql",
        "CREATE TABLE src (id INT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
            'fields.id.start' = '1', 'fields.id.end' = '3');
         CREATE TABLE out (id INT) WITH ('connector' = 'print', 'print-identifier' = 'dbg');
         INSERT INTO out SELECT * FROM src;",
    );
    let o = run(&["run", job.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["dbg> +I[1]", "dbg> +I[2]", "dbg> +I[3]"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("src -> out: 3 rows read, 3 rows written"),
        "{stderr}"
    );
}

#[test]
fn validate_exit_codes_and_messages() {
    let d = tempfile::tempdir().unwrap();
    let ok = write_job(
        d.path(),
        "ok.sql",
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagen');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT a FROM s WHERE a > 0;",
    );
    let o = run(&["validate", ok.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let typo = write_job(
        d.path(),
        "typo.sql",
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'rows-per-secnd' = '5');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT a FROM s;",
    );
    let o = run(&["validate", typo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unsupported option 'rows-per-secnd'"), "{e}");
    assert!(e.contains("Did you mean 'rows-per-second'?"), "{e}");
    assert!(e.contains("table 's'"), "{e}");

    let bad_connector = write_job(
        d.path(),
        "conn.sql",
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagn');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT a FROM s;",
    );
    let o = run(&["validate", bad_connector.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Did you mean 'datagen'?"));

    let bad_column = write_job(
        d.path(),
        "col.sql",
        "CREATE TABLE s (amount INT) WITH ('connector' = 'datagen');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT amont FROM s;",
    );
    let o = run(&["validate", bad_column.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("unknown column 'amont'") && e.contains("'amount'"),
        "{e}"
    );

    let agg = write_job(
        d.path(),
        "agg.sql",
        "CREATE TABLE s (a INT, b STRING) WITH ('connector' = 'datagen');
         CREATE TABLE t (b STRING, c BIGINT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT b, COUNT(*) FROM s GROUP BY b;",
    );
    let o = run(&["validate", agg.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("Apache Flink"));

    let join = write_job(
        d.path(),
        "join.sql",
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagen');
         CREATE TABLE u (a INT) WITH ('connector' = 'datagen');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT s.a FROM s JOIN u ON s.a = u.a;",
    );
    assert_eq!(
        run(&["validate", join.to_str().unwrap()]).status.code(),
        Some(2)
    );

    let syntax = write_job(d.path(), "syntax.sql", "CREATE TABLE s (a INT WITH ();");
    let o = run(&["validate", syntax.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 1"));

    let mismatch = write_job(
        d.path(),
        "mismatch.sql",
        "CREATE TABLE s (a INT, b INT) WITH ('connector' = 'datagen');
         CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO t SELECT * FROM s;",
    );
    let o = run(&["validate", mismatch.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("produces 2 columns"));
}

#[test]
fn connectors_listing_is_generated() {
    let o = run(&["connectors", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["identifier"].as_str().unwrap())
        .collect();
    for id in ["blackhole", "commit-files", "datagen", "print"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let o = run(&["connectors", "--format", "md"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("| `rows-per-second` | no | `10000` | Long |"),
        "{md}"
    );
}

/// A job killed with SIGKILL at several points and restarted writes every row exactly once.
#[test]
fn crash_recovery_exactly_once() {
    const N: i64 = 60_000;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let state = d.path().join("state");
    let job = write_job(
        d.path(),
        "job.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '300 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '500';
             CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'datagen', 'rows-per-second' = '15000',
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{N}',
                'fields.payload.length' = '8'
             );
             CREATE TABLE snk (id BIGINT, payload STRING) WITH (
                'connector' = 'commit-files', 'path' = '{}'
             );
             INSERT INTO snk SELECT * FROM src;",
            out.display()
        ),
    );
    let args = [
        "run",
        job.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--quiet",
    ];
    let mut kills = 0;
    for delay_ms in [900u64, 1300, 700] {
        let mut child = Command::new(bin())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
        // No reader ever sees an uncommitted file: only part files are in `out`.
        for e in std::fs::read_dir(&out).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            assert!(
                name == ".in-progress" || name.starts_with("part-"),
                "{name}"
            );
        }
    }
    assert!(
        kills >= 2,
        "the job ended before it could be killed; slow it down"
    );
    let o = output_within(Command::new(bin()).args(args), Duration::from_secs(120));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for l in committed_lines(&out) {
        *counts.entry(first_field(&l)).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(dups.is_empty(), "duplicated ids: {dups:?}");
    assert_eq!(counts.len() as i64, N, "missing ids");
    assert_eq!(*counts.keys().next().unwrap(), 1);
    assert_eq!(*counts.keys().last().unwrap(), N);
    // Running again with the same state directory does nothing more.
    let o = output_within(Command::new(bin()).args(args), Duration::from_secs(60));
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).is_empty() || committed_lines(&out).len() as i64 == N
    );
    assert_eq!(committed_lines(&out).len() as i64, N);
}

#[test]
fn runtime_cast_failure_names_the_task() {
    let d = tempfile::tempdir().unwrap();
    let job = write_job(
        d.path(),
        "job.sql",
        "CREATE TABLE src (s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '10',
            'fields.s.length' = '4');
         CREATE TABLE out (n INT) WITH ('connector' = 'blackhole');
         INSERT INTO out SELECT CAST(s AS INT) FROM src WHERE s LIKE '%g%' OR TRUE;",
    );
    let o = run(&["run", job.to_str().unwrap(), "--quiet"]);
    // random hex strings only parse as INT when they contain no letter; with 10 rows of 4 hex
    // digits at least one has a letter (all-digit odds: (10/16)^40, about 7e-9).
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("source 'src' subtask 0") && e.contains("CAST"),
        "{e}"
    );
}

#[test]
fn skipped_bad_records_are_reported_not_silent() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("data.json"),
        "{\"id\": 1}\n{\"id\": \"one\"}\nnot json\n{\"id\": 4}\n",
    )
    .unwrap();
    let summary = d.path().join("summary.json");
    let job = write_job(
        d.path(),
        "job.sql",
        &format!(
            "CREATE TABLE src (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}',
                'format' = 'json', 'json.ignore-parse-errors' = 'true');
             CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
             INSERT INTO out SELECT * FROM src;",
            input.display()
        ),
    );
    let o = run(&[
        "run",
        job.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("2 bad record(s) skipped"), "{e}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(v["rows_out"][0], 2);
    assert_eq!(v["skipped"][0], 2);

    // Without ignore-parse-errors the job fails and names the file and line.
    let strict = write_job(
        d.path(),
        "strict.sql",
        &format!(
            "CREATE TABLE src (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}',
                'format' = 'json');
             CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
             INSERT INTO out SELECT * FROM src;",
            input.display()
        ),
    );
    let o = run(&["run", strict.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("data.json") && e.contains("line 2") && e.contains("'id'"),
        "{e}"
    );
}
