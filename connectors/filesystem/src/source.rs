//! The filesystem source: an enumerator that lists files (once, or every
//! `source.monitor-interval`) and cuts them into splits (large files of lines and Avro container
//! files into byte ranges, Parquet files into row groups), and readers that hand each record to
//! the format.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use arrow::array::{new_null_array, ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use async_trait::async_trait;
use headrace_sdk::bad_records::{BadRecordPolicy, Stage};
use headrace_sdk::changelog::{ChangelogBatch, ChangelogMode};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{BadUnit, Decoder};
use headrace_sdk::schema::{ColumnKind, TableSchema};
use headrace_sdk::source::{
    Boundedness, DynamicSource, EnumeratorContext, ReadEvent, ReaderContext, SourceMetrics,
    SourceReader, SourceSplit, SplitAssignment, SplitEnumerator, SplitState,
};
use headrace_sdk::state::VersionedBytes;
use headrace_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::factory::{
    FileSystemFactory, FormatHandle, META_MODIFICATION_TIME, META_NAME, META_PATH, META_SIZE,
};
use crate::options::{
    FORMAT, PARTITION_DEFAULT_NAME, PATH, SOURCE_MONITOR_INTERVAL, SOURCE_PATH_REGEX_PATTERN,
};
use crate::partition::parse_partitions;

headrace_sdk::connector_builder! {
    /// Builds a [`FileSource`] with the same validation as DDL (`FileSource::builder()`).
    ///
    /// ```no_run
    /// # fn main() -> headrace_sdk::Result<()> {
    /// use headrace_connector_filesystem::FileSource;
    /// let source = FileSource::builder()
    ///     .columns("id BIGINT, name STRING, dt STRING")?
    ///     .partitioned_by(["dt"])
    ///     .path("/data/events")
    ///     .format("csv")
    ///     .build_source()?;
    /// # Ok(()) }
    /// ```
    pub struct FileSourceBuilder(FileSystemFactory) {
        /// The file or directory to read.
        path: PATH as String,
        /// The format of the lines.
        format: FORMAT as String,
        /// Watch the path for new files this often (unbounded source).
        monitor_interval: SOURCE_MONITOR_INTERVAL as Duration,
        /// Only read files whose absolute path matches this regular expression.
        path_regex_pattern: SOURCE_PATH_REGEX_PATTERN as String,
        /// The directory name that stands for NULL partition values.
        partition_default_name: PARTITION_DEFAULT_NAME as String,
    }
}

impl FileSourceBuilder {
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

/// The state version of splits and of the enumerator.
const STATE_VERSION: u32 = 1;
/// Upper bound of the bytes read for one batch.
const MAX_BATCH_BYTES: u64 = 8 << 20;
/// Bytes read from a file at a time.
const READ_BUFFER: usize = 256 << 10;
/// Files of lines (and Avro container files) larger than this are read as several splits of this
/// many bytes, so that parallel readers share a large file (each record is one line, so a split
/// can start at any line; an Avro split starts at the first sync marker in its range).
pub const LINE_SPLIT_BYTES: u64 = 64 << 20;

/// One file and how far it has been read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSplit {
    /// The file's path.
    pub path: String,
    /// The file's size when it was listed.
    pub size: u64,
    /// The file's modification time when it was listed, in epoch milliseconds.
    pub modified_ms: i64,
    /// Partition values from the `k=v` directories above the file.
    pub partitions: BTreeMap<String, String>,
    /// Byte offset of the next line to read (unused for Parquet row groups).
    pub offset: u64,
    /// Lines read so far (the next line's number is `line + 1`); for a Parquet row group, the
    /// rows of the row group already emitted.
    pub line: u64,
    /// For bulk formats (Parquet), the row group this split reads; None for line formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group: Option<usize>,
    /// For a block of a large file of lines: the split reads the lines that start before this
    /// byte offset; for a range of an Avro file, the blocks whose preceding sync marker starts
    /// before it (None: to the end of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// Where the block started in the file (0 for a whole file or its first block). A block
    /// after the first starts in the middle of a line, whose rest belongs to the block before;
    /// its line numbers are counted from the file's start only when an error needs one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub block_start: u64,
    /// Whether `offset` is still the block's raw start (the partial line is not skipped yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unaligned: bool,
    /// For a container file (Avro): the units that did not decode (bad blocks) already handed
    /// to the table's bad-record policy, which a restored read passes over silently.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_units: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SplitState for FileSplit {
    const VERSION: u32 = STATE_VERSION;
    const NAME: &'static str = "filesystem split";
    fn split_id(&self) -> String {
        match self.row_group {
            Some(rg) => format!("{}#row-group-{rg}", self.path),
            None if self.end.is_some() || self.block_start > 0 => {
                format!("{}#bytes-{}", self.path, self.block_start)
            }
            None => self.path.clone(),
        }
    }
}

/// What the enumerator keeps in checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumeratorState {
    /// Whether the path was listed at least once.
    pub listed: bool,
    /// Every path discovered so far (handed out or pending); never read again.
    pub seen: BTreeSet<String>,
    /// Splits not handed out yet.
    pub pending: VecDeque<FileSplit>,
}

/// Where a produced column comes from.
#[derive(Debug, Clone)]
enum ColumnSource {
    /// A column decoded by the format (index in the decoded batch).
    Decoded(usize),
    /// A partition column.
    Partition(String),
    /// A metadata key.
    Metadata(String),
}

#[derive(Debug, Clone)]
struct Shared {
    root: PathBuf,
    format: FormatHandle,
    produced: SchemaRef,
    columns: Vec<ColumnSource>,
    default_name: String,
    monitor: Option<Duration>,
    regex: Option<regex::Regex>,
    /// The byte size of the splits of large files ([`LINE_SPLIT_BYTES`] unless a test sets it).
    split_bytes: u64,
}

/// A source of the lines of files, decoded by a format.
#[derive(Debug, Clone)]
pub struct FileSource {
    shared: Arc<Shared>,
}

impl FileSource {
    /// A builder: `FileSource::builder().columns("a STRING")?.path("/x").format("csv")`.
    pub fn builder() -> FileSourceBuilder {
        FileSourceBuilder::default()
    }

    /// A source reading `root` with `format` (which decodes the non-partition physical columns
    /// of `schema`); `monitor` None means bounded.
    pub fn new(
        root: PathBuf,
        format: FormatHandle,
        schema: &TableSchema,
        default_name: String,
        monitor: Option<Duration>,
        regex: Option<regex::Regex>,
    ) -> Result<Self> {
        let mut decoded = 0usize;
        let mut columns = Vec::new();
        for c in schema.physical_columns() {
            if schema.partition_keys.contains(&c.name) {
                columns.push(ColumnSource::Partition(c.name.clone()));
            } else {
                columns.push(ColumnSource::Decoded(decoded));
                decoded += 1;
            }
        }
        for c in schema.metadata_columns() {
            if let ColumnKind::Metadata { .. } = c.kind {
                let key = c.metadata_key().unwrap_or(&c.name).to_string();
                columns.push(ColumnSource::Metadata(key));
            }
        }
        // Absolute, so that `file.path` is a full path and the regex sees what it documents.
        let root = std::path::absolute(&root).unwrap_or(root);
        Ok(FileSource {
            shared: Arc::new(Shared {
                root,
                format,
                produced: schema.produced_arrow_schema(),
                columns,
                default_name,
                monitor,
                regex,
                split_bytes: LINE_SPLIT_BYTES,
            }),
        })
    }

    /// Read files larger than `bytes` as several splits of `bytes` each (default
    /// [`LINE_SPLIT_BYTES`]); meant for tests, which split small files this way. Applies to files
    /// of lines and to splittable container formats (Avro).
    pub fn with_split_bytes(mut self, bytes: u64) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.split_bytes = bytes.max(1);
        self
    }
}

impl DynamicSource for FileSource {
    fn boundedness(&self) -> Boundedness {
        if self.shared.monitor.is_some() {
            Boundedness::Unbounded
        } else {
            Boundedness::Bounded
        }
    }

    fn produced_schema(&self) -> SchemaRef {
        self.shared.produced.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        // A changelog format (debezium-json, canal-json, ...) gives each row its kind.
        self.shared.format.changelog_mode()
    }

    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let state = match restored {
            Some(s) => s.decode(STATE_VERSION, "filesystem enumerator state")?,
            None => EnumeratorState::default(),
        };
        tracing::debug!(
            parallelism = ctx.parallelism,
            seen = state.seen.len(),
            pending = state.pending.len(),
            "filesystem enumerator created"
        );
        Ok(Box::new(FileEnumerator {
            shared: self.shared.clone(),
            state,
            last_scan: None,
        }))
    }

    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        let decoder = if self.shared.format.is_bulk() {
            None
        } else {
            Some(self.shared.format.decoder()?)
        };
        Ok(Box::new(FileReader {
            shared: self.shared.clone(),
            decoder,
            splits: VecDeque::new(),
            open: None,
            no_more_splits: false,
            batch_size: ctx.batch_size.max(1),
            metrics: ctx.metrics,
            skipped_seen: 0,
            line_delta: None,
        }))
    }
}

fn io(ctx: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(ctx, e)
}

/// Whether a file or directory name is hidden (Flink skips names starting with '.' or '_').
fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Every visible file under `root` (or `root` itself when it is a file), sorted by path.
fn list_files(shared: &Shared) -> Result<Vec<FileSplit>> {
    let root = &shared.root;
    let meta = std::fs::metadata(root).map_err(|e| {
        let msg = format!(
            "filesystem source: cannot read path '{}' (option 'path')",
            root.display()
        );
        if e.kind() == std::io::ErrorKind::NotFound {
            // A wrong 'path' is the user's to fix; retrying does not help.
            Error::user_with_source(msg, e)
        } else {
            Error::io(msg, e)
        }
    })?;
    let mut files = Vec::new();
    if meta.is_file() {
        files.push((root.clone(), meta));
    } else {
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            let entries = std::fs::read_dir(&d).map_err(io(format!(
                "filesystem source: cannot list directory '{}'",
                d.display()
            )))?;
            for e in entries {
                let e = e.map_err(io(format!(
                    "filesystem source: cannot list directory '{}'",
                    d.display()
                )))?;
                if is_hidden(&e.file_name().to_string_lossy()) {
                    continue;
                }
                let p = e.path();
                // A file may vanish between listing and stat; skip it.
                let Ok(m) = std::fs::metadata(&p) else {
                    continue;
                };
                if m.is_dir() {
                    dirs.push(p);
                } else if m.is_file() {
                    files.push((p, m));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (p, m) in files {
        if let Some(r) = &shared.regex {
            if !r.is_match(&p.to_string_lossy()) {
                continue;
            }
        }
        out.push(FileSplit {
            path: p.to_string_lossy().into_owned(),
            size: m.len(),
            modified_ms: modified_ms(&m),
            partitions: parse_partitions(root, &p),
            offset: 0,
            line: 0,
            row_group: None,
            end: None,
            block_start: 0,
            unaligned: false,
            bad_units: 0,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The number of newlines in the first `offset` bytes of the file at `path`.
fn lines_before(path: &str, offset: u64) -> Result<u64> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(io(format!("filesystem source: cannot open '{path}'")))?;
    let mut r = BufReader::with_capacity(READ_BUFFER, f).take(offset);
    let mut buf = vec![0u8; READ_BUFFER];
    let mut n = 0u64;
    loop {
        let k = r
            .read(&mut buf)
            .map_err(io(format!("filesystem source: cannot read '{path}'")))?;
        if k == 0 {
            return Ok(n);
        }
        n += buf[..k].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

/// Lists the path and hands out one file at a time.
#[derive(Debug)]
pub struct FileEnumerator {
    shared: Arc<Shared>,
    state: EnumeratorState,
    last_scan: Option<Instant>,
}

impl FileEnumerator {
    fn scan(&mut self) -> Result<()> {
        let files = list_files(&self.shared)?;
        // Whether the container format can read byte ranges of a file (Avro's sync markers).
        let splittable =
            self.shared.format.is_container() && self.shared.format.bulk_reader()?.splittable();
        let mut added = 0;
        for f in files {
            if self.state.seen.contains(&f.path) {
                continue;
            }
            #[cfg(feature = "parquet")]
            if self.shared.format.parquet().is_some() {
                // One split per row group, from the file's footer.
                let groups = match crate::parquet::row_groups(&f.path) {
                    Ok(g) => g,
                    Err(e @ Error::Io { .. }) => return Err(e),
                    // A footer that does not read: one split, whose reader reports the file to
                    // the table's bad-record policy (skip, dead letter, or fail naming it).
                    Err(e) => {
                        tracing::debug!(path = %f.path, error = %e, "filesystem: Parquet footer unreadable");
                        vec![0]
                    }
                };
                tracing::debug!(path = %f.path, row_groups = groups.len(), "filesystem: Parquet file listed");
                for (i, _) in groups.iter().enumerate() {
                    self.state.pending.push_back(FileSplit {
                        row_group: Some(i),
                        ..f.clone()
                    });
                }
                self.state.seen.insert(f.path.clone());
                added += 1;
                continue;
            }
            self.state.seen.insert(f.path.clone());
            let container = self.shared.format.is_container();
            if f.size > self.shared.split_bytes && (!container || splittable) {
                let mut start = 0;
                while start < f.size {
                    let end = start + self.shared.split_bytes;
                    self.state.pending.push_back(FileSplit {
                        offset: start,
                        end: (end < f.size).then_some(end),
                        block_start: start,
                        // A container split finds its first block itself (read_range).
                        unaligned: start > 0 && !container,
                        ..f.clone()
                    });
                    start = end;
                }
            } else {
                self.state.pending.push_back(f);
            }
            added += 1;
        }
        self.state.listed = true;
        self.last_scan = Some(Instant::now());
        tracing::debug!(root = %self.shared.root.display(), added, "filesystem: listed files");
        Ok(())
    }
}

#[async_trait]
impl SplitEnumerator for FileEnumerator {
    async fn handle_split_request(&mut self, _subtask: usize) -> Result<SplitAssignment> {
        if !self.state.listed {
            self.scan()?;
        } else if let Some(interval) = self.shared.monitor {
            if self.state.pending.is_empty()
                && self.last_scan.is_none_or(|t| t.elapsed() >= interval)
            {
                self.scan()?;
            }
        }
        if let Some(s) = self.state.pending.pop_front() {
            return Ok(SplitAssignment::Splits(vec![s.to_split()?]));
        }
        Ok(if self.shared.monitor.is_some() {
            SplitAssignment::NotYet
        } else {
            SplitAssignment::NoMoreSplits
        })
    }

    fn add_splits_back(&mut self, splits: Vec<SourceSplit>) {
        for s in splits {
            match FileSplit::from_split(&s) {
                Ok(f) => self.state.pending.push_front(f),
                Err(e) => {
                    tracing::error!(split = %s.id, error = %e, "filesystem: dropping a split that cannot be decoded")
                }
            }
        }
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(STATE_VERSION, "filesystem enumerator state", &self.state)
    }
}

/// The split being read.
enum OpenSplit {
    /// A file of lines.
    Lines(BufReader<std::fs::File>),
    /// A Parquet row group.
    #[cfg(feature = "parquet")]
    Parquet(crate::parquet::RowGroupReader),
    /// A whole file of a bulk format read through the SDK's hooks (Avro), decoded by a thread
    /// that sends the batches here.
    Container(tokio::sync::mpsc::Receiver<Result<Piece>>),
}

/// What the thread reading a container file sends.
enum Piece {
    /// Rows.
    Rows(ChangelogBatch),
    /// A unit of the file that does not decode (only when reading past them).
    Bad(BadUnit),
}

/// Start reading the file (or the byte range) of `split` with the format's bulk reader on a thread
/// of its own, skipping the `split.line` rows already emitted; the batches (at most `batch_size` rows)
/// arrive on the returned channel, which closes after the last one (or after an error). With
/// `past_bad`, units of the file that do not decode arrive there too (in file order, after the
/// rows before them), except the `split.bad_units` first ones, already handled.
fn read_container(
    format: &FormatHandle,
    split: &FileSplit,
    batch_size: usize,
    past_bad: bool,
) -> Result<tokio::sync::mpsc::Receiver<Result<Piece>>> {
    let mut reader = format.bulk_reader()?;
    let file = std::fs::File::open(&split.path).map_err(io(format!(
        "filesystem source: cannot open '{}'",
        split.path
    )))?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let path = split.path.clone();
    let mut skip = split.line;
    let mut skip_bad = split.bad_units;
    let range =
        (split.block_start > 0 || split.end.is_some()).then_some((split.block_start, split.end));
    tracing::debug!(path = %path, skip, ?range, "filesystem: reading file");
    std::thread::Builder::new()
        .name("filesystem-read".into())
        .spawn(move || {
            let closed = std::cell::Cell::new(false);
            let send = |p: Piece| {
                tx.blocking_send(Ok(p)).map_err(|_| {
                    closed.set(true);
                    Error::internal("filesystem source: the reader stopped")
                })
            };
            let mut bad = |u: BadUnit| {
                if skip_bad > 0 {
                    skip_bad -= 1;
                    return Ok(());
                }
                send(Piece::Bad(u))
            };
            let mut emit = |b: ChangelogBatch| {
                let n = b.num_rows() as u64;
                if skip >= n {
                    skip -= n;
                    return Ok(());
                }
                let b = if skip > 0 {
                    let s = skip as usize;
                    skip = 0;
                    b.slice(s, n as usize - s)
                } else {
                    b
                };
                send(Piece::Rows(b))
            };
            let input = BufReader::with_capacity(READ_BUFFER, file);
            let r = match range {
                _ if past_bad => {
                    let (start, end) = range.unwrap_or((0, None));
                    reader.read_skipping_bad(
                        Box::new(input),
                        &path,
                        start,
                        end,
                        batch_size,
                        &mut emit,
                        &mut bad,
                    )
                }
                Some((start, end)) => {
                    reader.read_range(Box::new(input), &path, start, end, batch_size, &mut emit)
                }
                None => reader.read(Box::new(input), &path, batch_size, &mut emit),
            };
            if let Err(e) = r {
                if !closed.get() {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
        .map_err(io("filesystem source: cannot start a reading thread".into()))?;
    Ok(rx)
}

/// Reads the lines (or Parquet row groups) of its files, one split at a time.
pub struct FileReader {
    shared: Arc<Shared>,
    /// The line format's decoder; None for bulk formats.
    decoder: Option<Box<dyn Decoder>>,
    splits: VecDeque<FileSplit>,
    open: Option<OpenSplit>,
    no_more_splits: bool,
    batch_size: usize,
    metrics: Arc<SourceMetrics>,
    /// The decoder's skipped-record count already added to `metrics`.
    skipped_seen: u64,
    /// For the block being read (path, block start): file line number minus `split.line`,
    /// counted once at the block's first bad record.
    line_delta: Option<(String, u64, u64)>,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("splits", &self.splits)
            .finish()
    }
}

fn constant_column(
    values: &StringArray,
    to: &ArrowType,
    what: &str,
    path: &str,
) -> Result<ArrayRef> {
    cast_with_options(
        values,
        to,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .map_err(|e| {
        Error::user(format!(
            "filesystem source: {what} of file '{path}' cannot be read as {to}: {e}"
        ))
    })
}

impl FileReader {
    /// A Parquet row group of the first split does not decode (`e` is the bad record naming
    /// it): the table's bad-record policy (no raw bytes), then the split is done.
    #[cfg(feature = "parquet")]
    fn bad_row_group(&mut self, e: Error) -> Result<()> {
        self.open = None;
        let Some(split) = self.splits.pop_front() else {
            return Err(e);
        };
        let origin = match &e {
            Error::BadRecord { origin, .. } => origin.clone(),
            _ => RecordOrigin::File {
                path: split.path.clone(),
                line: 0,
            },
        };
        self.metrics.bad_records.handle(
            &[],
            &origin,
            e,
            Stage::Decode,
            Some(self.shared.format.identifier()),
        )
    }

    /// Build the produced batch from decoded rows of `split`.
    fn assemble(&self, split: &FileSplit, decoded: ChangelogBatch) -> Result<ChangelogBatch> {
        let n = decoded.num_rows();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.shared.columns.len());
        for (src, field) in self
            .shared
            .columns
            .iter()
            .zip(self.shared.produced.fields())
        {
            let col = match src {
                ColumnSource::Decoded(i) => {
                    decoded.batch.columns().get(*i).cloned().ok_or_else(|| {
                        Error::internal(format!(
                            "filesystem source: the format returned {} columns, expected more",
                            decoded.batch.num_columns()
                        ))
                    })?
                }
                ColumnSource::Partition(k) => match split.partitions.get(k) {
                    Some(v) if *v != self.shared.default_name => constant_column(
                        &StringArray::from(vec![v.as_str(); n]),
                        field.data_type(),
                        &format!("partition value '{k}={v}'"),
                        &split.path,
                    )?,
                    _ => new_null_array(field.data_type(), n),
                },
                ColumnSource::Metadata(key) => {
                    let native: ArrayRef = match key.as_str() {
                        META_PATH => Arc::new(StringArray::from(vec![split.path.as_str(); n])),
                        META_NAME => {
                            let name = Path::new(&split.path)
                                .file_name()
                                .map(|s| s.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            Arc::new(StringArray::from(vec![name; n]))
                        }
                        META_SIZE => Arc::new(Int64Array::from(vec![
                            i64::try_from(split.size)
                                .unwrap_or(i64::MAX);
                            n
                        ])),
                        META_MODIFICATION_TIME => {
                            Arc::new(TimestampMillisecondArray::from(vec![split.modified_ms; n]))
                        }
                        other => {
                            return Err(Error::internal(format!(
                                "filesystem source: unknown metadata key '{other}'"
                            )))
                        }
                    };
                    if native.data_type() == field.data_type() {
                        native
                    } else {
                        arrow::compute::cast(&native, field.data_type())?
                    }
                }
            };
            cols.push(col);
        }
        let batch = arrow::array::RecordBatch::try_new(self.shared.produced.clone(), cols)?;
        // Keep the row kinds the format decoded.
        Ok(decoded.with_batch(batch))
    }
}

#[async_trait]
impl SourceReader for FileReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        for s in &splits {
            self.splits.push_back(FileSplit::from_split(s)?);
        }
        Ok(())
    }

    fn no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self) -> Result<ReadEvent> {
        loop {
            let Some(split) = self.splits.front_mut() else {
                return Ok(if self.no_more_splits {
                    ReadEvent::End
                } else {
                    ReadEvent::NeedSplits
                });
            };
            #[cfg(feature = "parquet")]
            if let Some(rg) = split.row_group {
                if self.open.is_none() {
                    match crate::parquet::RowGroupReader::open(
                        &split.path,
                        rg,
                        split.line,
                        self.shared.format.schema().clone(),
                        self.batch_size,
                    ) {
                        Ok(r) => self.open = Some(OpenSplit::Parquet(r)),
                        Err(e @ Error::BadRecord { .. }) => {
                            // The row group (or the whole file) does not decode: the table's
                            // policy, then the next row group.
                            self.bad_row_group(e)?;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let Some(OpenSplit::Parquet(reader)) = self.open.as_mut() else {
                    return Err(Error::internal(
                        "filesystem source: a Parquet split has a line reader open",
                    ));
                };
                let batch = match reader.next_batch(&split.path) {
                    Ok(b) => b,
                    Err(e @ Error::BadRecord { .. }) => {
                        // The rest of the row group is skipped (rows before were emitted).
                        self.bad_row_group(e)?;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (total, compressed) = (reader.num_rows, reader.compressed_bytes);
                let n = batch.as_ref().map_or(0, |b| b.num_rows() as u64);
                split.line += n;
                if let Some(b) = compressed.saturating_mul(n).checked_div(total) {
                    self.metrics.add_bytes(b);
                }
                let current = split.clone();
                if batch.is_none() || split.line >= total {
                    tracing::debug!(path = %current.path, row_group = rg, rows = current.line, "filesystem: row group done");
                    self.splits.pop_front();
                    self.open = None;
                }
                match batch {
                    Some(b) if b.num_rows() > 0 => {
                        let decoded = ChangelogBatch::inserts(b);
                        return Ok(ReadEvent::Batch(self.assemble(&current, decoded)?));
                    }
                    _ => continue,
                }
            }
            if self.shared.format.is_container() {
                if self.open.is_none() {
                    let past_bad = self.metrics.bad_records.policy() != BadRecordPolicy::Fail;
                    self.open = Some(OpenSplit::Container(read_container(
                        &self.shared.format,
                        split,
                        self.batch_size,
                        past_bad,
                    )?));
                }
                let Some(OpenSplit::Container(rx)) = self.open.as_mut() else {
                    return Err(Error::internal(
                        "filesystem source: a bulk file split has another reader open",
                    ));
                };
                match rx.recv().await {
                    Some(Ok(Piece::Rows(b))) => {
                        split.line += b.num_rows() as u64;
                        let current = split.clone();
                        return Ok(ReadEvent::Batch(self.assemble(&current, b)?));
                    }
                    Some(Ok(Piece::Bad(u))) => {
                        // Handled here, in order with the rows, so that checkpoints agree
                        // with the dead letters sent before them.
                        split.bad_units += 1;
                        self.metrics.bad_records.handle(
                            &u.raw,
                            &u.origin,
                            u.error,
                            Stage::Decode,
                            Some(self.shared.format.identifier()),
                        )?;
                        continue;
                    }
                    Some(Err(e @ Error::BadRecord { .. }))
                        if self.metrics.bad_records.policy() == BadRecordPolicy::Fail =>
                    {
                        // Under 'fail' (other policies read past bad units): the error, naming
                        // the policy option as the way out.
                        let origin = match &e {
                            Error::BadRecord { origin, .. } => origin.clone(),
                            _ => RecordOrigin::Unknown,
                        };
                        self.metrics.bad_records.handle(
                            &[],
                            &origin,
                            e,
                            Stage::Decode,
                            Some(self.shared.format.identifier()),
                        )?;
                        return Err(Error::internal(
                            "filesystem source: a container file's reader stopped at a bad record",
                        ));
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        tracing::debug!(path = %split.path, rows = split.line, "filesystem: file done");
                        let end = split.end.unwrap_or(split.size);
                        self.metrics
                            .add_bytes(end.saturating_sub(split.block_start));
                        self.splits.pop_front();
                        self.open = None;
                        continue;
                    }
                }
            }
            if self.open.is_none() {
                let mut f = std::fs::File::open(&split.path).map_err(io(format!(
                    "filesystem source: cannot open '{}'",
                    split.path
                )))?;
                // A block starting mid-file skips the line it starts in (the block before reads
                // it): from the byte before its start to the next newline.
                let seek_to = if split.unaligned {
                    split.offset - 1
                } else {
                    split.offset
                };
                f.seek(SeekFrom::Start(seek_to)).map_err(io(format!(
                    "filesystem source: cannot seek to byte {seek_to} of '{}'",
                    split.path
                )))?;
                let mut reader = BufReader::with_capacity(READ_BUFFER, f);
                if split.unaligned {
                    let mut skipped = Vec::new();
                    let n = reader.read_until(b'\n', &mut skipped).map_err(io(format!(
                        "filesystem source: cannot read '{}' at byte {seek_to}",
                        split.path
                    )))?;
                    split.offset = seek_to + n as u64;
                    split.unaligned = false;
                }
                tracing::debug!(path = %split.path, offset = split.offset, line = split.line, "filesystem: reading file");
                self.open = Some(OpenSplit::Lines(reader));
            }
            let Some(OpenSplit::Lines(reader)) = self.open.as_mut() else {
                return Err(Error::internal(
                    "filesystem source: a line split has a Parquet reader open",
                ));
            };
            let Some(decoder) = self.decoder.as_mut() else {
                return Err(Error::internal(
                    "filesystem source: a line format has no decoder",
                ));
            };
            let mut buf = Vec::new();
            let mut lines = 0usize;
            let mut bytes = 0u64;
            let mut eof = false;
            let mut origin = RecordOrigin::File {
                path: split.path.clone(),
                line: 0,
            };
            while lines < self.batch_size && bytes < MAX_BATCH_BYTES {
                if split.end.is_some_and(|end| split.offset >= end) {
                    eof = true;
                    break;
                }
                buf.clear();
                // (the message is only formatted on error: this runs once per line)
                let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
                    Error::io(
                        format!(
                            "filesystem source: cannot read '{}' at byte {}",
                            split.path, split.offset
                        ),
                        e,
                    )
                })?;
                if n == 0 {
                    eof = true;
                    break;
                }
                let mut rec: &[u8] = &buf;
                if let Some(r) = rec.strip_suffix(b"\n") {
                    rec = r;
                    if let Some(r) = rec.strip_suffix(b"\r") {
                        rec = r;
                    }
                }
                if let RecordOrigin::File { line, .. } = &mut origin {
                    *line = split.line + 1;
                }
                if let Err(mut e) = decoder.decode(rec, &origin) {
                    let mut at = origin.clone();
                    if split.block_start != 0 {
                        // Line numbers of a later block are relative to it: count the lines
                        // before the record and decode it again for an error naming the right
                        // line (the decoder rolls the failed record back each time).
                        let delta = match &self.line_delta {
                            Some((p, b, d)) if *p == split.path && *b == split.block_start => *d,
                            _ => {
                                let before = lines_before(&split.path, split.offset)?;
                                let d = before.saturating_sub(split.line);
                                self.line_delta = Some((split.path.clone(), split.block_start, d));
                                d
                            }
                        };
                        if let RecordOrigin::File { line, .. } = &mut at {
                            *line = split.line + delta + 1;
                        }
                        if let Err(again) = decoder.decode(rec, &at) {
                            e = again;
                        }
                    }
                    // The table's bad-record policy: fail, skip, or a dead letter.
                    self.metrics.bad_records.handle(
                        rec,
                        &at,
                        e,
                        Stage::Decode,
                        Some(self.shared.format.identifier()),
                    )?;
                }
                split.offset += n as u64;
                split.line += 1;
                lines += 1;
                bytes += n as u64;
            }
            self.metrics.add_bytes(bytes);
            let skipped = decoder.skipped_records();
            if skipped > self.skipped_seen {
                self.metrics.add_skipped(skipped - self.skipped_seen);
            }
            self.skipped_seen = skipped;
            let current = split.clone();
            if eof {
                tracing::debug!(path = %current.path, lines = current.line, "filesystem: file done");
                self.splits.pop_front();
                self.open = None;
            }
            if decoder.buffered_rows() > 0 {
                let decoded = decoder.finish()?;
                return Ok(ReadEvent::Batch(self.assemble(&current, decoded)?));
            }
        }
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<SourceSplit>> {
        self.splits.iter().map(FileSplit::to_split).collect()
    }
}
