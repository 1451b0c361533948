//! Tests of the raw format through its factory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field, Float64Type, Int16Type, Int32Type, Schema};
use headrace_format_raw::{factory, RawDecoder};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::{Decoder, FormatContext};
use headrace_sdk::options::Options;
use headrace_sdk::registry::Registry;

fn ctx(ty: ArrowType, opts: &[(&str, &str)]) -> FormatContext {
    let map: BTreeMap<String, String> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FormatContext {
        schema: Arc::new(Schema::new(vec![Field::new("v", ty, true)])),
        options: Options::new("table 't' (format 'raw')", map),
    }
}

fn origin(line: u64) -> RecordOrigin {
    RecordOrigin::File {
        path: "in.bin".into(),
        line,
    }
}

fn decode_all(c: &FormatContext, records: &[&[u8]]) -> RecordBatch {
    let mut d = factory().create_decoder(c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as u64 + 1)).unwrap();
    }
    assert_eq!(d.buffered_rows(), records.len());
    d.finish().unwrap().batch
}

fn encode_all(c: &FormatContext, batch: RecordBatch) -> Vec<Vec<u8>> {
    let mut e = factory().create_encoder(c).unwrap();
    let mut out = Vec::new();
    e.encode(&ChangelogBatch::inserts(batch), &mut |_, b| {
        out.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn registered() {
    let r = Registry::from_inventory();
    assert_eq!(r.format("raw").unwrap().identifier(), "raw");
    let keys: Vec<&str> = factory().options().all().map(|o| o.key).collect();
    assert_eq!(keys, ["charset", "endianness"]);
}

#[test]
fn bytes_round_trip() {
    let c = ctx(ArrowType::Binary, &[]);
    let recs: Vec<&[u8]> = vec![b"", b"\x00\xff\x10", b"hello"];
    let b = decode_all(&c, &recs);
    let col = b.column(0).as_binary::<i32>();
    assert_eq!(col.value(1), b"\x00\xff\x10");
    assert_eq!(encode_all(&c, b), recs);
}

#[test]
fn utf8_round_trip_and_error() {
    let c = ctx(ArrowType::Utf8, &[]);
    let recs: Vec<&[u8]> = vec!["héllo €".as_bytes(), b""];
    let b = decode_all(&c, &recs);
    assert_eq!(b.column(0).as_string::<i32>().value(0), "héllo €");
    assert_eq!(encode_all(&c, b), recs);
    let mut d = factory().create_decoder(&c).unwrap();
    let e = d.decode(b"ab\xff", &origin(7)).unwrap_err().to_string();
    assert!(e.contains("column 'v'"), "{e}");
    assert!(e.contains("file 'in.bin' line 7"), "{e}");
    assert!(e.contains("UTF-8"), "{e}");
}

#[test]
fn latin1_and_ascii() {
    let c = ctx(ArrowType::Utf8, &[("charset", "ISO-8859-1")]);
    let b = decode_all(&c, &[b"caf\xe9"]);
    assert_eq!(b.column(0).as_string::<i32>().value(0), "café");
    assert_eq!(encode_all(&c, b), vec![b"caf\xe9".to_vec()]);

    let c = ctx(ArrowType::Utf8, &[("charset", "us-ascii")]);
    let mut d = factory().create_decoder(&c).unwrap();
    let e = d.decode(b"caf\xe9", &origin(2)).unwrap_err().to_string();
    assert!(e.contains("US-ASCII") && e.contains("line 2"), "{e}");
    let batch = decode_all(&ctx(ArrowType::Utf8, &[]), &["café".as_bytes()]);
    let mut enc = factory().create_encoder(&c).unwrap();
    let err = enc
        .encode(&ChangelogBatch::inserts(batch), &mut |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("'é'") && err.contains("column 'v'"), "{err}");
}

#[test]
fn unsupported_charset_lists_supported() {
    let e = factory()
        .create_decoder(&ctx(ArrowType::Utf8, &[("charset", "UTF-16")]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("UTF-16") && e.contains("UTF-8, ISO-8859-1, US-ASCII"),
        "{e}"
    );
}

#[test]
fn endianness_applies_to_numbers() {
    let be = ctx(ArrowType::Int32, &[]);
    let le = ctx(ArrowType::Int32, &[("endianness", "little-endian")]);
    let rec: &[u8] = &[0, 0, 1, 2];
    let b = decode_all(&be, &[rec]);
    assert_eq!(b.column(0).as_primitive::<Int32Type>().value(0), 258);
    let l = decode_all(&le, &[rec]);
    assert_eq!(
        l.column(0).as_primitive::<Int32Type>().value(0),
        0x0201_0000
    );
    assert_eq!(encode_all(&le, l), vec![rec.to_vec()]);

    for (ty, rec) in [
        (ArrowType::Int16, vec![0x12u8, 0x34]),
        (ArrowType::Int64, vec![1, 2, 3, 4, 5, 6, 7, 8]),
        (ArrowType::Float64, 1.5f64.to_be_bytes().to_vec()),
        (ArrowType::Float32, 2.25f32.to_be_bytes().to_vec()),
        (ArrowType::Int8, vec![0xfe]),
        (ArrowType::Boolean, vec![1]),
    ] {
        for opt in ["big-endian", "little-endian"] {
            let c = ctx(ty.clone(), &[("endianness", opt)]);
            let b = decode_all(&c, &[&rec]);
            assert_eq!(encode_all(&c, b), vec![rec.clone()], "{ty} {opt}");
        }
    }
    let b = decode_all(&ctx(ArrowType::Float64, &[]), &[&1.5f64.to_be_bytes()]);
    assert_eq!(b.column(0).as_primitive::<Float64Type>().value(0), 1.5);
    let b = decode_all(
        &ctx(ArrowType::Int16, &[("endianness", "little-endian")]),
        &[&[0x34, 0x12]],
    );
    assert_eq!(b.column(0).as_primitive::<Int16Type>().value(0), 0x1234);
}

#[test]
fn wrong_length_names_column_and_origin() {
    let mut d = factory()
        .create_decoder(&ctx(ArrowType::Int64, &[]))
        .unwrap();
    let e = d.decode(&[1, 2, 3], &origin(3)).unwrap_err().to_string();
    assert!(e.contains("column 'v'") && e.contains("8 bytes"), "{e}");
    assert!(e.contains("file 'in.bin' line 3"), "{e}");
}

#[test]
fn nulls_are_written_as_empty_records() {
    let c = ctx(ArrowType::Int64, &[]);
    let arr = arrow::array::Int64Array::from(vec![Some(1), None]);
    let b = RecordBatch::try_new(c.schema.clone(), vec![Arc::new(arr)]).unwrap();
    let out = encode_all(&c, b);
    assert_eq!(out, vec![1i64.to_be_bytes().to_vec(), vec![]]);
}

#[test]
fn schema_errors_name_the_column() {
    let e = factory()
        .create_decoder(&ctx(ArrowType::Date32, &[]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("column 'v'") && e.contains("DATE"), "{e}");
    let two = FormatContext {
        schema: Arc::new(Schema::new(vec![
            Field::new("a", ArrowType::Utf8, true),
            Field::new("b", ArrowType::Utf8, true),
        ])),
        options: Options::new("t", BTreeMap::new()),
    };
    let e = factory().create_encoder(&two).err().unwrap().to_string();
    assert!(e.contains("exactly one") && e.contains("a, b"), "{e}");
}

#[test]
fn random_input_never_panics() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for ty in [
        ArrowType::Binary,
        ArrowType::Utf8,
        ArrowType::Int32,
        ArrowType::Float64,
        ArrowType::Boolean,
    ] {
        for cs in ["UTF-8", "ISO-8859-1", "US-ASCII"] {
            let mut d = RawDecoder::new(&ctx(ty.clone(), &[("charset", cs)])).unwrap();
            let mut ok = 0;
            for i in 0..1000 {
                let len = (next() % 12) as usize;
                let rec: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if d.decode(&rec, &origin(i)).is_ok() {
                    ok += 1;
                }
            }
            assert_eq!(d.finish().unwrap().num_rows(), ok);
        }
    }
}
