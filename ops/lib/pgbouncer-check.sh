# Sourced by ops/test: the fleet through PgBouncer in transaction pooling mode, against a
# Postgres that allows 40 connections. Twenty `ytempire worker` processes of 16 slots each
# and one `ytempire up` (API, dispatcher, pipeline workers) reach Postgres only through the
# pooler (15 server connections), except each process's one LISTEN connection
# (YTEMPIRE_LISTEN_DATABASE_URL, direct). Migrations go through the pooler too (twice). Passes
# when live events reach a WebSocket client and 20,000 queue jobs and three videos complete
# within the time allowed.

# pgbouncer_check BIN
pgbouncer_check() {
  local bin=$1 pg_port=${YTEMPIRE_POOLED_PORT_PG:-54359} bouncer_port=${YTEMPIRE_PGBOUNCER_PORT:-54360}
  local api_port=${YTEMPIRE_POOLED_API_PORT:-18815} dir="$ROOT/.data/pgbouncer" pids=() status=0
  start_cluster pooled-pg "$pg_port" "max_connections = 40" "fsync = off" "synchronous_commit = off" >/dev/null
  [ "$(psql_at "$pg_port" postgres "SHOW max_connections")" = 40 ] || die "the pooled cluster must allow exactly 40 connections"
  psql_at "$pg_port" postgres "DROP DATABASE IF EXISTS ytempire" >/dev/null
  psql_at "$pg_port" postgres "CREATE DATABASE ytempire" >/dev/null
  rm -rf "$dir"
  start_pgbouncer "$dir" 127.0.0.1 "$bouncer_port" "$pg_port" 15
  local pooled="postgres://postgres@127.0.0.1:$bouncer_port/ytempire" direct="postgres://postgres@127.0.0.1:$pg_port/ytempire"
  stop_all() {
    kill -TERM "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
    stop_pgbouncer "$dir"
  }
  # Twice, the second finding nothing to do: no migration lock outlives its transaction.
  for _ in 1 2; do
    DATABASE_URL="$pooled" timeout 120 "$bin" migrate >>"$dir/migrate.log" 2>&1 \
      || { stop_all; cat "$dir/migrate.log"; die "migrations through PgBouncer failed"; }
  done
  export YTEMPIRE_LISTEN_DATABASE_URL="$direct"
  for i in $(seq 1 20); do
    DATABASE_URL="$pooled" LOG_LEVEL=warning "$bin" worker --queues default=16 >"$dir/worker-$i.log" 2>&1 &
    pids+=($!)
  done
  DATABASE_URL="$pooled" LOG_LEVEL=warning YTEMPIRE_BCRYPT_COST=4 YTEMPIRE_KEY_DIR="$dir/keys" YTEMPIRE_ARTIFACT_DIR="$dir/artifacts" \
    YTEMPIRE_WS_PING_INTERVAL=2 \
    YTEMPIRE_SANDBOX_PORT=$((api_port + 1)) YTEMPIRE_STRIPE_SANDBOX_PORT=$((api_port + 2)) YTEMPIRE_STRIPE_SANDBOX_STATE="$dir/stripe.json" \
    YTEMPIRE_QUEUES=video_script=2,video_voice=2,video_thumbnail=2,video_assemble=1,video_review=2 \
    "$bin" up --port "$api_port" >"$dir/up.log" 2>&1 &
  pids+=($!)
  unset YTEMPIRE_LISTEN_DATABASE_URL
  for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$api_port/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  # The queue: 20,000 jobs, some holding their slot a moment, for 320 slots over 15 connections.
  psql_at "$pg_port" ytempire "INSERT INTO jobs (queue, kind, args) SELECT 'default', CASE WHEN n % 10 = 0 THEN 'sleep' ELSE 'noop' END,
    CASE WHEN n % 10 = 0 THEN '{\"ms\": 50}' ELSE '{}' END::jsonb FROM generate_series(1, 20000) n" >/dev/null
  # The pipeline: three videos through the API.
  local base="http://127.0.0.1:$api_port/api/v1" token channel
  curl -fsS -X POST "$base/auth/register" -H 'content-type: application/json' \
    -d '{"email":"pooled@example.com","password":"Pooled-check-0123","full_name":"Pooled Check"}' >/dev/null
  # A plan with room for the check's four videos.
  psql_at "$pg_port" ytempire "UPDATE users SET subscription_tier = 'starter'" >/dev/null
  token=$(curl -fsS -X POST "$base/auth/login" -H 'content-type: application/json' \
    -d '{"email":"pooled@example.com","password":"Pooled-check-0123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  channel=$(curl -fsS -X POST "$base/channels" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name":"Pooled"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for n in 1 2 3; do
    curl -fsS -X POST "$base/videos/generate" -H "authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"channel_id\":\"$channel\",\"title\":\"Through the pooler $n\",\"duration_target\":12,\"quality_threshold\":50}" >/dev/null
  done
  # Live events reach a WebSocket client: the API's LISTEN, on its direct connection, works.
  python3 "$ROOT/ops/lib/ws_smoke.py" "http://127.0.0.1:$api_port" "$token" 2 || { stop_all; die "live events through the pooled fleet failed (above)"; }
  local deadline=$((SECONDS + ${YTEMPIRE_POOLED_TIMEOUT:-240})) left videos
  while :; do
    left=$(psql_at "$pg_port" ytempire "SELECT count(*) FROM jobs WHERE queue = 'default' AND state <> 'completed'")
    videos=$(psql_at "$pg_port" ytempire "SELECT count(*) FROM videos WHERE status = 'completed' AND title LIKE 'Through the pooler%'")
    [ "$left" = 0 ] && [ "$videos" = 3 ] && break
    if [ $SECONDS -ge $deadline ]; then status=1; break; fi
    sleep 1
  done
  local most
  most=$(psql_at "$pg_port" postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
  stop_all
  echo "queue jobs not completed: $left of 20000; videos completed: $videos of 3; client connections at the end: $most (of 40)"
  if [ "$status" -ne 0 ]; then
    grep -h -i -E "error|fatal" "$dir"/*.log | sort | uniq -c | sort -rn | head -20
    die "the fleet through PgBouncer did not finish in time"
  fi
  echo "the fleet through PgBouncer passed"
}
