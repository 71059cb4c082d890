#!/usr/bin/env bash
# .ci/pg.sh start|fresh|stop|url — a throwaway PostgreSQL cluster for the test suite.
# `fresh` wipes the cluster first (no databases left over from earlier runs).
# Runs as root; the server itself runs as the OS user `postgres`.
set -euo pipefail
PGDIR=${MAMA_PGDIR:-/tmp/mama-ci-pg}
PGPORT=${MAMA_PGPORT:-55491}
bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { runuser -u postgres -- "$@"; }
url() { echo "postgres://mama@127.0.0.1:$PGPORT/mama_test"; }
case "${1:-start}" in
  fresh)
    bash "$0" stop
    rm -rf "$PGDIR"
    exec bash "$0" start ;;
  start)
    if [ -z "$(bin)" ] || ! id postgres >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    BIN=$(bin)
    mkdir -p "$PGDIR" && chown postgres "$PGDIR" && chmod 700 "$PGDIR"
    [ -f "$PGDIR/data/PG_VERSION" ] || as_pg "$BIN/initdb" -D "$PGDIR/data" -U mama --auth=trust -E UTF8 --no-locale >/dev/null
    if ! as_pg "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
        -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
    fi
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U mama -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mama_test'" | grep -q 1 \
      || as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U mama mama_test
    url ;;
  stop)
    BIN=$(bin); as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true ;;
  url) url ;;
  *) echo "usage: $0 start|fresh|stop|url" >&2; exit 2 ;;
esac
