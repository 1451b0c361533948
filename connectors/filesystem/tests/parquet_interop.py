"""Parquet interoperability checks, run by tests/parquet.rs.

python parquet_interop.py <file>
    Read a part file written by the filesystem sink (the `ALL` table of tests/parquet.rs,
    rows FULL and all-NULL) with pyarrow and DuckDB, and check types and values.
    (`pyarrow_and_duckdb_read_the_files`)

python parquet_interop.py write <dir>
    Write <dir>/pyarrow.parquet with pyarrow and <dir>/duckdb.parquet with DuckDB (the same
    three rows), for the connector to read. (`files_written_by_pyarrow_and_duckdb_are_read`)
"""
import datetime as dt
import decimal
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


def write(d):
    utc = dt.timezone.utc
    t = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["a", None, "c"], pa.large_string()),
            "price": pa.array(
                [decimal.Decimal("1.50"), None, decimal.Decimal("-2.25")], pa.decimal128(9, 2)
            ),
            "ts": pa.array(
                [dt.datetime(2026, 11, 25, 12, 0, 0, 123456), None, dt.datetime(1970, 1, 1)],
                pa.timestamp("us"),
            ),
            "ltz": pa.array(
                [dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=utc), None, None],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array([dt.date(2026, 11, 25), None, dt.date(1999, 12, 31)], pa.date32()),
            "tags": pa.array([["x", "y"], [], None], pa.list_(pa.string())),
            "attrs": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int32())),
            "pos": pa.array(
                [{"x": 1.0, "y": 2.0}, None, {"x": None, "y": 0.5}],
                pa.struct([("x", pa.float64()), ("y", pa.float64())]),
            ),
            "ignored": pa.array([b"1", b"2", b"3"], pa.binary()),
        }
    )
    pq.write_table(t, os.path.join(d, "pyarrow.parquet"), row_group_size=2)
    con = duckdb.connect()
    con.register("t", t)
    out = os.path.join(d, "duckdb.parquet").replace("'", "''")
    con.execute(f"COPY (SELECT * FROM t ORDER BY id) TO '{out}' (FORMAT parquet)")
    print("written")


if len(sys.argv) == 3 and sys.argv[1] == "write":
    write(sys.argv[2])
    sys.exit(0)

path = sys.argv[1]
t = pq.read_table(path)
s = t.schema

expected_types = {
    "b": pa.bool_(),
    "ti": pa.int8(),
    "si": pa.int16(),
    "i": pa.int32(),
    "bi": pa.int64(),
    "f": pa.float32(),
    "d": pa.float64(),
    "dec": pa.decimal128(10, 3),
    "dec38": pa.decimal128(38, 10),
    "c": pa.string(),
    "vc": pa.string(),
    "s": pa.string(),
    "bin": pa.binary(),
    "vb": pa.binary(),
    "dt": pa.date32(),
    "t0": pa.time32("ms"),
    "t3": pa.time32("ms"),
    "t6": pa.time64("us"),
    "t9": pa.time64("ns"),
    "ts0": pa.timestamp("ms"),
    "ts3": pa.timestamp("ms"),
    "ts6": pa.timestamp("us"),
    "ts9": pa.timestamp("ns"),
    "ltz": pa.timestamp("ms", tz="UTC"),
    "ltz6": pa.timestamp("us", tz="UTC"),
    "arr": pa.list_(pa.int32()),
}
for name, ty in expected_types.items():
    got = s.field(name).type
    assert got == ty, f"pyarrow: column {name} is {got}, expected {ty}"
assert pa.types.is_map(s.field("m").type), s.field("m").type
assert pa.types.is_map(s.field("ms").type), s.field("ms").type
assert pa.types.is_struct(s.field("r").type), s.field("r").type
assert pa.types.is_list(s.field("nested").type), s.field("nested").type

# Python's datetime has microseconds; nanosecond columns are checked as integers below.
py = t.drop_columns(["t9", "ts9"])
row = py.slice(0, 1).to_pylist()[0]
nulls = py.slice(1, 1).to_pylist()[0]
assert all(v is None for v in nulls.values()), nulls
checks = {
    "b": True,
    "ti": -8,
    "si": 300,
    "i": -70000,
    "bi": 9007199254740993,
    "f": 1.5,
    "d": 1234.5678,
    "dec": decimal.Decimal("12.345"),
    "dec38": decimal.Decimal("1234567890123456789012345678.0123456789"),
    "c": "abc",
    "vc": 'hé "q"',
    "s": "line\nbreak",
    "bin": b"\x01\x02\x03\xff",
    "vb": b"",
    "dt": dt.date(2026, 11, 25),
    "t0": dt.time(12, 34, 56),
    "t3": dt.time(12, 34, 56, 123000),
    "t6": dt.time(12, 34, 56, 123456),
    "ts0": dt.datetime(2026, 11, 25, 12, 34, 56),
    "ts3": dt.datetime(2026, 11, 25, 12, 34, 56, 123000),
    "ts6": dt.datetime(2026, 11, 25, 12, 34, 56, 123456),
    "ltz": dt.datetime(2026, 11, 25, 12, 34, 56, 123000, tzinfo=dt.timezone.utc),
    "ltz6": dt.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=dt.timezone.utc),
    "arr": [1, None, 3],
    "m": [("a", 1), ("b", None)],
    "ms": [("x", 2)],
    "r": {"x": 7, "y": "why"},
}
for name, want in checks.items():
    got = row[name]
    assert got == want, f"pyarrow: {name} = {got!r}, expected {want!r}"
ts9 = t.column("ts9").cast(pa.int64())[0].as_py()
assert ts9 == 1795610096123456789, ts9
t9 = t.column("t9").cast(pa.int64())[0].as_py()
assert t9 == 45296123456789, t9
print("pyarrow ok")

con = duckdb.connect()
types = dict(
    (r[0], r[1])
    for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
)
expected_duck = {
    "b": "BOOLEAN",
    "ti": "TINYINT",
    "si": "SMALLINT",
    "i": "INTEGER",
    "bi": "BIGINT",
    "f": "FLOAT",
    "d": "DOUBLE",
    "dec": "DECIMAL(10,3)",
    "dec38": "DECIMAL(38,10)",
    "s": "VARCHAR",
    "bin": "BLOB",
    "dt": "DATE",
    "t3": "TIME",
    "ts6": "TIMESTAMP",
    "ltz6": "TIMESTAMP WITH TIME ZONE",
    "arr": "INTEGER[]",
    "m": "MAP(VARCHAR, BIGINT)",
    "r": "STRUCT(x INTEGER, y VARCHAR)",
}
for name, ty in expected_duck.items():
    assert types[name] == ty, f"duckdb: column {name} is {types[name]}, expected {ty}"
assert types["ts3"].startswith("TIMESTAMP"), types["ts3"]
assert types["ts9"].startswith("TIMESTAMP"), types["ts9"]
con.execute("SET TimeZone = 'UTC'")
r = con.execute(
    f"SELECT bi, dec, dec38::VARCHAR, s, dt, ts6, epoch_ms(ltz::TIMESTAMP), arr, m['a'], r.y "
    f"FROM read_parquet('{path}') WHERE b"
).fetchone()
want = (
    9007199254740993,
    decimal.Decimal("12.345"),
    "1234567890123456789012345678.0123456789",
    "line\nbreak",
    dt.date(2026, 11, 25),
    dt.datetime(2026, 11, 25, 12, 34, 56, 123456),
    1795610096123,
    [1, None, 3],
    1,
    "why",
)
assert r == want, f"duckdb: {r!r}, expected {want!r}"
n = con.execute(f"SELECT count(*) FROM read_parquet('{path}') WHERE b IS NULL").fetchone()[0]
assert n == 1, n
print("duckdb ok")
