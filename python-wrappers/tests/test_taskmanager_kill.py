"""A TaskManager PROCESS killed mid-job: a standalone Flink cluster from the PyFlink installation
(its bin/ and lib/), one JobManager and one TaskManager started in the foreground with a config in a
temporary directory. A SQL job Kafka (unbounded) -> exactly-once Kafka sink with checkpoints and a
restart strategy runs on it; the TaskManager gets SIGKILL while records arrive, a new TaskManager
is started, Flink restores the job from its last checkpoint there, and the sink's committed output
(read_committed) holds every record exactly once."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

from conftest import LOG_FILE


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cluster:
    def __init__(self, home, conf_dir, log_dir):
        self.home, self.conf_dir, self.log_dir = home, conf_dir, log_dir
        self.procs = []

    def _start(self, script, name):
        env = dict(os.environ, FLINK_CONF_DIR=self.conf_dir, FLINK_LOG_DIR=self.log_dir,
                   FLINK_PID_DIR=self.log_dir, FLINK_HOME=self.home)
        out = open(os.path.join(self.log_dir, f"{name}.console"), "w")
        p = subprocess.Popen(["bash", os.path.join(self.home, "bin", script), "start-foreground"],
                             env=env, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def start_jobmanager(self):
        return self._start("jobmanager.sh", "jobmanager")

    def start_taskmanager(self, n):
        return self._start("taskmanager.sh", f"taskmanager-{n}")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(30)


def _rest(port, path):
    with urllib.request.urlopen(f"http://localhost:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def _wait(what, cond, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last error: {last})",
                pytrace=False)


def test_taskmanager_process_kill_keeps_exactly_once(package, kafka, tmp_path):
    import pyflink
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    home = os.path.dirname(os.path.abspath(pyflink.__file__))
    for part in ("bin/jobmanager.sh", "bin/taskmanager.sh", "lib"):
        assert os.path.exists(os.path.join(home, part)), \
            f"the PyFlink installation at {home} has no {part}: cannot run a standalone cluster"
    conf_dir, log_dir, ckpt = tmp_path / "conf", tmp_path / "log", tmp_path / "checkpoints"
    for d in (conf_dir, log_dir, ckpt):
        d.mkdir()
    for f in os.listdir(os.path.join(home, "conf")):
        if f.startswith("log4j"):
            with open(os.path.join(home, "conf", f)) as src, open(conf_dir / f, "w") as dst:
                dst.write(src.read())
    rest_port, rpc_port = _free_port(), _free_port()
    (conf_dir / "config.yaml").write_text(f"""
jobmanager.rpc.address: localhost
jobmanager.rpc.port: {rpc_port}
jobmanager.bind-host: localhost
jobmanager.memory.process.size: 1024m
taskmanager.host: localhost
taskmanager.bind-host: localhost
taskmanager.numberOfTaskSlots: 2
taskmanager.memory.process.size: 1400m
rest.address: localhost
rest.bind-address: localhost
rest.port: {rest_port}
parallelism.default: 2
heartbeat.interval: 1000
heartbeat.timeout: 8000
execution.checkpointing.interval: 300 ms
execution.checkpointing.dir: file://{ckpt}
restart-strategy.type: fixed-delay
restart-strategy.fixed-delay.attempts: 30
restart-strategy.fixed-delay.delay: 1 s
""")
    cluster = Cluster(home, str(conf_dir), str(log_dir))
    src_topic, out_topic = f"tmk-in-{uuid.uuid4().hex[:8]}", f"tmk-out-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(src_topic, 3)
    kafka.create_topic(out_topic, 3)
    total, first = 6000, 300
    prefix = f"tmk-{uuid.uuid4().hex[:8]}"
    job = None
    try:
        cluster.start_jobmanager()
        tm1 = cluster.start_taskmanager(1)
        _wait("a TaskManager registered with the JobManager",
              lambda: len(_rest(rest_port, "/taskmanagers")["taskmanagers"]) == 1, 120)

        conf = Configuration()
        conf.set_string("execution.target", "remote")
        conf.set_string("rest.address", "localhost")
        conf.set_string("rest.port", str(rest_port))
        # The job's own settings (the cluster's config.yaml does not reach a submitted job's
        # checkpointing).
        conf.set_string("execution.checkpointing.interval", "300 ms")
        conf.set_string("restart-strategy.type", "fixed-delay")
        conf.set_string("restart-strategy.fixed-delay.attempts", "30")
        conf.set_string("restart-strategy.fixed-delay.delay", "1 s")
        t_env = TableEnvironment.create(
            EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build())
        package.add_jars(t_env)
        t_env.execute_sql(f"""CREATE TABLE src (id BIGINT) WITH (
          'connector' = 'headrace-kafka', 'topic' = '{src_topic}',
          'properties.bootstrap.servers' = '{kafka.bootstrap}',
          'scan.startup.mode' = 'earliest-offset', 'format' = 'json')""")
        t_env.execute_sql(f"""CREATE TABLE dst (id BIGINT) WITH (
          'connector' = 'headrace-kafka', 'topic' = '{out_topic}',
          'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
          'sink.delivery-guarantee' = 'exactly-once',
          'sink.transactional-id-prefix' = '{prefix}')""")
        job = t_env.execute_sql("INSERT INTO dst SELECT id FROM src").get_job_client()

        def committed():
            return [json.loads(v)["id"] for _p, _o, v in kafka.read_all(out_topic)]

        kafka.produce(src_topic, [json.dumps({"id": i}) for i in range(1, first + 1)],
                      partition=lambda i: i % 3)
        _wait("the first records committed", lambda: len(set(committed())) >= first, 180)

        def feed():
            for start in range(first + 1, total + 1, 50):
                kafka.produce(src_topic, [json.dumps({"id": i})
                                          for i in range(start, min(start + 50, total + 1))],
                              partition=lambda i: i % 3)
                time.sleep(0.033)

        writer = threading.Thread(target=feed)
        writer.start()
        time.sleep(1.5)
        killed_at = time.time()
        os.kill(tm1.pid, signal.SIGKILL)
        tm1.wait(30)
        before_kill = len(set(committed()))
        cluster.start_taskmanager(2)
        writer.join()
        ids = _wait("every record committed after the restore",
                    lambda: (lambda c: c if len(set(c)) >= total else None)(committed()), 300)
        time.sleep(1.0)  # one more checkpoint: a duplicate committed late would show
        ids = committed()
    finally:
        if job is not None:
            try:
                job.cancel().result()
            except Exception:  # noqa: BLE001 - the cluster is torn down next anyway
                pass
        cluster.stop()

    assert before_kill < total, "the job had finished before the TaskManager was killed"
    dup = len(ids) - len(set(ids))
    missing = sorted(set(range(1, total + 1)) - set(ids))[:10]
    assert dup == 0 and not missing and len(ids) == total, \
        f"{len(ids)} committed records, {dup} duplicates, first missing: {missing}"
    # The job really restarted on the new TaskManager (its writers fenced the dead process's ids
    # and committed there).
    log = open(LOG_FILE).read()
    commits_after = [m for m in re.finditer(
        rf"^(\S+).*committed the transaction of checkpoint \d+ \('{prefix}-", log, re.M)
        if _log_time(m.group(1)) > killed_at]
    assert commits_after, "no transaction of the job committed after the TaskManager was killed"
    replays = re.findall(rf"writing its \d+ records again as '{prefix}-", log)
    print(f"TaskManager killed with {before_kill} of {total} records committed; "
          f"{len(replays)} lost transaction(s) replayed")


def _log_time(stamp):
    from datetime import datetime
    s = re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        return float("-inf")
