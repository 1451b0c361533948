//! Writing: appends, buffering, and the flush that makes the sink at-least-once.

// Test helpers outside `#[test]` functions may panic too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use headrace_example_connector::LinesSink;
use headrace_sdk::prelude::*;

fn batch(lines: &[Option<&str>]) -> ChangelogBatch {
    let schema = TableSchema::parse_columns("line STRING")
        .unwrap()
        .physical_arrow_schema();
    let mut b = RowBatchBuilder::new(schema);
    for l in lines {
        b.push(Row::insert(vec![match l {
            Some(s) => Value::String(s.to_string()),
            None => Value::Null,
        }]));
    }
    b.build().unwrap()
}

fn writer(path: &std::path::Path, flush_interval: Duration) -> Box<dyn SinkWriter> {
    let sink = LinesSink::builder()
        .path(path.display().to_string())
        .sink_flush_interval(flush_interval)
        .columns("line STRING")
        .unwrap()
        .build_sink()
        .unwrap();
    assert_eq!(sink.delivery_guarantee(), DeliveryGuarantee::AtLeastOnce);
    assert_eq!(sink.parallelism(), Some(1));
    sink.create_writer(WriterContext {
        subtask: 0,
        parallelism: 1,
        restored_state: vec![],
        restored_checkpoint_id: 0,
        metrics: Arc::new(SinkMetrics::default()),
    })
    .unwrap()
}

#[tokio::test]
async fn rows_reach_the_file_at_the_checkpoint_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("out.txt");
    let mut w = writer(&path, Duration::from_secs(3600));
    w.write(batch(&[Some("a"), None, Some("c")])).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "",
        "buffered until the flush interval or a checkpoint"
    );
    w.flush(false).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n\nc\n");
    w.close().await.unwrap();
}

#[tokio::test]
async fn a_zero_flush_interval_writes_every_batch_and_existing_content_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    std::fs::write(&path, "earlier\n").unwrap();
    let mut w = writer(&path, Duration::ZERO);
    w.write(batch(&[Some("x")])).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nx\n");
    w.write(batch(&[Some("y")])).await.unwrap();
    w.flush(true).await.unwrap();
    w.close().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nx\ny\n");
}

#[tokio::test]
async fn retractions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(&dir.path().join("out.txt"), Duration::ZERO);
    let schema = TableSchema::parse_columns("line STRING")
        .unwrap()
        .physical_arrow_schema();
    let mut b = RowBatchBuilder::new(schema);
    b.push(Row::of(RowKind::Delete, vec![Value::String("gone".into())]));
    let e = w.write(b.build().unwrap()).await.unwrap_err().to_string();
    assert!(e.contains("only appends"), "{e}");
}
