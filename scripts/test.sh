#!/usr/bin/env bash
# The one command that runs every test of qstash-dev: formatting, lints, the Rust unit and
# integration tests, the official TypeScript and Python SDKs against the built binary, the
# dashboard in headless Chromium (Playwright; apt-get installs chromium when missing), then the
# packaging: the npm wrapper and its test kit installed offline from their tarballs, the PyPI
# wheel built with maturin and installed into a fresh venv with no index, the Docker image built
# and run under a Docker engine (started, and docker.io installed, when there is none), and hadolint /
# actionlint / shellcheck on the Dockerfile, workflows and scripts. On a fresh machine it
# installs what it needs (npm packages under tests/sdk, Python venvs at tests/sdk/.venv,
# tests/python/.venv-build and .venv-tools, Debian's packages with apt-get).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() { printf '\n==== %s ====\n' "$*"; }

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

section "cargo build"
cargo build --locked

section "cargo test"
cargo test --locked

section "SDK conformance (tests/sdk)"
QSTASH_BIN=target/debug/qstash SDK_PERSIST=1 scripts/test-sdk.sh

section "Dashboard in a browser (scripts/test-e2e.sh)"
QSTASH_BIN=target/debug/qstash scripts/test-e2e.sh

section "npm wrapper and test kit (scripts/test-npm.sh)"
scripts/test-npm.sh

section "PyPI wheel and Python test kit (scripts/test-python.sh)"
scripts/test-python.sh

section "Docker image: entrypoint, health check, built and run under an engine (scripts/test-docker.sh)"
QSTASH_BIN=target/release/qstash scripts/test-docker.sh

section "lint: Dockerfile, workflows, scripts (scripts/test-lint.sh)"
scripts/test-lint.sh
