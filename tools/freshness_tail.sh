#!/usr/bin/env bash
# The freshness tail of a scenario over seeds: for each seed, the `freshness`
# line of `heck sim` (time until every running agent reports a target's
# change: p50, p99, max of that run), then one summary line:
#   runs N  mean p50 S  mean p99 S  max p99 S  max S
#   tools/freshness_tail.sh scenarios/cluster_loss_10pct.json 1 60
#   HECK=/path/to/other/heck tools/freshness_tail.sh scenarios/cluster_loss_10pct.json 1 60   # a baseline
# Uses $HECK when set, else build/heck. Exits 2 on bad arguments.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: tools/freshness_tail.sh SCENARIO FIRST_SEED LAST_SEED" >&2
  exit 2
fi
heck="${HECK:-$(dirname "${BASH_SOURCE[0]}")/../build/heck}"
scenario=$1
for seed in $(seq "$2" "$3"); do
  "$heck" sim "$scenario" --seed "$seed" 2>&1 | grep -m1 "^  freshness" |
    sed -E 's/.*p50 ([0-9.]+) s, p99 ([0-9.]+) s, max ([0-9.]+) s.*/\1 \2 \3/'
done | awk '{ p50 += $1; p99 += $2; if ($2 > p99max) p99max = $2; if ($3 > max) max = $3; n++ }
  END { if (n == 0) { print "no freshness lines"; exit 1 }
        printf "runs %d  mean p50 %.3f s  mean p99 %.3f s  max p99 %.3f s  max %.3f s\n", n, p50 / n, p99 / n, p99max, max }'
