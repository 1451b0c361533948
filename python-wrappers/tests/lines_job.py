"""Run in its own Python (one Headrace package per JVM): the example `lines` connector through the
installed wheel `headrace_lines`, with SQL DDL, the TableDescriptor helper and the DataStream API.
Prints a JSON report that test_custom_connector.py checks."""

import json
import os
import sys

from pyflink.common import Configuration, Row, WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import DataTypes, EnvironmentSettings, Schema, TableEnvironment

import headrace_lines

work = sys.argv[1]
src = os.path.join(work, "in.txt")
with open(src, "w") as f:
    f.write("alpha\n\nbeta\ngamma\n")
report = {"connectors": headrace_lines.CONNECTORS}

t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
t_env.get_config().set("parallelism.default", "1")
headrace_lines.add_jars(t_env)
t_env.execute_sql(f"""CREATE TABLE l (line STRING) WITH (
    'connector' = 'headrace-lines', 'path' = '{src}', 'scan.empty-lines' = 'skip')""")
with t_env.execute_sql("SELECT line FROM l").collect() as rs:
    report["sql"] = sorted(r[0] for r in rs)

schema = Schema.new_builder().column("line", DataTypes.STRING()).build()
t_env.create_temporary_table("upper_out", headrace_lines.HeadraceLinesTable(schema)
                             .path(os.path.join(work, "upper.txt")).build())
t_env.execute_sql("INSERT INTO upper_out SELECT UPPER(line) FROM l").wait()
with open(os.path.join(work, "upper.txt")) as f:
    report["descriptor"] = sorted(f.read().splitlines())

conf = Configuration()
conf.set_string("python.executable", sys.executable)
env = StreamExecutionEnvironment.get_execution_environment(conf)
env.set_parallelism(1)
headrace_lines.add_jars(env)
b = headrace_lines.HeadraceLinesSource.builder().set_columns("line STRING").set_path(src)
ds = env.from_source(b.build(), WatermarkStrategy.no_watermarks(), "lines", type_info=b.type_info())
ds.map(lambda r: Row(r[0][::-1]), output_type=b.type_info()).sink_to(
    headrace_lines.HeadraceLinesSink.builder().set_columns("line STRING")
    .set_path(os.path.join(work, "reversed.txt")).build())
env.execute("lines datastream")
with open(os.path.join(work, "reversed.txt")) as f:
    report["datastream"] = sorted(f.read().splitlines())
print("REPORT " + json.dumps(report))
