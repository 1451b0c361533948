#!/usr/bin/env bash
# Builds the Flink bridge (the Rust native libraries and the Maven jar), makes sure PyFlink with pytest
# is installed (benches/flink/setup.sh, one venv per Flink version cached under ~/.cache/headrace), and
# runs the PyFlink tests in local mode. Idempotent. Fails (never skips) when Java, Maven or PyFlink is
# missing.
#
#   python-wrappers/run-tests.sh [--flink VERSION] [--core] [pytest arguments...]
#
# --flink VERSION   the apache-flink release from PyPI to run under (default 2.3.0, or
#                   $HEADRACE_FLINK_VERSION). The jar is always the same one, compiled against 2.3.0.
#                   Tested: 1.20.5, 2.0.2, 2.1.3, 2.2.1, 2.3.0.
# --core            only the core subset (conftest.py's CORE_TESTS), as CI runs for the older versions.
# Other arguments go to pytest (e.g. -k datagen). With HEADRACE_BRIDGE_LIB, HEADRACE_LINES_LIB and
# HEADRACE_BRIDGE_JAR all set, those files are tested and nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/headrace-target}"

flink_version="${HEADRACE_FLINK_VERSION:-2.3.0}"
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --flink)
      if [ $# -lt 2 ]; then
        echo "python-wrappers/run-tests.sh: --flink needs a version, e.g. --flink 2.0.2" >&2
        exit 1
      fi
      flink_version="$2"
      shift 2
      ;;
    --flink=*)
      flink_version="${1#--flink=}"
      shift
      ;;
    --core)
      pytest_args+=(--headrace-core)
      shift
      ;;
    *)
      pytest_args+=("$1")
      shift
      ;;
  esac
done

for tool in java javac mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "python-wrappers/run-tests.sh: '$tool' is not installed; the Flink bridge needs a JDK 17 and Maven (apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

if [ -n "${HEADRACE_BRIDGE_LIB:-}" ] && [ -n "${HEADRACE_LINES_LIB:-}" ] && [ -n "${HEADRACE_BRIDGE_JAR:-}" ]; then
  # Outputs built (and copied aside) beforehand, e.g. by someone sharing the target directories.
  echo "python-wrappers/run-tests.sh: using the given HEADRACE_BRIDGE_LIB, HEADRACE_LINES_LIB and HEADRACE_BRIDGE_JAR (no build)" >&2
else
  # The built-in library with the Kafka connectors (librdkafka built from source, linked
  # statically) and the Avro formats, as the wheel ships it.
  cargo build -q -p headrace-bridge-builtin -p headrace-example-lines-bridge \
    --features headrace-bridge-builtin/kafka,headrace-bridge-builtin/avro
  (cd python-wrappers/java && mvn -q -B package -DskipTests)
  export HEADRACE_BRIDGE_LIB="$CARGO_TARGET_DIR/debug/libheadrace_bridge_builtin.so"
  export HEADRACE_LINES_LIB="$CARGO_TARGET_DIR/debug/libheadrace_example_lines_bridge.so"
  export HEADRACE_BRIDGE_JAR="$PWD/python-wrappers/java/target/headrace-flink-bridge-0.1.0.jar"
fi

venv="$(bash benches/flink/setup.sh "$flink_version" | tail -1)"
if ! "$venv/bin/python" -c 'import pytest, wheel, confluent_kafka' >/dev/null 2>&1; then
  # confluent-kafka: the Kafka tests create topics, produce and read back (read_committed) with it.
  "$venv/bin/python" -m pip install --quiet pytest wheel confluent-kafka
fi

# The jar is compiled against 2.3.0. Every Flink class, method and field it refers to must exist in
# this release's jars (PyFlink's lib/): checked here from the jar's class files, so a
# NoSuchMethodError that no test's code path reaches still fails, by name. Under another release the
# sources are also compiled against that release (an interface method the bridge does not implement
# there, for one, shows only so). The tests then show the running behaviour.
pyflink_home="$("$venv/bin/python" -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')"
if ! java python-wrappers/tests/linkage/LinkageCheck.java "$HEADRACE_BRIDGE_JAR" "$pyflink_home/lib"; then
  echo "python-wrappers/run-tests.sh: the bridge jar refers to Flink APIs that Flink $flink_version lacks (listed above)" >&2
  exit 1
fi
# Flink 1.x: Sink.createWriter(InitContext), removed in 2.0, is still abstract in 1.20, so HeadraceSink
# (which implements its replacement, createWriter(WriterInitContext)) does not compile there. 1.20's
# runtime only calls the replacement (SinkWriterOperator and its state handlers; Sink's default
# createWriter(WriterInitContext) is overridden), so that one error, and only it, is accepted.
known_1x_error="HeadraceSink is not abstract and does not override abstract method createWriter(InitContext) in Sink"
if [ "$flink_version" != "2.3.0" ]; then
  classes="$(mktemp -d)"
  if ! javac -nowarn -proc:none -d "$classes" -cp "$pyflink_home/lib/*" \
      $(find python-wrappers/java/src/main/java -name '*.java') >"$classes/javac.log" 2>&1; then
    if [[ "$flink_version" == 1.* ]] && [ "$(grep -c ': error: ' "$classes/javac.log")" = 1 ] \
        && grep -qF "$known_1x_error" "$classes/javac.log"; then
      echo "python-wrappers/run-tests.sh: Flink $flink_version: the sources compile but for the deprecated Sink.createWriter(InitContext) of 1.x, which its runtime does not call" >&2
    else
      cat "$classes/javac.log" >&2
      rm -rf "$classes"
      echo "python-wrappers/run-tests.sh: the bridge's Java sources do not compile against Flink $flink_version's jars ($pyflink_home/lib): they use an API that release lacks" >&2
      exit 1
    fi
  fi
  rm -rf "$classes"
fi

# conftest.py checks that the venv's PyFlink is the version asked for.
export HEADRACE_EXPECT_FLINK="$flink_version"
echo "python-wrappers/run-tests.sh: PyFlink $flink_version ($venv)" >&2
cd python-wrappers/tests
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider ${pytest_args[@]+"${pytest_args[@]}"}
