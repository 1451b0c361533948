"""Apache Flink's own changelog formats read and write files for Headrace's cross-check test.

Run by tests/flink.rs with the PyFlink venv's Python:  python crosscheck.py <jobs.json>

jobs.json: {"jobs": [{"name", "format", "columns" (a DDL column list), "options", "read",
"result", "write"?}]}. For each job Flink reads the directory `read` with the filesystem connector
and `format`, writes every row it gets, with its row kind, to `result` (one line per row:
kind TAB values rendered as Arrow's display does), and when `write` is set copies the changelog
into a filesystem table with the same format in that directory. One JVM serves every job.
"""

import datetime
import decimal
import json
import sys

from pyflink.common import Configuration
from pyflink.table import EnvironmentSettings, TableEnvironment
from pyflink.common.types import Row, RowKind

KINDS = {
    RowKind.INSERT: "+I",
    RowKind.UPDATE_BEFORE: "-U",
    RowKind.UPDATE_AFTER: "+U",
    RowKind.DELETE: "-D",
}


def render(v):
    """A value as text, the way tests/flink.rs renders Headrace's values: scalars as arrow-rs
    displays them, ROW as (a, b), ARRAY as [a, b], MAP as {k: v} sorted by key."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, datetime.datetime):
        return v.isoformat(timespec="milliseconds" if v.microsecond else "seconds")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, Row):
        return "(" + ", ".join(render(x) for x in v) + ")"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if isinstance(v, dict):
        items = sorted((render(k), render(x)) for k, x in v.items())
        return "{" + ", ".join(f"{k}: {x}" for k, x in items) + "}"
    return str(v)


def with_clause(d):
    return ", ".join(f"'{k}' = '{v}'" for k, v in d.items())


def main():
    spec = json.load(open(sys.argv[1]))
    conf = Configuration()
    conf.set_string("parallelism.default", "1")
    conf.set_string("execution.checkpointing.interval", "1 s")
    conf.set_string("table.local-time-zone", "UTC")
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = TableEnvironment.create(settings)
    for i, job in enumerate(spec["jobs"]):
        cols = job["columns"]
        opts = {"connector": "filesystem", "path": job["read"], "format": job["format"]}
        opts.update(job.get("options", {}))
        t_env.execute_sql(f"CREATE TABLE src{i} ({cols}) WITH ({with_clause(opts)})")
        with open(job["result"], "w") as out:
            with t_env.execute_sql(f"SELECT * FROM src{i}").collect() as rows:
                for r in rows:
                    vals = [render(x) for x in r]
                    out.write(KINDS[r.get_row_kind()] + "\t" + "\t".join(vals) + "\n")
        if job.get("write"):
            wopts = {"connector": "filesystem", "path": job["write"], "format": job["format"]}
            t_env.execute_sql(f"CREATE TABLE dst{i} ({cols}) WITH ({with_clause(wopts)})")
            t_env.execute_sql(f"INSERT INTO dst{i} SELECT * FROM src{i}").wait()
    print("crosscheck: done", file=sys.stderr)


if __name__ == "__main__":
    main()
