#!/usr/bin/env bash
# Tests the Docker image: first the parts that need no Docker engine, against the built binary,
# then the image itself, built and run under a real engine (scripts/test-docker-engine.sh):
# - the build context: every file the Dockerfile copies passes .dockerignore, and the crate's
#   manifest loads from that context alone;
# - docker/README.md shows docker/github-actions.yml and docker/compose.yaml as they are (the
#   engine test runs those files);
# - docker/entrypoint.sh: `IMAGE`, `IMAGE qstash dev -port=N`, `IMAGE dev -port N`,
#   `IMAGE -port=N`, `IMAGE --version` and `IMAGE sh -c ...` run what they should, with qstash
#   exec'd (so it is PID 1 in the container and gets `docker stop`'s SIGTERM);
# - docker/healthcheck.sh: healthy against a running server whose port it finds from -port,
#   --port or QSTASH_DEV_PORT; unhealthy on a wrong token or a closed port.
# (scripts/test-lint.sh lints the Dockerfile; release.yml builds the image and runs
# docker/smoke-test.sh on it, as the engine test does.)
#
#   QSTASH_BIN   the binary (default: target/release/qstash, else target/debug/qstash); the
#                engine test puts it in the image
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${QSTASH_BIN:-}"
case "$bin" in
  "" | /*) ;;
  *) bin="$(pwd)/$bin" ;;
esac
cd "$repo_root"

section() { printf '\n==== %s ====\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [[ -z "$bin" ]]; then
  bin="$repo_root/target/release/qstash"
  [[ -x "$bin" ]] || bin="$repo_root/target/debug/qstash"
fi
[[ -x "$bin" ]] || fail "no qstash binary at $bin (build it, or set QSTASH_BIN)"
version="$("$bin" --version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/qstash-docker.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
ok() {
  passed=$((passed + 1))
  echo "ok: $*"
}

section "docker: build context (.dockerignore)"
# The sources of the Dockerfile's COPY lines (not COPY --from=stage).
mapfile -t sources < <(awk '
  $1 == "COPY" {
    n = 0
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^--from=/) { n = -1; break }
      if ($i ~ /^--/) continue
      args[++n] = $i
    }
    for (i = 1; i < n; i++) print args[i]
  }' docker/Dockerfile)
[[ ${#sources[@]} -gt 0 ]] || fail "found no COPY sources in docker/Dockerfile"
mkdir -p "$work/context"
for src in "${sources[@]}"; do
  src="${src%/}"
  grep -qxF "!$src" .dockerignore || grep -qxF "!$src/" .dockerignore ||
    fail "docker/Dockerfile copies $src, which .dockerignore leaves out of the context"
  mkdir -p "$work/context/$(dirname "$src")"
  cp -R "$src" "$work/context/$src"
done
ok "every COPY source is in the context: ${sources[*]}"
# The build in the Dockerfile sees only these files: the manifest must load from them alone,
# and no source may reach for a file outside src/.
host="$(rustc -vV | sed -n 's/^host: //p')"
(cd "$work/context" && cargo metadata --locked --offline --format-version 1 --filter-platform "$host" >/dev/null) ||
  fail "the crate and its dependencies do not load from the Docker build context alone"
[[ ! -e build.rs ]] || grep -qxF '!build.rs' .dockerignore || fail "build.rs is not in the context"
# include_str!/include_bytes!/#[path] in src/ must point inside the context.
python3 - "$work/context" <<'PY' || fail "src/ includes files that the Docker build context does not have"
import pathlib, re, sys
context = pathlib.Path(sys.argv[1]).resolve()
pattern = re.compile(r'(?:include_(?:str|bytes)!\(\s*|#\[path\s*=\s*)"([^"]+)"')
bad = []
for rs in pathlib.Path("src").rglob("*.rs"):
    text = rs.read_text(encoding="utf-8")
    if "CARGO_MANIFEST_DIR" in text and "include_" in text:
        bad.append(f"{rs}: include_* with CARGO_MANIFEST_DIR (check it by hand)")
    for m in pattern.finditer(text):
        target = (context / rs.parent / m.group(1)).resolve()
        if not target.is_file():
            bad.append(f"{rs}: {m.group(1)}")
for b in bad:
    print(f"not in the Docker build context: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "cargo metadata resolves the crate from the context alone; every include_str!/#[path] is in it"

section "docker: the examples in docker/README.md"
python3 - docker/README.md docker/github-actions.yml docker/compose.yaml <<'PY' || fail "docker/README.md and the example files differ"
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"^```ya?ml\n(.*?)^```$", readme, flags=re.S | re.M)
missing = [f for f in sys.argv[2:] if open(f, encoding="utf-8").read() not in blocks]
for f in missing:
    print(f"docker/README.md does not show {f} as it is", file=sys.stderr)
sys.exit(1 if missing else 0)
PY
ok "docker/README.md shows docker/github-actions.yml and docker/compose.yaml verbatim"

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Runs docker/entrypoint.sh with `qstash` on PATH, as the image does, in the background;
# sets $pid and $log, and waits for the readiness line.
mkdir -p "$work/bin"
ln -s "$bin" "$work/bin/qstash"
start() {
  log="$work/server-$RANDOM.log"
  PATH="$work/bin:$PATH" QSTASH_DEV_HOST=0.0.0.0 NO_COLOR=1 docker/entrypoint.sh "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    grep -q "running at http://" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || fail "entrypoint $* exited: $(cat "$log")"
    sleep 0.1
  done
  fail "no readiness line from entrypoint $*: $(cat "$log")"
}
stop() {
  kill -TERM "$pid"
  local code=0
  wait "$pid" || code=$?
  [[ $code == 0 ]] || fail "exit code $code after SIGTERM"
}
healthcheck() {
  QSTASH_HEALTHCHECK_PID="$pid" docker/healthcheck.sh
}
# What the entrypoint left running: qstash itself (exec), with these arguments.
cmdline() {
  tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ $//'
}

section "docker: entrypoint and health check"

out="$(PATH="$work/bin:$PATH" docker/entrypoint.sh --version)"
[[ "$out" == "$version" ]] || fail "entrypoint --version printed $out"
ok "IMAGE --version -> $out"

out="$(PATH="$work/bin:$PATH" docker/entrypoint.sh sh -c 'echo any command')"
[[ "$out" == "any command" ]] || fail "entrypoint sh -c printed $out"
ok "IMAGE sh -c '...' runs that command"

port="$(free_port)"
QSTASH_DEV_PORT="$port" start
[[ "$(cmdline)" == "qstash dev" ]] || fail "IMAGE ran '$(cmdline)', not 'qstash dev'"
grep -q "running at http://127.0.0.1:$port" "$log" || fail "not on port $port: $(cat "$log")"
QSTASH_DEV_PORT="$port" healthcheck >/dev/null || fail "unhealthy with QSTASH_DEV_PORT=$port"
ok "IMAGE (no arguments) -> qstash dev on 0.0.0.0, PID of its own; healthy via QSTASH_DEV_PORT"
if QSTASH_DEV_PORT="$port" QSTASH_HEALTHCHECK_TOKEN=wrong healthcheck 2>/dev/null; then
  fail "healthy with a wrong token"
fi
ok "unhealthy with a wrong token"
stop
if QSTASH_DEV_PORT="$port" healthcheck 2>/dev/null; then
  fail "healthy with the server stopped"
fi
ok "stops with exit code 0 on SIGTERM; then unhealthy"

port="$(free_port)"
start qstash dev -port="$port"
[[ "$(cmdline)" == "qstash dev -port=$port" ]] || fail "ran '$(cmdline)'"
healthcheck >/dev/null || fail "unhealthy on -port=$port"
stop
ok "IMAGE qstash dev -port=$port -> as given; healthy, the port read from -port=N"

port="$(free_port)"
start dev -port "$port"
[[ "$(cmdline)" == "qstash dev -port $port" ]] || fail "ran '$(cmdline)'"
healthcheck >/dev/null || fail "unhealthy on -port $port"
stop
ok "IMAGE dev -port $port -> qstash dev -port $port; healthy, the port read from -port N"

port="$(free_port)"
# The flag wins over the env var, in the binary and in the health check.
QSTASH_DEV_PORT=1 start --port="$port"
[[ "$(cmdline)" == "qstash dev --port=$port" ]] || fail "ran '$(cmdline)'"
QSTASH_DEV_PORT=1 healthcheck >/dev/null || fail "unhealthy on --port=$port"
stop
ok "IMAGE --port=$port -> qstash dev --port=$port; healthy, the flag over QSTASH_DEV_PORT"

echo
echo "docker: $passed passed, 0 failed"

QSTASH_BIN="$bin" scripts/test-docker-engine.sh
