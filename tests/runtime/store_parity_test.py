#!/usr/bin/env python3
"""The API answers the same in both stores (python3 standard library only).

Usage: store_parity_test.py PATH_TO_HECK

One `heck agent` named n1 with the gossip store and one named n1 with the
etcd store (a one-member etcd in a temporary directory), each alone in its
cluster, get the same requests: PUT a target, the reads of it (once
healthy), the owners, the list with filters, counter adds and reads, bad
writes, DELETE and the reads after it, the status. Every answer must have
the same status code and the same JSON, apart from what differs by nature:
times and ages, addresses and ports, and the store-specific fields
("durable", "replicated_to", "durable_error", "store", "stale_reason").

Exits 77 (skipped) when no etcd binary is installed.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, check, dump_logs, serve_http, start_agent,  # noqa: E402
                       stop_all, swim_flags, temp_dir)
from etcd_cluster import EtcdCluster, etcd_binary  # noqa: E402

DEADLINE = Deadline(60)
poll = DEADLINE.poll

STORE_FIELDS = {"durable", "replicated_to", "durable_error", "store", "stale_reason"}
VARYING = {"observed_at", "checked_at", "status_since", "age_ms", "latency_ms", "state_since", "started_at",
           "uptime_s", "address", "checks", "consecutive_successes", "consecutive_failures", "at", "url"}


class Healthy(QuietHandler):
    def do_GET(self):
        self.reply(200, b"ok\n")


def normalized(value):
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in STORE_FIELDS and k not in VARYING}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


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
    with temp_dir("heck-store-parity-") as tmp:
        try:
            etcd = EtcdCluster(os.path.join(tmp, "etcd"), size=1)
            etcd.start()
            floor = ["--min-api-interval-ms", "100"]  # "web" is checked every 300 ms
            gossip = start_agent(heck, "n1", extra=swim_flags() + floor, deadline=DEADLINE)
            agents.append(gossip)
            stored = start_agent(heck, "n1", extra=swim_flags() + ["--store", "etcd", "--etcd", etcd.endpoints] + floor,
                                 deadline=DEADLINE)
            agents.append(stored)
            poll("the etcd agent's store to be available", lambda: stored.get_json("/v1/status")["store"]["available"], 10)
            run(gossip, stored, base)
        except BaseException:
            dump_logs(agents, last_lines=30)
            raise
        finally:
            stop_all(agents)
            if etcd:
                etcd.stop()
            server.shutdown()
    print("PASS")
    return 0


def same(gossip, stored, method, path, body=None):
    """Sends the request to both; checks equal status and normalized JSON; returns the gossip answer."""
    answers = []
    for a in (gossip, stored):
        status, _, text = a.request(method, path, body, timeout=10)
        answers.append((status, text))
    (gs, gt), (es, et) = answers
    gj = json.loads(gt) if gt.strip() else None
    ej = json.loads(et) if et.strip() else None
    check(gs == es, f"{method} {path}: status {gs} (gossip) vs {es} (etcd): {gt} / {et}")
    check(normalized(gj) == normalized(ej), f"{method} {path}: answers differ:\n gossip {gt}\n etcd   {et}")
    return gs, gj


def run(gossip, stored, base):
    spec = {"url": f"{base}/web", "interval_ms": 300, "timeout_ms": 200, "rise": 1, "fall": 1}
    status, _ = same(gossip, stored, "PUT", "/v1/targets/web", spec)
    check(status == 201, f"PUT: {status}")
    same(gossip, stored, "PUT", "/v1/targets/web", spec)  # the same spec again: 200, created false
    poll("web healthy on both",
         lambda: all(a.get_json("/v1/targets/web")["status"] == "healthy" for a in (gossip, stored)), 10)
    same(gossip, stored, "GET", "/v1/targets/web")
    same(gossip, stored, "GET", "/v1/targets")
    same(gossip, stored, "GET", "/v1/targets?status=healthy&stale=false")
    same(gossip, stored, "GET", "/v1/targets?status=unhealthy")
    same(gossip, stored, "GET", "/v1/owners/web")
    same(gossip, stored, "GET", "/v1/owners/nothing")
    same(gossip, stored, "GET", "/v1/counters/hits")
    for delta in (3, -1, 40):
        same(gossip, stored, "POST", "/v1/counters/hits", {"delta": delta})
    poll("the counter on both", lambda: all(a.get_json("/v1/counters/hits")["value"] == 42 for a in (gossip, stored)), 5)
    same(gossip, stored, "GET", "/v1/counters/hits")
    same(gossip, stored, "POST", "/v1/counters/hits", {"delta": "x"})
    # Past the int64 range: refused alike (400, unchanged), never wrapped.
    big = 9223372036854775807
    status, _ = same(gossip, stored, "POST", "/v1/counters/big", {"delta": big})
    check(status == 200, f"POST big: {status}")
    poll("the big counter on both", lambda: all(a.get_json("/v1/counters/big")["value"] == big
                                                for a in (gossip, stored)), 5)
    status, answer = same(gossip, stored, "POST", "/v1/counters/big", {"delta": big})
    check(status == 400 and "past the int64 maximum" in answer["error"], f"POST big twice: {status} {answer}")
    same(gossip, stored, "GET", "/v1/counters/big")
    # Faster than the API's floor: refused alike.
    same(gossip, stored, "PUT", "/v1/targets/fast", {"url": f"{base}/web", "interval_ms": 2, "timeout_ms": 1})
    same(gossip, stored, "PUT", "/v1/targets/bad", {"url": "ftp://x"})
    same(gossip, stored, "PUT", "/v1/targets/web", {"id": "other", **spec})
    same(gossip, stored, "GET", "/v1/status")
    same(gossip, stored, "DELETE", "/v1/targets/web")
    poll("web gone on both", lambda: all(a.targets() == {} for a in (gossip, stored)), 5)
    same(gossip, stored, "GET", "/v1/targets/web")
    same(gossip, stored, "DELETE", "/v1/targets/web")
    same(gossip, stored, "GET", "/v1/targets")
    same(gossip, stored, "GET", "/v1/status")
    print("ok: the same requests get the same answers from the gossip and the etcd store")


if __name__ == "__main__":
    sys.exit(main())
