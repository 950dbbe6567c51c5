#!/usr/bin/env bash
# Restart the node for PORT with its config: in its tmux pane if the cluster runs in tmux,
# otherwise in the background. Kills it first if it is still running.
#   scripts/restart-node.sh 7002
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${GOSSIP_BIN:-$ROOT/target/release/gossip}"
SESSION=${GOSSIP_SESSION:-gossip}
RUN_DIR=${GOSSIP_RUN_DIR:-${TMPDIR:-/tmp}/gossip-cluster}
port=${1:?usage: scripts/restart-node.sh PORT}
name="n$port"

pgrep -f "gossip node (.* )?(--config [^ ]*node-$port\.toml|--port $port)( |$)" >/dev/null \
  && "$ROOT/scripts/kill-node.sh" "$port" >/dev/null && sleep 0.2

if command -v tmux >/dev/null 2>&1 && tmux has-session -t "$SESSION" 2>/dev/null; then
  pane=$(tmux list-panes -s -t "$SESSION" -F '#{pane_id} #{pane_title}' | awk -v n="$name" '$2 == n {print $1}')
  if [ -n "$pane" ]; then
    tmux respawn-pane -k -t "$pane"
    echo "restarted $name in its tmux pane"
    exit 0
  fi
fi
cfg=""
[ -f "$RUN_DIR/pids/$name.config" ] && cfg=$(cat "$RUN_DIR/pids/$name.config")
[ -z "$cfg" ] && [ -f "$ROOT/config/node-$port.toml" ] && cfg="$ROOT/config/node-$port.toml"
if [ -z "$cfg" ]; then
  echo "no config known for port $port" >&2
  exit 1
fi
mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
(cd "$ROOT" && exec "$BIN" node --config "$cfg") >>"$RUN_DIR/logs/$name.log" 2>&1 &
echo $! >"$RUN_DIR/pids/$name"
echo "restarted $name in the background (log: $RUN_DIR/logs/$name.log)"
