"""Avro object container files of the filesystem connector, checked with Python's fastavro and the
Apache avro package (implementations nobody here wrote).

usage: avro_interop.py read <dir>     every visible file below <dir> (Hive-style partition
                                      directories), read by both libraries, which must agree
       avro_interop.py write <dir>    writes files with fastavro (deflate, snappy and null codecs,
                                      several blocks) into <dir>/dt=.../
Prints one JSON document: a sorted list of rows [partition dir, id, name, amount, ts, tags, ok],
values as text the Rust side produces with Arrow's display (decimals with their scale,
timestamps as YYYY-MM-DDTHH:MM:SS.mmm, NULL as "NULL").
"""
import datetime
import decimal
import json
import os
import sys

import avro.datafile
import avro.io
import fastavro


def text(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    if isinstance(v, list):
        return "[" + ", ".join(text(x) for x in v) + "]"
    return str(v)


def row(part, r):
    return [part] + [text(r.get(k)) for k in ("id", "name", "amount", "ts", "tags", "ok")]


def visible(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith((".", "_"))]
        for f in files:
            if not f.startswith((".", "_")):
                yield os.path.relpath(d, root), os.path.join(d, f)


def read(root):
    rows_fa, rows_ap = [], []
    for part, path in visible(root):
        with open(path, "rb") as f:
            rows_fa += [row(part, r) for r in fastavro.reader(f)]
        with open(path, "rb") as f:
            rows_ap += [row(part, r) for r in avro.datafile.DataFileReader(f, avro.io.DatumReader())]
    rows_fa.sort()
    rows_ap.sort()
    if rows_fa != rows_ap:
        sys.exit(f"fastavro and avro disagree:\n{rows_fa}\n{rows_ap}")
    return rows_fa


SCHEMA = {
    "type": "record",
    "name": "event",
    "namespace": "org.example",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"], "default": None},
        {"name": "amount", "type": ["null", {"type": "bytes", "logicalType": "decimal",
                                             "precision": 10, "scale": 2}]},
        {"name": "ts", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "tags", "type": ["null", {"type": "array", "items": ["null", "string"]}]},
        {"name": "ok", "type": ["null", "boolean"]},
        # A field the table does not declare: skipped by name.
        {"name": "extra", "type": "double"},
    ],
}


def write(root):
    schema = fastavro.parse_schema(SCHEMA)
    out = []
    epoch = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)
    for k, (dt, codec) in enumerate([("2026-11-24", "deflate"), ("2026-11-25", "snappy"),
                                     ("__DEFAULT_PARTITION__", "null")]):
        recs = []
        for i in range(k * 1000, k * 1000 + 700):
            recs.append({
                "id": i,
                "name": None if i % 7 == 0 else f"n{i} é",
                "amount": None if i % 5 == 0 else decimal.Decimal(i * 7 - 2000).scaleb(-2),
                "ts": None if i % 11 == 0 else epoch + datetime.timedelta(
                    seconds=i * 37, milliseconds=i % 999 + 1),
                "tags": None if i % 13 == 0 else [f"t{i}", None][: i % 3],
                "ok": None if i % 17 == 0 else i % 2 == 0,
                "extra": i / 3,
            })
        d = os.path.join(root, "dt=" + dt)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"events-{codec}.avro"), "wb") as f:
            fastavro.writer(f, schema, recs, codec=codec, sync_interval=4000)
        out += [row("dt=" + dt, r) for r in recs]
    out.sort()
    return out


if __name__ == "__main__":
    mode, root = sys.argv[1], sys.argv[2]
    print(json.dumps(read(root) if mode == "read" else write(root)))
