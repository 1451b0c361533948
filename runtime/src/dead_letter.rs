//! Dead-letter tables: where bad records go under `'headrace.bad-records.policy' = 'dead-letter'`.
//!
//! A dead-letter table is an ordinary sink table of the job. Its columns are matched by name
//! against the fixed layout below (any subset, in any order; types checked when the job is
//! planned):
//!
//! | column | type | content |
//! |---|---|---|
//! | `raw` | `BYTES` or `STRING` | the record as read (sources), the row as JSON text (sinks) |
//! | `error` | `STRING` | the error the fail policy would have reported |
//! | `origin` | `STRING` | `topic 't' partition 0 offset 42`, `file 'a.csv' line 7` |
//! | `source_table` | `STRING` | the table whose record it is |
//! | `connector` | `STRING` | that table's connector |
//! | `format` | `STRING` | the format involved, NULL if none |
//! | `stage` | `STRING` | `decode`, `encode` or `write` |
//! | `event_time` | `TIMESTAMP_LTZ(3)` | when the record was found bad |
//!
//! The runner gives the dead-letter table writers and a committer like any sink. Every reader (and
//! writer) whose table routes to it is one of its upstreams: it sends its dead letters before its
//! checkpoint barrier, so the dead-letter writers prepare checkpoint N only with exactly the dead
//! letters of the records checkpoint N covers, and a restore neither loses nor repeats them.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use headrace_sdk::bad_records::DeadLetter;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::schema::{ColumnKind, TableSchema};
use headrace_sdk::sink::DynamicSink;
use headrace_sdk::types::{DataType, LogicalType};

use crate::error::{RuntimeError, RuntimeResult};
use crate::expr::cast_column;

/// The columns a dead-letter table may have.
pub const DEAD_LETTER_COLUMNS: &[(&str, &str)] = &[
    ("raw", "BYTES or STRING"),
    ("error", "STRING"),
    ("origin", "STRING"),
    ("source_table", "STRING"),
    ("connector", "STRING"),
    ("format", "STRING"),
    ("stage", "STRING"),
    ("event_time", "TIMESTAMP_LTZ(3)"),
];

/// One column of the dead-letter layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Raw,
    Error,
    Origin,
    SourceTable,
    Connector,
    Format,
    Stage,
    EventTime,
}

/// A dead-letter table of the job: its sink and how dead letters become its rows.
pub struct DeadLetterTarget {
    /// The table's name.
    pub table: String,
    /// Its sink.
    pub sink: Arc<dyn DynamicSink>,
    /// Its writers.
    pub parallelism: usize,
    /// Its own bad-record policy (`fail` or `skip`), for rows its format cannot encode.
    pub own_policy: Option<headrace_sdk::bad_records::BadRecordConfig>,
    layout: Vec<Field>,
    schema: SchemaRef,
}

impl std::fmt::Debug for DeadLetterTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterTarget")
            .field("table", &self.table)
            .field("parallelism", &self.parallelism)
            .finish()
    }
}

impl DeadLetterTarget {
    /// A target writing to `sink`, the sink of table `table` declared with `schema`; errors name
    /// a column outside the layout (listing the valid ones) or of the wrong type.
    pub fn new(
        table: &str,
        schema: &TableSchema,
        sink: Arc<dyn DynamicSink>,
        parallelism: usize,
    ) -> RuntimeResult<Self> {
        let err = |m: String| {
            RuntimeError::Plan(format!(
                "dead-letter table '{table}': {m}. A dead-letter table's columns are taken by name from: {}",
                DEAD_LETTER_COLUMNS
                    .iter()
                    .map(|(n, t)| format!("{n} {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let mut layout = Vec::new();
        let consumed = schema
            .physical_columns()
            .chain(schema.metadata_columns().filter(|c| {
                matches!(
                    c.kind,
                    ColumnKind::Metadata {
                        is_virtual: false,
                        ..
                    }
                )
            }));
        for c in consumed {
            let f = match c.name.to_ascii_lowercase().as_str() {
                "raw" => Field::Raw,
                "error" => Field::Error,
                "origin" => Field::Origin,
                "source_table" => Field::SourceTable,
                "connector" => Field::Connector,
                "format" => Field::Format,
                "stage" => Field::Stage,
                "event_time" => Field::EventTime,
                other => {
                    return Err(err(format!(
                        "column '{}' is not a dead-letter column.{}",
                        c.name,
                        headrace_sdk::error::did_you_mean(
                            other,
                            DEAD_LETTER_COLUMNS.iter().map(|(n, _)| *n)
                        )
                    )))
                }
            };
            let t = &c.data_type;
            let ok = match f {
                Field::Raw => {
                    t.is_string()
                        || matches!(
                            t.logical,
                            LogicalType::VarBinary(_) | LogicalType::Binary(_)
                        )
                }
                Field::EventTime => matches!(
                    t.logical,
                    LogicalType::TimestampLtz(_) | LogicalType::Timestamp(_)
                ),
                _ => t.is_string(),
            };
            if !ok {
                let want = DEAD_LETTER_COLUMNS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&c.name))
                    .map_or("", |(_, t)| *t);
                return Err(err(format!(
                    "column '{}' is declared {t} but must be {want}",
                    c.name
                )));
            }
            if !t.nullable && f == Field::Format {
                return Err(err(format!(
                    "column '{}' must be nullable (records of connectors without a format have none)",
                    c.name
                )));
            }
            layout.push(f);
        }
        let schema = sink.consumed_schema();
        if schema.fields().len() != layout.len() {
            return Err(err(format!(
                "its sink consumes {} columns but {} are declared",
                schema.fields().len(),
                layout.len()
            )));
        }
        Ok(DeadLetterTarget {
            table: table.to_string(),
            sink,
            parallelism,
            own_policy: None,
            layout,
            schema,
        })
    }

    /// The rows of `letters`, reported by table `source_table` (connector `connector`).
    pub fn batch(
        &self,
        letters: &[DeadLetter],
        source_table: &str,
        connector: &str,
    ) -> RuntimeResult<ChangelogBatch> {
        let n = letters.len();
        let strings = |f: &dyn Fn(&DeadLetter) -> Option<String>| -> ArrayRef {
            Arc::new(letters.iter().map(f).collect::<StringArray>())
        };
        let mut cols = Vec::with_capacity(self.layout.len());
        for (f, field) in self.layout.iter().zip(self.schema.fields()) {
            let a: ArrayRef = match f {
                Field::Raw => {
                    if DataType::from_arrow_field(field).is_ok_and(|t| t.is_string()) {
                        strings(&|l| Some(String::from_utf8_lossy(&l.raw).into_owned()))
                    } else {
                        Arc::new(
                            letters
                                .iter()
                                .map(|l| Some(l.raw.as_slice()))
                                .collect::<BinaryArray>(),
                        )
                    }
                }
                Field::Error => strings(&|l| Some(l.error.clone())),
                Field::Origin => strings(&|l| Some(l.origin.to_string())),
                Field::SourceTable => Arc::new(StringArray::from(vec![source_table; n])),
                Field::Connector => Arc::new(StringArray::from(vec![connector; n])),
                Field::Format => strings(&|l| l.format.clone()),
                Field::Stage => strings(&|l| Some(l.stage.as_str().to_string())),
                Field::EventTime => Arc::new(
                    TimestampMillisecondArray::from(
                        letters.iter().map(|l| l.event_time_ms).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
            };
            cols.push(cast_column(&a, field.data_type())?);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| {
            RuntimeError::Plan(format!(
                "dead letters do not fit table '{}': {e}",
                self.table
            ))
        })?;
        Ok(ChangelogBatch::inserts(batch))
    }
}
