//! Changelog formats through the filesystem source: the row kinds the format decodes (-U, +U,
//! -D from debezium-json) reach the sink.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use headrace_runtime::harness::run_sql;
use headrace_sdk::registry::Registry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debezium_json_files_keep_their_row_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("changes.json"),
        concat!(
            r#"{"before":null,"after":{"id":1,"name":"a"},"op":"c"}"#,
            "\n",
            r#"{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"}"#,
            "\n",
            r#"{"before":{"id":1,"name":"b"},"after":null,"op":"d"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut r = Registry::new();
    r.register_connector(headrace_connector_filesystem::factory());
    r.register_connector(Arc::new(headrace_runtime::testing::CommitFilesFactory));
    for f in headrace_format_changelog_json::factories() {
        r.register_format(f);
    }
    let sql = format!(
        "CREATE TABLE src (id BIGINT, name STRING) WITH (
            'connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');
         CREATE TABLE snk (id BIGINT, name STRING) WITH ('connector' = 'commit-files', 'path' = '{}');
         INSERT INTO snk SELECT * FROM src;",
        input.display(),
        out.display()
    );
    run_sql(&sql, &r, None, None, Duration::from_secs(60))
        .await
        .unwrap();
    let mut lines = Vec::new();
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        if e.path().is_file() {
            lines.extend(
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
    }
    assert_eq!(
        lines,
        vec!["+I[1, a]", "-U[1, a]", "+U[1, b]", "-D[1, b]"],
        "row kinds survive the filesystem source"
    );
}
