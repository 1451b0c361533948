//! The Kafka source: one split per topic partition, offsets in checkpointed split state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, BinaryBuilder, Int32Array, Int64Array, Int8Array, MapArray, RecordBatch,
    StringArray, StructArray, TimestampMillisecondArray, UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use headrace_sdk::bad_records::{BadRecords, Stage};
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode, RowKind};
use headrace_sdk::error::{Error, RecordOrigin, Result};
use headrace_sdk::factory::FormatHandle;
use headrace_sdk::format::Decoder;
use headrace_sdk::source::{
    Boundedness, DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics,
    SourceReader, SourceSplit, SplitAssignment, SplitEnumerator, SplitState,
};
use headrace_sdk::state::VersionedBytes;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::client::{
    kafka_error, kafka_error_ctx, topic_partitions, ClientErrors, ClientSettings, SourceConsumer,
    REQUEST_TIMEOUT,
};
use crate::layout::{ColumnSource, Layout, MetaKey};
use crate::options::{BoundedMode, PartitionOffset, StartupMode};

/// Everything a Kafka source needs, shared by its enumerator and readers.
#[derive(Debug)]
pub struct KafkaSourceConfig {
    /// Client settings (`properties.*`).
    pub settings: ClientSettings,
    /// Topics to read (empty when a pattern is used).
    pub topics: Vec<String>,
    /// Pattern of topics to read.
    pub pattern: Option<Regex>,
    /// Consumer group.
    pub group_id: String,
    /// Where reading starts.
    pub startup: StartupMode,
    /// Start offsets for `specific-offsets`.
    pub startup_offsets: Vec<PartitionOffset>,
    /// Start timestamp for `timestamp`.
    pub startup_timestamp: Option<i64>,
    /// Where reading ends.
    pub bounded: BoundedMode,
    /// End offsets for `specific-offsets`.
    pub bounded_offsets: Vec<PartitionOffset>,
    /// End timestamp for `timestamp`.
    pub bounded_timestamp: Option<i64>,
    /// Partition discovery interval (None: off).
    pub discovery: Option<Duration>,
    /// Columns, key and value.
    pub layout: Layout,
    /// The key format.
    pub key_format: Option<FormatHandle>,
    /// The value format.
    pub value_format: FormatHandle,
    /// Metadata keys asked of the value format (`value.<key>` columns), prefix removed.
    pub format_keys: Vec<String>,
    /// upsert-kafka semantics (tombstones are deletions).
    pub upsert: bool,
    /// `scan.parallelism`.
    pub parallelism: Option<usize>,
}

impl KafkaSourceConfig {
    fn consumer(&self, client_suffix: &str) -> Result<SourceConsumer> {
        let reset = match self.startup {
            StartupMode::EarliestOffset => "earliest",
            StartupMode::LatestOffset => "latest",
            _ => "error",
        };
        let isolation = self.settings.isolation_level().to_string();
        self.settings
            .config(
                &[
                    ("auto.offset.reset", reset),
                    ("client.id", &format!("headrace-{}", client_suffix)),
                    ("isolation.level", &isolation),
                    // librdkafka waits this long before fetching again once its local queue is
                    // over `queued.min.messages`; its default (1 s) left a reader that decodes
                    // (json) idle most of the time: 17 s instead of 3 s for 3 M records.
                    ("fetch.queue.backoff.ms", "10"),
                ],
                &[
                    ("group.id", &self.group_id),
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    ("enable.partition.eof", "true"),
                ],
            )
            .create_with_context(ClientErrors::default())
            .map_err(|e| kafka_error(&self.settings, "cannot create a Kafka consumer", e))
    }
}

/// A Kafka table source.
#[derive(Debug, Clone)]
pub struct KafkaSource {
    cfg: Arc<KafkaSourceConfig>,
}

impl KafkaSource {
    /// A source from its configuration.
    pub fn new(cfg: KafkaSourceConfig) -> Self {
        KafkaSource { cfg: Arc::new(cfg) }
    }

    /// The configuration.
    pub fn config(&self) -> &KafkaSourceConfig {
        &self.cfg
    }
}

impl DynamicSource for KafkaSource {
    fn boundedness(&self) -> Boundedness {
        if self.cfg.bounded == BoundedMode::Unbounded {
            Boundedness::Unbounded
        } else {
            Boundedness::Bounded
        }
    }

    fn produced_schema(&self) -> SchemaRef {
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

    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let mut e = KafkaEnumerator {
            cfg: self.cfg.clone(),
            readers: ctx.parallelism.max(1),
            consumer: None,
            known: BTreeSet::new(),
            pending: BTreeMap::new(),
            initial_done: false,
            last_discovery: None,
        };
        if let Some(state) = restored {
            let s: EnumeratorState = state.decode(ENUM_STATE_VERSION, ENUM_STATE_NAME)?;
            e.known = s.known.into_iter().collect();
            e.initial_done = s.initial_done;
            for split in s.pending {
                let owner = e.owner(&split.topic, split.partition);
                e.pending.entry(owner).or_default().push(split);
            }
        }
        Ok(Box::new(e))
    }

    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(KafkaReader {
            cfg: self.cfg.clone(),
            core: None,
            batch_size: ctx.batch_size.max(1),
            metrics: ctx.metrics.clone(),
            subtask: ctx.subtask,
            no_more_splits: false,
            next_ask: Some(Instant::now()),
            offsets_by_checkpoint: BTreeMap::new(),
            last_split: None,
        }))
    }
}

/// One topic partition and the reader's progress in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaSplit {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The next offset to read.
    pub next_offset: i64,
    /// The offset where a bounded read stops (not read), if any.
    pub stop_offset: Option<i64>,
    /// upsert-kafka: the latest value per key read so far from this partition (base64 key ->
    /// base64 value), so updates and deletes can carry the previous row as Flink's
    /// normalization does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert_state: Vec<(String, String)>,
}

impl SplitState for KafkaSplit {
    const VERSION: u32 = 1;
    const NAME: &'static str = "kafka partition split";
    fn split_id(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

const ENUM_STATE_VERSION: u32 = 1;
const ENUM_STATE_NAME: &str = "kafka enumerator state";

#[derive(Debug, Serialize, Deserialize)]
struct EnumeratorState {
    known: Vec<(String, i32)>,
    pending: Vec<KafkaSplit>,
    initial_done: bool,
}

/// Java's `String.hashCode`, for Flink's assignment of partitions to readers.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The reader that owns a partition, as Flink's Kafka enumerator assigns them.
pub fn owner_of(topic: &str, partition: i32, readers: usize) -> usize {
    let n = readers.max(1) as i64;
    let start = (i64::from(java_hash(topic).wrapping_mul(31) & 0x7FFF_FFFF)) % n;
    ((start + i64::from(partition)) % n) as usize
}

struct KafkaEnumerator {
    cfg: Arc<KafkaSourceConfig>,
    readers: usize,
    consumer: Option<Arc<SourceConsumer>>,
    known: BTreeSet<(String, i32)>,
    pending: BTreeMap<usize, Vec<KafkaSplit>>,
    initial_done: bool,
    last_discovery: Option<Instant>,
}

impl KafkaEnumerator {
    fn owner(&self, topic: &str, partition: i32) -> usize {
        owner_of(topic, partition, self.readers)
    }

    fn discovery_due(&self) -> bool {
        if !self.initial_done {
            return true;
        }
        if self.cfg.bounded != BoundedMode::Unbounded {
            return false;
        }
        match (self.cfg.discovery, self.last_discovery) {
            (Some(_), None) => true,
            (Some(iv), Some(t)) => t.elapsed() >= iv,
            (None, _) => false,
        }
    }

    async fn discover(&mut self) -> Result<()> {
        let consumer = match &self.consumer {
            Some(c) => c.clone(),
            None => {
                let cfg = self.cfg.clone();
                let c = run_blocking(move || cfg.consumer("enumerator")).await?;
                let c = Arc::new(c);
                self.consumer = Some(c.clone());
                c
            }
        };
        let cfg = self.cfg.clone();
        let known = self.known.clone();
        let initial = !self.initial_done;
        let new_splits =
            run_blocking(move || discover_splits(&cfg, &consumer, &known, initial)).await?;
        for s in new_splits {
            self.known.insert((s.topic.clone(), s.partition));
            let owner = self.owner(&s.topic, s.partition);
            tracing::info!(
                "{}: new split {}-{} from offset {} (reader {owner})",
                self.cfg.settings.context,
                s.topic,
                s.partition,
                s.next_offset
            );
            self.pending.entry(owner).or_default().push(s);
        }
        self.initial_done = true;
        self.last_discovery = Some(Instant::now());
        Ok(())
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("Kafka client task failed: {e}")))?
}

/// List partitions and resolve the start (and stop) offsets of the ones not seen before.
fn discover_splits(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    known: &BTreeSet<(String, i32)>,
    initial: bool,
) -> Result<Vec<KafkaSplit>> {
    let s = &cfg.settings;
    let mut partitions: Vec<(String, i32)> = Vec::new();
    if let Some(p) = &cfg.pattern {
        let md = consumer
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .map_err(|e| kafka_error_ctx(s, consumer, "cannot list topics", e))?;
        for t in md.topics() {
            if p.is_match(t.name()) && t.error().is_none() {
                for part in t.partitions() {
                    partitions.push((t.name().to_string(), part.id()));
                }
            }
        }
    } else {
        for topic in &cfg.topics {
            let md = consumer
                .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
                .map_err(|e| {
                    kafka_error_ctx(
                        s,
                        consumer,
                        &format!("cannot read metadata of topic '{topic}'"),
                        e,
                    )
                })?;
            for p in topic_partitions(s, &md, topic)? {
                partitions.push((topic.clone(), p));
            }
        }
    }
    let fresh: Vec<(String, i32)> = partitions
        .into_iter()
        .filter(|tp| !known.contains(tp))
        .collect();
    let mut out = Vec::new();
    for (topic, partition) in fresh {
        let start = if initial {
            start_offset(cfg, consumer, &topic, partition)?
        } else {
            // Partitions that appear while running are read from the beginning, as in Flink.
            let (low, _) = watermarks(cfg, consumer, &topic, partition)?;
            low
        };
        let stop = stop_offset(cfg, consumer, &topic, partition)?;
        out.push(KafkaSplit {
            topic,
            partition,
            next_offset: start,
            stop_offset: stop,
            upsert_state: Vec::new(),
        });
    }
    Ok(out)
}

fn watermarks(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64)> {
    consumer
        .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
        .map_err(|e| {
            kafka_error_ctx(
                &cfg.settings,
                consumer,
                &format!("cannot read the offsets of topic '{topic}' partition {partition}"),
                e,
            )
        })
}

fn committed(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let c = consumer
        .committed_offsets(tpl, REQUEST_TIMEOUT)
        .map_err(|e| {
            kafka_error_ctx(
                &cfg.settings,
                consumer,
                &format!(
                    "cannot read the committed offset of group '{}' for topic '{topic}' partition {partition}",
                    cfg.group_id
                ),
                e,
            )
        })?;
    Ok(c.find_partition(topic, partition)
        .and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }))
}

fn for_timestamp(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
    ts: i64,
) -> Result<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(ts))
        .map_err(|e| kafka_error(&cfg.settings, "cannot build an offset request", e))?;
    let r = consumer
        .offsets_for_times(tpl, REQUEST_TIMEOUT)
        .map_err(|e| {
            kafka_error_ctx(
                &cfg.settings,
                consumer,
                &format!("cannot look up timestamp {ts} in topic '{topic}' partition {partition}"),
                e,
            )
        })?;
    match r.find_partition(topic, partition).map(|e| e.offset()) {
        Some(Offset::Offset(o)) => Ok(o),
        // No record at or after the timestamp: the end of the partition.
        _ => Ok(watermarks(cfg, consumer, topic, partition)?.1),
    }
}

fn group_or_reset(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
) -> Result<i64> {
    if let Some(o) = committed(cfg, consumer, topic, partition)? {
        return Ok(o);
    }
    let reset = cfg
        .settings
        .properties
        .get("auto.offset.reset")
        .map(|s| s.to_ascii_lowercase());
    match reset.as_deref() {
        Some("earliest") | Some("smallest") | Some("beginning") => {
            Ok(watermarks(cfg, consumer, topic, partition)?.0)
        }
        Some("latest") | Some("largest") | Some("end") => {
            Ok(watermarks(cfg, consumer, topic, partition)?.1)
        }
        _ => Err(Error::user(format!(
            "{}: consumer group '{}' has no committed offset for topic '{topic}' partition {partition} \
             ('scan.startup.mode' = 'group-offsets'). Set 'properties.auto.offset.reset' to \
             'earliest' or 'latest', or choose another 'scan.startup.mode'",
            cfg.settings.context, cfg.group_id
        ))),
    }
}

fn start_offset(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
) -> Result<i64> {
    match cfg.startup {
        StartupMode::EarliestOffset => Ok(watermarks(cfg, consumer, topic, partition)?.0),
        StartupMode::LatestOffset => Ok(watermarks(cfg, consumer, topic, partition)?.1),
        StartupMode::GroupOffsets => group_or_reset(cfg, consumer, topic, partition),
        StartupMode::Timestamp => {
            let ts = cfg.startup_timestamp.unwrap_or(0);
            for_timestamp(cfg, consumer, topic, partition, ts)
        }
        StartupMode::SpecificOffsets => {
            match cfg
                .startup_offsets
                .iter()
                .find(|p| p.partition == partition)
            {
                Some(p) => Ok(p.offset),
                None => group_or_reset(cfg, consumer, topic, partition),
            }
        }
    }
}

fn stop_offset(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>> {
    Ok(match cfg.bounded {
        BoundedMode::Unbounded => None,
        BoundedMode::LatestOffset => Some(watermarks(cfg, consumer, topic, partition)?.1),
        BoundedMode::GroupOffsets => match committed(cfg, consumer, topic, partition)? {
            Some(o) => Some(o),
            None => {
                return Err(Error::user(format!(
                    "{}: consumer group '{}' has no committed offset for topic '{topic}' partition \
                     {partition}, so 'scan.bounded.mode' = 'group-offsets' has no end there",
                    cfg.settings.context, cfg.group_id
                )))
            }
        },
        BoundedMode::Timestamp => Some(for_timestamp(
            cfg,
            consumer,
            topic,
            partition,
            cfg.bounded_timestamp.unwrap_or(i64::MAX),
        )?),
        BoundedMode::SpecificOffsets => Some(
            match cfg
                .bounded_offsets
                .iter()
                .find(|p| p.partition == partition)
            {
                Some(p) => p.offset,
                None => watermarks(cfg, consumer, topic, partition)?.1,
            },
        ),
    })
}

#[async_trait]
impl SplitEnumerator for KafkaEnumerator {
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment> {
        if self.discovery_due() {
            self.discover().await?;
        }
        let mine = self.pending.remove(&subtask).unwrap_or_default();
        if !mine.is_empty() {
            return mine
                .iter()
                .map(SplitState::to_split)
                .collect::<Result<Vec<_>>>()
                .map(SplitAssignment::Splits);
        }
        if self.cfg.bounded != BoundedMode::Unbounded || self.cfg.discovery.is_none() {
            Ok(SplitAssignment::NoMoreSplits)
        } else {
            // Nothing new: the reader carries on with what it has and asks again later.
            Ok(SplitAssignment::Splits(Vec::new()))
        }
    }

    fn add_splits_back(&mut self, splits: Vec<SourceSplit>) {
        for s in splits {
            match KafkaSplit::from_split(&s) {
                Ok(k) => {
                    let owner = self.owner(&k.topic, k.partition);
                    self.pending.entry(owner).or_default().push(k);
                }
                Err(e) => tracing::error!(
                    "{}: dropping unreadable split {}: {e}",
                    self.cfg.settings.context,
                    s.id
                ),
            }
        }
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<VersionedBytes> {
        let state = EnumeratorState {
            known: self.known.iter().cloned().collect(),
            pending: self.pending.values().flatten().cloned().collect(),
            initial_done: self.initial_done,
        };
        VersionedBytes::encode(ENUM_STATE_VERSION, ENUM_STATE_NAME, &state)
    }
}

/// How often a reader of an unbounded source with discovery asks for new splits.
fn ask_interval(cfg: &KafkaSourceConfig) -> Option<Duration> {
    if cfg.bounded != BoundedMode::Unbounded {
        return None;
    }
    cfg.discovery
        .map(|d| d.min(Duration::from_secs(1)).max(Duration::from_millis(50)))
}

struct KafkaReader {
    cfg: Arc<KafkaSourceConfig>,
    core: Option<Box<ReaderCore>>,
    batch_size: usize,
    metrics: Arc<SourceMetrics>,
    subtask: usize,
    no_more_splits: bool,
    next_ask: Option<Instant>,
    offsets_by_checkpoint: BTreeMap<u64, Vec<(String, i32, i64)>>,
    /// The split (`topic-partition`) of the last batch returned.
    last_split: Option<String>,
}

impl KafkaReader {
    fn core(&mut self) -> Result<&mut ReaderCore> {
        if self.core.is_none() {
            let consumer = self.cfg.consumer(&format!("reader-{}", self.subtask))?;
            let key_dec = match (&self.cfg.key_format, &self.cfg.layout.key_schema) {
                (Some(f), Some(s)) => Some(f.decoder(s.clone())?),
                _ => None,
            };
            let value_dec = self.cfg.value_format.decoder_with_metadata(
                self.cfg.layout.value_schema.clone(),
                &self.cfg.format_keys,
            )?;
            self.core = Some(Box::new(ReaderCore {
                cfg: self.cfg.clone(),
                consumer,
                splits: BTreeMap::new(),
                key_dec,
                value_dec,
                metrics: self.metrics.clone(),
                skipped_reported: 0,
                check_positions: false,
                last_warning: None,
                upsert_state: HashMap::new(),
                held: None,
            }));
        }
        self.core
            .as_deref_mut()
            .ok_or_else(|| Error::internal("Kafka reader lost its consumer"))
    }
}

#[async_trait]
impl SourceReader for KafkaReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        if splits.is_empty() {
            return Ok(());
        }
        let core = self.core()?;
        let mut tpl = TopicPartitionList::new();
        for s in splits {
            let k = KafkaSplit::from_split(&s)?;
            if matches!(k.stop_offset, Some(stop) if k.next_offset >= stop) {
                tracing::info!(
                    "{}: split {} is already at its end",
                    core.cfg.settings.context,
                    s.id
                );
                continue;
            }
            tpl.add_partition_offset(&k.topic, k.partition, Offset::Offset(k.next_offset))
                .map_err(|e| kafka_error(&core.cfg.settings, "cannot assign a partition", e))?;
            if core.cfg.upsert {
                let mut m = HashMap::new();
                for (key, value) in &k.upsert_state {
                    let (Ok(key), Ok(value)) = (B64.decode(key), B64.decode(value)) else {
                        return Err(Error::internal(format!(
                            "split {}: unreadable upsert state",
                            s.id
                        )));
                    };
                    m.insert(key, value);
                }
                core.upsert_state.insert((k.topic.clone(), k.partition), m);
            }
            let mut k = k;
            k.upsert_state.clear();
            core.splits.insert((k.topic.clone(), k.partition), k);
        }
        if tpl.count() > 0 {
            core.consumer
                .incremental_assign(&tpl)
                .map_err(|e| kafka_error(&core.cfg.settings, "cannot assign partitions", e))?;
        }
        Ok(())
    }

    fn no_more_splits(&mut self) {
        self.no_more_splits = true;
        self.next_ask = None;
    }

    async fn poll_next(&mut self) -> Result<ReadEvent> {
        let has_splits = self.core.as_ref().is_some_and(|c| !c.splits.is_empty());
        let due = self.next_ask.is_some_and(|t| Instant::now() >= t);
        // A bounded reader whose splits are done asks once more, to learn there are no more.
        let bounded_done = !has_splits && self.cfg.bounded != BoundedMode::Unbounded;
        if !self.no_more_splits && (due || bounded_done) {
            self.next_ask = ask_interval(&self.cfg).map(|d| Instant::now() + d);
            return Ok(ReadEvent::NeedSplits);
        }
        let has_splits = self.core.as_ref().is_some_and(|c| !c.splits.is_empty());
        if !has_splits {
            if self.no_more_splits {
                return Ok(ReadEvent::End);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(ReadEvent::Idle);
        }
        let Some(mut core) = self.core.take() else {
            return Ok(ReadEvent::Idle);
        };
        let batch_size = self.batch_size;
        let (core, result) = tokio::task::spawn_blocking(move || {
            let r = core.poll_batch(batch_size, Duration::from_millis(100));
            (core, r)
        })
        .await
        .map_err(|e| Error::internal(format!("Kafka reader task failed: {e}")))?;
        let skipped = core.value_dec.skipped_records()
            + core.key_dec.as_ref().map_or(0, |d| d.skipped_records());
        if skipped > core.skipped_reported {
            self.metrics.add_skipped(skipped - core.skipped_reported);
        }
        let mut core = core;
        core.skipped_reported = skipped;
        let empty = core.splits.is_empty();
        self.core = Some(core);
        match result? {
            Some((b, split)) if b.batch.num_rows() > 0 => {
                self.last_split = split;
                Ok(ReadEvent::Batch(b))
            }
            _ if empty && self.no_more_splits => Ok(ReadEvent::End),
            _ => Ok(ReadEvent::Idle),
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<SourceSplit>> {
        let Some(core) = self.core.as_ref() else {
            return Ok(Vec::new());
        };
        let splits: Vec<SourceSplit> = core
            .splits
            .values()
            .map(|sp| {
                if !core.cfg.upsert {
                    return sp.to_split();
                }
                let mut with_state = sp.clone();
                if let Some(m) = core.upsert_state.get(&(sp.topic.clone(), sp.partition)) {
                    with_state.upsert_state = m
                        .iter()
                        .map(|(k, v)| (B64.encode(k), B64.encode(v)))
                        .collect();
                    with_state.upsert_state.sort();
                }
                with_state.to_split()
            })
            .collect::<Result<_>>()?;
        self.offsets_by_checkpoint.insert(
            checkpoint_id,
            core.splits
                .values()
                .map(|s| (s.topic.clone(), s.partition, s.next_offset))
                .collect(),
        );
        // Keep only a few pending checkpoints' offsets.
        while self.offsets_by_checkpoint.len() > 8 {
            self.offsets_by_checkpoint.pop_first();
        }
        Ok(splits)
    }

    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let Some(offsets) = self.offsets_by_checkpoint.remove(&checkpoint_id) else {
            return Ok(());
        };
        self.offsets_by_checkpoint
            .retain(|id, _| *id > checkpoint_id);
        let Some(core) = self.core.as_ref() else {
            return Ok(());
        };
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in offsets {
            if tpl.add_partition_offset(&t, p, Offset::Offset(o)).is_err() {
                continue;
            }
        }
        // For monitoring only (the job's own position is in its checkpoints): failures are logged.
        if let Err(e) = core.consumer.commit(&tpl, CommitMode::Async) {
            tracing::warn!(
                "{}: cannot commit offsets of checkpoint {checkpoint_id} to group '{}': {e}",
                core.cfg.settings.context,
                core.cfg.group_id
            );
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        self.core = None;
        Ok(())
    }

    fn batch_split(&self) -> Option<&str> {
        self.last_split.as_deref()
    }
}

/// Rows of one upsert-kafka record, normalized as Flink's ChangelogNormalize does: a new key is
/// `+I`, a changed value `-U` (previous value) and `+U`, an unchanged value nothing, a tombstone
/// `-D` with the previous value (nothing for an unknown key). Returns, per row, the value row and
/// key row buffered in the decoders, and the row kinds.
///
/// A record whose key or new value does not decode (or that has no key) goes to the table's
/// bad-record policy (`bad`: the policy and the key and value formats' names): under `skip` and
/// `dead-letter` it yields no rows and leaves `state` as it was, as if it had not been read.
/// Rows are referred to by index, so the new value is decoded first and the previous value (read
/// before, so it decodes) only once the record is known to be good.
#[allow(clippy::type_complexity)]
fn normalize_upsert(
    key_dec: &mut Option<Box<dyn Decoder>>,
    value_dec: &mut Box<dyn Decoder>,
    state: &mut HashMap<Vec<u8>, Vec<u8>>,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    origin: &RecordOrigin,
    bad: (&BadRecords, Option<&str>, &str),
) -> Result<(Vec<Option<u32>>, Vec<Option<u32>>, Vec<i8>)> {
    let (policy, key_format, value_format) = bad;
    let none = || (Vec::new(), Vec::new(), Vec::new());
    let (Some(key), Some(kd)) = (key, key_dec.as_mut()) else {
        let e = Error::BadRecord {
            format: "upsert-kafka".into(),
            origin: origin.clone(),
            reason:
                "the message has no key; upsert-kafka needs the primary key in every message key"
                    .into(),
        };
        policy.handle(
            payload.unwrap_or_default(),
            origin,
            e,
            Stage::Decode,
            Some("upsert-kafka"),
        )?;
        return Ok(none());
    };
    let old = state.get(key);
    let (new_kind, old_kind) = match (payload, old) {
        (Some(v), Some(o)) if o.as_slice() == v => return Ok(none()),
        (Some(_), Some(_)) => (Some(RowKind::UpdateAfter), Some(RowKind::UpdateBefore)),
        (Some(_), None) => (Some(RowKind::Insert), None),
        (None, Some(_)) => (None, Some(RowKind::Delete)),
        (None, None) => return Ok(none()),
    };
    // The key: one row, shared by the record's rows.
    let kb = kd.buffered_rows();
    if let Err(e) = kd.decode(key, origin) {
        policy.handle(key, origin, e, Stage::Decode, key_format)?;
        return Ok(none());
    }
    if kd.buffered_rows() != kb + 1 {
        // (a row buffered by a key format producing several stays unused: rows go by index)
        let e = Error::BadRecord {
            format: "upsert-kafka".into(),
            origin: origin.clone(),
            reason: "the key could not be decoded into exactly one row".into(),
        };
        policy.handle(key, origin, e, Stage::Decode, key_format)?;
        return Ok(none());
    }
    // The new value, when there is one.
    let new_row = match payload {
        Some(v) => {
            let vb = value_dec.buffered_rows();
            if let Err(e) = value_dec.decode(v, origin) {
                policy.handle(v, origin, e, Stage::Decode, Some(value_format))?;
                return Ok(none());
            }
            if value_dec.buffered_rows() != vb + 1 {
                // skipped by ignore-parse-errors (or not one row): the record changes nothing
                return Ok(none());
            }
            Some(vb as u32)
        }
        None => None,
    };
    let old_row = match (old, old_kind) {
        (Some(o), Some(_)) => {
            let vb = value_dec.buffered_rows();
            value_dec.decode(o, origin)?;
            (value_dec.buffered_rows() == vb + 1).then_some(vb as u32)
        }
        _ => None,
    };
    let (mut keys, mut values, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(r), Some(k)) = (old_row, old_kind) {
        keys.push(Some(kb as u32));
        values.push(Some(r));
        kinds.push(k as i8);
    }
    if let (Some(r), Some(k)) = (new_row, new_kind) {
        keys.push(Some(kb as u32));
        values.push(Some(r));
        kinds.push(k as i8);
    }
    match payload {
        Some(v) => {
            state.insert(key.to_vec(), v.to_vec());
        }
        None => {
            state.remove(key);
        }
    }
    Ok((keys, values, kinds))
}

/// The headers of one record: keys with optional values.
type HeaderList = Vec<(String, Option<Vec<u8>>)>;

/// Per-message values of the metadata columns of one batch.
#[derive(Default)]
struct MetaScratch {
    topic: Vec<Arc<str>>,
    partition: Vec<i32>,
    offset: Vec<i64>,
    timestamp: Vec<Option<i64>>,
    timestamp_type: Vec<&'static str>,
    headers: Vec<HeaderList>,
    leader_epoch: Vec<Option<i32>>,
}

/// The leader epoch librdkafka recorded for a message, if the broker sent one.
#[allow(unsafe_code)]
fn leader_epoch(msg: &rdkafka::message::BorrowedMessage<'_>) -> Option<i32> {
    // SAFETY: `ptr()` is the message librdkafka handed out, valid while `msg` is borrowed;
    // rd_kafka_message_leader_epoch only reads a field of it.
    let e = unsafe { rdkafka::bindings::rd_kafka_message_leader_epoch(msg.ptr()) };
    (e >= 0).then_some(e)
}

struct ReaderCore {
    cfg: Arc<KafkaSourceConfig>,
    consumer: SourceConsumer,
    splits: BTreeMap<(String, i32), KafkaSplit>,
    key_dec: Option<Box<dyn Decoder>>,
    value_dec: Box<dyn Decoder>,
    metrics: Arc<SourceMetrics>,
    skipped_reported: u64,
    check_positions: bool,
    last_warning: Option<Instant>,
    /// upsert-kafka: latest value per key, per partition.
    upsert_state: HashMap<(String, i32), HashMap<Vec<u8>, Vec<u8>>>,
    /// A polled message of another partition than the last batch's: the next batch starts with
    /// it (not decoded yet, so its split's state does not include it).
    held: Option<HeldMessage>,
}

struct HeldMessage {
    msg: rdkafka::message::OwnedMessage,
    leader_epoch: Option<i32>,
}

/// The rows of a batch being read, before assembly.
#[derive(Default)]
struct BatchScratch {
    want_meta: bool,
    meta: MetaScratch,
    topics: HashMap<String, Arc<str>>,
    /// Output row -> message index (or metadata row).
    rows_msg: Vec<u32>,
    /// Output row -> value row, None for a tombstone.
    rows_value: Vec<Option<u32>>,
    /// Output row -> key row.
    rows_key: Vec<Option<u32>>,
    upsert_kinds: Vec<i8>,
    messages: u32,
    bytes: u64,
}

/// Consumer errors that end the job; librdkafka recovers from the others by itself.
fn is_fatal(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::AutoOffsetReset
                | RDKafkaErrorCode::Fatal
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::InvalidArgument
        )
    )
}

/// What decoding one message needs of a [`ReaderCore`] (borrowed apart from the consumer a
/// polled message borrows).
struct MsgCtx<'a> {
    cfg: &'a KafkaSourceConfig,
    consumer: &'a SourceConsumer,
    splits: &'a mut BTreeMap<(String, i32), KafkaSplit>,
    key_dec: &'a mut Option<Box<dyn Decoder>>,
    value_dec: &'a mut Box<dyn Decoder>,
    upsert_state: &'a mut UpsertState,
    /// The table's bad-record policy.
    bad_records: &'a BadRecords,
}

/// upsert-kafka: the latest value per key, per partition.
type UpsertState = HashMap<(String, i32), HashMap<Vec<u8>, Vec<u8>>>;

/// A split reached its stop offset: forget it and stop fetching its partition.
fn finish_split_in(
    cfg: &KafkaSourceConfig,
    consumer: &SourceConsumer,
    splits: &mut BTreeMap<(String, i32), KafkaSplit>,
    topic: &str,
    partition: i32,
) {
    if let Some(s) = splits.remove(&(topic.to_string(), partition)) {
        tracing::info!(
            "{}: split {}-{} reached its end offset {:?}",
            cfg.settings.context,
            s.topic,
            s.partition,
            s.stop_offset
        );
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        if let Err(e) = consumer.incremental_unassign(&tpl) {
            tracing::warn!(
                "{}: cannot unassign {topic}-{partition}: {e}",
                cfg.settings.context
            );
        }
    }
}

impl ReaderCore {
    fn finish_split(&mut self, topic: &str, partition: i32) {
        finish_split_in(
            &self.cfg,
            &self.consumer,
            &mut self.splits,
            topic,
            partition,
        );
    }

    fn msg_ctx(&mut self) -> MsgCtx<'_> {
        MsgCtx {
            cfg: &self.cfg,
            consumer: &self.consumer,
            splits: &mut self.splits,
            key_dec: &mut self.key_dec,
            value_dec: &mut self.value_dec,
            upsert_state: &mut self.upsert_state,
            bad_records: &self.metrics.bad_records,
        }
    }

    /// After an end-of-partition event, splits whose consumer position passed their stop offset
    /// (control records of transactions take offsets no message is delivered for) are done.
    fn check_positions(&mut self) -> Result<()> {
        self.check_positions = false;
        if !self.splits.values().any(|s| s.stop_offset.is_some()) {
            return Ok(());
        }
        let pos = self
            .consumer
            .position()
            .map_err(|e| kafka_error(&self.cfg.settings, "cannot read the consumer position", e))?;
        let mut done = Vec::new();
        for s in self.splits.values() {
            let Some(stop) = s.stop_offset else { continue };
            // A held message of the split is not read yet, whatever the consumer's position.
            if self
                .held
                .as_ref()
                .is_some_and(|h| h.msg.partition() == s.partition && h.msg.topic() == s.topic)
            {
                continue;
            }
            if let Some(Offset::Offset(p)) = pos
                .find_partition(&s.topic, s.partition)
                .map(|e| e.offset())
            {
                if p >= stop {
                    done.push((s.topic.clone(), s.partition));
                }
            }
        }
        for (t, p) in done {
            self.finish_split(&t, p);
        }
        Ok(())
    }

    /// Read up to `max_rows` rows, all from one partition, waiting up to `max_wait` for the
    /// first. Returns the rows and the id of their split. A message of another partition ends
    /// the batch and is kept for the next call (undecoded, so split states and upsert state
    /// only cover rows handed out, and a checkpoint taken in between is exact).
    fn poll_batch(
        &mut self,
        max_rows: usize,
        max_wait: Duration,
    ) -> Result<Option<(ChangelogBatch, Option<String>)>> {
        let deadline = Instant::now() + max_wait;
        let mut b = BatchScratch {
            want_meta: self
                .cfg
                .layout
                .columns
                .iter()
                .any(|c| matches!(c, ColumnSource::Meta(_))),
            ..BatchScratch::default()
        };
        // The partition of this batch's rows.
        let mut current: Option<(String, i32)> = None;
        if let Some(q) = self.held.take() {
            if Self::take_message(&mut self.msg_ctx(), &q.msg, q.leader_epoch, &mut b)? {
                current = Some((q.msg.topic().to_string(), q.msg.partition()));
            }
        }
        while b.rows_msg.len() < max_rows {
            let timeout = if b.rows_msg.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            let Some(polled) = self.consumer.poll(timeout) else {
                if b.rows_msg.is_empty() && Instant::now() < deadline {
                    continue;
                }
                break;
            };
            let msg = match polled {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(_)) => {
                    self.check_positions = true;
                    if b.rows_msg.is_empty() {
                        continue;
                    }
                    break;
                }
                Err(e) if is_fatal(&e) => {
                    let doing = if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset)
                    {
                        "cannot read messages: a split's offset is out of range (deleted by \
                         retention, or beyond the end); set 'properties.auto.offset.reset' to \
                         'earliest' or 'latest' to skip to a valid offset"
                    } else {
                        "cannot read messages"
                    };
                    return Err(kafka_error_ctx(
                        &self.cfg.settings,
                        &self.consumer,
                        doing,
                        e,
                    ));
                }
                Err(e) => {
                    // librdkafka reconnects by itself (broker restarts, network blips): report
                    // and keep polling.
                    if self
                        .last_warning
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
                    {
                        tracing::warn!(
                            "{}: {e} (cluster '{}'); librdkafka keeps retrying",
                            self.cfg.settings.context,
                            self.cfg.settings.bootstrap()
                        );
                        self.last_warning = Some(Instant::now());
                    }
                    if b.rows_msg.is_empty() {
                        continue;
                    }
                    break;
                }
            };
            if let Some((t, p)) = &current {
                if msg.partition() != *p || msg.topic() != t {
                    // Another partition: it starts the next batch.
                    self.held = Some(HeldMessage {
                        leader_epoch: leader_epoch(&msg),
                        msg: msg.detach(),
                    });
                    break;
                }
            }
            let epoch = leader_epoch(&msg);
            let mut cx = MsgCtx {
                cfg: &self.cfg,
                consumer: &self.consumer,
                splits: &mut self.splits,
                key_dec: &mut self.key_dec,
                value_dec: &mut self.value_dec,
                upsert_state: &mut self.upsert_state,
                bad_records: &self.metrics.bad_records,
            };
            if Self::take_message(&mut cx, &msg, epoch, &mut b)? && current.is_none() {
                current = Some((msg.topic().to_string(), msg.partition()));
            }
            // A partition whose messages gave no rows yet does not hold the batch.
            if b.rows_msg.is_empty() {
                current = None;
            }
        }
        let (rows_msg, rows_value, rows_key, meta, upsert_kinds, bytes) = (
            b.rows_msg,
            b.rows_value,
            b.rows_key,
            b.meta,
            b.upsert_kinds,
            b.bytes,
        );
        if self.check_positions {
            self.check_positions()?;
        }
        self.metrics.add_bytes(bytes);
        if rows_msg.is_empty() && self.value_dec.buffered_rows() == 0 {
            // Drop what a key decoder may hold for messages without rows.
            if let Some(d) = &mut self.key_dec {
                if d.buffered_rows() > 0 {
                    d.finish()?;
                }
            }
            return Ok(None);
        }
        let started_assembly = Instant::now();
        let out = self.assemble(&rows_msg, &rows_value, &rows_key, &meta, upsert_kinds);
        tracing::trace!(
            rows = rows_msg.len(),
            poll_ms = (started_assembly - (deadline - max_wait)).as_millis() as u64,
            assemble_us = started_assembly.elapsed().as_micros() as u64,
            "kafka reader batch"
        );
        let split = current.map(|(t, p)| format!("{t}-{p}"));
        out.map(|o| Some((o, split)))
    }

    /// Decode one message into the batch being built; false when it belongs to no split of
    /// this reader (a partition just unassigned, or past its end).
    fn take_message<M: Message>(
        cx: &mut MsgCtx<'_>,
        msg: &M,
        epoch: Option<i32>,
        b: &mut BatchScratch,
    ) -> Result<bool> {
        let topic = msg.topic();
        let partition = msg.partition();
        let offset = msg.offset();
        let Some(split) = cx.splits.get_mut(&(topic.to_string(), partition)) else {
            return Ok(false); // a message of a partition just unassigned
        };
        if let Some(stop) = split.stop_offset {
            if offset >= stop {
                let t = topic.to_string();
                finish_split_in(cx.cfg, cx.consumer, cx.splits, &t, partition);
                return Ok(false);
            }
        }
        split.next_offset = offset + 1;
        let at_end = matches!(split.stop_offset, Some(stop) if offset + 1 >= stop);
        let origin = RecordOrigin::Log {
            topic: topic.to_string(),
            partition,
            offset,
        };
        b.bytes += (msg.payload().map_or(0, <[u8]>::len) + msg.key().map_or(0, <[u8]>::len)) as u64;
        let (key_rows, produced, kinds) = if cx.cfg.upsert {
            normalize_upsert(
                cx.key_dec,
                cx.value_dec,
                cx.upsert_state
                    .entry((topic.to_string(), partition))
                    .or_default(),
                msg.key(),
                msg.payload(),
                &origin,
                (
                    cx.bad_records,
                    cx.cfg.key_format.as_ref().map(|f| f.identifier()),
                    cx.cfg.value_format.identifier(),
                ),
            )?
        } else {
            // A record the formats cannot decode goes to the table's bad-record policy (fail,
            // skip, dead letter) and yields no rows.
            let mut bad = false;
            let key_row = match (&mut *cx.key_dec, msg.key()) {
                (Some(d), Some(k)) => {
                    let before = d.buffered_rows();
                    if let Err(e) = d.decode(k, &origin) {
                        let format = cx.cfg.key_format.as_ref().map(|f| f.identifier());
                        cx.bad_records
                            .handle(k, &origin, e, Stage::Decode, format)?;
                        bad = true;
                    }
                    let after = d.buffered_rows();
                    match after - before {
                        0 => None,
                        1 => Some(before as u32),
                        n => {
                            return Err(Error::BadRecord {
                                format: "kafka".into(),
                                origin,
                                reason: format!(
                                    "the key format produced {n} rows from one key; a key must be one row"
                                ),
                            })
                        }
                    }
                }
                _ => None,
            };
            let produced: Vec<Option<u32>> = match msg.payload() {
                _ if bad => Vec::new(),
                None => {
                    tracing::debug!(
                        "{}: skipping tombstone at {origin}",
                        cx.cfg.settings.context
                    );
                    Vec::new()
                }
                Some(v) => {
                    let before = cx.value_dec.buffered_rows();
                    if let Err(e) = cx.value_dec.decode(v, &origin) {
                        cx.bad_records.handle(
                            v,
                            &origin,
                            e,
                            Stage::Decode,
                            Some(cx.cfg.value_format.identifier()),
                        )?;
                    }
                    let after = cx.value_dec.buffered_rows();
                    (before..after).map(|r| Some(r as u32)).collect()
                }
            };
            (vec![key_row; produced.len()], produced, Vec::new())
        };
        if !produced.is_empty() && b.want_meta {
            let t = b
                .topics
                .entry(topic.to_string())
                .or_insert_with(|| Arc::from(topic))
                .clone();
            b.meta.topic.push(t);
            b.meta.partition.push(partition);
            b.meta.offset.push(offset);
            let (ts, ty) = match msg.timestamp() {
                rdkafka::Timestamp::NotAvailable => (None, "NoTimestampType"),
                rdkafka::Timestamp::CreateTime(t) => (Some(t), "CreateTime"),
                rdkafka::Timestamp::LogAppendTime(t) => (Some(t), "LogAppendTime"),
            };
            b.meta.timestamp.push(ts);
            b.meta.timestamp_type.push(ty);
            let mut hs = Vec::new();
            if let Some(h) = msg.headers() {
                for hd in h.iter() {
                    hs.push((hd.key.to_string(), hd.value.map(<[u8]>::to_vec)));
                }
            }
            b.meta.headers.push(hs);
            b.meta.leader_epoch.push(epoch);
        }
        b.upsert_kinds.extend(kinds);
        for (i, v) in produced.into_iter().enumerate() {
            b.rows_msg.push(if b.want_meta {
                b.meta.offset.len() as u32 - 1
            } else {
                b.messages
            });
            b.rows_value.push(v);
            b.rows_key.push(key_rows.get(i).copied().flatten());
        }
        b.messages += 1;
        if at_end {
            let t = topic.to_string();
            finish_split_in(cx.cfg, cx.consumer, cx.splits, &t, partition);
        }
        Ok(true)
    }

    fn assemble(
        &mut self,
        rows_msg: &[u32],
        rows_value: &[Option<u32>],
        rows_key: &[Option<u32>],
        meta: &MetaScratch,
        upsert_kinds: Vec<i8>,
    ) -> Result<ChangelogBatch> {
        let value = self.value_dec.finish()?;
        let key = match &mut self.key_dec {
            Some(d) => Some(d.finish()?),
            None => None,
        };
        let n = rows_value.len();
        let value_identity = rows_value.len() == value.batch.num_rows()
            && rows_value
                .iter()
                .enumerate()
                .all(|(i, v)| *v == Some(i as u32));
        let value_idx = UInt32Array::from(rows_value.to_vec());
        let key_idx = UInt32Array::from(rows_key.to_vec());
        let msg_idx = UInt32Array::from(rows_msg.to_vec());
        let schema = self.cfg.layout.schema.clone();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        let mut meta_cache: HashMap<&'static str, ArrayRef> = HashMap::new();
        for (i, src) in self.cfg.layout.columns.iter().enumerate() {
            let field = schema.field(i);
            let col: ArrayRef = match src {
                ColumnSource::Value(j) => {
                    let c = value.batch.column(*j).clone();
                    if value_identity {
                        c
                    } else {
                        take(c.as_ref(), &value_idx, None)?
                    }
                }
                ColumnSource::FormatMeta(pos) => {
                    let j = self.cfg.layout.value_schema.fields().len() + pos;
                    let c = value.batch.column(j).clone();
                    let c = if value_identity {
                        c
                    } else {
                        take(c.as_ref(), &value_idx, None)?
                    };
                    if c.data_type() == field.data_type() {
                        c
                    } else {
                        cast(c.as_ref(), field.data_type())?
                    }
                }
                ColumnSource::Key(j) => match &key {
                    Some(k) => take(k.batch.column(*j).as_ref(), &key_idx, None)?,
                    None => arrow::array::new_null_array(field.data_type(), n),
                },
                ColumnSource::Meta(m) => {
                    let natural = meta_array(*m, meta, &mut meta_cache, field.data_type())?;
                    let c = take(natural.as_ref(), &msg_idx, None)?;
                    if c.data_type() == field.data_type() {
                        c
                    } else {
                        cast(c.as_ref(), field.data_type())?
                    }
                }
            };
            cols.push(col);
        }
        let batch = RecordBatch::try_new(schema, cols).map_err(|e| {
            Error::user(format!(
                "{}: cannot build rows from the decoded messages: {e}. A NOT NULL column may have \
                 received NULL (e.g. from a tombstone or a missing key)",
                self.cfg.settings.context
            ))
        })?;
        let kinds = if self.cfg.upsert {
            Some(Int8Array::from(upsert_kinds))
        } else {
            match &value.kinds {
                Some(k) if value_identity => Some(k.clone()),
                Some(k) => {
                    let t = take(k, &value_idx, None)?;
                    t.as_any().downcast_ref::<Int8Array>().cloned()
                }
                None => None,
            }
        };
        Ok(ChangelogBatch { batch, kinds })
    }
}

fn meta_array(
    m: MetaKey,
    meta: &MetaScratch,
    cache: &mut HashMap<&'static str, ArrayRef>,
    target: &ArrowType,
) -> Result<ArrayRef> {
    let name = match m {
        MetaKey::Topic => "topic",
        MetaKey::Partition => "partition",
        MetaKey::Headers => "headers",
        MetaKey::LeaderEpoch => "leader-epoch",
        MetaKey::Offset => "offset",
        MetaKey::Timestamp => "timestamp",
        MetaKey::TimestampType => "timestamp-type",
    };
    if let Some(a) = cache.get(name) {
        return Ok(a.clone());
    }
    let a: ArrayRef = match m {
        MetaKey::Topic => Arc::new(StringArray::from_iter_values(
            meta.topic.iter().map(|t| &**t),
        )),
        MetaKey::Partition => Arc::new(Int32Array::from(meta.partition.clone())),
        MetaKey::Offset => Arc::new(Int64Array::from(meta.offset.clone())),
        MetaKey::LeaderEpoch => Arc::new(Int32Array::from(meta.leader_epoch.clone())),
        MetaKey::Timestamp => Arc::new(TimestampMillisecondArray::from(meta.timestamp.clone())),
        MetaKey::TimestampType => Arc::new(StringArray::from(meta.timestamp_type.clone())),
        MetaKey::Headers => headers_array(&meta.headers, target)?,
    };
    cache.insert(name, a.clone());
    Ok(a)
}

/// `MAP<STRING, BYTES>` from per-message header lists, shaped as the column's Arrow type.
fn headers_array(headers: &[HeaderList], target: &ArrowType) -> Result<ArrayRef> {
    let ArrowType::Map(entries_field, sorted) = target else {
        return Err(Error::user(format!(
            "metadata 'headers' must be declared MAP<STRING, BYTES>, not {target}"
        )));
    };
    let ArrowType::Struct(fields) = entries_field.data_type() else {
        return Err(Error::internal("map entries are not a struct"));
    };
    let mut offsets = Vec::with_capacity(headers.len() + 1);
    offsets.push(0i32);
    let mut keys = Vec::new();
    let mut values = BinaryBuilder::new();
    for hs in headers {
        for (k, v) in hs {
            keys.push(k.as_str());
            match v {
                Some(v) => values.append_value(v),
                None => values.append_null(),
            }
        }
        offsets.push(keys.len() as i32);
    }
    let key_arr: ArrayRef = Arc::new(StringArray::from(keys));
    let val_arr: ArrayRef = Arc::new(values.finish());
    let key_arr = if fields[0].data_type() == key_arr.data_type() {
        key_arr
    } else {
        cast(key_arr.as_ref(), fields[0].data_type())?
    };
    let val_arr = if fields[1].data_type() == val_arr.data_type() {
        val_arr
    } else {
        cast(val_arr.as_ref(), fields[1].data_type())?
    };
    let entries = StructArray::try_new(fields.clone(), vec![key_arr, val_arr], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries_field.clone(),
        OffsetBuffer::new(offsets.into()),
        entries,
        None,
        *sorted,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        // "hello".hashCode() in Java
        assert_eq!(java_hash("hello"), 99162322);
        // wraps like Java's int arithmetic
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn owners_spread_partitions() {
        let owners: Vec<usize> = (0..6).map(|p| owner_of("orders", p, 3)).collect();
        for r in 0..3 {
            assert_eq!(owners.iter().filter(|o| **o == r).count(), 2, "{owners:?}");
        }
        assert_eq!(owner_of("orders", 5, 1), 0);
    }
}
