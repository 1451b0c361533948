#!/usr/bin/env python3
"""Flink side of the Kafka benchmark: the same three jobs as Headrace's kafka_bench, in Apache
Flink's own Kafka SQL connector (flink-sql-connector-kafka), PyFlink local mode, no Python UDFs.

Jobs, on a broker and topic prepared by benches/kafka.py (the topic holds N JSON values of about
100 bytes, columns id BIGINT, name STRING, v DOUBLE, n INT):
  - source: kafka (json, earliest-offset to latest-offset) -> blackhole
  - sink: datagen (same columns) -> kafka (json)
  - pass-through: kafka (json) -> kafka (json)
Each job runs once as a warm-up on a small bound, then measured. Prints one JSON line per job with
the wall time of the job and the CPU seconds of the gateway JVM (which hosts the MiniCluster)
during it.

  "$(bash benches/flink/setup.sh)/bin/python" benches/flink/kafka_jobs.py \
      --bootstrap 127.0.0.1:9092 --topic T --records N --jar flink-sql-connector-kafka.jar
"""

import argparse
import json
import os
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


COLS = "id BIGINT, name STRING, v DOUBLE, n INT"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True, help="topic holding --records JSON values")
    p.add_argument("--records", type=int, required=True)
    p.add_argument("--jar", required=True)
    p.add_argument("--suffix", default=str(os.getpid()))
    a = p.parse_args()
    venv_bin = os.path.dirname(sys.executable)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("FLINK_LOG_DIR", os.path.expanduser("~/.cache/headrace/flink-logs"))
    os.makedirs(os.environ["FLINK_LOG_DIR"], exist_ok=True)

    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("pipeline.jars", "file://" + os.path.abspath(a.jar))
    jvm = get_gateway().jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    version = str(jvm.org.apache.flink.runtime.util.EnvironmentInformation.getVersion())

    def kafka_table(name, topic, extra=""):
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {name}")
        t_env.execute_sql(
            f"""CREATE TEMPORARY TABLE {name} ({COLS}) WITH (
                'connector' = 'kafka', 'topic' = '{topic}',
                'properties.bootstrap.servers' = '{a.bootstrap}',
                'properties.group.id' = 'flink-bench-{a.suffix}',
                'format' = 'json' {extra})""")

    def measure(insert):
        c0, t0 = proc_cpu_seconds(pid), time.perf_counter()
        r = t_env.execute_sql(insert)
        r.wait()
        return time.perf_counter() - t0, proc_cpu_seconds(pid) - c0

    def emit(name, records, wall, cpu):
        print(json.dumps({
            "name": name, "records": records, "seconds": round(wall, 3),
            "records_per_s": round(records / wall), "cpu_seconds": round(cpu, 3),
            "cpu_s_per_million": round(cpu / (records / 1e6), 3), "flink_version": version,
        }), flush=True)

    bounded = ", 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'"
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS bh")
    t_env.execute_sql(f"CREATE TEMPORARY TABLE bh ({COLS}) WITH ('connector' = 'blackhole')")

    # source -> blackhole (warm-up on the first 100k records of partition 0..3, then measured)
    kafka_table("src", a.topic, ", 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'specific-offsets', "
                "'scan.bounded.specific-offsets' = 'partition:0,offset:25000;partition:1,offset:25000;"
                "partition:2,offset:25000;partition:3,offset:25000'")
    measure("INSERT INTO bh SELECT * FROM src")
    kafka_table("src", a.topic, bounded)
    wall, cpu = measure("INSERT INTO bh SELECT * FROM src")
    emit("flink kafka source (json) -> blackhole", a.records, wall, cpu)

    # datagen -> kafka sink
    def gen(n):
        t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS gen")
        t_env.execute_sql(
            f"""CREATE TEMPORARY TABLE gen ({COLS}) WITH (
                'connector' = 'datagen', 'number-of-rows' = '{n}', 'rows-per-second' = '1000000000',
                'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{n}',
                'fields.name.length' = '44', 'fields.n.min' = '0', 'fields.n.max' = '999',
                'fields.v.min' = '0', 'fields.v.max' = '15000')""")
    kafka_table("kout", f"flink-gen-{a.suffix}")
    gen(100_000)
    measure("INSERT INTO kout SELECT * FROM gen")
    gen(a.records)
    wall, cpu = measure("INSERT INTO kout SELECT * FROM gen")
    emit("flink datagen -> kafka sink (json)", a.records, wall, cpu)

    # kafka -> kafka pass-through
    kafka_table("src", a.topic, bounded)
    kafka_table("kout", f"flink-out-{a.suffix}")
    wall, cpu = measure("INSERT INTO kout SELECT * FROM src")
    emit("flink kafka -> json -> kafka", a.records, wall, cpu)


if __name__ == "__main__":
    main()
