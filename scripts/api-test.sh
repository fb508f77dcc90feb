#!/usr/bin/env bash
# The HTTP API as a careless or hostile client sees it: schemathesis (pinned, from PyPI, in a
# virtualenv) generates requests from axia-server's own /openapi.json, valid and invalid, and
# checks every answer: no 5xx, every status and content type documented, every body of its
# schema, no schema-valid request refused. Against a real axia-server on the embedded defaults
# (the simulated broker offline) with the real Redis. Installs what it needs; run by .ci/run.
set -eo pipefail
set -u
cd "$(dirname "$0")/.."

cache_dir="${AXIA_CACHE_DIR:-$HOME/.cache/axia}"
schemathesis_version="4.32.5"
venv="$cache_dir/schemathesis-$schemathesis_version"
# shellcheck source=pyvenv.sh
source scripts/pyvenv.sh
axia_pyvenv "$venv" "schemathesis==$schemathesis_version"

# shellcheck source=services.sh
source scripts/services.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
cargo build --locked -q -p axia-server --bin axia-server

work="$(mktemp -d)"
port=$((21000 + $$ % 20000))
base="http://127.0.0.1:$port"
env -u AXIA_ARCHIVE -u AXIA_SOURCE RUST_LOG=warn "$CARGO_TARGET_DIR/debug/axia-server" \
  --listen "127.0.0.1:$port" --archive "$work/archive" --namespace "api-test-$$-$(date +%s)" \
  --redis-url "$REDIS_URL" 2>"$work/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  if python3 - "$base/health" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
PY
  sleep 0.1
done

# Every check schemathesis has; 100 examples an operation, in the coverage and fuzzing phases.
status=0
"$venv/bin/schemathesis" run "$base/openapi.json" --url "$base" --max-examples 100 \
  --request-timeout 30 | tee "$work/report.txt" || status=$?
# One closing line: the test cases schemathesis ran, as passed and failed.
cases="$(grep -Eo '[0-9]+ generated' "$work/report.txt" | tail -1 | grep -Eo '[0-9]+' || echo 0)"
passed="$(grep -Eo '[0-9]+ passed' "$work/report.txt" | tail -1 | grep -Eo '[0-9]+' || echo 0)"
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "api-test.sh: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -20 >&2
  status=1
fi
echo "api-test: $passed passed, $((cases - passed)) failed"
exit "$status"
