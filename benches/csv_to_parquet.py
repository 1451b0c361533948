#!/usr/bin/env python3
"""CSV -> Parquet: Headrace's filesystem connector against DuckDB and Apache Flink, in one run.

The input is a ~1 GB CSV file of 14,500,000 orders (8 columns: BIGINT, INT, two STRINGs, DOUBLE,
INT, DECIMAL(12,2), TIMESTAMP(3)), generated once with DuckDB and cached under
~/.cache/headrace/bench/. Each engine converts it to SNAPPY-compressed Parquet (each engine's
default codec) with the same column types:

- Headrace: `headrace run` (release binary) of a job reading the file with the filesystem
  connector ('format' = 'csv') and writing it with the filesystem connector ('format' =
  'parquet'); whole process, CPU time from the child's rusage.
- DuckDB: `COPY (SELECT * FROM read_csv(...explicit columns...)) TO 'out.parquet' (FORMAT
  parquet)` in the Python package (~/.cache/headrace/venv), all cores, timed around the COPY,
  CPU time from the process's rusage.
- Flink: the same DDL in PyFlink (~/.cache/headrace/pyflink-venv, batch mode, local MiniCluster,
  warm JVM after a warm-up job), with flink-sql-parquet and the Hadoop client jars from Maven.

Every output is checked to hold all rows (counted with DuckDB). MB/s = input bytes / wall seconds.

Usage:
  cargo build --release -p headrace-cli
  python3 benches/csv_to_parquet.py [--rows 14500000] [--parallelism 2] [--repeat 2]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.expanduser("~/.cache/headrace")
VENV_PY = os.path.join(CACHE, "venv", "bin", "python")

COLUMNS = ("id BIGINT, user_id INT, product STRING, category STRING, price DOUBLE, "
           "quantity INT, amount DECIMAL(12, 2), ts TIMESTAMP(3)")
DUCK_COLUMNS = ("{'id': 'BIGINT', 'user_id': 'INTEGER', 'product': 'VARCHAR', 'category': 'VARCHAR', "
                "'price': 'DOUBLE', 'quantity': 'INTEGER', 'amount': 'DECIMAL(12,2)', 'ts': 'TIMESTAMP'}")

GENERATE = """
import duckdb, sys
n, out = int(sys.argv[1]), sys.argv[2]
duckdb.connect().execute(f'''
COPY (
  SELECT
    i AS id,
    (hash(i) % 1000000)::INTEGER AS user_id,
    'product-' || lpad((hash(i * 7) % 50000)::VARCHAR, 5, '0') AS product,
    ['books','games','garden','music','tools','toys','food','sports'][(i % 8) + 1] AS category,
    round(((hash(i * 13) % 100000) / 100.0)::DOUBLE, 2) AS price,
    ((hash(i * 17) % 20) + 1)::INTEGER AS quantity,
    ((hash(i * 19) % 10000000) / 100.0)::DECIMAL(12,2) AS amount,
    strftime(TIMESTAMP '2026-11-01 00:00:00' + to_milliseconds(i * 250), '%Y-%m-%d %H:%M:%S.%g') AS ts
  FROM range({n}) t(i)
) TO '{out}' (FORMAT csv, HEADER false, QUOTE '')''')
"""

DUCK_COPY = """
import duckdb, json, resource, sys, time
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute("COPY (SELECT * FROM read_csv('" + src + "', header=false, auto_detect=false, "
            "columns=%s)) TO '" + out + "' (FORMAT parquet)")
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": wall, "cpu_seconds": r.ru_utime + r.ru_stime,
                  "version": duckdb.__version__, "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}))
""" % DUCK_COLUMNS

COUNT = """
import duckdb, sys
print(duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{sys.argv[1]}')").fetchone()[0])
"""

MAVEN_JARS = [
    ("org.apache.flink", "flink-sql-parquet", "2.3.0"),
    ("org.apache.hadoop", "hadoop-client-api", "3.4.1"),
    ("org.apache.hadoop", "hadoop-client-runtime", "3.4.1"),
]


def need(path, hint):
    if not os.path.exists(path):
        sys.exit(f"csv_to_parquet.py: {path} not found: {hint}")


def py(code, *args):
    out = subprocess.run([VENV_PY, "-c", code, *map(str, args)], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def input_file(rows):
    d = os.path.join(CACHE, "bench")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"orders-{rows}.csv")
    if not os.path.exists(path):
        print(f"generating {path} ...", file=sys.stderr)
        py(GENERATE, rows, path + ".tmp")
        os.rename(path + ".tmp", path)
    return path


def count_rows(glob):
    return int(py(COUNT, glob))


def headrace_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    b = os.path.join(target, "release", "headrace")
    need(b, "run `cargo build --release -p headrace-cli` first")
    return b


def run_headrace(src, out, parallelism):
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as d:
        job = os.path.join(d, "job.sql")
        with open(job, "w") as f:
            f.write(f"""
SET 'parallelism.default' = '{parallelism}';
CREATE TABLE src ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{src}', 'format' = 'csv');
CREATE TABLE snk ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'parquet');
INSERT INTO snk SELECT * FROM src;
""")
        start = time.perf_counter()
        proc = subprocess.Popen([headrace_bin(), "run", job, "--quiet"])
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"headrace failed with status {status}")
    return {"seconds": wall, "cpu_seconds": ru.ru_utime + ru.ru_stime}


def run_duckdb(src, out):
    if os.path.exists(out):
        os.remove(out)
    return json.loads(py(DUCK_COPY, src, out).splitlines()[-1])


def maven_jars():
    repo = os.path.expanduser("~/.m2/repository")
    jars = []
    for group, artifact, version in MAVEN_JARS:
        jar = os.path.join(repo, *group.split("."), artifact, version, f"{artifact}-{version}.jar")
        if not os.path.exists(jar):
            subprocess.run(["mvn", "-q", "dependency:get", f"-Dartifact={group}:{artifact}:{version}",
                            "-Dtransitive=false"], check=True)
        jars.append(jar)
    return jars


def run_flink(src, out, parallelism):
    venv = subprocess.run(["bash", os.path.join(ROOT, "benches/flink/setup.sh")], check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory() as d:
        warm = os.path.join(d, "warm.csv")
        with open(src) as f, open(warm, "w") as w:
            for _, line in zip(range(100_000), f):
                w.write(line)
        res = subprocess.run([os.path.join(venv, "bin", "python"),
                              os.path.join(ROOT, "benches/flink/csv_to_parquet.py"),
                              "--input", src, "--warmup-input", warm, "--output", out,
                              "--jars", ";".join(maven_jars()), "--parallelism", str(parallelism)],
                             check=True, capture_output=True, text=True).stdout
    return json.loads([l for l in res.splitlines() if l.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=14_500_000)
    ap.add_argument("--parallelism", type=int, default=2, help="Headrace's and Flink's parallelism")
    ap.add_argument("--repeat", type=int, default=2, help="runs of Headrace and DuckDB; the fastest counts")
    ap.add_argument("--skip-flink", action="store_true")
    a = ap.parse_args()
    need(VENV_PY, "run scripts/test-all.sh (it installs DuckDB into ~/.cache/headrace/venv)")
    src = input_file(a.rows)
    mb = os.path.getsize(src) / 1e6
    work = tempfile.mkdtemp(prefix="csv2parquet-")
    try:
        results = {}
        h_out, d_out, f_out = (os.path.join(work, n) for n in ("headrace", "duckdb.parquet", "flink"))
        runs = {"headrace": [], "duckdb": []}
        for _ in range(a.repeat):
            runs["headrace"].append(run_headrace(src, h_out, a.parallelism))
            runs["duckdb"].append(run_duckdb(src, d_out))
        for k, v in runs.items():
            results[k] = min(v, key=lambda r: r["seconds"])
        checks = {"headrace": count_rows(os.path.join(h_out, "part-*")), "duckdb": count_rows(d_out)}
        if not a.skip_flink:
            results["flink"] = run_flink(src, f_out, a.parallelism)
            checks["flink"] = count_rows(os.path.join(f_out, "part-*"))
        for k, n in checks.items():
            if n != a.rows:
                sys.exit(f"{k} wrote {n} rows, expected {a.rows}")
        names = {"headrace": f"Headrace (`headrace run`, parallelism {a.parallelism})",
                 "duckdb": f"DuckDB {results['duckdb'].get('version', '')} (`COPY ... TO`, {results['duckdb'].get('threads', '?')} threads)",
                 "flink": f"Apache Flink {results.get('flink', {}).get('flink_version', '')} (PyFlink, batch, parallelism {a.parallelism})"}
        print(f"input: {src}, {mb:,.0f} MB, {a.rows:,} rows")
        print()
        print("| engine | seconds | MB/s | CPU s | MB per CPU-second |")
        print("|---|---|---|---|---|")
        for k, r in results.items():
            print(f"| {names[k]} | {r['seconds']:.2f} | {mb / r['seconds']:.0f} | {r['cpu_seconds']:.2f} | "
                  f"{mb / r['cpu_seconds']:.0f} |")
        h = results["headrace"]
        print()
        for k in ("duckdb", "flink"):
            if k in results:
                r = results[k]
                print(f"Headrace / {k}: {r['seconds'] / h['seconds']:.2f}x MB/s, "
                      f"{r['cpu_seconds'] / h['cpu_seconds']:.2f}x MB per CPU-second")
        print(json.dumps({"runs": runs, "best": results, "mb": mb}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
