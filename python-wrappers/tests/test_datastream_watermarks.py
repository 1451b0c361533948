"""Per-split watermarks through the DataStream API: ``env.from_source`` with a generated Headrace
Kafka source and a ``WatermarkStrategy.for_bounded_out_of_orderness`` whose timestamp assigner
(``io.headrace.flink.ColumnTimestampAssigner``) reads the event time from a column.

Flink runs a strategy given to ``from_source`` inside the source operator, on the output of each
split the reader emits to (``ReaderOutput.createOutputForSplit``, which the bridge's reader uses
when the connector names the split of a batch: Kafka's partition). The reader's watermark is then
the least of its splits'. One reader (parallelism 1) reads both partitions of a topic whose
partition 0 is minutes ahead of partition 1; a Python ``ProcessFunction`` after the source reports
each record's timestamp and the watermark current when it arrived, written to Kafka and read back
with confluent-kafka.

The same job with the strategy applied after the source (``assignTimestampsAndWatermarks``: one
watermark over everything the reader emits) is the counterpart: there partition 1's records come
late, which shows that the first test tells the two apart. A partition that never gets a record
holds the watermark at the start, unless the strategy's ``with_idleness`` lets it go idle.

PyFlink's ``from_source`` hands Flink only the Java side of a strategy: a Python
``TimestampAssigner`` set with ``with_timestamp_assigner`` is left out (records keep no
timestamp), hence the Java assigner. Real broker (conftest's ``kafka`` fixture), no mocks.
"""

import json
import sys
import time
import uuid

import pytest

MINUTE = 60_000
DELAY_MS = 1_000  # the strategy's bounded out-of-orderness
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (60 * MINUTE)
LONG_MIN = -(2 ** 63)


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _produce(kafka, topic, records):
    """``records``: (partition, id, minute) tuples; the value is ``{"id": .., "ts": ..}``."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": kafka.bootstrap, "log_level": 0})
    for part, id_, minute in records:
        p.produce(topic, value=json.dumps({"id": id_, "ts": _ts(minute, id_)}).encode(),
                  partition=part)
    assert p.flush(60) == 0, f"records to {topic} were not delivered"


def _ts(minute, id_):
    # A distinct millisecond per record within its minute, in id order.
    return T0 + minute * MINUTE + (id_ % 1000)


def _observed(kafka, out):
    """What the ProcessFunction saw, by id: (record timestamp, watermark on arrival)."""
    got = {}
    for _p, _o, v in kafka.read_all(out):
        r = json.loads(v)
        got[r["id"]] = (r["ts"], r["wm"])
    return got


def _wait_ids(kafka, out, ids, timeout=90):
    deadline = time.time() + timeout
    got = {}
    while time.time() < deadline:
        got = _observed(kafka, out)
        if set(ids) <= set(got):
            return got
        time.sleep(0.5)
    pytest.fail(f"records {sorted(set(ids) - set(got))} did not reach {out} within {timeout} s "
                f"(got {sorted(got)})")


def _start(package, kafka, strategy_in_source: bool, idleness_ms=None):
    """Partition 0's first records, then the job; returns (job client, source topic, out topic)."""
    from pyflink.common import Configuration, Duration, Row, WatermarkStrategy
    from pyflink.datastream import DataStream, ProcessFunction, StreamExecutionEnvironment

    src_topic, out_topic = _name("dswm-in"), _name("dswm-out")
    kafka.create_topic(src_topic, 2)
    kafka.create_topic(out_topic, 1)
    # Partition 0 first: ids 1-5 in minute 5, id 6 in minute 7. Partition 1 has nothing yet.
    _produce(kafka, src_topic, [(0, i, 5) for i in range(1, 6)] + [(0, 6, 7)])

    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("execution.checkpointing.interval", "300 ms")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(1)  # one reader holds both partitions' splits
    env.get_config().set_auto_watermark_interval(100)
    package.add_jars(env)

    cols = "id BIGINT, ts BIGINT"
    b = (package.HeadraceKafkaSource.builder().set_columns(cols)
         .set_properties_bootstrap_servers(kafka.bootstrap).set_topic(src_topic)
         .set_scan_startup_mode("earliest-offset").set_value_format("json"))
    source = b.build()
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(DELAY_MS))
    if idleness_ms is not None:
        strategy = strategy.with_idleness(Duration.of_millis(idleness_ms))
    # The generated package's helper: event times from column ts, assigned inside the source.
    with_ts = package.column_timestamps(source, strategy, "ts")
    if strategy_in_source:
        ds = env.from_source(source, with_ts, "kafka-in", type_info=b.type_info())
    else:
        ds = env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka-in",
                             type_info=b.type_info())
        ds = DataStream(ds._j_data_stream.assignTimestampsAndWatermarks(
            with_ts._j_watermark_strategy))

    class Observe(ProcessFunction):
        def process_element(self, value, ctx):
            yield Row(value[0], ctx.timestamp(), ctx.timer_service().current_watermark())

    out_cols = "id BIGINT, ts BIGINT, wm BIGINT"
    (ds.process(Observe(), output_type=package.row_type_info(out_cols))
     .sink_to(package.HeadraceKafkaSink.builder().set_columns(out_cols)
              .set_properties_bootstrap_servers(kafka.bootstrap).set_topic(out_topic)
              .set_value_format("json").build()))
    return env.execute_async("headrace datastream per-split watermarks"), src_topic, out_topic


def _run(package, kafka, strategy_in_source: bool):
    """The job, fed in three steps; returns what the ProcessFunction observed, by id."""
    job, src_topic, out_topic = _start(package, kafka, strategy_in_source)
    try:
        _wait_ids(kafka, out_topic, range(1, 7))
        time.sleep(3.0)  # many watermark intervals after partition 0 was read
        # Partition 1, behind: ids 101-103 in minute 0, id 104 in minute 8.
        _produce(kafka, src_topic, [(1, 101, 0), (1, 102, 0), (1, 103, 0), (1, 104, 8)])
        _wait_ids(kafka, out_topic, [101, 102, 103, 104])
        time.sleep(3.0)
        # A last record on partition 0 shows the watermark both partitions have made.
        _produce(kafka, src_topic, [(0, 7, 10)])
        return _wait_ids(kafka, out_topic, range(1, 8))
    finally:
        job.cancel().result()


def test_per_split_watermarks_from_source(package, kafka):
    got = _run(package, kafka, strategy_in_source=True)
    # The assigner ran in the source: every record carries its column's time as its timestamp.
    want_ts = {i: _ts(5, i) for i in range(1, 6)}
    want_ts.update({6: _ts(7, 6), 7: _ts(10, 7), 104: _ts(8, 104)})
    want_ts.update({i: _ts(0, i) for i in (101, 102, 103)})
    assert {i: ts for i, (ts, _wm) in got.items()} == want_ts, got
    # Partition 1 had no record while partition 0 was read: its split held the watermark back,
    # so its minute-0 records are on time (with one watermark over the reader, they would arrive
    # behind minute 7 less the delay).
    late = {i: v for i, v in got.items() if v[1] >= v[0]}
    assert late == {}, f"records behind the watermark when they arrived: {late}"
    for i in (101, 102, 103):
        assert got[i][1] == LONG_MIN, got
    # Once both partitions have records, the watermark is the lesser partition's: partition 0 is
    # at minute 7, partition 1 at minute 8.
    assert got[7][1] == _ts(7, 6) - DELAY_MS - 1, got


def test_one_watermark_after_the_source_makes_the_lagging_partition_late(package, kafka):
    """The counterpart: the same strategy after the source sees one stream, its watermark is past
    partition 1's minute-0 records when they come, and ends at the greater partition's time."""
    got = _run(package, kafka, strategy_in_source=False)
    for i in (101, 102, 103):
        assert got[i][1] == _ts(7, 6) - DELAY_MS - 1, got
        assert got[i][1] >= got[i][0], got
    assert got[7][1] == _ts(8, 104) - DELAY_MS - 1, got


@pytest.mark.parametrize("idleness_ms", [None, 1_000])
def test_split_without_records_holds_the_watermark_unless_idle(package, kafka, idleness_ms):
    """Partition 1 never gets a record. Without idleness its split holds the reader's watermark at
    the start; with ``with_idleness`` it stops counting after the timeout (Flink's idleness per
    split output), and the watermark follows partition 0."""
    job, src_topic, out_topic = _start(package, kafka, True, idleness_ms)
    try:
        _wait_ids(kafka, out_topic, range(1, 7))
        time.sleep(3.0)  # past the idle timeout
        _produce(kafka, src_topic, [(0, 7, 10)])
        _wait_ids(kafka, out_topic, range(1, 8))
        time.sleep(3.0)
        _produce(kafka, src_topic, [(0, 8, 11)])
        got = _wait_ids(kafka, out_topic, range(1, 9))
    finally:
        job.cancel().result()
    if idleness_ms is None:
        assert got[8][1] == LONG_MIN, got
    else:
        # Partition 0 alone: its watermark after id 7 (minute 10), less the delay.
        assert got[8][1] == _ts(10, 7) - DELAY_MS - 1, got
