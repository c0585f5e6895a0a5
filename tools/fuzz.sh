#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang, ASan and
# UBSan in build-fuzz/, then runs each for a bounded time from a seed corpus
# of valid messages. Exit 1 when any target finds a crash (the reproducer is
# left in build-fuzz/crashes/).
#   tools/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-20}"
build="${HECK_FUZZ_BUILD_DIR:-$root/build-fuzz}"

"$root/tools/setup.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DHECK_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)"

corpus="$build/corpus"
crashes="$build/crashes"
mkdir -p "$corpus" "$crashes"
"$build/tests/fuzz/fuzz_seeds" "$corpus"

status=0
for target in "$build"/tests/fuzz/*_fuzz; do
  name="$(basename "$target")"
  mkdir -p "$corpus/$name"
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" "$corpus/$name" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/$name-" -print_final_stats=1 2>"$build/$name.log"; then
    echo "fuzz: $name FAILED; see $build/$name.log and $crashes/" >&2
    tail -n 30 "$build/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$name.log" | sed "s/^/  /"
  fi
done
exit $status
