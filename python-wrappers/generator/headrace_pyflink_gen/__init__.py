"""Generate a PyFlink package for Headrace connectors from a registry (nothing per connector by hand).

Input: the registry as JSON (``headrace connectors --format json``, or ``RegistryDump`` from the
bridge jar for a user's native library), the bridge jar built by Maven and the native library built
by Cargo. Output: a Python package (and, with ``--wheel-dir``, a wheel) holding

- ``Headrace<Name>Source`` / ``Headrace<Name>Sink`` DataStream builders, one ``set_<option>`` method
  per option, for ``env.from_source(...)`` and ``ds.sink_to(...)``;
- ``Headrace<Name>Table`` Table API helpers building a ``TableDescriptor``, one typed method per option;
- ``add_jars(env)``, which puts the bridge jar (carrying the native library) on ``pipeline.jars``;
- ``column_timestamps(source, strategy, column)``, a watermark strategy taking event times from a
  column inside the source (per split), for ``env.from_source``.
"""

import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import zipfile
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SLOTS = 64
FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"
NATIVE_ENTRY = "headrace-native/libheadrace_bridge.so"
PROPERTIES_ENTRY = "headrace-connectors.properties"

PY_TYPES = {
    "Boolean": "bool",
    "Integer": "int",
    "Long": "int",
    "Double": "float",
    "Duration": "Union[str, datetime.timedelta]",
    "MemorySize": "Union[str, int]",
    "List<String>": "Union[str, List[str]]",
}


def registry_from_native(base_jar: str, native_lib: str, java: str = "java") -> dict:
    """The registry of a native library, asked through the bridge jar (needs a JVM)."""
    env = dict(os.environ, HEADRACE_NATIVE_LIBRARY=os.path.abspath(native_lib))
    out = subprocess.run(
        [java, "-cp", base_jar, "io.headrace.flink.RegistryDump"],
        env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def assemble_jar(base_jar: str, native_lib: str, connectors: List[str], prefix: str, out_jar: str) -> None:
    """The bridge jar plus the native library, the slot names and the services file."""
    if len(connectors) > SLOTS:
        raise ValueError(f"at most {SLOTS} connectors fit in one jar, got {len(connectors)}")
    props = [f"prefix={prefix}"] + [f"slot.{i}={c}" for i, c in enumerate(connectors)]
    services = [f"io.headrace.flink.table.Slots$F{i:02d}" for i in range(len(connectors))]
    os.makedirs(os.path.dirname(os.path.abspath(out_jar)), exist_ok=True)
    with zipfile.ZipFile(base_jar) as src, zipfile.ZipFile(out_jar, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename in (FACTORY_SERVICE, NATIVE_ENTRY, PROPERTIES_ENTRY):
                continue
            dst.writestr(item, src.read(item.filename))
        dst.writestr(PROPERTIES_ENTRY, "\n".join(props) + "\n")
        dst.writestr(FACTORY_SERVICE, "\n".join(services) + "\n")
        dst.write(native_lib, NATIVE_ENTRY)


def camel(identifier: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", identifier) if p)


def method_name(key: str, taken: set) -> str:
    n = re.sub(r"[^0-9A-Za-z]+", "_", key.replace("#", "")).strip("_").lower()
    n = re.sub(r"_+", "_", n)
    if keyword.iskeyword(n) or n in taken or not n or n[0].isdigit():
        n = n + "_"
    return n


def _doc(o: dict, extra: str = "") -> str:
    lines = [o.get("description") or "(no description)"]
    facts = [f"Key: ``{o['key']}``", f"type: {o['type']}"]
    if o.get("default") is not None:
        facts.append(f"default: ``{o['default']}``")
    if o.get("required"):
        facts.append("required")
    if o.get("allowed_values"):
        facts.append("one of: " + ", ".join(f"``{a}``" for a in o["allowed_values"]))
    lines.append("; ".join(facts) + ".")
    if extra:
        lines.append(extra)
    return "\n\n        ".join(l.replace('"""', "'''").replace("\\", "\\\\") for l in lines)


def _option_methods(options: List[dict], setter_prefix: str, taken: set) -> List[str]:
    out = []
    for o in options:
        key = o["key"]
        ty = o.get("type", "String")
        allowed = o.get("allowed_values") or []
        if o.get("prefix"):
            name = method_name(setter_prefix + o["prefix"], taken)
            taken.add(name)
            out.append(f'''
    def {name}(self, key: str, value: str):
        """{_doc(o, "Forwarded as ``" + o["prefix"] + "<key>``.")}"""
        self._options[{o["prefix"]!r} + key] = str(value)
        return self
''')
            continue
        pytype = PY_TYPES.get(ty, "str")
        if o.get("template"):
            name = method_name(setter_prefix + key, taken)
            taken.add(name)
            out.append(f'''
    def {name}(self, name: str, value: {pytype}):
        """{_doc(o, "``#`` is replaced by ``name`` (e.g. a column name).")}"""
        k = {key!r}.replace("#", name)
        self._options[k] = render({ty!r}, {allowed!r}, k, value)
        return self
''')
            continue
        name = method_name(setter_prefix + key, taken)
        taken.add(name)
        out.append(f'''
    def {name}(self, value: {pytype}):
        """{_doc(o)}"""
        self._options[{key!r}] = render({ty!r}, {allowed!r}, {key!r}, value)
        return self
''')
    return out


def _format_options(conn: dict, formats: List[dict]) -> List[dict]:
    """Format options under each format slot (``json.ignore-parse-errors`` for slot ``format``)."""
    out = []
    for slot in conn.get("format_slots") or []:
        pre = slot[: -len("format")] if slot.endswith("format") else ""
        for f in formats:
            for o in f.get("options") or []:
                if o.get("prefix"):
                    continue
                o2 = dict(o)
                o2["key"] = f"{pre}{f['identifier']}.{o['key']}"
                o2["required"] = False
                o2["description"] = f"[{f['identifier']} format] " + (o.get("description") or "")
                out.append(o2)
    return out


def _merge(*lists: List[dict]) -> List[dict]:
    seen, out = set(), []
    for l in lists:
        for o in l or []:
            if o["key"] not in seen:
                seen.add(o["key"])
                out.append(o)
    return out


def render_connectors(registry: dict, prefix: str, connectors: Optional[List[str]] = None) -> str:
    """The generated ``connectors.py``."""
    formats = registry.get("formats") or []
    parts = [
        '"""Generated by headrace_pyflink_gen from the connector registry. Do not edit."""\n\n'
        "import datetime  # noqa: F401 (used in type hints)\n"
        "from typing import List, Union  # noqa: F401\n\n"
        "from ._runtime import SinkBuilderBase, SourceBuilderBase, TableHelperBase, render\n"
    ]
    names = []
    for c in registry["connectors"]:
        if connectors is not None and c["identifier"] not in connectors:
            continue
        ident = c["identifier"]
        cam = "Headrace" + camel(ident)
        fmt = _format_options(c, formats)
        all_opts = _merge(c.get("options"), c.get("source_options"), c.get("sink_options"), fmt)
        desc = (c.get("description") or "").replace('"""', "'''")
        # Table helper.
        names.append(cam + "Table")
        parts.append(f'''

class {cam}Table(TableHelperBase):
    """Table API helper for the ``{prefix}{ident}`` connector: {desc}

    ``{cam}Table(schema).<option>(...).build()`` returns a ``TableDescriptor``.
    """

    IDENTIFIER = {prefix + ident!r}
''' + "".join(_option_methods(all_opts, "", {"build", "schema", "option", "options"})))
        if c.get("source"):
            names.append(cam + "Source")
            src_opts = _merge(c.get("source_options") or c.get("options"), fmt)
            parts.append(f'''

class {cam}SourceBuilder(SourceBuilderBase):
    """Builds a ``{ident}`` source for ``env.from_source(...)``."""

    CONNECTOR = {ident!r}
''' + "".join(_option_methods(src_opts, "set_", {"build", "set_columns", "option", "options", "type_info"})) + f'''

class {cam}Source:
    """The ``{ident}`` connector as a DataStream source: {desc}"""

    @staticmethod
    def builder() -> {cam}SourceBuilder:
        """A new builder."""
        return {cam}SourceBuilder()
''')
        if c.get("sink"):
            names.append(cam + "Sink")
            sink_opts = _merge(c.get("sink_options") or c.get("options"), fmt)
            parts.append(f'''

class {cam}SinkBuilder(SinkBuilderBase):
    """Builds a ``{ident}`` sink for ``ds.sink_to(...)``."""

    CONNECTOR = {ident!r}
''' + "".join(_option_methods(sink_opts, "set_", {"build", "set_columns", "option", "options"})) + f'''

class {cam}Sink:
    """The ``{ident}`` connector as a DataStream sink: {desc}"""

    @staticmethod
    def builder() -> {cam}SinkBuilder:
        """A new builder."""
        return {cam}SinkBuilder()
''')
    parts.append("\n\n__all__ = " + repr(sorted(names)) + "\n")
    return "".join(parts)


def generate(registry: dict, base_jar: str, native_lib: str, out_dir: str,
             package: str = "headrace_pyflink", prefix: str = "headrace-",
             connectors: Optional[List[str]] = None, version: str = "0.1.0") -> str:
    """Write the package project (``pyproject.toml`` + package) into ``out_dir``; returns its path."""
    ids = [c["identifier"] for c in registry["connectors"]
           if connectors is None or c["identifier"] in connectors]
    if connectors is not None:
        missing = sorted(set(connectors) - set(ids))
        if missing:
            raise ValueError(f"connectors not in the registry: {', '.join(missing)}; "
                             f"available: {', '.join(c['identifier'] for c in registry['connectors'])}")
    pkg = os.path.join(out_dir, package)
    if os.path.isdir(pkg):
        shutil.rmtree(pkg)
    os.makedirs(os.path.join(pkg, "lib"))
    assemble_jar(base_jar, native_lib, ids, prefix, os.path.join(pkg, "lib", "headrace-flink-bridge.jar"))
    shutil.copy(os.path.join(HERE, "template", "_runtime.py"), os.path.join(pkg, "_runtime.py"))
    with open(os.path.join(pkg, "connectors.py"), "w") as f:
        f.write(render_connectors(registry, prefix, connectors))
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write(f'''"""Headrace connectors for PyFlink (generated; connectors: {", ".join(ids)}).

Call ``add_jars(env)`` (a ``StreamExecutionEnvironment`` or ``TableEnvironment``) once, then use the
``Headrace*Source`` / ``Headrace*Sink`` builders or the ``Headrace*Table`` helpers, or plain SQL with
``'connector' = '{prefix}<name>'``.
"""

from ._runtime import add_jars, column_timestamps, jar_path, jar_url, row_type_info  # noqa: F401
from .connectors import *  # noqa: F401,F403

CONNECTOR_PREFIX = {prefix!r}
CONNECTORS = {ids!r}
''')
    with open(os.path.join(out_dir, "pyproject.toml"), "w") as f:
        f.write(f'''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{package.replace("_", "-")}"
version = "{version}"
description = "Headrace connectors for PyFlink (generated)"
requires-python = ">=3.9"

[tool.setuptools]
packages = ["{package}"]

[tool.setuptools.package-data]
{package} = ["lib/*.jar"]
''')
    with open(os.path.join(out_dir, "setup.py"), "w") as f:
        f.write('''"""The wheel carries a native library: mark it as platform-specific (not py3-none-any)."""
from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(distclass=BinaryDistribution)
''')
    return out_dir


def build_wheel(project_dir: str, wheel_dir: str, python: str = sys.executable) -> str:
    """Build the wheel of a generated project with pip; returns the wheel's path."""
    os.makedirs(wheel_dir, exist_ok=True)
    before = set(os.listdir(wheel_dir))
    subprocess.run([python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", wheel_dir, project_dir], check=True, capture_output=True, text=True)
    new = sorted(set(os.listdir(wheel_dir)) - before) or sorted(
        w for w in os.listdir(wheel_dir) if w.endswith(".whl"))
    return os.path.join(wheel_dir, new[-1])
