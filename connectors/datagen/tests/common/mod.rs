//! Helpers that drive a source through the SDK traits, as a runner does.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use headrace_connector_datagen::{DatagenFactory, DatagenSource, DatagenSourceBuilder};
use headrace_sdk::prelude::*;

/// A builder bound to a registry holding only datagen.
pub fn builder() -> DatagenSourceBuilder {
    DatagenSource::builder().registry(Registry::new().with_connector(DatagenFactory))
}

/// Build, or the error message.
pub fn build(b: DatagenSourceBuilder) -> Result<Arc<dyn DynamicSource>, String> {
    b.build_source().map_err(|e| e.to_string())
}

/// The error message of a build that must fail.
pub fn build_err(b: DatagenSourceBuilder) -> String {
    match b.build_source() {
        Ok(_) => panic!("expected the build to fail"),
        Err(e) => e.to_string(),
    }
}

/// A reader context.
pub fn reader_ctx(subtask: usize, parallelism: usize, batch_size: usize) -> ReaderContext {
    headrace_sdk::testing::reader_context(subtask, parallelism, batch_size)
}

/// Run `parallelism` readers to the end, round-robin; batches per reader (insert-only).
pub async fn run(
    source: &Arc<dyn DynamicSource>,
    parallelism: usize,
    batch_size: usize,
) -> Vec<Vec<RecordBatch>> {
    headrace_sdk::testing::read_all(source, parallelism, batch_size, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|bs| {
            bs.into_iter()
                .map(|b| {
                    assert!(b.is_insert_only());
                    b.batch
                })
                .collect()
        })
        .collect()
}

/// Poll one reader for `n` batches (asking `enumerator` for splits as needed).
pub async fn take_batches(
    reader: &mut Box<dyn SourceReader>,
    enumerator: &mut Box<dyn SplitEnumerator>,
    subtask: usize,
    n: usize,
) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    while out.len() < n {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => out.push(b.batch),
            ReadEvent::Idle => {}
            ReadEvent::NeedSplits => {
                match enumerator.handle_split_request(subtask).await.unwrap() {
                    SplitAssignment::Splits(v) => reader.add_splits(v).unwrap(),
                    SplitAssignment::NotYet => {}
                    SplitAssignment::NoMoreSplits => reader.no_more_splits(),
                }
            }
            ReadEvent::End => break,
        }
    }
    out
}

/// Column `name` of all batches as i64 values (NULLs skipped).
pub fn i64s(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap();
            let a = c.as_any().downcast_ref::<Int64Array>().unwrap();
            (0..a.len())
                .filter(|i| a.is_valid(*i))
                .map(|i| a.value(i))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Total rows.
pub fn count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// All batches of a source in one (all readers, in reader order).
pub fn concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    arrow::compute::concat_batches(&schema, batches).unwrap()
}
