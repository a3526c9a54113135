#!/usr/bin/env bash
# Runs the SDK conformance suites (tests/sdk): the official TypeScript (@upstash/qstash) and Python (qstash)
# clients, and Upstash Workflow (@upstash/workflow served by a Node test app), against the `qstash` binary.
# Needs only Node >= 20 (with npm) and Python 3.11 (with venv).
#
#   QSTASH_BIN   path to the binary (default: target/debug/qstash under the repo root)
#   SDK_SUITES   which suites to run: "ts py workflow" (default), or any of them, e.g. "ts" or "workflow"
#   SDK_PERSIST  "1": run the suites a second time, every server started with -persist on a file of
#                its own in a temporary directory
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sdk_dir="$repo_root/tests/sdk"

bin="${QSTASH_BIN:-$repo_root/target/debug/qstash}"
case "$bin" in
  /*) ;;
  *) bin="$(pwd)/$bin" ;;
esac
suites="${SDK_SUITES:-ts py workflow}"

section() { printf '\n==== %s ====\n' "$*"; }

section "qstash binary"
if [[ ! -x "$bin" ]]; then
  echo "error: qstash binary not found or not executable at $bin (build it, or set QSTASH_BIN)" >&2
  exit 2
fi
echo "$bin"
export QSTASH_BIN="$bin"
# The SDKs switch to their own dev mode or other endpoints on these; the tests pass everything explicitly.
unset QSTASH_DEV QSTASH_URL QSTASH_TOKEN QSTASH_CURRENT_SIGNING_KEY QSTASH_NEXT_SIGNING_KEY QSTASH_REGION || true

ts_status=""
py_status=""
workflow_status=""

node_deps_ready=no
node_deps() {
  [[ "$node_deps_ready" == yes ]] && return 0
  section "Node: dependencies (@upstash/qstash, @upstash/workflow)"
  command -v node >/dev/null || { echo "error: node is not installed" >&2; exit 2; }
  echo "node $(node --version), npm $(npm --version 2>/dev/null)"
  # Reinstall when node_modules is missing or was installed from a different lockfile.
  if [[ ! -d "$sdk_dir/node_modules" ]] || ! cmp -s "$sdk_dir/package-lock.json" "$sdk_dir/node_modules/.sdk-lock-stamp"; then
    (cd "$sdk_dir" && npm ci --no-audit --no-fund)
    cp "$sdk_dir/package-lock.json" "$sdk_dir/node_modules/.sdk-lock-stamp"
  else
    echo "node_modules up to date"
  fi
  node_deps_ready=yes
}

# One pass of the chosen suites; `$pass` names it in the headings and the summary.
run_suites() {
  local pass="$1"
  if [[ " $suites " == *" ts "* ]]; then
    node_deps
    section "TypeScript SDK: tests (@upstash/qstash)$pass"
    if (cd "$sdk_dir" && node --import tsx --test --test-reporter=spec ts/*.test.ts); then
      ts_status+=" passed$pass"
    else
      ts_status+=" FAILED$pass"
    fi
  fi

  if [[ " $suites " == *" py "* ]]; then
    section "Python SDK: dependencies"
    python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || { echo "error: $python is not installed" >&2; exit 2; }
    venv="$sdk_dir/.venv"
    if [[ ! -x "$venv/bin/python" ]]; then
      "$python" -m venv "$venv"
    fi
    if ! cmp -s "$sdk_dir/python/requirements.txt" "$venv/.sdk-requirements-stamp"; then
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$sdk_dir/python/requirements.txt"
      cp "$sdk_dir/python/requirements.txt" "$venv/.sdk-requirements-stamp"
    else
      echo "venv up to date"
    fi
    "$venv/bin/python" --version

    section "Python SDK: tests (qstash)$pass"
    if (cd "$sdk_dir/python" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q -rfE .); then
      py_status+=" passed$pass"
    else
      py_status+=" FAILED$pass"
    fi
  fi

  if [[ " $suites " == *" workflow "* ]]; then
    node_deps
    section "Upstash Workflow: tests (@upstash/workflow serve() in a node:http app)$pass"
    if (cd "$sdk_dir" && node --import tsx --test --test-reporter=spec workflow/*.test.ts); then
      workflow_status+=" passed$pass"
    else
      workflow_status+=" FAILED$pass"
    fi
  fi
}

run_suites ""
if [[ "${SDK_PERSIST:-}" == 1 ]]; then
  SDK_PERSIST_DIR="$(mktemp -d)"
  export SDK_PERSIST_DIR
  trap 'rm -rf "$SDK_PERSIST_DIR"' EXIT
  run_suites " (-persist)"
fi

section "summary"
echo "TypeScript:${ts_status:- skipped}"
echo "Python:    ${py_status:- skipped}"
echo "Workflow:  ${workflow_status:- skipped}"
if [[ "$ts_status$py_status$workflow_status" == *FAILED* ]]; then
  exit 1
fi
