// Shrinking a failing run: from a scenario and a seed whose run fails, the
// smallest scenario found that still fails the same way with that seed,
// as an ordinary scenario file (`heck sim FILE --seed N --shrink`).
//
// "The same way": the run fails an expectation of the same kind as the
// original's first failure (FailedExpectation::kind in sim/sweep.h:
// "detection", "invariant:coverage", "error", …). Candidates are edits of the
// scenario's JSON (serialize_cluster_scenario: concrete, member sets as
// names), each checked by the strict parser (a candidate it refuses is
// skipped without a run) and then run with the seed. In order:
//   1. timeline  delta debugging (ddmin, Zeller & Hildebrandt 2002) over the
//                events: the smallest subset found that still fails
//   2. members   ddmin over the members: a member goes with its clock and
//                every mention in member sets; a set left empty (the one
//                member an event names, the last seed) refuses the candidate,
//                so members the remaining events need stay
//   3. targets   ddmin over the configured targets (and their registry and
//                vantage mentions)
//   4. time      a shorter safety phase (down to just after the last event)
//                and liveness phase (down to the longest within_ms)
//   5. knobs     milder faults: each loss, duplicate and reorder rate to 0 or
//                halved, each pause and restart's down time halved, every
//                clock offset and drift to 0
// A step keeps an edit only when the run still fails the same way. The search
// is deterministic (the same scenario and seed give the same result): runs
// go one after another and every choice depends only on their outcomes. It
// stops at `max_runs` simulations or `time_limit_s` of wall time, keeping the
// smallest failing scenario found so far (the time limit is the one thing
// that can make two searches differ; the result says when it stopped one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "sim/cluster_scenario.h"

namespace heck::sim {

struct ShrinkOptions {
  static constexpr std::size_t kMaxRuns = 100'000;
  static constexpr double kMaxTimeLimitS = 7.0 * 86'400;

  std::uint64_t seed = 1;
  std::size_t max_runs = 300;  // simulations, 1 .. kMaxRuns
  double time_limit_s = 600;   // wall, in (0, kMaxTimeLimitS]
  std::string origin;          // for the written file's description: "scenarios/x.json --swarm"
};

struct ScenarioSize {
  std::size_t events = 0, members = 0, targets = 0;
  Duration safety, liveness;

  static ScenarioSize of(const ClusterScenario& s);
  Duration simulated() const { return safety + liveness; }
};

struct ShrinkResult {
  std::string kind;            // the expectation kind the run keeps failing
  std::string failure;         // that failure's text in the smallest scenario's run
  nlohmann::json scenario;     // the smallest failing scenario: concrete, "seed" = the seed
  ScenarioSize before, after;
  std::vector<std::string> removed;  // what went, one line per step that removed something
  std::size_t runs = 0;        // simulations run
  std::size_t refused = 0;     // candidates the parser refused (not run)
  double wall_seconds = 0;
  std::string stopped;         // empty, or what stopped the search early
};

// Shrinks the failing run of `failing` (a concrete scenario: a swarm draw is
// parsed with its knobs first) with options.seed. Error when that run passes
// or when the scenario's JSON does not fail as the scenario does.
Result<ShrinkResult> shrink_failure(const ClusterScenario& failing, const ShrinkOptions& options);

// The report `heck sim --shrink` prints: before -> after, what went, the
// failure kept, the file written and its replay command.
std::string format_shrink(const ShrinkResult& r, const std::string& out_path, std::uint64_t seed);

}  // namespace heck::sim
