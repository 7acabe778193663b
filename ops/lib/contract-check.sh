# Sourced by ops/test: starts the whole system (API, workers, dispatcher) on loopback against a
# scratch database and runs schemathesis (PyPI) over /openapi.json, so submitted work really
# runs. Any failed check fails the tests.
contract_check() {
  local pg_port=$1 bin=$2 api_port=${YTEMPIRE_CONTRACT_PORT:-18765}
  ensure_python_tools schemathesis=schemathesis
  psql_at "$pg_port" postgres "DROP DATABASE IF EXISTS t_contract" >/dev/null
  psql_at "$pg_port" postgres "CREATE DATABASE t_contract" >/dev/null
  local url="postgres://postgres@127.0.0.1:$pg_port/t_contract"
  DATABASE_URL="$url" "$bin" migrate >/dev/null
  rm -f "$ROOT/.data/contract-stripe.json"
  # Workers for every stage but assembly: the fuzzer submits hour-long videos whose encodes
  # would swamp the machine, and the contract is about the API's answers.
  DATABASE_URL="$url" LOG_LEVEL=warning YTEMPIRE_BCRYPT_COST=4 YTEMPIRE_RATE_LIMITS=authentication=100000/60,general=100000/3600,video_generation=100000/60,admin=100000/3600,analytics=100000/3600 YTEMPIRE_KEY_DIR="$ROOT/.data/contract-keys" \
    YTEMPIRE_ARTIFACT_DIR="$ROOT/.data/contract-artifacts" YTEMPIRE_SANDBOX_PORT=$((api_port + 1)) \
    YTEMPIRE_STRIPE_SANDBOX_PORT=$((api_port + 2)) YTEMPIRE_STRIPE_SANDBOX_STATE="$ROOT/.data/contract-stripe.json" \
    YTEMPIRE_WS_PING_INTERVAL=2 YTEMPIRE_QUEUES=default=4,video_script=4,video_voice=2,video_thumbnail=2,video_review=2,video_publish=2 "$bin" up --port "$api_port" &
  local pid=$!
  local status=0
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$api_port/api/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # A real account, so the authenticated operations are exercised too.
  local base="http://127.0.0.1:$api_port/api/v1" password="Contract-check-0123"
  curl -fsS -X POST "$base/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"contract@example.com\",\"password\":\"$password\",\"full_name\":\"Contract Check\"}" >/dev/null
  # A plan with room for submissions to reach their logic (100 videos a month) but not for the
  # fuzzer to pile up thousands of videos on two cores.
  psql_at "$pg_port" t_contract "UPDATE users SET subscription_tier = 'starter'" >/dev/null
  # An operator too, so the admin API is exercised past its 403 (last, on its own: it pauses
  # and drains queues the other operations' answers wait on).
  DATABASE_URL="$url" "$bin" users grant-operator contract@example.com >/dev/null
  local token
  token=$(curl -fsS -X POST "$base/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"contract@example.com\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  # Live events through the real binary, with an independent WebSocket client.
  python3 "$ROOT/ops/lib/ws_smoke.py" "http://127.0.0.1:$api_port" "$token" 2 || status=$?
  [ "$status" -eq 0 ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; die "the WebSocket check failed (above)"; }
  # Two schemathesis processes, each on half of the operations (by tag): many answers wait on
  # the fleet (a task's `wait`, a submission's transaction), so two requests in flight keep the
  # cores busy. Processes rather than `--workers 2`: CPython 3.11's AST parser is not safe
  # across threads, which Hypothesis meets when it describes a strategy.
  local half='Authentication|Users|Channels|Generation|Videos' first=0 second=0 admin=0
  local logs="$ROOT/.data/contract-halves"
  mkdir -p "$logs"
  run_schemathesis() {
    schemathesis --config-file "$ROOT/ops/schemathesis.toml" run "http://127.0.0.1:$api_port/openapi.json" --url "http://127.0.0.1:$api_port/api/v1" \
      --header "Authorization: Bearer $token" \
      --request-timeout 40 --checks all --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 1 "$@"
  }
  run_schemathesis --include-tag-regex "^($half)\$" >"$logs/first.log" 2>&1 &
  local first_pid=$!
  run_schemathesis --exclude-tag-regex "^($half|Admin)\$" >"$logs/second.log" 2>&1 || second=$?
  wait "$first_pid" || first=$?
  run_schemathesis --include-tag-regex '^Admin$' >"$logs/admin.log" 2>&1 || admin=$?
  echo "--- schemathesis: $half"; cat "$logs/first.log"
  echo "--- schemathesis: the other tags"; cat "$logs/second.log"
  echo "--- schemathesis: Admin, as an operator"; cat "$logs/admin.log"
  [ "$first" -eq 0 ] && [ "$second" -eq 0 ] && [ "$admin" -eq 0 ] || status=1
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  [ "$status" -eq 0 ] || die "schemathesis found contract failures (above)"
}
