//! The local executor: readers and writers on tokio tasks, a coordinator for splits and checkpoints.
//!
//! Checkpoints use barriers with a pause: the coordinator asks every reader for a checkpoint; a
//! reader snapshots its splits between two batches, sends a barrier behind its data to every writer
//! and waits. A writer that has seen the barrier (or the end) of every reader flushes, prepares its
//! commit and reports. When all have reported, the checkpoint file is written atomically (the
//! checkpoint is then complete), readers resume, and committers commit. Since readers pause, a
//! writer never has to buffer data behind a barrier; the pause lasts as long as the bounded channels
//! take to drain.
//!
//! Readers of a source with a WATERMARK send their watermark (see [`crate::watermark`]) behind
//! their data to every writer; a writer hands the least over its non-idle readers to
//! [`SinkWriter::on_watermark`](headrace_sdk::sink::SinkWriter::on_watermark) when it advances
//! (at most once per `pipeline.auto-watermark-interval`, see `WatermarkPacer`), and `i64::MAX`
//! once every reader ended.
//!
//! After a crash each group of pipelines (the INSERTs sharing a dead-letter table, else each
//! INSERT alone) restores from the newest checkpoint whose commits of its sinks are complete:
//! a sink that lost its transaction of checkpoint `N` sends only its own group back to `N - 1`. Rows go to writers one to one when the parallelisms
//! match, else round-robin per batch, or by the hash of key columns
//! ([`DynamicSink::shuffle_columns`](headrace_sdk::sink::DynamicSink::shuffle_columns), or a
//! PRIMARY KEY when the parallelism changes; see [`crate::shuffle`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::Retry;
use headrace_sdk::sink::{CommitRecovery, Committer, SinkMetrics, WriterContext};
use headrace_sdk::source::{
    EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics, SourceSplit, SplitAssignment,
    SplitEnumerator, IDLE_WAIT,
};
use headrace_sdk::state::VersionedBytes;
use tokio::sync::mpsc;

use crate::checkpoint::{
    CheckpointData, CheckpointStore, SinkState, SourceState, CHECKPOINT_FORMAT_VERSION,
};
use crate::dead_letter::DeadLetterTarget;
use crate::error::{RuntimeError, RuntimeResult};
use crate::plan::{Pipeline, Transform};
use crate::shuffle::{shuffle_keys, split_by_key};
use crate::watermark::{CombinedWatermark, ReaderWatermarks, WatermarkEvent};
use headrace_sdk::bad_records::BadRecords;

/// Batches in flight per writer before readers wait (backpressure).
const CHANNEL_CAPACITY: usize = 4;

/// How a job is run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Where checkpoints go; None keeps them in memory only.
    pub state_dir: Option<PathBuf>,
    /// Periodic checkpoint interval; None disables periodic checkpoints.
    pub checkpoint_interval: Option<Duration>,
    /// Checkpoints kept on disk.
    pub retained_checkpoints: usize,
    /// Preferred rows per batch.
    pub batch_size: usize,
}

impl ExecOptions {
    /// Options from a job's `SET` statements, with checkpoints kept in `state_dir`.
    pub fn from_settings(
        settings: &crate::plan::JobSettings,
        state_dir: Option<PathBuf>,
    ) -> RuntimeResult<Self> {
        Ok(ExecOptions {
            state_dir,
            checkpoint_interval: settings.checkpoint_interval()?,
            retained_checkpoints: settings.retained_checkpoints()?,
            batch_size: settings.batch_size()?,
        })
    }
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            state_dir: None,
            checkpoint_interval: None,
            retained_checkpoints: 3,
            batch_size: 8192,
        }
    }
}

/// Counters of one pipeline, shared with the progress display.
#[derive(Debug)]
pub struct PipelineMetrics {
    /// Source table.
    pub source_table: String,
    /// Sink table.
    pub sink_table: String,
    /// Source-side counters.
    pub source: Arc<SourceMetrics>,
    /// Rows after WHERE, handed to writers.
    pub rows_out: AtomicU64,
    /// Arrow bytes handed to writers.
    pub bytes_out: AtomicU64,
    /// Arrow bytes read from the source.
    pub bytes_in: AtomicU64,
    /// Sink-side counters.
    pub sink: Arc<SinkMetrics>,
    /// Number of readers.
    pub source_parallelism: usize,
    /// Number of writers.
    pub sink_parallelism: usize,
    /// Each writer's combined watermark (epoch ms; `i64::MIN` before the first).
    pub writer_watermarks: Vec<AtomicI64>,
}

impl PipelineMetrics {
    /// The pipeline's event-time watermark: the least over its writers (epoch ms), None before
    /// every writer has one; `i64::MAX` once all input has ended.
    pub fn watermark(&self) -> Option<i64> {
        let min = self
            .writer_watermarks
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .min()?;
        (min != i64::MIN).then_some(min)
    }
}

/// Job-wide counters.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// One entry per pipeline, set when the job starts.
    pub pipelines: std::sync::OnceLock<Vec<Arc<PipelineMetrics>>>,
    /// Completed checkpoints in this run.
    pub checkpoints: AtomicU64,
    /// Id of the last completed checkpoint.
    pub last_checkpoint: AtomicU64,
    /// Epoch ms of the last completed checkpoint.
    pub last_checkpoint_ms: AtomicU64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// All input read, written and committed.
    Finished,
    /// The state directory held a finished job; pending commits were completed and nothing ran.
    AlreadyFinished,
    /// Stopped on request after a final checkpoint.
    Stopped,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct JobSummary {
    /// How it ended.
    pub outcome: JobOutcome,
    /// Wall time.
    pub elapsed: Duration,
    /// Checkpoint restored from, if any.
    pub restored_from: Option<u64>,
    /// Checkpoints completed in this run.
    pub checkpoints: u64,
    /// Rows read per pipeline.
    pub rows_in: Vec<u64>,
    /// Rows written per pipeline.
    pub rows_out: Vec<u64>,
    /// Bad records skipped per pipeline (with a format's `ignore-parse-errors` or the
    /// `skip` bad-record policy of its source or sink table).
    pub skipped: Vec<u64>,
    /// Bad records routed to a dead-letter table per pipeline. Pipelines are the INSERTs, then
    /// one per dead-letter table (its rows written are in `rows_out`).
    pub dead_lettered: Vec<u64>,
}

enum DataMsg {
    Batch(ChangelogBatch),
    /// The sending reader's watermark advanced, or it became idle or active. Sent after the
    /// data it covers. `End` implies a watermark of `i64::MAX`.
    Watermark(WatermarkEvent),
    Barrier(u64),
    End,
}

struct Tagged {
    from: usize,
    msg: DataMsg,
}

enum Control {
    Checkpoint(u64),
    Resume,
    Assign(SplitAssignment),
    Complete(u64),
    Stop,
}

enum Event {
    SplitRequest {
        pipeline: usize,
        subtask: usize,
    },
    SourceAck {
        pipeline: usize,
        subtask: usize,
        checkpoint: u64,
        splits: Vec<SourceSplit>,
    },
    SourceFinished {
        pipeline: usize,
        subtask: usize,
    },
    SinkAck {
        pipeline: usize,
        subtask: usize,
        checkpoint: u64,
        committables: Vec<VersionedBytes>,
        state: Vec<VersionedBytes>,
    },
    SinkFinished {
        pipeline: usize,
        subtask: usize,
        committables: Vec<VersionedBytes>,
    },
    Failed(RuntimeError),
}

struct PendingCheckpoint {
    id: u64,
    enumerators: Vec<Option<VersionedBytes>>,
    source_waiting: Vec<Vec<bool>>,
    sink_waiting: Vec<Vec<bool>>,
    splits: Vec<Vec<SourceSplit>>,
    committables: Vec<Vec<VersionedBytes>>,
    writer_states: Vec<Vec<Vec<VersionedBytes>>>,
    stop_after: bool,
}

struct PipelineRuntime {
    /// None for a pipeline that had finished in the checkpoint it restores from.
    enumerator: Option<Box<dyn SplitEnumerator>>,
    controls: Vec<Option<mpsc::UnboundedSender<Control>>>,
    source_alive: Vec<bool>,
    /// It had finished in the checkpoint it restores from and does not run.
    done: bool,
}

/// The writers' side of one sink slot: slots `0..pipelines` are the INSERTs' sinks, the slots
/// after them the job's dead-letter tables.
struct SinkRuntime {
    /// Writers that have ended (their input is fully written and prepared).
    sink_finished: Vec<bool>,
    committer: Option<Box<dyn Committer>>,
    final_committables: Vec<VersionedBytes>,
}

/// A sink of the job, by slot (see [`SinkRuntime`]).
struct SinkSlot {
    /// Its id in checkpoints.
    id: String,
    /// Its table.
    table: String,
    sink: Arc<dyn headrace_sdk::sink::DynamicSink>,
}

/// The dead-letter tables the pipelines route to, each once, in order of first use.
fn dead_letter_targets(pipelines: &[Pipeline]) -> Vec<Arc<DeadLetterTarget>> {
    let mut out: Vec<Arc<DeadLetterTarget>> = Vec::new();
    for p in pipelines {
        for b in [&p.source_bad_records, &p.sink_bad_records]
            .into_iter()
            .flatten()
        {
            if let Some(t) = &b.dead_letters {
                if !out.iter().any(|o| o.table == t.table) {
                    out.push(t.clone());
                }
            }
        }
    }
    out
}

fn sink_slots(pipelines: &[Pipeline], dlqs: &[Arc<DeadLetterTarget>]) -> Vec<SinkSlot> {
    pipelines
        .iter()
        .map(|p| SinkSlot {
            id: p.sink_id(),
            table: p.sink_table.clone(),
            sink: p.sink.clone(),
        })
        .chain(dlqs.iter().map(|d| SinkSlot {
            id: format!("dead-letters:sink:{}", d.table),
            table: d.table.clone(),
            sink: d.sink.clone(),
        }))
        .collect()
}

/// Where a reader or writer sends the dead letters of its table: the dead-letter table's writers,
/// of which it is upstream number `from`. Dead letters go before the barrier that follows them.
struct DeadLetterOut {
    target: Arc<DeadLetterTarget>,
    outputs: Vec<mpsc::Sender<Tagged>>,
    from: usize,
    next: usize,
    table: String,
    connector: String,
    metrics: Arc<PipelineMetrics>,
}

impl DeadLetterOut {
    /// Send the dead letters queued in `queue`; false when the writers are gone.
    async fn send_queued(&mut self, queue: &BadRecords) -> RuntimeResult<bool> {
        let letters = queue.take_dead_letters();
        if letters.is_empty() {
            return Ok(true);
        }
        let batch = self.target.batch(&letters, &self.table, &self.connector)?;
        let m = &self.metrics;
        m.source
            .records
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        m.rows_out
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        let n = self.outputs.len();
        self.next = (self.next + 1) % n.max(1);
        let msg = Tagged {
            from: self.from,
            msg: DataMsg::Batch(batch),
        };
        Ok(self.outputs[self.next].send(msg).await.is_ok())
    }

    /// Send a barrier or the end to every dead-letter writer; false when they are gone.
    async fn broadcast(&self, msg: impl Fn() -> DataMsg) -> bool {
        for o in &self.outputs {
            let t = Tagged {
                from: self.from,
                msg: msg(),
            };
            if o.send(t).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// One writer to start: what differs between the writers of an INSERT's sink and those of a
/// dead-letter table.
struct WriterSpawn<'a> {
    /// Its sink slot (see [`SinkRuntime`]).
    slot: usize,
    subtask: usize,
    sink: &'a dyn headrace_sdk::sink::DynamicSink,
    parallelism: usize,
    /// Readers (or writers) that send to it.
    upstreams: usize,
    /// The sink's state in the checkpoint restored from; writer `w` gets the states of the
    /// subtasks `i` with `i % parallelism == w`.
    sink_state: &'a SinkState,
    restored_id: u64,
    metrics: Arc<PipelineMetrics>,
    dead_letters: Option<DeadLetterOut>,
    /// `pipeline.auto-watermark-interval` (see [`WatermarkPacer`]).
    watermark_interval: Duration,
    /// Task name in errors.
    name: String,
}

/// Create a writer and run it on a task of `tasks`; returns the sender of its input.
fn spawn_writer(
    tasks: &mut tokio::task::JoinSet<()>,
    task_names: &mut std::collections::HashMap<tokio::task::Id, String>,
    events: &mpsc::UnboundedSender<Event>,
    s: WriterSpawn<'_>,
) -> RuntimeResult<mpsc::Sender<Tagged>> {
    let (tx, rx) = mpsc::channel::<Tagged>(CHANNEL_CAPACITY * s.upstreams.max(1));
    let parallelism = s.parallelism.max(1);
    let restored_state = s
        .sink_state
        .writer_states
        .iter()
        .enumerate()
        .filter(|(i, _)| i % parallelism == s.subtask)
        .flat_map(|(_, st)| st.iter().cloned())
        .collect();
    let writer = s.sink.create_writer(WriterContext {
        subtask: s.subtask,
        parallelism: s.parallelism,
        restored_state,
        restored_checkpoint_id: s.restored_id,
        metrics: s.metrics.sink.clone(),
    })?;
    let ev = events.clone();
    let name = s.name;
    let task_name = name.clone();
    task_names.insert(
        tasks
            .spawn(async move {
                let r = run_writer(
                    s.slot,
                    s.subtask,
                    s.upstreams,
                    writer,
                    rx,
                    ev.clone(),
                    s.restored_id,
                    s.metrics,
                    s.dead_letters,
                    WatermarkPacer::new(s.watermark_interval),
                )
                .await;
                if let Err(e) = r {
                    let _ = ev.send(Event::Failed(e.in_task(name)));
                }
            })
            .id(),
        task_name,
    );
    Ok(tx)
}

/// Run the pipelines of a job to completion (or until stopped by `stop`).
pub async fn execute(
    pipelines: Vec<Pipeline>,
    opts: ExecOptions,
    metrics: Arc<JobMetrics>,
    mut stop: mpsc::Receiver<()>,
) -> RuntimeResult<JobSummary> {
    let started = Instant::now();
    let store = match &opts.state_dir {
        Some(d) => Some(CheckpointStore::open(d, opts.retained_checkpoints)?),
        None => None,
    };
    // Finish the commits of the newest checkpoint: the crash may have come before them. A sink
    // whose prepared transactions did not survive (CommitRecovery::Lost) makes its group of
    // pipelines fall back to the checkpoint before, whose commits completed before the newer one
    // was taken; the other groups resume from the newest checkpoint.
    let dlqs = dead_letter_targets(&pipelines);
    let slots = sink_slots(&pipelines, &dlqs);
    let (group_of, n_groups) = restore_groups(&pipelines, &dlqs);
    for g in 0..n_groups {
        let lossy: Vec<&str> = (0..slots.len())
            .filter(|s| group_of[*s] == g && slots[*s].sink.commits_may_be_lost())
            .map(|s| slots[s].table.as_str())
            .collect();
        if lossy.len() > 1 {
            tracing::warn!(
                "sinks {lossy:?} share a dead-letter table and can each lose their commits in a \
                 crash: a crash between their commits writes one checkpoint's rows twice to the \
                 one that committed (give them separate dead-letter tables, or a dead-letter table \
                 that is not exactly-once Kafka)"
            );
        }
    }
    let restore = match &store {
        Some(s) => choose_restore_points(s, &slots, &group_of, n_groups).await?,
        None => (0..n_groups).map(|_| GroupRestore::default()).collect(),
    };
    let restored_from = restore
        .iter()
        .filter_map(|g| g.checkpoint.as_ref().map(|c| c.checkpoint_id))
        .max();
    if !restore.is_empty() && restore.iter().all(|g| g.finished) {
        return Ok(JobSummary {
            outcome: JobOutcome::AlreadyFinished,
            elapsed: started.elapsed(),
            restored_from,
            checkpoints: 0,
            rows_in: vec![],
            rows_out: vec![],
            skipped: vec![],
            dead_lettered: vec![],
        });
    }
    // Writers are told the newest checkpoint of the job (their transaction names must not collide
    // with any earlier run's), and get the state of their own group's checkpoint.
    let restored_id = restored_from.unwrap_or(0);
    let slot_checkpoint = |slot: usize| restore[group_of[slot]].checkpoint.as_ref();
    let slot_done = |slot: usize| restore[group_of[slot]].finished;
    let finished_slots: Vec<String> = (0..slots.len())
        .filter(|s| slot_done(*s))
        .map(|s| slots[s].id.clone())
        .collect();
    if !finished_slots.is_empty() {
        tracing::info!(
            "sinks {finished_slots:?} had finished in the checkpoint their pipelines restore from; \
             they do not run again"
        );
    }

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let mut runtimes = Vec::new();
    let mut sinks = Vec::new();
    let mut pmetrics = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut task_names: std::collections::HashMap<tokio::task::Id, String> =
        std::collections::HashMap::new();

    // Dead-letter tables first: readers and writers routing to them need their channels. Each
    // reader (and writer) of a routing table is one upstream of the dead-letter writers.
    let dlq_of = |b: &Option<crate::plan::TableBadRecords>| -> Option<usize> {
        let t = b.as_ref()?.dead_letters.as_ref()?;
        dlqs.iter().position(|d| d.table == t.table)
    };
    let mut dlq_upstreams = vec![0usize; dlqs.len()];
    // per pipeline, for its source side and its sink side: (dead-letter table, first upstream)
    type Side = Option<(usize, usize)>;
    let mut dlq_from: Vec<(Side, Side)> = Vec::new();
    for p in &pipelines {
        let mut e = (None, None);
        if let Some(d) = dlq_of(&p.source_bad_records) {
            e.0 = Some((d, dlq_upstreams[d]));
            dlq_upstreams[d] += p.source_parallelism;
        }
        if let Some(d) = dlq_of(&p.sink_bad_records) {
            e.1 = Some((d, dlq_upstreams[d]));
            dlq_upstreams[d] += p.sink_parallelism;
        }
        dlq_from.push(e);
    }
    let mut dlq_senders: Vec<Vec<mpsc::Sender<Tagged>>> = Vec::new();
    let mut dlq_metrics = Vec::new();
    for (d, target) in dlqs.iter().enumerate() {
        let slot = pipelines.len() + d;
        let sink_state = slot_checkpoint(slot)
            .and_then(|c| c.sinks.get(&slots[slot].id).cloned())
            .unwrap_or_default();
        let pm = Arc::new(PipelineMetrics {
            source_table: "(dead letters)".into(),
            sink_table: target.table.clone(),
            source: Arc::new(SourceMetrics::default()),
            rows_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            sink: Arc::new(SinkMetrics::default()),
            source_parallelism: dlq_upstreams[d],
            sink_parallelism: target.parallelism,
            // dead letters carry no watermarks
            writer_watermarks: (0..target.parallelism)
                .map(|_| AtomicI64::new(i64::MIN))
                .collect(),
        });
        if let Some(c) = &target.own_policy {
            pm.sink.bad_records.configure(c.clone());
        }
        dlq_metrics.push(pm.clone());
        let mut senders = Vec::new();
        // A finished group runs no writers (and no pipeline sends to them).
        let writers = if slot_done(slot) {
            0
        } else {
            target.parallelism
        };
        for w in 0..writers {
            senders.push(spawn_writer(
                &mut tasks,
                &mut task_names,
                &ev_tx,
                WriterSpawn {
                    slot,
                    subtask: w,
                    sink: target.sink.as_ref(),
                    parallelism: target.parallelism,
                    upstreams: dlq_upstreams[d],
                    sink_state: &sink_state,
                    restored_id,
                    metrics: pm.clone(),
                    dead_letters: None,
                    watermark_interval: Duration::ZERO, // dead letters carry no watermarks
                    name: format!("dead-letter sink '{}' subtask {w}", target.table),
                },
            )?);
        }
        dlq_senders.push(senders);
    }
    let dead_letter_out = |side: Option<(usize, usize)>,
                           offset: usize,
                           b: &Option<crate::plan::TableBadRecords>|
     -> Option<DeadLetterOut> {
        let (d, from) = side?;
        let cfg = &b.as_ref()?.config;
        Some(DeadLetterOut {
            target: dlqs[d].clone(),
            outputs: dlq_senders[d].clone(),
            from: from + offset,
            next: offset,
            table: cfg.table.clone(),
            connector: cfg.connector.clone(),
            metrics: dlq_metrics[d].clone(),
        })
    };

    for (pi, p) in pipelines.iter().enumerate() {
        let src_state = slot_checkpoint(pi)
            .and_then(|c| c.sources.get(&p.source_id()).cloned())
            .unwrap_or_default();
        let sink_state = slot_checkpoint(pi)
            .and_then(|c| c.sinks.get(&slots[pi].id).cloned())
            .unwrap_or_default();
        let pm = Arc::new(PipelineMetrics {
            source_table: p.source_table.clone(),
            sink_table: p.sink_table.clone(),
            source: Arc::new(SourceMetrics::default()),
            rows_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            sink: Arc::new(SinkMetrics::default()),
            source_parallelism: p.source_parallelism,
            sink_parallelism: p.sink_parallelism,
            writer_watermarks: (0..p.sink_parallelism)
                .map(|_| AtomicI64::new(i64::MIN))
                .collect(),
        });
        pmetrics.push(pm.clone());
        if slot_done(pi) {
            runtimes.push(PipelineRuntime {
                enumerator: None,
                controls: (0..p.source_parallelism).map(|_| None).collect(),
                source_alive: vec![false; p.source_parallelism],
                done: true,
            });
            sinks.push(SinkRuntime {
                sink_finished: vec![true; p.sink_parallelism],
                committer: None,
                final_committables: Vec::new(),
            });
            continue;
        }
        let enumerator = p.source.create_enumerator(
            EnumeratorContext {
                parallelism: p.source_parallelism,
            },
            src_state.enumerator.clone(),
        )?;
        if let Some(b) = &p.source_bad_records {
            pm.source.bad_records.configure(b.config.clone());
        }
        if let Some(b) = &p.sink_bad_records {
            pm.sink.bad_records.configure(b.config.clone());
        }
        // Rows with equal values in these columns go to the same writer.
        let shuffle_keys = shuffle_keys(
            p.sink.shuffle_columns(),
            &p.sink_key,
            p.keyed_shuffle,
            p.source_parallelism,
            p.sink_parallelism,
        );
        let n_cols = p.sink.consumed_schema().fields().len();
        if let Some(k) = shuffle_keys.iter().find(|k| **k >= n_cols) {
            return Err(RuntimeError::Plan(format!(
                "sink '{}' routes rows by column {k}, but its rows have {n_cols} columns",
                p.sink_table
            )));
        }
        let shuffle_keys = Arc::new(shuffle_keys);

        // Writers.
        let mut senders = Vec::new();
        for w in 0..p.sink_parallelism {
            senders.push(spawn_writer(
                &mut tasks,
                &mut task_names,
                &ev_tx,
                WriterSpawn {
                    slot: pi,
                    subtask: w,
                    sink: p.sink.as_ref(),
                    parallelism: p.sink_parallelism,
                    upstreams: p.source_parallelism,
                    sink_state: &sink_state,
                    restored_id,
                    metrics: pm.clone(),
                    dead_letters: dead_letter_out(dlq_from[pi].1, w, &p.sink_bad_records),
                    watermark_interval: p.watermark_interval,
                    name: format!("sink '{}' subtask {w}", p.sink_table),
                },
            )?);
        }

        // Readers, with restored splits spread over them.
        let mut controls = Vec::new();
        let mut per_reader: Vec<Vec<SourceSplit>> = vec![Vec::new(); p.source_parallelism];
        for (i, s) in src_state.splits.into_iter().enumerate() {
            per_reader[i % p.source_parallelism].push(s);
        }
        for (r, splits) in per_reader.into_iter().enumerate() {
            let (ctl_tx, ctl_rx) = mpsc::unbounded_channel::<Control>();
            controls.push(Some(ctl_tx));
            let mut reader = p.source.create_reader(ReaderContext {
                subtask: r,
                parallelism: p.source_parallelism,
                batch_size: opts.batch_size,
                metrics: pm.source.clone(),
            })?;
            let watermarks = p.transform.has_watermark().then(|| {
                let mut w = ReaderWatermarks::new(p.idle_timeout, Instant::now());
                w.add_splits(splits.iter().map(|s| s.id.as_str()), Instant::now());
                w
            });
            if !splits.is_empty() {
                reader.add_splits(splits)?;
            }
            let ev = ev_tx.clone();
            let outputs = senders.clone();
            let transform = p.transform.clone();
            let name = format!("source '{}' subtask {r}", p.source_table);
            let task_name = name.clone();
            let pm2 = pm.clone();
            let dead_letters = dead_letter_out(dlq_from[pi].0, r, &p.source_bad_records);
            let keys = shuffle_keys.clone();
            let h = tasks.spawn(async move {
                let task = ReaderTask {
                    dead_letters,
                    pipeline: pi,
                    subtask: r,
                    reader,
                    transform,
                    outputs,
                    control: ctl_rx,
                    events: ev.clone(),
                    metrics: pm2,
                    request: Request::None,
                    watermarks,
                    shuffle_keys: keys,
                };
                let r = task.run().await;
                if let Err(e) = r {
                    let _ = ev.send(Event::Failed(e.in_task(name)));
                }
            });
            task_names.insert(h.id(), task_name);
        }
        drop(senders);
        runtimes.push(PipelineRuntime {
            enumerator: Some(enumerator),
            controls,
            source_alive: vec![true; p.source_parallelism],
            done: false,
        });
        sinks.push(SinkRuntime {
            sink_finished: vec![false; p.sink_parallelism],
            committer: p.sink.create_committer()?,
            final_committables: Vec::new(),
        });
    }
    for (d, target) in dlqs.iter().enumerate() {
        let done = slot_done(pipelines.len() + d);
        sinks.push(SinkRuntime {
            sink_finished: vec![done; target.parallelism],
            committer: if done {
                None
            } else {
                target.sink.create_committer()?
            },
            final_committables: Vec::new(),
        });
    }
    drop(dlq_senders);
    drop(ev_tx);
    pmetrics.extend(dlq_metrics);
    let _ = metrics.pipelines.set(pmetrics);

    let mut coord = Coordinator {
        pipelines: &pipelines,
        runtimes,
        sinks,
        slots: &slots,
        pending: None,
        next_id: restored_id + 1,
        store,
        metrics: metrics.clone(),
        completed: 0,
        finished_slots,
    };

    let mut ticker = opts.checkpoint_interval.map(|d| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut stopping = false;
    let outcome = loop {
        if coord.all_sinks_finished() && coord.pending.is_none() {
            coord.final_checkpoint().await?;
            break JobOutcome::Finished;
        }
        tokio::select! {
            Some(Err(e)) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                if let Some(err) = panic_error(e, &task_names) {
                    return Err(err);
                }
            }
            ev = ev_rx.recv() => {
                let Some(ev) = ev else {
                    if coord.all_sinks_finished() { continue; }
                    while let Some(r) = tasks.join_next_with_id().await {
                        if let Err(e) = r {
                            if let Some(err) = panic_error(e, &task_names) {
                                return Err(err);
                            }
                        }
                    }
                    return Err(RuntimeError::Plan("all tasks ended unexpectedly".into()));
                };
                if let Some(done) = coord.handle(ev).await? {
                    if done { break JobOutcome::Stopped; }
                }
            }
            _ = async { match ticker.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                if coord.pending.is_none() && !coord.all_sources_finished() {
                    coord.trigger(false)?;
                }
            }
            s = stop.recv(), if !stopping => {
                stopping = true;
                if s.is_none() {
                    // the caller dropped its stop handle: nobody can ask to stop any more
                    continue;
                }
                tracing::info!("stop requested: taking a final checkpoint");
                if coord.all_sources_finished() {
                    continue;
                }
                match coord.pending.as_mut() {
                    Some(p) => p.stop_after = true,
                    None => coord.trigger(true)?,
                }
            }
        }
    };
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(JobSummary {
        outcome,
        elapsed: started.elapsed(),
        restored_from,
        checkpoints: coord.completed,
        rows_in: metrics
            .pipelines_snapshot()
            .iter()
            .map(|p| p.source.records.load(Ordering::Relaxed))
            .collect(),
        rows_out: metrics
            .pipelines_snapshot()
            .iter()
            .map(|p| p.sink.records.load(Ordering::Relaxed))
            .collect(),
        skipped: metrics
            .pipelines_snapshot()
            .iter()
            .map(|p| {
                p.source.skipped.load(Ordering::Relaxed)
                    + p.source.bad_records.skipped()
                    + p.sink.bad_records.skipped()
            })
            .collect(),
        dead_lettered: metrics
            .pipelines_snapshot()
            .iter()
            .map(|p| p.source.bad_records.dead_lettered() + p.sink.bad_records.dead_lettered())
            .collect(),
    })
}

fn panic_error(
    e: tokio::task::JoinError,
    names: &std::collections::HashMap<tokio::task::Id, String>,
) -> Option<RuntimeError> {
    if !e.is_panic() {
        return None;
    }
    let name = names
        .get(&e.id())
        .cloned()
        .unwrap_or_else(|| "a task".into());
    let payload = e.into_panic();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    Some(RuntimeError::task(
        name,
        headrace_sdk::Error::internal(format!("panicked: {msg}")),
    ))
}

impl JobMetrics {
    /// The per-pipeline counters of the running job (empty before it starts).
    pub fn pipelines_snapshot(&self) -> Vec<Arc<PipelineMetrics>> {
        self.pipelines.get().cloned().unwrap_or_default()
    }
}

struct Coordinator<'a> {
    pipelines: &'a [Pipeline],
    runtimes: Vec<PipelineRuntime>,
    sinks: Vec<SinkRuntime>,
    slots: &'a [SinkSlot],
    pending: Option<PendingCheckpoint>,
    next_id: u64,
    store: Option<CheckpointStore>,
    metrics: Arc<JobMetrics>,
    completed: u64,
    /// Ids of the sinks that do not run because their pipelines had finished (recorded in every
    /// checkpoint, so a later restore does not run them again).
    finished_slots: Vec<String>,
}

impl Coordinator<'_> {
    fn all_sinks_finished(&self) -> bool {
        self.sinks
            .iter()
            .all(|r| r.sink_finished.iter().all(|f| *f))
    }

    fn all_sources_finished(&self) -> bool {
        self.runtimes
            .iter()
            .all(|r| r.source_alive.iter().all(|a| !a))
    }

    fn trigger(&mut self, stop_after: bool) -> RuntimeResult<()> {
        let id = self.next_id;
        self.next_id += 1;
        let mut enumerators = Vec::new();
        let mut source_waiting = Vec::new();
        let mut sink_waiting = Vec::new();
        for (pi, rt) in self.runtimes.iter_mut().enumerate() {
            enumerators.push(match rt.enumerator.as_mut() {
                Some(en) => Some(en.snapshot_state(id).map_err(|e| {
                    e_in(
                        e,
                        format!("enumerator of source '{}'", self.pipelines[pi].source_table),
                    )
                })?),
                None => None,
            });
            let mut waiting = Vec::new();
            for (r, alive) in rt.source_alive.iter().enumerate() {
                let mut w = *alive;
                if w {
                    if let Some(c) = &rt.controls[r] {
                        if c.send(Control::Checkpoint(id)).is_err() {
                            w = false;
                        }
                    }
                }
                waiting.push(w);
            }
            source_waiting.push(waiting);
        }
        for s in &self.sinks {
            // a writer that has ended answers no more checkpoints
            sink_waiting.push(s.sink_finished.iter().map(|f| !f).collect());
        }
        let n = self.sinks.len();
        tracing::debug!("checkpoint {id} triggered");
        self.pending = Some(PendingCheckpoint {
            id,
            enumerators,
            source_waiting,
            sink_waiting,
            splits: vec![Vec::new(); self.runtimes.len()],
            committables: vec![Vec::new(); n],
            writer_states: self
                .sinks
                .iter()
                .map(|r| vec![Vec::new(); r.sink_finished.len()])
                .collect(),
            stop_after,
        });
        Ok(())
    }

    /// Handle one event; Some(true) when the job should end (stopped).
    async fn handle(&mut self, ev: Event) -> RuntimeResult<Option<bool>> {
        match ev {
            Event::Failed(e) => return Err(e),
            Event::SplitRequest { pipeline, subtask } => {
                let rt = &mut self.runtimes[pipeline];
                let Some(en) = rt.enumerator.as_mut() else {
                    return Ok(None);
                };
                let a = en.handle_split_request(subtask).await.map_err(|e| {
                    e_in(
                        e,
                        format!(
                            "enumerator of source '{}'",
                            self.pipelines[pipeline].source_table
                        ),
                    )
                })?;
                if let Some(c) = &rt.controls[subtask] {
                    let _ = c.send(Control::Assign(a));
                }
            }
            Event::SourceAck {
                pipeline,
                subtask,
                checkpoint,
                splits,
            } => {
                if let Some(p) = self.pending.as_mut() {
                    if p.id == checkpoint {
                        p.source_waiting[pipeline][subtask] = false;
                        p.splits[pipeline].extend(splits);
                    }
                }
            }
            Event::SourceFinished { pipeline, subtask } => {
                let rt = &mut self.runtimes[pipeline];
                rt.source_alive[subtask] = false;
                rt.controls[subtask] = None;
                if let Some(p) = self.pending.as_mut() {
                    p.source_waiting[pipeline][subtask] = false;
                }
            }
            Event::SinkAck {
                pipeline,
                subtask,
                checkpoint,
                committables,
                state,
            } => {
                if let Some(p) = self.pending.as_mut() {
                    if p.id == checkpoint {
                        p.sink_waiting[pipeline][subtask] = false;
                        p.committables[pipeline].extend(committables);
                        p.writer_states[pipeline][subtask] = state;
                    }
                }
            }
            Event::SinkFinished {
                pipeline,
                subtask,
                committables,
            } => {
                let rt = &mut self.sinks[pipeline];
                rt.sink_finished[subtask] = true;
                // its last committables go into the next checkpoint written
                rt.final_committables.extend(committables);
                if let Some(p) = self.pending.as_mut() {
                    p.sink_waiting[pipeline][subtask] = false;
                }
            }
        }
        if let Some(p) = &self.pending {
            let done = p.source_waiting.iter().all(|v| v.iter().all(|w| !w))
                && p.sink_waiting.iter().all(|v| v.iter().all(|w| !w));
            if done {
                let stop = p.stop_after;
                self.complete_pending().await?;
                if stop {
                    for rt in &self.runtimes {
                        for c in rt.controls.iter().flatten() {
                            let _ = c.send(Control::Stop);
                        }
                    }
                    return Ok(Some(true));
                }
            }
        }
        Ok(None)
    }

    async fn complete_pending(&mut self) -> RuntimeResult<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let mut data = CheckpointData {
            format_version: CHECKPOINT_FORMAT_VERSION,
            checkpoint_id: p.id,
            timestamp_ms: now_ms(),
            finished: false,
            finished_sinks: self.finished_slots.iter().cloned().collect(),
            ..Default::default()
        };
        let mut to_commit: Vec<Vec<VersionedBytes>> = Vec::new();
        for (pi, pl) in self.pipelines.iter().enumerate() {
            if self.runtimes[pi].done {
                continue;
            }
            data.sources.insert(
                pl.source_id(),
                SourceState {
                    enumerator: p.enumerators[pi].clone(),
                    splits: p.splits[pi].clone(),
                },
            );
        }
        for (pi, slot) in self.slots.iter().enumerate() {
            let mut committables = p.committables[pi].clone();
            committables.extend(std::mem::take(&mut self.sinks[pi].final_committables));
            data.sinks.insert(
                slot.id.clone(),
                SinkState {
                    committables: committables.clone(),
                    writer_states: p.writer_states[pi].clone(),
                },
            );
            to_commit.push(committables);
        }
        if let Some(s) = &self.store {
            s.write(&data)?;
        }
        self.mark_completed(p.id);
        // Paused readers resume, or stop when this was the final checkpoint of a stop request
        // (so nothing is read past it).
        let next = if p.stop_after {
            || Control::Stop
        } else {
            || Control::Resume
        };
        for rt in &self.runtimes {
            for c in rt.controls.iter().flatten() {
                let _ = c.send(next());
            }
        }
        fault_point("after-checkpoint-file", p.id);
        self.commit_all(p.id, to_commit).await?;
        fault_point("after-commit", p.id);
        for rt in self.runtimes.iter_mut() {
            if let Some(en) = rt.enumerator.as_mut() {
                en.notify_checkpoint_complete(p.id).await?;
            }
            for c in rt.controls.iter().flatten() {
                let _ = c.send(Control::Complete(p.id));
            }
        }
        Ok(())
    }

    fn mark_completed(&mut self, id: u64) {
        self.completed += 1;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.metrics.last_checkpoint.store(id, Ordering::Relaxed);
        self.metrics
            .last_checkpoint_ms
            .store(now_ms().max(0) as u64, Ordering::Relaxed);
        tracing::info!("checkpoint {id} complete");
    }

    async fn commit_all(
        &mut self,
        id: u64,
        to_commit: Vec<Vec<VersionedBytes>>,
    ) -> RuntimeResult<()> {
        let mut committed_one = false;
        // Sinks whose commits can be lost commit first: a crash after them leaves only commits
        // that recovery completes, so their pipelines need not fall back.
        let mut order: Vec<(usize, Vec<VersionedBytes>)> =
            to_commit.into_iter().enumerate().collect();
        order.sort_by_key(|(pi, _)| !self.slots[*pi].sink.commits_may_be_lost());
        for (pi, committables) in order {
            if committables.is_empty() {
                continue;
            }
            let table = self.slots[pi].table.clone();
            if let Some(c) = self.sinks[pi].committer.as_mut() {
                if committed_one {
                    fault_point("between-commits", id);
                }
                commit_with_retry(c.as_mut(), id, committables, &table).await?;
                committed_one = true;
            }
        }
        Ok(())
    }

    /// All input is written: write a final checkpoint marked finished and commit.
    async fn final_checkpoint(&mut self) -> RuntimeResult<()> {
        let id = self.next_id;
        self.next_id += 1;
        let mut data = CheckpointData {
            format_version: CHECKPOINT_FORMAT_VERSION,
            checkpoint_id: id,
            timestamp_ms: now_ms(),
            finished: true,
            ..Default::default()
        };
        let mut to_commit = Vec::new();
        for (pi, slot) in self.slots.iter().enumerate() {
            let c = std::mem::take(&mut self.sinks[pi].final_committables);
            data.sinks.insert(
                slot.id.clone(),
                SinkState {
                    committables: c.clone(),
                    writer_states: vec![],
                },
            );
            to_commit.push(c);
        }
        if let Some(s) = &self.store {
            s.write(&data)?;
        }
        self.mark_completed(id);
        fault_point("after-checkpoint-file", id);
        self.commit_all(id, to_commit).await?;
        fault_point("after-commit", id);
        Ok(())
    }
}

/// Crash tests: with `HEADRACE_FAULT=<point>:<checkpoint id>` the process aborts (as a crash would:
/// no cleanup, no final checkpoint) when it reaches that point of that checkpoint. Points:
/// `after-checkpoint-file` (checkpoint written, nothing committed), `between-commits` (the first
/// sink with something to commit has committed, the next has not) and `after-commit` (committed,
/// readers and enumerators not yet told).
fn fault_point(point: &str, checkpoint_id: u64) {
    static FAULT: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    let fault = FAULT.get_or_init(|| {
        let v = std::env::var("HEADRACE_FAULT").ok()?;
        let (p, id) = v.rsplit_once(':')?;
        Some((p.to_string(), id.trim().parse().ok()?))
    });
    if let Some((p, id)) = fault {
        if p == point && *id == checkpoint_id {
            eprintln!("HEADRACE_FAULT: aborting at {point} of checkpoint {checkpoint_id}");
            std::process::abort();
        }
    }
}

/// Sink slots whose pipelines must restore from the same checkpoint, as a group number per slot
/// (and the number of groups): the pipelines sharing a dead-letter table, with that table. Other
/// pipelines have no sink in common, so each group may resume from its own checkpoint.
fn restore_groups(pipelines: &[Pipeline], dlqs: &[Arc<DeadLetterTarget>]) -> (Vec<usize>, usize) {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let n = pipelines.len() + dlqs.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for (pi, p) in pipelines.iter().enumerate() {
        for b in [&p.source_bad_records, &p.sink_bad_records]
            .into_iter()
            .flatten()
        {
            let Some(t) = &b.dead_letters else { continue };
            if let Some(d) = dlqs.iter().position(|x| x.table == t.table) {
                let a = root(&mut parent, pi);
                let c = root(&mut parent, pipelines.len() + d);
                parent[a] = c;
            }
        }
    }
    let mut numbers: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    let mut group = vec![0; n];
    for (i, g) in group.iter_mut().enumerate() {
        let r = root(&mut parent, i);
        let next = numbers.len();
        *g = *numbers.entry(r).or_insert(next);
    }
    (group, numbers.len())
}

/// Where one group of pipelines (see [`restore_groups`]) resumes.
#[derive(Default)]
struct GroupRestore {
    /// The checkpoint it restores from; None starts it from scratch.
    checkpoint: Option<CheckpointData>,
    /// Its pipelines had finished in that checkpoint: they do not run again.
    finished: bool,
}

/// Per group of sink slots, the newest checkpoint whose committables of the group's sinks are all
/// committed (committing them now where the sink can), or from scratch.
///
/// Each group decides on its own: with two exactly-once Kafka sinks in separate INSERTs, a crash
/// between the two commits of checkpoint `N` leaves one committed and the other lost; the first
/// resumes from `N` and the second from `N - 1`, so neither writes a record twice or loses one.
/// Sinks of one group (sharing a dead-letter table) fall back together.
async fn choose_restore_points(
    store: &CheckpointStore,
    slots: &[SinkSlot],
    group: &[usize],
    n_groups: usize,
) -> RuntimeResult<Vec<GroupRestore>> {
    let all = store.all_newest_first()?;
    let mut chosen: Vec<Option<GroupRestore>> = (0..n_groups).map(|_| None).collect();
    // per group, the last checkpoint found lost (the oldest tried) and the table that lost it
    let mut lost_at: Vec<Option<(u64, String)>> = vec![None; n_groups];
    // Sinks whose commits can be lost are asked first: when one was lost, the other sinks of its
    // group must not complete their commits of that checkpoint (it is written again).
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|si| !slots[*si].sink.commits_may_be_lost());
    for cp in all {
        if chosen.iter().all(Option::is_some) {
            break;
        }
        let mut lost_now = vec![false; n_groups];
        for &si in &order {
            let slot = &slots[si];
            let g = group[si];
            if chosen[g].is_some() || lost_now[g] {
                continue;
            }
            if recover_slot(&cp, slot).await? == CommitRecovery::Lost {
                lost_now[g] = true;
                tracing::warn!(
                    "checkpoint {}: the transactions of sink '{}' were lost in the crash; \
                     falling back to the checkpoint before it for the pipelines of that sink",
                    cp.checkpoint_id,
                    slot.table
                );
                lost_at[g] = Some((cp.checkpoint_id, slot.table.clone()));
            }
        }
        for g in 0..n_groups {
            if chosen[g].is_none() && !lost_now[g] {
                let finished = cp.finished
                    || slots
                        .iter()
                        .enumerate()
                        .any(|(si, s)| group[si] == g && cp.finished_sinks.contains(&s.id));
                chosen[g] = Some(GroupRestore {
                    checkpoint: Some(cp.clone()),
                    finished,
                });
            }
        }
    }
    let mut out = Vec::new();
    for (c, lost) in chosen.into_iter().zip(lost_at) {
        match (c, lost) {
            (Some(c), _) => {
                if let Some(cp) = &c.checkpoint {
                    tracing::info!("restoring from checkpoint {}", cp.checkpoint_id);
                }
                out.push(c);
            }
            (None, Some((id, table))) if id > 1 => {
                return Err(RuntimeError::Checkpoint(format!(
                    "the transactions of checkpoint {id} (sink '{table}') were lost in the crash \
                     and no older checkpoint is retained to fall back to"
                )))
            }
            (None, _) => out.push(GroupRestore::default()),
        }
    }
    Ok(out)
}

/// Recover one sink's committables of `cp` (retrying transient errors): whether they are
/// committed now, or were lost.
async fn recover_slot(cp: &CheckpointData, p: &SinkSlot) -> RuntimeResult<CommitRecovery> {
    let Some(state) = cp.sinks.get(&p.id) else {
        return Ok(CommitRecovery::Committed);
    };
    if state.committables.is_empty() {
        return Ok(CommitRecovery::Committed);
    }
    let Some(mut c) = p.sink.create_committer()? else {
        return Ok(CommitRecovery::Committed);
    };
    let table = p.table.clone();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match c
            .recover(cp.checkpoint_id, state.committables.clone())
            .await
        {
            Ok(r) => return Ok(r),
            Err(e) if e.retry() == Retry::Backoff && attempt < 8 => {
                attempt += 1;
                tracing::warn!(
                    "recovering checkpoint {} for sink '{table}' failed (attempt {attempt}): {e}; retrying in {delay:?}",
                    cp.checkpoint_id
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                return Err(RuntimeError::task(
                    format!(
                        "committer of sink '{table}' (recovering checkpoint {})",
                        cp.checkpoint_id
                    ),
                    e,
                ))
            }
        }
    }
}

async fn commit_with_retry(
    c: &mut dyn Committer,
    id: u64,
    committables: Vec<VersionedBytes>,
    table: &str,
) -> RuntimeResult<()> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match c.commit(id, committables.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) if e.retry() == Retry::Backoff && attempt < 8 => {
                attempt += 1;
                tracing::warn!(
                    "commit of checkpoint {id} for sink '{table}' failed (attempt {attempt}): {e}; retrying in {delay:?}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                return Err(RuntimeError::task(
                    format!("committer of sink '{table}' (checkpoint {id})"),
                    e,
                ))
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn e_in(e: headrace_sdk::Error, task: String) -> RuntimeError {
    RuntimeError::task(task, e)
}

impl RuntimeError {
    fn in_task(self, task: String) -> RuntimeError {
        match self {
            RuntimeError::Sdk(e) => RuntimeError::Task { task, source: e },
            t @ RuntimeError::Task { .. } => t,
            // errors of the row transformation (a CAST that fails on a value, an overflow)
            other => RuntimeError::task(
                task,
                headrace_sdk::Error::user(format!("evaluating the query: {other}")),
            ),
        }
    }
}

/// Paces a writer's watermark (`pipeline.auto-watermark-interval`): a watermark that advanced is
/// handed to the writer at once when the last hand-over is at least an interval ago, else held
/// and handed over when the interval is up (only the newest is kept). A held watermark is also
/// handed over before the writer prepares a checkpoint and at the end of its input; the end's
/// `i64::MAX` is never held. A zero interval hands over every advance (Flink's SQL semantics
/// of 0).
#[derive(Debug)]
struct WatermarkPacer {
    interval: Duration,
    last: Option<Instant>,
    held: Option<i64>,
}

impl WatermarkPacer {
    fn new(interval: Duration) -> Self {
        WatermarkPacer {
            interval,
            last: None,
            held: None,
        }
    }

    /// The combined watermark advanced to `w` at `now`: Some to hand it over now, None when it
    /// is held.
    fn offer(&mut self, w: i64, now: Instant) -> Option<i64> {
        let due = match self.last {
            None => true,
            Some(t) => now.saturating_duration_since(t) >= self.interval,
        };
        if due || w == i64::MAX || self.interval.is_zero() {
            self.held = None;
            self.last = Some(now);
            Some(w)
        } else {
            self.held = Some(w);
            None
        }
    }

    /// When the held watermark is due, if one is held.
    fn due(&self) -> Option<Instant> {
        self.held?;
        Some(match self.last {
            Some(t) => t + self.interval,
            None => Instant::now(),
        })
    }

    /// The held watermark, to hand over now.
    fn take(&mut self, now: Instant) -> Option<i64> {
        let w = self.held.take()?;
        self.last = Some(now);
        Some(w)
    }
}

/// Where a reader stands with its last request for splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// No request outstanding.
    None,
    /// Asked; no answer yet.
    Waiting,
    /// The enumerator has nothing yet: ask again later.
    NotYet,
}

/// One reader subtask: polls its reader, applies the transform, sends batches and barriers.
struct ReaderTask {
    pipeline: usize,
    subtask: usize,
    reader: Box<dyn headrace_sdk::source::SourceReader>,
    transform: Arc<Transform>,
    outputs: Vec<mpsc::Sender<Tagged>>,
    control: mpsc::UnboundedReceiver<Control>,
    events: mpsc::UnboundedSender<Event>,
    metrics: Arc<PipelineMetrics>,
    request: Request,
    /// Where the dead letters of this source go, with the `dead-letter` policy.
    dead_letters: Option<DeadLetterOut>,
    /// Per-split watermarks, when the source table declares a WATERMARK.
    watermarks: Option<ReaderWatermarks>,
    /// Sink columns whose hash picks the writer of each row (empty: whole batches, forward or
    /// round-robin).
    shuffle_keys: Arc<Vec<usize>>,
}

/// What handling a control message means for the reader's loop.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl ReaderTask {
    async fn run(mut self) -> RuntimeResult<()> {
        // Forward when writers match readers one to one, else round-robin per batch.
        let n_out = self.outputs.len();
        let forward = n_out > 1 && n_out == self.metrics.source_parallelism;
        let mut rr = self.subtask % n_out.max(1);
        loop {
            // Control messages first: checkpoints are taken between batches.
            loop {
                match self.control.try_recv() {
                    Ok(c) => {
                        if self.handle(c).await? == Flow::Stop {
                            return Ok(());
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return Ok(()),
                }
            }
            let event = self.reader.poll_next().await?;
            // Dead letters found by this poll go out before anything that follows it.
            if !self.send_dead_letters().await? {
                return Ok(());
            }
            match event {
                ReadEvent::Batch(b) => {
                    let split = match &self.watermarks {
                        Some(_) => self.reader.batch_split().map(str::to_string),
                        None => None,
                    };
                    let m = &self.metrics;
                    m.source
                        .records
                        .fetch_add(b.num_rows() as u64, Ordering::Relaxed);
                    m.bytes_in
                        .fetch_add(b.byte_size() as u64, Ordering::Relaxed);
                    let (out, wm) = self.transform.apply_with_watermark(b)?;
                    if let Some(out) = out {
                        m.rows_out
                            .fetch_add(out.num_rows() as u64, Ordering::Relaxed);
                        m.bytes_out
                            .fetch_add(out.byte_size() as u64, Ordering::Relaxed);
                        if n_out > 1 && !self.shuffle_keys.is_empty() {
                            let parts = split_by_key(&out, &self.shuffle_keys, n_out)?;
                            for (target, part) in parts.into_iter().enumerate() {
                                let Some(part) = part else { continue };
                                let msg = Tagged {
                                    from: self.subtask,
                                    msg: DataMsg::Batch(part),
                                };
                                if self.outputs[target].send(msg).await.is_err() {
                                    return Ok(());
                                }
                            }
                            if self.batch_watermark(split.as_deref(), wm).await? == Flow::Stop {
                                return Ok(());
                            }
                            continue;
                        }
                        let target = if n_out == 1 {
                            0
                        } else if forward {
                            self.subtask
                        } else {
                            rr = (rr + 1) % n_out;
                            rr
                        };
                        let msg = Tagged {
                            from: self.subtask,
                            msg: DataMsg::Batch(out),
                        };
                        if self.outputs[target].send(msg).await.is_err() {
                            return Ok(());
                        }
                    }
                    if self.batch_watermark(split.as_deref(), wm).await? == Flow::Stop {
                        return Ok(());
                    }
                }
                ReadEvent::Idle => {
                    if self.emit_watermarks().await? == Flow::Stop {
                        return Ok(());
                    }
                    if self
                        .wait_control(tokio::time::Instant::now() + IDLE_WAIT)
                        .await?
                        == Flow::Stop
                    {
                        return Ok(());
                    }
                }
                ReadEvent::NeedSplits => {
                    if self.emit_watermarks().await? == Flow::Stop {
                        return Ok(());
                    }
                    self.request = Request::Waiting;
                    let _ = self.events.send(Event::SplitRequest {
                        pipeline: self.pipeline,
                        subtask: self.subtask,
                    });
                    // Wait for the answer, taking part in checkpoints meanwhile (the answer may
                    // arrive while the reader is paused for a checkpoint).
                    while self.request != Request::None {
                        if self.request == Request::NotYet {
                            let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
                            while tokio::time::Instant::now() < deadline {
                                if self.wait_control(deadline).await? == Flow::Stop {
                                    return Ok(());
                                }
                            }
                            self.request = Request::Waiting;
                            let _ = self.events.send(Event::SplitRequest {
                                pipeline: self.pipeline,
                                subtask: self.subtask,
                            });
                            continue;
                        }
                        let Some(c) = self.control.recv().await else {
                            return Ok(());
                        };
                        if self.handle(c).await? == Flow::Stop {
                            return Ok(());
                        }
                    }
                }
                ReadEvent::End => {
                    for o in &self.outputs {
                        let _ = o
                            .send(Tagged {
                                from: self.subtask,
                                msg: DataMsg::End,
                            })
                            .await;
                    }
                    if let Some(d) = &self.dead_letters {
                        d.broadcast(|| DataMsg::End).await;
                    }
                    self.reader.close().await?;
                    let _ = self.events.send(Event::SourceFinished {
                        pipeline: self.pipeline,
                        subtask: self.subtask,
                    });
                    return Ok(());
                }
            }
        }
    }

    /// Send the dead letters the reader queued since the last call; false when the dead-letter
    /// writers are gone (the job is stopping).
    async fn send_dead_letters(&mut self) -> RuntimeResult<bool> {
        match &mut self.dead_letters {
            Some(d) => d.send_queued(&self.metrics.source.bad_records).await,
            None => Ok(true),
        }
    }

    /// Handle control messages until `deadline` (at most one message).
    async fn wait_control(&mut self, deadline: tokio::time::Instant) -> RuntimeResult<Flow> {
        tokio::select! {
            c = self.control.recv() => match c {
                Some(c) => self.handle(c).await,
                None => Ok(Flow::Stop),
            },
            _ = tokio::time::sleep_until(deadline) => Ok(Flow::Continue),
        }
    }

    /// Account a batch's watermark value to its split and send what changed.
    async fn batch_watermark(
        &mut self,
        split: Option<&str>,
        wm: Option<i64>,
    ) -> RuntimeResult<Flow> {
        match &mut self.watermarks {
            Some(w) => w.on_batch(split, wm, Instant::now()),
            None => return Ok(Flow::Continue),
        }
        self.emit_watermarks().await
    }

    /// Send the reader's watermark and idleness to every writer when they changed.
    async fn emit_watermarks(&mut self) -> RuntimeResult<Flow> {
        let Some(w) = &mut self.watermarks else {
            return Ok(Flow::Continue);
        };
        for ev in w.update(Instant::now()) {
            for o in &self.outputs {
                let msg = Tagged {
                    from: self.subtask,
                    msg: DataMsg::Watermark(ev),
                };
                if o.send(msg).await.is_err() {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn assign(&mut self, a: SplitAssignment) -> RuntimeResult<()> {
        match a {
            SplitAssignment::Splits(s) => {
                if let Some(w) = &mut self.watermarks {
                    w.add_splits(s.iter().map(|s| s.id.as_str()), Instant::now());
                }
                self.reader.add_splits(s)?;
                self.request = Request::None;
            }
            SplitAssignment::NoMoreSplits => {
                self.reader.no_more_splits();
                self.request = Request::None;
            }
            SplitAssignment::NotYet => self.request = Request::NotYet,
        }
        Ok(())
    }

    async fn handle(&mut self, c: Control) -> RuntimeResult<Flow> {
        match c {
            Control::Checkpoint(id) => {
                let splits = self.reader.snapshot_state(id)?;
                if let Some(w) = &mut self.watermarks {
                    // Splits a reader no longer lists are finished.
                    let unfinished: std::collections::BTreeSet<&str> =
                        splits.iter().map(|s| s.id.as_str()).collect();
                    w.retain_splits(&unfinished);
                }
                // The dead letters of the records this checkpoint covers belong to it: they go
                // to the dead-letter writers before this reader's barrier.
                if !self.send_dead_letters().await? {
                    return Ok(Flow::Stop);
                }
                if let Some(d) = &self.dead_letters {
                    if !d.broadcast(|| DataMsg::Barrier(id)).await {
                        return Ok(Flow::Stop);
                    }
                }
                let _ = self.events.send(Event::SourceAck {
                    pipeline: self.pipeline,
                    subtask: self.subtask,
                    checkpoint: id,
                    splits,
                });
                for o in &self.outputs {
                    let barrier = Tagged {
                        from: self.subtask,
                        msg: DataMsg::Barrier(id),
                    };
                    if o.send(barrier).await.is_err() {
                        return Ok(Flow::Stop);
                    }
                }
                // Paused until the checkpoint is complete.
                loop {
                    match self.control.recv().await {
                        Some(Control::Resume) => return Ok(Flow::Continue),
                        Some(Control::Stop) | None => return Ok(Flow::Stop),
                        Some(Control::Complete(cid)) => {
                            self.reader.notify_checkpoint_complete(cid).await?
                        }
                        Some(Control::Assign(a)) => self.assign(a)?,
                        Some(Control::Checkpoint(_)) => {}
                    }
                }
            }
            Control::Complete(id) => {
                self.reader.notify_checkpoint_complete(id).await?;
                Ok(Flow::Continue)
            }
            Control::Stop => Ok(Flow::Stop),
            Control::Resume => Ok(Flow::Continue),
            Control::Assign(a) => {
                self.assign(a)?;
                Ok(Flow::Continue)
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_writer(
    pipeline: usize,
    subtask: usize,
    upstreams: usize,
    mut writer: Box<dyn headrace_sdk::sink::SinkWriter>,
    mut rx: mpsc::Receiver<Tagged>,
    events: mpsc::UnboundedSender<Event>,
    restored_id: u64,
    metrics: Arc<PipelineMetrics>,
    mut dead_letters: Option<DeadLetterOut>,
    mut pacer: WatermarkPacer,
) -> RuntimeResult<()> {
    let mut ended = vec![false; upstreams];
    let mut seen = vec![false; upstreams];
    let mut current: Option<u64> = None;
    let mut last_cp = restored_id;
    let mut watermark = CombinedWatermark::new(upstreams);
    let hand_over = |writer: &mut Box<dyn headrace_sdk::sink::SinkWriter>,
                     w: Option<i64>|
     -> RuntimeResult<()> {
        if let Some(w) = w {
            writer.on_watermark(w)?;
            if let Some(m) = metrics.writer_watermarks.get(subtask) {
                m.store(w, Ordering::Relaxed);
            }
        }
        Ok(())
    };
    loop {
        // A held watermark is handed over when its interval is up, even without new input.
        let next = match pacer.due() {
            Some(at) => tokio::select! {
                t = rx.recv() => Some(t),
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => None,
            },
            None => Some(rx.recv().await),
        };
        let Some(next) = next else {
            hand_over(&mut writer, pacer.take(Instant::now()))?;
            continue;
        };
        let Some(t) = next else {
            // readers stopped without ending (job stopped): no final commit
            writer.close().await?;
            return Ok(());
        };
        match t.msg {
            DataMsg::Batch(b) => {
                let n = b.num_rows() as u64;
                writer.write(b).await?;
                metrics.sink.records.fetch_add(n, Ordering::Relaxed);
                if let Some(d) = dead_letters.as_mut() {
                    d.send_queued(&metrics.sink.bad_records).await?;
                }
            }
            DataMsg::Watermark(ev) => watermark.on_event(t.from, ev),
            DataMsg::Barrier(id) => {
                seen[t.from] = true;
                current = Some(id);
            }
            DataMsg::End => {
                ended[t.from] = true;
                watermark.on_end(t.from);
            }
        }
        if let Some(w) = watermark.advance() {
            hand_over(&mut writer, pacer.offer(w, Instant::now()))?;
        }
        if let Some(id) = current {
            if (0..upstreams).all(|i| seen[i] || ended[i]) {
                // the checkpoint covers the newest watermark, even one still held back
                hand_over(&mut writer, pacer.take(Instant::now()))?;
                writer.flush(false).await?;
                let committables = writer.prepare_commit(id).await?;
                let state = writer.snapshot_state(id)?;
                if let Some(d) = dead_letters.as_mut() {
                    // rows found bad up to this checkpoint are dead letters of it
                    d.send_queued(&metrics.sink.bad_records).await?;
                    d.broadcast(|| DataMsg::Barrier(id)).await;
                }
                last_cp = id;
                let _ = events.send(Event::SinkAck {
                    pipeline,
                    subtask,
                    checkpoint: id,
                    committables,
                    state,
                });
                seen.iter_mut().for_each(|s| *s = false);
                current = None;
            }
        }
        if ended.iter().all(|e| *e) {
            hand_over(&mut writer, pacer.take(Instant::now()))?;
            writer.flush(true).await?;
            let committables = writer.prepare_commit(last_cp + 1).await?;
            writer.close().await?;
            if let Some(d) = dead_letters.as_mut() {
                d.send_queued(&metrics.sink.bad_records).await?;
                d.broadcast(|| DataMsg::End).await;
            }
            let _ = events.send(Event::SinkFinished {
                pipeline,
                subtask,
                committables,
            });
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_pacer_hands_over_at_most_once_per_interval() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut p = WatermarkPacer::new(Duration::from_millis(200));
        assert_eq!(p.due(), None);
        assert_eq!(p.offer(10, ms(0)), Some(10), "the first goes at once");
        assert_eq!(p.offer(20, ms(50)), None, "held");
        assert_eq!(p.offer(30, ms(100)), None, "only the newest is kept");
        assert_eq!(p.due(), Some(ms(200)));
        assert_eq!(p.take(ms(200)), Some(30));
        assert_eq!(p.due(), None);
        assert_eq!(
            p.offer(40, ms(450)),
            Some(40),
            "an interval after the last: at once"
        );
        assert_eq!(p.offer(50, ms(500)), None);
        assert_eq!(
            p.offer(i64::MAX, ms(510)),
            Some(i64::MAX),
            "the end is never held"
        );
        assert_eq!(p.take(ms(520)), None, "and it replaces the held one");
    }

    /// A sink whose committer logs recoveries and reports checkpoint `lost` as lost.
    struct FakeSink {
        name: &'static str,
        lossy: bool,
        lost: u64,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl headrace_sdk::sink::DynamicSink for FakeSink {
        fn delivery_guarantee(&self) -> headrace_sdk::sink::DeliveryGuarantee {
            headrace_sdk::sink::DeliveryGuarantee::ExactlyOnce
        }
        fn consumed_schema(&self) -> arrow::datatypes::SchemaRef {
            Arc::new(arrow::datatypes::Schema::empty())
        }
        fn commits_may_be_lost(&self) -> bool {
            self.lossy
        }
        fn create_writer(
            &self,
            _ctx: WriterContext,
        ) -> headrace_sdk::Result<Box<dyn headrace_sdk::sink::SinkWriter>> {
            Err(headrace_sdk::Error::internal("no writer in this test"))
        }
        fn create_committer(&self) -> headrace_sdk::Result<Option<Box<dyn Committer>>> {
            Ok(Some(Box::new(FakeCommitter {
                name: self.name,
                lost: self.lost,
                log: self.log.clone(),
            })))
        }
    }

    struct FakeCommitter {
        name: &'static str,
        lost: u64,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl Committer for FakeCommitter {
        async fn commit(&mut self, _id: u64, _c: Vec<VersionedBytes>) -> headrace_sdk::Result<()> {
            Ok(())
        }
        async fn recover(
            &mut self,
            id: u64,
            _c: Vec<VersionedBytes>,
        ) -> headrace_sdk::Result<CommitRecovery> {
            self.log.lock().unwrap().push(format!("{}:{id}", self.name));
            Ok(if id == self.lost {
                CommitRecovery::Lost
            } else {
                CommitRecovery::Committed
            })
        }
    }

    #[tokio::test]
    async fn each_group_restores_from_its_own_checkpoint_asking_lossy_sinks_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path(), 3).unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let slot = |name: &'static str, lossy: bool, lost: u64| SinkSlot {
            id: format!("sink:{name}"),
            table: name.to_string(),
            sink: Arc::new(FakeSink {
                name,
                lossy,
                lost,
                log: log.clone(),
            }),
        };
        // group 0: a filesystem-like sink and a Kafka-like sink that lost checkpoint 3;
        // group 1: a Kafka-like sink that committed it
        let slots = vec![
            slot("files", false, 0),
            slot("kafka", true, 3),
            slot("other", true, 0),
        ];
        for id in 1..=3 {
            let mut cp = CheckpointData {
                format_version: CHECKPOINT_FORMAT_VERSION,
                checkpoint_id: id,
                ..Default::default()
            };
            for s in &slots {
                cp.sinks.insert(
                    s.id.clone(),
                    SinkState {
                        committables: vec![VersionedBytes::encode(1, "c", &id).unwrap()],
                        writer_states: vec![],
                    },
                );
            }
            store.write(&cp).unwrap();
        }
        let got = choose_restore_points(&store, &slots, &[0, 0, 1], 2)
            .await
            .unwrap();
        let ids: Vec<Option<u64>> = got
            .iter()
            .map(|g| g.checkpoint.as_ref().map(|c| c.checkpoint_id))
            .collect();
        assert_eq!(ids, vec![Some(2), Some(3)]);
        assert_eq!(
            *log.lock().unwrap(),
            vec!["kafka:3", "other:3", "kafka:2", "files:2"],
            "the files sink must not complete checkpoint 3, which its group writes again"
        );
    }

    #[test]
    fn a_zero_watermark_interval_hands_over_every_advance() {
        let t0 = Instant::now();
        let mut p = WatermarkPacer::new(Duration::ZERO);
        for w in 1..5 {
            assert_eq!(p.offer(w, t0), Some(w));
        }
        assert_eq!(p.due(), None);
    }
}
