//! Row buffers shared by the decoders and encoders: Avro record values to Arrow batches and back.

use std::sync::Arc;

use apache_avro::types::Value;
use arrow::array::{Array, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;

use crate::convert::{build_struct, column_values};
use crate::error::AvroError;
use crate::schema::{Kind, Node};

/// Decoded records waiting to become an Arrow batch.
#[derive(Debug)]
pub struct RowBuffer {
    format: &'static str,
    schema: SchemaRef,
    node: Node,
    rows: Vec<Value>,
    last_origin: RecordOrigin,
}

impl RowBuffer {
    /// An empty buffer for rows of `schema`, whose derived record node is `node`.
    pub fn new(format: &'static str, schema: SchemaRef, node: Node) -> Self {
        RowBuffer {
            format,
            schema,
            node,
            rows: Vec::new(),
            last_origin: RecordOrigin::Unknown,
        }
    }

    /// Add one record value (already resolved to the table's schema).
    pub fn push(&mut self, v: Value, origin: &RecordOrigin) {
        self.rows.push(v);
        if !matches!(origin, RecordOrigin::Unknown) {
            self.last_origin = origin.clone();
        }
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Drop every row after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
    }

    /// Convert the buffered rows into a batch and clear the buffer.
    pub fn finish(&mut self) -> Result<ChangelogBatch, AvroError> {
        let rows = std::mem::take(&mut self.rows);
        let Kind::Record { fields, .. } = &self.node.kind else {
            return Err(AvroError::Schema("the table schema is not a record".into()));
        };
        let refs: Vec<Option<&Value>> = rows.iter().map(Some).collect();
        let s = build_struct(fields, self.schema.fields(), &refs, "").map_err(|reason| {
            AvroError::Record {
                format: self.format,
                origin: RecordOrigin::Other(format!(
                    "a batch of {} records ending at {}",
                    rows.len(),
                    self.last_origin
                )),
                reason,
            }
        })?;
        let (_, cols, _) = s.into_parts();
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
        .map_err(|e| AvroError::Schema(format!("cannot build the batch: {e}")))?;
        Ok(ChangelogBatch::inserts(batch))
    }
}

/// The Avro record value of every row of a batch.
pub fn record_values(node: &Node, batch: &RecordBatch) -> Result<Vec<Value>, String> {
    let Kind::Record { fields, .. } = &node.kind else {
        return Err("the table schema is not a record".into());
    };
    if fields.len() != batch.num_columns() {
        return Err(format!(
            "the batch has {} columns, the schema {}",
            batch.num_columns(),
            fields.len()
        ));
    }
    let mut cols = Vec::with_capacity(fields.len());
    for ((name, f), c) in fields.iter().zip(batch.columns()) {
        cols.push(column_values(f, c.as_ref() as &dyn Array, name)?.into_iter());
    }
    let mut out = Vec::with_capacity(batch.num_rows());
    for _ in 0..batch.num_rows() {
        let mut rec = Vec::with_capacity(fields.len());
        for (c, (name, _)) in cols.iter_mut().zip(fields) {
            rec.push((name.clone(), c.next().unwrap_or(Value::Null)));
        }
        out.push(Value::Record(rec));
    }
    Ok(out)
}

/// Shared handle to a parsed schema.
pub type SharedSchema = Arc<apache_avro::Schema>;

/// Where decoded rows wait: read straight into Arrow columns when the table's Arrow types allow
/// it (always, for schemas made by the SDK), else as `apache_avro` values.
pub enum Buffer {
    /// Binary records read straight into columns (with the table's record node).
    Direct(crate::read::RecordReader, Node),
    /// Decoded values.
    Values(RowBuffer),
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Buffer::Direct(r, _) => write!(f, "Direct({} rows)", r.len()),
            Buffer::Values(r) => write!(f, "Values({} rows)", r.len()),
        }
    }
}

impl Buffer {
    /// The buffer for rows of `schema` whose record node is `node`.
    pub fn new(format: &'static str, schema: SchemaRef, node: Node) -> Buffer {
        match crate::read::RecordReader::new(&node, &schema) {
            Some(r) => Buffer::Direct(r, node),
            None => Buffer::Values(RowBuffer::new(format, schema, node)),
        }
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Direct(r, _) => r.len(),
            Buffer::Values(r) => r.len(),
        }
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every row after the first `n` (the rows of a file block that turned out bad).
    pub fn truncate(&mut self, n: usize) {
        match self {
            Buffer::Direct(r, _) => r.truncate(n),
            Buffer::Values(r) => r.truncate(n),
        }
    }

    /// Whether rows are kept as `apache-avro` values (checked only when the batch is built).
    pub fn is_values(&self) -> bool {
        matches!(self, Buffer::Values(_))
    }

    /// Add a record given as a value with the table's shape (from the table's schema or one
    /// resolved to it; unions in any order, fields matched by name).
    pub fn push_value(
        &mut self,
        format: &'static str,
        v: Value,
        origin: &RecordOrigin,
    ) -> Result<(), AvroError> {
        match self {
            Buffer::Values(r) => {
                r.push(v, origin);
                Ok(())
            }
            Buffer::Direct(r, node) => {
                let bad = |reason: String| AvroError::Record {
                    format,
                    origin: origin.clone(),
                    reason,
                };
                let mut bytes = Vec::new();
                crate::read::value_bytes(node, &v, "", &mut bytes).map_err(bad)?;
                r.read(&bytes).map_err(bad)
            }
        }
    }

    /// Take the buffered rows as a batch.
    pub fn finish(&mut self, format: &'static str) -> Result<ChangelogBatch, AvroError> {
        match self {
            Buffer::Values(r) => r.finish(),
            Buffer::Direct(r, _) => {
                r.finish()
                    .map(ChangelogBatch::inserts)
                    .map_err(|reason| AvroError::Record {
                        format,
                        origin: RecordOrigin::Other("the batch being finished".into()),
                        reason,
                    })
            }
        }
    }
}
