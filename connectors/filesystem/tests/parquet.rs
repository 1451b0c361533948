//! `'format' = 'parquet'`: every Flink type through the sink and back through the source,
//! projection and type checks on foreign files, partitions, row-group splits restored mid-way,
//! exactly-once part files, options, and (when a Python venv with pyarrow and DuckDB exists)
//! reading the files with other tools.

#![cfg(feature = "parquet")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use common::{
    display_rows, in_progress_files, json_batch, read_across_a_crash, reader_ctx, rows, run,
    visible_files, write_checkpoints, writer_ctx, Files,
};
use headrace_connector_filesystem::{FileSplit, ParquetFormat};
use headrace_format_json::FLINK_TYPE_METADATA_KEY;
use headrace_sdk::prelude::*;
use headrace_sdk::source::SplitState;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// Every Flink type (TIMESTAMP_LTZ twice, at two precisions).
const ALL: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, \
    dec DECIMAL(10, 3), dec38 DECIMAL(38, 10), c CHAR(3), vc VARCHAR(10), s STRING, \
    bin BINARY(4), vb BYTES, dt DATE, t0 TIME, t3 TIME(3), t6 TIME(6), t9 TIME(9), \
    ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), \
    ltz TIMESTAMP_LTZ(3), ltz6 TIMESTAMP_LTZ(6), arr ARRAY<INT>, m MAP<STRING, BIGINT>, \
    ms MULTISET<STRING>, r ROW<x INT, y STRING>, \
    nested ARRAY<ROW<a TIMESTAMP(0), b ARRAY<STRING>, c MAP<STRING, DOUBLE>>>";

const NAMES: [&str; 30] = [
    "b", "ti", "si", "i", "bi", "f", "d", "dec", "dec38", "c", "vc", "s", "bin", "vb", "dt", "t0",
    "t3", "t6", "t9", "ts0", "ts3", "ts6", "ts9", "ltz", "ltz6", "arr", "m", "ms", "r", "nested",
];

const FULL: &str = r#"{"b":true,"ti":-8,"si":300,"i":-70000,"bi":9007199254740993,"f":1.5,"d":1234.5678,"dec":12.345,"dec38":1234567890123456789012345678.0123456789,"c":"abc","vc":"h\u00e9 \"q\"","s":"line\nbreak","bin":"AQID/w==","vb":"","dt":"2026-11-25","t0":"12:34:56","t3":"12:34:56.123","t6":"12:34:56.123456","t9":"12:34:56.123456789","ts0":"2026-11-25 12:34:56","ts3":"2026-11-25 12:34:56.123","ts6":"2026-11-25 12:34:56.123456","ts9":"2026-11-25 12:34:56.123456789","ltz":"2026-11-25 12:34:56.123Z","ltz6":"1969-07-20 20:17:40.000001Z","arr":[1,null,3],"m":{"a":1,"b":null},"ms":{"x":2},"r":{"x":7,"y":"why"},"nested":[{"a":"2000-01-01 00:00:01","b":["p",null],"c":{"k":0.5}},null,{"a":null,"b":null,"c":{}}]}"#;

fn registry() -> Registry {
    common::registry()
        .with_format(ParquetFormat)
        .with_format(headrace_format_json::JsonFormatFactory)
}

fn source(dir: &Path, columns: &str, partitions: &[&str]) -> Arc<dyn DynamicSource> {
    source_with(dir, columns, partitions, &[])
}

fn source_with(
    dir: &Path,
    columns: &str,
    partitions: &[&str],
    options: &[(&str, &str)],
) -> Arc<dyn DynamicSource> {
    PARQUET
        .try_source(dir, columns, partitions, options)
        .unwrap()
}

/// Parquet tables.
const PARQUET: Files = Files {
    registry,
    format: "parquet",
};

/// JSON `lines` as a batch of `columns`; the columns named in `ltz` are read as TIMESTAMP_LTZ
/// (of precision 6 for `ltz6`, else 3).
fn json_ltz_batch(columns: &str, ltz: &[&str], lines: &[&str]) -> RecordBatch {
    json_batch(columns, lines, |f| {
        if ltz.contains(&f.name().as_str()) {
            let p = if f.name() == "ltz6" { 6 } else { 3 };
            f.with_metadata(HashMap::from([(
                FLINK_TYPE_METADATA_KEY.to_string(),
                format!("TIMESTAMP_LTZ({p})"),
            )]))
        } else {
            f
        }
    })
}

fn all_null() -> String {
    let body: Vec<String> = NAMES.iter().map(|n| format!("\"{n}\":null")).collect();
    format!("{{{}}}", body.join(","))
}

/// Write `batches` with the sink, one checkpoint after each, committing each.
async fn write_committed(
    sink: &Arc<dyn DynamicSink>,
    dir: &Path,
    batches: Vec<RecordBatch>,
) -> usize {
    write_checkpoints(sink, dir, batches.into_iter().map(|b| vec![b]).collect()).await
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    visible_files(dir)
        .into_iter()
        .map(|f| dir.join(f))
        .collect()
}

#[tokio::test]
async fn every_flink_type_round_trips_through_parquet_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("all");
    let nulls = all_null();
    let input = json_ltz_batch(ALL, &["ltz", "ltz6"], &[FULL, &nulls, "{}", FULL]);
    let sink = PARQUET.try_sink(&dir, ALL, &[], &[]).unwrap();
    let files = write_committed(&sink, &dir, vec![input.slice(0, 2), input.slice(2, 2)]).await;
    assert_eq!(files, 2, "one part file per checkpoint");
    assert!(in_progress_files(&dir).is_empty());

    let src = source(&dir, ALL, &[]);
    let out = run(&src, 1, 1024).await;
    let out = concat(&out[0]);
    assert_eq!(out.num_rows(), 4);
    // Files are listed in path order; part files of one writer sort by their counter.
    for (i, name) in NAMES.iter().enumerate() {
        assert_eq!(
            out.schema().field(i).data_type(),
            input.schema().field(i).data_type(),
            "type of {name}"
        );
        assert_eq!(
            out.column(i).to_data(),
            input.column(i).to_data(),
            "values of {name}"
        );
    }

    // The Parquet types other tools see.
    let f = std::fs::File::open(&parquet_files(&dir)[0]).unwrap();
    let r = SerializedFileReader::new(f).unwrap();
    let schema = r.metadata().file_metadata().schema_descr_ptr();
    let logical = |name: &str| {
        let col = schema
            .columns()
            .iter()
            .find(|c| c.path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        format!("{:?} {:?}", col.physical_type(), col.logical_type_ref())
    };
    let has = |name: &str, parts: &[&str]| {
        let l = logical(name);
        assert!(
            parts.iter().all(|p| l.contains(p)),
            "{name}: {l}, expected {parts:?}"
        );
    };
    for (name, unit) in [
        ("ts0", "MILLIS"),
        ("ts3", "MILLIS"),
        ("ts6", "MICROS"),
        ("ts9", "NANOS"),
    ] {
        has(
            name,
            &["INT64", "Timestamp", "adjusted_to_u_t_c: false", unit],
        );
    }
    for (name, unit) in [("ltz", "MILLIS"), ("ltz6", "MICROS")] {
        has(
            name,
            &["INT64", "Timestamp", "adjusted_to_u_t_c: true", unit],
        );
    }
    has("t0", &["INT32", "Time", "MILLIS"]);
    has("t6", &["INT64", "Time", "MICROS"]);
    has("dec", &["Decimal", "scale: 3", "precision: 10"]);
    has(
        "dec38",
        &[
            "FIXED_LEN_BYTE_ARRAY",
            "Decimal",
            "scale: 10",
            "precision: 38",
        ],
    );
    has("dt", &["INT32", "Date"]);
    has("s", &["BYTE_ARRAY", "String"]);
    has("ti", &["INT32", "Integer", "bit_width: 8"]);
    // Flink's default codec.
    let rg = r.metadata().row_group(0);
    assert_eq!(
        rg.column(0).compression(),
        parquet::basic::Compression::SNAPPY
    );
}

/// Write a Parquet file directly (as another tool would).
fn write_foreign(path: &Path, batch: &RecordBatch, rows_per_group: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn foreign_batch(n: i32) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", ArrowType::Int32, false),
        Field::new("extra", ArrowType::Utf8, true),
        Field::new("b", ArrowType::Utf8, true),
        Field::new("blob", ArrowType::Binary, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from((0..n).collect::<Vec<_>>())),
        Arc::new(StringArray::from(
            (0..n).map(|i| format!("x{i}")).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            (0..n).map(|i| format!("b{i}")).collect::<Vec<_>>(),
        )),
        Arc::new(BinaryArray::from(
            (0..n).map(|_| &b"payload"[..]).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

#[tokio::test]
async fn projection_reads_a_subset_by_name_and_checks_types() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    write_foreign(&dir.join("f.parquet"), &foreign_batch(10), 4);

    // Declared in another order, with a wider integer type; 'extra' and 'blob' are not read.
    let src = source(
        &dir,
        "b STRING, a BIGINT NOT NULL, file STRING METADATA FROM 'file.name' VIRTUAL",
        &[],
    );
    let out = run(&src, 1, 100).await;
    assert_eq!(out[0].len(), 3, "one batch per row group (4 + 4 + 2 rows)");
    let r = rows(&out[0]);
    assert_eq!(r.len(), 10);
    assert_eq!(r[3], vec!["b3", "3", "f.parquet"]);
    assert_eq!(concat(&out[0]).column(1).data_type(), &ArrowType::Int64);

    // A missing column is named.
    let e = read_error(&dir, "a INT, nope STRING", false).await;
    assert!(
        e.contains("has no column 'nope'") && e.contains("f.parquet"),
        "{e}"
    );
    assert!(e.contains("a, extra, b, blob"), "{e}");

    // An incompatible type is named.
    let e = read_error(&dir, "a DATE", false).await;
    assert!(
        e.contains("column 'a'") && e.contains("Int32") && e.contains("Date32"),
        "{e}"
    );

    // A narrower integer is refused too.
    let e = read_error(&dir, "a SMALLINT", false).await;
    assert!(e.contains("column 'a'"), "{e}");

    // A file that is not Parquet is a bad record named by the file (its footer does not read)
    // when its reader gets to it (under 'fail': the error).
    common::write(&dir.join("junk.parquet"), "not parquet\n");
    let e = read_error(&dir, "a INT", true).await;
    assert!(
        e.contains("junk.parquet' row group 0") && e.contains("footer"),
        "{e}"
    );
}

/// The error one reader (batches of 100 rows) of the files below `dir` read as `columns` gets;
/// with `after_rows`, batches may come before it.
async fn read_error(dir: &Path, columns: &str, after_rows: bool) -> String {
    let src = source(dir, columns, &[]);
    let mut en = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut reader = src.create_reader(reader_ctx(0, 1, 100)).unwrap();
    loop {
        match reader.poll_next().await {
            Err(e) => return e.to_string(),
            Ok(ReadEvent::NeedSplits) => match en.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(s) => reader.add_splits(s).unwrap(),
                other => panic!("unexpected {other:?}"),
            },
            Ok(ReadEvent::Batch(_)) if after_rows => {}
            Ok(other) => panic!("expected an error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn partitioned_write_and_read_with_small_row_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let cols = "id BIGINT NOT NULL, msg STRING, dt STRING, h INT";
    let n = 3000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", ArrowType::Int64, false),
        Field::new("msg", ArrowType::Utf8, true),
        Field::new("dt", ArrowType::Utf8, true),
        Field::new("h", ArrowType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| format!("message number {i}"))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| (i % 3 != 2).then(|| format!("2026-11-2{}", i % 3)))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int32Array::from(
                (0..n).map(|i| (i % 2) as i32).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let sink = PARQUET
        .try_sink(
            &dir,
            cols,
            &["dt", "h"],
            &[
                ("parquet.block.size", "4 kb"),
                ("parquet.compression", "zstd"),
            ],
        )
        .unwrap();
    let chunks = |from: usize| (0..15).map(|k| batch.slice(from + k * 100, 100)).collect();
    write_checkpoints(&sink, &dir, vec![chunks(0), chunks(1500)]).await;
    let files = visible_files(&dir);
    assert_eq!(files.len(), 12, "6 partitions, 2 checkpoints: {files:?}");
    assert!(files
        .iter()
        .any(|f| f.starts_with("dt=__DEFAULT_PARTITION__/h=0")));
    // Small row groups: several per file, each a split.
    let f = std::fs::File::open(dir.join(&files[0])).unwrap();
    let r = SerializedFileReader::new(f).unwrap();
    assert!(
        r.metadata().num_row_groups() > 1,
        "row groups: {}",
        r.metadata().num_row_groups()
    );
    assert!(matches!(
        r.metadata().row_group(0).column(0).compression(),
        parquet::basic::Compression::ZSTD(_)
    ));

    let src = source(&dir, cols, &["dt", "h"]);
    let out = run(&src, 2, 256).await;
    assert!(
        !out[0].is_empty() && !out[1].is_empty(),
        "both readers got row groups"
    );
    let mut got = rows(&out.concat());
    got.sort_by_key(|r| r[0].parse::<i64>().unwrap());
    assert_eq!(got.len(), n as usize);
    for (i, r) in got.iter().enumerate() {
        let i = i as i64;
        let dt = if i % 3 == 2 {
            "NULL".to_string()
        } else {
            format!("2026-11-2{}", i % 3)
        };
        assert_eq!(
            r,
            &vec![
                i.to_string(),
                format!("message number {i}"),
                dt,
                (i % 2).to_string()
            ]
        );
    }
}

#[tokio::test]
async fn checkpoint_mid_row_group_restores_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    write_foreign(&dir.join("a.parquet"), &foreign_batch(100), 50);
    write_foreign(&dir.join("b.parquet"), &foreign_batch(30), 50);
    let src = source(&dir, "a INT", &[]);
    // 20 + 20 + 10 rows of row group 0, then 20 of row group 1.
    let (first, rest) = read_across_a_crash(&src, 20, 4, |split| {
        let s = FileSplit::from_split(split).unwrap();
        assert_eq!((s.row_group, s.line), (Some(1), 20));
        assert!(split.id.ends_with("a.parquet#row-group-1"), "{}", split.id);
    })
    .await;
    let mut ids: Vec<i64> = rows(&first)
        .into_iter()
        .chain(rows(&rest))
        .map(|r| r[0].parse().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<i64> = (0..100).chain(0..30).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "no gap, no duplicate");
}

#[tokio::test]
async fn uncommitted_parquet_part_files_are_discarded_on_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let cols = "a INT NOT NULL, extra STRING, b STRING, blob BYTES";
    let sink = PARQUET.try_sink(&dir, cols, &[], &[]).unwrap();
    let mut w = sink.create_writer(writer_ctx(0)).unwrap();
    let mut c = sink.create_committer().unwrap().unwrap();
    let b = foreign_batch(10);
    let b = RecordBatch::try_new(sink.consumed_schema(), b.columns().to_vec()).unwrap();
    w.write(ChangelogBatch::inserts(b.clone())).await.unwrap();
    w.flush(false).await.unwrap();
    assert!(visible_files(&dir).is_empty());
    let cm = w.prepare_commit(1).await.unwrap();
    c.commit(1, cm.clone()).await.unwrap();
    c.commit(1, cm).await.unwrap(); // idempotent
    w.write(ChangelogBatch::inserts(b.clone())).await.unwrap();
    w.flush(false).await.unwrap();
    let _never_committed = w.prepare_commit(2).await.unwrap();
    w.write(ChangelogBatch::inserts(b)).await.unwrap();
    drop(w);
    assert_eq!(in_progress_files(&dir).len(), 2);
    let _w = sink.create_writer(writer_ctx(0)).unwrap();
    assert!(in_progress_files(&dir).is_empty());
    assert_eq!(visible_files(&dir).len(), 1);
    let out = run(&source(&dir, cols, &[]), 1, 100).await;
    assert_eq!(rows(&out[0]).len(), 10);
}

#[test]
fn options_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let e = PARQUET
        .try_sink(dir, "a INT", &[], &[("parquet.compression", "gzip")])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("parquet.compression") && e.contains("SNAPPY"),
        "{e}"
    );
    let e = PARQUET
        .try_sink(dir, "a INT", &[], &[("parquet.utc-timezone", "true")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("parquet.utc-timezone"), "{e}");
    let e = PARQUET
        .try_sink(
            dir,
            "a INT",
            &[],
            &[
                ("parquet.compression", "ZSTD"),
                ("parquet.compression.codec.zstd.level", "99"),
            ],
        )
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("zstd.level"), "{e}");
    PARQUET
        .try_sink(
            dir,
            "a INT",
            &[],
            &[
                ("parquet.compression", "uncompressed"),
                ("parquet.writer.version", "PARQUET_2_0"),
                ("parquet.enable.dictionary", "false"),
                ("parquet.page.size", "65536"),
                ("parquet.block.size", "134217728"),
            ],
        )
        .unwrap();
    PARQUET.try_source(dir, "a INT", &[], &[]).unwrap();
    // Another connector asking the parquet format for a record decoder is told why not.
    let ctx = FormatContext {
        schema: Arc::new(Schema::new(vec![Field::new("a", ArrowType::Int32, true)])),
        options: Options::new("t", Default::default()),
    };
    let e = ParquetFormat
        .create_decoder(&ctx)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("bulk format"), "{e}");
}

/// The venv with pyarrow and DuckDB (see the crate's README section on Parquet).
fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HEADRACE_PARQUET_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cache/headrace/venv/bin/python");
    p.exists().then_some(p)
}

#[tokio::test]
async fn pyarrow_and_duckdb_read_the_files() {
    let py = python().expect(
        "no Python venv with pyarrow and duckdb at $HOME/.cache/headrace/venv (or \
         HEADRACE_PARQUET_PYTHON); run scripts/test-all.sh, or: python3 -m venv \
         ~/.cache/headrace/venv && ~/.cache/headrace/venv/bin/pip install pyarrow duckdb",
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("all");
    let nulls = all_null();
    let input = json_ltz_batch(ALL, &["ltz", "ltz6"], &[FULL, &nulls]);
    let sink = PARQUET.try_sink(&dir, ALL, &[], &[]).unwrap();
    write_committed(&sink, &dir, vec![input]).await;
    let file = parquet_files(&dir).remove(0);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet_interop.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{} failed:\n{stdout}\n{stderr}",
        script.display()
    );
    assert!(
        stdout.contains("pyarrow ok") && stdout.contains("duckdb ok"),
        "{stdout}"
    );
}

#[tokio::test]
async fn files_written_by_pyarrow_and_duckdb_are_read() {
    let py = python()
        .expect("no Python venv with pyarrow and duckdb (see pyarrow_and_duckdb_read_the_files)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("foreign");
    std::fs::create_dir_all(&dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet_interop.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg("write")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cols = "tags ARRAY<STRING>, id BIGINT, name STRING, price DECIMAL(10, 2), \
        ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(6), day DATE, attrs MAP<STRING, BIGINT>, \
        pos ROW<x DOUBLE, y DOUBLE>, f STRING METADATA FROM 'file.name' VIRTUAL";
    let src = source(&dir, cols, &[]);
    let out = run(&src, 1, 100).await;
    let got = display_rows(&out[0]);
    let expect = |file: &'static str| {
        vec![
            vec![
                "[x, y]",
                "1",
                "a",
                "1.50",
                "2026-11-25T12:00:00.123",
                "2026-11-25T12:00:00",
                "2026-11-25",
                "{k: 1}",
                "{x: 1.0, y: 2.0}",
                file,
            ],
            vec![
                "[]", "2", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", file,
            ],
            vec![
                "NULL",
                "3",
                "c",
                "-2.25",
                "1970-01-01T00:00:00",
                "NULL",
                "1999-12-31",
                "{}",
                "{x: NULL, y: 0.5}",
                file,
            ],
        ]
    };
    let mut want = expect("duckdb.parquet");
    want.extend(expect("pyarrow.parquet"));
    let want: Vec<Vec<String>> = want
        .into_iter()
        .map(|r| r.into_iter().map(String::from).collect())
        .collect();
    assert_eq!(got, want);
}
