"""confluent-kafka's side of formats/avro/tests/registry.rs: a real Kafka broker and a real
Confluent-compatible schema registry (the test kit's Apicurio), both reached by confluent-kafka.

usage:
  registry_kafka.py produce <registry url> <bootstrap> <topic> <in.hex>
      Decodes the Confluent wire-format records of <in.hex> (one hex line each, written by
      Headrace) with AvroDeserializer, then produces the decoded values to <topic> with
      AvroSerializer (writer schema: the one the records carried; subject <topic>-value).
  registry_kafka.py produce-evolving <registry url> <bootstrap> <topic> -
      Produces two records with a first schema (id, name, legacy) and one with a second (id,
      name, added: legacy removed, added with a default), both registered under <topic>-value.
  registry_kafka.py consume <registry url> <bootstrap> <topic> <count>
      Consumes <count> records of <topic> from the beginning and decodes their values (and keys,
      when there are) with AvroDeserializer.
Prints {"rows": [...normalised values...], "ids": [schema id of each value], "keys": [...]} on
stdout.
"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from norm import norm


def schema_id(b):
    assert b[0] == 0, f"magic byte {b[0]}"
    return int.from_bytes(b[1:5], "big")


def produce(client, bootstrap, topic, path):
    records = [bytes.fromhex(line) for line in open(path).read().split()]
    deser = AvroDeserializer(client)
    read_ctx = SerializationContext("headrace", MessageField.VALUE)
    values = [deser(r, read_ctx) for r in records]
    writer = client.get_schema(schema_id(records[0])).schema_str
    ser = AvroSerializer(client, writer)
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer = Producer({"bootstrap.servers": bootstrap})
    ids = []
    for v in values:
        data = ser(v, ctx)
        ids.append(schema_id(data))
        producer.produce(topic, value=data)
    left = producer.flush(60)
    assert left == 0, f"{left} records not delivered"
    return values, ids


def produce_evolving(client, bootstrap, topic):
    def schema(last):
        return json.dumps({"type": "record", "name": "record", "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": ["null", "string"], "default": None},
            last,
        ]})
    v1 = AvroSerializer(client, schema({"name": "legacy", "type": ["null", "int"], "default": None}))
    v2 = AvroSerializer(client, schema({"name": "added", "type": ["null", "string"], "default": None}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    values = [
        (v1, {"id": 1, "name": "old", "legacy": 7}),
        (v1, {"id": 2, "name": None, "legacy": None}),
        (v2, {"id": 3, "name": "new", "added": "x"}),
    ]
    producer = Producer({"bootstrap.servers": bootstrap})
    ids = []
    for ser, v in values:
        data = ser(v, ctx)
        ids.append(schema_id(data))
        producer.produce(topic, value=data)
    left = producer.flush(60)
    assert left == 0, f"{left} records not delivered"
    return [v for _, v in values], ids


def consume(client, bootstrap, topic, count):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "headrace-registry-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    deser = AvroDeserializer(client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    key_ctx = SerializationContext(topic, MessageField.KEY)
    values, ids, keys = [], [], []
    deadline = time.time() + 120
    while len(values) < count and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(str(m.error()))
        ids.append(schema_id(m.value()))
        values.append(deser(m.value(), ctx))
        keys.append(deser(m.key(), key_ctx) if m.key() else None)
    consumer.close()
    assert len(values) == count, f"consumed {len(values)} of {count} records of {topic}"
    return values, ids, keys


def main():
    cmd, url, bootstrap, topic, arg = sys.argv[1:6]
    client = SchemaRegistryClient({"url": url})
    keys = None
    if cmd == "produce":
        values, ids = produce(client, bootstrap, topic, arg)
    elif cmd == "produce-evolving":
        values, ids = produce_evolving(client, bootstrap, topic)
    elif cmd == "consume":
        values, ids, keys = consume(client, bootstrap, topic, int(arg))
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps({"rows": norm(values), "ids": ids, "keys": norm(keys)}))


if __name__ == "__main__":
    main()
