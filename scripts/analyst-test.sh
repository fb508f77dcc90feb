#!/usr/bin/env bash
# The archive as analysts read it. The collector (embedded defaults: the simulated source,
# offline) fills a fresh archive with symbols a hive reader could split wrongly (`USDJPY=X`,
# `JPY=X`, `GC=F`, `^N225`, `AT&T`, `BTC-USD`) and a plain one; then DuckDB and polars (Python, pinned, from PyPI)
# each scan the whole tree with hive partitioning, and their bars per series must equal what
# the collector reports it archived. Installs what it needs; run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

cache_dir="${AXIA_CACHE_DIR:-$HOME/.cache/axia}"
duckdb_version="2.0.1"
polars_version="2.1.0"
venv="$cache_dir/analyst-duckdb-$duckdb_version-polars-$polars_version"
# shellcheck source=pyvenv.sh
source scripts/pyvenv.sh
axia_pyvenv "$venv" "duckdb==$duckdb_version" "polars==$polars_version"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
cargo build --locked -q -p axia-collector
archive="$(mktemp -d)"
trap 'rm -rf "$archive"' EXIT
# Only the flags decide: no Redis, no settings from the environment.
env -u REDIS_URL -u AXIA_ARCHIVE -u AXIA_SOURCE -u AXIA_SYMBOLS -u AXIA_TIMEFRAMES \
  "$CARGO_TARGET_DIR/debug/axia-collector" --symbols 'USDJPY=X,JPY=X,GC=F,^N225,AT&T,BTC-USD,EURUSD' \
  --timeframes H1,M15 --archive "$archive/tree" --json \
  backfill --from 2026-03-02 --to 2026-03-13 > "$archive/report.json"

"$venv/bin/python" - "$archive/tree/ohlcv" "$archive/report.json" <<'PY'
import json
import sys

import duckdb
import polars as pl

tree, report = sys.argv[1], sys.argv[2]
with open(report) as f:
    tasks = json.load(f)["tasks"]
want = {(t["symbol"], t["timeframe"]): t["archived"] for t in tasks}
assert len(want) == 14 and all(n > 0 for n in want.values()), want

duck = {
    (s, tf): n
    for s, tf, n in duckdb.sql(
        f"select symbol, timeframe, count(*) from read_parquet('{tree}/*/*/*.parquet', "
        "hive_partitioning = true) group by all"
    ).fetchall()
}
polars = {
    (s, tf): n
    for s, tf, n in pl.scan_parquet(f"{tree}/", hive_partitioning=True)
    .group_by("symbol", "timeframe")
    .len()
    .collect()
    .rows()
}
failed = False
for reader, got in (("DuckDB", duck), ("polars", polars)):
    if got != want:
        failed = True
        print(f"analyst-test: {reader} read {sorted(got.items())}, the collector archived {sorted(want.items())}")
if failed:
    sys.exit(1)
print(f"analyst-test: DuckDB and polars read {sum(want.values())} bars in {len(want)} series, as archived")
PY
