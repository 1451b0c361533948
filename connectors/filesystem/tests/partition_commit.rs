//! Partition commit (`sink.partition-commit.*`): success files appear only for committed
//! partitions, only once their part files are visible, and for every partition when a bounded
//! job ends. Driven through the SDK traits (checkpoint by checkpoint) and through a SQL job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{
    committed_lines, day_job, files_below, in_progress_files, job_dirs, registry, run_job,
    visible_files, write, write_inputs, TESTLINE,
};
use headrace_sdk::prelude::*;

fn batch(rows: &[(i64, &str, &str)]) -> ChangelogBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("dt", DataType::Utf8, true),
        Field::new("hour", DataType::Utf8, true),
    ]));
    ChangelogBatch::inserts(
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap(),
    )
}

fn ctx(restored_state: Vec<headrace_sdk::state::VersionedBytes>) -> WriterContext {
    WriterContext {
        subtask: 0,
        parallelism: 1,
        restored_state,
        restored_checkpoint_id: 0,
        metrics: Arc::new(SinkMetrics::default()),
    }
}

fn sink(dir: &Path, options: &[(&str, &str)]) -> Arc<dyn DynamicSink> {
    let cols = "id BIGINT, dt STRING, hour STRING";
    TESTLINE
        .try_sink(dir, cols, &["dt", "hour"], options)
        .unwrap()
}

/// A sink of `options` writing below `dir`, a writer of it and its committer.
fn open(
    dir: &Path,
    options: &[(&str, &str)],
) -> (
    Arc<dyn DynamicSink>,
    Box<dyn SinkWriter>,
    Box<dyn Committer>,
) {
    let s = sink(dir, options);
    let w = s.create_writer(ctx(vec![])).unwrap();
    let c = s.create_committer().unwrap().unwrap();
    (s, w, c)
}

/// Write `rows`, flush (not at the end of input) and prepare checkpoint `id`.
async fn prepare(
    w: &mut Box<dyn SinkWriter>,
    rows: &[(i64, &str, &str)],
    id: u64,
) -> Vec<headrace_sdk::state::VersionedBytes> {
    w.write(batch(rows)).await.unwrap();
    w.flush(false).await.unwrap();
    w.prepare_commit(id).await.unwrap()
}

fn success(dir: &Path, partition: &str, name: &str) -> bool {
    dir.join(partition).join(name).exists()
}

/// Every success file below `dir`, as relative partition directories.
fn success_dirs(dir: &Path, name: &str) -> Vec<String> {
    let mut out: Vec<String> = files_below(dir, &|_| true, &|n| n == name)
        .iter()
        .map(|p| {
            p.parent()
                .unwrap()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn process_time_success_file_follows_the_visible_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (_s, mut w, mut c) = open(
        &out,
        &[
            ("sink.partition-commit.policy.kind", "success-file"),
            ("sink.partition-commit.success-file.name", "_DONE"),
        ],
    );
    let rows = [(1, "2026-11-24", "10"), (2, "2026-11-24", "11")];
    let prepared = prepare(&mut w, &rows, 1).await;
    // Prepared, not committed: neither data nor success files are visible.
    assert!(visible_files(&out).is_empty());
    assert!(success_dirs(&out, "_DONE").is_empty());
    assert_eq!(in_progress_files(&out).len(), 2);
    c.commit(1, prepared).await.unwrap();
    assert_eq!(visible_files(&out).len(), 2);
    assert_eq!(
        success_dirs(&out, "_DONE"),
        vec!["dt=2026-11-24/hour=10", "dt=2026-11-24/hour=11"]
    );
    // The success file is hidden from readers of the table (name starts with '_').
    assert!(visible_files(&out).iter().all(|p| !p.ends_with("_DONE")));

    // A checkpoint that never completes (crash): its partition gets no success file.
    let lost = prepare(&mut w, &[(3, "2026-11-25", "00")], 2).await;
    assert!(!lost.is_empty());
    assert!(!success(&out, "dt=2026-11-25/hour=00", "_DONE"));
    assert_eq!(
        committed_lines(&out),
        vec!["dt=2026-11-24/hour=10|1", "dt=2026-11-24/hour=11|2"]
    );
}

#[tokio::test]
async fn process_time_delay_holds_the_commit_until_the_end_of_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (s, mut w, mut c) = open(
        &out,
        &[
            ("sink.partition-commit.policy.kind", "success-file"),
            ("sink.partition-commit.delay", "1 h"),
        ],
    );
    let p = prepare(&mut w, &[(1, "2026-11-24", "10")], 1).await;
    let state = w.snapshot_state(1).unwrap();
    c.commit(1, p).await.unwrap();
    assert_eq!(visible_files(&out).len(), 1);
    assert!(
        success_dirs(&out, "_SUCCESS").is_empty(),
        "an hour has not passed"
    );

    // Restored from checkpoint 1, the pending partition is remembered and committed at the end.
    let mut w = s.create_writer(ctx(state)).unwrap();
    w.write(batch(&[(2, "2026-11-24", "11")])).await.unwrap();
    w.flush(true).await.unwrap();
    let p = w.prepare_commit(2).await.unwrap();
    c.commit(2, p).await.unwrap();
    assert_eq!(
        success_dirs(&out, "_SUCCESS"),
        vec!["dt=2026-11-24/hour=10", "dt=2026-11-24/hour=11"]
    );
}

/// A checkpoint that completes: flush, prepare and commit.
async fn checkpoint(w: &mut Box<dyn SinkWriter>, c: &mut Box<dyn Committer>, end: bool) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    w.flush(end).await.unwrap();
    let p = w.prepare_commit(id).await.unwrap();
    c.commit(id, p).await.unwrap();
}

fn ms(local: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

#[tokio::test]
async fn partition_time_commits_a_partition_once_the_watermark_passes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (s, mut w, mut c) = open(
        &out,
        &[
            ("sink.partition-commit.policy.kind", "success-file"),
            ("sink.partition-commit.trigger", "partition-time"),
            ("sink.partition-commit.delay", "1 h"),
            (
                "partition.time-extractor.timestamp-pattern",
                "$dt $hour:00:00",
            ),
        ],
    );
    w.write(batch(&[(1, "2026-11-24", "10"), (2, "2026-11-24", "10")]))
        .await
        .unwrap();
    w.on_watermark(ms("2026-11-24 10:30:00")).unwrap();
    checkpoint(&mut w, &mut c, false).await;
    assert!(success_dirs(&out, "_SUCCESS").is_empty());
    // Rows of a later partition alone do not commit: the watermark does.
    w.write(batch(&[(3, "2026-11-24", "11")])).await.unwrap();
    checkpoint(&mut w, &mut c, false).await;
    assert!(success_dirs(&out, "_SUCCESS").is_empty());
    w.on_watermark(ms("2026-11-24 11:00:00")).unwrap();
    checkpoint(&mut w, &mut c, false).await;
    assert!(
        success_dirs(&out, "_SUCCESS").is_empty(),
        "the watermark must pass 10:00 + 1 h, not reach it"
    );
    w.on_watermark(ms("2026-11-24 11:00:01")).unwrap();
    checkpoint(&mut w, &mut c, false).await;
    assert_eq!(
        success_dirs(&out, "_SUCCESS"),
        vec!["dt=2026-11-24/hour=10"]
    );
    w.write(batch(&[(4, "2026-11-24", "13")])).await.unwrap();
    w.on_watermark(ms("2026-11-24 13:10:00")).unwrap();
    checkpoint(&mut w, &mut c, false).await;
    assert_eq!(
        success_dirs(&out, "_SUCCESS"),
        vec!["dt=2026-11-24/hour=10", "dt=2026-11-24/hour=11"]
    );
    checkpoint(&mut w, &mut c, true).await;
    assert_eq!(
        success_dirs(&out, "_SUCCESS"),
        vec![
            "dt=2026-11-24/hour=10",
            "dt=2026-11-24/hour=11",
            "dt=2026-11-24/hour=13"
        ]
    );

    // A value the extractor cannot read is an error naming the partition and the options.
    let mut w = s.create_writer(ctx(vec![])).unwrap();
    let e = w
        .write(batch(&[(5, "someday", "1")]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dt=someday/hour=1") && e.contains("partition.time-extractor.timestamp-pattern"),
        "{e}"
    );
}

#[test]
fn unsupported_policies_and_extractors_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |opts: &[(&str, &str)]| {
        TESTLINE
            .try_sink(tmp.path(), "id BIGINT, dt STRING", &["dt"], opts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = build(&[(
        "sink.partition-commit.policy.kind",
        "metastore,success-file",
    )]);
    assert!(
        e.contains("metastore") && e.contains("use 'success-file'"),
        "{e}"
    );
    let e = build(&[
        ("sink.partition-commit.policy.kind", "custom"),
        ("sink.partition-commit.policy.class", "com.acme.Policy"),
    ]);
    assert!(
        e.contains("com.acme.Policy") && e.contains("cannot load"),
        "{e}"
    );
    let e = build(&[("sink.partition-commit.policy.kind", "success")]);
    assert!(e.contains("unknown policy 'success'"), "{e}");
    let e = build(&[("partition.time-extractor.kind", "custom")]);
    assert!(e.contains("partition.time-extractor.kind"), "{e}");
    let e = build(&[("sink.partition-commit.trigger", "event-time")]);
    assert!(e.contains("process-time, partition-time"), "{e}");
    let e = build(&[("sink.partition-commit.watermark-time-zone", "Mars")]);
    assert!(
        e.contains("watermark-time-zone") && e.contains("GMT-08:00"),
        "{e}"
    );
    let e = build(&[("partition.time-extractor.timestamp-formatter", "yyyy-QQ")]);
    assert!(
        e.contains("timestamp-formatter") && e.contains("'QQ'"),
        "{e}"
    );
    let e = build(&[
        ("sink.partition-commit.policy.kind", "success-file"),
        ("sink.partition-commit.trigger", "partition-time"),
        ("partition.time-extractor.timestamp-pattern", "$day"),
    ]);
    assert!(e.contains("'$day' is not a partition column"), "{e}");
    // Accepted as Flink writes them.
    assert_eq!(
        build(&[
            ("sink.partition-commit.policy.kind", "success-file"),
            ("sink.partition-commit.trigger", "partition-time"),
            ("sink.partition-commit.delay", "1 d"),
            ("sink.partition-commit.watermark-time-zone", "Asia/Shanghai"),
            ("partition.time-extractor.timestamp-formatter", "yyyy-MM-dd"),
        ]),
        ""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_sql_job_commits_every_partition_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = job_dirs(tmp.path());
    let mut expected = Vec::new();
    write_inputs(&inp, 6, 100, |id| {
        let day = format!("2026-11-{:02}", 20 + id % 4);
        expected.push(format!("day={day}|{id}"));
        format!("{id},{day}")
    });
    expected.sort();
    let sql = day_job(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         SET 'headrace.batch-size' = '30';",
        &inp,
        &out,
        "'sink.partition-commit.policy.kind' = 'success-file',
         'sink.partition-commit.trigger' = 'partition-time',
         'sink.partition-commit.delay' = '1 d',",
    );
    run_job(&registry(), &sql, &state, None).await;
    assert_eq!(committed_lines(&out), expected);
    assert_eq!(
        success_dirs(&out, "_SUCCESS"),
        vec![
            "day=2026-11-20",
            "day=2026-11-21",
            "day=2026-11-22",
            "day=2026-11-23"
        ]
    );
    assert!(in_progress_files(&out).is_empty());
}

/// A continuous filesystem -> filesystem job with hourly partitions and the partition-time
/// trigger; stops once `stop` says so (or fails after `limit`). Input rows: 10:05, 10:40 and
/// 11:30 of 2026-11-24.
async fn run_partition_time_job(
    watermark: &str,
    stop: impl Fn(&Path, u64) -> bool + Send + 'static,
    limit: Duration,
) -> (std::path::PathBuf, Result<(), String>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = job_dirs(tmp.path());
    write(
        &inp.join("a.txt"),
        "1,2026-11-24 10:05:00,2026-11-24,10\n2,2026-11-24 10:40:00,2026-11-24,10\n\
         3,2026-11-24 11:30:00,2026-11-24,11\n",
    );
    let sql = format!(
        "SET 'execution.checkpointing.interval' = '50 ms';
         CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), dt STRING, hr STRING{watermark})
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline',
                 'source.monitor-interval' = '100 ms');
         CREATE TABLE dst (id BIGINT, dt STRING, hr STRING) PARTITIONED BY (dt, hr)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'testline',
                 'sink.partition-commit.policy.kind' = 'success-file',
                 'sink.partition-commit.trigger' = 'partition-time',
                 'sink.partition-commit.delay' = '1 h',
                 'partition.time-extractor.timestamp-pattern' = '$dt $hr:00:00');
         INSERT INTO dst SELECT id, dt, hr FROM src;",
        inp.display(),
        out.display()
    );
    let out2 = out.clone();
    let r = headrace_runtime::harness::run_sql(
        &sql,
        &registry(),
        Some(&state),
        Some(Box::new(move |read| stop(&out2, read))),
        limit,
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string());
    (out, r, tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_watermark_commits_partitions_while_the_job_runs() {
    let (out, r, _tmp) = run_partition_time_job(
        ", WATERMARK FOR ts AS ts - INTERVAL '5' SECOND",
        |out, _| out.join("dt=2026-11-24/hr=10/_SUCCESS").exists(),
        Duration::from_secs(60),
    )
    .await;
    r.expect("partition 10:00 committed while the job ran (watermark 11:29:55)");
    // 11:00 + 1 h is past the watermark, and stopping is not the end of input.
    assert_eq!(success_dirs(&out, "_SUCCESS"), vec!["dt=2026-11-24/hr=10"]);
    assert_eq!(
        committed_lines(&out),
        vec![
            "dt=2026-11-24/hr=10|1",
            "dt=2026-11-24/hr=10|2",
            "dt=2026-11-24/hr=11|3"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_watermark_partition_time_commits_nothing_before_the_end() {
    // Stop 1.5 s after all rows were read (about 30 checkpoints later).
    let read_at = std::sync::Mutex::new(None::<std::time::Instant>);
    let (out, r, _tmp) = run_partition_time_job(
        "",
        move |_, read| {
            let mut t = read_at.lock().unwrap();
            if read >= 3 && t.is_none() {
                *t = Some(std::time::Instant::now());
            }
            t.is_some_and(|t| t.elapsed() > Duration::from_millis(1500))
        },
        Duration::from_secs(60),
    )
    .await;
    r.unwrap();
    assert_eq!(committed_lines(&out).len(), 3, "the rows are written");
    assert!(
        success_dirs(&out, "_SUCCESS").is_empty(),
        "no watermark: no partition is committed while the job runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffle_by_partition_gives_each_partition_one_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = job_dirs(tmp.path());
    write_inputs(&inp, 4, 200, |id| {
        format!("{id},2026-11-{:02}", 10 + id % 12)
    });
    let run = |shuffle: bool, out: std::path::PathBuf, state: std::path::PathBuf| {
        let sql = day_job(
            "SET 'parallelism.default' = '2'; SET 'headrace.batch-size' = '25';",
            &inp,
            &out,
            &format!("'sink.parallelism' = '3', 'sink.shuffle-by-partition.enable' = '{shuffle}',"),
        );
        async move {
            run_job(&registry(), &sql, &state, None).await;
            out
        }
    };
    // The writer subtask of each part file: part-<uuid>-<subtask>-<n>.
    let writers_per_partition = |out: &Path| {
        let mut m: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for f in visible_files(out) {
            let rel = Path::new(&f).strip_prefix(out).unwrap_or(Path::new(&f));
            let dir = rel.parent().unwrap().display().to_string();
            let name = rel.file_name().unwrap().to_string_lossy().to_string();
            let parts: Vec<&str> = name.split('-').collect();
            let subtask = parts[parts.len() - 2].to_string();
            m.entry(dir).or_default().insert(subtask);
        }
        m
    };
    let shuffled = run(true, out.clone(), state.clone()).await;
    assert_eq!(committed_lines(&shuffled).len(), 800);
    let m = writers_per_partition(&shuffled);
    assert_eq!(m.len(), 12, "{m:?}");
    for (dir, ws) in &m {
        assert_eq!(ws.len(), 1, "partition {dir} written by {ws:?}");
    }
    let all: std::collections::BTreeSet<&String> = m.values().flatten().collect();
    assert!(all.len() > 1, "partitions spread over writers: {all:?}");

    // Without the option, a partition gets files from several writers.
    let plain = run(false, tmp.path().join("out2"), tmp.path().join("state2")).await;
    assert_eq!(committed_lines(&plain).len(), 800);
    let m = writers_per_partition(&plain);
    assert!(m.values().any(|ws| ws.len() > 1), "{m:?}");
}
