//! The programmatic face of the runner: the same jobs as SQL, built in Rust.
//!
//! ```no_run
//! # async fn demo(src: std::sync::Arc<dyn headrace_sdk::source::DynamicSource>,
//! #               snk: std::sync::Arc<dyn headrace_sdk::sink::DynamicSink>) -> headrace_runtime::RuntimeResult<()> {
//! use headrace_runtime::job::Job;
//! let summary = Job::new()
//!     .from_source("numbers", src)
//!     .filter("id % 2 = 0")
//!     .select(["id", "id * 10"])
//!     .sink_to("out", snk)
//!     .execute()
//!     .await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use headrace_sdk::changelog::ChangelogMode;
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::source::DynamicSource;
use tokio::sync::mpsc;

use crate::error::RuntimeResult;
use crate::exec::{execute, ExecOptions, JobMetrics, JobSummary};
use crate::plan::{Pipeline, Transform};

/// A job of one or more source-to-sink pipelines.
#[derive(Default)]
pub struct Job {
    pipelines: Vec<Pipeline>,
    opts: ExecOptions,
    parallelism: Option<usize>,
    watermark_interval: Option<Duration>,
    error: Option<crate::RuntimeError>,
}

/// A pipeline being described: source, then filter/select, then sink.
pub struct PipelineBuilder {
    job: Job,
    source_name: String,
    source: Arc<dyn DynamicSource>,
    filter: Option<String>,
    select: Vec<String>,
    watermark: Option<String>,
    idle_timeout: Option<Duration>,
    bad_records: headrace_sdk::bad_records::BadRecordPolicy,
}

impl Job {
    /// An empty job.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start a pipeline reading from `source`.
    pub fn from_source(
        self,
        name: impl Into<String>,
        source: Arc<dyn DynamicSource>,
    ) -> PipelineBuilder {
        PipelineBuilder {
            job: self,
            source_name: name.into(),
            source,
            filter: None,
            select: Vec::new(),
            watermark: None,
            idle_timeout: None,
            bad_records: headrace_sdk::bad_records::BadRecordPolicy::Fail,
        }
    }

    /// Checkpoint every `interval` (`execution.checkpointing.interval`).
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.opts.checkpoint_interval = Some(interval);
        self
    }

    /// Keep checkpoints in `dir`, and resume from the newest one there.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.opts.state_dir = Some(dir.into());
        self
    }

    /// Default parallelism for sources and sinks that do not set their own (applies to every
    /// pipeline of the job, whenever it is called).
    pub fn parallelism(mut self, p: usize) -> Self {
        self.parallelism = Some(p.max(1));
        self
    }

    /// How often a changed watermark reaches the sinks (`pipeline.auto-watermark-interval`,
    /// default 200 ms; zero: whenever it advances).
    pub fn auto_watermark_interval(mut self, interval: Duration) -> Self {
        self.watermark_interval = Some(interval);
        self
    }

    /// Preferred rows per batch.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.opts.batch_size = n.max(1);
        self
    }

    /// Run to completion.
    pub async fn execute(self) -> RuntimeResult<JobSummary> {
        let (_tx, rx) = mpsc::channel(1);
        self.execute_with(Arc::new(JobMetrics::default()), rx).await
    }

    /// Run with a metrics handle and a stop channel (send `()` to stop after a final checkpoint).
    pub async fn execute_with(
        self,
        metrics: Arc<JobMetrics>,
        stop: mpsc::Receiver<()>,
    ) -> RuntimeResult<JobSummary> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let p = self.parallelism.unwrap_or(1);
        let mut pipelines = self.pipelines;
        for pl in pipelines.iter_mut() {
            pl.source_parallelism = pl.source.parallelism().unwrap_or(p).max(1);
            pl.sink_parallelism = pl.sink.parallelism().unwrap_or(p).max(1);
            if let Some(i) = self.watermark_interval {
                pl.watermark_interval = i;
            }
        }
        crate::plan::check_exclusive_options(&pipelines)?;
        execute(pipelines, self.opts, metrics, stop).await
    }
}

impl PipelineBuilder {
    /// Keep rows where the SQL condition holds (e.g. `"amount > 10 AND name IS NOT NULL"`).
    pub fn filter(mut self, condition: impl Into<String>) -> Self {
        self.filter = Some(condition.into());
        self
    }

    /// Compute these SQL expressions (default: every column as it is).
    pub fn select<S: Into<String>>(mut self, exprs: impl IntoIterator<Item = S>) -> Self {
        self.select = exprs.into_iter().map(Into::into).collect();
        self
    }

    /// Compute watermarks as `WATERMARK FOR ... AS expr` does: `expr` is SQL over the source's
    /// columns giving a timestamp (e.g. `"ts - INTERVAL '5' SECOND"`).
    pub fn watermark(mut self, expr: impl Into<String>) -> Self {
        self.watermark = Some(expr.into());
        self
    }

    /// A split without rows for this long is idle (`scan.watermark.idle-timeout`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout).filter(|d| !d.is_zero());
        self
    }

    /// What the source does with records it cannot decode (the Headrace extension
    /// `headrace.bad-records.policy`): `Fail` (the default) or `Skip` (drop and count them).
    /// `DeadLetter` needs a dead-letter table, which only SQL jobs declare: `sink_to` refuses it.
    pub fn bad_records(mut self, policy: headrace_sdk::bad_records::BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Finish the pipeline by writing into `sink`.
    pub fn sink_to(self, name: impl Into<String>, sink: Arc<dyn DynamicSink>) -> Job {
        let mut job = self.job;
        if self.bad_records == headrace_sdk::bad_records::BadRecordPolicy::DeadLetter {
            if job.error.is_none() {
                job.error = Some(crate::RuntimeError::Plan(format!(
                    "source '{}': the 'dead-letter' bad-record policy needs a dead-letter table \
                     declared in a SQL job ('headrace.bad-records.dead-letter-table'); a Job built \
                     in Rust can 'fail' or 'skip'",
                    self.source_name
                )));
            }
            return job;
        }
        let source_bad_records = Some(crate::plan::TableBadRecords {
            config: headrace_sdk::bad_records::BadRecordConfig {
                policy: self.bad_records,
                table: self.source_name.clone(),
                connector: String::new(),
            },
            dead_letters: None,
        });
        let index = job.pipelines.len();
        match Transform::over(
            self.source.produced_schema(),
            self.filter.as_deref(),
            &self.select,
            sink.consumed_schema(),
        )
        .and_then(|t| match &self.watermark {
            Some(w) => t.with_watermark(w),
            None => Ok(t),
        }) {
            Ok(t) => {
                if self.source.changelog_mode() != ChangelogMode::InsertOnly
                    && sink.changelog_mode() == ChangelogMode::InsertOnly
                {
                    if job.error.is_none() {
                        job.error = Some(crate::RuntimeError::Plan(format!(
                            "source '{}' produces updates and deletes, which the insert-only sink '{}' cannot consume",
                            self.source_name,
                            name.into()
                        )));
                    }
                    return job;
                }
                // parallelism is resolved when the job executes
                job.pipelines.push(Pipeline {
                    index,
                    source_table: self.source_name,
                    source_parallelism: 1,
                    source: self.source,
                    transform: Arc::new(t),
                    sink_table: name.into(),
                    sink_parallelism: 1,
                    sink,
                    idle_timeout: self.idle_timeout,
                    watermark_interval: crate::plan::DEFAULT_WATERMARK_INTERVAL,
                    keyed_shuffle: crate::shuffle::KeyedShuffle::Auto,
                    sink_key: Vec::new(),
                    source_bad_records,
                    sink_bad_records: None,
                });
            }
            Err(e) => {
                if job.error.is_none() {
                    job.error = Some(e);
                }
            }
        }
        job
    }
}
