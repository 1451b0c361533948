//! Decode and encode throughput of the avro format against raw `apache-avro` (`from_avro_datum`
//! into `Value`s, `to_avro_datum` from `Value`s) on the same records in the same run.
//!
//! `cargo bench -p headrace-format-avro --bench avro -- --warm-up-time 1 --measurement-time 5 --sample-size 10`

#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use apache_avro::types::Value;
use apache_avro::{from_avro_datum, to_avro_datum, Schema};
use arrow::array::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use headrace_format_avro::schema::table_schema_json;
use headrace_format_avro::AvroFormatFactory;
use headrace_format_json::JsonFormatFactory;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{FormatContext, FormatFactory};
use headrace_sdk::options::{Options, RawOptions};
use headrace_sdk::schema::TableSchema;

const RECORDS: usize = 100_000;
const BATCH: usize = 8192;

const COLUMNS: &str = "id BIGINT, `user` STRING, score DOUBLE, active BOOLEAN, \
    amount DECIMAL(10, 2), created TIMESTAMP(3), tags ARRAY<STRING>, \
    geo ROW<lat DOUBLE, lon DOUBLE>, qty INT";

fn ctx(format: &str) -> FormatContext {
    FormatContext {
        schema: TableSchema::parse_columns(COLUMNS)
            .expect("columns")
            .physical_arrow_schema(),
        options: Options::new(format!("bench ({format})"), RawOptions::new()),
    }
}

/// The corpus as Arrow batches, built through the json format.
fn batches() -> Vec<RecordBatch> {
    let c = ctx("json");
    let mut d = JsonFormatFactory.create_decoder(&c).expect("decoder");
    let mut out = Vec::new();
    for i in 0..RECORDS {
        let r = format!(
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
            i % 1_000_000,
            (i * 3) % 1_000_000,
            i % 500
        );
        d.decode(r.as_bytes(), &RecordOrigin::Unknown)
            .expect("json");
        if d.buffered_rows() == BATCH {
            out.push(d.finish().expect("batch").batch);
        }
    }
    out.push(d.finish().expect("batch").batch);
    out
}

fn bench(c: &mut Criterion) {
    let batches = batches();
    let avro_ctx = ctx("avro");
    let mut records: Vec<Vec<u8>> = Vec::with_capacity(RECORDS);
    let mut enc = AvroFormatFactory
        .create_encoder(&avro_ctx)
        .expect("encoder");
    for b in &batches {
        enc.encode(&ChangelogBatch::inserts(b.clone()), &mut |_, r| {
            records.push(r.to_vec());
            Ok(())
        })
        .expect("encode");
    }
    let bytes: usize = records.iter().map(Vec::len).sum();
    let schema = Schema::parse_str(&table_schema_json(&avro_ctx.schema, true).expect("schema"))
        .expect("parse");
    let values: Vec<Value> = records
        .iter()
        .map(|r| from_avro_datum(&schema, &mut &r[..], None).expect("datum"))
        .collect();

    let mut g = c.benchmark_group("avro");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("headrace_decode_to_arrow", |b| {
        b.iter(|| {
            let mut d = AvroFormatFactory
                .create_decoder(&avro_ctx)
                .expect("decoder");
            let mut rows = 0;
            for r in &records {
                d.decode(r, &RecordOrigin::Unknown).expect("decode");
                if d.buffered_rows() == BATCH {
                    rows += d.finish().expect("finish").num_rows();
                }
            }
            rows += d.finish().expect("finish").num_rows();
            black_box(rows)
        })
    });
    g.bench_function("apache_avro_from_avro_datum", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in &records {
                let v = from_avro_datum(&schema, &mut &r[..], None).expect("datum");
                n += matches!(v, Value::Record(_)) as usize;
            }
            black_box(n)
        })
    });
    g.bench_function("headrace_encode_from_arrow", |b| {
        b.iter(|| {
            let mut e = AvroFormatFactory
                .create_encoder(&avro_ctx)
                .expect("encoder");
            let mut n = 0;
            for batch in &batches {
                e.encode(&ChangelogBatch::inserts(batch.clone()), &mut |_, r| {
                    n += r.len();
                    Ok(())
                })
                .expect("encode");
            }
            black_box(n)
        })
    });
    g.bench_function("apache_avro_to_avro_datum", |b| {
        b.iter(|| {
            let mut n = 0;
            for v in &values {
                n += to_avro_datum(&schema, v.clone()).expect("datum").len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
