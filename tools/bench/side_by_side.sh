#!/usr/bin/env bash
# Runs two commands side by side, one per core, N times, and prints each
# pair's wall seconds and their ratio A/B. On a machine whose speed drifts
# (this one's by up to 30% within an hour), both commands of a pair see the
# same conditions; farm-bench --vs alternates them instead.
#
#   tools/bench/side_by_side.sh N "A command" "B command"
#   tools/bench/side_by_side.sh 3 "build/tools/bench/cluster_bench --rows main" "/tmp/old_cluster_bench --rows main"
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 N 'A command' 'B command'" >&2
  exit 2
fi
n=$1 a=$2 b=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "wall A s   wall B s   A/B"
for _ in $(seq "$n"); do
  ( /usr/bin/time -f %e -o "$tmp/a" bash -c "$a" >/dev/null 2>&1 ) &
  pa=$!
  ( /usr/bin/time -f %e -o "$tmp/b" bash -c "$b" >/dev/null 2>&1 ) &
  pb=$!
  wait "$pa" "$pb"
  ta=$(tail -n 1 "$tmp/a") tb=$(tail -n 1 "$tmp/b")
  awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%8.2f   %8.2f   %.3f\n", a, b, a / b }'
done
