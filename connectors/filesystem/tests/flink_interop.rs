//! Partitioned CSV and JSON written by Headrace's filesystem sink (with success files and
//! auto-compaction) are read back by Apache Flink's own filesystem connector and formats in
//! PyFlink: the directory layout (`dt=.../hour=...`), hidden and `_SUCCESS` files and the rows
//! are what Flink expects.
//!
//! Needs PyFlink: `bash benches/flink/setup.sh` (scripts/test-all.sh does it and sets
//! `HEADRACE_PYFLINK_PYTHON`). The test fails with that hint when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use headrace_sdk::registry::Registry;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HEADRACE_PYFLINK_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").expect("HOME");
    PathBuf::from(home).join(".cache/headrace/pyflink-venv/bin/python")
}

fn registry() -> Registry {
    let mut r = Registry::new().with_connector(headrace_connector_filesystem::FileSystemFactory);
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_csv::factory());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_reads_partitioned_csv_and_json_written_by_headrace() {
    let py = python();
    assert!(
        py.exists(),
        "{} not found: run `bash benches/flink/setup.sh` (scripts/test-all.sh does) or set \
         HEADRACE_PYFLINK_PYTHON to a Python with apache-flink 2.3.0",
        py.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.csv");
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..300i64 {
        let (day, hour) = (20 + i % 3, i % 4);
        let name = format!("n{i}, \"q\"");
        let amount = format!("{}.{:02}", i * 7, i % 100);
        let ts = format!(
            "2026-11-{day} {hour:02}:{:02}:{:02}.{:03}",
            i % 60,
            i % 59,
            i % 1000
        );
        text.push_str(&format!(
            "{i},\"n{i}, \"\"q\"\"\",{amount},{ts},2026-11-{day},{hour}\n"
        ));
        for t in ["csv_out", "json_out"] {
            expected.push(
                serde_json::json!([t, i, name, amount, ts, format!("2026-11-{day}"), hour])
                    .to_string(),
            );
        }
    }
    std::fs::write(&input, text).unwrap();
    let columns =
        "id BIGINT, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), dt STRING, `hour` INT";
    let (csv_out, json_out) = (tmp.path().join("csv_out"), tmp.path().join("json_out"));
    let sink = |path: &std::path::Path, format: &str| {
        format!(
            "WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = '{format}',
                   'sink.rolling-policy.file-size' = '1 kb', 'auto-compaction' = 'true',
                   'compaction.file-size' = '4 kb',
                   'sink.partition-commit.policy.kind' = 'success-file')",
            path.display()
        )
    };
    let sql = format!(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '30 ms';
         SET 'headrace.batch-size' = '25';
         CREATE TABLE src ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         CREATE TABLE c ({columns}) PARTITIONED BY (dt, `hour`) {};
         CREATE TABLE j ({columns}) PARTITIONED BY (dt, `hour`) {};
         EXECUTE STATEMENT SET BEGIN
           INSERT INTO c SELECT * FROM src;
           INSERT INTO j SELECT * FROM src;
         END;",
        input.display(),
        sink(&csv_out, "csv"),
        sink(&json_out, "json"),
    );
    headrace_runtime::harness::run_sql(
        &sql,
        &registry(),
        Some(&tmp.path().join("state")),
        None,
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    for out in [&csv_out, &json_out] {
        assert!(
            out.join("dt=2026-11-20/hour=0/_SUCCESS").exists(),
            "{}",
            out.display()
        );
    }
    let tables = serde_json::json!([
        ["csv_out", csv_out.display().to_string(), "csv"],
        ["json_out", json_out.display().to_string(), "json"],
    ]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/flink_reads.py");
    let o = Command::new(&py)
        .arg(script)
        .arg(tables.to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "PyFlink failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .to_string()
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}
