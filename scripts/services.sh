#!/usr/bin/env bash
# Starts the services the test suite talks to, idempotently, and exports how to reach them.
#
#   source scripts/services.sh   # start (if needed) and export the variables into this shell
#   scripts/services.sh          # start (if needed) and print the variables as `export` lines
#   scripts/services.sh stop     # stop the AWS-protocol server this script started
#
# - Redis on 127.0.0.1:${AXIA_REDIS_PORT:-6379}: reuses one that answers PING, otherwise starts
#   redis-server, keeping nothing on disk. redis-server is installed with apt-get when missing
#   (tests also start private servers on spare ports).
# - moto, the AWS-protocol server for S3, DynamoDB and SQS, on 127.0.0.1:${AXIA_MOTO_PORT:-5000},
#   from a pinned virtualenv under ${AXIA_CACHE_DIR:-$HOME/.cache/axia}.
# - PostgreSQL (the job engine's store) on 127.0.0.1:${AXIA_PG_PORT:-5432}: reuses one that
#   accepts connections, otherwise installs Debian's postgresql with apt-get when missing and
#   starts a private cluster (trust auth on loopback) under the cache directory (as root:
#   /var/tmp/axia-pg-PORT, run as the postgres user); the database
#   `test` is created when missing.
#
# Tests always get static credentials and AWS_EC2_METADATA_DISABLED=true, so the AWS credential
# chain never looks for the cloud metadata address: no traffic leaves loopback.

_axia_services() {
  set -euo pipefail
  local cache_dir="${AXIA_CACHE_DIR:-$HOME/.cache/axia}"
  local redis_port="${AXIA_REDIS_PORT:-6379}"
  local moto_port="${AXIA_MOTO_PORT:-5000}"
  local moto_version="5.2.5"
  local venv="$cache_dir/moto-$moto_version"
  local scripts_dir
  scripts_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  mkdir -p "$cache_dir"

  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

  _axia_log() { echo "services: $*" >&2; }

  # --- Redis -------------------------------------------------------------------------------
  _axia_redis_ping() {
    # A bare RESP PING over bash's /dev/tcp: needs neither redis-cli nor a client library.
    local reply=""
    { exec 9<>"/dev/tcp/127.0.0.1/$redis_port"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&9
    IFS= read -r -t 2 reply <&9 || true
    exec 9>&- 9<&-
    [[ "$reply" == "+PONG"* ]]
  }

  # The binary is needed even when a server answers: some tests start private servers.
  if ! command -v redis-server >/dev/null 2>&1; then
    _axia_log "installing redis-server with apt-get"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
  fi

  # openssl makes the certificates of the TLS tests.
  if ! command -v openssl >/dev/null 2>&1; then
    _axia_log "installing openssl with apt-get"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >&2
  fi

  if _axia_redis_ping; then
    _axia_log "redis answers on 127.0.0.1:$redis_port"
  else
    _axia_log "starting redis-server on 127.0.0.1:$redis_port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" \
      --appendonly no --dir "$cache_dir" --logfile "$cache_dir/redis-$redis_port.log" >&2
    local i
    for i in $(seq 1 50); do _axia_redis_ping && break; sleep 0.1; done
    _axia_redis_ping || { _axia_log "redis did not answer on port $redis_port"; return 1; }
  fi

  # --- PostgreSQL --------------------------------------------------------------------------
  local pg_port="${AXIA_PG_PORT:-5432}"
  if ! command -v psql >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    _axia_log "installing postgresql with apt-get"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  fi
  _axia_pg_up() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; }
  if _axia_pg_up; then
    _axia_log "postgresql answers on 127.0.0.1:$pg_port"
  else
    local pg_bin pg_data="$cache_dir/pg-$pg_port"
    pg_bin="$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")"
    # initdb and the server refuse to run as root: they run as the `postgres` user, in a
    # directory it can reach.
    local as=()
    if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); pg_data="/var/tmp/axia-pg-$pg_port"; fi
    if [ ! -f "$pg_data/PG_VERSION" ]; then
      _axia_log "creating a postgresql cluster in $pg_data"
      mkdir -p "$pg_data"
      if [ "$(id -u)" -eq 0 ]; then chown postgres "$pg_data"; fi
      "${as[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust >/dev/null
    fi
    _axia_log "starting postgresql on 127.0.0.1:$pg_port"
    "${as[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
      -o "-h 127.0.0.1 -p $pg_port -k /tmp" start >&2
    local i
    for i in $(seq 1 50); do _axia_pg_up && break; sleep 0.2; done
    _axia_pg_up || { _axia_log "postgresql did not answer; see $pg_data/server.log"; return 1; }
  fi
  if [ "$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'test'")" != "1" ]; then
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc 'create database test' >&2
  fi

  # --- moto ----------------------------------------------------------------------------------
  # shellcheck source=pyvenv.sh
  source "$scripts_dir/pyvenv.sh"
  axia_pyvenv "$venv" "moto[s3,dynamodb,sqs]==$moto_version" flask flask-cors

  # Up means moto answers and it is the serialized server (scripts/moto_server.py): its
  # responses carry `x-axia-moto: serialized`.
  _axia_moto_probe() {
    "$venv/bin/python" - "$moto_port" <<'PY' 2>/dev/null
import sys, urllib.request
# The dashboard page: cheap whatever moto holds (data.json dumps the whole state).
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=5) as r:
    body = r.read()
    assert b"moto" in body.lower()
    print("serialized" if r.headers.get("x-axia-moto") == "serialized" else "plain")
PY
  }
  _axia_moto_up() { [ "$(_axia_moto_probe)" = "serialized" ]; }

  local moto_state
  moto_state="$(_axia_moto_probe || true)"
  if [ "$moto_state" = "plain" ]; then
    # A plain moto_server (an older checkout's): replace it when it is ours to stop.
    if [ -f "$cache_dir/moto-$moto_port.pid" ]; then
      _axia_log "replacing the plain moto_server on port $moto_port with the serialized one"
      kill "$(cat "$cache_dir/moto-$moto_port.pid")" 2>/dev/null || true
      rm -f "$cache_dir/moto-$moto_port.pid"
      for i in $(seq 1 50); do _axia_moto_probe >/dev/null || break; sleep 0.1; done
    else
      _axia_log "a moto_server not started here answers on port $moto_port; concurrent" \
        "conditional writes on it are not atomic (stop it, or set AXIA_MOTO_PORT)"
    fi
  fi

  if _axia_moto_probe >/dev/null; then
    _axia_log "moto answers on 127.0.0.1:$moto_port"
  else
    _axia_log "starting moto_server on 127.0.0.1:$moto_port"
    # Detached from this shell's stdio so a CI runner waiting for EOF is not held open.
    setsid nohup "$venv/bin/python" "$scripts_dir/moto_server.py" -H 127.0.0.1 -p "$moto_port" \
      </dev/null >"$cache_dir/moto-$moto_port.log" 2>&1 &
    echo $! >"$cache_dir/moto-$moto_port.pid"
    local i
    for i in $(seq 1 100); do _axia_moto_up && break; sleep 0.2; done
    _axia_moto_up || { _axia_log "moto did not answer; see $cache_dir/moto-$moto_port.log"; return 1; }
  fi
}

_axia_stop() {
  local cache_dir="${AXIA_CACHE_DIR:-$HOME/.cache/axia}"
  local pidfile="$cache_dir/moto-${AXIA_MOTO_PORT:-5000}.pid"
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
}

_axia_exports() {
  cat <<VARS
export REDIS_URL="redis://127.0.0.1:${AXIA_REDIS_PORT:-6379}"
export DATABASE_URL="postgres://postgres@127.0.0.1:${AXIA_PG_PORT:-5432}/test"
export AWS_ENDPOINT_URL="http://127.0.0.1:${AXIA_MOTO_PORT:-5000}"
export AWS_REGION="us-east-1"
export AWS_ACCESS_KEY_ID="axia-test"
export AWS_SECRET_ACCESS_KEY="axia-test-secret"
export AWS_EC2_METADATA_DISABLED="true"
VARS
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: start in a subshell (its `set -e` must not leak), then export here.
  ( _axia_services ) || return 1
  eval "$(_axia_exports)"
else
  case "${1:-start}" in
    start) _axia_services && _axia_exports ;;
    stop) _axia_stop ;;
    *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
  esac
fi
