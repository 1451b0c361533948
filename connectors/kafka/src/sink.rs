//! The Kafka sink: at-least-once by flushing at checkpoints, exactly-once with transactions.
//!
//! See the crate documentation for the exactly-once protocol, and [`crate::subtask_txn`] for the
//! per-subtask one used under Flink.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, MapArray, RecordBatch};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType as ArrowType, Int64Type, SchemaRef, TimeUnit};
use async_trait::async_trait;
use headrace_sdk::bad_records::{encode_with_policy, BadRecords};
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode, RowKind};
use headrace_sdk::error::{Error, ErrorDomain, Result, Retry};
use headrace_sdk::factory::FormatHandle;
use headrace_sdk::format::Encoder;
use headrace_sdk::sink::{
    CommitRecovery, Committer, DeliveryGuarantee, DynamicSink, SinkMetrics, SinkWriter,
    WriterContext,
};
use headrace_sdk::state::VersionedBytes;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientContext, Message};
use serde::{Deserialize, Serialize};

use crate::client::{kafka_error, topic_partitions, ClientSettings, REQUEST_TIMEOUT};
use crate::layout::{ColumnSource, Layout, MetaKey};
use crate::options::SinkPartitioner;
use crate::subtask_txn::{SubtaskTxns, SubtaskWriter};

/// Everything a Kafka sink needs.
#[derive(Debug)]
pub struct KafkaSinkConfig {
    /// Client settings (`properties.*`).
    pub settings: ClientSettings,
    /// Topics (the first is the default).
    pub topics: Vec<String>,
    /// Columns, key and value.
    pub layout: Layout,
    /// The key format.
    pub key_format: Option<FormatHandle>,
    /// The value format.
    pub value_format: FormatHandle,
    /// How partitions are chosen.
    pub partitioner: SinkPartitioner,
    /// The delivery guarantee.
    pub guarantee: DeliveryGuarantee,
    /// Prefix of transactional ids (exactly-once).
    pub transactional_id_prefix: Option<String>,
    /// Size of the transactional id pool.
    pub pool_size: usize,
    /// Size of each writer's pool under per-subtask transactions (an engine whose committer
    /// commits each writer's committables alone, Flink through the bridge): the option's value
    /// when it is set, else [`SUBTASK_DEFAULT_POOL_SIZE`].
    pub subtask_pool_size: usize,
    /// `sink.parallelism`.
    pub parallelism: Option<usize>,
    /// upsert-kafka semantics.
    pub upsert: bool,
    /// upsert-kafka buffering: rows per key kept before sending (0: off).
    pub buffer_max_rows: usize,
    /// upsert-kafka buffering: send at least this often.
    pub buffer_interval: Duration,
}

/// The per-subtask pool size when `headrace.sink.transactional-id-pool-size` is not set. Flink
/// keeps the committables of a checkpoint that failed or was declined until the next one
/// completes, so their transactions stay open meanwhile: with a region restart of another
/// subtask two checkpoints in a row can fail, which a pool of 2 cannot survive. Five ids carry a
/// writer through three failed checkpoints in a row.
pub const SUBTASK_DEFAULT_POOL_SIZE: usize = 5;

/// A Kafka table sink.
pub struct KafkaSink {
    cfg: Arc<KafkaSinkConfig>,
    txn: Option<Arc<TxnPool>>,
    subtask_txns: Option<Arc<SubtaskTxns>>,
}

/// Whether exactly-once sinks created from now on use per-subtask transactions.
static PER_SUBTASK_TRANSACTIONS: AtomicBool = AtomicBool::new(false);

/// Make exactly-once sinks created from now on (in this copy of the library) use one transaction
/// per writer subtask and checkpoint, committed by each subtask's committables alone, with the
/// records kept in the committable for a replay ([`crate::subtask_txn`]). The Flink bridge calls
/// it: Flink's committer cannot fall back to an older checkpoint when a transaction was lost.
/// Headrace's own runner keeps the default, one transaction per checkpoint shared by all writers
/// (crate documentation).
pub fn use_per_subtask_transactions() {
    PER_SUBTASK_TRANSACTIONS.store(true, Ordering::SeqCst);
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topics", &self.cfg.topics)
            .field("guarantee", &self.cfg.guarantee)
            .finish()
    }
}

impl KafkaSink {
    /// A sink from its configuration.
    pub fn new(cfg: KafkaSinkConfig) -> Self {
        let cfg = Arc::new(cfg);
        let per_subtask = PER_SUBTASK_TRANSACTIONS.load(Ordering::SeqCst);
        let subtask_txns = match (&cfg.guarantee, &cfg.transactional_id_prefix) {
            (DeliveryGuarantee::ExactlyOnce, Some(p)) if per_subtask => {
                Some(Arc::new(SubtaskTxns::new(cfg.clone(), p.clone())))
            }
            _ => None,
        };
        let txn = match (&cfg.guarantee, &cfg.transactional_id_prefix) {
            (DeliveryGuarantee::ExactlyOnce, Some(p)) if !per_subtask => Some(Arc::new(TxnPool {
                cfg: cfg.clone(),
                prefix: p.clone(),
                slots: Mutex::new(HashMap::new()),
                marker: Mutex::new(None),
            })),
            _ => None,
        };
        KafkaSink {
            cfg,
            txn,
            subtask_txns,
        }
    }
}

impl DynamicSink for KafkaSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        self.cfg.guarantee
    }

    fn consumed_schema(&self) -> SchemaRef {
        self.cfg.layout.schema.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        if self.cfg.upsert {
            ChangelogMode::Upsert
        } else {
            self.cfg.value_format.changelog_mode()
        }
    }

    fn parallelism(&self) -> Option<usize> {
        self.cfg.parallelism
    }

    fn exclusive_options(&self) -> Vec<(String, String)> {
        // Two exactly-once sinks with one prefix would share transactional ids and commit
        // markers, fencing each other's producers.
        match (&self.cfg.guarantee, &self.cfg.transactional_id_prefix) {
            (DeliveryGuarantee::ExactlyOnce, Some(p)) => {
                vec![("sink.transactional-id-prefix".to_string(), p.clone())]
            }
            _ => Vec::new(),
        }
    }

    fn commits_may_be_lost(&self) -> bool {
        // the runner's protocol: a transaction open at a crash is aborted by the next incarnation
        self.txn.is_some()
    }

    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        let key_enc = match (&self.cfg.key_format, &self.cfg.layout.key_schema) {
            (Some(f), Some(s)) => Some(f.encoder(s.clone())?),
            _ => None,
        };
        let value_enc = self
            .cfg
            .value_format
            .encoder(self.cfg.layout.value_schema.clone())?;
        let producer = match (&self.txn, &self.subtask_txns) {
            (None, None) => Some(plain_producer(&self.cfg, ctx.subtask)?),
            _ => None,
        };
        let subtask_txn = match &self.subtask_txns {
            Some(t) => Some(SubtaskWriter::new(
                t.clone(),
                ctx.subtask,
                ctx.parallelism,
                ctx.restored_checkpoint_id,
                &ctx.restored_state,
            )?),
            None => None,
        };
        Ok(Box::new(KafkaWriter {
            cfg: self.cfg.clone(),
            subtask: ctx.subtask,
            producer,
            txn: self.txn.clone(),
            subtask_txn,
            epoch: ctx.restored_checkpoint_id + 1,
            epoch_producer: None,
            wrote_in_epoch: false,
            key_enc,
            value_enc,
            metrics: ctx.metrics.clone(),
            partition_counts: HashMap::new(),
            round_robin: 0,
            upsert_buffer: Vec::new(),
            upsert_index: HashMap::new(),
            last_buffer_flush: Instant::now(),
        }))
    }

    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        if let Some(t) = &self.subtask_txns {
            return Ok(Some(Box::new(SubtaskCommitter { txns: t.clone() })));
        }
        Ok(self
            .txn
            .as_ref()
            .map(|t| Box::new(KafkaCommitter { pool: t.clone() }) as Box<dyn Committer>))
    }
}

/// Delivery reports: the first failure is kept and fails the next flush.
#[derive(Default)]
pub struct DeliveryState {
    pub(crate) failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// The producer context that records delivery failures.
#[derive(Clone, Default)]
pub struct SinkContext {
    pub(crate) state: Arc<DeliveryState>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.state.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut g) = self.state.first_error.lock() {
                if g.is_none() {
                    *g = Some(format!(
                        "record for topic '{}' partition {} was not delivered: {e}",
                        m.topic(),
                        m.partition()
                    ));
                }
            }
        }
    }
}

pub(crate) type SinkProducer = ThreadedProducer<SinkContext>;

pub(crate) fn producer_config(cfg: &KafkaSinkConfig, client_id: &str) -> rdkafka::ClientConfig {
    let acks = if cfg.guarantee == DeliveryGuarantee::None {
        "1"
    } else {
        "all"
    };
    cfg.settings.config(
        &[
            ("client.id", client_id),
            // Kafka's Java default partitioner, so keys land where Java producers put them.
            ("partitioner", "murmur2_random"),
            ("acks", acks),
            ("linger.ms", "5"),
            ("queue.buffering.max.messages", "1000000"),
            ("transaction.timeout.ms", "900000"),
        ],
        &[],
    )
}

/// A producer with transactional id `id`, its transactions initialised: that fences every older
/// producer of the id and ends the transaction it left (a commit already begun completes, anything
/// else is aborted). Both exactly-once protocols (the runner's pool and [`crate::subtask_txn`])
/// make their producers here.
pub(crate) fn transactional_producer(cfg: &KafkaSinkConfig, id: &str) -> Result<SinkProducer> {
    let producer: SinkProducer = producer_config(cfg, id)
        .set("transactional.id", id)
        .create_with_context(SinkContext::default())
        .map_err(|e| {
            kafka_error(
                &cfg.settings,
                "cannot create a transactional Kafka producer",
                e,
            )
        })?;
    producer
        .init_transactions(REQUEST_TIMEOUT)
        .map_err(|e| txn_error(cfg, id, "cannot initialise transactions", e))?;
    tracing::info!(
        "{}: transactional producer '{id}' ready",
        cfg.settings.context
    );
    Ok(producer)
}

fn plain_producer(cfg: &KafkaSinkConfig, subtask: usize) -> Result<SinkProducer> {
    producer_config(cfg, &format!("headrace-writer-{subtask}"))
        .create_with_context(SinkContext::default())
        .map_err(|e| kafka_error(&cfg.settings, "cannot create a Kafka producer", e))
}

/// One transactional producer of the pool and the state of its transaction.
struct TxnSlot {
    producer: SinkProducer,
    transactional_id: String,
    /// The epoch (checkpoint id that will close it) of the open transaction, if one is open.
    open_epoch: Mutex<Option<u64>>,
}

/// The exactly-once machinery shared by a sink's writers and committer: a fixed pool of
/// transactional producers, one transaction per checkpoint epoch.
struct TxnPool {
    cfg: Arc<KafkaSinkConfig>,
    prefix: String,
    slots: Mutex<HashMap<usize, Arc<TxnSlot>>>,
    marker: Mutex<Option<Arc<MarkerClient>>>,
}

/// Reads and writes the commit marker: the offset of a consumer group committed inside each
/// transaction.
pub(crate) struct MarkerClient {
    pub(crate) consumer: BaseConsumer,
    pub(crate) metadata: ConsumerGroupMetadata,
    pub(crate) group: String,
    pub(crate) topic: String,
}

/// A client for the commit marker of consumer group `group`.
pub(crate) fn marker_client(cfg: &KafkaSinkConfig, group: String) -> Result<MarkerClient> {
    let topic = cfg
        .topics
        .first()
        .cloned()
        .ok_or_else(|| Error::internal("exactly-once Kafka sink without a topic"))?;
    let consumer: BaseConsumer = cfg
        .settings
        .config(
            &[],
            &[
                ("group.id", &group),
                ("enable.auto.commit", "false"),
                ("isolation.level", "read_committed"),
            ],
        )
        .create()
        .map_err(|e| kafka_error(&cfg.settings, "cannot create the commit-marker client", e))?;
    let metadata = consumer.group_metadata().ok_or_else(|| {
        Error::internal("librdkafka gave no consumer group metadata for the commit marker")
    })?;
    Ok(MarkerClient {
        consumer,
        metadata,
        group,
        topic,
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::internal("a Kafka sink lock was poisoned by a panic"))
}

impl TxnPool {
    fn slot_index(&self, epoch: u64) -> usize {
        (epoch % self.cfg.pool_size.max(1) as u64) as usize
    }

    /// The producer for `epoch`, initialised (fencing older incarnations of its id) on first use.
    fn slot(&self, epoch: u64) -> Result<Arc<TxnSlot>> {
        let i = self.slot_index(epoch);
        // Held while the producer is created: two writers asking at once must not both
        // initialise the same transactional id (the second would fence the first).
        let mut slots = lock(&self.slots)?;
        if let Some(s) = slots.get(&i) {
            return Ok(s.clone());
        }
        let id = format!("{}-{i}", self.prefix);
        let producer = transactional_producer(&self.cfg, &id)?;
        let slot = Arc::new(TxnSlot {
            producer,
            transactional_id: id,
            open_epoch: Mutex::new(None),
        });
        slots.insert(i, slot.clone());
        Ok(slot)
    }

    /// Make sure the transaction of `epoch` is open on its producer.
    fn begin(&self, slot: &TxnSlot, epoch: u64) -> Result<()> {
        let mut open = lock(&slot.open_epoch)?;
        match *open {
            Some(e) if e == epoch => Ok(()),
            Some(e) => Err(Error::internal(format!(
                "{}: transactional id '{}' still has the transaction of checkpoint {e} open when \
                 checkpoint {epoch} starts writing; raise 'headrace.sink.transactional-id-pool-size'",
                self.cfg.settings.context, slot.transactional_id
            ))),
            None => {
                slot.producer.begin_transaction().map_err(|e| {
                    txn_error(&self.cfg, &slot.transactional_id, "cannot begin a transaction", e)
                })?;
                *open = Some(epoch);
                Ok(())
            }
        }
    }

    fn marker(&self) -> Result<Arc<MarkerClient>> {
        if let Some(m) = lock(&self.marker)?.as_ref() {
            return Ok(m.clone());
        }
        let group = format!("{}-headrace-commits", self.prefix);
        let m = Arc::new(marker_client(&self.cfg, group)?);
        *lock(&self.marker)? = Some(m.clone());
        Ok(m)
    }

    /// Commit the transaction of `epoch` with its marker.
    fn commit(&self, epoch: u64, nonce: &str) -> Result<()> {
        let slot = self.slot(epoch)?;
        let open = *lock(&slot.open_epoch)?;
        if open != Some(epoch) {
            return Err(Error::internal(format!(
                "{}: no open transaction for checkpoint {epoch} on '{}' (open: {open:?})",
                self.cfg.settings.context, slot.transactional_id
            )));
        }
        let marker = self.marker()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&marker.topic, 0, Offset::Offset(epoch as i64))
            .map_err(|e| kafka_error(&self.cfg.settings, "cannot build the commit marker", e))?;
        if let Some(mut e) = tpl.find_partition(&marker.topic, 0) {
            e.set_metadata(nonce);
        }
        slot.producer
            .send_offsets_to_transaction(&tpl, &marker.metadata, REQUEST_TIMEOUT)
            .map_err(|e| {
                txn_error(
                    &self.cfg,
                    &slot.transactional_id,
                    "cannot add the commit marker to the transaction",
                    e,
                )
            })?;
        slot.producer
            .commit_transaction(REQUEST_TIMEOUT)
            .map_err(|e| {
                txn_error(
                    &self.cfg,
                    &slot.transactional_id,
                    "cannot commit the transaction",
                    e,
                )
            })?;
        *lock(&slot.open_epoch)? = None;
        tracing::info!(
            "{}: committed the transaction of checkpoint {epoch} ('{}')",
            self.cfg.settings.context,
            slot.transactional_id
        );
        Ok(())
    }

    /// After a restart: fence every id of the pool (aborting transactions a crash left open,
    /// completing ones whose commit had started), then read the marker.
    fn recover(&self, epoch: u64, nonce: &str) -> Result<CommitRecovery> {
        for i in 0..self.cfg.pool_size.max(1) {
            self.slot(i as u64)?;
        }
        let marker = self.marker()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&marker.topic, 0);
        let c = marker
            .consumer
            .committed_offsets(tpl, REQUEST_TIMEOUT)
            .map_err(|e| {
                kafka_error(
                    &self.cfg.settings,
                    &format!("cannot read the commit marker of group '{}'", marker.group),
                    e,
                )
            })?;
        let found = c.find_partition(&marker.topic, 0);
        let (offset, meta) = match &found {
            Some(e) => (
                match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                },
                e.metadata().to_string(),
            ),
            None => (None, String::new()),
        };
        let committed = match offset {
            Some(o) if o > epoch as i64 => true,
            Some(o) if o == epoch as i64 => meta == nonce,
            _ => false,
        };
        tracing::info!(
            "{}: transaction of checkpoint {epoch}: marker of group '{}' is {offset:?} ('{meta}'): {}",
            self.cfg.settings.context,
            marker.group,
            if committed { "committed" } else { "lost (aborted or never committed)" }
        );
        Ok(if committed {
            CommitRecovery::Committed
        } else {
            CommitRecovery::Lost
        })
    }
}

pub(crate) fn txn_error(cfg: &KafkaSinkConfig, id: &str, doing: &str, e: KafkaError) -> Error {
    let code = e.rdkafka_error_code();
    if code == Some(RDKafkaErrorCode::InvalidTransactionTimeout) {
        return Error::Connector {
            message: format!(
                "{}: {doing} with transactional id '{id}': the transaction timeout is larger than \
                 the broker allows. Lower 'properties.transaction.timeout.ms' (Headrace's default \
                 is 900000, 15 minutes) to at most the broker's 'transaction.max.timeout.ms'",
                cfg.settings.context
            ),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: Some(Box::new(e)),
        };
    }
    if code == Some(RDKafkaErrorCode::ProducerFenced) || code == Some(RDKafkaErrorCode::Fenced) {
        return Error::Connector {
            message: format!(
                "{}: {doing}: transactional id '{id}' was taken over by another producer. Is \
                 another job using 'sink.transactional-id-prefix' = '{}'? Each job needs its own prefix",
                cfg.settings.context,
                cfg.transactional_id_prefix.as_deref().unwrap_or("")
            ),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: Some(Box::new(e)),
        };
    }
    kafka_error(
        &cfg.settings,
        &format!("{doing} (transactional id '{id}')"),
        e,
    )
}

/// What a writer hands to the committer for one checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TxnCommittable {
    epoch: u64,
    transactional_id: String,
    nonce: String,
}

const COMMITTABLE_VERSION: u32 = 1;
const COMMITTABLE_NAME: &str = "kafka transaction";

struct KafkaCommitter {
    pool: Arc<TxnPool>,
}

/// The committer of per-subtask transactions ([`crate::subtask_txn`]).
struct SubtaskCommitter {
    txns: Arc<SubtaskTxns>,
}

#[async_trait]
impl Committer for SubtaskCommitter {
    async fn commit(
        &mut self,
        checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<()> {
        if committables.is_empty() {
            return Ok(());
        }
        let txns = self.txns.clone();
        tokio::task::spawn_blocking(move || txns.commit(&committables))
            .await
            .map_err(|e| Error::internal(format!("Kafka commit task failed: {e}")))?
            .map_err(|e| {
                tracing::error!("checkpoint {checkpoint_id}: {e}");
                e
            })
    }

    async fn recover(
        &mut self,
        checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<CommitRecovery> {
        // A lost transaction is replayed from its committable, so it always ends committed.
        self.commit(checkpoint_id, committables).await?;
        Ok(CommitRecovery::Committed)
    }
}

/// The transactions named by a checkpoint's committables, one per epoch in ascending order,
/// each with the nonce of its first committable (the order is the stored one, so commit and
/// recovery pick the same). Normally there is one epoch; a writer that ended early can hand its
/// last committable to a later checkpoint, so several are handled.
fn decode_committables(committables: &[VersionedBytes]) -> Result<Vec<TxnCommittable>> {
    let mut by_epoch: std::collections::BTreeMap<u64, TxnCommittable> =
        std::collections::BTreeMap::new();
    for c in committables {
        let t: TxnCommittable = c.decode(COMMITTABLE_VERSION, COMMITTABLE_NAME)?;
        by_epoch.entry(t.epoch).or_insert(t);
    }
    Ok(by_epoch.into_values().collect())
}

#[async_trait]
impl Committer for KafkaCommitter {
    async fn commit(
        &mut self,
        checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<()> {
        let txns = decode_committables(&committables)?;
        if txns.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            for t in txns {
                let slot = pool.slot(t.epoch)?;
                if lock(&slot.open_epoch)?.is_none() {
                    // Already committed by an earlier attempt of this process.
                    continue;
                }
                pool.commit(t.epoch, &t.nonce)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::internal(format!("Kafka commit task failed: {e}")))?
        .map_err(|e| {
            tracing::error!("checkpoint {checkpoint_id}: {e}");
            e
        })
    }

    async fn recover(
        &mut self,
        _checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<CommitRecovery> {
        // Transactions commit in epoch order, so the newest one's marker decides for all.
        let Some(t) = decode_committables(&committables)?.pop() else {
            return Ok(CommitRecovery::Committed);
        };
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || pool.recover(t.epoch, &t.nonce))
            .await
            .map_err(|e| Error::internal(format!("Kafka recovery task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(epoch: u64, nonce: &str) -> VersionedBytes {
        VersionedBytes::encode(
            COMMITTABLE_VERSION,
            COMMITTABLE_NAME,
            &TxnCommittable {
                epoch,
                transactional_id: format!("p-{}", epoch % 2),
                nonce: nonce.into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn committables_group_by_epoch_in_order() {
        let t = decode_committables(&[c(5, "a"), c(4, "b"), c(5, "c"), c(4, "d")]).unwrap();
        let got: Vec<(u64, &str)> = t.iter().map(|t| (t.epoch, t.nonce.as_str())).collect();
        assert_eq!(got, vec![(4, "b"), (5, "a")]);
        assert!(decode_committables(&[]).unwrap().is_empty());
    }
}

/// One record to send (buffered by upsert-kafka so only the last one per key is sent).
pub(crate) struct Pending {
    pub(crate) topic: String,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) partition: Option<i32>,
    pub(crate) timestamp: Option<i64>,
    pub(crate) headers: Option<OwnedHeaders>,
}

struct KafkaWriter {
    cfg: Arc<KafkaSinkConfig>,
    subtask: usize,
    producer: Option<SinkProducer>,
    txn: Option<Arc<TxnPool>>,
    subtask_txn: Option<SubtaskWriter>,
    epoch: u64,
    epoch_producer: Option<Arc<TxnSlot>>,
    wrote_in_epoch: bool,
    key_enc: Option<Box<dyn Encoder>>,
    value_enc: Box<dyn Encoder>,
    metrics: Arc<SinkMetrics>,
    partition_counts: HashMap<String, i32>,
    round_robin: u64,
    upsert_buffer: Vec<Pending>,
    upsert_index: HashMap<(String, Vec<u8>), usize>,
    last_buffer_flush: Instant,
}

/// Encoded records of one batch: bytes in one buffer, with per-row ranges.
#[derive(Default)]
struct Encoded {
    buf: Vec<u8>,
    ranges: Vec<Option<(usize, usize)>>,
}

impl Encoded {
    fn get(&self, row: usize) -> Option<&[u8]> {
        self.ranges
            .get(row)
            .copied()
            .flatten()
            .map(|(a, b)| &self.buf[a..b])
    }
}

/// Encode every row of `batch`; with `policy` (the table's bad-record policy and the format's
/// name), rows the format refuses go to the policy and get no record.
fn encode(
    enc: &mut dyn Encoder,
    batch: &ChangelogBatch,
    rows: usize,
    policy: Option<(&BadRecords, &str)>,
) -> Result<Encoded> {
    let mut out = Encoded {
        buf: Vec::new(),
        ranges: vec![None; rows],
    };
    let mut emit = |i: usize, bytes: &[u8]| {
        let a = out.buf.len();
        out.buf.extend_from_slice(bytes);
        if let Some(r) = out.ranges.get_mut(i) {
            *r = Some((a, out.buf.len()));
        }
        Ok(())
    };
    match policy {
        Some((bad, format)) => encode_with_policy(enc, batch, bad, format, &mut emit)?,
        None => enc.encode(batch, &mut emit)?,
    }
    Ok(out)
}

impl KafkaWriter {
    fn producer(&mut self) -> Result<&SinkProducer> {
        if let Some(w) = &mut self.subtask_txn {
            return w.producer();
        }
        if let Some(pool) = &self.txn {
            if self.epoch_producer.is_none() {
                self.epoch_producer = Some(pool.slot(self.epoch)?);
            }
            let slot = self
                .epoch_producer
                .as_ref()
                .ok_or_else(|| Error::internal("no transactional producer"))?;
            if !self.wrote_in_epoch {
                pool.begin(slot, self.epoch)?;
                self.wrote_in_epoch = true;
            }
            return Ok(&slot.producer);
        }
        self.producer
            .as_ref()
            .ok_or_else(|| Error::internal("Kafka writer without a producer"))
    }

    fn partition_count(&mut self, topic: &str) -> Result<i32> {
        if let Some(n) = self.partition_counts.get(topic) {
            return Ok(*n);
        }
        let md = self
            .producer()?
            .client()
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .map_err(|e| {
                kafka_error(
                    &self.cfg.settings,
                    &format!("cannot read metadata of topic '{topic}'"),
                    e,
                )
            })?;
        let n = topic_partitions(&self.cfg.settings, &md, topic)?.len() as i32;
        self.partition_counts.insert(topic.to_string(), n);
        Ok(n)
    }

    fn choose_partition(&mut self, topic: &str) -> Result<Option<i32>> {
        Ok(match self.cfg.partitioner {
            SinkPartitioner::Default => None,
            SinkPartitioner::Fixed => {
                let n = self.partition_count(topic)?;
                Some((self.subtask as i32) % n.max(1))
            }
            SinkPartitioner::RoundRobin => {
                let n = self.partition_count(topic)?;
                self.round_robin += 1;
                Some(((self.round_robin - 1) % n.max(1) as u64) as i32)
            }
        })
    }

    fn send(&mut self, p: &Pending) -> Result<()> {
        let ctx = self.cfg.settings.context.clone();
        let cfg = self.cfg.clone();
        if let Some(w) = &mut self.subtask_txn {
            w.keep(p, cfg.key_format.is_some());
        }
        let producer = self.producer()?;
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&p.topic);
        if !p.key.is_empty() || cfg.key_format.is_some() {
            rec = rec.key(&p.key[..]);
        }
        if let Some(v) = &p.value {
            rec = rec.payload(&v[..]);
        }
        if let Some(part) = p.partition {
            rec = rec.partition(part);
        }
        if let Some(ts) = p.timestamp {
            rec = rec.timestamp(ts);
        }
        if let Some(h) = &p.headers {
            rec = rec.headers(h.clone());
        }
        let mut rec = rec;
        let mut waited = Duration::ZERO;
        loop {
            match producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                    waited += Duration::from_millis(1);
                    if waited > Duration::from_secs(300) {
                        return Err(Error::Connector {
                            message: format!(
                                "{ctx}: the producer queue stayed full for 5 minutes; is the cluster '{}' reachable?",
                                cfg.settings.bootstrap()
                            ),
                            domain: ErrorDomain::External,
                            retry: Retry::Backoff,
                            source: None,
                        });
                    }
                }
                Err((e, _)) => {
                    return Err(kafka_error(
                        &cfg.settings,
                        &format!("cannot send a record to topic '{}'", p.topic),
                        e,
                    ))
                }
            }
        }
    }

    fn check_delivery(&self, producer: &SinkProducer) -> Result<()> {
        let st = &producer.context().state;
        if st.failed.load(Ordering::Relaxed) > 0 {
            let first = lock(&st.first_error)?.clone().unwrap_or_default();
            return Err(Error::Connector {
                message: format!(
                    "{}: {} record(s) could not be delivered to cluster '{}'; first: {first}",
                    self.cfg.settings.context,
                    st.failed.load(Ordering::Relaxed),
                    self.cfg.settings.bootstrap()
                ),
                domain: ErrorDomain::External,
                retry: Retry::Backoff,
                source: None,
            });
        }
        Ok(())
    }

    /// The producer whose records a flush must wait for, if any.
    fn flush_target(&self) -> Option<SinkProducer> {
        if let Some(w) = &self.subtask_txn {
            return w.flush_target();
        }
        if self.txn.is_some() {
            if !self.wrote_in_epoch {
                return None;
            }
            self.epoch_producer.as_ref().map(|s| s.producer.clone())
        } else {
            self.producer.clone()
        }
    }

    fn drain_upsert_buffer(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.upsert_buffer);
        self.upsert_index.clear();
        for p in &pending {
            self.send(p)?;
        }
        self.last_buffer_flush = Instant::now();
        Ok(())
    }

    fn write_sync(&mut self, batch: ChangelogBatch) -> Result<()> {
        let batch = if self.cfg.upsert {
            // -U rows carry nothing an upsert topic needs.
            match &batch.kinds {
                Some(k) => {
                    let keep: arrow::array::BooleanArray = k
                        .iter()
                        .map(|b| Some(b != Some(RowKind::UpdateBefore as i8)))
                        .collect();
                    let b = filter_record_batch(&batch.batch, &keep)?;
                    let kinds = arrow::compute::filter(k, &keep)?;
                    ChangelogBatch {
                        batch: b,
                        kinds: kinds
                            .as_any()
                            .downcast_ref::<arrow::array::Int8Array>()
                            .cloned(),
                    }
                }
                None => batch,
            }
        } else {
            batch
        };
        let rows = batch.batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let layout = &self.cfg.layout;
        let value_cols: Vec<ArrayRef> = layout
            .value_columns
            .iter()
            .map(|tc| column_for(layout, &batch.batch, ColumnSource::Value(0), *tc))
            .collect::<Result<_>>()?;
        let value_batch = ChangelogBatch {
            batch: RecordBatch::try_new(layout.value_schema.clone(), value_cols)?,
            kinds: batch.kinds.clone(),
        };
        let keys = match (&mut self.key_enc, &layout.key_schema) {
            (Some(enc), Some(ks)) => {
                let cols: Vec<ArrayRef> = layout
                    .key_columns
                    .iter()
                    .map(|tc| column_for(layout, &batch.batch, ColumnSource::Key(0), *tc))
                    .collect::<Result<_>>()?;
                let kb = ChangelogBatch {
                    batch: RecordBatch::try_new(ks.clone(), cols)?,
                    kinds: None,
                };
                // Rows the key format refuses go to the table's bad-record policy, as values do.
                let format = self.cfg.key_format.as_ref().map_or("", |f| f.identifier());
                Some(encode(
                    enc.as_mut(),
                    &kb,
                    rows,
                    Some((&self.metrics.bad_records, format)),
                )?)
            }
            _ => None,
        };
        let is_delete: Vec<bool> = match &batch.kinds {
            Some(k) if self.cfg.upsert => (0..rows)
                .map(|i| k.value(i) == RowKind::Delete as i8)
                .collect(),
            _ => vec![false; rows],
        };
        // Rows the value format refuses go to the table's bad-record policy.
        let values = encode(
            self.value_enc.as_mut(),
            &value_batch,
            rows,
            Some((
                &self.metrics.bad_records,
                self.cfg.value_format.identifier(),
            )),
        )?;
        let meta = SinkMeta::new(&self.cfg, &batch.batch)?;
        let mut bytes = 0u64;
        for (i, &delete) in is_delete.iter().enumerate() {
            let key = keys.as_ref().and_then(|k| k.get(i));
            if keys.is_some() && key.is_none() {
                // The key format refused the row (the bad-record policy has it): no record,
                // rather than one without its key. (The key formats write every row they accept.)
                continue;
            }
            let value = if delete { None } else { values.get(i) };
            if value.is_none() && !delete {
                // The format wrote nothing for this row (e.g. a changelog format skipping a kind).
                continue;
            }
            if self.cfg.upsert && key.is_none() {
                return Err(Error::BadRecord {
                    format: "upsert-kafka".into(),
                    origin: headrace_sdk::error::RecordOrigin::Other(format!("row {i} of a batch")),
                    reason: "the key encoder wrote nothing for the row's primary key".into(),
                });
            }
            let topic = meta.topic(&self.cfg, i)?;
            let partition = self.choose_partition(&topic)?;
            bytes += (key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len)) as u64;
            let p = Pending {
                topic,
                key: key.map(<[u8]>::to_vec).unwrap_or_default(),
                value: value.map(<[u8]>::to_vec),
                partition,
                timestamp: meta.timestamp(i),
                headers: meta.headers(i),
            };
            if self.cfg.upsert && self.cfg.buffer_max_rows > 0 {
                let k = (p.topic.clone(), p.key.clone());
                match self.upsert_index.get(&k) {
                    Some(j) => self.upsert_buffer[*j] = p,
                    None => {
                        self.upsert_index.insert(k, self.upsert_buffer.len());
                        self.upsert_buffer.push(p);
                    }
                }
                if self.upsert_buffer.len() >= self.cfg.buffer_max_rows
                    || self.last_buffer_flush.elapsed() >= self.cfg.buffer_interval
                {
                    self.drain_upsert_buffer()?;
                }
            } else {
                self.send(&p)?;
            }
        }
        self.metrics.add_bytes(bytes);
        Ok(())
    }
}

/// The table column `tc` of the consumed batch (consumed columns are the physical ones, in
/// table order, then persisted metadata).
fn column_for(
    layout: &Layout,
    batch: &RecordBatch,
    _kind: ColumnSource,
    tc: usize,
) -> Result<ArrayRef> {
    // Physical columns come first in the consumed schema, in table order: find the position of
    // table column `tc` among the physical columns.
    let mut physical: Vec<usize> = layout
        .key_columns
        .iter()
        .chain(layout.value_columns.iter())
        .copied()
        .collect();
    physical.sort_unstable();
    physical.dedup();
    let pos = physical
        .iter()
        .position(|c| *c == tc)
        .ok_or_else(|| Error::internal(format!("column {tc} is not physical")))?;
    Ok(batch.column(pos).clone())
}

/// Writable metadata columns of a batch.
struct SinkMeta {
    topic: Option<ArrayRef>,
    timestamp: Option<Int64Array>,
    headers: Option<MapArray>,
}

impl SinkMeta {
    fn new(cfg: &KafkaSinkConfig, batch: &RecordBatch) -> Result<SinkMeta> {
        let mut m = SinkMeta {
            topic: None,
            timestamp: None,
            headers: None,
        };
        for (i, c) in cfg.layout.columns.iter().enumerate() {
            let ColumnSource::Meta(k) = c else { continue };
            let col = batch.column(i);
            match k {
                MetaKey::Topic => m.topic = Some(cast(col.as_ref(), &ArrowType::Utf8)?),
                MetaKey::Timestamp => {
                    let ms = match col.data_type() {
                        ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
                            cast(col.as_ref(), &ArrowType::Int64)?
                        }
                        ArrowType::Timestamp(_, _) => cast(
                            cast(
                                col.as_ref(),
                                &ArrowType::Timestamp(TimeUnit::Millisecond, None),
                            )?
                            .as_ref(),
                            &ArrowType::Int64,
                        )?,
                        _ => cast(col.as_ref(), &ArrowType::Int64)?,
                    };
                    m.timestamp = Some(ms.as_primitive::<Int64Type>().clone());
                }
                MetaKey::Headers => {
                    m.headers = col.as_any().downcast_ref::<MapArray>().cloned();
                }
                _ => {}
            }
        }
        Ok(m)
    }

    fn topic(&self, cfg: &KafkaSinkConfig, row: usize) -> Result<String> {
        if let Some(t) = &self.topic {
            let s = t.as_string::<i32>();
            if s.is_valid(row) {
                let name = s.value(row);
                if cfg.topics.len() > 1 && !cfg.topics.iter().any(|t| t == name) {
                    return Err(Error::user(format!(
                        "{}: row {row} names topic '{name}' in its 'topic' metadata column, which \
                         is not one of the topics in option 'topic' ({})",
                        cfg.settings.context,
                        cfg.topics.join(";")
                    )));
                }
                return Ok(name.to_string());
            }
        }
        match cfg.topics.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(Error::user(format!(
                "{}: row {row} has no topic: with several topics in option 'topic', each row must \
                 name one in its 'topic' metadata column",
                cfg.settings.context
            ))),
        }
    }

    fn timestamp(&self, row: usize) -> Option<i64> {
        self.timestamp
            .as_ref()
            .filter(|t| t.is_valid(row))
            .map(|t| t.value(row))
    }

    fn headers(&self, row: usize) -> Option<OwnedHeaders> {
        let h = self.headers.as_ref()?;
        if !h.is_valid(row) {
            return None;
        }
        let entries = h.value(row);
        let keys = entries.column(0).as_string::<i32>();
        let values = entries.column(1);
        let values = values.as_binary_opt::<i32>();
        let mut out = OwnedHeaders::new_with_capacity(entries.len());
        for j in 0..entries.len() {
            let v = values.filter(|v| v.is_valid(j)).map(|v| v.value(j));
            out = out.insert(Header {
                key: keys.value(j),
                value: v,
            });
        }
        Some(out)
    }
}

#[async_trait]
impl SinkWriter for KafkaWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        // Encoding and handing records to librdkafka is CPU work that does not wait on the
        // network (the producer's queue absorbs it), so it runs inline.
        self.write_sync(batch)?;
        if self.cfg.upsert
            && self.cfg.buffer_max_rows > 0
            && !self.upsert_buffer.is_empty()
            && self.last_buffer_flush.elapsed() >= self.cfg.buffer_interval
        {
            self.drain_upsert_buffer()?;
        }
        Ok(())
    }

    async fn flush(&mut self, end_of_input: bool) -> Result<()> {
        if self.cfg.guarantee == DeliveryGuarantee::None && !end_of_input {
            return self.drain_upsert_buffer();
        }
        self.drain_upsert_buffer()?;
        let Some(producer) = self.flush_target() else {
            return Ok(());
        };
        let settings = self.cfg.settings.clone();
        let producer = tokio::task::spawn_blocking(move || {
            producer
                .flush(Duration::from_secs(300))
                .map_err(|e| kafka_error(&settings, "cannot flush records to Kafka", e))
                .map(|()| producer)
        })
        .await
        .map_err(|e| Error::internal(format!("Kafka flush task failed: {e}")))??;
        self.check_delivery(&producer)
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        if let Some(w) = &mut self.subtask_txn {
            return w.prepare(checkpoint_id);
        }
        let Some(_) = &self.txn else {
            return Ok(Vec::new());
        };
        let wrote = self.wrote_in_epoch;
        let slot = self.epoch_producer.take();
        let epoch = self.epoch;
        self.epoch = checkpoint_id + 1;
        self.wrote_in_epoch = false;
        if epoch != checkpoint_id {
            tracing::debug!(
                "{}: writer {} prepared checkpoint {checkpoint_id} while in epoch {epoch}",
                self.cfg.settings.context,
                self.subtask
            );
        }
        match (wrote, slot) {
            (true, Some(slot)) => {
                let nonce = format!(
                    "{}-{}-{}",
                    std::process::id(),
                    checkpoint_id,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                );
                let c = TxnCommittable {
                    epoch: checkpoint_id,
                    transactional_id: slot.transactional_id.clone(),
                    nonce,
                };
                Ok(vec![VersionedBytes::encode(
                    COMMITTABLE_VERSION,
                    COMMITTABLE_NAME,
                    &c,
                )?])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        // Per-subtask transactions: the subtask and parallelism, so that a restore at a lower
        // parallelism fences the removed subtasks' transactional ids (see crate::subtask_txn).
        match &self.subtask_txn {
            Some(w) => w.state(),
            None => Ok(Vec::new()),
        }
    }

    async fn close(&mut self) -> Result<()> {
        if let Some(w) = &mut self.subtask_txn {
            w.close();
        }
        if let Some(p) = &self.producer {
            let _ = p.flush(Duration::from_secs(30));
        }
        Ok(())
    }
}
