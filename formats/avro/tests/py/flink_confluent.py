"""Apache Flink's own avro-confluent format and Kafka connector (PyFlink with
flink-sql-connector-kafka and flink-sql-avro-confluent-registry) copy one topic to another, both
in Confluent's wire format against the same schema registry (the test kit's Apicurio).

usage: flink_confluent.py <columns> <bootstrap> <registry url> <src topic> <dst topic> <jar>...
The source is read from the earliest to the latest offset; the sink registers under
'<dst topic>-value' (Flink's default). Prints {"ok": true} when the job finished.
"""
import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

cols, bootstrap, url, src, dst = sys.argv[1:6]
jars = sys.argv[6:]
env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
env.get_config().set("pipeline.jars", ";".join("file://" + j for j in jars))
env.get_config().set("parallelism.default", "1")
common = (f"'connector' = 'kafka', 'properties.bootstrap.servers' = '{bootstrap}', "
          f"'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}'")
env.execute_sql(
    f"CREATE TABLE src ({cols}) WITH ({common}, 'topic' = '{src}', "
    "'properties.group.id' = 'headrace-flink-confluent', "
    "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')"
)
env.execute_sql(f"CREATE TABLE dst ({cols}) WITH ({common}, 'topic' = '{dst}')")
env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()
print(json.dumps({"ok": True}))
