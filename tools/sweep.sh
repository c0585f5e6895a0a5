#!/usr/bin/env bash
# A long seed sweep: every seed of a range (default 1..1000) of each fast
# cluster scenario, on every core, with `heck sim --seeds` (sim/sweep.h). It
# prints one line per failing run (with its replay command) and a summary
# table per scenario, and exits as heck sim does: 0 all passed, 1 a run
# failed, 2 bad arguments. CTest's sim.sweep.ci runs this script with
# --seeds 1..30 --jobs 2.
#   tools/sweep.sh                                   # seeds 1..1000 of each fast scenario
#   tools/sweep.sh --seeds 1001..5000 --jobs 2 --time-limit-s 3600
#   tools/sweep.sh --seeds 1..200 --check-determinism
#   tools/sweep.sh scenarios/cluster_crash_100.json --seeds 1..100   # these scenarios instead
#   tools/sweep.sh --swarm --seeds 1..10000           # scenarios with ranges draw each seed's faults
#   tools/sweep.sh scenarios/cluster_swarm_10.json --swarm --seeds 1..10000 --jobs 2   # the long swarm sweep
# Arguments ending in .json replace the scenario set; the rest go to heck sim.
# Uses $HECK when set, else builds build/heck (tools/build.sh heck).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The fast set: every cluster scenario but those whose single run takes
# over 2 s on the 2-core machine.
slow=(cluster_crash_100.json cluster_crash_1000.json cluster_loss_10pct.json)

scenarios=()
args=()
seeds="1..1000"
while [ $# -gt 0 ]; do
  case "$1" in
    *.json) scenarios+=("$1") ;;
    --seeds) seeds="${2:?--seeds needs A..B}"; shift ;;
    --seeds=*) seeds="${1#--seeds=}" ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ ${#scenarios[@]} -eq 0 ]; then
  for f in "$root"/scenarios/cluster_*.json; do
    [[ " ${slow[*]} " == *" $(basename "$f") "* ]] || scenarios+=("$(realpath --relative-to=. "$f")")
  done
fi

heck="${HECK:-}"
if [ -z "$heck" ]; then
  "$root/tools/build.sh" heck >/dev/null
  heck="${HECK_BUILD_DIR:-$root/build}/heck"
fi
exec "$heck" sim "${scenarios[@]}" --seeds "$seeds" ${args[@]+"${args[@]}"}
