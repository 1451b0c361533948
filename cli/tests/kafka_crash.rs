//! Exactly-once Kafka sinks through the `headrace` binary, killed with SIGKILL at several points
//! and restarted, against a real broker; the output is read by Kafka's own Java console consumer
//! with `isolation.level=read_committed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use headrace_integration_tests::kafka::{self, Kafka};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headrace"))
}

fn write_job(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sql).unwrap();
    p
}

/// Run a job to the end (no kill), failing the test with its stderr otherwise.
fn run_to_end(job: &Path, state: Option<&Path>) {
    let mut cmd = Command::new(bin());
    cmd.args(["run", job.to_str().unwrap(), "--quiet"]);
    if let Some(s) = state {
        cmd.args(["--state-dir", s.to_str().unwrap()]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{} failed: {}",
        job.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Kill the job at each delay (if still running), then run it to the end; returns the kills.
fn kill_and_restart(job: &Path, state: &Path, delays_ms: &[u64]) -> usize {
    let mut kills = 0;
    for delay in delays_ms {
        let mut child = Command::new(bin())
            .args([
                "run",
                job.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
                "--quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
    }
    run_to_end(job, Some(state));
    kills
}

/// Ids (the `id` field of the JSON values) read with read_committed, counted.
fn committed_ids(k: &Kafka, topic: &str, expect: usize) -> BTreeMap<i64, usize> {
    let values = k
        .consume(topic, expect + 100, Duration::from_secs(15))
        .unwrap();
    let mut counts = BTreeMap::new();
    for v in values {
        let j: serde_json::Value = serde_json::from_str(&v).unwrap();
        *counts.entry(j["id"].as_i64().unwrap()).or_default() += 1;
    }
    counts
}

fn assert_exactly_once(counts: &BTreeMap<i64, usize>, n: i64, what: &str) {
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(dups.is_empty(), "{what}: duplicated ids {dups:?}");
    assert_eq!(counts.len() as i64, n, "{what}: missing ids");
    assert_eq!(counts.keys().next(), Some(&1), "{what}");
    assert_eq!(counts.keys().last(), Some(&n), "{what}");
}

#[test]
fn kafka_exactly_once_sinks_survive_sigkill() {
    const N: i64 = 30_000;
    let k = kafka::start().expect("Kafka must start (see integration-tests/containers)");
    let d = tempfile::tempdir().unwrap();
    let bs = k.bootstrap_servers().to_string();
    k.create_topic("eo-gen", 2).unwrap();
    k.create_topic("eo-in", 3).unwrap();
    k.create_topic("eo-out", 2).unwrap();

    // 1. datagen -> Kafka (exactly-once), throttled so the kills land mid-job.
    let job = write_job(
        d.path(),
        "gen.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '300 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '500';
             CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'datagen', 'rows-per-second' = '10000',
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{N}',
                'fields.payload.length' = '8');
             CREATE TABLE snk (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = 'eo-gen', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
                'sink.transactional-id-prefix' = 'gen-job');
             INSERT INTO snk SELECT * FROM src;"
        ),
    );
    let kills = kill_and_restart(&job, &d.path().join("state-gen"), &[900, 1400, 600, 1100]);
    assert!(
        kills >= 3,
        "the job ended before it could be killed; slow it down"
    );
    assert_exactly_once(
        &committed_ids(&k, "eo-gen", N as usize),
        N,
        "datagen -> kafka",
    );

    // 2. Kafka -> Kafka (exactly-once): input written at-least-once first.
    let fill = write_job(
        d.path(),
        "fill.sql",
        &format!(
            "CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'datagen', 'number-of-rows' = '{N}',
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{N}',
                'fields.payload.length' = '8');
             CREATE TABLE snk (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = 'eo-in', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json');
             INSERT INTO snk SELECT * FROM src;"
        ),
    );
    run_to_end(&fill, None);
    let pass = write_job(
        d.path(),
        "pass.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'headrace.batch-size' = '200';
             CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = 'eo-in', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'latest-offset');
             CREATE TABLE snk (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = 'eo-out', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
                'sink.transactional-id-prefix' = 'pass-job');
             INSERT INTO snk SELECT * FROM src WHERE id > 0;"
        ),
    );
    let kills = kill_and_restart(&pass, &d.path().join("state-pass"), &[700, 500, 900]);
    assert_exactly_once(
        &committed_ids(&k, "eo-out", N as usize),
        N,
        "kafka -> kafka",
    );
    eprintln!("kafka -> kafka: {kills} kill(s) landed");

    // 3. Kafka -> filesystem (exactly-once part files), partitioned by id parity.
    let files = d.path().join("files");
    let to_files = write_job(
        d.path(),
        "files.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'headrace.batch-size' = '200';
             CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = 'eo-in', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'latest-offset');
             CREATE TABLE snk (id BIGINT, payload STRING, parity INT) PARTITIONED BY (parity) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             INSERT INTO snk SELECT id, payload, CAST(MOD(id, 2) AS INT) FROM src;",
            files.display()
        ),
    );
    kill_and_restart(&to_files, &d.path().join("state-files"), &[700, 500, 900]);
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for part in ["parity=0", "parity=1"] {
        for e in std::fs::read_dir(files.join(part)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with('_') {
                continue; // hidden in-progress files and markers are not output
            }
            for line in std::fs::read_to_string(e.path()).unwrap().lines() {
                let j: serde_json::Value = serde_json::from_str(line).unwrap();
                *counts.entry(j["id"].as_i64().unwrap()).or_default() += 1;
            }
        }
    }
    assert_exactly_once(&counts, N, "kafka -> filesystem");
}

/// A crash exactly between writing checkpoint N and committing its transaction (the transaction is
/// lost: the runner falls back to N - 1), and right after the commit (the marker says committed).
#[test]
fn kafka_exactly_once_crash_in_the_commit_window() {
    const N: i64 = 6_000;
    let k = kafka::start().expect("Kafka must start (see integration-tests/containers)");
    let d = tempfile::tempdir().unwrap();
    let bs = k.bootstrap_servers().to_string();
    for (i, point) in ["after-checkpoint-file", "after-commit"].iter().enumerate() {
        let topic = format!("window-{i}");
        k.create_topic(&topic, 2).unwrap();
        let job = write_job(
            d.path(),
            &format!("{topic}.sql"),
            &format!(
                "SET 'execution.checkpointing.interval' = '200 ms';
                 CREATE TABLE src (id BIGINT) WITH (
                    'connector' = 'datagen', 'rows-per-second' = '2000',
                    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{N}');
                 CREATE TABLE snk (id BIGINT) WITH (
                    'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bs}',
                    'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
                    'sink.transactional-id-prefix' = 'window-{i}');
                 INSERT INTO snk SELECT * FROM src;"
            ),
        );
        let state = d.path().join(format!("state-{i}"));
        let o = Command::new(bin())
            .args([
                "run",
                job.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
                "--quiet",
            ])
            .env("HEADRACE_FAULT", format!("{point}:3"))
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "{point}: the fault must crash the job: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("HEADRACE_FAULT: aborting"),
            "{point}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(bin())
            .args([
                "run",
                job.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{point}: restart failed: {err}");
        let fell_back = err.contains("were lost in the crash");
        assert_eq!(
            fell_back,
            *point == "after-checkpoint-file",
            "{point}: fallback to the previous checkpoint iff the transaction was lost: {err}"
        );
        assert_exactly_once(&committed_ids(&k, &topic, N as usize), N, point);
    }
}

/// Run a job with `HEADRACE_FAULT=<fault>`, which must crash it there; returns its log (warnings).
fn crash_at(job: &Path, state: &Path, fault: &str) -> String {
    let o = Command::new(bin())
        .args([
            "run",
            job.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .env("HEADRACE_FAULT", fault)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !o.status.success() && err.contains("HEADRACE_FAULT: aborting"),
        "{fault}: the fault must crash the job: {err}"
    );
    err
}

/// Restart a crashed job and return the warnings it logs; once it has logged `kill_after` (its
/// recovery is done), it is killed with SIGKILL `delay_ms` later if it still runs.
fn restart_with_warnings(job: &Path, state: &Path, kill_after: &str, delay_ms: u64) -> String {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args([
            "run",
            job.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    let mut kill_at = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                if kill_at.is_none() && line.contains(kill_after) {
                    kill_at = Some(std::time::Instant::now() + Duration::from_millis(delay_ms));
                }
                log.push_str(&line);
                log.push('\n');
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = std::time::Instant::now();
        if kill_at.is_some_and(|t| now >= t) || now >= deadline {
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
            }
            kill_at = None;
        }
    }
    let _ = child.wait();
    reader.join().unwrap();
    log
}

fn count_file_ids(dir: &Path) -> BTreeMap<i64, usize> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') || e.path().is_dir() {
            continue; // hidden in-progress files and markers are not output
        }
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            let j: serde_json::Value = serde_json::from_str(line).unwrap();
            *counts.entry(j["id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    counts
}

/// Two exactly-once Kafka sinks in one job (two INSERTs, own prefixes), and a filesystem sink
/// with an exactly-once Kafka sink: crashed between the commits of one checkpoint and before the
/// commits (only the INSERT whose transaction was lost falls back), then killed with SIGKILL at
/// several points. Every record reaches each output once. Two sinks with one prefix
/// are refused when the job is planned.
#[test]
fn several_exactly_once_sinks_in_one_job_survive_crashes() {
    const N: i64 = 6_000;
    let k = kafka::start().expect("Kafka must start (see integration-tests/containers)");
    let d = tempfile::tempdir().unwrap();
    let bs = k.bootstrap_servers().to_string();
    let src = format!(
        "CREATE TABLE src (id BIGINT) WITH (
            'connector' = 'datagen', 'rows-per-second' = '2000',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{N}');"
    );
    let kafka_sink = |table: &str, topic: &str, prefix: &str| {
        format!(
            "CREATE TABLE {table} (id BIGINT) WITH (
                'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
                'sink.transactional-id-prefix' = '{prefix}');"
        )
    };

    // 1. Two Kafka sinks.
    k.create_topic("two-a", 2).unwrap();
    k.create_topic("two-b", 3).unwrap();
    let job = write_job(
        d.path(),
        "two.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'parallelism.default' = '2';
             {src}
             {}
             {}
             INSERT INTO a SELECT * FROM src;
             INSERT INTO b SELECT * FROM src;",
            kafka_sink("a", "two-a", "two-a"),
            kafka_sink("b", "two-b", "two-b")
        ),
    );
    let state = d.path().join("state-two");
    crash_at(&job, &state, "between-commits:3");
    let warnings = restart_with_warnings(&job, &state, "were lost in the crash", 500);
    assert!(
        warnings.contains("transactions of sink 'b' were lost in the crash"),
        "the second sink's transaction of checkpoint 3 is lost and only it falls back: {warnings}"
    );
    assert!(
        !warnings.contains("sink 'a' were lost"),
        "the first sink committed checkpoint 3: {warnings}"
    );
    kill_and_restart(&job, &state, &[700, 1100]);
    for topic in ["two-a", "two-b"] {
        assert_exactly_once(
            &committed_ids(&k, topic, N as usize),
            N,
            &format!("two kafka sinks: {topic}"),
        );
    }

    // 2. A filesystem sink beside a Kafka sink. Crashed between their commits of checkpoint 3:
    // the Kafka sink (whose commits can be lost) commits first, so recovery only completes the
    // filesystem's commit and nothing falls back. Then crashed after writing checkpoint 5, before
    // any commit: the Kafka transaction is lost and only the Kafka INSERT falls back; the
    // filesystem INSERT must not be replayed from the older checkpoint.
    k.create_topic("mixed-k", 2).unwrap();
    let files = d.path().join("mixed-files");
    let job = write_job(
        d.path(),
        "mixed.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             {src}
             CREATE TABLE f (id BIGINT) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             {}
             INSERT INTO f SELECT * FROM src;
             INSERT INTO k SELECT * FROM src;",
            files.display(),
            kafka_sink("k", "mixed-k", "mixed-k")
        ),
    );
    let state = d.path().join("state-mixed");
    crash_at(&job, &state, "between-commits:3");
    let warnings = crash_at(&job, &state, "after-checkpoint-file:5");
    assert!(
        !warnings.contains("were lost in the crash"),
        "the Kafka sink committed checkpoint 3 before the crash: {warnings}"
    );
    let warnings = restart_with_warnings(&job, &state, "were lost in the crash", 400);
    assert!(
        warnings.contains("transactions of sink 'k' were lost in the crash"),
        "{warnings}"
    );
    kill_and_restart(&job, &state, &[600, 1000]);
    assert_exactly_once(&count_file_ids(&files), N, "filesystem sink beside kafka");
    assert_exactly_once(
        &committed_ids(&k, "mixed-k", N as usize),
        N,
        "kafka sink beside filesystem",
    );

    // 3. One prefix for two sinks: refused when planned, naming the option.
    let job = write_job(
        d.path(),
        "same-prefix.sql",
        &format!(
            "{src}
             {}
             {}
             INSERT INTO a SELECT * FROM src;
             INSERT INTO b SELECT * FROM src;",
            kafka_sink("a", "two-a", "shared"),
            kafka_sink("b", "two-b", "shared")
        ),
    );
    let o = Command::new(bin())
        .args(["run", job.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "two sinks with one prefix must be refused"
    );
    assert!(
        err.contains("'sink.transactional-id-prefix' = 'shared'")
            && err.contains("'a'")
            && err.contains("'b'"),
        "the error names the option, its value and both sinks: {err}"
    );
}
