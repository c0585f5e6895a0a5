#include "runtime/status_page.h"

namespace heck::runtime {

namespace {

// The raw string's delimiter "heckpage" never occurs in the page.
constexpr std::string_view kPage = R"heckpage(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>heck</title>
<style>
  :root { --red: #c62828; --green: #2e7d32; --grey: #616161; --amber: #b26a00; --blue: #1565c0;
          --bg: #fafafa; --line: #e0e0e0; --text: #212121; --muted: #757575; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--text); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; padding: 14px 20px;
           background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
  header h1 { margin: 0; font-size: 20px; font-weight: 600; }
  header h1 .dim { color: var(--muted); font-weight: 400; }
  .counts { display: flex; flex-wrap: wrap; gap: 8px; }
  .badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; color: #fff;
           white-space: nowrap; background: var(--grey); }
  .badge.healthy, .badge.alive { background: var(--green); }
  .badge.unhealthy, .badge.dead { background: var(--red); }
  .badge.unknown, .badge.left { background: var(--grey); }
  .badge.stale, .badge.suspect { background: var(--amber); }
  .badge.total { background: var(--blue); }
  .badge.zero { opacity: 0.35; }
  #updated { color: var(--muted); margin-left: auto; }
  #error { display: none; margin: 12px 20px 0; padding: 10px 14px; border-radius: 6px; background: #ffebee;
           color: var(--red); border: 1px solid #ef9a9a; font-weight: 600; }
  main { padding: 8px 20px 32px; display: grid; gap: 20px; }
  section h2 { font-size: 15px; margin: 12px 0 6px; }
  section h2 .dim { color: var(--muted); font-weight: 400; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: #f5f5f5; font-weight: 600; font-size: 12px; text-transform: uppercase; color: var(--muted); }
  td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
  td.url { max-width: 420px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  tr[data-status="unhealthy"] { background: #ffebee; }
  tr[data-status="unhealthy"] td:first-child { border-left: 4px solid var(--red); }
  tr[data-stale="true"] td.stale { color: var(--amber); font-weight: 600; }
  tr[data-state="dead"], tr[data-state="left"] { color: var(--muted); }
  .empty { color: var(--muted); font-style: italic; }
  .note { color: var(--muted); font-size: 12px; margin-top: 4px; }
  .self { color: var(--muted); font-size: 12px; }
  #detail .facts { display: flex; gap: 18px; align-items: center; flex-wrap: wrap; margin: 4px 0 8px; }
  #latency { background: #fff; border: 1px solid var(--line); }
  #latency polyline { fill: none; stroke: #1565c0; stroke-width: 1.5; }
  #strip, .mini-strip { display: flex; gap: 2px; }
  #strip .block { width: 14px; height: 18px; border-radius: 2px; background: #bdbdbd; }
  .mini-strip .block { width: 5px; height: 12px; border-radius: 1px; background: #bdbdbd; }
  #strip .block[data-to="healthy"], .mini-strip .block[data-to="healthy"] { background: var(--green); }
  #strip .block[data-to="unhealthy"], .mini-strip .block[data-to="unhealthy"] { background: var(--red); }
  td.recent { white-space: nowrap; }
  td.recent .mini-strip { display: inline-flex; vertical-align: middle; margin-right: 6px; }
  svg.mini-latency { vertical-align: middle; }
  svg.mini-latency polyline { fill: none; stroke: #1565c0; stroke-width: 1; }
  a.target-link { color: inherit; }
</style>
</head>
<body>
<header>
  <h1>heck <span class="dim">agent</span> <span id="agent-name">&hellip;</span></h1>
  <div id="summary" class="counts">
    <span class="badge unhealthy" id="count-unhealthy">&ndash; unhealthy</span>
    <span class="badge unknown" id="count-unknown">&ndash; unknown</span>
    <span class="badge healthy" id="count-healthy">&ndash; healthy</span>
    <span class="badge stale" id="count-stale">&ndash; stale</span>
    <span class="badge total" id="count-total">&ndash; targets</span>
  </div>
  <div id="member-summary" class="counts"></div>
  <span id="updated">loading&hellip;</span>
</header>
<div id="error" role="alert"></div>
<main>
  <section>
    <h2>Targets <span class="dim" id="targets-note"></span></h2>
    <table id="targets">
      <thead><tr><th>id</th><th>url</th><th>status</th><th>recent</th><th>stale</th><th>owners</th>
        <th>last observer</th><th>age</th><th>reason</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="detail" hidden>
    <h2>Target <span class="mono" id="detail-id"></span> <span class="dim">(this agent's view of its past;
      <a href="#">close</a>)</span></h2>
    <div class="facts">
      <span id="detail-status"></span>
      <span>uptime 1 h <b id="uptime-1h">&ndash;</b></span>
      <span>24 h <b id="uptime-24h">&ndash;</b></span>
      <span>latency of the last checks <svg id="latency" width="240" height="36" role="img"></svg>
        <span class="dim" id="latency-note"></span></span>
    </div>
    <div id="strip" title="recent transitions, oldest first"></div>
    <table id="transitions">
      <thead><tr><th>at</th><th>change</th><th>observer</th><th>reason</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Members</h2>
    <table id="members">
      <thead><tr><th>name</th><th>address</th><th>state</th><th>incarnation</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Recent changes <span class="dim">(replicated view, newest first)</span></h2>
    <table id="changes">
      <thead><tr><th>at</th><th>target</th><th>change</th><th>observer</th><th>reason</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
(function () {
  var REFRESH_MS = 2000, MAX_TARGET_ROWS = 1000, MAX_CHANGE_ROWS = 50;
  var ORDER = { unhealthy: 0, unknown: 1, healthy: 2 };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function cell(row, text, cls) {
    var td = el("td", cls ? { "class": cls } : null, text);
    row.appendChild(td);
    return td;
  }
  function badge(status) { return el("span", { "class": "badge " + status }, status); }
  function setCount(id, n, label) {
    var b = document.getElementById(id);
    b.textContent = n + " " + label;
    b.classList.toggle("zero", n === 0);
  }
  function age(ms) {
    if (ms === null || ms === undefined) return "\u2013";
    if (ms < 1000) return ms + " ms";
    var s = Math.round(ms / 1000);
    if (s < 120) return s + " s";
    var m = Math.round(s / 60);
    if (m < 120) return m + " min";
    return Math.round(m / 60) + " h";
  }
  function replaceBody(table, rows) {
    var old = table.tBodies[0], body = document.createElement("tbody");
    rows.forEach(function (r) { body.appendChild(r); });
    table.replaceChild(body, old);
  }
  function empty(cols, text) {
    var tr = el("tr");
    var td = el("td", { colspan: String(cols), "class": "empty" }, text);
    tr.appendChild(td);
    return tr;
  }

  function renderStatus(s) {
    document.getElementById("agent-name").textContent = s.name + " (" + s.version + ")";
    document.title = (s.targets.unhealthy > 0 ? "(" + s.targets.unhealthy + " unhealthy) " : "") + "heck " + s.name;
    setCount("count-unhealthy", s.targets.unhealthy, "unhealthy");
    setCount("count-unknown", s.targets.unknown, "unknown");
    setCount("count-healthy", s.targets.healthy, "healthy");
    setCount("count-stale", s.targets.stale, "stale");
    setCount("count-total", s.targets.total, "targets");
    var ms = document.getElementById("member-summary");
    while (ms.firstChild) ms.removeChild(ms.firstChild);
    ["alive", "suspect", "dead", "left"].forEach(function (st) {
      var n = s.members[st] || 0;
      if (n === 0 && st !== "alive") return;
      var b = el("span", { "class": "badge " + st, id: "members-" + st }, n + " " + st);
      ms.appendChild(b);
    });
  }

  function renderMembers(list) {
    var rows = list.map(function (m) {
      var tr = el("tr", { "data-member": m.name, "data-state": m.state });
      var name = cell(tr, m.name, "mono");
      if (m.self) name.appendChild(el("span", { "class": "self" }, " (this agent)"));
      cell(tr, m.address, "mono");
      cell(tr, "").appendChild(badge(m.state));
      cell(tr, m.incarnation);
      return tr;
    });
    replaceBody(document.getElementById("members"), rows.length ? rows : [empty(4, "no members")]);
  }

  function renderTargets(list) {
    list.sort(function (a, b) {
      var d = (ORDER[a.status] !== undefined ? ORDER[a.status] : 3) - (ORDER[b.status] !== undefined ? ORDER[b.status] : 3);
      if (d !== 0) return d;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    var shown = list.slice(0, MAX_TARGET_ROWS);
    var rows = shown.map(function (t) {
      var tr = el("tr", { "data-target": t.id, "data-status": t.status, "data-stale": String(!!t.stale) });
      cell(tr, "", "mono").appendChild(el("a", { "class": "target-link", "href": "#target=" + encodeURIComponent(t.id) },
                                          t.id));
      var u = cell(tr, t.url, "mono url");
      u.title = t.url;
      cell(tr, "").appendChild(badge(t.status));
      // Recent: the statuses of its last transitions and this agent's last
      // check latencies (only where it checks the target).
      var rc = cell(tr, "", "recent"), recent = t.recent || { statuses: [], latency_ms: [] };
      var mini = el("span", { "class": "mini-strip", title: "last transitions, oldest first" });
      recent.statuses.forEach(function (st) { mini.appendChild(el("span", { "class": "block", "data-to": st })); });
      rc.appendChild(mini);
      if (recent.latency_ms.length) {
        var svg = sparkline(recent.latency_ms, 60, 14, "mini-latency");
        svg.setAttribute("aria-label", "latency of the last checks here");
        rc.appendChild(svg);
      }
      cell(tr, t.stale ? "stale" : "no", "stale");
      cell(tr, (t.owners || []).join(", "), "mono");
      cell(tr, t.last_observer || "\u2013", "mono");
      cell(tr, age(t.age_ms));
      cell(tr, t.reason || "\u2013");
      return tr;
    });
    replaceBody(document.getElementById("targets"), rows.length ? rows : [empty(9, "no targets registered")]);
    document.getElementById("targets-note").textContent =
      list.length > shown.length ? "(showing " + shown.length + " of " + list.length + ", unhealthy first)"
                                 : "(" + list.length + ", unhealthy first)";
  }

  function renderChanges(list) {
    var recent = list.slice(-MAX_CHANGE_ROWS).reverse();
    var rows = recent.map(function (c) {
      var tr = el("tr", { "data-change-target": c.target, "data-to": c.to });
      cell(tr, c.at, "mono");
      cell(tr, c.target, "mono");
      var td = cell(tr, "");
      td.appendChild(badge(c.from));
      td.appendChild(document.createTextNode(" \u2192 "));
      td.appendChild(badge(c.to));
      cell(tr, c.observer || "\u2013", "mono");
      cell(tr, c.reason || "\u2013");
      return tr;
    });
    replaceBody(document.getElementById("changes"), rows.length ? rows : [empty(5, "no changes yet")]);
  }

  // The detail view of the target named in the URL (#target=ID).
  function selected() {
    var m = /^#target=(.+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }
  // A polyline of `values` in a w x h box, scaled to the largest.
  var SVG_NS = "http://www.w3.org/2000/svg";
  function drawSparkline(svg, values, w, h) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = 0;
    values.forEach(function (v) { max = Math.max(max, v); });
    var points = values.map(function (v, i) {
      var x = values.length > 1 ? (i * (w - 2)) / (values.length - 1) + 1 : w / 2;
      var y = h - 1 - (max > 0 ? (v / max) * (h - 3) : 0);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    var line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.appendChild(line);
    svg.setAttribute("data-samples", String(values.length));
  }
  function sparkline(values, w, h, cls) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", String(w));
    svg.setAttribute("height", String(h));
    svg.setAttribute("class", cls);
    drawSparkline(svg, values, w, h);
    return svg;
  }
  function percent(u) {
    return u.fraction === null ? "\u2013" : (u.fraction * 100).toFixed(2) + "%";
  }
  function renderDetail(h) {
    var section = document.getElementById("detail");
    section.hidden = false;
    section.setAttribute("data-target", h.id);
    document.getElementById("detail-id").textContent = h.id;
    var st = document.getElementById("detail-status");
    while (st.firstChild) st.removeChild(st.firstChild);
    st.appendChild(badge(h.status));
    var u1 = document.getElementById("uptime-1h"), u24 = document.getElementById("uptime-24h");
    u1.textContent = percent(h.uptime["1h"]);
    u24.textContent = percent(h.uptime["24h"]);
    u1.setAttribute("data-fraction", String(h.uptime["1h"].fraction));
    // Sparkline: one point per check in this agent's ring (its own checks
    // and those handed over with the target), scaled to the slowest.
    var svg = document.getElementById("latency");
    var samples = h.latency.samples;
    drawSparkline(svg, samples.map(function (s) { return s.ms; }), 240, 36);
    var handed = samples.filter(function (s) { return !s.here; }).length;
    document.getElementById("latency-note").textContent = samples.length
      ? "p50 " + h.latency.p50_ms + " ms, max " + h.latency.max_ms + " ms (" + samples.length + " checks" +
        (handed ? ", " + handed + " handed over by other owners" : "") + ")"
      : (h.latency.checked_here ? "no checks yet" : "not checked here (the owners hold its latencies)");
    var strip = document.getElementById("strip");
    while (strip.firstChild) strip.removeChild(strip.firstChild);
    h.transitions.slice().reverse().forEach(function (t) {
      var b = el("span", { "class": "block", "data-to": t.to });
      b.title = t.at + ": " + t.from + " \u2192 " + t.to;
      strip.appendChild(b);
    });
    var rows = h.transitions.map(function (t) {
      var tr = el("tr", { "data-transition-to": t.to });
      cell(tr, t.at, "mono");
      var td = cell(tr, "");
      td.appendChild(badge(t.from));
      td.appendChild(document.createTextNode(" \u2192 "));
      td.appendChild(badge(t.to));
      cell(tr, t.observer || "\u2013", "mono");
      cell(tr, t.reason || "\u2013");
      return tr;
    });
    replaceBody(document.getElementById("transitions"), rows.length ? rows : [empty(4, "no transitions seen")]);
  }
  function refreshDetail() {
    var id = selected();
    if (!id) {
      document.getElementById("detail").hidden = true;
      return Promise.resolve();
    }
    return getJson("/v1/targets/" + encodeURIComponent(id) + "/history").then(renderDetail);
  }
  window.addEventListener("hashchange", function () { refreshDetail().catch(function () {}); });

  function getJson(path) {
    return fetch(path, { cache: "no-store", headers: { "Accept": "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function refresh() {
    Promise.all([getJson("/v1/status"), getJson("/v1/members"), getJson("/v1/targets?recent=true"), getJson("/v1/changes"),
                 refreshDetail()])
      .then(function (all) {
        renderStatus(all[0]);
        renderMembers(all[1]);
        renderTargets(all[2]);
        renderChanges(all[3]);
        document.getElementById("error").style.display = "none";
        document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
      })
      .catch(function (e) {
        var b = document.getElementById("error");
        b.textContent = "cannot reach the agent (" + e.message + "); showing the last data";
        b.style.display = "block";
      })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }
  refresh();
})();
</script>
</body>
</html>
)heckpage";

}  // namespace

std::string_view status_page_html() { return kPage; }

}  // namespace heck::runtime
