// Coverage marks (core/cluster/coverage_marks.h): the table, the "marks"
// expectation, the run report's and the sweep summary's coverage lines.
#include "core/cluster/coverage_marks.h"

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"
#include "sim/sweep.h"

namespace heck::sim {
namespace {

using nlohmann::json;

TEST(CoverageMarks, NamesAreUniqueAndFound) {
  std::set<std::string> names;
  for (const CoverageMark& m : coverage_marks()) {
    EXPECT_TRUE(names.insert(std::string(m.name)).second) << m.name;
    EXPECT_FALSE(m.what.empty()) << m.name;
    ASSERT_TRUE(coverage_mark_index(m.name));
    EXPECT_EQ(coverage_marks()[*coverage_mark_index(m.name)].name, m.name);
  }
  EXPECT_EQ(names.size(), kCoverageMarkCount);
  EXPECT_FALSE(coverage_mark_index("swim.no_such_path"));
}

// Ten members, one crashes and one is paused past its suspicion timeout
// while the others keep probing it: suspicion, confirmation, death and a
// refutation by the paused one when it resumes.
json scenario(json expectations) {
  return json{{"name", "marks"},
              {"seed", std::uint64_t{4}},
              {"members", {{"count", 10}}},
              {"safety_ms", 40000},
              {"liveness_ms", 20000},
              {"timeline",
               json::array({{{"at_ms", 10000}, {"event", "crash"}, {"member", "n7"}},
                            {{"at_ms", 12000}, {"event", "pause"}, {"member", "n3"}, {"for_ms", 3000}}})},
              {"expectations", std::move(expectations)}};
}

ClusterRunReport run(const json& j, std::uint64_t seed = 4) {
  auto s = parse_cluster_scenario(j);
  EXPECT_TRUE(s) << s.error();
  return run_cluster_scenario(*s, RunOptions{seed, nullptr});
}

TEST(CoverageMarks, AMarksExpectationPassesWhenEveryMarkIsHitAndNamesTheOnesThatWereNot) {
  const ClusterRunReport hit =
      run(scenario(json::array({{{"kind", "marks"}, {"hit", {"swim.member_declared_dead", "swim.suspicion_confirmed"}}}})));
  ASSERT_EQ(hit.verdicts.size(), 1u);
  EXPECT_TRUE(hit.verdicts[0].pass) << hit.verdicts[0].evidence;
  EXPECT_GT(hit.coverage[*coverage_mark_index("swim.member_declared_dead")], 0u);

  const ClusterRunReport missed =
      run(scenario(json::array({{{"kind", "marks"}, {"hit", {"swim.member_declared_dead", "replication.partial_repair"}}}})));
  ASSERT_EQ(missed.verdicts.size(), 1u);
  EXPECT_FALSE(missed.verdicts[0].pass);
  EXPECT_NE(missed.verdicts[0].evidence.find("never hit: replication.partial_repair"), std::string::npos)
      << missed.verdicts[0].evidence;
}

TEST(CoverageMarks, HitsOfACrashedMemberStillCount) {
  // n3 refutes the suspicion its pause caused (it alone hits that mark),
  // then crashes: its hits stay in the run's total.
  json j = scenario(json::array());
  j["timeline"].push_back({{"at_ms", 30000}, {"event", "crash"}, {"member", "n3"}});
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s) << s.error();
  ClusterWorldOptions options{4, nullptr};
  ClusterWorld w(*s, options);
  w.run_until(Instant::from_ns(0) + Duration::seconds(60));
  const std::size_t refuted = *coverage_mark_index("swim.suspect_refuted");
  std::uint64_t live = 0;
  for (std::uint32_t m = 0; m < w.member_count(); ++m) {
    if (w.node(m) != nullptr) live += coverage_hits(*w.node(m))[refuted];
  }
  EXPECT_EQ(live, 0u);
  EXPECT_GT(w.coverage()[refuted], 0u);
  const ClusterRunReport r = run(j);
  EXPECT_EQ(r.coverage, w.coverage());
  const std::string text = format_cluster_report(*s, r, {});
  EXPECT_NE(text.find("coverage   hit: "), std::string::npos) << text;
  EXPECT_NE(text.find("swim.suspect_refuted "), std::string::npos) << text;
  EXPECT_NE(text.find("never hit: "), std::string::npos) << text;  // not every path happens here
}

TEST(CoverageMarks, AnUnknownMarkIsRefusedWithTheList) {
  auto s = parse_cluster_scenario(scenario(json::array({{{"kind", "marks"}, {"hit", {"swim.refuted"}}}})));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("expectations[0].hit[0]: 'swim.refuted' is not a coverage mark (marks: "
                           "swim.indirect_probe_acked, "),
            std::string::npos)
      << s.error();
  auto empty = parse_cluster_scenario(scenario(json::array({{{"kind", "marks"}, {"hit", json::array()}}})));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("expectations[0].hit: names no mark"), std::string::npos) << empty.error();
}

TEST(CoverageMarks, ASweepSaysInHowManyRunsEachMarkWasHitAndWhichNoneHit) {
  auto s = parse_cluster_scenario(scenario(json::array()));
  ASSERT_TRUE(s) << s.error();
  const SweepResult r = run_sweep({SweepScenario{"marks.json", *s, scenario(json::array())}}, {SeedRange{1, 3}, 2, std::nullopt, false});
  const std::string text = format_scenario_sweep(r.scenarios[0]);
  EXPECT_NE(text.find("marks hit (in how many runs): "), std::string::npos) << text;
  EXPECT_NE(text.find("swim.member_declared_dead 3"), std::string::npos) << text;
  EXPECT_NE(text.find("marks no run hit: "), std::string::npos) << text;
}

}  // namespace
}  // namespace heck::sim
