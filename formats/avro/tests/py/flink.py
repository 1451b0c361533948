"""Apache Flink's own avro format (PyFlink with flink-sql-avro) reads the Avro files Headrace wrote
and writes them again for Headrace to read.

usage: flink.py <columns> <src dir> <dst dir> <flink-sql-avro jar> [<option>=<value> ...]
Prints the rows Flink read, normalised as interop.py does, as one JSON document on stdout.
"""
import json
import sys

from pyflink.common import Row
from pyflink.table import EnvironmentSettings, TableEnvironment

from norm import norm


def plain(v):
    if isinstance(v, Row):
        return {k: plain(x) for k, x in v.as_dict().items()}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, bytearray):
        return bytes(v)
    return v


cols, src, dst, jar = sys.argv[1:5]
extra = "".join(f", '{kv.split('=', 1)[0]}' = '{kv.split('=', 1)[1]}'" for kv in sys.argv[5:])
env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
env.get_config().set("pipeline.jars", "file://" + jar)
env.get_config().set("parallelism.default", "1")
for name, path, more in [("src", src, ""), ("dst", dst, ", 'avro.codec' = 'deflate'")]:
    env.execute_sql(
        f"CREATE TABLE {name} ({cols}) WITH ('connector' = 'filesystem', 'path' = '{path}', "
        f"'format' = 'avro'{more}{extra})"
    )
# PyFlink's collect() cannot convert arrays holding NULLs, so every column is cast to STRING (or
# base64 for binary) in Flink and compared as Flink's text.
fields = env.from_path("src").get_schema().get_field_names()
types = env.from_path("src").get_schema().get_field_data_types()
exprs = []
for n, t in zip(fields, types):
    if "BINARY" in str(t).upper() or "BYTES" in str(t).upper():
        exprs.append(f"TO_BASE64(`{n}`)")
    else:
        exprs.append(f"CAST(`{n}` AS STRING)")
with env.execute_sql("SELECT " + ", ".join(exprs) + " FROM src").collect() as results:
    rows = [dict(zip(fields, list(r))) for r in results]
env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()
print(json.dumps(norm(rows)))
