#!/usr/bin/env bash
# Large state, this project and chitchat side by side in one run (issue #11's figures).
# Alternates: gossip's `cargo bench --bench state`, then the chitchat harness on the same
# work, RUNS times. Needs the harness built (see ../shared/peers/README.md):
#   CARGO_TARGET_DIR=/tmp/cc-target cargo build --release --manifest-path ../shared/peers/chitchat/Cargo.toml
# Usage: scripts/bench-state.sh [RUNS=2]    env: NODES=100 VALUE=1048576 STATE=100000 CC=/tmp/cc-target/release/peer-chitchat
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-2}
NODES=${NODES:-100}
VALUE=${VALUE:-1048576}
STATE=${STATE:-100000}
CC=${CC:-/tmp/cc-target/release/peer-chitchat}
cargo bench --bench state --no-run >/dev/null 2>&1
for r in $(seq 1 "$RUNS"); do
  echo "== run $r: gossip"
  GOSSIP_BENCH_NODES=$NODES GOSSIP_BENCH_VALUE_BYTES=$VALUE GOSSIP_BENCH_STATE_BYTES=$STATE \
    cargo bench --bench state 2>/dev/null | grep '^run'
  GOSSIP_BENCH_NODES=$NODES GOSSIP_BENCH_VALUE_BYTES=60000 GOSSIP_BENCH_STATE_BYTES=0 \
    cargo bench --bench state 2>/dev/null | grep '^run'
  echo "== run $r: chitchat (values must fit one 65 KB datagram: 60 KB update; state in 60 KB keys)"
  "$CC" --nodes "$NODES" --gossip-interval-ms 100 --timeout-s 90 --base-port 21000 \
    --value-bytes 60000 --state-bytes "$STATE" --rng-seed "$r" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d.get(k) for k in ["ok","update_converged_ms","state_spread_ms","join_converged_ms"]}, "update bytes sent:", d["phases"].get("update",{}).get("app_out_bytes"))'
  echo "== run $r: chitchat with a $VALUE B value"
  "$CC" --nodes "$NODES" --gossip-interval-ms 100 --timeout-s 20 --base-port 21000 \
    --value-bytes "$VALUE" --rng-seed "$r" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d.get(k) for k in ["ok","update_converged_ms"]})'
done
