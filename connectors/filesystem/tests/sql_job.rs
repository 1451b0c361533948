//! End to end through the runtime: a SQL job reads partitioned files and writes partitioned
//! files, once straight through and once stopped and restored from its checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use common::{committed_lines, in_progress_files, registry, run_job, visible_files, write};
use headrace_runtime::exec::JobOutcome;

/// Input: `day=<d>/` directories with `files` files of `lines` lines each; returns the lines
/// the sink must hold, as `committed_lines` renders them.
fn input(dir: &Path, files: usize, lines: usize) -> Vec<String> {
    let mut expected = Vec::new();
    for f in 0..files {
        let day = format!("2026-11-{:02}", 20 + f % 3);
        let mut content = String::new();
        for l in 0..lines {
            let id = f * lines + l;
            let kind = ["click", "view"][id % 2];
            content.push_str(&format!("{id},{kind}\n"));
            expected.push(format!("kind={kind}|{id},{day}"));
        }
        write(&dir.join(format!("day={day}/f{f}.txt")), &content);
    }
    expected.sort();
    expected
}

fn job_sql(input: &Path, output: &Path, settings: &str) -> String {
    format!(
        "{settings}
        CREATE TABLE src (id BIGINT, kind STRING, day DATE)
          PARTITIONED BY (day)
          WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'testline');
        CREATE TABLE dst (id BIGINT, day DATE, kind STRING)
          PARTITIONED BY (kind)
          WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'testline',
                'sink.rolling-policy.file-size' = '2 kb');
        INSERT INTO dst SELECT id, day, kind FROM src;",
        input = input.display(),
        output = output.display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_job_copies_partitioned_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("state"),
    );
    let expected = input(&inp, 5, 200);
    let sql = job_sql(
        &inp,
        &out,
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         SET 'headrace.batch-size' = '50';",
    );
    let summary = run_job(&registry(), &sql, &state, None).await;
    assert_eq!(summary.outcome, JobOutcome::Finished, "{summary:?}");
    assert_eq!(summary.rows_out, vec![expected.len() as u64]);
    assert_eq!(committed_lines(&out), expected);
    assert!(in_progress_files(&out).is_empty());
    let files = visible_files(&out);
    assert!(files.len() > 2, "rolled by size: {files:?}");
    assert!(files
        .iter()
        .all(|f| f.starts_with("kind=click") || f.starts_with("kind=view")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("state"),
    );
    let expected = input(&inp, 4, 10_000);
    let total = expected.len() as u64;
    let sql = job_sql(
        &inp,
        &out,
        "SET 'parallelism.default' = '2'; SET 'headrace.batch-size' = '16';",
    );
    let first = run_job(&registry(), &sql, &state, Some(Box::new(|read| read > 0))).await;
    assert_eq!(first.outcome, JobOutcome::Stopped, "{first:?}");
    let partial = committed_lines(&out).len() as u64;
    assert!(
        partial < total,
        "run 1 stopped early ({partial} of {total})"
    );

    let second = run_job(&registry(), &sql, &state, None).await;
    assert_eq!(second.outcome, JobOutcome::Finished, "{second:?}");
    assert!(second.restored_from.is_some());
    assert!(
        second.rows_in.iter().sum::<u64>() < total,
        "run 2 did not start over: {:?}",
        second.rows_in
    );
    assert_eq!(committed_lines(&out), expected, "every row exactly once");
    assert!(in_progress_files(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_job_reads_new_files_once_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("state"),
    );
    let lines = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("{i},{}\n", ["click", "view"][i % 2]))
            .collect()
    };
    write(&inp.join("day=2026-11-20/a.txt"), &lines(0, 100));
    let sql = format!(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         CREATE TABLE src (id BIGINT, kind STRING, day DATE)
           PARTITIONED BY (day)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline',
                 'source.monitor-interval' = '20 ms');
         CREATE TABLE dst (id BIGINT, day DATE, kind STRING)
           PARTITIONED BY (kind)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline');
         INSERT INTO dst SELECT id, day, kind FROM src;",
        inp.display(),
        out.display()
    );
    // Run 1: once a.txt is read, b.txt appears; stop once it is read too.
    let b = inp.join("day=2026-11-21/b.txt");
    let added = std::sync::atomic::AtomicBool::new(false);
    let b_lines = lines(100, 150);
    let first = run_job(
        &registry(),
        &sql,
        &state,
        Some(Box::new(move |read| {
            if read >= 100 && !added.swap(true, Ordering::SeqCst) {
                write(&b, &b_lines);
            }
            read >= 150
        })),
    )
    .await;
    assert_eq!(first.outcome, JobOutcome::Stopped, "{first:?}");
    // Run 2: restored; only the new c.txt may be read.
    write(&inp.join("day=2026-11-22/c.txt"), &lines(150, 180));
    let second = run_job(&registry(), &sql, &state, Some(Box::new(|read| read >= 30))).await;
    assert_eq!(second.outcome, JobOutcome::Stopped, "{second:?}");
    assert!(second.restored_from.is_some());
    let mut ids: Vec<i64> = committed_lines(&out)
        .iter()
        .map(|l| {
            l.split_once('|')
                .unwrap()
                .1
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..180).collect::<Vec<_>>(), "every row exactly once");
}
