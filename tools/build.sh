#!/usr/bin/env bash
# Configures and builds heck into ./build (or $HECK_BUILD_DIR), installing any
# missing Debian packages first. Extra arguments are passed to ninja (targets).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HECK_BUILD_DIR:-$root/build}"

"$root/tools/setup.sh"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j"$(nproc)" "$@"
