#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds
# everything (tests and benchmarks), and runs CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HECK_BUILD_DIR:-$root/build}"

"$root/tools/build.sh"
cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
# Every network decoder under libFuzzer for a bounded time (clang, ASan, UBSan).
"$root/tools/fuzz.sh" "${HECK_FUZZ_SECONDS:-15}"
