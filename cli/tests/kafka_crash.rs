//! Exactly-once Kafka sinks through the `headrace` binary, killed with SIGKILL at several points
//! and restarted, against a real broker; the output is read by Kafka's own Java console consumer
//! with `isolation.level=read_committed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    assert_exactly_once, committed_lines, counted, crash_at, run_to_end, sigkill_runs, write_job,
    Running,
};
use headrace_integration_tests::kafka::{self, Kafka};

/// How long a job that is not killed may take to finish.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Kill the job at each delay (if still running), then run it to the end; returns the kills.
fn kill_and_restart(job: &Path, state: &Path, delays_ms: &[u64]) -> usize {
    let kills = sigkill_runs(job, state, delays_ms, |_| {});
    run_to_end(job, Some(state), RUN_LIMIT);
    kills
}

/// The `id` fields of JSON lines, counted.
fn json_ids(lines: impl IntoIterator<Item = String>) -> BTreeMap<i64, usize> {
    counted(lines.into_iter().map(|l| {
        let j: serde_json::Value = serde_json::from_str(&l).unwrap();
        j["id"].as_i64().unwrap()
    }))
}

/// Asserts that a read_committed reader of `topic` sees each of the ids 1 to `n` (the `id` field
/// of the JSON values) once and nothing else.
fn assert_topic_exactly_once(k: &Kafka, topic: &str, n: i64, what: &str) {
    let values = k
        .consume(topic, n as usize + 100, Duration::from_secs(15))
        .unwrap();
    assert_exactly_once(&json_ids(values), 1..=n, what);
}

/// DDL of table `src`: ids 1 to `n` in sequence (column `id BIGINT`, with `payload` also a
/// `payload STRING` of 8 characters) from datagen; `limit` is its rate or row count option.
fn datagen_ids(n: i64, payload: bool, limit: &str) -> String {
    let (columns, payload_option) = if payload {
        (
            "id BIGINT, payload STRING",
            ",\n                'fields.payload.length' = '8'",
        )
    } else {
        ("id BIGINT", "")
    };
    format!(
        "CREATE TABLE src ({columns}) WITH (
                'connector' = 'datagen', {limit},
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{n}'{payload_option});"
    )
}

/// DDL of a table writing JSON to `topic`; `more` adds options (e.g. the delivery guarantee).
fn kafka_sink(table: &str, columns: &str, bs: &str, topic: &str, more: &str) -> String {
    format!(
        "CREATE TABLE {table} ({columns}) WITH (
                'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json'{more});"
    )
}

/// DDL of a table writing JSON to `topic` exactly once, with transactional id prefix `prefix`.
fn exactly_once_sink(table: &str, columns: &str, bs: &str, topic: &str, prefix: &str) -> String {
    kafka_sink(
        table,
        columns,
        bs,
        topic,
        &format!(
            ", 'sink.delivery-guarantee' = 'exactly-once',
                'sink.transactional-id-prefix' = '{prefix}'"
        ),
    )
}

/// DDL of table `src` (`id BIGINT, payload STRING`) reading the JSON records of `topic` from its
/// start to where it ends when the job starts.
fn bounded_kafka_source(bs: &str, topic: &str) -> String {
    format!(
        "CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bs}',
                'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'latest-offset');"
    )
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
    let columns = "id BIGINT, payload STRING";

    // 1. datagen -> Kafka (exactly-once), throttled so the kills land mid-job.
    let job = write_job(
        d.path(),
        "gen.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '300 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '500';
             {}
             {}
             INSERT INTO snk SELECT * FROM src;",
            datagen_ids(N, true, "'rows-per-second' = '10000'"),
            exactly_once_sink("snk", columns, &bs, "eo-gen", "gen-job")
        ),
    );
    let kills = kill_and_restart(&job, &d.path().join("state-gen"), &[900, 1400, 600, 1100]);
    assert!(
        kills >= 3,
        "the job ended before it could be killed; slow it down"
    );
    assert_topic_exactly_once(&k, "eo-gen", N, "datagen -> kafka");

    // 2. Kafka -> Kafka (exactly-once): input written at-least-once first.
    let fill = write_job(
        d.path(),
        "fill.sql",
        &format!(
            "{}
             {}
             INSERT INTO snk SELECT * FROM src;",
            datagen_ids(N, true, &format!("'number-of-rows' = '{N}'")),
            kafka_sink("snk", columns, &bs, "eo-in", "")
        ),
    );
    run_to_end(&fill, None, RUN_LIMIT);
    let pass = write_job(
        d.path(),
        "pass.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'headrace.batch-size' = '200';
             {}
             {}
             INSERT INTO snk SELECT * FROM src WHERE id > 0;",
            bounded_kafka_source(&bs, "eo-in"),
            exactly_once_sink("snk", columns, &bs, "eo-out", "pass-job")
        ),
    );
    let kills = kill_and_restart(&pass, &d.path().join("state-pass"), &[700, 500, 900]);
    assert_topic_exactly_once(&k, "eo-out", N, "kafka -> kafka");
    eprintln!("kafka -> kafka: {kills} kill(s) landed");

    // 3. Kafka -> filesystem (exactly-once part files), partitioned by id parity.
    let files = d.path().join("files");
    let to_files = write_job(
        d.path(),
        "files.sql",
        &format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'headrace.batch-size' = '200';
             {}
             CREATE TABLE snk (id BIGINT, payload STRING, parity INT) PARTITIONED BY (parity) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             INSERT INTO snk SELECT id, payload, CAST(MOD(id, 2) AS INT) FROM src;",
            bounded_kafka_source(&bs, "eo-in"),
            files.display()
        ),
    );
    kill_and_restart(&to_files, &d.path().join("state-files"), &[700, 500, 900]);
    // hidden in-progress files and markers are not output
    let lines = ["parity=0", "parity=1"]
        .iter()
        .flat_map(|part| committed_lines(&files.join(part)));
    assert_exactly_once(&json_ids(lines), 1..=N, "kafka -> filesystem");
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
                 {}
                 {}
                 INSERT INTO snk SELECT * FROM src;",
                datagen_ids(N, false, "'rows-per-second' = '2000'"),
                exactly_once_sink("snk", "id BIGINT", &bs, &topic, &format!("window-{i}"))
            ),
        );
        let state = d.path().join(format!("state-{i}"));
        crash_at(&job, &state, &format!("{point}:3"));
        let err = run_to_end(&job, Some(&state), RUN_LIMIT);
        let fell_back = err.contains("were lost in the crash");
        assert_eq!(
            fell_back,
            *point == "after-checkpoint-file",
            "{point}: fallback to the previous checkpoint iff the transaction was lost: {err}"
        );
        assert_topic_exactly_once(&k, &topic, N, point);
    }
}

/// Restart a crashed job and return the warnings it logs; once it has logged `kill_after` (its
/// recovery is done), it is killed with SIGKILL `delay_ms` later if it still runs.
fn restart_with_warnings(job: &Path, state: &Path, kill_after: &str, delay_ms: u64) -> String {
    let mut job = Running::start(&mut common::run_job(job, Some(state)));
    let mut kill_at = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while job.is_running() {
        let now = Instant::now();
        if kill_at.is_none() && job.log().contains(kill_after) {
            kill_at = Some(now + Duration::from_millis(delay_ms));
        }
        if kill_at.is_some_and(|t| now >= t) || now >= deadline {
            job.sigkill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    job.wait_within(Duration::from_secs(10)).1
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
    let src = datagen_ids(N, false, "'rows-per-second' = '2000'");
    let kafka_sink = |table: &str, topic: &str, prefix: &str| {
        exactly_once_sink(table, "id BIGINT", &bs, topic, prefix)
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
        assert_topic_exactly_once(&k, topic, N, &format!("two kafka sinks: {topic}"));
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
    assert_exactly_once(
        &json_ids(committed_lines(&files)),
        1..=N,
        "filesystem sink beside kafka",
    );
    assert_topic_exactly_once(&k, "mixed-k", N, "kafka sink beside filesystem");

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
    let o = common::output_within(&mut common::run_job(&job, None), RUN_LIMIT);
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
