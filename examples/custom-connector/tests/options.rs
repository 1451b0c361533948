//! Option, schema and registration checks: what a user sees when a table is declared wrong.

// Test helpers outside `#[test]` functions may panic too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use headrace_example_connector::{LinesSink, LinesSource, IDENTIFIER};
use headrace_runtime::plan_job;
use headrace_runtime::testing::CommitFilesFactory;
use headrace_sdk::registry::Registry;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_connector(headrace_example_connector::factory())
        .register_connector(Arc::new(CommitFilesFactory));
    r
}

/// Plan `src` (columns and WITH options of a lines table) into a commit-files sink; the error.
fn plan_error(columns: &str, with: &str) -> String {
    let sql = format!(
        "CREATE TABLE src ({columns}) WITH ('connector' = 'lines', {with});
         CREATE TABLE out (line STRING) WITH ('connector' = 'commit-files', 'path' = '/nonexistent');
         INSERT INTO out SELECT line FROM src;"
    );
    match plan_job(&sql, &registry()) {
        Ok(_) => panic!("planning should fail for WITH ({with})"),
        Err(e) => e.to_string(),
    }
}

fn build_error(b: headrace_example_connector::LinesBuilder) -> String {
    match b.build_source() {
        Ok(_) => panic!("building should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unknown_key_is_rejected_with_a_suggestion() {
    let e = plan_error("line STRING", "'pth' = 'a.txt'");
    assert!(e.contains("unsupported option 'pth'"), "{e}");
    assert!(e.contains("Did you mean 'path'?"), "{e}");
    assert!(e.contains("table 'src' (connector 'lines')"), "{e}");
    assert!(
        e.contains("scan.empty-lines"),
        "lists the supported keys: {e}"
    );

    let e = build_error(
        LinesSource::builder()
            .path("a.txt")
            .option("scan.empty-line", "skip"),
    );
    assert!(e.contains("Did you mean 'scan.empty-lines'?"), "{e}");
}

#[test]
fn a_missing_required_key_is_named_with_its_description() {
    let e = plan_error("line STRING", "'scan.empty-lines' = 'skip'");
    assert!(e.contains("missing required option 'path'"), "{e}");
    assert!(e.contains("separated by ';'"), "{e}");

    let e = build_error(LinesSource::builder());
    assert!(e.contains("missing required option 'path'"), "{e}");
}

#[test]
fn invalid_values_say_what_is_allowed() {
    let e = plan_error("line STRING", "'path' = 'a', 'scan.empty-lines' = 'drop'");
    assert!(
        e.contains("invalid value 'drop' for option 'scan.empty-lines'"),
        "{e}"
    );
    assert!(e.contains("expected one of: keep, skip"), "{e}");

    let e = plan_error(
        "line STRING",
        "'path' = 'a', 'sink.flush-interval' = 'soon'",
    );
    assert!(
        e.contains("invalid value 'soon' for option 'sink.flush-interval'"),
        "{e}"
    );

    let e = plan_error("line STRING", "'path' = 'a.txt; b.txt ;a.txt'");
    assert!(e.contains("'a.txt' is listed twice"), "{e}");

    let e = plan_error("line STRING", "'path' = ' ; '");
    assert!(e.contains("no file given"), "{e}");
}

#[test]
fn declared_columns_must_be_columns_of_the_connector() {
    let e = plan_error("line STRING, line_number INT", "'path' = 'a'");
    assert!(e.contains("column 'line_number' is INT"), "{e}");
    assert!(e.contains("BIGINT"), "{e}");

    let e = plan_error("line STRING, line_numbr BIGINT", "'path' = 'a'");
    assert!(e.contains("Did you mean 'line_number'?"), "{e}");

    // Metadata keys are checked by the SDK from `ConnectorFactory::metadata()`.
    let e = plan_error(
        "line STRING, f STRING METADATA FROM 'fil' VIRTUAL",
        "'path' = 'a'",
    );
    assert!(e.contains("metadata key 'fil'"), "{e}");
    assert!(e.contains("Did you mean 'file'?"), "{e}");

    let e = plan_error("line STRING, file INT METADATA VIRTUAL", "'path' = 'a'");
    assert!(e.contains("metadata column 'file' is INT"), "{e}");
}

#[test]
fn the_sink_takes_one_file_and_one_string_column() {
    let sql = |columns: &str, path: &str| {
        let select = vec!["line"; columns.split(',').count()].join(", ");
        format!(
            "CREATE TABLE src (line STRING) WITH ('connector' = 'lines', 'path' = 'in.txt');
             CREATE TABLE out ({columns}) WITH ('connector' = 'lines', 'path' = '{path}');
             INSERT INTO out SELECT {select} FROM src;"
        )
    };
    let err = |sql: String| match plan_job(&sql, &registry()) {
        Ok(_) => panic!("should fail: {sql}"),
        Err(e) => e.to_string(),
    };
    let e = err(sql("line STRING", "a.txt;b.txt"));
    assert!(e.contains("exactly one file"), "{e}");

    let e = err(sql("n BIGINT", "out.txt"));
    assert!(e.contains("one STRING column"), "{e}");

    // The `file` metadata is read-only: a sink may only declare it VIRTUAL.
    let e = err(sql("line STRING, file STRING METADATA", "out.txt"));
    assert!(e.contains("read-only"), "{e}");

    // And the happy path plans.
    assert!(plan_job(&sql("line STRING", "out.txt"), &registry()).is_ok());
    assert!(LinesSink::builder()
        .path("out.txt")
        .columns("text VARCHAR(100)")
        .unwrap()
        .build_sink()
        .is_ok());
}

#[test]
fn without_declared_columns_the_source_produces_line_and_line_number() {
    let src = LinesSource::builder().path("a.txt").build_source().unwrap();
    let names: Vec<String> = src
        .produced_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["line", "line_number"]);
}

#[test]
fn the_connector_is_registered_both_ways() {
    // `register_connector!` in lib.rs: found by every registry built from the inventory.
    let global = Registry::from_inventory();
    let f = global.connector(IDENTIFIER).unwrap();
    assert_eq!(f.identifier(), "lines");
    assert!(f.supports_source() && f.supports_sink());

    // `factory()`: for explicit registration.
    let f = headrace_example_connector::factory();
    assert_eq!(f.identifier(), "lines");
    let meta = f.metadata();
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].key, "file");
    assert!(meta[0].readable && !meta[0].writable);
    let keys: Vec<&str> = f.options().all().map(|o| o.key).collect();
    assert_eq!(keys, ["path", "scan.empty-lines", "sink.flush-interval"]);
    assert_eq!(f.options().required.len(), 1);
}
