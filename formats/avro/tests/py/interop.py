"""Reads what Headrace wrote with fastavro and with the Apache avro package, checks both agree,
then writes the same records back with each library for Headrace to read.

usage: interop.py file <in.avro> <out-prefix>      (object container files)
       interop.py datum <schema.json> <in.hex> <out-prefix>   (one datum per line, hex)
Prints the records, normalised, as one JSON document on stdout.
"""
import datetime
import decimal
import io
import json
import sys

import avro.datafile
import avro.io
import avro.schema
import fastavro

from norm import norm


def agree(a, b, what):
    na, nb = norm(a), norm(b)
    if STRICT and na != nb:
        sys.exit(f"fastavro and avro disagree on {what}:\n{json.dumps(na)}\n{json.dumps(nb)}")
    return {"fastavro": na, "avro": nb}


def files(path, out):
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        schema_json = r.writer_schema
        fa = list(r)
    with open(path, "rb") as f:
        r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        ap = list(r)
        schema = avro.schema.parse(r.meta["avro.schema"].decode())
    rows = agree(fa, ap, path)
    with open(out + ".fastavro.avro", "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema_json), fa, codec="deflate")
    with open(out + ".avro.avro", "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec="deflate")
        for rec in ap:
            w.append(rec)
        w.close()
    return rows


def datums(schema_path, hex_path, out):
    text = open(schema_path).read()
    fs = fastavro.parse_schema(json.loads(text))
    s = avro.schema.parse(text)
    fa, ap = [], []
    for line in open(hex_path).read().split():
        b = bytes.fromhex(line)
        buf = io.BytesIO(b)
        fa.append(fastavro.schemaless_reader(buf, fs, None))
        if buf.read():
            sys.exit("fastavro left bytes over")
        buf = io.BytesIO(b)
        ap.append(avro.io.DatumReader(s).read(avro.io.BinaryDecoder(buf)))
        if buf.read():
            sys.exit("avro left bytes over")
    rows = agree(fa, ap, hex_path)
    with open(out + ".fastavro.hex", "w") as f:
        for rec in fa:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, fs, rec)
            f.write(buf.getvalue().hex() + "\n")
    with open(out + ".avro.hex", "w") as f:
        for rec in ap:
            buf = io.BytesIO()
            avro.io.DatumWriter(s).write(rec, avro.io.BinaryEncoder(buf))
            f.write(buf.getvalue().hex() + "\n")
    return rows


def json_records(schema_path, in_path, out_path):
    """Avro's JSON encoding, one record per line, read and written by fastavro."""
    fs = fastavro.parse_schema(json.loads(open(schema_path).read()))
    with open(in_path) as f:
        rows = list(fastavro.json_reader(f, fs))
    with open(out_path, "w") as f:
        fastavro.json_writer(f, fs, rows)
    return {"fastavro": norm(rows)}


STRICT = True

if __name__ == "__main__":
    # The avro package reads local-timestamp-* as plain longs: compare those in the caller.
    if "--lenient" in sys.argv:
        sys.argv.remove("--lenient")
        STRICT = False
    if sys.argv[1] == "file":
        rows = files(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "json":
        rows = json_records(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        rows = datums(sys.argv[2], sys.argv[3], sys.argv[4])
    print(json.dumps(rows))
