#!/usr/bin/env bash
# Builds the Flink bridge (the Rust native libraries and the Maven jar), makes sure PyFlink 2.3.0 with
# pytest is installed (benches/flink/setup.sh, cached under ~/.cache/headrace), and runs the PyFlink
# tests in local mode. Idempotent. Fails (never skips) when Java, Maven or PyFlink is missing.
# Extra arguments go to pytest (e.g. -k datagen).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/headrace-target}"

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "python-wrappers/run-tests.sh: '$tool' is not installed; the Flink bridge needs a JDK 17 and Maven (apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

# The built-in library with the Kafka connectors (librdkafka built from source, linked statically)
# and the Avro formats, as the wheel ships it.
cargo build -q -p headrace-bridge-builtin -p headrace-example-lines-bridge \
  --features headrace-bridge-builtin/kafka,headrace-bridge-builtin/avro
(cd python-wrappers/java && mvn -q -B package -DskipTests)

venv="$(bash benches/flink/setup.sh | tail -1)"
if ! "$venv/bin/python" -c 'import pytest, wheel, confluent_kafka' >/dev/null 2>&1; then
  # confluent-kafka: the Kafka tests create topics, produce and read back (read_committed) with it.
  "$venv/bin/python" -m pip install --quiet pytest wheel confluent-kafka
fi

export HEADRACE_BRIDGE_LIB="$CARGO_TARGET_DIR/debug/libheadrace_bridge_builtin.so"
export HEADRACE_LINES_LIB="$CARGO_TARGET_DIR/debug/libheadrace_example_lines_bridge.so"
export HEADRACE_BRIDGE_JAR="$PWD/python-wrappers/java/target/headrace-flink-bridge-0.1.0.jar"
cd python-wrappers/tests
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
