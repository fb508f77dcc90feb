#!/usr/bin/env bash
# The chart page in a real browser: headless Chromium (Debian's `chromium` package; browser
# downloads are impossible here, so never `npx playwright install`) driven by playwright-core
# (pinned by package-lock.json), against a real axia-server on the embedded defaults and the
# real Redis. Installs what it needs. Screenshots and time-to-chart figures land in
# target/browser/ of the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_install() {
  $sudo apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}
if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test.sh: installing chromium with apt-get" >&2
  apt_install chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "browser-test.sh: installing nodejs and npm with apt-get" >&2
  apt_install nodejs npm
fi

# shellcheck source=services.sh
source scripts/services.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axia-target}"
cargo build --locked -q -p axia-server --bin axia-server --example put_bar --example put_alert
cargo build --locked -q -p axia-live-feed --bin axia-live

dir=presentation/axia-server/tests/browser
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)

export AXIA_SERVER_BIN="$CARGO_TARGET_DIR/debug/axia-server"
export AXIA_PUT_BAR_BIN="$CARGO_TARGET_DIR/debug/examples/put_bar"
export AXIA_PUT_ALERT_BIN="$CARGO_TARGET_DIR/debug/examples/put_alert"
export AXIA_LIVE_BIN="$CARGO_TARGET_DIR/debug/axia-live"
export AXIA_BROWSER_OUT="$PWD/target/browser"
node --test "$dir/chart.test.mjs"
echo "browser-test.sh: screenshots and figures in $AXIA_BROWSER_OUT"
