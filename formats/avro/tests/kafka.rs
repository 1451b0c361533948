//! avro and avro-confluent through the Kafka connector against a real Kafka broker (KRaft, from
//! the test kit): a datagen job writes a topic, a bounded job reads it back. The registry for
//! avro-confluent here is the tests' fake, which counts requests (so the caches show); the same
//! path against a real registry (Apicurio's Confluent API) and confluent-kafka is in
//! `tests/registry.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use headrace_runtime::harness::run_sql;
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_connector(headrace_connector_datagen::factory());
    r.register_connector(Arc::new(headrace_runtime::testing::CommitFilesFactory));
    r.register_format(headrace_format_avro::factory());
    r.register_format(headrace_format_avro::confluent_factory());
    r
}

fn run(sql: &str) -> headrace_runtime::exec::JobSummary {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_sql(
            sql,
            &registry(),
            None,
            None,
            Duration::from_secs(180),
        ))
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
}

fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_file() {
            lines.extend(
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
    }
    lines.sort();
    lines
}

const COLS: &str = "id BIGINT, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3)";

fn round_trip(bootstrap: &str, dir: &Path, topic: &str, format_opts: &str) -> Vec<String> {
    run(&format!(
        "CREATE TABLE gen ({COLS}) WITH (
            'connector' = 'datagen', 'number-of-rows' = '500',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '500');
         CREATE TABLE out ({COLS}) WITH (
            'connector' = 'kafka', 'topic' = '{topic}',
            'properties.bootstrap.servers' = '{bootstrap}' {format_opts});
         INSERT INTO out SELECT * FROM gen;"
    ));
    let out = dir.join(topic);
    run(&format!(
        "CREATE TABLE src ({COLS}) WITH (
            'connector' = 'kafka', 'topic' = '{topic}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'
            {format_opts});
         CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO sink SELECT id, name FROM src;",
        out.display()
    ));
    committed_lines(&out)
}

#[test]
fn avro_and_avro_confluent_through_kafka() {
    let k = headrace_integration_tests::kafka::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = k.bootstrap_servers();
    k.create_topic("avro-orders", 2).unwrap();
    let plain = round_trip(bootstrap, dir.path(), "avro-orders", ", 'format' = 'avro'");
    assert_eq!(plain.len(), 500, "{:?}", &plain[..plain.len().min(3)]);

    let reg = common::registry::FakeRegistry::start();
    k.create_topic("confluent-orders", 2).unwrap();
    // No subject: the Kafka sink defaults it to '<topic>-value', as Flink's does.
    let opts = format!(
        ", 'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{}'",
        reg.url
    );
    let conf = round_trip(bootstrap, dir.path(), "confluent-orders", &opts);
    assert_eq!(conf.len(), 500);
    let ids: std::collections::BTreeSet<String> = conf
        .iter()
        .map(|l| {
            l.split_once('[')
                .unwrap()
                .1
                .split(", ")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 500, "every id once");
    let requests = reg.requests();
    assert!(
        requests
            .iter()
            .any(|r| r == "POST /subjects/confluent-orders-value/versions"),
        "{requests:?}"
    );
    assert_eq!(reg.state.lock().unwrap().schemas.len(), 1);
    // The reader fetched the writer schema by id (then cached process-wide).
    assert!(
        (1..=2).contains(
            &requests
                .iter()
                .filter(|r| *r == "GET /schemas/ids/1")
                .count()
        ),
        "{requests:?}"
    );
}
