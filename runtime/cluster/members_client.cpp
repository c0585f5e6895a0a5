#include "runtime/cluster/members_client.h"

#include <algorithm>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/api_client.h"
#include "runtime/log.h"

namespace heck::runtime::cluster {

Result<HttpAnswer> http_get(const HostPort& api, std::string_view target, Duration timeout,
                            std::size_t max_body_bytes) {
  ApiExchange x;
  x.method = "GET";
  x.target = target;
  x.timeout = timeout;
  x.max_body_bytes = max_body_bytes;
  auto r = api_exchange(api, x);
  if (const auto* f = std::get_if<ApiFailure>(&r)) {
    const std::string where = api.to_string();
    switch (f->step) {
      case ApiStep::address: return Error{f->what};
      case ApiStep::connect:
        return Error{fmt::format("cannot reach the agent API at {}: {} (is `heck agent` running there? --api picks "
                                 "another address)",
                                 where, f->what)};
      case ApiStep::write: return Error{fmt::format("cannot write to the agent API at {}: {}", where, f->what)};
      case ApiStep::read: return Error{fmt::format("cannot read from the agent API at {}: {}", where, f->what)};
    }
  }
  auto& a = std::get<ApiAnswer>(r);
  return HttpAnswer{a.status, std::move(a.body)};
}

Result<std::vector<MemberRow>> parse_members(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) return Error{"not JSON"};
  if (!j.is_array()) return Error{"not a JSON array"};
  std::vector<MemberRow> rows;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    if (!m.is_object()) return Error{fmt::format("[{}]: not an object", i)};
    MemberRow r;
    for (const char* k : {"name", "address", "state"}) {
      if (!m.contains(k) || !m.at(k).is_string()) return Error{fmt::format("[{}].{}: missing or not a string", i, k)};
    }
    if (!m.contains("incarnation") || !m.at("incarnation").is_number_unsigned()) {
      return Error{fmt::format("[{}].incarnation: missing or not a non-negative integer", i)};
    }
    r.name = m.at("name").get<std::string>();
    r.address = m.at("address").get<std::string>();
    r.state = m.at("state").get<std::string>();
    r.incarnation = m.at("incarnation").get<std::uint64_t>();
    if (m.contains("state_since") && m.at("state_since").is_string()) r.state_since = m.at("state_since").get<std::string>();
    if (m.contains("self") && m.at("self").is_boolean()) r.self = m.at("self").get<bool>();
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string format_members_table(const std::vector<MemberRow>& rows) {
  std::size_t name_w = 4, addr_w = 7;
  std::vector<std::pair<std::string, std::string>> clean;
  for (const auto& r : rows) {
    clean.emplace_back(sanitize_for_log(r.name, 128), sanitize_for_log(r.address, 256));
    name_w = std::max(name_w, clean.back().first.size());
    addr_w = std::max(addr_w, clean.back().second.size());
  }
  std::string out = fmt::format("{:<{}}  {:<{}}  {:<7}  {:>11}  {}\n", "NAME", name_w, "ADDRESS", addr_w, "STATE",
                                "INCARNATION", "SINCE");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    out += fmt::format("{:<{}}  {:<{}}  {:<7}  {:>11}  {}{}\n", clean[i].first, name_w, clean[i].second, addr_w,
                       sanitize_for_log(r.state, 16), r.incarnation, sanitize_for_log(r.state_since, 40),
                       r.self ? "  (this agent)" : "");
  }
  return out;
}

Result<std::vector<MemberRow>> fetch_members(const HostPort& api, Duration timeout, std::string* raw_body) {
  auto a = http_get(api, "/v1/members", timeout);
  if (!a) return Error{a.error()};
  if (a->status != 200) {
    return Error{fmt::format("the agent API at {} answered HTTP {} for /v1/members (an older agent?): {}",
                             api.to_string(), a->status, sanitize_for_log(a->body, 200))};
  }
  if (raw_body) *raw_body = a->body;
  auto rows = parse_members(a->body);
  if (!rows) return Error{fmt::format("the agent API at {} sent a bad member list: {}", api.to_string(), rows.error())};
  return rows;
}

}  // namespace heck::runtime::cluster
