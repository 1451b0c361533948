//! A decimal with more digits than the column's precision reads as NULL, as Flink's
//! `AvroToRowDataConverters` (`DecimalData.fromUnscaledBytes` returns null when the precision
//! overflows); a NOT NULL column cannot hold that NULL, so there it is a bad record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Decimal128Type;
use common::*;
use headrace_format_avro::avro::AvroConfig;
use headrace_format_avro::{read_file, AvroFileWriter, AvroFormatFactory};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::format::FormatFactory;
use serde_json::json;

/// Values written as DECIMAL(12, 2): two fit DECIMAL(5, 2), one has 10 digits, one is negative
/// with 7.
fn wide() -> arrow::array::RecordBatch {
    wide_as("id INT NOT NULL, d DECIMAL(12, 2)")
}

fn wide_as(cols: &str) -> arrow::array::RecordBatch {
    rows(
        cols,
        &[
            json!({"id": 1, "d": 123.45}),
            json!({"id": 2, "d": 12345678.9}),
            json!({"id": 3, "d": -12345.67}),
            json!({"id": 4, "d": -999.99}),
        ],
    )
}

fn decimals(b: &arrow::array::RecordBatch) -> Vec<Option<i128>> {
    let a = b.column(1).as_primitive::<Decimal128Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

fn records(input: arrow::array::RecordBatch) -> Vec<Vec<u8>> {
    let mut e = AvroFormatFactory
        .create_encoder(&ctx(input.schema(), "avro", &[]))
        .unwrap();
    let mut records = Vec::new();
    e.encode(&ChangelogBatch::inserts(input), &mut |_, b| {
        records.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    records
}

#[test]
fn single_records_read_an_overflowing_decimal_as_null() {
    let records = records(wide());
    // The bytes of a decimal do not depend on its precision: read them as DECIMAL(5, 2).
    let narrow = schema("id INT NOT NULL, d DECIMAL(5, 2)");
    let mut d = AvroFormatFactory
        .create_decoder(&ctx(narrow, "avro", &[]))
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as i64)).unwrap();
    }
    let got = d.finish().unwrap().batch;
    assert_eq!(decimals(&got), vec![Some(12345), None, None, Some(-99999)]);
    // NOT NULL: the record is bad, and says why.
    let records = self::records(wide_as("id INT NOT NULL, d DECIMAL(12, 2) NOT NULL"));
    let strict = schema("id INT NOT NULL, d DECIMAL(5, 2) NOT NULL");
    let mut d = AvroFormatFactory
        .create_decoder(&ctx(strict, "avro", &[]))
        .unwrap();
    d.decode(&records[0], &origin(0)).unwrap();
    let e = d.decode(&records[1], &origin(1)).unwrap_err().to_string();
    assert!(e.contains("more digits than the column's precision"), "{e}");
    assert!(e.contains("offset 1"), "{e}");
    assert_eq!(d.buffered_rows(), 1);
}

#[test]
fn files_read_an_overflowing_decimal_as_null() {
    let input = wide();
    let wc = ctx(input.schema(), "avro", &[]);
    let mut w = AvroFileWriter::new(
        Vec::new(),
        &input.schema(),
        &AvroConfig::from_context(&wc).unwrap(),
        "wide.avro",
    )
    .unwrap();
    w.write(&input).unwrap();
    let bytes = w.finish().unwrap();
    let narrow = schema("id INT NOT NULL, d DECIMAL(5, 2)");
    let config = AvroConfig::from_context(&ctx(narrow.clone(), "avro", &[])).unwrap();
    let mut got = Vec::new();
    read_file(&bytes[..], &narrow, &config, "wide.avro", 100, &mut |b| {
        got.push(b.batch);
        Ok(())
    })
    .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        decimals(&got[0]),
        vec![Some(12345), None, None, Some(-99999)]
    );
    // The same file read as DECIMAL(12, 2): every value.
    let config = AvroConfig::from_context(&wc).unwrap();
    let mut same = Vec::new();
    read_file(
        &bytes[..],
        &input.schema(),
        &config,
        "wide.avro",
        100,
        &mut |b| {
            same.push(b.batch);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        decimals(&same[0]),
        vec![Some(12345), Some(1234567890), Some(-1234567), Some(-99999)]
    );
}
