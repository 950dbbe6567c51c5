#!/usr/bin/env bash
# Start a local gossip cluster: one node per config/*.toml, one tmux pane each.
#
#   scripts/cluster.sh              build if needed, start, attach
#   scripts/cluster.sh --detach     start without attaching
#   scripts/cluster.sh --nodes 8    generate an 8-node ring topology in a temp dir and use it
#   scripts/cluster.sh --nodes 8 --base-port 9000   … on ports 9000-9007
#   scripts/cluster.sh --config-dir DIR   use DIR/*.toml instead of config/
#   scripts/cluster.sh --stop       stop every node gracefully (SIGTERM), then the session
#
# Without tmux it says how to install it and runs the nodes in the background, logging to
# $GOSSIP_RUN_DIR (default ${TMPDIR:-/tmp}/gossip-cluster), and shows `gossip top`.
# GOSSIP_BIN uses a prebuilt binary instead of building; GOSSIP_SESSION names the tmux session.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${GOSSIP_BIN:-$ROOT/target/release/gossip}"
SESSION=${GOSSIP_SESSION:-gossip}
RUN_DIR=${GOSSIP_RUN_DIR:-${TMPDIR:-/tmp}/gossip-cluster}
detach=0
stop=0
nodes=""
base_port=7000
config_dir="$ROOT/config"

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --detach) detach=1 ;;
    --stop) stop=1 ;;
    --nodes) nodes=${2:?--nodes needs a number}; shift ;;
    --base-port) base_port=${2:?--base-port needs a port}; shift ;;
    --config-dir) config_dir=${2:?--config-dir needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

have_tmux() { command -v tmux >/dev/null 2>&1; }

stop_cluster() {
  local stopped=0
  if have_tmux && tmux has-session -t "$SESSION" 2>/dev/null; then
    # SIGTERM each pane's node so it shuts down cleanly, then close the session.
    for pid in $(tmux list-panes -s -t "$SESSION" -F '#{pane_pid}'); do
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 1
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    stopped=1
  fi
  if [ -d "$RUN_DIR/pids" ]; then
    for f in "$RUN_DIR"/pids/*; do
      [ -f "$f" ] || continue
      kill -TERM "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
      stopped=1
    done
  fi
  if [ $stopped = 1 ]; then echo "cluster stopped"; else echo "no cluster running"; fi
}

if [ $stop = 1 ]; then
  stop_cluster
  exit 0
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$BIN" ]; then
  echo "cargo not found: install Rust from https://rustup.rs, then run this again" >&2
  exit 1
fi
if [ -z "${GOSSIP_BIN:-}" ] && command -v cargo >/dev/null 2>&1; then
  echo "building gossip (release)…"
  (cd "$ROOT" && cargo build --release --quiet --bin gossip)
fi

if [ -n "$nodes" ]; then
  case "$nodes" in ''|*[!0-9]*) echo "--nodes needs a number" >&2; exit 2 ;; esac
  config_dir=$(mktemp -d "${TMPDIR:-/tmp}/gossip-config.XXXXXX")
  "$BIN" topology ring --nodes "$nodes" --peers 2 --base-port "$base_port" --out "$config_dir" >/dev/null
  echo "generated a $nodes-node ring in $config_dir"
fi

configs=("$config_dir"/*.toml)
if [ ! -f "${configs[0]}" ]; then
  echo "no *.toml files in $config_dir" >&2
  exit 2
fi

node_name() { basename "$1" .toml | sed 's/^node-/n/'; }

if have_tmux; then
  if tmux has-session -t "$SESSION" 2>/dev/null; then
    echo "a tmux session '$SESSION' is already running: scripts/cluster.sh --stop first" >&2
    exit 1
  fi
  first=1
  for cfg in "${configs[@]}"; do
    cmd="cd '$ROOT' && exec '$BIN' node --config '$cfg'"
    if [ $first = 1 ]; then
      tmux new-session -d -s "$SESSION" -n cluster -x 240 -y 60 "$cmd"
      tmux set-option -t "$SESSION" remain-on-exit on >/dev/null
      tmux set-option -t "$SESSION" pane-border-status top >/dev/null
      tmux set-option -t "$SESSION" pane-border-format ' #{pane_title} ' >/dev/null
      first=0
    else
      tmux split-window -t "$SESSION:cluster" "$cmd"
      tmux select-layout -t "$SESSION:cluster" tiled >/dev/null
    fi
    tmux select-pane -t "$SESSION:cluster" -T "$(node_name "$cfg")"
  done
  tmux select-layout -t "$SESSION:cluster" tiled >/dev/null
  echo "started ${#configs[@]} nodes in tmux session '$SESSION'"
  echo "  status:  $BIN status 127.0.0.1:$base_port      cluster: $BIN top --config-dir $config_dir"
  echo "  kill:    scripts/kill-node.sh $((base_port + 2))      restart: scripts/restart-node.sh $((base_port + 2))"
  echo "  stop:    scripts/cluster.sh --stop"
  if [ $detach = 0 ]; then
    if [ -n "${TMUX:-}" ]; then tmux switch-client -t "$SESSION"; else tmux attach -t "$SESSION"; fi
  fi
  exit 0
fi

echo "tmux not found; install it for one pane per node:" >&2
echo "  sudo apt-get install tmux     # Debian/Ubuntu" >&2
echo "  brew install tmux             # macOS" >&2
echo "falling back to background processes, logs in $RUN_DIR" >&2
mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
for cfg in "${configs[@]}"; do
  name=$(node_name "$cfg")
  (cd "$ROOT" && exec "$BIN" node --config "$cfg") >"$RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/pids/$name"
  echo "$cfg" >"$RUN_DIR/pids/$name.config"
done
echo "started ${#configs[@]} nodes; logs in $RUN_DIR/logs; stop with scripts/cluster.sh --stop"
if [ $detach = 0 ]; then
  echo "watching the cluster with gossip top (Ctrl-C stops watching; the nodes keep running)"
  sleep 1
  "$BIN" top --config-dir "$config_dir"
fi
