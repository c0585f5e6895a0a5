#!/usr/bin/env python3
"""Multi-process test of the cluster (python3 standard library only).

Five `heck agent` processes on 127.0.0.1 with short SWIM timings and one
shared key (no config files):

  1. they join through the first one and all list five members alive;
     `heck members` prints the table; garbage sent to a cluster port is
     rejected and counted, and the agent carries on;
  2. one is paused (SIGSTOP) for less than the suspicion timeout, then
     resumed (SIGCONT): no agent ever declares it dead;
  3. one is killed (SIGKILL): every survivor lists it dead within a bound;
  4. the killed one is restarted with the same name and address: every agent
     lists it alive again, with a higher incarnation than the dead entry;
  5. SIGTERM: an agent leaves (the others list it `left`) and exits 0;
  6. a second process started with a running agent's name: a name conflict
     in the log and in heck_swim_name_conflicts_total.

Usage: cluster_integration_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 90 s.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, args_or_usage, check, dump_logs, fail, free_port, keygen, start_agent,  # noqa: E402
                       stop_all, swim_flags)
# The whole test; a KeyError in a poll is a failure, not "not yet".
DEADLINE = Deadline(100, retry_on=(OSError, http.client.HTTPException, ValueError))
poll = DEADLINE.poll

# Probe every 200 ms. Suspicion timeout: min = 10 x max(1, log10 5) x 200 ms
# = 2 s; Lifeguard starts it at 6 x min and shrinks it with k = 10 - 2
# confirmations, but k is 0 when fewer than k members can confirm (n - 2 < k),
# so with five members it is the minimum, 2 s.
SWIM_FLAGS = swim_flags(leave_timeout_ms=500)
PAUSE_S = 1.0          # half the suspicion timeout (2 s)
DETECT_BOUND_S = 20.0  # SIGKILL -> every survivor lists it dead


def start(heck, name, bind, join, key):
    return start_agent(heck, name, bind=bind, join=join, key=key, extra=SWIM_FLAGS, deadline=DEADLINE)


def get(agent, path):
    r = agent.request("GET", path, timeout=2)
    return r.status, r.text


def members(agent):
    status, body = get(agent, "/v1/members")
    check(status == 200, f"{agent.name}: /v1/members status {status}")
    return {m["name"]: m for m in json.loads(body)}


def metric(agent, name_with_labels):
    status, text = get(agent, "/metrics")
    check(status == 200, f"{agent.name}: /metrics status {status}")
    for line in text.splitlines():
        if line.startswith(name_with_labels + " "):
            return float(line.split()[-1])
    fail(f"{agent.name}: no metric {name_with_labels}")


def all_see(agents, name, state, min_incarnation=0):
    for a in agents:
        m = members(a).get(name)
        if not m or m["state"] != state or m["incarnation"] < min_incarnation:
            return False
    return True


def death_lines(agent, name):
    return [l for l in agent.log().splitlines() if re.search(rf"member {re.escape(name)} \(.*-> dead", l)]


def main():
    [heck] = args_or_usage(__doc__)
    key = keygen(heck)
    check(len(key) == 44, f"heck keygen printed {key!r}")

    agents = []
    try:
        seed = start(heck, "n1", "127.0.0.1:0", [], key)
        agents.append(seed)
        for i in range(2, 6):
            agents.append(start(heck, f"n{i}", "127.0.0.1:0", [seed.cluster], key))
        names = [a.name for a in agents]
        run(heck, key, agents, names)
    except BaseException:
        dump_logs(agents)
        raise
    finally:
        stop_all(agents)
    print("PASS")
    return 0


def run(heck, key, agents, names):
    # 1. Everyone sees everyone.
    poll("all five agents to list five members alive",
         lambda: all(all(m["state"] == "alive" for m in members(a).values()) and sorted(members(a)) == names
                     for a in agents), 15)
    print("ok: five agents joined through one seed")

    r = subprocess.run([heck, "members", "--api", f"127.0.0.1:{agents[1].api_port}"], capture_output=True,
                       text=True, timeout=10)
    check(r.returncode == 0, f"heck members: exit {r.returncode}: {r.stderr}")
    check(r.stdout.startswith("NAME"), f"heck members: no header: {r.stdout!r}")
    for n in names:
        check(re.search(rf"^{n}\s+127\.0\.0\.1:\d+\s+alive\s+\d+", r.stdout, re.M), f"heck members lacks {n}: {r.stdout}")
    check("(this agent)" in r.stdout, "heck members marks this agent")
    closed_port = free_port()
    r = subprocess.run([heck, "members", "--api", f"127.0.0.1:{closed_port}"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 1 and "cannot reach the agent API" in r.stderr, f"unreachable: {r.returncode} {r.stderr!r}")
    print("ok: heck members prints the table; an unreachable agent is a clear error")

    # Garbage at a cluster port: rejected, counted, harmless.
    target = agents[2]
    host, port = target.cluster.rsplit(":", 1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(50):
        u.sendto(os.urandom(1 + i * 20) if i % 2 else b"\x01" + os.urandom(40 + i), (host, int(port)))
    u.sendto(b"\x01" * 5000, (host, int(port)))
    u.close()
    t = socket.create_connection((host, int(port)), timeout=2)
    t.sendall(b"\xff\xff\xff\xff")  # a frame far over the limit
    t.close()
    poll("the garbage to be counted",
         lambda: sum(metric(target, f'heck_cluster_packets_rejected_total{{reason="{r}"}}')
                     for r in ("truncated", "bad_format", "auth_failed", "oversize")) >= 52, 5)
    check(get(target, "/v1/health")[0] == 200, "agent still answers after garbage")
    print("ok: random, truncated and oversize packets rejected and counted")

    # 2. Pause one for less than the suspicion timeout.
    paused = agents[3]
    os.kill(paused.proc.pid, signal.SIGSTOP)
    time.sleep(PAUSE_S)
    os.kill(paused.proc.pid, signal.SIGCONT)
    # It must come back alive everywhere (it may have been suspected meanwhile).
    poll(f"{paused.name} alive everywhere after SIGCONT",
         lambda: all_see(agents, paused.name, "alive"), 15)
    time.sleep(1.0)  # any death that was already decided would have spread by now
    for a in agents:
        check(not death_lines(a, paused.name), f"{a.name} declared the paused {paused.name} dead: {death_lines(a, paused.name)}")
        check(members(a)[paused.name]["state"] == "alive", f"{a.name}: {paused.name} not alive")
    print(f"ok: {paused.name} paused {PAUSE_S} s (SIGSTOP/SIGCONT), nobody declared it dead")

    # 3. Kill one.
    victim = agents[4]
    survivors = agents[:4]
    victim.proc.kill()
    killed_at = time.monotonic()
    victim.proc.wait(timeout=5)
    poll(f"every survivor to list {victim.name} dead", lambda: all_see(survivors, victim.name, "dead"), DETECT_BOUND_S,
         interval_s=0.02)
    detect_s = time.monotonic() - killed_at
    dead_inc = max(members(a)[victim.name]["incarnation"] for a in survivors)
    print(f"ok: SIGKILL of {victim.name} -> every survivor lists it dead after {detect_s:.2f} s "
          f"(bound {DETECT_BOUND_S:.0f} s)")

    # 4. Restart it with the same name and address.
    reborn = start(sys.argv[1], victim.name, victim.cluster, [agents[0].cluster], key)
    check(reborn.cluster == victim.cluster, f"restarted at {reborn.cluster}, was {victim.cluster}")
    agents[4] = reborn
    poll(f"{victim.name} alive again everywhere with an incarnation above {dead_inc}",
         lambda: all_see(agents, victim.name, "alive", dead_inc + 1), 15)
    incs = sorted({members(a)[victim.name]["incarnation"] for a in agents})
    print(f"ok: restarted {victim.name} rejoined alive, incarnation {dead_inc} -> {incs}")

    # 5. SIGTERM: a graceful leave.
    leaver = agents[1]
    leaver.proc.send_signal(signal.SIGTERM)
    try:
        rc = leaver.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        fail("agent did not exit within 5 s of SIGTERM")
    check(rc == 0, f"exit code after SIGTERM: {rc}")
    others = [a for a in agents if a is not leaver]
    poll(f"{leaver.name} listed as left", lambda: all_see(others, leaver.name, "left"), 10)
    print(f"ok: SIGTERM -> {leaver.name} left the cluster and exited 0")

    # 6. A second process started with a running agent's name: the two refute
    # each other's alive, and one of them says so (log and metric).
    original = agents[2]
    twin = start(sys.argv[1], original.name, "127.0.0.1:0", [agents[0].cluster], key)
    agents.append(twin)

    def conflict_reported():
        return any(metric(a, "heck_swim_name_conflicts_total") >= 1 and
                   "another process claims this agent's name" in a.log() for a in (original, twin))
    poll(f"a name conflict over {original.name} to be reported", conflict_reported, 15)
    twin.proc.kill()
    twin.proc.wait(timeout=5)
    print(f"ok: a second process named {original.name} is reported as a name conflict")


if __name__ == "__main__":
    sys.exit(main())
