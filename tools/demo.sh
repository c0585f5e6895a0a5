#!/usr/bin/env bash
# The main job on built-in defaults: builds heck if needed and runs the local
# demo (local HTTP targets, some failing or flapping, checked by an agent whose
# API listens on 127.0.0.1:7700). Ctrl-C stops it. Arguments go to `heck demo`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HECK_BUILD_DIR:-$root/build}"

"$root/tools/build.sh" heck
exec "$build/heck" demo "$@"
