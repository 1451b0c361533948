//! The standard JSON corpora of serde-rs/json-benchmark (canada, citm_catalog, twitter): each
//! document decoded by the json format as one row of a table whose columns cover every field,
//! against serde_json on the same bytes into `serde_json::Value` (every field too), into typed
//! structs where they are short to write (canada), and into `IgnoredAny` (a scan, for scale).
//!
//! The files are not in this repository: `bash formats/json/benches/json-benchmark-data.sh`
//! fetches them once into `$HOME/.cache/headrace/json-benchmark` (or
//! `$HEADRACE_JSON_BENCHMARK_DIR`). Then:
//!
//! `cargo bench -p headrace-format-json --bench json_benchmark -- --quick`
//!
//! The table's columns are inferred from the document before timing: objects become ROWs (the
//! union of their keys), objects keyed by numbers (citm's ids) MAP<STRING, ...>, arrays ARRAYs
//! of the merged element type, integers BIGINT, other numbers DOUBLE, and anything mixed or
//! only ever null STRING.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::Schema;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use headrace_format_json::{DecodeConfig, JsonDecoder};
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::Decoder;
use headrace_sdk::types::{DataType, LogicalType, RowField, MAX_LENGTH};
use serde::Deserialize;
use serde_json::Value;

/// A type inferred from sample values.
#[derive(Clone, Debug)]
enum T {
    /// Only nulls seen.
    Unknown,
    Bool,
    Int,
    Float,
    Str,
    Arr(Box<T>),
    Obj(Vec<(String, T)>),
    Map(Box<T>),
}

fn merge(a: T, b: T) -> T {
    match (a, b) {
        (T::Unknown, x) | (x, T::Unknown) => x,
        (T::Bool, T::Bool) => T::Bool,
        (T::Int, T::Int) => T::Int,
        (T::Int | T::Float, T::Int | T::Float) => T::Float,
        (T::Arr(a), T::Arr(b)) => T::Arr(Box::new(merge(*a, *b))),
        (T::Map(a), T::Map(b)) => T::Map(Box::new(merge(*a, *b))),
        (T::Obj(mut a), T::Obj(b)) => {
            for (k, t) in b {
                match a.iter().position(|(n, _)| *n == k) {
                    Some(i) => {
                        let old = std::mem::replace(&mut a[i].1, T::Unknown);
                        a[i].1 = merge(old, t);
                    }
                    None => a.push((k, t)),
                }
            }
            T::Obj(a)
        }
        _ => T::Str,
    }
}

fn infer(v: &Value) -> T {
    match v {
        Value::Null => T::Unknown,
        Value::Bool(_) => T::Bool,
        Value::Number(n) if n.is_i64() => T::Int,
        Value::Number(_) => T::Float,
        Value::String(_) => T::Str,
        Value::Array(a) => T::Arr(Box::new(a.iter().map(infer).fold(T::Unknown, merge))),
        Value::Object(o)
            if !o.is_empty() && o.keys().all(|k| k.bytes().all(|b| b.is_ascii_digit())) =>
        {
            T::Map(Box::new(o.values().map(infer).fold(T::Unknown, merge)))
        }
        Value::Object(o) => T::Obj(o.iter().map(|(k, v)| (k.clone(), infer(v))).collect()),
    }
}

fn flink(t: &T) -> DataType {
    let string = || DataType::new(LogicalType::VarChar(MAX_LENGTH));
    DataType::new(match t {
        T::Unknown | T::Str => LogicalType::VarChar(MAX_LENGTH),
        T::Bool => LogicalType::Boolean,
        T::Int => LogicalType::BigInt,
        T::Float => LogicalType::Double,
        T::Arr(e) => LogicalType::Array(Box::new(flink(e))),
        T::Map(v) => LogicalType::Map(Box::new(string()), Box::new(flink(v))),
        T::Obj(fs) if fs.is_empty() => LogicalType::Map(Box::new(string()), Box::new(string())),
        T::Obj(fs) => LogicalType::Row(
            fs.iter()
                .map(|(n, t)| RowField {
                    name: n.clone(),
                    data_type: flink(t),
                    description: None,
                })
                .collect(),
        ),
    })
}

fn data_dir() -> PathBuf {
    std::env::var_os("HEADRACE_JSON_BENCHMARK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/headrace/json-benchmark")
        })
}

fn load(name: &str) -> Vec<u8> {
    let p = data_dir().join(format!("{name}.json"));
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `bash formats/json/benches/json-benchmark-data.sh` first",
            p.display()
        )
    })
}

/// A decoder for one document of `bytes`' shape: its top-level keys as columns.
fn decoder_for(bytes: &[u8]) -> JsonDecoder {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let T::Obj(fields) = infer(&v) else {
        panic!("not an object")
    };
    let schema = Schema::new(
        fields
            .iter()
            .map(|(n, t)| flink(t).to_arrow_field(n))
            .collect::<Vec<_>>(),
    );
    JsonDecoder::new(Arc::new(schema), DecodeConfig::default()).unwrap()
}

fn headrace_decode(d: &mut JsonDecoder, bytes: &[u8]) -> usize {
    d.decode(bytes, &RecordOrigin::Unknown).unwrap();
    d.finish().unwrap().num_rows()
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Canada {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<Feature>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Feature {
    #[serde(rename = "type")]
    kind: String,
    properties: Properties,
    geometry: Geometry,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Properties {
    name: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Vec<Vec<[f64; 2]>>,
}

fn bench(c: &mut Criterion) {
    for name in ["canada", "citm_catalog", "twitter"] {
        let bytes = load(name);
        let mut d = decoder_for(&bytes);
        assert_eq!(
            headrace_decode(&mut d, &bytes),
            1,
            "{name} decodes as one row"
        );
        let mut g = c.benchmark_group(format!("json-benchmark {name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("headrace json decode into Arrow", |b| {
            b.iter(|| black_box(headrace_decode(&mut d, black_box(&bytes))))
        });
        g.bench_function("serde_json into Value (baseline)", |b| {
            b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&bytes)).unwrap()))
        });
        if name == "canada" {
            g.bench_function("serde_json into typed structs", |b| {
                b.iter(|| black_box(serde_json::from_slice::<Canada>(black_box(&bytes)).unwrap()))
            });
        }
        g.bench_function("serde_json into IgnoredAny (scan only)", |b| {
            b.iter(|| {
                black_box(
                    serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&bytes)).unwrap(),
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
