//! Decode and encode throughput of debezium-json and canal-json against serde_json into derived
//! envelope structs (the raw library) and the json format on the bare rows, on the same records.
//!
//! `cargo bench -p headrace-format-changelog-json --bench changelog -- --quick`

#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use headrace_format_changelog_json::{CanalJsonFormatFactory, DebeziumJsonFormatFactory};
use headrace_format_json::JsonFormatFactory;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{FormatContext, FormatFactory};
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;
use serde::Deserialize;

const RECORDS: usize = 100_000;
const BATCH: usize = 8192;

const COLUMNS: &str = "id BIGINT, `user` STRING, score DOUBLE, active BOOLEAN, \
    amount DECIMAL(10, 2), created TIMESTAMP(3), qty INT";

#[derive(Deserialize)]
#[allow(dead_code)]
struct Rec {
    id: i64,
    user: String,
    score: f64,
    active: bool,
    amount: f64,
    created: String,
    qty: i32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct DbzSource {
    db: String,
    table: String,
    ts_ms: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Dbz {
    before: Option<Rec>,
    after: Option<Rec>,
    op: String,
    source: DbzSource,
    ts_ms: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct CanalRec {
    id: String,
    user: String,
    score: String,
    active: String,
    amount: String,
    created: String,
    qty: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Canal {
    data: Vec<CanalRec>,
    old: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    database: String,
    table: String,
    #[serde(rename = "type")]
    kind: String,
    ts: i64,
}

/// The row's values as JSON: numbers and booleans as they are (Debezium), or every value as a
/// string (`quoted`, as Canal writes them).
fn row_with(i: usize, quoted: bool) -> String {
    let values = [
        (1_000_000 + i * 7).to_string(),
        format!("user_{i:08}"),
        format!("{}.{:03}", i % 100, i % 1000),
        (i % 2 == 0).to_string(),
        format!("{}.{:02}", i % 10_000, i % 100),
        format!(
            "2026-11-{:02} {:02}:{:02}:{:02}.{:03}",
            1 + i % 28,
            i % 24,
            i % 60,
            (i * 7) % 60,
            i % 1000
        ),
        (i % 500).to_string(),
    ];
    let names = ["id", "user", "score", "active", "amount", "created", "qty"];
    let mut out = String::from("{");
    for (n, (name, v)) in names.iter().zip(values).enumerate() {
        let text = if quoted || matches!(n, 1 | 5) {
            format!("\"{v}\"")
        } else {
            v
        };
        if n > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"{name}\":{text}"));
    }
    out.push('}');
    out
}

fn row(i: usize) -> String {
    row_with(i, false)
}

fn canal_row(i: usize) -> String {
    row_with(i, true)
}

/// 60% creates, 30% updates, 10% deletes.
fn debezium_records() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            let src = format!(
                r#""source":{{"db":"inventory","table":"orders","ts_ms":{}}},"ts_ms":{}"#,
                1_700_000_000_000u64 + i as u64,
                1_700_000_000_100u64 + i as u64
            );
            match i % 10 {
                0..=5 => format!(r#"{{"before":null,"after":{},"op":"c",{src}}}"#, row(i)),
                6..=8 => format!(
                    r#"{{"before":{},"after":{},"op":"u",{src}}}"#,
                    row(i),
                    row(i + 1)
                ),
                _ => format!(r#"{{"before":{},"after":null,"op":"d",{src}}}"#, row(i)),
            }
            .into_bytes()
        })
        .collect()
}

/// 50% INSERT, 25% UPDATE, 25% DELETE; or only UPDATEs.
fn canal_records(only_updates: bool) -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            let kind = if only_updates {
                "UPDATE"
            } else {
                ["INSERT", "INSERT", "UPDATE", "DELETE"][i % 4]
            };
            let old = if kind == "UPDATE" {
                r#"[{"score":"1.5"}]"#
            } else {
                "null"
            };
            format!(
                r#"{{"data":[{}],"old":{old},"database":"inventory","table":"orders","type":"{kind}","ts":{},"es":{},"isDdl":false,"pkNames":["id"]}}"#,
                canal_row(i),
                1_700_000_000_000u64 + i as u64,
                1_700_000_000_000u64 + i as u64
            )
            .into_bytes()
        })
        .collect()
}

fn ctx() -> FormatContext {
    FormatContext {
        schema: TableSchema::parse_columns(COLUMNS)
            .expect("columns")
            .physical_arrow_schema(),
        options: Options::new("bench", RawOptions::new()),
    }
}

fn decode_all(f: &dyn FormatFactory, c: &FormatContext, recs: &[Vec<u8>]) -> Vec<ChangelogBatch> {
    let mut d = f.create_decoder(c).expect("decoder");
    let mut out = Vec::new();
    for r in recs {
        d.decode(r, &RecordOrigin::Unknown).expect("decode");
        if d.buffered_rows() >= BATCH {
            out.push(d.finish().expect("finish"));
        }
    }
    out.push(d.finish().expect("finish"));
    out
}

/// Headrace's decoder of `f` against serde_json into the envelope structs `T`, on `recs`.
fn decode_vs_serde<T: serde::de::DeserializeOwned>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    f: &dyn FormatFactory,
    cx: &FormatContext,
    recs: &[Vec<u8>],
) {
    g.bench_function("headrace decode", |b| {
        b.iter(|| black_box(decode_all(f, cx, recs)))
    });
    g.bench_function("serde_json into derived structs (baseline)", |b| {
        b.iter(|| {
            for r in recs {
                black_box(serde_json::from_slice::<T>(r).expect("serde"));
            }
        })
    });
}

fn bench(c: &mut Criterion) {
    let cx = ctx();
    let dbz = debezium_records();
    let dbz_bytes: usize = dbz.iter().map(Vec::len).sum();
    // The same rows without an envelope, for the json format.
    let bare: Vec<Vec<u8>> = (0..RECORDS).map(|i| row(i).into_bytes()).collect();

    let mut g = c.benchmark_group("debezium-json");
    g.throughput(Throughput::Bytes(dbz_bytes as u64));
    decode_vs_serde::<Dbz>(&mut g, &DebeziumJsonFormatFactory, &cx, &dbz);
    let batches = decode_all(&DebeziumJsonFormatFactory, &cx, &dbz);
    g.bench_function("headrace encode", |b| {
        let mut e = DebeziumJsonFormatFactory
            .create_encoder(&cx)
            .expect("encoder");
        b.iter(|| {
            let mut n = 0usize;
            for batch in &batches {
                e.encode(batch, &mut |_, bytes| {
                    n += bytes.len();
                    Ok(())
                })
                .expect("encode");
            }
            black_box(n)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("json (bare rows, for comparison)");
    let bare_bytes: usize = bare.iter().map(Vec::len).sum();
    g.throughput(Throughput::Bytes(bare_bytes as u64));
    g.bench_function("headrace json decode", |b| {
        b.iter(|| black_box(decode_all(&JsonFormatFactory, &cx, &bare)))
    });
    g.finish();

    for (group, only_updates) in [("canal-json", false), ("canal-json updates", true)] {
        let canal = canal_records(only_updates);
        let canal_bytes: usize = canal.iter().map(Vec::len).sum();
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Bytes(canal_bytes as u64));
        decode_vs_serde::<Canal>(&mut g, &CanalJsonFormatFactory, &cx, &canal);
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
