"""Reads Confluent wire-format records written by Headrace with confluent-kafka's
AvroDeserializer, then writes the same records back with its AvroSerializer. Both use
confluent-kafka's in-memory registry (mock://), in which the schema is registered first, so its
id is 1 as in the registry the Rust side used.

usage: confluent.py <schema.json> <in.hex> <out.hex>
Prints {"id": <id>, "rows": [...normalised records...]} on stdout.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from norm import norm

schema_text = open(sys.argv[1]).read()
client = SchemaRegistryClient.new_client({"url": "mock://headrace"})
sid = client.register_schema("orders-value", Schema(schema_text, "AVRO"))
ctx = SerializationContext("orders", MessageField.VALUE)
deser = AvroDeserializer(client)
rows = [deser(bytes.fromhex(line), ctx) for line in open(sys.argv[2]).read().split()]
ser = AvroSerializer(client, schema_text)
with open(sys.argv[3], "w") as f:
    for r in rows:
        f.write(ser(r, ctx).hex() + "\n")
print(json.dumps({"id": sid, "rows": norm(rows)}))
