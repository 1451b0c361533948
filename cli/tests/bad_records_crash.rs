//! Dead letters exactly once across crashes: a continuous filesystem job whose input has bad
//! lines routes them to a filesystem dead-letter table while it is aborted between a checkpoint
//! and its commit (`HEADRACE_FAULT`) and killed with SIGKILL, then resumed from its state
//! directory each time. In the end every good line is in the main table once and every bad line
//! in the dead-letter table once, with its file and line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use common::{
    assert_exactly_once, committed_lines, continuous_csv_job, counted, crash_at, produce_csv_files,
    run_until_then_ctrl_c, sigkill_runs,
};
use std::time::Duration;

const FILES: usize = 30;
const ROWS_PER_FILE: usize = 200;
/// Every BAD_EVERY-th row of a file is bad.
const BAD_EVERY: usize = 10;

/// Line `r` (0-based) of input file `f`: good rows are `id,p<id>`, bad ones `x<id>,p<id>`.
fn line(f: usize, r: usize) -> String {
    let id = f * ROWS_PER_FILE + r;
    if r % BAD_EVERY == BAD_EVERY - 1 {
        format!("x{id},p{id}")
    } else {
        format!("{id},p{id}")
    }
}

/// Input file `f`.
fn input(f: usize) -> String {
    (0..ROWS_PER_FILE).map(|r| line(f, r) + "\n").collect()
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
    let job = continuous_csv_job(
        d.path(),
        50,
        "id BIGINT, payload STRING",
        ",
                'headrace.bad-records.policy' = 'dead-letter',
                'headrace.bad-records.dead-letter-table' = 'dlq'",
        &format!(
            "CREATE TABLE good (id BIGINT, payload STRING) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             CREATE TABLE dlq (origin STRING, raw STRING) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             INSERT INTO good SELECT * FROM src;",
            good.display(),
            dlq.display()
        ),
    );
    let producer = produce_csv_files(&inp, FILES, input);

    // 1. Aborted after checkpoint 3 is written, before anything of it is committed.
    crash_at(&job, &state, "after-checkpoint-file:3");
    // 2. and 3. SIGKILL at arbitrary moments.
    sigkill_runs(&job, &state, &[900, 700], |ended| {
        assert!(
            ended.is_none(),
            "the continuous job ended by itself: {ended:?}"
        )
    });
    producer.join().unwrap();

    // 4. The last run reads the rest and is stopped with Ctrl-C.
    let bad_total = FILES * (ROWS_PER_FILE / BAD_EVERY);
    let good_total = FILES * ROWS_PER_FILE - bad_total;
    run_until_then_ctrl_c(&job, &state, Duration::from_secs(120), || {
        let g = committed_lines(&good).len();
        let b = committed_lines(&dlq).len();
        if g >= good_total && b >= bad_total {
            Ok(())
        } else {
            Err(format!(
                "only {g} of {good_total} good and {b} of {bad_total} bad rows visible"
            ))
        }
    });

    let mut want_good = Vec::new();
    let mut want_bad = Vec::new();
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
                want_bad.push(format!("{origin},\"{l}\""));
            } else {
                want_good.push(l);
            }
        }
    }
    assert_exactly_once(&counted(committed_lines(&dlq)), want_bad, "dead letters");
    assert_exactly_once(&counted(committed_lines(&good)), want_good, "good rows");
}
