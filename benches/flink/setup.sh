#!/usr/bin/env bash
# Idempotent setup of a PyFlink venv for the Flink side of the Headrace benchmark.
# The venv lives outside the repo (it is ~850 MB): $HOME/.cache/headrace/pyflink-venv
# Override with HEADRACE_PYFLINK_VENV=/some/path, the interpreter with PYTHON=python3.x.
set -euo pipefail

FLINK_VERSION="2.3.0"
VENV="${HEADRACE_PYFLINK_VENV:-$HOME/.cache/headrace/pyflink-venv}"
PYTHON="${PYTHON:-python3}"

# Java 17+ is needed by the PyFlink gateway JVM.
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  echo "setup.sh: no java on PATH and JAVA_HOME unset; install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi

installed_version() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null || true
import importlib.metadata as m
try:
    print(m.version("apache-flink"))
except m.PackageNotFoundError:
    pass
PY
}

if [ -x "$VENV/bin/python" ] && [ "$(installed_version)" = "$FLINK_VERSION" ]; then
  echo "setup.sh: apache-flink $FLINK_VERSION already installed in $VENV" >&2
else
  mkdir -p "$(dirname "$VENV")"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # pip's cache (~/.cache/pip) keeps the large wheels for re-installs.
  "$VENV/bin/python" -m pip install "apache-flink==$FLINK_VERSION"
  got="$(installed_version)"
  if [ "$got" != "$FLINK_VERSION" ]; then
    echo "setup.sh: expected apache-flink $FLINK_VERSION, found '${got}'" >&2
    exit 1
  fi
fi

echo "$VENV"
