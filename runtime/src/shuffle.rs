//! Keyed routing of rows to sink writers: rows with equal key values always reach the same
//! writer, so per-key order holds (Flink's keyed shuffle before a sink).

use arrow::array::{Array, ArrayRef, Int8Array, UInt32Array};
use arrow::compute::take;
use arrow::row::{RowConverter, SortField};
use headrace_sdk::changelog::ChangelogBatch;

use crate::error::{RuntimeError, RuntimeResult};

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
