//! The SDK's error type.
//!
//! Every Headrace crate has one `thiserror` enum of its own and converts it into [`Error`], which carries
//! two classifications the runner acts on: the [`ErrorDomain`] (whose fault it is: the user's
//! configuration or data, an external system, or Headrace itself) and the [`Retry`] hint.

use std::fmt;

/// Whose fault an error is; decides how the runner reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorDomain {
    /// Wrong configuration, SQL or data: the user must change something.
    User,
    /// An external system (broker, database, file system) failed or refused.
    External,
    /// A bug or broken invariant inside Headrace or a connector.
    Internal,
}

/// Whether retrying the same operation may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Retrying cannot help.
    No,
    /// Retrying after a back-off may help (a transient external failure).
    Backoff,
}

/// Where a record came from, so that errors about it can name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RecordOrigin {
    /// Origin unknown or not applicable.
    #[default]
    Unknown,
    /// A message in a partitioned log (Kafka and the like).
    Log {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: i32,
        /// Offset within the partition.
        offset: i64,
    },
    /// A line (or record index) of a file.
    File {
        /// The file's path.
        path: String,
        /// One-based line or record number.
        line: u64,
    },
    /// A free-form description supplied by a connector.
    Other(String),
}

impl fmt::Display for RecordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordOrigin::Unknown => write!(f, "unknown origin"),
            RecordOrigin::Log {
                topic,
                partition,
                offset,
            } => write!(f, "topic '{topic}' partition {partition} offset {offset}"),
            RecordOrigin::File { path, line } => write!(f, "file '{path}' line {line}"),
            RecordOrigin::Other(s) => f.write_str(s),
        }
    }
}

/// The error type of the Headrace SDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option key nobody declared.
    #[error("{context}: unsupported option '{key}'.{suggestion}\nSupported options: {supported}")]
    UnknownOption {
        /// Where the option was given (e.g. "table 'orders' (connector 'kafka')").
        context: String,
        /// The offending key.
        key: String,
        /// " Did you mean 'x'?" or empty.
        suggestion: String,
        /// Comma-separated list of supported keys.
        supported: String,
    },
    /// A required option is absent.
    #[error("{context}: missing required option '{key}' ({description}). Add '{key}' = '...' to the WITH clause")]
    MissingOption {
        /// Where the option was expected.
        context: String,
        /// The missing key.
        key: String,
        /// The option's description.
        description: String,
    },
    /// An option's value could not be parsed or is out of range.
    #[error("{context}: invalid value '{value}' for option '{key}': {reason}")]
    InvalidOption {
        /// Where the option was given.
        context: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Two or more options contradict each other.
    #[error("{context}: conflicting options: {message}")]
    ConflictingOptions {
        /// Where the options were given.
        context: String,
        /// What conflicts and how to fix it.
        message: String,
    },
    /// No factory is registered under an identifier.
    #[error("no {kind} named '{identifier}' is registered.{suggestion} Available: {available}")]
    UnknownFactory {
        /// "connector" or "format".
        kind: &'static str,
        /// The identifier asked for.
        identifier: String,
        /// " Did you mean 'x'?" or empty.
        suggestion: String,
        /// Comma-separated list of registered identifiers.
        available: String,
    },
    /// A SQL type string could not be parsed.
    #[error("invalid data type '{input}': {reason}")]
    InvalidType {
        /// The type string.
        input: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A schema is inconsistent (duplicate columns, bad primary key, ...).
    #[error("invalid schema: {0}")]
    Schema(String),
    /// A record could not be decoded or encoded.
    #[error("{format}: cannot process record from {origin}: {reason}")]
    BadRecord {
        /// Format or connector name.
        format: String,
        /// Where the record came from.
        origin: RecordOrigin,
        /// What is wrong, naming the field where possible.
        reason: String,
    },
    /// Operation not supported by this connector (e.g. a sink asked from a source-only connector).
    #[error("{0}")]
    Unsupported(String),
    /// A state blob has a version this code cannot read.
    #[error("cannot restore {what}: serialized version {found}, this build reads versions up to {supported}")]
    StateVersion {
        /// What was being restored.
        what: String,
        /// The version in the bytes.
        found: u32,
        /// The highest version understood.
        supported: u32,
    },
    /// (De)serialization of state or committables failed.
    #[error("cannot (de)serialize {what}: {reason}")]
    Serde {
        /// What was being (de)serialized.
        what: String,
        /// The underlying reason.
        reason: String,
    },
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A connector-specific error with its classification.
    #[error("{message}")]
    Connector {
        /// The message, naming the connector and what to fix.
        message: String,
        /// Whose fault it is.
        domain: ErrorDomain,
        /// Whether a retry may help.
        retry: Retry,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// Whose fault this error is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Error::UnknownOption { .. }
            | Error::MissingOption { .. }
            | Error::InvalidOption { .. }
            | Error::ConflictingOptions { .. }
            | Error::UnknownFactory { .. }
            | Error::InvalidType { .. }
            | Error::Schema(_)
            | Error::BadRecord { .. }
            | Error::Unsupported(_) => ErrorDomain::User,
            Error::StateVersion { .. } | Error::Serde { .. } | Error::Arrow(_) => {
                ErrorDomain::Internal
            }
            Error::Io { .. } => ErrorDomain::External,
            Error::Connector { domain, .. } => *domain,
        }
    }

    /// Whether retrying may help.
    pub fn retry(&self) -> Retry {
        match self {
            Error::Io { .. } => Retry::Backoff,
            Error::Connector { retry, .. } => *retry,
            _ => Retry::No,
        }
    }

    /// A user error with a message.
    pub fn user(message: impl Into<String>) -> Self {
        Error::Connector {
            message: message.into(),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: None,
        }
    }

    /// A user error (configuration or data) with its underlying cause.
    pub fn user_with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Connector {
            message: message.into(),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: Some(Box::new(source)),
        }
    }

    /// An external-system error that may go away on retry.
    pub fn external(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Connector {
            message: message.into(),
            domain: ErrorDomain::External,
            retry: Retry::Backoff,
            source: Some(Box::new(source)),
        }
    }

    /// An internal error (a broken invariant).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Connector {
            message: message.into(),
            domain: ErrorDomain::Internal,
            retry: Retry::No,
            source: None,
        }
    }

    /// An I/O error with context naming what was done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Levenshtein distance, used to suggest the nearest valid key.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate nearest to `key`, if it is near enough to be a plausible typo.
pub fn nearest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let key_l = key.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&key_l, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(key.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " Did you mean 'x'?" for the nearest candidate, or an empty string.
pub fn did_you_mean<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(key, candidates) {
        Some(n) => format!(" Did you mean '{n}'?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("topic", "topic"), 0);
    }

    #[test]
    fn nearest_key() {
        let keys = ["topic", "topic-pattern", "properties.bootstrap.servers"];
        assert_eq!(nearest("topc", keys), Some("topic"));
        assert_eq!(nearest("zzzzzzzz", keys), None);
        assert_eq!(did_you_mean("Topic", keys), " Did you mean 'topic'?");
    }
}
