//! Conformance of the `kafka` connector with the `json` format, against a real broker from the
//! test kit (a message system, where `conformance_filesystem.rs` is the files example).
//!
//! The context reaches Kafka with its own librdkafka clients, not the connector: each table is a
//! fresh topic of [`PARTITIONS`] partitions; test data is produced as JSON values (encoded by
//! `common/json_values.rs`, not the `json` format) into the partition numbered by the split;
//! what a sink wrote is consumed from the beginning to the end of every partition with
//! `isolation.level=read_committed`, so open or aborted transactions are not seen. The external
//! fault of the crash checks is a stop and start of the broker's container.
//!
//! The whole suite runs in one test, sequentially, on one broker: the crash checks restart the
//! broker, which would break checks running beside them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/json_values.rs"]
mod json_values;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use headrace_integration_tests::conformance::{
    all_flink_types, ExternalContext, Failure, PoisonRecord, SourceSupport, Suite,
};
use headrace_integration_tests::kafka::{self, Kafka};
use headrace_sdk::factory::Usage;
use headrace_sdk::options::RawOptions;
use headrace_sdk::row::{Row, Value};
use headrace_sdk::sink::DeliveryGuarantee;
use headrace_sdk::types::DataType;
use json_values::{decode_row, encode_object};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Partitions of every topic; splits beyond are wrapped (the suite uses splits 0 to 4).
const PARTITIONS: i32 = 8;

/// How long a produce or a read of the context may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The kafka + json context: one topic per table, named after the table and the run.
struct KafkaJson {
    kafka: Kafka,
    /// Unique per context, so topics and transactional ids of earlier runs never collide.
    run: String,
    created: Mutex<BTreeSet<String>>,
}

impl KafkaJson {
    fn new(kafka: Kafka) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        KafkaJson {
            kafka,
            run: format!("{}-{nanos}", std::process::id()),
            created: Mutex::default(),
        }
    }

    /// The table's topic, created (with [`PARTITIONS`] partitions) the first time it is named.
    fn topic(&self, table: &str) -> Result<String, Failure> {
        let topic = format!("conformance-{}-{table}", self.run);
        let mut created = self.created.lock().unwrap();
        if !created.contains(&topic) {
            self.kafka
                .create_topic(&topic, PARTITIONS as u32)
                .map_err(|e| Failure::new(format!("cannot create topic '{topic}': {e}")))?;
            created.insert(topic.clone());
        }
        Ok(topic)
    }

    /// Produce `(key, value)` records into one partition (acks=all, idempotent) and wait until
    /// each is acknowledged; returns their offsets.
    fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: &[(Option<String>, String)],
    ) -> Result<Vec<i64>, Failure> {
        let producer: BaseProducer<Deliveries> = ClientConfig::new()
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "60000")
            .create_with_context(Deliveries::default())
            .map_err(|e| Failure::new(format!("cannot create a producer: {e}")))?;
        for (key, value) in records {
            let mut r = BaseRecord::to(topic).partition(partition).payload(value);
            if let Some(k) = key {
                r = r.key(k);
            }
            let mut r = Some(r);
            while let Some(record) = r.take() {
                if let Err((e, back)) = producer.send(record) {
                    if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::QueueFull) {
                        return Err(Failure::new(format!("cannot produce to '{topic}': {e}")));
                    }
                    producer.poll(Duration::from_millis(50));
                    r = Some(back);
                }
            }
        }
        producer
            .flush(CLIENT_TIMEOUT)
            .map_err(|e| Failure::new(format!("producing to '{topic}' did not finish: {e}")))?;
        let d = producer.context().0.lock().unwrap();
        if let Some(e) = d.failed.first() {
            return Err(Failure::new(format!(
                "{} record(s) not delivered to '{topic}': {e}",
                d.failed.len()
            )));
        }
        Ok(d.offsets.clone())
    }
}

#[derive(Default)]
struct Delivered {
    offsets: Vec<i64>,
    failed: Vec<String>,
}

/// Collects the outcome of every delivery.
#[derive(Default)]
struct Deliveries(Mutex<Delivered>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut d = self.0.lock().unwrap();
        match result {
            Ok(m) => d.offsets.push(m.offset()),
            Err((e, _)) => d.failed.push(e.to_string()),
        }
    }
}

impl ExternalContext for KafkaJson {
    fn name(&self) -> String {
        "kafka+json".into()
    }

    /// Every Flink type, as for filesystem + json (TIMESTAMP_LTZ is written and read in Flink's
    /// `yyyy-MM-dd HH:mm:ss[.fff]Z` form).
    fn supported_types(&self) -> Vec<DataType> {
        all_flink_types()
    }

    fn table_options(
        &self,
        table: &str,
        usage: Usage,
        bounded: bool,
    ) -> Result<RawOptions, Failure> {
        let topic = self.topic(table)?;
        let mut o: RawOptions = [
            ("connector", "kafka".to_string()),
            ("topic", topic.clone()),
            (
                "properties.bootstrap.servers",
                self.kafka.bootstrap_servers().to_string(),
            ),
            ("format", "json".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match usage {
            Usage::Source => {
                o.insert("scan.startup.mode".into(), "earliest-offset".into());
                if bounded {
                    o.insert("scan.bounded.mode".into(), "latest-offset".into());
                } else {
                    o.insert(
                        "scan.topic-partition-discovery.interval".into(),
                        "500 ms".into(),
                    );
                }
            }
            Usage::Sink => {
                o.insert("sink.delivery-guarantee".into(), "exactly-once".into());
                o.insert("sink.transactional-id-prefix".into(), format!("{topic}-tx"));
            }
        }
        Ok(o)
    }

    /// One JSON value per row, keyed by the row's key column (as JSON text), into partition
    /// `split` (modulo [`PARTITIONS`]).
    fn write_test_data(&self, table: &str, split: usize, rows: &[Row]) -> Result<(), Failure> {
        let topic = self.topic(table)?;
        let schema = self.schema();
        let cols: Vec<(&str, &DataType)> = schema
            .physical_columns()
            .map(|c| (c.name.as_str(), &c.data_type))
            .collect();
        let records: Vec<(Option<String>, String)> = rows
            .iter()
            .map(|r| {
                let key = match r.values.first() {
                    Some(Value::Null) | None => None,
                    Some(_) => Some(encode_object(&cols[..1], &r.values[..1])),
                };
                (key, encode_object(&cols, &r.values))
            })
            .collect();
        self.produce(&topic, split as i32 % PARTITIONS, &records)?;
        Ok(())
    }

    /// Every record of the topic up to each partition's end (high watermark), read committed.
    fn read_written(&self, table: &str) -> Result<Vec<Row>, Failure> {
        let topic = self.topic(table)?;
        let schema = self.schema();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("group.id", format!("{topic}-reader"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .map_err(|e| Failure::new(format!("cannot create a consumer: {e}")))?;
        // The end of each partition is its high watermark, asked by a read_uncommitted client: a
        // read_committed client is told the last stable offset, which stays before a transaction
        // until its commit markers are written (after the producer's commit returned), so the
        // partitions of a transaction committed a moment ago would look empty.
        let ends_client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("isolation.level", "read_uncommitted")
            .create()
            .map_err(|e| Failure::new(format!("cannot create a consumer: {e}")))?;
        let mut ends = Vec::new();
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            let (_, high) = ends_client
                .fetch_watermarks(&topic, p, CLIENT_TIMEOUT)
                .map_err(|e| {
                    Failure::new(format!(
                        "cannot read the end of '{topic}' partition {p}: {e}"
                    ))
                })?;
            ends.push(high);
            if high > 0 {
                tpl.add_partition_offset(&topic, p, Offset::Beginning)
                    .map_err(|e| Failure::new(e.to_string()))?;
            }
        }
        consumer
            .assign(&tpl)
            .map_err(|e| Failure::new(format!("cannot assign '{topic}': {e}")))?;
        let mut rows = Vec::new();
        let start = Instant::now();
        loop {
            // Done when every partition's position reached its end (transaction markers take
            // offsets no record is delivered for, so the position is the measure, not records).
            let positions = consumer
                .position()
                .map_err(|e| Failure::new(e.to_string()))?;
            let behind: Vec<String> = (0..PARTITIONS)
                .filter_map(|p| {
                    let end = ends[p as usize];
                    if end == 0 {
                        return None;
                    }
                    let at = match positions.find_partition(&topic, p).map(|e| e.offset()) {
                        Some(Offset::Offset(o)) => o,
                        _ => 0,
                    };
                    (at < end).then(|| format!("partition {p} at {at} of {end}"))
                })
                .collect();
            if behind.is_empty() {
                break;
            }
            if start.elapsed() > CLIENT_TIMEOUT {
                return Err(Failure::new(format!(
                    "reading '{topic}' with read_committed did not reach the end within \
                     {CLIENT_TIMEOUT:?} (an open transaction?): {}",
                    behind.join(", ")
                )));
            }
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Err(e)) => {
                    return Err(Failure::new(format!("reading '{topic}': {e}")));
                }
                Some(Ok(m)) => {
                    let origin = format!(
                        "topic '{topic}' partition {} offset {}",
                        m.partition(),
                        m.offset()
                    );
                    let Some(value) = m.payload() else {
                        return Err(Failure::new(format!("{origin}: a record without a value")));
                    };
                    let text = std::str::from_utf8(value)
                        .map_err(|e| Failure::new(format!("{origin}: not UTF-8: {e}")))?;
                    rows.push(decode_row(&schema, text).map_err(|e| e.context(&origin))?);
                }
            }
        }
        Ok(rows)
    }

    fn source(&self) -> Option<SourceSupport> {
        Some(SourceSupport {
            bounded: true,
            unbounded: true,
            guarantee: DeliveryGuarantee::ExactlyOnce,
        })
    }

    fn sink(&self) -> Option<DeliveryGuarantee> {
        Some(DeliveryGuarantee::ExactlyOnce)
    }

    /// A value that is not JSON.
    fn write_poison_record(
        &self,
        table: &str,
        split: usize,
    ) -> Result<Option<PoisonRecord>, Failure> {
        let topic = self.topic(table)?;
        let partition = split as i32 % PARTITIONS;
        let offsets = self.produce(
            &topic,
            partition,
            &[(None, "{\"id\": 1, \"c01_boolean\": tru".to_string())],
        )?;
        let offset = offsets
            .first()
            .ok_or_else(|| Failure::new("the poison record has no offset"))?;
        Ok(Some(PoisonRecord {
            origin: format!("topic '{topic}' partition {partition} offset {offset}"),
        }))
    }

    fn ignore_parse_errors_options(&self) -> Option<RawOptions> {
        Some([("json.ignore-parse-errors".to_string(), "true".to_string())].into())
    }

    /// Stop the broker's container and start it again (same port, data kept); nothing for a
    /// cluster given by `HEADRACE_TEST_KAFKA`.
    fn restart_external(&self) -> Result<(), Failure> {
        if self.kafka.is_external() {
            return Ok(());
        }
        self.kafka
            .stop()
            .map_err(|e| Failure::new(format!("cannot stop the broker: {e}")))?;
        self.kafka
            .start()
            .map_err(|e| Failure::new(format!("cannot start the broker again: {e}")))
    }
}

/// Every check of the suite, the crash checks with the runner binary (whose registry has the
/// `kafka` connector through `headrace-cli`'s default `kafka` feature).
#[test]
fn kafka_json_conformance() {
    let kafka = kafka::start().unwrap_or_else(|e| panic!("cannot start Kafka: {e}"));
    let ctx = KafkaJson::new(kafka);
    let suite = Suite::new(headrace_cli::builtin_registry())
        .with_runner(env!("CARGO_BIN_EXE_headrace-conformance-runner"))
        .with_timeout(Duration::from_secs(120));
    let report = suite.run_all(&ctx);
    eprintln!("{report}");
    assert!(report.failures().is_empty(), "{report}");
    let skipped = report.skipped();
    assert!(skipped.is_empty(), "checks skipped: {skipped:?}\n{report}");
}
