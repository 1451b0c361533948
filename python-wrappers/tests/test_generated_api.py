"""The generated package: DataStream builders and TableDescriptor helpers, in PyFlink's local mode."""

import datetime
import sys

import pytest


def test_table_descriptor_helper(t_env, package):
    from pyflink.table import DataTypes, Schema
    schema = Schema.new_builder().column("id", DataTypes.BIGINT()).column("s", DataTypes.STRING()).build()
    desc = (package.HeadraceDatagenTable(schema)
            .number_of_rows(3)
            .rows_per_second(1000)
            .fields_kind("id", "sequence").fields_start("id", "7").fields_end("id", "9")
            .fields_length("s", 4)
            .build())
    t_env.create_temporary_table("g", desc)
    with t_env.execute_sql("SELECT id, CHAR_LENGTH(s) FROM g").collect() as rs:
        rows = sorted(tuple(r) for r in rs)
    assert rows == [(7, 4), (8, 4), (9, 4)]


def test_helper_methods_are_typed_and_documented(package):
    t = package.HeadraceDatagenTable()
    with pytest.raises(TypeError, match="rows-per-second"):
        t.rows_per_second("fast")
    with pytest.raises(ValueError, match="sequence"):
        t.fields_kind("id", "sequnce")
    assert "rows emitted each second" in package.HeadraceDatagenTable.rows_per_second.__doc__
    fs = package.HeadraceFilesystemTable().source_monitor_interval(datetime.timedelta(seconds=2))
    assert fs.options() == {"source.monitor-interval": "2000 ms"}
    # Format options come with the format slot.
    assert hasattr(package.HeadraceFilesystemTable, "json_ignore_parse_errors")


def test_datastream_source_and_sink(package, tmp_path):
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.common import Configuration, Row, WatermarkStrategy
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)  # the Python UDF worker: this venv
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(1)
    package.add_jars(env)
    b = (package.HeadraceDatagenSource.builder()
         .set_columns("id BIGINT, n INT")
         .set_number_of_rows(4)
         .set_fields_kind("id", "sequence").set_fields_start("id", "1").set_fields_end("id", "4")
         .set_fields_kind("n", "sequence").set_fields_start("n", "100").set_fields_end("n", "103"))
    ds = env.from_source(b.build(), WatermarkStrategy.no_watermarks(), "gen", type_info=b.type_info())
    doubled = ds.map(lambda r: Row(r[0], r[1] * 2), output_type=b.type_info())
    out = tmp_path / "ds"
    doubled.sink_to(package.HeadraceFilesystemSink.builder()
                    .set_columns("id BIGINT, n INT")
                    .set_path(str(out)).set_format("csv")
                    .build())
    env.execute("headrace datastream")
    lines = sorted(l for f in out.rglob("*") if f.is_file() and not f.name.startswith(".")
                   for l in f.read_text().splitlines())
    assert lines == ["1,200", "2,202", "3,204", "4,206"], lines


def test_datastream_builder_reports_headrace_errors(package):
    from pyflink.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    package.add_jars(env)
    b = package.HeadraceDatagenSource.builder().set_columns("id BIGINT").option("fields.id.kind", "sequnce")
    with pytest.raises(Exception) as e:
        b.build()
    assert "fields.id.kind" in str(e.value) and "sequence" in str(e.value), str(e.value)


def test_column_timestamps_names_a_wrong_column(package):
    """The generated ``column_timestamps`` helper refuses an unknown column and a column whose type
    holds no time, naming the column, before any job runs."""
    from pyflink.common import Duration, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    package.add_jars(env)
    src = package.HeadraceDatagenSource.builder().set_columns("id BIGINT, name STRING").build()
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
    with pytest.raises(Exception) as e:
        package.column_timestamps(src, strategy, "ts")
    assert "'ts' is not one of the source's columns" in str(e.value), str(e.value)
    with pytest.raises(Exception) as e:
        package.column_timestamps(src, strategy, "name")
    assert "'name' is STRING" in str(e.value) and "BIGINT" in str(e.value), str(e.value)
    ws = package.column_timestamps(src, strategy, "id")
    assert isinstance(ws, WatermarkStrategy)


def test_datastream_rows_carry_python_types(package):
    """Rows from a Headrace source in the DataStream API reach Python UDFs as the Python values of
    their types (type_info() derived from the column list; Java builds the matching objects)."""
    from pyflink.common import Configuration, Types, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(1)
    package.add_jars(env)
    b = (package.HeadraceDatagenSource.builder()
         .set_columns("id BIGINT NOT NULL, ok BOOLEAN NOT NULL, t TINYINT NOT NULL, "
                      "s SMALLINT NOT NULL, f FLOAT NOT NULL, d DOUBLE NOT NULL, "
                      "`dec` DECIMAL(10, 2) NOT NULL, str STRING NOT NULL, bin BYTES NOT NULL, "
                      "dt DATE NOT NULL, ts TIMESTAMP(3) NOT NULL, ltz TIMESTAMP_LTZ(3) NOT NULL, "
                      "arr ARRAY<INT> NOT NULL, m MAP<STRING, INT> NOT NULL, "
                      "r ROW<x INT, y STRING> NOT NULL")
         .set_number_of_rows(3)
         .set_fields_kind("id", "sequence").set_fields_start("id", "1").set_fields_end("id", "3"))
    ds = env.from_source(b.build(), WatermarkStrategy.no_watermarks(), "gen", type_info=b.type_info())
    names = ds.map(lambda r: str(r[0]) + ":" + ",".join(type(v).__name__ for v in r[1:]),
                   output_type=Types.STRING())
    with names.execute_and_collect() as it:
        got = sorted(it)
    kinds = "bool,int,int,float,float,Decimal,str,bytes,date,datetime,Instant,list,dict,Row"
    assert got == [f"{i}:{kinds}" for i in (1, 2, 3)], got


def test_datastream_column_list_errors_say_how_to_fix(package):
    from pyflink.datastream import StreamExecutionEnvironment
    package.add_jars(StreamExecutionEnvironment.get_execution_environment())
    with pytest.raises(Exception) as e:
        package.HeadraceDatagenSource.builder().set_columns("dec DECIMAL(10, 2)").build()
    assert "quote names that are SQL keywords with backticks" in str(e.value), str(e.value)
