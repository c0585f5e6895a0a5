// The agent's HTTP API (JSON) and its Prometheus endpoint, served by an
// HttpServer (runtime/http_server.h) on the agent's io_context. Loopback by
// default: 127.0.0.1:7700.
//
//   GET /v1/targets[?status=healthy|unhealthy|unknown]
//       JSON array of target entries, sorted by id. An invalid status -> 400.
//   GET /v1/targets/{id}
//       one target entry; 404 if there is no such target.
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
//       the most recent status changes, newest last (bounded).
//   GET /metrics
//       Prometheus text format 0.0.4 (see Agent::render_metrics):
//         heck_target_up{target}            1 healthy, 0 unhealthy; ABSENT while
//                                           unknown (no fake 0 to alert on, no NaN)
//         heck_target_status{target,status} 1 for the current status of
//                                           healthy|unhealthy|unknown, else 0
//         heck_check_duration_seconds{target}      histogram, 1 ms .. 10 s
//         heck_checks_total{target,result}         result = CheckReason name
//         heck_status_changes_total{target}
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
//         heck_registry_targets, and with a transport:
//         heck_cluster_packets_rejected_total{reason},
//         heck_cluster_transport_packets_total{direction,channel},
//         heck_cluster_transport_bytes_total{direction,channel},
//         heck_cluster_transport_events_total{event}, heck_cluster_encrypted
//
// A target entry:
//   {"id", "url", "status", "status_since",
//    "reason"      text of the last result ("status 503", "timeout", ...; "" if none),
//    "result"      the CheckReason name of the last result ("ok", "bad_status", ...; null if none),
//    "status_code" of the last result (null if none or not HTTP),
//    "latency_ms"  of the last check (null if none), "checked_at" (null if none),
//    "interval_ms", "timeout_ms", "rise", "fall", "checks",
//    "consecutive_successes", "consecutive_failures"}
// Times are RFC 3339 UTC with milliseconds.
//
// HEAD is allowed wherever GET is. Another method on a known path -> 405 with
// an Allow header; an unknown path -> 404. Every error is JSON:
//   {"error": "...", "path": "..."} (plus "allowed" where there is a list).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "runtime/agent.h"
#include "runtime/agent_config.h"
#include "runtime/http_server.h"

namespace heck::runtime {

// Routing, without a socket: answers one request from the agent's state.
// Never throws for any request text.
HttpResponse handle_api_request(Agent& agent, const HttpRequest& request);

// The defaults for the API: small requests, short timeouts.
HttpServerOptions default_api_server_options();

class ApiServer {
 public:
  // `agent` must outlive the server. Every response is counted in the
  // agent's heck_api_requests_total{code}.
  ApiServer(boost::asio::io_context& io, Agent& agent, HttpServerOptions options = default_api_server_options());

  Result<boost::asio::ip::tcp::endpoint> listen(const HostPort& address) { return server_.listen(address); }
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  boost::asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }
  const HttpServerCounters& counters() const { return server_.counters(); }

 private:
  HttpServer server_;
};

}  // namespace heck::runtime
