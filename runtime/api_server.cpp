#include "runtime/api_server.h"

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/clock.h"
#include "runtime/version.h"

namespace heck::runtime {

using json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kAllowGet = "GET, HEAD";
constexpr std::string_view kTargetsPrefix = "/v1/targets/";

std::string dump(const json& j) {
  // Text from the network (paths) may not be UTF-8: replace, never throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

HttpResponse json_response(unsigned status, const json& j) {
  HttpResponse r;
  r.status = status;
  r.body = dump(j);
  return r;
}

HttpResponse error_response(unsigned status, std::string message, std::string_view path) {
  return json_response(status, json{{"error", std::move(message)}, {"path", std::string(path)}});
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding for query components ('+' is a space). Malformed escapes
// are kept as they are.
std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

json target_json(const TargetState& t, Instant /*now*/) {
  const TargetSpec& spec = *t.spec;
  json j;
  j["id"] = spec.id;
  j["url"] = spec.url.to_string();
  j["status"] = std::string(to_string(t.status));
  j["status_since"] = format_rfc3339(t.status_since, true);
  if (t.checked) {
    j["reason"] = t.last_result.describe();
    j["result"] = std::string(to_string(t.last_result.reason));
    j["status_code"] = t.last_result.status_code ? json(t.last_result.status_code) : json(nullptr);
    j["latency_ms"] = round3(t.last_result.latency.ms_f());
    j["checked_at"] = format_rfc3339(t.last_checked_at, true);
  } else {
    j["reason"] = "";
    j["result"] = nullptr;
    j["status_code"] = nullptr;
    j["latency_ms"] = nullptr;
    j["checked_at"] = nullptr;
  }
  j["interval_ms"] = spec.interval.ms();
  j["timeout_ms"] = spec.timeout.ms();
  j["rise"] = spec.rise;
  j["fall"] = spec.fall;
  j["checks"] = t.checks_started;
  j["consecutive_successes"] = t.successes;
  j["consecutive_failures"] = t.failures;
  return j;
}

HttpResponse list_targets(Agent& agent, std::string_view path, std::string_view query) {
  std::optional<HealthStatus> filter;
  bool seen_status = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key = url_decode(pair.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? std::string{} : url_decode(pair.substr(eq + 1));
    if (key != "status") {
      return error_response(400, fmt::format("unknown query parameter '{}' (allowed: status)", key), path);
    }
    if (seen_status) return error_response(400, "query parameter 'status' given more than once", path);
    seen_status = true;
    filter = parse_health_status(value);
    if (!filter) {
      return json_response(
          400, json{{"error", fmt::format("invalid status '{}' (allowed: healthy, unhealthy, unknown)", value)},
                    {"path", std::string(path)},
                    {"allowed", json::array({"healthy", "unhealthy", "unknown"})}});
    }
  }
  const Instant now = agent.now();
  json list = json::array();
  agent.node().scheduler().for_each([&](const TargetState& t) {
    if (!filter || t.status == *filter) list.push_back(target_json(t, now));
  });
  return json_response(200, list);
}

HttpResponse health(Agent& agent) {
  const Instant now = agent.now();
  const double uptime = agent.started() ? (now - agent.started_at()).seconds_f() : 0.0;
  const Swim& swim = agent.node().membership();
  return json_response(200, json{{"status", agent.stopped() ? "stopping" : "ok"},
                                 {"name", agent.node().name()},
                                 {"address", agent.node().config().address},
                                 {"targets", agent.node().scheduler().size()},
                                 {"members_live", swim.live_count()},
                                 {"incarnation", swim.incarnation()},
                                 {"uptime_s", round3(uptime)},
                                 {"version", std::string(kVersion)},
                                 {"started_at", format_rfc3339(agent.started_at(), true)}});
}

HttpResponse changes(Agent& agent) {
  json list = json::array();
  for (const auto& c : agent.recent_changes()) {
    list.push_back(json{{"at", format_rfc3339(c.at, true)},
                        {"target", c.target},
                        {"from", std::string(to_string(c.from))},
                        {"to", std::string(to_string(c.to))},
                        {"reason", c.cause.describe()}});
  }
  return json_response(200, list);
}

HttpResponse members(Agent& agent) {
  const Swim& swim = agent.node().membership();
  json list = json::array();
  for (const MemberInfo& m : swim.members()) {
    list.push_back(json{{"name", m.name},
                        {"address", m.address},
                        {"state", std::string(to_string(m.state))},
                        {"incarnation", m.incarnation},
                        {"state_since", format_rfc3339(m.state_since, true)},
                        {"self", m.name == swim.name()}});
  }
  return json_response(200, list);
}

HttpResponse index() {
  return json_response(200, json{{"endpoints", json::array({"/v1/targets", "/v1/targets/{id}", "/v1/members",
                                                            "/v1/health", "/v1/changes", "/metrics"})}});
}

}  // namespace

HttpResponse handle_api_request(Agent& agent, const HttpRequest& request) {
  const std::string_view target = request.target;
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  const bool get = request.method == "GET" || request.method == "HEAD";

  // Known paths: route by path first, then check the method.
  enum class Route { none, index, targets, target, members, health, changes, metrics } route = Route::none;
  std::string_view id;
  if (path == "/") {
    route = Route::index;
  } else if (path == "/v1/targets") {
    route = Route::targets;
  } else if (path.starts_with(kTargetsPrefix) && path.size() > kTargetsPrefix.size() &&
             path.find('/', kTargetsPrefix.size()) == std::string_view::npos) {
    route = Route::target;
    id = path.substr(kTargetsPrefix.size());
  } else if (path == "/v1/members") {
    route = Route::members;
  } else if (path == "/v1/health") {
    route = Route::health;
  } else if (path == "/v1/changes") {
    route = Route::changes;
  } else if (path == "/metrics") {
    route = Route::metrics;
  }

  if (route == Route::none) return error_response(404, "not found", path);
  if (!get) {
    auto r = json_response(405, json{{"error", fmt::format("method {} not allowed", request.method)},
                                     {"path", std::string(path)},
                                     {"allowed", json::array({"GET", "HEAD"})}});
    r.allow = std::string(kAllowGet);
    return r;
  }
  switch (route) {
    case Route::index: return index();
    case Route::targets: return list_targets(agent, path, query);
    case Route::target: {
      const TargetState* t = agent.node().scheduler().find(id);
      if (!t) return error_response(404, fmt::format("no target '{}'", id), path);
      return json_response(200, target_json(*t, agent.now()));
    }
    case Route::members: return members(agent);
    case Route::health: return health(agent);
    case Route::changes: return changes(agent);
    case Route::metrics: {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = agent.render_metrics();
      return r;
    }
    case Route::none: break;
  }
  return error_response(404, "not found", path);
}

HttpServerOptions default_api_server_options() {
  HttpServerOptions o;
  o.max_connections = 64;
  o.max_header_bytes = 8 * 1024;
  o.max_body_bytes = 64 * 1024;
  o.read_timeout = Duration::seconds(10);
  o.write_timeout = Duration::seconds(10);
  o.server_header = fmt::format("heck/{}", kVersion);
  return o;
}

ApiServer::ApiServer(boost::asio::io_context& io, Agent& agent, HttpServerOptions options)
    : server_(
          io,
          [&agent](const HttpRequest& req, HttpServer::Reply reply) {
            HttpResponse r;
            try {
              r = handle_api_request(agent, req);
            } catch (const std::exception& e) {
              r = error_response(500, fmt::format("internal error: {}", e.what()), "");
            }
            reply(std::move(r));
          },
          std::move(options), [&agent](unsigned status) { agent.count_api_request(status); }) {}

}  // namespace heck::runtime
