#!/usr/bin/env bash
# Builds the test schema registry (Apicurio Registry 2.4.2.Final, Confluent-compatible API at
# /apis/ccompat/v6) from Maven Central into $HOME/.cache/headrace/registry/<hash>/ and prints the
# path of its quarkus-run.jar on stdout. Idempotent: when the build for the current inputs
# (this directory's files) exists, it only prints the path. Never writes inside the clone.
#
#   integration-tests/registry/setup.sh          # prints .../quarkus-app/quarkus-run.jar
#   java -Dquarkus.http.port=8081 -jar "$(integration-tests/registry/setup.sh)"
#
# Needs mvn and a JDK 17+ (Debian: apt-get install maven openjdk-17-jdk-headless).
# Environment: HEADRACE_CACHE_DIR (default $HOME/.cache/headrace).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${HEADRACE_CACHE_DIR:-$HOME/.cache/headrace}/registry"

log() { printf '[registry-setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[registry-setup] ERROR: %s\n' "$*" >&2; exit 1; }

hash="$(cd "$HERE" && find . -type f ! -path './target/*' ! -name '*.md' -print0 | sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-16)"
out="$CACHE_DIR/$hash"
jar="$out/quarkus-app/quarkus-run.jar"
if [ -f "$jar" ]; then
    touch "$out"  # marks it in use (see the clean-up below)
    echo "$jar"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (apt-get install -y maven)"
command -v java >/dev/null 2>&1 || die "java not found: install a JDK 17+ (apt-get install -y openjdk-17-jdk-headless)"

mkdir -p "$CACHE_DIR"
# One build at a time (test binaries may call this concurrently).
exec 9>"$CACHE_DIR/build.lock"
flock 9
if [ -f "$jar" ]; then
    echo "$jar"
    exit 0
fi

stage="$CACHE_DIR/build-$hash"
rm -rf "$stage"
mkdir -p "$stage"
cp -a "$HERE/." "$stage/"
rm -rf "$stage/target"
log "building the test schema registry in $stage (Maven Central; about 2 minutes the first time)"
if ! (cd "$stage" && mvn -B -q package -DskipTests -Dquarkus.package.type=fast-jar >"$stage/build.log" 2>&1); then
    tail -n 40 "$stage/build.log" >&2
    die "Maven build failed; full log: $stage/build.log"
fi
[ -f "$stage/target/quarkus-app/quarkus-run.jar" ] || die "the build made no target/quarkus-app/quarkus-run.jar (log: $stage/build.log)"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mv "$stage/target/quarkus-app" "$out.tmp/quarkus-app"
mv "$out.tmp" "$out"
rm -rf "$stage"
# Builds of other inputs not used for a day go: a test run of another checkout may still be using a
# recent one (removing it at once broke a concurrent run's tests).
find "$CACHE_DIR" -mindepth 1 -maxdepth 1 -type d ! -name 'build-*' -mtime +0 -exec rm -rf {} +
log "built $jar"
echo "$jar"
