#!/usr/bin/env bash
# A private PostgreSQL cluster in a folder of ours, on loopback.
#   scripts/pg.sh start DATADIR PORT   -> initdb if needed, start, create role+db "minicloud"; prints DATABASE_URL
#   scripts/pg.sh stop DATADIR         -> fast shutdown of that cluster only
# PG_EXTRA_OPTS adds server options (the test suite passes "-c fsync=off" for its throwaway cluster).
# As root the server runs as the "postgres" system user (PostgreSQL refuses root).
set -euo pipefail

cmd=${1:?usage: pg.sh start DATADIR PORT | stop DATADIR}
datadir=$(realpath -m "${2:?DATADIR}")

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
[ -x "$bindir/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (run scripts/install-deps.sh)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?PORT}
    mkdir -p "$datadir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$datadir"; chmod 700 "$datadir"; fi
    if [ ! -f "$datadir/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$datadir" -U minicloud --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$datadir.initdb.log" 2>&1 \
        || { cat "$datadir.initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c max_connections=200 ${PG_EXTRA_OPTS:-}" start >/dev/null
    fi
    if ! psql -h 127.0.0.1 -p "$port" -U minicloud -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='minicloud'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U minicloud -d postgres -qc "CREATE DATABASE minicloud" >/dev/null
    fi
    echo "postgresql://minicloud@127.0.0.1:$port/minicloud"
    ;;
  stop)
    if [ -f "$datadir/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
    fi
    ;;
  *) echo "usage: pg.sh start DATADIR PORT | stop DATADIR" >&2; exit 2 ;;
esac
