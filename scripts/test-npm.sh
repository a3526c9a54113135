#!/usr/bin/env bash
# Tests the npm wrapper (npm/) as a user gets it: builds the release binary, stages it into this
# platform's package (in a copy of npm/, the repo is left as it is), packs the main and platform
# packages, installs both tarballs into a temporary project with no network and an empty npm
# cache, then runs tests/npm/smoke.mjs there: `npx qstash dev -port=0`, readiness line, a publish
# delivered to a local receiver, SIGTERM; the shim's signals, exit codes and error lines. Then,
# from inside that project, the test kit (`startDevServer`, tests/npm/kit.test.mjs) through
# require and import, and the README's Vitest and Jest globalSetup examples (tests/npm/vitest,
# tests/npm/jest; Vitest and Jest themselves from tests/sdk's lockfile).
#
#   QSTASH_NPM_PROFILE   release (default) or debug: which cargo build to wrap
#   QSTASH_NPM_KEEP=1    keep the temporary directory and print where it is
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

section() { printf '\n==== %s ====\n' "$*"; }

profile="${QSTASH_NPM_PROFILE:-release}"
command -v node >/dev/null || { echo "error: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "error: npm is not installed" >&2; exit 2; }

section "npm: package versions match Cargo.toml"
node npm/stage.mjs --check

section "npm: cargo build ($profile)"
case "$profile" in
  release) cargo build --release --locked; bin="$repo_root/target/release/qstash" ;;
  debug) cargo build --locked; bin="$repo_root/target/debug/qstash" ;;
  *) echo "error: QSTASH_NPM_PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac

platform="$(node -p 'process.platform + "-" + process.arch')"
version="$(node -p 'require("./npm/qstash-dev/package.json").version')"
work="$(mktemp -d "${TMPDIR:-/tmp}/qstash-npm.XXXXXX")"
if [[ "${QSTASH_NPM_KEEP:-}" == 1 ]]; then
  trap 'echo "kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

section "npm: stage the $profile binary into qstash-dev-$platform"
mkdir -p "$work/packs" "$work/project" "$work/cache"
cp -R npm "$work/npm"
rm -rf "$work"/npm/qstash-dev-*/bin
node "$work/npm/stage.mjs" --cargo-toml Cargo.toml "$platform" "$bin"

section "npm: pack"
npm pack --silent --pack-destination "$work/packs" "$work/npm/qstash-dev" "$work/npm/qstash-dev-$platform" >/dev/null
main_tgz="$work/packs/qstash-dev-$version.tgz"
plat_tgz="$work/packs/qstash-dev-$platform-$version.tgz"
ls -l "$work/packs"
# What each tarball holds, and that the binary keeps its executable bit.
tar -tzvf "$main_tgz"
listing="$(tar -tzvf "$plat_tgz")"
echo "$listing"
grep -Eq '^-rwx.* package/bin/qstash(\.exe)?$' <<<"$listing" || {
  echo "error: the binary in $plat_tgz is missing or not executable" >&2
  exit 1
}
tar -xzOf "$main_tgz" package/package.json | node -e '
  const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const bad = Object.keys(p.scripts || {}).filter((s) => /install/.test(s));
  if (bad.length) { console.error("error: install scripts in qstash-dev: " + bad); process.exit(1); }
  if (p.bin.qstash !== "bin/qstash.js" || p.bin["qstash-dev"] !== "bin/qstash.js") { console.error("error: bin", p.bin); process.exit(1); }
  console.log("qstash-dev: no install scripts; bin qstash and qstash-dev; optionalDependencies " + Object.keys(p.optionalDependencies).join(" "));
'

section "npm: install both tarballs offline into a temporary project"
printf '{ "name": "qstash-npm-smoke", "version": "0.0.0", "private": true }\n' >"$work/project/package.json"
(
  cd "$work/project"
  # --offline with an empty cache: nothing can come from a registry. The other platforms'
  # optional packages cannot be fetched and are skipped, as npm does when their os/cpu differ.
  npm install --offline --no-audit --no-fund --no-update-notifier --cache "$work/cache" \
    "$main_tgz" "$plat_tgz"
)
ls -l "$work/project/node_modules/.bin"

section "npm: npx qstash-dev --version"
out="$(cd "$work/project" && npm_config_offline=true npx --cache "$work/cache" qstash-dev --version)"
echo "$out"
[[ "$out" == "qstash $version" ]] || { echo "error: expected \"qstash $version\"" >&2; exit 1; }

section "npm: npx qstash dev -port=0 and the shim (tests/npm/smoke.mjs)"
QSTASH_NPM_PROJECT="$work/project" npm_config_cache="$work/cache" \
  node --test --test-reporter=spec tests/npm/smoke.mjs

section "npm: the test kit, require and import (tests/npm/kit.test.mjs)"
cp tests/npm/kit.test.mjs "$work/project/"
(cd "$work/project" && node --test --test-reporter=spec kit.test.mjs)

section "npm: the README's Vitest globalSetup with the kit (tests/npm/vitest)"
# Vitest and Jest come from tests/sdk's lockfile; the project itself stays offline, with only the tarballs.
if [[ ! -x tests/sdk/node_modules/.bin/vitest || ! -x tests/sdk/node_modules/.bin/jest || ! -x tests/sdk/node_modules/.bin/tsc ]]; then
  (cd tests/sdk && npm ci --no-audit --no-fund)
fi
cp -R tests/npm/vitest "$work/project/vitest"
(cd "$work/project/vitest" && "$repo_root/tests/sdk/node_modules/.bin/vitest" run --config vitest.config.mjs)

section "npm: the README's Jest globalSetup with the kit (tests/npm/jest)"
cp -R tests/npm/jest "$work/project/jest"
(cd "$work/project/jest" && "$repo_root/tests/sdk/node_modules/.bin/jest" --ci)

section "npm: the kit's types (tests/npm/types.check.ts, tsc --strict)"
cp tests/npm/types.check.ts "$work/project/"
(cd "$work/project" && "$repo_root/tests/sdk/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck false \
  --module nodenext --moduleResolution nodenext --target es2022 \
  --typeRoots "$repo_root/tests/sdk/node_modules/@types" --types node types.check.ts)
