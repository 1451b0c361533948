"""Rescaling through Flink: an unbounded Kafka -> exactly-once Kafka SQL job runs at parallelism 1,
is stopped with a savepoint, more records arrive while it is down, and it resumes from the
savepoint at parallelism 2. Flink redistributes the source readers' Headrace splits (the offsets
of the 4 partitions) over the two new readers and the sink writer's state over the two new
writers; the committed output (read_committed) holds every record exactly once, and the second
run's transactions come from two writer subtasks.

Then scaling down after a crash: a job at parallelism 2 is cancelled with records in open
transactions after its savepoint, and resumes from the savepoint at parallelism 1; the writer
subtask that no longer exists must not leave its transaction open (it would hold back every
read_committed reader until transaction.timeout.ms)."""

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


def _t_env(package, parallelism, savepoint=None, interval="300 ms"):
    from pyflink.table import EnvironmentSettings, TableEnvironment
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("parallelism.default", str(parallelism))
    conf.set("execution.checkpointing.interval", interval)
    if savepoint is not None:
        conf.set("execution.savepoint.path", savepoint)
    package.add_jars(env)
    return env


def _start(t_env, kafka, src_topic, out_topic, prefix, sink_extra=""):
    t_env.execute_sql(f"""CREATE TABLE src (id BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{src_topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}',
      'scan.startup.mode' = 'earliest-offset', 'format' = 'json')""")
    t_env.execute_sql(f"""CREATE TABLE dst (id BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{out_topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
      'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{prefix}'
      {sink_extra})""")
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


def _trigger_savepoint(job, directory, timeout=120):
    """A savepoint of the running job (retried while its tasks are still starting)."""
    from pyflink.java_gateway import get_gateway
    fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    deadline = time.time() + timeout
    while True:
        try:
            return str(job._j_job_client.triggerSavepoint(directory, fmt).get())
        except Exception:  # noqa: BLE001 - e.g. "not all required tasks are currently running"
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def _stable_and_high(kafka, topic):
    """Per partition: (last stable offset, high watermark). The last stable offset stays at the
    first record of a transaction still open; a read_committed reader cannot pass it."""
    from confluent_kafka import Consumer, TopicPartition

    def offsets(isolation):
        c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"pytest-lso-{time.time()}",
                      "isolation.level": isolation, "log_level": 0})
        try:
            parts = sorted(c.list_topics(topic, timeout=30).topics[topic].partitions)
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                    for p in parts}
        finally:
            c.close()

    stable, high = offsets("read_committed"), offsets("read_uncommitted")
    return {p: (stable[p], high[p]) for p in high}


def test_scale_down_after_a_crash_fences_the_removed_writer(package, kafka, tmp_path):
    tag = uuid.uuid4().hex[:8]
    src_topic, out_topic, prefix = f"sd-in-{tag}", f"sd-out-{tag}", f"sd-{tag}"
    kafka.create_topic(src_topic, 4)
    kafka.create_topic(out_topic, 2)
    # The bridge's writers hand rows to Rust in batches of 8192 (or at a checkpoint): 20000 per
    # writer puts two batches of each into its open transaction.
    batch, total = 8192, 40000
    # Long enough that a transaction left open would still be open when the test ends.
    timeout_ms = 600_000
    extra = f", 'properties.transaction.timeout.ms' = '{timeout_ms}'"

    # Run 1, parallelism 2, no periodic checkpoint: a savepoint before any input, then every
    # record goes into transactions that stay open (nothing completes a checkpoint after it),
    # and the job is cancelled, as a crash would leave it.
    job = _start(_t_env(package, 2, interval="1 h"), kafka, src_topic, out_topic, prefix, extra)
    try:
        savepoint = _trigger_savepoint(job, f"file://{tmp_path / 'savepoints'}")
        kafka.produce(src_topic, [json.dumps({"id": i}) for i in range(1, total + 1)],
                      partition=lambda i: i % 4)
        # Both writers wrote two batches into their open transactions (read_uncommitted sees
        # them; no writer has 3 batches).
        _wait("run 1's records written (uncommitted)",
              lambda: len(kafka.read_all(out_topic, isolation="read_uncommitted")) >= 4 * batch,
              120)
    finally:
        job.cancel().result()
    log = open(LOG_FILE).read()
    assert re.search(rf"transactional producer '{re.escape(prefix)}-1-\d+' ready", log), \
        "run 1 had no writer subtask 1"
    lingering = {p: v for p, v in _stable_and_high(kafka, out_topic).items() if v[0] < v[1]}
    assert lingering, "the cancelled run left no open transaction: the test proves nothing"
    log_mark = len(log)

    # Run 2, parallelism 1, from the savepoint: one writer, which must end writer 1's
    # transactions as well as its own.
    started = time.time()
    job = _start(_t_env(package, 1, savepoint), kafka, src_topic, out_topic, prefix, extra)
    try:
        def caught_up():
            ends = _stable_and_high(kafka, out_topic)
            return all(s == h for s, h in ends.values()) and \
                len(kafka.read_all(out_topic)) >= total
        _wait("read_committed readers reaching the end of the output after the restore",
              caught_up, 150)
        caught_up_after = time.time() - started
        time.sleep(1.0)  # more checkpoints: a duplicate committed late would show
        ids = [json.loads(v)["id"] for _p, _o, v in kafka.read_all(out_topic)]
    finally:
        job.cancel().result()

    # Well before the transactions of run 1 could time out.
    assert caught_up_after < timeout_ms / 1000 / 4, f"caught up after {caught_up_after:.0f} s"
    dup = len(ids) - len(set(ids))
    missing = sorted(set(range(1, total + 1)) - set(ids))[:10]
    assert dup == 0 and not missing and len(ids) == total, \
        f"{len(ids)} committed records, {dup} duplicates, first missing: {missing}"
    after = open(LOG_FILE).read()[log_mark:]
    assert "writer 1 is gone (parallelism now 1)" in after, \
        "run 2 did not fence writer 1's transactional ids"
    assert set(_commits(after, prefix)) == {"0"}, \
        f"run 2 (parallelism 1) committed from {set(_commits(after, prefix))}"
