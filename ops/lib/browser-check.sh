# Sourced by ops/test and ops/screenshots: the operator console and the API reference in a
# real browser. Debian's chromium and chromedriver, Selenium from PyPI in its own environment
# (.data/browser-venv) pointed at Debian's driver, so nothing is downloaded at run time.

# Installs the browser, its driver and Selenium, once.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  local venv="$ROOT/.data/browser-venv"
  if [ ! -x "$venv/bin/python3" ]; then
    python3 -m venv "$venv" >/dev/null 2>&1 || {
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$venv" || die "could not create a Python virtual environment in .data/browser-venv"
    }
  fi
  "$venv/bin/python3" -c 'import selenium' 2>/dev/null \
    || "$venv/bin/pip" install --quiet --disable-pip-version-check selenium >/dev/null 2>&1 \
    || die "could not install selenium from PyPI"
}

# browser_check PG_PORT BIN [SCREENSHOT_DIR]
# Starts the whole system on a scratch database (its script provider an OpenAI-compatible
# server the test starts and stops) and runs ops/lib/browser_test.py against it, headless.
browser_check() {
  local pg_port=$1 bin=$2 screenshots=${3:-} api_port=${YTEMPIRE_BROWSER_PORT:-18795}
  local provider_port=$((api_port + 3)) venv="$ROOT/.data/browser-venv"
  ensure_browser
  psql_at "$pg_port" postgres "DROP DATABASE IF EXISTS t_browser" >/dev/null
  psql_at "$pg_port" postgres "CREATE DATABASE t_browser" >/dev/null
  local url="postgres://postgres@127.0.0.1:$pg_port/t_browser"
  DATABASE_URL="$url" "$bin" migrate >/dev/null
  rm -rf "$ROOT/.data/browser-artifacts" "$ROOT/.data/browser-stripe.json"
  DATABASE_URL="$url" LOG_LEVEL=warning YTEMPIRE_BCRYPT_COST=4 YTEMPIRE_KEY_DIR="$ROOT/.data/browser-keys" \
    YTEMPIRE_RATE_LIMITS=authentication=100000/60,general=100000/3600,video_generation=100000/60,admin=100000/3600,analytics=100000/3600 \
    YTEMPIRE_ARTIFACT_DIR="$ROOT/.data/browser-artifacts" YTEMPIRE_SANDBOX_PORT=$((api_port + 1)) \
    YTEMPIRE_STRIPE_SANDBOX_PORT=$((api_port + 2)) YTEMPIRE_STRIPE_SANDBOX_STATE="$ROOT/.data/browser-stripe.json" \
    YTEMPIRE_SCRIPT_PROVIDERS=openai/gpt-4o-mini YTEMPIRE_OPENAI_API_KEY=sk-console-check \
    YTEMPIRE_OPENAI_BASE_URL="http://127.0.0.1:$provider_port/v1" \
    YTEMPIRE_DOCS_DIR="${YTEMPIRE_DOCS_DIR:-$(swagger_ui_dir)}" \
    "$bin" up --port "$api_port" >"$ROOT/.data/browser-server.log" 2>&1 &
  local pid=$! status=0
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$api_port/api/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  [ -z "$screenshots" ] || mkdir -p "$screenshots"
  "$venv/bin/python3" "$ROOT/ops/lib/browser_test.py" --base "http://127.0.0.1:$api_port" --provider-port "$provider_port" \
    --bin "$bin" --database-url "$url" ${screenshots:+--screenshots "$screenshots"} || status=$?
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "--- the server's log (last 40 lines)"; tail -n 40 "$ROOT/.data/browser-server.log"
    die "the browser check failed (above)"
  fi
}
