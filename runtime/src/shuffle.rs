//! Keyed routing of rows to sink writers: rows with equal key values always reach the same
//! writer, so per-key order holds (Flink's keyed shuffle before a sink).

use arrow::array::{Array, ArrayRef, Int8Array, UInt32Array};
use arrow::compute::take;
use arrow::row::{RowConverter, SortField};
use headrace_sdk::changelog::ChangelogBatch;

use crate::error::{RuntimeError, RuntimeResult};

/// `table.exec.sink.keyed-shuffle`, as Flink defines it: whether rows reach the writers of a sink
/// with a PRIMARY KEY by the hash of the key, so that all changes of one key go through one writer
/// in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyedShuffle {
    /// Never by the key.
    None,
    /// By the key when the sink's parallelism differs from its input's and is above 1 (default).
    #[default]
    Auto,
    /// By the key whenever the sink's parallelism is above 1.
    Force,
}

impl std::str::FromStr for KeyedShuffle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NONE" => Ok(KeyedShuffle::None),
            "AUTO" => Ok(KeyedShuffle::Auto),
            "FORCE" => Ok(KeyedShuffle::Force),
            _ => Err("expected NONE, AUTO or FORCE".into()),
        }
    }
}

/// The columns whose hash picks each row's writer: the sink's own routing columns
/// ([`DynamicSink::shuffle_columns`](headrace_sdk::sink::DynamicSink::shuffle_columns)) when it
/// has some, else its PRIMARY KEY as `mode` decides; empty when rows may go to any writer.
pub fn shuffle_keys(
    own: Vec<usize>,
    primary_key: &[usize],
    mode: KeyedShuffle,
    source_parallelism: usize,
    sink_parallelism: usize,
) -> Vec<usize> {
    if sink_parallelism <= 1 {
        return Vec::new();
    }
    if !own.is_empty() {
        return own;
    }
    let by_key = match mode {
        KeyedShuffle::None => false,
        KeyedShuffle::Auto => sink_parallelism != source_parallelism,
        KeyedShuffle::Force => true,
    };
    if by_key {
        primary_key.to_vec()
    } else {
        Vec::new()
    }
}

/// The writer (of `writers`) each row of `batch` goes to, by the hash of the values of the
/// columns `keys`. The hash only depends on the values (and their types), not on the batch.
pub fn route_rows(
    batch: &ChangelogBatch,
    keys: &[usize],
    writers: usize,
) -> RuntimeResult<Vec<usize>> {
    let n = batch.num_rows();
    if writers <= 1 || keys.is_empty() {
        return Ok(vec![0; n]);
    }
    let cols: Vec<ArrayRef> = keys
        .iter()
        .map(|k| {
            if *k < batch.batch.num_columns() {
                Ok(batch.batch.column(*k).clone())
            } else {
                Err(RuntimeError::Plan(format!(
                    "shuffle column {k} is out of range: the sink's rows have {} columns",
                    batch.batch.num_columns()
                )))
            }
        })
        .collect::<RuntimeResult<_>>()?;
    let fields = cols
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let conv = RowConverter::new(fields)?;
    let rows = conv.convert_columns(&cols)?;
    Ok((0..n)
        .map(|i| (fnv1a(rows.row(i).as_ref()) % writers as u64) as usize)
        .collect())
}

/// Split `batch` into one sub-batch per writer (None for a writer that gets no rows), keeping
/// the order of rows within each.
pub fn split_by_key(
    batch: &ChangelogBatch,
    keys: &[usize],
    writers: usize,
) -> RuntimeResult<Vec<Option<ChangelogBatch>>> {
    let targets = route_rows(batch, keys, writers)?;
    let mut idx: Vec<Vec<u32>> = vec![Vec::new(); writers.max(1)];
    for (row, w) in targets.into_iter().enumerate() {
        idx[w].push(row as u32);
    }
    let n = batch.num_rows();
    idx.into_iter()
        .map(|rows| {
            if rows.is_empty() {
                return Ok(None);
            }
            if rows.len() == n {
                return Ok(Some(batch.clone()));
            }
            let indices = UInt32Array::from(rows);
            let cols = batch
                .batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            let rb = arrow::array::RecordBatch::try_new(batch.batch.schema(), cols)?;
            let kinds = match &batch.kinds {
                None => None,
                Some(k) => {
                    let t = take(k, &indices, None)?;
                    t.as_any().downcast_ref::<Int8Array>().cloned()
                }
            };
            Ok(Some(ChangelogBatch { batch: rb, kinds }))
        })
        .collect()
}

/// FNV-1a: a fixed hash, the same in every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_shuffle_modes_follow_flink() {
        let pk = [1usize];
        // AUTO: by the key only when the parallelism changes (and is above 1)
        assert_eq!(shuffle_keys(vec![], &pk, KeyedShuffle::Auto, 2, 3), vec![1]);
        assert!(shuffle_keys(vec![], &pk, KeyedShuffle::Auto, 3, 3).is_empty());
        assert!(shuffle_keys(vec![], &pk, KeyedShuffle::Auto, 3, 1).is_empty());
        // FORCE: whenever the sink has several writers
        assert_eq!(
            shuffle_keys(vec![], &pk, KeyedShuffle::Force, 3, 3),
            vec![1]
        );
        assert!(shuffle_keys(vec![], &pk, KeyedShuffle::Force, 3, 1).is_empty());
        // NONE: never by the key
        assert!(shuffle_keys(vec![], &pk, KeyedShuffle::None, 2, 3).is_empty());
        // no key: nothing to shuffle by
        assert!(shuffle_keys(vec![], &[], KeyedShuffle::Force, 2, 3).is_empty());
        // the sink's own routing columns win in every mode
        assert_eq!(
            shuffle_keys(vec![0], &pk, KeyedShuffle::None, 2, 3),
            vec![0]
        );
        assert_eq!(
            shuffle_keys(vec![0], &pk, KeyedShuffle::Force, 3, 3),
            vec![0]
        );
    }

    #[test]
    fn keyed_shuffle_parses_flink_values() {
        assert_eq!("force".parse::<KeyedShuffle>(), Ok(KeyedShuffle::Force));
        assert_eq!(" NONE ".parse::<KeyedShuffle>(), Ok(KeyedShuffle::None));
        assert_eq!("AUTO".parse::<KeyedShuffle>(), Ok(KeyedShuffle::Auto));
        let e = "sometimes".parse::<KeyedShuffle>().unwrap_err();
        assert!(e.contains("NONE, AUTO or FORCE"), "{e}");
    }
}
