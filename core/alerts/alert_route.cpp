#include "core/alerts/alert_route.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"
#include "core/target_spec.h"

namespace heck {

using json = nlohmann::json;

std::string_view to_string(AlertFormat f) { return f == AlertFormat::slack ? "slack" : "json"; }
std::string_view to_string(AlertKind k) { return k == AlertKind::resolved ? "resolved" : "firing"; }
std::string_view to_string(AlertAction a) {
  switch (a) {
    case AlertAction::none: return "none";
    case AlertAction::fire: return "fire";
    case AlertAction::repeat: return "repeat";
    case AlertAction::resolve: return "resolve";
    case AlertAction::close: return "close";
  }
  return "none";
}

bool AlertRoute::covers(std::string_view target_id) const {
  return targets.empty() || std::binary_search(targets.begin(), targets.end(), target_id);
}

bool valid_route_name(std::string_view n) {
  // The same alphabet as a target id: a route name is part of a replicated
  // key (target + "/" + route).
  return n.size() <= AlertRoute::kMaxNameLength && valid_target_id(n);
}

Result<AlertRoute> AlertRoute::from_json(const json& j, std::string_view where) {
  namespace jf = json_fields;
  if (auto ok = jf::expect_object(j, where, {"name", "url", "format", "targets", "for_ms", "repeat_ms", "send_resolved"});
      !ok) {
    return Error{ok.error()};
  }
  AlertRoute r;
  auto name = jf::get_string(j, where, "name", kMaxNameLength + 1);
  if (!name) return Error{name.error()};
  if (!valid_route_name(*name)) {
    return Error{fmt::format("{}: '{}' is not a route name (1-{} of A-Z a-z 0-9 . _ : -)", jf::path(where, "name"),
                             *name, kMaxNameLength)};
  }
  r.name = std::move(*name);
  auto url = jf::get_string(j, where, "url", kMaxUrlLength);
  if (!url) return Error{url.error()};
  auto parsed = Url::parse(*url);
  if (!parsed) return Error{fmt::format("{}: {}", jf::path(where, "url"), parsed.error())};
  if (parsed->scheme == Scheme::tcp) {
    return Error{fmt::format("{}: a webhook needs http:// or https://, got '{}'", jf::path(where, "url"), *url)};
  }
  r.url = std::move(*url);
  auto format = jf::opt_string(j, where, "format", 16);
  if (!format) return Error{format.error()};
  if (*format) {
    if (**format == "json") {
      r.format = AlertFormat::json;
    } else if (**format == "slack") {
      r.format = AlertFormat::slack;
    } else {
      return Error{fmt::format("{}: must be \"json\" or \"slack\", got \"{}\"", jf::path(where, "format"), **format)};
    }
  }
  if (j.contains("targets")) {
    auto list = jf::get_array(j, where, "targets", kMaxTargets);
    if (!list) return Error{list.error()};
    const std::string field = jf::path(where, "targets");
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const json& t = (**list)[i];
      if (!t.is_string() || !valid_target_id(t.get<std::string>())) {
        return Error{fmt::format("{}[{}]: must be a target id (1-{} of A-Z a-z 0-9 . _ : -)", field, i,
                                 TargetSpec::kMaxIdLength)};
      }
      r.targets.push_back(t.get<std::string>());
    }
    if (r.targets.empty()) return Error{fmt::format("{}: empty (leave it out to cover every target)", field)};
    std::sort(r.targets.begin(), r.targets.end());
    r.targets.erase(std::unique(r.targets.begin(), r.targets.end()), r.targets.end());
  }
  auto for_ms = jf::opt_int(j, where, "for_ms", 0, kMaxDurationMs);
  if (!for_ms) return Error{for_ms.error()};
  r.for_duration = Duration::milliseconds(for_ms->value_or(0));
  auto repeat_ms = jf::opt_int(j, where, "repeat_ms", 0, kMaxDurationMs);
  if (!repeat_ms) return Error{repeat_ms.error()};
  if (const auto every = repeat_ms->value_or(0); every != 0 && every < 1000) {
    return Error{fmt::format("{}: {} is below 1000 (0 = never repeat)", jf::path(where, "repeat_ms"), every)};
  }
  r.repeat = Duration::milliseconds(repeat_ms->value_or(0));
  if (j.contains("send_resolved")) {
    const json& v = j.at("send_resolved");
    if (!v.is_boolean()) {
      return Error{fmt::format("{}: must be true or false, got {}", jf::path(where, "send_resolved"),
                               jf::type_name(v))};
    }
    r.send_resolved = v.get<bool>();
  }
  return r;
}

json AlertRoute::to_json() const {
  json j = {{"name", name},
            {"url", url},
            {"format", std::string(to_string(format))},
            {"for_ms", for_duration.ms()},
            {"repeat_ms", repeat.ms()},
            {"send_resolved", send_resolved}};
  if (!targets.empty()) j["targets"] = targets;
  return j;
}

Result<std::vector<AlertRoute>> parse_alert_routes(const json& j, std::string_view where) {
  if (!j.is_array()) {
    return Error{fmt::format("{}: must be an array of routes, got {}", where, json_fields::type_name(j))};
  }
  std::vector<AlertRoute> routes;
  std::set<std::string> names;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    auto r = AlertRoute::from_json(j[i], at);
    if (!r) return Error{r.error()};
    if (!names.insert(r->name).second) return Error{fmt::format("{}.name: '{}' is used twice", at, r->name)};
    routes.push_back(std::move(*r));
  }
  return routes;
}

AlertAction alert_due(const AlertRoute& route, std::optional<HealthStatus> status, std::uint64_t unhealthy_since_ms,
                      const std::optional<AlertLast>& last, std::uint64_t now_ms, std::uint64_t* wake_ms) {
  if (!status) return AlertAction::none;
  const bool firing = last && last->kind == AlertKind::firing;
  if (*status == HealthStatus::unhealthy) {
    if (firing) {
      if (route.repeat.ms() <= 0) return AlertAction::none;
      const std::uint64_t due = last->sent_at_ms + static_cast<std::uint64_t>(route.repeat.ms());
      if (now_ms >= due) return AlertAction::repeat;
      if (wake_ms) *wake_ms = due;
      return AlertAction::none;
    }
    const std::uint64_t due = unhealthy_since_ms + static_cast<std::uint64_t>(route.for_duration.ms());
    if (now_ms >= due) return AlertAction::fire;
    if (wake_ms) *wake_ms = due;
    return AlertAction::none;
  }
  if (*status == HealthStatus::healthy && firing) {
    return route.send_resolved ? AlertAction::resolve : AlertAction::close;
  }
  return AlertAction::none;
}

}  // namespace heck
