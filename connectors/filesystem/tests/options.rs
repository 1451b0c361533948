//! Option validation through the builders (the same validation DDL gets).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{registry, sink_builder, source_builder};
use headrace_connector_filesystem::{FileSink, FileSource};
use headrace_sdk::factory::{validate_table, ConnectorFactory, Usage};
use headrace_sdk::schema::TableSchema;

fn source_err(b: headrace_connector_filesystem::FileSourceBuilder) -> String {
    match b.build_source() {
        Ok(_) => panic!("expected the source build to fail"),
        Err(e) => e.to_string(),
    }
}

fn sink_err(b: headrace_connector_filesystem::FileSinkBuilder) -> String {
    match b.build_sink() {
        Ok(_) => panic!("expected the sink build to fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn required_options() {
    let e = source_err(
        FileSource::builder()
            .registry(registry())
            .columns("a STRING")
            .unwrap()
            .format("testline"),
    );
    assert!(e.contains("missing required option 'path'"), "{e}");
    let e = sink_err(
        FileSink::builder()
            .registry(registry())
            .columns("a STRING")
            .unwrap()
            .path("/tmp/x"),
    );
    assert!(e.contains("missing required option 'format'"), "{e}");
}

#[test]
fn bad_values() {
    let dir = std::path::Path::new("/nonexistent-headrace");
    let b = || source_builder(dir).columns("a STRING").unwrap();
    let e = source_err(b().option("source.monitor-interval", "0 s"));
    assert!(
        e.contains("'source.monitor-interval'") && e.contains("greater than 0"),
        "{e}"
    );
    let e = source_err(b().option("source.monitor-interval", "soon"));
    assert!(e.contains("invalid value 'soon'"), "{e}");
    let e = source_err(b().path_regex_pattern("(unclosed"));
    assert!(
        e.contains("'source.path.regex-pattern'") && e.contains("regular expression"),
        "{e}"
    );
    let e = source_err(b().option("format", "jsn"));
    assert!(e.contains("no format named 'jsn'"), "{e}");

    let s = || sink_builder(dir).columns("a STRING").unwrap();
    let e = sink_err(s().option("sink.rolling-policy.file-size", "0"));
    assert!(e.contains("greater than 0"), "{e}");
    let e = sink_err(s().option("sink.rolling-policy.file-size", "12 parsecs"));
    assert!(e.contains("'sink.rolling-policy.file-size'"), "{e}");
    let e = sink_err(s().sink_parallelism(0));
    assert!(e.contains("at least 1"), "{e}");
    let e = sink_err(s().partition_default_name(""));
    assert!(e.contains("must not be empty"), "{e}");
}

#[test]
fn partition_columns_are_checked() {
    let dir = std::path::Path::new("/nonexistent-headrace");
    let e = source_err(
        source_builder(dir)
            .columns("a STRING")
            .unwrap()
            .partitioned_by(["a"]),
    );
    assert!(
        e.contains("every physical column is a partition column"),
        "{e}"
    );
    let e = sink_err(
        sink_builder(dir)
            .columns("a STRING")
            .unwrap()
            .partitioned_by(["nope"]),
    );
    assert!(e.contains("'nope'"), "{e}");
}

#[test]
fn unimplemented_flink_keys_are_rejected_and_usage_matters() {
    let f = headrace_connector_filesystem::FileSystemFactory;
    let schema = TableSchema::parse_columns("a STRING").unwrap();
    let raw = |extra: &[(&str, &str)]| {
        let mut m: headrace_sdk::options::RawOptions = [
            ("connector", "filesystem"),
            ("path", "/tmp/x"),
            ("format", "testline"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    };
    let r = registry();
    for key in ["source.report-statistics", "compaction.parallelism"] {
        let e = validate_table(&r, &f, "t", &schema, &raw(&[(key, "x")]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("unsupported option '{key}'")), "{e}");
    }
    // Sink-only keys are refused on a source table and the other way round.
    let e = validate_table(
        &r,
        &f,
        "t",
        &schema,
        &raw(&[("sink.rolling-policy.file-size", "1 mb")]),
        Some(Usage::Source),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unsupported option 'sink.rolling-policy.file-size'"),
        "{e}"
    );
    validate_table(
        &r,
        &f,
        "t",
        &schema,
        &raw(&[("source.monitor-interval", "1 s")]),
        Some(Usage::Source),
    )
    .unwrap();
    // Metadata: types and direction.
    let meta = TableSchema::parse_columns(
        "a STRING, p STRING METADATA FROM 'file.path' VIRTUAL, t TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time' VIRTUAL",
    )
    .unwrap();
    validate_table(&r, &f, "t", &meta, &raw(&[]), Some(Usage::Source)).unwrap();
    let bad =
        TableSchema::parse_columns("a STRING, s ARRAY<INT> METADATA FROM 'file.size'").unwrap();
    let e = validate_table(&r, &f, "t", &bad, &raw(&[]), Some(Usage::Source))
        .unwrap_err()
        .to_string();
    assert!(e.contains("BIGINT"), "{e}");
    assert_eq!(f.metadata().len(), 4);
}
