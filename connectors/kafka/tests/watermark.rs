//! Watermarks per Kafka partition against a real broker: a partition without records holds the
//! watermark back (so a filesystem sink's partition-time commit waits) until
//! `scan.watermark.idle-timeout` marks it idle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headrace_integration_tests::kafka;
use headrace_runtime::harness::run_sql;
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_connector(Arc::new(headrace_connector_filesystem::FileSystemFactory));
    r.register_format(headrace_format_json::factory());
    r
}

/// Sends `{"id":..,"ts":..,"dt":..,"hr":..}` records to partition 0 only: two of hour 10, then
/// one of 11:30 every 100 ms until `stop` (partition 0 stays active, partition 1 gets nothing).
fn produce_hourly(bootstrap: String, topic: String, stop: Arc<AtomicBool>) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let send = |id: i64, ts: &str, hr: &str| {
        let v = format!(
            "{{\"id\":{id},\"ts\":\"2026-11-24 {ts}\",\"dt\":\"2026-11-24\",\"hr\":\"{hr}\"}}"
        );
        p.send(BaseRecord::<(), str>::to(&topic).partition(0).payload(&v))
            .map_err(|(e, _)| e)
            .unwrap();
    };
    send(1, "10:05:00", "10");
    send(2, "10:40:00", "10");
    let mut id = 3;
    while !stop.load(Ordering::Relaxed) {
        send(id, "11:30:00", "11");
        p.flush(Duration::from_secs(10)).unwrap();
        id += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs Kafka (2 partitions, rows in partition 0 only) -> filesystem partitioned by hour with
/// the partition-time trigger (delay 1 h), `extra` options on the source, until `stop_when`
/// holds or 60 s pass; returns the sink directory and the job's result.
fn run_job(
    k: &kafka::Kafka,
    name: &str,
    extra: &str,
    dir: &Path,
    stop_when: impl Fn(&Path, u64) -> bool + Send + 'static,
) -> (PathBuf, Result<(), String>) {
    k.create_topic(name, 2).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let (b, t, s) = (
            k.bootstrap_servers().to_string(),
            name.to_string(),
            stop.clone(),
        );
        move || produce_hourly(b, t, s)
    });
    let out = dir.join(name);
    let sql = format!(
        "SET 'execution.checkpointing.interval' = '200 ms';
         CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), dt STRING, hr STRING,
                           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
           WITH ('connector' = 'kafka', 'topic' = '{name}',
                 'properties.bootstrap.servers' = '{}', 'properties.group.id' = '{name}',
                 'format' = 'json', 'scan.startup.mode' = 'earliest-offset'{extra});
         CREATE TABLE dst (id BIGINT, dt STRING, hr STRING) PARTITIONED BY (dt, hr)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'sink.partition-commit.policy.kind' = 'success-file',
                 'sink.partition-commit.trigger' = 'partition-time',
                 'sink.partition-commit.delay' = '1 h',
                 'partition.time-extractor.timestamp-pattern' = '$dt $hr:00:00');
         INSERT INTO dst SELECT id, dt, hr FROM src;",
        k.bootstrap_servers(),
        out.display()
    );
    let out2 = out.clone();
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_sql(
            &sql,
            &registry(),
            None,
            Some(Box::new(move |read| stop_when(&out2, read))),
            Duration::from_secs(60),
        ))
        .map(drop)
        .map_err(|e| e.to_string());
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    (out, r)
}

fn success(out: &Path, hr: &str) -> bool {
    out.join(format!("dt=2026-11-24/hr={hr}/_SUCCESS")).exists()
}

/// Rows written below `out` (visible part files).
fn written(out: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() {
                stack.push(e.path());
            } else if !name.starts_with('.') && !name.starts_with('_') {
                n += std::fs::read_to_string(e.path()).unwrap().lines().count();
            }
        }
    }
    n
}

#[test]
fn an_idle_partition_holds_the_watermark_until_the_idle_timeout() {
    let k = kafka::start().expect("Kafka must start (see integration-tests/containers)");
    let dir = tempfile::tempdir().unwrap();

    // Without an idle timeout, empty partition 1 holds the watermark: hour 10 is never
    // committed while the job runs, though rows of 11:30 keep coming. Stop 4 s after the
    // first 11:30 row was read.
    let first = Mutex::new(None::<Instant>);
    let (out, r) = run_job(&k, "wm-no-idle", "", dir.path(), move |_, read| {
        let mut f = first.lock().unwrap();
        if read >= 3 && f.is_none() {
            *f = Some(Instant::now());
        }
        f.is_some_and(|t| t.elapsed() > Duration::from_secs(4))
    });
    r.unwrap();
    assert!(written(&out) >= 3, "rows were written");
    assert!(
        !success(&out, "10"),
        "partition 1 has no rows and is not idle: no watermark, no commit"
    );

    // With 'scan.watermark.idle-timeout' partition 1 goes idle after 1 s, partition 0's
    // watermark (11:29:59) passes 10:00 + 1 h, and hour 10 is committed while the job runs.
    let (out, r) = run_job(
        &k,
        "wm-idle",
        ", 'scan.watermark.idle-timeout' = '1 s'",
        dir.path(),
        |out, _| success(out, "10"),
    );
    r.expect("hour 10 committed while the job ran");
    assert!(success(&out, "10"));
    assert!(!success(&out, "11"), "11:00 + 1 h is not reached");
}
