#!/usr/bin/env python3
"""Multi-process test of the agent API, answered from the replicated state (python3 standard library only).

Three `heck agent` processes on 127.0.0.1, each with its own --data-dir in a
temporary directory, writes protected by a bearer token (--api-token for n1,
HECK_API_TOKEN for the others), and one local HTTP target served by this test:

  1. PUT /v1/targets/web on n2 (401 without the token; 201, durable, pushed
     to both peers with it); n1 and n3 list it within a bounded wait; once
     its owner has checked it, every agent reports it healthy with the same
     owners, and exactly one agent checks it;
  2. bad writes: bad JSON -> 400, an id that differs from the path -> 400,
     a body over 64 KiB -> 413;
  3. counter POSTs on all three agents; every agent reads the exact sum;
  4. PUT /v1/targets/late on n3, SIGKILL n3 the moment the reply arrives:
     n1 and n2 have it (replicated before the reply); then SIGKILL n1 and n2
     too (the whole cluster is down); n3 restarted alone from its data dir
     has `late` (its own fsync'ed snapshot); n1 and n2 restarted: every agent
     has web and late and the counter's exact sum; DELETE spreads to all;
  5. a corrupt state file: the agent refuses to start (exit 1) with a
     message naming the file and the decode error.

Usage: api_integration_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 60 s.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, args_or_usage, check, dump_logs, free_cluster_port,  # noqa: E402
                       serve_http, start_agent, stop_all, swim_flags, temp_dir)
DEADLINE = Deadline(100)  # the whole test
poll = DEADLINE.poll
TOKEN = "it-token-0123456789"
SWIM_FLAGS = swim_flags(leave_timeout_ms=300)
SPREAD_BOUND_S = 5.0   # a write on one agent -> listed by every other


class Healthy(QuietHandler):
    def do_GET(self):
        self.reply(200, b"ok\n")


def start(heck, name, bind, join, data_dir, token_flag):
    """An agent with a data dir; the token as --api-token (token_flag) or in HECK_API_TOKEN."""
    # The targets here are checked every 300 ms: below the API's default floor.
    extra = SWIM_FLAGS + ["--min-api-interval-ms", "100"] + (["--api-token", TOKEN] if token_flag else [])
    env = {"HECK_API_TOKEN": None if token_flag else TOKEN}
    return start_agent(heck, name, bind=bind, join=join, data_dir=data_dir, extra=extra, env=env, deadline=DEADLINE)


def main():
    [heck] = args_or_usage(__doc__)
    target_srv = serve_http(Healthy)
    agents = []
    with temp_dir("heck-api-it-") as tmp:
        try:
            run(heck, tmp, agents, target_srv.server_address[1])
        except BaseException:
            dump_logs(agents)
            raise
        finally:
            stop_all(agents)
            target_srv.shutdown()
    print("PASS")
    return 0


def start_cluster(heck, tmp, agents, addresses=None):
    """Starts n1 (seed), n2, n3; at the given cluster addresses when restarting."""
    agents.clear()
    # Fixed from the first start (below the kernel's ephemeral range), since
    # the cluster restarts at the same addresses later (free_cluster_port).
    addresses = addresses or {name: f"127.0.0.1:{free_cluster_port()}" for name in ["n1", "n2", "n3"]}
    names = ["n1", "n2", "n3"]
    for i, name in enumerate(names):
        bind = addresses[name]
        join = [] if i == 0 else [agents[0].cluster]
        agents.append(start(heck, name, bind, join, os.path.join(tmp, name), token_flag=(i == 0)))
    poll("three agents to list three members alive",
         lambda: all(sorted(m["name"] for m in a.get_json("/v1/members") if m["state"] == "alive") == names
                     for a in agents), 15)


def run(heck, tmp, agents, target_port):
    start_cluster(heck, tmp, agents)
    n1, n2, n3 = agents
    print("ok: three agents joined, each with a data dir and a token")

    # 1. PUT on n2.
    spec = json.dumps({"url": f"http://127.0.0.1:{target_port}/health", "interval_ms": 300, "timeout_ms": 200})
    status, headers, body = n2.request("PUT", "/v1/targets/web", spec)
    check(status == 401, f"PUT without a token: {status} {body}")
    check(headers.get("WWW-Authenticate") == "Bearer", f"401 without WWW-Authenticate: {headers}")
    status, _, body = n2.request("PUT", "/v1/targets/web", spec, token="wrong")
    check(status == 401, f"PUT with a wrong token: {status} {body}")
    put_at = time.monotonic()
    status, _, body = n2.request("PUT", "/v1/targets/web", spec, token=TOKEN)
    check(status == 201, f"PUT with the token: {status} {body}")
    reply = json.loads(body)
    check(reply["created"] is True and reply["durable"] is True, f"PUT reply: {reply}")
    check(reply["replicated_to"] == 2, f"PUT pushed to {reply['replicated_to']} peers, expected 2: {reply}")
    check(len(reply["owners"]) == 1 and reply["owners"][0] in ("n1", "n2", "n3"), f"owners: {reply}")
    poll("web listed by n1 and n3", lambda: all("web" in a.targets() for a in (n1, n3)), SPREAD_BOUND_S,
         interval_s=0.01)
    print(f"ok: PUT on n2 (401 without or with a wrong token), listed by n1 and n3 after "
          f"{(time.monotonic() - put_at) * 1000:.0f} ms")

    def same_healthy_view():
        views = [a.get_json("/v1/targets/web") for a in agents]
        if not all(v["status"] == "healthy" for v in views):
            return False
        return views
    views = poll("web healthy on every agent", same_healthy_view, 15)
    owners = {tuple(v["owners"]) for v in views}
    check(len(owners) == 1, f"agents disagree on the owners: {owners}")
    checkers = [a.name for a, v in zip(agents, views) if v["checked_here"]]
    check(len(checkers) == 1 and checkers[0] == views[0]["owners"][0],
          f"checked by {checkers}, owners {views[0]['owners']}")
    check(all(v["last_observer"] == checkers[0] for v in views), f"last observers: {[v['last_observer'] for v in views]}")
    check(all(v["stale"] is False and isinstance(v["age_ms"], int) for v in views), "stale/age_ms")
    for a in agents:
        s = a.get_json("/v1/status")
        check(s["targets"]["healthy"] == 1 and s["members"]["alive"] == 3 and s["durable"] is True and s["auth"] is True,
              f"{a.name} /v1/status: {s}")
        o = a.get_json("/v1/owners/web")
        check(o["registered"] is True and o["owners"] == views[0]["owners"], f"{a.name} /v1/owners/web: {o}")
    print(f"ok: every agent reports web healthy, owned and checked by {checkers[0]} only")

    # 2. Bad writes.
    status, _, body = n1.request("PUT", "/v1/targets/bad", "{not json", token=TOKEN)
    check(status == 400 and "not valid JSON" in json.loads(body)["error"], f"bad JSON: {status} {body}")
    status, _, body = n1.request("PUT", "/v1/targets/bad", json.dumps({"id": "other", "url": "http://127.0.0.1:1/"}),
                                 token=TOKEN)
    check(status == 400 and "differs" in json.loads(body)["error"], f"wrong id: {status} {body}")
    status, _, body = n1.request("PUT", "/v1/targets/bad", "{" + " " * (70 * 1024) + "}", token=TOKEN)
    check(status == 413, f"70 KiB body: {status} {body}")
    check("bad" not in n1.targets(), "a refused PUT registered something")
    print("ok: bad JSON and a wrong id -> 400, 70 KiB -> 413")

    # 3. Counters on every agent, exact sum everywhere.
    adds = {"n1": [1] * 5, "n2": [10] * 3, "n3": [-2] * 4}
    for a in agents:
        for d in adds[a.name]:
            status, _, body = a.request("POST", "/v1/counters/requests", json.dumps({"delta": d}), token=TOKEN)
            check(status == 200, f"{a.name}: POST counter: {status} {body}")
    total = sum(sum(v) for v in adds.values())
    poll(f"every agent to read the counter's exact sum {total}",
         lambda: all(a.get_json("/v1/counters/requests")["value"] == total for a in agents), SPREAD_BOUND_S)
    print(f"ok: 12 counter POSTs on three agents, every agent reads exactly {total}")

    # 4. Crash the agent that accepted a PUT at once, then the whole cluster.
    addresses = {a.name: a.cluster for a in agents}
    late = json.dumps({"url": f"http://127.0.0.1:{target_port}/late", "interval_ms": 300, "timeout_ms": 200})
    status, _, body = n3.request("PUT", "/v1/targets/late", late, token=TOKEN)
    n3.kill()  # SIGKILL the moment the reply is in
    check(status == 201 and json.loads(body)["durable"] is True, f"PUT late: {status} {body}")
    poll("late listed by n1 and n2 after n3 was killed", lambda: all("late" in a.targets() for a in (n1, n2)),
         SPREAD_BOUND_S)
    print("ok: n3 SIGKILLed right after its PUT reply; n1 and n2 have the target (replicated before the reply)")
    time.sleep(0.6)  # past the 200 ms debounce: n1 and n2 have written their snapshots
    n1.kill()
    n2.kill()
    print("ok: the whole cluster is down (SIGKILL)")

    reborn = start(heck, "n3", addresses["n3"], [addresses["n1"]], os.path.join(tmp, "n3"), token_flag=False)
    agents[:] = [reborn]
    ts = reborn.targets()
    check({"web", "late"} <= set(ts), f"n3 restarted alone lists {sorted(ts)}, expected web and late")
    check(reborn.get_json("/v1/counters/requests")["value"] == total, "n3's restored counter")
    check(re.search(r"state file .*state\.snapshot: restored [1-9]\d* targets and 1 counters", reborn.log()),
          "no 'restored' line in n3's log")
    print("ok: n3 restarted alone from its data dir has web, late and the counter")
    reborn.kill()

    start_cluster(heck, tmp, agents, addresses)
    poll("web and late on every restarted agent, and the exact counter",
         lambda: all({"web", "late"} <= set(a.targets()) and a.get_json("/v1/counters/requests")["value"] == total
                     for a in agents), SPREAD_BOUND_S)
    poll("web healthy again everywhere after the restart",
         lambda: all(a.get_json("/v1/targets/web")["status"] == "healthy" for a in agents), 15)
    print("ok: whole cluster restarted from the data dirs: web, late and the counter are back everywhere")

    status, _, body = agents[1].request("DELETE", "/v1/targets/late", token=TOKEN)
    check(status == 200 and json.loads(body)["deleted"] is True, f"DELETE: {status} {body}")
    poll("late gone everywhere", lambda: all("late" not in a.targets() for a in agents), SPREAD_BOUND_S)
    status, _, body = agents[1].request("DELETE", "/v1/targets/late", token=TOKEN)
    check(status == 404, f"second DELETE: {status} {body}")
    print("ok: DELETE on n2 spreads to every agent; a second DELETE is 404")

    # 5. A corrupt state file stops the start.
    bad_dir = os.path.join(tmp, "corrupt")
    os.mkdir(bad_dir)
    with open(os.path.join(bad_dir, "state.snapshot"), "wb") as f:
        f.write(b"\x93\xadheck-snapshot\x01\xc1garbage")
    r = subprocess.run([heck, "agent", "--name", "bad", "--bind", "127.0.0.1:0", "--api", "127.0.0.1:0",
                        "--data-dir", bad_dir], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1, f"corrupt state file: exit code {r.returncode}: {r.stderr}")
    check(os.path.join(bad_dir, "state.snapshot") in r.stderr and "not a heck snapshot" in r.stderr,
          f"corrupt state file: message does not name the file and the problem: {r.stderr!r}")
    check("API on" not in r.stderr, f"the agent started anyway: {r.stderr!r}")
    print("ok: a corrupt state file -> exit 1 naming the file and the decode error")


if __name__ == "__main__":
    sys.exit(main())
