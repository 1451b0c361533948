#!/usr/bin/env python3
"""Flink side of the Headrace benchmark: datagen -> blackhole, Table API / SQL.

Runs in Flink local mode (a MiniCluster inside the PyFlink gateway JVM), with no
Python UDFs, so all the work happens in the JVM. Prints one JSON line on stdout:

  {"engine":"flink","rows":N,"seconds":...,"rows_per_s":...,"cpu_seconds":...,
   "flink_version":...}

`seconds` is the wall time of the measured job only (submission + run + wait
for completion), after a warm-up job with a small row count in the same JVM;
TableEnvironment creation and the gateway start-up are excluded. With
--repeat K the measured job runs K times and the fastest run is reported
(all runs are listed in "all_seconds" / "all_cpu_seconds").
`cpu_seconds` is the CPU time (user+sys) that the gateway JVM (which hosts the
MiniCluster) spent during the measured job, read from /proc/<jvm pid>/stat.

Run it with the venv made by setup.sh:
  "$(bash benches/flink/setup.sh)/bin/python" benches/flink/datagen_blackhole.py --rows 20000000
"""

import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000_000, help="rows to generate (default 20,000,000)")
    p.add_argument("--parallelism", type=int, default=1, help="job parallelism (default 1)")
    p.add_argument("--warmup-rows", type=int, default=200_000,
                   help="rows of the warm-up job run first in the same JVM (default 200,000; 0 = none)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measured runs in the same JVM; the fastest is reported (default 1)")
    p.add_argument("--mode", choices=["streaming", "batch"], default="streaming",
                   help="Table API runtime mode (default streaming)")
    p.add_argument("--rows-per-second", type=int, default=1_000_000_000,
                   help="datagen rate limit, per source subtask (default 1e9, i.e. effectively unlimited)")
    return p.parse_args()


def prepare_environment():
    """Environment for the gateway JVM; must happen before pyflink starts it."""
    venv_bin = os.path.dirname(sys.executable)
    # Python workers (unused here, no UDFs) would otherwise use whatever `python` is on PATH.
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    # Keep the Flink logs out of the venv's site-packages, somewhere easy to find.
    log_dir = os.environ.setdefault(
        "FLINK_LOG_DIR", os.path.join(os.path.expanduser("~"), ".cache", "headrace", "flink-logs"))
    os.makedirs(log_dir, exist_ok=True)
    return log_dir


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # The command name (field 2) may contain spaces; it is enclosed in parentheses.
    fields = data[data.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / CLK_TCK


def ddl(rows, rows_per_second):
    src = f"""
        CREATE TEMPORARY TABLE src (
            id BIGINT,
            a INT,
            b DOUBLE,
            s STRING,
            ts TIMESTAMP(3)
        ) WITH (
            'connector' = 'datagen',
            'number-of-rows' = '{rows}',
            'rows-per-second' = '{rows_per_second}',
            'fields.id.kind' = 'sequence',
            'fields.id.start' = '1',
            'fields.id.end' = '{rows}',
            'fields.s.length' = '10'
        )"""
    snk = """
        CREATE TEMPORARY TABLE snk WITH ('connector' = 'blackhole')
        LIKE src (EXCLUDING ALL)"""
    return src, snk


def run_job(t_env, rows, rows_per_second):
    """Create the tables, run INSERT INTO snk SELECT * FROM src, wait; return wall seconds
    and Flink's own net runtime of the job (seconds, or None if unavailable)."""
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS snk")
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS src")
    src, snk = ddl(rows, rows_per_second)
    t_env.execute_sql(src)
    t_env.execute_sql(snk)
    t0 = time.perf_counter()
    result = t_env.execute_sql("INSERT INTO snk SELECT * FROM src")
    result.wait()
    wall = time.perf_counter() - t0
    net = None
    try:
        job_result = result.get_job_client().get_job_execution_result().result()
        net = job_result.get_net_runtime() / 1000.0
    except Exception:  # noqa: BLE001 - informational only
        pass
    return wall, net


def main():
    args = parse_args()
    log_dir = prepare_environment()

    from pyflink.table import EnvironmentSettings, TableEnvironment
    from pyflink.java_gateway import get_gateway
    from pyflink.version import __version__ as pyflink_version

    settings = (EnvironmentSettings.in_batch_mode() if args.mode == "batch"
                else EnvironmentSettings.in_streaming_mode())
    try:
        t_env = TableEnvironment.create(settings)
    except Exception:
        print(f"datagen_blackhole.py: failed to start Flink; see the logs in {log_dir}",
              file=sys.stderr)
        raise
    conf = t_env.get_config()
    conf.set("parallelism.default", str(args.parallelism))
    conf.set_python_executable(sys.executable)

    gateway = get_gateway()
    jvm = gateway.jvm
    jvm_pid = int(jvm.java.lang.ProcessHandle.current().pid())
    flink_version = str(jvm.org.apache.flink.runtime.util.EnvironmentInformation.getVersion())

    if args.warmup_rows > 0:
        run_job(t_env, args.warmup_rows, args.rows_per_second)

    runs = []  # (wall, cpu, net) per measured run
    for _ in range(max(1, args.repeat)):
        cpu0 = proc_cpu_seconds(jvm_pid)
        wall, net = run_job(t_env, args.rows, args.rows_per_second)
        cpu1 = proc_cpu_seconds(jvm_pid)
        runs.append((wall, cpu1 - cpu0, net))
    wall, cpu, net = min(runs, key=lambda r: r[0])

    out = {
        "engine": "flink",
        "rows": args.rows,
        "seconds": round(wall, 3),
        "rows_per_s": round(args.rows / wall, 1),
        "cpu_seconds": round(cpu, 2),
        "flink_version": flink_version,
        "pyflink_version": pyflink_version,
        "parallelism": args.parallelism,
        "mode": args.mode,
        "net_runtime_seconds": None if net is None else round(net, 3),
        "java_version": str(jvm.java.lang.System.getProperty("java.version")),
    }
    if len(runs) > 1:
        out["all_seconds"] = [round(r[0], 3) for r in runs]
        out["all_cpu_seconds"] = [round(r[1], 2) for r in runs]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
