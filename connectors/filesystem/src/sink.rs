//! The filesystem sink: rows encoded one per line into hidden in-progress part files under
//! `col=value/` partition directories, rolled by size and time, and made visible by the committer
//! once the checkpoint covering them completes.
//!
//! Exactly once: at each checkpoint every open part file is closed and becomes a committable
//! (`in-progress path → final path`); the committer renames it when the checkpoint completes,
//! and does nothing when the final file already exists (so committing again after a restart is
//! harmless). When writers start, subtask 0 deletes every in-progress file left below the path:
//! the runner has already committed what the last completed checkpoint prepared, so what remains
//! belongs to transactions no checkpoint covers, whose rows the source will replay.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{Array, StringArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType as ArrowType, Schema, SchemaRef};
use async_trait::async_trait;
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::format::Encoder;
use headrace_sdk::options::MemorySize;
use headrace_sdk::schema::TableSchema;
use headrace_sdk::sink::{
    Committer, DeliveryGuarantee, DynamicSink, SinkMetrics, SinkWriter, WriterContext,
};
use headrace_sdk::state::VersionedBytes;
use headrace_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::commit::CommitTrigger;
use crate::commit::{
    partitions_to_commit, write_success_file, PartitionCommit, PartitionReport, PartitionTracker,
};
use crate::compact::{compact_unit, plan, Compaction, COMPACTED_PREFIX, COMPACTING_SUFFIX};
use crate::factory::{FileSystemFactory, FormatHandle};
use crate::options::{
    FORMAT, PARTITION_DEFAULT_NAME, PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER,
    PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN, PATH, SINK_PARALLELISM,
    SINK_PARTITION_COMMIT_DELAY, SINK_PARTITION_COMMIT_POLICY_KIND,
    SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME, SINK_PARTITION_COMMIT_TRIGGER,
    SINK_ROLLING_POLICY_CHECK_INTERVAL, SINK_ROLLING_POLICY_FILE_SIZE,
    SINK_ROLLING_POLICY_INACTIVITY_INTERVAL, SINK_ROLLING_POLICY_ROLLOVER_INTERVAL,
};
use crate::partition::partition_dir;

headrace_sdk::connector_builder! {
    /// Builds a [`FileSink`] with the same validation as DDL (`FileSink::builder()`).
    ///
    /// ```no_run
    /// # fn main() -> headrace_sdk::Result<()> {
    /// use headrace_connector_filesystem::FileSink;
    /// let sink = FileSink::builder()
    ///     .columns("id BIGINT, name STRING, dt STRING")?
    ///     .partitioned_by(["dt"])
    ///     .path("/data/out")
    ///     .format("csv")
    ///     .build_sink()?;
    /// # Ok(()) }
    /// ```
    pub struct FileSinkBuilder(FileSystemFactory) {
        /// The directory written.
        path: PATH as String,
        /// The format of the lines.
        format: FORMAT as String,
        /// The directory name of NULL or empty partition values.
        partition_default_name: PARTITION_DEFAULT_NAME as String,
        /// Roll part files at this size.
        rolling_file_size: SINK_ROLLING_POLICY_FILE_SIZE as MemorySize,
        /// Roll part files open this long.
        rolling_rollover_interval: SINK_ROLLING_POLICY_ROLLOVER_INTERVAL as Duration,
        /// Roll part files idle this long.
        rolling_inactivity_interval: SINK_ROLLING_POLICY_INACTIVITY_INTERVAL as Duration,
        /// Check the time-based rules this often.
        rolling_check_interval: SINK_ROLLING_POLICY_CHECK_INTERVAL as Duration,
        /// The number of writers.
        sink_parallelism: SINK_PARALLELISM as i32,
        /// When partitions are committed.
        partition_commit_trigger: SINK_PARTITION_COMMIT_TRIGGER as CommitTrigger,
        /// How long after its time a partition is committed.
        partition_commit_delay: SINK_PARTITION_COMMIT_DELAY as Duration,
        /// What committing a partition does ('success-file').
        partition_commit_policy_kind: SINK_PARTITION_COMMIT_POLICY_KIND as String,
        /// The success file's name.
        partition_commit_success_file_name: SINK_PARTITION_COMMIT_SUCCESS_FILE_NAME as String,
        /// How partition values form a timestamp.
        partition_time_extractor_timestamp_pattern: PARTITION_TIME_EXTRACTOR_TIMESTAMP_PATTERN as String,
        /// How the timestamp string is parsed (Java DateTimeFormatter pattern).
        partition_time_extractor_timestamp_formatter: PARTITION_TIME_EXTRACTOR_TIMESTAMP_FORMATTER as String,
    }
}

impl FileSinkBuilder {
    /// The `PARTITIONED BY` columns (set after `columns` or `schema`).
    pub fn partitioned_by<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        let keys = keys.into_iter().map(Into::into).collect();
        self.state
            .schema
            .get_or_insert_with(TableSchema::default)
            .partition_keys = keys;
        self
    }
}

/// The version of committables: 1 was a bare [`PendingFile`], 2 is a [`Committable`].
const COMMITTABLE_VERSION: u32 = 2;
const COMMITTABLE: &str = "filesystem committable";
/// The version of writer state.
const STATE_VERSION: u32 = 1;
const STATE: &str = "filesystem writer state";

/// What a writer hands to the committer at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Committable {
    /// A part file to make visible.
    File(PendingFile),
    /// The writer's partition commit report.
    Partitions(PartitionReport),
}

impl Committable {
    fn encode(&self) -> Result<VersionedBytes> {
        VersionedBytes::encode(COMMITTABLE_VERSION, COMMITTABLE, self)
    }

    /// Decode a committable of any version.
    pub fn decode(v: &VersionedBytes) -> Result<Self> {
        if v.version == 1 {
            return Ok(Committable::File(v.decode(1, COMMITTABLE)?));
        }
        v.decode(COMMITTABLE_VERSION, COMMITTABLE)
    }
}

/// When part files are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Close a part file once it holds this many bytes.
    pub file_size: u64,
    /// Close a part file open this long.
    pub rollover_interval: Duration,
    /// Close a part file that received nothing for this long.
    pub inactivity_interval: Duration,
    /// How often the two time rules are checked.
    pub check_interval: Duration,
}

/// A sink writing partitioned part files.
#[derive(Debug, Clone)]
pub struct FileSink {
    root: PathBuf,
    format: FormatHandle,
    consumed: SchemaRef,
    partition_keys: Vec<String>,
    partition_indices: Vec<usize>,
    data_indices: Vec<usize>,
    data_schema: SchemaRef,
    /// For Parquet: the schema of the files (see [`crate::parquet::stored_type`]).
    #[cfg(feature = "parquet")]
    stored_schema: Option<SchemaRef>,
    default_name: String,
    policy: RollingPolicy,
    parallelism: Option<usize>,
    commit: Option<PartitionCommit>,
    compaction: Option<Compaction>,
    /// `sink.shuffle-by-partition.enable`: rows of one partition go to one writer.
    shuffle_by_partition: bool,
}

impl FileSink {
    /// A builder: `FileSink::builder().columns("a STRING")?.path("/x").format("csv")`.
    pub fn builder() -> FileSinkBuilder {
        FileSinkBuilder::default()
    }

    /// A sink writing below `root` with `format` (which encodes the non-partition columns of
    /// `schema`).
    pub fn new(
        root: PathBuf,
        format: FormatHandle,
        schema: &TableSchema,
        default_name: String,
        policy: RollingPolicy,
        parallelism: Option<usize>,
    ) -> Result<Self> {
        let consumed = schema.consumed_arrow_schema();
        let mut partition_indices = Vec::new();
        for k in &schema.partition_keys {
            let i = consumed.index_of(k).map_err(|_| {
                Error::Schema(format!(
                    "filesystem sink: partition column '{k}' is not a written column"
                ))
            })?;
            partition_indices.push(i);
        }
        let data_indices: Vec<usize> = (0..consumed.fields().len())
            .filter(|i| !partition_indices.contains(i))
            .collect();
        let data_schema = Arc::new(Schema::new(
            data_indices
                .iter()
                .map(|i| consumed.field(*i).clone())
                .collect::<Vec<_>>(),
        ));
        #[cfg(feature = "parquet")]
        let stored_schema = if format.parquet().is_some() {
            let mut cols = Vec::new();
            for f in data_schema.fields() {
                let c = schema.column(f.name()).ok_or_else(|| {
                    Error::internal(format!(
                        "filesystem sink: written column '{}' is not in the table",
                        f.name()
                    ))
                })?;
                cols.push((f.name().as_str(), &c.data_type));
            }
            Some(crate::parquet::stored_schema(cols))
        } else {
            None
        };
        Ok(FileSink {
            root,
            format,
            consumed,
            partition_keys: schema.partition_keys.clone(),
            partition_indices,
            data_indices,
            data_schema,
            #[cfg(feature = "parquet")]
            stored_schema,
            default_name,
            policy,
            parallelism,
            commit: None,
            compaction: None,
            shuffle_by_partition: false,
        })
    }

    /// Route the rows of one partition to one writer (`sink.shuffle-by-partition.enable`).
    pub fn with_shuffle_by_partition(mut self, enable: bool) -> Self {
        self.shuffle_by_partition = enable;
        self
    }

    /// Commit partitions as `commit` says (`sink.partition-commit.*`); None: never.
    pub fn with_partition_commit(mut self, commit: Option<PartitionCommit>) -> Self {
        self.commit = commit;
        self
    }

    /// Compact each checkpoint's part files per partition into files of `target_size` bytes
    /// (`auto-compaction`, `compaction.file-size`); None: no compaction.
    pub fn with_compaction(mut self, target_size: Option<u64>) -> Result<Self> {
        self.compaction = match target_size {
            None => None,
            Some(target_size) => {
                #[cfg(feature = "parquet")]
                if let (Some(config), Some(stored)) =
                    (self.format.parquet(), self.stored_schema.as_ref())
                {
                    self.compaction = Some(Compaction {
                        target_size,
                        merge: crate::compact::Merge::Parquet {
                            config: config.clone(),
                            stored: stored.clone(),
                        },
                    });
                    return Ok(self);
                }
                if self.format.is_container() {
                    self.compaction = Some(Compaction {
                        target_size,
                        merge: crate::compact::Merge::Container(self.format.clone()),
                    });
                    return Ok(self);
                }
                if self.format.is_bulk() {
                    return Err(Error::user(format!(
                        "filesystem sink '{}': 'auto-compaction' cannot merge files of this \
                         bulk format; remove 'auto-compaction'",
                        self.root.display()
                    )));
                }
                Some(Compaction {
                    target_size,
                    merge: crate::compact::Merge::Lines,
                })
            }
        };
        Ok(self)
    }

    /// The root directory written.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn io(ctx: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(ctx, e)
}

/// Whether a file name is one of this sink's in-progress files (or a compaction's output not
/// yet renamed).
fn is_in_progress(name: &str) -> bool {
    (name.starts_with(".part-") && name.contains(".inprogress."))
        || (name.starts_with(&format!(".{COMPACTED_PREFIX}")) && name.ends_with(COMPACTING_SUFFIX))
}

/// Delete every in-progress part file below `root`; returns how many.
fn remove_in_progress(root: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("cannot list {}", d.display()), e)),
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(p),
                Ok(t) if t.is_file() && is_in_progress(&name) => {
                    tracing::info!(file = %p.display(), "filesystem sink: removing uncommitted in-progress file");
                    std::fs::remove_file(&p)
                        .map_err(io(format!("cannot remove {}", p.display())))?;
                    removed += 1;
                }
                _ => {}
            }
        }
    }
    Ok(removed)
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A random id in UUID layout (not RFC 4122; unique enough for file names).
fn uuid_ish() -> String {
    let s = RandomState::new();
    let seq = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let a = s.hash_one((now, seq, std::process::id()));
    let b = s.hash_one((a, seq));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

impl DynamicSink for FileSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    fn consumed_schema(&self) -> SchemaRef {
        self.consumed.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }

    fn parallelism(&self) -> Option<usize> {
        self.parallelism
    }

    fn shuffle_columns(&self) -> Vec<usize> {
        if self.shuffle_by_partition {
            self.partition_indices.clone()
        } else {
            Vec::new()
        }
    }

    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        std::fs::create_dir_all(&self.root)
            .map_err(io(format!("cannot create {}", self.root.display())))?;
        if ctx.subtask == 0 {
            let n = remove_in_progress(&self.root)?;
            if n > 0 {
                tracing::info!(
                    removed = n,
                    restored_checkpoint = ctx.restored_checkpoint_id,
                    "filesystem sink: removed in-progress files no checkpoint covers"
                );
            }
        }
        let mut tracker = PartitionTracker::default();
        for s in &ctx.restored_state {
            tracker.merge(s.decode(STATE_VERSION, STATE)?);
        }
        Ok(Box::new(FileWriter {
            tracker,
            sink: self.clone(),
            encoder: if self.format.is_bulk() {
                None
            } else {
                Some(self.format.encoder()?)
            },
            uuid: uuid_ish(),
            subtask: ctx.subtask,
            counter: 0,
            open: BTreeMap::new(),
            pending: Vec::new(),
            last_check: Instant::now(),
            metrics: ctx.metrics,
        }))
    }

    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(Some(Box::new(FileCommitter {
            root: self.root.clone(),
            success_file_name: self.commit.as_ref().map(|c| c.success_file_name.clone()),
            compaction: self.compaction.clone(),
        })))
    }
}

/// A part file to make visible: rename `in_progress` to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    /// The hidden in-progress file.
    pub in_progress: PathBuf,
    /// The visible name it gets.
    pub target: PathBuf,
    /// Its size in bytes when it was closed (0 in committables written before sizes were
    /// recorded).
    #[serde(default)]
    pub size: u64,
}

/// Where a part file's rows go.
enum PartOut {
    /// Encoded lines.
    Lines(std::io::BufWriter<std::fs::File>),
    /// A Parquet file, written whole.
    #[cfg(feature = "parquet")]
    Parquet(Box<crate::parquet::ParquetPart>),
    /// A file of a format written whole through the SDK's bulk hooks (Avro), and the file
    /// itself (synced once the writer is finished).
    Container {
        /// The format's writer.
        writer: Box<dyn headrace_sdk::format::BulkWriter>,
        /// The file the writer writes to.
        file: std::fs::File,
    },
}

struct PartFile {
    in_progress: PathBuf,
    target: PathBuf,
    out: PartOut,
    size: u64,
    created: Instant,
    last_write: Instant,
}

impl PartFile {
    fn close(self) -> Result<PendingFile> {
        let p = self.in_progress;
        let file = match self.out {
            PartOut::Lines(out) => out
                .into_inner()
                .map_err(|e| Error::io(format!("cannot flush {}", p.display()), e.into_error()))?,
            #[cfg(feature = "parquet")]
            PartOut::Parquet(w) => w.finish(&p)?,
            PartOut::Container { writer, file } => {
                writer.finish()?;
                file
            }
        };
        file.sync_all()
            .map_err(io(format!("cannot sync {}", p.display())))?;
        let size = file
            .metadata()
            .map_err(io(format!("cannot stat {}", p.display())))?
            .len();
        Ok(PendingFile {
            in_progress: p,
            target: self.target,
            size,
        })
    }
}

/// Writes the rows of one subtask into part files, one open file per partition.
pub struct FileWriter {
    sink: FileSink,
    /// The line format's encoder; None for bulk formats.
    encoder: Option<Box<dyn Encoder>>,
    uuid: String,
    subtask: usize,
    counter: u64,
    open: BTreeMap<String, PartFile>,
    pending: Vec<PendingFile>,
    last_check: Instant,
    metrics: Arc<SinkMetrics>,
    /// Partitions written and not yet committed.
    tracker: PartitionTracker,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("uuid", &self.uuid)
            .field("subtask", &self.subtask)
            .field("open", &self.open.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FileWriter {
    fn roll(&mut self, partition: &str) -> Result<()> {
        if let Some(f) = self.open.remove(partition) {
            tracing::debug!(file = %f.target.display(), size = f.size, "filesystem sink: part file rolled");
            self.pending.push(f.close()?);
        }
        Ok(())
    }

    fn part_file(&mut self, partition: &str) -> Result<&mut PartFile> {
        if !self.open.contains_key(partition) {
            let dir = if partition.is_empty() {
                self.sink.root.clone()
            } else {
                self.sink.root.join(partition)
            };
            std::fs::create_dir_all(&dir)
                .map_err(io(format!("cannot create {}", dir.display())))?;
            let name = format!("part-{}-{}-{}", self.uuid, self.subtask, self.counter);
            self.counter += 1;
            let in_progress = dir.join(format!(".{name}.inprogress.{}", uuid_ish()));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&in_progress)
                .map_err(io(format!("cannot create {}", in_progress.display())))?;
            let now = Instant::now();
            let out = self.new_out(file, &in_progress)?;
            self.open.insert(
                partition.to_string(),
                PartFile {
                    in_progress,
                    target: dir.join(name),
                    out,
                    size: 0,
                    created: now,
                    last_write: now,
                },
            );
        }
        self.open
            .get_mut(partition)
            .ok_or_else(|| Error::internal("filesystem sink: part file vanished"))
    }

    /// The writer of a new part file.
    fn new_out(&self, file: std::fs::File, path: &Path) -> Result<PartOut> {
        #[cfg(feature = "parquet")]
        if let (Some(cfg), Some(stored)) = (self.sink.format.parquet(), &self.sink.stored_schema) {
            return Ok(PartOut::Parquet(Box::new(
                crate::parquet::ParquetPart::new(file, path, stored.clone(), cfg)?,
            )));
        }
        if self.sink.format.is_container() {
            let out = file
                .try_clone()
                .map_err(io(format!("cannot open {} twice", path.display())))?;
            let writer = self.sink.format.bulk_writer(
                Box::new(std::io::BufWriter::with_capacity(1 << 16, out)),
                &path.display().to_string(),
            )?;
            return Ok(PartOut::Container { writer, file });
        }
        Ok(PartOut::Lines(std::io::BufWriter::new(file)))
    }

    /// Append a group of rows of one partition to bulk (Parquet, Avro) part files.
    fn write_bulk(&mut self, dir: &str, sub: &arrow::array::RecordBatch) -> Result<()> {
        let limit = self.sink.policy.file_size;
        let f = self.part_file(dir)?;
        let (before, after) = match &mut f.out {
            #[cfg(feature = "parquet")]
            PartOut::Parquet(w) => {
                let before = w.size();
                w.write(sub, &f.in_progress)?;
                (before, w.size())
            }
            PartOut::Container { writer, .. } => {
                let before = writer.bytes_written();
                writer.write(sub)?;
                (before, writer.bytes_written())
            }
            PartOut::Lines(_) => {
                return Err(Error::internal(
                    "filesystem sink: a bulk table has a line part file open",
                ))
            }
        };
        f.size = after;
        f.last_write = Instant::now();
        self.metrics.add_bytes(after.saturating_sub(before));
        if after >= limit {
            self.roll(dir)?;
        }
        Ok(())
    }

    /// Roll files that are open too long or idle too long, at most every check interval.
    fn check_time(&mut self) -> Result<()> {
        let p = self.sink.policy;
        if self.last_check.elapsed() < p.check_interval {
            return Ok(());
        }
        self.last_check = Instant::now();
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, f)| {
                f.created.elapsed() >= p.rollover_interval
                    || f.last_write.elapsed() >= p.inactivity_interval
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            self.roll(&k)?;
        }
        Ok(())
    }

    /// The partition directory of every row.
    fn partition_dirs(&self, batch: &ChangelogBatch) -> Result<Vec<String>> {
        let n = batch.num_rows();
        if self.sink.partition_indices.is_empty() {
            return Ok(vec![String::new(); n]);
        }
        let mut cols = Vec::new();
        for i in &self.sink.partition_indices {
            let c = cast(batch.batch.column(*i), &ArrowType::Utf8)?;
            let s = c
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| Error::internal("filesystem sink: cast to string failed"))?;
            cols.push(s);
        }
        Ok((0..n)
            .map(|r| {
                let vals: Vec<Option<&str>> = cols
                    .iter()
                    .map(|c| c.is_valid(r).then(|| c.value(r)))
                    .collect();
                partition_dir(&self.sink.partition_keys, &vals, &self.sink.default_name)
            })
            .collect())
    }
}

// Without the `parquet` feature, part files are always lines.
#[cfg_attr(not(feature = "parquet"), allow(irrefutable_let_patterns))]
#[async_trait]
impl SinkWriter for FileWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        if !batch.is_insert_only() {
            let kind = (0..batch.num_rows())
                .map(|i| batch.kind(i))
                .find(|k| *k != headrace_sdk::changelog::RowKind::Insert)
                .map_or("an update", |k| k.short_string());
            return Err(Error::user(format!(
                "filesystem sink '{}': received a {kind} row, but files are append-only and \
                 only inserts (+I) can be written. Write an insert-only query to this table \
                 (e.g. without GROUP BY or with a window aggregation), or use a connector that \
                 supports updates",
                self.sink.root.display()
            )));
        }
        self.check_time()?;
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        if !self.sink.partition_indices.is_empty() {
            let dirs = self.partition_dirs(&batch)?;
            let mut index: HashMap<&str, usize> = HashMap::new();
            for (r, d) in dirs.iter().enumerate() {
                let g = *index.entry(d.as_str()).or_insert_with(|| {
                    groups.push((d.clone(), Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push(r as u32);
            }
        }
        let data = batch.batch.project(&self.sink.data_indices)?;
        let data = arrow::array::RecordBatch::try_new(
            self.sink.data_schema.clone(),
            data.columns().to_vec(),
        )?;
        // Unpartitioned: one group of every row.
        let whole = groups.is_empty();
        if whole {
            groups.push((String::new(), Vec::new()));
        }
        for (dir, rows) in groups {
            if let Some(c) = &self.sink.commit {
                self.tracker.saw(&dir, c)?;
            }
            let sub = if whole || rows.len() == data.num_rows() {
                data.clone()
            } else {
                take_record_batch(&data, &UInt32Array::from(rows))?
            };
            if self.encoder.is_none() {
                self.write_bulk(&dir, &sub)?;
                continue;
            }
            let Some(encoder) = self.encoder.as_mut() else {
                return Err(Error::internal(
                    "filesystem sink: a line format has no encoder",
                ));
            };
            // Every record followed by a newline, in one buffer; `ends[i]` is where record i ends.
            let mut buf: Vec<u8> = Vec::new();
            let mut ends: Vec<usize> = Vec::with_capacity(sub.num_rows());
            // Rows the format refuses go to the table's bad-record policy.
            headrace_sdk::bad_records::encode_with_policy(
                encoder.as_mut(),
                &ChangelogBatch::inserts(sub),
                &self.metrics.bad_records,
                self.sink.format.identifier(),
                &mut |_, bytes| {
                    buf.extend_from_slice(bytes);
                    buf.push(b'\n');
                    ends.push(buf.len());
                    Ok(())
                },
            )?;
            let limit = self.sink.policy.file_size;
            let mut start = 0;
            while start < buf.len() {
                let f = self.part_file(&dir)?;
                let PartOut::Lines(out) = &mut f.out else {
                    return Err(Error::internal(
                        "filesystem sink: a line table has a Parquet part file open",
                    ));
                };
                // Records up to and including the one that takes the file to the rolling size
                // (after which it rolls, as when writing one record at a time), or all the rest.
                let room = limit.saturating_sub(f.size);
                let first = ends.partition_point(|e| *e <= start);
                let rest = &ends[first..];
                let k = rest.partition_point(|e| ((*e - start) as u64) < room);
                let end_idx = first + k.min(rest.len() - 1);
                let end = ends[end_idx];
                out.write_all(&buf[start..end]).map_err(|e| {
                    Error::io(format!("cannot write {}", f.in_progress.display()), e)
                })?;
                let n = (end - start) as u64;
                f.size += n;
                f.last_write = Instant::now();
                let full = f.size >= limit;
                self.metrics.add_bytes(n);
                if full {
                    self.roll(&dir)?;
                }
                start = end;
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark_ms: i64) -> Result<()> {
        self.tracker.on_watermark(watermark_ms);
        Ok(())
    }

    async fn flush(&mut self, end_of_input: bool) -> Result<()> {
        if end_of_input {
            self.tracker.end_of_input();
        }
        for f in self.open.values_mut() {
            // Parquet part files cannot be flushed partially; they are finished when rolled.
            if let PartOut::Lines(out) = &mut f.out {
                out.flush()
                    .map_err(io(format!("cannot flush {}", f.in_progress.display())))?;
            }
        }
        self.check_time()
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        let keys: Vec<String> = self.open.keys().cloned().collect();
        for k in keys {
            self.roll(&k)?;
        }
        let pending = std::mem::take(&mut self.pending);
        tracing::debug!(
            checkpoint_id,
            files = pending.len(),
            "filesystem sink: part files prepared"
        );
        let mut out = pending
            .into_iter()
            .map(|p| Committable::File(p).encode())
            .collect::<Result<Vec<_>>>()?;
        if let Some(c) = &self.sink.commit {
            if let Some(r) = self.tracker.report(c) {
                out.push(Committable::Partitions(r).encode()?);
            }
        }
        Ok(out)
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        if self.sink.commit.is_none() {
            return Ok(Vec::new());
        }
        Ok(vec![VersionedBytes::encode(
            STATE_VERSION,
            STATE,
            &self.tracker,
        )?])
    }
}

/// Renames prepared part files to their visible names, then commits the partitions the writers
/// found ready (success files); idempotent.
#[derive(Debug)]
pub struct FileCommitter {
    root: PathBuf,
    /// The success file's name when partitions are committed.
    success_file_name: Option<String>,
    /// Merge each checkpoint's files before they become visible.
    compaction: Option<Compaction>,
}

/// Commit one prepared part file (nothing to do when it is already visible).
pub fn commit_file(p: &PendingFile) -> Result<()> {
    if p.target.exists() {
        return Ok(());
    }
    if !p.in_progress.exists() {
        return Err(Error::internal(format!(
            "filesystem sink: neither {} nor {} exists; the part file's rows are lost",
            p.in_progress.display(),
            p.target.display()
        )));
    }
    std::fs::rename(&p.in_progress, &p.target).map_err(io(format!(
        "cannot rename {} to {}",
        p.in_progress.display(),
        p.target.display()
    )))
}

#[async_trait]
impl Committer for FileCommitter {
    async fn commit(
        &mut self,
        checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<()> {
        let mut files = Vec::new();
        let mut reports = Vec::new();
        for c in &committables {
            match Committable::decode(c)? {
                Committable::File(p) => files.push(p),
                Committable::Partitions(r) => reports.push(r),
            }
        }
        match &self.compaction {
            None => {
                for p in &files {
                    commit_file(p)?;
                }
            }
            Some(c) => {
                for unit in plan(&files, c.target_size) {
                    compact_unit(&unit, &c.merge)?;
                }
            }
        }
        tracing::debug!(
            checkpoint_id,
            files = files.len(),
            "filesystem sink: part files committed"
        );
        // Every part file of the checkpoint is visible: now the finished partitions.
        if let Some(name) = &self.success_file_name {
            for dir in partitions_to_commit(&reports) {
                write_success_file(&self.root, &dir, name)?;
            }
        }
        Ok(())
    }
}
