// Shrinking a failing run (sim/shrink.h), and the scenario serializer it
// works on (serialize_cluster_scenario, sim/cluster_scenario.h).
#include "sim/shrink.h"

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/determinism.h"
#include "sim/sweep.h"

namespace heck::sim {
namespace {

using nlohmann::json;

const std::string kDecoys = HECK_SIM_TEST_DATA "/shrink_decoys.json";

ClusterScenario load(const std::string& path, KnobSettings knobs = {}) {
  auto s = load_cluster_scenario(path, knobs);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return *s;
}

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(HECK_SCENARIO_DIR)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool fails_kind(const ClusterScenario& s, std::uint64_t seed, const std::string& kind) {
  const ClusterRunReport report = run_cluster_scenario(s, RunOptions{seed, nullptr});
  for (const FailedExpectation& f : failures_of(s, report)) {
    if (f.kind == kind) return true;
  }
  return false;
}

// A run's metrics line and verdicts.
std::string run_text(const ClusterScenario& s) {
  const ClusterRunReport r = run_cluster_scenario(s, RunOptions{s.seed, nullptr});
  std::string out = metrics_json(s, r);
  for (const Verdict& v : r.verdicts) out += fmt::format("\n{} {} {}", v.expectation, v.pass, v.evidence);
  return out;
}

// parse(serialize(s)) is s: written again it gives the same JSON, and it
// runs the same, for every file in scenarios/.
TEST(ScenarioJson, EveryScenarioFileRoundTrips) {
  const auto files = scenario_files();
  ASSERT_GE(files.size(), 15u);
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const ClusterScenario s = load(path);
    const json once = serialize_cluster_scenario(s);
    auto again = parse_cluster_scenario(once);
    ASSERT_TRUE(again.ok()) << again.error();
    EXPECT_EQ(serialize_cluster_scenario(*again), once);
    EXPECT_EQ(again->members.size(), s.members.size());
    EXPECT_EQ(again->timeline.size(), s.timeline.size());
    EXPECT_EQ(again->target_count(), s.target_count());
    ASSERT_EQ(again->expectations.size(), s.expectations.size());
    for (std::size_t i = 0; i < s.expectations.size(); ++i) {
      EXPECT_EQ(again->expectations[i].kind, s.expectations[i].kind);
    }
    for (std::size_t i = 0; i < s.targets.size(); ++i) EXPECT_EQ(again->targets[i].spec(), s.targets[i].spec());
    // The runs: the small ones. Their metrics and verdicts (the traces
    // differ only in the "source" of a rolling restart's events, which
    // number the file's lines).
    if (s.members.size() > 20 || s.duration() > Duration::seconds(300)) continue;
    EXPECT_EQ(run_text(s), run_text(*again));
  }
}

TEST(ScenarioJson, ASwarmDrawIsWrittenAsItsValues) {
  const ClusterScenario drawn = load(HECK_SCENARIO_DIR "/cluster_swarm_10.json", {KnobMode::swarm, 12});
  const json j = serialize_cluster_scenario(drawn);
  EXPECT_FALSE(has_knob_ranges(j));
  auto again = parse_cluster_scenario(j);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->knobs.empty());
  RunFingerprint a, b;
  run_fingerprinted(drawn, 12, a);
  run_fingerprinted(*again, 12, b);
  EXPECT_EQ(a, b);
}

ShrinkResult shrink(const ClusterScenario& s, std::uint64_t seed, std::size_t max_runs = 300) {
  ShrinkOptions o;
  o.seed = seed;
  o.max_runs = max_runs;
  o.origin = "decoys";
  auto r = shrink_failure(s, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return *r;
}

// One culprit among decoys: the shrink keeps the culprit and only it.
TEST(Shrink, KeepsTheCulpritAndDropsTheDecoys) {
  const ClusterScenario s = load(kDecoys);
  ASSERT_TRUE(fails_kind(s, 5, "declared_dead"));
  const ShrinkResult r = shrink(s, 5);
  EXPECT_EQ(r.kind, "declared_dead");
  ASSERT_EQ(r.scenario.at("timeline").size(), 1u) << r.scenario.at("timeline").dump();
  const json& culprit = r.scenario.at("timeline")[0];
  EXPECT_EQ(culprit.at("event"), "crash");
  EXPECT_EQ(culprit.at("members"), "n3");
  EXPECT_EQ(r.before.events, 7u);
  EXPECT_EQ(r.after.events, 1u);
  EXPECT_LT(r.after.members, r.before.members);  // n5 at least
  EXPECT_EQ(r.after.targets, 0u);
  EXPECT_LE(r.after.simulated(), r.before.simulated());
  EXPECT_EQ(r.scenario.at("seed"), 5);
  EXPECT_TRUE(r.stopped.empty()) << r.stopped;
  EXPECT_FALSE(r.removed.empty());
  EXPECT_NE(r.failure.find("declared_dead n3"), std::string::npos) << r.failure;
}

// The written scenario replays the failure with `heck sim FILE --seed N`.
TEST(Shrink, TheResultStillFailsTheSameExpectation) {
  const ShrinkResult r = shrink(load(kDecoys), 5);
  auto again = parse_cluster_scenario(r.scenario);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->seed, 5u);
  EXPECT_TRUE(fails_kind(*again, again->seed, "declared_dead"));
}

TEST(Shrink, IsDeterministic) {
  const ClusterScenario s = load(kDecoys);
  const ShrinkResult a = shrink(s, 5), b = shrink(s, 5);
  EXPECT_EQ(a.scenario, b.scenario);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.removed, b.removed);
}

TEST(Shrink, StopsAtTheRunBudgetWithAFailingScenario) {
  const ShrinkResult r = shrink(load(kDecoys), 5, 4);
  EXPECT_EQ(r.runs, 4u);
  EXPECT_NE(r.stopped.find("run budget (4 simulations)"), std::string::npos) << r.stopped;
  auto again = parse_cluster_scenario(r.scenario);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(fails_kind(*again, 5, "declared_dead"));
}

TEST(Shrink, APassingRunHasNothingToShrink) {
  ShrinkOptions o;
  o.seed = 1;
  auto r = shrink_failure(load(HECK_SIM_TEST_DATA "/sweep_small.json"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "seed 1 passes: nothing to shrink");
}

}  // namespace
}  // namespace heck::sim
