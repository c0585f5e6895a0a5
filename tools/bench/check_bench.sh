#!/usr/bin/env bash
# End-to-end check throughput of heck (core Node + runtime Checker on one
# io_context) against a local nginx that answers `return 200 "ok"`.
#
#   tools/bench/check_bench.sh [BUILD_DIR] [-- extra check_bench args]
#
# Runs, for SECONDS_PER_RUN (default 10) each:
#   1. capacity: check_bench --closed-loop 64 (no scheduler; 64 checks always
#      in flight), check_bench on CPU 0 and nginx (1 worker) on CPU 1
#   2. "2 cores": the real Node with TARGETS targets every INTERVAL_MS (20,000
#      checks/s offered by default) + Checker, on CPU 0; nginx on CPU 1; once
#      per value of MAX_CONCURRENT_LIST
#   3. "1 core": the same with check_bench and nginx both pinned to CPU 0 (the
#      whole system's cost per core)
# Environment: SECONDS_PER_RUN (10), TARGETS (1000), INTERVAL_MS (50),
# TIMEOUT_MS (45), MAX_CONCURRENT_LIST ("64 512"; 512 is the agent's default),
# NGINX_WORKERS (1), QUIET_WAIT_S (120: how long to wait for other work on the
# machine to stop before each run).
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
interval_ms="${INTERVAL_MS:-50}"
timeout_ms="${TIMEOUT_MS:-45}"
max_concurrent_list="${MAX_CONCURRENT_LIST:-64 512}"
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

busy_percent() {  # machine-wide busy % over one second, from /proc/stat
  local a b
  read -r -a a < <(head -1 /proc/stat)
  sleep 1
  read -r -a b < <(head -1 /proc/stat)
  local busy=0 total=0 i d
  for i in 1 2 3 4 5 6 7 8; do
    d=$(( ${b[$i]} - ${a[$i]} ))
    total=$(( total + d ))
    [[ $i == 4 || $i == 5 ]] || busy=$(( busy + d ))
  done
  echo $(( total > 0 ? 100 * busy / total : 0 ))
}

wait_for_quiet() {  # other work on the machine skews the figures: wait for it (up to QUIET_WAIT_S)
  local limit="${QUIET_WAIT_S:-120}" waited=0 p
  while p="$(busy_percent)"; (( p > 15 )); do
    if (( waited >= limit )); then
      echo "check_bench.sh: warning: the machine is ${p}% busy with other work; figures will be low" >&2
      return
    fi
    waited=$(( waited + 1 ))
  done
}

run() {  # $1: label, $2: CPU for check_bench, $3: CPUs for nginx, then check_bench args
  local label="$1" bench_cpu="$2" nginx_cpu="$3"
  shift 3
  wait_for_quiet
  start_nginx "$nginx_cpu"
  local workers_csv
  workers_csv="$(pgrep -P "$nginx_pid" | paste -sd, -)"
  taskset -c "$bench_cpu" "$bench" --port "$port" --seconds "$seconds" --label "$label" \
    ${workers_csv:+--server-pids "$workers_csv"} "$@" "${extra[@]}"
  stop_nginx
  echo
}

node_args=(--targets "$targets" --interval-ms "$interval_ms" --timeout-ms "$timeout_ms")
other_cpu=1
(( ncpu >= 2 )) || other_cpu=0

echo "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), $workers worker(s), 127.0.0.1:$port; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
run "capacity: check_bench on CPU 0, nginx on CPU $other_cpu" 0 "$other_cpu" --closed-loop 64
for mc in $max_concurrent_list; do
  run "2 cores: check_bench on CPU 0, nginx on CPU $other_cpu" 0 "$other_cpu" "${node_args[@]}" --max-concurrent "$mc"
done
first_mc="${max_concurrent_list%% *}"
run "1 core: check_bench and nginx both on CPU 0" 0 0 "${node_args[@]}" --max-concurrent "$first_mc"
