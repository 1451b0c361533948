//! Every Flink type is generated with the right Arrow type, within its bounds, with the requested
//! share of NULLs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use arrow::array::{
    Array, AsArray, BinaryArray, Decimal128Array, Float64Array, Int32Array, Int8Array, MapArray,
    StringArray, StructArray, TimestampMillisecondArray,
};
use arrow::datatypes::{Float32Type, Int16Type, Int32Type, Int64Type};
use common::{build, builder, concat, run};
use headrace_connector_datagen::source::SEEDED_REFERENCE_MS;
use headrace_sdk::prelude::*;

const COLUMNS: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, \
    dcm DECIMAL(10, 2), c CHAR(5), vc VARCHAR(20), s STRING, bin BINARY(4), vb VARBINARY(10), \
    byt BYTES, dt DATE, t0 TIME, t3 TIME(3), ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), \
    ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), ltz TIMESTAMP_LTZ(3), arr ARRAY<INT>, \
    m MAP<STRING, BIGINT>, ms MULTISET<TINYINT>, r ROW<x INT, y ARRAY<STRING>, z ROW<q DOUBLE>>";

const ROWS: usize = 20_000;

fn all_types(null_rate: &str) -> RecordBatch {
    let schema = TableSchema::parse_columns(COLUMNS).unwrap();
    let mut b = builder()
        .schema(schema.clone())
        .number_of_rows(ROWS as i64)
        .rows_per_second(1_000_000_000_i64)
        .seed(1)
        .field("ti", "min", "-3")
        .field("ti", "max", "3")
        .field("d", "min", "-1.5")
        .field("d", "max", "2.5")
        .field("dcm", "min", "-10.25")
        .field("dcm", "max", "10.75")
        .field("vb", "var-len", "true")
        .field("vb", "length", "6")
        .field("ts3", "max-past", "1 h")
        .field("arr", "length", "4")
        .field("arr.element", "min", "100")
        .field("arr.element", "max", "199")
        .field("m.key", "length", "1")
        .field("ms.element", "min", "0")
        .field("ms.element", "max", "1")
        .field("r.y", "length", "2")
        .field("r.y.element", "length", "3");
    for c in &schema.columns {
        b = b.field(&c.name, "null-rate", null_rate);
    }
    let source = build(b).unwrap();
    let batches: Vec<RecordBatch> = futures_lite_block_on(run(&source, 2, 1024)).concat();
    let all = concat(&batches);
    assert_eq!(
        all.schema(),
        schema.physical_arrow_schema(),
        "Arrow types follow the SDK"
    );
    assert_eq!(all.schema(), source.produced_schema());
    all
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn every_type_with_nulls_at_the_requested_rate() {
    let all = all_types("0.25");
    assert_eq!(all.num_rows(), ROWS);
    for (i, f) in all.schema().fields().iter().enumerate() {
        let share = all.column(i).null_count() as f64 / ROWS as f64;
        assert!(
            (0.22..=0.28).contains(&share),
            "column {} has {share} NULLs instead of about 0.25",
            f.name()
        );
    }
}

#[test]
fn every_type_without_nulls_and_within_bounds() {
    let all = all_types("0");
    for (i, f) in all.schema().fields().iter().enumerate() {
        assert_eq!(all.column(i).null_count(), 0, "column {}", f.name());
    }
    let col = |n: &str| all.column_by_name(n).unwrap().clone();

    let b = col("b");
    let trues = b.as_boolean().true_count();
    assert!((ROWS * 4 / 10..ROWS * 6 / 10).contains(&trues), "{trues}");

    let ti = col("ti");
    let ti = ti.as_any().downcast_ref::<Int8Array>().unwrap();
    let seen: HashSet<i8> = ti.values().iter().copied().collect();
    assert_eq!(seen, (-3..=3).collect(), "min and max are inclusive");

    let si = col("si");
    assert!(si
        .as_primitive::<Int16Type>()
        .values()
        .iter()
        .any(|v| *v < -1000));
    assert!(col("i")
        .as_primitive::<Int32Type>()
        .values()
        .iter()
        .any(|v| *v > 1 << 30));
    assert!(col("bi")
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .any(|v| *v < -(1 << 62)));
    assert!(col("f")
        .as_primitive::<Float32Type>()
        .values()
        .iter()
        .all(|v| *v > 0.0 && v.is_finite()));

    let d = col("d");
    let d = d.as_any().downcast_ref::<Float64Array>().unwrap();
    assert!(d.values().iter().all(|v| (-1.5..2.5).contains(v)));
    assert!(d.values().iter().any(|v| *v < -1.0) && d.values().iter().any(|v| *v > 2.0));

    let dcm = col("dcm");
    let dcm = dcm.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!((dcm.precision(), dcm.scale()), (10, 2));
    assert!(dcm.values().iter().all(|v| (-1025..=1075).contains(v)));
    assert!(dcm.values().iter().any(|v| *v < -1000) && dcm.values().iter().any(|v| *v > 1050));

    let strings = |n: &str| -> Vec<String> {
        let a = col(n);
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        a.iter().map(|s| s.unwrap().to_string()).collect()
    };
    let hex = |s: &String| {
        s.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    };
    assert!(
        strings("c").iter().all(|s| s.len() == 5 && hex(s)),
        "CHAR(5) has length 5"
    );
    assert!(
        strings("vc").iter().all(|s| s.len() == 20 && hex(s)),
        "VARCHAR(20): min(100, 20)"
    );
    let s = strings("s");
    assert!(
        s.iter().all(|s| s.len() == 100 && hex(s)),
        "STRING: length 100"
    );
    assert!(
        s.iter().collect::<HashSet<_>>().len() == ROWS,
        "random strings differ"
    );

    let bytes = |n: &str| -> Vec<Vec<u8>> {
        let a = col(n);
        let a = a.as_any().downcast_ref::<BinaryArray>().unwrap();
        a.iter().map(|s| s.unwrap().to_vec()).collect()
    };
    assert!(bytes("bin").iter().all(|b| b.len() == 4));
    let vb = bytes("vb");
    let lens: HashSet<usize> = vb.iter().map(Vec::len).collect();
    assert_eq!(
        lens,
        (1..=6).collect(),
        "var-len lengths are uniform in 1..=length"
    );
    assert!(bytes("byt").iter().all(|b| b.len() == 100));

    let day = (SEEDED_REFERENCE_MS / 86_400_000) as i32;
    assert!(col("dt")
        .as_primitive::<arrow::datatypes::Date32Type>()
        .values()
        .iter()
        .all(|v| *v == day));
    assert_eq!(
        col("t0").data_type(),
        &arrow::datatypes::DataType::Time32(arrow::datatypes::TimeUnit::Second)
    );

    let ts3 = col("ts3");
    let ts3 = ts3
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap();
    let hour = 3_600_000;
    assert!(ts3
        .values()
        .iter()
        .all(|v| (SEEDED_REFERENCE_MS - hour..=SEEDED_REFERENCE_MS).contains(v)));
    assert!(ts3
        .values()
        .iter()
        .any(|v| *v < SEEDED_REFERENCE_MS - hour / 2));
    let ts9 = col("ts9");
    assert!(
        ts9.as_primitive::<arrow::datatypes::TimestampNanosecondType>()
            .values()
            .iter()
            .all(|v| *v == SEEDED_REFERENCE_MS * 1_000_000),
        "max-past 0: now"
    );
    assert!(col("ts0")
        .as_primitive::<arrow::datatypes::TimestampSecondType>()
        .values()
        .iter()
        .all(|v| *v == SEEDED_REFERENCE_MS / 1000));

    let arr = col("arr");
    let arr = arr.as_list::<i32>();
    assert!((0..ROWS).all(|i| arr.value_length(i) == 4));
    let elems = arr
        .values()
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap()
        .clone();
    assert!(elems.values().iter().all(|v| (100..=199).contains(v)));

    let m = col("m");
    let m = m.as_any().downcast_ref::<MapArray>().unwrap();
    let mut shrunk = 0;
    for i in 0..ROWS {
        let e = m.value(i);
        let keys = e.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let distinct: HashSet<&str> = keys.iter().map(|k| k.unwrap()).collect();
        assert_eq!(distinct.len(), keys.len(), "map keys are unique");
        assert!((1..=3).contains(&keys.len()));
        shrunk += usize::from(keys.len() < 3);
    }
    assert!(
        shrunk > 0,
        "1-character keys repeat, so some maps lose entries"
    );

    let ms = col("ms");
    let ms = ms.as_any().downcast_ref::<MapArray>().unwrap();
    for i in 0..ROWS {
        let e = ms.value(i);
        assert!((1..=2).contains(&e.len()), "two possible elements");
        let counts = e.column(1).as_primitive::<Int32Type>();
        assert!(counts.values().iter().all(|c| (1..=10).contains(c)));
    }

    let r = col("r");
    let r = r.as_any().downcast_ref::<StructArray>().unwrap();
    let y = r.column(1).as_list::<i32>();
    assert!((0..ROWS).all(|i| y.value_length(i) == 2));
    let ys = y.values().as_any().downcast_ref::<StringArray>().unwrap();
    assert!(ys.iter().all(|s| s.unwrap().len() == 3));
    assert_eq!(r.column(2).as_struct().num_columns(), 1);
}

#[test]
fn all_nulls_and_row_view() {
    let source = build(
        builder()
            .columns("a INT, b STRING NOT NULL, c ARRAY<INT NOT NULL>")
            .unwrap()
            .field("a", "null-rate", "1")
            .field("b", "length", "3")
            .number_of_rows(5)
            .seed(3),
    )
    .unwrap();
    let all = concat(&futures_lite_block_on(run(&source, 1, 10)).concat());
    assert_eq!(all.column(0).null_count(), 5);
    let rows = headrace_sdk::row::rows(&ChangelogBatch::inserts(all)).unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows[0].to_string().starts_with("+I[null, "), "{}", rows[0]);
}

#[test]
fn sequences_of_every_supported_type() {
    let source = build(
        builder()
            .columns(
                "t TINYINT, s SMALLINT, i INT, b BIGINT, f FLOAT, d DOUBLE, m DECIMAL(6, 2), \
                 c CHAR(3), v STRING, y BYTES",
            )
            .unwrap()
            .field("t", "kind", "sequence")
            .field("t", "start", "-2")
            .field("t", "end", "120")
            .field("s", "kind", "sequence")
            .field("s", "start", "1000")
            .field("s", "end", "2000")
            .field("i", "kind", "sequence")
            .field("i", "start", "5")
            .field("i", "end", "500")
            .field("b", "kind", "sequence")
            .field("b", "start", "-9223372036854775808")
            .field("b", "end", "9223372036854775807")
            .field("f", "kind", "sequence")
            .field("f", "start", "0.5")
            .field("f", "end", "1000")
            .field("d", "kind", "sequence")
            .field("d", "start", "-1.25")
            .field("d", "end", "1000")
            .field("m", "kind", "sequence")
            .field("m", "start", "1.50")
            .field("m", "end", "9999.99")
            .field("c", "kind", "sequence")
            .field("c", "start", "-3")
            .field("c", "end", "1000")
            .field("v", "kind", "sequence")
            .field("v", "start", "7")
            .field("v", "end", "1000")
            .field("y", "kind", "sequence")
            .field("y", "start", "0")
            .field("y", "end", "1000")
            .rows_per_second(1_000_000_000_i64),
    )
    .unwrap();
    let all = concat(&futures_lite_block_on(run(&source, 1, 50)).concat());
    assert_eq!(
        all.num_rows(),
        123,
        "TINYINT -2..=120 is the shortest sequence"
    );
    let rows = headrace_sdk::row::rows(&ChangelogBatch::inserts(all)).unwrap();
    assert_eq!(
        rows[0].to_string(),
        "+I[-2, 1000, 5, -9223372036854775808, 0.5, -1.25, 150, -3, 7, [48]]"
    );
    assert_eq!(
        rows[122].to_string(),
        "+I[120, 1122, 127, -9223372036854775686, 122.5, 120.75, 12350, 119, 129, [49, 50, 50]]"
    );
}

#[test]
fn widest_decimals() {
    let nines = "9".repeat(38);
    let source = build(
        builder()
            .columns("w DECIMAL(38, 0), n DECIMAL(38, 38)")
            .unwrap()
            .field("w", "min", format!("-{nines}"))
            .field("w", "max", nines.clone())
            .field("n", "min", format!("-0.{nines}"))
            .number_of_rows(5000)
            .seed(5),
    )
    .unwrap();
    let all = concat(&futures_lite_block_on(run(&source, 1, 1000)).concat());
    let limit = 10i128.pow(38);
    for c in 0..2 {
        let a = all
            .column(c)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert!(a.values().iter().all(|v| -limit < *v && *v < limit));
        assert!(
            a.values().iter().any(|v| *v < -limit / 2),
            "negative half reached"
        );
        assert!(
            a.values().iter().any(|v| *v > limit / 2),
            "positive half reached"
        );
    }
}
