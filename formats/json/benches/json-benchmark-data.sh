#!/usr/bin/env bash
# The standard JSON corpora of serde-rs/json-benchmark (canada.json, citm_catalog.json,
# twitter.json; 4.6 MB, not kept in this repository) for the `json_benchmark` bench, fetched once
# into $HOME/.cache/headrace/json-benchmark (or $HEADRACE_JSON_BENCHMARK_DIR) at a pinned commit
# and checked against their SHA-256. Idempotent. With JSON_BENCHMARK_REPO set to a local clone
# of serde-rs/json-benchmark the files are taken from it instead of the network.
set -euo pipefail

commit=17b13dd2d7a5e5fdd5594e847077932f955b5e2b
dir="${HEADRACE_JSON_BENCHMARK_DIR:-$HOME/.cache/headrace/json-benchmark}"
mkdir -p "$dir"
declare -A sha=(
    [canada]=f83b3b354030d5dd58740c68ac4fecef64cb730a0d12a90362a7f23077f50d78
    [citm_catalog]=a73e7a883f6ea8de113dff59702975e60119b4b58d451d518a929f31c92e2059
    [twitter]=a08b769f32b95f426cbc3abafcec65c1a19d3eb544d4ddf320eae142c99efc5d
)
for f in canada citm_catalog twitter; do
    out="$dir/$f.json"
    if [ -f "$out" ] && echo "${sha[$f]}  $out" | sha256sum -c --quiet 2>/dev/null; then
        continue
    fi
    if [ -n "${JSON_BENCHMARK_REPO:-}" ]; then
        git -C "$JSON_BENCHMARK_REPO" show "$commit:data/$f.json" >"$out.tmp"
    else
        curl -fsSL "https://raw.githubusercontent.com/serde-rs/json-benchmark/$commit/data/$f.json" -o "$out.tmp"
    fi
    echo "${sha[$f]}  $out.tmp" | sha256sum -c --quiet
    mv "$out.tmp" "$out"
done
echo "$dir"
