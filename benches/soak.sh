#!/usr/bin/env bash
# benches/soak.sh [sqlite|postgres|all] — a long run of mixed load (not in CI).
#
# For each database it starts one mama (the release binary: $MAMA_BIN, default
# ${CARGO_TARGET_DIR:-target}/release/mama; build it with `cargo build --release`)
# on a fresh database (PostgreSQL: a cluster of its own with production
# durability), seeds SOAK_USERS users, and for SOAK_MINUTES minutes (default 30)
# drives, at once:
#   - lookups: POST /api/v1/keys/lookup, 50 random IDs, 4 connections (wrk);
#   - API writes: PATCH /api/v1/users/{id} with a new organisation, 2 connections
#     (wrk); each one is a sync job (sent to LiteLLM when LITELLM_BASE_URL and
#     LITELLM_MASTER_KEY are set, else the jobs wait, as they would);
#   - pages: GET /login and /healthz, 1 connection (wrk).
# Every minute it prints mama's RSS, open file descriptors, database connections
# (the pool from /metrics; on PostgreSQL also pg_stat_activity), requests and 5xx
# so far, and the load average. At the end: wrk's totals, and whether RSS stayed
# within 10 % of its value after the warm-up minute and fds/connections did not
# grow.
#
# Knobs: SOAK_MINUTES (30), SOAK_USERS (10000), SOAK_PORT (18490),
# SOAK_PGPORT (55619), and any MAMA_* / LITELLM_* variable (passed to mama).
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH=${1:-all}
MAMA_BIN=${MAMA_BIN:-${CARGO_TARGET_DIR:-target}/release/mama}
MINUTES=${SOAK_MINUTES:-30}
USERS=${SOAK_USERS:-10000}
PORT=${SOAK_PORT:-18490}
PGPORT=${SOAK_PGPORT:-55619}
[ -x "$MAMA_BIN" ] || { echo "no release binary at $MAMA_BIN (cargo build --release)" >&2; exit 2; }
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

WORK=$(mktemp -d /tmp/mama-soak.XXXXXX)
chmod 755 "$WORK"
MAMA_PID=
WRK_PIDS=()
PGDATA_DIR="$WORK/pg"
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
cleanup() {
  for p in "${WRK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$MAMA_PID" ] && kill "$MAMA_PID" 2>/dev/null && wait "$MAMA_PID" 2>/dev/null || true
  if [ -f "$PGDATA_DIR/data/PG_VERSION" ]; then
    runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export MAMA_SECRET_KEY=$(head -c 64 /dev/urandom | base64 -w0)
export MAMA_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export MAMA_THROWAWAY=true RUST_LOG=${SOAK_RUST_LOG:-warn}
export MAMA_AUDIT_CHECKPOINT_FILE=off
# The image's allocator settings (the Dockerfile's GLIBC_TUNABLES, one place for
# the value), unless the caller sets others (empty: glibc's defaults).
IMAGE_TUNABLES=$(sed -n 's/^ *GLIBC_TUNABLES=\([^ \\]*\).*/\1/p' Dockerfile)
[ -n "$IMAGE_TUNABLES" ] || { echo "no GLIBC_TUNABLES in the Dockerfile" >&2; exit 1; }
export GLIBC_TUNABLES=${GLIBC_TUNABLES-$IMAGE_TUNABLES}
# Every client here is 127.0.0.1: the page loads (anonymous) would empty the
# address's anonymous bucket, and an empty bucket refuses the API clients of that
# address too (see SECURITY.md). A soak measures mama, not that limiter.
export MAMA_ANONYMOUS_RATE_PER_MINUTE=${MAMA_ANONYMOUS_RATE_PER_MINUTE:-100000000}
export LITELLM_BASE_URL=${LITELLM_BASE_URL:-}

cat > "$WORK/common.lua" <<'LUA'
local users = tonumber(os.getenv("USERS"))
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.0f %.2f %.2f %d %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
LUA
cat "$WORK/common.lua" > "$WORK/lookup.lua"
cat >> "$WORK/lookup.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
function request()
  local ids = {}
  for i = 1, 50 do ids[i] = string.format('"soak-%06d"', math.random(0, users - 1)) end
  return wrk.format(nil, nil, nil, '{"user_ids":[' .. table.concat(ids, ",") .. ']}')
end
LUA
cat "$WORK/common.lua" > "$WORK/patch.lua"
cat >> "$WORK/patch.lua" <<'LUA'
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WTOKEN")
local n = 0
function request()
  n = n + 1
  local path = string.format("/api/v1/users/soak-%06d", math.random(0, users - 1))
  return wrk.format(nil, path, nil, string.format('{"organisation":"org-%d"}', n))
end
LUA
cat "$WORK/common.lua" > "$WORK/pages.lua"
cat >> "$WORK/pages.lua" <<'LUA'
local i = 0
function request()
  i = i + 1
  if i % 2 == 0 then return wrk.format("GET", "/login") end
  return wrk.format("GET", "/healthz")
end
LUA

start_pg() {
  local bin; bin=$(pg_bin)
  mkdir -p "$PGDATA_DIR" && chown postgres "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$PGDATA_DIR/data" -U mama --auth=trust -E UTF8 --no-locale >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w \
    -o "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on" start >/dev/null
  runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$PGPORT" -U mama mama_soak
}

metric() { # name-with-labels
  curl -fs "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}' | head -1
}

run_one() { # name database_url
  local name=$1 url=$2
  export DATABASE_URL=$url MAMA_BIND=127.0.0.1:$PORT
  echo "== $name: seeding $USERS users"
  "$MAMA_BIN" users seed --count "$USERS" --prefix soak >/dev/null 2>&1
  local token wtoken
  token=$("$MAMA_BIN" api-client create --name soak-read --scope keys:read --rate-limit 10000000 2>/dev/null | tail -1)
  wtoken=$("$MAMA_BIN" api-client create --name soak-write --scope users:write --rate-limit 10000000 2>/dev/null | tail -1)
  "$MAMA_BIN" serve >"$WORK/$name.log" 2>&1 &
  MAMA_PID=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  export TOKEN=$token WTOKEN=$wtoken USERS
  local base="http://127.0.0.1:$PORT"
  WRK_PIDS=()
  wrk -t1 -c4 -d"${MINUTES}m" --timeout 10s -s "$WORK/lookup.lua" "$base/api/v1/keys/lookup" >"$WORK/$name-lookup.out" 2>&1 &
  WRK_PIDS+=($!)
  wrk -t1 -c2 -d"${MINUTES}m" --timeout 10s -s "$WORK/patch.lua" "$base" >"$WORK/$name-patch.out" 2>&1 &
  WRK_PIDS+=($!)
  wrk -t1 -c1 -d"${MINUTES}m" --timeout 10s -s "$WORK/pages.lua" "$base" >"$WORK/$name-pages.out" 2>&1 &
  WRK_PIDS+=($!)
  printf '   %-4s %8s %5s %9s %8s %10s %6s %6s  %s\n' min "RSS MB" fds "pool" "pg conns" requests 5xx "jobs" load
  local first_rss= first_fds= first_conns= max_rss=0 max_fds=0 max_conns=0
  for m in $(seq 1 "$MINUTES"); do
    sleep 60
    local rss fds pool pgc reqs errs jobs
    rss=$(( $(awk '/VmRSS/ {print $2}' "/proc/$MAMA_PID/status") / 1024 ))
    fds=$(ls "/proc/$MAMA_PID/fd" | wc -l)
    pool=$(( $(metric 'mama_db_pool_connections{state="in_use"}') + $(metric 'mama_db_pool_connections{state="idle"}') ))
    if [ "$name" = postgres ]; then
      pgc=$(runuser -u postgres -- "$(pg_bin)/psql" -h 127.0.0.1 -p "$PGPORT" -U mama -d mama_soak -tAc \
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'mama_soak' AND pid <> pg_backend_pid()")
    else
      pgc=-
    fi
    reqs=$(( $(metric 'mama_http_requests_total{class="2xx"}') + $(metric 'mama_http_requests_total{class="3xx"}') + $(metric 'mama_http_requests_total{class="4xx"}') + $(metric 'mama_http_requests_total{class="5xx"}') ))
    errs=$(metric 'mama_http_requests_total{class="5xx"}')
    jobs=$(metric 'mama_sync_queue_due')
    printf '   %-4s %8s %5s %9s %8s %10s %6s %6s  %s\n' "$m" "$rss" "$fds" "$pool" "$pgc" "$reqs" "$errs" "$jobs" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$m" -ge 2 ] || [ "$MINUTES" -lt 2 ]; then # minute 1 is the warm-up
      [ -z "$first_rss" ] && first_rss=$rss first_fds=$fds first_conns=$pool
      [ "$rss" -gt "$max_rss" ] && max_rss=$rss
      [ "$fds" -gt "$max_fds" ] && max_fds=$fds
      [ "$pool" -gt "$max_conns" ] && max_conns=$pool
    fi
  done
  for p in "${WRK_PIDS[@]}"; do wait "$p" || true; done
  WRK_PIDS=()
  for part in lookup patch pages; do
    read -r _ n rps p50 p99 st er <<<"$(grep '^RESULT' "$WORK/$name-$part.out" || echo "RESULT 0 0 0 0 0 0")"
    printf '   %-7s %9s requests %8s req/s  p50 %7s ms  p99 %8s ms  non-2xx %s  socket errors %s\n' "$part" "$n" "$rps" "$p50" "$p99" "$st" "$er"
  done
  local growth=$(( (max_rss - first_rss) * 100 / (first_rss > 0 ? first_rss : 1) ))
  echo "   RSS after warm-up ${first_rss} MB, highest ${max_rss} MB (+${growth} %, goal ≤ 10 %); fds ${first_fds} → max ${max_fds}; pool ${first_conns} → max ${max_conns}"
  kill -TERM "$MAMA_PID"; wait "$MAMA_PID" 2>/dev/null || true; MAMA_PID=
}

echo "mama soak: $(nproc) cores, $(date -u +%FT%TZ), $MINUTES min per database, binary $MAMA_BIN, LiteLLM ${LITELLM_BASE_URL:-not configured}"
if [ "$WHICH" = sqlite ] || [ "$WHICH" = all ]; then
  run_one sqlite "sqlite://$WORK/mama.db?mode=rwc"
fi
if [ "$WHICH" = postgres ] || [ "$WHICH" = all ]; then
  start_pg
  run_one postgres "postgres://mama@127.0.0.1:$PGPORT/mama_soak"
fi
