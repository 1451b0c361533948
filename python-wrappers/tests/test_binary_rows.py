"""Tables whose columns are all flat cross the bridge as Flink's own BinaryRowData (headrace-bridge's
codec module, Java's RowCodec): every flat type and NULLs, out of a Headrace source, and into a
Headrace sink both from the rows Flink's VALUES produces and from the BinaryRowData a Headrace source
emits (copied byte for byte)."""

from test_table_sql import ALL_TYPES, collect

FLAT_TYPES = [c for c in ALL_TYPES if not c[1].startswith(("ARRAY", "MAP", "ROW", "MULTISET"))]


def test_every_flat_type_crosses_as_binary_rows(t_env, tmp_path):
    t_env.get_config().set("table.local-time-zone", "UTC")
    assert len(FLAT_TYPES) == len(ALL_TYPES) - 3
    cols = ", ".join(f"{n} {t}" for n, t, _ in FLAT_TYPES)
    vals = ", ".join(f"{v} AS {n}" for n, _, v in FLAT_TYPES)
    nulls = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t, _ in FLAT_TYPES)
    t_env.execute_sql(f"CREATE TEMPORARY VIEW fv AS SELECT 1 AS k, {vals} UNION ALL SELECT 2 AS k, {nulls}")
    for name, path in (("hop1", tmp_path / "hop1"), ("hop2", tmp_path / "hop2")):
        t_env.execute_sql(f"""
            CREATE TABLE {name} (k INT, {cols}) WITH (
              'connector' = 'headrace-filesystem', 'path' = '{path}', 'format' = 'json'
            )""")
    # VALUES -> Headrace sink, then Headrace source -> Headrace sink (BinaryRowData all the way).
    t_env.execute_sql("INSERT INTO hop1 SELECT * FROM fv").wait()
    t_env.execute_sql("INSERT INTO hop2 SELECT * FROM hop1").wait()
    as_text = ", ".join(f"CAST({n} AS STRING)" for n, _, _ in FLAT_TYPES)
    expected = sorted(collect(t_env, f"SELECT k, {as_text} FROM fv"), key=lambda r: r[0])
    assert expected[0][1:4] == ("TRUE", "-7", "-300"), expected[0]
    for table in ("hop1", "hop2"):
        got = sorted(collect(t_env, f"SELECT k, {as_text} FROM {table}"), key=lambda r: r[0])
        assert len(got) == 2, (table, got)
        for e, g in zip(expected, got):
            for (name, typ, _), ev, gv in zip([("k", "INT", "")] + FLAT_TYPES, e, g):
                assert gv == ev, f"{table}: column {name} {typ}: Flink has {ev!r}, through Headrace {gv!r}"
