//! Metadata keys as the Java side asks for them (`listReadableMetadata` / `listWritableMetadata`),
//! and a source whose column list carries `METADATA FROM` columns after the physical ones, read
//! through the bridge's operations (no JVM).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use headrace_bridge::codec::{self, Reader};
use headrace_bridge::ops::{assignment_tag, poll_tag, Bridge, TableSpec};
use headrace_sdk::row::{rows, Value};
use headrace_sdk::schema::TableSchema;

fn spec(connector: &str, columns: &str, options: &[(&str, &str)]) -> TableSpec {
    TableSpec {
        connector: connector.into(),
        table: "t".into(),
        columns: columns.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    assert_eq!(flat.len() % 2, 0, "key/type pairs: {flat:?}");
    flat.chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

#[test]
fn filesystem_offers_its_file_keys_for_reading_only() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let s = spec("filesystem", "", &[("path", "/tmp/x"), ("format", "csv")]);
    let read = pairs(b.table_metadata(&s, true).unwrap());
    let keys: Vec<&str> = read.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "file.path",
            "file.name",
            "file.size",
            "file.modification-time"
        ]
    );
    assert!(read.contains(&("file.size".into(), "BIGINT NOT NULL".into())));
    assert!(b.table_metadata(&s, false).unwrap().is_empty());
}

#[test]
fn unknown_connector_is_an_error() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let e = b
        .table_metadata(&spec("nope", "", &[]), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}

/// A filesystem table read with metadata columns after its physical column, as the Java side
/// builds the column list from Flink's produced row: every row carries its file's name and size.
#[test]
fn metadata_columns_follow_the_physical_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "1\n2\n").unwrap();
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let columns = "`id` BIGINT, `$metadata$file.name` VARCHAR(2147483647) NOT NULL METADATA FROM \
                   'file.name', `$metadata$file.size` BIGINT NOT NULL METADATA FROM 'file.size'";
    let path = dir.path().to_str().unwrap();
    let s = b
        .create_source(&spec(
            "filesystem",
            columns,
            &[("path", path), ("format", "csv")],
        ))
        .unwrap();
    let schema = TableSchema::parse_columns(columns).unwrap();
    let types: Vec<_> = schema.columns.iter().map(|c| c.data_type.clone()).collect();
    let arrow = schema.produced_arrow_schema();
    let e = b.enumerator_create(s, 1, None).unwrap();
    let r = b.reader_create(s, 0, 1, 100).unwrap();
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let answer = b.reader_poll(r).unwrap();
        match answer[0] {
            poll_tag::BATCH | poll_tag::SPLIT_BATCH => {
                let mut start = 1;
                if answer[0] == poll_tag::SPLIT_BATCH {
                    let split = Reader::new(&answer[1..]).bytes().unwrap();
                    assert!(!split.is_empty());
                    start += 4 + split.len();
                }
                let rest = &answer[start..];
                let batch = codec::read_rows(rest, &types, &arrow).unwrap();
                got.extend(rows(&batch).unwrap().into_iter().map(|r| r.values));
            }
            poll_tag::NEED_SPLITS => {
                let a = b.enumerator_request(e, 0).unwrap();
                match a[0] {
                    assignment_tag::SPLITS => b.reader_add_splits(r, &a[1..]).unwrap(),
                    assignment_tag::NO_MORE => b.reader_no_more_splits(r).unwrap(),
                    _ => {}
                }
            }
            poll_tag::END => break,
            _ => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    b.close(r).unwrap();
    b.close(e).unwrap();
    b.close(s).unwrap();
    got.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        got,
        vec![
            vec![
                Value::BigInt(1),
                Value::String("a.csv".into()),
                Value::BigInt(4)
            ],
            vec![
                Value::BigInt(2),
                Value::String("a.csv".into()),
                Value::BigInt(4)
            ],
        ]
    );
}

#[cfg(feature = "kafka")]
#[test]
fn kafka_offers_its_keys_and_its_value_formats_under_value() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let opts = [
        ("topic", "t"),
        ("properties.bootstrap.servers", "localhost:9092"),
        ("value.format", "debezium-json"),
    ];
    let read = pairs(b.table_metadata(&spec("kafka", "", &opts), true).unwrap());
    for (k, t) in [
        ("topic", "STRING NOT NULL"),
        ("partition", "INT NOT NULL"),
        ("offset", "BIGINT NOT NULL"),
        ("timestamp", "TIMESTAMP_LTZ(3) NOT NULL"),
        ("headers", "MAP<STRING, BYTES> NOT NULL"),
        ("value.ingestion-timestamp", "TIMESTAMP_LTZ(3) NULL"),
        ("value.source.table", "STRING NULL"),
    ] {
        assert!(
            read.contains(&(k.to_string(), t.to_string())),
            "{k} {t} missing from {read:?}"
        );
    }
    let write = pairs(b.table_metadata(&spec("kafka", "", &opts), false).unwrap());
    let keys: Vec<&str> = write.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["topic", "headers", "timestamp"]);
}
