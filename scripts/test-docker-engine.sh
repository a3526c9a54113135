#!/usr/bin/env bash
# Builds the qstash-dev image from docker/Dockerfile under a real Docker engine and runs
# scripts/test-docker-run.sh on it (scripts/test-docker.sh runs this after its engine-less checks):
# - the engine: the running one, else dockerd started here (apt-get installs docker.io when
#   missing), without iptables and IP forwarding so that containers reach this host and nothing
#   beyond it, and stopped again at the end; the image qstash-dev:test stays for runs by hand;
# - the build: the binary under test goes in through the Dockerfile's BINARY argument (nothing
#   is compiled twice); the base is the official one when the engine has it, else one made here
#   with mmdebstrap from Debian's packages (RUNTIME_IMAGE). Nothing is pulled from a registry
#   unless QSTASH_DOCKER_PULL=1;
# - the image's size, against its base's.
# It also installs docker-compose (Compose v1, what Debian 12 has) when there is no
# `docker compose`, for the run checks.
#
#   QSTASH_BIN          the Linux binary to put in the image (default: target/release/qstash)
#   QSTASH_DOCKER_PULL  1: pull the official base when the engine lacks it, where a registry
#                       can be reached (GitHub's runners); by default nothing is pulled
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${QSTASH_BIN:-target/release/qstash}"
case "$bin" in
  /*) ;;
  *) bin="$(pwd)/$bin" ;;
esac
cd "$repo_root"

pull="${QSTASH_DOCKER_PULL:-0}"
image=qstash-dev:test
binary_image=qstash-dev-binary:test
local_base_repo=qstash-dev-base
dockerd_pid=""

section() { printf '\n==== %s ====\n' "$*"; }
passed=0
ok() {
  passed=$((passed + 1))
  echo "ok: $*"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -x "$bin" ]] || fail "no qstash binary at $bin (cargo build --release, or set QSTASH_BIN)"
started_at=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/qstash-docker-engine.XXXXXX")"
cleanup() {
  docker rmi "$binary_image" >/dev/null 2>&1 || true
  if [[ -n "$dockerd_pid" ]]; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "docker engine"
apt_updated=no
apt_install() {
  local sudo=() t=$SECONDS
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  if [[ "$apt_updated" == no ]]; then
    "${sudo[@]}" apt-get update -q >>"$work/apt.log" 2>&1 || fail "apt-get update: $(tail -5 "$work/apt.log")"
    apt_updated=yes
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
    >>"$work/apt.log" 2>&1 || fail "apt-get install $*: $(tail -5 "$work/apt.log")"
  echo "apt-get install $* ($((SECONDS - t)) s)"
}
# What is missing, in one apt-get run: with no engine yet there is no base image either, so
# mmdebstrap comes along unless the official base may be pulled.
missing=()
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then
  missing+=(docker.io)
  command -v mmdebstrap >/dev/null || [[ "$pull" == 1 ]] || missing+=(mmdebstrap)
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
if docker info >/dev/null 2>&1; then
  echo "using the running engine (left running)"
else
  [[ "$(id -u)" == 0 ]] || fail "no Docker engine is running, and starting one needs root"
  # Without iptables and forwarding: published ports go through docker-proxy, containers reach
  # this host's addresses and nothing beyond it.
  dockerd --iptables=false --ip-forward=false >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 150); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || fail "dockerd exited: $(tail -20 "$work/dockerd.log")"
    sleep 0.2
  done
  docker info >/dev/null 2>&1 || fail "dockerd did not answer in 30 s: $(tail -20 "$work/dockerd.log")"
  echo "started dockerd (pid $dockerd_pid; stopped at the end) without iptables and IP forwarding"
fi
echo "engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}')"

section "docker build (docker/Dockerfile)"
build_args=(--build-arg "BINARY=$binary_image")
official_base="$(sed -n 's/^ARG RUNTIME_IMAGE=//p' docker/Dockerfile)"
[[ -n "$official_base" ]] || fail "docker/Dockerfile has no ARG RUNTIME_IMAGE default"
suite="${official_base#debian:}"
suite="${suite%-slim}"
if docker image inspect "$official_base" >/dev/null 2>&1; then
  base="$official_base"
  echo "base: $base (the official one, already in the engine)"
elif [[ "$pull" == 1 ]]; then
  base="$official_base"
  docker pull -q "$base" || fail "docker pull $base"
else
  base="$local_base_repo:$suite"
  if docker image inspect "$base" >/dev/null 2>&1; then
    echo "base: $base (made by an earlier run; docker rmi it to make it anew)"
  else
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    # As the official slim images: minbase, without manuals, docs (but copyrights) or locales.
    t=$SECONDS
    mmdebstrap --quiet --variant=minbase \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      "$suite" - 2>"$work/mmdebstrap.log" |
      docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$base" >/dev/null ||
      fail "mmdebstrap $suite: $(tail -20 "$work/mmdebstrap.log")"
    echo "base: $base, made with mmdebstrap --variant=minbase $suite in $((SECONDS - t)) s"
  fi
  build_args+=(--build-arg "RUNTIME_IMAGE=$base")
fi
# The binary under test, as an image that holds it at /out/qstash.
mkdir -p "$work/binary/out"
cp "$bin" "$work/binary/out/qstash"
tar -C "$work/binary" --owner=0 --group=0 -c out | docker import - "$binary_image" >/dev/null
# BuildKit: buildx where the client has it, else the client that comes with Debian's docker.io,
# which has BuildKit built in (a newer client without buildx only has the legacy builder).
if docker buildx version >/dev/null 2>&1; then
  build=(docker build)
elif [[ -x /usr/bin/docker ]]; then
  build=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
else
  build=(env DOCKER_BUILDKIT=1 docker build)
fi
old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
t=$SECONDS
"${build[@]}" --progress=plain -f docker/Dockerfile "${build_args[@]}" -t "$image" . >"$work/build.log" 2>&1 ||
  fail "docker build: $(tail -30 "$work/build.log")"
docker rmi "$binary_image" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$image")"
[[ -z "$old_id" || "$old_id" == "$new_id" ]] || docker rmi "$old_id" >/dev/null 2>&1 || true
ok "built $image from docker/Dockerfile in $((SECONDS - t)) s (${build_args[*]})"

QSTASH_BIN="$bin" scripts/test-docker-run.sh "$image"

section "image size"
size="$(docker image inspect --format '{{.Size}}' "$image")"
base_size="$(docker image inspect --format '{{.Size}}' "$base")"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
echo "$image: $(mb "$size") = base $base $(mb "$base_size") + qstash binary $(mb "$(stat -c %s "$bin")") + scripts"

echo
echo "docker engine: $((SECONDS - started_at)) s"
echo "docker-engine: $passed passed, 0 failed"
