// Seed sweeps: every seed of a range, for each of several scenarios, each run
// judged as `heck sim --seed N` judges it (sim/cluster_run.h), then
// summarised per scenario: failures, and the spread of the run's figures
// across seeds.
//
// Runs go in parallel on `jobs` threads, one world per run (a world has no
// global state). Scenarios go one after another; within one, the seeds are
// handed out in order and each outcome lands in its seed's slot, so the
// results (and everything formatted from them, wall times aside) are the
// same whatever the number of jobs and the scheduling. A time limit stops
// handing out seeds: the seeds run are then a prefix of the range.
//
// Swarm (`--swarm`): a scenario with ranges (sim/scenario_knobs.h) is parsed
// again for each seed with the knobs drawn from that seed, exactly as
// `heck sim FILE --seed N --swarm` parses it, so a failing seed's replay
// command (which then carries --swarm) replays the run the sweep judged; its
// failure line names the drawn knobs. A scenario without ranges runs as
// without --swarm.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"

namespace heck::sim {

struct SeedRange {
  static constexpr std::uint64_t kMaxSeeds = 1'000'000;

  std::uint64_t first = 1, last = 1;  // inclusive
  std::uint64_t count() const { return last - first + 1; }
};
// "A..B" with A <= B and at most kMaxSeeds seeds; the error says what is wrong.
Result<SeedRange> parse_seed_range(std::string_view text);

struct SweepScenario {
  std::string path;  // as the user gave it, for the replay command
  ClusterScenario scenario;  // parsed with the default knobs
  nlohmann::json source;     // the file's JSON: swarm runs draw their knobs from it
};

struct SweepOptions {
  static constexpr std::size_t kMaxJobs = 1024;
  static constexpr double kMaxTimeLimitS = 365.0 * 86'400;  // a year

  SeedRange seeds;
  std::size_t jobs = 1;                // 1 .. kMaxJobs
  std::optional<double> time_limit_s;  // wall, in (0, kMaxTimeLimitS]: no run starts after this
  bool check_determinism = false;      // each seed twice (sim/determinism.h)
  bool swarm = false;                  // draw each seed's knobs from its ranges
};

// A failed expectation of one run: its kind ("detection", "invariant:coverage",
// or "error" / "nondeterministic" for a run that stopped early, threw, or
// differed from its twin) and a short text: what was expected, then the
// start of the verdict ("detection: first <= 1 ms: 1 crashes; first …").
struct FailedExpectation {
  std::string kind;
  std::string text;
};

// The failed expectations of one run (its error first, if it stopped early).
std::vector<FailedExpectation> failures_of(const ClusterScenario& scenario, const ClusterRunReport& report);

// What a run leaves for the summary: its failures and its figures, taken from
// the ClusterRunReport (the report itself is not kept).
struct SeedOutcome {
  std::uint64_t seed = 0;
  std::vector<FailedExpectation> failures;
  std::string knobs;                      // swarm: the drawn knobs (knobs_text), empty without ranges
  std::uint64_t crashes = 0;              // ClusterMetrics::crashes
  std::vector<Duration> first_detection;  // per detected crash
  std::vector<Duration> dead_everywhere;  // per complete crash
  std::optional<Duration> converged_after;        // ClusterMetrics::converged_after
  std::optional<Duration> state_converged_after;  // when an expectation measured it
  std::vector<Duration> takeover;         // InvariantReport::takeover_gaps, when checked
  std::uint64_t takeovers_pending = 0;    // InvariantReport::takeovers_pending
  double messages_per_member_s = 0;
  double bytes_per_member_s = 0;
  CoverageHits coverage{};                // coverage marks hit (ClusterRunReport::coverage)

  bool passed() const { return failures.empty(); }
};

struct ScenarioSweep {
  std::string path;
  std::string name;
  SeedRange seeds;                 // the range asked for
  std::vector<SeedOutcome> runs;   // seeds.first, seeds.first + 1, …: a prefix of the range
  std::size_t jobs = 1;
  bool check_determinism = false;
  bool swarm = false;
  double wall_seconds = 0;

  std::size_t failed() const;
  bool cut_short() const { return runs.size() < seeds.count(); }
};

struct SweepResult {
  std::vector<ScenarioSweep> scenarios;  // in the order given
  std::optional<double> time_limit_s;
  double wall_seconds = 0;

  std::size_t runs() const;
  std::size_t planned() const;
  std::size_t failed() const;
  bool cut_short() const { return runs() < planned(); }
  bool passed() const { return failed() == 0; }
};

// Runs the sweep. `on_scenario` (optional) gets each scenario's results as
// soon as they are complete, in the order given.
SweepResult run_sweep(const std::vector<SweepScenario>& scenarios, const SweepOptions& options,
                      const std::function<void(const ScenarioSweep&)>& on_scenario = {});

// "sweep      2 scenarios x seeds 1..200 (400 runs), 2 jobs"
std::string format_sweep_header(std::size_t scenarios, const SweepOptions& options);
// One line per failing run (with its replay command), then the scenario's
// summary table.
std::string format_scenario_sweep(const ScenarioSweep& sweep);
// The closing lines: the result, and whether the time limit cut the sweep short.
std::string format_sweep_totals(const SweepResult& result);

}  // namespace heck::sim
