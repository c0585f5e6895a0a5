#!/usr/bin/env bash
# Replays every scenario under two heck builds and compares the traces byte
# for byte: the check that a change meant to be invisible (a faster data
# structure, a shared cache) changes no decision of any agent.
#
#   tools/compare_traces.sh BASE_HECK NEW_HECK [--seeds N] [--with-1000]
#
# BASE_HECK is a build of the commit before the change (for example from
# `git worktree add /tmp/base HEAD~1` built with tools/build.sh). Seeds 1..N
# (default 3) of every scenarios/*.json; cluster_crash_1000 (1.4M trace
# lines, ~20 s a run) only with --with-1000. Prints each scenario and seed
# whose traces differ; exits 1 if any does.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -lt 2 ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
base=$1 new=$2
shift 2
seeds=3 with_1000=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --with-1000) with_1000=1; shift ;;
    *) echo "compare_traces: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for bin in "$base" "$new"; do
  [[ -x $bin ]] || { echo "compare_traces: '$bin' is not an executable heck" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
differ=0 runs=0
for f in "$root"/scenarios/*.json; do
  name=$(basename "$f" .json)
  [[ $name == cluster_crash_1000 && $with_1000 == 0 ]] && continue
  for ((seed = 1; seed <= seeds; ++seed)); do
    "$base" sim "$f" --seed "$seed" --trace "$tmp/a" >/dev/null 2>&1 || true
    "$new" sim "$f" --seed "$seed" --trace "$tmp/b" >/dev/null 2>&1 || true
    if [[ ! -s $tmp/a ]]; then
      echo "compare_traces: $name seed $seed: the base wrote no trace" >&2
      differ=1
    elif ! cmp -s "$tmp/a" "$tmp/b"; then
      echo "DIFFERENT: $name seed $seed"
      differ=1
    fi
    runs=$((runs + 1))
    rm -f "$tmp/a" "$tmp/b"
  done
done
echo "compare_traces: $runs runs, $([[ $differ == 0 ]] && echo "every trace identical" || echo "some traces differ")"
exit $differ
