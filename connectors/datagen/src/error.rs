//! Errors of the datagen connector; each names the option key and says how to fix it.

use headrace_sdk::Error;

/// A datagen configuration error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatagenError {
    /// A value does not parse or is out of range.
    #[error("{context}: invalid value '{value}' for option '{key}': {reason}")]
    InvalidValue {
        /// Where the options were given.
        context: String,
        /// The option key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A `fields.<name>.*` key names a field the table does not have.
    #[error(
        "{context}: option '{key}' refers to field '{field}', which is not a column (or nested \
         field) of the table.{suggestion} Known fields: {available}. Fix the field name in the key \
         or remove the option"
    )]
    UnknownField {
        /// Where the options were given.
        context: String,
        /// The option key.
        key: String,
        /// The field name in the key.
        field: String,
        /// " Did you mean 'x'?" or empty.
        suggestion: String,
        /// The fields options can name.
        available: String,
    },
    /// A sequence lacks `start` or `end`.
    #[error(
        "{context}: field '{field}' is a sequence ('fields.{field}.kind' = 'sequence') but \
         '{missing}' is not set. A sequence needs both 'fields.{field}.start' and \
         'fields.{field}.end' (e.g. 'fields.{field}.start' = '1', 'fields.{field}.end' = '1000'); \
         set both, or remove the kind to generate random values"
    )]
    MissingSequenceBound {
        /// Where the options were given.
        context: String,
        /// The field.
        field: String,
        /// The missing key.
        missing: String,
    },
    /// A lower bound is above the upper bound.
    #[error(
        "{context}: '{low_key}' {low} is greater than '{high_key}' {high}. Set '{low_key}' to \
         a value less than or equal to '{high_key}' (or swap the two values)"
    )]
    BoundsReversed {
        /// Where the options were given.
        context: String,
        /// `fields.#.min` or `fields.#.start`.
        low_key: String,
        /// Its value, as `= 'v'` or `(not set: default v)`.
        low: String,
        /// `fields.#.max` or `fields.#.end`.
        high_key: String,
        /// Its value, as `= 'v'` or `(not set: default v)`.
        high: String,
    },
    /// `fields.#.kind` = `sequence` for a type that has no sequence generator.
    #[error(
        "{context}: '{key}' = 'sequence' does not fit field '{field}' of type {data_type}: {fix}"
    )]
    KindMismatch {
        /// Where the options were given.
        context: String,
        /// The `fields.#.kind` key.
        key: String,
        /// The field.
        field: String,
        /// The field's type.
        data_type: String,
        /// Which types the kind supports and what to do.
        fix: String,
    },
    /// An option that does not apply to the field's type or kind.
    #[error(
        "{context}: option '{key}' does not apply to field '{field}' of type {data_type}: {fix}"
    )]
    NotApplicable {
        /// Where the options were given.
        context: String,
        /// The option key.
        key: String,
        /// The field.
        field: String,
        /// The field's type (and kind).
        data_type: String,
        /// Why, and what to do.
        fix: String,
    },
}

impl From<DatagenError> for Error {
    fn from(e: DatagenError) -> Self {
        match e {
            DatagenError::InvalidValue {
                context,
                key,
                value,
                reason,
            } => Error::InvalidOption {
                context,
                key,
                value,
                reason,
            },
            other => Error::user(other.to_string()),
        }
    }
}
