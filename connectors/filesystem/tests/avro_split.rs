//! Large Avro object container files are read as several byte-range splits: each split starts at
//! the first sync marker in its range and reads the blocks whose preceding sync marker starts in
//! it, so every row is read exactly once wherever the boundaries fall (inside a block, exactly at
//! a sync marker, inside one), and a checkpoint in the middle of a split restores exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::reader_ctx;
use headrace_connector_filesystem::FileSplit;
use headrace_format_avro::avro::AvroCodec;
use headrace_format_avro::{AvroConfig, AvroFileWriter};
use headrace_sdk::prelude::*;
use headrace_sdk::source::SplitState;

const ROWS: i64 = 40_000;

fn registry() -> Registry {
    common::registry().with_format(headrace_format_avro::AvroFormatFactory)
}

/// A file of `ROWS` rows (id, a payload of varying length) in many 64 KiB blocks, written with
/// `codec`; returns its path and where each sync marker starts (the header's first).
fn write_file(dir: &Path, codec: AvroCodec) -> (PathBuf, Vec<u64>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, true),
    ]));
    let path = dir.join("big.avro");
    let file = std::fs::File::create(&path).unwrap();
    let config = AvroConfig {
        codec,
        encoding: headrace_format_avro::avro::AvroEncoding::Binary,
        legacy_timestamps: true,
    };
    let mut w = AvroFileWriter::new(file, &schema, &config, "big.avro").unwrap();
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(1000) {
        let ids = Int64Array::from(chunk.to_vec());
        let payloads = StringArray::from(
            chunk
                .iter()
                .map(|i| format!("{i}-{}", "p".repeat(40 + (*i as usize * 7) % 90)))
                .collect::<Vec<_>>(),
        );
        let b =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(payloads)]).unwrap();
        w.write(&b).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // The file ends with a block's sync marker, the header's.
    let sync = &bytes[bytes.len() - 16..];
    let markers: Vec<u64> = (0..=bytes.len() - 16)
        .filter(|i| &bytes[*i..*i + 16] == sync)
        .map(|i| i as u64)
        .collect();
    assert!(markers.len() > 20, "{} sync markers", markers.len());
    (path, markers)
}

/// A source of the file split every `split_bytes` bytes.
fn source(path: &Path, split_bytes: u64) -> Arc<dyn DynamicSource> {
    let cols = "id BIGINT, payload STRING";
    common::factory_source(&registry(), path, "avro", cols, Some(split_bytes))
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let id = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let p = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            let v = id.value(i);
            assert!(p.value(i).starts_with(&format!("{v}-")), "row {v} is whole");
            out.push(v);
        }
    }
    out
}

/// Read the file with `parallelism` readers; every row once, each reader's rows in file order
/// (it reads its splits one after the other, in the order the enumerator lists them).
async fn read_once(path: &Path, split_bytes: u64, parallelism: usize) -> Vec<Vec<i64>> {
    let src = source(path, split_bytes);
    let out = headrace_sdk::testing::read_all(&src, parallelism, 700, 1_000_000)
        .await
        .unwrap();
    let per_reader: Vec<Vec<i64>> = out
        .iter()
        .map(|bs| ids(&bs.iter().map(|b| b.batch.clone()).collect::<Vec<_>>()))
        .collect();
    for (r, ids) in per_reader.iter().enumerate() {
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "reader {r} reads its splits' rows in order (split {split_bytes})"
        );
    }
    let mut all: Vec<i64> = per_reader.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ROWS).collect::<Vec<_>>(),
        "every row exactly once (split {split_bytes}, parallelism {parallelism})"
    );
    per_reader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_avro_file_is_split_and_every_row_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    for codec in [AvroCodec::Deflate, AvroCodec::Null] {
        let (path, markers) = write_file(tmp.path(), codec);
        let size = std::fs::metadata(&path).unwrap().len();
        // About five splits, two and three readers: every reader gets rows.
        for parallelism in [2, 3] {
            let per_reader = read_once(&path, size / 5 + 1, parallelism).await;
            assert!(
                per_reader.iter().all(|r| !r.is_empty()),
                "every reader read a split ({parallelism})"
            );
        }
        // A split boundary exactly at a sync marker, one byte after its start (inside it), one
        // byte before it (the previous block's last byte), and inside a block.
        let m = markers[markers.len() / 3];
        for split in [m, m + 1, m - 1, (markers[5] + markers[6]) / 2] {
            read_once(&path, split, 2).await;
        }
        // Splits smaller than a block: most splits own no block.
        read_once(&path, 30_000, 3).await;
    }
}

#[tokio::test]
async fn splits_of_an_avro_file_own_the_blocks_after_their_first_sync_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, markers) = write_file(tmp.path(), AvroCodec::Null);
    // Split exactly at the fourth block's sync marker: the first split reads the first four blocks
    // (their markers before start before the boundary), the second starts with the fifth block.
    let m = markers[4];
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(2 * m < size);
    let src = source(&path, m);
    let mut e = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut splits = Vec::new();
    while let SplitAssignment::Splits(s) = e.handle_split_request(0).await.unwrap() {
        splits.extend(s);
    }
    assert_eq!(splits.len() as u64, size.div_ceil(m));
    assert!(
        splits[1].id.ends_with(&format!("#bytes-{m}")),
        "{}",
        splits[1].id
    );
    let read_split = |s: SourceSplit| {
        let src = src.clone();
        async move {
            let mut r = src.create_reader(reader_ctx(0, 1, 500)).unwrap();
            r.add_splits(vec![s]).unwrap();
            r.no_more_splits();
            let mut out = Vec::new();
            loop {
                match r.poll_next().await.unwrap() {
                    ReadEvent::Batch(b) => out.push(b.batch),
                    ReadEvent::End => return ids(&out),
                    _ => panic!("unexpected read event"),
                }
            }
        }
    };
    let first = read_split(splits[0].clone()).await;
    let second = read_split(splits[1].clone()).await;
    // Row counts of the first four blocks, from the file: the block after the header's marker
    // starts with its record count.
    let bytes = std::fs::read(&path).unwrap();
    let count_at = |pos: usize| -> i64 {
        let (mut v, mut shift, mut i) = (0u64, 0, pos);
        loop {
            let b = bytes[i];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break (v >> 1) as i64 ^ -((v & 1) as i64);
            }
            shift += 7;
            i += 1;
        }
    };
    let in_first: i64 = markers[..4]
        .iter()
        .map(|m| count_at(*m as usize + 16))
        .sum();
    assert_eq!(first, (0..in_first).collect::<Vec<_>>());
    assert_eq!(
        second.first(),
        Some(&in_first),
        "the fifth block starts the second split"
    );
}

#[tokio::test]
async fn a_checkpoint_in_the_middle_of_an_avro_split_restores_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = write_file(tmp.path(), AvroCodec::Deflate);
    let size = std::fs::metadata(&path).unwrap().len();
    let src = source(&path, size / 3 + 1);
    let mut e = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let SplitAssignment::Splits(_first) = e.handle_split_request(0).await.unwrap() else {
        panic!("expected a split")
    };
    let SplitAssignment::Splits(second) = e.handle_split_request(0).await.unwrap() else {
        panic!("expected a second split")
    };
    // The whole second split, read without a checkpoint.
    let whole = {
        let mut r = src.create_reader(reader_ctx(0, 1, 300)).unwrap();
        r.add_splits(second.clone()).unwrap();
        r.no_more_splits();
        let mut out = Vec::new();
        while let ReadEvent::Batch(b) = r.poll_next().await.unwrap() {
            out.push(b.batch);
        }
        ids(&out)
    };
    assert!(whole.len() > 2000 && whole[0] > 0, "{}", whole.len());
    // Read part of it, checkpoint, lose what follows, restore into a new reader.
    let mut r = src.create_reader(reader_ctx(0, 1, 300)).unwrap();
    r.add_splits(second).unwrap();
    let mut before = Vec::new();
    for _ in 0..4 {
        let ReadEvent::Batch(b) = r.poll_next().await.unwrap() else {
            panic!("expected a batch")
        };
        before.push(b.batch);
    }
    let state = r.snapshot_state(1).unwrap();
    let s = FileSplit::from_split(&state[0]).unwrap();
    assert_eq!(s.line, 1200, "rows of the split already emitted");
    let _lost = r.poll_next().await.unwrap();
    drop(r);
    let mut r = src.create_reader(reader_ctx(0, 1, 300)).unwrap();
    r.add_splits(state).unwrap();
    r.no_more_splits();
    let mut after = Vec::new();
    while let ReadEvent::Batch(b) = r.poll_next().await.unwrap() {
        after.push(b.batch);
    }
    let mut got = ids(&before);
    got.extend(ids(&after));
    assert_eq!(got, whole, "no gap, no duplicate");
}
