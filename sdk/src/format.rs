//! Formats: turn bytes into rows (decoders) and rows into bytes (encoders).
//!
//! A connector that moves opaque records (Kafka messages, lines of a file) asks the
//! [`TableContext`](crate::factory::TableContext) for a decoder or encoder of the format the user
//! chose with `'format' = 'x'` (or `key.format` / `value.format`); the format's own options are
//! given prefixed with its identifier (`json.ignore-parse-errors`).

use arrow::datatypes::SchemaRef;

use crate::changelog::{ChangelogBatch, ChangelogMode};
use crate::error::{RecordOrigin, Result};
use crate::options::{OptionSet, Options};

/// Decodes records into rows, buffering them until [`Decoder::finish`].
pub trait Decoder: Send {
    /// Decode one record (which may yield zero, one or several rows), appending to the buffer.
    fn decode(&mut self, record: &[u8], origin: &RecordOrigin) -> Result<()>;
    /// Rows buffered since the last `finish`.
    fn buffered_rows(&self) -> usize;
    /// Take the buffered rows as a batch.
    fn finish(&mut self) -> Result<ChangelogBatch>;
    /// Records dropped so far because they could not be decoded and the format was told to
    /// ignore parse errors; connectors add them to their skipped-record metric.
    fn skipped_records(&self) -> u64 {
        0
    }
}

/// Encodes rows into records.
pub trait Encoder: Send {
    /// Encode every row of `batch`, calling `emit(row_index, bytes)` for each record produced.
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()>;
}

/// Where a format is used, given to its factory.
#[derive(Debug, Clone)]
pub struct FormatContext {
    /// The rows the format reads or writes.
    pub schema: SchemaRef,
    /// The format's options, with the `{format}.` prefix removed.
    pub options: Options,
}

/// Creates decoders and encoders for one format identifier.
pub trait FormatFactory: Send + Sync {
    /// The identifier used in `'format' = '...'`.
    fn identifier(&self) -> &'static str;
    /// One line describing the format.
    fn description(&self) -> &'static str;
    /// The format's options, with keys written without the format prefix.
    fn options(&self) -> OptionSet;
    /// The row kinds the format can carry.
    fn changelog_mode(&self) -> ChangelogMode {
        ChangelogMode::InsertOnly
    }
    /// A decoder, or an error if the format cannot read.
    fn create_decoder(&self, ctx: &FormatContext) -> Result<Box<dyn Decoder>>;
    /// An encoder, or an error if the format cannot write.
    fn create_encoder(&self, ctx: &FormatContext) -> Result<Box<dyn Encoder>>;
}
