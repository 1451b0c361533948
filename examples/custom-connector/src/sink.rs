//! Step 4: the sink.
//!
//! A sink has two pieces: [`LinesSink`] (a [`DynamicSink`]), which the factory returns and which
//! does no I/O, and [`LinesWriter`] (a [`SinkWriter`]), one per parallel subtask, which does the
//! writing.
//!
//! **Delivery guarantee.** The writer appends each row's text as one line and makes the file
//! durable ([`SinkWriter::flush`], then `fsync`) at every checkpoint. Everything written before a
//! completed checkpoint is therefore on disk; if the job fails and restarts from that checkpoint,
//! the rows written after it are read and written again. No row is lost, some may be duplicated:
//! at-least-once ([`DeliveryGuarantee::AtLeastOnce`]).
//!
//! For exactly-once, a sink either makes its writes invisible until the checkpoint completes (two
//! phases: [`SinkWriter::prepare_commit`] returns committables, a [`Committer`] publishes them; see
//! `headrace_runtime::testing::CommitFilesFactory`), or records in its writer state
//! ([`SinkWriter::snapshot_state`]) what a restore must undo (here: the file's length, to truncate
//! to on restore).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headrace_sdk::prelude::*;
use headrace_sdk::row::rows;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::factory::IDENTIFIER;

/// Appends lines to one file.
#[derive(Debug)]
pub struct LinesSink {
    path: PathBuf,
    schema: SchemaRef,
    flush_interval: Duration,
}

impl LinesSink {
    /// A sink appending the single STRING column of `schema` to `path`.
    pub(crate) fn new(path: PathBuf, schema: SchemaRef, flush_interval: Duration) -> Self {
        LinesSink {
            path,
            schema,
            flush_interval,
        }
    }

    /// The file rows are appended to.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl DynamicSink for LinesSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn changelog_mode(&self) -> ChangelogMode {
        // A line cannot be retracted: the planner refuses to connect a source that produces
        // updates or deletes to this sink.
        ChangelogMode::InsertOnly
    }

    fn parallelism(&self) -> Option<usize> {
        // Several writers appending to one file would interleave their buffers. One writer is the
        // simple answer; a scalable sink would write one file per subtask instead.
        Some(1)
    }

    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        // Writers may do I/O. Opening the file here reports a bad path before any data flows.
        let ctx_msg = |what: &str| format!("{IDENTIFIER}: cannot {what} '{}'", self.path.display());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(ctx_msg("create the directory of"), e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(ctx_msg("open"), e))?;
        tracing::debug!(
            subtask = ctx.subtask,
            path = %self.path.display(),
            restored_checkpoint = ctx.restored_checkpoint_id,
            "lines: writer opened"
        );
        Ok(Box::new(LinesWriter {
            path: self.path.display().to_string(),
            out: BufWriter::new(tokio::fs::File::from_std(file)),
            flush_interval: self.flush_interval,
            last_flush: Instant::now(),
            metrics: ctx.metrics,
        }))
    }
}

/// Appends the rows of one subtask to the file, one line per row.
#[derive(Debug)]
pub struct LinesWriter {
    path: String,
    out: BufWriter<tokio::fs::File>,
    flush_interval: Duration,
    last_flush: Instant,
    metrics: Arc<SinkMetrics>,
}

impl LinesWriter {
    fn err(&self, what: &str, e: std::io::Error) -> Error {
        Error::io(format!("{IDENTIFIER}: cannot {what} '{}'", self.path), e)
    }
}

#[async_trait]
impl SinkWriter for LinesWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        // The row view again, for readability. Reading the Arrow column directly
        // (`batch.batch.column(0).as_string::<i32>()`) avoids a `String` per row.
        let mut bytes = 0u64;
        for row in rows(&batch)? {
            if row.kind != RowKind::Insert {
                return Err(Error::user(format!(
                    "{IDENTIFIER}: the sink only appends, but received a {} row",
                    row.kind
                )));
            }
            // NULL has no text form: it is written as an empty line.
            let text = row.get_string(0).unwrap_or("");
            self.out
                .write_all(text.as_bytes())
                .await
                .map_err(|e| self.err("write to", e))?;
            self.out
                .write_all(b"\n")
                .await
                .map_err(|e| self.err("write to", e))?;
            bytes += text.len() as u64 + 1;
        }
        // The runtime counts the records; a connector only reports bytes.
        self.metrics.add_bytes(bytes);
        if self.last_flush.elapsed() >= self.flush_interval {
            // Hand the buffer to the OS: visible to readers of the file, not yet durable.
            self.out.flush().await.map_err(|e| self.err("flush", e))?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    async fn flush(&mut self, end_of_input: bool) -> Result<()> {
        // Called at every checkpoint (before it can complete) and at the end of a bounded job:
        // this is what makes the sink at-least-once.
        self.out.flush().await.map_err(|e| self.err("flush", e))?;
        self.out
            .get_ref()
            .sync_data()
            .await
            .map_err(|e| self.err("sync", e))?;
        self.last_flush = Instant::now();
        tracing::debug!(path = %self.path, end_of_input, "lines: flushed and synced");
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        // After a stop, the buffer holds rows read after the last checkpoint. Writing them is
        // allowed (a restore writes them again: the duplicates at-least-once permits), and keeps
        // the file's last line whole.
        self.out.flush().await.map_err(|e| self.err("flush", e))
    }
}
