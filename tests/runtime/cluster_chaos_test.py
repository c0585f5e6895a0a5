#!/usr/bin/env python3
"""Chaos test on real processes (python3 standard library only).

Five `heck agent` processes on 127.0.0.1, each with its own --data-dir, one
shared --key and an --api-token, fast SWIM (probe every 500 ms, timeout
250 ms), checking ~100 targets (500 ms interval, 300 ms timeout, rise = fall
= 1) served by this test on 127.0.0.1, whose answers (200 or 503) it flips.

  1. start the cluster, register the targets through random agents' APIs,
     wait until every agent lists every target healthy;
  2. a seeded chaos phase (--duration, 45 s by default): SIGKILL and restart
     (same name, address and data dir), SIGSTOP/SIGCONT (at most two agents
     dead or stopped at once: a majority always runs), target flips, and on
     another thread PUT/DELETE of a pool of extra targets and counter adds
     (POST /v1/counters/{name}) through random running agents, each recorded
     as acknowledged (2xx) or not (an error reply or a timeout);
  3. just before the heal, one agent is dead (killed now if none is) and some
     of the targets it owned are flipped: its restart then meets its own
     pre-crash observations, which no longer match the truth (defect 1);
  4. heal: SIGCONT every stopped agent and restart every dead one; then
     every agent's status of every target must equal the truth (the server's
     current answer) within 5 s (the time is printed, and on a failure the
     test keeps watching to say when it did converge), with the same
     registry everywhere; no acknowledged target is lost, no acknowledged
     delete resurrected (an id with an unacknowledged op that could explain
     the difference is not judged, and is counted); every agent reads each
     counter within [acknowledged, acknowledged + unacknowledged] adds; every
     agent lists five members alive. Throughout, no agent the test did not
     kill may end: a crash fails at once, saying how the process ended.

Usage: cluster_chaos_test.py PATH_TO_HECK [--seed N] [--duration S] [--targets N]
The seed picks every fault, flip and operation (their timing is real, so a
seed replays the same schedule, not the same interleaving). Every failure
prints the seed and the command that reruns it. Every wait is bounded; with
the default 45 s the whole test takes about 60 s (a failing one at most about 100 s).
"""

import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import heck_proc  # noqa: E402
from heck_proc import (Deadline, QuietHandler, dump_logs, free_cluster_port, http_request, keygen,  # noqa: E402
                       serve_http, start_agent, stop_all, temp_dir)

TOKEN = "chaos-token-0123"
AGENTS = 5
MAX_DOWN = 2             # dead or stopped at once: 3 of 5 always run
DEFAULT_SEED = 1
DEFAULT_DURATION_S = 45.0
DEFAULT_TARGETS = 100
EXTRA_POOL = 30          # ids the op thread PUTs and DELETEs
COUNTERS = ["chaos-a", "chaos-b", "chaos-c"]
INTERVAL_MS, TIMEOUT_MS = 500, 300
SWIM_FLAGS = ["--probe-interval-ms", "500", "--probe-timeout-ms", "250", "--push-pull-interval-ms", "5000"]
CONVERGE_BOUND_S = 5.0   # heal -> every agent's statuses equal the truth
HOLD_S = 8.0             # ... and keep equal for this long (anti-entropy every 2 s, push-pull every 5 s)
WATCH_AFTER_FAIL_S = 35.0  # past the bound, keep watching this long to report when it converged
OP_TIMEOUT_S = 2.0
STOP_S = (0.5, 4.0)      # a SIGSTOP lasts this long (some longer than the suspicion timeout)
DEAD_S = (1.0, 6.0)      # a killed agent is restarted after this long
TICK_S = (0.2, 1.0)      # between two fault-loop actions

RUN = {"seed": DEFAULT_SEED, "duration": DEFAULT_DURATION_S, "targets": DEFAULT_TARGETS, "heck": "heck"}


def replay_line():
    return (f"seed {RUN['seed']}; rerun: python3 {os.path.abspath(__file__)} {RUN['heck']} --seed {RUN['seed']} "
            f"--duration {RUN['duration']:g} --targets {RUN['targets']}")


def fail(msg):
    """Every failure names the seed and the command that reruns it."""
    full = f"{msg} [{replay_line()}]"
    print(f"FAIL: {full}", file=sys.stderr)
    raise AssertionError(full)


def check(cond, msg):
    if not cond:
        fail(msg)


# ---- the targets: GET /t/<id> -> 200, or 503 while <id> is failing -----------

class Truth:
    """What the server answers now, per target id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failing = set()

    def flip(self, tid):
        with self.lock:
            self.failing ^= {tid}

    def status(self, tid):
        with self.lock:
            return "unhealthy" if tid in self.failing else "healthy"


TRUTH = Truth()


class Targets(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        bad = TRUTH.status(self.path.rsplit("/", 1)[-1]) == "unhealthy"
        try:
            self.reply(503 if bad else 200, b"failing\n" if bad else b"ok\n", close=True)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the checking agent was killed, or gave up (timeout)


# ---- the agents ---------------------------------------------------------------

class Slot:
    """One member: its name, fixed cluster port and data dir, and its current process."""

    def __init__(self, name, port, data_dir):
        self.name = name
        self.port = port
        self.data_dir = data_dir
        self.proc = None
        self.state = "dead"  # up | stopped | dead
        self.until = 0.0     # when a stopped agent is resumed, a dead one restarted
        self.procs = []      # every process this slot ran (for the logs)


class Cluster:
    def __init__(self, heck, key, tmp, deadline):
        self.heck = heck
        self.key = key
        self.deadline = deadline
        self.lock = threading.Lock()
        self.slots = [Slot(f"c{i}", free_cluster_port(), os.path.join(tmp, f"c{i}")) for i in range(AGENTS)]
        self.faults = {"kill": 0, "restart": 0, "stop": 0, "cont": 0, "flip": 0}

    def address(self, slot):
        return f"127.0.0.1:{slot.port}"

    def start(self, slot, join):
        proc = start_agent(self.heck, slot.name, bind=self.address(slot), join=join, key=self.key,
                           data_dir=slot.data_dir, extra=["--api-token", TOKEN, "--min-api-interval-ms", str(INTERVAL_MS)] + SWIM_FLAGS, token=TOKEN,
                           deadline=self.deadline)
        with self.lock:
            slot.proc = proc
            slot.procs.append(proc)
            slot.state = "up"

    def restart(self, slot):
        self.start(slot, [self.address(s) for s in self.slots if s is not slot])
        self.faults["restart"] += 1

    def kill(self, slot):
        with self.lock:
            slot.state = "dead"
        slot.proc.kill()
        self.faults["kill"] += 1

    def pause(self, slot):
        with self.lock:
            slot.state = "stopped"
        slot.proc.proc.send_signal(signal.SIGSTOP)
        self.faults["stop"] += 1

    def resume(self, slot):
        slot.proc.proc.send_signal(signal.SIGCONT)
        with self.lock:
            slot.state = "up"
        self.faults["cont"] += 1

    def up(self):
        with self.lock:
            return [s for s in self.slots if s.state == "up"]

    def check_none_crashed(self):
        """Fails when a process the test did not kill has ended (the daemon
        must survive whatever the chaos does); its status says how."""
        with self.lock:
            gone = [(s.name, heck_proc.exit_status(s.proc)) for s in self.slots
                    if s.state in ("up", "stopped") and s.proc.proc.poll() is not None]
        check(not gone, f"agents ended that the test did not kill: {gone}")

    def stopped(self):
        with self.lock:
            return [s for s in self.slots if s.state == "stopped"]

    def down_count(self):
        with self.lock:
            return sum(s.state != "up" for s in self.slots)

    def all_procs(self):
        return [p for s in self.slots for p in s.procs]


def spec(base, tid):
    return {"url": f"{base}/t/{tid}", "interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS, "rise": 1, "fall": 1}


# ---- the operations thread -----------------------------------------------------

class Ops:
    """PUT/DELETE of the extra targets and counter adds through random running agents."""

    def __init__(self, cluster, base, rng):
        self.cluster = cluster
        self.base = base
        self.rng = rng
        self.log = []  # (kind, id or counter, delta, outcome, agent, code)
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.one()
                time.sleep(self.rng.uniform(0.02, 0.1))
        except BaseException as e:  # reported by the main thread
            self.error = e

    def one(self):
        rng = self.rng
        # Mostly a running agent; sometimes a stopped one (a client cannot
        # tell): it times out, and the agent applies it when resumed.
        up, stopped = self.cluster.up(), self.cluster.stopped()
        slot = rng.choice(stopped if stopped and rng.random() < 0.1 else up)
        r = rng.random()
        if r < 0.4:
            tid = f"x{rng.randrange(EXTRA_POOL):02}"
            kind, method, path, body, delta = "put", "PUT", f"/v1/targets/{tid}", spec(self.base, tid), 0
        elif r < 0.65:
            tid = f"x{rng.randrange(EXTRA_POOL):02}"
            kind, method, path, body, delta = "delete", "DELETE", f"/v1/targets/{tid}", None, 0
        else:
            tid = rng.choice(COUNTERS)
            delta = rng.randint(1, 5)
            kind, method, path, body = "add", "POST", f"/v1/counters/{tid}", {"delta": delta}
        api = slot.proc.api
        try:
            reply = http_request(method, f"http://{api}{path}", body, TOKEN, timeout=OP_TIMEOUT_S)
            code = reply.status
            if 200 <= code < 300:
                outcome = "acked"
            elif kind == "delete" and code == 404:
                outcome = "absent"  # nothing registered there: nothing written
            else:
                outcome = "error"
        except (OSError, http.client.HTTPException) as e:
            code, outcome = type(e).__name__, "timeout"
        self.log.append((kind, tid, delta, outcome, slot.name, code))

    def counts(self):
        out = {}
        for kind, _, _, outcome, _, _ in self.log:
            out.setdefault(kind, {}).setdefault(outcome, 0)
            out[kind][outcome] += 1
        return out


# ---- the run -------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("heck")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="chaos phase, seconds")
    ap.add_argument("--targets", type=int, default=DEFAULT_TARGETS)
    a = ap.parse_args()
    RUN.update(seed=a.seed, duration=a.duration, targets=a.targets, heck=a.heck)
    print(f"chaos: {replay_line()}")
    deadline = Deadline(a.duration + 75, fail=fail)
    began = time.monotonic()
    server = serve_http(Targets, backlog=True)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with temp_dir("heck-chaos-") as tmp:
        cluster = Cluster(a.heck, keygen(a.heck), tmp, deadline)
        try:
            run(cluster, base, deadline, a)
        except BaseException:
            dump_logs(cluster.all_procs(), last_lines=30)
            print(f"FAILED: {replay_line()}", file=sys.stderr)
            raise
        finally:
            for s in cluster.slots:
                if s.proc and s.state == "stopped":
                    s.proc.proc.send_signal(signal.SIGCONT)
            stop_all(cluster.all_procs())
            server.shutdown()
    print(f"PASS ({time.monotonic() - began:.1f} s, seed {a.seed})")
    return 0


def run(cluster, base, deadline, a):
    poll = deadline.poll
    rng = random.Random(a.seed)
    slots = cluster.slots
    cluster.start(slots[0], [])
    for s in slots[1:]:
        cluster.start(s, [cluster.address(slots[0])])
    names = sorted(s.name for s in slots)
    poll("five agents to list five members alive",
         lambda: all(sorted(m["name"] for m in s.proc.get_json("/v1/members") if m["state"] == "alive") == names
                     for s in slots), 15)

    # 1. Register the targets through random agents.
    base_ids = [f"t{i:03}" for i in range(a.targets)]
    for tid in base_ids:
        s = rng.choice(slots)
        r = s.proc.request("PUT", f"/v1/targets/{tid}", spec(base, tid))
        check(r.status == 201, f"{s.name}: PUT {tid}: {r.status} {r.text}")
    poll(f"every agent to list all {a.targets} targets healthy",
         lambda: all(len(v := s.proc.targets()) == a.targets and all(e["status"] == "healthy" for e in v.values())
                     for s in slots), 20, interval_s=0.2)
    print(f"ok: five agents, {a.targets} targets registered through random agents, healthy everywhere")

    # 2. Chaos.
    ops = Ops(cluster, base, random.Random(a.seed * 7919 + 1))
    op_thread = threading.Thread(target=ops.run, daemon=True)
    op_thread.start()
    flippable = base_ids + [f"x{i:02}" for i in range(EXTRA_POOL)]
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        now = time.monotonic()
        for s in slots:
            if s.state == "stopped" and now >= s.until:
                cluster.resume(s)
            elif s.state == "dead" and now >= s.until:
                cluster.restart(s)
        cluster.check_none_crashed()
        r = rng.random()
        up = cluster.up()
        if r < 0.12 and cluster.down_count() < MAX_DOWN:
            victim = rng.choice(up)
            cluster.kill(victim)
            victim.until = time.monotonic() + rng.uniform(*DEAD_S)
        elif r < 0.24 and cluster.down_count() < MAX_DOWN:
            victim = rng.choice(up)
            cluster.pause(victim)
            victim.until = time.monotonic() + rng.uniform(*STOP_S)
        else:
            for tid in rng.sample(flippable, rng.randint(1, 6)):
                TRUTH.flip(tid)
                cluster.faults["flip"] += 1
        if ops.error:
            raise ops.error
        time.sleep(rng.uniform(*TICK_S))
    ops.stop.set()
    op_thread.join(timeout=OP_TIMEOUT_S + 5)
    check(not op_thread.is_alive(), "the operations thread did not stop")
    if ops.error:
        raise ops.error
    print(f"ok: chaos for {a.duration:g} s: faults {cluster.faults}; operations {ops.counts()}")

    # 3. Defect 1's path: an owner killed while its observations are live,
    # some of them made wrong by flips, and restarted by the heal before any
    # standby has taken over: its fresh results must win over its own
    # pre-crash observations. (A stopped agent is resumed first, and a dead
    # one restarted if two are, so the victim leaves a majority running.)
    for s in slots:
        if s.state == "stopped":
            cluster.resume(s)
    dead = [s for s in slots if s.state == "dead"]
    if len(dead) >= MAX_DOWN:
        cluster.restart(dead[0])
    time.sleep(1.0)  # a just restarted agent checks its targets
    cluster.check_none_crashed()
    view = rng.choice(cluster.up()).proc.targets()
    observed = {s.name: sorted(tid for tid, e in view.items() if e["owners"] == [s.name] and
                               e["last_observer"] == s.name and e["status"] == TRUTH.status(tid))
                for s in cluster.up()}
    most = max(len(v) for v in observed.values())
    victim = rng.choice([s for s in cluster.up() if len(observed[s.name]) >= min(5, most)])
    witness = rng.choice([s for s in cluster.up() if s is not victim])
    observed = observed[victim.name]
    cluster.kill(victim)
    flipped = rng.sample(observed, min(5, len(observed)))
    for tid in flipped:
        TRUTH.flip(tid)
    time.sleep(rng.uniform(0.1, 0.4))  # less than a probe period: no standby checks them yet
    print(f"ok: before the heal {', '.join(s.name for s in slots if s.state == 'dead')} dead; {victim.name} killed "
          f"with its observations live and {len(flipped)} of them made wrong: {flipped}")

    # 4. Heal.
    heal_started = time.monotonic()
    for s in slots:
        if s.state == "dead":
            cluster.restart(s)
    healed = time.monotonic()
    print(f"ok: healed in {healed - heal_started:.2f} s (every dead agent restarted; none stopped)")

    def mismatches():
        views = {s.name: s.proc.targets() for s in slots}
        ids = set(views[slots[0].name])
        out = []
        for name, view in views.items():
            if set(view) != ids:
                out.append(f"{name} lists {len(view)} targets, {slots[0].name} {len(ids)}: "
                           f"differ in {sorted(set(view) ^ ids)[:10]}")
            for tid, e in sorted(view.items()):
                want = TRUTH.status(tid)
                if e["status"] != want:
                    sib = [(x["observer"], x["status"], x["observed_at"]) for x in e["siblings"]]
                    out.append(f"{name}: {tid} {e['status']} (truth {want}; owners {e['owners']}, last observer "
                               f"{e['last_observer']}, age {e['age_ms']} ms, checked here {e['checked_here']}, "
                               f"siblings {sib})")
        return out, views

    # Converged = every poll from then on, for HOLD_S, finds every status
    # right: a right answer that a late sibling overturns (defect 1) does not count.
    # Defect 1's signature, per flipped target: when the restarted owner's
    # own check (its "local" state) was first right, when every agent's view
    # was first right, and in between how many polls found the owner's own
    # view wrong while its own check was right (its fresh result losing).
    own = {tid: {"local_right": None, "all_right": None, "own_view_wrong": 0} for tid in flipped}

    def track_flipped(t, views):
        for tid, rec in own.items():
            want = TRUTH.status(tid)
            e = views.get(victim.name, {}).get(tid)
            local_right = bool(e and e["local"] and e["local"]["status"] == want)
            if local_right and rec["local_right"] is None:
                rec["local_right"] = t
            if local_right and e["status"] != want:
                rec["own_view_wrong"] += 1
            if rec["all_right"] is None and all(v.get(tid, {}).get("status") == want for v in views.values()):
                rec["all_right"] = t

    stable_since = None  # seconds after the heal: the first poll of the current right streak
    broken = []          # (seconds after the heal, mismatches) of the polls that broke a streak
    last_bad = (None, [])
    views = None
    while time.monotonic() < healed + CONVERGE_BOUND_S + WATCH_AFTER_FAIL_S:
        try:
            bad, views = mismatches()
        except heck_proc.RETRY_ERRORS as e:
            bad, views = [f"a GET /v1/targets failed: {e!r}"], None
        t = time.monotonic() - healed
        if views:
            track_flipped(t, views)
        if bad:
            if stable_since is not None:
                broken.append((t, bad))
            stable_since = None
            last_bad = (t, bad)
        else:
            if stable_since is None:
                stable_since = t
            if t - stable_since >= HOLD_S:
                break
        time.sleep(0.1)
    took = stable_since if stable_since is not None and views is not None else None
    for t, bad in broken[:3]:
        print(f"note: right everywhere, then wrong again {t:.2f} s after the heal: {bad[:3]}", file=sys.stderr)
    if took is None or took > CONVERGE_BOUND_S:
        t, shown = last_bad
        for line in shown[:25]:
            print(f"  {t:.2f} s after the heal: {line}", file=sys.stderr)
        names_bad = sorted({line.split(": ")[1].split()[0] for line in shown if " (truth " in line})
        if names_bad:
            for p in cluster.all_procs():
                for line in p.matching(r"target (" + "|".join(names_bad[:5]) + r") "):
                    print(f"  {p.name}: {line}", file=sys.stderr)
        when = (f"right from {took:.2f} s after the heal on (for {HOLD_S:g} s)" if took is not None else
                f"not right for {HOLD_S:g} s in a row within {CONVERGE_BOUND_S + WATCH_AFTER_FAIL_S:g} s")
        fail(f"statuses did not equal the truth within {CONVERGE_BOUND_S:g} s of the heal: {when}; last wrong "
             f"{t:.2f} s after the heal with {len(shown)} mismatches (first above); {len(broken)} right streaks "
             f"broken")
    print(f"ok: every agent's statuses equal the truth {took:.2f} s after the heal and for {HOLD_S:g} s after "
          f"({len(views[slots[0].name])} targets, {sum(TRUTH.status(t) == 'unhealthy' for t in views[slots[0].name])} "
          f"unhealthy; {len(broken)} right streaks broken before)")

    fmt_t = lambda x: "never" if x is None else f"{x:.2f} s"
    print(f"defect 1 path ({victim.name} restarted with {len(flipped)} of its pre-crash observations wrong): " +
          "; ".join(f"{tid}: own check right {fmt_t(r['local_right'])}, every agent right {fmt_t(r['all_right'])}, "
                    f"{r['own_view_wrong']} polls with its own check right but its view wrong"
                    for tid, r in own.items()))
    for p in victim.procs[-1:] + [witness.proc]:
        for line in p.matching(r"target (" + "|".join(flipped) + r") ")[-3 * len(flipped):] if flipped else []:
            print(f"  {p.name}: {line}")

    # Registry: every base target; the extra ones as the acknowledged ops say.
    registry = set(views[slots[0].name])
    lost = sorted(set(base_ids) - registry)
    check(not lost, f"acknowledged targets lost: {lost}")
    judged = ambiguous = 0
    for i in range(EXTRA_POOL):
        tid = f"x{i:02}"
        mine = [(k, o) for k, t, _, o, _, _ in ops.log if t == tid and k in ("put", "delete")]
        acked = [k for k, o in mine if o == "acked"]
        maybe_put = any(k == "put" and o in ("error", "timeout") for k, o in mine)
        maybe_delete = any(k == "delete" and o in ("error", "timeout") for k, o in mine)
        if not acked:
            continue
        history = [f"{k}:{o}" for k, o in mine]
        if acked[-1] == "put":
            if maybe_delete:
                ambiguous += 1
                continue
            judged += 1
            check(tid in registry, f"acknowledged target {tid} lost (its operations, in order: {history})")
        else:
            if maybe_put:
                ambiguous += 1
                continue
            judged += 1
            check(tid not in registry, f"acknowledged delete of {tid} resurrected (its operations: {history})")
    print(f"ok: no acknowledged target lost ({len(base_ids)} registered before the chaos, {judged} extra ids judged, "
          f"{ambiguous} left unjudged: an unacknowledged op could explain either answer)")

    # Counters: within [acknowledged, acknowledged + unacknowledged] everywhere, and equal.
    bounds = {}
    for name in COUNTERS:
        acked = sum(d for k, t, d, o, _, _ in ops.log if k == "add" and t == name and o == "acked")
        maybe = sum(d for k, t, d, o, _, _ in ops.log if k == "add" and t == name and o != "acked")
        bounds[name] = (acked, acked + maybe)

    def counters_agree():
        values = {n: {s.name: s.proc.get_json(f"/v1/counters/{n}")["value"] for s in slots} for n in COUNTERS}
        return values if all(len(set(v.values())) == 1 for v in values.values()) else None
    values = poll("every agent to read the same counter values", counters_agree, CONVERGE_BOUND_S)
    for name, (lo, hi) in bounds.items():
        v = values[name][slots[0].name]
        check(lo <= v <= hi, f"counter {name} = {v}, outside [acknowledged {lo}, acknowledged + unacknowledged {hi}]")
    print("ok: counters within [acknowledged, acknowledged + unacknowledged]: " +
          ", ".join(f"{n} {values[n][slots[0].name]} in [{lo}, {hi}]" for n, (lo, hi) in bounds.items()))

    poll("every agent to list five members alive",
         lambda: all(sorted(m["name"] for m in s.proc.get_json("/v1/members") if m["state"] == "alive") == names
                     for s in slots), 10, interval_s=0.2)
    print("ok: every agent lists five members alive")
    cluster.check_none_crashed()
    print(f"summary: seed {a.seed}, chaos {a.duration:g} s, converged {took:.2f} s after the heal; faults "
          f"{cluster.faults}; operations {json.dumps(ops.counts(), sort_keys=True)}")


if __name__ == "__main__":
    sys.exit(main())
