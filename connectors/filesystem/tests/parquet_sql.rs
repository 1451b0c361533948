//! End to end through the runtime with `'format' = 'parquet'`: a SQL job writes partitioned
//! Parquet files from line files, and another reads them back, once straight through and once
//! stopped and restored from its checkpoint (exactly once across the restart).

#![cfg(feature = "parquet")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{committed_lines, in_progress_files, run_job, visible_files, write};
use headrace_runtime::exec::JobOutcome;
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    common::registry().with_format(headrace_connector_filesystem::ParquetFormat)
}

/// Line files `f<n>.txt` of `id,kind,amount,ts`; returns what the copy back must hold.
fn input(dir: &Path, files: usize, lines: usize) -> Vec<String> {
    let mut expected = Vec::new();
    for f in 0..files {
        let mut content = String::new();
        for l in 0..lines {
            let id = f * lines + l;
            let kind = ["click", "view"][id % 2];
            let amount = format!("{}.{:02}", id / 100, id % 100);
            let ts = format!(
                "2026-11-25 10:{:02}:{:02}.{:03}",
                id / 60 % 60,
                id % 60,
                id % 1000
            );
            content.push_str(&format!("{id},{kind},{amount},{ts}\n"));
            // Arrow prints no fraction for whole seconds.
            let shown = ts.replace(' ', "T").replace(".000", "");
            expected.push(format!("kind={kind}|{id},{amount},{shown}"));
        }
        write(&dir.join(format!("f{f}.txt")), &content);
    }
    expected.sort();
    expected
}

fn to_parquet(inp: &Path, pq: &Path) -> String {
    format!(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         SET 'headrace.batch-size' = '100';
         CREATE TABLE src (id BIGINT, kind STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3))
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline');
         CREATE TABLE pq (id BIGINT, amount DECIMAL(10, 2), ts TIMESTAMP(3), kind STRING)
           PARTITIONED BY (kind)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet',
                 'parquet.compression' = 'ZSTD', 'parquet.block.size' = '16 kb');
         INSERT INTO pq SELECT id, amount, ts, kind FROM src;",
        inp.display(),
        pq.display()
    )
}

fn from_parquet(pq: &Path, out: &Path, settings: &str) -> String {
    format!(
        "{settings}
         CREATE TABLE pq (id BIGINT, amount DECIMAL(10, 2), ts TIMESTAMP(3), kind STRING)
           PARTITIONED BY (kind)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet');
         CREATE TABLE dst (id BIGINT, amount DECIMAL(10, 2), ts TIMESTAMP(3), kind STRING)
           PARTITIONED BY (kind)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline');
         INSERT INTO dst SELECT id, amount, ts, kind FROM pq;",
        pq.display(),
        out.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_jobs_write_and_read_partitioned_parquet_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let expected = input(&p("in"), 4, 5_000);
    let total = expected.len() as u64;

    let summary = run_job(
        &registry(),
        &to_parquet(&p("in"), &p("pq")),
        &p("state1"),
        None,
    )
    .await;
    assert_eq!(summary.outcome, JobOutcome::Finished, "{summary:?}");
    assert!(in_progress_files(&p("pq")).is_empty());
    let files = visible_files(&p("pq"));
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("kind=click") || f.starts_with("kind=view")),
        "{files:?}"
    );

    // Straight through.
    let sql = from_parquet(&p("pq"), &p("out1"), "SET 'parallelism.default' = '2';");
    let summary = run_job(&registry(), &sql, &p("state2"), None).await;
    assert_eq!(summary.outcome, JobOutcome::Finished, "{summary:?}");
    same(&committed_lines(&p("out1")), &expected);

    // Stopped early, then resumed from the checkpoint: every row exactly once.
    let sql = from_parquet(
        &p("pq"),
        &p("out2"),
        "SET 'parallelism.default' = '2'; SET 'headrace.batch-size' = '16';",
    );
    let first = run_job(
        &registry(),
        &sql,
        &p("state3"),
        Some(Box::new(|read| read > 0)),
    )
    .await;
    assert_eq!(first.outcome, JobOutcome::Stopped, "{first:?}");
    let partial = committed_lines(&p("out2")).len() as u64;
    assert!(
        partial < total,
        "run 1 stopped early ({partial} of {total})"
    );
    let second = run_job(&registry(), &sql, &p("state3"), None).await;
    assert_eq!(second.outcome, JobOutcome::Finished, "{second:?}");
    assert!(second.restored_from.is_some());
    assert!(
        second.rows_in.iter().sum::<u64>() < total,
        "run 2 did not start over: {:?}",
        second.rows_in
    );
    same(&committed_lines(&p("out2")), &expected);
}

/// Compare sorted lines, reporting counts and the first difference rather than everything.
fn same(got: &[String], want: &[String]) {
    if got != want {
        let first = got.iter().zip(want).find(|(g, w)| g != w);
        panic!(
            "{} lines, expected {}; first difference (got, expected): {first:?}",
            got.len(),
            want.len()
        );
    }
}
