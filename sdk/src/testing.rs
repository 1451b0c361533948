//! Helpers for connector authors' tests: drive a source's enumerator and readers without a runner.

use std::sync::Arc;

use crate::changelog::ChangelogBatch;
use crate::error::{Error, Result};
use crate::source::{
    DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics, SplitAssignment,
};

/// A reader context with fresh metrics.
pub fn reader_context(subtask: usize, parallelism: usize, batch_size: usize) -> ReaderContext {
    ReaderContext {
        subtask,
        parallelism,
        batch_size,
        metrics: Arc::new(SourceMetrics::default()),
    }
}

/// Run `parallelism` fresh readers of a bounded source to the end, polling them round-robin and
/// answering their split requests from a fresh enumerator; returns the batches of each reader.
/// Fails after `max_polls` rounds (a source that never ends) instead of hanging.
pub async fn read_all(
    source: &Arc<dyn DynamicSource>,
    parallelism: usize,
    batch_size: usize,
    max_polls: usize,
) -> Result<Vec<Vec<ChangelogBatch>>> {
    let mut enumerator = source.create_enumerator(EnumeratorContext { parallelism }, None)?;
    let mut readers = (0..parallelism)
        .map(|s| source.create_reader(reader_context(s, parallelism, batch_size)))
        .collect::<Result<Vec<_>>>()?;
    let mut out = vec![Vec::new(); parallelism];
    let mut done = vec![false; parallelism];
    let mut polls = 0usize;
    while done.iter().any(|d| !d) {
        polls += 1;
        if polls > max_polls {
            return Err(Error::internal(format!(
                "the source did not end within {max_polls} polling rounds"
            )));
        }
        for s in 0..parallelism {
            if done[s] {
                continue;
            }
            match readers[s].poll_next().await? {
                ReadEvent::Batch(b) => out[s].push(b),
                ReadEvent::Idle => {}
                ReadEvent::NeedSplits => match enumerator.handle_split_request(s).await? {
                    SplitAssignment::Splits(v) => readers[s].add_splits(v)?,
                    SplitAssignment::NotYet => {}
                    SplitAssignment::NoMoreSplits => readers[s].no_more_splits(),
                },
                ReadEvent::End => done[s] = true,
            }
        }
    }
    Ok(out)
}
