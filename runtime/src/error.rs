//! The runtime's error type.

use headrace_sdk::error::ErrorDomain;

/// Errors of planning and running a job.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The SQL does not parse.
    #[error("SQL error at line {line}, column {column}: {message}")]
    Sql {
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The job is wrong (unknown table, column, type mismatch, ...).
    #[error("{0}")]
    Plan(String),
    /// Valid Flink SQL that needs more than the local runner offers (joins, aggregations, windows).
    #[error("{0}")]
    Unsupported(String),
    /// An SDK or connector error.
    #[error(transparent)]
    Sdk(Box<headrace_sdk::Error>),
    /// An error inside a running task, naming the task.
    #[error("{task}: {source}")]
    Task {
        /// The task, e.g. "source 'orders' subtask 1".
        task: String,
        /// The error.
        #[source]
        source: Box<headrace_sdk::Error>,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An Arrow kernel failed.
    #[error("{0}")]
    Arrow(Box<arrow::error::ArrowError>),
}

impl From<headrace_sdk::Error> for RuntimeError {
    fn from(e: headrace_sdk::Error) -> Self {
        RuntimeError::Sdk(Box::new(e))
    }
}

impl From<arrow::error::ArrowError> for RuntimeError {
    fn from(e: arrow::error::ArrowError) -> Self {
        RuntimeError::Arrow(Box::new(e))
    }
}

impl RuntimeError {
    /// An error inside a running task.
    pub fn task(task: impl Into<String>, source: headrace_sdk::Error) -> Self {
        RuntimeError::Task {
            task: task.into(),
            source: Box::new(source),
        }
    }
}

impl RuntimeError {
    /// Whether the job is valid Flink SQL that only the local runner cannot run.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, RuntimeError::Unsupported(_))
    }

    /// Whose fault the error is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            RuntimeError::Sql { .. } | RuntimeError::Plan(_) | RuntimeError::Unsupported(_) => {
                ErrorDomain::User
            }
            RuntimeError::Sdk(e) | RuntimeError::Task { source: e, .. } => e.domain(),
            RuntimeError::Checkpoint(_) => ErrorDomain::External,
            RuntimeError::Arrow(_) => ErrorDomain::User,
        }
    }
}

/// The runtime's result type.
pub type RuntimeResult<T> = std::result::Result<T, RuntimeError>;
