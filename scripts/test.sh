#!/usr/bin/env bash
# The one command that runs every test of qstash-dev: formatting, lints, the Rust unit and
# integration tests, then the official TypeScript and Python SDKs against the built binary.
# On a fresh machine it installs what it needs (npm packages under tests/sdk, a Python venv).
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
QSTASH_BIN=target/debug/qstash scripts/test-sdk.sh
