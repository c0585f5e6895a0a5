#!/usr/bin/env python3
"""Multi-process test of idempotent writes and the likes service (python3 stdlib only).

Five `heck agent` processes on 127.0.0.1, each with a data dir, one shared
key and a bearer token:

  1. the same like (PUT /v1/sets/post-1/user-1) with the same Idempotency-Key
     is sent to n2, which is SIGKILLed right after it answered, then to n3:
     n3 answers with the first answer (Idempotent-Replayed: true, the same
     status and body) and the like counts once on every survivor. The same
     for a counter add (POST /v1/counters/...), which would count twice
     without the record. n2 restarts from its data dir, rejoins, and holds
     the like and the record (a replay to it is a replay too);
  2. 1,000 likes from 100 users to 10 posts through random agents, from 4
     client threads, each retried with its key through a random agent in
     about a third of the cases (some of them concurrently with the first
     try); 300 keyed counter adds, each retried 1-2 times through random
     agents after its answer: every agent lists exactly the distinct
     (user, post) pairs for every post and the counter equals 300;
  3. bad input: an oversized set name or member, a malformed Idempotency-Key
     (a space, too long, empty, sent twice), a key reused for another
     request: each a 400 (422 for the reuse) naming what is wrong, and
     nothing changed or lost;
  4. `heck set` adds, lists and removes; `heck counter --add --request-id`
     twice adds once; every agent holds one record per applied key
     (heck_idempotency_records).

Usage: likes_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 90 s.
"""

import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, args_or_usage, check, dump_logs, keygen, run_heck, start_agent,  # noqa: E402
                       stop_all, swim_flags, temp_dir)

DEADLINE = Deadline(150)  # the whole test
poll = DEADLINE.poll
TOKEN = "likes-token-7"
SWIM_FLAGS = swim_flags(leave_timeout_ms=300)
USERS, POSTS, LIKES, CLIENTS = 100, 10, 1000, 4
COUNTER_ADDS = 300


def start(heck, name, join, key, data_dir):
    return start_agent(heck, name, join=join, key=key, data_dir=data_dir,
                       extra=["--api-token", TOKEN] + SWIM_FLAGS, token=TOKEN, deadline=DEADLINE)


def keyed(agent, method, path, key, body=None):
    return agent.request(method, path, body, headers={"Idempotency-Key": key}, timeout=5.0)


def replayed(reply):
    return {k.lower(): v for k, v in reply.headers.items()}.get("idempotent-replayed") == "true"


def first_answer(reply):
    """The body without what describes one delivery (durability)."""
    body = reply.json()
    for k in ("durable", "durable_error", "replicated_to"):
        body.pop(k, None)
    return body


def set_members(agent, post):
    out, after = [], None
    for _ in range(100):
        q = f"/v1/sets/{post}?limit=37" + (f"&after={after}" if after else "")
        page = agent.get_json(q)
        out += page["members"]
        if page["next"] is None:
            check(len(out) == page["count"], f"{agent.name}: {post}: paged {len(out)} of count {page['count']}")
            return out
        after = page["next"]
    raise AssertionError("too many pages")


def main():
    [heck] = args_or_usage(__doc__)
    key = keygen(heck)
    agents = []
    with temp_dir("heck-likes-") as tmp:
        try:
            dirs = {f"n{i}": os.path.join(tmp, f"n{i}") for i in range(1, 6)}
            seed = start(heck, "n1", [], key, dirs["n1"])
            agents.append(seed)
            for i in range(2, 6):
                agents.append(start(heck, f"n{i}", [seed.cluster], key, dirs[f"n{i}"]))
            run(heck, agents, key, dirs)
        except BaseException:
            dump_logs(agents, last_lines=40)
            raise
        finally:
            stop_all(agents)
    print("PASS")
    return 0


def live(agents):
    return [a for a in agents if a.proc.poll() is None]


def run(heck, agents, key, dirs):
    names = sorted(a.name for a in agents)
    poll("all five agents to list five members alive",
         lambda: all(sorted(m["name"] for m in a.get_json("/v1/members") if m["state"] == "alive") == names
                     for a in agents), 20)
    print("ok: five agents joined")
    n1, n2, n3, n4, n5 = agents

    # 1. One like, one key, two agents; the first one dies right after answering.
    first = keyed(n2, "PUT", "/v1/sets/post-1/user-1", "like-user-1-post-1")
    check(first.status == 201 and not replayed(first), f"first like: {first.status} {first.text}")
    check(first.json()["added"] is True and first.json()["count"] == 1, f"first like: {first.text}")
    check(first.json()["replicated_to"] >= 4, f"first like reached {first.json()['replicated_to']} peers")
    add = keyed(n2, "POST", "/v1/counters/likes-total", "add-once-1", {"delta": 1})
    check(add.status == 200 and add.json()["value"] == 1, f"first add: {add.status} {add.text}")
    n2.kill()
    again = keyed(n3, "PUT", "/v1/sets/post-1/user-1", "like-user-1-post-1")
    check(again.status == 201 and replayed(again), f"retry to n3: {again.status} {again.headers} {again.text}")
    check(again.json() == first_answer(first), f"retry to n3: {again.text} != first {first.text}")
    add_again = keyed(n3, "POST", "/v1/counters/likes-total", "add-once-1", {"delta": 1})
    check(add_again.status == 200 and replayed(add_again) and add_again.json()["value"] == 1,
          f"counter retry to n3: {add_again.status} {add_again.text}")
    # A retry without the key is a new write: the like still counts once (a set),
    # the add counts again (nothing makes it idempotent).
    plain = n4.request("PUT", "/v1/sets/post-1/user-1")
    check(plain.status == 200 and plain.json()["added"] is False, f"unkeyed like: {plain.status} {plain.text}")
    for a in live(agents):
        check(a.get_json("/v1/sets/post-1")["count"] == 1, f"{a.name}: post-1 count")
        check(a.get_json("/v1/counters/likes-total")["value"] == 1, f"{a.name}: counter after the retry")
    print("ok: a like sent to two agents with one key (the first killed after answering) counts once")

    # n2 restarts from its data dir: the like and the record are there.
    n2r = start(heck, "n2", [n1.cluster], key, dirs["n2"])
    agents[1] = n2r
    poll("n2 to rejoin", lambda: sum(1 for m in n1.get_json("/v1/members") if m["state"] == "alive") == 5, 20)
    check(n2r.get_json("/v1/sets/post-1")["members"] == ["user-1"], "n2 after restart: post-1")
    again2 = keyed(n2r, "POST", "/v1/counters/likes-total", "add-once-1", {"delta": 1})
    check(replayed(again2) and again2.json()["value"] == 1, f"replay to restarted n2: {again2.text}")
    print("ok: the restarted agent holds the like and replays the key")

    # 2. Load: 1,000 likes from 100 users through random agents, with retries.
    rng = random.Random(15)
    likes = [(f"user-{rng.randrange(USERS)}", f"post-{rng.randrange(POSTS)}") for _ in range(LIKES)]
    distinct = {}
    for u, p in likes + [("user-1", "post-1")]:
        distinct.setdefault(p, set()).add(u)
    stats = {"sent": 0, "retries": 0, "replays": 0, "errors": []}
    lock = threading.Lock()

    def client(idx):
        crng = random.Random(1000 + idx)
        for n in range(idx, LIKES, CLIENTS):
            u, p = likes[n]
            k = f"like-{n}"
            targets = [crng.choice(live(agents))]
            retry = crng.random() < 0.35
            concurrent = retry and crng.random() < 0.3
            if retry:
                targets.append(crng.choice(live(agents)))
            answers = []
            if concurrent:
                # The first try and the retry at once (the window the README names).
                out = [None, None]
                ts = [threading.Thread(target=lambda i=i, a=a: out.__setitem__(i, keyed(a, "PUT", f"/v1/sets/{p}/{u}", k)))
                      for i, a in enumerate(targets)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                answers = out
            else:
                for i, a in enumerate(targets):
                    if i:
                        time.sleep(0.02)
                    answers.append(keyed(a, "PUT", f"/v1/sets/{p}/{u}", k))
            with lock:
                stats["sent"] += 1
                stats["retries"] += len(targets) - 1
                for i, r in enumerate(answers):
                    if r is None or r.status not in (200, 201):
                        stats["errors"].append(f"{k}: {r and r.status} {r and r.text}")
                    elif i and not concurrent and replayed(r):
                        stats["replays"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, DEADLINE.at - time.monotonic()))
    check(not any(t.is_alive() for t in threads), "the like clients did not finish")
    check(not stats["errors"], f"like errors: {stats['errors'][:5]}")
    sequential_retries = stats["retries"]  # an upper bound; concurrent ones are not counted as replays
    print(f"ok: {stats['sent']} likes, {stats['retries']} retries ({stats['replays']} replayed) "
          f"in {time.monotonic() - t0:.1f} s")
    check(stats["replays"] > 0 and stats["replays"] <= sequential_retries, f"replays: {stats}")

    counter_replays = 0
    for n in range(COUNTER_ADDS):
        k = f"count-{n}"
        a = rng.choice(live(agents))
        r = keyed(a, "POST", "/v1/counters/load", k, {"delta": 1})
        check(r.status == 200 and not replayed(r), f"add {k}: {r.status} {r.text}")
        for _ in range(rng.randrange(1, 3)):
            time.sleep(0.01)
            b = rng.choice(live(agents))
            rr = keyed(b, "POST", "/v1/counters/load", k, {"delta": 1})
            check(rr.status == 200 and replayed(rr), f"retry of {k} to {b.name}: {rr.status} {rr.headers} {rr.text}")
            check(rr.json() == first_answer(r), f"retry of {k}: {rr.text} != {r.text}")
            counter_replays += 1

    def converged():
        for a in live(agents):
            if a.get_json("/v1/counters/load")["value"] != COUNTER_ADDS:
                return False
            for p in sorted(distinct):
                if a.get_json(f"/v1/sets/{p}?limit=1")["count"] != len(distinct[p]):
                    return False
        return True

    poll("every agent to hold exactly the distinct likes and the counter", converged, 20, interval_s=0.3)
    for a in live(agents):
        for p in sorted(distinct):
            check(sorted(set_members(a, p)) == sorted(distinct[p]), f"{a.name}: {p} members")
    total = sum(len(v) for v in distinct.values())
    print(f"ok: every agent lists exactly {total} distinct (user, post) pairs; counter {COUNTER_ADDS} "
          f"after {counter_replays} replayed retries")

    # 3. Bad input: each a clear 400, nothing lost.
    before = {p: n1.get_json(f"/v1/sets/{p}?limit=1")["count"] for p in sorted(distinct)}
    bad = [
        ("PUT", f"/v1/sets/{'p' * 65}/user-1", {}, "set name of 65 characters, more than 64"),
        ("PUT", f"/v1/sets/post-1/{'u' * 129}", {}, "member of 129 characters, more than 128"),
        ("PUT", "/v1/sets/post-1/us%20er", {}, "invalid member"),
        ("GET", f"/v1/sets/{'p' * 65}", {}, "set name of 65 characters"),
        ("PUT", "/v1/sets/post-1/user-999", {"Idempotency-Key": "has space"}, "Idempotency-Key: must be"),
        ("PUT", "/v1/sets/post-1/user-999", {"Idempotency-Key": "k" * 129}, "Idempotency-Key: must be"),
        ("PUT", "/v1/sets/post-1/user-999", {"Idempotency-Key": ""}, "Idempotency-Key: must be"),
        ("POST", "/v1/counters/load", {"Idempotency-Key": "k\u00e9"}, "Idempotency-Key: must be"),
    ]
    for method, path, headers, want in bad:
        r = n3.request(method, path, {} if method == "POST" else None, headers=headers)
        check(r.status == 400 and want in r.json().get("error", ""), f"{method} {path} {headers}: {r.status} {r.text}")
    # The same header twice.
    conn = http.client.HTTPConnection("127.0.0.1", n3.api_port, timeout=3)
    conn.putrequest("PUT", "/v1/sets/post-1/user-999")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Idempotency-Key", "a1")
    conn.putheader("Idempotency-Key", "a2")
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    resp = conn.getresponse()
    twice = resp.read().decode()
    conn.close()
    check(resp.status == 400 and "Idempotency-Key" in twice, f"two keys: {resp.status} {twice}")
    # A key reused for another request: 422, and the first answer stays.
    reuse = keyed(n4, "PUT", "/v1/sets/post-2/user-5000", "like-0")
    check(reuse.status == 422 and "different request" in reuse.json()["error"], f"reuse: {reuse.status} {reuse.text}")
    check(n4.get_json("/v1/sets/post-2/user-5000")["present"] is False, "the refused reuse wrote nothing")
    after = {p: n1.get_json(f"/v1/sets/{p}?limit=1")["count"] for p in sorted(distinct)}
    check(after == before, f"bad input changed the sets: {before} -> {after}")
    check(n5.get_json("/v1/counters/load")["value"] == COUNTER_ADDS, "bad input changed the counter")
    print("ok: oversized names, malformed keys and a reused key are refused with 400/422; nothing lost")

    # 4. The CLI.
    def cli(*args):
        r = run_heck(heck, *args, "--api", n5.api, "--token", TOKEN)
        check(r.returncode == 0, f"heck {' '.join(args)}: {r.returncode} {r.stdout!r} {r.stderr!r}")
        return r.stdout

    out = cli("set", "post-cli", "--add", "user-3")
    check(out == "added user-3 post-cli (1 members)\n", f"heck set --add: {out!r}")
    out = cli("set", "post-cli", "--add", "user-3")
    check(out == "already in user-3 post-cli (1 members)\n", f"heck set --add again: {out!r}")
    cli("set", "post-cli", "--add", "user-4")
    out = cli("set", "post-cli")
    check(out == "2 members\nuser-3\nuser-4\n", f"heck set: {out!r}")
    out = cli("set", "post-cli", "--remove", "user-3")
    check(out == "removed user-3 post-cli (1 members)\n", f"heck set --remove: {out!r}")
    out = json.loads(cli("set", "post-cli", "--json"))
    check(out["members"] == ["user-4"] and out["count"] == 1, f"heck set --json: {out}")
    for _ in range(2):
        out = cli("counter", "cli-once", "--add", "5", "--request-id", "cli-req-1")
        check(out == "cli-once 5\n", f"heck counter --request-id: {out!r}")
    poll("cli-once to be 5 on n1", lambda: n1.get_json("/v1/counters/cli-once")["value"] == 5, 5)
    r = run_heck(heck, "set", "p" * 65, "--api", n5.api)
    check(r.returncode == 2 and "set name" in r.stderr, f"heck set with a long name: {r.returncode} {r.stderr!r}")
    print("ok: heck set adds, lists and removes; heck counter --request-id twice adds once")

    # Every applied key is one record on every agent (GET /metrics).
    records = 2 + LIKES + COUNTER_ADDS + 5  # phase 1, the likes, the adds, five CLI writes

    def metric(a, name):
        text = a.request("GET", "/metrics").text
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[1])

    poll(f"every agent to hold {records} idempotency records",
         lambda: all(metric(a, "heck_idempotency_records") == records for a in live(agents)), 10, interval_s=0.3)
    print(f"ok: every agent holds the {records} idempotency records")


if __name__ == "__main__":
    sys.exit(main())
