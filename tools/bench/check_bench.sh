#!/usr/bin/env bash
# End-to-end check throughput of heck (core Node + runtime Checker on one
# io_context) against a local nginx that answers `return 200 "ok"`.
#
#   tools/bench/check_bench.sh [BUILD_DIR] [-- extra check_bench args]
#
# Runs, for SECONDS (default 10) each:
#   1. "2 cores": check_bench pinned to CPU 0, nginx (1 worker) pinned to CPU 1
#   2. "1 core":  check_bench and nginx both pinned to CPU 0 (the whole
#      system's cost per core)
# Environment: SECONDS_PER_RUN (10), TARGETS (1000), INTERVAL_MS (100),
# TIMEOUT_MS (90), MAX_CONCURRENT (512), NGINX_WORKERS (1).
# Installs nginx with apt-get when it is missing (needs root).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${1:-$repo/build}"
shift || true
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

bench="$build/tools/bench/check_bench"
if [[ ! -x "$bench" ]]; then
  echo "check_bench.sh: $bench not found; build it first: ninja -C $build check_bench" >&2
  exit 2
fi

if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "check_bench.sh: nginx is missing and installing it needs root (apt-get install -y nginx)" >&2
    exit 2
  fi
  echo "check_bench.sh: installing nginx" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

ncpu="$(nproc)"
if (( ncpu < 2 )); then
  echo "check_bench.sh: only $ncpu CPU; the 2-core run will share it" >&2
fi

seconds="${SECONDS_PER_RUN:-10}"
targets="${TARGETS:-1000}"
interval_ms="${INTERVAL_MS:-100}"
timeout_ms="${TIMEOUT_MS:-90}"
max_concurrent="${MAX_CONCURRENT:-512}"
workers="${NGINX_WORKERS:-1}"

work="$(mktemp -d -t heck-check-bench.XXXXXX)"
nginx_pid=""
cleanup() {
  if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/logs" "$work/tmp"
cat >"$work/nginx.conf" <<EOF
worker_processes $workers;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  keepalive_timeout 0;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / { return 200 "ok"; }
  }
}
EOF

start_nginx() {  # $1: CPU list for nginx
  taskset -c "$1" "$nginx_bin" -p "$work" -e "$work/logs/error.log" -c "$work/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "check_bench.sh: nginx did not start; its log:" >&2
  cat "$work/logs/error.log" >&2 || true
  exit 1
}

stop_nginx() {
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
}

run() {  # $1: label, $2: CPU for check_bench, $3: CPUs for nginx
  start_nginx "$3"
  taskset -c "$2" "$bench" --port "$port" --targets "$targets" --interval-ms "$interval_ms" \
    --timeout-ms "$timeout_ms" --seconds "$seconds" --max-concurrent "$max_concurrent" \
    --label "$1" "${extra[@]}"
  stop_nginx
  echo
}

echo "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), $workers worker(s), 127.0.0.1:$port; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
if (( ncpu >= 2 )); then
  run "2 cores: check_bench on CPU 0, nginx on CPU 1" 0 1
else
  run "check_bench and nginx on CPU 0" 0 0
fi
run "1 core: check_bench and nginx both on CPU 0" 0 0
