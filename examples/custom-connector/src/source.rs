//! Step 3: the source, in Flink's split model (FLIP-27).
//!
//! Three pieces, each with one job:
//!
//! - [`LinesSource`] (a [`DynamicSource`]) is what the factory returns. It describes the data
//!   (schema, boundedness) and creates the other two. It does no I/O.
//! - [`LinesEnumerator`] (a [`SplitEnumerator`]) runs once per job. It knows the units of work
//!   (splits; here one per file) and hands them to readers that ask for work.
//! - [`LinesReader`] (a [`SourceReader`]) runs once per parallel subtask. It reads the splits it
//!   was given and turns them into Arrow batches.
//!
//! **State.** A split carries its progress: [`LineSplit`] holds the byte offset of the next line to
//! read and that line's number. At a checkpoint the runtime asks every reader for its unfinished
//! splits ([`SourceReader::snapshot_state`]) and the enumerator for the splits nobody has started
//! ([`SplitEnumerator::snapshot_state`]). On restore it gives the enumerator its state back and
//! hands the readers' splits to the new readers, possibly a different number of them, so a file
//! is resumed mid-way, in whichever reader gets it, without a gap or a duplicate. State is stored
//! as [`VersionedBytes`]: serialize with a version number, and bump the version when the layout
//! changes, so that a newer connector can read checkpoints written by an older one.

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use headrace_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};

use crate::factory::{LinesColumn, IDENTIFIER};
use crate::options::EmptyLines;

/// The version of [`LineSplit`]'s serialized form.
///
/// To add a field later, give it `#[serde(default)]` (so version-1 state still decodes) and bump
/// this to 2; [`VersionedBytes::decode`] then refuses state from a *newer* connector instead of
/// misreading it.
pub const SPLIT_STATE_VERSION: u32 = 1;

/// The version of the enumerator's serialized state.
pub const ENUMERATOR_STATE_VERSION: u32 = 1;

const SPLIT_WHAT: &str = "lines split";
const ENUMERATOR_WHAT: &str = "lines enumerator state";

/// One file to read, with the reader's progress in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSplit {
    /// The file, as written in the `path` option.
    pub path: PathBuf,
    /// Byte offset of the next line to read.
    pub offset: u64,
    /// 1-based number of the line at `offset`.
    pub next_line: i64,
}

impl LineSplit {
    /// A split reading `path` from its first line.
    pub fn new(path: PathBuf) -> Self {
        LineSplit {
            path,
            offset: 0,
            next_line: 1,
        }
    }

    /// The split's id: unique within the source and stable across restarts (the factory rejects
    /// a file listed twice, so the path is enough).
    pub fn split_id(&self) -> String {
        self.path.display().to_string()
    }

    /// Serialize for the runtime (assignment to a reader, or a checkpoint).
    pub fn to_source_split(&self) -> Result<SourceSplit> {
        Ok(SourceSplit {
            id: self.split_id(),
            state: VersionedBytes::encode(SPLIT_STATE_VERSION, SPLIT_WHAT, self)?,
        })
    }

    /// Deserialize what [`LineSplit::to_source_split`] wrote (possibly in an older version).
    pub fn from_source_split(split: &SourceSplit) -> Result<Self> {
        split.state.decode(SPLIT_STATE_VERSION, SPLIT_WHAT)
    }
}

/// The enumerator's checkpointed state: the splits no reader has been given yet.
#[derive(Debug, Serialize, Deserialize)]
struct EnumeratorState {
    unassigned: Vec<SourceSplit>,
}

/// A bounded source of the lines of one or more files.
#[derive(Debug)]
pub struct LinesSource {
    paths: Vec<PathBuf>,
    schema: SchemaRef,
    columns: Arc<[LinesColumn]>,
    empty_lines: EmptyLines,
}

impl LinesSource {
    /// A source reading `paths`, producing batches of `schema` whose columns are filled as
    /// `columns` says (the factory works both out from the table's declaration).
    pub(crate) fn new(
        paths: Vec<PathBuf>,
        schema: SchemaRef,
        columns: Vec<LinesColumn>,
        empty_lines: EmptyLines,
    ) -> Self {
        LinesSource {
            paths,
            schema,
            columns: columns.into(),
            empty_lines,
        }
    }

    /// The files this source reads, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl DynamicSource for LinesSource {
    fn boundedness(&self) -> Boundedness {
        // The job ends once every line of every file is read. An unbounded variant would keep
        // polling files for appended lines and return `ReadEvent::Idle` while there are none.
        Boundedness::Bounded
    }

    fn produced_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let unassigned = match restored {
            Some(state) => {
                let state: EnumeratorState =
                    state.decode(ENUMERATOR_STATE_VERSION, ENUMERATOR_WHAT)?;
                tracing::info!(
                    unassigned = state.unassigned.len(),
                    "lines: restoring the enumerator"
                );
                state.unassigned
            }
            None => {
                // Enumerators may do I/O. Checking the files here reports a wrong path when the
                // job starts, naming the option, rather than when a reader reaches the file.
                for p in &self.paths {
                    check_readable(p)?;
                }
                self.paths
                    .iter()
                    .map(|p| LineSplit::new(p.clone()).to_source_split())
                    .collect::<Result<_>>()?
            }
        };
        tracing::debug!(
            readers = ctx.parallelism,
            splits = unassigned.len(),
            "lines: enumerator created"
        );
        Ok(Box::new(LinesEnumerator {
            unassigned: unassigned.into(),
        }))
    }

    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(LinesReader {
            subtask: ctx.subtask,
            batch_size: ctx.batch_size.max(1),
            metrics: ctx.metrics,
            schema: self.schema.clone(),
            columns: self.columns.clone(),
            empty_lines: self.empty_lines,
            pending: VecDeque::new(),
            current: None,
            no_more_splits: false,
        }))
    }
}

fn check_readable(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Error::user(format!(
            "{IDENTIFIER}: '{}' (option 'path') is not a regular file",
            path.display()
        ))),
        Err(e) => Err(Error::user(format!(
            "{IDENTIFIER}: cannot read '{}' (option 'path'): {e}",
            path.display()
        ))),
    }
}

/// Hands out one file per request, first come first served.
///
/// It keeps the splits as [`SourceSplit`]s: it never looks inside them, so it never has to
/// deserialize (which matters in [`SplitEnumerator::add_splits_back`], which cannot fail).
#[derive(Debug)]
pub struct LinesEnumerator {
    unassigned: VecDeque<SourceSplit>,
}

#[async_trait]
impl SplitEnumerator for LinesEnumerator {
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment> {
        // All splits are known up front, so an empty queue means "never any more". A source that
        // discovers files over time would answer `SplitAssignment::NotYet` instead.
        Ok(match self.unassigned.pop_front() {
            Some(split) => {
                tracing::debug!(subtask, split = %split.id, "lines: assigning split");
                SplitAssignment::Splits(vec![split])
            }
            None => SplitAssignment::NoMoreSplits,
        })
    }

    fn add_splits_back(&mut self, splits: Vec<SourceSplit>) {
        // Splits of a failed reader come back with their progress; give them out first.
        for split in splits.into_iter().rev() {
            self.unassigned.push_front(split);
        }
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(
            ENUMERATOR_STATE_VERSION,
            ENUMERATOR_WHAT,
            &EnumeratorState {
                unassigned: self.unassigned.iter().cloned().collect(),
            },
        )
    }
}

/// A split being read: the open file, positioned at `split.offset`.
struct OpenSplit {
    split: LineSplit,
    /// `split.path` as a string, for the `file` metadata column.
    file_name: String,
    reader: BufReader<tokio::fs::File>,
}

/// Reads the files assigned to one subtask, one after the other, a batch at a time.
pub struct LinesReader {
    subtask: usize,
    batch_size: usize,
    metrics: Arc<SourceMetrics>,
    schema: SchemaRef,
    columns: Arc<[LinesColumn]>,
    empty_lines: EmptyLines,
    /// Splits assigned (or restored) and not started yet.
    pending: VecDeque<LineSplit>,
    /// The split being read.
    current: Option<OpenSplit>,
    no_more_splits: bool,
}

impl std::fmt::Debug for LinesReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinesReader")
            .field("subtask", &self.subtask)
            .field("current", &self.current.as_ref().map(|c| &c.split))
            .field("pending", &self.pending)
            .finish()
    }
}

impl LinesReader {
    async fn open(split: LineSplit) -> Result<OpenSplit> {
        let path = split.path.display().to_string();
        let ctx = |what: &str| format!("{IDENTIFIER}: cannot {what} '{path}'");
        let mut file = tokio::fs::File::open(&split.path)
            .await
            .map_err(|e| Error::io(ctx("open"), e))?;
        if split.offset > 0 {
            // Restored mid-file. A file shorter than the checkpointed offset was rewritten since
            // the checkpoint; resuming would silently skip or garble data, so refuse.
            let len = file
                .metadata()
                .await
                .map_err(|e| Error::io(ctx("inspect"), e))?
                .len();
            if len < split.offset {
                return Err(Error::user(format!(
                    "{IDENTIFIER}: '{path}' has {len} bytes, fewer than the {} already read before \
                     the checkpoint; was it replaced? Start the job without its state to read it \
                     again",
                    split.offset
                )));
            }
            file.seek(SeekFrom::Start(split.offset))
                .await
                .map_err(|e| Error::io(ctx("seek in"), e))?;
        }
        tracing::debug!(file = %path, offset = split.offset, "lines: reading split");
        Ok(OpenSplit {
            split,
            file_name: path,
            reader: BufReader::new(file),
        })
    }
}

/// One row: its values in the produced schema's column order.
fn row(columns: &[LinesColumn], line: &str, number: i64, file: &str) -> Row {
    Row::insert(
        columns
            .iter()
            .map(|c| match c {
                LinesColumn::Line => Value::String(line.to_string()),
                LinesColumn::LineNumber => Value::BigInt(number),
                LinesColumn::File => Value::String(file.to_string()),
            })
            .collect(),
    )
}

/// The text of a line read with its terminator (`\n` or `\r\n`; the last line may have none).
fn decode_line(raw: &[u8], file: &str, number: i64) -> Result<String> {
    let text = match raw.strip_suffix(b"\n") {
        Some(t) => t.strip_suffix(b"\r").unwrap_or(t),
        None => raw,
    };
    String::from_utf8(text.to_vec()).map_err(|e| Error::BadRecord {
        format: IDENTIFIER.to_string(),
        origin: RecordOrigin::File {
            path: file.to_string(),
            line: number.unsigned_abs(),
        },
        reason: format!("the line is not valid UTF-8: {e}"),
    })
}

#[async_trait]
impl SourceReader for LinesReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        for s in &splits {
            let split = LineSplit::from_source_split(s)?;
            tracing::debug!(
                subtask = self.subtask,
                split = %s.id,
                offset = split.offset,
                "lines: split added"
            );
            self.pending.push_back(split);
        }
        Ok(())
    }

    fn no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self) -> Result<ReadEvent> {
        loop {
            if self.current.is_none() {
                match self.pending.pop_front() {
                    Some(split) => self.current = Some(Self::open(split).await?),
                    None if self.no_more_splits => return Ok(ReadEvent::End),
                    // The runtime asks the enumerator and calls `add_splits` or `no_more_splits`.
                    None => return Ok(ReadEvent::NeedSplits),
                }
            }
            let Some(open) = self.current.as_mut() else {
                continue;
            };

            // The row view: build `Row`s of `Value`s and let `RowBatchBuilder` make the Arrow
            // arrays. It is the easy way and fine for a demo, but it allocates per value. A
            // production connector should append to Arrow builders directly (here a
            // `StringBuilder` and an `Int64Builder`), which is several times faster.
            let mut batch = RowBatchBuilder::new(self.schema.clone());
            let mut raw = Vec::new();
            for _ in 0..self.batch_size {
                raw.clear();
                let n = open.reader.read_until(b'\n', &mut raw).await.map_err(|e| {
                    Error::io(format!("{IDENTIFIER}: cannot read '{}'", open.file_name), e)
                })?;
                if n == 0 {
                    // End of the file: the split is done and is dropped, so it is part of no
                    // later snapshot. The lines read before are in `batch`, returned below.
                    tracing::debug!(
                        subtask = self.subtask,
                        file = %open.file_name,
                        "lines: split finished"
                    );
                    self.current = None;
                    break;
                }
                let number = open.split.next_line;
                let line = decode_line(&raw, &open.file_name, number)?;
                // Progress advances together with the row it produced: a snapshot taken after
                // this batch was handed over resumes exactly after the batch's last line.
                open.split.offset += n as u64;
                open.split.next_line += 1;
                self.metrics.add_bytes(n as u64);
                if self.empty_lines == EmptyLines::Skip && line.is_empty() {
                    continue;
                }
                batch.push(row(&self.columns, &line, number, &open.file_name));
            }
            if !batch.is_empty() {
                // The runtime counts the records; a connector only reports bytes.
                return Ok(ReadEvent::Batch(batch.build()?));
            }
            // Nothing to emit (end of file, or only skipped lines): go on with the next lines.
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<SourceSplit>> {
        // Called between two `poll_next` calls: every line read so far was emitted, so the
        // offsets are exactly "everything before this was delivered".
        let splits = self
            .current
            .iter()
            .map(|c| &c.split)
            .chain(self.pending.iter())
            .map(LineSplit::to_source_split)
            .collect::<Result<Vec<_>>>()?;
        tracing::debug!(
            subtask = self.subtask,
            checkpoint_id,
            splits = splits.len(),
            "lines: reader snapshot"
        );
        Ok(splits)
    }

    async fn close(&mut self) -> Result<()> {
        self.current = None;
        Ok(())
    }
}
