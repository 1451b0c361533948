//! The bridge's operations without a JVM: what the Java side does, call by call, on the real
//! built-in connectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::Schema;
use headrace_bridge::codec::{self, Reader, Writer};
use headrace_bridge::ops::{assignment_tag, poll_tag, Bridge, TableSpec};
use headrace_sdk::row::{rows, Value};
use headrace_sdk::types::DataType;

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

/// Run a bounded source to its end as the Java enumerator and one reader would; returns the values
/// of the first column.
fn read_all(b: &Bridge, source: i64, types: &[DataType]) -> Vec<Value> {
    let e = b.enumerator_create(source, 1, None).unwrap();
    let r = b.reader_create(source, 0, 1, 2).unwrap();
    let schema = Arc::new(Schema::new(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| t.to_arrow_field(&format!("c{i}")))
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let answer = b.reader_poll(r).unwrap();
        match answer[0] {
            poll_tag::BATCH => {
                let batch = codec::read_rows(&answer[1..], types, &schema).unwrap();
                out.extend(
                    rows(&batch)
                        .unwrap()
                        .into_iter()
                        .map(|r| r.values[0].clone()),
                );
            }
            poll_tag::NEED_SPLITS => {
                let a = b.enumerator_request(e, 0).unwrap();
                match a[0] {
                    assignment_tag::SPLITS => b.reader_add_splits(r, &a[1..]).unwrap(),
                    assignment_tag::NO_MORE => b.reader_no_more_splits(r).unwrap(),
                    _ => {}
                }
            }
            poll_tag::END => {
                b.close(r).unwrap();
                b.close(e).unwrap();
                return out;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    panic!("the source did not end");
}

#[test]
fn datagen_source_through_the_bridge() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let s = b
        .create_source(&spec(
            "datagen",
            "`id` BIGINT",
            &[
                ("number-of-rows", "5"),
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "1"),
                ("fields.id.end", "5"),
            ],
        ))
        .unwrap();
    assert!(b.source_bounded(s).unwrap());
    let ids = read_all(&b, s, &[DataType::parse("BIGINT").unwrap()]);
    assert_eq!(ids, (1..=5).map(Value::BigInt).collect::<Vec<_>>());
    b.close(s).unwrap();
    assert_eq!(b.open_handles(), 0);
}

#[test]
fn filesystem_sink_then_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let opts = [("path", path), ("format", "json")];
    let types = [DataType::parse("STRING").unwrap()];
    let sink = b
        .create_sink(&spec("filesystem", "`s` STRING", &opts))
        .unwrap();
    let w = b.writer_create(sink, 0, 1, 0, &[]).unwrap();
    let mut rowbuf = Writer::new();
    rowbuf.length(2).unwrap();
    for v in ["x", "y"] {
        rowbuf.u8(0);
        codec::write_value(&mut rowbuf, &Value::String(v.into()), &types[0]).unwrap();
    }
    b.writer_write(w, &rowbuf.buf).unwrap();
    b.writer_flush(w, true).unwrap();
    let committables = b.writer_prepare_commit(w, 1).unwrap();
    assert!(!codec::read_versioned(&committables).unwrap().is_empty());
    let c = b.committer_create(sink).unwrap();
    assert_ne!(c, 0, "the filesystem sink has a committer");
    b.committer_commit(c, 1, &committables).unwrap();
    // Idempotent: a retried commit after a restore must not fail.
    b.committer_commit(c, 1, &committables).unwrap();
    b.close(w).unwrap();

    let src = b
        .create_source(&spec("filesystem", "`s` STRING", &opts))
        .unwrap();
    let mut got = read_all(&b, src, &types);
    got.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        got,
        vec![Value::String("x".into()), Value::String("y".into())]
    );
}

#[test]
fn errors_name_the_option_and_the_handle() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let e = b
        .create_source(&spec("datagen", "`id` BIGINT", &[("rows-per-secnd", "1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Did you mean 'rows-per-second'?"), "{e}");
    let e = b
        .create_source(&spec("datagn", "`id` BIGINT", &[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("datagen"), "{e}");
    let e = b.reader_poll(12345).unwrap_err().to_string();
    assert!(e.contains("handle 12345 is not open"), "{e}");
    let e = b
        .enumerator_create(0, 1, Some(&[1, 0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not open"), "{e}");
    let mut r = Reader::new(&[]);
    assert!(r.u8().is_err());
}

#[test]
fn option_declarations_for_java() {
    let b = Bridge::new(headrace_bridge_builtin::registry());
    let flat = b.connector_options("filesystem", true).unwrap();
    assert_eq!(flat.len() % 8, 0);
    let entries: Vec<&[String]> = flat.chunks(8).collect();
    assert!(entries.iter().any(|e| e[0] == "required" && e[1] == "path"));
    assert!(entries.iter().any(|e| e[0] == "prefix" && e[1] == "json."));
    let json: serde_json::Value = serde_json::from_str(&b.registry_json()).unwrap();
    let ids: Vec<&str> = json["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["identifier"].as_str().unwrap())
        .collect();
    // The Kafka connectors come with the `kafka` feature (on in the wheel and run-tests.sh).
    let mut want = vec!["blackhole", "datagen", "filesystem"];
    if cfg!(feature = "kafka") {
        want.push("kafka");
    }
    want.push("print");
    if cfg!(feature = "kafka") {
        want.push("upsert-kafka");
    }
    assert_eq!(ids, want);
    let formats: Vec<&str> = json["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["identifier"].as_str().unwrap())
        .collect();
    assert!(formats.contains(&"debezium-json"), "{formats:?}");
}

/// `headrace.bad-records.policy` applies inside Flink as on the runner: `skip` drops and counts
/// the bad line, `fail` (the default) names it, and `dead-letter` is refused up front (no second
/// sink can be wired into the Flink job by the bridge) instead of losing records.
#[test]
fn bad_record_policy_applies_through_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "1\nnot-a-number\n3\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let types = [DataType::parse("BIGINT").unwrap()];
    let b = Bridge::new(headrace_bridge_builtin::registry());

    let skip = b
        .create_source(&spec(
            "filesystem",
            "`id` BIGINT",
            &[
                ("path", path),
                ("format", "csv"),
                ("headrace.bad-records.policy", "skip"),
            ],
        ))
        .unwrap();
    assert_eq!(
        read_all(&b, skip, &types),
        vec![Value::BigInt(1), Value::BigInt(3)]
    );

    let fail = b
        .create_source(&spec(
            "filesystem",
            "`id` BIGINT",
            &[("path", path), ("format", "csv")],
        ))
        .unwrap();
    let e = b.enumerator_create(fail, 1, None).unwrap();
    let r = b.reader_create(fail, 0, 1, 16).unwrap();
    let mut err = None;
    for _ in 0..10_000 {
        match b.reader_poll(r) {
            Err(x) => {
                err = Some(x.to_string());
                break;
            }
            Ok(a) if a[0] == poll_tag::NEED_SPLITS => {
                let s = b.enumerator_request(e, 0).unwrap();
                match s[0] {
                    assignment_tag::SPLITS => b.reader_add_splits(r, &s[1..]).unwrap(),
                    assignment_tag::NO_MORE => b.reader_no_more_splits(r).unwrap(),
                    _ => {}
                }
            }
            Ok(a) if a[0] == poll_tag::END => break,
            Ok(_) => {}
        }
    }
    let err = err.expect("the bad line fails the read under the default policy");
    assert!(err.contains("in.csv' line 2"), "{err}");
    assert!(err.contains("headrace.bad-records.policy"), "{err}");

    let e = b
        .create_source(&spec(
            "filesystem",
            "`id` BIGINT",
            &[
                ("path", path),
                ("format", "csv"),
                ("headrace.bad-records.policy", "dead-letter"),
                ("headrace.bad-records.dead-letter-table", "dlq"),
            ],
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not supported inside Flink"), "{e}");
}
