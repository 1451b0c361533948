"""Headrace connectors through Flink SQL and the Table API, in PyFlink's local mode."""

import pytest


def collect(t_env, sql):
    with t_env.execute_sql(sql).collect() as results:
        return [tuple(r) for r in results]


def test_datagen_ddl_rows_reach_flink(t_env):
    t_env.execute_sql("""
        CREATE TABLE g (id BIGINT, n INT) WITH (
          'connector' = 'headrace-datagen',
          'number-of-rows' = '5',
          'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5',
          'fields.n.kind' = 'sequence', 'fields.n.start' = '10', 'fields.n.end' = '14'
        )""")
    rows = sorted(collect(t_env, "SELECT id, n, id * 2 AS d FROM g"))
    assert rows == [(1, 10, 2), (2, 11, 4), (3, 12, 6), (4, 13, 8), (5, 14, 10)]


def test_option_error_carries_headraces_message(t_env):
    t_env.execute_sql("""
        CREATE TABLE bad (id BIGINT) WITH (
          'connector' = 'headrace-datagen',
          'rows-per-secnd' = '5'
        )""")
    with pytest.raises(Exception) as e:
        collect(t_env, "SELECT * FROM bad")
    msg = str(e.value)
    assert "unsupported option 'rows-per-secnd'" in msg, msg
    assert "Did you mean 'rows-per-second'?" in msg, msg
