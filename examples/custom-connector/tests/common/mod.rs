//! Test helpers: a tiny driver that runs a source the way the runtime does (one enumerator, N
//! readers, split requests answered in between), so a test can stop anywhere and snapshot.
//!
//! The conformance suite (issue 5) will do the same for every registered connector; until it
//! exists, a connector's own tests drive it like this.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use headrace_sdk::prelude::*;
use headrace_sdk::row::rows;

/// A row of the lines source as `(line, line_number, file)`.
pub type Line = (String, i64, String);

/// Every source's state at one checkpoint.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The enumerator's state.
    pub enumerator: VersionedBytes,
    /// The readers' unfinished splits.
    pub splits: Vec<SourceSplit>,
}

/// Runs one source's enumerator and readers by hand.
pub struct Driver {
    enumerator: Box<dyn SplitEnumerator>,
    readers: Vec<Box<dyn SourceReader>>,
    ended: Vec<bool>,
}

impl Driver {
    /// Create the enumerator and `parallelism` readers, from `restored` state if given (its
    /// splits are spread over the readers as the runtime spreads them).
    pub fn start(
        source: &Arc<dyn DynamicSource>,
        parallelism: usize,
        batch_size: usize,
        restored: Option<Snapshot>,
    ) -> Result<Driver> {
        let (enum_state, splits) = match restored {
            Some(s) => (Some(s.enumerator), s.splits),
            None => (None, Vec::new()),
        };
        let enumerator = source.create_enumerator(EnumeratorContext { parallelism }, enum_state)?;
        let mut readers = Vec::new();
        for subtask in 0..parallelism {
            readers.push(source.create_reader(ReaderContext {
                subtask,
                parallelism,
                batch_size,
                metrics: Arc::new(SourceMetrics::default()),
            })?);
        }
        for (i, s) in splits.into_iter().enumerate() {
            readers[i % parallelism].add_splits(vec![s])?;
        }
        Ok(Driver {
            enumerator,
            readers,
            ended: vec![false; parallelism],
        })
    }

    /// Poll reader `r` until it yields a batch (its rows) or ends (None).
    pub async fn next_batch(&mut self, r: usize) -> Result<Option<Vec<Row>>> {
        while !self.ended[r] {
            match self.readers[r].poll_next().await? {
                ReadEvent::Batch(b) => return Ok(Some(rows(&b)?)),
                ReadEvent::Idle => {}
                ReadEvent::NeedSplits => match self.enumerator.handle_split_request(r).await? {
                    SplitAssignment::Splits(s) => self.readers[r].add_splits(s)?,
                    SplitAssignment::NoMoreSplits => self.readers[r].no_more_splits(),
                    SplitAssignment::NotYet => {}
                },
                ReadEvent::End => self.ended[r] = true,
            }
        }
        Ok(None)
    }

    /// Poll the readers in turn until all have ended; every row with the reader that emitted it.
    pub async fn run_to_end(&mut self) -> Result<Vec<(usize, Row)>> {
        let mut out = Vec::new();
        while self.ended.iter().any(|e| !e) {
            for r in 0..self.readers.len() {
                if let Some(batch) = self.next_batch(r).await? {
                    out.extend(batch.into_iter().map(|row| (r, row)));
                }
            }
        }
        Ok(out)
    }

    /// The state a checkpoint taken now would hold.
    pub fn snapshot(&mut self, checkpoint_id: u64) -> Result<Snapshot> {
        let enumerator = self.enumerator.snapshot_state(checkpoint_id)?;
        let mut splits = Vec::new();
        for r in &mut self.readers {
            splits.extend(r.snapshot_state(checkpoint_id)?);
        }
        Ok(Snapshot { enumerator, splits })
    }
}

/// A row of `line STRING, line_number BIGINT, file STRING METADATA` as a tuple.
pub fn line_of(row: &Row) -> Line {
    (
        row.get_string(0).unwrap_or("<null>").to_string(),
        row.get_long(1).unwrap_or(-1),
        row.get_string(2).unwrap_or("<null>").to_string(),
    )
}

/// What reading `files` must produce, computed independently of the connector with
/// [`str::lines`] (which also strips `\r\n` and ignores a final newline).
pub fn expected_lines(files: &[PathBuf]) -> Vec<Line> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, l) in text.lines().enumerate() {
            out.push((l.to_string(), i as i64 + 1, f.display().to_string()));
        }
    }
    out.sort();
    out
}

/// Write `content` to `dir/name`.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// `n` numbered lines `"{prefix}-{i} ..."`, each ending in a newline.
pub fn numbered(prefix: &str, n: usize) -> String {
    (1..=n)
        .map(|i| format!("{prefix}-{i} lorem ipsum\n"))
        .collect()
}

/// The `path` option value for `files`.
pub fn path_option(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// The schema `line STRING, line_number BIGINT, file STRING METADATA VIRTUAL`.
pub fn schema_with_file() -> TableSchema {
    let mut s = TableSchema::parse_columns("line STRING, line_number BIGINT").unwrap();
    s.columns.push(Column::metadata(
        "file",
        DataType::parse("STRING").unwrap(),
        None,
        true,
    ));
    s
}
