//! Cross-check against Apache Flink itself (PyFlink 2.3.0, set up by `benches/flink/setup.sh`):
//! Flink's own `debezium-json`, `canal-json` and `maxwell-json` formats, through its filesystem
//! connector, read sample change events and the files Headrace encodes, and must produce the same
//! changelog (row kinds and values) as Headrace reads from the same files; Flink
//! then writes the changelog back in each format, and Headrace must read those files to the same
//! changelog (and write the same JSON records). One JVM runs every Flink job of this file.
//!
//! Format metadata columns are not compared here: Flink's filesystem connector offers only its
//! `file.*` keys (it rejects `source.table`), so they are covered by the unit tests.
//!
//! The test fails (it does not skip) when the PyFlink venv is missing: run
//! `bash benches/flink/setup.sh` (scripts/test-all.sh does), or point `HEADRACE_PYFLINK_PYTHON`
//! at a Python with `apache-flink` installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ctx;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType as ArrowType;
use headrace_format_changelog_json::factories;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;
use headrace_sdk::format::FormatFactory;

const COLS: &str = "id BIGINT, name STRING, weight DECIMAL(10, 2), score DOUBLE, ok BOOLEAN, \
    d DATE, ts TIMESTAMP(3), tags ARRAY<STRING>, attrs MAP<STRING, INT>, r ROW<x INT, y STRING>";
const CANAL_COLS: &str = "id BIGINT, name STRING, weight DECIMAL(10, 2), d DATE, ts TIMESTAMP(3)";

const DBZ_SAMPLES: &str = r#"{"before":null,"after":{"id":1,"name":"scooter","weight":5.18,"score":1.5,"ok":true,"d":"2020-05-13","ts":"2020-05-13 09:25:30.904","tags":["small","electric"],"attrs":{"wheels":2},"r":{"x":1,"y":"red"}},"source":{"version":"1.1.1.Final","connector":"mysql","name":"dbserver1","ts_ms":0,"snapshot":"true","db":"inventory","table":"products","server_id":0,"file":"mysql-bin.000003","pos":154,"row":0},"op":"r","ts_ms":1589355606100,"transaction":null}
{"before":null,"after":{"id":2,"name":"car battery","weight":8.1,"score":null,"ok":false,"d":null,"ts":"2020-05-13 09:25:31","tags":[],"attrs":{},"r":null},"source":{"version":"1.1.1.Final","connector":"mysql","name":"dbserver1","ts_ms":1589362330000,"snapshot":"false","db":"inventory","table":"products"},"op":"c","ts_ms":1589362330904,"transaction":null}
{"before":{"id":1,"name":"scooter","weight":5.18,"score":1.5,"ok":true,"d":"2020-05-13","ts":"2020-05-13 09:25:30.904","tags":["small","electric"],"attrs":{"wheels":2},"r":{"x":1,"y":"red"}},"after":{"id":1,"name":"scooter","weight":5.15,"score":1.25,"ok":true,"d":"2020-05-14","ts":"2020-05-14 10:00:00.5","tags":["small"],"attrs":{"wheels":3},"r":{"x":2,"y":"blue"}},"source":{"version":"1.1.1.Final","connector":"mysql","name":"dbserver1","ts_ms":1589362344000,"snapshot":"false","db":"inventory","table":"products"},"op":"u","ts_ms":1589362344455,"transaction":null}

{"before":{"id":2,"name":"car battery","weight":8.1,"score":null,"ok":false,"d":null,"ts":"2020-05-13 09:25:31","tags":[],"attrs":{},"r":null},"after":null,"source":{"version":"1.1.1.Final","connector":"mysql","name":"dbserver1","ts_ms":1589362606000,"snapshot":"false","db":"inventory","table":"products"},"op":"d","ts_ms":1589362606752,"transaction":null}
{"before":null,"after":{"id":3,"name":"Grüße \"✓\" \\ tab\t","weight":-0.01,"score":-2.5,"ok":null,"d":"1970-01-01","ts":"1999-12-31 23:59:59.999","tags":["a",""],"attrs":{"x":0,"y":-1},"r":{"x":0,"y":"y"}},"source":{"db":"inventory","schema":"public","table":"gadgets","ts_ms":1589362700000},"op":"c","ts_ms":1589362700001}
"#;

const CANAL_SAMPLES: &str = r#"{"data":[{"id":"101","name":"scooter","weight":"3.14","d":"2020-05-13","ts":"2020-05-13 09:25:30.904"},{"id":"102","name":"car battery","weight":"8.1","d":null,"ts":"2020-05-13 09:25:31"}],"database":"inventory","es":1589373515000,"id":3,"isDdl":false,"mysqlType":{"id":"int(11)","name":"varchar(255)","weight":"decimal(10,2)","d":"date","ts":"datetime(3)"},"old":null,"pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"weight":3,"d":91,"ts":93},"table":"products","ts":1589373515477,"type":"INSERT"}
{"data":[{"id":"101","name":"scooter","weight":"5.15","d":"2020-05-13","ts":"2020-05-13 09:25:30.904"},{"id":"102","name":"car battery","weight":"8.2","d":null,"ts":"2020-05-13 09:25:31"}],"database":"inventory","es":1589373560000,"id":4,"isDdl":false,"old":[{"weight":"3.14"},{"weight":"8.1","name":"battery"}],"pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"weight":3,"d":91,"ts":93},"table":"products","ts":1589373560798,"type":"UPDATE"}
{"data":null,"database":"inventory","es":1589373560000,"id":5,"isDdl":true,"old":null,"pkNames":null,"sql":"CREATE TABLE `products2` (`id` int)","sqlType":null,"table":"products2","ts":1589373560799,"type":"CREATE"}
{"data":[{"id":"7","name":"elsewhere","weight":"1","d":null,"ts":null}],"database":"inventory","es":1589373560000,"id":6,"isDdl":false,"old":null,"pkNames":["id"],"sql":"","table":"orders","ts":1589373560800,"type":"INSERT"}
{"data":[{"id":"101","name":"scooter","weight":"5.15","d":"2020-05-13","ts":"2020-05-13 09:25:30.904"}],"database":"inventory","es":1589373561000,"id":7,"isDdl":false,"old":null,"pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"weight":3,"d":91,"ts":93},"table":"products","ts":1589373561234,"type":"DELETE"}
"#;

const MAXWELL_SAMPLES: &str = r#"{"database":"test","table":"product","type":"insert","ts":1596684883,"xid":7125,"xoffset":0,"data":{"id":111,"name":"scooter","weight":5.18,"d":"2020-08-06","ts":"2020-08-06 03:34:43.000"},"primary_key_columns":["id"]}
{"database":"test","table":"product","type":"update","ts":1596684904,"xid":7152,"commit":true,"data":{"id":111,"name":"scooter","weight":5.15,"d":"2020-08-06","ts":"2020-08-06 03:34:43.000"},"old":{"weight":5.18},"primary_key_columns":["id"]}
{"database":"test","table":"product","type":"delete","ts":1596684914,"xid":7171,"commit":true,"data":{"id":111,"name":"scooter","weight":5.15,"d":"2020-08-06","ts":"2020-08-06 03:34:43.000"},"primary_key_columns":["id"]}
"#;

/// One Flink job: read `dir` with `format`, maybe write the changelog to `write`.
struct Job {
    name: &'static str,
    format: &'static str,
    /// Physical columns.
    columns: &'static str,
    /// Format metadata keys read as extra columns (Flink: VIRTUAL metadata columns).
    metadata: Vec<(&'static str, &'static str)>,
    /// Format options without the format prefix.
    options: Vec<(&'static str, &'static str)>,
    dir: PathBuf,
    write: Option<PathBuf>,
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HEADRACE_PYFLINK_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").expect("HOME");
    PathBuf::from(home).join(".cache/headrace/pyflink-venv/bin/python")
}

fn factory(id: &str) -> std::sync::Arc<dyn FormatFactory> {
    factories()
        .into_iter()
        .find(|f| f.identifier() == id)
        .unwrap()
}

/// Headrace's reading of every file in `dir` (lines, in file-name order).
fn headrace_read(job: &Job, dir: &Path) -> Vec<ChangelogBatch> {
    let f = factory(job.format);
    let c = ctx(job.format, job.columns, &job.options);
    let keys: Vec<String> = job.metadata.iter().map(|(_, k)| k.to_string()).collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.starts_with('.') && !n.starts_with('_')
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{}: no files in {}",
        job.name,
        dir.display()
    );
    let mut out = Vec::new();
    for file in files {
        let mut d = f.create_decoder_with_metadata(&c, &keys).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let origin = RecordOrigin::File {
                path: file.display().to_string(),
                line: i as u64 + 1,
            };
            d.decode(line.as_bytes(), &origin).unwrap();
        }
        out.push(d.finish().unwrap());
    }
    out
}

/// Values rendered as crosscheck.py renders Flink's: scalars as arrow-rs displays them, ROW as
/// `(a, b)`, ARRAY as `[a, b]`, MAP as `{k: v}` sorted by key.
fn render(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "null".into();
    }
    match a.data_type() {
        ArrowType::Struct(_) => {
            let s = a.as_struct();
            let parts: Vec<String> = s.columns().iter().map(|c| render(c.as_ref(), i)).collect();
            format!("({})", parts.join(", "))
        }
        ArrowType::List(_) => {
            let l = a.as_list::<i32>().value(i);
            let parts: Vec<String> = (0..l.len()).map(|j| render(l.as_ref(), j)).collect();
            format!("[{}]", parts.join(", "))
        }
        ArrowType::Map(_, _) => {
            let m = a.as_map().value(i);
            let mut parts: Vec<(String, String)> = (0..m.len())
                .map(|j| {
                    (
                        render(m.column(0).as_ref(), j),
                        render(m.column(1).as_ref(), j),
                    )
                })
                .collect();
            parts.sort();
            let parts: Vec<String> = parts
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        _ => arrow::util::display::ArrayFormatter::try_new(a, &Default::default())
            .unwrap()
            .value(i)
            .to_string(),
    }
}

fn lines(batches: &[ChangelogBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let vals: Vec<String> = b
                .batch
                .columns()
                .iter()
                .map(|c| render(c.as_ref(), i))
                .collect();
            out.push(format!("{}\t{}", b.kind(i), vals.join("\t")));
        }
    }
    out
}

/// Headrace encodes its reading of `samples` into `dir` (one file).
fn headrace_write(format: &str, cols: &str, samples: &[ChangelogBatch], dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let f = factory(format);
    let c = ctx(format, cols, &[]);
    let mut e = f.create_encoder(&c).unwrap();
    let mut out = Vec::new();
    for b in samples {
        e.encode(b, &mut |_, bytes| {
            out.push(String::from_utf8(bytes.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
    }
    std::fs::write(dir.join("part-0.json"), out.join("\n") + "\n").unwrap();
    out
}

fn file_lines(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn flink_reads_and_writes_the_same_changelog() {
    let py = python();
    assert!(
        py.exists(),
        "PyFlink is not installed: {} is missing. Run `bash benches/flink/setup.sh` (as \
         scripts/test-all.sh does) or set HEADRACE_PYFLINK_PYTHON to a Python with apache-flink 2.3.0",
        py.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let put = |name: &str, text: &str| {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("events.json"), text).unwrap();
        d
    };

    // Debezium with schema: Kafka Connect's wrapper around the first three samples.
    let schema_wrapped: String = DBZ_SAMPLES
        .lines()
        .filter(|l| !l.is_empty())
        .take(3)
        .map(|l| {
            format!(
                "{{\"schema\":{{\"type\":\"struct\",\"optional\":false,\"name\":\"dbserver1.inventory.products.Envelope\"}},\"payload\":{l}}}\n"
            )
        })
        .collect();

    // ignore-parse-errors: a schema-change event, garbage and an unknown op are skipped by both;
    // values that do not fit their columns (a string id, an object for a date) read as NULL in
    // rows that are kept.
    let samples: Vec<&str> = DBZ_SAMPLES.lines().collect();
    let bad = [
        samples[0],
        r#"{"source":{"db":"inventory","table":"products"},"databaseName":"inventory","ddl":"ALTER TABLE products ADD COLUMN c INT","tableChanges":[]}"#,
        "not json at all",
        r#"{"before":null,"after":{"id":9},"op":"t"}"#,
        r#"{"before":null,"after":{"id":"nine","name":"n","d":{"y":2020},"tags":"not a list"},"op":"c"}"#,
        samples[1],
    ]
    .join("\n");

    let mut jobs = vec![
        Job {
            name: "debezium with bad records ignored",
            format: "debezium-json",
            columns: COLS,
            metadata: vec![],
            options: vec![("ignore-parse-errors", "true")],
            dir: put("dbz_bad", &(bad + "\n")),
            write: None,
        },
        Job {
            name: "debezium samples",
            format: "debezium-json",
            columns: COLS,
            metadata: vec![],
            options: vec![],
            dir: put("dbz_samples", DBZ_SAMPLES),
            write: None,
        },
        Job {
            name: "debezium with schema",
            format: "debezium-json",
            columns: COLS,
            metadata: vec![],
            options: vec![("schema-include", "true")],
            dir: put("dbz_schema", &schema_wrapped),
            write: None,
        },
        Job {
            name: "canal samples",
            format: "canal-json",
            columns: CANAL_COLS,
            metadata: vec![],
            options: vec![
                ("table.include", "prod.*"),
                ("database.include", "inventory"),
            ],
            dir: put("canal_samples", CANAL_SAMPLES),
            write: None,
        },
        Job {
            name: "maxwell samples",
            format: "maxwell-json",
            columns: CANAL_COLS,
            metadata: vec![],
            options: vec![],
            dir: put("maxwell_samples", MAXWELL_SAMPLES),
            write: None,
        },
    ];

    // Headrace writes its reading of the samples; Flink reads that and writes it back.
    let mut written = Vec::new();
    for (name, format, cols, samples) in [
        ("dbz", "debezium-json", COLS, 1usize),
        ("canal", "canal-json", CANAL_COLS, 3),
        ("maxwell", "maxwell-json", CANAL_COLS, 4),
    ] {
        let sample_job = &jobs[samples];
        let plain = Job {
            metadata: vec![],
            name: sample_job.name,
            format,
            columns: cols,
            options: sample_job.options.clone(),
            dir: sample_job.dir.clone(),
            write: None,
        };
        let rows = headrace_read(&plain, &plain.dir);
        let dir = root.join(format!("{name}_headrace"));
        let encoded = headrace_write(format, cols, &rows, &dir);
        written.push((format, cols, encoded));
        jobs.push(Job {
            name: match name {
                "dbz" => "debezium written by headrace",
                "canal" => "canal written by headrace",
                _ => "maxwell written by headrace",
            },
            format,
            columns: cols,
            metadata: vec![],
            options: vec![],
            dir,
            write: Some(root.join(format!("{name}_flink"))),
        });
    }

    // Run every job in one JVM.
    let spec = serde_json::json!({
        "jobs": jobs.iter().enumerate().map(|(i, j)| {
            let mut cols = j.columns.to_string();
            for (c, k) in &j.metadata {
                let t = factory(j.format).metadata().into_iter().find(|m| m.key == *k).unwrap().data_type;
                cols.push_str(&format!(", {c} {t} METADATA FROM '{k}' VIRTUAL"));
            }
            serde_json::json!({
                "name": j.name,
                "format": j.format,
                "columns": cols,
                "options": j.options.iter().map(|(k, v)| (format!("{}.{k}", j.format), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
                "read": j.dir,
                "result": root.join(format!("result{i}.txt")),
                "write": j.write,
            })
        }).collect::<Vec<_>>(),
    });
    let spec_path = root.join("jobs.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flink/crosscheck.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&spec_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    assert!(
        out.status.success(),
        "PyFlink failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // 1. The same changelog from the same files, with the same metadata.
    for (i, j) in jobs.iter().enumerate() {
        let flink: Vec<String> = std::fs::read_to_string(root.join(format!("result{i}.txt")))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let ours = lines(&headrace_read(j, &j.dir));
        assert!(!flink.is_empty(), "{}: Flink read no rows", j.name);
        assert_eq!(
            ours, flink,
            "{}: Headrace (left) and Flink (right) differ",
            j.name
        );
    }
    // Sanity on what was compared: every kind occurs, filters applied.
    let skipped = std::fs::read_to_string(root.join("result0.txt")).unwrap();
    assert_eq!(skipped.lines().count(), 3, "{skipped}");
    let dbz = std::fs::read_to_string(root.join("result1.txt")).unwrap();
    for k in ["+I\t", "-U\t", "+U\t", "-D\t"] {
        assert!(dbz.contains(k), "{k} missing from {dbz}");
    }
    let canal = std::fs::read_to_string(root.join("result3.txt")).unwrap();
    assert!(
        !canal.contains("elsewhere") && canal.lines().count() == 7,
        "{canal}"
    );

    // 2. What Flink writes is what Headrace writes, record for record, and Headrace reads it
    // back. Compared as JSON values: Flink strips trailing zeros of decimals (8.10 is written
    // 8.1, Jackson's number normalisation) where Headrace's json format keeps the scale.
    let as_json = |v: &[String]| -> Vec<serde_json::Value> {
        v.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    for (k, (format, cols, encoded)) in written.iter().enumerate() {
        let j = &jobs[5 + k];
        let dir = j.write.as_ref().unwrap();
        let flink_lines = file_lines(dir);
        assert_eq!(
            as_json(&flink_lines),
            as_json(encoded),
            "{format}: Flink's records (left) differ from Headrace's"
        );
        let reread = Job {
            name: j.name,
            format,
            columns: cols,
            metadata: vec![],
            options: vec![],
            dir: dir.clone(),
            write: None,
        };
        assert_eq!(
            lines(&headrace_read(&reread, dir)),
            lines(&headrace_read(j, &j.dir)),
            "{format}: Headrace's reading of Flink's files"
        );
    }
}
