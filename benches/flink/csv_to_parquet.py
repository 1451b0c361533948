#!/usr/bin/env python3
"""Flink side of the CSV -> Parquet benchmark: the filesystem connector reads a CSV file and
writes Parquet files, in PyFlink's local mode, batch runtime mode, Table API + SQL DDL, no Python
UDFs (all work happens in the JVM).

Flink's Parquet format is not bundled with PyFlink: the jar `flink-sql-parquet` and the Hadoop
client jars it needs are passed with --jars (benches/csv_to_parquet.py fetches them with Maven).

Prints one JSON line: {"engine":"flink","seconds":...,"cpu_seconds":...,...}. `seconds` is the
wall time of the measured job (submission to completion) after a warm-up job on a small file in
the same JVM; `cpu_seconds` is the gateway JVM's user+sys time during it (/proc/<pid>/stat).
"""

import argparse
import json
import os
import shutil
import sys
import time

COLUMNS = ("id BIGINT, user_id INT, product STRING, category STRING, price DOUBLE, "
           "quantity INT, amount DECIMAL(12, 2), ts TIMESTAMP(3)")

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run_job(t_env, src, out):
    shutil.rmtree(out, ignore_errors=True)
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS snk")
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS src")
    t_env.execute_sql(f"CREATE TEMPORARY TABLE src ({COLUMNS}) WITH ("
                      f"'connector' = 'filesystem', 'path' = '{src}', 'format' = 'csv')")
    t_env.execute_sql(f"CREATE TEMPORARY TABLE snk ({COLUMNS}) WITH ("
                      f"'connector' = 'filesystem', 'path' = '{out}', 'format' = 'parquet')")
    t0 = time.perf_counter()
    t_env.execute_sql("INSERT INTO snk SELECT * FROM src").wait()
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--warmup-input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--jars", required=True, help="';'-separated jar paths")
    p.add_argument("--parallelism", type=int, default=2)
    a = p.parse_args()
    venv_bin = os.path.dirname(sys.executable)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("FLINK_LOG_DIR", os.path.expanduser("~/.cache/headrace/flink-logs"))
    os.makedirs(os.environ["FLINK_LOG_DIR"], exist_ok=True)

    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", str(a.parallelism))
    conf.set("pipeline.jars", ";".join("file://" + j for j in a.jars.split(";")))
    jvm = get_gateway().jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    version = str(jvm.org.apache.flink.runtime.util.EnvironmentInformation.getVersion())

    run_job(t_env, a.warmup_input, a.output)
    cpu0 = proc_cpu_seconds(pid)
    wall = run_job(t_env, a.input, a.output)
    cpu = proc_cpu_seconds(pid) - cpu0
    print(json.dumps({"engine": "flink", "seconds": round(wall, 3), "cpu_seconds": round(cpu, 2),
                      "flink_version": version, "parallelism": a.parallelism, "mode": "batch"}),
          flush=True)


if __name__ == "__main__":
    main()
