//! Cross-checks with Avro implementations nobody here wrote: Python's `fastavro` and the Apache
//! `avro` package read the files and single records Headrace writes (and must agree with each
//! other and with the expected values), then write them back for Headrace to read.
//!
//! The Python comes from `HEADRACE_AVRO_PYTHON`, else `HEADRACE_PARQUET_PYTHON` (set by
//! `scripts/test-all.sh`, which installs fastavro and avro into its venv). The tests fail when
//! neither names a Python with both packages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use arrow::array::RecordBatch;
use headrace_format_avro::avro::AvroConfig;
use headrace_format_avro::schema::table_schema_json;
use headrace_format_avro::{read_file, AvroFileWriter, AvroFormatFactory};
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::format::{FormatContext, FormatFactory};
use serde_json::{json, Value as Json};

use common::*;

fn python() -> String {
    let py = std::env::var("HEADRACE_AVRO_PYTHON")
        .or_else(|_| std::env::var("HEADRACE_PARQUET_PYTHON"))
        .expect(
            "set HEADRACE_AVRO_PYTHON (or HEADRACE_PARQUET_PYTHON) to a Python with fastavro and \
             avro installed; scripts/test-all.sh does it",
        );
    let ok = Command::new(&py)
        .args(["-c", "import fastavro, avro"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{py} cannot import fastavro and avro: run `{py} -m pip install fastavro avro cramjam \
         zstandard` (scripts/test-all.sh does it)"
    );
    py
}

fn run_py(args: &[&str]) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/interop.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "interop.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read_back(path: &Path, input: &RecordBatch, config: &AvroConfig) -> RecordBatch {
    let mut got = Vec::new();
    let f = std::fs::File::open(path).unwrap();
    read_file(
        f,
        &input.schema(),
        config,
        &path.display().to_string(),
        1000,
        &mut |b| {
            got.push(b.batch);
            Ok(())
        },
    )
    .unwrap();
    arrow::compute::concat_batches(&input.schema(), &got).unwrap()
}

#[test]
fn files_cross_check_with_fastavro_and_avro() {
    let dir = tempfile::tempdir().unwrap();
    let input = rows(LEGACY, &legacy_rows());
    for codec in ["null", "deflate", "snappy", "zstandard"] {
        let c = ctx(input.schema(), "avro", &[("codec", codec)]);
        let config = AvroConfig::from_context(&c).unwrap();
        let path = dir.path().join(format!("{codec}.avro"));
        let f = std::fs::File::create(&path).unwrap();
        let mut w = AvroFileWriter::new(f, &input.schema(), &config, "test").unwrap();
        w.write(&input).unwrap();
        w.finish().unwrap();
        if codec == "snappy" {
            // The Apache avro package has no snappy codec without python-snappy: fastavro only.
            let out = Command::new(python())
                .args(["-c", "import fastavro,sys,json; print(json.dumps(len(list(fastavro.reader(open(sys.argv[1],'rb'))))))"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
            continue;
        }
        let prefix = dir.path().join(format!("{codec}-back"));
        let seen = run_py(&["file", path.to_str().unwrap(), prefix.to_str().unwrap()]);
        let seen = &seen["fastavro"];
        assert_eq!(seen.as_array().unwrap().len(), 3);
        assert_eq!(
            seen[0],
            expected_first_legacy_row(),
            "{codec}: {:#}",
            seen[0]
        );
        for lib in ["fastavro", "avro"] {
            let back = dir.path().join(format!("{codec}-back.{lib}.avro"));
            assert_eq!(
                read_back(&back, &input, &config),
                input,
                "{codec} via {lib}"
            );
        }
    }
}

#[test]
fn modern_timestamps_cross_check() {
    let dir = tempfile::tempdir().unwrap();
    let cols = "id INT NOT NULL, ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ltz3 TIMESTAMP_LTZ(3), \
        ltz6 TIMESTAMP_LTZ(6)";
    let input = rows(
        cols,
        &[
            json!({"id": 1, "ts3": "2026-11-25 12:34:56.123", "ts6": "1960-01-01 00:00:00.000001",
                "ltz3": "2026-11-25 12:34:56.123Z", "ltz6": "2200-01-01 00:00:00.999999Z"}),
            json!({"id": 2}),
        ],
    );
    let c = ctx(
        input.schema(),
        "avro",
        &[("codec", "null"), ("timestamp_mapping.legacy", "false")],
    );
    let config = AvroConfig::from_context(&c).unwrap();
    let path = dir.path().join("modern.avro");
    let mut w = AvroFileWriter::new(
        std::fs::File::create(&path).unwrap(),
        &input.schema(),
        &config,
        "t",
    )
    .unwrap();
    w.write(&input).unwrap();
    w.finish().unwrap();
    let prefix = dir.path().join("modern-back");
    let seen = run_py(&[
        "file",
        path.to_str().unwrap(),
        prefix.to_str().unwrap(),
        "--lenient",
    ]);
    // The avro package knows no local-timestamp-* logical type and reads the longs.
    assert_eq!(
        seen["avro"][0],
        json!({"id": 1, "ts3": 1795610096123i64, "ts6": -315619199999999i64,
            "ltz3": "ts:2026-11-25T12:34:56.123000", "ltz6": "ts:2200-01-01T00:00:00.999999"})
    );
    let seen = &seen["fastavro"];
    assert_eq!(
        seen[0],
        json!({"id": 1, "ts3": "ts:2026-11-25T12:34:56.123000", "ts6": "ts:1960-01-01T00:00:00.000001",
            "ltz3": "ts:2026-11-25T12:34:56.123000", "ltz6": "ts:2200-01-01T00:00:00.999999"}),
        "{:#}",
        seen[0]
    );
    for lib in ["fastavro", "avro"] {
        let back = dir.path().join(format!("modern-back.{lib}.avro"));
        assert_eq!(read_back(&back, &input, &config), input, "via {lib}");
    }
}

/// Encode the rows of `input` with the format of `c`, one record a line (`line` makes its text
/// from its bytes), into `dir`/`records` next to the table's Avro schema, and run interop.py's
/// `mode` on them, writing to `out`; what the Python libraries saw.
fn encode_and_run_py(
    dir: &Path,
    c: &FormatContext,
    input: &RecordBatch,
    line: impl Fn(&[u8]) -> String,
    (mode, records, out): (&str, &str, &Path),
) -> Json {
    let mut e = AvroFormatFactory.create_encoder(c).unwrap();
    let mut text = String::new();
    e.encode(&ChangelogBatch::inserts(input.clone()), &mut |_, b| {
        text.push_str(&line(b));
        text.push('\n');
        Ok(())
    })
    .unwrap();
    let schema_path = dir.join("schema.avsc");
    std::fs::write(
        &schema_path,
        table_schema_json(&input.schema(), true).unwrap(),
    )
    .unwrap();
    let in_path = dir.join(records);
    std::fs::write(&in_path, text).unwrap();
    run_py(&[
        mode,
        schema_path.to_str().unwrap(),
        in_path.to_str().unwrap(),
        out.to_str().unwrap(),
    ])
}

#[test]
fn single_records_cross_check_with_schemaless_readers_and_writers() {
    let dir = tempfile::tempdir().unwrap();
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(input.schema(), "avro", &[]);
    let prefix = dir.path().join("back");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let py = ("datum", "records.hex", prefix.as_path());
    let seen = encode_and_run_py(dir.path(), &c, &input, hex, py);
    let seen = &seen["fastavro"];
    assert_eq!(seen[0], expected_first_legacy_row(), "{:#}", seen[0]);
    for lib in ["fastavro", "avro"] {
        let text = std::fs::read_to_string(dir.path().join(format!("back.{lib}.hex"))).unwrap();
        let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
        for (i, line) in text.split_whitespace().enumerate() {
            let bytes: Vec<u8> = (0..line.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&line[j..j + 2], 16).unwrap())
                .collect();
            d.decode(&bytes, &origin(i as i64)).unwrap();
        }
        assert_eq!(d.finish().unwrap().batch, input, "records written by {lib}");
    }
}

/// Confluent wire format against confluent-kafka's AvroSerializer / AvroDeserializer (with
/// confluent-kafka's own in-memory registry on the Python side and the test kit's fake registry
/// on the Rust side: both hand out id 1 for the first schema).
#[test]
fn confluent_wire_format_cross_checks_with_confluent_kafka() {
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", "import confluent_kafka.schema_registry.avro"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{py} cannot import confluent_kafka: run `{py} -m pip install confluent-kafka` \
         (scripts/test-all.sh does it)"
    );
    let reg = common::registry::FakeRegistry::start();
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[("url", reg.url.as_str()), ("subject", "orders-value")],
    );
    let mut e = headrace_format_avro::AvroConfluentFormatFactory
        .create_encoder(&c)
        .unwrap();
    let mut hex = String::new();
    e.encode(&ChangelogBatch::inserts(input.clone()), &mut |_, b| {
        for x in b {
            hex.push_str(&format!("{x:02x}"));
        }
        hex.push('\n');
        Ok(())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("schema.avsc");
    std::fs::write(
        &schema_path,
        table_schema_json(&input.schema(), true).unwrap(),
    )
    .unwrap();
    let in_path = dir.path().join("in.hex");
    std::fs::write(&in_path, hex).unwrap();
    let out_path = dir.path().join("out.hex");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/confluent.py");
    let out = Command::new(&py)
        .arg(script)
        .args([&schema_path, &in_path, &out_path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "confluent.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["id"], json!(1));
    assert_eq!(
        seen["rows"][0],
        expected_first_legacy_row(),
        "{:#}",
        seen["rows"][0]
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut d = headrace_format_avro::AvroConfluentFormatFactory
        .create_decoder(&c)
        .unwrap();
    for (i, line) in text.split_whitespace().enumerate() {
        let bytes: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&line[j..j + 2], 16).unwrap())
            .collect();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1], "confluent-kafka's header");
        d.decode(&bytes, &origin(i as i64)).unwrap();
    }
    assert_eq!(d.finish().unwrap().batch, input);
}

/// The flink-sql-avro jar: `HEADRACE_FLINK_AVRO_JAR`, else the one Maven put in `~/.m2`.
fn flink_avro_jar() -> String {
    if let Ok(j) = std::env::var("HEADRACE_FLINK_AVRO_JAR") {
        return j;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let j = format!(
        "{home}/.m2/repository/org/apache/flink/flink-sql-avro/2.3.0/flink-sql-avro-2.3.0.jar"
    );
    assert!(
        Path::new(&j).exists(),
        "{j} is missing: run `mvn dependency:get -Dartifact=org.apache.flink:flink-sql-avro:2.3.0 \
         -Dtransitive=false` or set HEADRACE_FLINK_AVRO_JAR (scripts/test-all.sh does it)"
    );
    j
}

fn pyflink() -> String {
    std::env::var("HEADRACE_PYFLINK_PYTHON").expect(
        "set HEADRACE_PYFLINK_PYTHON to a Python with apache-flink installed; \
         scripts/test-all.sh does it",
    )
}

/// Flink's own avro format reads the files Headrace writes (so its derived schema, used as the
/// reader schema, resolves against Headrace's: record names included) and writes them again;
/// Headrace reads Flink's files back.
fn flink_round_trip(cols: &str, data: &[Json], opts: &[(&str, &str)], expect_first: Json) {
    let dir = tempfile::tempdir().unwrap();
    // (Flink's filesystem avro format always derives with the legacy timestamp mapping: its
    // AvroFileFormatFactory ignores 'avro.timestamp_mapping.legacy', so only legacy files are
    // compared.)
    let src = dir.path().join("src");
    let dst = dir.path().join("dst");
    std::fs::create_dir_all(&src).unwrap();
    let input = rows(cols, data);
    let mut all = vec![("codec", "snappy")];
    all.extend_from_slice(opts);
    let config = AvroConfig::from_context(&ctx(input.schema(), "avro", &all)).unwrap();
    let f = std::fs::File::create(src.join("part-0.avro")).unwrap();
    let mut w = AvroFileWriter::new(f, &input.schema(), &config, "part-0.avro").unwrap();
    w.write(&input).unwrap();
    w.finish().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/flink.py");
    let mut cmd = Command::new(pyflink());
    cmd.arg(script)
        .arg(cols)
        .arg(&src)
        .arg(&dst)
        .arg(flink_avro_jar());
    for (k, v) in opts {
        cmd.arg(format!("avro.{k}={v}"));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "flink.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen.as_array().unwrap().len(), input.num_rows());
    assert_eq!(seen[0], expect_first, "{:#}", seen[0]);
    // Flink's part files (hidden in-progress files excluded).
    let mut got = Vec::new();
    for e in std::fs::read_dir(&dst).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        got.push(read_back(&p, &input, &config));
    }
    assert!(
        !got.is_empty(),
        "Flink wrote no file into {}",
        dst.display()
    );
    assert_eq!(
        arrow::compute::concat_batches(&input.schema(), &got).unwrap(),
        input
    );
}

#[test]
fn flink_reads_and_writes_the_same_avro_files() {
    // Flink's text (CAST(.. AS STRING), TO_BASE64 for binary) of the first row as it read it.
    let flink_first_row = json!({
        "arr": "[1, NULL, 3]", "b": "TRUE", "bi": "9223372036854775807",
        "big": "-99999999999999999999999999999999999999", "bin": "AAEC/w==", "c": "abc",
        "d": "-2.25E300", "dec": "1234567.891", "dt": "2026-11-25", "f": "1.5",
        "i": "-2147483648", "m": "{a=1, b=NULL}", "ms": "{x=2, y=1}",
        "nested": "[(1, [p, NULL], {k=0.5}, (FALSE)), NULL, (NULL, [], {}, NULL)]",
        "r": "(NULL, why)", "s": "", "si": "32767", "t0": "23:59:59", "t3": "12:34:56.789",
        "ti": "-128", "ts0": "1969-12-31 23:59:59", "ts3": "2026-11-25 12:34:56.123", "vb": "",
        "vc": "héllo"
    });
    flink_round_trip(LEGACY, &legacy_rows(), &[], flink_first_row);
}

/// `avro.encoding` = `json` against fastavro's Avro JSON reader and writer.
#[test]
fn json_encoding_cross_checks_with_fastavro() {
    let dir = tempfile::tempdir().unwrap();
    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(input.schema(), "avro", &[("encoding", "json")]);
    let out_path = dir.path().join("out.jsonl");
    let text = |b: &[u8]| std::str::from_utf8(b).unwrap().to_string();
    let py = ("json", "in.jsonl", out_path.as_path());
    let seen = encode_and_run_py(dir.path(), &c, &input, text, py);
    assert_eq!(
        seen["fastavro"][0],
        expected_first_legacy_row(),
        "{:#}",
        seen["fastavro"][0]
    );
    let mut d = AvroFormatFactory.create_decoder(&c).unwrap();
    for (i, line) in std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        d.decode(line.as_bytes(), &origin(i as i64)).unwrap();
    }
    assert_eq!(d.finish().unwrap().batch, input);
}
