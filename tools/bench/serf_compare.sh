#!/usr/bin/env bash
# Failure detection on loopback, heck side by side with Serf (hashicorp/serf,
# memberlist's LAN profile: probe 1 s, probe timeout 500 ms, suspicion mult 4).
#
# For each run: start N serf agents and N heck agents on 127.0.0.1 (heck with
# its defaults, which are memberlist's LAN profile: the same 1 s probe
# interval), both sealed with the same AES-256-GCM key; wait until every agent
# lists all N alive, let it settle, SIGKILL one agent (never the seed), and
# time until every survivor lists it dead (serf: `serf members` says
# "failed"; heck: GET /v1/members says "dead"). Each survivor is polled every
# 50 ms by its own thread; the first and the last survivor to notice are
# reported. Runs alternate heck and serf.
#
# Usage: tools/bench/serf_compare.sh [--runs 3] [--agents 10] [--heck build/heck]
# Installs Debian's `serf` with apt-get when it is missing (needs root).
# Target (issue 3): heck no slower than Serf at the same probe interval.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v serf >/dev/null 2>&1; then
  echo "serf is not installed; installing Debian's package (apt-get install serf)..." >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "serf_compare.sh: need root to install serf (or install it: apt-get install serf)" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y serf >&2
fi

exec python3 - "$root" "$@" <<'PY'
import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

root = sys.argv[1]
ap = argparse.ArgumentParser(prog="serf_compare.sh")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--agents", type=int, default=10)
ap.add_argument("--heck", default=os.path.join(root, "build", "heck"))
ap.add_argument("--timeout", type=float, default=60.0, help="give up on one detection after this many seconds")
args = ap.parse_args(sys.argv[2:])
if args.agents < 3 or args.agents > 50:
    sys.exit("serf_compare.sh: --agents must be 3-50")
if not os.access(args.heck, os.X_OK):
    sys.exit(f"serf_compare.sh: {args.heck} is not an executable; build it (tools/build.sh) or pass --heck")

KEY = base64.b64encode(os.urandom(32)).decode()
POLL_S = 0.05


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(100):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def wait_for(what, fn, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class SerfAgent:
    def __init__(self, name, join):
        self.name = name
        self.port = free_port()
        self.rpc = free_port()
        cmd = ["serf", "agent", f"-node={name}", f"-bind=127.0.0.1:{self.port}", f"-rpc-addr=127.0.0.1:{self.rpc}",
               "-profile=lan", f"-encrypt={KEY}", "-log-level=err"]
        if join:
            cmd.append(f"-join={join}")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addr = f"127.0.0.1:{self.port}"

    def states(self):
        r = subprocess.run(["serf", "members", f"-rpc-addr=127.0.0.1:{self.rpc}", "-format=json"],
                           capture_output=True, text=True, timeout=5)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return {m["name"]: m["status"] for m in json.loads(r.stdout)["members"]}

    DEAD = "failed"


class HeckAgent:
    def __init__(self, name, join):
        self.name = name
        self.port = free_port()
        cmd = [args.heck, "agent", "--name", name, "--bind", f"127.0.0.1:{self.port}", "--api", "127.0.0.1:0",
               "--key", KEY]
        if join:
            cmd += ["--join", join]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addr = f"127.0.0.1:{self.port}"
        self.api = None
        deadline = time.monotonic() + 10
        while self.api is None:
            line = self.proc.stderr.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"heck agent {name} did not start")
            if "API on http://" in line:
                self.api = int(line.rsplit(":", 1)[1])
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def states(self):
        c = http.client.HTTPConnection("127.0.0.1", self.api, timeout=2)
        try:
            c.request("GET", "/v1/members")
            return {m["name"]: m["state"] for m in json.loads(c.getresponse().read())}
        finally:
            c.close()

    DEAD = "dead"


def run_once(kind, cls, n):
    agents = []
    try:
        prefix = f"{kind[0]}{int(time.monotonic() * 1000) % 100000}-"
        agents.append(cls(prefix + "0", None))
        time.sleep(0.3)
        for i in range(1, n):
            agents.append(cls(prefix + str(i), agents[0].addr))
        names = {a.name for a in agents}
        wait_for(f"{kind}: all {n} alive everywhere",
                 lambda: all(set(s) == names and all(v == "alive" for v in s.values())
                             for s in (a.states() for a in agents)), 60)
        time.sleep(3)  # settle: joins' gossip drained
        victim = agents[-1]
        survivors = agents[:-1]
        noticed = {}
        lock = threading.Lock()
        victim.proc.send_signal(signal.SIGKILL)
        t0 = time.monotonic()

        def watch(a):
            while time.monotonic() - t0 < args.timeout:
                try:
                    if a.states().get(victim.name) == a.DEAD:
                        with lock:
                            noticed[a.name] = time.monotonic() - t0
                        return
                except Exception:
                    pass
                time.sleep(POLL_S)

        threads = [threading.Thread(target=watch, args=(a,)) for a in survivors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(noticed) != len(survivors):
            return None
        return min(noticed.values()), max(noticed.values())
    finally:
        for a in agents:
            if a.proc.poll() is None:
                a.proc.kill()
        for a in agents:
            try:
                a.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


rows = []
print(f"# {args.agents} agents on 127.0.0.1, LAN profile (probe 1 s), SIGKILL one; "
      f"seconds until the first / every survivor lists it dead", flush=True)
print(f"{'run':>4}  {'heck first':>10}  {'heck all':>9}  {'serf first':>10}  {'serf all':>9}", flush=True)
for r in range(1, args.runs + 1):
    h = run_once("heck", HeckAgent, args.agents)
    s = run_once("serf", SerfAgent, args.agents)
    fmt = lambda v, i: f"{v[i]:.2f}" if v else "timeout"
    print(f"{r:>4}  {fmt(h, 0):>10}  {fmt(h, 1):>9}  {fmt(s, 0):>10}  {fmt(s, 1):>9}", flush=True)
    rows.append((h, s))

def med(i, j):
    vals = [row[i][j] for row in rows if row[i]]
    return statistics.median(vals) if vals else float("nan")

print(f"{'med':>4}  {med(0, 0):>10.2f}  {med(0, 1):>9.2f}  {med(1, 0):>10.2f}  {med(1, 1):>9.2f}")
verdict = "heck no slower than serf" if med(0, 1) <= med(1, 1) else "heck SLOWER than serf"
print(f"# median time to every survivor: heck {med(0, 1):.2f} s, serf {med(1, 1):.2f} s: {verdict}")
PY
