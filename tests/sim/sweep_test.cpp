#include "sim/sweep.h"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/cluster_run.h"

namespace heck::sim {
namespace {

SweepScenario load(const std::string& path) {
  auto s = load_cluster_scenario(path);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return {path, std::move(*s)};
}

const std::string kSmall = HECK_SIM_TEST_DATA "/sweep_small.json";
// Expects a crash to be suspected within 1 ms: no seed can pass.
const std::string kImpossible = HECK_SIM_TEST_DATA "/cluster_wrong_expectation.json";

// The formatted summary without its wall-time line (the only line that
// depends on the machine).
std::string without_speed(const std::string& text) {
  std::string out;
  std::size_t from = 0;
  while (from < text.size()) {
    const std::size_t end = std::min(text.find('\n', from), text.size());
    const std::string line = text.substr(from, end - from);
    if (line.find("seeds/s") == std::string::npos) out += line + "\n";
    from = end + 1;
  }
  return out;
}

std::string sweep_text(const std::vector<SweepScenario>& scenarios, SweepOptions options) {
  std::string out;
  for (const ScenarioSweep& s : run_sweep(scenarios, options).scenarios) out += without_speed(format_scenario_sweep(s));
  return out;
}

TEST(SeedRange, ParsesAnInclusiveRange) {
  const auto r = parse_seed_range("3..7");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 3u);
  EXPECT_EQ(r->last, 7u);
  EXPECT_EQ(r->count(), 5u);
  EXPECT_EQ(parse_seed_range("5..5")->count(), 1u);
}

TEST(SeedRange, RefusesWhatIsNotARange) {
  EXPECT_NE(parse_seed_range("5..2").error().find("empty"), std::string::npos);
  EXPECT_NE(parse_seed_range("7").error().find("expected A..B"), std::string::npos);
  EXPECT_NE(parse_seed_range("a..3").error().find("unsigned integers"), std::string::npos);
  EXPECT_NE(parse_seed_range("1..-3").error().find("unsigned integers"), std::string::npos);
  EXPECT_NE(parse_seed_range("1..").error().find("unsigned integers"), std::string::npos);
  EXPECT_NE(parse_seed_range("0..18446744073709551615").error().find("at most"), std::string::npos);
}

TEST(Sweep, TheSummaryDoesNotDependOnTheNumberOfJobs) {
  const std::vector<SweepScenario> scenarios{load(kSmall), load(kImpossible)};
  const std::string one = sweep_text(scenarios, {SeedRange{1, 6}, 1, std::nullopt, false});
  const std::string two = sweep_text(scenarios, {SeedRange{1, 6}, 2, std::nullopt, false});
  const std::string three = sweep_text(scenarios, {SeedRange{1, 6}, 3, std::nullopt, false});
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
  EXPECT_NE(one.find("runs       6 of seeds 1..6: 6 passed, 0 failed"), std::string::npos) << one;
  EXPECT_NE(one.find("runs       6 of seeds 1..6: 0 passed, 6 failed"), std::string::npos) << one;
  EXPECT_NE(one.find("takeover"), std::string::npos) << one;
}

TEST(Sweep, EachOutcomeIsItsSeedsSingleRun) {
  const SweepScenario s = load(kSmall);
  const SweepResult r = run_sweep({s}, {SeedRange{4, 6}, 2, std::nullopt, false});
  ASSERT_EQ(r.scenarios[0].runs.size(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    const SeedOutcome& o = r.scenarios[0].runs[i];
    EXPECT_EQ(o.seed, 4 + i);
    const ClusterRunReport alone = run_cluster_scenario(s.scenario, {4 + i, nullptr});
    EXPECT_EQ(o.messages_per_member_s, alone.metrics.messages_per_member_s);
    EXPECT_EQ(o.converged_after, alone.metrics.converged_after);
    ASSERT_TRUE(alone.invariants.has_value());
    EXPECT_EQ(o.takeover, alone.invariants->takeover_gaps);
  }
}

TEST(Sweep, AnImpossibleExpectationFailsEverySeedByItsKind) {
  const SweepScenario s = load(kImpossible);
  const SweepResult r = run_sweep({s}, {SeedRange{1, 4}, 2, std::nullopt, false});
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.failed(), 4u);
  const std::string text = format_scenario_sweep(r.scenarios[0]);
  for (int seed = 1; seed <= 4; ++seed) {
    EXPECT_NE(text.find(fmt::format("FAIL  cluster-wrong-expectation seed {}: detection: ", seed)), std::string::npos)
        << text;
    EXPECT_NE(text.find(fmt::format("replay: heck sim {} --seed {}\n", kImpossible, seed)), std::string::npos) << text;
  }
  EXPECT_NE(text.find("failures   detection 4\n"), std::string::npos) << text;
  EXPECT_NE(format_sweep_totals(r).find("result     FAIL: 4 of 4 runs failed"), std::string::npos);
}

TEST(Sweep, ScenariosAreSummarisedInTheOrderGiven) {
  const SweepResult r = run_sweep({load(kImpossible), load(kSmall)}, {SeedRange{1, 2}, 2, std::nullopt, false});
  ASSERT_EQ(r.scenarios.size(), 2u);
  EXPECT_EQ(r.scenarios[0].name, "cluster-wrong-expectation");
  EXPECT_EQ(r.scenarios[1].name, "sweep-small");
  EXPECT_EQ(r.scenarios[0].failed(), 2u);
  EXPECT_EQ(r.scenarios[1].failed(), 0u);
  EXPECT_EQ(r.runs(), 4u);
}

TEST(Sweep, TheTimeLimitCutsTheSweepShortAfterAPrefixOfTheSeeds) {
  const SweepScenario s = load(kSmall);
  const SweepResult r = run_sweep({s, s}, {SeedRange{10, 209}, 2, 0.3, false});
  EXPECT_TRUE(r.cut_short());
  EXPECT_LT(r.runs(), r.planned());
  EXPECT_TRUE(r.passed());  // cut short is not a failure
  for (const ScenarioSweep& sweep : r.scenarios) {
    for (std::size_t i = 0; i < sweep.runs.size(); ++i) EXPECT_EQ(sweep.runs[i].seed, 10 + i);
  }
  EXPECT_TRUE(r.scenarios[1].runs.empty());
  const std::string totals = format_sweep_totals(r);
  EXPECT_NE(totals.find(fmt::format("cut short  the time limit (0.3 s) stopped the sweep after {} of 400 runs", r.runs())),
            std::string::npos)
      << totals;
  EXPECT_NE(format_scenario_sweep(r.scenarios[0]).find("(cut short by the time limit)"), std::string::npos);
  EXPECT_NE(format_scenario_sweep(r.scenarios[1]).find("runs       none of seeds 10..209: the time limit had passed"),
            std::string::npos);
}

TEST(Sweep, ADeterminismCheckedSweepPassesAndSaysSo) {
  const SweepScenario s = load(kSmall);
  const SweepResult r = run_sweep({s}, {SeedRange{1, 2}, 2, std::nullopt, true});
  EXPECT_TRUE(r.passed());
  EXPECT_NE(format_scenario_sweep(r.scenarios[0]).find("each seed twice"), std::string::npos);
}

}  // namespace
}  // namespace heck::sim
