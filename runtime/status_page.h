// The status page the agent serves at GET / (runtime/api_server.h): one
// self-contained HTML document (inline CSS and JavaScript, nothing from a
// CDN, works offline) that a person reads at a glance.
//
// Every 2 s it fetches /v1/status, /v1/members, /v1/targets and /v1/changes
// from the agent that served it, and renders:
//   - a header: the agent's name and version, counts by status as coloured
//     badges (unhealthy red, unknown grey, healthy green, stale amber) and
//     members by state;
//   - the members table (name, address, state, incarnation);
//   - the targets table sorted unhealthy first, then unknown, then healthy
//     (then by id): id, url, status badge, stale, owners, last observer,
//     age of the newest observation; at most 1000 rows (unhealthy first, so
//     none is hidden behind healthy ones);
//   - the recent changes of the replicated view, newest first.
// If a fetch fails, a red banner says so and the last data stays shown.
//
// Stable hooks for tests and scripts (DOM ids and data attributes):
//   #agent-name, #summary, #count-{healthy,unhealthy,unknown,stale,total},
//   #members (table) with rows tr[data-member=<name>][data-state=<state>],
//   #targets (table) with rows tr[data-target=<id>][data-status=<status>]
//     [data-stale=true|false], #changes (table) with rows
//     tr[data-change-target=<id>], #error (banner), #updated (last refresh).
// Text from the API is only ever set through textContent (no HTML
// injection from a target id or URL).
#pragma once

#include <string_view>

namespace heck::runtime {

// The page (UTF-8 HTML), a constant.
std::string_view status_page_html();

}  // namespace heck::runtime
