#!/usr/bin/env bash
# cargo deny check (deny.toml): licences, bans and sources always; advisories when the RustSec
# database can be fetched or a copy exists. Installs cargo-deny when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "deny.sh: installing cargo-deny" >&2
  cargo install --locked cargo-deny@0.20.2
fi

cargo deny --locked check --hide-inclusion-graph licenses bans sources

db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --locked check advisories
elif compgen -G "$db/*" >/dev/null; then
  echo "deny.sh: the advisory database cannot be fetched; checking against the copy in $db" >&2
  cargo deny --locked check --disable-fetch advisories
else
  echo "deny.sh: advisories NOT checked: github.com (the RustSec database) is unreachable and" \
    "no copy is in $db" >&2
fi
