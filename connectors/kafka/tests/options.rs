//! Option checks of the Kafka connectors that need no broker (sources and sinks are created
//! without I/O), through the builders and so through the same validation as DDL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use headrace_connector_kafka::options::{BoundedMode, StartupMode};
use headrace_connector_kafka::{KafkaSink, KafkaSource};
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_format(headrace_format_json::factory());
    r
}

fn source_err(b: headrace_connector_kafka::KafkaSourceBuilder) -> String {
    match b.registry(registry()).build() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn base() -> headrace_connector_kafka::KafkaSourceBuilder {
    KafkaSource::builder()
        .bootstrap_servers("localhost:9092")
        .topics(vec!["t".to_string()])
        .value_format("json")
        .columns("id BIGINT, name STRING")
        .unwrap()
}

#[test]
fn source_option_errors_name_the_fix() {
    let e = source_err(base().starting_offsets(StartupMode::SpecificOffsets));
    assert!(
        e.contains(
            "'scan.startup.mode' = 'specific-offsets' needs 'scan.startup.specific-offsets'"
        ),
        "{e}"
    );
    let e = source_err(base().bounded(BoundedMode::Timestamp));
    assert!(
        e.contains("'scan.bounded.mode' = 'timestamp' needs 'scan.bounded.timestamp-millis'"),
        "{e}"
    );
    let e = source_err(
        base()
            .starting_offsets(StartupMode::SpecificOffsets)
            .starting_specific_offsets("partition:0,offst:1"),
    );
    assert!(
        e.contains("scan.startup.specific-offsets") && e.contains("offst"),
        "{e}"
    );
    let e = source_err(base().topic_pattern("t.*"));
    assert!(
        e.contains("'topic' and 'topic-pattern' are both set"),
        "{e}"
    );
    let e = source_err(base().key_format("json"));
    assert!(e.contains("'key.fields'"), "{e}");
    let e = source_err(
        base()
            .key_fields(vec!["nme".to_string()])
            .key_format("json"),
    );
    assert!(e.contains("Did you mean 'name'?"), "{e}");
    // a valid source is created without touching the network
    assert!(base().registry(registry()).build().is_ok());
}

#[test]
fn sink_option_errors_name_the_fix() {
    let sink = || {
        KafkaSink::builder()
            .bootstrap_servers("localhost:9092")
            .topics(vec!["t".to_string()])
            .value_format("json")
            .columns("id BIGINT")
            .unwrap()
            .registry(registry())
    };
    let e = sink()
        .delivery_guarantee(headrace_sdk::sink::DeliveryGuaranteeOption::ExactlyOnce)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sink.transactional-id-prefix"), "{e}");
    let e = sink()
        .option("headrace.sink.transactional-id-pool-size", "1")
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("at least 2"), "{e}");
    let e = sink()
        .option("sink.partitioner", "org.example.MyPartitioner")
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("default, fixed, round-robin"), "{e}");
    assert!(sink().build().is_ok());
}
