#!/usr/bin/env bash
# Counts the crates the embed build (`default-features = false`) pulls in, this one excluded,
# and fails when there are more than the budget given as $1 (default 60).
# Usage: scripts/embed-crates.sh [BUDGET]
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-60}"
crates=$(cargo tree -e normal --no-default-features --prefix none \
    | sed 's/ (\*)$//' | sort -u | grep -v '^gossip v' || true)
count=$(printf '%s\n' "$crates" | grep -c . || true)
echo "embed build: $count crates (budget $budget)"
if [ "$count" -gt "$budget" ]; then
    printf '%s\n' "$crates"
    echo "error: the embed build pulls in $count crates, over the budget of $budget" >&2
    exit 1
fi
