//! End-to-end Kafka benchmark: Headrace's Kafka source and sink against raw rdkafka loops, on the
//! same broker and topics, in one process and one run.
//!
//! ```sh
//! HEADRACE_TEST_KAFKA=127.0.0.1:9092 cargo run --release -p headrace-connector-kafka \
//!     --example kafka_bench -- --records 3000000
//! ```
//! (without `HEADRACE_TEST_KAFKA` a broker container is started from the test kit). Prints one JSON
//! line per measurement: records, seconds, records/s, CPU seconds of this process (all threads,
//! librdkafka's included) and CPU seconds per million records. `benches/kafka.py` runs it beside
//! the same jobs in Apache Flink and writes the table of BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headrace_runtime::harness::run_sql;
use headrace_sdk::registry::Registry;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn report(name: &str, records: u64, bytes: u64, wall: Duration, cpu: f64) {
    let s = wall.as_secs_f64();
    println!(
        "{{\"name\":\"{name}\",\"records\":{records},\"bytes\":{bytes},\"seconds\":{s:.3},\"records_per_s\":{:.0},\"cpu_seconds\":{cpu:.3},\"cpu_s_per_million\":{:.3}}}",
        records as f64 / s,
        cpu / (records as f64 / 1e6)
    );
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_connector(headrace_connector_datagen::factory());
    r.register_connector(headrace_connector_blackhole::factory());
    r.register_format(headrace_format_json::factory());
    r.register_format(headrace_format_raw::factory());
    r
}

fn run_job(rt: &tokio::runtime::Runtime, sql: &str) -> headrace_runtime::exec::JobSummary {
    rt.block_on(run_sql(
        sql,
        &registry(),
        None,
        None,
        Duration::from_secs(1800),
    ))
    .unwrap()
}

/// The 100-byte JSON value both producers write: id, a 44-character name, a double, an int.
fn raw_json(buf: &mut String, id: u64) {
    buf.clear();
    let name: String = (0..44)
        .map(|i| (b'a' + ((id.wrapping_mul(31).wrapping_add(i)) % 26) as u8) as char)
        .collect();
    let v = (id % 100_000) as f64 / 7.0;
    write!(
        buf,
        "{{\"id\":{id},\"name\":\"{name}\",\"v\":{v},\"n\":{}}}",
        id % 1000
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records: u64 = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().unwrap())
        .unwrap_or(3_000_000);
    let kafka = headrace_integration_tests::kafka::start().expect("a Kafka broker");
    let bs = kafka.bootstrap_servers().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let suffix = std::process::id();
    let t_raw = format!("bench-raw-{suffix}");
    let t_hr = format!("bench-hr-{suffix}");
    let t_out = format!("bench-out-{suffix}");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .create()
        .unwrap();
    let topics: Vec<NewTopic> = [&t_raw, &t_hr, &t_out]
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    rt.block_on(admin.create_topics(&topics, &AdminOptions::new()))
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));

    // 1. Raw rdkafka producer, the same settings the Headrace sink uses (at-least-once).
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("partitioner", "murmur2_random")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let mut buf = String::new();
    let mut bytes = 0u64;
    for id in 0..records {
        raw_json(&mut buf, id);
        bytes += buf.len() as u64;
        let mut rec = BaseRecord::<(), [u8]>::to(&t_raw).payload(buf.as_bytes());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(600)).unwrap();
    report(
        "raw rdkafka producer",
        records,
        bytes,
        t0.elapsed(),
        cpu_seconds() - c0,
    );
    drop(producer);

    // 2. Headrace: datagen -> kafka (json), same value shape.
    let sql = format!(
        "SET 'headrace.batch-size' = '8192';
         CREATE TABLE gen (id BIGINT, name STRING, v DOUBLE, n INT) WITH (
            'connector' = 'datagen', 'number-of-rows' = '{records}', 'rows-per-second' = '1000000000',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{records}',
            'fields.name.length' = '44', 'fields.n.min' = '0', 'fields.n.max' = '999',
            'fields.v.min' = '0', 'fields.v.max' = '15000');
         CREATE TABLE out (id BIGINT, name STRING, v DOUBLE, n INT) WITH (
            'connector' = 'kafka', 'topic' = '{t_hr}', 'properties.bootstrap.servers' = '{bs}',
            'format' = 'json');
         INSERT INTO out SELECT * FROM gen;"
    );
    let (c0, t0) = (cpu_seconds(), Instant::now());
    run_job(&rt, &sql);
    report(
        "headrace datagen -> kafka sink (json)",
        records,
        0,
        t0.elapsed(),
        cpu_seconds() - c0,
    );

    // 3. Raw rdkafka consumer loop over the topic Headrace wrote.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", format!("bench-raw-{suffix}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        // The same fetch settings the Headrace source uses.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(&t_hr, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let (mut n, mut bytes) = (0u64, 0u64);
    while n < records {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            bytes += m.payload_len() as u64;
            n += 1;
        }
    }
    report(
        "raw rdkafka consumer loop",
        n,
        bytes,
        t0.elapsed(),
        cpu_seconds() - c0,
    );
    drop(consumer);

    // 4. Headrace: kafka source -> blackhole, with the raw format (bytes, no parsing) and json.
    for (format, cols) in [
        ("raw", "payload BYTES"),
        ("json", "id BIGINT, name STRING, v DOUBLE, n INT"),
    ] {
        let sql = format!(
            "SET 'headrace.batch-size' = '8192';
             CREATE TABLE src ({cols}) WITH (
                'connector' = 'kafka', 'topic' = '{t_hr}', 'properties.bootstrap.servers' = '{bs}',
                'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
                'format' = '{format}');
             CREATE TABLE snk ({cols}) WITH ('connector' = 'blackhole');
             INSERT INTO snk SELECT * FROM src;"
        );
        let (c0, t0) = (cpu_seconds(), Instant::now());
        let s = run_job(&rt, &sql);
        let read: u64 = s.rows_in.iter().sum();
        assert_eq!(read, records, "{format}: {s:?}");
        report(
            &format!("headrace kafka source ({format}) -> blackhole"),
            read,
            0,
            t0.elapsed(),
            cpu_seconds() - c0,
        );
    }

    // 5. Headrace: kafka -> json -> kafka pass-through.
    let sql = format!(
        "SET 'headrace.batch-size' = '8192';
         CREATE TABLE src (id BIGINT, name STRING, v DOUBLE, n INT) WITH (
            'connector' = 'kafka', 'topic' = '{t_hr}', 'properties.bootstrap.servers' = '{bs}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'format' = 'json');
         CREATE TABLE out (id BIGINT, name STRING, v DOUBLE, n INT) WITH (
            'connector' = 'kafka', 'topic' = '{t_out}', 'properties.bootstrap.servers' = '{bs}',
            'format' = 'json');
         INSERT INTO out SELECT * FROM src;"
    );
    let (c0, t0) = (cpu_seconds(), Instant::now());
    run_job(&rt, &sql);
    report(
        "headrace kafka -> json -> kafka",
        records,
        0,
        t0.elapsed(),
        cpu_seconds() - c0,
    );
    println!("{{\"topic\":\"{t_hr}\",\"bootstrap\":\"{bs}\"}}");
    let _ = Arc::new(());
}
