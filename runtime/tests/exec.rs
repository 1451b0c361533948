//! Executor tests with in-memory fakes (no external systems): Job API, failures, stop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use headrace_runtime::exec::{JobMetrics, JobOutcome};
use headrace_runtime::job::Job;
use headrace_sdk::prelude::*;
use headrace_sdk::row::rows;

/// Emits `count` rows `(id BIGINT)` per split, one split per reader; unbounded sources then idle.
#[derive(Clone)]
struct Counting {
    count: i64,
    unbounded: bool,
    fail_at: Option<i64>,
    panic_at: Option<i64>,
}

impl DynamicSource for Counting {
    fn boundedness(&self) -> Boundedness {
        if self.unbounded {
            Boundedness::Unbounded
        } else {
            Boundedness::Bounded
        }
    }
    fn produced_schema(&self) -> SchemaRef {
        TableSchema::parse_columns("id BIGINT")
            .unwrap()
            .physical_arrow_schema()
    }
    fn create_enumerator(
        &self,
        ctx: EnumeratorContext,
        restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        let assigned: Vec<bool> = match restored {
            Some(v) => v.decode(1, "enum")?,
            None => vec![false; ctx.parallelism],
        };
        Ok(Box::new(Enum { assigned }))
    }
    fn create_reader(&self, _ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(Reader {
            cfg: self.clone(),
            split: None,
            done: false,
        }))
    }
}

struct Enum {
    assigned: Vec<bool>,
}

#[async_trait]
impl SplitEnumerator for Enum {
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment> {
        if self.assigned[subtask] {
            return Ok(SplitAssignment::NoMoreSplits);
        }
        self.assigned[subtask] = true;
        Ok(SplitAssignment::Splits(vec![SourceSplit {
            id: format!("s{subtask}"),
            state: VersionedBytes::encode(1, "split", &(subtask as i64 * 1_000_000, 0i64))?,
        }]))
    }
    fn add_splits_back(&mut self, _splits: Vec<SourceSplit>) {}
    fn snapshot_state(&mut self, _id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(1, "enum", &self.assigned)
    }
}

struct Reader {
    cfg: Counting,
    split: Option<(String, i64, i64)>,
    done: bool,
}

#[async_trait]
impl SourceReader for Reader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        for s in splits {
            let (base, next): (i64, i64) = s.state.decode(1, "split")?;
            self.split = Some((s.id, base, next));
        }
        Ok(())
    }
    fn no_more_splits(&mut self) {
        self.done = true;
    }
    async fn poll_next(&mut self) -> Result<ReadEvent> {
        let Some((_, base, next)) = self.split.as_mut() else {
            return Ok(if self.done {
                ReadEvent::End
            } else {
                ReadEvent::NeedSplits
            });
        };
        if *next >= self.cfg.count {
            if self.cfg.unbounded {
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Ok(ReadEvent::Idle);
            }
            self.split = None;
            return Ok(ReadEvent::NeedSplits);
        }
        if Some(*next) == self.cfg.fail_at {
            return Err(Error::user("poison record at 5"));
        }
        if Some(*next) == self.cfg.panic_at {
            panic!("boom at {next}");
        }
        let end = (*next + 10).min(self.cfg.count);
        let ids: Vec<i64> = (*next..end).map(|i| *base + i).collect();
        *next = end;
        let batch = RecordBatch::try_new(
            TableSchema::parse_columns("id BIGINT")
                .unwrap()
                .physical_arrow_schema(),
            vec![Arc::new(arrow::array::Int64Array::from(ids))],
        )?;
        Ok(ReadEvent::Batch(ChangelogBatch::inserts(batch)))
    }
    fn snapshot_state(&mut self, _id: u64) -> Result<Vec<SourceSplit>> {
        Ok(match &self.split {
            Some((id, base, next)) => vec![SourceSplit {
                id: id.clone(),
                state: VersionedBytes::encode(1, "split", &(*base, *next))?,
            }],
            None => vec![],
        })
    }
}

/// Collects rows in memory; "commits" move prepared rows to `committed`.
#[derive(Clone, Default)]
struct Collect {
    staged: Arc<Mutex<Vec<Row>>>,
    committed: Arc<Mutex<Vec<Row>>>,
    schema: Option<SchemaRef>,
}

impl DynamicSink for Collect {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        self.schema.clone().unwrap()
    }
    fn create_writer(&self, _ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(self.clone()))
    }
    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(Some(Box::new(self.clone())))
    }
}

#[async_trait]
impl SinkWriter for Collect {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        self.staged.lock().unwrap().extend(rows(&batch)?);
        Ok(())
    }
    async fn flush(&mut self, _end: bool) -> Result<()> {
        Ok(())
    }
    async fn prepare_commit(&mut self, id: u64) -> Result<Vec<VersionedBytes>> {
        Ok(vec![VersionedBytes::encode(1, "c", &id)?])
    }
}

#[async_trait]
impl Committer for Collect {
    async fn commit(&mut self, _id: u64, _c: Vec<VersionedBytes>) -> Result<()> {
        let mut s = self.staged.lock().unwrap();
        self.committed.lock().unwrap().append(&mut s);
        Ok(())
    }
}

fn sink(cols: &str) -> Collect {
    Collect {
        schema: Some(
            TableSchema::parse_columns(cols)
                .unwrap()
                .physical_arrow_schema(),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn job_api_filters_projects_and_commits() {
    let src = Counting {
        count: 100,
        unbounded: false,
        fail_at: None,
        panic_at: None,
    };
    let out = sink("id BIGINT, ten BIGINT");
    let summary = Job::new()
        .parallelism(2)
        .from_source("numbers", Arc::new(src))
        .filter("id % 2 = 0")
        .select(["id", "id * 10"])
        .sink_to("out", Arc::new(out.clone()))
        .execute()
        .await
        .unwrap();
    assert_eq!(summary.outcome, JobOutcome::Finished);
    assert_eq!(summary.rows_in, vec![200]);
    let mut got: Vec<(i64, i64)> = out
        .committed
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.get_long(0).unwrap(), r.get_long(1).unwrap()))
        .collect();
    got.sort();
    assert_eq!(got.len(), 100);
    assert_eq!(got[0], (0, 0));
    assert_eq!(got[99], (1_000_098, 10_000_980));
    assert!(
        out.staged.lock().unwrap().is_empty(),
        "everything committed"
    );
}

#[tokio::test]
async fn bad_select_is_an_error_before_running() {
    let src = Counting {
        count: 1,
        unbounded: false,
        fail_at: None,
        panic_at: None,
    };
    let e = Job::new()
        .from_source("numbers", Arc::new(src))
        .select(["idd"])
        .sink_to("out", Arc::new(sink("id BIGINT")))
        .execute()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown column 'idd'") && e.contains("'id'"),
        "{e}"
    );
}

#[tokio::test]
async fn reader_error_names_the_task() {
    let src = Counting {
        count: 100,
        unbounded: false,
        fail_at: Some(20),
        panic_at: None,
    };
    let e = Job::new()
        .from_source("numbers", Arc::new(src))
        .sink_to("out", Arc::new(sink("id BIGINT")))
        .execute()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("source 'numbers' subtask 0") && e.contains("poison"),
        "{e}"
    );
}

#[tokio::test]
async fn reader_panic_fails_the_job_instead_of_hanging() {
    let src = Counting {
        count: 100,
        unbounded: true,
        fail_at: None,
        panic_at: Some(20),
    };
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        Job::new()
            .from_source("numbers", Arc::new(src))
            .sink_to("out", Arc::new(sink("id BIGINT")))
            .execute(),
    )
    .await
    .expect("the job must not hang");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("panicked") && e.contains("boom at 20"), "{e}");
}

#[tokio::test]
async fn stop_takes_a_final_checkpoint_and_commits_everything_read() {
    let src = Counting {
        count: 50,
        unbounded: true,
        fail_at: None,
        panic_at: None,
    };
    let out = sink("id BIGINT");
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let metrics = Arc::new(JobMetrics::default());
    let job = Job::new()
        .parallelism(2)
        .state_dir(dir.path())
        .checkpoint_interval(Duration::from_millis(100))
        .from_source("numbers", Arc::new(src))
        .sink_to("out", Arc::new(out.clone()));
    let handle = tokio::spawn(job.execute_with(metrics.clone(), rx));
    tokio::time::sleep(Duration::from_millis(400)).await;
    tx.send(()).await.unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.outcome, JobOutcome::Stopped);
    assert!(summary.checkpoints >= 2, "{summary:?}");
    assert_eq!(out.committed.lock().unwrap().len(), 100);
    // A restart from the state directory reads nothing twice.
    let out2 = sink("id BIGINT");
    let (tx2, rx2) = tokio::sync::mpsc::channel(1);
    let job = Job::new()
        .parallelism(2)
        .state_dir(dir.path())
        .checkpoint_interval(Duration::from_millis(100))
        .from_source(
            "numbers",
            Arc::new(Counting {
                count: 60,
                unbounded: true,
                fail_at: None,
                panic_at: None,
            }),
        )
        .sink_to("out", Arc::new(out2.clone()));
    let handle = tokio::spawn(job.execute_with(Arc::new(JobMetrics::default()), rx2));
    tokio::time::sleep(Duration::from_millis(400)).await;
    tx2.send(()).await.unwrap();
    let s2 = handle.await.unwrap().unwrap();
    assert!(s2.restored_from.is_some());
    let mut ids: Vec<i64> = out2
        .committed
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.get_long(0).unwrap())
        .collect();
    ids.sort();
    // only the 10 new rows per reader (50..60)
    assert_eq!(ids.len(), 20, "{ids:?}");
    assert!(ids.iter().all(|i| i % 1_000_000 >= 50));
}

/// Split requests racing with frequent checkpoints: the answer may reach a reader while it is
/// paused for a checkpoint; the job must still end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_assignment_during_checkpoint_pause_does_not_hang() {
    for round in 0..15 {
        let out = sink("id BIGINT");
        let src = Counting {
            count: 30,
            unbounded: false,
            fail_at: None,
            panic_at: None,
        };
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let job = Job::new()
            .parallelism(4)
            .checkpoint_interval(Duration::from_millis(1))
            .from_source("numbers", Arc::new(src))
            .sink_to("out", Arc::new(out.clone()));
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            job.execute_with(Arc::new(JobMetrics::default()), rx),
        )
        .await;
        let summary = r
            .unwrap_or_else(|_| panic!("round {round}: the job hung"))
            .unwrap();
        assert_eq!(summary.outcome, JobOutcome::Finished);
        assert_eq!(out.committed.lock().unwrap().len(), 120, "round {round}");
    }
}

/// One pipeline of a statement set ends long before the other while checkpoints keep coming: the
/// ended pipeline's writers must not be waited for (they answer no more checkpoints).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_after_one_pipeline_finished_do_not_hang() {
    let short = sink("id BIGINT");
    let long = sink("id BIGINT");
    let counting = |count| Counting {
        count,
        unbounded: false,
        fail_at: None,
        panic_at: None,
    };
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let job = Job::new()
        .parallelism(2)
        .checkpoint_interval(Duration::from_millis(1))
        .from_source("short", Arc::new(counting(10)))
        .sink_to("short_out", Arc::new(short.clone()))
        .from_source("long", Arc::new(counting(100_000)))
        .sink_to("long_out", Arc::new(long.clone()));
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        job.execute_with(Arc::new(JobMetrics::default()), rx),
    )
    .await
    .expect("the job hung")
    .unwrap();
    assert_eq!(summary.outcome, JobOutcome::Finished);
    assert!(summary.checkpoints > 2, "{summary:?}");
    assert_eq!(short.committed.lock().unwrap().len(), 20);
    assert_eq!(long.committed.lock().unwrap().len(), 200_000);
}

/// A sink whose committer reports the newest checkpoint's transactions as lost after a restart
/// (as Kafka's does when a crash came between checkpoint and commit).
#[derive(Clone)]
struct Losing {
    inner: Collect,
    lost: u64,
    recovered: Arc<Mutex<Vec<u64>>>,
}

impl DynamicSink for Losing {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        self.inner.consumed_schema()
    }
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        self.inner.create_writer(ctx)
    }
    fn create_committer(&self) -> Result<Option<Box<dyn Committer>>> {
        Ok(Some(Box::new(self.clone())))
    }
}

#[async_trait]
impl Committer for Losing {
    async fn commit(&mut self, id: u64, c: Vec<VersionedBytes>) -> Result<()> {
        self.inner.commit(id, c).await
    }
    async fn recover(&mut self, id: u64, _c: Vec<VersionedBytes>) -> Result<CommitRecovery> {
        self.recovered.lock().unwrap().push(id);
        Ok(if id == self.lost {
            CommitRecovery::Lost
        } else {
            CommitRecovery::Committed
        })
    }
}

#[tokio::test]
async fn lost_transactions_fall_back_to_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let src = Counting {
        count: 50,
        unbounded: true,
        fail_at: None,
        panic_at: None,
    };
    let run = |sink: Arc<dyn DynamicSink>| {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let job = Job::new()
            .parallelism(1)
            .state_dir(dir.path())
            .checkpoint_interval(Duration::from_millis(50))
            .from_source("numbers", Arc::new(src.clone()))
            .sink_to("out", sink);
        let handle = tokio::spawn(job.execute_with(Arc::new(JobMetrics::default()), rx));
        (tx, handle)
    };
    let (tx, handle) = run(Arc::new(sink("id BIGINT")));
    tokio::time::sleep(Duration::from_millis(400)).await;
    tx.send(()).await.unwrap();
    handle.await.unwrap().unwrap();
    let newest = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.strip_prefix("chk-")?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap();
    assert!(newest >= 2, "{newest}");
    let losing = Losing {
        inner: sink("id BIGINT"),
        lost: newest,
        recovered: Arc::default(),
    };
    let (tx, handle) = run(Arc::new(losing.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(()).await.unwrap();
    let s = handle.await.unwrap().unwrap();
    assert_eq!(s.restored_from, Some(newest - 1), "{s:?}");
    assert_eq!(*losing.recovered.lock().unwrap(), vec![newest, newest - 1]);
}

/// Two INSERTs, the second's sink losing the newest checkpoint's transaction after a crash (as
/// when the process died between the two sinks' commits): only its pipeline falls back to the
/// checkpoint before; the first resumes from the newest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_transaction_makes_only_its_own_pipeline_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting {
        count: 50,
        unbounded: true,
        fail_at: None,
        panic_at: None,
    };
    let run = |a: Arc<dyn DynamicSink>, b: Arc<dyn DynamicSink>| {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let job = Job::new()
            .parallelism(1)
            .state_dir(dir.path())
            .checkpoint_interval(Duration::from_millis(50))
            .from_source("a_src", Arc::new(counting.clone()))
            .sink_to("a", a)
            .from_source("b_src", Arc::new(counting.clone()))
            .sink_to("b", b);
        let handle = tokio::spawn(job.execute_with(Arc::new(JobMetrics::default()), rx));
        (tx, handle)
    };
    let (tx, handle) = run(Arc::new(sink("id BIGINT")), Arc::new(sink("id BIGINT")));
    tokio::time::sleep(Duration::from_millis(400)).await;
    tx.send(()).await.unwrap();
    let s = handle.await.unwrap().unwrap();
    let newest = s.checkpoints; // ids start at 1 in a fresh state directory
    assert!(newest >= 2, "{s:?}");

    let losing = |lost| Losing {
        inner: sink("id BIGINT"),
        lost,
        recovered: Arc::default(),
    };
    let (a, b) = (losing(0), losing(newest));
    let (tx, handle) = run(Arc::new(a.clone()), Arc::new(b.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(()).await.unwrap();
    let s = handle.await.unwrap().unwrap();
    assert_eq!(s.outcome, JobOutcome::Stopped, "{s:?}");
    assert_eq!(s.restored_from, Some(newest), "{s:?}");
    assert_eq!(
        *a.recovered.lock().unwrap(),
        vec![newest],
        "a resumes from the newest"
    );
    assert_eq!(
        *b.recovered.lock().unwrap(),
        vec![newest, newest - 1],
        "b falls back one checkpoint"
    );
}

/// A bounded job whose only (final) checkpoint committed the first sink and lost the second's
/// transaction: the first pipeline had finished and does not run again, the second runs again
/// from the start, and the run after that finds the job finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_pipeline_is_not_run_again_when_another_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting {
        count: 100,
        unbounded: false,
        fail_at: None,
        panic_at: None,
    };
    let run = |a: Arc<dyn DynamicSink>, b: Arc<dyn DynamicSink>| {
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        Job::new()
            .parallelism(2)
            .state_dir(dir.path())
            .from_source("a_src", Arc::new(counting.clone()))
            .sink_to("a", a)
            .from_source("b_src", Arc::new(counting.clone()))
            .sink_to("b", b)
            .execute_with(Arc::new(JobMetrics::default()), rx)
    };
    let s = run(Arc::new(sink("id BIGINT")), Arc::new(sink("id BIGINT")))
        .await
        .unwrap();
    assert_eq!(
        (s.outcome.clone(), s.checkpoints),
        (JobOutcome::Finished, 1),
        "{s:?}"
    );

    let a = sink("id BIGINT");
    let b = Losing {
        inner: sink("id BIGINT"),
        lost: 1,
        recovered: Arc::default(),
    };
    let s = run(Arc::new(a.clone()), Arc::new(b.clone())).await.unwrap();
    assert_eq!(s.outcome, JobOutcome::Finished, "{s:?}");
    assert_eq!(*b.recovered.lock().unwrap(), vec![1]);
    assert!(
        a.committed.lock().unwrap().is_empty() && a.staged.lock().unwrap().is_empty(),
        "a had finished in the checkpoint it restores from: it must not write again"
    );
    assert_eq!(
        b.inner.committed.lock().unwrap().len(),
        200,
        "b's lost transaction is written again, from the start"
    );

    let s = run(Arc::new(sink("id BIGINT")), Arc::new(sink("id BIGINT")))
        .await
        .unwrap();
    assert_eq!(s.outcome, JobOutcome::AlreadyFinished, "{s:?}");
}

/// A sink claiming an exclusive option value (like a Kafka transactional-id prefix).
#[derive(Clone)]
struct Claiming(Collect, &'static str);

impl DynamicSink for Claiming {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        self.0.consumed_schema()
    }
    fn exclusive_options(&self) -> Vec<(String, String)> {
        vec![("sink.transactional-id-prefix".into(), self.1.into())]
    }
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        self.0.create_writer(ctx)
    }
}

#[tokio::test]
async fn two_sinks_claiming_one_option_value_are_refused() {
    let counting = Counting {
        count: 10,
        unbounded: false,
        fail_at: None,
        panic_at: None,
    };
    let job = |second: &'static str| {
        Job::new()
            .from_source("s1", Arc::new(counting.clone()))
            .sink_to("one", Arc::new(Claiming(sink("id BIGINT"), "p1")))
            .from_source("s2", Arc::new(counting.clone()))
            .sink_to("two", Arc::new(Claiming(sink("id BIGINT"), second)))
            .execute()
    };
    let err = job("p1").await.unwrap_err().to_string();
    assert!(
        err.contains("'sink.transactional-id-prefix' = 'p1'")
            && err.contains("'one'")
            && err.contains("'two'"),
        "{err}"
    );
    let s = job("p2").await.unwrap();
    assert_eq!(s.outcome, JobOutcome::Finished);
}
