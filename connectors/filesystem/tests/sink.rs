//! The filesystem sink driven through the SDK traits: partitioned output, invisibility until
//! commit, rolling by size, and a crash between checkpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{committed_lines, in_progress_files, sink_builder, visible_files};
use headrace_sdk::prelude::*;

fn batch(ids: std::ops::Range<i64>) -> ChangelogBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("msg", DataType::Utf8, true),
        Field::new("dt", DataType::Utf8, true),
    ]));
    let dt: Vec<Option<String>> = ids
        .clone()
        .map(|i| match i % 3 {
            0 => Some("2026-11-24".to_string()),
            1 => Some("2026-11-25".to_string()),
            _ => None,
        })
        .collect();
    ChangelogBatch::inserts(
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids.clone().collect::<Vec<_>>())),
                Arc::new(StringArray::from(
                    ids.map(|i| format!("m{i}")).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(dt)),
            ],
        )
        .unwrap(),
    )
}

fn expected(ids: std::ops::Range<i64>) -> Vec<String> {
    let mut v: Vec<String> = ids
        .map(|i| {
            let dt = match i % 3 {
                0 => "2026-11-24",
                1 => "2026-11-25",
                _ => "__DEFAULT_PARTITION__",
            };
            format!("dt={dt}|{i},m{i}")
        })
        .collect();
    v.sort();
    v
}

fn writer_ctx(subtask: usize, restored: u64) -> WriterContext {
    WriterContext {
        subtask,
        parallelism: 1,
        restored_state: vec![],
        restored_checkpoint_id: restored,
        metrics: Arc::new(SinkMetrics::default()),
    }
}

fn sink(dir: &std::path::Path, file_size: &str) -> Arc<dyn DynamicSink> {
    sink_builder(dir)
        .columns("id BIGINT, msg STRING, dt STRING")
        .unwrap()
        .partitioned_by(["dt"])
        .option("sink.rolling-policy.file-size", file_size)
        .build_sink()
        .unwrap()
}

#[tokio::test]
async fn partitioned_output_is_invisible_until_commit_and_rolls_by_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let sink = sink(&dir, "100 b");
    assert_eq!(sink.delivery_guarantee(), DeliveryGuarantee::ExactlyOnce);
    let mut w = sink.create_writer(writer_ctx(0, 0)).unwrap();
    let mut c = sink.create_committer().unwrap().unwrap();
    w.write(batch(0..60)).await.unwrap();
    w.flush(false).await.unwrap();
    assert!(
        visible_files(&dir).is_empty(),
        "nothing visible before commit"
    );
    assert!(!in_progress_files(&dir).is_empty());
    let committables = w.prepare_commit(1).await.unwrap();
    assert!(
        visible_files(&dir).is_empty(),
        "nothing visible before the checkpoint completes"
    );
    // 60 rows of ~7 bytes in 3 partitions: 140 bytes per partition, so each rolled at 100 bytes.
    assert!(
        committables.len() >= 6,
        "rolled by size: {}",
        committables.len()
    );
    c.commit(1, committables.clone()).await.unwrap();
    assert!(in_progress_files(&dir).is_empty());
    let files = visible_files(&dir);
    assert_eq!(files.len(), committables.len());
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.rsplitn(3, '-').collect();
        assert!(name.starts_with("part-"), "{name}");
        assert_eq!(parts[1], "0", "subtask in {name}");
        assert!(parts[0].parse::<u64>().is_ok(), "counter in {name}");
        assert_eq!(parts[2].len(), "part-".len() + 36, "uuid in {name}");
        let size = std::fs::metadata(dir.join(f)).unwrap().len();
        assert!(size < 100 + 20, "{name} has {size} bytes");
        let d = f.parent().unwrap().display().to_string();
        assert!(d.starts_with("dt="), "{d}");
    }
    assert_eq!(
        committed_lines(&dir),
        expected(0..60),
        "partition columns not in files"
    );
    // Committing again (a restart re-committing the last checkpoint) changes nothing.
    c.commit(1, committables).await.unwrap();
    assert_eq!(committed_lines(&dir), expected(0..60));
}

#[tokio::test]
async fn updates_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = sink(&tmp.path().join("out"), "1 mb");
    assert_eq!(sink.changelog_mode(), ChangelogMode::InsertOnly);
    let mut w = sink.create_writer(writer_ctx(0, 0)).unwrap();
    let b = batch(0..2);
    let upd = ChangelogBatch::with_kinds(b.batch, vec![RowKind::Insert, RowKind::Delete]);
    let e = w.write(upd).await.unwrap_err().to_string();
    assert!(e.contains("-D") && e.contains("only inserts"), "{e}");
}

#[tokio::test]
async fn crash_between_checkpoints_leaves_no_duplicate_and_no_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let sink = sink(&dir, "1 mb");
    let mut committer = sink.create_committer().unwrap().unwrap();

    // Checkpoint 1 completes and is committed.
    let mut w = sink.create_writer(writer_ctx(0, 0)).unwrap();
    w.write(batch(0..10)).await.unwrap();
    w.flush(false).await.unwrap();
    let cp1 = w.prepare_commit(1).await.unwrap();
    committer.commit(1, cp1).await.unwrap();
    // Checkpoint 2 is prepared and completes, but the job dies before the committer runs.
    w.write(batch(10..20)).await.unwrap();
    w.flush(false).await.unwrap();
    let cp2 = w.prepare_commit(2).await.unwrap();
    // Rows after checkpoint 2: prepared for checkpoint 3, which never completes, and more rows
    // still in an open file.
    w.write(batch(20..25)).await.unwrap();
    w.flush(false).await.unwrap();
    let _cp3 = w.prepare_commit(3).await.unwrap();
    w.write(batch(25..28)).await.unwrap();
    w.flush(false).await.unwrap();
    drop(w);
    assert_eq!(committed_lines(&dir), expected(0..10));

    // Restart from checkpoint 2: the runner commits its committables again, then creates writers.
    let mut committer = sink.create_committer().unwrap().unwrap();
    committer.commit(2, cp2).await.unwrap();
    let mut w = sink.create_writer(writer_ctx(0, 2)).unwrap();
    assert!(
        in_progress_files(&dir).is_empty(),
        "uncovered in-progress files removed"
    );
    // The source replays from checkpoint 2: rows 20.. again.
    w.write(batch(20..30)).await.unwrap();
    w.flush(true).await.unwrap();
    let fin = w.prepare_commit(3).await.unwrap();
    committer.commit(3, fin).await.unwrap();
    assert_eq!(committed_lines(&dir), expected(0..30));
}

#[tokio::test]
async fn time_based_rolling() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let sink = sink_builder(&dir)
        .columns("id BIGINT, msg STRING, dt STRING")
        .unwrap()
        .rolling_rollover_interval(std::time::Duration::from_millis(30))
        .rolling_check_interval(std::time::Duration::from_millis(10))
        .build_sink()
        .unwrap();
    let mut w = sink.create_writer(writer_ctx(0, 0)).unwrap();
    w.write(batch(0..3)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    w.write(batch(3..6)).await.unwrap();
    let c = w.prepare_commit(1).await.unwrap();
    assert_eq!(
        c.len(),
        2,
        "the first file rolled by time before the second write"
    );
    let mut committer = sink.create_committer().unwrap().unwrap();
    committer.commit(1, c).await.unwrap();
    let files = visible_files(&dir);
    assert_eq!(files.len(), 2);
    let total: usize = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(total, 6);
}

#[tokio::test]
async fn inactivity_rolls_and_parallelism_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let sink = sink_builder(&dir)
        .columns("id BIGINT, msg STRING, dt STRING")
        .unwrap()
        .partitioned_by(["dt"])
        .partition_default_name("none")
        .rolling_inactivity_interval(std::time::Duration::from_millis(30))
        .rolling_check_interval(std::time::Duration::from_millis(1))
        .sink_parallelism(3)
        .build_sink()
        .unwrap();
    assert_eq!(sink.parallelism(), Some(3));
    let mut w = sink.create_writer(writer_ctx(0, 0)).unwrap();
    // Rows 0..3 open one file per partition; after a pause longer than the inactivity interval
    // a flush rolls all three idle files, and the next two rows (both in partition 0) share one
    // new file, which the checkpoint closes.
    w.write(batch(0..3)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    w.flush(false).await.unwrap();
    w.write(batch(3..4)).await.unwrap();
    w.write(batch(6..7)).await.unwrap();
    let c = w.prepare_commit(1).await.unwrap();
    assert_eq!(
        c.len(),
        4,
        "3 idle files rolled, 1 open file closed at the checkpoint"
    );
    let mut committer = sink.create_committer().unwrap().unwrap();
    committer.commit(1, c).await.unwrap();
    let files = visible_files(&dir);
    assert!(
        files.iter().any(|f| f.starts_with("dt=none")),
        "NULL partition uses partition.default-name: {files:?}"
    );
    assert_eq!(committed_lines(&dir).len(), 5);
}
