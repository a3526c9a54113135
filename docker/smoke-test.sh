#!/usr/bin/env bash
# Smoke test of a built qstash-dev image (release.yml runs it before pushing; run it yourself
# after `docker build -f docker/Dockerfile -t qstash-dev .`):
#
#   docker/smoke-test.sh IMAGE [PORT [PORT2]]
#
# Checks: `docker run -d -p 127.0.0.1:PORT:8080 IMAGE` answers /v2/keys with the default token,
# takes a publish (200 + messageId), turns healthy, runs as a non-root user and stops cleanly on
# `docker stop`; `IMAGE qstash dev -port=8081` (published on PORT2) and `IMAGE --version` work.
# PORT and PORT2 (default 8080 and 8081) must be free on the host's loopback; the ports are
# published there only. scripts/test-docker-run.sh runs it too.
set -euo pipefail

image="${1:?usage: docker/smoke-test.sh IMAGE [PORT [PORT2]]}"
port="${2:-8080}"
port2="${3:-8081}"
token="eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
containers=()
cleanup() {
  for c in "${containers[@]}"; do
    docker rm -f "$c" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

fail() {
  echo "smoke test failed: $*" >&2
  for c in "${containers[@]}"; do
    echo "--- docker logs $c" >&2
    docker logs "$c" >&2 || true
  done
  exit 1
}

# Waits until GET /v2/keys on the port answers 200.
wait_keys() {
  local port="$1"
  for _ in $(seq 1 60); do
    if curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v2/keys" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  fail "no answer from /v2/keys on port $port"
}

# Waits until Docker reports the container healthy (its HEALTHCHECK passes).
wait_healthy() {
  local c="$1" status=""
  for _ in $(seq 1 60); do
    status="$(docker inspect --format '{{.State.Health.Status}}' "$c")"
    [[ "$status" == healthy ]] && return 0
    sleep 1
  done
  fail "$c is $status, not healthy"
}

echo "== $image --version"
version_out="$(docker run --rm "$image" --version)"
echo "$version_out"
[[ "$version_out" == qstash\ * ]] || fail "--version printed: $version_out"

echo "== docker run -d -p 127.0.0.1:$port:8080 $image"
containers+=(qstash-smoke-default)
docker run -d --name qstash-smoke-default -p "127.0.0.1:$port:8080" "$image" >/dev/null
wait_keys "$port"
keys="$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v2/keys")"
echo "GET /v2/keys: $keys"
[[ "$keys" == *sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r* ]] || fail "unexpected keys: $keys"
# A publish to a destination nobody listens on: accepted (200, messageId), then retried.
publish="$(curl -fsS -X POST -H "Authorization: Bearer $token" -H "Content-Type: text/plain" \
  --data "hello from the smoke test" "http://127.0.0.1:$port/v2/publish/http://127.0.0.1:9/unreachable")"
echo "POST /v2/publish: $publish"
[[ "$publish" == *'"messageId"'* ]] || fail "no messageId in $publish"
# Not `docker logs | grep -q`: grep's early exit fails the pipeline under pipefail.
logs="$(docker logs qstash-smoke-default 2>&1)"
[[ "$logs" == *"running at http://"* ]] || fail "no readiness line in the logs"
user="$(docker exec qstash-smoke-default id -u)"
[[ "$user" != 0 ]] || fail "runs as root"
echo "runs as uid $user"
wait_healthy qstash-smoke-default
echo "healthy"
docker stop --time 10 qstash-smoke-default >/dev/null
code="$(docker inspect --format '{{.State.ExitCode}}' qstash-smoke-default)"
[[ "$code" == 0 ]] || fail "exit code $code after docker stop"
echo "stopped cleanly on docker stop"

echo "== docker run -d -p 127.0.0.1:$port2:8081 $image qstash dev -port=8081"
containers+=(qstash-smoke-8081)
docker run -d --name qstash-smoke-8081 -p "127.0.0.1:$port2:8081" "$image" qstash dev -port=8081 >/dev/null
wait_keys "$port2"
wait_healthy qstash-smoke-8081
echo "answers and is healthy on 8081"

echo "smoke test passed: $image"
