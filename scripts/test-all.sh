#!/usr/bin/env bash
# Runs Headrace's whole test suite. Idempotent: installs and starts what the tests need first
# (container tooling and images for the integration tests), caching under $HOME/.cache.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/headrace-target}"

if [ -x integration-tests/containers/setup.sh ] || [ -f integration-tests/containers/setup.sh ]; then
  if [ "${HEADRACE_SKIP_CONTAINERS:-0}" != "1" ]; then
    bash integration-tests/containers/setup.sh
    bash integration-tests/containers/build-images.sh
    export DOCKER_HOST="${DOCKER_HOST:-unix:///run/podman/podman.sock}"
  fi
fi

# Tools nobody here wrote, which tests use to read what Headrace writes (pyarrow and DuckDB for
# Parquet). Installed once into a venv under ~/.cache; the tests fail (not skip) when
# HEADRACE_PARQUET_PYTHON names a Python without them.
venv="$HOME/.cache/headrace/venv"
if ! "$venv/bin/python" -c 'import pyarrow, duckdb' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pyarrow duckdb
fi
export HEADRACE_PARQUET_PYTHON="$venv/bin/python"

# Apache Flink itself (PyFlink, ~850 MB venv under ~/.cache; setup.sh is idempotent and prints the
# venv): the changelog-format tests cross-check Headrace against Flink's own formats.
pyflink_venv="$(bash benches/flink/setup.sh)"
export HEADRACE_PYFLINK_PYTHON="$pyflink_venv/bin/python"
# Avro: fastavro and the Apache avro package (with the codec libraries fastavro needs for snappy
# and zstandard) read and write the Avro records and files of formats/avro's interop tests, and
# confluent-kafka's AvroSerializer/AvroDeserializer check the Confluent wire format.
if ! "$venv/bin/python" -c 'import fastavro, avro, cramjam, backports.zstd, confluent_kafka.schema_registry.avro' >/dev/null 2>&1; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet fastavro avro cramjam backports.zstd "confluent-kafka[avro,schemaregistry]"
fi
export HEADRACE_AVRO_PYTHON="$venv/bin/python"
# connectors/kafka interop tests: records produced and consumed by confluent-kafka (librdkafka's
# Python client, installed above).
export HEADRACE_KAFKA_PYTHON="$venv/bin/python"
# Flink's own avro format (flink-sql-avro from Maven Central, cached in ~/.m2) for formats/avro's
# cross-check with Flink's filesystem avro files, run by PyFlink.
flink_avro_jar="$HOME/.m2/repository/org/apache/flink/flink-sql-avro/2.3.0/flink-sql-avro-2.3.0.jar"
if [ ! -f "$flink_avro_jar" ]; then
  mvn -q -B dependency:get -Dartifact=org.apache.flink:flink-sql-avro:2.3.0 -Dtransitive=false
fi
export HEADRACE_FLINK_AVRO_JAR="$flink_avro_jar"
# A real Confluent-compatible schema registry for avro-confluent's tests: Apicurio Registry built
# from Maven Central once into ~/.cache/headrace/registry (the tests start it on free ports).
HEADRACE_REGISTRY_APP="$(bash integration-tests/registry/setup.sh)"
export HEADRACE_REGISTRY_APP
# Flink's own Kafka SQL connector and avro-confluent format (Maven Central, cached in ~/.m2), which
# formats/avro's registry test runs through PyFlink against the same registry and broker.
for artifact in org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2 \
                org.apache.flink:flink-sql-avro-confluent-registry:2.3.0; do
  IFS=: read -r g a v <<<"$artifact"
  if [ ! -f "$HOME/.m2/repository/${g//.//}/$a/$v/$a-$v.jar" ]; then
    mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false
  fi
done

cargo test --workspace --no-fail-fast

# The Flink bridge: PyFlink 2.3.0 from PyPI (cached venv under ~/.cache/headrace), the Maven-built
# jar (~/.m2) and the native libraries, then pytest in PyFlink's local mode.
bash python-wrappers/run-tests.sh

# The same jar (compiled against 2.3.0) and libraries under the older Flink releases on PyPI (2.x and
# 1.20), one cached venv each (~/.cache/headrace/pyflink-<version>-venv): the core subset
# (conftest.CORE_TESTS).
for flink_version in ${HEADRACE_FLINK_MATRIX:-2.2.1 2.1.3 2.0.2 1.20.5}; do
  bash python-wrappers/run-tests.sh --flink "$flink_version" --core
done
