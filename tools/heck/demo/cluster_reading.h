// What `heck demo` reads from its agents' APIs: the takeover of a killed
// agent's targets (followed on a survivor's /v1/targets) and the periodic
// table (members, targets by status, who checks how many).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "tools/heck/demo/agent_processes.h"

namespace heck::cli::demo {

// Milliseconds since the Unix epoch, from the wall clock.
std::int64_t wall_ms_now();
// A string / integer field of a JSON object, or empty / `fallback`.
std::string str_field(const nlohmann::json& j, const char* key);
std::int64_t int_field(const nlohmann::json& j, const char* key, std::int64_t fallback = 0);

// The takeover of a killed agent's targets, followed on a survivor's view.
struct Takeover {
  std::string victim;
  std::int64_t killed_wall_ms = 0;
  std::chrono::steady_clock::time_point killed_at;
  std::vector<std::string> targets;                  // what the victim checked
  std::map<std::string, std::string> taken_by;       // target -> new observer
  std::map<std::string, double> taken_after_s;       // target -> seconds after the kill
  std::optional<double> suspect_after_s, dead_after_s;
  bool reported_all = false;

  bool done() const { return taken_by.size() == targets.size(); }
};

// Reads n1's /v1/targets: each of the victim's targets with a live
// observation from another agent, newer than the kill, is taken over.
void follow_takeover(Takeover& t, const nlohmann::json& list);

// "n2 3, n4 1": how many targets each agent took.
std::string per_agent_counts(const std::map<std::string, std::string>& by);

struct Snapshot {
  std::map<std::string, std::string> member_state;  // from n1
  nlohmann::json status;                             // n1's /v1/status
  std::map<std::string, std::int64_t> checking;      // agent -> checked_here
};

// Reads n1's members and status and every running agent's checked_here.
Snapshot snapshot(const std::vector<Child>& children, Duration timeout);
// The periodic table, at `t_s` seconds into the demo.
std::string format_snapshot(double t_s, const std::vector<Child>& children, const Snapshot& s);

}  // namespace heck::cli::demo
