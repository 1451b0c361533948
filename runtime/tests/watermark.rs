//! Watermarks and keyed routing: the trackers on their own (with chosen instants), and through
//! the runner with scripted in-memory sources and a recording sink.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, TimestampMillisecondArray};
use headrace_runtime::exec::{JobMetrics, JobOutcome};
use headrace_runtime::job::Job;
use headrace_runtime::shuffle::{route_rows, split_by_key};
use headrace_runtime::watermark::{CombinedWatermark, ReaderWatermarks, WatermarkEvent};
use headrace_sdk::prelude::*;
use headrace_sdk::row::rows;

const S: i64 = 1000;

// ---- the trackers ----

#[test]
fn reader_watermark_is_the_least_over_its_splits() {
    let t0 = Instant::now();
    let mut w = ReaderWatermarks::new(None, t0);
    w.add_splits(["p0", "p1"], t0);
    w.on_batch(Some("p0"), Some(10 * S), t0);
    // p1 has no rows yet: it holds the watermark back.
    assert_eq!(w.update(t0), vec![]);
    w.on_batch(Some("p1"), Some(5 * S), t0);
    assert_eq!(w.update(t0), vec![WatermarkEvent::Advance(5 * S)]);
    w.on_batch(Some("p0"), Some(30 * S), t0);
    assert_eq!(w.update(t0), vec![], "p1 still at 5 s");
    w.on_batch(Some("p1"), Some(20 * S), t0);
    assert_eq!(w.update(t0), vec![WatermarkEvent::Advance(20 * S)]);
    // A batch with a smaller value does not move a split back.
    w.on_batch(Some("p1"), Some(1), t0);
    assert_eq!(w.current(t0), (Some(20 * S), false));
    // A finished split drops out.
    w.retain_splits(&BTreeSet::from(["p0"]));
    assert_eq!(w.update(t0), vec![WatermarkEvent::Advance(30 * S)]);
}

#[test]
fn untagged_batches_make_one_watermark_and_assigned_splits_do_not_wait() {
    let t0 = Instant::now();
    let mut w = ReaderWatermarks::new(None, t0);
    w.add_splits(["file-1", "file-2"], t0);
    w.on_batch(None, Some(7 * S), t0);
    assert_eq!(w.update(t0), vec![WatermarkEvent::Advance(7 * S)]);
}

#[test]
fn idle_splits_stop_holding_the_watermark_back() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut w = ReaderWatermarks::new(Some(Duration::from_secs(1)), t0);
    w.add_splits(["p0", "p1"], t0);
    w.on_batch(Some("p0"), Some(10 * S), ms(500));
    assert_eq!(w.update(ms(900)), vec![], "p1 not idle yet");
    // p1 idle at 1 s (no rows since it was assigned); p0 active (rows at 0.5 s).
    assert_eq!(w.update(ms(1000)), vec![WatermarkEvent::Advance(10 * S)]);
    // p0 idle too: the reader is idle.
    assert_eq!(w.update(ms(1500)), vec![WatermarkEvent::Idle(true)]);
    // p1 produces rows: active again; its value is below what was sent, nothing goes back.
    w.on_batch(Some("p1"), Some(3 * S), ms(1600));
    assert_eq!(w.update(ms(1600)), vec![WatermarkEvent::Idle(false)]);
    w.on_batch(Some("p1"), Some(12 * S), ms(1700));
    assert_eq!(w.update(ms(1700)), vec![WatermarkEvent::Advance(12 * S)]);

    // Without a timeout nothing is ever idle.
    let mut never = ReaderWatermarks::new(None, t0);
    never.add_splits(["p0", "p1"], t0);
    never.on_batch(Some("p0"), Some(10 * S), t0);
    assert_eq!(never.update(t0 + Duration::from_secs(3600)), vec![]);
}

#[test]
fn a_reader_without_splits_is_idle_after_the_timeout() {
    let t0 = Instant::now();
    let mut w = ReaderWatermarks::new(Some(Duration::from_secs(1)), t0);
    assert_eq!(w.update(t0), vec![]);
    assert_eq!(
        w.update(t0 + Duration::from_secs(1)),
        vec![WatermarkEvent::Idle(true)]
    );
}

#[test]
fn writer_watermark_is_the_least_over_active_readers_and_max_at_end() {
    let mut c = CombinedWatermark::new(3);
    c.on_event(0, WatermarkEvent::Advance(10 * S));
    c.on_event(1, WatermarkEvent::Advance(4 * S));
    assert_eq!(c.advance(), None, "reader 2 has no watermark yet");
    c.on_event(2, WatermarkEvent::Advance(6 * S));
    assert_eq!(c.advance(), Some(4 * S));
    assert_eq!(c.advance(), None, "only reported when it advances");
    c.on_event(1, WatermarkEvent::Idle(true));
    assert_eq!(c.advance(), Some(6 * S), "idle reader 1 is left out");
    c.on_event(0, WatermarkEvent::Idle(true));
    c.on_event(2, WatermarkEvent::Idle(true));
    assert_eq!(c.current(), None, "all idle: no watermark");
    assert_eq!(c.advance(), None);
    c.on_event(1, WatermarkEvent::Idle(false));
    assert_eq!(c.advance(), None, "reader 1 is back at 4 s: no step back");
    c.on_end(0);
    c.on_end(1);
    c.on_end(2);
    assert_eq!(c.advance(), Some(i64::MAX));
}

// ---- keyed routing ----

fn keyed_batch(keys: &[i64]) -> ChangelogBatch {
    let schema = TableSchema::parse_columns("k BIGINT, seq BIGINT")
        .unwrap()
        .physical_arrow_schema();
    let seq: Vec<i64> = (0..keys.len() as i64).collect();
    ChangelogBatch::inserts(
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(keys.to_vec())),
                Arc::new(Int64Array::from(seq)),
            ],
        )
        .unwrap(),
    )
}

#[test]
fn equal_keys_go_to_the_same_writer_and_no_row_is_lost() {
    let keys: Vec<i64> = (0..1000).map(|i| (i * 7919) % 37).collect();
    let b = keyed_batch(&keys);
    let targets = route_rows(&b, &[0], 4).unwrap();
    let mut writer_of: BTreeMap<i64, usize> = BTreeMap::new();
    for (k, w) in keys.iter().zip(&targets) {
        assert_eq!(*writer_of.entry(*k).or_insert(*w), *w, "key {k}");
    }
    let used: BTreeSet<usize> = writer_of.values().copied().collect();
    assert!(used.len() > 1, "37 keys over 4 writers use more than one");
    // The same key routes the same way in another batch.
    let again = route_rows(&keyed_batch(&[5, 11]), &[0], 4).unwrap();
    assert_eq!(again, vec![writer_of[&5], writer_of[&11]]);

    let parts = split_by_key(&b, &[0], 4).unwrap();
    let mut total = 0;
    for (w, p) in parts.iter().enumerate() {
        let Some(p) = p else { continue };
        total += p.num_rows();
        let ks = p
            .batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let seq = p
            .batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        for i in 0..p.num_rows() {
            assert_eq!(writer_of[&ks.value(i)], w);
        }
        // order within a writer is kept
        assert!(seq.values().windows(2).all(|x| x[0] < x[1]));
    }
    assert_eq!(total, 1000);
}

// ---- through the runner ----

/// One step of a scripted reader: rows `(k, ts)` from a split (None: untagged).
#[derive(Clone, Debug)]
struct Step {
    split: Option<&'static str>,
    k: i64,
    ts_ms: i64,
}

fn step(split: &'static str, k: i64, ts_ms: i64) -> Step {
    Step {
        split: Some(split),
        k,
        ts_ms,
    }
}

/// Each reader gets the splits named in its script's `splits`, replays `steps`, then either
/// ends (bounded) or repeats its last step every 20 ms (a partition that keeps receiving rows).
#[derive(Clone)]
struct Scripted {
    readers: Vec<(Vec<&'static str>, Vec<Step>)>,
    unbounded: bool,
}

fn schema() -> SchemaRef {
    TableSchema::parse_columns("k BIGINT, ts TIMESTAMP(3)")
        .unwrap()
        .physical_arrow_schema()
}

impl DynamicSource for Scripted {
    fn boundedness(&self) -> Boundedness {
        if self.unbounded {
            Boundedness::Unbounded
        } else {
            Boundedness::Bounded
        }
    }
    fn produced_schema(&self) -> SchemaRef {
        schema()
    }
    fn parallelism(&self) -> Option<usize> {
        Some(self.readers.len())
    }
    fn create_enumerator(
        &self,
        _ctx: EnumeratorContext,
        _restored: Option<VersionedBytes>,
    ) -> Result<Box<dyn SplitEnumerator>> {
        Ok(Box::new(ScriptEnum {
            splits: self.readers.iter().map(|r| Some(r.0.clone())).collect(),
        }))
    }
    fn create_reader(&self, ctx: ReaderContext) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(ScriptReader {
            steps: self.readers[ctx.subtask].1.clone(),
            next: 0,
            splits: Vec::new(),
            assigned: false,
            no_more: false,
            unbounded: self.unbounded,
            last_split: None,
        }))
    }
}

struct ScriptEnum {
    splits: Vec<Option<Vec<&'static str>>>,
}

#[async_trait]
impl SplitEnumerator for ScriptEnum {
    async fn handle_split_request(&mut self, subtask: usize) -> Result<SplitAssignment> {
        Ok(match self.splits[subtask].take() {
            Some(ids) => SplitAssignment::Splits(
                ids.into_iter()
                    .map(|id| SourceSplit {
                        id: id.to_string(),
                        state: VersionedBytes::encode(1, "s", &0u8).unwrap(),
                    })
                    .collect(),
            ),
            None => SplitAssignment::NoMoreSplits,
        })
    }
    fn add_splits_back(&mut self, _splits: Vec<SourceSplit>) {}
    fn snapshot_state(&mut self, _id: u64) -> Result<VersionedBytes> {
        VersionedBytes::encode(1, "e", &0u8)
    }
}

struct ScriptReader {
    steps: Vec<Step>,
    next: usize,
    splits: Vec<SourceSplit>,
    assigned: bool,
    no_more: bool,
    unbounded: bool,
    last_split: Option<&'static str>,
}

fn rows_batch(k: i64, ts_ms: i64) -> ChangelogBatch {
    ChangelogBatch::inserts(
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(vec![k])),
                Arc::new(TimestampMillisecondArray::from(vec![ts_ms])),
            ],
        )
        .unwrap(),
    )
}

#[async_trait]
impl SourceReader for ScriptReader {
    fn add_splits(&mut self, splits: Vec<SourceSplit>) -> Result<()> {
        self.assigned = true;
        self.splits.extend(splits);
        Ok(())
    }
    fn no_more_splits(&mut self) {
        self.no_more = true;
    }
    async fn poll_next(&mut self) -> Result<ReadEvent> {
        if !self.assigned {
            if self.no_more {
                return Ok(ReadEvent::End);
            }
            return Ok(ReadEvent::NeedSplits);
        }
        if let Some(s) = self.steps.get(self.next) {
            self.next += 1;
            self.last_split = s.split;
            return Ok(ReadEvent::Batch(rows_batch(s.k, s.ts_ms)));
        }
        if self.unbounded {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Some(s) = self.steps.last() else {
                return Ok(ReadEvent::Idle);
            };
            self.last_split = s.split;
            return Ok(ReadEvent::Batch(rows_batch(s.k, s.ts_ms)));
        }
        Ok(ReadEvent::End)
    }
    fn snapshot_state(&mut self, _id: u64) -> Result<Vec<SourceSplit>> {
        Ok(self.splits.clone())
    }
    fn batch_split(&self) -> Option<&str> {
        self.last_split
    }
}

/// Records the watermarks and the keys each writer received.
#[derive(Clone, Default)]
struct Recording {
    watermarks: Arc<Mutex<Vec<(usize, i64)>>>,
    keys: Arc<Mutex<Vec<(usize, i64)>>>,
    subtask: usize,
    shuffle: Vec<usize>,
}

impl DynamicSink for Recording {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        schema()
    }
    fn shuffle_columns(&self) -> Vec<usize> {
        self.shuffle.clone()
    }
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        let mut w = self.clone();
        w.subtask = ctx.subtask;
        Ok(Box::new(w))
    }
}

#[async_trait]
impl SinkWriter for Recording {
    async fn write(&mut self, batch: ChangelogBatch) -> Result<()> {
        let mut k = self.keys.lock().unwrap();
        for r in rows(&batch)? {
            k.push((self.subtask, r.get_long(0).unwrap()));
        }
        Ok(())
    }
    async fn flush(&mut self, _end: bool) -> Result<()> {
        Ok(())
    }
    fn on_watermark(&mut self, watermark_ms: i64) -> Result<()> {
        self.watermarks
            .lock()
            .unwrap()
            .push((self.subtask, watermark_ms));
        Ok(())
    }
}

fn calls(r: &Recording) -> Vec<i64> {
    r.watermarks
        .lock()
        .unwrap()
        .iter()
        .map(|(_, w)| *w)
        .collect()
}

#[tokio::test]
async fn per_split_watermark_reaches_the_sink_and_end_of_input_is_max() {
    let src = Scripted {
        readers: vec![(
            vec!["a", "b"],
            vec![
                step("a", 1, 10 * S),
                step("b", 2, 5 * S),
                step("a", 3, 20 * S),
            ],
        )],
        unbounded: false,
    };
    let out = Recording::default();
    let summary = Job::new()
        .from_source("events", Arc::new(src))
        .watermark("ts - INTERVAL '1' SECOND")
        .sink_to("out", Arc::new(out.clone()))
        .execute()
        .await
        .unwrap();
    assert_eq!(summary.outcome, JobOutcome::Finished);
    // a=10 s alone gives nothing (b has no rows); then min(10, 5) - 1 s; a=20 s keeps b's 5 s.
    assert_eq!(calls(&out), vec![4 * S, i64::MAX]);
}

#[tokio::test]
async fn a_job_without_watermark_gets_only_the_end_of_input_watermark() {
    let src = Scripted {
        readers: vec![(vec!["a"], vec![step("a", 1, 10 * S)])],
        unbounded: false,
    };
    let out = Recording::default();
    Job::new()
        .from_source("events", Arc::new(src))
        .sink_to("out", Arc::new(out.clone()))
        .execute()
        .await
        .unwrap();
    assert_eq!(calls(&out), vec![i64::MAX]);
}

/// Runs an unbounded scripted job until `until` holds for the recorded watermarks or `wait`
/// passes, then waits `settle` more, stops it and returns the watermarks seen.
async fn run_until(
    src: Scripted,
    idle: Option<Duration>,
    until: impl Fn(&[i64]) -> bool,
    wait: Duration,
    settle: Duration,
) -> (Vec<i64>, Arc<JobMetrics>) {
    let out = Recording::default();
    let mut b = Job::new()
        .from_source("events", Arc::new(src))
        .watermark("ts");
    if let Some(d) = idle {
        b = b.idle_timeout(d);
    }
    let job = b.sink_to("out", Arc::new(out.clone()));
    let metrics = Arc::new(JobMetrics::default());
    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
    let m2 = metrics.clone();
    let handle = tokio::spawn(async move { job.execute_with(m2, stop_rx).await });
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !until(&calls(&out)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(settle).await;
    let seen = calls(&out);
    stop_tx.send(()).await.unwrap();
    let summary = handle.await.unwrap().unwrap();
    assert_eq!(summary.outcome, JobOutcome::Stopped);
    (seen, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_without_rows_holds_the_watermark_until_it_is_idle() {
    // Split "a" keeps receiving rows at 10 s; split "b" never has any.
    let src = || Scripted {
        readers: vec![(vec!["a", "b"], vec![step("a", 1, 10 * S)])],
        unbounded: true,
    };
    let (never, _) = run_until(
        src(),
        None,
        |_| false,
        Duration::from_millis(1500),
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        never,
        Vec::<i64>::new(),
        "without an idle timeout b holds it back"
    );

    let (idle, metrics) = run_until(
        src(),
        Some(Duration::from_millis(300)),
        |c| !c.is_empty(),
        Duration::from_secs(10),
        Duration::from_millis(100),
    )
    .await;
    assert_eq!(
        idle,
        vec![10 * S],
        "b idle after 300 ms: a's watermark passes"
    );
    let p = &metrics.pipelines.get().unwrap()[0];
    assert_eq!(p.watermark(), Some(10 * S));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_takes_the_least_watermark_of_its_readers() {
    let src = Scripted {
        readers: vec![
            (vec!["r0"], vec![step("r0", 1, 10 * S)]),
            (vec!["r1"], vec![step("r1", 2, 5 * S)]),
            (vec!["r2"], vec![step("r2", 3, 7 * S)]),
        ],
        unbounded: true,
    };
    let (seen, _) = run_until(
        src,
        None,
        |c| !c.is_empty(),
        Duration::from_secs(10),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(seen, vec![5 * S]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_shuffle_columns_route_each_key_to_one_writer() {
    // Two readers both emit keys 0..20; three writers.
    let steps = |split: &'static str| -> Vec<Step> {
        (0..60).map(|i| step(split, i % 20, i * S)).collect()
    };
    let src = Scripted {
        readers: vec![(vec!["x"], steps("x")), (vec!["y"], steps("y"))],
        unbounded: false,
    };
    let out = Recording {
        shuffle: vec![0],
        ..Default::default()
    };
    Job::new()
        .parallelism(3)
        .from_source("events", Arc::new(src))
        .sink_to("out", Arc::new(out.clone()))
        .execute()
        .await
        .unwrap();
    let got = out.keys.lock().unwrap().clone();
    assert_eq!(got.len(), 120, "no row lost");
    let mut writers_of: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    for (w, k) in got {
        writers_of.entry(k).or_default().insert(w);
    }
    assert_eq!(writers_of.len(), 20);
    for (k, ws) in &writers_of {
        assert_eq!(ws.len(), 1, "key {k} reached writers {ws:?}");
    }
    let used: BTreeSet<usize> = writers_of.values().flatten().copied().collect();
    assert!(used.len() > 1, "keys spread over writers: {used:?}");
}

// ---- through SQL: WATERMARK declarations, the idle option, PRIMARY KEY routing ----

/// `'connector' = 'scripted'`: two bounded readers emitting keys 0..20 with increasing times.
struct ScriptedFactory;

impl ConnectorFactory for ScriptedFactory {
    fn identifier(&self) -> &'static str {
        "scripted"
    }
    fn description(&self) -> &'static str {
        "test source"
    }
    fn options(&self) -> OptionSet {
        OptionSet::new()
    }
    fn supports_source(&self) -> bool {
        true
    }
    fn supports_sink(&self) -> bool {
        false
    }
    fn create_source(&self, _ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSource>> {
        let steps = |split: &'static str| -> Vec<Step> {
            (0..60).map(|i| step(split, i % 20, i * S)).collect()
        };
        Ok(Arc::new(Scripted {
            readers: vec![(vec!["x"], steps("x")), (vec!["y"], steps("y"))],
            unbounded: false,
        }))
    }
}

/// `'connector' = 'recording'`: three writers recording keys and watermarks.
struct RecordingFactory(Recording);

struct ThreeWriters(Recording);

impl DynamicSink for ThreeWriters {
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }
    fn consumed_schema(&self) -> SchemaRef {
        schema()
    }
    fn parallelism(&self) -> Option<usize> {
        Some(3)
    }
    fn create_writer(&self, ctx: WriterContext) -> Result<Box<dyn SinkWriter>> {
        self.0.create_writer(ctx)
    }
}

impl ConnectorFactory for RecordingFactory {
    fn identifier(&self) -> &'static str {
        "recording"
    }
    fn description(&self) -> &'static str {
        "test sink"
    }
    fn options(&self) -> OptionSet {
        OptionSet::new()
    }
    fn supports_source(&self) -> bool {
        false
    }
    fn supports_sink(&self) -> bool {
        true
    }
    fn create_sink(&self, _ctx: &TableContext<'_>) -> Result<Arc<dyn DynamicSink>> {
        Ok(Arc::new(ThreeWriters(self.0.clone())))
    }
}

async fn run_job_sql(sql: &str, out: &Recording) -> std::result::Result<(), String> {
    let registry = Registry::new()
        .with_connector(ScriptedFactory)
        .with_connector(RecordingFactory(out.clone()));
    headrace_runtime::harness::run_sql(sql, &registry, None, None, Duration::from_secs(60))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_primary_key_routes_rows_when_the_parallelism_changes_and_watermarks_flow() {
    let out = Recording::default();
    run_job_sql(
        "CREATE TABLE src (k BIGINT, t0 TIMESTAMP(3), ts AS t0 + INTERVAL '1' HOUR,
                           WATERMARK FOR ts AS ts - INTERVAL '0.5' SECOND)
           WITH ('connector' = 'scripted', 'scan.watermark.idle-timeout' = '10 s');
         CREATE TABLE dst (k BIGINT, ts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED)
           WITH ('connector' = 'recording');
         INSERT INTO dst SELECT k, t0 FROM src;",
        &out,
    )
    .await
    .unwrap();
    let got = out.keys.lock().unwrap().clone();
    assert_eq!(got.len(), 120, "no row lost");
    let mut writers_of: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    for (w, k) in got {
        writers_of.entry(k).or_default().insert(w);
    }
    for (k, ws) in &writers_of {
        assert_eq!(
            ws.len(),
            1,
            "key {k} reached writers {ws:?} (2 readers, 3 writers)"
        );
    }
    // Each writer's watermarks rise, stay below the computed rowtime's greatest value minus
    // 0.5 s, and end with the end of input.
    let wms = out.watermarks.lock().unwrap().clone();
    for w in 0..3 {
        let mine: Vec<i64> = wms
            .iter()
            .filter(|(s, _)| *s == w)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(mine.last(), Some(&i64::MAX), "writer {w}: {mine:?}");
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "{mine:?}");
        let max = 3600 * S + 59 * S - 500;
        assert!(mine[..mine.len() - 1]
            .iter()
            .all(|v| *v <= max && *v >= 3600 * S - 500));
    }
}

#[tokio::test]
async fn sql_idle_timeout_option_needs_a_watermark_and_a_valid_interval() {
    let out = Recording::default();
    let e = run_job_sql(
        "CREATE TABLE src (k BIGINT, ts TIMESTAMP(3))
           WITH ('connector' = 'scripted', 'scan.watermark.idle-timeout' = '1 s');
         CREATE TABLE dst (k BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'recording');
         INSERT INTO dst SELECT * FROM src;",
        &out,
    )
    .await
    .unwrap_err();
    assert!(e.contains("scan.watermark.idle-timeout"), "{e}");
    let e = run_job_sql(
        "CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
           WITH ('connector' = 'scripted', 'scan.watermark.idle-timeout' = 'soon');
         CREATE TABLE dst (k BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'recording');
         INSERT INTO dst SELECT * FROM src;",
        &out,
    )
    .await
    .unwrap_err();
    assert!(
        e.contains("scan.watermark.idle-timeout") && e.contains("soon"),
        "{e}"
    );
    let e = run_job_sql(
        "CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS k + 1)
           WITH ('connector' = 'scripted');
         CREATE TABLE dst (k BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'recording');
         INSERT INTO dst SELECT * FROM src;",
        &out,
    )
    .await
    .unwrap_err();
    assert!(e.contains("WATERMARK") && e.contains("TIMESTAMP"), "{e}");
    let e = run_job_sql(
        "SET 'table.exec.source.idle-timeout' = 'never';
         CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
           WITH ('connector' = 'scripted');
         CREATE TABLE dst (k BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'recording');
         INSERT INTO dst SELECT * FROM src;",
        &out,
    )
    .await
    .unwrap_err();
    assert!(e.contains("table.exec.source.idle-timeout"), "{e}");
}

/// `pipeline.auto-watermark-interval`: zero hands every advance to the sink; a long interval
/// hands over the first at once and coalesces the rest, and the end of input's `i64::MAX` is
/// never held back.
#[tokio::test]
async fn the_auto_watermark_interval_coalesces_watermarks() {
    let src = || Scripted {
        readers: vec![(
            vec!["a"],
            (1..=10).map(|i| step("a", i, i * S)).collect::<Vec<_>>(),
        )],
        unbounded: false,
    };
    let run = |interval: Duration| {
        let out = Recording::default();
        let job = Job::new()
            .auto_watermark_interval(interval)
            .from_source("events", Arc::new(src()))
            .watermark("ts")
            .sink_to("out", Arc::new(out.clone()));
        async move {
            let s = job.execute().await.unwrap();
            assert_eq!(s.outcome, JobOutcome::Finished);
            calls(&out)
        }
    };
    let every: Vec<i64> = (1..=10).map(|i| i * S).chain([i64::MAX]).collect();
    assert_eq!(run(Duration::ZERO).await, every);
    assert_eq!(run(Duration::from_secs(3600)).await, vec![S, i64::MAX]);
}

/// A watermark held back by a long `pipeline.auto-watermark-interval` is handed to the writer
/// before it prepares a checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_watermark_is_handed_over_before_a_checkpoint() {
    let src = Scripted {
        readers: vec![(
            vec!["a"],
            (1..=5).map(|i| step("a", i, i * S)).collect::<Vec<_>>(),
        )],
        unbounded: true,
    };
    let out = Recording::default();
    let job = Job::new()
        .auto_watermark_interval(Duration::from_secs(3600))
        .checkpoint_interval(Duration::from_millis(50))
        .from_source("events", Arc::new(src))
        .watermark("ts")
        .sink_to("out", Arc::new(out.clone()));
    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
    let handle = tokio::spawn(async move {
        job.execute_with(Arc::new(JobMetrics::default()), stop_rx)
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && calls(&out).last() != Some(&(5 * S)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = calls(&out);
    stop_tx.send(()).await.unwrap();
    handle.await.unwrap().unwrap();
    assert_eq!(seen.first(), Some(&S), "the first goes at once: {seen:?}");
    assert_eq!(
        seen.last(),
        Some(&(5 * S)),
        "the newest reaches the writer at a checkpoint: {seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}
