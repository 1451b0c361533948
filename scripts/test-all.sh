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

cargo test --workspace --no-fail-fast
