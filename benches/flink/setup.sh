#!/usr/bin/env bash
# Idempotent setup of a PyFlink venv: the Flink side of the Headrace benchmark, the changelog-format
# cross-checks and the Flink bridge's PyFlink tests.
#
#   bash benches/flink/setup.sh [FLINK_VERSION]     # default 2.3.0; prints the venv's path last
#
# One venv per version, outside the repo (each is ~850 MB): $HOME/.cache/headrace/pyflink-venv for
# 2.3.0 (the default, the version everything is built against), $HOME/.cache/headrace/pyflink-<version>-venv
# for the others (the bridge is also tested against 1.20.5, 2.0.2, 2.1.3 and 2.2.1). pip's cache
# (~/.cache/pip) keeps the wheels for re-installs.
# Override the venv with HEADRACE_PYFLINK_VENV=/some/path, the interpreter with PYTHON=python3.x.
# Everything but the venv's path goes to stderr, so `venv="$(bash benches/flink/setup.sh)"` works.
set -euo pipefail

DEFAULT_VERSION="2.3.0"
FLINK_VERSION="${1:-$DEFAULT_VERSION}"
if ! [[ "$FLINK_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "setup.sh: '$FLINK_VERSION' is not a Flink version; give one as published on PyPI, e.g. 2.0.2" >&2
  exit 1
fi
if [ "$FLINK_VERSION" = "$DEFAULT_VERSION" ]; then
  default_venv="$HOME/.cache/headrace/pyflink-venv"
else
  default_venv="$HOME/.cache/headrace/pyflink-$FLINK_VERSION-venv"
fi
VENV="${HEADRACE_PYFLINK_VENV:-$default_venv}"
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
  {
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install "apache-flink==$FLINK_VERSION"
  } >&2
  got="$(installed_version)"
  if [ "$got" != "$FLINK_VERSION" ]; then
    echo "setup.sh: expected apache-flink $FLINK_VERSION in $VENV, found '${got}'" >&2
    exit 1
  fi
fi

echo "$VENV"
