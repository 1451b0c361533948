//! The bad-record policy (`headrace.bad-records.*`) through the `headrace` binary: a CSV file with
//! bad lines read under the fail, skip and dead-letter policies, the dead letters written by a
//! real filesystem sink (JSON) and read back; and the plan-time checks of dead-letter tables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use common::{committed_lines, run, run_with_summary, write_job};
use std::path::PathBuf;

/// A CSV file with good lines 1, 3, 5 and 7 and bad lines 2 (not a number), 4 (too many fields)
/// and 6 (not a number).
const CSV: &str = "1,a\nx,b\n3,c\n4,d,extra\n5,e\nsix,f\n7,g\n";

/// The source options of the dead-letter policy with table `dlq`.
const DLQ: &str = ", 'headrace.bad-records.policy' = 'dead-letter', \
                   'headrace.bad-records.dead-letter-table' = 'dlq'";

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    input: PathBuf,
}

fn setup() -> Setup {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().to_path_buf();
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("data.csv"), CSV).unwrap();
    Setup {
        _dir: d,
        root,
        input,
    }
}

fn job(s: &Setup, name: &str, policy_options: &str, extra_tables: &str) -> PathBuf {
    let sql = format!(
        "CREATE TABLE src (id INT, name STRING) WITH ('connector' = 'filesystem',
            'path' = '{input}', 'format' = 'csv'{policy_options});
         CREATE TABLE good (id INT, name STRING) WITH ('connector' = 'filesystem',
            'path' = '{out}', 'format' = 'json');
         {extra_tables}
         INSERT INTO good SELECT * FROM src;",
        input = s.input.display(),
        out = s.root.join("good").display(),
    );
    write_job(&s.root, name, &sql)
}

fn dead_letter_table(s: &Setup, columns: &str) -> String {
    format!(
        "CREATE TABLE dlq ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}',
            'format' = 'json');",
        s.root.join("dlq").display()
    )
}

const ALL_COLUMNS: &str = "raw STRING, error STRING, origin STRING, source_table STRING, \
     connector STRING, format STRING, stage STRING, event_time TIMESTAMP_LTZ(3)";

fn good_ids(s: &Setup) -> Vec<i64> {
    let mut ids: Vec<i64> = committed_lines(&s.root.join("good"))
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_i64())
        .collect();
    ids.sort();
    ids
}

#[test]
fn dead_letter_table_gets_exactly_the_bad_lines_with_origin_and_error() {
    let s = setup();
    let dlq = dead_letter_table(&s, ALL_COLUMNS);
    let j = job(&s, "dlq.sql", DLQ, &dlq);
    let (err, v) = run_with_summary(&j);
    assert_eq!(good_ids(&s), vec![1, 3, 5, 7]);

    let path = s.input.join("data.csv");
    let mut letters: Vec<serde_json::Value> = committed_lines(&s.root.join("dlq"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    letters.sort_by_key(|v| v["origin"].as_str().unwrap().to_string());
    let raws: Vec<&str> = letters.iter().map(|v| v["raw"].as_str().unwrap()).collect();
    assert_eq!(raws, vec!["x,b", "4,d,extra", "six,f"], "{letters:?}");
    for (v, line) in letters.iter().zip([2, 4, 6]) {
        let origin = format!("file '{}' line {line}", path.display());
        assert_eq!(v["origin"].as_str().unwrap(), origin);
        let e = v["error"].as_str().unwrap();
        assert!(e.starts_with("csv: cannot process record from"), "{e}");
        assert!(e.contains(&origin), "{e}");
        assert_eq!(v["source_table"], "src");
        assert_eq!(v["connector"], "filesystem");
        assert_eq!(v["format"], "csv");
        assert_eq!(v["stage"], "decode");
        assert!(v["event_time"].as_str().unwrap().starts_with("20"), "{v}");
    }
    assert!(letters[1]["error"].as_str().unwrap().contains("3 fields"));

    assert_eq!(v["rows_out"][0], 4, "{v}");
    assert_eq!(v["dead_lettered"][0], 3, "{v}");
    // the dead-letter table's own entry: 3 rows written
    assert_eq!(v["rows_out"][1], 3, "{v}");
    assert!(
        err.contains("3 bad record(s) sent to the dead-letter table"),
        "{err}"
    );
}

#[test]
fn dead_letter_table_with_some_columns_and_bytes() {
    let s = setup();
    // two files, two readers, two dead-letter writers
    std::fs::write(s.input.join("more.csv"), "8,h\nnine,i\n").unwrap();
    let dlq = dead_letter_table(&s, "origin STRING, raw BYTES");
    let j = job(
        &s,
        "dlq.sql",
        DLQ,
        &format!("SET 'parallelism.default' = '2';\n{dlq}"),
    );
    let o = run(&["run", j.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut letters: Vec<(String, String)> = committed_lines(&s.root.join("dlq"))
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
            (
                v["origin"].as_str().unwrap().to_string(),
                v["raw"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    letters.sort();
    // BYTES in Flink's JSON format are base64
    let raws: Vec<&str> = letters.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        raws,
        vec!["eCxi", "NCxkLGV4dHJh", "c2l4LGY=", "bmluZSxp"],
        "{letters:?}"
    );
    assert!(letters[3].0.ends_with("more.csv' line 2"), "{letters:?}");
    assert_eq!(good_ids(&s), vec![1, 3, 5, 7, 8]);
}

#[test]
fn skip_policy_counts_and_fail_policy_names_line_and_option() {
    let s = setup();
    let j = job(
        &s,
        "skip.sql",
        ", 'headrace.bad-records.policy' = 'skip'",
        "",
    );
    let (err, v) = run_with_summary(&j);
    assert_eq!(good_ids(&s), vec![1, 3, 5, 7]);
    assert_eq!(v["skipped"][0], 3, "{v}");
    assert_eq!(v["dead_lettered"][0], 0, "{v}");
    assert!(err.contains("3 bad record(s) skipped"), "{err}");

    // csv.ignore-parse-errors keeps its own meaning (and count).
    let s = setup();
    let j = job(&s, "ignore.sql", ", 'csv.ignore-parse-errors' = 'true'", "");
    let o = run(&["run", j.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(good_ids(&s).contains(&1));

    // fail (the default): the error names the file, the line and the option that changes it.
    let s = setup();
    let j = job(&s, "fail.sql", "", "");
    let o = run(&["run", j.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let origin = format!("file '{}' line 2", s.input.join("data.csv").display());
    assert!(err.contains(&origin), "{err}");
    assert!(
        err.contains("'headrace.bad-records.policy' = 'skip' to table 'src'")
            && err.contains("dead-letter"),
        "{err}"
    );
}

fn plan_error(sql: &str) -> String {
    let r = headrace_cli::builtin_registry();
    match headrace_runtime::plan_job(sql, &r) {
        Ok(_) => panic!("planning succeeded: {sql}"),
        Err(e) => e.to_string(),
    }
}

fn plan_sql(policy: &str, dlq_columns: &str) -> String {
    format!(
        "CREATE TABLE src (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1'{policy});
         CREATE TABLE out (id INT) WITH ('connector' = 'blackhole');
         CREATE TABLE dlq ({dlq_columns}) WITH ('connector' = 'print');
         INSERT INTO out SELECT * FROM src;"
    )
}

#[test]
fn dead_letter_tables_are_checked_when_planning() {
    let r = headrace_cli::builtin_registry();
    // valid: any subset of the layout, by name, in any order
    let p = headrace_runtime::plan_job(&plan_sql(DLQ, "origin STRING, raw BYTES"), &r).unwrap();
    let b = p.pipelines[0].source_bad_records.as_ref().unwrap();
    assert_eq!(b.dead_letters.as_ref().unwrap().table, "dlq");

    // unknown table
    let e = plan_error(&plan_sql(
        ", 'headrace.bad-records.policy' = 'dead-letter', \
         'headrace.bad-records.dead-letter-table' = 'dlg'",
        "raw STRING",
    ));
    assert!(
        e.contains("headrace.bad-records.dead-letter-table")
            && e.contains("unknown table 'dlg'")
            && e.contains("Did you mean 'dlq'?"),
        "{e}"
    );

    // wrong column type
    let e = plan_error(&plan_sql(DLQ, "raw STRING, error INT"));
    assert!(
        e.contains("column 'error' is declared INT but must be STRING"),
        "{e}"
    );
    let e = plan_error(&plan_sql(DLQ, "raw INT"));
    assert!(e.contains("must be BYTES or STRING"), "{e}");

    // unknown column: the valid ones are listed
    let e = plan_error(&plan_sql(DLQ, "raw STRING, eror STRING"));
    assert!(
        e.contains("column 'eror' is not a dead-letter column")
            && e.contains("Did you mean 'error'?")
            && e.contains("source_table STRING")
            && e.contains("event_time TIMESTAMP_LTZ(3)"),
        "{e}"
    );

    // dead-letter without a table, and a table without the dead-letter policy
    let e = plan_error(&plan_sql(
        ", 'headrace.bad-records.policy' = 'dead-letter'",
        "raw STRING",
    ));
    assert!(
        e.contains("missing required option 'headrace.bad-records.dead-letter-table'"),
        "{e}"
    );
    let e = plan_error(&plan_sql(
        ", 'headrace.bad-records.dead-letter-table' = 'dlq'",
        "raw STRING",
    ));
    assert!(
        e.contains("conflicting options") && e.contains("'fail'"),
        "{e}"
    );

    // an unknown policy value
    let e = plan_error(&plan_sql(
        ", 'headrace.bad-records.policy' = 'ignore'",
        "raw STRING",
    ));
    assert!(e.contains("fail, skip, dead-letter"), "{e}");

    // the table itself
    let e = plan_error(
        "CREATE TABLE src (raw STRING) WITH ('connector' = 'datagen',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'src');
         CREATE TABLE out (raw STRING) WITH ('connector' = 'blackhole');
         INSERT INTO out SELECT * FROM src;",
    );
    assert!(e.contains("names the table itself"), "{e}");
}

/// Sink side: rows the sink's format cannot encode (characters outside US-ASCII for the raw
/// format) go to the same kind of dead-letter table, as JSON text, with stage `encode`.
#[test]
fn rows_a_sink_cannot_encode_become_dead_letters() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("names.csv"),
        "1,abc\n2,caf\u{e9}\n3,xyz\n4,\u{fc}ber\n",
    )
    .unwrap();
    let dlq = format!(
        "CREATE TABLE dlq ({ALL_COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{}',
            'format' = 'json');",
        root.join("dlq").display()
    );
    let sql = format!(
        "CREATE TABLE src (id INT, name STRING) WITH ('connector' = 'filesystem',
            'path' = '{}', 'format' = 'csv');
         CREATE TABLE out (name STRING) WITH ('connector' = 'filesystem', 'path' = '{}',
            'format' = 'raw', 'raw.charset' = 'US-ASCII',
            'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dlq');
         {dlq}
         INSERT INTO out SELECT name FROM src;",
        input.display(),
        root.join("out").display(),
    );
    let j = write_job(root, "encode.sql", &sql);
    let o = run(&["run", j.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut out = committed_lines(&root.join("out"));
    out.sort();
    assert_eq!(out, vec!["abc", "xyz"]);
    let mut letters: Vec<serde_json::Value> = committed_lines(&root.join("dlq"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    letters.sort_by_key(|v| v["raw"].as_str().unwrap().to_string());
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert_eq!(letters[0]["raw"], "{\"name\":\"caf\u{e9}\"}");
    assert_eq!(letters[1]["raw"], "{\"name\":\"\u{fc}ber\"}");
    for v in &letters {
        assert_eq!(v["stage"], "encode");
        assert_eq!(v["source_table"], "out");
        assert_eq!(v["format"], "raw");
        assert!(
            v["origin"]
                .as_str()
                .unwrap()
                .contains("written to table 'out'"),
            "{v}"
        );
        assert!(v["error"].as_str().unwrap().contains("US-ASCII"), "{v}");
    }

    // The fail policy names the option too.
    let sql = std::fs::read_to_string(&j)
        .unwrap()
        .replace(
            "'headrace.bad-records.policy' = 'dead-letter',
            'headrace.bad-records.dead-letter-table' = 'dlq'",
            "'sink.rolling-policy.file-size' = '1MB'",
        )
        .replace(
            &root.join("out").display().to_string(),
            &root.join("out2").display().to_string(),
        );
    let j2 = write_job(root, "encode-fail.sql", &sql);
    let o = run(&["run", j2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("US-ASCII")
            && err.contains("'headrace.bad-records.policy' = 'skip' to table 'out'"),
        "{err}"
    );
}

/// A dead-letter table applies its own policy (here `skip`) to dead letters its format cannot
/// write.
#[test]
fn a_dead_letter_table_skips_what_it_cannot_write_under_its_own_policy() {
    let s = setup();
    std::fs::write(s.input.join("more.csv"), "caf\u{e9},x\n").unwrap();
    let dlq = format!(
        "CREATE TABLE dlq (raw STRING) WITH ('connector' = 'filesystem', 'path' = '{}',
            'format' = 'raw', 'raw.charset' = 'US-ASCII', 'headrace.bad-records.policy' = 'skip');",
        s.root.join("dlq").display()
    );
    let j = job(&s, "dlq.sql", DLQ, &dlq);
    let (_, v) = run_with_summary(&j);
    let mut raws = committed_lines(&s.root.join("dlq"));
    raws.sort();
    assert_eq!(raws, vec!["4,d,extra", "six,f", "x,b"]);
    assert_eq!(v["dead_lettered"][0], 4, "{v}");
    // the dead-letter table's own entry: 4 handed to its sink, of which 1 skipped
    assert_eq!(v["rows_out"][1], 4, "{v}");
    assert_eq!(v["skipped"][1], 1, "{v}");
}

/// The Rust Job API: `bad_records(Skip)` skips and counts; `DeadLetter` is refused there.
#[test]
fn job_api_skips_bad_records_when_asked() {
    use headrace_sdk::bad_records::BadRecordPolicy;
    let s = setup();
    let source = || {
        headrace_connector_filesystem::FileSource::builder()
            .registry(headrace_cli::builtin_registry())
            .columns("id INT, name STRING")
            .unwrap()
            .path(s.input.display().to_string())
            .format("csv")
            .build_source()
            .unwrap()
    };
    let sink = || {
        headrace_connector_blackhole::BlackholeSink::builder()
            .columns("id INT, name STRING")
            .unwrap()
            .build_sink()
            .unwrap()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |policy: Option<BadRecordPolicy>| {
        let mut p = headrace_runtime::job::Job::new().from_source("src", source());
        if let Some(policy) = policy {
            p = p.bad_records(policy);
        }
        rt.block_on(p.sink_to("out", sink()).execute())
    };
    let summary = run(Some(BadRecordPolicy::Skip)).unwrap();
    assert_eq!(summary.rows_out, vec![4]);
    assert_eq!(summary.skipped, vec![3]);
    let e = run(None).unwrap_err().to_string();
    assert!(
        e.contains("line 2") && e.contains("'headrace.bad-records.policy' = 'skip' to table 'src'"),
        "{e}"
    );
    let e = run(Some(BadRecordPolicy::DeadLetter))
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs a dead-letter table"), "{e}");
}
