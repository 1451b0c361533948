"""Metadata columns and per-split watermarks through the Flink bridge, as Flink's own Kafka and
filesystem table connectors offer them.

- Kafka metadata read (``topic``, ``partition``, ``offset``, ``timestamp``, ``headers``) from records
  written by confluent-kafka, and written (``timestamp``, ``headers``) then read back by
  confluent-kafka, each also compared with Flink's own 'kafka' connector on the same records;
  the value format's metadata (``value.*``, debezium-json); filesystem ``file.*`` metadata.
- Watermarks pushed into the source (``SupportsWatermarkPushDown``) and kept per Kafka partition:
  a TUMBLE window closes only when both partitions of the topic pass it, and a partition without
  records stops holding it back after the idle timeout (``scan.watermark.idle-timeout`` or
  ``table.exec.source.idle-timeout``).

Real broker (the test kit's image, see conftest's ``kafka`` fixture), no mocks.
"""

import json
import os
import time
import uuid

import pytest


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _recent_ms(hours_ago):
    """A whole second ``hours_ago`` hours ago, in epoch ms: record timestamps must stay within the
    broker's retention (7 days), or it may delete the records before the job reads them."""
    return (int(time.time()) - int(hours_ago * 3600)) * 1000


def _utc(ms, fmt="%Y-%m-%d %H:%M:%S"):
    return time.strftime(fmt, time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


def _produce(kafka, topic, records):
    """``records``: (partition, value, timestamp ms or None, headers or None) tuples."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": kafka.bootstrap, "log_level": 0})
    for part, value, ts, headers in records:
        kw = {"partition": part}
        if ts is not None:
            kw["timestamp"] = ts
        if headers is not None:
            kw["headers"] = headers
        p.produce(topic, value=value.encode(), **kw)
    assert p.flush(60) == 0, f"records to {topic} were not delivered"


# --- metadata columns ----------------------------------------------------------------------------

def test_kafka_metadata_columns_read(t_env, kafka):
    topic = _name("meta-read")
    kafka.create_topic(topic, 2)
    base = _recent_ms(1)
    _produce(kafka, topic, [
        (0, json.dumps({"id": 1}), base + 1, [("trace", b"a1"), ("src", b"x")]),
        (1, json.dumps({"id": 2}), base + 2, [("trace", b"b2")]),
        (0, json.dumps({"id": 3}), base + 3, None),
    ])
    t_env.get_config().set("table.local-time-zone", "UTC")
    # Keys named as in Flink's Kafka connector; 'timestamp' with FROM, the others by column name.
    t_env.execute_sql(f"""CREATE TABLE r (
      id BIGINT,
      `topic` STRING METADATA VIRTUAL,
      `partition` INT METADATA VIRTUAL,
      `offset` BIGINT METADATA VIRTUAL,
      ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
      headers MAP<STRING, BYTES> METADATA
    ) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
      'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')""")
    q = """SELECT id, `topic`, `partition`, `offset`, DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS'),
                  CARDINALITY(headers), CAST(headers['trace'] AS STRING), CAST(headers['src'] AS STRING)
           FROM r"""
    with t_env.execute_sql(q).collect() as rows:
        got = sorted(tuple(r) for r in rows)
    assert got == [
        (1, topic, 0, 0, _utc(base + 1), 2, "a1", "x"),
        (2, topic, 1, 0, _utc(base + 2), 1, "b2", None),
        (3, topic, 0, 1, _utc(base + 3), 0, None, None),
    ]


def _flink_kafka_jar():
    """Flink's own Kafka SQL connector (``HEADRACE_FLINK_KAFKA_JAR``, else Maven's copy in ~/.m2,
    which scripts/test-all.sh fetches)."""
    default = os.path.expanduser("~/.m2/repository/org/apache/flink/flink-sql-connector-kafka/"
                                 "5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar")
    jar = os.environ.get("HEADRACE_FLINK_KAFKA_JAR", default)
    if not os.path.isfile(jar):
        pytest.fail(f"{jar} is missing: run `mvn dependency:get -Dartifact=org.apache.flink:"
                    "flink-sql-connector-kafka:5.0.0-2.2 -Dtransitive=false` or set "
                    "HEADRACE_FLINK_KAFKA_JAR (scripts/test-all.sh does it)", pytrace=False)
    return jar


def test_kafka_metadata_matches_flinks_kafka_connector(t_env, kafka):
    """The same topic read with the same metadata columns through Flink's own 'kafka' connector
    and through 'headrace-kafka' gives the same rows."""
    topic = _name("meta-vs-flink")
    kafka.create_topic(topic, 2)
    base = _recent_ms(3)
    _produce(kafka, topic, [
        (i % 2, json.dumps({"id": i}), base + i, [("n", str(i).encode())] if i % 3 else None)
        for i in range(12)])
    conf = t_env.get_config()
    conf.set("pipeline.jars", conf.get("pipeline.jars", "") + ";file://" + _flink_kafka_jar())
    conf.set("table.local-time-zone", "UTC")
    cols = """id BIGINT, `topic` STRING METADATA VIRTUAL, `partition` INT METADATA VIRTUAL,
      `offset` BIGINT METADATA VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
      tt STRING METADATA FROM 'timestamp-type' VIRTUAL, headers MAP<STRING, BYTES> METADATA VIRTUAL"""
    rows = {}
    for connector in ["kafka", "headrace-kafka"]:
        table = connector.replace("-", "_")
        t_env.execute_sql(f"""CREATE TABLE {table} ({cols}) WITH (
          'connector' = '{connector}', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
          'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')""")
        q = f"""SELECT id, `topic`, `partition`, `offset`,
                   DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS'), tt, CARDINALITY(headers),
                   CAST(headers['n'] AS STRING) FROM {table}"""
        with t_env.execute_sql(q).collect() as result:
            rows[connector] = sorted(tuple(r) for r in result)
    assert len(rows["kafka"]) == 12, rows["kafka"]
    assert rows["headrace-kafka"] == rows["kafka"]


def test_kafka_metadata_written_as_flinks_kafka_connector_writes_it(t_env, kafka):
    """The same rows written with 'timestamp' and 'headers' metadata through Flink's own 'kafka'
    connector and through 'headrace-kafka': confluent-kafka reads the same records from both."""
    conf = t_env.get_config()
    conf.set("pipeline.jars", conf.get("pipeline.jars", "") + ";file://" + _flink_kafka_jar())
    t1, t2 = _recent_ms(1) + 7, _recent_ms(2) + 8
    values = f"""(1, TO_TIMESTAMP_LTZ({t1}, 3), CAST(MAP['a', X'01', 'b', X''] AS MAP<STRING, BYTES>)),
      (2, TO_TIMESTAMP_LTZ({t2}, 3), CAST(MAP['a', X'ff'] AS MAP<STRING, BYTES>))"""
    seen = {}
    for connector in ["kafka", "headrace-kafka"]:
        topic = _name("meta-w-" + connector)
        kafka.create_topic(topic, 1)
        table = connector.replace("-", "_")
        t_env.execute_sql(f"""CREATE TABLE {table} (
          id BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', headers MAP<STRING, BYTES> METADATA
        ) WITH ('connector' = '{connector}', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json')""")
        t_env.execute_sql(f"INSERT INTO {table} VALUES {values}").wait()
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": _name("meta-w-read"),
                      "auto.offset.reset": "earliest", "log_level": 0})
        got = []
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            deadline = time.time() + 30
            while len(got) < 2 and time.time() < deadline:
                for m in c.consume(10, timeout=0.5):
                    if m.error() is None:
                        got.append((json.loads(m.value()), m.timestamp(),
                                    sorted(m.headers() or [])))
        finally:
            c.close()
        seen[connector] = sorted(got, key=lambda g: g[0]["id"])
    assert [g[1][1] for g in seen["kafka"]] == [t1, t2], seen["kafka"]
    assert seen["headrace-kafka"] == seen["kafka"]


def test_kafka_value_format_metadata_read(t_env, kafka):
    """The format's metadata under the connector's 'value.' prefix, as Flink's Kafka connector
    offers a Debezium payload's ('value.source.table', 'value.ingestion-timestamp', ...)."""
    topic = _name("meta-debezium")
    kafka.create_topic(topic, 1)
    msgs = [{"before": None, "after": {"id": i}, "op": "c", "ts_ms": 1_700_000_000_000 + i,
             "source": {"db": "shop", "table": t, "ts_ms": 1_699_999_999_000}}
            for i, t in [(1, "orders"), (2, "items")]]
    _produce(kafka, topic, [(0, json.dumps(m), None, None) for m in msgs])
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.execute_sql(f"""CREATE TABLE d (
      id BIGINT,
      tbl STRING METADATA FROM 'value.source.table' VIRTUAL,
      db STRING METADATA FROM 'value.source.database' VIRTUAL,
      ingested TIMESTAMP_LTZ(3) METADATA FROM 'value.ingestion-timestamp' VIRTUAL,
      part INT METADATA FROM 'partition' VIRTUAL
    ) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'value.format' = 'debezium-json',
      'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')""")
    q = "SELECT id, tbl, db, DATE_FORMAT(ingested, 'HH:mm:ss.SSS'), part FROM d"
    with t_env.execute_sql(q).collect() as rows:
        got = sorted(tuple(r) for r in rows)
    assert got == [(1, "orders", "shop", "22:13:20.001", 0), (2, "items", "shop", "22:13:20.002", 0)]


def test_kafka_metadata_columns_written(t_env, kafka):
    topic = _name("meta-write")
    kafka.create_topic(topic, 1)
    # 'partition' is read-only: declared VIRTUAL, it is left out of what is written.
    t_env.execute_sql(f"""CREATE TABLE w (
      id BIGINT,
      ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
      headers MAP<STRING, BYTES> METADATA,
      `partition` INT METADATA VIRTUAL
    ) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{topic}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json')""")
    t1, t2 = _recent_ms(1) + 123, _recent_ms(2) + 456
    t_env.execute_sql(f"""INSERT INTO w VALUES
      (1, TO_TIMESTAMP_LTZ({t1}, 3), CAST(MAP['k1', X'7631', 'k2', X'7632'] AS MAP<STRING, BYTES>)),
      (2, TO_TIMESTAMP_LTZ({t2}, 3), CAST(MAP['k1', X'6f6b'] AS MAP<STRING, BYTES>))""").wait()
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": _name("meta-write-read"),
                  "auto.offset.reset": "earliest", "log_level": 0})
    got = {}
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.time() + 30
        while len(got) < 2 and time.time() < deadline:
            for m in c.consume(10, timeout=0.5):
                if m.error() is None:
                    got[json.loads(m.value())["id"]] = (m.timestamp()[1], sorted(m.headers() or []))
    finally:
        c.close()
    assert got == {
        1: (t1, [("k1", b"v1"), ("k2", b"v2")]),
        2: (t2, [("k1", b"ok")]),
    }


def test_filesystem_file_metadata(t_env, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.csv").write_text("1\n2\n")
    (d / "b.csv").write_text("30\n")
    t_env.execute_sql(f"""CREATE TABLE f (
      id BIGINT,
      path STRING METADATA FROM 'file.path' VIRTUAL,
      name STRING METADATA FROM 'file.name' VIRTUAL,
      size BIGINT METADATA FROM 'file.size' VIRTUAL,
      mtime TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time' VIRTUAL
    ) WITH ('connector' = 'headrace-filesystem', 'path' = '{d}', 'format' = 'csv')""")
    with t_env.execute_sql(
            "SELECT id, path, name, size, mtime IS NOT NULL FROM f").collect() as rows:
        got = sorted(tuple(r) for r in rows)
    a, b = str(d / "a.csv"), str(d / "b.csv")
    # Flink's filesystem connector gives paths as URIs or plain paths; either must name the file.
    assert [(i, n, s, m) for i, _p, n, s, m in got] == [
        (1, "a.csv", 4, True), (2, "a.csv", 4, True), (30, "b.csv", 3, True)]
    for i, p, *_ in got:
        assert p.endswith(a if i < 30 else b), p


# --- per-split watermarks ------------------------------------------------------------------------

MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (60 * MINUTE)  # a whole hour, so windows are round


def _ev(part, id_, minute, second=0):
    return (part, json.dumps({"id": id_, "ts": T0 + minute * MINUTE + second * 1000}), None, None)


def _window_job(t_env, kafka, src, out, extra="", connector="headrace-kafka"):
    """Start ``INSERT INTO out`` of one-minute TUMBLE counts over ``src``, an event-time table with
    a WATERMARK (no delay); returns the running job's TableResult. ``connector`` 'kafka' reads
    through Flink's own Kafka connector instead, for the same expectations."""
    if connector == "kafka":
        conf = t_env.get_config()
        conf.set("pipeline.jars", conf.get("pipeline.jars", "") + ";file://" + _flink_kafka_jar())
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.get_config().set("execution.checkpointing.interval", "300 ms")
    t_env.execute_sql(f"""CREATE TABLE ev (
      id BIGINT, ts BIGINT,
      rt AS TO_TIMESTAMP_LTZ(ts, 3),
      WATERMARK FOR rt AS rt
    ) WITH (
      'connector' = '{connector}', 'topic' = '{src}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json',
      'properties.group.id' = '{src}-g', 'scan.startup.mode' = 'earliest-offset'{extra})""")
    t_env.execute_sql(f"""CREATE TABLE agg (ws STRING, cnt BIGINT) WITH (
      'connector' = 'headrace-kafka', 'topic' = '{out}',
      'properties.bootstrap.servers' = '{kafka.bootstrap}', 'format' = 'json')""")
    return t_env.execute_sql("""INSERT INTO agg
      SELECT DATE_FORMAT(window_start, 'mm'), COUNT(*)
      FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(rt), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end""")


def _windows(kafka, out):
    return {json.loads(v)["ws"]: json.loads(v)["cnt"] for _p, _o, v in kafka.read_all(out)}


def _wait_committed(kafka, topic, group, partition, offset, timeout=90):
    """Wait until the job's checkpoints committed ``offset`` for ``partition`` (it read that far)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group, "log_level": 0,
                  "enable.auto.commit": False})
    last = None
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                tp = c.committed([TopicPartition(topic, partition)], timeout=10)[0]
                last = tp.offset
                if tp.offset >= offset:
                    return
            except KafkaException as e:  # e.g. the group's coordinator is still being chosen
                last = e
            time.sleep(0.3)
    finally:
        c.close()
    pytest.fail(f"the job did not read {topic} partition {partition} up to offset {offset} "
                f"within {timeout} s (last answer: {last})")


def _wait_windows(kafka, out, want, timeout=90):
    deadline = time.time() + timeout
    got = {}
    while time.time() < deadline:
        got = _windows(kafka, out)
        if all(k in got for k in want):
            return got
        time.sleep(0.5)
    return got


@pytest.mark.parametrize("connector", ["headrace-kafka", "kafka"])
def test_window_closes_only_when_both_partitions_pass_it(t_env, kafka, connector):
    """Partition 0 is five minutes ahead of partition 1. With one watermark per partition, the
    reader's watermark is the lesser one: partition 1's late-looking records still count, and no
    window closes before partition 1 has passed it. (A single watermark over the reader's rows, as
    when the WATERMARK runs after the source, would close minute 5 early and drop minute 0.) The same
    job over Flink's own 'kafka' connector must meet the same expectations."""
    src, out = _name("wm-src"), _name("wm-out")
    kafka.create_topic(src, 2)
    kafka.create_topic(out, 1)
    # Partition 0 first: five records in minute 5, one in minute 7.
    _produce(kafka, src, [_ev(0, i, 5, i) for i in range(1, 6)] + [_ev(0, 6, 7)])
    job = _window_job(t_env, kafka, src, out, connector=connector)
    try:
        _wait_committed(kafka, src, f"{src}-g", 0, 6)
        time.sleep(2.0)  # several watermark intervals after partition 0 was read
        early = _windows(kafka, out)
        assert early == {}, f"windows closed while partition 1 had no records yet: {early}"
        # Partition 1, behind: three records in minute 0, then one in minute 8.
        _produce(kafka, src, [_ev(1, 100 + i, 0, i) for i in range(3)] + [_ev(1, 200, 8)])
        got = _wait_windows(kafka, out, ["00", "05"])
    finally:
        job.get_job_client().cancel().result()
    # Minute 7 stays open: partition 0's watermark is at minute 7 (minute 8 is partition 1's).
    assert got == {"00": 3, "05": 5}, got


@pytest.mark.parametrize("how", ["table option", "job setting"])
def test_idle_partition_stops_holding_the_watermark(t_env, kafka, how):
    """Partition 1 never gets a record: after the idle timeout it no longer holds the watermark
    back, and partition 0's windows close (Flink's idleness per split)."""
    src, out = _name("idle-src"), _name("idle-out")
    kafka.create_topic(src, 2)
    kafka.create_topic(out, 1)
    _produce(kafka, src, [_ev(0, i, 5, i) for i in range(1, 6)] + [_ev(0, 6, 7)])
    if how == "table option":
        extra = ", 'scan.watermark.idle-timeout' = '2 s'"
    else:
        extra = ""
        t_env.get_config().set("table.exec.source.idle-timeout", "2 s")
    job = _window_job(t_env, kafka, src, out, extra)
    try:
        got = _wait_windows(kafka, out, ["05"])
    finally:
        job.get_job_client().cancel().result()
    assert got == {"05": 5}, got


def test_without_idle_timeout_an_empty_partition_holds_the_watermark(t_env, kafka):
    """The counterpart of the idle test: no idle timeout, partition 1 empty, nothing closes."""
    src, out = _name("noidle-src"), _name("noidle-out")
    kafka.create_topic(src, 2)
    kafka.create_topic(out, 1)
    _produce(kafka, src, [_ev(0, i, 5, i) for i in range(1, 6)] + [_ev(0, 6, 7)])
    job = _window_job(t_env, kafka, src, out)
    try:
        _wait_committed(kafka, src, f"{src}-g", 0, 6)
        time.sleep(4.0)
        got = _windows(kafka, out)
    finally:
        job.get_job_client().cancel().result()
    assert got == {}, got
