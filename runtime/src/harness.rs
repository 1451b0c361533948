//! Running SQL jobs from tests: plan, execute with checkpoints in a state directory, and optionally
//! stop once some number of rows has been read (a stop takes a final checkpoint, like Ctrl-C).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use headrace_sdk::registry::Registry;

use crate::error::{RuntimeError, RuntimeResult};
use crate::exec::{execute, ExecOptions, JobMetrics, JobSummary};
use crate::plan::plan_job;

/// Decides from the rows read so far (all pipelines) when to ask the job to stop.
pub type StopWhen = Box<dyn Fn(u64) -> bool + Send>;

/// Plan `sql` against `registry` and run it with checkpoints kept in `state_dir`. With `stop_when`,
/// the job is asked to stop (final checkpoint) as soon as it returns true. Fails after `limit`.
pub async fn run_sql(
    sql: &str,
    registry: &Registry,
    state_dir: Option<&Path>,
    stop_when: Option<StopWhen>,
    limit: Duration,
) -> RuntimeResult<JobSummary> {
    let plan = plan_job(sql, registry)?;
    let opts = ExecOptions::from_settings(&plan.settings, state_dir.map(Path::to_path_buf))?;
    let metrics = Arc::new(JobMetrics::default());
    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
    let watcher = tokio::spawn({
        let m = metrics.clone();
        async move {
            loop {
                if let Some(cond) = &stop_when {
                    let read: u64 = m
                        .pipelines_snapshot()
                        .iter()
                        .map(|p| p.source.records.load(Ordering::Relaxed))
                        .sum();
                    if cond(read) {
                        let _ = stop_tx.send(()).await;
                        // keep the sender alive: a closed channel is not a stop request
                        std::future::pending::<()>().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let r = tokio::time::timeout(limit, execute(plan.pipelines, opts, metrics, stop_rx)).await;
    watcher.abort();
    r.map_err(|_| RuntimeError::Plan(format!("the job did not end within {limit:?}")))?
}
