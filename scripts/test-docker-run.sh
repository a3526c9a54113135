#!/usr/bin/env bash
# Runs a built qstash-dev image under a running Docker engine and checks it from the host
# (scripts/test-docker-engine.sh builds the image, starts the engine and runs this):
# - `docker run -p 127.0.0.1:PORT:8080 IMAGE`: the banner in `docker logs`, the API, qstash as
#   PID 1 under the non-root user; `--read-only ... IMAGE qstash dev -port=8081`; QSTASH_DEV_*
#   variables; the health check (`docker inspect`); `docker stop` ends each on SIGTERM within
#   2 s with exit code 0;
# - the service of docker/github-actions.yml, started as the runner starts it, with the job's env,
#   and docker/compose.yaml, each as it is but for the image and a free port: through each, the
#   official TypeScript SDK publishes to a receiver on the host at host.docker.internal
#   (tests/sdk/docker/host-delivery.mjs), which verifies the delivery with its Receiver;
# - docker/smoke-test.sh, the release's own check, beside the others.
# Every port is published on 127.0.0.1 only; the receiver listens on the Docker bridge's address.
#
#   scripts/test-docker-run.sh IMAGE
#   QSTASH_BIN   the binary in the image, whose --version the image's must print (optional)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${1:?usage: scripts/test-docker-run.sh IMAGE}"
bin="${QSTASH_BIN:-}"
case "$bin" in
  "" | /*) ;;
  *) bin="$(pwd)/$bin" ;;
esac
cd "$repo_root"

prefix=qstash-test
token="eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
current_key="sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"

# What this run started, for cleanup().
containers=()
networks=()
compose=()
compose_up=no
smoke_pid=""

section() { printf '\n==== %s ====\n' "$*"; }
passed=0
ok() {
  passed=$((passed + 1))
  echo "ok: $*"
}
fail() {
  echo "FAIL: $*" >&2
  for c in "${containers[@]}"; do
    echo "--- docker logs $c (last lines)" >&2
    docker logs --tail 5 "$c" >&2 2>&1 || true
  done
  exit 1
}
# Prints stdin but the client's warning about an engine started without IP forwarding (as
# scripts/test-docker-engine.sh starts it), under which containers still reach this host,
# which is all these checks need.
quiet_warning() {
  grep -v '^WARNING: IPv4 forwarding is disabled' || true
}

work="$(mktemp -d "${TMPDIR:-/tmp}/qstash-docker-run.XXXXXX")"
cleanup() {
  [[ -z "$smoke_pid" ]] || kill "$smoke_pid" 2>/dev/null || true
  if [[ "$compose_up" == yes ]]; then
    "${compose[@]}" down --timeout 2 >/dev/null 2>&1 || true
  fi
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  for n in "${networks[@]}"; do docker network rm "$n" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker image inspect "$image" >/dev/null || fail "no image $image"
# Leftovers of an interrupted run.
for c in $(docker ps -aq --filter "name=^$prefix-"); do docker rm -f "$c" >/dev/null; done
for n in $(docker network ls -q --filter "name=^$prefix-"); do docker network rm "$n" >/dev/null; done

section "docker run $image --version"
out="$(docker run --rm "$image" --version 2> >(quiet_warning >&2))" || fail "docker run $image --version: $out"
if [[ -n "$bin" ]]; then
  version="$("$bin" --version)"
  [[ "$out" == "$version" ]] || fail "docker run $image --version printed '$out', $bin says '$version'"
fi
ok "docker run $image --version -> $out"

# N distinct free loopback ports, on one line.
free_ports() {
  node -e '
    const net = require("net");
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer().listen(0, "127.0.0.1"));
    Promise.all(servers.map((s) => new Promise((r) => s.on("listening", r)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}
run() {
  local name="$prefix-$1"
  shift
  containers+=("$name")
  local err
  err="$(docker run -d --name "$name" "$@" 2>&1 >/dev/null)" || fail "docker run --name $name $*: $err"
  quiet_warning <<<"$err"
}
# GET /v2/keys through the published port; waits for the server. Prints the body.
keys() {
  local port="$1" body
  shift
  for _ in $(seq 1 100); do
    if body="$(curl -fsS -m 2 -H "Authorization: Bearer $token" "$@" "http://127.0.0.1:$port/v2/keys" 2>/dev/null)"; then
      echo "$body"
      return 0
    fi
    sleep 0.2
  done
  return 1
}
wait_healthy() {
  local c="$1" status=""
  for _ in $(seq 1 120); do
    status="$(docker inspect --format '{{.State.Health.Status}}' "$c")" || fail "docker inspect $c"
    [[ "$status" == healthy ]] && return 0
    [[ "$status" == unhealthy ]] && break
    sleep 0.5
  done
  fail "$c is $status, not healthy: $(docker inspect --format '{{json .State.Health.Log}}' "$c")"
}
banner_has() {
  local logs
  logs="$(docker logs "$prefix-$1" 2>&1)"
  [[ "$logs" == *"$2"* ]] || fail "$prefix-$1: no '$2' in the banner"
}
# The host as the container sees it (host-gateway: the Docker bridge's address on this host).
host_gateway() {
  docker exec "$1" getent ahostsv4 host.docker.internal | awk 'NR == 1 { print $1 }'
}
deliver_to_host() {
  local c="$1" address
  address="$(host_gateway "$c")"
  [[ -n "$address" ]] || fail "$c does not resolve host.docker.internal"
  node tests/sdk/docker/host-delivery.mjs "$address" || fail "no verified delivery from $c to the host"
}

# The official TypeScript SDK: scripts/test-sdk.sh's install under tests/sdk, made the same way
# when this runs alone.
sdk_dir=tests/sdk
if [[ ! -d "$sdk_dir/node_modules" ]] || ! cmp -s "$sdk_dir/package-lock.json" "$sdk_dir/node_modules/.sdk-lock-stamp"; then
  (cd "$sdk_dir" && npm ci --no-audit --no-fund) >"$work/npm.log" 2>&1 || fail "npm ci: $(tail -20 "$work/npm.log")"
  cp "$sdk_dir/package-lock.json" "$sdk_dir/node_modules/.sdk-lock-stamp"
fi

section "docker run: the containers"
read -r p_default p_flag p_env p_smoke1 p_smoke2 p_gha p_compose < <(free_ports 7)
# docker/smoke-test.sh (what release.yml runs before pushing) goes on beside the checks below.
docker/smoke-test.sh "$image" "$p_smoke1" "$p_smoke2" >"$work/smoke.log" 2>&1 &
smoke_pid=$!
run default -p "127.0.0.1:$p_default:8080" "$image"
run flag --read-only -p "127.0.0.1:$p_flag:8081" "$image" qstash dev -port=8081
run env -p "127.0.0.1:$p_env:9090" -e QSTASH_DEV_PORT=9090 -e QSTASH_DEV_QUOTA=pro \
  -e QSTASH_DEV_ALLOWED_HOSTS=qstash.test "$image"

# The service of docker/github-actions.yml, started as the runner starts it (a network of the
# job's own, the service's name as alias, GITHUB_ACTIONS and CI set, its ports and options),
# with this test's image and a free loopback port for its one port.
mapfile -t gha < <(python3 - docker/github-actions.yml <<'PY'
import shlex, sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    job = next(iter(yaml.safe_load(f)["jobs"].values()))
service = job["services"]["qstash"]
print(f"image\t{service['image']}")
for port in service.get("ports", []):
    print(f"port\t{port}")
for option in shlex.split(service.get("options", "")):
    print(f"option\t{option}")
for key, value in job.get("env", {}).items():
    print(f"env\t{key}={value}")
PY
)
gha_opts=()
gha_env=()
gha_port=""
for line in "${gha[@]}"; do
  value="${line#*$'\t'}"
  case "${line%%$'\t'*}" in
    port)
      [[ -z "$gha_port" ]] || fail "docker/github-actions.yml: more than one port"
      gha_port="${value%%:*}"
      gha_opts+=(-p "127.0.0.1:$p_gha:${value##*:}")
      ;;
    option) gha_opts+=("$value") ;;
    env) gha_env+=("${value//127.0.0.1:$gha_port/127.0.0.1:$p_gha}") ;;
  esac
done
[[ -n "$gha_port" && " ${gha_env[*]} " == *" QSTASH_URL=http://127.0.0.1:$p_gha "* ]] ||
  fail "docker/github-actions.yml: no port, or no QSTASH_URL on it (${gha[*]})"
networks+=("$prefix-gha")
docker network create "$prefix-gha" >/dev/null
run gha --network "$prefix-gha" --network-alias qstash -e GITHUB_ACTIONS=true -e CI=true \
  "${gha_opts[@]}" "$image"

# docker/compose.yaml as it is, with this test's image and a free port.
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
compose+=(-f docker/compose.yaml -p "$prefix-compose")
compose_up=yes
QSTASH_IMAGE="$image" QSTASH_PORT="$p_compose" "${compose[@]}" up -d >"$work/compose.log" 2>&1 ||
  fail "${compose[*]} up -d: $(cat "$work/compose.log")"

section "docker run -p 127.0.0.1:$p_default:8080 $image"
body="$(keys "$p_default")" || fail "no answer from /v2/keys on port $p_default"
[[ "$body" == *"$current_key"* ]] || fail "GET /v2/keys: $body"
banner_has default "running at http://127.0.0.1:8080"
banner_has default "QSTASH_TOKEN=$token"
banner_has default "QSTASH_CURRENT_SIGNING_KEY=$current_key"
ok "banner (readiness line, QSTASH_TOKEN, signing keys) in docker logs; GET /v2/keys -> $body"
uid="$(docker exec "$prefix-default" awk '/^Uid:/ { print $2 }' /proc/1/status)" || fail "docker exec: $uid"
cmd="$(docker exec "$prefix-default" sh -c 'tr "\0" " " </proc/1/cmdline')" || fail "docker exec: $cmd"
[[ "$uid" == 10001 && "$cmd" == "qstash dev " ]] || fail "PID 1 is '$cmd' as uid $uid"
ok "PID 1 is qstash dev, as uid $uid (not root)"

section "docker run --read-only -p 127.0.0.1:$p_flag:8081 $image qstash dev -port=8081"
keys "$p_flag" >/dev/null || fail "no answer from /v2/keys on port $p_flag"
banner_has flag "running at http://127.0.0.1:8081"
publish="$(curl -fsS -m 5 -X POST -H "Authorization: Bearer $token" -H "Upstash-Retries: 0" \
  --data "read-only" "http://127.0.0.1:$p_flag/v2/publish/http://127.0.0.1:9/nobody")" ||
  fail "publish on the read-only container"
[[ "$publish" == *'"messageId"'* ]] || fail "publish answered $publish"
if err="$(docker exec -u 0 "$prefix-flag" touch /probe 2>&1)"; then fail "the root filesystem is writable"; fi
[[ "$err" == *"Read-only file system"* ]] || fail "touch /probe as root: $err"
ok "answers on 8081 and takes a publish with the root filesystem read-only ($err)"

section "docker run -e QSTASH_DEV_PORT=9090 -e QSTASH_DEV_QUOTA=pro -e QSTASH_DEV_ALLOWED_HOSTS=qstash.test"
keys "$p_env" -H "Host: qstash.test" >/dev/null || fail "Host qstash.test refused with QSTASH_DEV_ALLOWED_HOSTS"
status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -H "Host: other.test" \
  "http://127.0.0.1:$p_env/v2/keys")" || fail "no answer on port $p_env"
[[ "$status" == 403 ]] || fail "Host other.test answered $status, not 403"
banner_has env "running at http://127.0.0.1:9090"
banner_has env "Quota preset pro"
ok "the server took QSTASH_DEV_PORT, QSTASH_DEV_QUOTA and QSTASH_DEV_ALLOWED_HOSTS (other.test: 403)"

section "docker inspect: health"
for c in default flag env; do
  wait_healthy "$prefix-$c"
done
ok "default, -port=8081 (read-only) and QSTASH_DEV_PORT=9090 turn healthy"

section "docker/github-actions.yml: the service, the job's env, a delivery to the runner"
wait_healthy "$prefix-gha"
(
  export "${gha_env[@]}"
  deliver_to_host "$prefix-gha"
) || exit 1
# A job that runs in a container of its own reaches the service by its name.
status="$(docker run --rm --network "$prefix-gha" "$image" 2> >(quiet_warning >&2) bash -c "exec 3<>/dev/tcp/qstash/$gha_port
  printf 'GET /v2/keys HTTP/1.1\r\nHost: qstash:$gha_port\r\nAuthorization: Bearer $token\r\nConnection: close\r\n\r\n' >&3
  head -n 1 <&3")" || fail "no answer from http://qstash:$gha_port on the job's network: $status"
[[ "$status" == "HTTP/1.1 200"* ]] || fail "http://qstash:$gha_port from the job's network: $status"
ok "healthy (the runner waits for it); the SDK with the job's env publishes through 127.0.0.1:$p_gha, delivered to the runner through host.docker.internal and verified; http://qstash:$gha_port answers on the job's network"

section "docker/compose.yaml (${compose[*]} up -d)"
cid="$("${compose[@]}" ps -q qstash)" || fail "${compose[*]} ps: $cid"
[[ -n "$cid" ]] || fail "${compose[*]} ps: no qstash container"
wait_healthy "$cid"
(
  export QSTASH_URL="http://127.0.0.1:$p_compose" QSTASH_TOKEN="$token" \
    QSTASH_CURRENT_SIGNING_KEY="$current_key" QSTASH_NEXT_SIGNING_KEY="sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
  deliver_to_host "$cid"
) || exit 1
"${compose[@]}" down --timeout 2 >>"$work/compose.log" 2>&1 || fail "${compose[*]} down: $(cat "$work/compose.log")"
compose_up=no
ok "healthy; a publish through 127.0.0.1:$p_compose is delivered to the host through host.docker.internal and verified; ${compose[*]} down"

section "docker stop"
for c in default flag env gha; do
  t0="$(date +%s%N)"
  # Past 2 s docker would kill it (exit code 137): a 0 means it ended on SIGTERM within 2 s.
  docker stop --time 2 "$prefix-$c" >/dev/null
  ms=$((($(date +%s%N) - t0) / 1000000))
  code="$(docker inspect --format '{{.State.ExitCode}}' "$prefix-$c")"
  [[ "$code" == 0 ]] || fail "$prefix-$c: exit code $code after docker stop --time 2"
  echo "$prefix-$c: stopped in $ms ms, exit code 0"
done
ok "docker stop ends each container on SIGTERM within 2 s, exit code 0"

section "docker/smoke-test.sh"
smoke_code=0
wait "$smoke_pid" || smoke_code=$?
smoke_pid=""
quiet_warning <"$work/smoke.log"
[[ "$smoke_code" == 0 ]] || fail "docker/smoke-test.sh exited $smoke_code"
ok "docker/smoke-test.sh $image"

echo
echo "docker-run: $passed passed, 0 failed"
