"""Helpers shared by the multi-process tests and tools/bench (python3 stdlib only).

Import it from a script with:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import heck_proc

(the folder relative to the script; CTest runs the scripts by absolute path).

Contents:
  fail, check                  -- an assertion that prints "FAIL: ..." first
  wait_until, Deadline         -- bounded polls (per wait and per whole test)
  free_port                    -- a 127.0.0.1 port nothing listens on
  http_request, Reply          -- one HTTP request to 127.0.0.1, JSON bodies
  QuietHandler, serve_http     -- local HTTP targets for the agents to check
  start_proc, start_agent, HeckProc, stop_all, dump_logs -- child processes
  args_or_usage, run_heck, keygen, swim_flags -- the command line, the heck CLI
  temp_dir                     -- a temporary directory (kept with HECK_KEEP_TMP=1)

Every wait has a bound; every server binds 127.0.0.1; a child's collected
output is capped in lines.
"""

import contextlib
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

# Exceptions a poll treats as "not yet" (the agent is starting, a view is
# incomplete) rather than as a failure.
RETRY_ERRORS = (OSError, http.client.HTTPException, ValueError, KeyError)

# The line every `heck agent` logs once it listens (tools/heck/agent_command.cpp).
AGENT_LISTENING = r"cluster on (\S+) \(advertised as (\S+)\), API on http://127\.0\.0\.1:(\d+)"


# ---- assertions and bounded waits --------------------------------------------

def fail(msg):
    """Prints FAIL: msg on stderr and raises AssertionError(msg)."""
    print(f"FAIL: {msg}", file=sys.stderr)
    raise AssertionError(msg)


def check(cond, msg):
    """fail(msg) unless cond."""
    if not cond:
        fail(msg)


def wait_until(what, fn, timeout_s, interval_s=0.05, deadline=None, retry_on=RETRY_ERRORS, on_timeout=fail):
    """Calls fn() every interval_s until it returns a truthy value, and returns it.

    Gives up after timeout_s, or at `deadline` (time.monotonic() value) if that
    is sooner, by calling on_timeout("timed out waiting for <what> (last: ...)"),
    which must raise. Exceptions in retry_on count as "not yet"; others pass.
    """
    end = time.monotonic() + timeout_s
    if deadline is not None:
        end = min(end, deadline)
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except retry_on as e:
            last = e
        time.sleep(interval_s)
    on_timeout(f"timed out waiting for {what} (last: {last!r})")
    raise AssertionError(f"on_timeout returned for {what}")  # on_timeout must raise


class Deadline:
    """The bound of a whole run, and how its waits poll and fail.

    Deadline(100).poll(what, fn, timeout_s) is wait_until capped at 100 s after
    the Deadline was made, with this Deadline's interval, retry_on and fail.
    """

    def __init__(self, total_s, interval_s=0.05, retry_on=RETRY_ERRORS, fail=fail):
        self.at = time.monotonic() + total_s
        self.interval_s = interval_s
        self.retry_on = retry_on
        self.fail = fail

    def poll(self, what, fn, timeout_s, interval_s=None):
        return wait_until(what, fn, timeout_s, self.interval_s if interval_s is None else interval_s, self.at,
                          self.retry_on, self.fail)


# ---- sockets and HTTP ---------------------------------------------------------

def free_port(kind=socket.SOCK_STREAM):
    """A 127.0.0.1 port that was free a moment ago (bound, then closed)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def ephemeral_ports():
    """The kernel's range for ports it picks itself (a bind to port 0, the
    source port of an outgoing connection)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_cluster_port(attempts=200):
    """A 127.0.0.1 port free a moment ago for both TCP and UDP: an agent's
    cluster address binds both (a UDP-free port may be taken for TCP).
    Drawn below the kernel's ephemeral range, so that an agent restarted at
    the same address finds it free: a port the kernel handed out (bind to
    port 0) may meanwhile be the source port of any process's outgoing
    connection, and the restart's TCP bind then fails (seen in
    store_e2e_gossip under ctest -j2)."""
    lo, _ = ephemeral_ports()
    first = 10000 if lo > 12000 else 1024
    pick = random.Random()  # seeded from the OS: concurrent tests draw apart
    for _ in range(attempts):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            port = pick.randrange(first, lo) if lo > first else 0
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
        finally:
            t.close()
            u.close()
    raise AssertionError("no port free for both TCP and UDP on 127.0.0.1")


class Reply(tuple):
    """(status, headers, text) of one HTTP reply; .json() parses the text."""

    def __new__(cls, status, headers, text):
        return super().__new__(cls, (status, headers, text))

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    text = property(lambda self: self[2])

    def json(self):
        return json.loads(self.text)


def http_request(method, url, body=None, token=None, timeout=3.0, headers=None):
    """One request on a fresh connection; returns a Reply.

    body: None (no body), str or bytes (sent as is, to test bad JSON), or any
    other value (sent as JSON). A body is sent with Content-Type
    application/json; a token as `Authorization: Bearer <token>`; headers:
    more request headers (a dict).
    """
    u = urllib.parse.urlsplit(url)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Reply(r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing; reply(code, body) answers in full."""

    def reply(self, code, body, close=False):
        """Sends code and body (bytes) with Content-Length; close: `Connection: close` and hang up."""
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if close:
            self.close_connection = True

    def log_message(self, *args):
        pass


class _BacklogServer(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's default listen backlog is 5


def serve_http(handler_cls, backlog=False):
    """A ThreadingHTTPServer on 127.0.0.1:<free port> served by a daemon thread.

    backlog: listen with a backlog of 128 instead of socketserver's 5 (many
    agents checking many targets at once would otherwise see SYN retries).
    The caller calls .shutdown(); the port is .server_address[1].
    """
    cls = _BacklogServer if backlog else http.server.ThreadingHTTPServer
    srv = cls(("127.0.0.1", 0), handler_cls)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---- child processes ------------------------------------------------------------

class HeckProc:
    """A child process whose stderr (and stdout, if merged) a thread collects.

    .proc is the subprocess.Popen; .name labels messages. Agents started by
    start_agent also have .cluster (advertised address), .api ("127.0.0.1:P")
    and .api_port, and a default .token for request().
    """

    def __init__(self, name, args, env=None, merge_stdout=False, max_lines=100_000, deadline=None):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        self.max_lines = max_lines
        self.deadline = deadline or Deadline(3600)
        self.cluster = self.api = self.api_port = self.token = None
        full_env = None
        if env:
            full_env = dict(os.environ)
            for k, v in env.items():
                if v is None:
                    full_env.pop(k, None)
                else:
                    full_env[k] = v
        out = subprocess.PIPE if merge_stdout else subprocess.DEVNULL
        err = subprocess.STDOUT if merge_stdout else subprocess.PIPE
        self.proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, errors="replace", env=full_env)
        self._stream = self.proc.stdout if merge_stdout else self.proc.stderr
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self._stream:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                if len(self.lines) > self.max_lines:
                    del self.lines[:self.max_lines // 2]

    def find(self, pattern):
        """The first collected line matching pattern (a re.Match), or None.

        Fails (the Deadline's fail) if the process has exited.
        """
        if self.proc.poll() is not None:
            self.deadline.fail(f"{self.name} exited early with {self.proc.returncode}: {self.tail(40)}")
        with self.lock:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def matching(self, pattern):
        """Every collected line matching pattern."""
        with self.lock:
            return [l for l in self.lines if re.search(pattern, l)]

    def log(self):
        """Everything collected, one string."""
        with self.lock:
            return "\n".join(self.lines)

    def tail(self, n):
        """The last n collected lines, one string."""
        with self.lock:
            return "\n".join(self.lines[-n:])

    def request(self, method, path, body=None, token=..., timeout=3.0, headers=None):
        """http_request to this agent's API; token defaults to .token."""
        return http_request(method, f"http://{self.api}{path}", body, self.token if token is ... else token,
                            timeout, headers)

    def get_json(self, path, expect=200, timeout=3.0):
        """GET path (no token); checks the status (unless expect is None), parses JSON."""
        r = http_request("GET", f"http://{self.api}{path}", timeout=timeout)
        if expect is not None:
            check(r.status == expect, f"{self.name}: GET {path}: status {r.status}, expected {expect}: {r.text}")
        return r.json()

    def targets(self, query=""):
        """GET /v1/targets as {id: entry}."""
        return {t["id"]: t for t in self.get_json("/v1/targets" + query)}

    def kill(self):
        """SIGKILL (works on a SIGSTOPped process too) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def stop(self, timeout_s=5):
        """SIGTERM, wait up to timeout_s, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()


def start_proc(name, args, **kw):
    """HeckProc(name, args, **kw): env, merge_stdout, max_lines, deadline."""
    return HeckProc(name, args, **kw)


def start_agent(heck, name=None, bind="127.0.0.1:0", api="127.0.0.1:0", join=(), key=None, data_dir=None,
                extra=(), token=None, wait_s=10, prefix=(), **kw):
    """Starts `heck agent` and (unless wait_s is None) waits for its listening line.

    name, bind, api, key, data_dir: the flags, left out when None; join: one
    --join each; extra: more arguments (--config F, SWIM timings, ...); token:
    the default bearer token of request(); prefix: a command the agent runs
    under (a profiler). kw: as HeckProc (env overrides, a value None removes
    the variable; deadline bounds the wait and fails).
    """
    args = list(prefix) + [heck, "agent"]
    for flag, value in (("--name", name), ("--bind", bind), ("--api", api), ("--key", key),
                        ("--data-dir", data_dir)):
        if value is not None:
            args += [flag, value]
    args += list(extra)
    for j in join:
        args += ["--join", j]
    h = HeckProc(name or "agent", args, **kw)
    h.token = token
    if wait_s is not None:
        m = h.deadline.poll(f"{h.name}'s addresses in its log", lambda: h.find(AGENT_LISTENING), wait_s)
        h.cluster = m.group(2)
        h.api_port = int(m.group(3))
        h.api = f"127.0.0.1:{h.api_port}"
    return h


def stop_all(handles, graceful=False):
    """kill() (or stop() if graceful) every handle, the last started first."""
    for h in reversed(list(handles)):
        if graceful:
            h.stop()
        else:
            h.kill()


def exit_status(h):
    """'running', 'exited 0', or 'killed by SIGSEGV' (as subprocess reports it)."""
    code = h.proc.poll()
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited {code}"


def dump_logs(handles, last_lines=None):
    """Prints each handle's collected output (or its last lines) on stderr,
    headed by whether the process still runs or how it ended (a process the
    test did not stop that is gone is a crash: its log may say nothing)."""
    for h in handles:
        status = exit_status(h)
        if last_lines is None:
            print(f"--- {h.name} log ({status}) ---\n{h.log()}", file=sys.stderr)
        else:
            print(f"--- {h.name} log ({status}; last {last_lines} lines) ---\n{h.tail(last_lines)}", file=sys.stderr)


# ---- the heck CLI and the file system -------------------------------------------

def args_or_usage(doc, count=1):
    """sys.argv[1:] when it holds count arguments; otherwise prints doc and exits 2."""
    if len(sys.argv) != count + 1:
        print(doc, file=sys.stderr)
        sys.exit(2)
    return sys.argv[1:]


def run_heck(heck, *args, timeout=15):
    """Runs `heck args...`; returns the CompletedProcess (text output captured)."""
    return subprocess.run([heck, *args], capture_output=True, text=True, timeout=timeout)


def keygen(heck):
    """A fresh cluster key from `heck keygen`."""
    return subprocess.run([heck, "keygen"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()


def swim_flags(leave_timeout_ms=300):
    """The tests' short SWIM timings: probe every 200 ms (timeout 100 ms), gossip
    every 50 ms, suspicion multiplier 10, push-pull every 5 s."""
    return ["--probe-interval-ms", "200", "--probe-timeout-ms", "100", "--gossip-interval-ms", "50",
            "--suspicion-mult", "10", "--push-pull-interval-ms", "5000", "--leave-timeout-ms", str(leave_timeout_ms)]


def keep_tmp():
    """True when HECK_KEEP_TMP=1: temporary directories are kept for a look."""
    return os.environ.get("HECK_KEEP_TMP") == "1"


@contextlib.contextmanager
def temp_dir(prefix):
    """A temporary directory, removed afterwards unless keep_tmp() (then its path
    is printed on stderr)."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        if keep_tmp():
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)
