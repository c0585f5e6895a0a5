#include "tools/heck/demo/cluster_reading.h"

#include <algorithm>

#include <fmt/format.h>

#include "runtime/api_client.h"
#include "runtime/log.h"
#include "runtime/rfc3339.h"

namespace heck::cli::demo {

using namespace heck::runtime;
using steady = std::chrono::steady_clock;

std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string str_field(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j.at(key).is_string()) return j.at(key).get<std::string>();
  return {};
}

std::int64_t int_field(const nlohmann::json& j, const char* key, std::int64_t fallback) {
  if (j.is_object() && j.contains(key) && j.at(key).is_number_integer()) return j.at(key).get<std::int64_t>();
  return fallback;
}

void follow_takeover(Takeover& t, const nlohmann::json& list) {
  if (!list.is_array()) return;
  const double since_kill_s = std::chrono::duration<double>(steady::now() - t.killed_at).count();
  for (const auto& e : list) {
    const std::string id = str_field(e, "id");
    if (t.taken_by.count(id) || std::find(t.targets.begin(), t.targets.end(), id) == t.targets.end()) continue;
    if (!e.contains("siblings") || !e.at("siblings").is_array()) continue;
    for (const auto& s : e.at("siblings")) {
      const std::string observer = str_field(s, "observer");
      if (observer.empty() || observer == t.victim) continue;
      const auto at = parse_rfc3339_ms(str_field(s, "observed_at"));
      if (!at || *at < t.killed_wall_ms) continue;
      t.taken_by[id] = observer;
      // The observation's own time bounds the takeover more tightly than
      // this poll's time (both on this machine's wall clock).
      t.taken_after_s[id] = std::min(since_kill_s, static_cast<double>(*at - t.killed_wall_ms) / 1000.0);
      break;
    }
  }
}

std::string per_agent_counts(const std::map<std::string, std::string>& by) {
  std::map<std::string, int> n;
  for (const auto& [id, who] : by) ++n[who];
  std::string out;
  for (const auto& [who, k] : n) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", who, k);
  return out;
}

Snapshot snapshot(const std::vector<Child>& children, Duration timeout) {
  Snapshot s;
  const ApiClient n1(children.front().api, timeout);
  if (auto m = n1.get("/v1/members"); m && m->is_array()) {
    for (const auto& e : *m) s.member_state[str_field(e, "name")] = str_field(e, "state");
  }
  if (auto st = n1.get("/v1/status"); st) s.status = *st;
  for (const auto& c : children) {
    if (!c.running) continue;
    const ApiClient a(c.api, timeout);
    if (auto st = a.get("/v1/status"); st) s.checking[c.name] = int_field(*st, "checked_here", -1);
  }
  return s;
}

std::string format_snapshot(double t_s, const std::vector<Child>& children, const Snapshot& s) {
  // Alive members by count; the others by name and state.
  std::string others;
  int alive = 0;
  for (const auto& c : children) {
    auto it = s.member_state.find(c.name);
    const std::string state = it == s.member_state.end() ? "not listed" : it->second;
    if (state == "alive") {
      ++alive;
      continue;
    }
    others += fmt::format(", {} {}{}", c.name, state, c.killed ? " (killed)" : "");
  }
  std::string members = fmt::format("{} alive{}", alive, others);
  const auto count = [&](const char* k) {
    return s.status.is_object() && s.status.contains("targets") ? int_field(s.status.at("targets"), k) : 0;
  };
  std::string out = fmt::format("[{:5.1f} s] members   {}\n", t_s, members);
  out += fmt::format("          targets   {} = {} unhealthy + {} unknown + {} healthy ({} stale)", count("total"),
                     count("unhealthy"), count("unknown"), count("healthy"), count("stale"));
  if (s.status.is_object() && s.status.contains("unhealthy") && s.status.at("unhealthy").is_array()) {
    std::string ids;
    int shown = 0;
    for (const auto& id : s.status.at("unhealthy")) {
      if (!id.is_string()) continue;
      if (shown++ == 8) {
        ids += " ...";
        break;
      }
      ids += " " + sanitize_for_log(id.get<std::string>(), 64);
    }
    if (!ids.empty()) out += "   unhealthy:" + ids;
  }
  out += "\n          checking ";
  for (const auto& c : children) {
    auto it = s.checking.find(c.name);
    out += fmt::format(" {} {:<3}", c.name, it == s.checking.end() ? std::string("-") : std::to_string(it->second));
  }
  return out + "\n";
}

}  // namespace heck::cli::demo
