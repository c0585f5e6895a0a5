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
     the new owner's /v1/targets/T/history holds latency samples the dead
     owner measured (handed to it as T's standby, "here": false);
  3. every other target the dead agent checked is taken over too (a newer
     observation from a survivor);
  4. counter POSTs on every agent (before the kill) and on every survivor
     (after it): every live agent reads the exact sum.

Usage: cluster_takeover_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 60 s.
"""

import os
import re
from datetime import datetime, timezone
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, args_or_usage, check, dump_logs, keygen, run_heck,  # noqa: E402
                       serve_http, start_agent, stop_all, swim_flags)
DEADLINE = Deadline(100)  # the whole test
poll = DEADLINE.poll
TOKEN = "takeover-token-42"
# Probe every 200 ms; suspicion timeout 10 x 200 ms = 2 s with five members.
SWIM_FLAGS = swim_flags(leave_timeout_ms=300)
TARGETS = 20
TAKEOVER_BOUND_S = 15.0  # SIGKILL -> another agent checks T and every agent says unhealthy


# ---- the local targets: GET /t/<name> -> 200, or 503 once <name> is failing ---

FAILING = set()
FAILING_LOCK = threading.Lock()


class Targets(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with FAILING_LOCK:
            bad = name in FAILING
        self.reply(503 if bad else 200, b"failing\n" if bad else b"ok\n", close=True)


def start(heck, name, join, key):
    """An agent with the shared key; writes need TOKEN, which request() sends by default."""
    return start_agent(heck, name, join=join, key=key, extra=["--api-token", TOKEN, "--min-api-interval-ms", "100",
                                                                "--latency-handoff-ms", "1000"] + SWIM_FLAGS,
                       token=TOKEN, deadline=DEADLINE)


def heck_cli(heck, *args):
    r = run_heck(heck, *args)
    return r.returncode, r.stdout, r.stderr


def main():
    [heck] = args_or_usage(__doc__)
    key = keygen(heck)
    server = serve_http(Targets)
    base = f"http://127.0.0.1:{server.server_address[1]}"

    agents = []
    try:
        seed = start(heck, "n1", [], key)
        agents.append(seed)
        for i in range(2, 6):
            agents.append(start(heck, f"n{i}", [seed.cluster], key))
        run(heck, agents, base)
    except BaseException:
        dump_logs(agents, last_lines=40)
        raise
    finally:
        stop_all(agents)
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
    status, _, body = n1.request("PUT", "/v1/targets/t00", spec("t00"), token=None)
    check(status == 401, f"PUT without a token: {status} {body}")
    for i in ids[1:]:
        status, _, body = n1.request("PUT", f"/v1/targets/{i}", spec(i))
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
            status, _, body = a.request("POST", counter, {"delta": delta})
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
    # Before the kill, T's standby holds the owner's latencies (handed every second).
    def standby_holds_latencies():
        for a in agents:
            if a is victim:
                continue
            samples = a.get_json(f"/v1/targets/{target}/history")["latency"]["samples"]
            if sum(not s["here"] for s in samples) >= 3:
                return a.name
        return None
    standby = poll(f"an agent other than {owner_name} to hold 3 of its latency samples for {target}",
                   standby_holds_latencies, 10)
    victim.proc.kill()
    killed_at = time.monotonic()
    killed_wall = time.time()
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

    # The latencies moved with the ownership: the new owner holds samples
    # the dead owner measured before the kill (handed over every second).
    # Read at once: its own checks push them out of the ring within 18 s.
    new_owner = next(a for a in survivors if a.name == new_checker)
    samples = new_owner.get_json(f"/v1/targets/{target}/history")["latency"]["samples"]
    handed = [s for s in samples if not s["here"]]
    check(new_checker == standby, f"{new_checker} took {target} over, but {standby} held its latencies")
    check(len(handed) >= 3, f"{new_checker} holds {len(handed)} of {victim.name}'s latency samples for {target}: "
          f"{samples}")
    at_s = lambda s: datetime.strptime(s["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    check(all(at_s(s) < killed_wall + 0.5 for s in handed),
          f"handed samples dated after the kill of {victim.name}: {handed}")
    rc, out, err = heck_cli(heck, "history", target, "--api", new_owner.api)
    check(rc == 0 and re.search(r"^latency of the last checks: .* check\(s\), \d+ handed over by other owners$", out, re.M),
          f"heck history {target}: {rc} {out!r} {err!r}")
    print(f"ok: {new_checker}'s history of {target} holds {len(handed)} latency samples {victim.name} measured "
          f"before its kill (heck history says so)")
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
        status, _, body = a.request("POST", counter, {"delta": 100 + k})
        check(status == 200, f"{a.name}: POST {counter}: {status} {body}")
        expected += 100 + k
    poll(f"every survivor to read the counter as {expected}",
         lambda: all(a.get_json(counter)["value"] == expected for a in survivors), 10)
    rc, out, err = heck_cli(heck, "counter", "takeover-hits", "--api", survivors[-1].api)
    check(rc == 0 and out.strip() == f"takeover-hits {expected}", f"heck counter: {rc} {out!r} {err!r}")
    print(f"ok: counter adds on the survivors; every survivor reads exactly {expected}")


if __name__ == "__main__":
    sys.exit(main())
