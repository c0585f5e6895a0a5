// Runs a cluster scenario end to end and reports on it: the one entry point
// that `heck sim` and the scenario tests share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/cluster_analysis.h"
#include "sim/cluster_invariants.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"
#include "sim/network.h"
#include "sim/trace.h"

namespace heck::sim {

struct ClusterRunReport;

// Watches a run for a report (sim/report_recorder.h): sampled at every
// multiple of sample_every() of true time while the world runs, then told
// the end. It only reads the world, and splitting run_until() at its
// sampling instants does not change the run: the trace and the verdicts
// are the same with a recorder and without (a test says so).
class RunRecorder {
 public:
  virtual ~RunRecorder() = default;
  // REQUIRES: positive; fixed for the run.
  virtual Duration sample_every() const = 0;
  // world.now() is k x sample_every() (k >= 1), up to the end of the run.
  virtual void sample(const ClusterWorld& world) = 0;
  // After the verdicts, with the world as it ended.
  virtual void finish(const ClusterWorld& world, const ClusterRunReport& report) = 0;
};

struct RunOptions {
  std::uint64_t seed = 1;
  TraceWriter* trace = nullptr;      // not owned
  RunRecorder* recorder = nullptr;   // not owned; nullptr = none
};

struct ReportOptions {
  std::string scenario_path;            // as the user gave it, for the replay command
  std::size_t max_transition_rows = 30; // detection rows listed before eliding
};

// The replay command: "heck sim <path> --seed <seed>", and " --swarm" when
// the run's knobs were drawn from the seed (sim/scenario_knobs.h).
std::string replay_command(const std::string& scenario_path, std::uint64_t seed, bool swarm = false);
// The replay command of a run of `scenario` (--swarm when its knobs were drawn).
std::string replay_command(const std::string& scenario_path, const ClusterScenario& scenario, std::uint64_t seed);

struct ClusterRunReport {
  std::uint64_t seed = 0;
  Duration simulated;
  double wall_seconds = 0;  // the simulation only, not the analysis
  ClusterWorldCounters counters;
  NetworkCounters network;
  CoverageHits coverage{};  // coverage marks hit, over every member's incarnations
  std::string error;        // a limit stopped the run
  ClusterMetrics metrics;
  std::optional<Duration> state_converged_after;  // measured when an expectation needs it
  std::optional<InvariantReport> invariants;      // when the scenario has targets
  std::vector<Detection> detections;              // own checks, when an expectation judges them
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

}  // namespace heck::sim
