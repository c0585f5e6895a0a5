#!/usr/bin/env python3
"""Gossip store vs etcd store: one table, same machine, same run.

  tools/bench/store_bench.py [--heck build/heck] [--agents 5] [--targets 30] [--interval-ms 1000]
                             [--quick] [--stores gossip,etcd] [--no-etcd-relay] [--sim-seeds 5]

For each store in turn (gossip first, then etcd) the script starts N `heck
agent` processes on 127.0.0.1 (SWIM with the agent defaults), joined through
n1. gossip: each agent has a --data-dir (the replicated store, fsync'ed).
etcd: a 3-member etcd cluster (Debian's etcd-server, tests/support/
etcd_cluster.py) in a temporary directory, every agent with --store etcd.
The targets are served by a small HTTP server in this script: one path per
target, answering 200 or, once flipped, 503. Every target is registered
with rise = fall = 1, so one check shows a flip. Then, per store:

 1. Write latency: every target PUT through the agents in turn, one at a
    time (creates), then PUT again with another timeout_ms (updates); the
    time to each answer, p50/p99 over both.
 2. Steady window (--measure-s, nothing else happening): per agent, the
    bytes and messages per second of its cluster traffic (SWIM + replication:
    heck_cluster_transport_bytes_total / _packets_total on /metrics, in + out)
    and of its HTTP traffic to etcd (see below), and its CPU (utime + stime
    from /proc/PID/stat over the window; % of one core). The etcd members'
    CPU is reported too: it is part of what the etcd store costs.
 3. Flips (--flip-s): every --flip-gap-s one more target is switched (healthy
    <-> failing; a target is not switched again before every agent reported
    its last flip). Every agent's GET /v1/targets is polled in a loop; for
    each flip, the time from the switch to the first and to the last agent
    reporting the new status (the poll's answer time). p50/p99 of "every
    agent" and of the spread "first -> last agent" (the propagation alone;
    the flip -> first part is mostly waiting for the next check).
 4. Outage, held --outage-s:
      etcd:   2 of the 3 etcd members SIGKILLed (the survivor is a minority);
      gossip: 2 of the N agents SIGSTOPped -- a stand-in for partitioning
              them away (real processes cannot be partitioned on one host
              without network namespaces): the others stop hearing them, as
              in a partition, but the stopped ones do not run meanwhile.
    At the start two targets are flipped: one checked by an agent that still
    runs and (gossip) one checked by a stopped agent. During the hold: when
    every running agent says the store is unavailable (/v1/status), a PUT
    through n1 (status and time), a read (stale targets), and whether/when
    every running agent reports each flip. Then the members are started
    again / the agents continued (SIGCONT), and the time until every agent
    has converged: store available, every member alive in every view, no
    target stale, both flips and every write accepted during the outage
    reported by every agent.
 5. Simulator (gossip only): `heck sim` of scenarios/cluster_partition_heal.json
    rewritten to 5 members split 2 | 3 for a minute (a real partition, in
    simulated time), over --sim-seeds seeds: the "converged ... after the
    liveness start" (= after the heal) figure, and whether the scenario's
    expectations held.

The agents' etcd traffic: the agent has no metrics of its own for it, so by
default every agent reaches etcd through a byte-counting TCP relay in this
script (one listening port per agent and member; a listener is closed while
its member is down, so a connect is refused as it would be). Bytes = the
HTTP requests and answers (headers and bodies); messages = HTTP requests sent
(`POST /v3/...`) + answers received (one per call, plus each further
message of a streamed answer: the watch's events, lease keep-alives).
--no-etcd-relay connects the agents straight to etcd and prints n/a there.

Bounded: every wait and loop has a bound in time and count; the whole run
takes about 2 minutes (--quick: about 1 minute; bound: 175 s / 100 s). Standard library only. Nothing
binds outside 127.0.0.1; every child process (agents, etcd members, the sim)
is ended on exit, also on Ctrl-C, SIGTERM or an error.
"""

import argparse
import copy
import http.client
import json
import math
import os
import re
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "support"))
from heck_proc import (AGENT_LISTENING, Deadline, QuietHandler, http_request, keygen,  # noqa: E402
                       serve_http, start_agent, stop_all, temp_dir)
from etcd_cluster import EtcdCluster, etcd_binary  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback_bench import BenchError, Client, bench_fail, cpu_seconds  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_OUTPUT_LINES = 2000  # per child


RUN = None  # the Deadline of the whole run, set in main()


def poll(what, fn, timeout_s, interval_s=0.1):
    return RUN.poll(what, fn, timeout_s, interval_s)


def remaining(cap_s):
    """min(cap_s, time left in the run)."""
    return max(0.0, min(cap_s, RUN.at - time.monotonic()))


def pct(values, p):
    """The p-quantile (nearest rank) of values, or None."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))]


# ---- the targets ------------------------------------------------------------------

FAILING = set()
FAILING_LOCK = threading.Lock()


class Targets(QuietHandler):
    """GET /t/<id>: 200, or 503 while <id> is flipped to failing."""

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with FAILING_LOCK:
            bad = name in FAILING
        self.reply(503 if bad else 200, b"failing\n" if bad else b"ok\n", close=True)


def set_failing(tid, failing):
    with FAILING_LOCK:
        if failing:
            FAILING.add(tid)
        else:
            FAILING.discard(tid)


def truth(tid):
    with FAILING_LOCK:
        return "unhealthy" if tid in FAILING else "healthy"


# ---- a byte-counting relay to etcd -------------------------------------------------

class CountingRelay:
    """TCP relay 127.0.0.1:<port> -> an etcd member's client port, one listener
    per (agent, member), counting each agent's bytes and HTTP messages.

    One thread with a selector; sockets stay blocking but are only read when
    readable (a sendall to the other side is bounded by a 5 s timeout).
    close_member/open_member run on the relay's thread (a command queue).
    """

    TAIL = 16  # bytes kept between reads, so a pattern split across reads is found

    def __init__(self, agents, member_ports):
        self.member_ports = list(member_ports)
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stats = {a: {"out_bytes": 0, "in_bytes": 0, "out_msgs": 0, "in_msgs": 0} for a in agents}
        self.ports = {}      # (agent, member) -> port
        self.listeners = {}  # (agent, member) -> socket (None while closed)
        for a in agents:
            for m in range(len(self.member_ports)):
                self.ports[(a, m)] = None
                self._listen(a, m)
        self.commands = []
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def endpoints(self, agent):
        return ",".join(f"http://127.0.0.1:{self.ports[(agent, m)]}" for m in range(len(self.member_ports)))

    def snapshot(self):
        with self.lock:
            return {a: dict(s) for a, s in self.stats.items()}

    def _listen(self, agent, member):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.ports[(agent, member)] or 0))
        s.listen(64)
        self.ports[(agent, member)] = s.getsockname()[1]
        self.listeners[(agent, member)] = s
        self.sel.register(s, selectors.EVENT_READ, ("listen", agent, member))

    def _run(self, fn, timeout_s=5):
        done = threading.Event()
        with self.lock:
            self.commands.append((fn, done))
        if not done.wait(timeout_s):
            raise BenchError("the etcd relay did not answer")

    def close_member(self, member):
        def fn():
            for (a, m), s in list(self.listeners.items()):
                if m == member and s is not None:
                    self.sel.unregister(s)
                    s.close()
                    self.listeners[(a, m)] = None
        self._run(fn)

    def open_member(self, member):
        def fn():
            for (a, m), s in list(self.listeners.items()):
                if m == member and s is None:
                    self._listen(a, m)
        self._run(fn)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=2)

    def _loop(self):
        conns = {}  # socket -> state dict, shared by the two sockets of a pair
        try:
            while not self.stopping:
                with self.lock:
                    commands, self.commands = self.commands, []
                for fn, done in commands:
                    fn()
                    done.set()
                for key, _ in self.sel.select(timeout=0.05):
                    kind = key.data[0]
                    if kind == "listen":
                        self._accept(key.fileobj, key.data[1], key.data[2], conns)
                    else:
                        self._pump(key.fileobj, conns)
        finally:
            for s in list(conns):
                s.close()
            for s in self.listeners.values():
                if s is not None:
                    s.close()
            self.sel.close()

    def _accept(self, listener, agent, member, conns):
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.member_ports[member]), timeout=1)
        except OSError:
            client.close()  # the member is down: the agent sees the connection end
            return
        client.settimeout(5)
        upstream.settimeout(5)
        state = {"agent": agent, "client": client, "upstream": upstream, "answered": False, "results": 0,
                 "tail_out": b"", "tail_in": b""}
        conns[client] = conns[upstream] = state
        self.sel.register(client, selectors.EVENT_READ, ("conn",))
        self.sel.register(upstream, selectors.EVENT_READ, ("conn",))

    def _pump(self, sock, conns):
        state = conns.get(sock)
        if state is None:
            return
        outbound = sock is state["client"]
        other = state["upstream"] if outbound else state["client"]
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
        except OSError:
            data = b""
        if not data:
            for s in (state["client"], state["upstream"]):
                self.sel.unregister(s)
                s.close()
                conns.pop(s, None)
            return
        with self.lock:
            st = self.stats[state["agent"]]
            if outbound:
                st["out_bytes"] += len(data)
                buf = state["tail_out"] + data
                st["out_msgs"] += buf.count(b"POST /v3/")
                state["tail_out"] = buf[-self.TAIL:]
            else:
                st["in_bytes"] += len(data)
                if not state["answered"]:
                    state["answered"] = True
                    st["in_msgs"] += 1  # the answer (its first message, if streamed)
                buf = state["tail_in"] + data
                n = buf.count(b'{"result":')
                extra = max(0, state["results"] + n - 1) - max(0, state["results"] - 1)
                st["in_msgs"] += extra  # every further streamed message
                state["results"] += n
                state["tail_in"] = buf[-self.TAIL:]


# ---- agents -------------------------------------------------------------------------

class Agent(Client):
    """A `heck agent` child and a kept-alive HTTP connection to its API (loopback_bench.Client)."""

    def __init__(self, heck, name, key, join, extra, data_dir, started):
        super().__init__(name, None)
        self.child = start_agent(heck, name, key=key, join=join, extra=extra, data_dir=data_dir, wait_s=None,
                                 merge_stdout=True, max_lines=MAX_OUTPUT_LINES, deadline=RUN)
        self.proc = self.child.proc
        self.paused = False
        started.append(self)  # stopped on any failure from here on
        m = poll(f"{name}'s addresses in its log", lambda: self.child.find(AGENT_LISTENING), remaining(10))
        self.cluster = m.group(2)
        self.port = int(m.group(3))

    def get_json(self, path, timeout=5):
        return super().get_json(path, timeout)

    def cluster_traffic(self):
        """(bytes, packets) of cluster traffic so far, in + out, every channel."""
        status, text = self.request("GET", "/metrics")
        if status != 200:
            raise BenchError(f"{self.name}: /metrics -> {status}")
        b = p = 0.0
        for line in text.splitlines():
            if line.startswith("heck_cluster_transport_bytes_total{"):
                b += float(line.rsplit(" ", 1)[1])
            elif line.startswith("heck_cluster_transport_packets_total{"):
                p += float(line.rsplit(" ", 1)[1])
        return b, p

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---- one store --------------------------------------------------------------------------

class StoreRun:
    def __init__(self, args, store, tmp, base_url):
        self.args = args
        self.store = store
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.base_url = base_url
        self.etcd = None
        self.relay = None
        self.agents = []
        self.ids = [f"t{i:03}" for i in range(args.targets)]
        self.r = {}  # results for the table

    def log(self, msg):
        print(f"[{self.store} +{time.monotonic() - self.t0:5.1f}s] {msg}", flush=True)

    def spec(self, tid, timeout_ms=500):
        return {"url": f"{self.base_url}/t/{tid}", "interval_ms": self.args.interval_ms,
                "timeout_ms": min(timeout_ms, self.args.interval_ms // 2), "rise": 1, "fall": 1}

    def running(self):
        return [a for a in self.agents if not a.paused]

    # -- setup
    def start(self):
        self.t0 = time.monotonic()
        a = self.args
        # No --min-api-interval-ms: intervals are >= 1000 ms, the API's floor.
        extra = []
        names = [f"n{i}" for i in range(1, a.agents + 1)]
        if self.store == "etcd":
            self.etcd = EtcdCluster(os.path.join(self.tmp, "etcd"), token="heck-bench", in_memory=False)
            self.etcd.start(timeout_s=remaining(30))
            if a.etcd_relay:
                self.relay = CountingRelay(names, self.etcd.client_ports)
            self.log(f"etcd {etcd_version()} up: {self.etcd.endpoints}")
        key = keygen(a.heck)
        for i, name in enumerate(names):
            flags = list(extra)
            data_dir = None
            if self.store == "etcd":
                endpoints = self.relay.endpoints(name) if self.relay else self.etcd.endpoints
                flags += ["--store", "etcd", "--etcd", endpoints]
            else:
                data_dir = os.path.join(self.tmp, name)
            join = [self.agents[0].cluster] if i else []
            Agent(a.heck, name, key, join, flags, data_dir, self.agents)
        poll("every agent to list every member alive",
             lambda: all(sum(m["state"] == "alive" for m in ag.get_json("/v1/members")) == a.agents
                         for ag in self.agents), remaining(20))
        poll("every agent's store to be available",
             lambda: all(ag.get_json("/v1/status")["store"]["available"] for ag in self.agents), remaining(15))
        self.log(f"{a.agents} agents up")

    # -- 1. writes
    def writes(self):
        lat = []
        for rnd, timeout_ms in ((0, 500), (1, 400)):
            for k, tid in enumerate(self.ids):
                ag = self.agents[k % len(self.agents)]
                t = time.monotonic()
                status, text = ag.request("PUT", f"/v1/targets/{tid}", self.spec(tid, timeout_ms))
                lat.append(time.monotonic() - t)
                if status not in (200, 201):
                    raise BenchError(f"PUT {tid} through {ag.name}: {status} {text[:200]}")
                if time.monotonic() > RUN.at:
                    raise BenchError("out of time registering targets")
        self.r["put"] = lat
        self.log(f"{len(lat)} PUTs: p50 {1000 * pct(lat, 0.5):.1f} ms, p99 {1000 * pct(lat, 0.99):.1f} ms")

        def all_healthy():
            for ag in self.agents:
                view = {t["id"]: t for t in ag.get_json("/v1/targets")}
                if sorted(view) != self.ids or any(view[i]["status"] != "healthy" for i in self.ids):
                    return False
            return True
        poll(f"every agent to report all {len(self.ids)} targets healthy", all_healthy, remaining(30), 0.2)
        self.log("every target healthy on every agent")

    # -- 2. steady window
    def steady(self):
        pids = {ag.name: ag.proc.pid for ag in self.agents}
        etcd_pids = [p.proc.pid for p in (self.etcd.procs if self.etcd else []) if p is not None]
        traffic0 = {ag.name: ag.cluster_traffic() for ag in self.agents}
        relay0 = self.relay.snapshot() if self.relay else None
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        ecpu0 = sum(cpu_seconds(p) for p in etcd_pids)
        t0 = time.monotonic()
        time.sleep(remaining(self.args.measure_s))
        el = time.monotonic() - t0
        cpu1 = {n: cpu_seconds(p) for n, p in pids.items()}
        ecpu1 = sum(cpu_seconds(p) for p in etcd_pids)
        relay1 = self.relay.snapshot() if self.relay else None
        traffic1 = {ag.name: ag.cluster_traffic() for ag in self.agents}
        n = len(self.agents)
        self.r["window_s"] = el
        self.r["cpu"] = [100.0 * (cpu1[k] - cpu0[k]) / el for k in pids]
        self.r["etcd_cpu"] = 100.0 * (ecpu1 - ecpu0) / el if etcd_pids else None
        self.r["cluster_bps"] = sum(traffic1[k][0] - traffic0[k][0] for k in traffic0) / el / n
        self.r["cluster_mps"] = sum(traffic1[k][1] - traffic0[k][1] for k in traffic0) / el / n
        if relay0 is not None:
            d = lambda f: sum(relay1[k][f] - relay0[k][f] for k in relay0) / el / n
            self.r["etcd_bps"] = d("out_bytes") + d("in_bytes")
            self.r["etcd_mps"] = d("out_msgs") + d("in_msgs")
            self.r["etcd_split"] = (d("out_bytes"), d("in_bytes"), d("out_msgs"), d("in_msgs"))
        self.log(f"steady {el:.1f} s: CPU per agent {statistics.mean(self.r['cpu']):.1f} %, cluster "
                 f"{self.r['cluster_bps']:.0f} B/s {self.r['cluster_mps']:.1f} msg/s per agent"
                 + (f", etcd {self.r['etcd_bps']:.0f} B/s {self.r['etcd_mps']:.1f} msg/s per agent"
                    if "etcd_bps" in self.r else ""))

    # -- 3. flips
    def views(self, agents):
        """{agent: ({id: entry}, answer time)} for each agent that answers."""
        out = {}
        for ag in agents:
            try:
                entries = ag.get_json("/v1/targets", timeout=3)
            except (OSError, http.client.HTTPException, ValueError, BenchError):
                continue
            out[ag.name] = ({e["id"]: e for e in entries}, time.monotonic())
        return out

    def flips(self):
        gap = self.args.flip_gap_s
        window_end = time.monotonic() + remaining(self.args.flip_s)
        hard_end = window_end + remaining(self.args.flip_s / 2 + 5)  # drain in-flight flips
        pending = {}  # id -> (expected status, t0, {agent: seen at})
        done_all, done_spread, missed = [], [], 0
        next_flip = time.monotonic()
        turn = 0
        polls = 0
        names = [ag.name for ag in self.agents]
        while time.monotonic() < hard_end and polls < 100000:
            now = time.monotonic()
            if now < window_end and now >= next_flip:
                for step in range(len(self.ids)):  # the next target with no flip in flight
                    tid = self.ids[(turn + step) % len(self.ids)]
                    if tid not in pending:
                        turn = (turn + step + 1) % len(self.ids)
                        set_failing(tid, truth(tid) == "healthy")
                        pending[tid] = (truth(tid), time.monotonic(), {})
                        break
                next_flip = now + gap
            elif now >= window_end and not pending:
                break
            polls += 1
            for name, (view, at) in self.views(self.agents).items():
                for tid, (want, t0, seen) in pending.items():
                    if name not in seen and tid in view and view[tid]["status"] == want:
                        seen[name] = at
            for tid in list(pending):
                want, t0, seen = pending[tid]
                if len(seen) == len(names):
                    done_all.append(max(seen.values()) - t0)
                    done_spread.append(max(seen.values()) - min(seen.values()))
                    del pending[tid]
                elif time.monotonic() - t0 > 15:
                    missed += 1
                    del pending[tid]
            time.sleep(0.02)
        missed += len(pending)
        self.r["flip_all"] = done_all
        self.r["flip_spread"] = done_spread
        self.r["flip_missed"] = missed
        self.log(f"{len(done_all)} flips seen by every agent ({missed} not within 15 s): every agent p50 "
                 f"{fmt_s(pct(done_all, 0.5))}, p99 {fmt_s(pct(done_all, 0.99))}; first -> last p50 "
                 f"{fmt_s(pct(done_spread, 0.5))}, p99 {fmt_s(pct(done_spread, 0.99))}")
        # Every agent agrees on every target before the outage.
        poll("every agent to agree on every target after the flips",
             lambda: all(all(v[t]["status"] == truth(t) for t in self.ids)
                         for v, _ in self.views(self.agents).values()), remaining(20), 0.2)

    # -- 4. outage
    def owner_of(self, tid):
        return self.agents[0].get_json(f"/v1/owners/{tid}")["owners"][0]

    def outage(self):
        hold = self.args.outage_s
        n1 = self.agents[0]
        owners = {t: self.owner_of(t) for t in self.ids}
        if self.store == "etcd":
            what = "2 of 3 etcd members SIGKILLed"
            victims = []
        else:
            # Pause the two agents (not n1) that check the most targets.
            counts = {ag.name: sum(o == ag.name for o in owners.values()) for ag in self.agents[1:]}
            victims = sorted(self.agents[1:], key=lambda ag: -counts[ag.name])[:2]
            what = f"2 of {len(self.agents)} agents SIGSTOPped ({', '.join(v.name for v in victims)})"
        victim_names = {v.name for v in victims}
        live_owned = [t for t in self.ids if owners[t] not in victim_names and owners[t] != "n1"] or \
            [t for t in self.ids if owners[t] not in victim_names]
        flip_live = live_owned[0]
        flip_paused = next((t for t in self.ids if owners[t] in victim_names), None)
        self.r["outage_what"] = what

        t_start = time.monotonic()
        if self.store == "etcd":
            for m in (0, 1):
                if self.relay:
                    self.relay.close_member(m)
                self.etcd.stop_member(m)
        else:
            for v in victims:
                v.pause()
        self.log(f"outage: {what}; flipping {flip_live} (checked by {owners[flip_live]})"
                 + (f" and {flip_paused} (checked by {owners[flip_paused]}, stopped)" if flip_paused else ""))
        flips = {flip_live: None}
        if flip_paused:
            flips[flip_paused] = None
        for t in flips:
            set_failing(t, truth(t) == "healthy")
        t_flip = time.monotonic()
        running = self.running()
        unavailable_at = None
        available_again = 0  # status rounds after unavailable_at in which some agent said available
        flip_seen = {t: None for t in flips}
        seen_by = {t: set() for t in flips}
        # Writes through n1 (running in both cases) during the outage, from a
        # thread: one PUT of a new target, then 0.5 s, then the next; bounded in
        # count and by the hold.
        writes = []   # (status, seconds, answer text)
        written = []  # targets whose PUT was accepted during the outage
        end = time.monotonic() + remaining(hold)

        def writer():
            for k in range(40):
                time.sleep(0.5)
                if time.monotonic() > end - 0.5:
                    return
                tid = f"outage-w{k:02}"
                t = time.monotonic()
                try:
                    r = http_request("PUT", f"http://127.0.0.1:{n1.port}/v1/targets/{tid}", self.spec(tid),
                                     timeout=10)
                    status, text = r.status, r.text
                except (OSError, http.client.HTTPException) as e:
                    status, text = 0, repr(e)
                writes.append((status, time.monotonic() - t, text.strip()[:200]))
                if status in (200, 201):
                    written.append(tid)
        wt = threading.Thread(target=writer, daemon=True)
        wt.start()
        stale_seen = 0
        while time.monotonic() < end:
            try:
                avail = [ag.get_json("/v1/status", timeout=3)["store"]["available"] for ag in running]
                if unavailable_at is None and not any(avail):
                    unavailable_at = time.monotonic() - t_start
                elif unavailable_at is not None and any(avail):
                    available_again += 1  # an agent said "available" again during the outage
            except (OSError, http.client.HTTPException, ValueError, BenchError):
                pass
            for name, (view, at) in self.views(running).items():
                stale_seen = max(stale_seen, sum(1 for e in view.values() if e.get("stale")))
                for t in flips:
                    if t in view and view[t]["status"] == truth(t):
                        seen_by[t].add(name)
                        if flip_seen[t] is None and len(seen_by[t]) == len(running):
                            flip_seen[t] = at - t_flip
            time.sleep(0.1)
        # How the running agents see the stopped ones at the end of the hold.
        if victims:
            states = {}
            for ag in running:
                for m in ag.get_json("/v1/members"):
                    if m["name"] in victim_names:
                        states[m["state"]] = states.get(m["state"], 0) + 1
            self.r["victim_states"] = states
        wt.join(timeout=12)  # a write under way ends within its 10 s timeout
        view_sample = n1.get_json("/v1/targets")
        stale_reason = next((e.get("stale_reason") for e in view_sample if e.get("stale_reason")), None)
        self.r["unavailable_at"] = unavailable_at
        self.r["available_again"] = available_again
        self.r["outage_writes"] = list(writes)
        self.r["outage_stale"] = (stale_seen, len(view_sample), stale_reason)
        self.r["outage_flip_live"] = (flip_seen[flip_live], len(seen_by[flip_live]), len(running))
        self.r["outage_flip_paused"] = (None if flip_paused is None else
                                        (flip_seen[flip_paused], len(seen_by[flip_paused]), len(running)))
        self.r["hold_s"] = time.monotonic() - t_start
        slow = [w for w in writes if w[1] > 1.0]
        self.log(f"during the outage: unavailable after {fmt_s(unavailable_at)} ({available_again} status rounds "
                 f"with some agent 'available' again); {len(writes)} PUTs: "
                 + ", ".join(f"{st}" for st, _, _ in writes)
                 + (f"; {len(slow)} took > 1 s, e.g. {slow[0][2]}" if slow else "")
                 + (f"; e.g. {writes[0][2]}" if writes else "")
                 + f"; up to {stale_seen} stale; flips seen by every running agent: "
                 + ", ".join(f"{t} {fmt_s(v)}" for t, v in flip_seen.items()))

        # Heal.
        t_heal = time.monotonic()
        if self.store == "etcd":
            for m in (0, 1):
                self.etcd.start_member(m)
                if self.relay:
                    self.relay.open_member(m)
        else:
            for v in victims:
                v.resume()
        want_ids = sorted(self.ids + list(written))
        n = len(self.agents)

        def converged():
            for ag in self.agents:
                st = ag.get_json("/v1/status", timeout=3)
                if not st["store"]["available"] or st["members"]["alive"] != n:
                    return False
                view = {e["id"]: e for e in ag.get_json("/v1/targets", timeout=3)}
                if sorted(view) != want_ids or any(e.get("stale") for e in view.values()):
                    return False
                if any(view[t]["status"] != truth(t) for t in self.ids):
                    return False
            return True
        try:
            poll("every agent to converge after the heal", converged, remaining(self.args.converge_s), 0.1)
            self.r["converge"] = time.monotonic() - t_heal
        except BenchError as e:
            self.r["converge"] = None
            self.log(str(e))
        self.log(f"after the heal: converged in {fmt_s(self.r['converge'])}")

    def stop(self):
        for ag in self.agents:
            ag.resume()
            ag.close()
        stop_all([ag.child for ag in self.agents], graceful=True)
        if self.relay:
            self.relay.stop()
        if self.etcd:
            self.etcd.stop()
        for t in list(FAILING):
            set_failing(t, False)


def etcd_version():
    try:
        out = subprocess.run([etcd_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"etcd Version: (\S+)", out)
        return m.group(1) if m else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ---- the simulator (gossip, a real 2 | 3 partition in simulated time) -----------------

def sim_partition(heck, seeds, tmp):
    """Runs a 5-member 2 | 3 variant of scenarios/cluster_partition_heal.json;
    returns ([membership converged, s after the heal], [seeds whose expectations failed], runs)."""
    with open(os.path.join(ROOT, "scenarios", "cluster_partition_heal.json")) as f:
        sc = json.load(f)
    sc = copy.deepcopy(sc)
    sc["name"] = "store-bench-partition-2-of-5"
    sc["description"] = "cluster_partition_heal.json with 5 members split 2 | 3 (n0 n1 | n2 n3 n4) for 60 s"
    sc["members"]["count"] = 5
    sc["seeds"] = ["n0", "n2"]
    for ev in sc["timeline"]:
        if ev["event"] == "partition":
            ev["from"] = ["n0", "n1"]
    for ex in sc["expectations"]:
        if ex["kind"] == "declared_dead":
            if "n0" in ex["member"]:
                ex["member"], ex["by"], ex["min"] = ["n0", "n1"], ["n2", "n3", "n4"], 2
            else:
                ex["member"], ex["by"], ex["min"] = ["n2", "n3", "n4"], ["n0", "n1"], 3
    # (No state_converges: with targets checked every second the replicated states are never equal at one
    # sample; see scenarios/cluster_swarm_10.json. The scenario's own "agreement" invariant covers the views.)
    path = os.path.join(tmp, "partition_2_of_5.json")
    with open(path, "w") as f:
        json.dump(sc, f)
    conv, failed, runs = [], [], 0
    for seed in range(1, seeds + 1):
        if remaining(30) < 5:
            break
        out = subprocess.run([heck, "sim", path, "--seed", str(seed)], capture_output=True, text=True,
                             timeout=remaining(30)).stdout
        runs += 1
        m = re.search(r"^converged\s+([\d.]+) s after the liveness start", out, re.M)
        if m:
            conv.append(float(m.group(1)))
        if not re.search(r"^result\s+PASS", out, re.M):
            failed.append(seed)
    return conv, failed, runs


# ---- the table ------------------------------------------------------------------------------

def fmt_s(v):
    return "-" if v is None else f"{v:.2f} s"


def fmt_ms(v):
    return "-" if v is None else f"{1000 * v:.1f} ms"


def fmt_rate(v, unit):
    if v is None:
        return "n/a"
    return f"{v / 1024:.1f} KiB/s" if unit == "B" and v >= 1024 else f"{v:.0f} B/s" if unit == "B" else f"{v:.1f} msg/s"


def table(args, results, sim):
    cols = [s for s in ("gossip", "etcd") if s in results]
    rows = []

    def row(label, fn):
        cells = []
        for s in cols:
            try:
                cells.append(fn(results[s], s))
            except (KeyError, TypeError, ValueError):
                cells.append("-")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    n = args.agents
    row("setup", lambda r, s: f"{n} agents, `--data-dir` (fsync)" if s == "gossip" else
        f"{n} agents, 3-member etcd {r['etcd_version']}" + (" via counting relay ¹" if args.etcd_relay else ""))
    row("flip → every agent reports it, p50 / p99", lambda r, s: f"{fmt_s(pct(r['flip_all'], .5))} / "
        f"{fmt_s(pct(r['flip_all'], .99))} (n={len(r['flip_all'])}"
        + (f", {r['flip_missed']} missed" if r['flip_missed'] else "") + ")")
    row("first → last agent reporting a flip, p50 / p99 ²", lambda r, s: f"{fmt_s(pct(r['flip_spread'], .5))} / "
        f"{fmt_s(pct(r['flip_spread'], .99))}")
    row("PUT /v1/targets latency, p50 / p99", lambda r, s: f"{fmt_ms(pct(r['put'], .5))} / "
        f"{fmt_ms(pct(r['put'], .99))} (n={len(r['put'])})")
    row("cluster traffic per agent (SWIM + replication), in + out ³", lambda r, s:
        f"{fmt_rate(r['cluster_bps'], 'B')}, {fmt_rate(r['cluster_mps'], 'm')}")
    row("HTTP traffic to etcd per agent, in + out ¹", lambda r, s: "— (no etcd)" if s == "gossip" else
        ("n/a ¹" if "etcd_bps" not in r else f"{fmt_rate(r['etcd_bps'], 'B')}, {fmt_rate(r['etcd_mps'], 'm')}"))
    row("CPU per agent, mean (max), % of one core ⁴", lambda r, s:
        f"{statistics.mean(r['cpu']):.1f} % ({max(r['cpu']):.1f} %)")
    row("CPU of the 3 etcd members, total ⁴", lambda r, s: "—" if r["etcd_cpu"] is None else
        f"{r['etcd_cpu']:.1f} %")
    row("**outage** ⁵", lambda r, s: r["outage_what"] + (" — stand-in for a partition" if s == "gossip" else ""))
    row("every running agent says the store is unavailable", lambda r, s:
        f"after {fmt_s(r['unavailable_at'])}" if r["unavailable_at"] is not None else
        f"no: available throughout ({r['hold_s']:.0f} s)")
    row("the stopped agents in the running agents' views at the end of the hold", lambda r, s:
        ", ".join(f"{k} ×{v}" for k, v in sorted(r["victim_states"].items())) if "victim_states" in r
        else "n/a (every agent runs)")

    def write_cell(r, s):
        ws = r["outage_writes"]
        if not ws:
            return "-"
        ok = [w[1] for w in ws if w[0] in (200, 201)]
        refused = [w for w in ws if w[0] not in (200, 201)]
        if not refused:
            return f"available: {len(ok)} of {len(ws)} accepted, p50 {fmt_ms(pct(ok, .5))}, max {fmt_ms(max(ok))}"
        codes = sorted({str(w[0]) for w in refused})
        fast = [w for w in refused if w[1] <= 0.1]
        slow = [w[1] for w in refused if w[1] > 0.1]
        cell = f"{len(refused)} of {len(ws)} refused ({'/'.join(codes)}): {len(fast)} at once (≤ 100 ms)"
        if slow:
            cell += f", {len(slow)} after {fmt_s(min(slow))}–{fmt_s(max(slow))}"
        if ok:
            cell += f"; {len(ok)} accepted"
        return cell + " ⁸"
    row("PUTs through a running agent during the outage (one at a time, 0.5 s apart)", write_cell)
    row("reads during the outage", lambda r, s: f"served; up to {r['outage_stale'][0]} of "
        f"{r['outage_stale'][1]} targets `stale`" + (f" (\"{r['outage_stale'][2][:90]}\")" if r['outage_stale'][2]
                                                    else ""))

    def flip_cell(v):
        if v is None:
            return "n/a (every agent runs)"
        at, k, of = v
        return f"after {fmt_s(at)}" if at is not None else f"no: {k} of {of} running agents within the hold"
    row("flip of a target checked by a running agent, seen by every running agent",
        lambda r, s: flip_cell(r["outage_flip_live"]))
    row("flip of a target checked by a stopped agent (takeover)", lambda r, s: flip_cell(r["outage_flip_paused"]))
    row("after the heal: every agent converged ⁶", lambda r, s: f"{fmt_s(r['converge'])}" if r["converge"]
        is not None else f"not within {args.converge_s:.0f} s")
    if sim is not None:
        conv, failed, runs = sim
        sim_cell = (f"membership converged {fmt_s(statistics.median(conv))} after the heal (median; max "
                    f"{fmt_s(max(conv))})"
                    + f"; expectations hold in {runs - len(failed)} of {runs} seeds"
                    + (f" (not: {failed})" if failed else "")) if conv else "-"
        cells = [sim_cell if s == "gossip" else "n/a" for s in cols]
        rows.append("| `heck sim`: 5 members, real 2 \\| 3 partition for 60 s ⁷ | " + " | ".join(cells) + " |")
    head = "| | " + " | ".join(f"{s} store" for s in cols) + " |\n|---|" + "---|" * len(cols)
    return head + "\n" + "\n".join(rows)


def footnotes(args, results):
    g = results.get("gossip", {})
    e = results.get("etcd", {})
    notes = []
    if args.etcd_relay:
        split = e.get("etcd_split")
        notes.append("¹ The agent has no metrics of its etcd traffic; every agent reached etcd through a "
                     "byte-counting TCP relay in this script (one extra loopback hop, in every etcd figure). "
                     "Bytes: HTTP requests and answers, headers and bodies. Messages: requests sent + answers "
                     "received (each message of a streamed answer counts: watch events, lease keep-alives)."
                     + (f" Split: out {split[0]:.0f} B/s, {split[2]:.1f} msg/s; in {split[1]:.0f} B/s, "
                        f"{split[3]:.1f} msg/s." if split else ""))
    else:
        notes.append("¹ n/a: the agent's /metrics has no figures of its HTTP traffic to etcd (only "
                     "heck_store_available), and --no-etcd-relay was given, so nothing measured it.")
    notes.append(f"² Poll resolution: every agent's GET /v1/targets in a loop (~{1000 * 0.02:.0f} ms sleep + "
                 f"{args.agents} requests per round); times are poll answer times. Targets: rise = fall = 1, "
                 f"interval {args.interval_ms} ms, so \"flip → every agent\" includes waiting for the next "
                 f"check (up to one interval); the first → last spread is the propagation alone. A flip was "
                 f"started every {args.flip_gap_s} s for {args.flip_s:.0f} s.")
    notes.append("³ heck_cluster_transport_bytes_total / _packets_total on /metrics (sealed bytes with stream "
                 "framing; packets = datagrams + stream frames), summed over direction and channel, per agent, "
                 f"over a quiet window of {g.get('window_s', e.get('window_s', 0)):.0f} s (no API load but "
                 "/metrics at its ends). With the etcd store the agents still run SWIM: that row is membership "
                 "only.")
    notes.append("⁴ utime + stime from /proc/PID/stat over the same window; 100 % = one core. The machine has "
                 f"{os.cpu_count()} cores and may run other work: the load average before the run is on the "
                 "last line.")
    notes.append(f"⁵ Held {args.outage_s:.0f} s. gossip: SIGSTOP of the two agents (not n1) that check the most "
                 "targets, a stand-in for partitioning 2 of 5 agents away (no network namespaces here): the "
                 "others stop hearing them as in a partition, but the stopped agents neither run nor serve, and "
                 "the datagrams sent to them wait in their socket buffers (processed on SIGCONT, where a "
                 "partition would drop them). The 2 | 3 split itself is the simulator row. etcd: SIGKILL of 2 "
                 "of 3 members (the survivor is a minority); the agents all run. The PUTs: new targets through "
                 "n1, one at a time, 0.5 s apart.")
    notes.append("⁶ From SIGCONT / restarting the two etcd members until every agent says the store is available, "
                 "lists every member alive, lists every target (with those PUT during the outage, if accepted), "
                 "none stale, and reports both outage flips (polled every 0.1 s).")
    notes.append("⁷ Deterministic simulator, not processes: scenarios/cluster_partition_heal.json rewritten to 5 "
                 "members split n0 n1 | n2 n3 n4 at 30 s, healed at 90 s (64 targets, 1 s interval, rise 2, "
                 f"fall 2), seeds 1..{args.sim_seeds}. \"membership converged\": every member sees every member "
                 "alive (the simulator's \"converged\"). Expectations: no false suspicion before the split, "
                 "each side declares the other dead, all alive at 140 s, converged within 30 s, and the "
                 "scenario's invariants (every target checked by an owner every interval, every agent reports "
                 "every steady target's truth at the end, flips reported within their bound).")
    for store in ("etcd", "gossip"):
        refused = [w for w in results.get(store, {}).get("outage_writes", []) if w[0] not in (200, 201)]
        if refused:
            kinds = {}
            for st, took, text in refused:
                msg = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:P", text)
                m = re.search(r'"error":"([^"]*)"', msg)
                msg = m.group(1) if m else msg
                kinds.setdefault(msg, []).append(took)
            notes.append(f"⁸ {store}: the refusals' answers: " + "; ".join(
                f"{len(t)}× in {fmt_ms(min(t))}–{fmt_ms(max(t))}: \"{k}\"" for k, t in kinds.items()))
    return "\n".join(notes)


# ---- main -------------------------------------------------------------------------------------

def main():
    global RUN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heck", default=os.path.join(ROOT, "build", "heck"))
    ap.add_argument("--agents", type=int, default=5)
    ap.add_argument("--targets", type=int, default=30)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="shorter windows: about 1 minute in all")
    ap.add_argument("--stores", default="gossip,etcd", help="which stores, in order (default gossip,etcd)")
    ap.add_argument("--no-etcd-relay", dest="etcd_relay", action="store_false",
                    help="agents connect to etcd directly (the etcd traffic row says n/a)")
    ap.add_argument("--sim-seeds", type=int, default=5)
    args = ap.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    if not 3 <= args.agents <= 10 or not 4 <= args.targets <= 200 or not 1000 <= args.interval_ms <= 10000 \
            or not set(stores) <= {"gossip", "etcd"} or not stores or not 0 <= args.sim_seeds <= 20:
        ap.error("--agents 3-10, --targets 4-200, --interval-ms 1000-10000, --stores gossip and/or etcd, "
                 "--sim-seeds 0-20")
    # Windows (seconds); the run's bound follows from them.
    args.measure_s, args.flip_s, args.flip_gap_s, args.outage_s, args.converge_s = \
        (5, 8, 0.25, 6, 20) if args.quick else (15, 30, 0.25, 10, 30)
    RUN = Deadline(100 if args.quick else 175, interval_s=0.1, fail=bench_fail)
    if not os.access(args.heck, os.X_OK):
        ap.error(f"no heck binary at {args.heck} (build it, or pass --heck)")
    if "etcd" in stores and not etcd_binary():
        ap.error("no etcd binary (tools/setup.sh installs Debian's etcd-server)")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    runs = []  # every StoreRun started; each one's stop() ends its processes
    results = {}
    server = serve_http(Targets, backlog=True)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    rc = 0
    with temp_dir("heck-store-bench-") as tmp:
        try:
            for store in stores:
                run = StoreRun(args, store, os.path.join(tmp, store), base_url)
                runs.append(run)
                try:
                    run.start()
                    run.writes()
                    run.steady()
                    run.flips()
                    run.outage()
                    run.r["etcd_version"] = etcd_version() if store == "etcd" else None
                    results[store] = run.r
                finally:
                    run.stop()
            sim = None
            if "gossip" in stores and args.sim_seeds:
                sim = sim_partition(args.heck, args.sim_seeds, tmp)
            cmd = " ".join(["tools/bench/store_bench.py"] + sys.argv[1:])
            print()
            print(table(args, results, sim))
            print()
            print(footnotes(args, results))
            print()
            print(f"`{cmd}` — heck {args.heck}, nproc {os.cpu_count()}, "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())}, "
                  f"load average before the run {LOAD0}, whole run {time.monotonic() - T0:.0f} s")
        except (BenchError, AssertionError, OSError, subprocess.SubprocessError) as e:
            print(f"store_bench: {e}", file=sys.stderr)
            for run in runs:
                for ag in run.agents:
                    print(f"--- {run.store} {ag.name} (last 15 lines) ---\n{ag.child.tail(15)}", file=sys.stderr)
                if run.etcd:
                    print(run.etcd.logs(), file=sys.stderr)
            rc = 1
        except KeyboardInterrupt:
            print("store_bench: interrupted", file=sys.stderr)
            rc = 130
        finally:
            for run in runs:  # a no-op for runs already stopped
                try:
                    run.stop()
                except Exception:  # noqa: BLE001 -- cleaning up whatever is left
                    pass
            server.shutdown()
    return rc


T0 = time.monotonic()
LOAD0 = " ".join(f"{x:.1f}" for x in os.getloadavg())

if __name__ == "__main__":
    sys.exit(main())
