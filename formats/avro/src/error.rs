//! The crate's error type.

use headrace_sdk::error::{Error, RecordOrigin};

/// What can go wrong in the avro formats.
#[derive(Debug, thiserror::Error)]
pub enum AvroError {
    /// The table schema has no Avro equivalent, or a given schema is invalid.
    #[error("{0}")]
    Schema(String),
    /// A record could not be decoded or encoded.
    #[error("{format}: cannot process record from {origin}: {reason}")]
    Record {
        /// `avro` or `avro-confluent`.
        format: &'static str,
        /// Where the record came from.
        origin: RecordOrigin,
        /// What is wrong.
        reason: String,
    },
    /// The schema registry failed or refused a request.
    #[error("schema registry {url}: {message}")]
    Registry {
        /// The registry URL.
        url: String,
        /// What failed and how to fix it.
        message: String,
        /// Whether retrying may help (network errors, 5xx).
        transient: bool,
    },
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was done, naming the file.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<AvroError> for Error {
    fn from(e: AvroError) -> Self {
        match e {
            AvroError::Schema(m) => Error::Schema(m),
            AvroError::Record {
                format,
                origin,
                reason,
            } => Error::BadRecord {
                format: format.to_string(),
                origin,
                reason,
            },
            AvroError::Registry {
                transient: true, ..
            } => {
                let msg = e.to_string();
                Error::external(msg, e)
            }
            AvroError::Registry { .. } => Error::user(e.to_string()),
            AvroError::Io { context, source } => Error::io(context, source),
        }
    }
}
