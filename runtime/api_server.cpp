#include "runtime/api_server.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "core/cluster/latency_history.h"
#include "core/ownership/owner_split.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/status_page.h"
#include "runtime/version.h"

namespace heck::runtime {

using json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kTargetsPrefix = "/v1/targets/";
constexpr std::string_view kOwnersPrefix = "/v1/owners/";
constexpr std::string_view kCountersPrefix = "/v1/counters/";
constexpr std::string_view kSetsPrefix = "/v1/sets/";
constexpr std::string_view kRoutesPrefix = "/v1/alerts/routes/";
// Alert routes written through the API: replicated to every agent, so few.
constexpr std::size_t kMaxApiRoutes = 64;
constexpr std::size_t kDefaultSetPage = 1000;
constexpr std::size_t kMaxSetPage = 10'000;
constexpr std::size_t kMaxCounterNameBytes = 256;
constexpr std::size_t kMaxUnhealthyIds = 100;

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

// Percent-decoding; in a query component '+' is a space. Malformed escapes
// are kept as they are.
std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "abc" -> 'abc' for messages, made safe to show (no control characters).
std::string quote_for_message(std::string_view s) {
  std::string shown(s.substr(0, 300));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return fmt::format("'{}'{}", shown, s.size() > 300 ? "..." : "");
}

Instant hlc_instant(HlcTimestamp t) {
  return Instant::from_ns(static_cast<std::int64_t>(t.wall_ms()) * 1'000'000);
}

std::string describe(CheckReason reason, int status_code) {
  CheckResult r;
  r.reason = reason;
  r.status_code = status_code;
  return r.describe();
}

json observation_json(const Observation& o) {
  return json{{"observer", o.observer_name.str()},
              {"status", std::string(to_string(o.status))},
              {"reason", describe(o.reason, o.status_code)},
              {"status_code", o.status_code ? json(o.status_code) : json(nullptr)},
              {"latency_ms", round3(o.latency.ms_f())},
              {"observed_at", format_rfc3339(hlc_instant(o.observed_at), true)}};
}

json local_json(const TargetState& t) {
  json j;
  j["status"] = std::string(to_string(t.status));
  j["status_since"] = format_rfc3339(t.status_since, true);
  if (t.checked) {
    j["reason"] = t.last_result.describe();
    j["result"] = std::string(to_string(t.last_result.reason));
    j["status_code"] = t.last_result.status_code ? json(t.last_result.status_code) : json(nullptr);
    j["latency_ms"] = round3(t.last_result.latency.ms_f());
    j["checked_at"] = format_rfc3339(t.last_checked_at, true);
    const auto& left = t.last_result.tls_cert_expires_in;
    j["tls_cert_expiry_days"] = left ? json(std::floor(left->seconds_f() / 86'400.0 * 10.0) / 10.0) : json(nullptr);
  } else {
    j["reason"] = "";
    j["result"] = nullptr;
    j["status_code"] = nullptr;
    j["latency_ms"] = nullptr;
    j["checked_at"] = nullptr;
    j["tls_cert_expiry_days"] = nullptr;
  }
  j["consecutive_successes"] = t.successes;
  j["consecutive_failures"] = t.failures;
  j["checks"] = t.checks_started;
  return j;
}

json target_json(const Agent& agent, const TargetView& v) {
  const TargetSpec& spec = *v.spec;
  const Observation* winner = v.observations.empty() ? nullptr : &v.observations.front();
  const TargetState* local = v.checked_here ? agent.node().scheduler().find(v.id) : nullptr;
  json j;
  j["id"] = v.id;
  j["url"] = spec.url.to_string();
  j["status"] = std::string(to_string(v.status));
  j["stale"] = v.stale;
  if (const ExternalStore* store = agent.external_store(); store && !store->available()) {
    j["stale"] = true;
    j["stale_reason"] = fmt::format("{} store unavailable: {}", store->kind(), store->problem());
  }
  j["age_ms"] = v.age ? json(v.age->ms()) : json(nullptr);
  j["observed_at"] = v.newest ? json(format_rfc3339(hlc_instant(v.newest->observed_at), true)) : json(nullptr);
  j["last_observer"] = v.newest ? json(v.newest->observer_name.str()) : json(nullptr);
  j["reason"] = winner ? json(describe(winner->reason, winner->status_code)) : json(nullptr);
  j["owners"] = v.owners;
  j["fallbacks"] = v.fallbacks;
  j["checked_here"] = v.checked_here;
  j["checkers"] = spec.checkers;
  j["quorum"] = v.quorum;
  j["unhealthy_votes"] = v.unhealthy_votes;
  j["healthy_votes"] = v.healthy_votes;
  json siblings = json::array();
  for (const Observation& o : v.observations) siblings.push_back(observation_json(o));
  j["siblings"] = std::move(siblings);
  j["spec_siblings"] = v.spec_siblings;
  j["spec"] = json::parse(spec.to_json().dump());  // ordered copy of TargetSpec::to_json()
  j["local"] = local ? local_json(*local) : json(nullptr);
  // The flat fields of a single agent's answer, kept for its clients (see the header).
  j["result"] = winner ? json(std::string(to_string(winner->reason))) : json(nullptr);
  j["status_code"] = winner && winner->status_code ? json(winner->status_code) : json(nullptr);
  j["latency_ms"] = winner ? json(round3(winner->latency.ms_f())) : json(nullptr);
  j["checked_at"] = winner ? json(format_rfc3339(hlc_instant(winner->observed_at), true)) : json(nullptr);
  j["interval_ms"] = spec.interval.ms();
  j["timeout_ms"] = spec.timeout.ms();
  j["rise"] = spec.rise;
  j["fall"] = spec.fall;
  j["status_since"] = local ? json(format_rfc3339(local->status_since, true)) : json(nullptr);
  j["checks"] = local ? json(local->checks_started) : json(nullptr);
  j["consecutive_successes"] = local ? json(local->successes) : json(nullptr);
  j["consecutive_failures"] = local ? json(local->failures) : json(nullptr);
  return j;
}

// --- query strings ---------------------------------------------------------------

struct QueryParam {
  std::string key;
  std::string value;
};

std::vector<QueryParam> parse_query(std::string_view query) {
  std::vector<QueryParam> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    out.push_back({url_decode(pair.substr(0, eq), true),
                   eq == std::string_view::npos ? std::string{} : url_decode(pair.substr(eq + 1), true)});
  }
  return out;
}

// --- reads -----------------------------------------------------------------------

// A target's recent past for a table row (?recent=true): the statuses its
// last transitions went to and the latencies of its last checks that this
// agent holds (an owner's or standby's ring, core/cluster/latency_history.h),
// oldest first, few of each (the status page draws a strip and a sparkline).
constexpr std::size_t kRecentStatuses = 16;
constexpr std::size_t kRecentSamples = 30;
json recent_json(const TargetHistory::Entry* e, std::span<const LatencySample> s) {
  json statuses = json::array(), latencies = json::array();
  if (e) {
    const auto& t = e->transitions;
    for (std::size_t i = t.size() > kRecentStatuses ? t.size() - kRecentStatuses : 0; i < t.size(); ++i) {
      statuses.push_back(std::string(to_string(t[i].to)));
    }
  }
  for (std::size_t i = s.size() > kRecentSamples ? s.size() - kRecentSamples : 0; i < s.size(); ++i) {
    latencies.push_back(round3(s[i].latency_us / 1000.0));
  }
  return json{{"statuses", std::move(statuses)}, {"latency_ms", std::move(latencies)}};
}

HttpResponse list_targets(Agent& agent, std::string_view path, std::string_view query) {
  std::optional<HealthStatus> status_filter;
  std::optional<bool> stale_filter;
  bool seen_status = false;
  bool seen_stale = false;
  bool recent = false;
  for (const QueryParam& p : parse_query(query)) {
    if (p.key == "status") {
      if (seen_status) return error_response(400, "query parameter 'status' given more than once", path);
      seen_status = true;
      status_filter = parse_health_status(p.value);
      if (!status_filter) {
        return json_response(
            400, json{{"error", fmt::format("invalid status {} (allowed: healthy, unhealthy, unknown)", quote_for_message(p.value))},
                      {"path", std::string(path)},
                      {"allowed", json::array({"healthy", "unhealthy", "unknown"})}});
      }
    } else if (p.key == "stale") {
      if (seen_stale) return error_response(400, "query parameter 'stale' given more than once", path);
      seen_stale = true;
      if (p.value == "true") {
        stale_filter = true;
      } else if (p.value == "false") {
        stale_filter = false;
      } else {
        return json_response(400, json{{"error", fmt::format("invalid stale {} (allowed: true, false)", quote_for_message(p.value))},
                                       {"path", std::string(path)},
                                       {"allowed", json::array({"true", "false"})}});
      }
    } else if (p.key == "recent") {
      if (p.value != "true" && p.value != "false") {
        return error_response(400, fmt::format("invalid recent {} (allowed: true, false)", quote_for_message(p.value)),
                              path);
      }
      recent = p.value == "true";
    } else {
      return error_response(400,
                            fmt::format("unknown query parameter {} (allowed: status, stale, recent)",
                                        quote_for_message(p.key)),
                            path);
    }
  }
  // Written one target at a time: the array's text is what dump() of the
  // whole list gave, without holding a JSON tree of every target (at 10,000
  // targets that tree was most of an agent's peak memory).
  HttpResponse r;
  r.status = 200;
  r.body = "[";
  agent.node().for_each_target_view(agent.now(), [&](const TargetView& v) {
    if (status_filter && v.status != *status_filter) return;
    if (stale_filter && v.stale != *stale_filter) return;
    json item = target_json(agent, v);
    if (recent) item["recent"] = recent_json(agent.history().find(v.id), agent.node().latencies().samples(v.id));
    if (r.body.size() > 1) r.body += ',';
    r.body += item.dump(-1, ' ', false, json::error_handler_t::replace);
  });
  r.body += "]\n";
  return r;
}

HttpResponse owners(Agent& agent, const std::string& id) {
  const ClusterNode& node = agent.node();
  const auto registered = node.health_state().target(id);
  const int checkers = registered && registered->spec && registered->spec->spec ? registered->spec->spec->checkers : 1;
  const std::size_t max_fallbacks = node.config().view_fallbacks;
  OwnerSplit split = split_owners(node.ranked_members(id, ranked_needed(checkers, max_fallbacks)), checkers,
                                  max_fallbacks);
  return json_response(200, json{{"id", id},
                                 {"registered", registered.has_value()},
                                 {"checkers", owner_count(checkers)},
                                 {"owners", std::move(split.owners)},
                                 {"fallbacks", std::move(split.fallbacks)}});
}

json store_json(const Agent& agent) {
  const ExternalStore* store = agent.external_store();
  if (!store) return json{{"kind", "gossip"}, {"available", true}, {"reason", nullptr}};
  const bool up = store->available();
  return json{{"kind", std::string(store->kind())}, {"available", up}, {"reason", up ? json(nullptr) : json(store->problem())}};
}

// An external store's failed write: 503 with its message.
HttpResponse store_failure(const store::WriteDone& done, std::string_view path) {
  // A write the store could not make (unavailable, overloaded, no answer) is
  // 503; one it refused on its merits (a counter past the int64 range) is 400.
  return error_response(done.unavailable ? 503 : 400,
                        done.error.empty() ? std::string("the store refused the write") : done.error, path);
}

HttpResponse status(Agent& agent, const ApiOptions& options) {
  const ClusterNode& node = agent.node();
  std::array<std::size_t, 4> by_state{};
  for (const MemberInfo& m : node.membership().members()) ++by_state[static_cast<std::size_t>(m.state)];
  std::size_t healthy = 0, unhealthy = 0, unknown = 0, stale = 0, total = 0;
  json unhealthy_ids = json::array();
  node.for_each_target_view(agent.now(), [&](const TargetView& v) {
    ++total;
    stale += v.stale ? 1 : 0;
    if (v.status == HealthStatus::healthy) {
      ++healthy;
    } else if (v.status == HealthStatus::unhealthy) {
      ++unhealthy;
      if (unhealthy_ids.size() < kMaxUnhealthyIds) unhealthy_ids.push_back(v.id);
    } else {
      ++unknown;
    }
  });
  auto count = [&](MemberState s) { return by_state[static_cast<std::size_t>(s)]; };
  return json_response(
      200, json{{"name", node.name()},
                {"address", node.config().address},
                {"version", std::string(kVersion)},
                {"members", json{{"alive", count(MemberState::alive)},
                                 {"suspect", count(MemberState::suspect)},
                                 {"dead", count(MemberState::dead)},
                                 {"left", count(MemberState::left)}}},
                {"targets", json{{"total", total},
                                 {"healthy", healthy},
                                 {"unhealthy", unhealthy},
                                 {"unknown", unknown},
                                 {"stale", stale}}},
                {"checked_here", node.scheduler().size()},
                {"unhealthy", std::move(unhealthy_ids)},
                {"durable", agent.durable()},
                {"auth", !options.token.empty()},
                {"store", store_json(agent)}});
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
  for (const ViewChangeRecord& c : agent.view_changes()) {
    list.push_back(json{{"at", format_rfc3339(c.at, true)},
                        {"target", c.target},
                        {"from", std::string(to_string(c.from))},
                        {"to", std::string(to_string(c.to))},
                        {"observer", c.observer.empty() ? json(nullptr) : json(c.observer)},
                        {"reason", c.reason.empty() ? json(nullptr) : json(c.reason)}});
  }
  return json_response(200, list);
}

// A target's past as this agent saw it (runtime/target_history.h): the
// transitions of the replicated view (newest first), uptime over the last
// hour and day, and the latencies of the target's recent checks that this
// agent holds: its own, and those handed to it with the ownership
// (core/cluster/latency_history.h; "here" tells them apart). An agent that
// neither checks the target nor stands by for it holds none.
HttpResponse target_history(Agent& agent, const std::string& id, std::string_view path) {
  const Instant now = agent.now();
  const auto status = agent.node().target_status(id);
  if (!status) return error_response(404, fmt::format("no target '{}'", id), path);
  const TargetHistory::Entry* e = agent.history().find(id);
  json transitions = json::array();
  json samples = json::array();
  std::vector<double> all_ms;
  if (e != nullptr) {
    for (auto it = e->transitions.rbegin(); it != e->transitions.rend(); ++it) {
      transitions.push_back(json{{"at", format_rfc3339(it->at, true)},
                                 {"from", std::string(to_string(it->from))},
                                 {"to", std::string(to_string(it->to))},
                                 {"observer", it->observer.empty() ? json(nullptr) : json(it->observer)},
                                 {"reason", it->reason.empty() ? json(nullptr) : json(it->reason)}});
    }
  }
  for (const LatencySample& s : agent.node().latencies().samples(id)) {
    const double ms = s.latency_us / 1000.0;
    samples.push_back(json{{"at", format_rfc3339(s.at, true)}, {"ms", round3(ms)}, {"ok", s.ok}, {"here", s.here}});
    all_ms.push_back(ms);  // a refused or failed check took time too
  }
  auto uptime = [&](Duration window) {
    const TargetHistory::Uptime u = agent.history().uptime(id, now, window);
    return json{{"fraction", u.fraction ? json(round3(*u.fraction)) : json(nullptr)},
                {"known_s", round3(u.known.seconds_f())},
                {"observed_s", round3(u.observed.seconds_f())}};
  };
  std::sort(all_ms.begin(), all_ms.end());
  json latency{{"checked_here", agent.node().checks(id)}, {"samples", std::move(samples)}};
  latency["p50_ms"] = all_ms.empty() ? json(nullptr) : json(round3(all_ms[all_ms.size() / 2]));
  latency["max_ms"] = all_ms.empty() ? json(nullptr) : json(round3(all_ms.back()));
  return json_response(200, json{{"id", id},
                                 {"status", std::string(to_string(*status))},
                                 {"transitions", std::move(transitions)},
                                 {"transitions_truncated", e != nullptr && e->truncated},
                                 {"uptime", {{"1h", uptime(Duration::seconds(3600))}, {"24h", uptime(Duration::seconds(86400))}}},
                                 {"latency", std::move(latency)}});
}

// The alert routes, this agent's sender counters and its last deliveries
// (newest first). Every agent answers; only first owners send, so the
// deliveries are this agent's own.
bool configured_route(Agent& agent, std::string_view name) {
  const auto& routes = agent.node().config().alerts.routes;
  return std::any_of(routes.begin(), routes.end(), [&](const AlertRoute& r) { return r.name == name; });
}

// A route as the API shows it: its JSON and where it comes from ("config":
// this agent's config file; "api": written through the API, replicated).
json route_json(const AlertRoute& r, bool configured) {
  json j = json::parse(r.to_json().dump());  // an ordered_json there
  j["source"] = configured ? "config" : "api";
  return j;
}

HttpResponse alerts(Agent& agent) {
  const AlertDispatch& d = agent.node().alerts();
  json routes = json::array();
  for (const AlertRoute& r : d.config().routes) routes.push_back(route_json(r, configured_route(agent, r.name)));
  const AlertCounters& c = d.counters();
  json deliveries = json::array();
  const auto& log = agent.alert_deliveries();
  for (auto it = log.rbegin(); it != log.rend(); ++it) {
    const AlertNotification& n = it->notification;
    deliveries.push_back(json{{"at", format_rfc3339(it->at, true)},
                              {"route", n.route},
                              {"target", n.target},
                              {"kind", std::string(to_string(n.kind))},
                              {"repeat", n.repeat},
                              {"attempt", n.attempt},
                              {"dedup_key", n.dedup_key},
                              {"delivered", it->delivered},
                              {"error", it->delivered ? json(nullptr) : json(it->error)}});
  }
  return json_response(200, json{{"routes", std::move(routes)},
                                 {"in_flight", d.in_flight()},
                                 {"counters", {{"sent", c.sent},
                                               {"delivered", c.delivered},
                                               {"failed", c.failed},
                                               {"retries", c.retries},
                                               {"deferred", c.deferred},
                                               {"closed", c.closed}}},
                                 {"deliveries", std::move(deliveries)}});
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

HttpResponse endpoints() {
  return json_response(
      200, json{{"endpoints",
                 json::array({"/", "/v1/status", "/v1/targets", "/v1/targets/{id}", "/v1/owners/{id}",
                              "/v1/targets/{id}/history", "/v1/counters/{name}", "/v1/sets/{name}", "/v1/sets/{name}/{member}", "/v1/members",
                              "/v1/health", "/v1/changes", "/v1/alerts", "/v1/alerts/routes/{name}", "/metrics"})}});
}

// --- writes ----------------------------------------------------------------------

// "Bearer <token>" (scheme case-insensitive) against the configured token, in
// time independent of where they differ: both are hashed first.
bool bearer_matches(std::string_view header, const std::string& token) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string_view given = header.substr(kScheme.size());
  if (given.empty() || given.front() != ' ') return false;
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && (given.back() == ' ' || given.back() == '\t')) given.remove_suffix(1);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> a{}, b{};
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a.data());
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), b.data());
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The body as a JSON object, or a 400 naming what is wrong.
Result<nlohmann::json> parse_body(std::string_view body) {
  if (body.empty()) return Error{"empty body (expected a JSON object)"};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    if (const auto colon = what.find("] "); colon != std::string::npos) what = what.substr(colon + 2);
    return Error{fmt::format("body is not valid JSON: {}", what)};
  }
  if (!j.is_object()) return Error{fmt::format("body must be a JSON object, got {}", j.type_name())};
  return j;
}

// What the write's reply says about durability; persists first.
void add_durability(Agent& agent, json& reply) {
  auto persisted = agent.persist_now();
  reply["durable"] = persisted.ok() && *persisted;
  if (!persisted) reply["durable_error"] = persisted.error();
  reply["replicated_to"] = agent.replication_targets();
}

// An idempotent write: the request's Idempotency-Key and its fingerprint.
struct Idempotency {
  std::string key;
  std::uint64_t fingerprint = 0;
};

// The answer to a write that changed the state: with an Idempotency-Key,
// the answer is recorded first (RecordRequest, in the same turn as the
// write, so the record travels in the write's delta and is in the same
// snapshot), without the durability fields (they describe this delivery,
// not the write). Then it persists and adds them.
ApiReply finish_write(Agent& agent, const std::optional<Idempotency>& idem, unsigned status, json reply,
                      std::string_view path) {
  if (idem) {
    AppliedRequest r;
    r.fingerprint = idem->fingerprint;
    r.status = static_cast<std::uint16_t>(status);
    r.body = dump(reply);
    if (r.body.size() > kMaxRequestBodyBytes && reply.contains("spec")) {
      json smaller = reply;
      smaller.erase("spec");
      r.body = dump(smaller);
    }
    if (r.body.size() > kMaxRequestBodyBytes) r.body = dump(json{{"replayed", "answer too large to keep"}});
    if (!agent.submit(RecordRequest{idem->key, std::move(r)})) {
      return {error_response(503, "the agent is stopping or overloaded; the write was applied but not its "
                                  "Idempotency-Key record",
                             path)};
    }
  }
  add_durability(agent, reply);
  return {json_response(status, reply), true};
}

ApiReply put_target(Agent& agent, const std::string& id, std::string_view path, const std::string& body,
                    const ApiOptions& options, const std::optional<Idempotency>& idem) {
  auto parsed = parse_body(body);
  if (!parsed) return {error_response(400, parsed.error(), path)};
  nlohmann::json& j = *parsed;
  if (j.contains("id")) {
    const nlohmann::json& given = j.at("id");
    if (!given.is_string() || given.get<std::string>() != id) {
      return {error_response(
          400,
          fmt::format("id: the body's id ({}) differs from the path's ('{}')",
                      given.is_string() ? quote_for_message(given.get<std::string>()) : std::string(given.type_name()), id),
          path)};
    }
  }
  j["id"] = id;
  auto spec = TargetSpec::from_json(j, "body");
  if (!spec) return {error_response(400, spec.error(), path)};
  if (spec->interval < options.min_interval) {
    return {error_response(400,
                           fmt::format("body.interval_ms: {} is below this agent's floor for targets written through "
                                       "the API, {} ms (min_api_interval_ms in its config, --min-api-interval-ms)",
                                       spec->interval.ms(), options.min_interval.ms()),
                           path)};
  }
  const HealthState& state = agent.node().health_state();
  const bool created = !state.target(id).has_value();
  if (created && state.target_count() >= AgentConfig::kMaxTargets) {
    return {error_response(400, fmt::format("the registry already holds {} targets, the limit", AgentConfig::kMaxTargets),
                           path)};
  }
  const nlohmann::json spec_json = spec->to_json();
  if (ExternalStore* store = agent.external_store()) {
    const HlcTimestamp at = HlcTimestamp::make(static_cast<std::uint64_t>(agent.now().ns() / 1'000'000), 0);
    ApiReply r;
    r.deferred = [&agent, store, id, path = std::string(path), spec = std::move(*spec), spec_json,
                  at](std::function<void(HttpResponse)> send) mutable {
      store->write(StoreTargetPut{std::move(spec), at}, [&agent, id, path, spec_json, send](const store::WriteDone& d) {
        if (!d.ok) return send(store_failure(d, path));
        send(json_response(d.created ? 201 : 200, json{{"id", id},
                                                        {"created", d.created},
                                                        {"owners", agent.node().owners(id)},
                                                        {"spec", json::parse(spec_json.dump())},
                                                        {"durable", true}}));
      });
    };
    return r;
  }
  if (!agent.submit(PutTarget{std::move(*spec)})) {
    return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  }
  if (!state.target(id)) return {error_response(500, "the target was not registered (see the agent's log)", path)};
  json reply{{"id", id},
             {"created", created},
             {"owners", agent.node().owners(id)},
             {"spec", json::parse(spec_json.dump())}};
  return finish_write(agent, idem, created ? 201 : 200, std::move(reply), path);
}

ApiReply delete_target(Agent& agent, const std::string& id, std::string_view path,
                       const std::optional<Idempotency>& idem) {
  const HealthState& state = agent.node().health_state();
  if (!state.target(id)) return {error_response(404, fmt::format("no target '{}'", id), path)};
  if (ExternalStore* store = agent.external_store()) {
    ApiReply r;
    r.deferred = [store, id, path = std::string(path)](std::function<void(HttpResponse)> send) {
      store->write(StoreTargetRemove{id}, [id, path, send](const store::WriteDone& d) {
        if (!d.ok) return send(store_failure(d, path));
        if (!d.found) return send(error_response(404, fmt::format("no target '{}'", id), path));
        send(json_response(200, json{{"id", id}, {"deleted", true}, {"durable", true}}));
      });
    };
    return r;
  }
  if (!agent.submit(DeleteTarget{id})) {
    return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  }
  if (state.target(id)) return {error_response(500, "the target is still registered (see the agent's log)", path)};
  json reply{{"id", id}, {"deleted", true}};
  return finish_write(agent, idem, 200, std::move(reply), path);
}

ApiReply add_to_counter(Agent& agent, const std::string& name, std::string_view path, const std::string& body,
                        const std::optional<Idempotency>& idem) {
  auto parsed = parse_body(body);
  if (!parsed) return {error_response(400, parsed.error(), path)};
  const nlohmann::json& j = *parsed;
  for (const auto& [key, _] : j.items()) {
    if (key != "delta") return {error_response(400, fmt::format("{}: unknown key (known: delta)", quote_for_message(key)), path)};
  }
  if (!j.contains("delta")) return {error_response(400, "delta: missing (an integer, e.g. {\"delta\": 3})", path)};
  const nlohmann::json& d = j.at("delta");
  if (!d.is_number_integer() ||
      (d.is_number_unsigned() && d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    return {error_response(400, fmt::format("delta: must be an integer in the int64 range, got {}", d.dump()), path)};
  }
  const std::int64_t delta = d.get<std::int64_t>();
  if (auto problem = agent.node().health_state().counter_add_problem(name, delta)) {
    return {error_response(400, fmt::format("delta: {}", *problem), path)};
  }
  if (ExternalStore* store = agent.external_store()) {
    ApiReply r;
    r.deferred = [store, name, delta, path = std::string(path)](std::function<void(HttpResponse)> send) {
      store->write(StoreCounterAdd{name, delta}, [name, path, send](const store::WriteDone& done) {
        if (!done.ok) return send(store_failure(done, path));
        send(json_response(200, json{{"name", name}, {"value", done.value}}));
      });
    };
    return r;
  }
  if (!agent.submit(AddToCounter{name, delta})) {
    return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  }
  if (idem) return finish_write(agent, idem, 200, json{{"name", name}, {"value", agent.node().counter(name)}}, path);
  return {json_response(200, json{{"name", name}, {"value", agent.node().counter(name)}}), true};
}

// --- sets (the likes service) ------------------------------------------------

std::optional<std::string> set_part_problem(std::string_view what, std::string_view s, std::size_t max) {
  if (s.size() > max) return fmt::format("{} of {} characters, more than {}", what, s.size(), max);
  const bool ok = what == "set name" ? valid_set_name(s) : valid_set_member(s);
  if (!ok) {
    return fmt::format("invalid {} {}: 1-{} characters of A-Z a-z 0-9 . _ : -", what,
                       quote_for_message(std::string(s)), max);
  }
  return std::nullopt;
}

ApiReply set_write(Agent& agent, const std::string& set, const std::string& member, bool add, std::string_view path,
                   const std::optional<Idempotency>& idem) {
  const HealthState& state = agent.node().health_state();
  const bool was = state.set_contains(set, member);
  const bool accepted = add ? agent.submit(AddToSet{set, member}) : agent.submit(RemoveFromSet{set, member});
  if (!accepted) return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  if (state.set_contains(set, member) != add) {
    return {error_response(500, "the set did not change (see the agent's log)", path)};
  }
  json reply{{"set", set}, {"member", member}};
  reply[add ? "added" : "removed"] = add ? !was : was;
  reply["count"] = state.set_members(set, {}, 0).count;
  return finish_write(agent, idem, add && !was ? 201 : 200, std::move(reply), path);
}

ApiReply set_read(Agent& agent, const std::string& set, std::string_view path, std::string_view query) {
  std::size_t limit = kDefaultSetPage;
  std::string after;
  for (const auto& [k, v] : parse_query(query)) {
    if (k == "limit") {
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || end != v.data() + v.size() || n < 1 || n > kMaxSetPage) {
        return {error_response(400, fmt::format("limit: must be an integer in [1, {}], got {}", kMaxSetPage,
                                                quote_for_message(v)),
                               path)};
      }
      limit = n;
    } else if (k == "after") {
      if (auto problem = set_part_problem("member", v, kMaxSetMemberLength)) {
        return {error_response(400, "after: " + *problem, path)};
      }
      after = v;
    } else {
      return {error_response(400, fmt::format("unknown query parameter {} (known: limit, after)", quote_for_message(k)),
                             path)};
    }
  }
  const SetPage page = agent.node().health_state().set_members(set, after, limit);
  json reply{{"name", set}, {"count", page.count}, {"members", page.members}};
  reply["next"] = page.more && !page.members.empty() ? json(page.members.back()) : json(nullptr);
  return {json_response(200, reply)};
}

// --- alert routes written through the API (/v1/alerts/routes/{name}) ---------

std::optional<HttpResponse> route_write_refused(Agent& agent, const std::string& name, std::string_view path) {
  if (configured_route(agent, name)) {
    return error_response(409,
                          fmt::format("route '{}' is defined in this agent's config file (\"alerts\"); change it there, "
                                      "or write the route under another name",
                                      name),
                          path);
  }
  return std::nullopt;
}

ApiReply put_route(Agent& agent, const std::string& name, std::string_view path, const std::string& body,
                   const std::optional<Idempotency>& idem) {
  auto parsed = parse_body(body);
  if (!parsed) return {error_response(400, parsed.error(), path)};
  nlohmann::json& j = *parsed;
  if (j.contains("name")) {
    const nlohmann::json& given = j.at("name");
    if (!given.is_string() || given.get<std::string>() != name) {
      return {error_response(
          400,
          fmt::format("name: the body's name ({}) differs from the path's ('{}')",
                      given.is_string() ? quote_for_message(given.get<std::string>()) : std::string(given.type_name()),
                      name),
          path)};
    }
  }
  j["name"] = name;
  auto route = AlertRoute::from_json(j, "body");
  if (!route) return {error_response(400, route.error(), path)};
  if (auto refused = route_write_refused(agent, name, path)) return {std::move(*refused)};
  const HealthState& state = agent.node().health_state();
  const bool created = state.route(name) == nullptr;
  if (created && state.routes().size() >= kMaxApiRoutes) {
    return {error_response(409, fmt::format("{} routes are written through the API already, the limit", kMaxApiRoutes),
                           path)};
  }
  const AlertRoute written = *route;
  if (!agent.submit(PutRoute{std::move(*route)})) {
    return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  }
  const RouteVersion* now = state.route(name);
  if (!now || !now->route || *now->route != written) {
    return {error_response(500, "the route was not written (see the agent's log)", path)};
  }
  return finish_write(agent, idem, created ? 201 : 200,
                      json{{"name", name}, {"created", created}, {"route", route_json(written, false)}}, path);
}

ApiReply delete_route(Agent& agent, const std::string& name, std::string_view path,
                      const std::optional<Idempotency>& idem) {
  if (auto refused = route_write_refused(agent, name, path)) return {std::move(*refused)};
  const HealthState& state = agent.node().health_state();
  if (!state.route(name)) return {error_response(404, fmt::format("no route '{}' written through the API", name), path)};
  if (!agent.submit(DeleteRoute{name})) {
    return {error_response(503, "the agent is stopping or overloaded; try again", path)};
  }
  if (state.route(name)) return {error_response(500, "the route was not removed (see the agent's log)", path)};
  return finish_write(agent, idem, 200, json{{"name", name}, {"removed", true}}, path);
}

ApiReply get_route(Agent& agent, const std::string& name, std::string_view path) {
  for (const AlertRoute& r : agent.node().alerts().config().routes) {
    if (r.name == name) return {json_response(200, route_json(r, configured_route(agent, name)))};
  }
  return {error_response(404, fmt::format("no route '{}'", name), path)};
}

std::optional<std::string> counter_name_problem(const std::string& name) {
  if (name.empty()) return "empty counter name";
  if (name.size() > kMaxCounterNameBytes) {
    return fmt::format("counter name of {} bytes, more than {}", name.size(), kMaxCounterNameBytes);
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "counter name with a control character";
  }
  return std::nullopt;
}

enum class Route {
  none, page, index, targets, target, target_history, owners, counter, set, set_member, status, members, health,
  changes, alerts, alert_route, metrics
};

std::string_view allowed_methods(Route r) {
  switch (r) {
    case Route::target:
    case Route::set_member:
    case Route::alert_route: return "GET, HEAD, PUT, DELETE";
    case Route::counter: return "GET, HEAD, POST";
    default: return "GET, HEAD";
  }
}

bool method_allowed(Route r, std::string_view method) {
  if (method == "GET" || method == "HEAD") return true;
  if (r == Route::target || r == Route::set_member || r == Route::alert_route) {
    return method == "PUT" || method == "DELETE";
  }
  if (r == Route::counter) return method == "POST";
  return false;
}

json allowed_list(std::string_view allow) {
  json list = json::array();
  while (!allow.empty()) {
    const auto comma = allow.find(',');
    list.push_back(std::string(allow.substr(0, comma)));
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 2);
  }
  return list;
}

}  // namespace

ApiReply route_api_request(Agent& agent, const HttpRequest& request, const ApiOptions& options) {
  const std::string_view target = request.target;
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  // Known paths: route by path first, then check the method.
  Route route = Route::none;
  std::string_view rest;
  auto below = [&](std::string_view prefix) {
    if (!path.starts_with(prefix) || path.size() == prefix.size()) return false;
    rest = path.substr(prefix.size());
    return rest.find('/') == std::string_view::npos;
  };
  if (path == "/") {
    route = Route::page;
  } else if (path == "/v1" || path == "/v1/") {
    route = Route::index;
  } else if (path == "/v1/targets") {
    route = Route::targets;
  } else if (below(kTargetsPrefix)) {
    route = Route::target;
  } else if (path.starts_with(kTargetsPrefix) && path.ends_with("/history") &&
             path.size() > kTargetsPrefix.size() + 8) {
    // /v1/targets/{id}/history
    rest = path.substr(kTargetsPrefix.size(), path.size() - kTargetsPrefix.size() - 8);
    if (rest.find('/') == std::string_view::npos) route = Route::target_history;
  } else if (below(kOwnersPrefix)) {
    route = Route::owners;
  } else if (below(kCountersPrefix)) {
    route = Route::counter;
  } else if (path.starts_with(kSetsPrefix) && path.size() > kSetsPrefix.size()) {
    // /v1/sets/{name} or /v1/sets/{name}/{member}
    rest = path.substr(kSetsPrefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      route = Route::set;
    } else if (rest.find('/', slash + 1) == std::string_view::npos) {
      route = Route::set_member;
    }
  } else if (path == "/v1/status") {
    route = Route::status;
  } else if (path == "/v1/members") {
    route = Route::members;
  } else if (path == "/v1/health") {
    route = Route::health;
  } else if (path == "/v1/changes") {
    route = Route::changes;
  } else if (path == "/v1/alerts") {
    route = Route::alerts;
  } else if (below(kRoutesPrefix)) {
    route = Route::alert_route;
  } else if (path == "/metrics") {
    route = Route::metrics;
  }

  if (route == Route::none) return {error_response(404, "not found", path)};
  if (!method_allowed(route, request.method)) {
    const std::string_view allow = allowed_methods(route);
    auto r = json_response(405, json{{"error", fmt::format("method {} not allowed", request.method)},
                                     {"path", std::string(path)},
                                     {"allowed", allowed_list(allow)}});
    r.allow = std::string(allow);
    return {std::move(r)};
  }
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (!read) {
    if (!options.token.empty() && !bearer_matches(request.authorization, options.token)) {
      auto r = error_response(401, "missing or wrong bearer token", path);
      r.www_authenticate = "Bearer";
      return {std::move(r)};
    }
    if (request.body.size() > options.max_body_bytes) {
      return {error_response(413, fmt::format("request body larger than {} bytes", options.max_body_bytes), path)};
    }
  }

  // Idempotent writes: a key seen before (by any agent, once its record
  // reached this one) gets the first answer again and changes nothing.
  // The etcd store keeps targets, observations and counters only: sets and
  // the record of applied keys live in the gossip store.
  if (agent.external_store() && (route == Route::set || route == Route::set_member ||
                                  (route == Route::alert_route && !read) || (!read && request.idempotency_key))) {
    return {error_response(501,
                           route == Route::set || route == Route::set_member
                               ? "sets are kept by the gossip store only; this agent runs --store etcd"
                           : route == Route::alert_route
                               ? "alert routes written through the API are kept by the gossip store only; this agent "
                                 "runs --store etcd: put the route in the config file (\"alerts\")"
                               : "Idempotency-Key: not supported with --store etcd (the gossip store keeps the "
                                 "record of applied writes); send the write without it",
                           path)};
  }
  std::optional<Idempotency> idem;
  if (!read && request.idempotency_key) {
    const std::string& key = *request.idempotency_key;
    if (!valid_request_key(key)) {
      return {error_response(
          400,
          fmt::format("Idempotency-Key: must be 1-{} printable ASCII characters without spaces (one header), got {} "
                      "of {} bytes",
                      kMaxRequestKeyLength, quote_for_message(key.substr(0, 64)), key.size()),
          path)};
    }
    std::string fingerprinted = request.method;
    fingerprinted += '\n';
    fingerprinted += request.target;
    fingerprinted += '\n';
    fingerprinted += request.body;
    idem = Idempotency{key, XXH64(fingerprinted.data(), fingerprinted.size(), 0x6964656d /* "idem" */)};
    if (const AppliedRequest* first = agent.node().health_state().first_request(key)) {
      if (first->fingerprint != idem->fingerprint) {
        return {error_response(
            422,
            fmt::format("Idempotency-Key {} was already used for a different request (method, path or body)",
                        quote_for_message(key)),
            path)};
      }
      HttpResponse r;
      r.status = first->status;
      r.body = first->body;
      r.replayed = true;
      return {std::move(r)};
    }
  }

  // The id or name in the path.
  std::string name;
  if (route == Route::target || route == Route::owners || route == Route::target_history) {
    name = std::string(rest);
    if (!valid_target_id(name)) {
      return {error_response(
          400,
          fmt::format("invalid target id {}: 1-{} characters of A-Z a-z 0-9 . _ : -", quote_for_message(name), TargetSpec::kMaxIdLength),
          path)};
    }
  } else if (route == Route::counter) {
    name = url_decode(rest, false);
    if (auto problem = counter_name_problem(name)) return {error_response(400, *problem, path)};
  }
  if (route == Route::alert_route) {
    name = std::string(rest);
    if (!valid_route_name(name)) {
      return {error_response(400,
                             fmt::format("invalid route name {}: 1-{} characters of A-Z a-z 0-9 . _ : -",
                                         quote_for_message(name), AlertRoute::kMaxNameLength),
                             path)};
    }
  }
  std::string member;
  if (route == Route::set || route == Route::set_member) {
    const auto slash = rest.find('/');
    name = std::string(rest.substr(0, slash));
    if (auto problem = set_part_problem("set name", name, kMaxSetNameLength)) return {error_response(400, *problem, path)};
    if (route == Route::set_member) {
      member = std::string(rest.substr(slash + 1));
      if (auto problem = set_part_problem("member", member, kMaxSetMemberLength)) {
        return {error_response(400, *problem, path)};
      }
    }
  }

  switch (route) {
    case Route::page: {
      HttpResponse r;
      r.content_type = "text/html; charset=utf-8";
      r.body = std::string(status_page_html());
      return {std::move(r)};
    }
    case Route::index: return {endpoints()};
    case Route::targets: return {list_targets(agent, path, query)};
    case Route::target: {
      if (request.method == "PUT") return put_target(agent, name, path, request.body, options, idem);
      if (request.method == "DELETE") return delete_target(agent, name, path, idem);
      auto v = agent.node().target_view(name, agent.now());
      if (!v) return {error_response(404, fmt::format("no target '{}'", name), path)};
      return {json_response(200, target_json(agent, *v))};
    }
    case Route::owners: return {owners(agent, name)};
    case Route::counter: {
      if (request.method == "POST") return add_to_counter(agent, name, path, request.body, idem);
      return {json_response(200, json{{"name", name}, {"value", agent.node().counter(name)}})};
    }
    case Route::set: return set_read(agent, name, path, query);
    case Route::set_member: {
      if (request.method == "PUT" || request.method == "DELETE") {
        return set_write(agent, name, member, request.method == "PUT", path, idem);
      }
      return {json_response(200, json{{"set", name},
                                      {"member", member},
                                      {"present", agent.node().health_state().set_contains(name, member)}})};
    }
    case Route::status: return {status(agent, options)};
    case Route::members: return {members(agent)};
    case Route::health: return {health(agent)};
    case Route::changes: return {changes(agent)};
    case Route::target_history: return {target_history(agent, name, path)};
    case Route::alerts: return {alerts(agent)};
    case Route::alert_route: {
      if (request.method == "PUT") return put_route(agent, name, path, request.body, idem);
      if (request.method == "DELETE") return delete_route(agent, name, path, idem);
      return get_route(agent, name, path);
    }
    case Route::metrics: {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = agent.render_metrics();
      return {std::move(r)};
    }
    case Route::none: break;
  }
  return {error_response(404, "not found", path)};
}

HttpResponse handle_api_request(Agent& agent, const HttpRequest& request, const ApiOptions& options) {
  ApiReply r = route_api_request(agent, request, options);
  if (r.deferred) return error_response(503, "this write is answered asynchronously (an external store)", request.target);
  return r.response;
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

ApiServer::ApiServer(boost::asio::io_context& io, Agent& agent, HttpServerOptions options, ApiOptions api)
    : server_(
          io,
          [&agent, api = std::move(api)](const HttpRequest& req, HttpServer::Reply reply) {
            ApiReply r;
            try {
              r = route_api_request(agent, req, api);
            } catch (const std::exception& e) {
              r.response = error_response(500, fmt::format("internal error: {}", e.what()), "");
              r.after_flush = false;
            }
            if (r.deferred) {
              // Exactly one answer: the store answers every write within its deadline.
              auto shared = std::make_shared<HttpServer::Reply>(std::move(reply));
              auto once = [shared](HttpResponse response) {
                if (!*shared) return;
                auto f = std::move(*shared);
                *shared = nullptr;
                f(std::move(response));
              };
              try {
                r.deferred(once);
              } catch (const std::exception& e) {
                once(error_response(500, fmt::format("internal error: {}", e.what()), ""));
              }
            } else if (r.after_flush) {
              agent.after_replication_flush(
                  [reply = std::move(reply), response = std::move(r.response)]() mutable { reply(std::move(response)); });
            } else {
              reply(std::move(r.response));
            }
          },
          std::move(options), [&agent](unsigned status) { agent.count_api_request(status); }) {}

}  // namespace heck::runtime
