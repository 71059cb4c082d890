#!/usr/bin/env bash
# tools/litellm/start.sh — the real LiteLLM proxy (PyPI, pinned) on loopback, for
# mama's tests and benchmarks. Prints the proxy's base URL on its last stdout line.
#
# Idempotent: installs what is missing, reuses what is there; if the proxy is
# already up it only prints the URL. Needs root for apt (Debian) and runs the
# proxy's PostgreSQL as the OS user `postgres`.
#
#   MAMA_LITELLM_DIR     state: venv, node deps, PostgreSQL, logs (default /tmp/mama-litellm)
#   MAMA_LITELLM_PORT    proxy port on 127.0.0.1                    (default 4000)
#   LITELLM_MASTER_KEY   proxy master key                           (default sk-mama-master)
#   MAMA_LITELLM_CONFIG  proxy config                               (default config.yaml here)
#   MAMA_LITELLM_START_TIMEOUT  seconds to wait for the proxy       (default 300)
#
# Why it looks like this (see README.md beside it): LiteLLM stores keys through
# prisma-client-py, which runs Prisma's native query-engine binary. Those binaries
# come only from Prisma's CDN, which this machine cannot reach; npm carries Prisma's
# official wasm build of the same engine, and qe-shim.mjs makes it answer like the
# binary. The schema engine is missing too, so LiteLLM's own migration SQL (shipped
# in the litellm-proxy-extras wheel) is applied here with psql.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${MAMA_LITELLM_DIR:-/tmp/mama-litellm}"
PORT="${MAMA_LITELLM_PORT:-4000}"
MASTER_KEY="${LITELLM_MASTER_KEY:-sk-mama-master}"
CONFIG="${MAMA_LITELLM_CONFIG:-$HERE/config.yaml}"
TIMEOUT="${MAMA_LITELLM_START_TIMEOUT:-300}"

LITELLM_VERSION="1.83.14"   # last 1.83 patch; never the compromised 1.107.0
PRISMA_PY_VERSION="0.11.0"  # what that LiteLLM pins (Prisma CLI 5.4.2)
ENGINE_HASH="ac9d7041ed77bcc8a8dbd2ab6616b39013829574"

say() { echo "[litellm] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

mkdir -p "$DIR"/{run,logs,bin}
DIR="$(cd "$DIR" && pwd)"
exec 9>"$DIR/run/start.lock"
flock -w 600 9 || die "another start.sh holds $DIR/run/start.lock"

running() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Already up?
if [ -f "$DIR/run/litellm.pid" ] && running "$(cat "$DIR/run/litellm.pid")"; then
  P="$(cat "$DIR/run/litellm.port")"
  curl -sf "http://127.0.0.1:$P/health/liveliness" >/dev/null && { say "already running"; echo "http://127.0.0.1:$P"; exit 0; }
  die "the proxy (pid $(cat "$DIR/run/litellm.pid")) runs but does not answer; run stop.sh"
fi

# A start that was killed half-way (CI cancelled, the machine restarted) can leave a
# venv, node_modules or a database that look installed but are not. `.ready` is
# written only once the proxy answered, and removed before anything is installed
# or started: without it, whatever an earlier start left is removed first.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
READY="$DIR/.ready"
if [ ! -f "$READY" ] && [ -n "$(ls -A "$DIR" | grep -vxE 'run|logs|bin')" ]; then
  say "an earlier start did not finish; starting again from a clean $DIR"
  MAMA_LITELLM_DIR="$DIR" "$HERE/stop.sh" >/dev/null 2>&1 || true
  if [ -n "$PGBIN" ] && [ -f "$DIR/pg/data/PG_VERSION" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR/venv" "$DIR/node" "$DIR/pg" "$DIR/prisma-cache" "$DIR/prisma-home" "$DIR/config.yaml"
fi
rm -f "$READY"

# 1. Debian packages, only those missing.
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v psql >/dev/null || need+=(postgresql-client)
[ -n "$PGBIN" ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >"$DIR/logs/apt.log" 2>&1 \
    || { tail -20 "$DIR/logs/apt.log" >&2; die "apt-get failed"; }
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi

# 2. Python: LiteLLM with every transitive dependency pinned by requirements.lock.
VENV="$DIR/venv"
STAMP="$VENV/.installed-$LITELLM_VERSION-$(sha256sum "$HERE/requirements.lock" | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  say "pip install litellm[proxy]==$LITELLM_VERSION (about a minute)"
  rm -rf "$VENV"; python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -c "$HERE/requirements.lock" \
    "litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_PY_VERSION" >"$DIR/logs/pip.log" 2>&1 \
    || { tail -20 "$DIR/logs/pip.log" >&2; die "pip install failed"; }
  touch "$STAMP"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# 3. Node: Prisma's wasm query engine, its pg adapter, and the shim.
NODE="$DIR/node"; mkdir -p "$NODE"
if ! cmp -s "$HERE/node/package-lock.json" "$NODE/package-lock.json" || [ ! -d "$NODE/node_modules/@prisma/query-engine-wasm" ]; then
  say "npm ci (wasm query engine)"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$NODE/"
  (cd "$NODE" && npm ci --no-audit --no-fund --loglevel=error >"$DIR/logs/npm.log" 2>&1) || { tail -20 "$DIR/logs/npm.log" >&2; die "npm ci failed"; }
fi
cp "$HERE/qe-shim.mjs" "$NODE/qe-shim.mjs"
printf '#!/usr/bin/env bash\nexec node "%s/qe-shim.mjs" "$@"\n' "$NODE" >"$DIR/bin/prisma-query-engine"
printf '#!/usr/bin/env bash\n# no schema engine offline: start.sh applies the migration SQL itself\n[ "${1:-}" = --version ] && { echo "schema-engine-cli %s"; exit 0; }\necho "schema engine not available offline" >&2; exit 1\n' "$ENGINE_HASH" >"$DIR/bin/prisma-schema-engine"
# LiteLLM's start-up runs `prisma` twice; the Python wrapper spends ~12 s importing
# the generated client each time, so call Prisma's Node CLI directly.
printf '#!/usr/bin/env bash\nexport PRISMA_HIDE_UPDATE_MESSAGE=true PRISMA_CLI_QUERY_ENGINE_TYPE=binary\nexec node "%s/prisma-cache/node_modules/prisma/build/index.js" "$@"\n' "$DIR" >"$DIR/bin/prisma"
chmod +x "$DIR/bin/"*
export PRISMA_HOME_DIR="$DIR/prisma-home" PRISMA_BINARY_CACHE_DIR="$DIR/prisma-cache"
export PRISMA_QUERY_ENGINE_BINARY="$DIR/bin/prisma-query-engine" PRISMA_SCHEMA_ENGINE_BINARY="$DIR/bin/prisma-schema-engine"
export PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1 PRISMA_HIDE_UPDATE_MESSAGE=true CHECKPOINT_DISABLE=1
export QE_SHIM_PIDFILE="$DIR/run/query-engine.pid"
mkdir -p "$PRISMA_HOME_DIR"

# 4. Generate LiteLLM's Prisma client into the venv (once per schema).
GEN="$VENV/.generated-$(sha256sum "$SITE/litellm/proxy/schema.prisma" | cut -c1-12)"
if [ ! -f "$GEN" ]; then
  say "prisma generate"
  (cd "$SITE/litellm/proxy" && PATH="$VENV/bin:$PATH" "$VENV/bin/prisma" generate >"$DIR/logs/prisma-generate.log" 2>&1) \
    || { tail -30 "$DIR/logs/prisma-generate.log" >&2; die "prisma generate failed"; }
  touch "$GEN"
fi

# 5. The proxy's own throwaway PostgreSQL (trust auth, loopback, no fsync).
id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
as_pg() { runuser -u postgres -- "$@"; }
PGDIR="$DIR/pg"; mkdir -p "$PGDIR"; chown postgres "$PGDIR"
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U litellm --auth=trust -E UTF8 --no-locale >"$DIR/logs/initdb.log" 2>&1 || die "initdb failed"
  rm -f "$PGDIR/applied.txt"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
  PGPORT=55432; while ! port_free "$PGPORT"; do PGPORT=$((PGPORT + 1)); done
  as_pg touch "$PGDIR/postgres.log"
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 60 \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 9>&- || { tail -20 "$PGDIR/postgres.log" >&2; die "postgres did not start"; }
fi
PGPORT="$(sed -n 4p "$PGDIR/data/postmaster.pid")"
head -1 "$PGDIR/data/postmaster.pid" >"$DIR/run/postgres.pid"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U litellm)
if [ "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='litellm'")" != 1 ]; then
  "${PSQL[@]}" -d postgres -c 'CREATE DATABASE litellm'; rm -f "$PGDIR/applied.txt"
fi
touch "$PGDIR/applied.txt"
while IFS= read -r -d '' sql; do
  name="$(basename "$(dirname "$sql")")"
  grep -qxF "$name" "$PGDIR/applied.txt" && continue
  "${PSQL[@]}" -d litellm -f "$sql" >>"$DIR/logs/migrations.log" 2>&1 || { tail -20 "$DIR/logs/migrations.log" >&2; die "migration $name failed"; }
  echo "$name" >>"$PGDIR/applied.txt"
done < <(find "$SITE/litellm_proxy_extras/migrations" -mindepth 2 -maxdepth 2 -name migration.sql -print0 | sort -z)

# 6. The proxy.
port_free "$PORT" || die "127.0.0.1:$PORT is in use (LiteLLM would silently take another port)"
cp "$CONFIG" "$DIR/config.yaml"
export DATABASE_URL="postgresql://litellm@127.0.0.1:$PGPORT/litellm" LITELLM_MASTER_KEY="$MASTER_KEY"
export DISABLE_SCHEMA_UPDATE=true LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False
export PATH="$DIR/bin:$VENV/bin:$PATH"
say "starting LiteLLM $LITELLM_VERSION on 127.0.0.1:$PORT (about 25 s)"
setsid nohup "$VENV/bin/litellm" --config "$DIR/config.yaml" --host 127.0.0.1 --port "$PORT" \
  >"$DIR/logs/litellm.log" 2>&1 </dev/null 9>&- &
echo $! >"$DIR/run/litellm.pid"; echo "$PORT" >"$DIR/run/litellm.port"
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -sf "http://127.0.0.1:$PORT/health/liveliness" >/dev/null; do
  running "$(cat "$DIR/run/litellm.pid")" || { tail -40 "$DIR/logs/litellm.log" >&2; die "LiteLLM exited while starting"; }
  [ "$(date +%s)" -lt "$deadline" ] || { tail -40 "$DIR/logs/litellm.log" >&2; die "LiteLLM did not answer within ${TIMEOUT}s"; }
  sleep 0.5
done
touch "$READY"
say "up"
echo "http://127.0.0.1:$PORT"
