//! Plan a Flink SQL job against a registry holding the `lines` connector and the runtime's
//! `commit-files` test sink, then run it with checkpoints in a state directory.
//!
//! ```text
//! cargo run -p headrace-example-connector --example sql
//! ```

use std::sync::Arc;

use headrace_runtime::exec::{ExecOptions, JobMetrics};
use headrace_runtime::testing::CommitFilesFactory;
use headrace_runtime::{execute, plan_job};
use headrace_sdk::registry::Registry;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let dir = tempfile::tempdir()?;
    let access = dir.path().join("access.log");
    let errors_log = dir.path().join("error.log");
    std::fs::write(
        &access,
        "GET /index.html 200\n\nGET /missing 404\nERROR upstream timed out\n",
    )?;
    std::fs::write(
        &errors_log,
        "INFO started\nERROR disk full\nINFO stopping\n",
    )?;
    let committed = dir.path().join("errors");
    let shouted = dir.path().join("shouted.txt");

    let sql = format!(
        r#"
        SET 'parallelism.default' = '2';
        SET 'execution.checkpointing.interval' = '100 ms';

        CREATE TABLE logs (
          line        STRING,
          line_number BIGINT,
          file        STRING METADATA VIRTUAL
        ) WITH (
          'connector' = 'lines',
          'path' = '{access};{errors_log}',
          'scan.empty-lines' = 'skip'
        );

        CREATE TABLE errors (file STRING, line_number BIGINT, line STRING)
        WITH ('connector' = 'commit-files', 'path' = '{committed}');

        CREATE TABLE shouted (line STRING)
        WITH ('connector' = 'lines', 'path' = '{shouted}', 'sink.flush-interval' = '0 ms');

        EXECUTE STATEMENT SET BEGIN
          INSERT INTO errors SELECT file, line_number, line FROM logs WHERE line LIKE 'ERROR%';
          INSERT INTO shouted SELECT UPPER(line) FROM logs;
        END;
        "#,
        access = access.display(),
        errors_log = errors_log.display(),
        committed = committed.display(),
        shouted = shouted.display(),
    );

    // Explicit registration. `Registry::from_inventory()` would find `lines` too (it is registered
    // with `register_connector!`), but not `commit-files`, which the runtime does not register.
    let mut registry = Registry::new();
    registry
        .register_connector(headrace_example_connector::factory())
        .register_connector(Arc::new(CommitFilesFactory));

    let plan = plan_job(&sql, &registry)?;
    let opts = ExecOptions {
        state_dir: Some(dir.path().join("state")),
        checkpoint_interval: plan.settings.checkpoint_interval()?,
        retained_checkpoints: plan.settings.retained_checkpoints()?,
        batch_size: plan.settings.batch_size()?,
    };
    // Sending on the stop channel would stop the job after a final checkpoint; a bounded job
    // ends by itself.
    let (_stop, stop_rx) = tokio::sync::mpsc::channel(1);
    let summary = execute(
        plan.pipelines,
        opts,
        Arc::new(JobMetrics::default()),
        stop_rx,
    )
    .await?;
    println!(
        "{:?} after {} checkpoint(s): read {:?} rows, wrote {:?} rows",
        summary.outcome, summary.checkpoints, summary.rows_in, summary.rows_out
    );

    let mut parts: Vec<_> = std::fs::read_dir(&committed)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    parts.sort();
    for p in parts {
        println!("--- {} ---", p.display());
        print!("{}", std::fs::read_to_string(&p)?);
    }
    println!("--- {} ---", shouted.display());
    print!("{}", std::fs::read_to_string(&shouted)?);
    Ok(())
}
