#!/usr/bin/env bash
# Tests the PyPI distribution as a user gets it: checks that its version is Cargo.toml's, builds
# this platform's wheel with maturin (pyproject.toml; maturin itself in tests/python/.venv-build),
# installs it into a fresh venv with no package index (pytest and the official `qstash` SDK come
# from a wheelhouse downloaded first), and runs tests/python there: the `qstash` and `qstash-dev`
# commands, the `qstash_dev` pytest fixture with a verified delivery, `start_dev_server()`.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

section() { printf '\n==== %s ====\n' "$*"; }

python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/qstash-python.XXXXXX")"
trap 'rm -rf "$work"' EXIT

section "python: maturin (tests/python/.venv-build)"
build_venv=tests/python/.venv-build
if [[ ! -x "$build_venv/bin/maturin" ]]; then
  "$python" -m venv "$build_venv"
  "$build_venv/bin/pip" install --quiet --disable-pip-version-check "maturin==1.16.0"
fi
"$build_venv/bin/maturin" --version

section "python: build the wheel"
"$build_venv/bin/maturin" build --release --locked --out "$work/dist"
wheel="$(ls "$work"/dist/qstash_dev-*.whl)"
echo "$wheel"
cargo_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
[[ "$(basename "$wheel")" == "qstash_dev-$cargo_version-"* ]] || {
  echo "error: the wheel's version is not Cargo.toml's ($cargo_version)" >&2
  exit 1
}

section "python: a fresh venv, no index"
"$python" -m pip download --quiet --disable-pip-version-check --dest "$work/wheelhouse" -r tests/python/requirements.txt
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$work/wheelhouse" \
  "$wheel" -r tests/python/requirements.txt
ls -l "$work/venv/bin/qstash" "$work/venv/bin/qstash-dev"

section "python: tests/python in that venv"
# From the temporary directory, so `qstash_dev` is the installed package, not the sources.
cp tests/python/test_wheel.py "$work/"
(cd "$work" && PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m pytest -p no:cacheprovider -q -rfE test_wheel.py)
