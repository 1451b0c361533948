//! Exactly-once with one transaction per writer subtask and checkpoint, for engines whose
//! committer commits each writer's committables on its own and cannot fall back to an older
//! checkpoint: Apache Flink's Sink V2 through the JNI bridge (which turns this on with
//! [`crate::sink::use_per_subtask_transactions`]).
//!
//! # Why not the runner's protocol
//! Headrace's own runner shares one transaction per checkpoint among all writers of a process and,
//! when that transaction was lost in a crash, restores the checkpoint before it (see the crate
//! documentation). Under Flink neither holds: writers and committers are separate objects (each
//! opens its own sink through the bridge), several TaskManager processes write at once, and a
//! restore from checkpoint `N` re-commits `N`'s committables with no way to go back to `N - 1`.
//!
//! # The protocol
//! 1. Writer subtask `s` writes the records between two checkpoints (its *epoch*) in one
//!    transaction of a producer with transactional id `<prefix>-<s>-<i>`, taking the first `i`
//!    below `headrace.sink.transactional-id-pool-size` (5 when not set: Flink keeps the
//!    transactions of failed checkpoints until the next completed one, see
//!    [`crate::sink::SUBTASK_DEFAULT_POOL_SIZE`]) whose producer has no transaction open or
//!    awaiting its commit. The producers live in a table of this copy of the library, keyed by
//!    transactional id, not in the writer: they outlive a failed task.
//! 2. It keeps a copy of every record of the epoch (topic, key, value, partition, timestamp,
//!    headers).
//! 3. At checkpoint `N` (after Flink's `flush`), the writer marks its transaction *prepared* and
//!    hands over a committable: the epoch `N`, the transactional id, a random nonce, its subtask
//!    and the records of the epoch. Flink stores it in checkpoint `N`.
//! 4. When `N` completes, the committer finds the producer by its transactional id in the table
//!    and, if it holds the prepared transaction of `N` with that nonce, adds the **commit marker**
//!    (an offset commit of consumer group `<prefix>-headrace-commits-<s>` for partition 0 of the
//!    first topic, offset `N`, the nonce as metadata) and commits. Records and marker become
//!    visible together.
//! 5. When the producer is not there (the TaskManager process died, or Flink made a new class
//!    loader and so a new copy of the library), the committer reads the marker: offset `N` with
//!    the nonce, or a later offset, means the transaction committed before. Before reading it,
//!    the committer initialises the subtask's ids (its pool, the committable's, the replay id)
//!    that no producer of this process holds: a dead process may have left a transaction open
//!    on them, even halfway through its commit with the marker's offsets pending (the broker
//!    then refuses to answer the marker read, "unstable offset", until the transaction ends).
//!    Initialising ends them: a commit already begun completes, anything else is aborted and
//!    can never commit. If the marker then says not committed, the committer **replays** the
//!    records of the committable in a transaction of its own id `<prefix>-<s>-replay`, with the
//!    same marker, and commits that.
//! 6. A writer created for a restore from checkpoint `R` aborts the transactions of its subtask
//!    still open in the table (records written after `R`, which Flink replays from the sources),
//!    and those prepared for checkpoints after `R` (never completed); those prepared for `R` or
//!    before are left for the committer. Every id of its pool that has no producer in the table
//!    (the writer runs in a new process) is initialised at once: that fences a dead process's
//!    producer and aborts its open transaction, which would otherwise hold back all
//!    `read_committed` consumers of the partitions it wrote until `transaction.timeout.ms`.
//! 7. **Rescaling.** Each writer's state in a checkpoint is its subtask and the parallelism it
//!    ran at (versioned bytes, version 1; checkpoints from before carry no writer state). Flink
//!    hands every old writer's state to exactly one new writer. A writer restored at a lower
//!    parallelism `p` fences the writers that are gone, so that what they left open cannot hold
//!    back `read_committed` consumers: those whose state it received, and every removed subtask
//!    `q` (from `p` up to the largest old parallelism its states name) with `q % p` equal to its
//!    own index (when scaling down, every new writer receives some state, so each removed writer
//!    is fenced even if its own state went elsewhere). Fencing a removed writer `q` is step 6 done
//!    for `q`: transactions of `q` held by a producer of this process are aborted if open or
//!    prepared after `R`, and every id of `q`'s pool with no producer here is initialised (an
//!    open transaction is aborted; a commit already begun completes); then `q`'s idle producers
//!    are dropped. The replay id is left to the committer.
//!
//!    Committables of removed writers restored with `R` go to some committer, which commits
//!    them as in steps 4-5 whatever the order: if a writer fenced the id first, the prepared
//!    transaction was either committed (the marker says so) or aborted (the committer replays
//!    its records); if the committer holds the producer and its commit fails (e.g. fenced in
//!    between), it drops the producer and asks the marker, as in step 5. Within one task Flink
//!    initialises the committer, which commits the restored committables, before the writer.
//!
//!    Runs with no writer state to go by (a fresh start, a failure before the first checkpoint
//!    completed, a checkpoint from before writer states) rely on a record of the parallelism:
//!    before opening any transaction every writer reads the committed offset of consumer group
//!    `<prefix>-headrace-writers` (partition 0 of the first topic), the highest parallelism a
//!    run with this prefix started with, and raises it to its own parallelism if that is
//!    higher (a plain offset commit, outside transactions; never lowered). The removed writers
//!    are then counted from that parallelism as from the states' (`q % p`). So every start
//!    below the highest parallelism ever used with the prefix fences the ids of the writers
//!    above it again (about `pool size x (highest - p) / p` producer initialisations per writer
//!    and start). Left open: a replay transaction of a process that died while
//!    replaying, when the restore does not bring back its committable (a restore from an
//!    older checkpoint than the newest), ends at `transaction.timeout.ms`.
//!
//! Records are never lost and never committed twice, as seen by `read_committed` consumers,
//! through task failures (the producer is kept) and TaskManager process kills (the committable
//! is replayed). Limits: checkpoints carry the records of one checkpoint interval per subtask (a
//! job's checkpoint storage must hold them; Flink's in-JobManager storage allows 5 MB by
//! default); a writer's transaction stays open until its checkpoint completes, so it must not
//! outlive `transaction.timeout.ms` (replay then still writes its records); the prefix must be
//! unique per job; the committer of a subtask must run in the process of its writer for the
//! producer to be found (Flink chains them), else every commit is a replay.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use headrace_sdk::error::{Error, ErrorDomain, Result, Retry};
use headrace_sdk::state::VersionedBytes;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::client::{kafka_error, REQUEST_TIMEOUT};
use crate::sink::{
    lock, marker_client, transactional_producer, txn_error, KafkaSinkConfig, MarkerClient, Pending,
    SinkProducer,
};

/// What a producer of the table is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SlotState {
    /// No transaction: free for the next epoch.
    Idle,
    /// The transaction of this epoch is open and receiving records.
    Open(u64),
    /// The transaction of this epoch waits for its checkpoint to complete.
    Prepared(u64, String),
}

/// A transactional producer of the table.
struct Slot {
    producer: SinkProducer,
    id: String,
    state: Mutex<SlotState>,
}

/// The transactional producers of this copy of the library, by transactional id.
static LIVE: Mutex<BTreeMap<String, Arc<Slot>>> = Mutex::new(BTreeMap::new());

/// Commit-marker clients, by consumer group.
static MARKERS: Mutex<BTreeMap<String, Arc<MarkerClient>>> = Mutex::new(BTreeMap::new());

/// The per-subtask exactly-once machinery of one sink.
pub(crate) struct SubtaskTxns {
    cfg: Arc<KafkaSinkConfig>,
    prefix: String,
}

/// A record kept for replay.
pub(crate) struct KeptRecord {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// What a writer hands to the committer for one checkpoint.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SubtaskCommittable {
    epoch: u64,
    transactional_id: String,
    nonce: String,
    subtask: usize,
    /// The epoch's records ([`encode_records`]), base64.
    records: String,
}

const COMMITTABLE_VERSION: u32 = 1;
const COMMITTABLE_NAME: &str = "kafka subtask transaction";

/// A writer's state in the checkpoint: the subtask and parallelism it ran at. Checkpoints taken
/// before it existed carry no writer state (then no removed writer is known).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct SubtaskWriterState {
    subtask: usize,
    parallelism: usize,
}

const WRITER_STATE_VERSION: u32 = 1;
const WRITER_STATE_NAME: &str = "kafka subtask writer state";

/// The writers that existed at the checkpoint of `states` (the writer states a restored writer
/// received) or in an earlier run (`recorded_parallelism`, see
/// [`SubtaskTxns::record_parallelism`]) and are gone at `parallelism`, which writer `subtask`
/// must fence: those whose state it received, and, of all removed subtasks `q` (from
/// `parallelism` to the largest old parallelism it knows), those with `q % parallelism ==
/// subtask`. Flink hands every old writer's
/// state to exactly one new writer and, when scaling down, every new writer some state, so each
/// removed writer is fenced at least once.
fn removed_writers(
    subtask: usize,
    parallelism: usize,
    recorded_parallelism: usize,
    states: &[VersionedBytes],
) -> Result<Vec<usize>> {
    let parallelism = parallelism.max(1);
    let mut old_parallelism = recorded_parallelism;
    let mut out = std::collections::BTreeSet::new();
    for s in states {
        let st: SubtaskWriterState = s.decode(WRITER_STATE_VERSION, WRITER_STATE_NAME)?;
        old_parallelism = old_parallelism.max(st.parallelism).max(st.subtask + 1);
        if st.subtask >= parallelism {
            out.insert(st.subtask);
        }
    }
    out.extend((parallelism..old_parallelism).filter(|q| q % parallelism == subtask));
    Ok(out.into_iter().collect())
}

impl SubtaskTxns {
    /// The machinery for a sink with this configuration and transactional-id prefix.
    pub(crate) fn new(cfg: Arc<KafkaSinkConfig>, prefix: String) -> Self {
        SubtaskTxns { cfg, prefix }
    }

    fn subtask_prefix(&self, subtask: usize) -> String {
        format!("{}-{subtask}-", self.prefix)
    }

    /// Prepare for writer `subtask` restored from checkpoint `restored`: abort its transactions
    /// that the restore undoes (open ones, and prepared ones of later checkpoints).
    pub(crate) fn start_writer(&self, subtask: usize, restored: u64) -> Result<()> {
        let prefix = self.subtask_prefix(subtask);
        let mut live = lock(&LIVE)?;
        let ids: Vec<String> = live
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            let Some(slot) = live.get(&id).cloned() else {
                continue;
            };
            let mut st = lock(&slot.state)?;
            let undo = match &*st {
                SlotState::Idle => false,
                SlotState::Open(_) => true,
                SlotState::Prepared(e, _) => *e > restored,
            };
            if !undo {
                continue;
            }
            tracing::info!(
                "{}: aborting transaction {:?} of '{id}' (restored from checkpoint {restored})",
                self.cfg.settings.context,
                *st
            );
            match slot.producer.abort_transaction(REQUEST_TIMEOUT) {
                Ok(()) => *st = SlotState::Idle,
                Err(e) => {
                    // A new producer for the id will fence the old one and abort its transaction.
                    tracing::warn!(
                        "{}: cannot abort the transaction of '{id}' ({e}); replacing its producer",
                        self.cfg.settings.context
                    );
                    drop(st);
                    live.remove(&id);
                }
            }
        }
        // Ids of the pool with no producer here: a previous process (a killed TaskManager) may
        // have left a transaction open on them, which would hold back every read_committed
        // consumer of the partitions it wrote until it times out. Initialising the id fences
        // that producer and aborts the transaction (a prepared one is then replayed by the
        // committer from its committable).
        for i in 0..self.cfg.subtask_pool_size.max(1) {
            let id = format!("{prefix}{i}");
            if live.contains_key(&id) {
                continue;
            }
            let slot = Arc::new(Slot {
                producer: self.new_producer(&id)?,
                id: id.clone(),
                state: Mutex::new(SlotState::Idle),
            });
            live.insert(id, slot);
        }
        Ok(())
    }

    /// Drop the idle producers of `subtask` (its writer closes; prepared ones stay for the
    /// committer).
    pub(crate) fn close_writer(&self, subtask: usize) {
        let prefix = self.subtask_prefix(subtask);
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|k, s| {
                !k.starts_with(&prefix)
                    || s.state
                        .lock()
                        .map(|g| *g != SlotState::Idle)
                        .unwrap_or(true)
            });
        }
    }

    fn new_producer(&self, id: &str) -> Result<SinkProducer> {
        transactional_producer(&self.cfg, id)
    }

    /// For a writer restored from checkpoint `restored` at a lower parallelism: end the
    /// transactions of the removed writer `subtask` that the restore undoes, as that writer
    /// itself would ([`SubtaskTxns::start_writer`]: its ids with no producer here are
    /// initialised, which aborts what a dead producer left open; transactions prepared for
    /// `restored` or before stay for the committer), then drop its idle producers (no writer
    /// uses them any more).
    pub(crate) fn fence_removed_writer(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: u64,
    ) -> Result<()> {
        tracing::info!(
            "{}: writer {subtask} is gone (parallelism now {parallelism}): fencing its \
             transactional ids '{}*' (restored from checkpoint {restored})",
            self.cfg.settings.context,
            self.subtask_prefix(subtask)
        );
        self.start_writer(subtask, restored)?;
        self.close_writer(subtask);
        Ok(())
    }

    /// A producer of `subtask` with the transaction of `epoch` begun.
    fn begin(&self, subtask: usize, epoch: u64) -> Result<Arc<Slot>> {
        let pool = self.cfg.subtask_pool_size.max(1);
        let mut live = lock(&LIVE)?;
        let mut busy = Vec::new();
        for i in 0..pool {
            let id = format!("{}{i}", self.subtask_prefix(subtask));
            let slot = match live.get(&id) {
                Some(s) => s.clone(),
                None => {
                    let s = Arc::new(Slot {
                        producer: self.new_producer(&id)?,
                        id: id.clone(),
                        state: Mutex::new(SlotState::Idle),
                    });
                    live.insert(id.clone(), s.clone());
                    s
                }
            };
            let mut st = lock(&slot.state)?;
            if *st != SlotState::Idle {
                busy.push(format!("'{id}': {:?}", *st));
                continue;
            }
            slot.producer
                .begin_transaction()
                .map_err(|e| txn_error(&self.cfg, &id, "cannot begin a transaction", e))?;
            *st = SlotState::Open(epoch);
            drop(st);
            return Ok(slot);
        }
        Err(Error::Connector {
            message: format!(
                "{}: writer {subtask} needs a transactional id for checkpoint {epoch}, but all \
                 {pool} of its ids hold transactions of checkpoints not yet committed ({}). \
                 Raise 'headrace.sink.transactional-id-pool-size' (checkpoints that fail leave \
                 their transactions waiting for the next completed one)",
                self.cfg.settings.context,
                busy.join(", ")
            ),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: None,
        })
    }

    fn marker(&self, subtask: usize) -> Result<Arc<MarkerClient>> {
        self.group_client(format!("{}-headrace-commits-{subtask}", self.prefix))
    }

    fn group_client(&self, group: String) -> Result<Arc<MarkerClient>> {
        let mut m = lock(&MARKERS)?;
        if let Some(c) = m.get(&group) {
            return Ok(c.clone());
        }
        let c = Arc::new(marker_client(&self.cfg, group.clone())?);
        m.insert(group, c.clone());
        Ok(c)
    }

    /// Add the marker of `epoch` to `producer`'s transaction and commit it.
    fn commit_with_marker(
        &self,
        producer: &SinkProducer,
        id: &str,
        subtask: usize,
        epoch: u64,
        nonce: &str,
    ) -> Result<()> {
        let marker = self.marker(subtask)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&marker.topic, 0, Offset::Offset(epoch as i64))
            .map_err(|e| kafka_error(&self.cfg.settings, "cannot build the commit marker", e))?;
        if let Some(mut e) = tpl.find_partition(&marker.topic, 0) {
            e.set_metadata(nonce);
        }
        producer
            .send_offsets_to_transaction(&tpl, &marker.metadata, REQUEST_TIMEOUT)
            .map_err(|e| {
                txn_error(
                    &self.cfg,
                    id,
                    "cannot add the commit marker to the transaction",
                    e,
                )
            })?;
        producer
            .commit_transaction(REQUEST_TIMEOUT)
            .map_err(|e| txn_error(&self.cfg, id, "cannot commit the transaction", e))
    }

    /// Whether the marker of `subtask` says the transaction of `epoch` with `nonce` committed.
    fn marker_says_committed(&self, subtask: usize, epoch: u64, nonce: &str) -> Result<bool> {
        let (offset, meta) = self.group_offset(&*self.marker(subtask)?)?;
        Ok(match offset {
            Some(o) if o > epoch as i64 => true,
            Some(o) if o == epoch as i64 => meta == nonce,
            _ => false,
        })
    }

    /// The highest writer parallelism an earlier run with this prefix recorded (0: none), after
    /// recording `parallelism` if it is higher. The record is the committed offset of consumer
    /// group `<prefix>-headrace-writers` for partition 0 of the first topic, written outside
    /// any transaction before the writer opens one, and never lowered.
    fn record_parallelism(&self, parallelism: usize) -> Result<usize> {
        let client = self.group_client(format!("{}-headrace-writers", self.prefix))?;
        let recorded = match self.group_offset(&client)?.0 {
            Some(o) if o > 0 => usize::try_from(o).unwrap_or(usize::MAX),
            _ => 0,
        };
        if parallelism > recorded {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&client.topic, 0, Offset::Offset(parallelism as i64))
                .map_err(|e| {
                    kafka_error(&self.cfg.settings, "cannot build the writer record", e)
                })?;
            self.retry_coordinator(&client, || {
                client
                    .consumer
                    .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
            })
            .map_err(|e| {
                kafka_error(
                    &self.cfg.settings,
                    &format!(
                        "cannot record the writer parallelism in consumer group '{}'",
                        client.group
                    ),
                    e,
                )
            })?;
        }
        Ok(recorded)
    }

    /// Run `f`, again while the group's coordinator is loading or moving (e.g. the first group
    /// of a new broker: librdkafka reports that at once), for up to the request timeout.
    fn retry_coordinator<T>(
        &self,
        client: &MarkerClient,
        mut f: impl FnMut() -> std::result::Result<T, KafkaError>,
    ) -> std::result::Result<T, KafkaError> {
        let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            match f() {
                Err(e)
                    if matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotCoordinator
                                | RDKafkaErrorCode::CoordinatorLoadInProgress
                                | RDKafkaErrorCode::CoordinatorNotAvailable
                        )
                    ) && std::time::Instant::now() < deadline =>
                {
                    tracing::debug!(
                        "{}: consumer group '{}': {e}; retrying",
                        self.cfg.settings.context,
                        client.group
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                r => return r,
            }
        }
    }

    /// The committed offset (if any) and its metadata of `client`'s group for partition 0 of
    /// its topic.
    fn group_offset(&self, marker: &MarkerClient) -> Result<(Option<i64>, String)> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&marker.topic, 0);
        let c = self
            .retry_coordinator(marker, || {
                marker
                    .consumer
                    .committed_offsets(tpl.clone(), REQUEST_TIMEOUT)
            })
            .map_err(|e| {
                kafka_error(
                    &self.cfg.settings,
                    &format!(
                        "cannot read the offset of consumer group '{}'",
                        marker.group
                    ),
                    e,
                )
            })?;
        Ok(match c.find_partition(&marker.topic, 0) {
            Some(e) => (
                match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                },
                e.metadata().to_string(),
            ),
            None => (None, String::new()),
        })
    }

    /// Commit the committables of completed checkpoints (idempotent; see the module docs).
    pub(crate) fn commit(&self, committables: &[VersionedBytes]) -> Result<()> {
        let mut all: Vec<SubtaskCommittable> = committables
            .iter()
            .map(|c| c.decode(COMMITTABLE_VERSION, COMMITTABLE_NAME))
            .collect::<Result<_>>()?;
        all.sort_by_key(|c| (c.subtask, c.epoch));
        for c in all {
            self.commit_one(&c)?;
        }
        Ok(())
    }

    fn commit_one(&self, c: &SubtaskCommittable) -> Result<()> {
        let live = lock(&LIVE)?.get(&c.transactional_id).cloned();
        if let Some(slot) = live {
            let mut st = lock(&slot.state)?;
            if *st == SlotState::Prepared(c.epoch, c.nonce.clone()) {
                match self.commit_with_marker(
                    &slot.producer,
                    &slot.id,
                    c.subtask,
                    c.epoch,
                    &c.nonce,
                ) {
                    Ok(()) => {
                        *st = SlotState::Idle;
                        tracing::info!(
                            "{}: committed the transaction of checkpoint {} ('{}')",
                            self.cfg.settings.context,
                            c.epoch,
                            slot.id
                        );
                        return Ok(());
                    }
                    Err(e) => {
                        // E.g. fenced by a writer that took over the id. Whether the commit
                        // happened is unknown: drop the producer and ask the marker below
                        // (after a new producer for the id has ended the transaction).
                        tracing::warn!(
                            "{}: committing the transaction of checkpoint {} ('{}') failed \
                             ({e}); checking its commit marker instead",
                            self.cfg.settings.context,
                            c.epoch,
                            slot.id
                        );
                        drop(st);
                        let mut live = lock(&LIVE)?;
                        if live.get(&slot.id).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                            live.remove(&slot.id);
                        }
                    }
                }
            }
        }
        // Not committable here. A process that died may have left a transaction open on this
        // subtask's ids, possibly in the middle of its commit with the marker's offsets pending
        // on the marker group: then the marker cannot even be read (the broker answers "unstable
        // offset" until that transaction ends) and the transaction could still commit later.
        // Initialise every such id that no producer of this process holds: that ends those
        // transactions (a commit already begun is completed by the broker, anything else is
        // aborted). Then the marker tells the truth and a replay is safe.
        self.fence_absent(c)?;
        if self.committed_earlier(c)? {
            return Ok(());
        }
        self.replay(c)
    }

    /// Initialise the ids of `c`'s subtask (its pool, the committable's own, the replay id) that
    /// have no producer in this process.
    fn fence_absent(&self, c: &SubtaskCommittable) -> Result<()> {
        let prefix = self.subtask_prefix(c.subtask);
        let mut ids: Vec<String> = (0..self.cfg.subtask_pool_size.max(1))
            .map(|i| format!("{prefix}{i}"))
            .collect();
        if !ids.contains(&c.transactional_id) {
            ids.push(c.transactional_id.clone());
        }
        for id in ids {
            let mut live = lock(&LIVE)?;
            if live.contains_key(&id) {
                continue;
            }
            let slot = Arc::new(Slot {
                producer: self.new_producer(&id)?,
                id: id.clone(),
                state: Mutex::new(SlotState::Idle),
            });
            live.insert(id, slot);
        }
        // The replay id: a producer initialised and dropped (replay makes its own).
        drop(self.new_producer(&format!("{prefix}replay"))?);
        Ok(())
    }

    fn committed_earlier(&self, c: &SubtaskCommittable) -> Result<bool> {
        let yes = self.marker_says_committed(c.subtask, c.epoch, &c.nonce)?;
        if yes {
            tracing::info!(
                "{}: the transaction of checkpoint {} of writer {} committed earlier",
                self.cfg.settings.context,
                c.epoch,
                c.subtask
            );
        }
        Ok(yes)
    }

    /// Write the records of a lost transaction again, in a transaction of the subtask's replay
    /// id, with the marker.
    fn replay(&self, c: &SubtaskCommittable) -> Result<()> {
        let records = base64::engine::general_purpose::STANDARD
            .decode(&c.records)
            .map_err(|e| Error::Serde {
                what: COMMITTABLE_NAME.into(),
                reason: format!("records: {e}"),
            })
            .and_then(|b| decode_records(&b))?;
        let id = format!("{}replay", self.subtask_prefix(c.subtask));
        tracing::warn!(
            "{}: the transaction of checkpoint {} of writer {} ('{}') was lost (its producer is \
             gone and its marker is absent): writing its {} records again as '{id}'",
            self.cfg.settings.context,
            c.epoch,
            c.subtask,
            c.transactional_id,
            records.len()
        );
        let producer = self.new_producer(&id)?;
        producer
            .begin_transaction()
            .map_err(|e| txn_error(&self.cfg, &id, "cannot begin a transaction", e))?;
        for r in &records {
            send_kept(&self.cfg, &producer, r)?;
        }
        producer
            .flush(Duration::from_secs(300))
            .map_err(|e| kafka_error(&self.cfg.settings, "cannot flush replayed records", e))?;
        let failed = producer.context().state.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let _ = producer.abort_transaction(REQUEST_TIMEOUT);
            return Err(Error::Connector {
                message: format!(
                    "{}: {failed} replayed record(s) of checkpoint {} could not be delivered",
                    self.cfg.settings.context, c.epoch
                ),
                domain: ErrorDomain::External,
                retry: Retry::Backoff,
                source: None,
            });
        }
        self.commit_with_marker(&producer, &id, c.subtask, c.epoch, &c.nonce)?;
        tracing::info!(
            "{}: replayed and committed checkpoint {} of writer {}",
            self.cfg.settings.context,
            c.epoch,
            c.subtask
        );
        Ok(())
    }
}

/// The exactly-once state of one writer.
pub(crate) struct SubtaskWriter {
    txns: Arc<SubtaskTxns>,
    subtask: usize,
    parallelism: usize,
    epoch: u64,
    slot: Option<Arc<Slot>>,
    kept: Vec<KeptRecord>,
}

impl SubtaskWriter {
    /// The writer of `subtask` of `parallelism`, restored from checkpoint `restored` (0: fresh)
    /// with the writer states `restored_state` (its share of the checkpoint's, by Flink's
    /// redistribution). Before it writes, the transactions of its own ids that the restore undoes
    /// end, and so do those of the writers the restore removed (a lower parallelism).
    pub(crate) fn new(
        txns: Arc<SubtaskTxns>,
        subtask: usize,
        parallelism: usize,
        restored: u64,
        restored_state: &[VersionedBytes],
    ) -> Result<Self> {
        let recorded = txns.record_parallelism(parallelism)?;
        let removed = removed_writers(subtask, parallelism, recorded, restored_state)?;
        txns.start_writer(subtask, restored)?;
        for q in removed {
            txns.fence_removed_writer(q, parallelism, restored)?;
        }
        Ok(SubtaskWriter {
            txns,
            subtask,
            parallelism,
            epoch: restored + 1,
            slot: None,
            kept: Vec::new(),
        })
    }

    /// The producer of the current epoch's transaction, begun on first use.
    pub(crate) fn producer(&mut self) -> Result<&SinkProducer> {
        if self.slot.is_none() {
            self.slot = Some(self.txns.begin(self.subtask, self.epoch)?);
        }
        self.slot
            .as_ref()
            .map(|s| &s.producer)
            .ok_or_else(|| Error::internal("no transactional producer"))
    }

    /// The producer a flush waits for (none when nothing was written in the epoch).
    pub(crate) fn flush_target(&self) -> Option<SinkProducer> {
        self.slot.as_ref().map(|s| s.producer.clone())
    }

    /// Keep a sent record for replay.
    pub(crate) fn keep(&mut self, p: &Pending, keyed: bool) {
        self.kept.push(KeptRecord {
            topic: p.topic.clone(),
            key: (keyed || !p.key.is_empty()).then(|| p.key.clone()),
            value: p.value.clone(),
            partition: p.partition,
            timestamp: p.timestamp,
            headers: p
                .headers
                .as_ref()
                .map(|h| {
                    h.iter()
                        .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }

    /// Close the epoch at checkpoint `checkpoint` (records already flushed): its committable.
    pub(crate) fn prepare(&mut self, checkpoint: u64) -> Result<Vec<VersionedBytes>> {
        let slot = self.slot.take();
        let kept = std::mem::take(&mut self.kept);
        self.epoch = checkpoint + 1;
        let Some(slot) = slot else {
            return Ok(Vec::new());
        };
        let nonce = format!(
            "{}-{}-{}-{}",
            std::process::id(),
            self.subtask,
            checkpoint,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        *lock(&slot.state)? = SlotState::Prepared(checkpoint, nonce.clone());
        let c = SubtaskCommittable {
            epoch: checkpoint,
            transactional_id: slot.id.clone(),
            nonce,
            subtask: self.subtask,
            records: base64::engine::general_purpose::STANDARD.encode(encode_records(&kept)),
        };
        Ok(vec![VersionedBytes::encode(
            COMMITTABLE_VERSION,
            COMMITTABLE_NAME,
            &c,
        )?])
    }

    /// The writer's state for a checkpoint: its subtask and parallelism.
    pub(crate) fn state(&self) -> Result<Vec<VersionedBytes>> {
        let st = SubtaskWriterState {
            subtask: self.subtask,
            parallelism: self.parallelism,
        };
        Ok(vec![VersionedBytes::encode(
            WRITER_STATE_VERSION,
            WRITER_STATE_NAME,
            &st,
        )?])
    }

    /// The writer closes.
    pub(crate) fn close(&mut self) {
        self.txns.close_writer(self.subtask);
    }
}

fn send_kept(cfg: &KafkaSinkConfig, producer: &SinkProducer, r: &KeptRecord) -> Result<()> {
    let mut headers = None;
    if !r.headers.is_empty() {
        let mut h = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            h = h.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        headers = Some(h);
    }
    let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&r.topic);
    if let Some(k) = &r.key {
        rec = rec.key(&k[..]);
    }
    if let Some(v) = &r.value {
        rec = rec.payload(&v[..]);
    }
    if let Some(p) = r.partition {
        rec = rec.partition(p);
    }
    if let Some(ts) = r.timestamp {
        rec = rec.timestamp(ts);
    }
    if let Some(h) = headers {
        rec = rec.headers(h);
    }
    let mut waited = Duration::ZERO;
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                if waited < Duration::from_secs(300) =>
            {
                rec = back;
                std::thread::sleep(Duration::from_millis(1));
                waited += Duration::from_millis(1);
            }
            Err((e, _)) => {
                return Err(kafka_error(
                    &cfg.settings,
                    &format!("cannot replay a record to topic '{}'", r.topic),
                    e,
                ))
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

/// Records as bytes: per record topic, key, value (length-prefixed, `u32::MAX` for none),
/// partition and timestamp (a presence byte and the value), headers (count, then key, value).
fn encode_records(records: &[KeptRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        put_bytes(&mut out, Some(r.topic.as_bytes()));
        put_bytes(&mut out, r.key.as_deref());
        put_bytes(&mut out, r.value.as_deref());
        match r.partition {
            Some(p) => {
                out.push(1);
                out.extend_from_slice(&p.to_le_bytes());
            }
            None => out.push(0),
        }
        match r.timestamp {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(r.headers.len() as u32).to_le_bytes());
        for (k, v) in &r.headers {
            put_bytes(&mut out, Some(k.as_bytes()));
            put_bytes(&mut out, v.as_deref());
        }
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(Error::Serde {
                what: COMMITTABLE_NAME.into(),
                reason: "the kept records end early".into(),
            });
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Option<Vec<u8>>> {
        let n = self.u32()?;
        if n == u32::MAX {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?.to_vec()))
    }
    fn string(&mut self) -> Result<String> {
        let b = self.bytes()?.unwrap_or_default();
        String::from_utf8(b).map_err(|e| Error::Serde {
            what: COMMITTABLE_NAME.into(),
            reason: e.to_string(),
        })
    }
    fn flag(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }
}

fn decode_records(b: &[u8]) -> Result<Vec<KeptRecord>> {
    let mut r = Reader { b };
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let topic = r.string()?;
        let key = r.bytes()?;
        let value = r.bytes()?;
        let partition = if r.flag()? {
            let mut a = [0u8; 4];
            a.copy_from_slice(r.take(4)?);
            Some(i32::from_le_bytes(a))
        } else {
            None
        };
        let timestamp = if r.flag()? {
            let mut a = [0u8; 8];
            a.copy_from_slice(r.take(8)?);
            Some(i64::from_le_bytes(a))
        } else {
            None
        };
        let h = r.u32()? as usize;
        let mut headers = Vec::with_capacity(h.min(1024));
        for _ in 0..h {
            headers.push((r.string()?, r.bytes()?));
        }
        out.push(KeptRecord {
            topic,
            key,
            value,
            partition,
            timestamp,
            headers,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use headrace_integration_tests::kafka::Kafka;
    use headrace_sdk::changelog::ChangelogBatch;
    use headrace_sdk::sink::{
        DeliveryGuaranteeOption, DynamicSink, SinkMetrics, SinkWriter, WriterContext,
    };

    /// What the broker tests drive: a broker, the topic `subtask-<name>-<pid>` (2 partitions), an
    /// exactly-once sink of JSON `id BIGINT` rows to it with per-subtask transactions (prefix
    /// `<name>-<pid>`), and a runtime to run its writers and committer on.
    struct Fixture {
        kafka: Kafka,
        topic: String,
        sink: Arc<dyn DynamicSink>,
        rt: tokio::runtime::Runtime,
    }

    /// Starts (or reuses) the broker and sets up the [`Fixture`] of test `name`.
    fn fixture(name: &str) -> Fixture {
        let kafka = headrace_integration_tests::kafka::start()
            .unwrap_or_else(|e| panic!("Kafka for the {name} test: {e}"));
        let topic = format!("subtask-{name}-{}", std::process::id());
        kafka.create_topic(&topic, 2).unwrap();
        crate::sink::use_per_subtask_transactions();
        let mut reg = headrace_sdk::registry::Registry::new();
        reg.register_format(headrace_format_json::factory());
        let sink = crate::KafkaSink::builder()
            .bootstrap_servers(kafka.bootstrap_servers())
            .topics(vec![topic.clone()])
            .value_format("json")
            .columns("id BIGINT")
            .unwrap()
            .registry(reg)
            .delivery_guarantee(DeliveryGuaranteeOption::ExactlyOnce)
            .transactional_id_prefix(format!("{name}-{}", std::process::id()))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Fixture {
            kafka,
            topic,
            sink,
            rt,
        }
    }

    /// The context of writer `subtask` of `parallelism`, restored from checkpoint `restored`
    /// (0: none) with `restored_state`.
    fn ctx(
        subtask: usize,
        parallelism: usize,
        restored: u64,
        restored_state: Vec<VersionedBytes>,
    ) -> WriterContext {
        WriterContext {
            subtask,
            parallelism,
            restored_state,
            restored_checkpoint_id: restored,
            metrics: Arc::new(SinkMetrics::default()),
        }
    }

    /// Writes the rows of `ids` and flushes them (into the writer's open transaction).
    async fn write_ids(
        w: &mut dyn SinkWriter,
        sink: &dyn DynamicSink,
        ids: std::ops::RangeInclusive<i64>,
    ) {
        let ids = Int64Array::from(ids.collect::<Vec<i64>>());
        let batch = RecordBatch::try_new(sink.consumed_schema(), vec![Arc::new(ids)]).unwrap();
        w.write(ChangelogBatch { batch, kinds: None })
            .await
            .unwrap();
        w.flush(false).await.unwrap();
    }

    /// A transaction prepared by a writer whose process then died (its producer is gone from
    /// the table) is fenced by the next writer and replayed by the committer from the records
    /// in its committable: a read_committed reader (Kafka's console consumer) sees every record
    /// once, and committing the same committable again changes nothing.
    #[test]
    fn lost_transaction_is_replayed_once() {
        let Fixture {
            kafka,
            topic,
            sink,
            rt,
        } = fixture("replay");
        let committables = rt.block_on(async {
            let mut w = sink.create_writer(ctx(0, 1, 0, Vec::new())).unwrap();
            write_ids(w.as_mut(), sink.as_ref(), 1..=100).await;
            w.prepare_commit(1).await.unwrap()
        });
        assert_eq!(committables.len(), 1);
        // The process "dies": its producers are gone without committing.
        lock(&LIVE).unwrap().clear();
        rt.block_on(async {
            // The restored writer fences the dead producers' ids (aborting the open transaction)
            // and the committer replays the records.
            let _w = sink.create_writer(ctx(0, 1, 1, Vec::new())).unwrap();
            let mut c = sink.create_committer().unwrap().expect("a committer");
            c.commit(1, committables.clone()).await.unwrap();
            c.commit(1, committables.clone()).await.unwrap();
        });
        let values = kafka
            .consume(&topic, 1000, Duration::from_secs(10))
            .unwrap();
        let mut ids: Vec<i64> = values
            .iter()
            .map(|v| {
                serde_json::from_str::<serde_json::Value>(v).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=100).collect::<Vec<i64>>());
    }

    fn writer_state(subtask: usize, parallelism: usize) -> VersionedBytes {
        VersionedBytes::encode(
            WRITER_STATE_VERSION,
            WRITER_STATE_NAME,
            &SubtaskWriterState {
                subtask,
                parallelism,
            },
        )
        .unwrap()
    }

    #[test]
    fn removed_writers_are_shared_among_the_remaining_ones() {
        // 5 -> 2: writer 0 gets the states of 0, 1, 2 and writer 1 those of 3, 4 (4 is fenced by
        // both: by its state and by 4 % 2 == 0).
        let s0 = [writer_state(0, 5), writer_state(1, 5), writer_state(2, 5)];
        let s1 = [writer_state(3, 5), writer_state(4, 5)];
        assert_eq!(removed_writers(0, 2, 0, &s0).unwrap(), vec![2, 4]);
        assert_eq!(removed_writers(1, 2, 0, &s1).unwrap(), vec![3, 4]);
        // 2 -> 1: writer 0 gets both states.
        let both = [writer_state(0, 2), writer_state(1, 2)];
        assert_eq!(removed_writers(0, 1, 0, &both).unwrap(), vec![1]);
        // Same or higher parallelism, or no state (a checkpoint before writer states existed).
        assert!(removed_writers(0, 2, 0, &both).unwrap().is_empty());
        assert!(removed_writers(2, 3, 0, &[writer_state(1, 2)])
            .unwrap()
            .is_empty());
        assert!(removed_writers(0, 1, 0, &[]).unwrap().is_empty());
        // No state, but an earlier run recorded parallelism 5 for the prefix.
        assert_eq!(removed_writers(0, 1, 5, &[]).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(removed_writers(1, 2, 5, &[]).unwrap(), vec![3]);
        assert!(removed_writers(0, 2, 2, &[]).unwrap().is_empty());
        // A newer state version is refused, not misread.
        let newer = VersionedBytes {
            version: WRITER_STATE_VERSION + 1,
            bytes: b"{}".to_vec(),
        };
        assert!(removed_writers(0, 1, 0, &[newer]).is_err());
    }

    /// Whether a read_committed consumer of every partition of `topic` reaches the high
    /// watermark within `timeout`: false while a transaction is left open on one of them (the
    /// last stable offset stays behind).
    fn read_committed_reaches_the_end(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        timeout: Duration,
    ) -> bool {
        use rdkafka::consumer::BaseConsumer;
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("lso-check-{}", std::process::id()))
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        // The high watermark as a read_uncommitted client sees it (a read_committed one is told
        // the last stable offset).
        let uncommitted: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("isolation.level", "read_uncommitted")
            .create()
            .unwrap();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(200));
            let pos = consumer.position().unwrap();
            let at_end = (0..partitions).all(|p| {
                let (_, high) = uncommitted
                    .fetch_watermarks(topic, p, Duration::from_secs(5))
                    .unwrap();
                matches!(
                    pos.find_partition(topic, p).map(|e| e.offset()),
                    Some(Offset::Offset(o)) if o >= high
                ) || high == 0
            });
            if at_end {
                return true;
            }
        }
        false
    }

    /// Scaling down 2 -> 1 after a crash: writer 1 left records in a transaction opened after
    /// the last checkpoint. The restored writer 0, given both writers' states, fences writer 1's
    /// ids, which aborts that transaction: read_committed consumers reach the end of the topic
    /// at once instead of after the 15-minute transaction timeout.
    #[test]
    fn scale_down_fences_the_removed_writers_open_transaction() {
        scale_down(true);
    }

    /// As above with no checkpoint to restore (the first one never completed): the parallelism
    /// the first run recorded for the prefix tells the new writer which writers are gone.
    #[test]
    fn fresh_start_at_lower_parallelism_fences_the_earlier_runs_writers() {
        scale_down(false);
    }

    fn scale_down(from_checkpoint: bool) {
        let Fixture {
            kafka,
            topic,
            sink,
            rt,
        } = fixture(&format!("scale-down-{from_checkpoint}"));
        let states = rt.block_on(async {
            let mut w0 = sink.create_writer(ctx(0, 2, 0, Vec::new())).unwrap();
            let mut w1 = sink.create_writer(ctx(1, 2, 0, Vec::new())).unwrap();
            // Checkpoint 1, with nothing written yet.
            let mut states = Vec::new();
            for w in [&mut w0, &mut w1] {
                w.flush(false).await.unwrap();
                assert!(w.prepare_commit(1).await.unwrap().is_empty());
                states.extend(w.snapshot_state(1).unwrap());
            }
            // Writer 1 writes into a transaction of checkpoint 2, then its process dies.
            write_ids(w1.as_mut(), sink.as_ref(), 1..=50).await;
            // Neither aborted nor committed: the producer just stops (as in a killed process).
            std::mem::forget(w1);
            drop(w0);
            states
        });
        assert_eq!(states.len(), 2);
        lock(&LIVE).unwrap().clear();
        assert!(
            !read_committed_reaches_the_end(
                kafka.bootstrap_servers(),
                &topic,
                2,
                Duration::from_secs(3)
            ),
            "the dead writer's open transaction should hold back read_committed readers"
        );
        // Restore from checkpoint 1 at parallelism 1, or start afresh at parallelism 1.
        let _w = if from_checkpoint {
            sink.create_writer(ctx(0, 1, 1, states)).unwrap()
        } else {
            sink.create_writer(ctx(0, 1, 0, Vec::new())).unwrap()
        };
        assert!(
            read_committed_reaches_the_end(
                kafka.bootstrap_servers(),
                &topic,
                2,
                Duration::from_secs(30)
            ),
            "writer 1's transaction is still open after the restore at parallelism 1"
        );
        assert!(kafka
            .consume(&topic, 100, Duration::from_secs(5))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn kept_records_round_trip() {
        let recs = vec![
            KeptRecord {
                topic: "t".into(),
                key: Some(b"k".to_vec()),
                value: None,
                partition: Some(3),
                timestamp: Some(-5),
                headers: vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)],
            },
            KeptRecord {
                topic: "u".into(),
                key: None,
                value: Some(Vec::new()),
                partition: None,
                timestamp: None,
                headers: vec![],
            },
        ];
        let back = decode_records(&encode_records(&recs)).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].topic, "t");
        assert_eq!(back[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(back[0].value, None);
        assert_eq!(back[0].partition, Some(3));
        assert_eq!(back[0].timestamp, Some(-5));
        assert_eq!(back[0].headers[1], ("n".to_string(), None));
        assert_eq!(back[1].key, None);
        assert_eq!(back[1].value.as_deref(), Some(&b""[..]));
        assert!(decode_records(&encode_records(&recs)[..7]).is_err());
    }
}
