#!/usr/bin/env bash
# Builds the service images of Headrace's integration tests.
#
#   integration-tests/containers/build-images.sh [NAME...]
#
# NAME is a directory beside this script holding a Containerfile (kafka,
# postgres, mariadb, ...); without names every such directory is built.
# Each image is tagged
#     localhost/headrace-NAME:HASH   and   localhost/headrace-NAME:latest
# where HASH is the sha256 (first 16 hex digits) of every file in the
# directory (Containerfile, pom.xml, scripts, configs) plus the base image id.
# When the HASH tag exists the build is skipped, so this is cheap to run on
# every CI run. Older HASH tags of the same image are removed.
#
# A directory with a pom.xml gets its jars from Maven Central:
#     mvn dependency:copy-dependencies -DoutputDirectory=<context>/lib
# (local repository: Maven's default, $HOME/.m2). The build context is staged
# under $HOME/.cache/headrace/build/NAME, never inside the repository.
#
# Environment (all optional):
#   HEADRACE_CONTAINER_CLI  podman (default) or docker
#   HEADRACE_BASE_IMAGE     base image (default localhost/headrace-base:bookworm,
#                           made by setup.sh); with Docker Hub e.g.
#                           HEADRACE_CONTAINER_CLI=docker HEADRACE_BASE_IMAGE=debian:bookworm-slim
#   HEADRACE_CACHE_DIR      cache directory (default $HOME/.cache/headrace)
#   HEADRACE_FORCE_BUILD=1  build even when the HASH tag exists
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${HEADRACE_CACHE_DIR:-$HOME/.cache/headrace}"
CLI="${HEADRACE_CONTAINER_CLI:-podman}"
BASE="${HEADRACE_BASE_IMAGE:-localhost/headrace-base:bookworm}"
# Build order when no names are given (most needed first); other directories follow.
ORDER=(kafka postgres mariadb opensearch hbase)

log() { printf '[build-images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build-images] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$CLI" >/dev/null 2>&1 || die "$CLI not found; run integration-tests/containers/setup.sh first"
mkdir -p "$CACHE_DIR/build"

# One build at a time on this machine (tests or people may call this concurrently).
exec 9>"$CACHE_DIR/build-images.lock"
flock 9

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for n in "${ORDER[@]}"; do
        [ -f "$HERE/$n/Containerfile" ] && names+=("$n")
    done
    for f in "$HERE"/*/Containerfile; do
        [ -e "$f" ] || continue
        n="$(basename "$(dirname "$f")")"
        case " ${names[*]} " in *" $n "*) ;; *) names+=("$n") ;; esac
    done
fi

if ! base_id="$("$CLI" image inspect --format '{{.Id}}' "$BASE" 2>/dev/null)"; then
    case "$BASE" in
        localhost/*) die "base image $BASE is missing; run integration-tests/containers/setup.sh" ;;
        *)
            log "pulling $BASE"
            "$CLI" pull "$BASE" >&2 || die "cannot pull $BASE"
            base_id="$("$CLI" image inspect --format '{{.Id}}' "$BASE")"
            ;;
    esac
fi

# podman prints ids bare, Docker with a "sha256:" prefix: hash the same text for both.
base_id="${base_id#sha256:}"

# Hash of the inputs: base image id + every file of the directory (path and
# content), ignoring lib/ and target/ that a by-hand Maven run may leave there.
input_hash() {
    local dir="$1"
    {
        printf 'base %s\n' "$base_id"
        (cd "$dir" && find . -type f ! -path './lib/*' ! -path './target/*' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}

built=0
for name in "${names[@]}"; do
    ctx="$HERE/$name"
    [ -f "$ctx/Containerfile" ] || die "no Containerfile in $ctx"
    repo="localhost/headrace-$name"
    hash="$(input_hash "$ctx")"
    tag="$repo:$hash"
    if [ "${HEADRACE_FORCE_BUILD:-0}" != 1 ] && "$CLI" image inspect "$tag" >/dev/null 2>&1; then
        "$CLI" tag "$tag" "$repo:latest"
        log "$tag is up to date"
        continue
    fi

    started=$SECONDS
    stage="$CACHE_DIR/build/$name"
    rm -rf "$stage"
    mkdir -p "$stage"
    (cd "$ctx" && tar --exclude=./lib --exclude=./target -cf - .) | tar -C "$stage" -xf -
    if [ -f "$stage/pom.xml" ]; then
        log "$name: resolving jars from Maven Central (pom.xml)"
        if ! mvn -q -B -Dstyle.color=never -f "$stage/pom.xml" dependency:copy-dependencies \
            -DoutputDirectory="$stage/lib" >"$CACHE_DIR/build/$name-mvn.log" 2>&1; then
            tail -n 40 "$CACHE_DIR/build/$name-mvn.log" >&2
            die "$name: Maven could not resolve the jars; see $CACHE_DIR/build/$name-mvn.log"
        fi
        rm -rf "$stage/target"
    fi
    log "$name: building $tag (log: $CACHE_DIR/build/$name-build.log)"
    if ! "$CLI" build --build-arg "BASE=$BASE" --label "dev.headrace.input-hash=$hash" \
        -t "$tag" -t "$repo:latest" -f "$stage/Containerfile" "$stage" \
        >"$CACHE_DIR/build/$name-build.log" 2>&1; then
        tail -n 40 "$CACHE_DIR/build/$name-build.log" >&2
        die "$name: image build failed; see $CACHE_DIR/build/$name-build.log"
    fi
    rm -rf "$stage"
    built=$((built + 1))
    log "$name: built $tag in $((SECONDS - started)) s"

    # Drop older hash tags of this image (ignore those still used by a container).
    for old in $("$CLI" images --format '{{.Repository}}:{{.Tag}}' | grep "^$repo:" || true); do
        case "$old" in
            "$tag" | "$repo:latest") ;;
            *) "$CLI" rmi "$old" >/dev/null 2>&1 || true ;;
        esac
    done
done
log "done (${#names[@]} image(s), $built built)"
