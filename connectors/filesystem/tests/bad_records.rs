//! The bad-record policy in the filesystem source: bad lines, also in a later block of a large
//! file (whose line numbers are counted from the start of the file), become dead letters with
//! their raw bytes and `file:line` origin, and the reader goes on with the next line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{source_builder, write};
use headrace_connector_filesystem::source::LINE_SPLIT_BYTES;
use headrace_sdk::bad_records::{BadRecordConfig, BadRecordPolicy, Stage};
use headrace_sdk::prelude::*;

#[tokio::test]
async fn bad_lines_of_every_block_become_dead_letters_with_file_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = (LINE_SPLIT_BYTES as usize * 3 / 2) / 1000;
    // bad lines (1-based line numbers): one in the first block, several in the second
    let bad_at = [
        7usize,
        lines * 3 / 4,
        lines * 3 / 4 + 1,
        lines * 3 / 4 + 50,
        lines,
    ];
    let mut text = String::new();
    for n in 1..=lines {
        if bad_at.contains(&n) {
            text.push_str(&format!("oops {n}\n"));
        } else {
            text.push_str(&format!("{n},{}\n", "x".repeat(900 + n % 211)));
        }
    }
    let f = write(&tmp.path().join("big.txt"), &text);
    let source = source_builder(&f)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let ctx = headrace_sdk::testing::reader_context(0, 1, 4096);
    ctx.metrics.bad_records.configure(BadRecordConfig {
        policy: BadRecordPolicy::DeadLetter,
        table: "big".into(),
        connector: "filesystem".into(),
    });
    let metrics = ctx.metrics.clone();
    let mut enumerator = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut reader = source.create_reader(ctx).unwrap();
    let mut rows = 0usize;
    let mut splits = 0usize;
    loop {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => rows += b.num_rows(),
            ReadEvent::Idle => {}
            ReadEvent::NeedSplits => match enumerator.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(v) => {
                    splits += v.len();
                    reader.add_splits(v).unwrap()
                }
                SplitAssignment::NotYet => {}
                SplitAssignment::NoMoreSplits => reader.no_more_splits(),
            },
            ReadEvent::End => break,
        }
    }
    assert!(splits >= 2, "the file is read as several blocks");
    assert_eq!(rows, lines - bad_at.len());
    let letters = metrics.bad_records.take_dead_letters();
    let got: Vec<(String, String)> = letters
        .iter()
        .map(|l| {
            (
                String::from_utf8(l.raw.clone()).unwrap(),
                l.origin.to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = bad_at
        .iter()
        .map(|n| {
            (
                format!("oops {n}"),
                format!("file '{}' line {n}", f.display()),
            )
        })
        .collect();
    assert_eq!(got, want);
    for l in &letters {
        assert_eq!(l.stage, Stage::Decode);
        assert!(l.error.contains(&l.origin.to_string()), "{}", l.error);
    }
    assert_eq!(metrics.bad_records.dead_lettered(), bad_at.len() as u64);
}
