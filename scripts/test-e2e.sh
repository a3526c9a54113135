#!/usr/bin/env bash
# Browser tests of the dashboard (tests/e2e): playwright-core drives Debian's Chromium, headless,
# against the built binary. Installs Chromium with apt-get when /usr/bin/chromium is missing
# (needs root, as in CI) and the npm packages when tests/e2e/node_modules is missing or stale.
# Screenshots land in tests/e2e/artifacts/.
#
#   QSTASH_BIN  the binary, relative to the repository root (default target/debug/qstash)
#   CHROMIUM    the browser (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export QSTASH_BIN="${QSTASH_BIN:-target/debug/qstash}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [[ ! -x "$QSTASH_BIN" ]]; then
  echo "error: $QSTASH_BIN is missing; run cargo build first" >&2
  exit 2
fi

if [[ ! -x "$CHROMIUM" ]]; then
  if [[ "$CHROMIUM" != /usr/bin/chromium ]]; then
    echo "error: CHROMIUM=$CHROMIUM is not an executable" >&2
    exit 2
  fi
  echo "Installing Debian's chromium (apt-get)"
  sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
fi
"$CHROMIUM" --version 2>/dev/null || true

cd tests/e2e
# Reinstall when node_modules is missing or was installed from another lockfile.
if [[ ! -d node_modules ]] || ! cmp -s package-lock.json node_modules/.e2e-lock-stamp; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.e2e-lock-stamp
fi

node --test --test-reporter=spec --test-concurrency=1 dashboard.test.mjs
