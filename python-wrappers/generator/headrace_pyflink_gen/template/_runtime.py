"""Shared runtime of the generated Headrace PyFlink package (copied as is by the generator)."""

import datetime
import os
import re
from typing import Any, Dict, List, Optional

JAR_NAME = "headrace-flink-bridge.jar"


def jar_path() -> str:
    """The bridge jar inside this package (it also carries the native library)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", JAR_NAME)


def jar_url() -> str:
    """The bridge jar as a ``file://`` URL, the form ``pipeline.jars`` takes."""
    return "file://" + jar_path()


def add_jars(target) -> None:
    """Put the bridge jar on the job's class path (``pipeline.jars``), keeping jars already there.

    ``target`` is a ``StreamExecutionEnvironment``, a ``TableEnvironment`` or a ``Configuration``.
    """
    if not os.path.isfile(jar_path()):
        raise FileNotFoundError(
            f"the Headrace bridge jar is missing at {jar_path()}; reinstall the package")
    url = jar_url()
    if hasattr(target, "add_jars"):  # StreamExecutionEnvironment
        target.add_jars(url)
        return
    if hasattr(target, "get_config"):  # TableEnvironment
        conf = target.get_config()
        current = conf.get("pipeline.jars", "")
    else:  # Configuration
        conf = target
        current = conf.get_string("pipeline.jars", "")
    jars = [j for j in (current or "").split(";") if j]
    if url not in jars:
        jars.append(url)
    if hasattr(conf, "set_string"):
        conf.set_string("pipeline.jars", ";".join(jars))
    else:
        conf.set("pipeline.jars", ";".join(jars))


def render(type_name: str, allowed: List[str], key: str, value: Any) -> str:
    """A Python value as the option string Headrace (and Flink) read, checked against the type."""
    if value is None:
        raise ValueError(f"option '{key}': None is not a value; leave the option out instead")
    if type_name == "Boolean":
        if not isinstance(value, bool):
            raise TypeError(f"option '{key}' takes a bool, got {value!r}")
        return "true" if value else "false"
    if type_name in ("Integer", "Long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"option '{key}' takes an int, got {value!r}")
        return str(value)
    if type_name == "Double":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"option '{key}' takes a float, got {value!r}")
        return repr(float(value))
    if type_name == "Duration" and isinstance(value, datetime.timedelta):
        return f"{int(value / datetime.timedelta(milliseconds=1))} ms"
    if type_name == "MemorySize" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} bytes"
    if type_name == "List<String>" and isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if type_name == "Enum":
        s = str(value)
        if allowed and s.lower() not in [a.lower() for a in allowed]:
            raise ValueError(f"option '{key}' takes one of {', '.join(allowed)}; got {s!r}")
        return s
    return str(value)


class _Options:
    """Options collected by a builder or table helper, as the strings a Flink DDL would hold."""

    def __init__(self):
        self._options: Dict[str, str] = {}

    def option(self, key: str, value: str):
        """Set any option by its key (for keys without a method of their own)."""
        self._options[key] = str(value)
        return self

    def options(self) -> Dict[str, str]:
        """The options set so far."""
        return dict(self._options)


def _java_map(gateway, d: Dict[str, str]):
    m = gateway.jvm.java.util.HashMap()
    for k, v in d.items():
        m.put(k, v)
    return m


def _gateway():
    from pyflink.java_gateway import get_gateway
    return get_gateway()


class SourceBuilderBase(_Options):
    """Base of generated DataStream source builders."""

    CONNECTOR = ""

    def __init__(self):
        super().__init__()
        self._columns: Optional[str] = None

    def set_columns(self, columns: str):
        """The produced columns in Flink's syntax, e.g. ``"id BIGINT, name STRING"``."""
        self._columns = columns
        return self

    def build(self):
        """The ``pyflink.datastream.connectors.Source`` to give to ``env.from_source``.

        Headrace validates the options here; mistakes raise with Headrace's message.
        """
        from pyflink.datastream.connectors import Source
        if not self._columns:
            raise ValueError(f"{type(self).__name__}: call set_columns(...) before build()")
        gw = _gateway()
        j = gw.jvm.io.headrace.flink.HeadraceSource.forRows(
            self.CONNECTOR, self._columns, _java_map(gw, self._options))
        src = Source(j)
        src.headrace_columns = self._columns
        return src

    def type_info(self):
        """The ``TypeInformation`` of the rows, for ``env.from_source(..., type_info=...)``."""
        if not self._columns:
            raise ValueError(f"{type(self).__name__}: call set_columns(...) first")
        return row_type_info(self._columns)


class SinkBuilderBase(_Options):
    """Base of generated DataStream sink builders."""

    CONNECTOR = ""

    def __init__(self):
        super().__init__()
        self._columns: Optional[str] = None

    def set_columns(self, columns: str):
        """The consumed columns in Flink's syntax, e.g. ``"id BIGINT, name STRING"``."""
        self._columns = columns
        return self

    def build(self):
        """The ``pyflink.datastream.connectors.Sink`` to give to ``ds.sink_to``."""
        from pyflink.datastream.connectors import Sink
        if not self._columns:
            raise ValueError(f"{type(self).__name__}: call set_columns(...) before build()")
        gw = _gateway()
        j = gw.jvm.io.headrace.flink.HeadraceSink.forRows(
            self.CONNECTOR, self._columns, _java_map(gw, self._options))
        return Sink(j)


class TableHelperBase(_Options):
    """Base of generated Table API helpers: they build a ``TableDescriptor``."""

    IDENTIFIER = ""

    def __init__(self, schema=None):
        super().__init__()
        self._schema = schema

    def schema(self, schema):
        """The table's ``Schema``."""
        self._schema = schema
        return self

    def build(self):
        """The ``TableDescriptor`` (for ``t_env.create_temporary_table`` or ``from_descriptor``)."""
        from pyflink.table import TableDescriptor
        b = TableDescriptor.for_connector(self.IDENTIFIER)
        if self._schema is not None:
            b = b.schema(self._schema)
        for k, v in self._options.items():
            b = b.option(k, v)
        return b.build()


# ------------------------------------------------------------------ column types -> TypeInformation

_TOKEN = re.compile(r"\s*(`(?:[^`]|``)*`|\w+|<|>|\(|\)|,)")


def _tokens(s: str) -> List[str]:
    out, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise ValueError(f"cannot read the column list {s!r} at {s[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


def _name(tok: str) -> str:
    return tok[1:-1].replace("``", "`") if tok.startswith("`") else tok


def _parse_type(t: List[str], i: int):
    from pyflink.common.typeinfo import Types
    word = t[i].upper()
    i += 1
    args: List[str] = []
    if i < len(t) and t[i] == "(":
        i += 1
        while t[i] != ")":
            if t[i] != ",":
                args.append(t[i])
            i += 1
        i += 1
    if word in ("ARRAY", "MULTISET", "MAP", "ROW") and i < len(t) and t[i] == "<":
        i += 1
        if word == "ROW":
            names, types = [], []
            while t[i] != ">":
                names.append(_name(t[i]))
                ti, i = _parse_type(t, i + 1)
                types.append(ti)
                if t[i] == ",":
                    i += 1
            info = Types.ROW_NAMED(names, types)
        elif word == "MAP":
            k, i = _parse_type(t, i)
            i += 1  # ,
            v, i = _parse_type(t, i)
            info = Types.MAP(k, v)
        elif word == "MULTISET":
            e, i = _parse_type(t, i)
            info = Types.MAP(e, Types.INT())
        else:
            e, i = _parse_type(t, i)
            info = Types.OBJECT_ARRAY(e)
        i += 1  # >
    else:
        if word == "TIMESTAMP" and i + 3 < len(t) + 1 and [x.upper() for x in t[i:i + 4]] == ["WITH", "LOCAL", "TIME", "ZONE"]:
            i += 4
            word = "TIMESTAMP_LTZ"
        if word in ("DOUBLE",) and i < len(t) and t[i].upper() == "PRECISION":
            i += 1
        simple = {
            "BOOLEAN": Types.BOOLEAN, "TINYINT": Types.BYTE, "SMALLINT": Types.SHORT,
            "INT": Types.INT, "INTEGER": Types.INT, "BIGINT": Types.LONG, "FLOAT": Types.FLOAT,
            "DOUBLE": Types.DOUBLE, "DECIMAL": Types.BIG_DEC, "DEC": Types.BIG_DEC,
            "NUMERIC": Types.BIG_DEC, "CHAR": Types.STRING, "VARCHAR": Types.STRING,
            "STRING": Types.STRING, "BINARY": lambda: Types.PRIMITIVE_ARRAY(Types.BYTE()),
            "VARBINARY": lambda: Types.PRIMITIVE_ARRAY(Types.BYTE()),
            "BYTES": lambda: Types.PRIMITIVE_ARRAY(Types.BYTE()), "DATE": Types.SQL_DATE,
            "TIME": Types.SQL_TIME, "TIMESTAMP": Types.SQL_TIMESTAMP,
            "TIMESTAMP_LTZ": Types.INSTANT,
        }
        if word not in simple:
            raise ValueError(f"type {word} is not supported in a DataStream column list")
        info = simple[word]()
    if i + 1 < len(t) + 1 and i < len(t) and t[i].upper() == "NOT":
        i += 2
    elif i < len(t) and t[i].upper() == "NULL":
        i += 1
    return info, i


def row_type_info(columns: str):
    """``Types.ROW_NAMED`` for a column list such as ``"id BIGINT, tags ARRAY<STRING>"``."""
    from pyflink.common.typeinfo import Types
    t = _tokens(columns)
    names, types, i = [], [], 0
    while i < len(t):
        names.append(_name(t[i]))
        info, i = _parse_type(t, i + 1)
        types.append(info)
        if i < len(t) and t[i] == ",":
            i += 1
    return Types.ROW_NAMED(names, types)


def column_timestamps(source, strategy, column: str):
    """``strategy`` (a ``pyflink.common.WatermarkStrategy``) with event times read from ``column``
    of the rows of ``source`` (built by a ``Headrace*Source`` builder), for ``env.from_source``.

    PyFlink passes only the Java side of a strategy to ``from_source``, so a Python
    ``with_timestamp_assigner`` is dropped there; this assigner runs in Java, inside the source, on
    each split's output. The column is ``BIGINT`` (epoch milliseconds), ``TIMESTAMP`` (read as UTC)
    or ``TIMESTAMP_LTZ``; another type or an unknown name fails here, naming the column.
    """
    from pyflink.common import WatermarkStrategy
    assigner = _gateway().jvm.io.headrace.flink.ColumnTimestampAssigner.of(
        source.get_java_function(), column)
    return WatermarkStrategy(strategy._j_watermark_strategy.withTimestampAssigner(assigner))
