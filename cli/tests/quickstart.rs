//! The README quickstart works as written: `examples/quickstart.sql` turns the checked-in CSV into
//! Parquet files partitioned by day with success files, and `examples/quickstart-read.sql` reads
//! them back, both through the `headrace` binary with no server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use common::bin;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn quickstart_writes_partitioned_parquet_and_reads_it_back() {
    // Run from a scratch directory holding a copy of the examples (the SQL uses relative paths).
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("examples")).unwrap();
    for f in [
        "quickstart.sql",
        "quickstart-read.sql",
        "quickstart-orders.csv",
    ] {
        std::fs::copy(examples().join(f), d.path().join("examples").join(f)).unwrap();
    }
    let run = |job: &str| {
        let o = Command::new(bin())
            .current_dir(d.path())
            .args(["run", job])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{job}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run("examples/quickstart.sql");

    // The orders with amount > 250, counted from the CSV itself.
    let csv = std::fs::read_to_string(examples().join("quickstart-orders.csv")).unwrap();
    let mut want_days = std::collections::BTreeSet::<String>::new();
    for line in csv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').collect();
        if f[2].parse::<f64>().unwrap() > 250.0 {
            want_days.insert(format!("dt={}", &f[3][..10]));
        }
    }
    assert_eq!(want_days.len(), 3, "three days of orders");
    let out = d.path().join("quickstart-out");
    for day in &want_days {
        let dir = out.join(day);
        assert!(dir.join("_SUCCESS").exists(), "{day} is not committed");
        let parts: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("part-"))
            .collect();
        assert!(!parts.is_empty(), "{day} has no part file");
        for p in parts {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            assert_eq!(&bytes[..4], b"PAR1", "{p} is not a Parquet file");
        }
    }

    // Reading back: every printed order is above the threshold and names its day and file.
    let printed = run("examples/quickstart-read.sql");
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("largest>"))
        .collect();
    assert!(!lines.is_empty(), "{printed}");
    for l in lines {
        assert!(l.contains(", 2026-11-2") && l.contains(", part-"), "{l}");
    }
}
