#!/bin/sh
# Entrypoint of the qstash-dev image. The command is run as given, so that
#   docker run IMAGE                        -> qstash dev (the image's CMD)
#   docker run IMAGE qstash dev -port=8081  -> qstash dev -port=8081
#   docker run IMAGE sh                     -> sh
# and, as shortcuts, a command that starts with the subcommand or a flag is given to qstash:
#   docker run IMAGE dev -port=8081         -> qstash dev -port=8081
#   docker run IMAGE -port=8081             -> qstash dev -port=8081
#   docker run IMAGE --version              -> qstash --version
# `exec` makes qstash PID 1, so `docker stop` (SIGTERM) and Ctrl-C reach it directly; it shuts
# down cleanly on both and starts no child processes, so no init is needed.
set -eu

case "${1-}" in
  "") set -- qstash dev ;;
  dev) set -- qstash "$@" ;;
  -h | --help | -V | --version) set -- qstash "$@" ;;
  -*) set -- qstash dev "$@" ;;
esac

exec "$@"
