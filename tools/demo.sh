#!/usr/bin/env bash
# The main job on built-in defaults: builds heck if needed and runs the local
# cluster demo — 5 `heck agent` processes on 127.0.0.1 (APIs on ports
# 7700-7704, the status page at http://127.0.0.1:7700/), 50 local HTTP
# targets (steady, flapping, down) registered through the API, a SIGKILL of
# one agent ~20 s in and the takeover of its targets; stops after 60 s.
# Ctrl-C stops it and every agent. Arguments go to `heck demo`
# (--agents N --targets N --duration-s S (0 = until Ctrl-C) --kill-at-s S --base-port P).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HECK_BUILD_DIR:-$root/build}"

"$root/tools/build.sh" heck
exec "$build/heck" demo "$@"
