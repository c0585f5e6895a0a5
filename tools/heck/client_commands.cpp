// The `heck` client commands: ask a running agent through its API
// (runtime/api_client.h, the contract in runtime/api_server.h).
//
//   heck status                              the agent's summary
//   heck targets [--unhealthy | --status S]  every target, unhealthy first
//   heck add-target ID --url U [--interval-ms N] [--timeout-ms N]
//                   [--checkers N] [--quorum N] [--spec FILE|-]
//   heck remove-target ID
//   heck counter NAME [--add N]
//   heck set NAME [--add M | --remove M | --has M] [--limit N] [--after M]
//   heck alerts                              routes, counters, last deliveries
//   heck route NAME [--url U] [--format json|slack] [--targets ID,...]
//              [--for-ms N] [--repeat-ms N] [--no-resolved] [--spec FILE|-]
//              [--remove]                    an alert route through the API
//   heck history ID                          a target's transitions and uptime
//   (heck members: agent_command.cpp; heck owners ID... --api: owners_command.cpp)
//
// Every command takes --api HOST:PORT (default 127.0.0.1:7700), --token
// (default $HECK_API_TOKEN; sent as a bearer token on writes only), --json
// (print the API's JSON as it came) and --api-timeout-ms.
//
// Exit codes: 0 done; 1 the agent could not be reached or the API refused
// ("heck: cannot reach agent at 127.0.0.1:7700: connection refused",
// "heck: no target 'web'"); 2 bad arguments (named).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/alerts/alert_route.h"
#include "core/replicated/health_state.h"
#include "core/target_spec.h"
#include "runtime/api_client.h"
#include "runtime/log.h"
#include "tools/heck/commands.h"

namespace heck::cli {

using runtime::sanitize_for_log;

// ---- shared by the client commands (commands.h) -----------------------------

void add_client_options(CLI::App* cmd, ClientArgs& args) {
  cmd->add_option("--api", args.api, "the agent's API address HOST:PORT")->capture_default_str();
  cmd->add_option("--token", args.token, "bearer token for writes (default: $HECK_API_TOKEN)");
  cmd->add_flag("--json", args.json, "print the API's JSON instead of a table");
  cmd->add_option("--api-timeout-ms", args.timeout_ms, "give up on the agent after this long")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  cmd->add_option("--request-id", args.request_id,
                  "Idempotency-Key of a write (default: a random one; the command repeats a write whose answer "
                  "was lost with it, and any agent answers a repeat with the first answer)");
}

namespace {

// 128 random bits as hex: a fresh Idempotency-Key per command.
std::string random_request_id() {
  std::random_device rd;
  std::string id = "heck-";
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", static_cast<std::uint32_t>(rd()));
  return id;
}

}  // namespace

[[noreturn]] void client_fail(int code, std::string_view message) {
  std::fprintf(stderr, "heck: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

runtime::ApiClient make_client(const ClientArgs& args) {
  auto api = runtime::HostPort::parse(args.api);
  if (!api) client_fail(2, fmt::format("--api: {}", api.error()));
  std::string token = args.token;
  if (token.empty()) {
    if (const char* env = std::getenv("HECK_API_TOKEN")) token = env;
  }
  runtime::ApiClient client(*api, Duration::milliseconds(args.timeout_ms), std::move(token));
  client.set_request_id(args.request_id.empty() ? random_request_id() : args.request_id);
  return client;
}

void print_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string json_text(const nlohmann::json& j, std::string_view key, std::size_t max_bytes) {
  if (!j.is_object() || !j.contains(key)) return "-";
  const auto& v = j.at(key);
  if (v.is_null()) return "-";
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    return s.empty() ? "-" : sanitize_for_log(s, max_bytes);
  }
  return sanitize_for_log(v.dump(), max_bytes);
}

std::string json_names(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_array() || j.at(key).empty()) return "-";
  std::string out;
  for (const auto& n : j.at(key)) {
    if (!out.empty()) out += ",";
    out += n.is_string() ? sanitize_for_log(n.get<std::string>(), 128) : "?";
  }
  return out;
}

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      if (c + 1 == cells.size()) {
        l += cells[c];  // no padding after the last column
      } else {
        l += fmt::format("{:<{}}  ", cells[c], width[c]);
      }
    }
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

namespace {

// ---- heck status -------------------------------------------------------------

std::int64_t count_of(const nlohmann::json& j, std::string_view object, std::string_view key) {
  if (!j.is_object() || !j.contains(object) || !j.at(object).is_object()) return 0;
  const auto& o = j.at(object);
  if (!o.contains(key) || !o.at(key).is_number_integer()) return 0;
  return o.at(key).get<std::int64_t>();
}

std::string format_status(const nlohmann::json& s, const std::string& api) {
  std::string out;
  out += fmt::format("agent      {} at {} (version {})\n", json_text(s, "name", 128), json_text(s, "address", 256),
                     json_text(s, "version", 64));
  out += fmt::format("members    {} alive, {} suspect, {} dead, {} left\n", count_of(s, "members", "alive"),
                     count_of(s, "members", "suspect"), count_of(s, "members", "dead"),
                     count_of(s, "members", "left"));
  out += fmt::format("targets    {} total: {} unhealthy, {} unknown, {} healthy; {} stale\n",
                     count_of(s, "targets", "total"), count_of(s, "targets", "unhealthy"),
                     count_of(s, "targets", "unknown"), count_of(s, "targets", "healthy"),
                     count_of(s, "targets", "stale"));
  out += fmt::format("checked    {} here\n", json_text(s, "checked_here", 32));
  if (s.contains("unhealthy") && s.at("unhealthy").is_array() && !s.at("unhealthy").empty()) {
    out += fmt::format("unhealthy  {}\n", json_names(s, "unhealthy"));
  }
  out += fmt::format("page       http://{}/\n", api);
  return out;
}

void run_status(const ClientArgs& args) {
  const auto client = make_client(args);
  std::string raw;
  auto s = client.get("/v1/status", &raw);
  if (!s) client_fail(1, s.error());
  if (!s->is_object()) client_fail(1, fmt::format("agent at {} sent a bad /v1/status: not an object", args.api));
  print_out(args.json ? raw : format_status(*s, client.api().to_string()));
}

// ---- heck targets ------------------------------------------------------------

int status_rank(const std::string& status) {
  if (status == "unhealthy") return 0;
  if (status == "unknown") return 1;
  if (status == "healthy") return 2;
  return 3;
}

std::string format_age_ms(const nlohmann::json& t) {
  if (!t.contains("age_ms") || !t.at("age_ms").is_number()) return "-";
  const double ms = t.at("age_ms").get<double>();
  if (ms < 10'000) return fmt::format("{:.1f}s", ms / 1000);
  if (ms < 120'000) return fmt::format("{:.0f}s", ms / 1000);
  if (ms < 7'200'000) return fmt::format("{:.0f}m", ms / 60'000);
  return fmt::format("{:.0f}h", ms / 3'600'000);
}

}  // namespace

std::string format_targets_table(const nlohmann::json& list) {
  struct Row {
    int rank;
    std::string id;
    std::vector<std::string> cells;
  };
  std::vector<Row> rows;
  for (const auto& t : list) {
    if (!t.is_object()) continue;
    const std::string status = json_text(t, "status", 16);
    std::string shown = status;
    if (t.contains("stale") && t.at("stale").is_boolean() && t.at("stale").get<bool>()) shown += " (stale)";
    std::string owners = json_names(t, "owners");
    if (t.contains("checked_here") && t.at("checked_here").is_boolean() && t.at("checked_here").get<bool>()) {
      owners += " (here)";
    }
    Row r{status_rank(status), json_text(t, "id", 128), {}};
    r.cells = {r.id,        shown, format_age_ms(t), json_text(t, "last_observer", 128), owners,
               json_text(t, "reason", 60), json_text(t, "url", 200)};
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.rank != b.rank ? a.rank < b.rank : a.id < b.id; });
  std::vector<std::vector<std::string>> cells;
  for (auto& r : rows) cells.push_back(std::move(r.cells));
  return format_table({"ID", "STATUS", "AGE", "OBSERVER", "OWNERS", "REASON", "URL"}, cells);
}

namespace {

struct TargetsArgs {
  ClientArgs client;
  bool unhealthy = false;
  std::string status;
};

void run_targets(const TargetsArgs& args) {
  std::string path = "/v1/targets";
  if (args.unhealthy) path += "?status=unhealthy";
  else if (!args.status.empty()) path += "?status=" + runtime::encode_path_segment(args.status);
  const auto client = make_client(args.client);
  std::string raw;
  auto list = client.get(path, &raw);
  if (!list) client_fail(1, list.error());
  if (!list->is_array()) client_fail(1, fmt::format("agent at {} sent a bad {}: not an array", args.client.api, path));
  if (args.client.json) return print_out(raw);
  if (list->empty()) {
    return print_out(args.unhealthy || !args.status.empty() ? "no targets with that status\n"
                                                             : "no targets registered (see `heck add-target`)\n");
  }
  print_out(format_targets_table(*list));
}

// ---- heck add-target / remove-target ----------------------------------------

struct AddArgs {
  ClientArgs client;
  std::string id;
  std::string url;
  std::optional<std::int64_t> interval_ms;
  std::optional<std::int64_t> timeout_ms;
  std::optional<int> checkers;
  std::optional<int> quorum;
  std::string spec_file;
};

constexpr std::size_t kMaxSpecBytes = 64 * 1024;

nlohmann::json read_spec(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) client_fail(2, fmt::format("--spec {}: cannot open", path));
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string name = path == "-" ? "stdin" : path;
  if (text.size() > kMaxSpecBytes) client_fail(2, fmt::format("--spec {}: over {} bytes", name, kMaxSpecBytes));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) client_fail(2, fmt::format("--spec {}: not JSON", name));
  if (!j.is_object()) client_fail(2, fmt::format("--spec {}: not a JSON object (a target spec)", name));
  return j;
}

void run_add(const AddArgs& args) {
  if (!valid_target_id(args.id)) {
    client_fail(2, fmt::format("target id '{}' must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                               sanitize_for_log(args.id, 140)));
  }
  nlohmann::json spec = args.spec_file.empty() ? nlohmann::json::object() : read_spec(args.spec_file);
  if (spec.contains("id") && spec.at("id") != args.id) {
    client_fail(2, fmt::format("--spec: its id {} differs from {}", sanitize_for_log(spec.at("id").dump(), 140),
                               args.id));
  }
  spec["id"] = args.id;
  if (!args.url.empty()) spec["url"] = args.url;
  if (args.interval_ms) spec["interval_ms"] = *args.interval_ms;
  if (args.timeout_ms) spec["timeout_ms"] = *args.timeout_ms;
  if (args.checkers) spec["checkers"] = *args.checkers;
  if (args.quorum) spec["quorum"] = *args.quorum;
  if (!spec.contains("url")) client_fail(2, "add-target: --url is required (or a \"url\" in --spec)");
  // Refuse here what the agent would refuse, with the same message.
  auto parsed = TargetSpec::from_json(spec, "target");
  if (!parsed) client_fail(2, parsed.error());

  const auto client = make_client(args.client);
  std::string raw;
  auto r = client.put("/v1/targets/" + runtime::encode_path_segment(args.id), spec, &raw);
  if (!r) client_fail(1, r.error());
  if (args.client.json) return print_out(raw);
  const bool created = r->is_object() && r->value("created", false);
  std::string out = fmt::format("{} {}: owners {}", created ? "added" : "replaced", args.id, json_names(*r, "owners"));
  if (r->is_object() && r->contains("durable") && r->at("durable").is_boolean()) {
    out += r->at("durable").get<bool>() ? "; written to disk" : "; not written to disk (agent has no data dir)";
  }
  if (r->is_object() && r->contains("replicated_to") && r->at("replicated_to").is_number_integer()) {
    out += fmt::format("; pushed to {} peers", r->at("replicated_to").get<std::int64_t>());
  }
  print_out(out + "\n");
}

struct RemoveArgs {
  ClientArgs client;
  std::string id;
};

void run_remove(const RemoveArgs& args) {
  if (!valid_target_id(args.id)) {
    client_fail(2, fmt::format("target id '{}' must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                               sanitize_for_log(args.id, 140)));
  }
  const auto client = make_client(args.client);
  std::string raw;
  auto r = client.del("/v1/targets/" + runtime::encode_path_segment(args.id), &raw);
  if (!r) client_fail(1, r.error());
  print_out(args.client.json ? raw : fmt::format("removed {}\n", args.id));
}

// ---- heck counter ------------------------------------------------------------

struct CounterArgs {
  ClientArgs client;
  std::string name;
  std::optional<std::int64_t> add;
};

constexpr std::size_t kMaxCounterNameBytes = 256;

void run_counter(const CounterArgs& args) {
  if (args.name.empty() || args.name.size() > kMaxCounterNameBytes) {
    client_fail(2, fmt::format("counter name must be 1-{} bytes, got {}", kMaxCounterNameBytes, args.name.size()));
  }
  const auto client = make_client(args.client);
  const std::string path = "/v1/counters/" + runtime::encode_path_segment(args.name);
  std::string raw;
  auto r = args.add ? client.post(path, nlohmann::json{{"delta", *args.add}}, &raw) : client.get(path, &raw);
  if (!r) client_fail(1, r.error());
  if (args.client.json) return print_out(raw);
  print_out(fmt::format("{} {}\n", sanitize_for_log(args.name, kMaxCounterNameBytes), json_text(*r, "value", 32)));
}

// ---- heck set ----------------------------------------------------------------

struct SetArgs {
  ClientArgs client;
  std::string name;
  std::optional<std::string> add, remove, has, after;
  std::size_t limit = 1000;
};

void check_set_part(std::string_view what, const std::string& s, bool ok, std::size_t max) {
  if (!ok) {
    client_fail(2, fmt::format("{} '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -", what,
                               sanitize_for_log(s, 140), max));
  }
}

void run_set(const SetArgs& args) {
  check_set_part("set name", args.name, valid_set_name(args.name), kMaxSetNameLength);
  for (const auto* m : {&args.add, &args.remove, &args.has, &args.after}) {
    if (*m) check_set_part("member", **m, valid_set_member(**m), kMaxSetMemberLength);
  }
  const auto client = make_client(args.client);
  const std::string path = "/v1/sets/" + args.name;
  std::string raw;
  if (args.add || args.remove) {
    const std::string& m = args.add ? *args.add : *args.remove;
    auto r = args.add ? client.put(path + "/" + m, nlohmann::json::object(), &raw) : client.del(path + "/" + m, &raw);
    if (!r) client_fail(1, r.error());
    if (args.client.json) return print_out(raw);
    const bool changed = r->value(args.add ? "added" : "removed", false);
    const char* what = args.add ? (changed ? "added" : "already in") : (changed ? "removed" : "not in");
    return print_out(fmt::format("{} {} {} ({} members)\n", what, m, args.name, json_text(*r, "count", 24)));
  }
  if (args.has) {
    auto r = client.get(path + "/" + *args.has, &raw);
    if (!r) client_fail(1, r.error());
    if (args.client.json) return print_out(raw);
    return print_out(r->value("present", false) ? "yes\n" : "no\n");
  }
  std::string target = fmt::format("{}?limit={}", path, args.limit);
  if (args.after) target += "&after=" + *args.after;
  auto r = client.get(target, &raw);
  if (!r) client_fail(1, r.error());
  if (args.client.json) return print_out(raw);
  std::string out = fmt::format("{} members\n", json_text(*r, "count", 24));
  if (r->contains("members") && r->at("members").is_array()) {
    for (const auto& m : r->at("members")) out += (m.is_string() ? sanitize_for_log(m.get<std::string>(), 140) : "?") + "\n";
  }
  if (r->contains("next") && r->at("next").is_string()) {
    out += fmt::format("(more: --after {})\n", sanitize_for_log(r->at("next").get<std::string>(), 140));
  }
  print_out(out);
}

// ---- heck alerts / history --------------------------------------------------

struct IdArgs {
  ClientArgs client;
  std::string id;
};

// One route on one line.
std::string route_line(const nlohmann::json& route) {
  return fmt::format("{} ({}): {} to {}, {}, for {} ms, repeat {} ms, resolved {}", json_text(route, "name", 64),
                     json_text(route, "source", 8), json_text(route, "format", 8), json_text(route, "url", 200),
                     route.contains("targets") ? fmt::format("{} target(s)", route.at("targets").size())
                                               : std::string("every target"),
                     json_text(route, "for_ms", 16), json_text(route, "repeat_ms", 16),
                     json_text(route, "send_resolved", 8));
}

// The routes, this agent's sender counters and its last deliveries.
void run_alerts(const ClientArgs& args) {
  const auto client = make_client(args);
  std::string raw;
  auto r = client.get("/v1/alerts", &raw);
  if (!r) client_fail(1, r.error());
  if (args.json) return print_out(raw);
  std::string out;
  const auto& routes = r->contains("routes") && r->at("routes").is_array() ? r->at("routes") : nlohmann::json::array();
  if (routes.empty()) out += "no alert routes (\"alerts\" in the agent's config, or heck route NAME --url U)\n";
  for (const auto& route : routes) {
    out += "route " + route_line(route) + "\n";
  }
  const auto& c = r->contains("counters") ? r->at("counters") : nlohmann::json::object();
  out += fmt::format("sent here {}, delivered {}, failed {}, retries {}, deferred {}, in flight {}\n",
                     json_text(c, "sent", 20), json_text(c, "delivered", 20), json_text(c, "failed", 20),
                     json_text(c, "retries", 20), json_text(c, "deferred", 20), json_text(*r, "in_flight", 20));
  const auto& list = r->contains("deliveries") && r->at("deliveries").is_array() ? r->at("deliveries")
                                                                                   : nlohmann::json::array();
  if (!list.empty()) {
    out += fmt::format("{:<25} {:<16} {:<24} {:<9} {:>7}  {}\n", "AT", "ROUTE", "TARGET", "KIND", "ATTEMPT", "RESULT");
  }
  for (const auto& d : list) {
    const bool ok = d.contains("delivered") && d.at("delivered").is_boolean() && d.at("delivered").get<bool>();
    out += fmt::format("{:<25} {:<16} {:<24} {:<9} {:>7}  {}\n", json_text(d, "at", 30), json_text(d, "route", 64),
                       json_text(d, "target", 128), json_text(d, "kind", 10), json_text(d, "attempt", 8),
                       ok ? std::string("delivered") : "failed: " + json_text(d, "error", 200));
  }
  print_out(out);
}

// ---- heck route --------------------------------------------------------------

struct RouteArgs {
  ClientArgs client;
  std::string name;
  std::optional<std::string> url, format, targets;
  std::optional<std::int64_t> for_ms, repeat_ms;
  bool no_resolved = false;
  bool remove = false;
  std::string spec_file;
};


// Shows, writes or removes one alert route written through the API.
void run_route(const RouteArgs& args) {
  if (!valid_route_name(args.name)) {
    client_fail(2, fmt::format("route name '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -",
                               sanitize_for_log(args.name, 140), AlertRoute::kMaxNameLength));
  }
  const std::string path = "/v1/alerts/routes/" + args.name;
  const bool write = args.url || args.format || args.targets || args.for_ms || args.repeat_ms || args.no_resolved ||
                     !args.spec_file.empty();
  if (args.remove && write) client_fail(2, "route: --remove takes no route fields");
  const auto client = make_client(args.client);
  std::string raw;
  if (args.remove) {
    auto r = client.del(path, &raw);
    if (!r) client_fail(1, r.error());
    return print_out(args.client.json ? raw : fmt::format("removed route {}\n", args.name));
  }
  if (!write) {
    auto r = client.get(path, &raw);
    if (!r) client_fail(1, r.error());
    return print_out(args.client.json ? raw : route_line(*r) + "\n");
  }
  nlohmann::json body = args.spec_file.empty() ? nlohmann::json::object() : read_spec(args.spec_file);
  if (!body.is_object()) client_fail(2, "--spec: a route must be a JSON object");
  body["name"] = args.name;
  if (args.url) body["url"] = *args.url;
  if (args.format) body["format"] = *args.format;
  if (args.for_ms) body["for_ms"] = *args.for_ms;
  if (args.repeat_ms) body["repeat_ms"] = *args.repeat_ms;
  if (args.no_resolved) body["send_resolved"] = false;
  if (args.targets) {
    nlohmann::json ids = nlohmann::json::array();
    std::stringstream in(*args.targets);
    for (std::string id; std::getline(in, id, ',');) {
      if (!id.empty()) ids.push_back(id);
    }
    body["targets"] = std::move(ids);
  }
  // Refuse here what the agent would refuse, with the same message.
  if (auto parsed = AlertRoute::from_json(body, "route"); !parsed) client_fail(2, parsed.error());
  auto r = client.put(path, body, &raw);
  if (!r) client_fail(1, r.error());
  if (args.client.json) return print_out(raw);
  const bool created = r->is_object() && r->value("created", false);
  print_out(fmt::format("{} route {}\n",
                        created ? "added" : "replaced",
                        r->contains("route") ? route_line(r->at("route")) : args.name));
}

// One target's past as the agent saw it.
void run_history(const IdArgs& args) {
  const auto client = make_client(args.client);
  std::string raw;
  auto r = client.get("/v1/targets/" + runtime::encode_path_segment(args.id) + "/history", &raw);
  if (!r) client_fail(1, r.error());
  if (args.client.json) return print_out(raw);
  auto uptime = [&](const char* window) -> std::string {
    if (!r->contains("uptime") || !r->at("uptime").contains(window)) return "-";
    const auto& u = r->at("uptime").at(window);
    if (!u.contains("fraction") || !u.at("fraction").is_number()) return "- (no known time)";
    return fmt::format("{:.2f}% (of {} s known)", u.at("fraction").get<double>() * 100, json_text(u, "known_s", 20));
  };
  std::string out = fmt::format("{} {}\nuptime 1 h {}, 24 h {}\n", json_text(*r, "id", 128), json_text(*r, "status", 10),
                                uptime("1h"), uptime("24h"));
  if (r->contains("latency")) {
    const auto& l = r->at("latency");
    std::size_t checks = 0, handed = 0;
    if (l.contains("samples") && l.at("samples").is_array()) {
      for (const auto& s : l.at("samples")) {
        ++checks;
        handed += s.is_object() && s.contains("here") && s.at("here") == false;
      }
    }
    out += fmt::format("latency of the last checks: p50 {} ms, max {} ms over {} check(s){}\n",
                       json_text(l, "p50_ms", 20), json_text(l, "max_ms", 20), checks,
                       handed ? fmt::format(", {} handed over by other owners", handed) : std::string());
  }
  if (r->contains("transitions") && r->at("transitions").is_array()) {
    for (const auto& t : r->at("transitions")) {
      out += fmt::format("{}  {} -> {}  ({}, {})\n", json_text(t, "at", 30), json_text(t, "from", 10),
                         json_text(t, "to", 10), json_text(t, "observer", 128), json_text(t, "reason", 200));
    }
  }
  print_out(out);
}

}  // namespace

void register_client_commands(CLI::App& app) {
  {
    auto args = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("alerts", "alert routes and this agent's last deliveries (GET /v1/alerts)");
    add_client_options(cmd, *args);
    cmd->callback([args] { run_alerts(*args); });
  }
  {
    auto args = std::make_shared<RouteArgs>();
    CLI::App* cmd = app.add_subcommand(
        "route", "show, write or remove an alert route kept in the replicated state (/v1/alerts/routes/NAME)");
    add_client_options(cmd, args->client);
    cmd->add_option("name", args->name, "route name")->required();
    cmd->add_option("--url", args->url, "the webhook: http(s)://host[:port]/path");
    cmd->add_option("--format", args->format, "the body: json (default) or slack")->check(CLI::IsMember({"json", "slack"}));
    cmd->add_option("--targets", args->targets, "only these target ids, comma-separated (default: every target)");
    cmd->add_option("--for-ms", args->for_ms, "unhealthy this long before it fires (default 0)");
    cmd->add_option("--repeat-ms", args->repeat_ms, "re-send a firing alert this often (default 0: never)");
    cmd->add_flag("--no-resolved", args->no_resolved, "send no resolved notification");
    cmd->add_option("--spec", args->spec_file, "a route as JSON from FILE or - (stdin); flags override it");
    cmd->add_flag("--remove", args->remove, "remove the route");
    cmd->callback([args] { run_route(*args); });
  }
  {
    auto args = std::make_shared<IdArgs>();
    CLI::App* cmd = app.add_subcommand(
        "history", "a target's transitions, uptime and latency as an agent saw them (GET /v1/targets/ID/history)");
    add_client_options(cmd, args->client);
    cmd->add_option("id", args->id, "target id")->required();
    cmd->callback([args] { run_history(*args); });
  }
  {
    auto args = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("status", "an agent's summary: members, targets by status (GET /v1/status)");
    add_client_options(cmd, *args);
    cmd->callback([args] { run_status(*args); });
  }
  {
    auto args = std::make_shared<TargetsArgs>();
    CLI::App* cmd =
        app.add_subcommand("targets", "every registered target with its status, unhealthy first (GET /v1/targets)");
    add_client_options(cmd, args->client);
    auto* u = cmd->add_flag("--unhealthy", args->unhealthy, "only unhealthy targets");
    cmd->add_option("--status", args->status, "only targets with this status")
        ->check(CLI::IsMember({"healthy", "unhealthy", "unknown"}))
        ->excludes(u);
    cmd->callback([args] { run_targets(*args); });
  }
  {
    auto args = std::make_shared<AddArgs>();
    CLI::App* cmd = app.add_subcommand("add-target", "register a target with the cluster (PUT /v1/targets/ID)");
    add_client_options(cmd, args->client);
    cmd->add_option("id", args->id, "target id")->required();
    cmd->add_option("--url", args->url, "http://host[:port]/path, https://... or tcp://host:port");
    cmd->add_option("--interval-ms", args->interval_ms, "time between checks (default 10000)");
    cmd->add_option("--timeout-ms", args->timeout_ms, "deadline of one check (default 2000)");
    cmd->add_option("--checkers", args->checkers, "agents that check it (default 1)");
    cmd->add_option("--quorum", args->quorum, "checkers that must agree it is unhealthy (default 1)");
    cmd->add_option("--spec", args->spec_file, "a target spec as JSON from FILE or - (stdin); flags override it");
    cmd->callback([args] { run_add(*args); });
  }
  {
    auto args = std::make_shared<RemoveArgs>();
    CLI::App* cmd = app.add_subcommand("remove-target", "unregister a target (DELETE /v1/targets/ID)");
    add_client_options(cmd, args->client);
    cmd->add_option("id", args->id, "target id")->required();
    cmd->callback([args] { run_remove(*args); });
  }
  {
    auto args = std::make_shared<CounterArgs>();
    CLI::App* cmd =
        app.add_subcommand("counter", "read a replicated counter, or add to it with --add (/v1/counters/NAME)");
    add_client_options(cmd, args->client);
    cmd->add_option("name", args->name, "counter name")->required();
    cmd->add_option("--add", args->add, "add N (may be negative) on this agent, then print the value here");
    cmd->callback([args] { run_counter(*args); });
  }
  {
    auto args = std::make_shared<SetArgs>();
    CLI::App* cmd = app.add_subcommand(
        "set", "list a replicated add-wins set, or add/remove a member (/v1/sets/NAME[/MEMBER]): the likes service");
    add_client_options(cmd, args->client);
    cmd->add_option("name", args->name, "set name")->required();
    auto* a = cmd->add_option("--add", args->add, "add MEMBER (counts once however often it is added)");
    auto* r = cmd->add_option("--remove", args->remove, "remove MEMBER")->excludes(a);
    cmd->add_option("--has", args->has, "print yes or no: is MEMBER in the set here")->excludes(a)->excludes(r);
    cmd->add_option("--limit", args->limit, "members per page")->check(CLI::Range(1, 10'000))->capture_default_str();
    cmd->add_option("--after", args->after, "list the members after this one (paging)");
    cmd->callback([args] { run_set(*args); });
  }
}

}  // namespace heck::cli
