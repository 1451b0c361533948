//! Sources, in Flink's split model (FLIP-27).
//!
//! A [`DynamicSource`] creates one [`SplitEnumerator`] (which discovers splits and hands them out) and
//! one [`SourceReader`] per parallel subtask (which reads the splits it was given). Splits and the
//! enumerator's state are [`VersionedBytes`], so any engine can store them in its checkpoints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::changelog::{ChangelogBatch, ChangelogMode};
use crate::error::Result;
use crate::state::VersionedBytes;

/// Whether a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// Ends when all data is read.
    Bounded,
    /// Runs until cancelled.
    Unbounded,
}

/// A unit of work for a reader (a file range, a partition), with its current state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceSplit {
    /// Unique and stable id (e.g. `"topic-3"`).
    pub id: String,
    /// The split with its progress (e.g. partition and next offset).
    pub state: VersionedBytes,
}

/// What the enumerator answers to a reader's request for work.
#[derive(Debug, Clone)]
pub enum SplitAssignment {
    /// These splits are the reader's now.
    Splits(Vec<SourceSplit>),
    /// Nothing yet; ask again later (continuous discovery).
    NotYet,
    /// There will never be more for this reader.
    NoMoreSplits,
}

/// What a reader's poll returned.
#[derive(Debug)]
pub enum ReadEvent {
    /// Rows.
    Batch(ChangelogBatch),
    /// No data for now; poll again soon.
    Idle,
    /// The reader finished its splits and wants more (the runner asks the enumerator).
    NeedSplits,
    /// All assigned splits are done and no more will come.
    End,
}

/// Counters a source updates; the runner shows them.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Records emitted; counted by the runner, connectors leave it alone.
    pub records: AtomicU64,
    /// Bytes read from the external system.
    pub bytes: AtomicU64,
    /// Bad records skipped (e.g. with `ignore-parse-errors`).
    pub skipped: AtomicU64,
    /// The table's bad-record policy (`headrace.bad-records.*`): readers hand records they cannot
    /// decode to [`BadRecords::handle`](crate::bad_records::BadRecords::handle).
    pub bad_records: crate::bad_records::BadRecords,
}

impl SourceMetrics {
    /// Add to the byte counter.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
    /// Add to the skipped-record counter.
    pub fn add_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }
}

/// Given to an enumerator when it is created.
#[derive(Debug, Clone)]
pub struct EnumeratorContext {
    /// Number of readers.
    pub parallelism: usize,
}

/// Given to a reader when it is created.
#[derive(Debug, Clone)]
pub struct ReaderContext {
    /// This reader's index, 0-based.
    pub subtask: usize,
    /// Number of readers.
    pub parallelism: usize,
    /// Preferred number of rows per batch.
    pub batch_size: usize,
    /// Shared counters.
    pub metrics: Arc<SourceMetrics>,
}

/// A table source created from DDL options or a builder.
pub trait DynamicSource: Send + Sync {
    /// Whether the source ends.
    fn boundedness(&self) -> Boundedness;

    /// The schema of produced batches (physical columns, then requested metadata columns).
    fn produced_schema(&self) -> SchemaRef;

    /// Which row kinds it produces.
    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    /// The parallelism the source asks for (`scan.parallelism`), if any.
    fn parallelism(&self) -> Option<usize> {
        None
    }

    /// Create the enumerator, fresh or from state written by [`SplitEnumerator::snapshot_state`].
    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>>;

    /// Create the reader of one subtask.
    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>>;
}

/// Discovers splits and assigns them to readers; runs once per source.
#[async_trait]
pub trait SplitEnumerator: Send {
    /// A reader asks for work.
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment>;

    /// Splits come back after a reader failed before a checkpoint covered them.
    fn add_splits_back(&mut self, splits: Vec<SourceSplit>);

    /// The enumerator's state for checkpoint `checkpoint_id`.
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<VersionedBytes>;

    /// The checkpoint completed.
    async fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> Result<()> {
        Ok(())
    }
}

/// Reads the splits assigned to one subtask.
#[async_trait]
pub trait SourceReader: Send {
    /// New splits (fresh, or restored from a checkpoint with their progress).
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()>;

    /// No more splits will come.
    fn no_more_splits(&mut self);

    /// The next batch or event. May wait briefly for data; should return [`ReadEvent::Idle`] within
    /// about 100 ms when nothing arrives, so checkpoints are not delayed.
    async fn poll_next(&mut self) -> Result<ReadEvent>;

    /// The current state of every unfinished split, for a checkpoint taken between two batches.
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<SourceSplit>>;

    /// The checkpoint completed (e.g. commit offsets to a consumer group for monitoring).
    async fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> Result<()> {
        Ok(())
    }

    /// The reader's current watermark in epoch milliseconds, if it tracks event time.
    fn current_watermark(&self) -> Option<i64> {
        None
    }

    /// The id of the split (a [`SourceSplit::id`]) all rows of the batch last returned by
    /// [`SourceReader::poll_next`] came from, or None when the reader does not say (the default).
    ///
    /// A reader that answers gets per-split watermarks, as Flink's per-split watermark
    /// multiplexing: the runner keeps a watermark per split (from the moment the split is
    /// assigned), and the reader's watermark is the least over its splits that are not idle. A
    /// split that has not produced rows yet therefore holds the reader's watermark back until it
    /// does, or until it goes idle (`scan.watermark.idle-timeout`). A split leaves once a
    /// checkpoint's [`SourceReader::snapshot_state`] no longer lists it (it is finished), and all
    /// do at [`ReadEvent::End`]. A reader that answers must put rows of one split only in each
    /// batch (split a poll's rows by split when needed).
    fn batch_split(&self) -> Option<&str> {
        None
    }

    /// Release resources.
    async fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A connector's typed split, stored as [`VersionedBytes`] without boilerplate:
///
/// ```
/// use headrace_sdk::source::SplitState;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct FileSplit { path: String, offset: u64 }
/// impl SplitState for FileSplit {
///     const VERSION: u32 = 1;
///     const NAME: &'static str = "file split";
///     fn split_id(&self) -> String { self.path.clone() }
/// }
/// let s = FileSplit { path: "a.txt".into(), offset: 10 }.to_split().unwrap();
/// assert_eq!(FileSplit::from_split(&s).unwrap().offset, 10);
/// ```
pub trait SplitState: serde::Serialize + serde::de::DeserializeOwned + Sized {
    /// The version written; reading refuses newer versions.
    const VERSION: u32;
    /// What it is, for error messages.
    const NAME: &'static str;
    /// The split's stable id.
    fn split_id(&self) -> String;
    /// Serialize into a [`SourceSplit`].
    fn to_split(&self) -> Result<SourceSplit> {
        Ok(SourceSplit {
            id: self.split_id(),
            state: VersionedBytes::encode(Self::VERSION, Self::NAME, self)?,
        })
    }
    /// Deserialize from a [`SourceSplit`].
    fn from_split(split: &SourceSplit) -> Result<Self> {
        split.state.decode(Self::VERSION, Self::NAME)
    }
}

/// `scan.watermark.idle-timeout` (FLIP-296): a split (e.g. a Kafka partition) that produced no
/// rows for this long stops holding the watermark back, until it produces rows again. Accepted
/// for every source table that declares a `WATERMARK`, whatever its connector; it overrides the
/// job setting `table.exec.source.idle-timeout`. `0` (the default) never marks a split idle.
pub const SCAN_WATERMARK_IDLE_TIMEOUT: crate::options::ConfigOption<Duration> =
    crate::options::ConfigOption::new("scan.watermark.idle-timeout").description(
        "For tables with a WATERMARK: a split (e.g. a Kafka partition) that produced no rows for \
         this long is idle and no longer holds the watermark back, until it produces rows again. \
         Overrides the job setting 'table.exec.source.idle-timeout'; 0 means never idle.",
    );

/// A helper for polling loops: how long to wait when idle.
pub const IDLE_WAIT: Duration = Duration::from_millis(20);
