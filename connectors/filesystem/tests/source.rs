//! The filesystem source driven through the SDK traits: directories, partitions, metadata,
//! checkpoints mid-file and continuous discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{reader_ctx, rows, run, source_builder, write};
use headrace_connector_filesystem::FileSplit;
use headrace_sdk::prelude::*;
use headrace_sdk::source::SplitState;

/// A partitioned directory: 3 data files in partitions (one NULL partition), plus hidden files
/// and directories that must be skipped.
fn partitioned_dir(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut file = |rel: &str, lines: std::ops::Range<i64>| {
        let content: String = lines.clone().map(|i| format!("{i},msg{i}\n")).collect();
        n += lines.count();
        write(&dir.join(rel), &content);
    };
    file("dt=2026-11-24/hour=10/a.txt", 0..50);
    file("dt=2026-11-24/hour=11/b.txt", 50..120);
    file("dt=__DEFAULT_PARTITION__/hour=3/c.txt", 120..130);
    // hidden: never read
    write(&dir.join("dt=2026-11-24/hour=10/.hidden.txt"), "999,x\n");
    write(&dir.join("dt=2026-11-24/hour=10/_SUCCESS"), "998,x\n");
    write(&dir.join("_tmp/d.txt"), "997,x\n");
    write(&dir.join(".staging/e.txt"), "996,x\n");
    n
}

#[tokio::test]
async fn bounded_directory_with_partitions_and_metadata_two_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let total = partitioned_dir(&dir);
    let source = source_builder(&dir)
        .columns(
            "id BIGINT, msg STRING, dt DATE, hour INT, \
             fp STRING METADATA FROM 'file.path' VIRTUAL, \
             fname STRING METADATA FROM 'file.name' VIRTUAL, \
             fsize BIGINT METADATA FROM 'file.size' VIRTUAL, \
             mtime TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time' VIRTUAL",
        )
        .unwrap()
        .partitioned_by(["dt", "hour"])
        .build_source()
        .unwrap();
    assert_eq!(source.boundedness(), Boundedness::Bounded);
    let names: Vec<String> = source
        .produced_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        ["id", "msg", "dt", "hour", "fp", "fname", "fsize", "mtime"]
    );
    let out = run(&source, 2, 16).await;
    assert!(out.iter().all(|b| !b.is_empty()), "both readers got files");
    let all: Vec<_> = out.concat();
    let rows = rows(&all);
    assert_eq!(rows.len(), total);
    let mut ids: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..130).collect::<Vec<_>>(), "each line exactly once");
    let sizes: BTreeMap<&str, u64> = [
        ("a.txt", dir.join("dt=2026-11-24/hour=10/a.txt")),
        ("b.txt", dir.join("dt=2026-11-24/hour=11/b.txt")),
        ("c.txt", dir.join("dt=__DEFAULT_PARTITION__/hour=3/c.txt")),
    ]
    .into_iter()
    .map(|(n, p)| (n, std::fs::metadata(p).unwrap().len()))
    .collect();
    for r in &rows {
        let id: i64 = r[0].parse().unwrap();
        assert_eq!(r[1], format!("msg{id}"));
        let (dt, hour, name) = match id {
            0..50 => ("2026-11-24", "10", "a.txt"),
            50..120 => ("2026-11-24", "11", "b.txt"),
            _ => ("NULL", "3", "c.txt"),
        };
        assert_eq!((r[2].as_str(), r[3].as_str()), (dt, hour), "row {id}");
        assert!(r[4].ends_with(&format!("/{name}")), "{}", r[4]);
        assert!(r[4].contains(&format!("hour={hour}")), "{}", r[4]);
        assert_eq!(r[5], name);
        assert_eq!(r[6], sizes[name].to_string());
        assert!(r[7].starts_with("20"), "modification time {}", r[7]);
    }
}

#[tokio::test]
async fn single_file_and_regex_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    write(&dir.join("x.csv"), "1,a\n2,b");
    write(&dir.join("y.log"), "3,c\n");
    write(&dir.join("sub/z.csv"), "4,d\r\n5,e\r\n");
    let cols = "id BIGINT, v STRING";
    let one = source_builder(&dir.join("x.csv"))
        .columns(cols)
        .unwrap()
        .build_source()
        .unwrap();
    let r = rows(&run(&one, 1, 10).await.concat());
    assert_eq!(
        r,
        vec![vec!["1", "a"], vec!["2", "b"]],
        "last line without newline"
    );
    let abs = std::path::absolute(&dir).unwrap();
    let filtered = source_builder(&dir)
        .columns(cols)
        .unwrap()
        .path_regex_pattern(format!("{}/.*\\.csv", abs.display()))
        .build_source()
        .unwrap();
    let mut r = rows(&run(&filtered, 1, 10).await.concat());
    r.sort();
    assert_eq!(
        r,
        vec![
            vec!["1", "a"],
            vec!["2", "b"],
            vec!["4", "d"],
            vec!["5", "e"]
        ],
        "only .csv files, CRLF stripped"
    );
}

#[tokio::test]
async fn bad_line_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(&tmp.path().join("bad.txt"), "1,a\n2,b\noops\n");
    let source = source_builder(&f)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let mut e = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 100)).unwrap();
    assert!(matches!(
        r.poll_next().await.unwrap(),
        ReadEvent::NeedSplits
    ));
    let SplitAssignment::Splits(s) = e.handle_split_request(0).await.unwrap() else {
        panic!("expected a split")
    };
    r.add_splits(s).unwrap();
    let err = r.poll_next().await.unwrap_err().to_string();
    assert!(err.contains("bad.txt' line 3"), "{err}");
}

#[tokio::test]
async fn checkpoint_mid_file_and_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let content: String = (0..100).map(|i| format!("{i},v{i}\n")).collect();
    write(&dir.join("f1.txt"), &content);
    let content2: String = (100..130).map(|i| format!("{i},v{i}\n")).collect();
    write(&dir.join("f2.txt"), &content2);
    let source = source_builder(&dir)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut reader = source.create_reader(reader_ctx(0, 1, 30)).unwrap();
    let mut first = Vec::new();
    // Read two batches of f1 (60 lines), then checkpoint.
    while first.len() < 2 {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => first.push(b.batch),
            ReadEvent::NeedSplits => match en.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(s) => reader.add_splits(s).unwrap(),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    let splits = reader.snapshot_state(1).unwrap();
    let en_state = en.snapshot_state(1).unwrap();
    assert_eq!(splits.len(), 1);
    let fs = FileSplit::from_split(&splits[0]).unwrap();
    assert_eq!(fs.line, 60);
    assert_eq!(
        fs.offset,
        content
            .lines()
            .take(60)
            .map(|l| l.len() as u64 + 1)
            .sum::<u64>()
    );
    // Rows after the checkpoint are read, then the job "crashes".
    let _lost = reader.poll_next().await.unwrap();
    drop(reader);
    drop(en);

    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, Some(en_state))
        .unwrap();
    let mut reader = source.create_reader(reader_ctx(0, 1, 30)).unwrap();
    reader.add_splits(splits).unwrap();
    let mut rest = Vec::new();
    loop {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => rest.push(b.batch),
            ReadEvent::NeedSplits => match en.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(s) => reader.add_splits(s).unwrap(),
                SplitAssignment::NoMoreSplits => reader.no_more_splits(),
                SplitAssignment::NotYet => panic!("bounded source said NotYet"),
            },
            ReadEvent::Idle => {}
            ReadEvent::End => break,
        }
    }
    let mut ids: Vec<i64> = rows(&first)
        .into_iter()
        .chain(rows(&rest))
        .map(|r| r[0].parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..130).collect::<Vec<_>>(), "no gap, no duplicate");
}

async fn drain_available(
    en: &mut Box<dyn SplitEnumerator>,
    reader: &mut Box<dyn SourceReader>,
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for _ in 0..50 {
        match reader.poll_next().await.unwrap() {
            ReadEvent::Batch(b) => out.extend(rows(&[b.batch])),
            ReadEvent::NeedSplits => match en.handle_split_request(0).await.unwrap() {
                SplitAssignment::Splits(s) => reader.add_splits(s).unwrap(),
                SplitAssignment::NotYet => return out,
                SplitAssignment::NoMoreSplits => panic!("continuous source ended"),
            },
            ReadEvent::Idle => {}
            ReadEvent::End => panic!("continuous source ended"),
        }
    }
    out
}

#[tokio::test]
async fn continuous_mode_discovers_new_files_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    write(&dir.join("a.txt"), "1,a\n2,a\n");
    let source = source_builder(&dir)
        .columns("id BIGINT, v STRING")
        .unwrap()
        .monitor_interval(Duration::from_millis(50))
        .build_source()
        .unwrap();
    assert_eq!(source.boundedness(), Boundedness::Unbounded);
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut reader = source.create_reader(reader_ctx(0, 1, 100)).unwrap();
    let got = drain_available(&mut en, &mut reader).await;
    assert_eq!(got.len(), 2);

    write(&dir.join("sub/b.txt"), "3,b\n");
    // Before the interval passes nothing new is listed; after it, b.txt is.
    tokio::time::sleep(Duration::from_millis(80)).await;
    let got = drain_available(&mut en, &mut reader).await;
    assert_eq!(got, vec![vec!["3", "b"]]);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        drain_available(&mut en, &mut reader).await.is_empty(),
        "no file read twice"
    );

    // Restart from the enumerator's checkpointed state: old files are not read again.
    let state = en.snapshot_state(7).unwrap();
    let splits = reader.snapshot_state(7).unwrap();
    assert!(splits.is_empty(), "finished files leave no split state");
    drop(reader);
    drop(en);
    write(&dir.join("c.txt"), "4,c\n5,c\n");
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, Some(state))
        .unwrap();
    let mut reader = source.create_reader(reader_ctx(0, 1, 100)).unwrap();
    let got = drain_available(&mut en, &mut reader).await;
    assert_eq!(got, vec![vec!["4", "c"], vec!["5", "c"]]);
}

#[tokio::test]
async fn bad_partition_value_and_missing_path_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    write(&dir.join("hour=abc/a.txt"), "1,a\n");
    let source = source_builder(&dir)
        .columns("id BIGINT, v STRING, hour INT")
        .unwrap()
        .partitioned_by(["hour"])
        .build_source()
        .unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 10)).unwrap();
    let SplitAssignment::Splits(s) = en.handle_split_request(0).await.unwrap() else {
        panic!("expected a split")
    };
    r.add_splits(s).unwrap();
    let e = r.poll_next().await.unwrap_err().to_string();
    assert!(e.contains("hour=abc") && e.contains("a.txt"), "{e}");

    let missing = source_builder(&tmp.path().join("nope"))
        .columns("id BIGINT, v STRING")
        .unwrap()
        .build_source()
        .unwrap();
    let mut en = missing
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let e = en.handle_split_request(0).await.unwrap_err();
    assert_eq!(e.domain(), headrace_sdk::error::ErrorDomain::User);
    let e = e.to_string();
    assert!(e.contains("cannot read path") && e.contains("nope"), "{e}");
}
