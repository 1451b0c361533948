//! In-process plumbing: creating the connector's sources and sinks from options as the planner
//! does, an exactly-once in-memory sink that collects rows, an in-memory bounded source, and jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use headrace_runtime::job::Job;
use headrace_runtime::{JobMetrics, JobSummary};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::factory::{validate_table, TableContext, Usage, CONNECTOR};
use headrace_sdk::options::RawOptions;
use headrace_sdk::prelude::*;
use headrace_sdk::row::{rows, Row, RowBatchBuilder};
use headrace_sdk::schema::TableSchema;
use tokio::sync::mpsc;

use super::Failure;

/// Create the connector's source or sink for `table` from raw options, validated exactly as the
/// planner validates a `CREATE TABLE`.
fn table_context<'a>(
    registry: &'a Registry,
    table: &str,
    schema: &TableSchema,
    raw: &RawOptions,
    usage: Usage,
) -> Result<(Arc<dyn ConnectorFactory>, TableContext<'a>), Failure> {
    let id = raw.get(CONNECTOR.key()).ok_or_else(|| {
        Failure::new(format!(
            "the options of table '{table}' have no 'connector' key"
        ))
    })?;
    let factory = registry.connector(id)?;
    let options = validate_table(registry, factory.as_ref(), table, schema, raw, Some(usage))?;
    Ok((
        factory,
        TableContext {
            table_name: table.to_string(),
            schema: schema.clone(),
            options,
            registry,
        },
    ))
}

/// The connector's source for `table`.
pub(crate) fn make_source(
    registry: &Registry,
    table: &str,
    schema: &TableSchema,
    raw: &RawOptions,
) -> Result<Arc<dyn DynamicSource>, Failure> {
    let (f, ctx) = table_context(registry, table, schema, raw, Usage::Source)?;
    Ok(f.create_source(&ctx)?)
}

/// The connector's sink for `table`.
pub(crate) fn make_sink(
    registry: &Registry,
    table: &str,
    schema: &TableSchema,
    raw: &RawOptions,
) -> Result<Arc<dyn DynamicSink>, Failure> {
    let (f, ctx) = table_context(registry, table, schema, raw, Usage::Sink)?;
    Ok(f.create_sink(&ctx)?)
}

/// Validate options only (no source or sink is created).
pub(crate) fn validate(
    registry: &Registry,
    table: &str,
    schema: &TableSchema,
    raw: &RawOptions,
    usage: Usage,
) -> Result<(), Failure> {
    table_context(registry, table, schema, raw, usage).map(|_| ())
}

#[derive(Default)]
struct Collected {
    next_txn: u64,
    staged: BTreeMap<u64, Vec<Row>>,
    committed: Vec<Row>,
}

/// An exactly-once sink that keeps rows in memory: writers stage rows per transaction, and the
/// committer makes a transaction's rows visible once its checkpoint completes (idempotently), so
/// what [`CollectSink::rows`] returns is exactly what a source delivered up to the last completed
/// checkpoint. One `CollectSink` can serve several runs of a job (a stop and a restore).
#[derive(Clone)]
pub struct CollectSink {
    schema: SchemaRef,
    inner: Arc<Mutex<Collected>>,
}

impl CollectSink {
    /// A sink consuming rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        CollectSink {
            schema,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Collected> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The committed rows.
    pub fn rows(&self) -> Vec<Row> {
        self.lock().committed.clone()
    }

    /// The number of committed rows.
    pub fn len(&self) -> usize {
        self.lock().committed.len()
    }

    /// Whether no row is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl DynamicSink for CollectSink {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_writer(&self, _ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(CollectWriter {
            sink: self.clone(),
            buffer: Vec::new(),
        }))
    }
    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(Some(Box::new(CollectCommitter { sink: self.clone() })))
    }
}

struct CollectWriter {
    sink: CollectSink,
    buffer: Vec<Row>,
}

#[async_trait]
impl SinkWriter for CollectWriter {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        self.buffer.extend(rows(&batch)?);
        Ok(())
    }
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(())
    }
    async fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<VersionedBytes>> {
        let mut c = self.sink.lock();
        let txn = c.next_txn;
        c.next_txn += 1;
        c.staged.insert(txn, std::mem::take(&mut self.buffer));
        Ok(vec![VersionedBytes::encode(
            1,
            "collect transaction",
            &txn,
        )?])
    }
}

struct CollectCommitter {
    sink: CollectSink,
}

#[async_trait]
impl Committer for CollectCommitter {
    async fn commit(&mut self, _id: u64, committables: Vec<VersionedBytes>) -> Result<()> {
        let mut c = self.sink.lock();
        for v in committables {
            let txn: u64 = v.decode(1, "collect transaction")?;
            if let Some(rows) = c.staged.remove(&txn) {
                c.committed.extend(rows);
            }
        }
        Ok(())
    }
}

/// A bounded in-memory source of fixed rows, read by one reader in one split (the trusted input of
/// the sink checks).
pub struct RowsSource {
    schema: SchemaRef,
    rows: Vec<Row>,
}

impl RowsSource {
    /// A source producing `rows` of `schema`.
    pub fn new(schema: SchemaRef, rows: Vec<Row>) -> Self {
        RowsSource { schema, rows }
    }
}

impl DynamicSource for RowsSource {
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn produced_schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn parallelism(&self) -> Option<usize> {
        Some(1)
    }
    fn create_enumerator(
        &self,
        _ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let handed_out = match restored {
            Some(v) => v.decode(1, "rows enumerator")?,
            None => false,
        };
        Ok(Box::new(RowsEnumerator { handed_out }))
    }
    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(RowsReader {
            schema: self.schema.clone(),
            rows: self.rows.clone(),
            batch_size: ctx.batch_size.max(1),
            position: None,
            done: false,
        }))
    }
}

struct RowsEnumerator {
    handed_out: bool,
}

#[async_trait]
impl SplitEnumerator for RowsEnumerator {
    async fn handle_split_request(&mut self, _subtask: usize) -> Result<SplitAssignment> {
        if self.handed_out {
            return Ok(SplitAssignment::NoMoreSplits);
        }
        self.handed_out = true;
        Ok(SplitAssignment::Splits(vec![SourceSplit {
            id: "rows".into(),
            state: VersionedBytes::encode(1, "rows split", &0usize)?,
        }]))
    }
    fn add_splits_back(&mut self, _splits: Vec<SourceSplit>) {
        self.handed_out = false;
    }
    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(1, "rows enumerator", &self.handed_out)
    }
}

struct RowsReader {
    schema: SchemaRef,
    rows: Vec<Row>,
    batch_size: usize,
    position: Option<usize>,
    done: bool,
}

#[async_trait]
impl SourceReader for RowsReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        for s in splits {
            self.position = Some(s.state.decode(1, "rows split")?);
        }
        Ok(())
    }
    fn no_more_splits(&mut self) {
        self.done = true;
    }
    async fn poll_next(&mut self) -> Result<ReadEvent> {
        let Some(pos) = self.position else {
            return Ok(if self.done {
                ReadEvent::End
            } else {
                ReadEvent::NeedSplits
            });
        };
        if pos >= self.rows.len() {
            self.position = None;
            return Ok(if self.done {
                ReadEvent::End
            } else {
                ReadEvent::NeedSplits
            });
        }
        let end = (pos + self.batch_size).min(self.rows.len());
        let mut b = RowBatchBuilder::new(self.schema.clone());
        for r in &self.rows[pos..end] {
            b.push(r.clone());
        }
        self.position = Some(end);
        Ok(ReadEvent::Batch(b.build()?))
    }
    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<SourceSplit>> {
        match self.position {
            Some(p) => Ok(vec![SourceSplit {
                id: "rows".into(),
                state: VersionedBytes::encode(1, "rows split", &p)?,
            }]),
            None => Ok(vec![]),
        }
    }
}

/// How a job of the suite runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunSpec {
    pub parallelism: usize,
    pub state_dir: Option<PathBuf>,
    pub checkpoint_interval: Option<Duration>,
    pub batch_size: Option<usize>,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start a Tokio runtime: {e}")))
}

fn job(source: Arc<dyn DynamicSource>, sink: Arc<dyn DynamicSink>, spec: &RunSpec) -> Job {
    let mut j = Job::new()
        .from_source("src", source)
        .sink_to("snk", sink)
        .parallelism(spec.parallelism.max(1));
    if let Some(d) = &spec.state_dir {
        j = j.state_dir(d.clone());
    }
    if let Some(i) = spec.checkpoint_interval {
        j = j.checkpoint_interval(i);
    }
    if let Some(b) = spec.batch_size {
        j = j.batch_size(b);
    }
    j
}

/// Run a job to its end, failing after `limit`.
pub(crate) fn run_to_end(
    rt: &tokio::runtime::Runtime,
    source: Arc<dyn DynamicSource>,
    sink: Arc<dyn DynamicSink>,
    spec: &RunSpec,
    limit: Duration,
) -> Result<JobSummary, Failure> {
    let j = job(source, sink, spec);
    rt.block_on(async move {
        match tokio::time::timeout(limit, j.execute()).await {
            Ok(r) => r.map_err(Failure::from),
            Err(_) => Err(Failure::new(format!(
                "the job did not finish within {limit:?}"
            ))),
        }
    })
}

/// A job running in the background until stopped.
pub(crate) struct Running {
    stop: mpsc::Sender<()>,
    handle: tokio::task::JoinHandle<headrace_runtime::RuntimeResult<JobSummary>>,
}

/// Start an unbounded job.
pub(crate) fn start(
    rt: &tokio::runtime::Runtime,
    source: Arc<dyn DynamicSource>,
    sink: Arc<dyn DynamicSink>,
    spec: &RunSpec,
) -> Running {
    let (tx, rx) = mpsc::channel(1);
    let j = job(source, sink, spec);
    let handle = rt.spawn(async move { j.execute_with(Arc::new(JobMetrics::default()), rx).await });
    Running { stop: tx, handle }
}

impl Running {
    /// Whether the job ended (it should not, while unbounded).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Ask the job to stop after a final checkpoint and wait for it.
    pub fn stop(
        self,
        rt: &tokio::runtime::Runtime,
        limit: Duration,
    ) -> Result<JobSummary, Failure> {
        rt.block_on(async move {
            let _ = self.stop.send(()).await;
            match tokio::time::timeout(limit, self.handle).await {
                Ok(Ok(r)) => r.map_err(Failure::from),
                Ok(Err(e)) => Err(Failure::new(format!("the job panicked: {e}"))),
                Err(_) => Err(Failure::new(format!(
                    "the job did not stop within {limit:?} of the stop request"
                ))),
            }
        })
    }

    /// Abort the job's task (used when a check already failed).
    pub fn abort(self) {
        self.handle.abort();
    }
}

/// Wait until `done` holds, or fail after `limit` with `what`.
pub(crate) fn wait_until(
    limit: Duration,
    what: impl Fn() -> String,
    mut done: impl FnMut() -> Result<bool, Failure>,
) -> Result<(), Failure> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(Failure::new(format!(
                "timed out after {limit:?}: {}",
                what()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
