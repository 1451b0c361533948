#!/bin/sh
# Entrypoint of the headrace-postgres test image. On first start creates a
# cluster in $PGDATA with superuser $POSTGRES_USER / $POSTGRES_PASSWORD and
# database $POSTGRES_DB (defaults headrace/headrace/headrace); then runs the
# server in the foreground as user postgres, listening on 0.0.0.0:5432 with
# password (md5/SCRAM) authentication from any host and logical decoding
# enabled. A restarted container keeps its data. Extra server settings:
# arguments to the container are passed to postgres (e.g. -c max_connections=200).
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=headrace}"
: "${POSTGRES_PASSWORD:=headrace}"
: "${POSTGRES_DB:=headrace}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=md5 --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    rm -f "$pwfile"
    cat >>"$PGDATA/pg_hba.conf" <<HBA
# headrace: password authentication from any host, replication included.
host all all all md5
host replication all all md5
HBA
    cat >>"$PGDATA/postgresql.conf" <<CONF
# headrace test settings
listen_addresses = '*'
unix_socket_directories = '/var/run/postgresql'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
fsync = off
synchronous_commit = off
full_page_writes = off
log_destination = 'stderr'
logging_collector = off
CONF
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
            | as_postgres postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "[headrace-postgres] created cluster in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
