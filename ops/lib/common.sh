# Shared by ops/up and ops/test: install what is missing, run a private Postgres cluster.
# Source it; it defines functions only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi
}

# Installs the Debian packages this project needs, once.
ensure_packages() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v pgbench >/dev/null || [ -n "$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null)" ] || missing+=(postgresql-contrib)
  command -v curl >/dev/null || missing+=(curl)
  # The offline providers: speech, media assembly and probing, and a font for thumbnails.
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || missing+=(fonts-dejavu-core)
  # PDF reports: gnuplot draws the charts (SVG), WeasyPrint lays out the HTML as PDF, and
  # poppler-utils (pdftotext, pdftoppm) reads them back in tests and renders the docs' page.
  command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
  command -v weasyprint >/dev/null || missing+=(weasyprint)
  command -v pdftotext >/dev/null || missing+=(poppler-utils)
  # The ML models: XGBoost's C library, linked by the Models module.
  [ -f /usr/include/xgboost/c_api.h ] || missing+=(libxgboost-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null || die "the Swift toolchain (swift 6) is not on PATH"
}

# ensure_python_tools MODULE=PIP-SPEC ...
# Installs the Python tools the checks use into a virtual environment under .data/venv (not
# into the system interpreter: Debian's refuses, PEP 668) and puts it first on PATH, so
# `python3` and the tools' commands are the environment's. Idempotent: only what is missing.
ensure_python_tools() {
  local venv="$ROOT/.data/venv"
  mkdir -p "$ROOT/.data"
  if [ ! -x "$venv/bin/python3" ]; then
    log "creating the Python environment .data/venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$venv" || die "could not create a Python virtual environment in .data/venv"
    fi
  fi
  local wanted=() entry
  for entry in "$@"; do
    "$venv/bin/python3" -c "import ${entry%%=*}" 2>/dev/null || wanted+=("${entry#*=}")
  done
  if [ ${#wanted[@]} -gt 0 ]; then
    log "installing ${wanted[*]} into .data/venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}" >/dev/null 2>&1 \
      || die "could not install ${wanted[*]} from PyPI"
  fi
  export PATH="$venv/bin:$PATH"
}

# Swagger UI's files for /docs, from PyPI's swagger-ui-py in .data/venv: installs it and
# prints the directory (what YTEMPIRE_DOCS_DIR names).
swagger_ui_dir() {
  ensure_python_tools swagger_ui=swagger-ui-py >&2
  "$ROOT/.data/venv/bin/python3" -c 'import os, swagger_ui; print(os.path.join(os.path.dirname(swagger_ui.__file__), "static"))'
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  printf '%s' "$dir"
}

# Runs a command as the cluster's owner: the postgres OS user when we are root
# (initdb refuses to run as root), ourselves otherwise.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_cluster NAME PORT [extra postgresql.conf lines...]
# Starts (creating it first if needed) a cluster in .data/NAME listening on 127.0.0.1:PORT
# and on a socket in the same folder. Idempotent. Prints the data directory.
start_cluster() {
  local name=$1 port=$2; shift 2
  local bin; bin=$(pg_bin)
  local link="$ROOT/.data/$name" dir
  mkdir -p "$ROOT/.data"
  if [ "$(id -u)" -eq 0 ]; then
    # The postgres user must be able to reach the data directory; when the checkout lives
    # where it cannot (under /root, say), keep the cluster in /var/tmp and link it.
    if runuser -u postgres -- test -x "$ROOT/.data" 2>/dev/null; then
      dir="$link"
    else
      dir="/var/tmp/ytempire-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)-$name"
      ln -sfn "$dir" "$link"
    fi
    mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
  else
    dir="$link"; mkdir -p "$dir"; chmod 700 "$dir"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating Postgres cluster $name"
    as_pg_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$dir'"
      echo "max_connections = 300"
      echo "shared_buffers = 256MB"
      for line in "$@"; do echo "$line"; done
    } >> "$dir/postgresql.conf"
  fi
  if ! as_pg_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "starting Postgres cluster $name on 127.0.0.1:$port"
    as_pg_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "Postgres did not start (log above)"; }
  fi
  printf '%s' "$dir"
}

stop_cluster() {
  local name=$1 dir="$ROOT/.data/$1"
  [ -f "$dir/PG_VERSION" ] || return 0
  as_pg_owner "$(pg_bin)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

ensure_pgbouncer() {
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || {
    log "installing pgbouncer"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
  }
}

# start_pgbouncer DIR LISTEN_ADDRESS PORT PG_PORT POOL_SIZE
# Starts PgBouncer in transaction pooling mode in front of the `ytempire` database of the
# cluster on 127.0.0.1:PG_PORT, with at most POOL_SIZE server connections; its pid is in
# DIR/pgbouncer.pid, its log in DIR/pgbouncer.log.
start_pgbouncer() {
  local dir=$1 address=$2 port=$3 pg_port=$4 pool=$5
  ensure_pgbouncer
  mkdir -p "$dir"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
ytempire = host=127.0.0.1 port=$pg_port dbname=ytempire
[pgbouncer]
listen_addr = $address
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool
max_db_connections = $pool
max_client_conn = 2000
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  echo '"postgres" ""' >"$dir/userlist.txt"
  [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$dir"
  as_pg_owner /usr/sbin/pgbouncer -d "$dir/pgbouncer.ini" || die "pgbouncer did not start"
}

# stop_pgbouncer DIR
stop_pgbouncer() {
  kill "$(cat "$1/pgbouncer.pid" 2>/dev/null)" 2>/dev/null || true
}

# psql_at PORT DB SQL
psql_at() {
  psql -h 127.0.0.1 -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -qAtX -c "$3"
}

# build CONFIG: builds the executable (incremental) and prints its path.
build() {
  local config=$1
  (cd "$ROOT" && swift build -c "$config" --product ytempire >&2) || die "swift build failed"
  printf '%s/ytempire' "$(cd "$ROOT" && swift build -c "$config" --show-bin-path)"
}
