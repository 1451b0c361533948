"""Reads tables written by Headrace with Apache Flink's own filesystem connector (PyFlink, batch
mode) and prints every row as a JSON line. Arguments: a JSON list of [name, path, format]."""
import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

COLUMNS = "id BIGINT, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), dt STRING, `hour` INT"

t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
t_env.get_config().set("parallelism.default", "2")
for name, path, fmt in json.loads(sys.argv[1]):
    t_env.execute_sql(
        f"CREATE TABLE {name} ({COLUMNS}) PARTITIONED BY (dt, `hour`) WITH ("
        f"'connector' = 'filesystem', 'path' = '{path}', 'format' = '{fmt}')")
    with t_env.execute_sql(f"SELECT * FROM {name}").collect() as rows:
        for r in rows:
            print(json.dumps([name, r[0], r[1], str(r[2]),
                              r[3].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], r[4], r[5]]))
