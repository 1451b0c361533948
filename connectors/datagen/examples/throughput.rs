//! Throughput check: the 5-column benchmark schema from datagen into a blackhole, on one core.
//!
//! ```text
//! cargo run --release -p headrace-connector-datagen --example throughput [rows] [batch_size] [max-past]
//! ```
//!
//! Prints rows per second; not a test (timings depend on the machine).

use std::sync::Arc;
use std::time::Instant;

use headrace_connector_blackhole::BlackholeSink;
use headrace_connector_datagen::{DatagenFactory, DatagenSource};
use headrace_sdk::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000_000);
    let batch_size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8192);
    // 'fields.ts.max-past' (Flink's default 0 makes every timestamp "now").
    let max_past = args.next().unwrap_or_else(|| "0 ms".to_string());
    let columns = "id BIGINT, v INT, d DOUBLE, s STRING, ts TIMESTAMP(3)";

    let source = DatagenSource::builder()
        .registry(Registry::new().with_connector(DatagenFactory))
        .columns(columns)?
        .field("id", "kind", "sequence")
        .field("id", "start", "1")
        .field("id", "end", rows.to_string())
        .field("s", "length", "10")
        .field("ts", "max-past", max_past.clone())
        .rows_per_second(i64::MAX)
        .build_source()?;
    let sink = BlackholeSink::builder()
        .registry(Registry::new().with_connector(headrace_connector_blackhole::BlackholeFactory))
        .columns(columns)?
        .build_sink()?;

    let mut enumerator = source.create_enumerator(EnumeratorContext { parallelism: 1 }, None)?;
    let mut reader = source.create_reader(ReaderContext {
        subtask: 0,
        parallelism: 1,
        batch_size,
        metrics: Arc::new(SourceMetrics::default()),
    })?;
    let mut writer = sink.create_writer(WriterContext {
        subtask: 0,
        parallelism: 1,
        restored_state: vec![],
        restored_checkpoint_id: 0,
        metrics: Arc::new(SinkMetrics::default()),
    })?;

    let start = Instant::now();
    let mut total = 0u64;
    loop {
        match reader.poll_next().await? {
            ReadEvent::Batch(b) => {
                total += b.num_rows() as u64;
                writer.write(b).await?;
            }
            ReadEvent::Idle => {}
            ReadEvent::NeedSplits => match enumerator.handle_split_request(0).await? {
                SplitAssignment::Splits(s) => reader.add_splits(s)?,
                SplitAssignment::NotYet => {}
                SplitAssignment::NoMoreSplits => reader.no_more_splits(),
            },
            ReadEvent::End => break,
        }
    }
    writer.flush(true).await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} rows of ({columns}) in {secs:.3} s: {:.1} million rows/s (batch size \
         {batch_size}, max-past {max_past})",
        total as f64 / secs / 1e6
    );
    Ok(())
}
