#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (a few valid records each).

Each seed starts with the target's option byte (see the target's doc comment), then the record.
Avro seeds are encoded by hand for the schema Headrace derives from headrace_fuzz::ALL_TYPES
(every column nullable except nn; MULTISET left NULL). Run from anywhere; rewrites the files.
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def zz(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def blob(b):
    return zz(len(b)) + b


def text(s):
    return blob(s.encode())


def dec(unscaled):
    n = max(1, (unscaled.bit_length() + 8) // 8)
    return blob(unscaled.to_bytes(n, "big", signed=True))


def some(b):
    return b"\x02" + b


NULL = b"\x00"

# json
full = {
    "b": True, "ti": 5, "si": -300, "i": 123456, "l": -9000000000000, "f": 1.5, "d": -2.25,
    "dec": 123.45, "bigdec": "12345678901234567890.123456789012345678", "s": "héllo",
    "vc": "short", "c": "abc", "bin": "AAEC", "vb": "AQI=", "dt": "2024-02-29",
    "t": "12:34:56.789", "ts": "2024-02-29 12:34:56.789",
    "arr": [{"x": 1, "y": ["a", None]}, None], "m": {"k": 1.0, "n": None},
    "ms": {"a": 2}, "r": {"x": 7, "y": False, "z": {"w": 1234.5}}, "nn": 42,
}
put("json", "full", b"\x00" + json.dumps(full).encode())
put("json", "nulls", b"\x00" + json.dumps({"nn": 1}).encode())
put("json", "ignore", b"\x01" + json.dumps({"i": "x", "nn": 1}).encode())
put("json", "missing", b"\x02" + json.dumps(full).encode())

# csv: CSV_TYPES columns
row = ('true,5,-300,123456,-9000000000000,1.5,-2.25,123.45,12345678901234567890.123,'
       '"h,i",short,abc,AAEC,2024-02-29,12:34:56.789,2024-02-29 12:34:56.789,1;2;3,a;b,7;true,42')
put("csv", "full", b"\x00" + row.encode())
put("csv", "nulls", b"\x02" + b"n/a," * 19 + b"1")
put("csv", "pipes", b"\x20" + row.replace(",", "|").replace('"h|i"', "hi").encode())
put("csv", "comment", b"\x05" + b"# a comment\n" + row.encode())

# raw: pick & 0x0f indexes RAW_TYPES, bits 4-5 the charset, bit 6 little-endian
put("raw", "bytes", b"\x00\x00\x01\xff")
put("raw", "string", b"\x02h\xc3\xa9llo")
put("raw", "latin1", b"\x12h\xe9llo")
put("raw", "int", b"\x07\x00\x01\x02\x03")
put("raw", "bigint_le", b"\x48" + struct.pack("<q", -5))
put("raw", "double", b"\x0a" + struct.pack(">d", 2.5))

# avro: ALL_TYPES with the legacy mapping, binary
rec = b"".join([
    some(b"\x01"), some(zz(5)), some(zz(-300)), some(zz(123456)), some(zz(-9000000000000)),
    some(struct.pack("<f", 1.5)), some(struct.pack("<d", -2.25)), some(dec(12345)),
    some(dec(12345678901234567890123456789012345678)), some(text("héllo")), some(text("short")),
    some(text("abc")), some(blob(b"\x00\x01\x02")), some(blob(b"\x01\x02")), some(zz(19782)),
    some(zz(45296789)), some(zz(1709210096789)),
    # arr: one element {x: 1, y: ["a", null]}
    some(zz(1) + some(zz(1)) + some(zz(2) + some(text("a")) + NULL + b"\x00") + b"\x00"),
    some(zz(1) + text("k") + some(struct.pack("<d", 1.0)) + b"\x00"),
    NULL,
    some(some(zz(7)) + some(b"\x00") + some(some(dec(12345)))),
    zz(42),
])
nulls = NULL * 21 + zz(1)
put("avro", "full", b"\x00" + rec)
put("avro", "nulls", b"\x00" + nulls)
put("avro", "two", b"\x00" + rec + b"\xff" + nulls)
put("avro", "json_nulls", b"\x02" + json.dumps({k: None for k in full} | {"nn": 1}).encode())
put("avro", "non_legacy_nulls", b"\x01" + NULL * 25 + zz(1))

# avro_file: an object container file (codec null) holding the two records
NS = "org.apache.flink.avro.generated.record"


def field(name, t):
    return {"name": name, "type": ["null", t], "default": None}


def decimal(p, s):
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


schema = {
    "type": "record", "name": "record", "namespace": "org.apache.flink.avro.generated",
    "fields": [
        field("b", "boolean"), field("ti", "int"), field("si", "int"), field("i", "int"),
        field("l", "long"), field("f", "float"), field("d", "double"),
        field("dec", decimal(10, 2)), field("bigdec", decimal(38, 18)), field("s", "string"),
        field("vc", "string"), field("c", "string"), field("bin", "bytes"),
        field("vb", "bytes"), field("dt", {"type": "int", "logicalType": "date"}),
        field("t", {"type": "int", "logicalType": "time-millis"}),
        field("ts", {"type": "long", "logicalType": "timestamp-millis"}),
        field("arr", {"type": "array", "items": ["null", {
            "type": "record", "name": NS + "_arr", "fields": [
                field("x", "int"),
                field("y", {"type": "array", "items": ["null", "string"]})]}]}),
        field("m", {"type": "map", "values": ["null", "double"]}),
        field("ms", {"type": "map", "values": "int"}),
        field("r", {"type": "record", "name": NS + "_r", "fields": [
            field("x", "int"), field("y", "boolean"),
            field("z", {"type": "record", "name": NS + "_r_z",
                        "fields": [field("w", decimal(5, 1))]})]}),
        {"name": "nn", "type": "long"},
    ],
}
sync = bytes(range(16))
meta = zz(2) + text("avro.schema") + text(json.dumps(schema)) + text("avro.codec") + text("null") + b"\x00"
data = rec + nulls
container = b"Obj\x01" + meta + sync + zz(2) + blob(data) + sync
put("avro_file", "two_rows", b"\x00" + container)
put("avro_file", "two_rows_small_batches", b"\x02" + container)
put("avro_file", "empty", b"\x00" + b"Obj\x01" + meta + sync)

# avro_confluent: bit 1 frames with id 1 (bit 2: id 2), bit 0 gives the reader schema
evolved = (some(zz(3)) + some(zz(4)) + some(text("s")) + zz(1) + text("extra") + b"\x00"
           + some(zz(9)) + some(struct.pack("<f", 0.5)) + some(text("bin")) + some(dec(12345))
           + some(zz(1) + text("k") + struct.pack("<f", 2.0) + b"\x00") + zz(5))
put("avro_confluent", "id1", b"\x02" + rec)
put("avro_confluent", "id1_given", b"\x03" + nulls)
put("avro_confluent", "id2", b"\x06" + evolved)
put("avro_confluent", "id2_given", b"\x07" + evolved)
put("avro_confluent", "unframed", b"\x00" + b"\x00\x00\x00\x00\x01" + rec)

# changelog_json: pick % 3 is the format (factories() order), 0x40 ignore-parse-errors
deb = {"before": None, "after": {"id": 1, "s": "a", "dec": 1.5, "ts": "2024-01-01 00:00:00",
                                 "dt": "2024-01-01", "arr": [{"x": 1, "y": ["q"]}],
                                 "m": {"k": 0.5}, "r": {"x": 2, "y": True}, "nn": 3},
       "op": "c"}
upd = {"before": {"id": 1, "nn": 3}, "after": {"id": 1, "nn": 4}, "op": "u"}
canal = {"data": [{"id": "1", "s": "a", "nn": "3"}], "old": None, "type": "INSERT",
         "database": "db", "table": "t", "es": 1, "ts": 2}
maxwell = {"database": "db", "table": "t", "type": "update", "ts": 1,
           "data": {"id": 1, "s": "b", "nn": 5}, "old": {"s": "a"}}
put("changelog_json", "debezium", b"\x00" + json.dumps(deb).encode())
put("changelog_json", "debezium_update_ignore", b"\x40" + json.dumps(upd).encode())
put("changelog_json", "debezium_schema_meta", b"\x30" + json.dumps({"schema": {}, "payload": deb}).encode())
put("changelog_json", "canal", b"\x01" + json.dumps(canal).encode())
put("changelog_json", "maxwell", b"\x02" + json.dumps(maxwell).encode())
