//! `auto-compaction`: each checkpoint's part files of a partition are merged into files of about
//! `compaction.file-size` before they become visible; committing again after a crash redoes
//! nothing twice. Line formats and Parquet, through the SDK traits and a SQL job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{
    committed_lines, day_job, in_progress_files, job_dirs, registry, run_job, sink_builder,
    visible_files, write, write_inputs,
};
use headrace_sdk::prelude::*;

fn batch(ids: std::ops::Range<i64>) -> ChangelogBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("msg", DataType::Utf8, true),
        Field::new("dt", DataType::Utf8, true),
    ]));
    ChangelogBatch::inserts(
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids.clone().collect::<Vec<_>>())),
                Arc::new(StringArray::from(
                    ids.clone()
                        .map(|i| format!("message-{i:05}"))
                        .collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    ids.map(|i| format!("2026-11-2{}", i % 2))
                        .collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap(),
    )
}

fn expected(ids: std::ops::Range<i64>) -> Vec<String> {
    let mut v: Vec<String> = ids
        .map(|i| format!("dt=2026-11-2{}|{i},message-{i:05}", i % 2))
        .collect();
    v.sort();
    v
}

fn ctx(subtask: usize, parallelism: usize) -> WriterContext {
    WriterContext {
        subtask,
        parallelism,
        restored_state: vec![],
        restored_checkpoint_id: 0,
        metrics: Arc::new(SinkMetrics::default()),
    }
}

fn sink(dir: &Path, format: &str, options: &[(&str, &str)]) -> Arc<dyn DynamicSink> {
    let mut b = sink_builder(dir)
        .registry(registry().with_format(headrace_connector_filesystem::ParquetFormat))
        .format(format)
        .columns("id BIGINT, msg STRING, dt STRING")
        .unwrap()
        .partitioned_by(["dt"]);
    for (k, v) in options {
        b = b.option(*k, *v);
    }
    b.build_sink().unwrap()
}

fn sizes(dir: &Path) -> Vec<(String, u64)> {
    visible_files(dir)
        .into_iter()
        .map(|f| {
            let size = std::fs::metadata(dir.join(&f)).unwrap().len();
            (f.display().to_string(), size)
        })
        .collect()
}

#[tokio::test]
async fn two_writers_small_files_are_compacted_per_partition_before_they_are_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let s = sink(
        &out,
        "testline",
        &[
            ("sink.rolling-policy.file-size", "200 b"),
            ("auto-compaction", "true"),
            ("compaction.file-size", "1 kb"),
        ],
    );
    let mut w0 = s.create_writer(ctx(0, 2)).unwrap();
    let mut w1 = s.create_writer(ctx(1, 2)).unwrap();
    let mut c = s.create_committer().unwrap().unwrap();
    w0.write(batch(0..150)).await.unwrap();
    w1.write(batch(150..300)).await.unwrap();
    let mut committables = Vec::new();
    for w in [&mut w0, &mut w1] {
        w.flush(false).await.unwrap();
        committables.extend(w.prepare_commit(1).await.unwrap());
    }
    // ~19 bytes a line, 200-byte part files: many small files, all hidden.
    assert!(committables.len() > 20, "{}", committables.len());
    assert!(visible_files(&out).is_empty());
    c.commit(1, committables.clone()).await.unwrap();
    assert!(in_progress_files(&out).is_empty());
    let files = sizes(&out);
    // 150 lines of ~19 bytes per partition (~2.8 kb) in ~200-byte part files: compacted into
    // files of at most 1 kb (3 or 4 per partition).
    for (f, size) in &files {
        let name = Path::new(f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("compacted-part-"), "{name}");
        assert!(*size <= 1024, "{f}: {size} bytes");
    }
    for dt in ["dt=2026-11-20", "dt=2026-11-21"] {
        let of: Vec<u64> = files
            .iter()
            .filter(|(f, _)| f.starts_with(dt))
            .map(|(_, s)| *s)
            .collect();
        assert!(of.len() >= 3 && of.len() <= 4, "{dt}: {files:?}");
        assert!(of.iter().filter(|s| **s > 700).count() >= 2, "{files:?}");
    }
    assert_eq!(committed_lines(&out), expected(0..300));

    // A crash after the compacted file was renamed but before its inputs were deleted, then
    // the restart commits the checkpoint again: the same files, nothing twice.
    let before = sizes(&out);
    c.commit(1, committables.clone()).await.unwrap();
    assert_eq!(sizes(&out), before);
    assert_eq!(committed_lines(&out), expected(0..300));

    // A leftover compaction output is removed when writers start again.
    let leftover = out.join("dt=2026-11-20/.compacted-part-x-0-0.compacting");
    write(&leftover, "partial");
    let _w = s.create_writer(ctx(0, 1)).unwrap();
    assert!(!leftover.exists());
}

#[tokio::test]
async fn a_crash_during_compaction_is_finished_by_the_next_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let s = sink(
        &out,
        "testline",
        &[
            ("sink.rolling-policy.file-size", "100 b"),
            ("auto-compaction", "true"),
            ("compaction.file-size", "300 b"),
        ],
    );
    let mut w = s.create_writer(ctx(0, 1)).unwrap();
    w.write(batch(0..40)).await.unwrap();
    w.flush(false).await.unwrap();
    let committables = w.prepare_commit(1).await.unwrap();
    // Simulate a crash in the middle of compacting the first unit: its hidden output is
    // half-written.
    let hidden = in_progress_files(&out);
    let first = hidden.iter().min().unwrap();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let target = name[1..name.find(".inprogress.").unwrap()].to_string();
    let tmp_out = first.with_file_name(format!(".compacted-{target}.compacting"));
    write(&tmp_out, "half");
    let mut c = s.create_committer().unwrap().unwrap();
    c.commit(1, committables).await.unwrap();
    assert!(!tmp_out.exists());
    assert!(first.with_file_name(format!("compacted-{target}")).exists());
    let files = visible_files(&out);
    assert!(
        files.len() < hidden.len(),
        "{} vs {}",
        files.len(),
        hidden.len()
    );
    assert_eq!(committed_lines(&out), expected(0..40));
}

#[tokio::test]
async fn the_target_size_defaults_to_the_rolling_size() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let s = sink(
        &out,
        "testline",
        &[
            ("sink.rolling-policy.file-size", "150 b"),
            ("auto-compaction", "true"),
        ],
    );
    let mut w0 = s.create_writer(ctx(0, 2)).unwrap();
    let mut w1 = s.create_writer(ctx(1, 2)).unwrap();
    let mut c = s.create_committer().unwrap().unwrap();
    // Each checkpoint, each writer writes 4 lines (~68 bytes) to each partition, closed by the
    // checkpoint: the two writers' files of a partition (~136 bytes) fit in one 150-byte file.
    for (cp, a, b) in [(1, 0..8, 8..16), (2, 16..24, 24..32)] {
        w0.write(batch(a)).await.unwrap();
        w1.write(batch(b)).await.unwrap();
        let mut committables = Vec::new();
        for w in [&mut w0, &mut w1] {
            w.flush(false).await.unwrap();
            committables.extend(w.prepare_commit(cp).await.unwrap());
        }
        assert_eq!(committables.len(), 4);
        c.commit(cp, committables).await.unwrap();
    }
    // Only the files of one checkpoint are merged: each partition gets a file per checkpoint.
    let files = sizes(&out);
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        files.iter().all(|(_, s)| *s <= 150 && *s > 100),
        "{files:?}"
    );
    assert_eq!(committed_lines(&out), expected(0..32));
}

#[tokio::test]
async fn parquet_files_are_compacted_into_readable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let s = sink(
        &out,
        "parquet",
        &[
            ("sink.rolling-policy.file-size", "1 b"),
            ("auto-compaction", "true"),
            ("compaction.file-size", "64 mb"),
        ],
    );
    let mut w = s.create_writer(ctx(0, 1)).unwrap();
    for i in 0..10 {
        w.write(batch(i * 50..(i + 1) * 50)).await.unwrap();
    }
    w.flush(true).await.unwrap();
    let committables = w.prepare_commit(1).await.unwrap();
    assert_eq!(
        committables.len(),
        20,
        "one part file per write and partition"
    );
    s.create_committer()
        .unwrap()
        .unwrap()
        .commit(1, committables)
        .await
        .unwrap();
    let files = visible_files(&out);
    assert_eq!(files.len(), 2, "{files:?}");
    let mut ids = Vec::new();
    for f in files {
        let file = std::fs::File::open(out.join(&f)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            let col = b
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            ids.extend(col.values().iter().copied());
        }
    }
    ids.sort();
    assert_eq!(ids, (0..500).collect::<Vec<i64>>());
}

#[test]
fn options_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let e = sink_builder(tmp.path())
        .columns("id BIGINT")
        .unwrap()
        .option("auto-compaction", "true")
        .option("compaction.file-size", "0")
        .build_sink()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("compaction.file-size"), "{e}");
    // Accepted as Flink writes it (the runner has no keyed routing; documented).
    sink_builder(tmp.path())
        .columns("id BIGINT")
        .unwrap()
        .option("sink.shuffle-by-partition.enable", "true")
        .build_sink()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_job_with_two_writers_compacts_and_commits_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, state) = job_dirs(tmp.path());
    let mut want = Vec::new();
    write_inputs(&inp, 4, 500, |id| {
        want.push(format!("day=2026-11-2{}|{id}", id % 2));
        format!("{id},2026-11-2{}", id % 2)
    });
    want.sort();
    let sql = day_job(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '50 ms';
         SET 'headrace.batch-size' = '40';",
        &inp,
        &out,
        "'sink.rolling-policy.file-size' = '100 b',
         'auto-compaction' = 'true', 'compaction.file-size' = '4 kb',
         'sink.shuffle-by-partition.enable' = 'true',
         'sink.partition-commit.policy.kind' = 'success-file',",
    );
    run_job(&registry(), &sql, &state, None).await;
    assert_eq!(committed_lines(&out), want);
    assert!(in_progress_files(&out).is_empty());
    for f in visible_files(&out) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("compacted-part-"), "{name}");
    }
    for day in ["day=2026-11-20", "day=2026-11-21"] {
        assert!(out.join(day).join("_SUCCESS").exists(), "{day}");
    }
}
