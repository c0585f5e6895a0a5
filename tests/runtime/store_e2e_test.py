#!/usr/bin/env python3
"""The same end-to-end test for both stores (python3 standard library only).

Usage: store_e2e_test.py PATH_TO_HECK gossip|etcd

Three `heck agent` processes on 127.0.0.1 with short SWIM timings, and local
HTTP targets served by this test (a path per target, a switch that makes one
fail). With `gossip` each agent has a --data-dir (the replicated store); with
`etcd` the test starts a 3-member etcd cluster on loopback ports in a
temporary directory (tests/support/etcd_cluster.py) and the agents run with
--store etcd. Then, the same steps and the same checks for both:

  1. register: targets PUT through n1 are listed by every agent, healthy,
     each checked by exactly one agent;
  2. flip: a target switched to failing is reported unhealthy by every agent;
  3. counters: adds sent concurrently through all three agents sum exactly,
     on every agent;
  4. takeover: the owner of a target is SIGKILLed as the target starts
     failing; another agent checks it and every survivor reports it
     unhealthy, observed by that agent;
  5. whole-cluster restart: every agent SIGKILLed, then started again; every
     agent lists every target and the counter's exact sum.

Exits 77 (skipped) for `etcd` when no etcd binary is installed.
Every wait is a bounded poll.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, check, dump_logs, free_cluster_port, serve_http, start_agent,  # noqa: E402
                       stop_all, swim_flags, temp_dir)
from etcd_cluster import EtcdCluster, etcd_binary  # noqa: E402

DEADLINE = Deadline(110)
poll = DEADLINE.poll
SWIM_FLAGS = swim_flags(leave_timeout_ms=300)
TARGETS = 8
SPREAD_S = 10.0
TAKEOVER_S = 15.0

FAILING = set()
FAILING_LOCK = threading.Lock()


class Targets(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with FAILING_LOCK:
            bad = name in FAILING
        self.reply(503 if bad else 200, b"failing\n" if bad else b"ok\n", close=True)


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("gossip", "etcd"):
        print(__doc__, file=sys.stderr)
        return 2
    heck, store = sys.argv[1], sys.argv[2]
    if store == "etcd" and not etcd_binary():
        print("SKIP: no etcd binary (tools/setup.sh installs etcd-server)")
        return 77
    server = serve_http(Targets)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    agents = []
    etcd = None
    with temp_dir(f"heck-store-{store}-") as tmp:
        try:
            if store == "etcd":
                etcd = EtcdCluster(os.path.join(tmp, "etcd"))
                etcd.start()
            run(heck, store, tmp, etcd, agents, base)
        except BaseException:
            dump_logs(agents, last_lines=40)
            if etcd:
                print(etcd.logs(), file=sys.stderr)
            raise
        finally:
            stop_all(agents)
            if etcd:
                etcd.stop()
            server.shutdown()
    print("PASS")
    return 0


def start(heck, store, tmp, etcd, name, bind, join):
    extra = list(SWIM_FLAGS) + ["--min-api-interval-ms", "100"]  # targets every 300 ms
    data_dir = None
    if store == "etcd":
        extra += ["--store", "etcd", "--etcd", etcd.endpoints]
    else:
        data_dir = os.path.join(tmp, name)
    return start_agent(heck, name, bind=bind, join=join, data_dir=data_dir, extra=extra, deadline=DEADLINE)


def start_cluster(heck, store, tmp, etcd, agents, addresses=None):
    agents.clear()
    # Fixed from the first start (below the kernel's ephemeral range), since
    # the cluster restarts at the same addresses later (free_cluster_port).
    addresses = addresses or {name: f"127.0.0.1:{free_cluster_port()}" for name in ["n1", "n2", "n3"]}
    for i, name in enumerate(["n1", "n2", "n3"]):
        bind = addresses[name]
        join = [] if i == 0 else [agents[0].cluster]
        agents.append(start(heck, store, tmp, etcd, name, bind, join))
    names = sorted(a.name for a in agents)
    poll("three agents to list three members alive",
         lambda: all(sorted(m["name"] for m in a.get_json("/v1/members") if m["state"] == "alive") == names
                     for a in agents), 15)
    if store == "etcd":
        poll("every agent's etcd store to be available",
             lambda: all(a.get_json("/v1/status")["store"]["available"] for a in agents), 15)


def run(heck, store, tmp, etcd, agents, base):
    start_cluster(heck, store, tmp, etcd, agents)
    print(f"ok [{store}]: three agents joined")

    # 1. Register through n1.
    n1 = agents[0]
    ids = [f"t{i}" for i in range(TARGETS)]
    spec = lambda i: {"url": f"{base}/t/{i}", "interval_ms": 300, "timeout_ms": 200, "rise": 1, "fall": 1}
    for i in ids:
        status, _, body = n1.request("PUT", f"/v1/targets/{i}", spec(i))
        check(status == 201, f"PUT {i}: {status} {body}")

    def all_healthy_once():
        checkers = {i: 0 for i in ids}
        for a in agents:
            view = a.targets()
            if sorted(view) != ids or any(view[i]["status"] != "healthy" for i in ids):
                return False
            for i in ids:
                checkers[i] += view[i]["checked_here"]
        return all(n == 1 for n in checkers.values())
    poll("every agent to list every target healthy, one checker each", all_healthy_once, SPREAD_S)
    print(f"ok [{store}]: {TARGETS} targets registered through n1, healthy everywhere, one checker each")

    # 2. Flip one target.
    flip = ids[0]
    with FAILING_LOCK:
        FAILING.add(flip)
    poll(f"every agent to report {flip} unhealthy",
         lambda: all(a.get_json(f"/v1/targets/{flip}")["status"] == "unhealthy" for a in agents), SPREAD_S)
    with FAILING_LOCK:
        FAILING.discard(flip)
    poll(f"every agent to report {flip} healthy again",
         lambda: all(a.get_json(f"/v1/targets/{flip}")["status"] == "healthy" for a in agents), SPREAD_S)
    print(f"ok [{store}]: {flip} flipped unhealthy and back, seen by every agent")

    # 3. Concurrent counter adds through every agent.
    counter = "/v1/counters/e2e-hits"
    errors = []
    adds_per_thread = 15

    def adder(a, k):
        for n in range(adds_per_thread):
            status, _, body = a.request("POST", counter, {"delta": k + n})
            if status != 200:
                errors.append(f"{a.name}: {status} {body}")
    threads = [threading.Thread(target=adder, args=(a, 10 * (k + 1))) for k, a in enumerate(agents) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    check(not errors, f"counter adds failed: {errors[:3]}")
    expected = sum(2 * sum(10 * (k + 1) + n for n in range(adds_per_thread)) for k in range(len(agents)))
    poll(f"every agent to read the counter as {expected}",
         lambda: all(a.get_json(counter)["value"] == expected for a in agents), SPREAD_S)
    print(f"ok [{store}]: {len(threads) * adds_per_thread} concurrent adds through three agents sum to {expected}")

    # 4. SIGKILL the owner of a target n1 does not own, as it starts failing.
    target = owner = None
    for i in ids[1:]:
        owners = n1.get_json(f"/v1/owners/{i}")["owners"]
        if owners[0] != "n1":
            target, owner = i, owners[0]
            break
    check(target is not None, "n1 owns every target?")
    victim = next(a for a in agents if a.name == owner)
    survivors = [a for a in agents if a is not victim]
    victim.kill()
    killed = time.monotonic()
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
    taker = poll(f"a survivor to take {target} over and every survivor to report it unhealthy", taken_over,
                 TAKEOVER_S, interval_s=0.1)
    print(f"ok [{store}]: SIGKILL {owner} (owner of {target}) -> {taker} checks it, unhealthy everywhere after "
          f"{time.monotonic() - killed:.2f} s")
    with FAILING_LOCK:
        FAILING.discard(target)

    # 5. Whole-cluster restart (same cluster addresses for the gossip data dirs).
    addresses = {a.name: a.cluster for a in agents}
    stop_all(agents)
    start_cluster(heck, store, tmp, etcd, agents, addresses)
    poll("every restarted agent to list every target and the counter's sum",
         lambda: all(sorted(a.targets()) == ids and a.get_json(counter)["value"] == expected for a in agents),
         SPREAD_S)
    poll("every target healthy again after the restart",
         lambda: all(all(t["status"] == "healthy" for t in a.targets().values()) for a in agents), SPREAD_S)
    print(f"ok [{store}]: after a whole-cluster restart every agent has all {TARGETS} targets and the sum {expected}")


if __name__ == "__main__":
    sys.exit(main())
