//! Sinks: a writer per subtask and an optional committer for two-phase commit (Sink V2).
//!
//! At a checkpoint the runner calls [`SinkWriter::flush`] then [`SinkWriter::prepare_commit`]; the
//! committables it returns are stored in the checkpoint. When the checkpoint is complete the runner
//! hands them to the [`Committer`]. After a crash the committables of the last completed checkpoint
//! are committed again, so committing must be idempotent.
//!
//! Guarantees a sink can build on (the local runner keeps them; the Flink bridge maps them to Flink's
//! Sink V2 life cycle):
//! - On restore, the committables of the restored checkpoint are committed **before** any writer is
//!   created. Whatever a writer finds still in progress at creation therefore belongs to
//!   transactions no completed checkpoint covers, and may be aborted or deleted.
//! - All writers of a sink are created (in subtask order) before any of them receives a row; each
//!   gets [`WriterContext::restored_checkpoint_id`], so transaction names that include the
//!   checkpoint id never collide with a restored run's.
//! - A bounded job ends with `flush(true)` and a last `prepare_commit`, whose committables are
//!   committed with the final checkpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::changelog::{ChangelogBatch, ChangelogMode};
use crate::error::Result;
use crate::state::VersionedBytes;

/// What a sink promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryGuarantee {
    /// Records may be lost or duplicated on failure.
    None,
    /// No loss; duplicates possible after a failure.
    AtLeastOnce,
    /// No loss, no duplicates (two-phase commit).
    ExactlyOnce,
}

crate::option_enum! {
    /// `sink.delivery-guarantee` values, as Flink writes them.
    pub enum DeliveryGuaranteeOption {
        /// `none`
        None = "none",
        /// `at-least-once`
        AtLeastOnce = "at-least-once",
        /// `exactly-once`
        ExactlyOnce = "exactly-once",
    }
}

impl From<DeliveryGuaranteeOption> for DeliveryGuarantee {
    fn from(o: DeliveryGuaranteeOption) -> Self {
        match o {
            DeliveryGuaranteeOption::None => DeliveryGuarantee::None,
            DeliveryGuaranteeOption::AtLeastOnce => DeliveryGuarantee::AtLeastOnce,
            DeliveryGuaranteeOption::ExactlyOnce => DeliveryGuarantee::ExactlyOnce,
        }
    }
}

/// Counters a sink updates; the runner shows them.
#[derive(Debug, Default)]
pub struct SinkMetrics {
    /// Records written; counted by the runner, connectors leave it alone.
    pub records: AtomicU64,
    /// Bytes written to the external system.
    pub bytes: AtomicU64,
    /// The table's bad-record policy (`headrace.bad-records.*`): writers hand rows they cannot
    /// encode or write to [`BadRecords::handle`](crate::bad_records::BadRecords::handle).
    pub bad_records: crate::bad_records::BadRecords,
}

impl SinkMetrics {
    /// Add to the byte counter.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// Given to a writer when it is created.
#[derive(Debug, Clone)]
pub struct WriterContext {
    /// This writer's index, 0-based.
    pub subtask: usize,
    /// Number of writers.
    pub parallelism: usize,
    /// Writer state restored from the last completed checkpoint (this subtask's share).
    pub restored_state: Vec<VersionedBytes>,
    /// The id of the last completed checkpoint (0 when starting fresh).
    pub restored_checkpoint_id: u64,
    /// Shared counters.
    pub metrics: Arc<SinkMetrics>,
}

/// A table sink created from DDL options or a builder.
pub trait DynamicSink: Send + Sync {
    /// What the sink promises with its current options.
    fn delivery_guarantee(&self) -> DeliveryGuarantee;

    /// The schema of batches it consumes (physical columns, then persisted metadata columns).
    fn consumed_schema(&self) -> SchemaRef;

    /// Which row kinds it accepts.
    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::All
    }

    /// `sink.parallelism`, if set.
    fn parallelism(&self) -> Option<usize> {
        None
    }

    /// Columns of the consumed schema (by position) whose values route rows to writers when
    /// several writers run: rows with equal values in these columns always reach the same writer
    /// (e.g. the filesystem sink's partition columns with `sink.shuffle-by-partition.enable`).
    /// Empty (the default) leaves the routing to the runner: rows go to any writer, or, when the
    /// table declares a PRIMARY KEY and the sink's parallelism differs from the source's, by the
    /// key (Flink's `table.exec.sink.keyed-shuffle` = `AUTO`).
    fn shuffle_columns(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Options whose values no other sink of the same job may share, as `(option key, value)`
    /// pairs: e.g. the transactional-id prefix of an exactly-once Kafka sink, since two sinks
    /// with one prefix would fence each other's producers. A runner refuses a job in which two
    /// sinks claim the same pair. Empty by default.
    fn exclusive_options(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether prepared commits can be lost in a crash ([`CommitRecovery::Lost`], e.g. a Kafka
    /// transaction that librdkafka cannot resume). A runner commits such sinks before the others
    /// of a checkpoint, so that a crash between commits leaves only commits it can still complete
    /// (or lose all of them). False by default.
    fn commits_may_be_lost(&self) -> bool {
        false
    }

    /// Create the writer of one subtask.
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>>;

    /// The committer for two-phase commit, if the sink has one.
    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(None)
    }
}

/// Writes batches for one subtask.
#[async_trait]
pub trait SinkWriter: Send {
    /// Write (or buffer) a batch.
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()>;

    /// Make buffered data durable or visible as the guarantee requires (called before
    /// `prepare_commit` at each checkpoint, and with `end_of_input` when a bounded job ends).
    async fn flush(&mut self, end_of_input: bool) -> Result<()>;

    /// Close the current transaction and hand back its committables.
    async fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        Ok(Vec::new())
    }

    /// The event-time watermark of this writer's input advanced to `watermark_ms` (epoch
    /// milliseconds): no more rows with an event time at or before it are expected (late rows
    /// may still come). Called between batches, only with increasing values, with the least
    /// watermark over the readers feeding this writer that are not idle; `i64::MAX` when all
    /// input has ended. Sources without a `WATERMARK` declaration only send the end-of-input
    /// watermark. Watermarks are not checkpointed: after a restore they start over. The default
    /// ignores it.
    fn on_watermark(&mut self, _watermark_ms: i64) -> Result<()> {
        Ok(())
    }

    /// The writer's own state for a checkpoint (e.g. buffered rows, transaction ids in use).
    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        Ok(Vec::new())
    }

    /// Release resources.
    async fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What became of a checkpoint's prepared transactions after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitRecovery {
    /// They are committed now (they were already, or [`Committer::recover`] committed them).
    Committed,
    /// They are gone (aborted by the external system, or timed out) and cannot be committed:
    /// the runner must restore from an older checkpoint so their rows are written again.
    Lost,
}

/// Commits what writers prepared; must be idempotent (it is retried after a crash).
#[async_trait]
pub trait Committer: Send {
    /// Commit these committables (all from one completed checkpoint).
    async fn commit(&mut self, checkpoint_id: u64, committables: Vec<VersionedBytes>)
        -> Result<()>;

    /// After a restart, finish the commit of the checkpoint restored from. Systems that can
    /// resume a prepared transaction commit it (the default calls [`Committer::commit`]); systems
    /// that cannot (Kafka through librdkafka: a new producer aborts what its predecessor left
    /// open) report whether the transaction had committed before the crash. On
    /// [`CommitRecovery::Lost`] the runner falls back to the previous checkpoint, whose
    /// transactions did commit (checkpoint N+1 is only taken after N committed), and reads the
    /// lost rows again.
    async fn recover(
        &mut self,
        checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<CommitRecovery> {
        self.commit(checkpoint_id, committables).await?;
        Ok(CommitRecovery::Committed)
    }
}
