"""Fixtures for the PyFlink tests: the generated package for the built-in connectors, and table
environments in local mode with the bridge jar on ``pipeline.jars``.

Inputs (built by ``python-wrappers/run-tests.sh``; a missing one FAILS the tests, it never skips):
``HEADRACE_BRIDGE_LIB`` (the native library), ``HEADRACE_BRIDGE_JAR`` (the Maven-built jar).
"""

import os
import sys
import tempfile

import pytest

# The bridge logs to this file (set before PyFlink starts its gateway JVM, which inherits it).
LOG_FILE = os.path.join(tempfile.mkdtemp(prefix="headrace-bridge-log-"), "bridge.log")
os.environ["HEADRACE_LOG_FILE"] = LOG_FILE

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "generator"))


def _required_file(var: str, default: str, how: str) -> str:
    path = os.environ.get(var, default)
    if not os.path.isfile(path):
        pytest.fail(f"{var}: no file at {path}. {how}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def built():
    try:
        import pyflink  # noqa: F401
    except ImportError:
        pytest.fail("PyFlink is not installed in this Python; run the tests with the venv that "
                    "benches/flink/setup.sh makes (python-wrappers/run-tests.sh does)", pytrace=False)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    lib = _required_file("HEADRACE_BRIDGE_LIB",
                         os.path.join(target, "debug", "libheadrace_bridge_builtin.so"),
                         "Build it: cargo build -p headrace-bridge-builtin")
    jar = _required_file("HEADRACE_BRIDGE_JAR",
                         os.path.join(ROOT, "java", "target", "headrace-flink-bridge-0.1.0.jar"),
                         "Build it: (cd python-wrappers/java && mvn -q package)")
    return lib, jar


@pytest.fixture(scope="session")
def registry(built):
    import headrace_pyflink_gen as gen
    lib, jar = built
    return gen.registry_from_native(jar, lib)


@pytest.fixture(scope="session")
def package(built, registry, tmp_path_factory):
    """The generated ``headrace_pyflink`` package, importable."""
    import headrace_pyflink_gen as gen
    lib, jar = built
    out = str(tmp_path_factory.mktemp("pkg"))
    gen.generate(registry, jar, lib, out)
    sys.path.insert(0, out)
    import headrace_pyflink
    return headrace_pyflink


@pytest.fixture()
def t_env(package):
    from pyflink.table import EnvironmentSettings, TableEnvironment
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "1")
    package.add_jars(env)
    return env
