//! Reading: parallel readers, split state, checkpoint and restore, and read errors.

// Test helpers outside `#[test]` functions may panic too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{
    expected_lines, line_of, numbered, path_option, schema_with_file, write, Driver, Line,
};
use headrace_example_connector::{EmptyLines, LineSplit, LinesSource};
use headrace_sdk::prelude::*;

fn source(files: &[std::path::PathBuf]) -> Arc<dyn DynamicSource> {
    LinesSource::builder()
        .path(path_option(files))
        .schema(schema_with_file())
        .build_source()
        .unwrap()
}

fn sorted(mut v: Vec<Line>) -> Vec<Line> {
    v.sort();
    v
}

#[tokio::test]
async fn parallel_readers_emit_every_line_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "a.txt", &numbered("a", 10)),
        write(dir.path(), "crlf.txt", "first\r\nsecond\r\n\r\nfourth\r\n"),
        write(dir.path(), "empty.txt", ""),
        write(dir.path(), "no-final-newline.txt", "x\ny\nz"),
        write(dir.path(), "unicode.txt", "héllo wörld\n日本語\n"),
        write(dir.path(), "b.txt", &numbered("b", 17)),
    ];
    let src = source(&files);
    let mut driver = Driver::start(&src, 3, 4, None).unwrap();
    let out = driver.run_to_end().await.unwrap();

    let got: Vec<Line> = out.iter().map(|(_, r)| line_of(r)).collect();
    let expected = expected_lines(&files);
    assert_eq!(expected.len(), 10 + 4 + 3 + 2 + 17);
    assert_eq!(sorted(got), expected, "every line exactly once");

    let readers: std::collections::BTreeSet<usize> = out.iter().map(|(r, _)| *r).collect();
    assert!(
        readers.len() >= 2,
        "work was spread over readers: {readers:?}"
    );
    assert!(out.iter().all(|(_, r)| r.kind == RowKind::Insert));
}

#[tokio::test]
async fn skipping_empty_lines_keeps_file_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "gaps.txt", "x\n\n\ny\n\n");
    for (mode, expected) in [
        (EmptyLines::Skip, vec![("x", 1), ("y", 4)]),
        (
            EmptyLines::Keep,
            vec![("x", 1), ("", 2), ("", 3), ("y", 4), ("", 5)],
        ),
    ] {
        let src = LinesSource::builder()
            .path(f.display().to_string())
            .scan_empty_lines(mode)
            .build_source()
            .unwrap();
        let mut driver = Driver::start(&src, 1, 2, None).unwrap();
        let got: Vec<(String, i64)> = driver
            .run_to_end()
            .await
            .unwrap()
            .into_iter()
            .map(|(_, r)| (r.get_string(0).unwrap().to_string(), r.get_long(1).unwrap()))
            .collect();
        let expected: Vec<(String, i64)> = expected
            .into_iter()
            .map(|(l, n)| (l.to_string(), n))
            .collect();
        assert_eq!(got, expected, "{mode:?}");
    }
}

#[tokio::test]
async fn checkpoint_mid_file_then_restore_continues_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "big.txt", &numbered("big", 50)),
        write(dir.path(), "small.txt", &numbered("small", 5)),
        write(dir.path(), "other.txt", &numbered("other", 12)),
    ];
    let src = source(&files);

    // Run 1: two readers, batches of 4; stop after a few batches and take a checkpoint.
    let mut run1 = Driver::start(&src, 2, 4, None).unwrap();
    let mut delivered: Vec<Line> = Vec::new();
    for r in [0, 0, 1, 0] {
        let batch = run1.next_batch(r).await.unwrap().expect("data left");
        delivered.extend(batch.iter().map(line_of));
    }
    let snapshot = run1.snapshot(1).unwrap();

    // The checkpoint holds at least one split stopped in the middle of its file.
    let progress: Vec<LineSplit> = snapshot
        .splits
        .iter()
        .map(|s| LineSplit::from_source_split(s).unwrap())
        .collect();
    let mid_file = progress.iter().any(|s| {
        let len = std::fs::metadata(&s.path).unwrap().len();
        s.offset > 0 && s.offset < len && s.next_line > 1
    });
    assert!(mid_file, "a split is checkpointed mid-file: {progress:?}");

    // Run 1 goes on after the checkpoint, then fails: what it read since is lost.
    for r in [0, 1, 1] {
        let _ = run1.next_batch(r).await.unwrap();
    }
    drop(run1);

    // Run 2: restored from the checkpoint, with a different parallelism and batch size.
    let mut run2 = Driver::start(&src, 3, 5, Some(snapshot)).unwrap();
    let rest: Vec<Line> = run2
        .run_to_end()
        .await
        .unwrap()
        .iter()
        .map(|(_, r)| line_of(r))
        .collect();

    // Together: every line exactly once ...
    let mut all = delivered.clone();
    all.extend(rest.iter().cloned());
    assert_eq!(sorted(all.clone()), expected_lines(&files));
    // ... and in each file, run 2 starts right after run 1's last line: 1, 2, ..., n.
    let mut per_file: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (_, n, f) in &all {
        per_file.entry(f.clone()).or_default().push(*n);
    }
    for (f, numbers) in per_file {
        let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
        assert_eq!(numbers, expected, "{f}");
    }
}

#[tokio::test]
async fn a_restored_split_resumes_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f.txt", "one\ntwo\nthree\nfour\n");
    let src = source(std::slice::from_ref(&f));
    let mut reader = src
        .create_reader(ReaderContext {
            subtask: 0,
            parallelism: 1,
            batch_size: 100,
            metrics: Arc::new(SourceMetrics::default()),
        })
        .unwrap();
    let split = LineSplit {
        path: f.clone(),
        offset: "one\ntwo\n".len() as u64,
        next_line: 3,
    };
    reader
        .add_splits(vec![split.to_source_split().unwrap()])
        .unwrap();
    reader.no_more_splits();
    let ReadEvent::Batch(b) = reader.poll_next().await.unwrap() else {
        panic!("expected a batch")
    };
    let got: Vec<Line> = headrace_sdk::row::rows(&b)
        .unwrap()
        .iter()
        .map(line_of)
        .collect();
    let name = f.display().to_string();
    assert_eq!(
        got,
        vec![
            ("three".to_string(), 3, name.clone()),
            ("four".to_string(), 4, name)
        ]
    );
    assert!(matches!(reader.poll_next().await.unwrap(), ReadEvent::End));
}

#[tokio::test]
async fn state_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f.txt", "a\n");
    let src = source(std::slice::from_ref(&f));
    let mut newer = LineSplit::new(f).to_source_split().unwrap();
    newer.state.version = 2;
    let mut reader = src
        .create_reader(ReaderContext {
            subtask: 0,
            parallelism: 1,
            batch_size: 10,
            metrics: Arc::new(SourceMetrics::default()),
        })
        .unwrap();
    let e = reader.add_splits(vec![newer]).unwrap_err().to_string();
    assert!(e.contains("version 2"), "{e}");

    let bad = VersionedBytes::encode(2, "x", &()).unwrap();
    let e = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, Some(bad))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("lines enumerator state"), "{e}");
}

#[tokio::test]
async fn invalid_utf8_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1.txt");
    std::fs::write(&f, b"fine\ncaf\xe9\n").unwrap();
    let src = source(std::slice::from_ref(&f));
    let mut driver = Driver::start(&src, 1, 10, None).unwrap();
    let e = driver.run_to_end().await.unwrap_err();
    assert_eq!(e.domain(), headrace_sdk::error::ErrorDomain::User);
    let e = e.to_string();
    assert!(e.contains(&format!("file '{}' line 2", f.display())), "{e}");
    assert!(e.contains("UTF-8"), "{e}");
}

#[tokio::test]
async fn a_missing_file_is_reported_when_the_job_starts() {
    let dir = tempfile::tempdir().unwrap();
    let present = write(dir.path(), "present.txt", "a\n");
    let missing = dir.path().join("missing.txt");
    let src = source(&[present, missing.clone()]);
    let e = src
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .err()
        .expect("missing file")
        .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(e.contains("option 'path'"), "{e}");
}

#[tokio::test]
async fn a_file_shorter_than_its_checkpointed_offset_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "rewritten.txt", "short\n");
    let src = source(std::slice::from_ref(&f));
    let mut reader = src
        .create_reader(ReaderContext {
            subtask: 0,
            parallelism: 1,
            batch_size: 10,
            metrics: Arc::new(SourceMetrics::default()),
        })
        .unwrap();
    let split = LineSplit {
        path: f,
        offset: 1000,
        next_line: 40,
    };
    reader
        .add_splits(vec![split.to_source_split().unwrap()])
        .unwrap();
    let e = reader.poll_next().await.unwrap_err().to_string();
    assert!(e.contains("fewer than the 1000"), "{e}");
}
