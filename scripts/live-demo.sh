#!/usr/bin/env bash
# The live feed offline, in one command: the simulated market's price stream into the Redis hot
# tier (axia-live) and the server with its chart (axia-server), on one clock. Redis is started
# where none answers (scripts/services.sh). Open the chart it prints; Ctrl-C stops both.
#
#   scripts/live-demo.sh                 # EURUSD, USDJPY, GBPUSD, AAPL; chart on 127.0.0.1:8080
#   AXIA_SYMBOLS=EURUSD,AUDUSD scripts/live-demo.sh
#
# On a weekend or at night the simulated markets are as closed as the real ones: the demo then
# runs on a clock started at the last weekday's 14:00 UTC (FX and New York stocks trade).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "live-demo.sh: cargo is not on PATH; install Rust (https://rustup.rs) first" >&2
  exit 2
fi
# shellcheck source=services.sh
source scripts/services.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
export AXIA_SYMBOLS="${AXIA_SYMBOLS:-EURUSD,USDJPY,GBPUSD,AAPL}"
echo "live-demo.sh: building axia-live and axia-server (the first build takes several minutes)" >&2
cargo build --locked -p axia-live-feed -p axia-server >&2

# Now, or the last weekday's 14:00 UTC when the markets are closed now (weekend, night).
at="$(python3 - <<'PY'
import datetime as d
now = d.datetime.now(d.timezone.utc)
open_now = now.weekday() < 5 and 14 <= now.hour < 20
t = now
if not open_now:
    t = now.replace(hour=14, minute=0, second=0, microsecond=0)
    if t > now:
        t -= d.timedelta(days=1)
    while t.weekday() >= 5:
        t -= d.timedelta(days=1)
print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
)"
config="$(mktemp -d)/axia.toml"
cat > "$config" <<TOML
[hot_cache]
url = "${REDIS_URL}"
namespace = "demo-$$"
[archive]
location = "$(dirname "$config")/archive"
TOML
bin="$CARGO_TARGET_DIR/debug"
"$bin/axia-live" --config "$config" --at "$at" &
live=$!
"$bin/axia-server" --config "$config" --at "$at" --listen 127.0.0.1:8080 &
server=$!
trap 'kill -TERM "$live" "$server" 2>/dev/null; wait' INT TERM EXIT
echo "live-demo.sh: the clock starts at $at; open http://127.0.0.1:8080/chart/EURUSD/M1 (Ctrl-C stops)" >&2
wait
