// A scenario: the world to simulate and what must hold in it. Parsed strictly
// from JSON: unknown keys, wrong types and bad values are refused with a
// message that names the field ("targets[2].behaviour[1].status: …").
//
//   {
//     "name": "basic-mix", "description": "…",
//     "seed": 1,                       // default seed; `heck sim --seed` overrides
//     "duration_ms": 600000,
//     "jitter_fraction": 0.1,          // optional, the scheduler's (core/scheduler.h)
//     "nodes": [{"name": "n1", "clock": {"offset_ms": 0, "drift_ppm": 0}}],
//     "targets": [
//       {"spec": {<core TargetSpec: id, url, interval_ms, …>},
//        "behaviour": [<phases, sim/target_model.h>],
//        "count": 100, "stagger_ms": 250}   // optional: 100 targets <id>-000…<id>-099,
//                                           // phases after the first shifted by i × stagger_ms
//     ],
//     "expectations": [
//       {"kind": "detects",   "target": "t3", "within_intervals": 3},
//       {"kind": "never",     "target": "t1", "status": "unhealthy"},
//       {"kind": "status_at", "target": "t2", "at_ms": 30000, "status": "healthy"},
//       {"kind": "checks",    "target": "t1", "min": 55, "max": 65},
//       {"kind": "changes",   "target": "web-*", "max": 1}
//     ]
//   }
//
// An expectation's "target" is an id, a prefix ending in '*' ("web-*"), or
// "*" for every target; it must match at least one target. "node" (optional)
// restricts it to one node; otherwise it must hold on every node. A target's
// URL is only a label in the simulator. Every node checks every target.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/health.h"
#include "core/result.h"
#include "core/scheduler.h"
#include "core/time.h"
#include "sim/target_model.h"

namespace heck::sim {

struct NodeScenario {
  std::string name;
  Duration clock_offset;
  std::int64_t drift_ppm = 0;
};

enum class ExpectationKind : std::uint8_t {
  detects,    // every truth transition held long enough is seen within N intervals
  never,      // no node ever reports `status`
  status_at,  // at `at`, every node reports `status`
  checks,     // each node starts between min and max checks of the target
  changes,    // each node reports between min and max status changes of the target
};

std::string_view to_string(ExpectationKind k);

struct Expectation {
  ExpectationKind kind = ExpectationKind::detects;
  std::string target;                  // as written: id, "prefix*" or "*"
  std::optional<std::string> node;     // as written
  std::vector<std::uint32_t> targets;  // resolved indices into Scenario::targets
  std::vector<std::uint32_t> nodes;    // resolved indices into Scenario::nodes
  int within_intervals = 0;            // detects
  HealthStatus status = HealthStatus::unknown;  // never, status_at
  Duration at;                         // status_at (true time since the start)
  std::uint64_t min = 0;               // checks, changes
  std::uint64_t max = UINT64_MAX;      // checks, changes

  // "detects t3 within 3 intervals", "checks t1 in [55, 65]", …
  std::string describe() const;
};

struct Scenario {
  static constexpr std::size_t kMaxNodes = 1'000;
  static constexpr std::size_t kMaxTargets = 100'000;
  // Every node holds every target (a spec copy and scheduler state each).
  static constexpr std::size_t kMaxNodeTargetPairs = 1'000'000;
  static constexpr std::size_t kMaxExpectations = 1'000;
  static constexpr std::int64_t kMaxDurationMs = 30LL * 86'400'000;  // 30 days
  static constexpr std::int64_t kMaxClockOffsetMs = 86'400'000;      // one day
  static constexpr std::size_t kMaxFileBytes = 64 * 1024 * 1024;

  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  Duration duration;
  SchedulerConfig scheduler;
  std::vector<NodeScenario> nodes;
  std::vector<TargetModel> targets;
  std::vector<Expectation> expectations;
};

Result<Scenario> parse_scenario(const nlohmann::json& j);
Result<Scenario> parse_scenario_text(std::string_view text);
// Parses a "targets" array as above (groups expanded, ids unique, at most
// `max_targets`); errors name "targets[i]…". Shared with cluster scenarios.
Result<std::vector<TargetModel>> parse_target_models(const nlohmann::json& targets, std::size_t max_targets);
// Reads and parses a file (at most kMaxFileBytes).
Result<Scenario> load_scenario(const std::string& path);

// True when `pattern` ("id", "prefix*" or "*") matches `id`.
bool target_pattern_matches(std::string_view pattern, std::string_view id);

}  // namespace heck::sim
