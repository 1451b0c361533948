//! Large files of lines are read as several byte-range splits (so parallel readers share one
//! file): every line is read exactly once whatever the block boundaries cut, a checkpoint inside
//! a later block restores exactly, and an error in a later block names the line counted from the
//! start of the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{reader_ctx, rows, run, source_builder, write};
use headrace_connector_filesystem::source::LINE_SPLIT_BYTES;
use headrace_sdk::prelude::*;

/// Lines of about 1 KB so that the file spans blocks with few lines; the payload length varies so
/// block boundaries fall at every position in a line.
fn content(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{i},{}\n", "x".repeat(900 + i % 211)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_is_split_and_every_line_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = (LINE_SPLIT_BYTES as usize * 5 / 2) / 1000;
    let f = write(&tmp.path().join("big.txt"), &content(lines));
    let size = std::fs::metadata(&f).unwrap().len();
    assert!(size > 2 * LINE_SPLIT_BYTES, "{size}");
    let source = source_builder(&f)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    // Three blocks, two readers.
    let out = run(&source, 2, 4096).await;
    assert!(
        out.iter().all(|b| !b.is_empty()),
        "both readers read a block"
    );
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for r in out.iter().flat_map(|b| rows(b)) {
        let id: i64 = r[0].parse().unwrap();
        assert_eq!(r[1].len(), 900 + (id as usize) % 211, "line {id} is whole");
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), lines);
    assert!(counts.values().all(|c| *c == 1));
}

#[tokio::test]
async fn checkpoint_inside_a_later_block_restores_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = (LINE_SPLIT_BYTES as usize * 3 / 2) / 1000;
    let f = write(&tmp.path().join("big.txt"), &content(lines));
    let source = source_builder(&f)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let mut e = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let SplitAssignment::Splits(first) = e.handle_split_request(0).await.unwrap() else {
        panic!("expected a split")
    };
    let SplitAssignment::Splits(second) = e.handle_split_request(0).await.unwrap() else {
        panic!("expected a second split")
    };
    assert!(
        second[0]
            .id
            .ends_with(&format!("#bytes-{LINE_SPLIT_BYTES}")),
        "{}",
        second[0].id
    );
    let mut ids = Vec::new();
    // Read the second block partly, snapshot, and restore into a new reader.
    let mut r = source.create_reader(reader_ctx(0, 1, 100)).unwrap();
    r.add_splits(second).unwrap();
    let ReadEvent::Batch(b) = r.poll_next().await.unwrap() else {
        panic!("expected a batch")
    };
    ids.extend(
        rows(&[b.batch])
            .into_iter()
            .map(|r| r[0].parse::<i64>().unwrap()),
    );
    let state = r.snapshot_state(1).unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 100)).unwrap();
    r.add_splits(state).unwrap();
    r.add_splits(first).unwrap();
    r.no_more_splits();
    loop {
        match r.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => ids.extend(
                rows(&[b.batch])
                    .into_iter()
                    .map(|r| r[0].parse::<i64>().unwrap()),
            ),
            ReadEvent::End => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    ids.sort();
    assert_eq!(ids, (0..lines as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_error_in_a_later_block_names_the_line_of_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = (LINE_SPLIT_BYTES as usize * 3 / 2) / 1000;
    let mut text = content(lines);
    text.push_str("oops\n");
    let f = write(&tmp.path().join("big.txt"), &text);
    let source = source_builder(&f)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let e = headrace_sdk::testing::read_all(&source, 1, 4096, 100_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("big.txt' line {}", lines + 1)), "{e}");
}
