//! Decode and encode throughput of the json format against serde_json into a derived struct.
//!
//! `cargo bench -p headrace-format-json -- --quick`

#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
    amount DECIMAL(10, 2), created TIMESTAMP(3), tags ARRAY<STRING>, \
    geo ROW<lat DOUBLE, lon DOUBLE>, qty INT";

/// The same record as a plain Rust struct, the baseline.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Rec {
    id: i64,
    user: String,
    score: f64,
    active: bool,
    amount: f64,
    created: String,
    tags: Vec<String>,
    geo: Geo,
    qty: i32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Geo {
    lat: f64,
    lon: f64,
}

fn records() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            format!(
                r#"{{"id":{},"user":"user_{:08}","score":{}.{:03},"active":{},"amount":{}.{:02},"created":"2026-11-{:02} {:02}:{:02}:{:02}.{:03}","tags":["alpha","beta{}"],"geo":{{"lat":52.{:06},"lon":13.{:06}}},"qty":{}}}"#,
                1_000_000 + i * 7,
                i,
                i % 100,
                i % 1000,
                i % 2 == 0,
                i % 10_000,
                i % 100,
                1 + i % 28,
                i % 24,
                i % 60,
                (i * 7) % 60,
                i % 1000,
                i % 10,
                (i * 37) % 1_000_000,
                (i * 91) % 1_000_000,
                i % 500,
            )
            .into_bytes()
        })
        .collect()
}

fn ctx() -> FormatContext {
    FormatContext {
        schema: TableSchema::parse_columns(COLUMNS)
            .expect("schema")
            .physical_arrow_schema(),
        options: Options::new("bench", RawOptions::new()),
    }
}

fn decode_all(recs: &[Vec<u8>], c: &FormatContext) -> Vec<ChangelogBatch> {
    let mut d = JsonFormatFactory.create_decoder(c).expect("decoder");
    let origin = RecordOrigin::Unknown;
    let mut out = Vec::new();
    for r in recs {
        d.decode(r, &origin).expect("decode");
        if d.buffered_rows() == BATCH {
            out.push(d.finish().expect("finish"));
        }
    }
    out.push(d.finish().expect("finish"));
    out
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let bytes: usize = recs.iter().map(Vec::len).sum();
    eprintln!(
        "{} records, {} bytes, {:.1} bytes per record",
        recs.len(),
        bytes,
        bytes as f64 / recs.len() as f64
    );
    let fc = ctx();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("headrace_json_to_arrow", |b| {
        b.iter(|| black_box(decode_all(&recs, &fc)))
    });
    g.bench_function("serde_json_to_struct", |b| {
        b.iter(|| {
            for r in &recs {
                let v: Rec = serde_json::from_slice(r).expect("serde");
                black_box(v);
            }
        })
    });
    g.finish();

    let batches = decode_all(&recs, &fc);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("headrace_arrow_to_json", |b| {
        let mut e = JsonFormatFactory.create_encoder(&fc).expect("encoder");
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
