#!/usr/bin/env bash
# benches/lookup-wrk.sh [sqlite|postgres|all] — the lookup measured from outside.
#
# Builds nothing: it runs the release binary ($MAMA_BIN, default
# ${CARGO_TARGET_DIR:-target}/release/mama; build it with `cargo build --release`).
# For each database it starts mama on a fresh database (SQLite: a new file;
# PostgreSQL: its own cluster with fsync=on, synchronous_commit=on and
# full_page_writes=on, i.e. production durability), seeds 100,000 users, creates an
# API client without a rate limit, and drives POST /api/v1/keys/lookup with wrk
# (100 random IDs per call, every call audited) at 1, 8, 32 and 128 connections.
# After a warm-up that also waits for the lookup cache's preload, it prints
# req/s, p50, p99, mama's CPU per call and its resident memory (anonymous +
# file-backed) per concurrency, what jemalloc holds halfway through each step
# (allocated / resident MB), mama's peak RSS (VmHWM) after each step and at the end, one
# keep-alive client with `Accept-Encoding: gzip, deflate` against one with
# `identity`, and the machine's load average before and after.
#
# Knobs: BENCH_DURATION (15s), BENCH_USERS (100000), BENCH_CONNECTIONS ("1 8 32 128"),
# BENCH_PORT (18480), BENCH_PGPORT (55494), BENCH_RUST_LOG (info), and any MAMA_*
# variable, which is passed to mama (e.g. MAMA_AUDIT_BATCH_MAX). BENCH_PERF_DIR=/some/dir
# records a flat `perf` profile of mama (by symbol, all threads) during the runs at
# each concurrency into that directory (`perf report -i DIR/sqlite.data --no-children`);
# BENCH_PERF_ARGS replaces its options ("-F 499"), e.g. "-F 99 --call-graph dwarf".
# BENCH_PG_STATEMENTS=N loads pg_stat_statements into the PostgreSQL cluster and
# prints the N statements that took most of its planning and execution time over
# the whole run, and the checkpoints PostgreSQL made. BENCH_PG_OPTIONS adds server
# options ("-c name=value …"), for diagnosis: the figures are PostgreSQL's defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH=${1:-all}
MAMA_BIN=${MAMA_BIN:-${CARGO_TARGET_DIR:-target}/release/mama}
DURATION=${BENCH_DURATION:-15s}
USERS=${BENCH_USERS:-100000}
CONNS=${BENCH_CONNECTIONS:-"1 8 32 128"}
PORT=${BENCH_PORT:-18480}
PGPORT=${BENCH_PGPORT:-55494}
[ -x "$MAMA_BIN" ] || { echo "no release binary at $MAMA_BIN (cargo build --release)" >&2; exit 2; }
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

WORK=$(mktemp -d /tmp/mama-bench.XXXXXX)
chmod 755 "$WORK"
MAMA_PID=
PGDATA_DIR="$WORK/pg"
cleanup() {
  [ -n "$MAMA_PID" ] && kill "$MAMA_PID" 2>/dev/null && wait "$MAMA_PID" 2>/dev/null || true
  if [ -f "$PGDATA_DIR/data/PG_VERSION" ]; then
    runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

export MAMA_SECRET_KEY=$(head -c 64 /dev/urandom | base64 -w0)
export MAMA_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export MAMA_THROWAWAY=true LITELLM_BASE_URL= RUST_LOG=${BENCH_RUST_LOG:-info}
# The image's allocator settings (the Dockerfile's GLIBC_TUNABLES, one place for
# the value), unless the caller sets others (empty: glibc's defaults).
IMAGE_TUNABLES=$(sed -n 's/^ *GLIBC_TUNABLES=\([^ \\]*\).*/\1/p' Dockerfile)
[ -n "$IMAGE_TUNABLES" ] || { echo "no GLIBC_TUNABLES in the Dockerfile" >&2; exit 1; }
export GLIBC_TUNABLES=${GLIBC_TUNABLES-$IMAGE_TUNABLES}

cat > "$WORK/lookup.lua" <<'LUA'
-- 100 random IDs of the seeded users per call.
local users = tonumber(os.getenv("USERS"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local enc = os.getenv("ACCEPT_ENCODING")
if enc and enc ~= "" then wrk.headers["Accept-Encoding"] = enc end
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003))
end
function request()
  local ids = {}
  for i = 1, 100 do ids[i] = string.format('"seed-%06d"', math.random(0, users - 1)) end
  return wrk.format(nil, nil, nil, '{"user_ids":[' .. table.concat(ids, ",") .. ']}')
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.0f %.2f %.2f %d %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

start_pg() {
  local bin; bin=$(pg_bin)
  mkdir -p "$PGDATA_DIR" && chown postgres "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$PGDATA_DIR/data" -U mama --auth=trust -E UTF8 --no-locale >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w \
    -o "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=128MB${BENCH_PG_STATEMENTS:+ -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on} ${BENCH_PG_OPTIONS:-}" start >/dev/null
  runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$PGPORT" -U mama mama_bench
  if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then
    pg_sql 'CREATE EXTENSION pg_stat_statements' >/dev/null
  fi
}
pg_sql() { runuser -u postgres -- "$(pg_bin)/psql" -h 127.0.0.1 -p "$PGPORT" -U mama -d mama_bench -tAc "$1"; }

rss_peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# mama's resident memory now, "anon+file" in MB: anonymous (heap, stacks) and
# file-backed (the binary's own code and read-only data, shared and clean).
rss_now() { awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {printf "%d+%d", a/1024, f/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
# The value of one of mama's metrics (empty if mama does not answer).
metric() { curl -fs "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# What jemalloc holds, "allocated/resident" in MB: live objects against its pages
# in memory (free pages not yet returned included).
heap_now() {
  curl -fs "http://127.0.0.1:$PORT/metrics" | awk '$1 == "mama_allocator_bytes{kind=\"allocated\"}" {a=$2} $1 == "mama_allocator_bytes{kind=\"resident\"}" {r=$2} END {printf "%d/%d", a/1048576, r/1048576}'
}
# mama's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)
# Milliseconds of CPU per call: $1 clock ticks over $2 calls.
per_call() { awk -v d="$1" -v n="$2" -v t="$TICKS" 'BEGIN { printf "%.2f", n ? d * 1000 / t / n : 0 }'; }
# The bench cluster's CPU ticks (postmaster and every child), 0 without one.
pg_ticks() {
  local pm
  pm=$(head -1 "$PGDATA_DIR/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  local t=0 p
  for p in "$pm" $(pgrep -P "$pm"); do t=$((t + $(cpu_ticks "$p"))); done
  echo "$t"
}

run_one() { # name database_url
  local name=$1 url=$2
  export DATABASE_URL=$url MAMA_BIND=127.0.0.1:$PORT
  echo "== $name: seeding $USERS users"
  local t0=$SECONDS
  "$MAMA_BIN" users seed --count "$USERS" --prefix seed >/dev/null
  local token
  token=$("$MAMA_BIN" api-client create --name bench --scope keys:read --rate-limit 10000000 | tail -1)
  echo "   seeded in $((SECONDS - t0)) s"
  # PostgreSQL's autovacuum would otherwise visit the freshly seeded tables
  # during the first steps (measured: 6.88 ms of PostgreSQL CPU per call at 8
  # connections in one run, 0.93 in the next); do that work before measuring.
  if [ "$name" = postgres ]; then pg_sql 'VACUUM ANALYZE' >/dev/null; fi
  "$MAMA_BIN" serve >"$WORK/$name.log" 2>&1 &
  MAMA_PID=$!
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  export TOKEN=$token USERS
  # Warm-up (caches, connection pool), not counted.
  ACCEPT_ENCODING= wrk -t2 -c8 -d3s -s "$WORK/lookup.lua" "http://127.0.0.1:$PORT/api/v1/keys/lookup" >/dev/null
  # ...and the preloader's fill of the lookup cache (until it stops growing, at
  # most 60 s), so the first step does not pay for it.
  local cached=0 before=-1
  for _ in $(seq 1 120); do
    cached=$(metric mama_lookup_cache_entries)
    [ "${cached:-0}" -ge "$USERS" ] && break
    [ "${cached:-0}" -gt 0 ] && [ "${cached:-0}" -eq "$before" ] && break
    before=${cached:-0}
    sleep 1
  done
  echo "   lookup cache after the warm-up: ${cached:-?} answers"
  echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   mama RSS after the warm-up (cache preloaded), anon+file: $(rss_now "$MAMA_PID") MB; jemalloc allocated/resident: $(heap_now) MB; peak so far $(( $(rss_peak_kb "$MAMA_PID") / 1024 )) MB"
  # cpu ms/call: mama's user+system CPU during the run divided by the calls answered
  # (background sealing and indexing included), the figure that does not depend on
  # how busy the rest of the machine is.
  local perf_pid=
  if [ -n "${BENCH_PERF_DIR:-}" ]; then
    mkdir -p "$BENCH_PERF_DIR"
    perf record -q ${BENCH_PERF_ARGS:--F 499} -p "$MAMA_PID" -o "$BENCH_PERF_DIR/$name.data" 2>/dev/null &
    perf_pid=$!
  fi
  printf '   %-6s %10s %9s %9s %8s %8s %12s %14s %12s %11s %14s %11s\n' conns "req/s" "p50 ms" "p99 ms" non-200 errors "cpu ms/call" "RSS anon+file" "in mama ms" "pg cpu ms" "heap mid-step" "peak so far"
  for c in $CONNS; do
    local t=$(( c < 2 ? 1 : 2 ))
    local line c0 c1 g0 g1 s0 n0
    c0=$(cpu_ticks "$MAMA_PID")
    g0=$(pg_ticks)
    s0=$(metric 'mama_http_request_duration_seconds_sum{group="api"}')
    n0=$(metric 'mama_http_request_duration_seconds_count{group="api"}')
    # jemalloc's figures are read halfway through the step (after it, freed
    # pages are already going back).
    (sleep "$(( ${DURATION%s} / 2 ))"; heap_now >"$WORK/heap") &
    line=$(ACCEPT_ENCODING= wrk -t$t -c"$c" -d"$DURATION" --latency -s "$WORK/lookup.lua" \
      "http://127.0.0.1:$PORT/api/v1/keys/lookup" | grep '^RESULT')
    wait $!
    c1=$(cpu_ticks "$MAMA_PID")
    g1=$(pg_ticks)
    read -r _ n rps p50 p99 st er <<<"$line"
    # "in mama": the mean of mama's own request timer (from the request's
    # dispatch to its answer) over the step; the rest of a call's time it spent
    # in wrk, the kernel, or waiting for a worker thread. "pg cpu ms": the bench
    # cluster's CPU (every PostgreSQL process) per call, as mama's.
    printf '   %-6s %10s %9s %9s %8s %8s %12s %14s %12s %11s %14s %11s\n' "$c" "$rps" "$p50" "$p99" "$st" "$er" \
      "$(per_call $((c1 - c0)) "$n")" \
      "$(rss_now "$MAMA_PID")" \
      "$(awk -v s0="${s0:-0}" -v n0="${n0:-0}" -v s1="$(metric 'mama_http_request_duration_seconds_sum{group="api"}')" \
        -v n1="$(metric 'mama_http_request_duration_seconds_count{group="api"}')" \
        'BEGIN { printf "%.2f", (n1 > n0 ? (s1 - s0) * 1000 / (n1 - n0) : 0) }')" \
      "$(per_call $((g1 - g0)) "$n")" \
      "$(cat "$WORK/heap")" \
      "$(( $(rss_peak_kb "$MAMA_PID") / 1024 ))"
  done
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  # The pair below compares two clients: first let the indexer work off the
  # backlog of the 128-connection step (at most 30 s), or whichever client runs
  # first shares the cores with it.
  for _ in $(seq 1 30); do
    local lag
    lag=$(metric mama_audit_index_lag_events)
    [ "${lag:-0}" -lt 500 ] && break
    sleep 1
  done
  echo "   one keep-alive client, 100 IDs:"
  for enc in "identity" "gzip, deflate"; do
    local line
    line=$(ACCEPT_ENCODING="$enc" wrk -t1 -c1 -d"$DURATION" --latency -s "$WORK/lookup.lua" \
      "http://127.0.0.1:$PORT/api/v1/keys/lookup" | grep '^RESULT')
    read -r _ n rps p50 p99 st er <<<"$line"
    printf '   Accept-Encoding: %-14s p50 %6s ms  p99 %6s ms  %6s req/s\n' "$enc" "$p50" "$p99" "$rps"
  done
  echo "   load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   mama peak RSS: $(( $(rss_peak_kb "$MAMA_PID") / 1024 )) MB"
  curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^mama_audit_(batches_total|batched_events_total|largest_batch|index_lag_events|failed_batches_total) ' | sed 's/^/   /'
  kill "$MAMA_PID"; wait "$MAMA_PID" 2>/dev/null || true; MAMA_PID=
}

echo "mama lookup benchmark: $(nproc) cores, $(date -u +%FT%TZ), binary $MAMA_BIN"
if [ "$WHICH" = sqlite ] || [ "$WHICH" = all ]; then
  run_one sqlite "sqlite://$WORK/mama.db?mode=rwc"
fi
if [ "$WHICH" = postgres ] || [ "$WHICH" = all ]; then
  start_pg
  echo "   (PostgreSQL: fsync=$(pg_sql 'SHOW fsync'), synchronous_commit=$(pg_sql 'SHOW synchronous_commit'))"
  run_one postgres "postgres://mama@127.0.0.1:$PGPORT/mama_bench"
  if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then
    echo "   checkpoints (timed, requested), WAL MB: $(pg_sql "SELECT checkpoints_timed || ', ' || checkpoints_req FROM pg_stat_bgwriter"), $(pg_sql "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn" | awk '{printf "%d", $1 / 1048576}')"
    echo "   PostgreSQL's statements by planning + execution time (ms total, of it planning, calls, ms per call, WAL MB):"
    pg_sql "SELECT round(total_plan_time + total_exec_time)::text || ' | ' || round(total_plan_time) || ' | ' || calls || ' | ' || round(((total_plan_time + total_exec_time) / calls)::numeric, 3) || ' | ' || round(wal_bytes / 1048576) || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 120) FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT ${BENCH_PG_STATEMENTS}" | sed 's/^/   /'
  fi
fi
