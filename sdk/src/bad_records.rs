//! The bad-record policy every source and sink gets (a Headrace extension; Flink has none).
//!
//! A record a connector cannot turn into a row (a line its format cannot decode), or a row it
//! cannot write (a value its format cannot encode), is a *bad record*. What happens to it is the
//! table's choice, with options under `headrace.bad-records.*` (a prefix no Flink option uses):
//!
//! - `'headrace.bad-records.policy' = 'fail'` (the default, as in Flink): the job fails with an
//!   error naming the record's origin and the reason.
//! - `'skip'`: the record is dropped and counted (the job summary shows the count). This is what a
//!   format's own `*.ignore-parse-errors` does; both keep working.
//! - `'dead-letter'`: the raw record, its error and its origin become a row of the table named by
//!   `'headrace.bad-records.dead-letter-table'`, declared in the same job (any sink: a file, a Kafka
//!   topic). Dead letters take part in checkpoints like the job's other rows, so they are written
//!   exactly once when the dead-letter sink is exactly-once.
//!
//! Connectors report each bad record to [`BadRecords::handle`] (reached through
//! [`SourceMetrics::bad_records`](crate::source::SourceMetrics::bad_records) or
//! [`SinkMetrics::bad_records`](crate::sink::SinkMetrics::bad_records)); the runner configures the
//! policy and collects the dead letters with [`BadRecords::take_dead_letters`]. A decoder that
//! returns an error for a record must leave the rows it buffered before as they were (the formats
//! of this project roll back), so a connector can go on with the next record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, RecordOrigin, Result};
use crate::options::{ConfigOption, OptionSet, Options};

crate::option_enum! {
    /// `headrace.bad-records.policy` values.
    pub enum BadRecordPolicy {
        /// Fail the job (the default).
        Fail = "fail",
        /// Drop the record and count it.
        Skip = "skip",
        /// Write the record to the dead-letter table.
        DeadLetter = "dead-letter",
    }
}

/// `headrace.bad-records.policy`.
pub const POLICY: ConfigOption<BadRecordPolicy> = ConfigOption::new("headrace.bad-records.policy")
    .default_value("fail")
    .description(
        "Headrace extension: what to do with a record that cannot be decoded (source) or a row \
         that cannot be encoded or written (sink): 'fail' the job, 'skip' it and count it, or \
         route it with its error and origin to the 'dead-letter' table named by \
         'headrace.bad-records.dead-letter-table'.",
    );

/// `headrace.bad-records.dead-letter-table`.
pub const DEAD_LETTER_TABLE: ConfigOption<String> =
    ConfigOption::new("headrace.bad-records.dead-letter-table").description(
        "Headrace extension: the table, declared in the same job, that receives bad records when \
         'headrace.bad-records.policy' = 'dead-letter'. Its columns are taken by name from: raw \
         (BYTES or STRING), error, origin, source_table, connector, format, stage (STRING) and \
         event_time (TIMESTAMP_LTZ(3)).",
    );

/// The options every connector accepts (added by
/// [`validate_table`](crate::factory::validate_table)).
pub fn options() -> OptionSet {
    OptionSet::new()
        .optional(POLICY)
        .optional(DEAD_LETTER_TABLE)
}

/// Check that the policy options of a table agree (called by
/// [`validate_table`](crate::factory::validate_table)): `dead-letter` needs a table, and a table
/// needs the `dead-letter` policy.
pub fn check(options: &Options) -> Result<()> {
    let policy = options.get(&POLICY)?;
    let table = options.get_optional(&DEAD_LETTER_TABLE)?;
    match (policy, table) {
        (BadRecordPolicy::DeadLetter, None) => Err(Error::MissingOption {
            context: options.context().to_string(),
            key: DEAD_LETTER_TABLE.key().to_string(),
            description: "the table, declared in the same job, that receives bad records under \
                          'headrace.bad-records.policy' = 'dead-letter'"
                .into(),
        }),
        (BadRecordPolicy::DeadLetter, Some(t)) if t.trim().is_empty() => Err(options.invalid(
            &DEAD_LETTER_TABLE,
            t,
            "name a table declared in the same job",
        )),
        (p, Some(_)) if p != BadRecordPolicy::DeadLetter => Err(options.conflict(format!(
            "'{}' is set but '{}' is '{}'; set '{}' = 'dead-letter' to use the table, or remove it",
            DEAD_LETTER_TABLE.key(),
            POLICY.key(),
            crate::options::OptionValue::to_option_string(&p),
            POLICY.key()
        ))),
        _ => Ok(()),
    }
}

/// Where in a connector a record went bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A source's format could not decode it.
    Decode,
    /// A sink's format could not encode it.
    Encode,
    /// The external system refused it.
    Write,
}

impl Stage {
    /// `decode`, `encode` or `write`: the `stage` column of a dead letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Encode => "encode",
            Stage::Write => "write",
        }
    }
}

/// One bad record, on its way to the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The record as read (source), or the row rendered as JSON text (sink).
    pub raw: Vec<u8>,
    /// The error, as the fail policy would have reported it.
    pub error: String,
    /// Where the record came from (topic/partition/offset, file/line).
    pub origin: RecordOrigin,
    /// The format involved, if any (`json`, `csv`, ...).
    pub format: Option<String>,
    /// Where it went bad.
    pub stage: Stage,
    /// When it was reported, epoch milliseconds.
    pub event_time_ms: i64,
}

/// How the runner configured a table's policy.
#[derive(Debug, Clone)]
pub struct BadRecordConfig {
    /// The policy.
    pub policy: BadRecordPolicy,
    /// The table whose records these are, named in errors and dead letters.
    pub table: String,
    /// The table's connector.
    pub connector: String,
}

/// A table's bad-record policy with its counters and the dead letters not yet collected; shared
/// by the readers (or writers) of one table. Unconfigured, it fails on every bad record.
#[derive(Debug, Default)]
pub struct BadRecords {
    config: OnceLock<BadRecordConfig>,
    skipped: AtomicU64,
    dead_lettered: AtomicU64,
    queue: Mutex<Vec<DeadLetter>>,
}

impl BadRecords {
    /// Set the policy (the runner does, once, before readers or writers start). Later calls are
    /// ignored.
    pub fn configure(&self, config: BadRecordConfig) {
        let _ = self.config.set(config);
    }

    /// The configured policy (fail when not configured).
    pub fn policy(&self) -> BadRecordPolicy {
        self.config
            .get()
            .map_or(BadRecordPolicy::Fail, |c| c.policy)
    }

    /// The configuration, if the runner set one.
    pub fn config(&self) -> Option<&BadRecordConfig> {
        self.config.get()
    }

    /// Bad records skipped under the skip policy.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Bad records routed to the dead-letter table.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Apply the policy to one bad record: `raw` is the record as read (or the row as JSON text),
    /// `origin` where it came from, `error` what went wrong (typically [`Error::BadRecord`]),
    /// `format` the format involved. Returns the error (with the policy option named as a fix)
    /// under the fail policy, Ok after counting or queueing it otherwise.
    pub fn handle(
        &self,
        raw: &[u8],
        origin: &RecordOrigin,
        error: Error,
        stage: Stage,
        format: Option<&str>,
    ) -> Result<()> {
        match self.policy() {
            BadRecordPolicy::Fail => Err(self.with_hint(error)),
            BadRecordPolicy::Skip => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%origin, stage = stage.as_str(), "bad record skipped: {error}");
                Ok(())
            }
            BadRecordPolicy::DeadLetter => {
                let letter = DeadLetter {
                    raw: raw.to_vec(),
                    error: error.to_string(),
                    origin: origin.clone(),
                    format: format.map(str::to_string),
                    stage,
                    event_time_ms: now_ms(),
                };
                let mut q = self
                    .queue
                    .lock()
                    .map_err(|_| Error::internal("the dead-letter queue is poisoned"))?;
                q.push(letter);
                self.dead_lettered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// The dead letters queued since the last call (the runner sends them on).
    pub fn take_dead_letters(&self) -> Vec<DeadLetter> {
        match self.queue.lock() {
            Ok(mut q) if !q.is_empty() => std::mem::take(&mut *q),
            Ok(_) => Vec::new(),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn with_hint(&self, error: Error) -> Error {
        let on = match self.config.get() {
            Some(c) => format!(" to table '{}'", c.table),
            None => String::new(),
        };
        let hint = format!(
            " (to skip bad records instead, add 'headrace.bad-records.policy' = 'skip'{on}; \
             'dead-letter' with 'headrace.bad-records.dead-letter-table' keeps them in a table)"
        );
        match error {
            Error::BadRecord {
                format,
                origin,
                reason,
            } => Error::BadRecord {
                format,
                origin,
                reason: format!("{reason}{hint}"),
            },
            other => other,
        }
    }
}

/// Encode `batch` as [`Encoder::encode`](crate::format::Encoder::encode) does, applying the
/// table's bad-record policy (`bad_records`) to rows the encoder refuses with
/// [`Error::BadRecord`]: under `fail` the error is returned (naming the policy option as a fix);
/// under `skip` and `dead-letter` each refused row is dropped or becomes a dead letter (raw = the
/// row as JSON text, stage `encode`) and the other rows are emitted. `format` names the format in
/// dead letters.
///
/// After a refusal the rest of the batch is encoded row by row, starting after the last row the
/// encoder emitted, so no row is emitted twice by an encoder that emits its records in row order
/// and fails before emitting anything for the row it refuses (as the formats of this project do).
pub fn encode_with_policy(
    encoder: &mut dyn crate::format::Encoder,
    batch: &crate::changelog::ChangelogBatch,
    bad_records: &BadRecords,
    format: &str,
    emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut next = 0usize;
    let first = encoder.encode(batch, &mut |i, b| {
        next = next.max(i + 1);
        emit(i, b)
    });
    match first {
        Ok(()) => return Ok(()),
        Err(Error::BadRecord { .. }) => {}
        Err(e) => return Err(e),
    }
    // The refused row is the first one not emitted, or a later one after rows that emit
    // nothing: from there on, each row alone.
    let table = bad_records
        .config()
        .map_or_else(String::new, |c| format!(" to table '{}'", c.table));
    for row in next..batch.num_rows() {
        let one = batch.slice(row, 1);
        match encoder.encode(&one, &mut |_, b| emit(row, b)) {
            Ok(()) => {}
            Err(e @ Error::BadRecord { .. }) => {
                let origin = RecordOrigin::Other(format!("row {row} of a batch written{table}"));
                let raw = row_json(&one.batch, 0);
                bad_records.handle(raw.as_bytes(), &origin, e, Stage::Encode, Some(format))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Row `i` of `batch` as a JSON object (column name to value; bytes as base64, decimals, dates and
/// times as strings), for dead letters of sinks.
pub fn row_json(batch: &arrow::array::RecordBatch, i: usize) -> String {
    use crate::row::Value;
    fn value(v: Value) -> serde_json::Value {
        use base64::Engine;
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Boolean(b) => b.into(),
            Value::TinyInt(x) => x.into(),
            Value::SmallInt(x) => x.into(),
            Value::Int(x) => x.into(),
            Value::BigInt(x) => x.into(),
            Value::Float(x) => serde_json::Number::from_f64(f64::from(x))
                .map_or_else(|| x.to_string().into(), serde_json::Value::Number),
            Value::Double(x) => serde_json::Number::from_f64(x)
                .map_or_else(|| x.to_string().into(), serde_json::Value::Number),
            Value::String(s) => s.into(),
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
            Value::Array(vs) | Value::Row(vs) => {
                serde_json::Value::Array(vs.into_iter().map(value).collect())
            }
            Value::Map(kvs) => serde_json::Value::Array(
                kvs.into_iter()
                    .map(|(k, v)| serde_json::Value::Array(vec![value(k), value(v)]))
                    .collect(),
            ),
            other => other.to_string().into(),
        }
    }
    // written by hand to keep the columns in table order
    let mut out = String::from("{");
    for (n, (f, c)) in batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .enumerate()
    {
        let v = match crate::row::Value::from_array(c.as_ref(), i) {
            Ok(crate::row::Value::Decimal(u)) => match f.data_type() {
                arrow::datatypes::DataType::Decimal128(_, s) => {
                    crate::render::big_decimal(u, (*s).max(0) as u8).into()
                }
                _ => u.to_string().into(),
            },
            Ok(v) => value(v),
            Err(e) => format!("<{e}>").into(),
        };
        if n > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(f.name().clone()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad() -> Error {
        Error::BadRecord {
            format: "csv".into(),
            origin: RecordOrigin::File {
                path: "a.csv".into(),
                line: 3,
            },
            reason: "column 'x': not a number".into(),
        }
    }

    fn origin() -> RecordOrigin {
        RecordOrigin::File {
            path: "a.csv".into(),
            line: 3,
        }
    }

    #[test]
    fn fail_names_the_policy_option() {
        let b = BadRecords::default();
        b.configure(BadRecordConfig {
            policy: BadRecordPolicy::Fail,
            table: "orders".into(),
            connector: "filesystem".into(),
        });
        let e = b
            .handle(b"x", &origin(), bad(), Stage::Decode, Some("csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("file 'a.csv' line 3"), "{e}");
        assert!(
            e.contains("'headrace.bad-records.policy' = 'skip' to table 'orders'"),
            "{e}"
        );
    }

    #[test]
    fn skip_counts_and_dead_letter_queues() {
        let s = BadRecords::default();
        s.configure(BadRecordConfig {
            policy: BadRecordPolicy::Skip,
            table: "t".into(),
            connector: "c".into(),
        });
        s.handle(b"x", &origin(), bad(), Stage::Decode, None)
            .unwrap();
        assert_eq!((s.skipped(), s.take_dead_letters().len()), (1, 0));

        let d = BadRecords::default();
        d.configure(BadRecordConfig {
            policy: BadRecordPolicy::DeadLetter,
            table: "t".into(),
            connector: "c".into(),
        });
        d.handle(b"raw", &origin(), bad(), Stage::Decode, Some("csv"))
            .unwrap();
        let letters = d.take_dead_letters();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].raw, b"raw");
        assert!(letters[0].error.contains("not a number"));
        assert_eq!(d.dead_lettered(), 1);
        assert!(d.take_dead_letters().is_empty());
    }

    fn options(pairs: &[(&str, &str)]) -> Options {
        Options::new(
            "table 't'",
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn policy_options_must_agree() {
        check(&options(&[])).unwrap();
        check(&options(&[(POLICY.key(), "skip")])).unwrap();
        check(&options(&[
            (POLICY.key(), "dead-letter"),
            (DEAD_LETTER_TABLE.key(), "dlq"),
        ]))
        .unwrap();
        let e = check(&options(&[(POLICY.key(), "dead-letter")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing required option 'headrace.bad-records.dead-letter-table'"),
            "{e}"
        );
        let e = check(&options(&[(DEAD_LETTER_TABLE.key(), "dlq")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("conflicting options"), "{e}");
        let e = check(&options(&[(POLICY.key(), "drop")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fail, skip, dead-letter"), "{e}");
    }

    /// Refuses rows whose value is negative; emits the others as their decimal text.
    struct NoNegatives;
    impl crate::format::Encoder for NoNegatives {
        fn encode(
            &mut self,
            batch: &crate::changelog::ChangelogBatch,
            emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
        ) -> Result<()> {
            let a = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(
                batch.batch.column(0).as_ref(),
            );
            for i in 0..batch.num_rows() {
                let v = a.value(i);
                if v < 0 {
                    return Err(Error::BadRecord {
                        format: "test".into(),
                        origin: RecordOrigin::Other(format!("row {i}")),
                        reason: format!("{v} is negative"),
                    });
                }
                emit(i, v.to_string().as_bytes())?;
            }
            Ok(())
        }
    }

    fn batch(values: Vec<i64>) -> crate::changelog::ChangelogBatch {
        let b = arrow::array::RecordBatch::try_from_iter([(
            "n",
            std::sync::Arc::new(arrow::array::Int64Array::from(values)) as arrow::array::ArrayRef,
        )])
        .unwrap();
        crate::changelog::ChangelogBatch::inserts(b)
    }

    fn policy(p: BadRecordPolicy) -> BadRecords {
        let b = BadRecords::default();
        b.configure(BadRecordConfig {
            policy: p,
            table: "out".into(),
            connector: "c".into(),
        });
        b
    }

    #[test]
    fn encode_with_policy_emits_good_rows_once_and_routes_refused_ones() {
        let bad = policy(BadRecordPolicy::DeadLetter);
        let mut out: Vec<(usize, String)> = Vec::new();
        encode_with_policy(
            &mut NoNegatives,
            &batch(vec![1, 2, -3, 4, -5, 6]),
            &bad,
            "test",
            &mut |i, b| {
                out.push((i, String::from_utf8(b.to_vec()).unwrap()));
                Ok(())
            },
        )
        .unwrap();
        let want: Vec<(usize, String)> = [(0, "1"), (1, "2"), (3, "4"), (5, "6")]
            .iter()
            .map(|(i, s)| (*i, s.to_string()))
            .collect();
        assert_eq!(out, want);
        let letters = bad.take_dead_letters();
        let raws: Vec<String> = letters
            .iter()
            .map(|l| String::from_utf8(l.raw.clone()).unwrap())
            .collect();
        assert_eq!(raws, vec!["{\"n\":-3}", "{\"n\":-5}"]);
        assert_eq!(letters[0].stage, Stage::Encode);
        assert_eq!(
            letters[1].origin.to_string(),
            "row 4 of a batch written to table 'out'"
        );
        assert!(letters[1].error.contains("-5 is negative"));

        // fail: the first refusal is the error
        let e = encode_with_policy(
            &mut NoNegatives,
            &batch(vec![1, -2]),
            &policy(BadRecordPolicy::Fail),
            "test",
            &mut |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("-2 is negative") && e.contains("headrace.bad-records.policy"),
            "{e}"
        );
    }

    #[test]
    fn rows_as_json() {
        use arrow::array::{ArrayRef, BinaryArray, Decimal128Array, StringArray};
        let b = arrow::array::RecordBatch::try_from_iter([
            (
                "s",
                std::sync::Arc::new(StringArray::from(vec![Some("a\"b"), None])) as ArrayRef,
            ),
            (
                "d",
                std::sync::Arc::new(
                    Decimal128Array::from(vec![12345, -5])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ) as ArrayRef,
            ),
            (
                "b",
                std::sync::Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], &b""[..]]))
                    as ArrayRef,
            ),
        ])
        .unwrap();
        assert_eq!(row_json(&b, 0), r#"{"s":"a\"b","d":"123.45","b":"AP8="}"#);
        assert_eq!(row_json(&b, 1), r#"{"s":null,"d":"-0.05","b":""}"#);
    }
}
