#!/usr/bin/env bash
# benches/lookup-callgrind.sh [BIN...] — instructions per lookup call, counted.
#
# Builds nothing: runs each release binary given (default $MAMA_BIN or
# ${CARGO_TARGET_DIR:-target}/release/mama) under valgrind's callgrind on a fresh
# SQLite database with BENCH_USERS users (10,000), warms it with BENCH_WARM calls
# (300; the lookup cache then holds ~95 % of the users), zeroes the counters,
# sends BENCH_CALLS (200) lookups of 100 random IDs (a fixed seed) from one
# keep-alive connection, waits 3 s (the sealer and the target indexer finish
# their share), and prints the instructions the whole process executed per call.
# Unlike req/s on a shared 2-core machine, the count repeats to within a fraction
# of a percent whatever else runs, so two builds can be compared on any load:
#   benches/lookup-callgrind.sh /tmp/mama-before /tmp/mama-after
# The profile stays in the printed directory (callgrind_annotate --inclusive=yes FILE).
# It counts user-space instructions only: system calls, context switches and
# fsync waits are not in it (the wrk bench measures those).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- "${MAMA_BIN:-${CARGO_TARGET_DIR:-target}/release/mama}"
USERS=${BENCH_USERS:-10000}; CALLS=${BENCH_CALLS:-200}; WARM=${BENCH_WARM:-300}
PORT=${BENCH_PORT:-18590}
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
OUT=$(mktemp -d /tmp/mama-callgrind.XXXXXX)
export MAMA_THROWAWAY=true LITELLM_BASE_URL= RUST_LOG=warn
# The image's allocator settings (the Dockerfile's GLIBC_TUNABLES, one place for
# the value), unless the caller sets others (empty: glibc's defaults).
IMAGE_TUNABLES=$(sed -n 's/^ *GLIBC_TUNABLES=\([^ \\]*\).*/\1/p' Dockerfile)
[ -n "$IMAGE_TUNABLES" ] || { echo "no GLIBC_TUNABLES in the Dockerfile" >&2; exit 1; }
export GLIBC_TUNABLES=${GLIBC_TUNABLES-$IMAGE_TUNABLES}
calls() { # count seed
  python3 - "$1" "$2" <<'PY'
import http.client, json, os, random, sys
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]))
random.seed(int(sys.argv[2]))
users = int(os.environ["USERS"])
for _ in range(int(sys.argv[1])):
    ids = ["seed-%06d" % random.randrange(users) for _ in range(100)]
    c.request("POST", "/api/v1/keys/lookup", json.dumps({"user_ids": ids}),
              {"Authorization": "Bearer " + os.environ["TOKEN"], "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}
for bin in "$@"; do
  [ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 2; }
  w="$OUT/$(basename "$bin")"; mkdir -p "$w"
  export MAMA_SECRET_KEY=$(head -c 64 /dev/urandom | base64 -w0)
  export MAMA_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
  export DATABASE_URL="sqlite://$w/mama.db?mode=rwc" MAMA_BIND=127.0.0.1:$PORT PORT USERS
  "$bin" users seed --count "$USERS" --prefix seed >/dev/null 2>&1
  TOKEN=$("$bin" api-client create --name bench --scope keys:read --rate-limit 10000000 2>/dev/null | tail -1)
  export TOKEN
  valgrind --tool=callgrind --callgrind-out-file="$w/callgrind.out" "$bin" serve >"$w/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
  calls "$WARM" 1
  sleep 3
  callgrind_control -z "$pid" >/dev/null 2>&1
  calls "$CALLS" 2
  sleep 3
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  total=$(callgrind_annotate "$w/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  awk -v t="$total" -v n="$CALLS" -v b="$bin" 'BEGIN { printf "%s: %.2f M instructions per call (%d in all, %d calls)\n", b, t / n / 1e6, t, n }'
done
echo "profiles: $OUT"
