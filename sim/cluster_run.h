// Runs a cluster scenario end to end and reports on it (the cluster twin of
// sim/run.h), and loads a scenario file of either kind for `heck sim`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sim/analysis.h"
#include "sim/cluster_analysis.h"
#include "sim/cluster_invariants.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"
#include "sim/network.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace heck::sim {

struct ClusterRunReport {
  std::uint64_t seed = 0;
  Duration simulated;
  double wall_seconds = 0;  // the simulation only, not the analysis
  ClusterWorldCounters counters;
  NetworkCounters network;
  std::string error;        // a limit stopped the run
  ClusterMetrics metrics;
  std::optional<Duration> state_converged_after;  // measured when an expectation needs it
  std::optional<InvariantReport> invariants;      // when the scenario has targets
  std::vector<Verdict> verdicts;

  std::size_t failed() const;
  bool passed() const { return error.empty() && failed() == 0; }
};

// Simulates `scenario` with `options.seed` and judges it. With a trace, the
// last line is the metrics as JSON ({"ev":"metrics", …}).
ClusterRunReport run_cluster_scenario(const ClusterScenario& scenario, const RunOptions& options);

// The human-readable summary `heck sim` prints (ends with the replay line).
std::string format_cluster_report(const ClusterScenario& scenario, const ClusterRunReport& report,
                                  const ReportOptions& options);

// The metrics as one JSON object (the trace's last line).
std::string metrics_json(const ClusterScenario& scenario, const ClusterRunReport& report);

// A scenario file of either kind: "kind": "cluster" selects the cluster
// format; anything else is a version-1 scenario.
using AnyScenario = std::variant<Scenario, ClusterScenario>;
Result<AnyScenario> load_any_scenario(const std::string& path);

}  // namespace heck::sim
