#!/usr/bin/env python3
"""Multi-process test of alerts (python3 standard library only).

Five `heck agent` processes on 127.0.0.1 (short SWIM timings, one key, a
token), every one with the same alert routes in its config file: "ops" (the
generic JSON webhook, every target) and "pager" (Slack body, one target,
no resolved notifications). A webhook receiver served by this test records
every POST; local HTTP targets flip on a switch.

  1. all targets healthy: the receiver gets nothing;
  2. target T fails: exactly one "firing" for T on each route that covers
     it, sent by T's first owner, with the fields a receiver needs;
  3. that owner is SIGKILLed, then T recovers: a survivor (the new first
     owner) sends exactly one "resolved" on "ops" and none on "pager" (it
     sends no resolved notifications); no firing is sent again (the record
     of the first one replicated before the kill);
  4. the receiver refuses the next two POSTs (503): target U's firing is
     retried with backoff and delivered once (attempt 3), /v1/alerts on the
     sender lists the failures and the delivery, /metrics counts them;
     then a route written through the API at one agent (heck route) reaches
     every agent, target V's first owner sends on it once, and after it is
     removed at another agent nothing more goes out on it;
  5. a route with a bad url stops the agent at start with a message naming it.

Usage: alerts_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 60 s.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, args_or_usage, check, dump_logs, keygen, run_heck,  # noqa: E402
                       serve_http, start_agent, stop_all, swim_flags, temp_dir)

DEADLINE = Deadline(100)
poll = DEADLINE.poll
TOKEN = "alerts-token-7"
SWIM_FLAGS = swim_flags(leave_timeout_ms=300)
TARGETS = 8

FAILING = set()
LOCK = threading.Lock()
RECEIVED = []         # (path, body as dict, content type, Idempotency-Key)
REFUSE_NEXT = [0]     # answer 503 to this many more POSTs
REFUSED_KEYS = []     # the Idempotency-Key of each refused POST


class Targets(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with LOCK:
            bad = name in FAILING
        self.reply(503 if bad else 200, b"failing\n" if bad else b"ok\n", close=True)


class Receiver(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            if REFUSE_NEXT[0] > 0:
                REFUSE_NEXT[0] -= 1
                refuse = True
                REFUSED_KEYS.append(self.headers.get("Idempotency-Key"))
            else:
                refuse = False
                RECEIVED.append((self.path, json.loads(body), self.headers.get("Content-Type"),
                                 self.headers.get("Idempotency-Key")))
        self.reply(503 if refuse else 200, b"busy\n" if refuse else b"ok\n", close=True)


def received(path=None, target=None, kind=None):
    with LOCK:
        return [b for p, b, *_ in RECEIVED if (path is None or p == path) and
                (target is None or b.get("target") == target or target in b.get("text", "")) and
                (kind is None or b.get("kind", kind) == kind)]


def main():
    [heck] = args_or_usage(__doc__)
    key = keygen(heck)
    targets = serve_http(Targets)
    receiver = serve_http(Receiver)
    base = f"http://127.0.0.1:{targets.server_address[1]}"
    hooks = f"http://127.0.0.1:{receiver.server_address[1]}"
    with temp_dir("heck-alerts-") as tmp:
        return with_dir(heck, key, base, hooks, tmp, targets, receiver)


def with_dir(heck, key, base, hooks, tmp, targets, receiver):
    config = os.path.join(tmp, "agent.json")
    with open(config, "w") as f:
        json.dump({"targets": [], "alerts": [
            {"name": "ops", "url": f"{hooks}/ops"},
            {"name": "pager", "url": f"{hooks}/pager", "format": "slack", "targets": ["t00", "t01", "t02", "t03"],
             "send_resolved": False}]}, f)

    agents = []
    try:
        def start(name, join):
            return start_agent(heck, name, join=join, key=key,
                               extra=["--config", config, "--api-token", TOKEN, "--min-api-interval-ms", "100"]
                               + SWIM_FLAGS, token=TOKEN, deadline=DEADLINE)
        agents.append(start("n1", []))
        for i in range(2, 6):
            agents.append(start(f"n{i}", [agents[0].cluster]))
        run(heck, agents, base, hooks, tmp)
    except BaseException:
        dump_logs(agents, last_lines=40)
        raise
    finally:
        stop_all(agents)
        targets.shutdown()
        receiver.shutdown()
    print("PASS")
    return 0


def run(heck, agents, base, hooks, tmp):
    names = sorted(a.name for a in agents)
    poll("five agents alive everywhere",
         lambda: all(sorted(m["name"] for m in a.get_json("/v1/members") if m["state"] == "alive") == names
                     for a in agents), 15)
    n1 = agents[0]
    ids = [f"t{i:02}" for i in range(TARGETS)]
    for i in ids:
        status, _, body = n1.request("PUT", f"/v1/targets/{i}", {"url": f"{base}/t/{i}", "interval_ms": 300,
                                                                "timeout_ms": 200, "rise": 1, "fall": 1})
        check(status == 201, f"PUT {i}: {status} {body}")
    poll("every target healthy on every agent",
         lambda: all(sorted(t["id"] for t in a.get_json("/v1/targets") if t["status"] == "healthy") == ids
                     for a in agents), 15)
    time.sleep(1.5)  # two alert ticks
    check(received() == [], f"notifications while everything is healthy: {received()}")
    print("ok: five agents, eight healthy targets, no notification")

    # 2. T (covered by both routes, first owner not n1) fails.
    target = next(i for i in ids[:4] if n1.get_json(f"/v1/owners/{i}")["owners"][0] != "n1")
    owner_name = n1.get_json(f"/v1/owners/{target}")["owners"][0]
    with LOCK:
        FAILING.add(target)
    poll(f"one firing for {target} on ops and on pager",
         lambda: len(received("/ops", target, "firing")) >= 1 and len(received("/pager", target)) >= 1, 10)
    time.sleep(1.5)
    fired = received("/ops", target, "firing")
    check(len(fired) == 1, f"{len(fired)} firings for {target} on ops: {fired}")
    b = fired[0]
    check(b["sender"] == owner_name and b["status"] == "unhealthy" and b["route"] == "ops" and not b["repeat"]
          and b["attempt"] == 1 and b["since"] and b["id"].startswith(owner_name + "-"), f"the firing body: {b}")
    pager = received("/pager", target)
    check(len(pager) == 1 and ":red_circle:" in pager[0]["text"] and "FIRING" in pager[0]["text"],
          f"the pager (Slack) body: {pager}")
    # The receiver's dedup key: in the JSON body and as Idempotency-Key (the
    # Slack body has only the header), one per route.
    with LOCK:
        keys = {p: k for p, body, _, k in RECEIVED if body is b or p == "/pager"}
    check(re.fullmatch(r"[0-9a-f]{16}", b["dedup_key"] or "") and keys["/ops"] == b["dedup_key"]
          and re.fullmatch(r"[0-9a-f]{16}", keys["/pager"] or "") and keys["/pager"] != keys["/ops"],
          f"dedup keys: body {b.get('dedup_key')}, headers {keys}")
    print(f"ok: {target} fails -> one firing on each route, sent by its first owner {owner_name}")

    # 3. Kill the sender, then T recovers: the new first owner resolves it once.
    victim = next(a for a in agents if a.name == owner_name)
    survivors = [a for a in agents if a is not victim]
    victim.proc.kill()
    victim.proc.wait(timeout=5)
    poll(f"every survivor to list {owner_name} dead",
         lambda: all(any(m["name"] == owner_name and m["state"] == "dead" for m in a.get_json("/v1/members"))
                     for a in survivors), 15)
    with LOCK:
        FAILING.discard(target)
    poll(f"a resolved for {target} on ops", lambda: len(received("/ops", target, "resolved")) >= 1, 10)
    time.sleep(1.5)
    resolved = received("/ops", target, "resolved")
    check(len(resolved) == 1 and resolved[0]["sender"] != owner_name, f"resolved for {target}: {resolved}")
    check(resolved[0]["dedup_key"] not in ("", b["dedup_key"]), f"the resolved's dedup key: {resolved[0]}")
    check(len(received("/ops", target, "firing")) == 1, f"a firing sent again: {received('/ops', target)}")
    check(len(received("/pager", target)) == 1, f"pager got more than the firing: {received('/pager', target)}")
    print(f"ok: SIGKILL {owner_name}, {target} recovers -> {resolved[0]['sender']} sends one resolved on ops, "
          "none on pager, no second firing")

    # 4. The receiver refuses two POSTs: U's firing is retried and delivered once.
    other = next(i for i in ids[4:] if i != target)
    sender_name = survivors[0].get_json(f"/v1/owners/{other}")["owners"][0]
    sender = next(a for a in survivors if a.name == sender_name)
    with LOCK:
        REFUSE_NEXT[0] = 2
        FAILING.add(other)
    poll(f"the firing for {other} delivered", lambda: len(received("/ops", other, "firing")) >= 1, 15)
    time.sleep(1.5)
    got = received("/ops", other, "firing")
    check(len(got) == 1 and got[0]["attempt"] == 3, f"{other}: {got}")
    with LOCK:
        refused = list(REFUSED_KEYS)
    check(refused == [got[0]["dedup_key"]] * 2, f"the refused attempts' keys {refused}, delivered {got[0]['dedup_key']}")
    alerts = sender.get_json("/v1/alerts")
    mine = [d for d in alerts["deliveries"] if d["target"] == other]
    check([d["delivered"] for d in reversed(mine)] == [False, False, True] and mine[-1]["error"] == "HTTP 503: busy",
          f"/v1/alerts deliveries for {other}: {mine}")
    check(alerts["counters"]["failed"] >= 2 and [r["name"] for r in alerts["routes"]] == ["ops", "pager"],
          f"/v1/alerts: {alerts}")
    status, _, metrics = sender.request("GET", "/metrics")
    text = metrics.decode() if isinstance(metrics, bytes) else metrics
    check('heck_alert_notifications_total{route="ops",kind="firing",result="failed"} 2' in text,
          "heck_alert_notifications_total in /metrics")
    print(f"ok: two refusals -> {other}'s firing retried with backoff, delivered at attempt 3; /v1/alerts and "
          "/metrics show it")
    # The client commands show the same.
    r = run_heck(heck, "alerts", "--api", sender.api)
    check(r.returncode == 0 and "route ops (config): json to" in r.stdout and "route pager (config): slack to" in r.stdout
          and re.search(rf"ops\s+{other}\s+firing\s+3\s+delivered", r.stdout)
          and re.search(rf"ops\s+{other}\s+firing\s+1\s+failed: HTTP 503: busy", r.stdout),
          f"heck alerts: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = run_heck(heck, "history", target, "--api", sender.api)
    check(r.returncode == 0 and r.stdout.startswith(f"{target} healthy\n") and "uptime 1 h " in r.stdout
          and re.search(r"healthy -> unhealthy", r.stdout) and re.search(r"unhealthy -> healthy", r.stdout),
          f"heck history: {r.returncode} {r.stdout!r} {r.stderr!r}")
    print(f"ok: heck alerts and heck history {target} show them")

    # 4b. A route written through the API at one agent (heck route): every
    # agent lists it, the first owner of a failing target sends on it once;
    # removed at another agent, nobody sends on it again.
    third = next(i for i in ids[4:] if i != other)
    third_owner = survivors[0].get_json(f"/v1/owners/{third}")["owners"][0]
    # Written, read and removed at agents other than the sender.
    writer, reader, remover = [a for a in survivors if a.name != third_owner][:3]
    r = run_heck(heck, "route", "api-hook", "--url", f"{hooks}/api", "--targets", third, "--api", writer.api,
                 "--token", TOKEN)
    check(r.returncode == 0 and r.stdout.startswith("added route api-hook (api): json to"),
          f"heck route (write): {r.returncode} {r.stdout!r} {r.stderr!r}")
    poll("every survivor to list the api-hook route",
         lambda: all([(x["name"], x["source"]) for x in a.get_json("/v1/alerts")["routes"]]
                     == [("ops", "config"), ("pager", "config"), ("api-hook", "api")] for a in survivors), 10)
    r = run_heck(heck, "route", "api-hook", "--api", reader.api)
    check(r.returncode == 0 and "api-hook (api): json to" in r.stdout and "1 target(s)" in r.stdout,
          f"heck route (read): {r.returncode} {r.stdout!r} {r.stderr!r}")
    with LOCK:
        FAILING.add(third)
    poll(f"a firing for {third} on the api-hook route", lambda: len(received("/api", third, "firing")) >= 1, 10)
    time.sleep(1.5)
    got = received("/api")
    check(len(got) == 1 and got[0]["target"] == third and got[0]["route"] == "api-hook"
          and got[0]["sender"] == third_owner, f"/api got: {got}")
    r = run_heck(heck, "route", "api-hook", "--remove", "--api", remover.api, "--token", TOKEN)
    check(r.returncode == 0 and r.stdout == "removed route api-hook\n",
          f"heck route --remove: {r.returncode} {r.stdout!r} {r.stderr!r}")
    poll("every survivor to drop the api-hook route",
         lambda: all(len(a.get_json("/v1/alerts")["routes"]) == 2 for a in survivors), 10)
    with LOCK:
        FAILING.discard(third)
    poll(f"the resolved for {third} on ops", lambda: len(received("/ops", third, "resolved")) >= 1, 10)
    time.sleep(1.5)
    check(len(received("/api")) == 1, f"/api after the route was removed: {received('/api')}")
    # A route of the config cannot be overwritten through the API.
    r = run_heck(heck, "route", "ops", "--url", f"{hooks}/x", "--api", writer.api, "--token", TOKEN)
    check(r.returncode == 1 and "defined in this agent's config file" in r.stderr,
          f"heck route ops: {r.returncode} {r.stdout!r} {r.stderr!r}")
    print(f"ok: a route written at {writer.name} reached every agent; {third_owner} sent {third}'s firing on it "
          f"once; removed at {remover.name}, no resolved went out on it")

    # 5. A bad route stops the start with a message naming it.
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"targets": [], "alerts": [{"name": "ops", "url": "tcp://127.0.0.1:1"}]}, f)
    r = subprocess.run([heck, "agent", "--config", bad, "--api", "127.0.0.1:0", "--bind", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "alerts[0].url: a webhook needs http:// or https://" in r.stderr,
          f"bad route: {r.returncode} {r.stderr!r}")
    print("ok: a route with a tcp:// url is refused at start, naming alerts[0].url")


if __name__ == "__main__":
    sys.exit(main())
