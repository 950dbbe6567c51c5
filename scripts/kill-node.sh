#!/usr/bin/env bash
# SIGKILL the node listening on PORT (no goodbye), to watch relay route around it.
#   scripts/kill-node.sh 7002
set -euo pipefail
port=${1:?usage: scripts/kill-node.sh PORT}
pids=$(pgrep -f "gossip node (.* )?(--config [^ ]*node-$port\.toml|--port $port)( |$)" || true)
if [ -z "$pids" ]; then
  echo "no gossip node found for port $port" >&2
  exit 1
fi
kill -KILL $pids
echo "killed node on port $port (pid $pids)"
