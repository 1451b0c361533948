//! Dead letters exactly once across crashes: a continuous filesystem job whose input has bad
//! lines routes them to a filesystem dead-letter table while it is aborted between a checkpoint
//! and its commit (`HEADRACE_FAULT`) and killed with SIGKILL, then resumed from its state
//! directory each time. In the end every good line is in the main table once and every bad line
//! in the dead-letter table once, with its file and line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 30;
const ROWS_PER_FILE: usize = 200;
/// Every BAD_EVERY-th row of a file is bad.
const BAD_EVERY: usize = 10;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headrace"))
}

/// Line `r` (0-based) of input file `f`: good rows are `id,p<id>`, bad ones `x<id>,p<id>`.
fn line(f: usize, r: usize) -> String {
    let id = f * ROWS_PER_FILE + r;
    if r % BAD_EVERY == BAD_EVERY - 1 {
        format!("x{id},p{id}")
    } else {
        format!("{id},p{id}")
    }
}

fn add_input(dir: &Path, f: usize) {
    let text: String = (0..ROWS_PER_FILE).map(|r| line(f, r) + "\n").collect();
    let tmp = dir.join(format!(".f{f:03}.csv.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(format!("f{f:03}.csv"))).unwrap();
}

/// Lines of the visible files of `dir`, counted.
fn counted(dir: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') || !e.path().is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            for l in text.lines() {
                *m.entry(l.to_string()).or_default() += 1;
            }
        }
    }
    m
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the job did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn dead_letters_are_written_exactly_once_across_crashes() {
    let d = tempfile::tempdir().unwrap();
    let (inp, good, dlq, state) = (
        d.path().join("in"),
        d.path().join("good"),
        d.path().join("dlq"),
        d.path().join("state"),
    );
    std::fs::create_dir_all(&inp).unwrap();
    let job = d.path().join("job.sql");
    std::fs::write(
        &job,
        format!(
            "SET 'execution.checkpointing.interval' = '200 ms';
             SET 'parallelism.default' = '2';
             SET 'headrace.batch-size' = '50';
             CREATE TABLE src (id BIGINT, payload STRING) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'source.monitor-interval' = '50 ms',
                'headrace.bad-records.policy' = 'dead-letter',
                'headrace.bad-records.dead-letter-table' = 'dlq');
             CREATE TABLE good (id BIGINT, payload STRING) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             CREATE TABLE dlq (origin STRING, raw STRING) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             INSERT INTO good SELECT * FROM src;",
            inp.display(),
            good.display(),
            dlq.display()
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
    let producer = std::thread::spawn({
        let inp = inp.clone();
        move || {
            for f in 0..FILES {
                add_input(&inp, f);
                std::thread::sleep(Duration::from_millis(40));
            }
        }
    });

    // 1. Aborted after checkpoint 3 is written, before anything of it is committed.
    let mut child = Command::new(bin())
        .args(&args)
        .env("HEADRACE_FAULT", "after-checkpoint-file:3")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !status.success() && err.contains("HEADRACE_FAULT: aborting"),
        "the fault did not abort the job: {err}"
    );
    // 2. and 3. SIGKILL at arbitrary moments.
    for delay_ms in [900u64, 700] {
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the continuous job ended by itself"
        );
        child.kill().unwrap();
        let _ = child.wait();
    }
    producer.join().unwrap();

    // 4. The last run reads the rest and is stopped with Ctrl-C.
    let mut child = Command::new(bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bad_total = FILES * (ROWS_PER_FILE / BAD_EVERY);
    let good_total = FILES * ROWS_PER_FILE - bad_total;
    let start = Instant::now();
    loop {
        let g: usize = counted(&good).values().sum();
        let b: usize = counted(&dlq).values().sum();
        if g >= good_total && b >= bad_total {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "only {g} of {good_total} good and {b} of {bad_total} bad rows visible; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success());

    let mut want_good = BTreeMap::new();
    let mut want_bad = BTreeMap::new();
    for f in 0..FILES {
        for r in 0..ROWS_PER_FILE {
            let l = line(f, r);
            if l.starts_with('x') {
                // the CSV sink quotes the raw line (it has a comma)
                let origin = format!(
                    "file '{}' line {}",
                    inp.join(format!("f{f:03}.csv")).display(),
                    r + 1
                );
                want_bad.insert(format!("{origin},\"{l}\""), 1);
            } else {
                want_good.insert(l, 1);
            }
        }
    }
    let got_good = counted(&good);
    let got_bad = counted(&dlq);
    let dup_bad: Vec<_> = got_bad.iter().filter(|(_, c)| **c > 1).take(3).collect();
    assert!(dup_bad.is_empty(), "duplicated dead letters: {dup_bad:?}");
    let dup_good: Vec<_> = got_good.iter().filter(|(_, c)| **c > 1).take(3).collect();
    assert!(dup_good.is_empty(), "duplicated rows: {dup_good:?}");
    assert_eq!(got_good.len(), want_good.len(), "missing good rows");
    assert!(got_good == want_good, "other rows than the good ones");
    let unexpected: Vec<_> = got_bad
        .keys()
        .filter(|k| !want_bad.contains_key(*k))
        .take(3)
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected dead letters: {unexpected:?}"
    );
    let missing: Vec<_> = want_bad
        .keys()
        .filter(|k| !got_bad.contains_key(*k))
        .take(3)
        .collect();
    assert!(missing.is_empty(), "missing dead letters: {missing:?}");
}
