//! End-to-end tests of the `headrace` binary: runs, validation exit codes, crash recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use common::{
    assert_exactly_once, committed_lines, counted, run, run_to_end, run_with_summary, sigkill_runs,
    write_job,
};
use std::time::Duration;

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
    let kills = sigkill_runs(&job, &state, &[900, 1300, 700], |_| {
        // No reader ever sees an uncommitted file: only part files are in `out`.
        for e in std::fs::read_dir(&out).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            assert!(
                name == ".in-progress" || name.starts_with("part-"),
                "{name}"
            );
        }
    });
    assert!(
        kills >= 2,
        "the job ended before it could be killed; slow it down"
    );
    run_to_end(&job, Some(&state), Duration::from_secs(120));
    let counts = counted(committed_lines(&out).iter().map(|l| first_field(l)));
    assert_exactly_once(&counts, 1..=N, "commit-files");
    // Running again with the same state directory does nothing more.
    let err = run_to_end(&job, Some(&state), Duration::from_secs(60));
    assert!(err.is_empty() || committed_lines(&out).len() as i64 == N);
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
    let job = |name: &str, format_options: &str| {
        write_job(
            d.path(),
            name,
            &format!(
                "CREATE TABLE src (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}',
                    'format' = 'json'{format_options});
                 CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
                 INSERT INTO out SELECT * FROM src;",
                input.display()
            ),
        )
    };
    let (e, v) = run_with_summary(&job("job.sql", ", 'json.ignore-parse-errors' = 'true'"));
    assert!(e.contains("2 bad record(s) skipped"), "{e}");
    assert_eq!(v["rows_out"][0], 2);
    assert_eq!(v["skipped"][0], 2);

    // Without ignore-parse-errors the job fails and names the file and line.
    let strict = job("strict.sql", "");
    let o = run(&["run", strict.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("data.json") && e.contains("line 2") && e.contains("'id'"),
        "{e}"
    );
}
