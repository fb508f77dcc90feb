#!/usr/bin/env bash
# The main job: builds and runs the collector. Arguments go to axia-collector (see --help).
#
#   scripts/collect.sh                  # embedded defaults: simulated source -> ./axia-archive, offline
#   scripts/collect.sh --json           # one machine-readable report
#   AXIA_PROFILE=release scripts/collect.sh --config /etc/axia/collector.toml
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v cargo >/dev/null 2>&1; then
  echo "collect.sh: cargo is not on PATH; install Rust (https://rustup.rs) first" >&2
  exit 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
profile="${AXIA_PROFILE:-dev}"
dir="debug"; [ "$profile" = "dev" ] || dir="$profile"
bin="$CARGO_TARGET_DIR/$dir/axia-collector"
# Say that it builds, and show cargo's progress: the first build takes minutes (about 5 in
# debug on two cores, 20 in release) and would look like a hang. Quiet when up to date.
if [ ! -x "$bin" ]; then
  echo "collect.sh: building axia-collector ($profile) into $CARGO_TARGET_DIR: the first build takes several minutes" >&2
  cargo build --locked --profile "$profile" -p axia-collector --manifest-path "$root/Cargo.toml" >&2
else
  cargo build --quiet --locked --profile "$profile" -p axia-collector --manifest-path "$root/Cargo.toml" >&2
fi
exec "$bin" "$@"
