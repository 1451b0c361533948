"""The Kafka connectors through Flink (local mode) against a real broker: bounded and unbounded
reads of a multi-partition topic with SQL DDL, an exactly-once sink read back ``read_committed``,
and a job that fails once mid-stream and restarts from Flink's checkpoint with every record once.
"""

import json
import os
import re
import sys
import threading
import time
import uuid

from conftest import FLINK_VERSION, LOG_FILE


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _source_ddl(table, topic, bootstrap, extra=""):
    return f"""CREATE TABLE {table} (id BIGINT, name STRING) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{bootstrap}',
      'scan.startup.mode' = 'earliest-offset', 'format' = 'json'{extra})"""


def test_bounded_read_of_a_multi_partition_topic(t_env, kafka):
    topic = _name("bounded")
    kafka.create_topic(topic, 3)
    n = 600
    kafka.produce(topic, [json.dumps({"id": i, "name": f"n{i}"}) for i in range(n)],
                  partition=lambda i: i % 3)
    t_env.get_config().set("parallelism.default", "2")
    t_env.execute_sql(_source_ddl("src", topic, kafka.bootstrap,
                                  ", 'scan.bounded.mode' = 'latest-offset'"))
    with t_env.execute_sql("SELECT id, name FROM src").collect() as rows:
        got = [(r[0], r[1]) for r in rows]
    assert sorted(got) == [(i, f"n{i}") for i in range(n)]


def test_unbounded_read_picks_up_new_records(t_env, kafka):
    topic = _name("unbounded")
    kafka.create_topic(topic, 3)
    kafka.produce(topic, [json.dumps({"id": i, "name": "before"}) for i in range(50)],
                  partition=lambda i: i % 3)
    t_env.get_config().set("parallelism.default", "2")
    # Checkpoints while reading: offsets are snapshot and committed as in a real job.
    t_env.get_config().set("execution.checkpointing.interval", "200 ms")
    t_env.execute_sql(_source_ddl("src", topic, kafka.bootstrap))
    seen = set()
    result = t_env.execute_sql("SELECT id, name FROM src")
    writer = None
    # A stalled reader would block the loop below forever: cancel the job after two minutes.
    watchdog = threading.Timer(120, lambda: result.get_job_client().cancel())
    watchdog.start()
    try:
        with result.collect() as rows:
            deadline = time.time() + 120
            for r in rows:
                seen.add((r[0], r[1]))
                if len(seen) == 50 and writer is None:
                    # The job is running and caught up: records written now must reach it too.
                    writer = threading.Thread(target=kafka.produce, args=(
                        topic, [json.dumps({"id": i, "name": "after"}) for i in range(50, 120)],
                        lambda i: i % 3))
                    writer.start()
                if len(seen) >= 120 or time.time() > deadline:
                    break
    except Exception:  # noqa: BLE001 - the watchdog's cancel ends the iteration with an error
        if watchdog.is_alive():
            raise
    finally:
        watchdog.cancel()
        if writer is not None:
            writer.join()
        result.get_job_client().cancel()
    assert writer is not None, f"the job never read the first 50 records (got {len(seen)})"
    want = {(i, "before") for i in range(50)} | {(i, "after") for i in range(50, 120)}
    assert seen == want, f"missing {sorted(want - seen)[:10]}, unexpected {sorted(seen - want)[:10]}"


def _ids(records):
    return [json.loads(v)["id"] for _p, _o, v in records]


def test_exactly_once_sink_read_back_read_committed(t_env, kafka):
    topic = _name("eo-sink")
    kafka.create_topic(topic, 3)
    n = 2000
    t_env.get_config().set("parallelism.default", "2")
    t_env.get_config().set("execution.checkpointing.interval", "200 ms")
    t_env.execute_sql(f"""CREATE TABLE gen (id BIGINT) WITH (
      'connector' = 'headrace-datagen', 'number-of-rows' = '{n}', 'rows-per-second' = '2000',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{n}')""")
    prefix = _name("eo")
    t_env.execute_sql(f"""CREATE TABLE sink_t (id BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
      'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{prefix}')""")
    t_env.execute_sql("INSERT INTO sink_t SELECT id FROM gen").wait()
    ids = _ids(kafka.read_all(topic, "read_committed"))
    dup = len(ids) - len(set(ids))
    assert sorted(set(ids)) == list(range(1, n + 1)) and dup == 0, \
        f"{len(ids)} committed records, {dup} duplicates"
    # More than one transaction committed (the job spanned several checkpoints), each writer
    # with its own transactional ids.
    log = open(LOG_FILE).read()
    commits = re.findall(rf"committed the transaction of checkpoint \d+ \('{prefix}-(\d)-\d'\)", log)
    assert len(commits) >= 2 and set(commits) == {"0", "1"}, commits


def test_task_failure_restores_from_checkpoint_exactly_once(package, kafka, tmp_path):
    """Kafka (unbounded, records arriving while the job runs) -> Python map that fails once ->
    exactly-once Kafka sink, parallelism 2: the restart restores the source's offsets and the
    sink's transactions from Flink's checkpoint, and every record is committed once."""
    from pyflink.common import Configuration, Row, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment

    src_topic, out_topic = _name("fo-in"), _name("fo-out")
    kafka.create_topic(src_topic, 3)
    kafka.create_topic(out_topic, 3)
    total, first = 4500, 300

    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("execution.checkpointing.interval", "200 ms")
    conf.set_string("restart-strategy.type", "fixed-delay")
    conf.set_string("restart-strategy.fixed-delay.attempts", "3")
    conf.set_string("restart-strategy.fixed-delay.delay", "500 ms")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(2)
    package.add_jars(env)

    src = (package.HeadraceKafkaSource.builder().set_columns("id BIGINT")
           .set_properties_bootstrap_servers(kafka.bootstrap).set_topic(src_topic)
           .set_scan_startup_mode("earliest-offset").set_value_format("json"))
    prefix = _name("fo")
    sink = (package.HeadraceKafkaSink.builder().set_columns("id BIGINT")
            .set_properties_bootstrap_servers(kafka.bootstrap).set_topic(out_topic)
            .set_value_format("json").set_sink_delivery_guarantee("exactly-once")
            .set_sink_transactional_id_prefix(prefix).build())
    marker = str(tmp_path / "failed-once")
    seen = {"n": 0}

    def fail_once(r):
        seen["n"] += 1
        if seen["n"] == 1000 and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("injected failure (test_kafka)")
        return Row(r[0])

    (env.from_source(src.build(), WatermarkStrategy.no_watermarks(), "kafka-in",
                     type_info=src.type_info())
     .map(fail_once, output_type=src.type_info())
     .sink_to(sink))
    job = env.execute_async("headrace kafka failover")

    def committed_count():
        return len(set(_ids(kafka.read_all(out_topic, "read_committed"))))

    def feed():
        # About 1500 records a second, so the job spans several checkpoints before and after
        # the failure.
        for start in range(first + 1, total + 1, 50):
            kafka.produce(src_topic, [json.dumps({"id": i})
                                      for i in range(start, min(start + 50, total + 1))],
                          partition=lambda i: i % 3)
            time.sleep(0.033)

    writer = threading.Thread(target=feed)
    ids = []
    try:
        # A first batch, committed through a checkpoint before the rest arrives (and before the
        # failure, which comes after 1000 records in one of the two Python workers).
        kafka.produce(src_topic, [json.dumps({"id": i}) for i in range(1, first + 1)],
                      partition=lambda i: i % 3)
        deadline = time.time() + 120
        while committed_count() < first and time.time() < deadline:
            time.sleep(0.3)
        assert committed_count() == first, "the first records were never committed"

        writer.start()
        writer.join()
        deadline = time.time() + 120
        while time.time() < deadline:
            ids = _ids(kafka.read_all(out_topic, "read_committed"))
            if len(set(ids)) >= total:
                # One more checkpoint interval: a duplicate committed late would show.
                time.sleep(1.0)
                ids = _ids(kafka.read_all(out_topic, "read_committed"))
                break
            time.sleep(0.5)
    finally:
        job.cancel().result()

    assert os.path.exists(marker), "the injected failure never happened"
    dup = len(ids) - len(set(ids))
    missing = sorted(set(range(1, total + 1)) - set(ids))[:10]
    assert dup == 0 and not missing and len(ids) == total, \
        f"{len(ids)} committed records, {dup} duplicates, first missing: {missing}"
    # Transactions committed before the failure: the restart resumed from a checkpoint.
    failed_at = os.stat(marker).st_mtime
    log = open(LOG_FILE).read()
    before = [m for m in re.finditer(
        rf"^(\S+).*committed the transaction of checkpoint \d+ \('{prefix}-", log, re.M)
        if _log_time(m.group(1)) < failed_at]
    assert before, "no transaction was committed before the injected failure"


def _log_time(stamp):
    from datetime import datetime
    s = re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        return float("inf")


def test_avro_round_trip_through_kafka(t_env, kafka):
    """The 'avro' format (cargo feature 'avro' of the native library): written by the Kafka sink,
    read back by the Kafka source, both through Flink SQL."""
    topic = _name("avro")
    kafka.create_topic(topic, 2)
    cols = "id BIGINT, name STRING, score DOUBLE"
    t_env.execute_sql(f"""CREATE TABLE w ({cols}) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'avro')""")
    t_env.execute_sql("INSERT INTO w VALUES (1, 'a', 0.5), (2, CAST(NULL AS STRING), -1.25), "
                      "(3, 'c', 3.0)").wait()
    t_env.execute_sql(f"""CREATE TABLE r ({cols}) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'avro',
      'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')""")
    with t_env.execute_sql("SELECT id, name, score FROM r").collect() as rows:
        got = sorted((r[0], r[1], r[2]) for r in rows)
    assert got == [(1, "a", 0.5), (2, None, -1.25), (3, "c", 3.0)]


def test_upsert_kafka_sink_keys_by_the_primary_key(t_env, kafka):
    """'headrace-upsert-kafka': Flink's PRIMARY KEY reaches Headrace (as the message key)."""
    topic = _name("upsert")
    kafka.create_topic(topic, 1)
    t_env.execute_sql(f"""CREATE TABLE u (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED)
      WITH ('connector' = 'headrace-upsert-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}',
      'key.format' = 'json', 'value.format' = 'json')""")
    # Flink 2.3 asks how rows without an upsert key map onto the sink's key; older releases have
    # no ON CONFLICT clause (their parser refuses it) and keep the last row per key.
    on_conflict = " ON CONFLICT DO DEDUPLICATE" if FLINK_VERSION >= (2, 3) else ""
    t_env.execute_sql("INSERT INTO u VALUES (1, 'a'), (2, 'b'), (1, 'c')" + on_conflict).wait()
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": _name("upsert-read"),
                  "auto.offset.reset": "earliest", "log_level": 0})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        latest, deadline = {}, time.time() + 30
        while time.time() < deadline and latest != {1: "c", 2: "b"}:
            for m in c.consume(100, timeout=0.5):
                if m.error() is None:
                    key = json.loads(m.key())["id"]
                    latest[key] = None if m.value() is None else json.loads(m.value())["v"]
    finally:
        c.close()
    assert latest == {1: "c", 2: "b"}
