//! The bad-record policy on Kafka against a real broker from the test kit: poison records in a
//! topic go, with their raw bytes and topic/partition/offset, to a dead-letter table that is
//! itself an exactly-once Kafka topic, read back by Kafka's own console consumer
//! (`read_committed`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use headrace_integration_tests::kafka::{self, Kafka};
use headrace_runtime::harness::run_sql;
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_connector(headrace_connector_kafka::upsert_factory());
    r.register_connector(Arc::new(headrace_runtime::testing::CommitFilesFactory));
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_raw::factory());
    r
}

fn run(sql: &str) -> Result<headrace_runtime::exec::JobSummary, String> {
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
        .map_err(|e| e.to_string())
}

/// Produce `values` (raw bytes) to one partition with librdkafka.
fn produce_bytes(bootstrap: &str, topic: &str, partition: i32, values: &[&[u8]]) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for v in values {
        p.send(
            BaseRecord::<(), [u8]>::to(topic)
                .partition(partition)
                .payload(*v),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_file() {
                let text = std::fs::read_to_string(e.path()).unwrap();
                lines.extend(text.lines().map(String::from));
            }
        }
    }
    lines.sort();
    lines
}

fn poison_records_go_to_a_dead_letter_topic(k: &Kafka, dir: &Path) {
    k.create_topic("dl-in", 2).unwrap();
    k.create_topic("dl-out", 1).unwrap();
    let bs = k.bootstrap_servers().to_string();
    // partition 0: offset 1 is not JSON; partition 1: offset 1 is not even UTF-8, offset 2 has
    // a string where a number belongs
    produce_bytes(
        &bs,
        "dl-in",
        0,
        &[b"{\"id\":1}", b"not json", b"{\"id\":3}"],
    );
    let binary: &[u8] = &[0xff, 0x00, 0xfe, b'{'];
    produce_bytes(
        &bs,
        "dl-in",
        1,
        &[
            b"{\"id\":10}",
            binary,
            b"{\"id\":\"eleven\"}",
            b"{\"id\":13}",
        ],
    );
    let sql = format!(
        "SET 'parallelism.default' = '2';
         CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'dl-in',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'json',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dead');
         CREATE TABLE good (id BIGINT) WITH ('connector' = 'commit-files', 'path' = '{}');
         CREATE TABLE dead (raw BYTES, origin STRING, error STRING, connector STRING,
                            format STRING, stage STRING, event_time TIMESTAMP_LTZ(3))
            WITH ('connector' = 'kafka', 'topic' = 'dl-out',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'json',
            'sink.delivery-guarantee' = 'exactly-once',
            'sink.transactional-id-prefix' = 'dead-letters-test');
         INSERT INTO good SELECT * FROM src;",
        dir.join("good").display()
    );
    let s = run(&sql).unwrap();
    assert_eq!(s.dead_lettered.iter().sum::<u64>(), 3, "{s:?}");
    let good = committed_lines(&dir.join("good"));
    assert_eq!(good.len(), 4, "{good:?}");

    let letters = k.consume("dl-out", 100, Duration::from_secs(15)).unwrap();
    let mut by_origin: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for l in &letters {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        by_origin.insert(v["origin"].as_str().unwrap().to_string(), v);
    }
    assert_eq!(
        by_origin.keys().cloned().collect::<Vec<_>>(),
        vec![
            "topic 'dl-in' partition 0 offset 1".to_string(),
            "topic 'dl-in' partition 1 offset 1".to_string(),
            "topic 'dl-in' partition 1 offset 2".to_string(),
        ],
        "exactly the poison records, once each: {letters:?}"
    );
    let raw = |origin: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(by_origin[origin]["raw"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(raw("topic 'dl-in' partition 0 offset 1"), b"not json");
    assert_eq!(raw("topic 'dl-in' partition 1 offset 1"), binary);
    assert_eq!(
        raw("topic 'dl-in' partition 1 offset 2"),
        b"{\"id\":\"eleven\"}"
    );
    for (origin, v) in &by_origin {
        let e = v["error"].as_str().unwrap();
        assert!(e.starts_with("json: cannot process record from"), "{e}");
        assert!(e.contains(origin.as_str()), "{e}");
        assert_eq!(v["connector"], "kafka");
        assert_eq!(v["format"], "json");
        assert_eq!(v["stage"], "decode");
    }
    assert!(
        by_origin["topic 'dl-in' partition 1 offset 2"]["error"]
            .as_str()
            .unwrap()
            .contains("'id'"),
        "the error names the field: {by_origin:?}"
    );

    // The skip policy on the same topic: counted, nothing written anywhere.
    let sql = format!(
        "CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'dl-in',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'json',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'headrace.bad-records.policy' = 'skip');
         CREATE TABLE good (id BIGINT) WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO good SELECT * FROM src;",
        dir.join("good2").display()
    );
    let s = run(&sql).unwrap();
    assert_eq!(s.skipped.iter().sum::<u64>(), 3, "{s:?}");
    assert_eq!(committed_lines(&dir.join("good2")).len(), 4);

    // fail: the error names the record and the option.
    let e = run(&sql.replace("'skip'", "'fail'")).unwrap_err();
    assert!(
        e.contains("topic 'dl-in' partition") && e.contains("headrace.bad-records.policy"),
        "{e}"
    );
}

/// Sink side: rows the Kafka sink's value format cannot encode (characters outside US-ASCII for
/// `raw`) become dead letters; the others reach the topic.
fn rows_the_sink_cannot_encode(k: &Kafka, dir: &Path) {
    k.create_topic("names-in", 1).unwrap();
    k.create_topic("names-out", 1).unwrap();
    let bs = k.bootstrap_servers().to_string();
    produce_bytes(
        &bs,
        "names-in",
        0,
        &[
            "{\"name\":\"abc\"}".as_bytes(),
            "{\"name\":\"caf\u{e9}\"}".as_bytes(),
            "{\"name\":\"xyz\"}".as_bytes(),
        ],
    );
    let sql = format!(
        "CREATE TABLE src (name STRING) WITH ('connector' = 'kafka', 'topic' = 'names-in',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'json',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
         CREATE TABLE out (name STRING) WITH ('connector' = 'kafka', 'topic' = 'names-out',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'raw', 'raw.charset' = 'US-ASCII',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dead');
         CREATE TABLE dead (raw STRING, stage STRING, source_table STRING, format STRING)
            WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO out SELECT * FROM src;",
        dir.join("dead-enc").display()
    );
    let s = run(&sql).unwrap();
    assert_eq!(s.dead_lettered.iter().sum::<u64>(), 1, "{s:?}");
    let mut out = k.consume("names-out", 10, Duration::from_secs(10)).unwrap();
    out.sort();
    assert_eq!(out, vec!["abc", "xyz"]);
    let dead = committed_lines(&dir.join("dead-enc"));
    assert_eq!(
        dead,
        vec!["+I[{\"name\":\"caf\u{e9}\"}, encode, out, raw]".to_string()],
        "{dead:?}"
    );
}

/// Sink side, key format: a row whose key the key format refuses becomes a dead letter and no
/// record (not a record without its key); the other rows are written with their keys.
fn keys_the_sink_cannot_encode(k: &Kafka, dir: &Path) {
    k.create_topic("names-keyed", 1).unwrap();
    let bs = k.bootstrap_servers().to_string();
    let sql = format!(
        "CREATE TABLE src (name STRING) WITH ('connector' = 'kafka', 'topic' = 'names-in',
            'properties.bootstrap.servers' = '{bs}', 'format' = 'json',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
         CREATE TABLE out (name STRING) WITH ('connector' = 'kafka', 'topic' = 'names-keyed',
            'properties.bootstrap.servers' = '{bs}', 'key.format' = 'raw',
            'key.raw.charset' = 'US-ASCII', 'key.fields' = 'name', 'value.format' = 'json',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dead');
         CREATE TABLE dead (raw STRING, stage STRING, format STRING, origin STRING)
            WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO out SELECT * FROM src;",
        dir.join("dead-key").display()
    );
    let s = run(&sql).unwrap();
    assert_eq!(s.dead_lettered.iter().sum::<u64>(), 1, "{s:?}");
    let java = k
        .tool(
            "kafka-console-consumer.sh",
            &[
                "--bootstrap-server",
                kafka::INTERNAL_BOOTSTRAP,
                "--topic",
                "names-keyed",
                "--from-beginning",
                "--max-messages",
                "2",
                "--timeout-ms",
                "15000",
                "--formatter-property",
                "print.key=true",
            ],
        )
        .unwrap()
        .stdout;
    let mut lines: Vec<&str> = java.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        vec!["abc\t{\"name\":\"abc\"}", "xyz\t{\"name\":\"xyz\"}"],
        "{java}"
    );
    let dead = committed_lines(&dir.join("dead-key"));
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].starts_with("+I[{\"name\":\"caf\u{e9}\"}, encode, raw, row "),
        "{dead:?}"
    );

    // fail: the key's error names the row, the format and the policy option.
    let e = run(&sql.replace("'dead-letter'", "'fail'").replace(
        ",\n            'headrace.bad-records.dead-letter-table' = 'dead'",
        "",
    ))
    .unwrap_err();
    assert!(
        e.contains("raw") && e.contains("headrace.bad-records.policy"),
        "{e}"
    );
}

/// upsert-kafka source: a message whose value or key does not decode is a dead letter and
/// changes nothing: the value it would have replaced stays the key's latest, so a repeat of
/// that value adds no rows and the next change retracts it.
fn upsert_records_that_do_not_decode(k: &Kafka, dir: &Path) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    k.create_topic("ups-in", 1).unwrap();
    let bs = k.bootstrap_servers().to_string();
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .create()
        .unwrap();
    for (key, value) in [
        ("{\"id\":1}", Some("{\"id\":1,\"v\":\"a\"}")),
        ("{\"id\":1}", Some("not json")),
        ("not a key", Some("{\"id\":2,\"v\":\"b\"}")),
        ("{\"id\":1}", Some("{\"id\":1,\"v\":\"a\"}")),
        ("{\"id\":1}", Some("{\"id\":1,\"v\":\"c\"}")),
        ("{\"id\":1}", None),
    ] {
        let mut r = BaseRecord::<str, str>::to("ups-in").partition(0).key(key);
        if let Some(v) = value {
            r = r.payload(v);
        }
        p.send(r).map_err(|(e, _)| e).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let out = dir.join("ups-out");
    let sql = format!(
        "SET 'execution.checkpointing.interval' = '200 ms';
         CREATE TABLE u (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
            'connector' = 'upsert-kafka', 'topic' = 'ups-in', 'properties.bootstrap.servers' = '{bs}',
            'key.format' = 'json', 'value.format' = 'json',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dead');
         CREATE TABLE sink (id BIGINT, v STRING) WITH ('connector' = 'commit-files', 'path' = '{}');
         CREATE TABLE dead (raw STRING, origin STRING, format STRING)
            WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO sink SELECT * FROM u;",
        out.display(),
        dir.join("ups-dead").display()
    );
    let s = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_sql(
            &sql,
            &registry(),
            None,
            Some(Box::new(|read| read >= 4)),
            Duration::from_secs(120),
        ))
        .unwrap();
    let mut expect = vec!["+I[1, a]", "-U[1, a]", "+U[1, c]", "-D[1, c]"];
    expect.sort_unstable();
    assert_eq!(committed_lines(&out), expect);
    assert_eq!(s.dead_lettered.iter().sum::<u64>(), 2, "{s:?}");
    assert_eq!(
        committed_lines(&dir.join("ups-dead")),
        vec![
            "+I[not a key, topic 'ups-in' partition 0 offset 2, json]".to_string(),
            "+I[not json, topic 'ups-in' partition 0 offset 1, json]".to_string(),
        ]
    );
}

#[test]
fn dead_letters_on_a_real_broker() {
    let k = kafka::start().expect("Kafka must start (see integration-tests/containers)");
    let dir = tempfile::tempdir().unwrap();
    poison_records_go_to_a_dead_letter_topic(&k, dir.path());
    rows_the_sink_cannot_encode(&k, dir.path());
    keys_the_sink_cannot_encode(&k, dir.path());
    upsert_records_that_do_not_decode(&k, dir.path());
}
