//! The datagen source: one split per reader over the row-index range, a rate-limited reader that
//! generates columnar batches, and the builder.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::prelude::SchemaRef;
use headrace_sdk::source::{
    Boundedness, DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceReader,
    SourceSplit, SplitAssignment, SplitEnumerator,
};
use headrace_sdk::state::VersionedBytes;
use headrace_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::factory::DatagenFactory;
use crate::generator::Generator;
use crate::options::{NUMBER_OF_ROWS, ROWS_PER_SECOND, SCAN_PARALLELISM, SEED};

headrace_sdk::connector_builder! {
    /// Builds a [`DatagenSource`] with the same validation as DDL (`DatagenSource::builder()`).
    ///
    /// ```no_run
    /// # fn main() -> headrace_sdk::Result<()> {
    /// use headrace_connector_datagen::DatagenSource;
    /// let source = DatagenSource::builder()
    ///     .columns("id BIGINT, name STRING")?
    ///     .field("id", "kind", "sequence")
    ///     .field("id", "start", "1")
    ///     .field("id", "end", "1000")
    ///     .rows_per_second(100)
    ///     .build_source()?;
    /// # Ok(()) }
    /// ```
    pub struct DatagenSourceBuilder(DatagenFactory) {
        /// Rows per second over all subtasks (default 10000).
        rows_per_second: ROWS_PER_SECOND as i64,
        /// Total number of rows (unbounded when not set).
        number_of_rows: NUMBER_OF_ROWS as i64,
        /// Number of readers.
        scan_parallelism: SCAN_PARALLELISM as i32,
        /// `headrace.seed`: makes the output deterministic.
        seed: SEED as i64,
    }
}

impl DatagenSourceBuilder {
    /// Set a per-field option: `field("id", "kind", "sequence")` sets `fields.id.kind`.
    pub fn field(self, field: &str, option: &str, value: impl Into<String>) -> Self {
        self.option(format!("fields.{field}.{option}"), value)
    }
}

/// Version of the split and enumerator state.
const STATE_VERSION: u32 = 1;
/// The reference instant of seeded sources: 2024-01-01T00:00:00Z.
pub const SEEDED_REFERENCE_MS: i64 = 1_704_067_200_000;
/// The longest a poll waits for the rate limiter before returning [`ReadEvent::Idle`].
const MAX_POLL_WAIT: Duration = Duration::from_millis(100);
/// Aim for about this many batches per second when the rate limit is low.
const BATCHES_PER_SECOND: f64 = 10.0;
/// Upper bound of a batch's estimated size.
const MAX_BATCH_BYTES: usize = 64 << 20;
/// Row-index space of each reader of an unbounded source (readers never overlap).
const UNBOUNDED_STRIDE: u64 = 1 << 56;
/// Rates at or above this many rows per second per reader are not limited.
const UNLIMITED_RATE: f64 = 1e12;

/// The progress of one split: rows `next..end` are still to be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatagenSplit {
    /// The split's number (its reader when first assigned).
    pub index: u32,
    /// The next row index to generate.
    pub next: u64,
    /// One past the last row index, or None for an unbounded split.
    pub end: Option<u64>,
}

impl DatagenSplit {
    /// The split's id.
    pub fn id(&self) -> String {
        format!("datagen-{}", self.index)
    }

    /// Rows left, or None when unbounded.
    pub fn remaining(&self) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(self.next))
    }

    /// As an SDK split.
    pub fn to_source_split(&self) -> Result<SourceSplit> {
        Ok(SourceSplit {
            id: self.id(),
            state: VersionedBytes::encode(STATE_VERSION, "datagen split", self)?,
        })
    }

    /// From an SDK split.
    pub fn from_source_split(s: &SourceSplit) -> Result<Self> {
        s.state.decode(STATE_VERSION, "datagen split")
    }

    /// The splits of a source with `total` rows (None: unbounded) read by `parallelism` readers:
    /// contiguous, non-overlapping ranges covering `0..total`.
    pub fn initial(total: Option<u64>, parallelism: usize) -> Vec<DatagenSplit> {
        let p = parallelism.max(1) as u64;
        (0..p)
            .map(|k| match total {
                Some(t) => {
                    let share = |k: u64| (u128::from(t) * u128::from(k) / u128::from(p)) as u64;
                    DatagenSplit {
                        index: k as u32,
                        next: share(k),
                        end: Some(share(k + 1)),
                    }
                }
                None => DatagenSplit {
                    index: k as u32,
                    next: k.wrapping_mul(UNBOUNDED_STRIDE),
                    end: None,
                },
            })
            .collect()
    }
}

/// A source of generated rows.
#[derive(Debug, Clone)]
pub struct DatagenSource {
    generator: Arc<Generator>,
    rows_per_second: i64,
    total_rows: Option<u64>,
    parallelism: Option<usize>,
    seeded: bool,
}

impl DatagenSource {
    /// A builder: `DatagenSource::builder().columns("id BIGINT")?.number_of_rows(10).build_source()`.
    pub fn builder() -> DatagenSourceBuilder {
        DatagenSourceBuilder::default()
    }

    /// A source from a generator; `total_rows` None means unbounded; `seeded` freezes the clock at
    /// [`SEEDED_REFERENCE_MS`].
    pub fn new(
        generator: Generator,
        rows_per_second: i64,
        total_rows: Option<u64>,
        parallelism: Option<usize>,
        seeded: bool,
    ) -> Self {
        DatagenSource {
            generator: Arc::new(generator),
            rows_per_second,
            total_rows,
            parallelism,
            seeded,
        }
    }

    /// The number of rows, when bounded.
    pub fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }

    /// The generator.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }
}

impl DynamicSource for DatagenSource {
    fn boundedness(&self) -> Boundedness {
        if self.total_rows.is_some() {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }

    fn produced_schema(&self) -> SchemaRef {
        self.generator.schema().clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    fn parallelism(&self) -> Option<usize> {
        self.parallelism
    }

    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let pending = match restored {
            Some(state) => state.decode(STATE_VERSION, "datagen enumerator state")?,
            None => DatagenSplit::initial(self.total_rows, ctx.parallelism),
        };
        tracing::debug!(
            splits = pending.len(),
            parallelism = ctx.parallelism,
            "datagen enumerator created"
        );
        Ok(Box::new(DatagenEnumerator {
            pending,
            parallelism: ctx.parallelism.max(1),
        }))
    }

    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        let per_reader = self.rows_per_second as f64 / ctx.parallelism.max(1) as f64;
        let rate = (per_reader < UNLIMITED_RATE).then_some(per_reader);
        let by_rate = rate.map_or(usize::MAX, |r| {
            ((r / BATCHES_PER_SECOND).ceil() as usize).max(1)
        });
        let by_bytes = (MAX_BATCH_BYTES / self.generator.row_bytes().max(1)).max(1);
        let batch_rows = ctx.batch_size.max(1).min(by_rate).min(by_bytes);
        tracing::debug!(
            subtask = ctx.subtask,
            batch_rows,
            rows_per_second = ?rate,
            "datagen reader created"
        );
        Ok(Box::new(DatagenReader {
            generator: self.generator.clone(),
            splits: VecDeque::new(),
            no_more_splits: false,
            limiter: RateLimiter::new(rate),
            batch_rows,
            seeded: self.seeded,
        }))
    }
}

/// Hands the initial splits out: split `k` goes to the reader `k % parallelism`.
#[derive(Debug)]
pub struct DatagenEnumerator {
    pending: Vec<DatagenSplit>,
    parallelism: usize,
}

#[async_trait]
impl SplitEnumerator for DatagenEnumerator {
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment> {
        let p = self.parallelism;
        let (mine, rest): (Vec<_>, Vec<_>) = self
            .pending
            .drain(..)
            .partition(|s| s.index as usize % p == subtask % p);
        self.pending = rest;
        if mine.is_empty() {
            return Ok(SplitAssignment::NoMoreSplits);
        }
        let splits = mine
            .iter()
            .map(DatagenSplit::to_source_split)
            .collect::<Result<Vec<_>>>()?;
        Ok(SplitAssignment::Splits(splits))
    }

    fn add_splits_back(&mut self, splits: Vec<SourceSplit>) {
        for s in splits {
            match DatagenSplit::from_source_split(&s) {
                Ok(d) => self.pending.push(d),
                Err(e) => {
                    tracing::error!(split = %s.id, error = %e, "datagen: dropping a split that cannot be decoded")
                }
            }
        }
        self.pending.sort_by_key(|s| s.index);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(STATE_VERSION, "datagen enumerator state", &self.pending)
    }
}

/// Limits the emit rate per batch: a batch may go out once the rows before it are due.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    seconds_per_row: Option<f64>,
    start: Option<Instant>,
    emitted: u64,
}

impl RateLimiter {
    /// A limiter for `rate` rows per second (None: unlimited).
    pub fn new(rate: Option<f64>) -> Self {
        RateLimiter {
            seconds_per_row: rate.filter(|r| *r > 0.0).map(|r| 1.0 / r),
            start: None,
            emitted: 0,
        }
    }

    /// How long to wait before the next batch may be emitted.
    pub fn wait(&mut self) -> Duration {
        let Some(spr) = self.seconds_per_row else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let due = Duration::try_from_secs_f64(self.emitted as f64 * spr).unwrap_or(Duration::MAX);
        let elapsed = now.saturating_duration_since(start);
        if due > elapsed {
            return due - elapsed;
        }
        if elapsed - due > Duration::from_secs(1) {
            // Far behind (the job was back-pressured or paused): restart the schedule from now
            // instead of bursting to catch up.
            self.start = Some(now);
            self.emitted = 0;
        }
        Duration::ZERO
    }

    /// Count rows that went out.
    pub fn record(&mut self, rows: u64) {
        self.emitted = self.emitted.saturating_add(rows);
    }
}

/// Generates the rows of its splits, one batch per poll.
#[derive(Debug)]
pub struct DatagenReader {
    generator: Arc<Generator>,
    splits: VecDeque<DatagenSplit>,
    no_more_splits: bool,
    limiter: RateLimiter,
    batch_rows: usize,
    seeded: bool,
}

impl DatagenReader {
    fn now_ms(&self) -> i64 {
        if self.seeded {
            return SEEDED_REFERENCE_MS;
        }
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// The number of rows of the next batch.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }
}

#[async_trait]
impl SourceReader for DatagenReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        for s in &splits {
            let d = DatagenSplit::from_source_split(s)?;
            if d.end.is_some_and(|e| d.next > e) {
                return Err(Error::internal(format!(
                    "datagen: split '{}' has next index {} beyond its end {:?}",
                    s.id, d.next, d.end
                )));
            }
            self.splits.push_back(d);
        }
        Ok(())
    }

    fn no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self) -> Result<ReadEvent> {
        while self
            .splits
            .front()
            .is_some_and(|s| s.remaining() == Some(0))
        {
            self.splits.pop_front();
        }
        let Some(split) = self.splits.front() else {
            return Ok(if self.no_more_splits {
                ReadEvent::End
            } else {
                ReadEvent::NeedSplits
            });
        };
        let n = split
            .remaining()
            .map_or(self.batch_rows, |r| r.min(self.batch_rows as u64) as usize);
        let wait = self.limiter.wait();
        if wait > MAX_POLL_WAIT {
            tokio::time::sleep(MAX_POLL_WAIT).await;
            return Ok(ReadEvent::Idle);
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let start = split.next;
        let batch = self.generator.batch(start, n, self.now_ms())?;
        if let Some(split) = self.splits.front_mut() {
            split.next = split.next.wrapping_add(n as u64);
        }
        self.limiter.record(n as u64);
        Ok(ReadEvent::Batch(ChangelogBatch::inserts(batch)))
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<SourceSplit>> {
        self.splits
            .iter()
            .filter(|s| s.remaining() != Some(0))
            .map(DatagenSplit::to_source_split)
            .collect()
    }
}
