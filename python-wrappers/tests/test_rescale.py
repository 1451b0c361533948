"""Rescaling through Flink: an unbounded Kafka -> exactly-once Kafka SQL job runs at parallelism 1,
is stopped with a savepoint, more records arrive while it is down, and it resumes from the
savepoint at parallelism 2. Flink redistributes the source readers' Headrace splits (the offsets
of the 4 partitions) over the two new readers and the sink writer's state over the two new
writers; the committed output (read_committed) holds every record exactly once, and the second
run's transactions come from two writer subtasks."""

import json
import re
import threading
import time
import uuid

import pytest

from conftest import LOG_FILE


def _wait(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}", pytrace=False)


def _t_env(package, parallelism, savepoint=None):
    from pyflink.table import EnvironmentSettings, TableEnvironment
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("parallelism.default", str(parallelism))
    conf.set("execution.checkpointing.interval", "300 ms")
    if savepoint is not None:
        conf.set("execution.savepoint.path", savepoint)
    package.add_jars(env)
    return env


def _start(t_env, kafka, src_topic, out_topic, prefix):
    t_env.execute_sql(f"""CREATE TABLE src (id BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{src_topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}',
      'scan.startup.mode' = 'earliest-offset', 'format' = 'json')""")
    t_env.execute_sql(f"""CREATE TABLE dst (id BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{out_topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
      'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{prefix}')""")
    return t_env.execute_sql("INSERT INTO dst SELECT id FROM src").get_job_client()


def _stop_with_savepoint(job, directory):
    # PyFlink 2.3's JobClient.stop_with_savepoint calls a Java overload Flink 2 removed; call the
    # one with the savepoint format.
    from pyflink.java_gateway import get_gateway
    fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    return str(job._j_job_client.stopWithSavepoint(False, directory, fmt).get())


def _commits(log, prefix):
    """Writer subtasks whose transactions were committed, per line of the bridge's log."""
    return re.findall(
        rf"committed the transaction of checkpoint \d+ \('{re.escape(prefix)}-(\d+)-\d+'\)", log)


def test_stop_with_savepoint_and_resume_at_higher_parallelism(package, kafka, tmp_path):
    tag = uuid.uuid4().hex[:8]
    src_topic, out_topic, prefix = f"rs-in-{tag}", f"rs-out-{tag}", f"rs-{tag}"
    kafka.create_topic(src_topic, 4)
    kafka.create_topic(out_topic, 2)
    first, second, total = 400, 800, 1200

    def produce(lo, hi):
        kafka.produce(src_topic, [json.dumps({"id": i}) for i in range(lo, hi + 1)],
                      partition=lambda i: i % 4)

    def committed():
        return [json.loads(v)["id"] for _p, _o, v in kafka.read_all(out_topic)]

    # Run 1, parallelism 1: one reader holds all four partitions, one writer. It is stopped while
    # records arrive, so the savepoint holds offsets and an open transaction mid-stream; the
    # feed goes on while no job runs (only the restored offsets tell where to resume).
    def feed():  # about 3 s for the 400 records
        for lo in range(first + 1, second + 1, 10):
            produce(lo, min(lo + 9, second))
            time.sleep(0.05)

    feeder = threading.Thread(target=feed)
    job = _start(_t_env(package, 1), kafka, src_topic, out_topic, prefix)
    try:
        produce(1, first)
        _wait("the first records committed at parallelism 1",
              lambda: len(set(committed())) >= first, 180)
        feeder.start()
        time.sleep(0.7)
        savepoint = _stop_with_savepoint(job, f"file://{tmp_path / 'savepoints'}")
    except BaseException:
        job.cancel().result()
        raise
    finally:
        if feeder.ident is not None:
            feeder.join()
    at_stop = committed()
    log_mark = len(open(LOG_FILE).read())

    # Run 2, parallelism 2, from the savepoint: two readers, two writers.
    job = _start(_t_env(package, 2, savepoint), kafka, src_topic, out_topic, prefix)
    try:
        _wait("the records written while stopped committed after the resume",
              lambda: len(set(committed())) >= second, 180)
        produce(second + 1, total)  # and records arriving while the rescaled job runs
        _wait("every record committed", lambda: len(set(committed())) >= total, 180)
        time.sleep(1.0)  # more checkpoints: a duplicate committed late would show
        ids = committed()
    finally:
        job.cancel().result()

    assert len(set(at_stop)) == len(at_stop) >= first, \
        f"at the savepoint: {len(at_stop)} committed records, {len(set(at_stop))} distinct"
    assert len(at_stop) < second, "run 1 read everything before the stop: nothing was mid-stream"
    dup = len(ids) - len(set(ids))
    missing = sorted(set(range(1, total + 1)) - set(ids))[:10]
    assert dup == 0 and not missing and len(ids) == total, \
        f"{len(ids)} committed records, {dup} duplicates, first missing: {missing}"
    log = open(LOG_FILE).read()
    before, after = _commits(log[:log_mark], prefix), _commits(log[log_mark:], prefix)
    assert before and set(before) == {"0"}, f"run 1 (parallelism 1) committed from {set(before)}"
    # The resumed job ran two writer subtasks, each committing its own transactions.
    assert set(after) == {"0", "1"}, f"run 2 (parallelism 2) committed from {set(after)}"
