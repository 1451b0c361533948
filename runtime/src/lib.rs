//! # Headrace runtime
//!
//! Plans Flink SQL jobs (`SET`, `CREATE TABLE`, `INSERT INTO ... SELECT`, statement sets) against a
//! [`Registry`](headrace_sdk::registry::Registry) of connectors and runs them on one machine, with
//! checkpoints in a state directory and exactly-once commits where the sinks allow it.
//!
//! The same jobs can be built in Rust with [`job::Job`].

pub mod checkpoint;
pub mod dead_letter;
pub mod error;
pub mod exec;
pub mod expr;
pub mod harness;
pub mod job;
pub mod plan;
pub mod shuffle;
pub mod sql;
pub mod testing;
pub mod watermark;

pub use error::{RuntimeError, RuntimeResult};
pub use exec::{execute, ExecOptions, JobMetrics, JobOutcome, JobSummary};
pub use plan::{plan_job, JobPlan};
