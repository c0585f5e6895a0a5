#!/usr/bin/env python3
"""Multi-process test of ownership takeover (python3 standard library only).

Five `heck agent` processes on 127.0.0.1 (short SWIM timings, one shared key,
writes protected by a bearer token) and local HTTP targets served by this
test (one server, a path per target, a switch that makes a target fail):

  1. the targets are registered through n1's API (PUT; one of them with
     `heck add-target`); every agent lists every target healthy, each
     target checked by exactly one agent;
  2. the owner of target T (GET /v1/owners/T) is SIGKILLed and T is switched
     to failing at the same moment: within a bounded wait another agent
     checks T (checked_here on its /v1/targets/T), and every live agent
     reports T unhealthy, observed by that agent; once the victim is dead,
     every survivor lists that agent as T's owner; `heck targets
     --unhealthy`, `heck status` and `heck owners --api` on a survivor show it;
  3. every other target the dead agent checked is taken over too (a newer
     observation from a survivor);
  4. counter POSTs on every agent (before the kill) and on every survivor
     (after it): every live agent reads the exact sum.

Usage: cluster_takeover_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 60 s.
"""

import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

TEST_DEADLINE = time.monotonic() + 100
TOKEN = "takeover-token-42"
# Probe every 200 ms; suspicion timeout 10 x 200 ms = 2 s with five members.
SWIM_FLAGS = ["--probe-interval-ms", "200", "--probe-timeout-ms", "100", "--gossip-interval-ms", "50",
              "--suspicion-mult", "10", "--push-pull-interval-ms", "5000", "--leave-timeout-ms", "300"]
TARGETS = 20
TAKEOVER_BOUND_S = 15.0  # SIGKILL -> another agent checks T and every agent says unhealthy


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def poll(what, fn, timeout_s, interval_s=0.05):
    """Calls fn() until it returns a truthy value; fails after timeout_s."""
    deadline = min(time.monotonic() + timeout_s, TEST_DEADLINE)
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            last = e
        time.sleep(interval_s)
    fail(f"timed out waiting for {what} (last: {last!r})")


# ---- the local targets: GET /t/<name> -> 200, or 503 once <name> is failing ---

FAILING = set()
FAILING_LOCK = threading.Lock()


class Targets(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with FAILING_LOCK:
            bad = name in FAILING
        body = b"failing\n" if bad else b"ok\n"
        self.send_response(503 if bad else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class Agent:
    def __init__(self, heck, name, join, key):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        args = [heck, "agent", "--name", name, "--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--key", key,
                "--api-token", TOKEN] + SWIM_FLAGS
        for j in join:
            args += ["--join", j]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        threading.Thread(target=self._read, daemon=True).start()
        m = poll(f"{name}'s addresses in its log",
                 lambda: self._find(r"cluster on (\S+) \(advertised as (\S+)\), API on http://127\.0\.0\.1:(\d+)"), 10)
        self.cluster = m.group(2)
        self.api_port = int(m.group(3))
        self.api = f"127.0.0.1:{self.api_port}"

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def _find(self, pattern):
        if self.proc.poll() is not None:
            fail(f"agent {self.name} exited early with {self.proc.returncode}: {self.log()}")
        with self.lock:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def log(self):
        with self.lock:
            return "\n".join(self.lines)

    def request(self, method, path, body=None, token=TOKEN):
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=3)
        try:
            headers = {}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def get_json(self, path):
        status, body = self.request("GET", path, token=None)
        check(status == 200, f"{self.name}: GET {path} -> {status}: {body}")
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def heck_cli(heck, *args):
    r = subprocess.run([heck, *args], capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout, r.stderr


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    heck = sys.argv[1]
    key = subprocess.run([heck, "keygen"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Targets)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    agents = []
    try:
        seed = Agent(heck, "n1", [], key)
        agents.append(seed)
        for i in range(2, 6):
            agents.append(Agent(heck, f"n{i}", [seed.cluster], key))
        run(heck, agents, base)
    except BaseException:
        for a in agents:
            print(f"--- {a.name} log (last 40 lines) ---\n" + "\n".join(a.log().splitlines()[-40:]), file=sys.stderr)
        raise
    finally:
        for a in agents:
            a.stop()
        server.shutdown()
    print("PASS")
    return 0


def run(heck, agents, base):
    names = sorted(a.name for a in agents)
    poll("all five agents to list five members alive",
         lambda: all(sorted(m["name"] for m in a.get_json("/v1/members") if m["state"] == "alive") == names
                     for a in agents), 15)
    print("ok: five agents joined through one seed")

    # 1. Register the targets through n1: a write without the token is refused.
    n1 = agents[0]
    ids = [f"t{i:02}" for i in range(TARGETS)]
    spec = lambda i: {"url": f"{base}/t/{i}", "interval_ms": 300, "timeout_ms": 200, "rise": 1, "fall": 1}
    status, body = n1.request("PUT", "/v1/targets/t00", spec("t00"), token=None)
    check(status == 401, f"PUT without a token: {status} {body}")
    for i in ids[1:]:
        status, body = n1.request("PUT", f"/v1/targets/{i}", spec(i))
        check(status == 201, f"PUT {i}: {status} {body}")
    rc, out, err = heck_cli(heck, "add-target", "t00", "--url", f"{base}/t/t00", "--interval-ms", "300",
                            "--timeout-ms", "200", "--api", n1.api, "--token", TOKEN)
    check(rc == 0 and out.startswith("added t00: owners n"), f"heck add-target: {rc} {out!r} {err!r}")

    def all_healthy_once():
        checkers = {i: 0 for i in ids}
        for a in agents:
            view = {t["id"]: t for t in a.get_json("/v1/targets")}
            if sorted(view) != ids or any(view[i]["status"] != "healthy" for i in ids):
                return False
            for i in ids:
                checkers[i] += view[i]["checked_here"]
        return all(n == 1 for n in checkers.values())
    poll("every agent to list every target healthy, each checked by one agent", all_healthy_once, 15)
    print(f"ok: {TARGETS} targets registered through n1, healthy on every agent, one checker each")

    # Counters before the kill: every agent adds, every agent reads the sum.
    counter = "/v1/counters/takeover-hits"
    expected = 0
    for k, a in enumerate(agents):
        for delta in (k + 1, -2, 10 * (k + 1)):
            status, body = a.request("POST", counter, {"delta": delta})
            check(status == 200, f"{a.name}: POST {counter}: {status} {body}")
            expected += delta
    poll(f"every agent to read the counter as {expected}",
         lambda: all(a.get_json(counter)["value"] == expected for a in agents), 10)
    print(f"ok: counter adds on all five agents sum to {expected} everywhere")

    # 2. Kill the owner of T (one not owned by n1, so n1 stays a witness) and
    # switch T to failing.
    target = None
    for i in ids:
        owners = n1.get_json(f"/v1/owners/{i}")["owners"]
        check(len(owners) == 1, f"/v1/owners/{i}: {owners}")
        if owners[0] != "n1":
            target, owner_name = i, owners[0]
            break
    check(target is not None, "n1 owns every target?")
    victim = next(a for a in agents if a.name == owner_name)
    check(victim.get_json(f"/v1/targets/{target}")["checked_here"], f"{owner_name} does not check {target}")
    victim_targets = [t["id"] for t in victim.get_json("/v1/targets") if t["checked_here"]]
    survivors = [a for a in agents if a is not victim]
    victim.proc.kill()
    killed_at = time.monotonic()
    victim.proc.wait(timeout=5)
    with FAILING_LOCK:
        FAILING.add(target)

    def taken_over():
        checkers = [a.name for a in survivors if a.get_json(f"/v1/targets/{target}")["checked_here"]]
        if len(checkers) != 1:
            return False
        views = [a.get_json(f"/v1/targets/{target}") for a in survivors]
        if any(v["status"] != "unhealthy" or v["last_observer"] != checkers[0] for v in views):
            return False
        return checkers[0]
    new_checker = poll(f"a survivor to check {target} and every survivor to report it unhealthy", taken_over,
                       TAKEOVER_BOUND_S, interval_s=0.1)
    took_s = time.monotonic() - killed_at
    check(new_checker != victim.name, "the dead owner still checks")
    print(f"ok: SIGKILL {victim.name} (owner of {target}) -> {new_checker} checks it and every survivor reports it "
          f"unhealthy after {took_s:.2f} s")
    # While the victim is only suspected, it is still ranked first and the
    # standby checks; once it is dead, the standby is the owner everywhere.
    poll(f"every survivor to list {new_checker} as the owner of {target}",
         lambda: all(a.get_json(f"/v1/owners/{target}")["owners"] == [new_checker] and
                     a.get_json(f"/v1/targets/{target}")["checked_here"] == (a.name == new_checker)
                     for a in survivors), TAKEOVER_BOUND_S, interval_s=0.1)
    print(f"ok: once {victim.name} is dead, every survivor lists {new_checker} as the owner of {target}")

    # The client commands on a survivor show it.
    api = survivors[0].api
    rc, out, err = heck_cli(heck, "targets", "--unhealthy", "--api", api)
    check(rc == 0 and re.search(rf"^{target}\s+unhealthy\s", out, re.M), f"heck targets --unhealthy: {rc} {out!r} {err!r}")
    rc, out, err = heck_cli(heck, "status", "--api", api)
    check(rc == 0 and re.search(rf"^unhealthy\s+.*\b{target}\b", out, re.M), f"heck status: {rc} {out!r} {err!r}")
    rc, out, err = heck_cli(heck, "owners", target, "--api", api)
    check(rc == 0 and re.search(rf"^{target}\s+{new_checker}\s", out, re.M), f"heck owners --api: {rc} {out!r} {err!r}")
    print("ok: heck targets --unhealthy, heck status and heck owners on a survivor show it")

    # 3. Every other target of the dead agent has a newer observation from a survivor.
    def all_rechecked():
        view = {t["id"]: t for t in survivors[0].get_json("/v1/targets")}
        return all(view[i]["last_observer"] not in (None, victim.name) and view[i]["age_ms"] is not None
                   and view[i]["age_ms"] / 1000.0 < time.monotonic() - killed_at + 0.5
                   for i in victim_targets)
    poll(f"all {len(victim_targets)} targets of {victim.name} to be checked again by survivors", all_rechecked,
         TAKEOVER_BOUND_S, interval_s=0.1)
    print(f"ok: all {len(victim_targets)} targets {victim.name} checked are checked again by survivors")

    # 4. Counters after the kill, on the survivors only.
    for k, a in enumerate(survivors):
        status, body = a.request("POST", counter, {"delta": 100 + k})
        check(status == 200, f"{a.name}: POST {counter}: {status} {body}")
        expected += 100 + k
    poll(f"every survivor to read the counter as {expected}",
         lambda: all(a.get_json(counter)["value"] == expected for a in survivors), 10)
    rc, out, err = heck_cli(heck, "counter", "takeover-hits", "--api", survivors[-1].api)
    check(rc == 0 and out.strip() == f"takeover-hits {expected}", f"heck counter: {rc} {out!r} {err!r}")
    print(f"ok: counter adds on the survivors; every survivor reads exactly {expected}")


if __name__ == "__main__":
    sys.exit(main())
