// The agent's HTTP API (JSON), its status page and its Prometheus endpoint,
// served by an HttpServer (runtime/http_server.h) on the agent's io_context.
// Loopback by default: 127.0.0.1:7700. Every agent answers from the
// REPLICATED state
// (ClusterNode::target_view / target_views, owners, counter), so any agent
// gives the same answer about any target once the cluster has converged.
//
//   GET /v1/targets[?status=healthy|unhealthy|unknown][&stale=true|false][&recent=true]
//       (recent=true: each target also has "recent": {"statuses" of its last
//       16 transitions, "latency_ms" of this agent's last 30 checks}, oldest first)
//       JSON array of target entries, sorted by id. A bad query -> 400 naming it.
//   GET /v1/targets/{id}
//       one target entry; 404 {"error": "no target 'x'"} if not registered.
//   PUT /v1/targets/{id}     (write: bearer token)
//       body: TargetSpec JSON (core/target_spec.h); "id" optional but must
//       equal {id}; interval_ms at least ApiOptions::min_interval (1 s
//       unless the config lowers it), else 400. -> 201 (new) / 200 (replaced)
//       {"id", "created", "owners", "spec", "durable", "replicated_to"}.
//       The reply is sent after the snapshot was written with fsync
//       ("durable": true; false without --data-dir) and after the next
//       replica_flush pushed the delta to "replicated_to" peers directly
//       (Agent::after_replication_flush). A snapshot that cannot be written
//       leaves the target registered and replicated: "durable": false and
//       "durable_error" says why.
//   DELETE /v1/targets/{id}  (write) -> 200 {"id", "deleted": true, "durable",
//       "replicated_to"}; 404 if not registered.
//   GET /v1/owners/{id}
//       {"id", "registered", "checkers" (r; 1 when not registered), "owners",
//        "fallbacks"} over this agent's live members, in priority order.
//   POST /v1/counters/{name} (write) body {"delta": <int64>}
//       -> {"name", "value"} (the value here after the add). An add that
//       would take the counter past the int64 range -> 400, unchanged; adds
//       made at once through different agents can still pass it together,
//       and the value then reads as the bound (crdts.h: ccounter_value).
//   GET /v1/counters/{name} -> {"name", "value"} (0 if never written).
//       A name is 1-256 bytes (percent-decoded), no control characters.
//   PUT /v1/sets/{name}/{member}    (write) -> 201 {"set", "member",
//       "added": true, "count"} when the member is new here, 200 with
//       "added": false when it was there; DELETE (write) -> 200 {"set",
//       "member", "removed", "count"}. An add-wins set (health_state.h):
//       a member added often counts once; an add concurrent with a remove
//       wins. Both with "durable" and "replicated_to" as a target PUT.
//   GET /v1/sets/{name}[?limit=N&after=MEMBER] -> {"name", "count",
//       "members" (byte order, at most N, default 1000, at most 10000),
//       "next" (the last member listed when more follow, else null)}.
//   GET /v1/sets/{name}/{member} -> {"set", "member", "present"}.
//       Names: 1-64, members 1-128 characters of A-Z a-z 0-9 . _ : -;
//       anything else -> 400 naming it.
//
// Idempotent writes: every write (PUT, DELETE, POST) takes an
// "Idempotency-Key" header (1-128 printable ASCII characters, no space, one
// header; else 400). The first request with a key is applied and its answer
// (status and body, without "durable"/"replicated_to") is recorded in the
// replicated state (Replicator::record_request) in the same delta as the
// write, before the reply is persisted and sent. A request with a key this
// agent holds a record of changes nothing and gets the recorded answer with
// "Idempotent-Replayed: true"; the same key with another method, path or
// body -> 422. Only answers of writes that were applied (2xx) are recorded:
// a refused request may be sent again with its key. Records are kept
// ReplicatorConfig::request_retention (24 h), at most max_request_records.
//   GET /v1/status
//       {"name", "address", "version", "members": {"alive","suspect","dead",
//        "left"}, "targets": {"total","healthy","unhealthy","unknown","stale"},
//        "checked_here", "unhealthy": [ids, first 100], "durable" (bool),
//        "auth" (true when writes need a token)}
//   GET /v1/members
//       JSON array, sorted by name, this agent included:
//       {"name", "address", "state" (alive|suspect|dead|left), "incarnation",
//        "state_since" (when this agent saw the member enter that state),
//        "self" (true for this agent)}. Dead and left members stay listed
//       until reaped (swim.dead_reap_after_ms).
//   GET /v1/health
//       {"status": "ok", "name", "address" (advertised cluster address),
//        "targets" (checked here), "members_live" (alive + suspect, self
//        included), "incarnation", "uptime_s", "version", "started_at"}
//   GET /v1/changes
//       status changes of the replicated view seen by this agent (its 1 s
//       scans, Agent::view_changes), newest last, bounded:
//       [{"at", "target", "from", "to", "observer" (null if none), "reason"}]
//   GET /v1/targets/{id}/history
//       {"id", "status", "transitions" (newest first, at most 64),
//        "transitions_truncated", "uptime": {"1h", "24h"}, "latency" (this
//        agent's own checks)}: runtime/target_history.h.
//   GET /v1/alerts
//       {"routes": [route + "source" ("config": this agent's config file;
//        "api": written through the API)], "in_flight", "counters", and
//        "deliveries" (this agent's last ones, newest first)}.
//   PUT /v1/alerts/routes/{name}   (write) body: a route (AlertRoute JSON,
//       core/alerts/alert_route.h; "name" optional, equal to the path's)
//       -> 201 (new) / 200 (replaced) {"name", "created", "route"}. Written
//       to the replicated state: every agent sends on it. A name this
//       agent's config defines -> 409; more than 64 written routes -> 409;
//       --store etcd -> 501 (routes go in the config file there).
//   DELETE /v1/alerts/routes/{name} (write) -> 200 {"name", "removed": true};
//       404 when no written route has that name, 409 for a config route.
//   GET /v1/alerts/routes/{name} -> the route and its source, or 404.
//   GET /   the status page (runtime/status_page.h), text/html.
//   GET /v1 {"endpoints": [...]}
//   GET /metrics
//       Prometheus text format 0.0.4 (see Agent::render_metrics):
//         heck_targets_status{status}       targets of the replicated view by
//                                           resolved status (every agent alike)
//         heck_targets_stale                ... of them stale
//         heck_target_up{target}            (targets checked HERE) 1 healthy,
//                                           0 unhealthy; ABSENT while unknown
//         heck_target_status{target,status} (checked here) 1 for the current status
//         heck_tls_cert_expiry_seconds{target} (https, checked here) until the
//                                           leaf certificate expires
//         heck_check_duration_seconds{target}      histogram, 1 ms .. 10 s
//         heck_checks_total{target,result}         result = CheckReason name
//         heck_status_changes_total{target}
//         heck_view_changes_total, heck_state_snapshot_writes_total{result},
//         heck_state_durable_epoch
//         heck_checks_in_flight, heck_checks_queued, heck_targets
//         heck_stale_results_total, heck_stale_timers_total,
//         heck_results_lost_total, heck_handler_errors_total
//         heck_api_requests_total{code}, heck_build_info{version},
//         heck_start_time_seconds
//       cluster (see runtime/agent.h, runtime/agent_host.h):
//         heck_members{state}, heck_member_changes_total{state},
//         heck_cluster_incarnation, heck_cluster_health_multiplier,
//         heck_cluster_packets_received_total, heck_cluster_packets_malformed_total,
//         heck_cluster_sends_total{channel}, heck_swim_probes_total,
//         heck_swim_probes_failed_total, heck_swim_suspicions_total,
//         heck_swim_refutes_total, heck_swim_deaths_declared_total,
//         heck_registry_targets, heck_idempotency_records,
//         heck_idempotency_expiry_rounds_total, and with a transport:
//         heck_cluster_packets_rejected_total{reason},
//         heck_cluster_transport_packets_total{direction,channel},
//         heck_cluster_transport_bytes_total{direction,channel},
//         heck_cluster_transport_events_total{event}, heck_cluster_encrypted
//
// A target entry:
//   {"id", "url", "status" (resolved: healthy|unhealthy|unknown), "stale",
//    "age_ms" (null without an observation), "observed_at" (of the newest
//    observation, null), "last_observer" (its observer, null),
//    "reason" (text of the winning observation, e.g. "status 503"; null),
//    "owners", "fallbacks", "checked_here", "checkers", "quorum",
//    "unhealthy_votes", "healthy_votes",
//    "siblings": [{"observer", "status", "reason", "status_code" (null if
//                  none), "latency_ms", "observed_at"}] (best first),
//    "spec_siblings", "spec": {TargetSpec::to_json()},
//    "local": null, or when checked here this agent's own check state
//             {"status", "status_since", "reason", "result", "status_code",
//              "latency_ms", "checked_at", "consecutive_successes",
//              "consecutive_failures", "checks"},
//   and, flat at the top level (the shape of a single agent's answer, kept
//   for clients that read it): "result", "status_code",
//    "latency_ms", "checked_at" (of the winning observation, null if none),
//    "interval_ms", "timeout_ms", "rise", "fall" (of the spec), and
//    "status_since", "checks", "consecutive_successes",
//    "consecutive_failures" (this agent's, null when not checked here)}
// The "local" object (this agent's own checks, null when not checked here)
// also has "tls_cert_expiry_days" (https: days until the server's leaf
// certificate expires, one decimal, negative once it has; else null).
// Times are RFC 3339 UTC with milliseconds.
//
// Stores (runtime/store/, Agent::external_store): with --store etcd the
// answers come from the node's mirror of etcd, and the shapes stay the same
// except for these store-specific fields:
//   /v1/status "store": {"kind": "gossip"|"etcd", "available", "reason"
//       (null when available)}; the metric heck_store_available{kind} is 0/1.
//   A target entry, while the store is unavailable: "stale": true and
//       "stale_reason": "etcd store unavailable: ..." (the last view is served).
//   PUT/DELETE/POST reply once etcd accepted the write and this agent's
//       watch delivered it ("durable": true, no "replicated_to"); while etcd
//       is unavailable, or when it does not answer within the write deadline
//       (5 s), 503 {"error": "etcd store unavailable: ..."}; never a hang.
//   A gossip-mode only API client (handle_api_request) gets 503 for them.
//
// Writes (PUT, DELETE, POST) need "Authorization: Bearer <token>" when
// ApiOptions::token is set (config "api_token", --api-token,
// HECK_API_TOKEN); otherwise 401 {"error": "missing or wrong bearer token"}
// with "WWW-Authenticate: Bearer". The comparison takes the same time
// whatever the token (SHA-256 of both, CRYPTO_memcmp). Reads never need it.
// A body over ApiOptions::max_body_bytes (64 KiB) -> 413 (the server refuses
// it from the Content-Length already).
//
// HEAD is allowed wherever GET is. Another method on a known path -> 405 with
// an Allow header; an unknown path -> 404. Every error is JSON:
//   {"error": "...", "path": "..."} (plus "allowed" where there is a list).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "runtime/agent.h"
#include "runtime/agent_config.h"
#include "runtime/http_server.h"

namespace heck::runtime {

struct ApiOptions {
  std::string token;                     // empty: writes need no token (check_token_text, agent_config.h)
  std::size_t max_body_bytes = 64 * 1024;
  // The shortest interval_ms a target written through the API may have, so
  // one request cannot turn the cluster into a load generator; the
  // operator lowers it in the config (min_api_interval_ms). Targets in the
  // config file are the operator's own and are not held to it.
  Duration min_interval = AgentConfig::kDefaultMinApiInterval;
};

// A routed answer; `after_flush`: send it only after the replication deltas
// it wrote were pushed to the peers (Agent::after_replication_flush).
// `deferred` (etcd mode writes): the answer comes later; the server calls
// it with the function that sends the response (exactly once, within the
// store's write deadline).
struct ApiReply {
  HttpResponse response;
  bool after_flush = false;
  std::function<void(std::function<void(HttpResponse)>)> deferred;
};

// Routing, without a socket: answers one request from the agent's state
// (writes are submitted to the agent and stepped before it returns).
// Never throws for any request text.
ApiReply route_api_request(Agent& agent, const HttpRequest& request, const ApiOptions& options = {});
// The response of route_api_request (no waiting for the flush).
HttpResponse handle_api_request(Agent& agent, const HttpRequest& request, const ApiOptions& options = {});

// The defaults for the API: small requests, short timeouts.
HttpServerOptions default_api_server_options();

class ApiServer {
 public:
  // `agent` must outlive the server. Every response is counted in the
  // agent's heck_api_requests_total{code}.
  ApiServer(boost::asio::io_context& io, Agent& agent, HttpServerOptions options = default_api_server_options(),
            ApiOptions api = {});

  Result<boost::asio::ip::tcp::endpoint> listen(const HostPort& address) { return server_.listen(address); }
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  boost::asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }
  const HttpServerCounters& counters() const { return server_.counters(); }

 private:
  HttpServer server_;
};

}  // namespace heck::runtime
