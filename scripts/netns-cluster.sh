#!/usr/bin/env bash
# A multi-host gossip cluster on one Linux machine: K network namespaces ("hosts"), each with
# its own address on a private bridge, one node per host, all sharing a cluster key. Cut a host
# or a group of hosts off (they keep talking among themselves) and heal them. Needs root.
#
#   scripts/netns-cluster.sh up 6              create hosts 1..6 (10.77.0.1-6) and start nodes
#   scripts/netns-cluster.sh cut 4 5 6         move hosts 4-6 to a separate segment
#   scripts/netns-cluster.sh heal              reconnect every host
#   scripts/netns-cluster.sh status 3 [--json] gossip status of host 3, asked from inside it
#   scripts/netns-cluster.sh set 3 KEY VALUE   gossip set on host 3
#   scripts/netns-cluster.sh logs 3            follow host 3's log
#   scripts/netns-cluster.sh down              stop the nodes, remove namespaces and bridges
#
# GOSSIP_NETNS_PREFIX (default gsp, at most 8 characters) names the namespaces and links, so
# several clusters can coexist; GOSSIP_NETNS_SUBNET (default 10.77) the /24 they use;
# GOSSIP_NETNS_ARGS extra `gossip node` flags; GOSSIP_BIN a prebuilt binary (else a release
# build). State lives in ${TMPDIR:-/tmp}/gossip-netns-PREFIX.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
P=${GOSSIP_NETNS_PREFIX:-gsp}
SUBNET=${GOSSIP_NETNS_SUBNET:-10.77}
RUN=${TMPDIR:-/tmp}/gossip-netns-$P
BR=br-$P
CUT=bc-$P
PORT=7000

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "error: $*" >&2; exit 2; }

[ ${#P} -le 8 ] || die "GOSSIP_NETNS_PREFIX must be at most 8 characters"
bin() {
  if [ -n "${GOSSIP_BIN:-}" ]; then echo "$GOSSIP_BIN"; return; fi
  (cd "$ROOT" && cargo build --release --quiet --bin gossip)
  echo "$ROOT/target/release/gossip"
}
need_root() {
  [ "$(id -u)" = 0 ] || die "network namespaces need root (try sudo)"
  ip netns list >/dev/null 2>&1 || die "this kernel or iproute2 has no 'ip netns'"
}
hosts() { cat "$RUN/hosts" 2>/dev/null || echo 0; }
ns() { echo "$P-$1"; }
veth() { echo "v$P$1"; }
addr() { echo "$SUBNET.0.$1"; }

up() {
  local k=${1:?usage: up K}
  [ "$k" -ge 1 ] && [ "$k" -le 250 ] || die "K must be 1..250"
  need_root
  [ -e "$RUN/hosts" ] && die "cluster $P is already up (scripts/netns-cluster.sh down first)"
  local gossip; gossip=$(bin)
  mkdir -p "$RUN"
  echo "$k" > "$RUN/hosts"
  "$gossip" keygen --out "$RUN/cluster.key" --force 2>/dev/null
  ip link add "$BR" type bridge && ip link set "$BR" up
  ip link add "$CUT" type bridge && ip link set "$CUT" up
  for i in $(seq 1 "$k"); do
    ip netns add "$(ns "$i")"
    ip link add "$(veth "$i")" type veth peer name eth0 netns "$(ns "$i")"
    ip link set "$(veth "$i")" master "$BR" up
    ip -n "$(ns "$i")" addr add "$(addr "$i")/24" dev eth0
    ip -n "$(ns "$i")" link set eth0 up
    ip -n "$(ns "$i")" link set lo up
  done
  for i in $(seq 1 "$k"); do
    local boot=()
    [ "$i" -gt 1 ] && boot=(--bootstrap "$(addr 1):$PORT")
    # shellcheck disable=SC2086
    ip netns exec "$(ns "$i")" "$gossip" node --id "host$i" --bind "$(addr "$i"):$PORT" \
      --cluster-key-file "$RUN/cluster.key" --ui plain --log json "${boot[@]}" \
      ${GOSSIP_NETNS_ARGS:-} > "$RUN/host$i.log" 2>&1 &
    echo $! > "$RUN/host$i.pid"
  done
  echo "$k hosts up: $(addr 1)..$(addr "$k"):$PORT in namespaces $(ns 1)..$(ns "$k") (logs in $RUN)"
}

cut() {
  [ $# -ge 1 ] || die "usage: cut HOST..."
  need_root
  for i in "$@"; do
    [ "$i" -ge 1 ] && [ "$i" -le "$(hosts)" ] || die "no host $i"
    ip link set "$(veth "$i")" nomaster
    ip link set "$(veth "$i")" master "$CUT"
  done
  echo "cut off: hosts $* (they still reach each other)"
}

heal() {
  need_root
  for i in $(seq 1 "$(hosts)"); do
    ip link set "$(veth "$i")" nomaster
    ip link set "$(veth "$i")" master "$BR"
  done
  echo "healed: every host on one segment"
}

admin() {
  local cmd=$1 i=${2:?usage: $1 HOST ...}; shift 2
  [ "$i" -ge 1 ] && [ "$i" -le "$(hosts)" ] || die "no host $i"
  ip netns exec "$(ns "$i")" "$(bin)" "$cmd" "$(addr "$i"):$PORT" \
    --cluster-key-file "$RUN/cluster.key" "$@"
}

down() {
  need_root
  local k; k=$(hosts)
  for i in $(seq 1 "$k"); do
    [ -f "$RUN/host$i.pid" ] && kill "$(cat "$RUN/host$i.pid")" 2>/dev/null || true
  done
  sleep 0.3
  for i in $(seq 1 "$k"); do
    [ -f "$RUN/host$i.pid" ] && kill -9 "$(cat "$RUN/host$i.pid")" 2>/dev/null || true
    ip netns del "$(ns "$i")" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  ip link del "$CUT" 2>/dev/null || true
  rm -rf "$RUN"
  echo "cluster $P removed"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  cut) shift; cut "$@" ;;
  heal) heal ;;
  status) shift; admin status "$@" ;;
  set) shift; admin set "$@" ;;
  logs) tail -f "$RUN/host${2:?usage: logs HOST}.log" ;;
  down) down ;;
  -h|--help|"") usage ;;
  *) echo "unknown command: $1" >&2; usage >&2; exit 2 ;;
esac
