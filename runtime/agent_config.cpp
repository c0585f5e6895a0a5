#include "runtime/agent_config.h"

#include "runtime/store/etcd_client.h"

#include "core/json_fields.h"
#include "core/membership/swim_config_check.h"
#include "core/wire/envelope.h"
#include "runtime/cluster/keyring.h"
#include "runtime/cluster/transport.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace heck::runtime {

using json = nlohmann::json;

// --- HostPort -----------------------------------------------------------------

Result<HostPort> HostPort::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (text.empty()) return Error{"empty address (expected HOST:PORT, e.g. 127.0.0.1:7700)"};
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error{fmt::format("'{}': unterminated '['", text)};
    host = text.substr(1, close - 1);
    const auto after = text.substr(close + 1);
    if (after.size() < 2 || after.front() != ':') {
      return Error{fmt::format("'{}': expected [IPv6]:PORT, e.g. [::1]:7700", text)};
    }
    port_text = after.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error{fmt::format("'{}': expected HOST:PORT, e.g. 127.0.0.1:7700", text)};
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{fmt::format("'{}': put IPv6 addresses in brackets, e.g. [::1]:7700", text)};
    }
  }
  HostPort hp;
  if (host == "localhost") {
    hp.host = "127.0.0.1";
  } else {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(std::string(host), ec);
    if (ec || host.empty()) {
      return Error{fmt::format("'{}': '{}' is not an IP address (use an IPv4 or IPv6 literal, or localhost)",
                               text, host)};
    }
    if (addr.is_v6() && addr.to_v6().scope_id() != 0) {
      return Error{fmt::format("'{}': scoped IPv6 addresses are not supported", text)};
    }
    hp.host = addr.to_string();
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{fmt::format("'{}': '{}' is not a port (0-65535)", text, port_text)};
  }
  const unsigned long port = std::stoul(std::string(port_text));
  if (port > 65535) return Error{fmt::format("'{}': '{}' is not a port (0-65535)", text, port_text)};
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// --- AgentConfig --------------------------------------------------------------

namespace {

using json_fields::type_name;

Result<std::int64_t> get_int(const json& j, std::string_view field, std::int64_t lo, std::int64_t hi) {
  return json_fields::read_int(j.at(std::string(field)), field, lo, hi);
}

constexpr std::array<std::string_view, 23> kKnownKeys = {
    "targets", "name", "api", "max_concurrent_checks", "max_body_bytes", "dns_ttl_ms", "min_api_interval_ms",
    "wire_format", "latency_handoff_ms", "idempotency_retention_ms", "max_idempotency_records", "removal_retention_ms", "bind", "advertise", "join", "keys", "leave_timeout_ms",
    "data_dir", "api_token", "swim", "store", "etcd", "alerts"};

constexpr std::size_t kMaxDataDirBytes = 4096;
constexpr std::size_t kMaxApiTokenBytes = 4096;

constexpr std::array<std::string_view, 12> kSwimKeys = {
    "probe_interval_ms",     "probe_timeout_ms",      "suspicion_mult",     "max_suspicion_timeout_mult",
    "indirect_checks",       "retransmit_mult",       "gossip_interval_ms", "gossip_nodes",
    "push_pull_interval_ms", "reconnect_interval_ms", "dead_reap_after_ms", "lifeguard"};

Result<std::vector<std::string>> get_string_list(const json& j, std::string_view field, std::size_t max) {
  if (!j.is_array()) return Error{fmt::format("{}: must be a list of strings, got {}", field, type_name(j))};
  if (j.size() > max) return Error{fmt::format("{}: at most {} entries, got {}", field, max, j.size())};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) {
      return Error{fmt::format("{}[{}]: must be a string, got {}", field, i, type_name(j[i]))};
    }
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

}  // namespace

Result<AgentConfig> AgentConfig::from_json(const json& j) {
  if (!j.is_object()) return Error{fmt::format("the config must be a JSON object, got {}", type_name(j))};
  for (const auto& [key, _] : j.items()) {
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) == kKnownKeys.end()) {
      return json_fields::unknown_key(key, key, kKnownKeys);
    }
  }
  AgentConfig c;
  if (!j.contains("targets")) return Error{"targets: missing (a list of targets, may be empty)"};
  {
    const json& t = j.at("targets");
    if (t.is_array() && t.size() > kMaxTargets) {
      return Error{fmt::format("targets: at most {} targets, got {}", kMaxTargets, t.size())};
    }
    auto list = parse_target_list(t, "targets");
    if (!list) return Error{list.error()};
    c.targets = std::move(*list);
  }
  if (j.contains("alerts")) {
    auto routes = parse_alert_routes(j.at("alerts"), "alerts");
    if (!routes) return Error{routes.error()};
    c.alerts = std::move(*routes);
  }
  if (j.contains("name")) {
    const json& v = j.at("name");
    if (!v.is_string()) return Error{fmt::format("name: must be a string, got {}", type_name(v))};
    const auto name = v.get<std::string>();
    if (!valid_member_name(name)) {
      return Error{fmt::format("name: '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -", name,
                               std::min<std::size_t>(TargetSpec::kMaxIdLength, wire::kMaxNameBytes))};
    }
    c.name = name;
  }
  if (j.contains("api")) {
    const json& v = j.at("api");
    if (!v.is_string()) return Error{fmt::format("api: must be a string like \"127.0.0.1:7700\", got {}", type_name(v))};
    auto hp = HostPort::parse(v.get<std::string>());
    if (!hp) return Error{fmt::format("api: {}", hp.error())};
    c.api = *hp;
  }
  if (j.contains("max_concurrent_checks")) {
    auto v = get_int(j, "max_concurrent_checks", 1, 100'000);
    if (!v) return Error{v.error()};
    c.max_concurrent_checks = static_cast<std::size_t>(*v);
  }
  if (j.contains("max_body_bytes")) {
    auto v = get_int(j, "max_body_bytes", 1, 256 * 1024 * 1024);
    if (!v) return Error{v.error()};
    c.max_body_bytes = static_cast<std::size_t>(*v);
  }
  if (j.contains("dns_ttl_ms")) {
    auto v = get_int(j, "dns_ttl_ms", 0, 86'400'000);
    if (!v) return Error{v.error()};
    c.dns_ttl = Duration::milliseconds(*v);
  }
  if (j.contains("min_api_interval_ms")) {
    auto v = get_int(j, "min_api_interval_ms", 1, 86'400'000);
    if (!v) return Error{v.error()};
    c.min_api_interval = Duration::milliseconds(*v);
  }
  if (j.contains("wire_format")) {
    auto v = get_int(j, "wire_format", static_cast<std::int64_t>(wire::kOldestFormatVersion),
                     static_cast<std::int64_t>(wire::kFormatVersion));
    if (!v) return Error{v.error()};
    c.wire_format = static_cast<std::uint64_t>(*v);
  }
  if (j.contains("latency_handoff_ms")) {
    auto v = get_int(j, "latency_handoff_ms", 0, 3'600'000);
    if (!v) return Error{v.error()};
    c.latency_handoff = Duration::milliseconds(*v);
  }
  if (j.contains("idempotency_retention_ms")) {
    auto v = get_int(j, "idempotency_retention_ms", 1'000, 30LL * 86'400'000);
    if (!v) return Error{v.error()};
    c.idempotency_retention = Duration::milliseconds(*v);
  }
  if (j.contains("removal_retention_ms")) {
    auto v = get_int(j, "removal_retention_ms", 1'000, 30LL * 86'400'000);
    if (!v) return Error{v.error()};
    c.removal_retention = Duration::milliseconds(*v);
  }
  if (j.contains("max_idempotency_records")) {
    auto v = get_int(j, "max_idempotency_records", 1, 10'000'000);
    if (!v) return Error{v.error()};
    c.max_idempotency_records = static_cast<std::size_t>(*v);
  }
  if (j.contains("bind")) {
    const json& v = j.at("bind");
    if (!v.is_string()) return Error{fmt::format("bind: must be a string like \"127.0.0.1:7946\", got {}", type_name(v))};
    auto hp = HostPort::parse(v.get<std::string>());
    if (!hp) return Error{fmt::format("bind: {}", hp.error())};
    c.bind = *hp;
  }
  if (j.contains("advertise")) {
    const json& v = j.at("advertise");
    if (!v.is_string()) return Error{fmt::format("advertise: must be a string like \"10.0.0.5:7946\", got {}", type_name(v))};
    auto a = check_cluster_address(v.get<std::string>());
    if (!a) return Error{fmt::format("advertise: {}", a.error())};
    c.advertise = *a;
  }
  if (j.contains("join")) {
    auto list = get_string_list(j.at("join"), "join", kMaxSeeds);
    if (!list) return Error{list.error()};
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto a = check_cluster_address((*list)[i]);
      if (!a) return Error{fmt::format("join[{}]: {}", i, a.error())};
      c.join.push_back(*a);
    }
  }
  if (j.contains("keys")) {
    auto list = get_string_list(j.at("keys"), "keys", cluster::kMaxKeys);
    if (!list) return Error{list.error()};
    auto ring = cluster::Keyring::from_base64(*list, "keys");
    if (!ring) return Error{ring.error()};
    c.keys = std::move(*list);
  }
  if (j.contains("leave_timeout_ms")) {
    auto v = get_int(j, "leave_timeout_ms", 0, 60'000);
    if (!v) return Error{v.error()};
    c.leave_timeout = Duration::milliseconds(*v);
  }
  if (j.contains("data_dir")) {
    const json& v = j.at("data_dir");
    if (!v.is_string()) return Error{fmt::format("data_dir: must be a string (a directory path), got {}", type_name(v))};
    auto d = check_data_dir(v.get<std::string>());
    if (!d) return Error{fmt::format("data_dir: {}", d.error())};
    c.data_dir = *d;
  }
  if (j.contains("api_token")) {
    const json& v = j.at("api_token");
    if (!v.is_string()) return Error{fmt::format("api_token: must be a string, got {}", type_name(v))};
    auto t = check_token_text(v.get<std::string>());
    if (!t) return Error{fmt::format("api_token: {}", t.error())};
    c.api_token = *t;
  }
  if (j.contains("store")) {
    const json& v = j.at("store");
    if (!v.is_string()) return Error{fmt::format("store: must be \"gossip\" or \"etcd\", got {}", type_name(v))};
    c.store = v.get<std::string>();
  }
  if (j.contains("etcd")) {
    const json& v = j.at("etcd");
    if (v.is_string()) {
      c.etcd = {v.get<std::string>()};
    } else {
      auto list = get_string_list(v, "etcd", 16);
      if (!list) return Error{list.error()};
      c.etcd = std::move(*list);
    }
  }
  if (j.contains("store") || j.contains("etcd")) {
    auto ok = check_store(c.store, c.etcd);
    if (!ok) return Error{ok.error()};
  }
  if (j.contains("swim")) {
    auto swim = parse_swim_overrides(j.at("swim"), c.swim, "swim.");
    if (!swim) return Error{swim.error()};
    c.swim = *swim;
  }
  return c;
}

Result<AgentConfig> AgentConfig::parse(std::string_view text) {
  // nlohmann keeps the last of duplicate keys silently; a config with two
  // "interval_ms" is a mistake we refuse. The callback sees every key.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  auto on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), on_event);
  } catch (const json::parse_error& e) {
    // Line and column of the byte where parsing failed (1-based).
    const std::size_t at = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    const auto last_nl = text.substr(0, at).rfind('\n');
    const std::size_t column = last_nl == std::string_view::npos ? at + 1 : at - last_nl;
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    if (const auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    return Error{fmt::format("not valid JSON: line {}, column {}: {}", line, column, what)};
  }
  if (duplicate) return Error{fmt::format("{}: duplicate key in one object", *duplicate)};
  return from_json(j);
}

Result<AgentConfig> AgentConfig::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open: {}", path, std::strerror(errno))};
  std::string text;
  std::array<char, 64 * 1024> buf{};
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return Error{fmt::format("{}: larger than {} bytes; not a config file?", path, kMaxFileBytes)};
    }
  }
  if (in.bad()) return Error{fmt::format("{}: read error", path)};
  auto c = parse(text);
  if (!c) return Error{fmt::format("{}: {}", path, c.error())};
  return c;
}

Result<SwimConfig> parse_swim_overrides(const json& j, SwimConfig s, std::string_view prefix) {
  if (!j.is_object()) {
    return Error{fmt::format("{}: must be an object, got {}", prefix.substr(0, prefix.size() - 1), type_name(j))};
  }
  for (const auto& [key, _] : j.items()) {
    if (std::find(kSwimKeys.begin(), kSwimKeys.end(), key) == kSwimKeys.end()) {
      return json_fields::unknown_key(fmt::format("{}{}", prefix, key), key, kSwimKeys);
    }
  }
  auto ms = [&](std::string_view key, std::int64_t lo, std::int64_t hi, Duration& out) -> std::optional<Error> {
    if (!j.contains(std::string(key))) return std::nullopt;
    const std::string field = fmt::format("{}{}", prefix, key);
    auto v = json_fields::read_int(j.at(std::string(key)), field, lo, hi);
    if (!v) return Error{v.error()};
    out = Duration::milliseconds(*v);
    return std::nullopt;
  };
  auto count = [&](std::string_view key, std::int64_t lo, std::int64_t hi, std::size_t& out) -> std::optional<Error> {
    if (!j.contains(std::string(key))) return std::nullopt;
    const std::string field = fmt::format("{}{}", prefix, key);
    auto v = json_fields::read_int(j.at(std::string(key)), field, lo, hi);
    if (!v) return Error{v.error()};
    out = static_cast<std::size_t>(*v);
    return std::nullopt;
  };
  // Only the JSON types here (whole milliseconds, non-negative counts); the
  // ranges are core's, shared with the simulator (core/membership/swim_config_check.h).
  constexpr std::int64_t kMaxMs = 9'000'000'000'000;  // fits a Duration in ns
  constexpr std::int64_t kMaxCount = 1'000'000'000;
  for (auto e : {ms("probe_interval_ms", -kMaxMs, kMaxMs, s.probe_interval),
                 ms("probe_timeout_ms", -kMaxMs, kMaxMs, s.probe_timeout),
                 count("suspicion_mult", 0, kMaxCount, s.suspicion_mult),
                 count("max_suspicion_timeout_mult", 0, kMaxCount, s.max_suspicion_timeout_mult),
                 count("indirect_checks", 0, kMaxCount, s.indirect_checks),
                 count("retransmit_mult", 0, kMaxCount, s.retransmit_mult),
                 ms("gossip_interval_ms", -kMaxMs, kMaxMs, s.gossip_interval),
                 count("gossip_nodes", 0, kMaxCount, s.gossip_nodes),
                 ms("push_pull_interval_ms", -kMaxMs, kMaxMs, s.push_pull_interval),
                 ms("reconnect_interval_ms", -kMaxMs, kMaxMs, s.reconnect_interval),
                 ms("dead_reap_after_ms", -kMaxMs, kMaxMs, s.dead_reap_after)}) {
    if (e) return *e;
  }
  if (j.contains("lifeguard")) {
    const json& v = j.at("lifeguard");
    if (!v.is_boolean()) return Error{fmt::format("{}lifeguard: must be true or false, got {}", prefix, type_name(v))};
    s.lifeguard = v.get<bool>();
  }
  if (auto valid = validate(s, prefix); !valid) return Error{valid.error()};
  return s;
}

Result<std::string> check_cluster_address(std::string_view text) {
  auto a = cluster::parse_peer_address(text);
  if (!a) return Error{a.error()};
  if (text.size() > wire::kMaxAddressBytes) return Error{"address too long"};
  return std::string(text);
}

Result<std::string> check_data_dir(std::string_view path) {
  if (path.empty()) return Error{"empty path"};
  if (path.size() > kMaxDataDirBytes) return Error{fmt::format("path longer than {} bytes", kMaxDataDirBytes)};
  if (path.find('\0') != std::string_view::npos) return Error{"path with a NUL byte"};
  return std::string(path);
}

Result<std::string> check_token_text(std::string_view token) {
  if (token.empty()) return Error{"empty token"};
  if (token.size() > kMaxApiTokenBytes) return Error{fmt::format("token longer than {} bytes", kMaxApiTokenBytes)};
  for (char c : token) {
    if (c <= 0x20 || c >= 0x7f) return Error{"the token must be printable ASCII without spaces"};
  }
  return std::string(token);
}

Result<bool> check_store(std::string_view store, const std::vector<std::string>& etcd) {
  if (store == "gossip") {
    if (!etcd.empty()) return Error{"etcd: endpoints given, but the store is \"gossip\" (add \"store\": \"etcd\")"};
    return true;
  }
  if (store != "etcd") return Error{fmt::format("store: '{}' is not a store (allowed: gossip, etcd)", store.substr(0, 40))};
  if (etcd.empty()) return Error{"etcd: the etcd store needs at least one endpoint, e.g. http://127.0.0.1:2379"};
  for (const std::string& e : etcd) {
    auto parsed = parse_etcd_endpoints(e);
    if (!parsed) return Error{fmt::format("etcd: {}", parsed.error())};
  }
  return true;
}

bool valid_member_name(std::string_view name) {
  return name.size() <= wire::kMaxNameBytes && valid_target_id(name);
}

std::string default_agent_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "heck";
  std::string name(buf.data());
  if (name.size() > TargetSpec::kMaxIdLength) name.resize(TargetSpec::kMaxIdLength);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) c = '-';
  }
  return name;
}

}  // namespace heck::runtime
