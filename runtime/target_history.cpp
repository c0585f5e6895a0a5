#include "runtime/target_history.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/target_spec.h"

namespace heck::runtime {

TargetHistory::Entry& TargetHistory::entry(std::string_view id, Instant now) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    it = by_id_.emplace(std::string(id), Entry{}).first;
    it->second.first_seen = now;
  }
  return it->second;
}

void TargetHistory::transition(std::string_view id, Transition t) {
  Entry& e = entry(id, t.at);
  e.status = t.to;
  e.transitions.push_back(std::move(t));
  if (e.transitions.size() > kMaxTransitions) {
    e.transitions.erase(e.transitions.begin());
    e.truncated = true;
  }
}

void TargetHistory::forget(std::string_view id) {
  if (auto it = by_id_.find(id); it != by_id_.end()) by_id_.erase(it);
}

void TargetHistory::forget_unless(const std::function<bool(std::string_view)>& keep) {
  std::erase_if(by_id_, [&](const auto& e) { return !keep(e.first); });
}

const TargetHistory::Entry* TargetHistory::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

TargetHistory::Uptime TargetHistory::uptime(std::string_view id, Instant now, Duration window) const {
  Uptime u;
  const Entry* e = find(id);
  if (e == nullptr) return u;
  const Instant from = now - window;
  // Segments from the newest back: [start, end) in one status. Before the
  // oldest kept transition the status was its `from`, since first_seen, or
  // unknown to us when transitions were dropped.
  Duration healthy, known, observed;
  auto add = [&](Instant start, Instant end, HealthStatus s) {
    start = std::max(start, from);
    if (end <= start) return;
    const Duration d = end - start;
    observed += d;
    if (s == HealthStatus::unknown) return;
    known += d;
    if (s == HealthStatus::healthy) healthy += d;
  };
  Instant end = now;
  HealthStatus status = e->status;
  for (auto it = e->transitions.rbegin(); it != e->transitions.rend() && end > from; ++it) {
    add(it->at, end, status);
    end = it->at;
    status = it->from;
  }
  if (!e->truncated) add(e->first_seen, end, status);
  u.known = known;
  u.observed = observed;
  if (known.ns() > 0) u.fraction = static_cast<double>(healthy.ns()) / static_cast<double>(known.ns());
  return u;
}

namespace {
constexpr int kHistoryFileVersion = 1;
}  // namespace

std::string TargetHistory::to_json(Instant saved_at) const {
  nlohmann::json targets = nlohmann::json::object();
  for (const auto& [id, e] : by_id_) {
    nlohmann::json transitions = nlohmann::json::array();
    for (const Transition& t : e.transitions) {
      transitions.push_back({t.at.ns(), std::string(to_string(t.from)), std::string(to_string(t.to)), t.observer, t.reason});
    }
    targets[id] = {{"first_seen_ns", e.first_seen.ns()},
                   {"status", std::string(to_string(e.status))},
                   {"truncated", e.truncated},
                   {"transitions", std::move(transitions)}};
  }
  return nlohmann::json{{"version", kHistoryFileVersion}, {"saved_at_ns", saved_at.ns()}, {"targets", std::move(targets)}}
      .dump();
}

Result<TargetHistory> TargetHistory::from_json(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{"history: not a JSON object"};
  if (!j.contains("version") || j.at("version") != kHistoryFileVersion) {
    return Error{fmt::format("history.version: must be {}", kHistoryFileVersion)};
  }
  if (!j.contains("saved_at_ns") || !j.at("saved_at_ns").is_number_integer()) {
    return Error{"history.saved_at_ns: must be an integer"};
  }
  const Instant saved_at = Instant::from_ns(j.at("saved_at_ns").get<std::int64_t>());
  if (!j.contains("targets") || !j.at("targets").is_object()) return Error{"history.targets: must be an object"};
  auto status = [](const nlohmann::json& v) -> std::optional<HealthStatus> {
    return v.is_string() ? parse_health_status(v.get<std::string>()) : std::nullopt;
  };
  TargetHistory h;
  for (const auto& [id, e] : j.at("targets").items()) {
    const std::string where = fmt::format("history.targets.{}", id.size() > 128 ? id.substr(0, 128) + "..." : id);
    if (!valid_target_id(id)) return Error{fmt::format("{}: not a target id", where)};
    if (!e.is_object() || !e.contains("first_seen_ns") || !e.at("first_seen_ns").is_number_integer() ||
        !e.contains("transitions") || !e.at("transitions").is_array() || !e.contains("status") || !status(e.at("status")) ||
        !e.contains("truncated") || !e.at("truncated").is_boolean()) {
      return Error{fmt::format("{}: must be {{first_seen_ns, status, truncated, transitions: [...]}}", where)};
    }
    Entry& entry = h.by_id_[id];
    entry.first_seen = Instant::from_ns(e.at("first_seen_ns").get<std::int64_t>());
    entry.status = *status(e.at("status"));
    entry.truncated = e.at("truncated").get<bool>();
    const auto& list = e.at("transitions");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& t = list[i];
      if (!t.is_array() || t.size() != 5 || !t[0].is_number_integer() || !status(t[1]) || !status(t[2]) ||
          !t[3].is_string() || !t[4].is_string()) {
        return Error{fmt::format("{}.transitions[{}]: must be [at_ns, from, to, observer, reason]", where, i)};
      }
      entry.transitions.push_back(Transition{Instant::from_ns(t[0].get<std::int64_t>()), *status(t[1]), *status(t[2]),
                                             t[3].get<std::string>(), t[4].get<std::string>()});
      if (entry.transitions.size() > kMaxTransitions) {
        entry.transitions.erase(entry.transitions.begin());
        entry.truncated = true;
      }
    }
    // While the agent was down nothing was seen: unknown from saved_at on.
    if (entry.status != HealthStatus::unknown) {
      h.transition(id, Transition{saved_at, entry.status, HealthStatus::unknown, "", "agent stopped"});
    }
  }
  return h;
}

}  // namespace heck::runtime
