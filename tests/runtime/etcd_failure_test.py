#!/usr/bin/env python3
"""The etcd store's failure modes, with a real 3-member etcd cluster
(python3 standard library only; Debian's etcd-server).

Usage: etcd_failure_test.py PATH_TO_HECK

A 3-member etcd cluster on loopback ports in a temporary directory, two
`heck agent --store etcd` processes and one local HTTP target:

  1. a target and a counter written through the agents; both see them;
  2. two of the three etcd members SIGKILLed (the survivor is a minority):
     within a bounded time every agent's /v1/status says
     "store": {"kind": "etcd", "available": false, "reason": ...} and
     heck_store_available{kind="etcd"} is 0; API writes (PUT, DELETE, POST)
     answer 503 with a message, each within a bounded time (no hang); reads
     are served from the last view, every target marked "stale" with a
     "stale_reason"; the agents keep checking (their check counts grow);
  3. the two members started again: every agent says available again (the
     watch resumed), a write through one agent is seen by the other, and a
     counter add is exact;
  4. compaction: a third agent, n3, knows only one etcd member; that member
     is SIGKILLed (n3's writes answer 503 at once: no member reachable), a
     target is added and one deleted through n1 and the
     history is compacted; once the member is back, n3's watch finds its
     revision compacted, n3 reads everything again (its log says so) and its
     view has the new target and not the deleted one.

Exits 77 (skipped) when no etcd binary is installed. Every wait is bounded.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, check, dump_logs, serve_http, start_agent,  # noqa: E402
                       stop_all, swim_flags, temp_dir)
from etcd_cluster import EtcdCluster, etcd_binary  # noqa: E402

DEADLINE = Deadline(110)
poll = DEADLINE.poll
WRITE_BOUND_S = 6.5      # the store's write deadline (5 s) plus slack
NOTICE_BOUND_S = 10.0    # etcd majority gone -> the agents say unavailable
RECOVER_BOUND_S = 20.0   # etcd majority back -> available again


class Healthy(QuietHandler):
    def do_GET(self):
        self.reply(200, b"ok\n")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    heck = sys.argv[1]
    if not etcd_binary():
        print("SKIP: no etcd binary (tools/setup.sh installs etcd-server)")
        return 77
    server = serve_http(Healthy)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    agents = []
    etcd = None
    with temp_dir("heck-etcd-failure-") as tmp:
        try:
            etcd = EtcdCluster(os.path.join(tmp, "etcd"))
            etcd.start()
            run(heck, etcd, agents, base)
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


def metric(agent, name, labels):
    status, _, text = agent.request("GET", "/metrics")
    check(status == 200, f"{agent.name}: /metrics: {status}")
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    check(m is not None, f"{agent.name}: no {name}{{{labels}}} in /metrics")
    return float(m.group(1))


def timed(agent, method, path, body=None):
    t = time.monotonic()
    status, _, text = agent.request(method, path, body, timeout=WRITE_BOUND_S + 5)
    return status, text, time.monotonic() - t


def run(heck, etcd, agents, base):
    # The survivor first in every agent's list: its calls reach a member.
    endpoints = ",".join([f"http://127.0.0.1:{etcd.client_ports[2]}", f"http://127.0.0.1:{etcd.client_ports[0]}",
                          f"http://127.0.0.1:{etcd.client_ports[1]}"])
    extra = swim_flags() + ["--store", "etcd", "--etcd", endpoints, "--min-api-interval-ms", "100"]
    n1 = start_agent(heck, "n1", extra=extra, deadline=DEADLINE)
    agents.append(n1)
    n2 = start_agent(heck, "n2", join=[n1.cluster], extra=extra, deadline=DEADLINE)
    agents.append(n2)
    poll("both agents available", lambda: all(a.get_json("/v1/status")["store"]["available"] for a in agents), 15)

    # 1. Writes work.
    spec = {"url": f"{base}/ok", "interval_ms": 300, "timeout_ms": 200, "rise": 1, "fall": 1}
    status, _, body = n1.request("PUT", "/v1/targets/web", spec)
    check(status == 201, f"PUT web: {status} {body}")
    status, _, body = n2.request("POST", "/v1/counters/c", {"delta": 5})
    check(status == 200, f"POST counter: {status} {body}")
    poll("both agents to see web healthy and the counter",
         lambda: all(a.get_json("/v1/targets/web")["status"] == "healthy" and a.get_json("/v1/counters/c")["value"] == 5
                     for a in agents), 10)
    for a in agents:
        check(metric(a, "heck_store_available", 'kind="etcd"') == 1, f"{a.name}: store not available in /metrics")
    print("ok: writes through both agents, seen by both; heck_store_available 1")

    # 2. Kill the etcd majority.
    etcd.stop_member(0)
    etcd.stop_member(1)
    killed = time.monotonic()

    def unavailable(a):
        s = a.get_json("/v1/status")["store"]
        return s["kind"] == "etcd" and s["available"] is False and isinstance(s["reason"], str) and s["reason"]
    poll("both agents to say the store is unavailable", lambda: all(unavailable(a) for a in agents), NOTICE_BOUND_S)
    print(f"ok: both agents say the store is unavailable {time.monotonic() - killed:.1f} s after the majority died: "
          f"{n1.get_json('/v1/status')['store']['reason']!r}")
    for a in agents:
        check(metric(a, "heck_store_available", 'kind="etcd"') == 0, f"{a.name}: heck_store_available not 0")
    for method, path, body in (("PUT", "/v1/targets/new", spec), ("POST", "/v1/counters/c", {"delta": 1}),
                               ("DELETE", "/v1/targets/web", None)):
        status, text, took = timed(n1, method, path, body)
        check(status == 503 and "error" in text and "etcd" in text,
              f"{method} {path} during the outage: {status} {text}")
        check(took < WRITE_BOUND_S, f"{method} {path} took {took:.1f} s")
    print("ok: PUT, POST and DELETE answer 503 with a message, at once, while etcd has no majority")

    for a in agents:
        view = a.get_json("/v1/targets/web")
        check(view["stale"] is True and "unavailable" in view.get("stale_reason", ""),
              f"{a.name}: web not marked stale: {view}")
        check(view["status"] == "healthy", f"{a.name}: the last view says {view['status']}")
        listed = a.targets()
        check(sorted(listed) == ["web"] and listed["web"]["stale"] is True, f"{a.name}: /v1/targets {listed}")
    checker = next(a for a in agents if a.get_json("/v1/targets/web")["checked_here"])
    first = checker.get_json("/v1/targets/web")["local"]["checks"]
    poll("the owner to keep checking", lambda: checker.get_json("/v1/targets/web")["local"]["checks"] >= first + 3, 5)
    print(f"ok: reads served from the last view, marked stale; {checker.name} keeps checking")

    # A late write still answers within the bound while etcd is away.
    status, text, took = timed(n2, "POST", "/v1/counters/c", {"delta": 1})
    check(status == 503 and took < WRITE_BOUND_S, f"POST on n2: {status} {text} after {took:.1f} s")

    # 3. The majority comes back.
    etcd.start_member(0)
    etcd.start_member(1)
    back = time.monotonic()
    poll("both agents available again", lambda: all(a.get_json("/v1/status")["store"]["available"] for a in agents),
         RECOVER_BOUND_S, interval_s=0.2)
    print(f"ok: both agents available again {time.monotonic() - back:.1f} s after etcd's majority came back")
    for a in agents:
        check(metric(a, "heck_store_available", 'kind="etcd"') == 1, f"{a.name}: heck_store_available not 1")
        check(a.get_json("/v1/targets/web").get("stale_reason") is None, f"{a.name}: still marked stale")
    status, _, body = n2.request("PUT", "/v1/targets/after", spec)
    check(status == 201, f"PUT after the outage: {status} {body}")
    status, _, body = n1.request("POST", "/v1/counters/c", {"delta": 10})
    check(status == 200, f"POST after the outage: {status} {body}")
    poll("both agents to see the new target and the counter's exact value",
         lambda: all(sorted(a.targets()) == ["after", "web"] and a.get_json("/v1/counters/c")["value"] == 15
                     for a in agents), 10)
    print("ok: the watch resumed: a write through n2 is seen by n1, the counter is exact (15)")
    check(n1.find(r"etcd store: watch resumed from revision \d+"), "n1 did not log a watch resume")

    # 4. Compaction while n3's only member is away.
    n3 = start_agent(heck, "n3", join=[n1.cluster], deadline=DEADLINE,
                     extra=swim_flags() + ["--store", "etcd", "--etcd", etcd.url(2), "--min-api-interval-ms", "100"])
    agents.append(n3)
    poll("n3 available with the same view",
         lambda: n3.get_json("/v1/status")["store"]["available"] and sorted(n3.targets()) == ["after", "web"], 15)
    etcd.stop_member(2)
    poll("n3 to say the store is unavailable", lambda: not n3.get_json("/v1/status")["store"]["available"],
         NOTICE_BOUND_S)
    status, text, took = timed(n3, "POST", "/v1/counters/c", {"delta": 1})
    check(status == 503 and "etcd" in text and took < WRITE_BOUND_S,
          f"POST on n3 with no etcd member reachable: {status} {text} after {took:.1f} s")
    poll("n1 to write again through another member",
         lambda: n1.request("PUT", "/v1/targets/gap", spec, timeout=WRITE_BOUND_S + 2)[0] == 201, RECOVER_BOUND_S,
         interval_s=0.5)
    status, _, body = n1.request("DELETE", "/v1/targets/after", timeout=WRITE_BOUND_S + 2)
    check(status == 200, f"DELETE after: {status} {body}")
    for k in range(5):  # some history to compact
        n1.request("POST", "/v1/counters/c", {"delta": 1}, timeout=WRITE_BOUND_S + 2)
    etcd.compact()
    etcd.start_member(2)
    poll("n3 available again with the new view",
         lambda: n3.get_json("/v1/status")["store"]["available"] and sorted(n3.targets()) == ["gap", "web"] and
         n3.get_json("/v1/counters/c")["value"] == 20, RECOVER_BOUND_S, interval_s=0.2)
    check(n3.find("etcd store: the watch's revision was compacted; reading everything again"),
          "n3 did not read everything again")
    print("ok: after a compaction n3 read everything again: it has 'gap', not 'after', and the counter 20")


if __name__ == "__main__":
    sys.exit(main())
