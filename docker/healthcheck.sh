#!/bin/bash
# HEALTHCHECK of the qstash-dev image: GET /v2/keys as the default user, healthy on a 200.
# Needs nothing but bash (its /dev/tcp), so the image carries no curl or wget.
#
# The port is the server's: a -port / --port flag on the server's command line (PID 1), else
# QSTASH_DEV_PORT, else 8080. (With -port=0 the port is random and the check cannot know it.)
#   QSTASH_HEALTHCHECK_PID    whose command line to read (default 1)
#   QSTASH_HEALTHCHECK_TOKEN  the bearer token (default: the default user's)
set -euo pipefail

token="${QSTASH_HEALTHCHECK_TOKEN:-eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=}"
port="${QSTASH_DEV_PORT:-}"

cmdline="/proc/${QSTASH_HEALTHCHECK_PID:-1}/cmdline"
if [[ -r "$cmdline" ]]; then
  prev=""
  while IFS= read -r -d '' arg; do
    case "$prev" in
      -port | --port) port="$arg" ;;
    esac
    case "$arg" in
      -port=* | --port=*) port="${arg#*=}" ;;
    esac
    prev="$arg"
  done <"$cmdline"
fi
port="${port:-8080}"

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /v2/keys HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' \
  "$port" "$token" >&3
status=""
IFS= read -r status <&3 || true
status="${status%$'\r'}"
exec 3<&-

case "$status" in
  "HTTP/1.1 200"* | "HTTP/1.0 200"*)
    echo "healthy: GET /v2/keys on port $port: $status"
    ;;
  *)
    echo "unhealthy: GET /v2/keys on port $port: ${status:-no answer}" >&2
    exit 1
    ;;
esac
