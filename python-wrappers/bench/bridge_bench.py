#!/usr/bin/env python3
"""Bridge benchmark: Headrace source -> Headrace sink through the Flink bridge, against the same job
shape with a plain Java source and sink (java/bench/JavaBench.java) and against Flink's datagen ->
blackhole, side by side in one PyFlink JVM (local mode, parallelism 1, Table API / SQL).

Every job is INSERT INTO snk SELECT * FROM src over (id BIGINT sequence, a INT, b DOUBLE, s STRING of
10 characters, ts TIMESTAMP(3)), after one warm-up run of each job; the jobs run round-robin --repeat times and the fastest
run (and the smallest CPU time of the JVM) of each counts. Prints a markdown table and one JSON line per job.

  bash python-wrappers/run-tests.sh -k nothing   # or build the pieces by hand, then:
  cargo build --release -p headrace-bridge-builtin
  "$(bash benches/flink/setup.sh | tail -1)/bin/python" python-wrappers/bench/bridge_bench.py --rows 10000000
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "generator"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

COLUMNS = "id BIGINT, a INT, b DOUBLE, s STRING, ts TIMESTAMP(3)"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def java_baseline_jar(work):
    import pyflink
    flink = os.path.dirname(pyflink.__file__)
    cp = os.pathsep.join([os.path.join(flink, "lib", "*"), os.path.join(flink, "opt", "*")])
    classes = os.path.join(work, "classes")
    subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", classes,
                    os.path.join(HERE, "java", "bench", "JavaBench.java")], check=True)
    jar = os.path.join(work, "javabench.jar")
    with zipfile.ZipFile(jar, "w") as z:
        for f in glob.glob(os.path.join(classes, "bench", "*.class")):
            z.write(f, "bench/" + os.path.basename(f))
        z.writestr("META-INF/services/org.apache.flink.table.factories.Factory",
                   "bench.JavaBench$GenFactory\nbench.JavaBench$SinkFactory\n")
    return jar


def crossing(base_jar):
    import pyflink
    flink = os.path.dirname(pyflink.__file__)
    cp = os.pathsep.join([os.path.join(flink, "lib", "*"), os.path.join(flink, "opt", "*"), base_jar])
    classes = os.path.join(tempfile.mkdtemp(prefix="headrace-crossing-bench-"), "classes")
    subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", classes,
                    os.path.join(HERE, "java", "bench", "CrossingBench.java")], check=True)
    # arrow-java needs java.nio opened (as PyFlink's own JVM options do).
    subprocess.run(["java", "--add-opens=java.base/java.nio=ALL-UNNAMED", "-cp", classes + os.pathsep + cp,
                    "bench.CrossingBench", "200", "5"], check=True)


def source_ddl(kind, rows):
    if kind == "bench-javagen":
        return f"CREATE TEMPORARY TABLE src ({COLUMNS}) WITH ('connector' = 'bench-javagen', 'number-of-rows' = '{rows}')"
    return f"""CREATE TEMPORARY TABLE src ({COLUMNS}) WITH (
        'connector' = '{kind}', 'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000',
        'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{rows}',
        'fields.s.length' = '10')"""


def run(t_env, src, snk, rows):
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS src")
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS snk")
    t_env.execute_sql(source_ddl(src, rows))
    t_env.execute_sql(f"CREATE TEMPORARY TABLE snk ({COLUMNS}) WITH ('connector' = '{snk}')")
    t0 = time.perf_counter()
    t_env.execute_sql("INSERT INTO snk SELECT * FROM src").wait()
    return time.perf_counter() - t0


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--native-lib", default=os.path.join(target, "release", "libheadrace_bridge_builtin.so"))
    p.add_argument("--base-jar", default=os.path.join(ROOT, "java", "target", "headrace-flink-bridge-0.1.0.jar"))
    p.add_argument("--only", help="run only the jobs whose name contains this text")
    p.add_argument("--crossing", action="store_true",
                   help="instead of the jobs, time the Java half of one batch crossing three ways "
                        "(BinaryRowData rows, the compact row encoding, Arrow IPC): java/bench/CrossingBench.java")
    a = p.parse_args()
    if a.crossing:
        return crossing(a.base_jar)
    for f in (a.native_lib, a.base_jar):
        if not os.path.isfile(f):
            sys.exit(f"bridge_bench.py: missing {f} (see the docstring for how to build it)")

    import headrace_pyflink_gen as gen
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    work = tempfile.mkdtemp(prefix="headrace-bridge-bench-")
    # The wheel ships the library without debug info (run-tests.sh / README build it with
    # CARGO_PROFILE_RELEASE_DEBUG=0). With it (~180 MB) every job's class loader spends about a
    # CPU-second inflating and loading its copy, which is not the crossing being measured.
    native_lib = os.path.join(work, "libheadrace_bridge.so")
    subprocess.run(["objcopy", "--strip-debug", a.native_lib, native_lib], check=True)
    bridge_jar = os.path.join(work, "headrace-flink-bridge.jar")
    gen.assemble_jar(a.base_jar, native_lib, ["blackhole", "datagen", "filesystem", "print"],
                     "headrace-", bridge_jar)
    jars = ["file://" + bridge_jar, "file://" + java_baseline_jar(work)]

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("parallelism.default", "1")
    t_env.get_config().set("pipeline.jars", ";".join(jars))
    pid = int(get_gateway().jvm.java.lang.ProcessHandle.current().pid())

    jobs = [
        ("Headrace datagen -> Headrace blackhole (bridge both ends)", "headrace-datagen", "headrace-blackhole"),
        ("plain Java source -> plain Java sink", "bench-javagen", "bench-javasink"),
        ("Headrace datagen -> plain Java sink", "headrace-datagen", "bench-javasink"),
        ("plain Java source -> Headrace blackhole", "bench-javagen", "headrace-blackhole"),
        ("Flink datagen -> Flink blackhole", "datagen", "blackhole"),
    ]
    jobs = [j for j in jobs if not a.only or a.only in j[0] or j[1] == "bench-javagen" and j[2] == "bench-javasink"]
    for _, src, snk in jobs:  # warm-up: JIT and class loading for every job first
        run(t_env, src, snk, min(a.rows, 1_000_000))
    runs = {name: [] for name, _, _ in jobs}
    for _ in range(a.repeat):  # round-robin, so load from elsewhere spreads over all jobs
        for name, src, snk in jobs:
            c0 = cpu_seconds(pid)
            wall = run(t_env, src, snk, a.rows)
            runs[name].append((wall, cpu_seconds(pid) - c0))
    results = []
    for name, _, _ in jobs:
        wall, cpu = min(runs[name])
        r = {"job": name, "rows": a.rows, "seconds": round(wall, 3), "rows_per_s": round(a.rows / wall),
             "cpu_seconds": round(min(c for _, c in runs[name]), 2),
             "all_seconds": [round(x[0], 3) for x in runs[name]],
             "all_cpu_seconds": [round(x[1], 2) for x in runs[name]]}
        results.append(r)
        print(json.dumps(r), flush=True)
    java = next(r for r in results if r["job"].startswith("plain Java source -> plain Java sink"))
    base, base_cpu = java["rows_per_s"], java["cpu_seconds"]
    print("\n| job | seconds | M rows/s | CPU s | rows/s vs plain Java | rows per CPU-s vs plain Java |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['job']} | {r['seconds']} | {r['rows_per_s'] / 1e6:.2f} | {r['cpu_seconds']} | "
              f"{r['rows_per_s'] / base:.2f}x | {base_cpu / r['cpu_seconds']:.2f}x |")


if __name__ == "__main__":
    main()
