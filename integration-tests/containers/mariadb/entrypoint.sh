#!/bin/sh
# Entrypoint of the headrace-mariadb test image. On first start creates the
# data directory; at every start makes sure database $MARIADB_DATABASE and user
# $MARIADB_USER@'%' (password $MARIADB_PASSWORD, all privileges) exist and root
# has password $MARIADB_ROOT_PASSWORD (defaults: headrace everywhere), through
# an init file the server runs before it accepts connections. Then runs the
# server in the foreground on 0.0.0.0:3306. A restarted container keeps its
# data. Arguments to the container are passed to mariadbd.
set -eu

: "${MARIADB_USER:=headrace}"
: "${MARIADB_PASSWORD:=headrace}"
: "${MARIADB_DATABASE:=headrace}"
: "${MARIADB_ROOT_PASSWORD:=headrace}"
DATADIR=/var/lib/mysql

mkdir -p "$DATADIR" /run/mysqld
chown mysql:mysql "$DATADIR" /run/mysqld

if [ ! -d "$DATADIR/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=normal --skip-name-resolve >/dev/null
    echo "[headrace-mariadb] created data directory $DATADIR"
fi

sql_quote() { printf '%s' "$1" | sed "s/'/''/g"; }
init=/run/mysqld/headrace-init.sql
cat >"$init" <<SQL
CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;
CREATE USER IF NOT EXISTS '$(sql_quote "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_quote "$MARIADB_PASSWORD")';
ALTER USER '$(sql_quote "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_quote "$MARIADB_PASSWORD")';
GRANT ALL PRIVILEGES ON *.* TO '$(sql_quote "$MARIADB_USER")'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sql_quote "$MARIADB_ROOT_PASSWORD")';
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$(sql_quote "$MARIADB_ROOT_PASSWORD")';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
chown mysql:mysql "$init"
chmod 0600 "$init"

exec mariadbd --user=mysql --datadir="$DATADIR" --init-file="$init" "$@"
