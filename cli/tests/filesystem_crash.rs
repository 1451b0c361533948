//! A continuous filesystem job (`source.monitor-interval` watching a directory the test keeps
//! adding CSV files to, written to a partitioned filesystem sink) run by the `headrace` binary,
//! with auto-compaction and success files, killed with SIGKILL at several points and restarted
//! with the same `--state-dir`: every input
//! row ends up exactly once in the finished files, and a concurrent reader that lists only
//! visible files never sees an incomplete or changing file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use common::{
    assert_exactly_once, continuous_csv_job, produce_csv_files, run_until_then_ctrl_c,
    sigkill_runs, visible_files,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FILES: usize = 60;
const ROWS_PER_FILE: usize = 400;
const BUCKETS: usize = 3;

/// The payload of row `id` (so a reader can check every line it sees is whole).
fn payload(id: usize) -> String {
    format!("p{id:08}-{}", "x".repeat(id % 17))
}

/// Input file `f`: rows `id,payload,bucket`.
fn input(f: usize) -> String {
    let mut s = String::new();
    for r in 0..ROWS_PER_FILE {
        let id = f * ROWS_PER_FILE + r;
        s.push_str(&format!("{id},{},{}\n", payload(id), id % BUCKETS));
    }
    s
}

/// Check a visible file's lines: each is `id,payload` of a row of partition `bucket=<id % 3>`.
fn check_file(path: &Path, text: &str) -> Result<Vec<usize>, String> {
    let bucket = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!("{} does not end with a newline", path.display()));
    }
    let mut ids = Vec::new();
    for line in text.lines() {
        let (id, p) = line
            .split_once(',')
            .ok_or_else(|| format!("{}: incomplete line '{line}'", path.display()))?;
        let id: usize = id
            .parse()
            .map_err(|_| format!("{}: bad id in '{line}'", path.display()))?;
        if p != payload(id) || bucket != format!("bucket={}", id % BUCKETS) {
            return Err(format!(
                "{}: wrong or partial line '{line}'",
                path.display()
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Every id in the visible output, with how often it appears.
fn output_ids(out: &Path) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for f in visible_files(out) {
        let text = std::fs::read_to_string(&f).unwrap();
        for id in check_file(&f, &text).unwrap() {
            *counts.entry(id).or_default() += 1;
        }
    }
    counts
}

#[test]
fn continuous_filesystem_job_survives_sigkill_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let (inp, out, state) = (
        d.path().join("in"),
        d.path().join("out"),
        d.path().join("state"),
    );
    let job = continuous_csv_job(
        d.path(),
        100,
        "id BIGINT, payload STRING, bucket INT",
        "",
        &format!(
            "CREATE TABLE snk (id BIGINT, payload STRING, bucket INT) PARTITIONED BY (bucket) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'sink.rolling-policy.file-size' = '8 kb',
                'auto-compaction' = 'true', 'compaction.file-size' = '32 kb',
                'sink.partition-commit.policy.kind' = 'success-file'
             );
             INSERT INTO snk SELECT * FROM src;",
            out.display()
        ),
    );

    // The producer adds an input file every 40 ms; the reader checks what is visible.
    let done = Arc::new(AtomicBool::new(false));
    let producer = produce_csv_files(&inp, FILES, input);
    let reader = std::thread::spawn({
        let (out, done) = (out.clone(), done.clone());
        move || -> Result<usize, String> {
            // A visible file must be whole when first seen and never change afterwards.
            let mut seen: BTreeMap<PathBuf, String> = BTreeMap::new();
            let mut checks = 0;
            while !done.load(Ordering::Relaxed) {
                for f in visible_files(&out) {
                    let Ok(text) = std::fs::read_to_string(&f) else {
                        return Err(format!("{} vanished after being listed", f.display()));
                    };
                    if f.to_string_lossy().contains("inprogress") {
                        return Err(format!("an in-progress file is visible: {}", f.display()));
                    }
                    match seen.get(&f) {
                        Some(before) if *before != text => {
                            return Err(format!("{} changed after it became visible", f.display()))
                        }
                        Some(_) => {}
                        None => {
                            check_file(&f, &text)?;
                            seen.insert(f, text);
                        }
                    }
                    checks += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(checks)
        }
    });

    let kills = sigkill_runs(&job, &state, &[700, 1100, 500, 900], |ended| {
        assert!(
            ended.is_none(),
            "the continuous job ended by itself: {ended:?}"
        )
    });
    assert_eq!(kills, 4);
    producer.join().unwrap();

    // The last run reads everything; then it is stopped with Ctrl-C (a final checkpoint).
    let total = FILES * ROWS_PER_FILE;
    run_until_then_ctrl_c(&job, &state, Duration::from_secs(120), || {
        let n: usize = output_ids(&out).values().sum();
        if n >= total {
            Ok(())
        } else {
            Err(format!("only {n} of {total} rows visible"))
        }
    });
    done.store(true, Ordering::Relaxed);
    let checks = reader.join().unwrap().unwrap();
    assert!(checks > 0, "the concurrent reader never saw a file");

    assert_exactly_once(&output_ids(&out), 0..total, "partitioned filesystem sink");
    // Every partition was committed once its data was visible.
    for b in 0..BUCKETS {
        assert!(
            out.join(format!("bucket={b}/_SUCCESS")).exists(),
            "bucket={b} has no success file"
        );
    }
    // No in-progress file is left behind once the job stopped cleanly.
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(!name.contains(".inprogress."), "left over: {name}");
            }
        }
    }
}
