#!/usr/bin/env python3
"""Kafka benchmark, side by side in one run on one broker: Headrace's Kafka source and sink against
raw rdkafka loops (connectors/kafka/examples/kafka_bench.rs, one process) and against Apache Flink's
own Kafka connector in PyFlink (benches/flink/kafka_jobs.py), on the same topic of 100-byte JSON
records.

The broker (localhost/headrace-kafka, built by integration-tests/containers/build-images.sh kafka)
is pinned to CPU 1 with podman's --cpuset-cpus; both engines are pinned to CPU 0 with taskset, so
"records/s" is per core for everyone.

  cargo build --release -p headrace-connector-kafka --example kafka_bench
  python3 benches/kafka.py --records 3000000

Prints the measurements and a Markdown table with the ratios.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAR_URL = ("https://repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-kafka/"
           "5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def jar():
    d = os.path.expanduser("~/.cache/headrace/jars")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, os.path.basename(JAR_URL))
    if not os.path.exists(path):
        tmp = path + ".part"
        urllib.request.urlretrieve(JAR_URL, tmp)
        os.rename(tmp, path)
    return path


def lines_of(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        sys.exit(f"{cmd[3] if len(cmd) > 3 else cmd[0]} failed with status {out.returncode}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=3_000_000)
    ap.add_argument("--skip-flink", action="store_true")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    bench = os.path.join(target, "release", "examples", "kafka_bench")
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: cargo build --release -p headrace-connector-kafka --example kafka_bench")
    port = free_port()
    name = f"headrace-kafka-bench-{os.getpid()}"
    subprocess.run(["podman", "run", "-d", "--rm", "--name", name, "--cpuset-cpus", "1",
                    "-p", f"127.0.0.1:{port}:9092",
                    "-e", "KAFKA_ADVERTISED_HOST=127.0.0.1", "-e", f"KAFKA_ADVERTISED_PORT={port}",
                    os.environ.get("HEADRACE_KAFKA_IMAGE", "localhost/headrace-kafka:latest")],
                   check=True, capture_output=True)
    try:
        env = dict(os.environ, HEADRACE_TEST_KAFKA=f"127.0.0.1:{port}")
        results = lines_of(["taskset", "-c", "0", bench, "--records", str(a.records)], env=env)
        topic = [r for r in results if "topic" in r][0]["topic"]
        results = [r for r in results if "name" in r]
        if not a.skip_flink:
            venv = subprocess.run(["bash", os.path.join(ROOT, "benches/flink/setup.sh")], check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            suffix = str(os.getpid())
            for t in (f"flink-gen-{suffix}", f"flink-out-{suffix}"):
                subprocess.run(["podman", "exec", name, "kafka-topics.sh", "--bootstrap-server",
                                "localhost:19092", "--create", "--topic", t, "--partitions", "4",
                                "--replication-factor", "1"], check=True, capture_output=True)
            results += lines_of(["taskset", "-c", "0", os.path.join(venv, "bin/python"),
                                 os.path.join(ROOT, "benches/flink/kafka_jobs.py"),
                                 "--bootstrap", f"127.0.0.1:{port}", "--topic", topic,
                                 "--records", str(a.records), "--jar", jar(), "--suffix", suffix])
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
    for r in results:
        print(json.dumps(r))
    by = {r["name"]: r for r in results}
    print()
    print("| job | records/s | CPU s per million records |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['records_per_s']:,.0f} | {r['cpu_s_per_million']:.2f} |")

    def ratio(x, y):
        if x in by and y in by:
            return by[x]["records_per_s"] / by[y]["records_per_s"]
        return float("nan")
    print()
    print(f"- sink: Headrace / raw rdkafka producer = "
          f"{ratio('headrace datagen -> kafka sink (json)', 'raw rdkafka producer'):.2f}x")
    print(f"- source (raw format): Headrace / raw rdkafka consumer = "
          f"{ratio('headrace kafka source (raw) -> blackhole', 'raw rdkafka consumer loop'):.2f}x")
    print(f"- source (json): Headrace / raw rdkafka consumer = "
          f"{ratio('headrace kafka source (json) -> blackhole', 'raw rdkafka consumer loop'):.2f}x")
    print(f"- pass-through: Headrace / Flink = "
          f"{ratio('headrace kafka -> json -> kafka', 'flink kafka -> json -> kafka'):.2f}x")
    print(f"- source: Headrace / Flink = "
          f"{ratio('headrace kafka source (json) -> blackhole', 'flink kafka source (json) -> blackhole'):.2f}x")
    print(f"- sink: Headrace / Flink = "
          f"{ratio('headrace datagen -> kafka sink (json)', 'flink datagen -> kafka sink (json)'):.2f}x")


if __name__ == "__main__":
    main()
