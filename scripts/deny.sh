#!/usr/bin/env bash
# cargo deny check (deny.toml): licences, bans and sources always; advisories against the live
# RustSec database, or the snapshot in ../shared/advisory-db when it cannot be fetched.
# Installs cargo-deny when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "deny.sh: installing cargo-deny" >&2
  cargo install --locked cargo-deny@0.20.2
fi

cargo deny --locked check --hide-inclusion-graph licenses bans sources

# Advisories: the live RustSec database when GitHub answers; otherwise the snapshot beside the
# checkout (../shared/advisory-db, see its SNAPSHOT.md), made into the git repository cargo-deny
# reads, under the name it derives from the database's URL.
snapshot="$(cd .. && pwd)/shared/advisory-db"
if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --locked check --hide-inclusion-graph advisories
elif [ -f "$snapshot/SNAPSHOT.md" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/axia/advisory-dbs"
  copy="$cache/advisory-db-3157b0e258782691"
  if ! cmp -s "$snapshot/SNAPSHOT.md" "$copy/SNAPSHOT.md"; then
    rm -rf "$copy"
    mkdir -p "$cache"
    cp -r "$snapshot" "$copy"
    chmod -R u+w "$copy"
    git -C "$copy" init -q
    git -C "$copy" add -A
    git -C "$copy" -c user.name=axia -c user.email=axia@localhost commit -q -m "snapshot"
  fi
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  # db-path goes beside the first `version = 2`, [advisories]' (licenses has its own).
  sed "0,/^version = 2$/s||version = 2\ndb-path = \"$cache\"|" deny.toml >"$config"
  echo "deny.sh: the advisory database cannot be fetched; checking against the snapshot in" \
    "$snapshot: $(grep -o 'commit [0-9a-f]\{40\}' "$snapshot/SNAPSHOT.md" | head -1)," \
    "of $(grep -o '[0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}' "$snapshot/SNAPSHOT.md" | head -1)" >&2
  cargo deny --locked --offline --config "$config" check --hide-inclusion-graph advisories
else
  echo "deny.sh: advisories NOT checked: github.com (the RustSec database) is unreachable and" \
    "no snapshot is at $snapshot" >&2
fi
