// Runs a scenario end to end and reports on it: the one entry point that
// `heck sim` and the scenario tests share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/analysis.h"
#include "sim/scenario.h"
#include "sim/trace.h"
#include "sim/world.h"

namespace heck::sim {

struct RunOptions {
  std::uint64_t seed = 1;
  TraceWriter* trace = nullptr;  // not owned
};

struct RunReport {
  std::uint64_t seed = 0;
  Duration simulated;
  double wall_seconds = 0;        // run_until() only, not the analysis
  WorldCounters counters;
  std::string error;              // a limit stopped the run
  std::vector<Detection> detections;
  std::vector<Verdict> verdicts;

  std::size_t failed() const;
  bool passed() const { return error.empty() && failed() == 0; }
};

// Simulates `scenario` for its duration with `options.seed` and judges it.
RunReport run_scenario(const Scenario& scenario, const RunOptions& options);

struct ReportOptions {
  std::string scenario_path;            // as the user gave it, for the replay command
  std::size_t max_transition_rows = 30; // detection rows listed before eliding
};

// The replay command: "heck sim <path> --seed <seed>".
std::string replay_command(const std::string& scenario_path, std::uint64_t seed);

// The human-readable summary `heck sim` prints.
std::string format_report(const Scenario& scenario, const RunReport& report, const ReportOptions& options);

}  // namespace heck::sim
