"""Apache Flink's filesystem connector with its own avro format (PyFlink with flink-sql-avro)
reads the partitioned Avro files Headrace wrote, and writes them again, partitioned, for Headrace
to read.

usage: flink_avro.py <src dir> <dst dir> <flink-sql-avro jar>
Prints the rows Flink read as one JSON document: a sorted list of
[partition dir, id, name, amount, ts, tags, ok] (text as avro_interop.py writes it).
"""
import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

COLUMNS = ("id BIGINT, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), "
           "tags ARRAY<STRING>, ok BOOLEAN, dt STRING")

src, dst, jar = sys.argv[1:4]
env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
env.get_config().set("pipeline.jars", "file://" + jar)
env.get_config().set("parallelism.default", "2")
for name, path, more in [("src", src, ""), ("dst", dst, ", 'avro.codec' = 'snappy'")]:
    env.execute_sql(
        f"CREATE TABLE {name} ({COLUMNS}) PARTITIONED BY (dt) WITH ('connector' = 'filesystem', "
        f"'path' = '{path}', 'format' = 'avro'{more})")

# PyFlink's collect() cannot convert arrays holding NULLs: Flink casts every column to STRING.
exprs = ["CAST(id AS STRING)", "name", "CAST(amount AS STRING)",
         "DATE_FORMAT(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS')", "CAST(tags AS STRING)",
         "CAST(ok AS STRING)", "dt"]
rows = []
with env.execute_sql("SELECT " + ", ".join(exprs) + " FROM src").collect() as results:
    for r in results:
        v = ["NULL" if x is None else x for x in list(r)]
        dt = "dt=" + ("__DEFAULT_PARTITION__" if v[6] == "NULL" else v[6])
        v[5] = v[5] if v[5] == "NULL" else v[5].lower()
        rows.append([dt] + v[:6])
env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()
rows.sort()
print(json.dumps(rows))
