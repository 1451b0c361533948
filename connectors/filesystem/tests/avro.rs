//! Avro object container files (`'format' = 'avro'`) read and written by the filesystem
//! connector through the format's bulk hooks: round trips of every type Flink's avro format
//! maps, partitions, rolling, compaction, restoring mid-file, and files read and written by
//! implementations nobody here wrote (fastavro, the Apache `avro` package, Apache Flink).
//!
//! Python comes from `HEADRACE_AVRO_PYTHON` (fastavro and avro) and `HEADRACE_PYFLINK_PYTHON`
//! with `HEADRACE_FLINK_AVRO_JAR` (PyFlink and flink-sql-avro), all set by scripts/test-all.sh;
//! the tests needing them fail with that hint when they are missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::RecordBatch;
use common::{
    display_rows, in_progress_files, json_batch, read_across_a_crash, run, run_job, visible_files,
    write_checkpoints, Files,
};
use headrace_connector_filesystem::FileSplit;
use headrace_sdk::prelude::*;
use headrace_sdk::source::SplitState;

fn registry() -> Registry {
    common::registry()
        .with_format(headrace_format_avro::AvroFormatFactory)
        .with_format(headrace_format_json::JsonFormatFactory)
        .with_format(headrace_format_csv::CsvFormat)
}

/// Avro tables.
const AVRO: Files = Files {
    registry,
    format: "avro",
};

/// Every type Flink's avro format maps (as formats/avro's tests list them).
const ALL: &str = "b BOOLEAN NOT NULL, ti TINYINT, si SMALLINT, i INT, bi BIGINT, \
    f FLOAT, d DOUBLE, `dec` DECIMAL(10, 3), big DECIMAL(38, 0), c CHAR(3), vc VARCHAR(10), \
    s STRING NOT NULL, bin BINARY(4), vb BYTES, dt DATE, t0 TIME(0), t3 TIME(3), \
    ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), arr ARRAY<INT>, m MAP<STRING, BIGINT>, \
    r ROW<x INT, y STRING NOT NULL>, \
    nested ARRAY<ROW<a INT, b ARRAY<STRING>, c MAP<STRING, DOUBLE>, `inner` ROW<z BOOLEAN>>>";

fn all_rows() -> Vec<String> {
    vec![
        r#"{"b": true, "ti": -128, "si": 32767, "i": -2147483648, "bi": 9223372036854775807,
            "f": 1.5, "d": -2.25e300, "dec": 1234567.891, "big": "-99999999999999999999999999999999999999",
            "c": "abc", "vc": "héllo", "s": "", "bin": "AAEC/w==", "vb": "",
            "dt": "2026-11-25", "t0": "23:59:59", "t3": "12:34:56.789",
            "ts0": "1969-12-31 23:59:59", "ts3": "2026-11-25 12:34:56.123",
            "arr": [1, null, 3], "m": {"a": 1, "b": null},
            "r": {"x": null, "y": "why"},
            "nested": [{"a": 1, "b": ["p", null], "c": {"k": 0.5}, "inner": {"z": false}}, null,
                       {"a": null, "b": [], "c": {}, "inner": null}]}"#
            .replace('\n', " "),
        r#"{"b": false, "s": "only the NOT NULL columns"}"#.into(),
        r#"{"b": false, "s": "negative", "dec": -0.001, "big": "1", "ts3": "1900-01-01 00:00:00.001",
            "dt": "1000-01-01", "arr": [], "m": {}, "r": {"x": 7, "y": ""}}"#
            .replace('\n', " "),
    ]
}

#[tokio::test]
async fn every_avro_type_round_trips_through_part_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("all");
    let input = json_batch(ALL, &all_rows(), |f| f);
    for codec in ["null", "deflate", "snappy", "zstandard"] {
        let dir = dir.join(codec);
        let sink = AVRO
            .try_sink(&dir, ALL, &[], &[("avro.codec", codec)])
            .unwrap();
        let files = write_checkpoints(
            &sink,
            &dir,
            vec![vec![input.slice(0, 2)], vec![input.slice(2, 1)]],
        )
        .await;
        assert_eq!(files, 2, "one part file per checkpoint");
        let first = std::fs::read(dir.join(&visible_files(&dir)[0])).unwrap();
        assert!(first.starts_with(b"Obj\x01"), "an Avro container file");
        let codec_entry = [
            b"avro.codec".as_slice(),
            &[codec.len() as u8 * 2],
            codec.as_bytes(),
        ]
        .concat();
        assert!(
            first.windows(codec_entry.len()).any(|w| w == codec_entry),
            "the header names codec {codec}"
        );
        let src = AVRO.try_source(&dir, ALL, &[], &[]).unwrap();
        let out = run(&src, 1, 1024).await;
        let out = arrow::compute::concat_batches(&out[0][0].schema(), &out[0]).unwrap();
        assert_eq!(out.num_rows(), 3);
        for (i, f) in input.schema().fields().iter().enumerate() {
            assert_eq!(
                out.column(i).to_data(),
                input.column(i).to_data(),
                "values of {} (codec {codec})",
                f.name()
            );
        }
    }
}

/// `n` rows of the interop table (`id, name, amount, ts, tags, ok, dt`) as JSON lines.
const COLS: &str = "id BIGINT, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), \
    tags ARRAY<STRING>, ok BOOLEAN, dt STRING";

fn event(i: i64) -> String {
    let day = match i % 3 {
        0 => "\"2026-11-24\"".to_string(),
        1 => "\"2026-11-25\"".to_string(),
        _ => "null".to_string(),
    };
    format!(
        r#"{{"id": {i}, "name": {}, "amount": {}, "ts": {}, "tags": {}, "ok": {}, "dt": {day}}}"#,
        if i % 7 == 0 {
            "null".into()
        } else {
            format!("\"n{i} é\"")
        },
        if i % 5 == 0 {
            "null".into()
        } else {
            format!("{}.{:02}", i * 3, i % 100)
        },
        if i % 11 == 0 {
            "null".into()
        } else {
            format!(
                "\"2026-11-{:02} {:02}:{:02}:{:02}.{:03}\"",
                1 + i % 28,
                i % 24,
                i % 60,
                (i * 7) % 60,
                i % 999 + 1
            )
        },
        match i % 4 {
            0 => "null".to_string(),
            1 => "[]".to_string(),
            2 => format!("[\"t{i}\", null]"),
            _ => format!("[\"t{i}\"]"),
        },
        if i % 13 == 0 {
            "null"
        } else if i % 2 == 0 {
            "true"
        } else {
            "false"
        },
    )
}

/// Rows as `[partition dir, id, name, amount, ts, tags, ok]`, sorted, from batches of
/// [`COLS`] (`dt` last).
fn interop_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = display_rows(batches)
        .into_iter()
        .map(|mut r| {
            let dt = r.remove(6);
            let dir = if dt == "NULL" {
                "dt=__DEFAULT_PARTITION__".to_string()
            } else {
                format!("dt={dt}")
            };
            r.truncate(6);
            r.insert(0, dir);
            r
        })
        .collect();
    out.sort();
    out
}

/// Write the events `ids` partitioned by `dt`, in `checkpoints` checkpoints; returns them as
/// [`interop_rows`] gives them.
async fn write_events(
    dir: &Path,
    ids: impl Iterator<Item = i64>,
    checkpoints: usize,
    options: &[(&str, &str)],
) -> Vec<Vec<String>> {
    let lines: Vec<String> = ids.map(event).collect();
    let input = json_batch(COLS, &lines, |f| f);
    let sink = AVRO.try_sink(dir, COLS, &["dt"], options).unwrap();
    let per = input.num_rows() / checkpoints;
    let cps = (0..checkpoints)
        .map(|k| {
            let len = if k + 1 == checkpoints {
                input.num_rows() - k * per
            } else {
                per
            };
            (0..len.div_ceil(100))
                .map(|j| input.slice(k * per + j * 100, 100.min(len - j * 100)))
                .collect()
        })
        .collect();
    write_checkpoints(&sink, dir, cps).await;
    interop_rows(&[input])
}

#[tokio::test]
async fn partitioned_rolling_files_with_partition_and_metadata_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let expected = write_events(
        &dir,
        0..3000,
        2,
        &[
            ("sink.rolling-policy.file-size", "4 kb"),
            ("avro.codec", "deflate"),
        ],
    )
    .await;
    let files = visible_files(&dir);
    for d in ["dt=2026-11-24", "dt=2026-11-25", "dt=__DEFAULT_PARTITION__"] {
        let n = files.iter().filter(|f| f.starts_with(d)).count();
        assert!(
            n > 2,
            "{d}: rolled by size into several files per checkpoint: {files:?}"
        );
    }
    let cols = format!("{COLS}, fname STRING METADATA FROM 'file.name' VIRTUAL");
    let src = AVRO.try_source(&dir, &cols, &["dt"], &[]).unwrap();
    let out = run(&src, 2, 256).await;
    assert!(
        !out[0].is_empty() && !out[1].is_empty(),
        "both readers got files"
    );
    let all = out.concat();
    let names: std::collections::BTreeSet<String> = display_rows(&all)
        .into_iter()
        .map(|r| r[7].clone())
        .collect();
    let want: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, want, "file.name of every row is its part file");
    let plain: Vec<RecordBatch> = all
        .iter()
        .map(|b| b.project(&[0, 1, 2, 3, 4, 5, 6]).unwrap())
        .collect();
    assert_eq!(interop_rows(&plain), expected);
}

#[tokio::test]
async fn auto_compaction_merges_each_checkpoints_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let expected = write_events(
        &dir,
        0..2000,
        2,
        &[
            ("sink.rolling-policy.file-size", "4 kb"),
            ("auto-compaction", "true"),
            ("compaction.file-size", "1 mb"),
            ("avro.codec", "snappy"),
        ],
    )
    .await;
    let files = visible_files(&dir);
    assert_eq!(
        files.len(),
        6,
        "one file per partition and checkpoint: {files:?}"
    );
    assert!(files.iter().all(|f| f
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("compacted-part-")));
    let src = AVRO.try_source(&dir, COLS, &["dt"], &[]).unwrap();
    let out = run(&src, 1, 1000).await;
    assert_eq!(interop_rows(&out[0]), expected);
}

#[tokio::test]
async fn checkpoint_mid_file_restores_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    write_events(&dir, 0..500, 1, &[]).await;
    let cols = "id BIGINT, name STRING";
    let src = AVRO.try_source(&dir, cols, &[], &[]).unwrap();
    let (first, rest) = read_across_a_crash(&src, 30, 3, |split| {
        let s = FileSplit::from_split(split).unwrap();
        assert_eq!(s.line, 90, "rows of the file already emitted");
    })
    .await;
    let mut ids: Vec<i64> = display_rows(&first)
        .into_iter()
        .chain(display_rows(&rest))
        .map(|r| r[0].parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..500).collect::<Vec<_>>(), "no gap, no duplicate");
}

#[tokio::test]
async fn bad_files_and_options_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let e = AVRO
        .try_sink(tmp.path(), "a INT", &[], &[("avro.codec", "lzo")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("avro.codec") && e.contains("lzo"), "{e}");
    let dir = tmp.path().join("in");
    common::write(&dir.join("a.avro"), "id,name\n1,x\n");
    let src = AVRO.try_source(&dir, "id BIGINT", &[], &[]).unwrap();
    let e = headrace_sdk::testing::read_all(&src, 1, 10, 100)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("a.avro") && e.contains("Avro"), "{e}");
}

fn avro_python() -> String {
    let py = std::env::var("HEADRACE_AVRO_PYTHON").expect(
        "set HEADRACE_AVRO_PYTHON to a Python with fastavro, avro and cramjam installed; \
         scripts/test-all.sh does it",
    );
    let ok = Command::new(&py)
        .args(["-c", "import fastavro, avro, cramjam"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{py} cannot import fastavro, avro and cramjam: run `{py} -m pip install fastavro avro \
         cramjam` (scripts/test-all.sh does it)"
    );
    py
}

fn run_script(py: &str, script: &str, args: &[&Path]) -> Vec<Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new(py).arg(&script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn fastavro_and_avro_read_partitioned_output() {
    let py = avro_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let expected = write_events(
        &dir,
        0..1200,
        2,
        &[
            ("sink.rolling-policy.file-size", "8 kb"),
            // (the avro package reads snappy only with python-snappy installed)
            ("avro.codec", "deflate"),
        ],
    )
    .await;
    let got = run_script(&py, "avro_interop.py", &[Path::new("read"), &dir]);
    assert_eq!(got.len(), 1200);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn files_written_by_fastavro_are_read() {
    let py = avro_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let expected = run_script(&py, "avro_interop.py", &[Path::new("write"), &dir]);
    assert_eq!(expected.len(), 2100);
    let src = AVRO.try_source(&dir, COLS, &["dt"], &[]).unwrap();
    let out = run(&src, 2, 128).await;
    assert_eq!(interop_rows(&out.concat()), expected);
}

fn flink() -> (PathBuf, PathBuf) {
    let py = std::env::var_os("HEADRACE_PYFLINK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var("HOME").expect("HOME"))
                .join(".cache/headrace/pyflink-venv/bin/python")
        });
    assert!(
        py.exists(),
        "{} not found: run `bash benches/flink/setup.sh` (scripts/test-all.sh does) or set \
         HEADRACE_PYFLINK_PYTHON to a Python with apache-flink 2.3.0",
        py.display()
    );
    let jar = PathBuf::from(std::env::var("HEADRACE_FLINK_AVRO_JAR").expect(
        "set HEADRACE_FLINK_AVRO_JAR to flink-sql-avro-2.3.0.jar; scripts/test-all.sh fetches it \
         with `mvn dependency:get -Dartifact=org.apache.flink:flink-sql-avro:2.3.0`",
    ));
    assert!(jar.exists(), "{} not found", jar.display());
    (py, jar)
}

#[tokio::test]
async fn flink_reads_headrace_partitions_and_headrace_reads_flinks() {
    let (py, jar) = flink();
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("headrace");
    let theirs = tmp.path().join("flink");
    // Flink's batch source cannot read a `dt=__DEFAULT_PARTITION__` directory ("Path should not
    // be null or empty" from PartitionPathUtils), so every row has a day here.
    let ids = (0..900).filter(|i| i % 3 != 2);
    let expected = write_events(&ours, ids, 2, &[("avro.codec", "deflate")]).await;
    let got = run_script(
        py.to_str().unwrap(),
        "flink_avro.py",
        &[&ours, &theirs, &jar],
    );
    assert_eq!(got, expected, "Flink read Headrace's files");
    let files = visible_files(&theirs);
    assert!(
        files.iter().any(|f| f.starts_with("dt=2026-11-24"))
            && files.iter().any(|f| f.starts_with("dt=2026-11-25")),
        "Flink wrote partitions: {files:?}"
    );
    let src = AVRO.try_source(&theirs, COLS, &["dt"], &[]).unwrap();
    let out = run(&src, 2, 100).await;
    assert_eq!(
        interop_rows(&out.concat()),
        expected,
        "Headrace read Flink's files"
    );
}

/// A SQL job on the runner: CSV in, Avro partitioned out with two writers, checkpoints every
/// few batches, success files and compaction; then a second job reads the Avro table (partition
/// column and file metadata included) and writes it as CSV, which must hold every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_jobs_write_and_read_avro_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.csv");
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..2000i64 {
        let day = format!("2026-11-{}", 20 + i % 3);
        text.push_str(&format!("{i},name {i},{}.{:02},{day}\n", i * 3, i % 100));
        expected.push(format!("{i},name {i},{}.{:02},{day}", i * 3, i % 100));
    }
    std::fs::write(&input, text).unwrap();
    let (avro_out, csv_out) = (tmp.path().join("avro"), tmp.path().join("csv"));
    let cols = "id BIGINT, name STRING, amount DECIMAL(10, 2), dt STRING";
    let registry = registry();
    let sql = format!(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '30 ms';
         SET 'headrace.batch-size' = '100';
         CREATE TABLE src ({cols}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         CREATE TABLE a ({cols}) PARTITIONED BY (dt) WITH ('connector' = 'filesystem',
           'path' = '{}', 'format' = 'avro', 'avro.codec' = 'deflate',
           'sink.rolling-policy.file-size' = '2 kb', 'auto-compaction' = 'true',
           'sink.partition-commit.policy.kind' = 'success-file');
         INSERT INTO a SELECT * FROM src;",
        input.display(),
        avro_out.display()
    );
    run_job(&registry, &sql, &tmp.path().join("state1"), None).await;
    assert!(avro_out.join("dt=2026-11-20/_SUCCESS").exists());
    assert!(in_progress_files(&avro_out).is_empty());
    let sql = format!(
        "SET 'parallelism.default' = '2';
         CREATE TABLE a ({cols}, f STRING METADATA FROM 'file.name' VIRTUAL) PARTITIONED BY (dt)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'avro');
         CREATE TABLE c (id BIGINT, name STRING, amount DECIMAL(10, 2), dt STRING, f STRING)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         INSERT INTO c SELECT id, name, amount, dt, f FROM a;",
        avro_out.display(),
        csv_out.display()
    );
    run_job(&registry, &sql, &tmp.path().join("state2"), None).await;
    let mut got = Vec::new();
    for f in visible_files(&csv_out) {
        for line in std::fs::read_to_string(csv_out.join(f)).unwrap().lines() {
            let (row, file) = line.rsplit_once(',').unwrap();
            assert!(file.starts_with("compacted-part-"), "{line}");
            got.push(row.to_string());
        }
    }
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}
