#!/usr/bin/env bash
# Sourced by the scripts that need Python packages (moto, DuckDB, polars): defines
#
#   axia_pyvenv DIR PIP_ARGS...
#
# which makes a virtualenv in DIR with PIP_ARGS installed, once: a DIR holding `.installed` is
# reused as it is (name DIR after the pinned versions). python3-venv is installed with apt-get
# when python3 cannot make a virtualenv. Everything it prints goes to stderr.
axia_pyvenv() {
  local venv="$1"
  shift
  [ -f "$venv/.installed" ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "pyvenv: installing $* into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" >&2 2>/dev/null; then
    rm -rf "$venv"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv" >&2
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
  touch "$venv/.installed"
}
