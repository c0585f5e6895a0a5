// Runs a scenario end to end and reports on it: the one entry point that
// `heck sim` and the scenario tests share.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

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

// The tail every `heck sim` summary ends with, for either kind of scenario:
// one line per expectation verdict, the result line and the replay command.
// `Expectation` has describe(); `Report` has verdicts, error, seed, failed()
// and passed() (RunReport, ClusterRunReport).
template <typename Expectation, typename Report>
void format_verdicts(std::string& out, const std::vector<Expectation>& expectations, const Report& r,
                     const std::string& scenario_path) {
  auto w = std::back_inserter(out);
  fmt::format_to(w, "\nexpectations\n");
  if (expectations.empty()) fmt::format_to(w, "  (none)\n");
  for (const auto& v : r.verdicts) {
    fmt::format_to(w, "  {}  {}: {}\n", v.pass ? "PASS" : "FAIL", expectations[v.expectation].describe(), v.evidence);
  }
  fmt::format_to(w, "\n");
  if (!r.error.empty()) fmt::format_to(w, "error      the run stopped early: {}\n", r.error);
  if (r.passed()) {
    fmt::format_to(w, "result     PASS: {} of {} expectations hold\n", r.verdicts.size(), r.verdicts.size());
  } else {
    fmt::format_to(w, "result     FAIL: {} of {} expectations failed{} (seed {})\n", r.failed(), r.verdicts.size(),
                   r.error.empty() ? "" : ", run stopped early", r.seed);
  }
  fmt::format_to(w, "replay     {}\n", replay_command(scenario_path, r.seed));
}

// The human-readable summary `heck sim` prints.
std::string format_report(const Scenario& scenario, const RunReport& report, const ReportOptions& options);

}  // namespace heck::sim
