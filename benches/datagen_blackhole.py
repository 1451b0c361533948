#!/usr/bin/env python3
"""datagen -> blackhole: Headrace's local runner against Apache Flink, side by side in one run.

Both engines run the same job on the same machine: a 5-column schema (BIGINT sequence, INT, DOUBLE,
STRING of length 10, TIMESTAMP(3)), N rows, parallelism 1, rate limit set far above what either
reaches. Headrace runs its release binary (CPU time measured from the child's rusage); Flink runs
benches/flink/datagen_blackhole.py in a warm JVM (CPU time of the JVM during the job).

Usage:
  cargo build --release -p headrace-cli
  python3 benches/datagen_blackhole.py --rows 20000000 --repeat 3

Prints a Markdown table with rows/s, CPU seconds, rows per CPU-second and the ratios.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOB = """
SET 'parallelism.default' = '{p}';
CREATE TABLE src (id BIGINT, a INT, b DOUBLE, s STRING, ts TIMESTAMP(3)) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '{n}',
  'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{n}',
  'fields.s.length' = '10'
);
CREATE TABLE snk (id BIGINT, a INT, b DOUBLE, s STRING, ts TIMESTAMP(3)) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT * FROM src;
"""


def headrace_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    b = os.path.join(target, "release", "headrace")
    if not os.path.exists(b):
        sys.exit(f"{b} not found: run `cargo build --release -p headrace-cli` first")
    return b


def run_headrace(rows, parallelism):
    with tempfile.TemporaryDirectory() as d:
        job = os.path.join(d, "job.sql")
        summary = os.path.join(d, "summary.json")
        with open(job, "w") as f:
            f.write(JOB.format(n=rows, p=parallelism))
        start = time.perf_counter()
        proc = subprocess.Popen([headrace_bin(), "run", job, "--quiet", "--summary-json", summary])
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"headrace failed with status {status}")
        with open(summary) as f:
            s = json.load(f)
        if s["rows_out"] != [rows]:
            sys.exit(f"headrace wrote {s['rows_out']} rows, expected {rows}")
        return {
            "engine": "headrace",
            "rows": rows,
            "seconds": s["seconds"],
            "process_seconds": wall,
            "cpu_seconds": ru.ru_utime + ru.ru_stime,
        }


def run_flink(rows, parallelism, repeat):
    venv = subprocess.run(["bash", os.path.join(ROOT, "benches/flink/setup.sh")],
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    out = subprocess.run([os.path.join(venv, "bin/python"), os.path.join(ROOT, "benches/flink/datagen_blackhole.py"),
                          "--rows", str(rows), "--parallelism", str(parallelism), "--repeat", str(repeat)],
                         check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the fastest counts")
    ap.add_argument("--skip-flink", action="store_true")
    a = ap.parse_args()

    runs = [run_headrace(a.rows, a.parallelism) for _ in range(a.repeat)]
    h = min(runs, key=lambda r: r["seconds"])
    rows = [("Headrace (local runner)", h["rows"], h["seconds"], h["cpu_seconds"])]
    f = None
    if not a.skip_flink:
        f = run_flink(a.rows, a.parallelism, a.repeat)
        rows.append((f"Apache Flink {f.get('flink_version', '')} (PyFlink, local)", f["rows"], f["seconds"], f["cpu_seconds"]))
    print("| engine | rows | seconds | rows/s | CPU s | rows per CPU-second |")
    print("|---|---|---|---|---|---|")
    for name, n, s, c in rows:
        print(f"| {name} | {n:,} | {s:.2f} | {n / s / 1e6:.1f} M | {c:.2f} | {n / c / 1e6:.1f} M |")
    if f:
        print()
        print(f"Headrace / Flink: {f['seconds'] / h['seconds']:.1f}x rows/s, "
              f"{(h['rows'] / h['cpu_seconds']) / (f['rows'] / f['cpu_seconds']):.1f}x rows per CPU-second")
    print(json.dumps({"headrace": runs, "flink": f}))


if __name__ == "__main__":
    main()
