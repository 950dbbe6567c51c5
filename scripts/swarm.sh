#!/usr/bin/env bash
# Launch N real gossip node processes on loopback (default 100), wait for membership, make one
# update, measure how long every live node took to hold it and how many datagrams it cost,
# print a summary and stop every process it started (also on Ctrl-C).
#
#   scripts/swarm.sh                 100 nodes
#   scripts/swarm.sh 200             200 nodes
#   scripts/swarm.sh 100 --kill 0.2  SIGKILL 20% of them before the update
#   scripts/swarm.sh 100 --json      the summary as JSON
#
# Any further options go to `gossip swarm` (see `gossip swarm --help`). GOSSIP_BIN uses a
# prebuilt binary instead of building.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${GOSSIP_BIN:-$ROOT/target/release/gossip}"

nodes=100
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  nodes=$1
  shift
fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [ -z "${GOSSIP_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
fi
# Each node keeps a socket and a few threads: make sure the descriptor limit allows them.
ulimit -n "$(( nodes * 16 + 1024 ))" 2>/dev/null || true
exec "$BIN" swarm --nodes "$nodes" "$@"
