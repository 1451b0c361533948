//! `commit-files`: a small exactly-once sink that commits on checkpoints.
//!
//! Each writer appends rows (as Flink prints them, `+I[1, 1.50, foo]`, one per line) to a hidden
//! in-progress file under `<path>/.in-progress/`; at a checkpoint the file becomes a committable, and
//! the committer renames it into `<path>/` once the checkpoint is complete. Renaming is idempotent, so
//! a restart that commits the last checkpoint again does nothing twice, and in-progress files of
//! transactions no checkpoint covered are deleted when the job restarts. It exists to test the runner's
//! exactly-once machinery, and works as a simple exactly-once text sink.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use headrace_sdk::prelude::*;
use headrace_sdk::render::flink_row_string;
use headrace_sdk::row::rows;
use serde::{Deserialize, Serialize};

/// `path`: the output directory.
pub const PATH: ConfigOption<String> =
    ConfigOption::new("path").description("Directory the committed files are written to.");

/// The `commit-files` factory.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommitFilesFactory;

impl ConnectorFactory for CommitFilesFactory {
    fn identifier(&self) -> &'static str {
        "commit-files"
    }
    fn description(&self) -> &'static str {
        "Exactly-once text sink: rows as Flink prints them, one file per writer and checkpoint, \
         visible only once the checkpoint completes (for tests and simple pipelines)."
    }
    fn options(&self) -> OptionSet {
        OptionSet::new().required(PATH)
    }
    fn supports_source(&self) -> bool {
        false
    }
    fn supports_sink(&self) -> bool {
        true
    }
    fn create_sink(&self, ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        let types = ctx
            .schema
            .physical_columns()
            .chain(ctx.schema.metadata_columns().filter(|c| {
                matches!(
                    c.kind,
                    headrace_sdk::schema::ColumnKind::Metadata {
                        is_virtual: false,
                        ..
                    }
                )
            }))
            .map(|c| c.data_type.clone())
            .collect();
        Ok(Arc::new(CommitFilesSink {
            path: PathBuf::from(ctx.options.get(&PATH)?),
            schema: ctx.schema.consumed_arrow_schema(),
            types,
        }))
    }
}

struct CommitFilesSink {
    path: PathBuf,
    schema: SchemaRef,
    types: Vec<DataType>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    in_progress: PathBuf,
    target: PathBuf,
}

fn io(ctx: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(ctx, e)
}

impl DynamicSink for CommitFilesSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        let staging = self.path.join(".in-progress");
        std::fs::create_dir_all(&staging)
            .map_err(io(format!("cannot create {}", staging.display())))?;
        if ctx.subtask == 0 {
            // Pending commits of the restored checkpoint were committed before writers start, so
            // whatever is still in progress belongs to transactions no checkpoint covered.
            for e in std::fs::read_dir(&staging)
                .map_err(io(format!("cannot list {}", staging.display())))?
                .flatten()
            {
                tracing::info!("removing uncommitted file {}", e.path().display());
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Box::new(CommitFilesWriter {
            dir: self.path.clone(),
            staging,
            subtask: ctx.subtask,
            next_id: ctx.restored_checkpoint_id + 1,
            file: None,
            rows: 0,
            types: self.types.clone(),
        }))
    }
    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(Some(Box::new(CommitFilesCommitter)))
    }
}

struct CommitFilesWriter {
    dir: PathBuf,
    staging: PathBuf,
    subtask: usize,
    next_id: u64,
    file: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    rows: u64,
    types: Vec<DataType>,
}

impl CommitFilesWriter {
    fn name(&self) -> String {
        format!("part-{:03}-{:08}.txt", self.subtask, self.next_id)
    }
}

#[async_trait]
impl SinkWriter for CommitFilesWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        if self.file.is_none() {
            let p = self.staging.join(self.name());
            let f =
                std::fs::File::create(&p).map_err(io(format!("cannot create {}", p.display())))?;
            self.file = Some((p, std::io::BufWriter::new(f)));
        }
        if let Some((p, f)) = self.file.as_mut() {
            for r in rows(&batch)? {
                let line = flink_row_string(r, &self.types);
                writeln!(f, "{line}").map_err(io(format!("cannot write {}", p.display())))?;
                self.rows += 1;
            }
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        if let Some((p, f)) = self.file.as_mut() {
            f.flush()
                .map_err(io(format!("cannot flush {}", p.display())))?;
        }
        Ok(())
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        let target = self.dir.join(self.name());
        self.next_id = checkpoint_id + 1;
        let Some((p, f)) = self.file.take() else {
            return Ok(vec![]);
        };
        let file = f
            .into_inner()
            .map_err(|e| Error::io(format!("cannot flush {}", p.display()), e.into_error()))?;
        file.sync_all()
            .map_err(io(format!("cannot sync {}", p.display())))?;
        Ok(vec![VersionedBytes::encode(
            1,
            "commit-files committable",
            &Pending {
                in_progress: p,
                target,
            },
        )?])
    }
}

struct CommitFilesCommitter;

fn commit_one(p: &Pending) -> Result<()> {
    if p.target.exists() {
        return Ok(());
    }
    if !Path::new(&p.in_progress).exists() {
        return Err(Error::internal(format!(
            "commit-files: neither {} nor {} exists; the transaction's data is lost",
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
impl Committer for CommitFilesCommitter {
    async fn commit(
        &mut self,
        _checkpoint_id: u64,
        committables: Vec<VersionedBytes>,
    ) -> Result<()> {
        for c in committables {
            let p: Pending = c.decode(1, "commit-files committable")?;
            commit_one(&p)?;
        }
        Ok(())
    }
}
