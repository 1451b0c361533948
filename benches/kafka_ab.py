#!/usr/bin/env python3
"""A/B of two builds of connectors/kafka/examples/kafka_bench on one broker, alternating runs, so a
change to the Kafka connector is compared with the code before it in the same conditions.

  git archive <base-commit> | tar -x -C /tmp/hr-base
  (cd /tmp/hr-base && cargo build --release -p headrace-connector-kafka --example kafka_bench)
  cp $CARGO_TARGET_DIR/release/examples/kafka_bench /tmp/kafka_bench_base
  cargo build --release -p headrace-connector-kafka --example kafka_bench
  python3 benches/kafka_ab.py /tmp/kafka_bench_base $CARGO_TARGET_DIR/release/examples/kafka_bench 2

The broker (localhost/headrace-kafka) is pinned to CPU 1 and the bench to CPU 0, as in kafka.py.
Prints one line per job and run: records/s and CPU-seconds per million records.
"""

import json
import os
import socket
import subprocess
import sys


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: kafka_ab.py BASE_BINARY NEW_BINARY ROUNDS")
    base, new, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    port = free_port()
    name = f"headrace-kafka-ab-{os.getpid()}"
    subprocess.run(["podman", "run", "-d", "--rm", "--name", name, "--cpuset-cpus", "1",
                    "-p", f"127.0.0.1:{port}:9092",
                    "-e", "KAFKA_ADVERTISED_HOST=127.0.0.1", "-e", f"KAFKA_ADVERTISED_PORT={port}",
                    os.environ.get("HEADRACE_KAFKA_IMAGE", "localhost/headrace-kafka:latest")],
                   check=True, capture_output=True)
    try:
        env = dict(os.environ, HEADRACE_TEST_KAFKA=f"127.0.0.1:{port}")
        for rnd in range(rounds):
            for label, binary in (("base", base), ("new", new)):
                out = subprocess.run(["taskset", "-c", "0", binary, "--records", "2000000"],
                                     env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.stderr.write(out.stderr[-4000:])
                    sys.exit(f"{binary} failed with status {out.returncode}")
                for line in out.stdout.splitlines():
                    if line.startswith("{") and "name" in line:
                        r = json.loads(line)
                        print(f"{rnd} {label:4} {r['name']:45} {r['records_per_s']:>10,.0f}/s "
                              f"{r['cpu_s_per_million']:.3f} CPU-s/M", flush=True)
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)


if __name__ == "__main__":
    main()
