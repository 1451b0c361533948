//! Changelog batches: Arrow record batches whose rows each carry a [`RowKind`].

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int8Array, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;

use crate::error::Result;

/// The kind of change a row describes, with Flink's byte values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i8)]
pub enum RowKind {
    /// `+I`: an insertion.
    Insert = 0,
    /// `-U`: the row before an update.
    UpdateBefore = 1,
    /// `+U`: the row after an update.
    UpdateAfter = 2,
    /// `-D`: a deletion.
    Delete = 3,
}

impl RowKind {
    /// Flink's short string (`+I`, `-U`, `+U`, `-D`).
    pub fn short_string(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// From Flink's byte value.
    pub fn from_byte(b: i8) -> Option<RowKind> {
        Some(match b {
            0 => RowKind::Insert,
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            _ => return None,
        })
    }

    /// Whether the row adds to the table (+I, +U) rather than retracting (-U, -D).
    pub fn is_accumulate(self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

impl fmt::Display for RowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_string())
    }
}

/// What kinds of rows a source produces or a sink accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogMode {
    /// Only +I.
    InsertOnly,
    /// +I, +U, -D (no -U), keyed by the primary key.
    Upsert,
    /// Every kind.
    All,
}

/// A record batch plus the kind of each row; `kinds == None` means every row is `+I`.
#[derive(Debug, Clone)]
pub struct ChangelogBatch {
    /// The rows.
    pub batch: RecordBatch,
    /// One [`RowKind`] byte per row, or None for insert-only.
    pub kinds: Option<Int8Array>,
}

impl ChangelogBatch {
    /// An insert-only batch.
    pub fn inserts(batch: RecordBatch) -> Self {
        ChangelogBatch { batch, kinds: None }
    }

    /// A batch with explicit row kinds (must have one per row).
    pub fn with_kinds(batch: RecordBatch, kinds: Vec<RowKind>) -> Self {
        debug_assert_eq!(batch.num_rows(), kinds.len());
        let arr = Int8Array::from(kinds.into_iter().map(|k| k as i8).collect::<Vec<_>>());
        ChangelogBatch {
            batch,
            kinds: Some(arr),
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The schema.
    pub fn schema(&self) -> SchemaRef {
        self.batch.schema()
    }

    /// The kind of row `i`.
    pub fn kind(&self, i: usize) -> RowKind {
        match &self.kinds {
            None => RowKind::Insert,
            Some(k) if k.is_valid(i) => RowKind::from_byte(k.value(i)).unwrap_or(RowKind::Insert),
            Some(_) => RowKind::Insert,
        }
    }

    /// Whether all rows are inserts.
    pub fn is_insert_only(&self) -> bool {
        match &self.kinds {
            None => true,
            Some(k) => k.values().iter().all(|v| *v == 0),
        }
    }

    /// Keep the rows where `mask` is true, with their kinds.
    pub fn filter(&self, mask: &BooleanArray) -> Result<ChangelogBatch> {
        let batch = filter_record_batch(&self.batch, mask)?;
        let kinds = match &self.kinds {
            None => None,
            Some(k) => {
                let f = arrow::compute::filter(k, mask)?;
                f.as_any().downcast_ref::<Int8Array>().cloned()
            }
        };
        Ok(ChangelogBatch { batch, kinds })
    }

    /// Replace the columns (same number of rows), keeping the kinds.
    pub fn with_batch(&self, batch: RecordBatch) -> ChangelogBatch {
        ChangelogBatch {
            batch,
            kinds: self.kinds.clone(),
        }
    }

    /// Approximate size in bytes (Arrow buffer memory).
    pub fn byte_size(&self) -> usize {
        self.batch.get_array_memory_size()
    }

    /// A zero-copy slice of rows `offset..offset+len`.
    pub fn slice(&self, offset: usize, len: usize) -> ChangelogBatch {
        ChangelogBatch {
            batch: self.batch.slice(offset, len),
            kinds: self.kinds.as_ref().map(|k| k.slice(offset, len)),
        }
    }
}

/// A shared schema reference (re-exported for convenience).
pub type Schema = Arc<arrow::datatypes::Schema>;
