#!/usr/bin/env bash
# tools/bench/provision.sh DATABASE_URL — the provisioning benchmark, measured from
# outside against a release binary with curl:
#   1. POST /api/v1/users with N users (default 10,000) in one call: time to commit;
#   2. POST /api/v1/users/bulk models.add on those N users: time to commit;
#   2b. POST /api/v1/users/bulk max_budget.set on those N users: the preview
#      (dry_run) and the commit, timed apart;
#   3. with LITELLM_BASE_URL/LITELLM_MASTER_KEY set: create SYNC_N users (default 200)
#      and bulk-add a model to them, then set a budget on them, timing each until
#      GET /api/v1/batches/{id} says complete; then deletes them again (their keys
#      leave the proxy).
# Environment: MAMA_BIN (default target/release/mama), PORT (default 18606), N, SYNC_N.
# Run 1–2 without LiteLLM (its 10,000 sync jobs would wait) and 3 with N=0 on
# another database.
set -euo pipefail
DB=${1:?usage: $0 DATABASE_URL}
BIN=$(realpath "${MAMA_BIN:-target/release/mama}")
PORT=${PORT:-18606}
N=${N:-10000}
SYNC_N=${SYNC_N:-200}
WORK=$(mktemp -d)
trap 'kill $MAMA_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"
export DATABASE_URL=$DB MAMA_BIND=127.0.0.1:$PORT RUST_LOG=${RUST_LOG:-warn}
TOKEN=$("$BIN" api-client create --name "bench-$RANDOM$RANDOM" --scope users:write --scope services:write 2>/dev/null | tail -1)
"$BIN" serve >"$WORK/mama.log" 2>&1 &
MAMA_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
API="http://127.0.0.1:$PORT/api/v1"
post() { # path body-file → "status seconds"
  curl -s -o "$WORK/out.json" -w '%{http_code} %{time_total}' -X POST "$API$1" \
    -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' --data-binary @"$2"
}
RUN=$RANDOM$RANDOM
echo '{"name": "bench-'$RUN'"}' >"$WORK/svc.json"
post /services "$WORK/svc.json" >/dev/null
python3 - "$N" "$RUN" >"$WORK/create.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"users": [{"user_id": f"b{run}-{i:06d}", "organisation": f"Org {i % 250}",
  "models": ["gpt-4o"], "services": [f"bench-{run}"], "extra": "benchmark"} for i in range(n)]}))
PY
python3 - "$N" "$RUN" >"$WORK/bulk.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"user_ids": [f"b{run}-{i:06d}" for i in range(n)], "op": "models.add", "values": ["gpt-4o-mini"]}))
PY
python3 - "$N" "$RUN" >"$WORK/budget-preview.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"user_ids": [f"b{run}-{i:06d}" for i in range(n)], "op": "max_budget.set", "values": ["50"], "dry_run": True}))
PY
sed 's/"dry_run": true/"dry_run": false/' "$WORK/budget-preview.json" >"$WORK/budget.json"
if [ "$N" -gt 0 ]; then
  echo "create $N users in one call: $(post /users "$WORK/create.json") (status, seconds)"
  echo "bulk models.add on $N users:  $(post /users/bulk "$WORK/bulk.json") (status, seconds)"
  echo "max_budget.set on $N users, preview (dry run): $(post /users/bulk "$WORK/budget-preview.json") (status, seconds)"
  echo "max_budget.set on $N users, commit:            $(post /users/bulk "$WORK/budget.json") (status, seconds)"
fi
if [ -n "${LITELLM_BASE_URL:-}" ]; then
  wait_batch() { # batch id → seconds until complete
    local start=$1 id=$2
    while :; do
      curl -s "$API/batches/$id" -H "Authorization: Bearer $TOKEN" >"$WORK/b.json"
      python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(0 if b.get("complete") else 1)' "$WORK/b.json" && break
      sleep 0.2
    done
    python3 -c "import time; print(f'{time.time()-$start:.1f}')"
  }
  SRUN=s$RANDOM$RANDOM
  python3 - "$SYNC_N" "$SRUN" "$RUN" >"$WORK/screate.json" <<'PY'
import json, sys
n, run, svc = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print(json.dumps({"users": [{"user_id": f"{run}-{i:05d}", "organisation": "Sync", "models": ["gpt-4o"],
  "services": [f"bench-{svc}"]} for i in range(n)]}))
PY
  python3 - "$SYNC_N" "$SRUN" >"$WORK/sbulk.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"user_ids": [f"{run}-{i:05d}" for i in range(n)], "op": "models.add", "values": ["gpt-4o-mini"]}))
PY
  python3 - "$SYNC_N" "$SRUN" >"$WORK/sdelete.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"user_ids": [f"{run}-{i:05d}" for i in range(n)], "op": "delete"}))
PY
  batch() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$WORK/out.json"; }
  t=$(date +%s.%N); post /users "$WORK/screate.json" >/dev/null
  echo "create $SYNC_N users, until all synced to LiteLLM: $(wait_batch "$t" "$(batch)") s"
  t=$(date +%s.%N); post /users/bulk "$WORK/sbulk.json" >/dev/null
  echo "models.add on $SYNC_N users, until all synced:    $(wait_batch "$t" "$(batch)") s"
  python3 - "$SYNC_N" "$SRUN" >"$WORK/sbudget.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"user_ids": [f"{run}-{i:05d}" for i in range(n)], "op": "max_budget.set", "values": ["50"]}))
PY
  t=$(date +%s.%N); post /users/bulk "$WORK/sbudget.json" >/dev/null
  echo "max_budget.set on $SYNC_N users, until all synced: $(wait_batch "$t" "$(batch)") s"
  t=$(date +%s.%N); post /users/bulk "$WORK/sdelete.json" >/dev/null
  echo "(clean-up) delete $SYNC_N users and their keys:      $(wait_batch "$t" "$(batch)") s"
fi
