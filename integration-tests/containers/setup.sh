#!/usr/bin/env bash
# Prepares this machine to run Headrace's container-based integration tests.
#
# Idempotent: every step checks first and does nothing when already done, so it
# is safe to run on every CI run and by hand. Needs root (it installs Debian
# packages and runs rootful podman).
#
#   1. installs podman, runc, debootstrap (and helpers) from Debian's packages,
#      running `apt-get update` only when an install needs it;
#   2. writes /etc/containers/containers.conf (runc runtime, ulimits the
#      sandbox allows);
#   3. starts podman's Docker-compatible API service on
#      unix:///run/podman/podman.sock unless it already answers, and waits
#      until it answers;
#   4. builds the base image localhost/headrace-base:bookworm with debootstrap
#      unless it exists (the root file system tarball is cached under
#      $HOME/.cache/headrace/base/ so a later rebuild takes seconds);
#   5. checks that the API really starts a container (a service whose working
#      directory was deleted answers pings but cannot start containers); restarts
#      the service once if this script started it.
#
# Environment (all optional):
#   HEADRACE_CACHE_DIR      cache directory (default $HOME/.cache/headrace)
#   HEADRACE_PODMAN_SOCKET  API socket path (default /run/podman/podman.sock)
#   HEADRACE_DEBIAN_MIRROR  mirror for debootstrap (default http://deb.debian.org/debian)
#   HEADRACE_REBUILD_BASE=1 rebuild the base image (and its cached tarball)
#
# After it: export DOCKER_HOST=unix:///run/podman/podman.sock
# Then build the service images: integration-tests/containers/build-images.sh
set -euo pipefail

CACHE_DIR="${HEADRACE_CACHE_DIR:-$HOME/.cache/headrace}"
SOCKET_PATH="${HEADRACE_PODMAN_SOCKET:-/run/podman/podman.sock}"
MIRROR="${HEADRACE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
BASE_IMAGE="localhost/headrace-base:${SUITE}"
BASE_TARBALL="${CACHE_DIR}/base/headrace-base-${SUITE}-rootfs.tar"
# openssl: formats/avro's registry TLS tests make their certificates with it.
PACKAGES=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs netavark aardvark-dns curl ca-certificates openssl)

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    die "run as root (it installs Debian packages and runs rootful podman)"
fi
mkdir -p "$CACHE_DIR"

# --- 1. packages -------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Try with the package lists there are; refresh them only when that fails
    # (or when there are none at all).
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null \
        || ! apt-get install -y -q "${missing[@]}" >"$CACHE_DIR/apt-install.log" 2>&1; then
        log "apt-get update"
        apt-get update -q >"$CACHE_DIR/apt-update.log" 2>&1 \
            || die "apt-get update failed; see $CACHE_DIR/apt-update.log"
        apt-get install -y -q "${missing[@]}" >"$CACHE_DIR/apt-install.log" 2>&1 \
            || die "apt-get install failed; see $CACHE_DIR/apt-install.log"
    fi
else
    log "packages present: ${PACKAGES[*]}"
fi

# --- 2. containers.conf ------------------------------------------------------
# crun fails here ("cgroups in hybrid mode not supported"); runc works. The
# default nofile rlimit (1048576) is refused without CAP_SYS_RESOURCE.
CONF=/etc/containers/containers.conf
WANT_CONF='# Written by Headrace integration-tests/containers/setup.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"'
if [ "$(cat "$CONF" 2>/dev/null || true)" != "$WANT_CONF" ]; then
    mkdir -p /etc/containers
    if [ -e "$CONF" ]; then
        cp "$CONF" "$CONF.headrace-backup"
        log "previous $CONF saved as $CONF.headrace-backup"
    fi
    printf '%s\n' "$WANT_CONF" >"$CONF"
    log "wrote $CONF"
fi

# --- 3. Docker-compatible API service -----------------------------------------
PID_FILE="$CACHE_DIR/podman-service.pid"
socket_answers() {
    curl -sf --max-time 5 --unix-socket "$SOCKET_PATH" http://d/_ping 2>/dev/null | grep -q OK
}
start_service() {
    log "starting podman system service on unix://$SOCKET_PATH"
    mkdir -p "$(dirname "$SOCKET_PATH")"
    rm -f "$SOCKET_PATH"
    # Detached from this shell (own session, no inherited descriptors) so that it
    # outlives the script and holds no CI pipe open; from / so that it does not
    # depend on a working directory that may be deleted (its container starts then
    # fail with "write child: broken pipe").
    (cd / && exec setsid nohup podman system service --time=0 "unix://$SOCKET_PATH" \
        </dev/null >"$CACHE_DIR/podman-service.log" 2>&1) &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 300); do
        socket_answers && break
        sleep 0.1
    done
    socket_answers || die "podman API did not answer within 30 s; see $CACHE_DIR/podman-service.log"
    log "podman API answers (pid $(cat "$PID_FILE"))"
}
# Stops the service only if this script started it (pid file, same command line).
stop_own_service() {
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "podman system service"; then
        log "stopping podman service pid $pid"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        return 0
    fi
    return 1
}
if socket_answers; then
    log "podman API answers on unix://$SOCKET_PATH"
else
    start_service
fi

# --- 4. base image -------------------------------------------------------------
if [ "${HEADRACE_REBUILD_BASE:-0}" = 1 ]; then
    rm -f "$BASE_TARBALL"
    podman image rm -f "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
if podman image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE present"
else
    if [ ! -s "$BASE_TARBALL" ]; then
        started=$SECONDS
        log "debootstrap --variant=minbase $SUITE (about a minute)"
        rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
        trap 'rm -rf "$rootfs"' EXIT
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
            || die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
        # Same sources as Debian's own images (updates and security included).
        rm -f "$rootfs/etc/apt/sources.list"
        cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
        # Like debian:bookworm-slim: no docs, man pages or translations.
        cat >"$rootfs/etc/dpkg/dpkg.cfg.d/headrace-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
SLIM
        cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
            "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
        : >"$rootfs/etc/hostname"
        mkdir -p "$(dirname "$BASE_TARBALL")"
        tar --numeric-owner -C "$rootfs" -cf "$BASE_TARBALL.tmp" .
        mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
        rm -rf "$rootfs"
        trap - EXIT
        log "root file system cached as $BASE_TARBALL ($((SECONDS - started)) s)"
    else
        log "using cached root file system $BASE_TARBALL"
    fi
    started=$SECONDS
    podman import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
    log "imported $BASE_IMAGE ($((SECONDS - started)) s)"
fi

# --- 5. smoke test: the API can really start a container ---------------------
api() { curl -s --max-time 60 --unix-socket "$SOCKET_PATH" -H 'Content-Type: application/json' "$@"; }
smoke_test() {
    local name="headrace-setup-smoke-$$" id status
    api -X DELETE "http://d/containers/$name?force=true" >/dev/null || true
    id="$(api -X POST -d "{\"Image\":\"$BASE_IMAGE\",\"Cmd\":[\"true\"]}" \
        "http://d/containers/create?name=$name" | sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')"
    [ -n "$id" ] || return 1
    status="$(api -o "$CACHE_DIR/smoke-start.json" -w '%{http_code}' -X POST "http://d/containers/$id/start")"
    api -X POST "http://d/containers/$id/wait" >/dev/null || true
    api -X DELETE "http://d/containers/$id?force=true" >/dev/null || true
    [ "$status" = 204 ] || [ "$status" = 304 ]
}
if smoke_test; then
    log "smoke test: the API started a container"
elif stop_own_service; then
    start_service
    smoke_test || die "the API cannot start containers: $(cat "$CACHE_DIR/smoke-start.json" 2>/dev/null); see $CACHE_DIR/podman-service.log"
    log "smoke test: the API started a container after a restart of the service"
else
    die "the API at unix://$SOCKET_PATH cannot start containers: $(cat "$CACHE_DIR/smoke-start.json" 2>/dev/null). It was not started by this script; stop it and run this script again"
fi

cat >&2 <<GUIDE
[setup] ready. Point Docker clients (testcontainers, docker CLI) at podman with:
    export DOCKER_HOST=unix://${SOCKET_PATH}
[setup] then build the service images with:
    integration-tests/containers/build-images.sh
GUIDE
