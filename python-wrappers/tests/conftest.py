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


# --- Flink versions ------------------------------------------------------------------------------

def _flink_version() -> tuple:
    """The apache-flink release of this Python, as a tuple (2, 0, 2); () when it is not installed."""
    import importlib.metadata as md
    try:
        v = md.version("apache-flink")
    except md.PackageNotFoundError:
        return ()
    return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())


FLINK_VERSION = _flink_version()

# The subset CI runs under every older Flink release (``run-tests.sh --flink 2.0.2 --core``): binary
# rows, Table API / SQL, the generated DataStream and Table helpers, the custom connector's wheel,
# filesystem and Kafka reads, the exactly-once Kafka sink, the restores after a task failure and
# per-split watermarks through the DataStream API.
# The whole suite runs under 2.3.0.
CORE_TESTS = [
    "test_binary_rows.py::test_every_flat_type_crosses_as_binary_rows",
    "test_table_sql.py::test_datagen_ddl_rows_reach_flink",
    "test_table_sql.py::test_option_error_carries_headraces_message",
    "test_table_sql.py::test_filesystem_write_then_read",
    "test_table_sql.py::test_every_type_crosses_both_ways",
    "test_generated_api.py::test_table_descriptor_helper",
    "test_generated_api.py::test_datastream_source_and_sink",
    "test_generated_api.py::test_datastream_rows_carry_python_types",
    "test_custom_connector.py::test_lines_connector_from_wheel",
    "test_failover.py::test_failure_and_restore_keep_exactly_once",
    "test_kafka.py::test_bounded_read_of_a_multi_partition_topic",
    "test_kafka.py::test_exactly_once_sink_read_back_read_committed",
    "test_kafka.py::test_task_failure_restores_from_checkpoint_exactly_once",
    "test_datastream_watermarks.py::test_per_split_watermarks_from_source",
]


def pytest_addoption(parser):
    parser.addoption("--headrace-core", action="store_true",
                     help="run only conftest.CORE_TESTS (the subset CI runs under older Flink releases)")


def pytest_report_header(config):
    return f"apache-flink {'.'.join(map(str, FLINK_VERSION)) or 'not installed'}"


def pytest_configure(config):
    expected = os.environ.get("HEADRACE_EXPECT_FLINK")
    if expected and tuple(int(p) for p in expected.split(".")) != FLINK_VERSION:
        raise pytest.UsageError(
            f"HEADRACE_EXPECT_FLINK={expected} but this Python ({sys.executable}) has apache-flink "
            f"{'.'.join(map(str, FLINK_VERSION)) or 'not installed'}; run with the venv that "
            f"'bash benches/flink/setup.sh {expected}' prints")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--headrace-core"):
        return
    ids = {item.nodeid.split("/")[-1]: item for item in items}
    missing = [t for t in CORE_TESTS if t not in ids]
    # Only a whole run can tell a renamed test from one left out by -k or a path.
    if missing and not config.getoption("keyword") and not config.option.file_or_dir:
        raise pytest.UsageError(f"conftest.CORE_TESTS names tests that do not exist: {missing}")
    keep = [item for item in items if item.nodeid.split("/")[-1] in CORE_TESTS]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def flink_at_least(*version: int, reason: str):
    """A mark skipping a test under Flink releases older than ``version``, saying why (a feature the
    test relies on is missing there). Use sparingly: the core must run on every tested release."""
    return pytest.mark.skipif(FLINK_VERSION < version,
                              reason=f"needs Flink {'.'.join(map(str, version))}+: {reason}")


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


# --- Kafka: a real broker from the test kit's image (no mocks) ---------------------------------

KAFKA_IMAGE = os.environ.get("HEADRACE_KAFKA_IMAGE", "localhost/headrace-kafka:latest")


class KafkaBroker:
    """A running broker: ``bootstrap`` for clients on this host, and helpers on confluent-kafka."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap

    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def create_topic(self, name: str, partitions: int):
        from confluent_kafka.admin import NewTopic
        admin = self.admin()  # kept alive until the future resolves
        fut = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                            replication_factor=1)])
        fut[name].result(timeout=60)

    def produce(self, topic: str, values, partition=None):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "log_level": 0})
        for i, v in enumerate(values):
            kw = {} if partition is None else {"partition": partition(i)}
            p.produce(topic, value=v.encode() if isinstance(v, str) else v, **kw)
            if i % 1000 == 0:
                p.poll(0)
        left = p.flush(60)
        assert left == 0, f"{left} records to {topic} were not delivered"

    def read_all(self, topic: str, isolation: str = "read_committed", timeout: float = 60.0):
        """Every record of ``topic`` up to its current end, as (partition, offset, value) tuples."""
        import time
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"pytest-read-{time.time()}",
                      "enable.auto.commit": False, "isolation.level": isolation,
                      "auto.offset.reset": "earliest", "log_level": 0})
        try:
            md = c.list_topics(topic, timeout=30)
            parts = sorted(md.topics[topic].partitions)
            # The end of each partition from a read_uncommitted view (the high watermark): a
            # read_committed client is told the last stable offset, which can lag just after a
            # commit.
            ends = {}
            for p in parts:
                _low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                ends[p] = high
            c.assign([TopicPartition(topic, p, 0) for p in parts])
            out = []
            done = {p for p in parts if ends[p] == 0}
            deadline = time.time() + timeout
            while len(done) < len(parts) and time.time() < deadline:
                for m in c.consume(1000, timeout=0.5):
                    if m.error():
                        continue
                    out.append((m.partition(), m.offset(), m.value()))
                for p in parts:
                    if p in done:
                        continue
                    pos = c.position([TopicPartition(topic, p)])[0].offset
                    if pos >= ends[p]:
                        done.add(p)
            assert len(done) == len(parts), \
                f"reading {topic} ({isolation}) timed out: partitions done {sorted(done)} of {parts}"
            return out
        finally:
            c.close()


def _warm_up_transactions(bootstrap: str):
    """The first transactional producer makes the broker create its transaction-state topic
    (seconds of "coordinator load in progress"); do it once here rather than inside a job."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "pytest-warm-up",
                  "log_level": 0})
    p.init_transactions(120)
    p.begin_transaction()
    p.commit_transaction(60)


def _wait_kafka(bootstrap: str, timeout: float):
    import time
    from confluent_kafka.admin import AdminClient
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            md = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=5)
            if any(f"{b.host}:{b.port}" == bootstrap for b in md.brokers.values()):
                return
            last = f"brokers: {md.brokers}"
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.5)
    pytest.fail(f"Kafka at {bootstrap} did not answer within {timeout:.0f} s: {last}", pytrace=False)


def _reap_leftovers(engine: str):
    """Remove broker containers of earlier pytest runs whose process died without cleaning up."""
    import subprocess
    out = subprocess.run([engine, "ps", "-a", "--filter", "label=headrace.pytest.pid",
                          "--format", '{{.ID}} {{index .Labels "headrace.pytest.pid"}}'],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        cid, _, pid = line.partition(" ")
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            subprocess.run([engine, "rm", "-f", cid], capture_output=True)


@pytest.fixture(scope="session")
def kafka():
    """A Kafka broker: ``HEADRACE_TEST_KAFKA`` (host:port) if set, else a container of the test
    kit's image started with podman (as ``integration-tests`` does), removed at the end."""
    import shutil
    import socket
    import subprocess
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        pytest.fail("confluent-kafka is not installed in this Python; python-wrappers/run-tests.sh "
                    "installs it (pip install confluent-kafka)", pytrace=False)
    external = os.environ.get("HEADRACE_TEST_KAFKA")
    if external:
        _wait_kafka(external, 120)
        yield KafkaBroker(external)
        return
    engine = shutil.which("podman")
    if engine is None:
        pytest.fail("podman is not installed: the Kafka tests start localhost/headrace-kafka with it "
                    "(or set HEADRACE_TEST_KAFKA=host:port)", pytrace=False)
    if subprocess.run([engine, "image", "exists", KAFKA_IMAGE]).returncode != 0:
        pytest.fail(f"image {KAFKA_IMAGE} is missing: build it with "
                    "integration-tests/containers/build-images.sh kafka", pytrace=False)
    _reap_leftovers(engine)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    name = f"headrace-kafka-pytest-{os.getpid()}"
    run = subprocess.run(
        [engine, "run", "-d", "--rm", "--name", name, "--label", "headrace.service=kafka",
         "--label", f"headrace.pytest.pid={os.getpid()}",
         "-p", f"127.0.0.1:{port}:9092", "-e", "KAFKA_ADVERTISED_HOST=127.0.0.1",
         "-e", f"KAFKA_ADVERTISED_PORT={port}", KAFKA_IMAGE],
        capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"cannot start {KAFKA_IMAGE}: {run.stderr.strip()}", pytrace=False)
    try:
        bootstrap = f"127.0.0.1:{port}"
        _wait_kafka(bootstrap, 120)
        _warm_up_transactions(bootstrap)
        yield KafkaBroker(bootstrap)
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True)
