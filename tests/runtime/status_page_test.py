#!/usr/bin/env python3
"""The status page (GET /) in headless Chromium (python3 standard library only).

One `heck agent` checks two local HTTP targets served by this test (one
answers 200, one 503). Once the agent reports them, Chromium loads the page
with a virtual time budget (its scripts fetch the API and render) and dumps
the DOM; the test asserts:
  - the members table has this agent's row, alive;
  - the targets table has a row per target with data-status, the unhealthy
    one first (and no other order of statuses), each with a strip of its
    recent statuses ending in its status and a latency sparkline;
  - the header counts say 1 unhealthy and 1 healthy;
  - the recent changes list the targets' changes;
  - with #target=broken in the URL, the detail view shows that target: its
    status, uptime over the last hour (0%: it never answered), a latency
    sparkline with a point per check the agent ran, and its transitions.
It also saves a screenshot (PNG) in its temporary directory (kept, and its
path printed, when HECK_KEEP_TMP=1).

Exits 77 (CTest SKIP_RETURN_CODE) only when no chromium binary is installed
(tools/setup.sh installs the Debian package `chromium`).

Usage: status_page_test.py PATH_TO_HECK
"""

import html.parser
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (Deadline, QuietHandler, args_or_usage, check, keep_tmp, serve_http, start_agent,  # noqa: E402
                       temp_dir)

DEADLINE = Deadline(100, interval_s=0.1)  # the whole test
poll = DEADLINE.poll
SKIP = 77


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Target(QuietHandler):
    def do_GET(self):
        self.reply(503 if self.path.startswith("/broken") else 200, b"state\n")


class Dom(html.parser.HTMLParser):
    """Collects the rows of the tables by their data attributes, and texts by id."""

    def __init__(self):
        super().__init__()
        self.rows = {"members": [], "targets": [], "changes": []}
        self.table = None
        self.texts = {}
        self.text_id = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") in self.rows:
            self.table = a["id"]
        elif tag == "tr" and self.table and any(k.startswith("data-") for k in a):
            self.rows[self.table].append(a)
        elif self.table == "targets" and self.rows["targets"]:
            # A row's recent column: the strip's blocks and the sparkline.
            row = self.rows["targets"][-1]
            if tag == "span" and a.get("class") == "block":
                row.setdefault("_blocks", []).append(a.get("data-to"))
            if tag == "svg" and a.get("class") == "mini-latency":
                row["_samples"] = int(a.get("data-samples", "0"))
        if "id" in a and a["id"].startswith("count-"):
            self.text_id = a["id"]
            self.texts[self.text_id] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag == "span":
            self.text_id = None

    def handle_data(self, data):
        if self.text_id:
            self.texts[self.text_id] += data


class Detail(html.parser.HTMLParser):
    """The detail view's parts: element attributes by id, the strip's blocks and the transition rows."""

    def __init__(self):
        super().__init__()
        self.by_id = {}
        self.blocks = []
        self.transitions = []
        self.points = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = a
        if a.get("class") == "block":
            self.blocks.append(a.get("data-to"))
        if tag == "tr" and "data-transition-to" in a:
            self.transitions.append(a["data-transition-to"])
        if tag == "polyline":
            self.points = a.get("points", "")


def main():
    [heck] = args_or_usage(__doc__)
    chromium = find_chromium()
    if not chromium:
        print("SKIP: no chromium binary (install the Debian package `chromium`; tools/setup.sh does)", file=sys.stderr)
        return SKIP

    srv = serve_http(Target)
    port = srv.server_address[1]
    agent = None
    with temp_dir("heck-page-") as tmp:
        try:
            agent = start_page_agent(heck, tmp, port)
            check_page(chromium, agent, tmp)
        except BaseException:
            print("--- agent log ---\n" + (agent.log() if agent else ""), file=sys.stderr)
            raise
        finally:
            if agent:
                agent.kill()
            srv.shutdown()
    print("PASS")
    return 0


def start_page_agent(heck, tmp, port):
    """An agent named `page` checking web (200) and broken (503) on the test's server."""
    config = {"name": "page", "targets": [
        {"id": "web", "url": f"http://127.0.0.1:{port}/ok", "interval_ms": 300, "timeout_ms": 200},
        {"id": "broken", "url": f"http://127.0.0.1:{port}/broken", "interval_ms": 300, "timeout_ms": 200},
    ]}
    path = os.path.join(tmp, "heck.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return start_agent(heck, extra=["--config", path], deadline=DEADLINE)


def check_page(chromium, agent, tmp):
    def get_json(path):
        return agent.get_json(path, expect=None)  # any status: the poll retries until the body is right

    poll("web healthy and broken unhealthy",
         lambda: {t["id"]: t["status"] for t in get_json("/v1/targets")} == {"web": "healthy", "broken": "unhealthy"},
         15)
    poll("both changes in /v1/changes", lambda: len(get_json("/v1/changes")) >= 2, 5)

    url = f"http://{agent.api}/"
    common = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", f"--user-data-dir={os.path.join(tmp, 'profile')}",
              "--virtual-time-budget=8000", "--window-size=1280,900"]
    r = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"chromium --dump-dom exited {r.returncode}: {r.stderr[-2000:]}")
    dom = Dom()
    dom.feed(r.stdout)

    members = dom.rows["members"]
    check(any(m.get("data-member") == "page" and m.get("data-state") == "alive" for m in members),
          f"no alive member row for 'page': {members}\n{r.stdout[:3000]}")
    targets = dom.rows["targets"]
    by_id = {t.get("data-target"): t.get("data-status") for t in targets}
    check(by_id == {"web": "healthy", "broken": "unhealthy"}, f"target rows {targets}")
    check(targets[0].get("data-target") == "broken", f"the unhealthy target is not first: {targets}")
    check(all(t.get("data-stale") == "false" for t in targets), f"stale flags: {targets}")
    row = {t.get("data-target"): t for t in targets}
    check(row["broken"].get("_blocks", [])[-1:] == ["unhealthy"] and row["web"].get("_blocks", [])[-1:] == ["healthy"]
          and row["broken"].get("_samples", 0) >= 1 and row["web"].get("_samples", 0) >= 1,
          f"the rows' recent strips and sparklines: {targets}")
    check(dom.texts.get("count-unhealthy", "").strip() == "1 unhealthy", f"header counts: {dom.texts}")
    check(dom.texts.get("count-healthy", "").strip() == "1 healthy", f"header counts: {dom.texts}")
    changed = {c.get("data-change-target") for c in dom.rows["changes"]}
    check({"web", "broken"} <= changed, f"change rows: {dom.rows['changes']}")
    print("ok: the page renders the member, both targets (unhealthy first, each with its recent strip and latency "
          "sparkline), the counts and the changes")

    # The detail view of one target.
    r = subprocess.run(common + ["--dump-dom", url + "#target=broken"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"chromium --dump-dom (detail) exited {r.returncode}: {r.stderr[-2000:]}")
    d = Detail()
    d.feed(r.stdout)
    section = d.by_id.get("detail", {})
    check(section.get("data-target") == "broken" and "hidden" not in section, f"detail section: {section}")
    check(d.by_id.get("uptime-1h", {}).get("data-fraction") == "0", f"uptime 1h: {d.by_id.get('uptime-1h')}")
    samples = int(d.by_id.get("latency", {}).get("data-samples", "0"))
    check(samples >= 2 and d.points is not None and len(d.points.split()) == samples,
          f"sparkline: {samples} samples, points {d.points!r}")
    check(d.blocks[-1:] == ["unhealthy"] and d.transitions[:1] == ["unhealthy"],
          f"strip {d.blocks}, transitions {d.transitions}")
    print(f"ok: #target=broken shows its detail: 0% uptime, a {samples}-point latency sparkline, its transitions")

    shot = os.path.join(tmp, "status_page.png")
    r = subprocess.run(common + [f"--screenshot={shot}", url + "#target=broken"], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, f"chromium --screenshot exited {r.returncode}: {r.stderr[-2000:]}")
    with open(shot, "rb") as f:
        head = f.read(8)
    check(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(shot) > 10_000, f"screenshot {shot}: not a PNG")
    print(f"ok: screenshot saved ({os.path.getsize(shot)} bytes){' at ' + shot if keep_tmp() else ''}")


if __name__ == "__main__":
    sys.exit(main())
