#!/usr/bin/env bash
# Browser tests of the dashboard (tests/e2e): playwright-core drives Debian's Chromium, headless,
# against the built binary; the workflow tests serve the workflow app of tests/sdk/workflow
# (TypeScript, loaded with tests/sdk's tsx). Installs Chromium with apt-get when
# /usr/bin/chromium is missing (needs root, as in CI) and the npm packages of tests/e2e and
# tests/sdk when missing or stale. Screenshots land in tests/e2e/artifacts/.
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

# Reinstall when node_modules is missing or was installed from another lockfile (the stamps
# are the ones scripts/test-sdk.sh also uses for tests/sdk).
install() {
  local dir="$1" stamp="$2"
  if [[ ! -d "$dir/node_modules" ]] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/$stamp"; then
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$dir/node_modules/$stamp"
  fi
}
install tests/sdk .sdk-lock-stamp
install tests/e2e .e2e-lock-stamp

tsx="$(pwd)/tests/sdk/node_modules/tsx/dist/loader.mjs"
cd tests/e2e
node --import "$tsx" --test --test-reporter=spec --test-concurrency=1 dashboard.test.mjs workflows.test.mjs
