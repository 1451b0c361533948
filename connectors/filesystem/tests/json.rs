//! With the real `json` format: a SQL job reads partitioned JSON lines (skipping a bad one with
//! `json.ignore-parse-errors`) and writes partitioned JSON lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{visible_files, write};
use headrace_format_json::JsonFormatFactory;
use headrace_runtime::exec::{ExecOptions, JobMetrics, JobOutcome};
use headrace_runtime::{execute, plan_job};
use headrace_sdk::registry::Registry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_in_partition_directories_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    write(
        &inp.join("region=eu/part-1.json"),
        "{\"id\": 1, \"name\": \"ann\", \"score\": 1.5}\n\
         not json at all\n\
         {\"id\": 2, \"name\": \"bob\"}\n",
    );
    write(
        &inp.join("region=us/part-2.json"),
        "{\"id\": 3, \"name\": \"cy\", \"score\": -2}\n",
    );
    let sql = format!(
        "SET 'parallelism.default' = '2';
         SET 'execution.checkpointing.interval' = '20 ms';
         CREATE TABLE src (id BIGINT, name STRING, score DOUBLE, region STRING,
                           file STRING METADATA FROM 'file.name' VIRTUAL)
           PARTITIONED BY (region)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'json.ignore-parse-errors' = 'true');
         CREATE TABLE dst (id BIGINT, name STRING, file STRING, region STRING)
           PARTITIONED BY (region)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         INSERT INTO dst SELECT id, name, file, region FROM src;",
        inp.display(),
        out.display()
    );
    let mut registry = Registry::new();
    registry
        .register_connector(headrace_connector_filesystem::factory())
        .register_format(Arc::new(JsonFormatFactory));
    let plan = plan_job(&sql, &registry).unwrap();
    let opts = ExecOptions {
        state_dir: Some(tmp.path().join("state")),
        checkpoint_interval: plan.settings.checkpoint_interval().unwrap(),
        retained_checkpoints: 3,
        batch_size: 100,
    };
    let (_stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        execute(
            plan.pipelines,
            opts,
            Arc::new(JobMetrics::default()),
            stop_rx,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.outcome, JobOutcome::Finished);
    let mut got = Vec::new();
    for f in visible_files(&out) {
        let dir = f.parent().unwrap().display().to_string();
        for line in std::fs::read_to_string(out.join(&f)).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                v.get("region").is_none(),
                "partition column in the file: {line}"
            );
            got.push(format!("{dir} {} {} {}", v["id"], v["name"], v["file"]));
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            "region=eu 1 \"ann\" \"part-1.json\"",
            "region=eu 2 \"bob\" \"part-1.json\"",
            "region=us 3 \"cy\" \"part-2.json\"",
        ]
    );
}
