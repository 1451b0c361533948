//! Decoding 100,000 CSV records of mixed types into Arrow batches, against the `csv` crate's
//! serde `deserialize` into a plain struct on the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema, TimeUnit};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use headrace_format_csv::CsvDecoder;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{Decoder, FormatContext};
use headrace_sdk::options::Options;

const ROWS: usize = 100_000;
const BATCH: usize = 8192;

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Rec {
    id: i64,
    name: String,
    price: f64,
    qty: i32,
    active: bool,
    amount: f64,
    day: String,
    ts: String,
}

fn lines() -> Vec<String> {
    let mut seed = 42u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..ROWS)
        .map(|i| {
            let r = next();
            format!(
                "{i},customer-{},{}.{:02},{},{},{}.{:02},2024-{:02}-{:02},2024-03-{:02} {:02}:{:02}:{:02}.{:03}",
                r % 10_000,
                r % 1000,
                (r >> 10) % 100,
                (r >> 20) % 500,
                (r >> 30) % 2 == 0,
                (r >> 31) % 100_000,
                (r >> 40) % 100,
                (r >> 41) % 12 + 1,
                (r >> 45) % 28 + 1,
                (r >> 50) % 28 + 1,
                (r >> 52) % 24,
                (r >> 54) % 60,
                (r >> 56) % 60,
                r % 1000,
            )
        })
        .collect()
}

fn ctx() -> FormatContext {
    FormatContext {
        schema: Arc::new(Schema::new(vec![
            Field::new("id", ArrowType::Int64, false),
            Field::new("name", ArrowType::Utf8, true),
            Field::new("price", ArrowType::Float64, true),
            Field::new("qty", ArrowType::Int32, true),
            Field::new("active", ArrowType::Boolean, true),
            Field::new("amount", ArrowType::Decimal128(12, 2), true),
            Field::new("day", ArrowType::Date32, true),
            Field::new(
                "ts",
                ArrowType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ])),
        options: Options::new("bench", BTreeMap::new()),
    }
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let joined = lines.join("\n");
    let bytes = joined.len() as u64;
    let ctx = ctx();
    let origin = RecordOrigin::Other("bench".into());
    let mut g = c.benchmark_group("csv_100k_mixed");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("headrace_arrow", |b| {
        b.iter(|| {
            let mut d = CsvDecoder::new(&ctx).unwrap();
            let mut rows = 0;
            for l in &lines {
                d.decode(l.as_bytes(), &origin).unwrap();
                if d.buffered_rows() == BATCH {
                    rows += d.finish().unwrap().num_rows();
                }
            }
            rows += d.finish().unwrap().num_rows();
            assert_eq!(rows, ROWS);
            black_box(rows)
        })
    });
    g.bench_function("csv_serde_struct", |b| {
        b.iter(|| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(joined.as_bytes());
            let mut n = 0;
            for rec in r.deserialize::<Rec>() {
                black_box(rec.unwrap());
                n += 1;
            }
            assert_eq!(n, ROWS);
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
