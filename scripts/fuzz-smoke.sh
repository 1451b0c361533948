#!/usr/bin/env bash
# Bounded libFuzzer run of every decoder's fuzz target (fuzz/, see fuzz/README.md).
#
# Idempotent: installs the nightly toolchain (minimal profile) and cargo-fuzz when missing (into
# ~/.rustup and ~/.cargo/bin), builds with CARGO_TARGET_DIR=$HOME/.cache/headrace-fuzz-target and
# keeps the growing corpora under $HOME/.cache/headrace-fuzz-corpus: nothing is written into the
# clone. Each target runs FUZZ_SECONDS (default 20) seeded from fuzz/corpus/<target>/; an input
# taking over FUZZ_TIMEOUT seconds (default 10) counts as a crash.
# FUZZ_TARGETS="json csv" limits the run to some targets; FUZZ_SKIP="avro_confluent" leaves
# some out. Exits non-zero on any crash, printing
# the reproducer and how to replay it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$HOME/.cache/headrace-fuzz-target"
work="$HOME/.cache/headrace-fuzz-corpus"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
if ! cargo +nightly fuzz build -O; then
    echo "fuzz-smoke: building the fuzz targets failed (run 'cargo +nightly fuzz build -O' in fuzz/)" >&2
    exit 1
fi

failed=()
for t in $targets; do
    if [[ " ${FUZZ_SKIP:-} " == *" $t "* ]]; then
        echo "fuzz-smoke: $t skipped (FUZZ_SKIP)"
        continue
    fi
    corpus="$work/$t"
    artifacts="$work/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    log="$work/$t.log"
    echo "fuzz-smoke: $t for ${seconds}s"
    # The first corpus directory collects new inputs; the checked-in seeds are read only.
    if cargo +nightly fuzz run -O "$t" "$corpus" "$root/fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$log" | sed "s/^/  /" || true
    else
        failed+=("$t")
        echo "fuzz-smoke: $t FAILED; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        for a in $(grep -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | sort -u); do
            echo "fuzz-smoke: reproducer $artifacts/$a" >&2
            echo "  replay: (cd $root/fuzz && cargo +nightly fuzz run -O $t $artifacts/$a)" >&2
        done
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz-smoke: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz-smoke: all targets ran ${seconds}s without a crash"
