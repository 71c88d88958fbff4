#!/usr/bin/env bash
# Start (if not running) a throwaway PostgreSQL server on loopback for the tests, and print
# its URL. Idempotent: a second call finds the running server and prints the same URL.
# Uses Debian's postgresql server binaries; installs them if missing.
set -euo pipefail
PORT="${OUTPOST_PG_PORT:-54329}"
DIR="${OUTPOST_PG_DIR:-/tmp/outpost-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "installing PostgreSQL (Debian package)..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  as_pg "$BIN/initdb" -D "$DIR" -A trust -U postgres >/dev/null
fi
if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" -w start >/dev/null
fi
# Tests make a database each (`t_…`) and leave it; drop those untouched for an hour, so the
# server's folder does not grow run after run on the same machine (best effort: a database
# still in use is refused by DROP and kept).
PSQL="$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -d postgres -Atq"
for row in $($PSQL -c "SELECT oid || ':' || datname FROM pg_database WHERE datname LIKE 't\_%'" 2>/dev/null); do
  oid="${row%%:*}"; name="${row#*:}"
  if [ -n "$(find "$DIR/base/$oid" -maxdepth 0 -mmin +60 2>/dev/null)" ]; then
    $PSQL -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 || true
  fi
done
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
