// What one agent remembers of each target's past, for people (GET
// /v1/targets/{id}/history): the transitions of the replicated view it saw
// (every agent sees them, whoever the owner was, so a takeover loses
// nothing) and the uptime over a window derived from them. Check latencies
// are not here: only the owners measure them, and their ring moves with
// the ownership in core (core/cluster/latency_history.h).
//
// Bounded: per target at most kMaxTransitions transitions, oldest dropped
// first; a target that leaves the registry is forgotten. With a data dir
// the transitions survive a restart (to_json / from_json,
// <data_dir>/history.json, written by the agent every minute and at stop);
// the time the agent was down is unknown time, so uptime neither counts it
// healthy nor unhealthy.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/health.h"
#include "core/result.h"
#include "core/time.h"

namespace heck::runtime {

class TargetHistory {
 public:
  static constexpr std::size_t kMaxTransitions = 64;

  struct Transition {
    Instant at;  // when this agent saw it
    HealthStatus from = HealthStatus::unknown;
    HealthStatus to = HealthStatus::unknown;
    std::string observer, reason;
  };
  struct Entry {
    Instant first_seen;  // the first scan that listed it
    HealthStatus status = HealthStatus::unknown;
    // Oldest first. A vector: most targets hold one or two transitions, and
    // a deque's first block is ~512 bytes (5 MB an agent at 10,000 targets).
    std::vector<Transition> transitions;
    bool truncated = false;              // transitions were dropped: what came before is not known
  };
  // Healthy time over known time (healthy or unhealthy) in a window.
  struct Uptime {
    std::optional<double> fraction;  // nullopt: no known time in the window
    Duration known;                  // time with a known status in the window
    Duration observed;               // time this agent covers in the window
  };

  void transition(std::string_view id, Transition t);
  void forget(std::string_view id);
  // Forgets every target `keep` returns false for.
  void forget_unless(const std::function<bool(std::string_view)>& keep);

  const Entry* find(std::string_view id) const;
  // Every target's transitions as one JSON document, as
  // of `saved_at`.
  std::string to_json(Instant saved_at) const;
  // The history of a to_json document, each target's status turned unknown
  // at its saved_at (an agent that was down saw nothing). Bounded like the
  // live history; errors name the field ("history.targets.web.transitions[2]: ...").
  static Result<TargetHistory> from_json(std::string_view text);
  // Uptime of `id` over [now - window, now]; all zero when unknown.
  Uptime uptime(std::string_view id, Instant now, Duration window) const;
  std::size_t size() const { return by_id_.size(); }

 private:
  Entry& entry(std::string_view id, Instant now);
  std::map<std::string, Entry, std::less<>> by_id_;
};

}  // namespace heck::runtime
