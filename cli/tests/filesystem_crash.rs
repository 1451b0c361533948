//! A continuous filesystem job (`source.monitor-interval` watching a directory the test keeps
//! adding CSV files to, written to a partitioned filesystem sink) run by the `headrace` binary,
//! with auto-compaction and success files, killed with SIGKILL at several points and restarted
//! with the same `--state-dir`: every input
//! row ends up exactly once in the finished files, and a concurrent reader that lists only
//! visible files never sees an incomplete or changing file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILES: usize = 60;
const ROWS_PER_FILE: usize = 400;
const BUCKETS: usize = 3;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headrace"))
}

/// The payload of row `id` (so a reader can check every line it sees is whole).
fn payload(id: usize) -> String {
    format!("p{id:08}-{}", "x".repeat(id % 17))
}

/// Write input file `f` atomically: a hidden file renamed into place (the source skips hidden
/// files and assumes visible ones are complete).
fn add_input(dir: &Path, f: usize) {
    let mut s = String::new();
    for r in 0..ROWS_PER_FILE {
        let id = f * ROWS_PER_FILE + r;
        s.push_str(&format!("{id},{},{}\n", payload(id), id % BUCKETS));
    }
    let tmp = dir.join(format!(".f{f:03}.csv.tmp"));
    std::fs::write(&tmp, s).unwrap();
    std::fs::rename(&tmp, dir.join(format!("f{f:03}.csv"))).unwrap();
}

/// Visible files below `dir` (names not starting with '.' or '_', as Flink and Hive list them).
fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
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
    std::fs::create_dir_all(&inp).unwrap();
    let job = d.path().join("job.sql");
    std::fs::write(
        &job,
        format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '100';
             CREATE TABLE src (id BIGINT, payload STRING, bucket INT) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'source.monitor-interval' = '50 ms'
             );
             CREATE TABLE snk (id BIGINT, payload STRING, bucket INT) PARTITIONED BY (bucket) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'sink.rolling-policy.file-size' = '8 kb',
                'auto-compaction' = 'true', 'compaction.file-size' = '32 kb',
                'sink.partition-commit.policy.kind' = 'success-file'
             );
             INSERT INTO snk SELECT * FROM src;",
            inp.display(),
            out.display()
        ),
    )
    .unwrap();
    let args = [
        "run".to_string(),
        job.display().to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--quiet".into(),
    ];

    // The producer adds an input file every 40 ms; the reader checks what is visible.
    let done = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let inp = inp.clone();
        move || {
            for f in 0..FILES {
                add_input(&inp, f);
                std::thread::sleep(Duration::from_millis(40));
            }
        }
    });
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

    let mut kills = 0;
    for delay_ms in [700u64, 1100, 500, 900] {
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        match child.try_wait().unwrap() {
            None => {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
                let _ = child.wait();
            }
            Some(status) => {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the continuous job ended by itself ({status}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert_eq!(kills, 4);
    producer.join().unwrap();

    // The last run reads everything; then it is stopped with Ctrl-C (a final checkpoint).
    let mut child = Command::new(bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let total = FILES * ROWS_PER_FILE;
    let start = Instant::now();
    loop {
        let n: usize = output_ids(&out).values().sum();
        if n >= total {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "only {n} of {total} rows visible; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let a few more checkpoints pass (nothing more may appear), then stop gracefully.
    std::thread::sleep(Duration::from_millis(600));
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let limit = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            limit.elapsed() < Duration::from_secs(60),
            "Ctrl-C did not stop the job"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    done.store(true, Ordering::Relaxed);
    let checks = reader.join().unwrap().unwrap();
    assert!(checks > 0, "the concurrent reader never saw a file");

    let counts = output_ids(&out);
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(dups.is_empty(), "duplicated ids: {dups:?}");
    assert_eq!(counts.len(), total, "missing ids");
    assert_eq!(counts.keys().last().copied(), Some(total - 1));
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
