//! Run a job from Rust with the Job API: a `lines` source made with the builder, a filter and a
//! projection in SQL expressions, and a `lines` sink.
//!
//! ```text
//! cargo run -p headrace-example-connector --example job_api
//! RUST_LOG=debug cargo run -p headrace-example-connector --example job_api   # see the connector's logs
//! ```

use std::time::Duration;

use headrace_example_connector::{EmptyLines, LinesSink, LinesSource};
use headrace_runtime::job::Job;
use headrace_sdk::schema::{Column, TableSchema};
use headrace_sdk::types::DataType;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    // Some input: two small log files in a scratch directory.
    let dir = tempfile::tempdir()?;
    let access = dir.path().join("access.log");
    let errors_log = dir.path().join("error.log");
    std::fs::write(
        &access,
        "GET /index.html 200\n\nGET /missing 404\nERROR upstream timed out\n",
    )?;
    std::fs::write(&errors_log, "INFO started\nERROR disk full\nINFO stopping")?;

    // The source, built with the typed builder. The builder's `columns("...")` takes physical
    // columns only, so to read the `file` metadata we pass a schema with a metadata column.
    let mut schema = TableSchema::parse_columns("line STRING, line_number BIGINT")?;
    schema.columns.push(Column::metadata(
        "file",
        DataType::parse("STRING")?,
        None,
        true,
    ));
    let source = LinesSource::builder()
        .path(format!("{};{}", access.display(), errors_log.display()))
        .scan_empty_lines(EmptyLines::Skip)
        .schema(schema)
        .name("logs")
        .build_source()?;

    // The sink: one STRING column, appended to a file.
    let out = dir.path().join("errors.txt");
    let sink = LinesSink::builder()
        .path(out.display().to_string())
        .sink_flush_interval(Duration::from_millis(200))
        .columns("line STRING")?
        .name("errors")
        .build_sink()?;

    // The job: `parallelism` must be set before the pipeline is added (it is read by `sink_to`).
    let summary = Job::new()
        .parallelism(2)
        .checkpoint_interval(Duration::from_millis(100))
        .from_source("logs", source)
        .filter("line LIKE '%ERROR%'")
        .select(["CONCAT(file, ':', CAST(line_number AS STRING), ': ', line)"])
        .sink_to("errors", sink)
        .execute()
        .await?;

    println!(
        "{:?}: read {:?} rows, wrote {:?} rows in {:?}",
        summary.outcome, summary.rows_in, summary.rows_out, summary.elapsed
    );
    println!("--- {} ---", out.display());
    print!("{}", std::fs::read_to_string(&out)?);
    Ok(())
}
