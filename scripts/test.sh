#!/usr/bin/env bash
# The whole test suite: starts Redis and the AWS-protocol server (scripts/services.sh), then
# runs every test of the workspace against them. Extra arguments go to `cargo test`.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p axia-domain  # one crate
#
# AXIA_SLOW=1 also runs the slow tests (see docs/ARCHITECTURE.md, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo is not on PATH; install Rust (https://rustup.rs) first" >&2
  exit 2
fi

# shellcheck source=services.sh
source scripts/services.sh

# Every test names its own buckets, tables and queues; start from an empty moto so a server that
# outlived earlier runs stays small and fast.
python3 - "${AWS_ENDPOINT_URL}/moto-api/reset" <<'PY2'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=30).read()
PY2

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

if [ "$#" -gt 0 ]; then
  exec cargo test "$@"
fi
# Benches print figures and are run on purpose (see the README), not as tests.
cargo test --workspace --lib --bins --tests --locked
# Doc tests are not part of --all-targets.
cargo test --workspace --doc --locked

# The facade's examples: each runs to completion (they assert what they print).
run_example() { echo "example $1"; cargo run --locked -q -p axia --features "$2" --example "$1"; }
run_example thirty_days_of_h1 simulated,parquet
run_example archive_with_polars simulated,dataframe
run_example live_updates simulated,redis
run_example submit_order simulated,orders
run_example features simulated
run_example live_bars simulated

# A service outside the workspace that knows only `axia`: offline, then on Redis and S3 (moto).
consumer_bucket="axia-consumer-$$-$(date +%s)"
python3 - "${AWS_ENDPOINT_URL}/${consumer_bucket}" <<'PY2'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="PUT"), timeout=30).read()
PY2
(
  cd tests/axia-consumer
  echo "consumer (offline)"
  cargo run --locked -q
  echo "consumer (redis, s3)"
  AXIA_CONSUMER_ARCHIVE="s3://${consumer_bucket}/bars" cargo run --locked -q --features redis,s3
)

# The archive as analysts read it: DuckDB and polars (Python) over a tree the collector wrote.
echo "analyst readers (DuckDB, polars)"
scripts/analyst-test.sh
