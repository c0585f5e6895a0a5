#!/usr/bin/env python3
"""End-to-end test of `heck agent` (python3 standard library only).

Starts local targets on 127.0.0.1 ephemeral ports -- healthy (200), failing
(503), hanging (accepts, never answers), flapping (200/503 every 1.5 s),
garbage bytes, a 10 MB body, an endless chunked body -- writes a config with
short intervals, runs `heck agent --config F --api 127.0.0.1:0`, and checks
what the API and /metrics say. Also: bad configs are refused (exit 2, the
message names the field), and SIGTERM stops the agent with exit 0.

Usage: agent_integration_test.py PATH_TO_HECK
Every wait is a bounded poll; the whole test takes well under 60 s.
"""

import http.client
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import Deadline, QuietHandler, args_or_usage, check, fail, free_port, start_agent, temp_dir  # noqa: E402

# The whole test; polls every 0.1 s; a KeyError in a poll is a failure, not "not yet".
DEADLINE = Deadline(55, interval_s=0.1, retry_on=(OSError, http.client.HTTPException, ValueError))
poll = DEADLINE.poll
STOP = threading.Event()  # tells the target threads to give up


# --- targets -------------------------------------------------------------------

class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients (the agent) hang up on purpose: too large, timeouts


def serve(handler_cls):
    srv = Threaded(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return srv


class Healthy(QuietHandler):
    def do_GET(self):
        self.reply(200, b"ok\n")


class Failing(QuietHandler):
    def do_GET(self):
        self.reply(503, b"down\n")


FLAP_START = time.monotonic()


class Flapping(QuietHandler):
    def do_GET(self):
        up = int((time.monotonic() - FLAP_START) / 1.5) % 2 == 0
        self.reply(200 if up else 503, b"up\n" if up else b"down\n")


class Hanging(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(1)
        try:
            self.request.recv(4096)
        except OSError:
            pass
        STOP.wait(30)  # accept, read, never answer


class Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(2)
        try:
            self.request.recv(4096)
            self.request.sendall(b"\x00\xff\xfeSSH-2.0-not-http\r\n\x01\x02garbage garbage\r\n\r\n")
        except OSError:
            pass


class Huge(QuietHandler):
    def do_GET(self):
        size = 10 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(size // len(chunk)):
                if STOP.is_set():
                    return
                self.wfile.write(chunk)
        except OSError:
            pass


class Endless(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"y" * 8192
        frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        end = time.monotonic() + 20
        try:
            while not STOP.is_set() and time.monotonic() < end:
                self.wfile.write(frame)
        except OSError:
            pass
        self.close_connection = True


# --- the agent -----------------------------------------------------------------

def get_json(agent, path, expect=200):
    status, headers, body = agent.request("GET", path, timeout=5)
    check(status == expect, f"GET {path}: status {status}, expected {expect}: {body}")
    check(headers.get("Content-Type") == "application/json", f"GET {path}: content type {headers}")
    return json.loads(body)


def targets(agent, query=""):
    return {t["id"]: t for t in get_json(agent, "/v1/targets" + query)}


def write_config(dirname, name, text):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_bad_configs(heck, tmp):
    good = {"id": "a", "url": "http://127.0.0.1:9/"}
    cases = [
        ("unknown key", {"targets": [good], "colour": "red"}, "colour"),
        ("unknown target key", {"targets": [dict(good, colour="red")]}, "targets[0].colour"),
        ("wrong type", {"targets": [dict(good, interval_ms="1000")]}, "targets[0].interval_ms"),
        ("interval 0", {"targets": [good, dict(good, id="b", interval_ms=0)]}, "targets[1].interval_ms"),
        ("timeout >= interval", {"targets": [dict(good, interval_ms=1000, timeout_ms=1000)]},
         "targets[0].timeout_ms"),
        ("bad url", {"targets": [dict(good, url="http//nope")]}, "targets[0].url"),
        ("duplicate id", {"targets": [good, dict(good)]}, "targets[1].id"),
        ("bad api", {"targets": [good], "api": "nowhere"}, "api"),
        ("renamed key", {"targets": [good], "swim": {"suspicion_max_timeout_mult": 6}},
         "swim.suspicion_max_timeout_mult: renamed to max_suspicion_timeout_mult"),
    ]
    for label, doc, field in cases:
        path = write_config(tmp, "bad.json", json.dumps(doc))
        r = subprocess.run([heck, "agent", "--config", path, "--api", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2, f"{label}: exit code {r.returncode}, expected 2 ({r.stderr})")
        check(field in r.stderr, f"{label}: message does not name {field}: {r.stderr!r}")
        check("started" not in r.stderr, f"{label}: the agent started anyway: {r.stderr!r}")

    path = write_config(tmp, "bad.json", '{"targets": [\n  {"id": "a",}\n]}')
    r = subprocess.run([heck, "agent", "--config", path], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2, f"not JSON: exit code {r.returncode} ({r.stderr})")
    check("not valid JSON" in r.stderr and "line 2" in r.stderr, f"not JSON: no line in {r.stderr!r}")

    r = subprocess.run([heck, "agent", "--config", os.path.join(tmp, "missing.json")],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "missing.json" in r.stderr, f"missing file: {r.returncode} {r.stderr!r}")

    r = subprocess.run([heck, "agent", "--config", path, "--api", "300.1.1.1:1"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2, f"bad --api: exit code {r.returncode}")
    print("ok: bad configs refused with exit 2, naming the field")


def main():
    [heck] = args_or_usage(__doc__)
    with temp_dir("heck-it-") as tmp:
        test_bad_configs(heck, tmp)

        servers = {name: serve(cls) for name, cls in [
            ("healthy", Healthy), ("failing", Failing), ("hanging", Hanging), ("flapping", Flapping),
            ("garbage", Garbage), ("huge", Huge), ("endless", Endless)]}
        port = {name: srv.server_address[1] for name, srv in servers.items()}

        def target(tid, url, rise=1, fall=1):
            return {"id": tid, "url": url, "interval_ms": 500, "timeout_ms": 300, "rise": rise, "fall": fall}

        # A port nothing listens on: bound, then closed.
        refused_port = free_port()

        config = {"targets": [
            target("healthy", f"http://127.0.0.1:{port['healthy']}/healthz", rise=2),
            target("failing", f"http://127.0.0.1:{port['failing']}/", fall=2),
            target("hanging", f"http://127.0.0.1:{port['hanging']}/"),
            target("flapping", f"http://127.0.0.1:{port['flapping']}/"),
            target("garbage", f"http://127.0.0.1:{port['garbage']}/"),
            target("huge", f"http://127.0.0.1:{port['huge']}/"),
            target("endless", f"http://127.0.0.1:{port['endless']}/"),
            target("refused", f"http://127.0.0.1:{refused_port}/"),
            target("tcp", f"tcp://127.0.0.1:{port['healthy']}"),
        ]}
        path = write_config(tmp, "heck.json", json.dumps(config))
        agent = start_agent(heck, extra=["--config", path], deadline=DEADLINE)
        try:
            run_agent_checks(agent)
        except BaseException:
            print("--- agent log ---\n" + agent.log(), file=sys.stderr)
            raise
        finally:
            agent.kill()
        STOP.set()
        for srv in servers.values():
            srv.shutdown()
    print("PASS")
    return 0


def run_agent_checks(agent):
    expected = {
        "healthy": ("healthy", {"ok"}),
        "failing": ("unhealthy", {"bad_status"}),
        "hanging": ("unhealthy", {"timeout"}),
        "garbage": ("unhealthy", {"protocol_error"}),
        "huge": ("unhealthy", {"response_too_large"}),
        "endless": ("unhealthy", {"response_too_large", "timeout"}),
        "refused": ("unhealthy", {"connection_refused"}),
        "tcp": ("healthy", {"ok"}),
    }
    seen_flap = set()

    def settled():
        ts = targets(agent)
        seen_flap.add(ts["flapping"]["status"])
        return all(ts[i]["status"] == st and ts[i]["result"] in results for i, (st, results) in expected.items())

    poll("every target to reach its expected status", settled, 15)
    ts = targets(agent)
    check(sorted(ts) == sorted(list(expected) + ["flapping"]), f"unexpected target list {sorted(ts)}")
    check(ts["failing"]["reason"] == "status 503", f"failing reason {ts['failing']['reason']!r}")
    check(ts["failing"]["status_code"] == 503, "failing status_code")
    check(ts["hanging"]["reason"].startswith("timeout"), f"hanging reason {ts['hanging']['reason']!r}")
    check(ts["garbage"]["reason"].startswith("protocol error"), f"garbage reason {ts['garbage']['reason']!r}")
    check(ts["huge"]["reason"].startswith("response too large"), f"huge reason {ts['huge']['reason']!r}")
    h = ts["healthy"]
    check(h["reason"] == "ok (status 200)", f"healthy reason {h['reason']!r}")
    check(isinstance(h["latency_ms"], (int, float)) and 0 <= h["latency_ms"] < 300, f"latency {h['latency_ms']}")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", h["checked_at"] or ""), f"checked_at {h}")
    check(h["interval_ms"] == 500 and h["timeout_ms"] == 300, "interval/timeout echoed")
    check(h["checks"] >= 2 and h["consecutive_successes"] >= 2, f"counts {h}")
    print("ok: every target reached its expected status with a sensible reason")

    # The flapping target is seen both ways (it changes every 1.5 s).
    poll("the flapping target to be seen healthy and unhealthy",
         lambda: seen_flap.add(get_json(agent, "/v1/targets/flapping")["status"]) or
         {"healthy", "unhealthy"} <= seen_flap, 10)
    print("ok: flapping target observed healthy and unhealthy")

    # Filters.
    unhealthy = {t["id"] for t in get_json(agent, "/v1/targets?status=unhealthy")}
    want = {i for i, (st, _) in expected.items() if st == "unhealthy"}
    check(want <= unhealthy <= want | {"flapping"}, f"?status=unhealthy gave {unhealthy}")
    healthy = {t["id"] for t in get_json(agent, "/v1/targets?status=healthy")}
    check({"healthy", "tcp"} <= healthy <= {"healthy", "tcp", "flapping"}, f"?status=healthy gave {healthy}")
    err = get_json(agent, "/v1/targets?status=sick", expect=400)
    check("healthy, unhealthy, unknown" in err["error"], f"400 error names the allowed values: {err}")

    # One target; errors.
    one = get_json(agent, "/v1/targets/failing")
    check(one["id"] == "failing" and one["status"] == "unhealthy", f"/v1/targets/failing: {one}")
    err = get_json(agent, "/v1/targets/nope", expect=404)
    check(err.get("error") and err.get("path") == "/v1/targets/nope", f"404 JSON: {err}")
    err = get_json(agent, "/no/such/path", expect=404)
    check(err == {"error": "not found", "path": "/no/such/path"}, f"404 JSON: {err}")
    status, headers, body = agent.request("POST", "/v1/targets", timeout=5)
    check(status == 405, f"POST /v1/targets: {status}")
    check(headers.get("Allow") == "GET, HEAD", f"405 Allow header: {headers}")
    check("error" in json.loads(body), f"405 JSON: {body}")
    status, headers, body = agent.request("HEAD", "/v1/targets", timeout=5)
    check(status == 200 and body == "" and int(headers["Content-Length"]) > 0, f"HEAD: {status} {headers}")
    print("ok: /v1/targets/{id}, 404 and 405 JSON errors, HEAD")

    health = get_json(agent, "/v1/health")
    check(health["status"] == "ok" and health["targets"] == 9 and health["version"] == "0.1.0", f"health {health}")

    # Metrics.
    status, headers, text = agent.request("GET", "/metrics", timeout=5)
    check(status == 200 and headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          f"/metrics: {status} {headers}")
    for needle in ['heck_target_up{target="healthy"} 1', 'heck_target_up{target="failing"} 0',
                   'heck_checks_total{target="failing",result="bad_status"} ',
                   'heck_checks_total{target="hanging",result="timeout"} ',
                   'heck_check_duration_seconds_bucket{target="healthy",le="+Inf"} ',
                   'heck_check_duration_seconds_count{target="healthy"} ',
                   'heck_build_info{version="0.1.0"} 1', "heck_checks_in_flight ", "heck_checks_queued ",
                   "heck_stale_results_total ", 'heck_api_requests_total{code="404"} ',
                   'heck_status_changes_total{target="failing"} ']:
        check(needle in text, f"/metrics lacks {needle!r}")
    for line in text.splitlines():
        check(line.startswith("#") or line.startswith("heck_"), f"unprefixed metric line {line!r}")
    print("ok: /metrics")

    # Status changes were logged, one line each.
    check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ target failing unknown -> unhealthy \(status 503\)$",
                    agent.log(), re.M), "no status change line for 'failing' in the log")

    # Still answering after the hostile targets, then SIGTERM stops it cleanly.
    check(get_json(agent, "/v1/health")["status"] == "ok", "agent stopped answering")
    agent.proc.send_signal(signal.SIGTERM)
    try:
        rc = agent.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        agent.proc.kill()
        fail("agent did not exit within 5 s of SIGTERM")
    check(rc == 0, f"exit code after SIGTERM: {rc}")
    poll("the final log line", lambda: "stopped" in agent.log().splitlines()[-1], 2)
    print("ok: SIGTERM -> exit 0")


if __name__ == "__main__":
    sys.exit(main())
