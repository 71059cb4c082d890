#!/usr/bin/env bash
# tools/litellm/stop.sh [--wipe] — stops what start.sh started (pids checked against
# their command lines first); --wipe also deletes the proxy's database.
set -uo pipefail
DIR="${MAMA_LITELLM_DIR:-/tmp/mama-litellm}"
[ -d "$DIR/run" ] || exit 0
DIR="$(cd "$DIR" && pwd)"
running() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
is() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }
stop() { # pid signal seconds
  running "$1" || return 0
  kill "-$2" "$1" 2>/dev/null
  for _ in $(seq $(($3 * 4))); do running "$1" || return 0; sleep 0.25; done
  kill -KILL "$1" 2>/dev/null
}
P="$(cat "$DIR/run/litellm.pid" 2>/dev/null)"; is "$P" litellm && stop "$P" TERM 20
Q="$(cat "$DIR/run/query-engine.pid" 2>/dev/null)"; is "$Q" qe-shim && stop "$Q" TERM 5
G="$(cat "$DIR/run/postgres.pid" 2>/dev/null)"; is "$G" "$DIR/pg/data" && stop "$G" INT 30
rm -f "$DIR/run/"*.pid
[ "${1:-}" = --wipe ] && rm -rf "$DIR/pg"
exit 0
