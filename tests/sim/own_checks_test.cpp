// The own-check expectation kinds of cluster scenarios (detects, never,
// status_at, checks, changes; sim/cluster_analysis.h): each passes when it
// holds and fails when it does not, on independent one-member clusters.
#include <filesystem>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/cluster_analysis.h"
#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"

namespace heck::sim {
namespace {

using nlohmann::json;

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }

// Two independent one-member clusters checking the same two targets.
ClusterScenario scenario(const std::string& expectations, const std::string& clock = "{}") {
  auto s = parse_cluster_scenario(json::parse(R"({
    "name": "own-checks", "seed": 5, "safety_ms": 100000, "liveness_ms": 0, "jitter_fraction": 0,
    "members": [{"name": "n1"}, {"name": "n2", "clock": )" + clock + R"(}],
    "seeds": [],
    "invariants": {"enabled": false},
    "targets": [
      {"spec": {"id": "a", "url": "http://a/", "interval_ms": 1000, "timeout_ms": 100, "rise": 2, "fall": 3},
       "behaviour": [{"at_ms": 0, "mode": "up", "latency": {"kind": "constant", "ms": 10}},
                     {"at_ms": 40000, "mode": "down"},
                     {"at_ms": 70000, "mode": "up", "latency": {"kind": "constant", "ms": 10}}]},
      {"spec": {"id": "b", "url": "http://b/", "interval_ms": 1000, "timeout_ms": 100},
       "behaviour": [{"at_ms": 0, "mode": "up"},
                     {"at_ms": 50000, "mode": "flapping", "period_ms": 1000}]}
    ],
    "expectations": )" + expectations + "}"));
  EXPECT_TRUE(s) << s.error();
  return std::move(*s);
}

std::string error_of(const std::string& expectations) {
  auto s = parse_cluster_scenario(json::parse(R"({
    "name": "bad", "safety_ms": 1000, "liveness_ms": 0, "members": [{"name": "n1"}], "seeds": [],
    "targets": [{"spec": {"id": "a", "url": "http://a/"}, "behaviour": [{"at_ms": 0, "mode": "up"}]}],
    "expectations": )" + expectations + "}"));
  return s ? std::string() : s.error();
}

TEST(OwnChecks, DetectionDelaysFollowRiseAndFall) {
  const ClusterScenario s = scenario(R"([{"kind": "changes", "target": "a", "min": 0}])");
  const auto r = run_cluster_scenario(s, {5, nullptr});
  ASSERT_TRUE(r.error.empty());
  int seen = 0;
  for (const auto& d : r.detections) {
    if (s.targets[d.target].spec().id != "a") continue;
    ++seen;
    ASSERT_TRUE(d.delay.has_value()) << d.transition.at.ms();
    if (d.transition.from == HealthStatus::unknown) continue;  // the first verdict
    // No jitter: checks every 1 s exactly; a change needs rise (2) or fall (3)
    // checks after it, each answering in 10 ms.
    if (d.transition.to == HealthStatus::unhealthy) {
      EXPECT_GT(*d.delay, Duration::milliseconds(2000));
      EXPECT_LE(*d.delay, Duration::milliseconds(3010));
    } else {
      EXPECT_GT(*d.delay, Duration::milliseconds(1000));
      EXPECT_LE(*d.delay, Duration::milliseconds(2010));
    }
  }
  EXPECT_EQ(seen, 3 * 2);  // initial, down at 40 s, up at 70 s; two members
}

TEST(OwnChecks, WithoutSeedsEveryMemberIsAloneAndChecksEveryTarget) {
  ClusterScenario s = scenario(R"([{"kind": "checks", "target": "*", "min": 90}])");
  const auto r = run_cluster_scenario(s, {5, nullptr});
  EXPECT_TRUE(r.passed()) << r.verdicts[0].evidence;  // both members check both targets about every second
  EXPECT_EQ(r.network.datagrams_sent + r.network.streams_sent, 0u);  // they never meet
  EXPECT_TRUE(r.metrics.converged_after.has_value());                // and never disagree
  // With a seed the two members form one cluster and share the targets.
  s.seeds = {0};
  const auto joined = run_cluster_scenario(s, {5, nullptr});
  EXPECT_GT(joined.network.datagrams_sent, 0u);
  EXPECT_FALSE(joined.passed());  // each target now has one checker (checkers: 1)
}

TEST(OwnChecks, NothingIsRecordedWithoutAnOwnCheckExpectation) {
  const ClusterScenario s = scenario("[]");
  EXPECT_FALSE(s.judges_own_checks());
  const auto r = run_cluster_scenario(s, {5, nullptr});
  EXPECT_TRUE(r.detections.empty());
  // The world itself keeps no per-member records then (they cost memory at scale).
  ClusterWorld world(s, ClusterWorldOptions{.seed = 5});
  ASSERT_TRUE(world.run_until(at_ms(30000)));
  EXPECT_GT(world.counters().checks_started, 0u);
  EXPECT_TRUE(world.status_records().empty());
  EXPECT_EQ(world.checks_started(0, 0), 0u);
}

TEST(OwnChecks, ShortLivedTruthIsMissedNotJudged) {
  const ClusterScenario s = scenario(R"([{"kind": "detects", "target": "b", "within_intervals": 4}])");
  const auto r = run_cluster_scenario(s, {5, nullptr});
  int missed = 0;
  for (const auto& d : r.detections) {
    if (s.targets[d.target].spec().id == "b" && d.transition.at > at_ms(50000) && !d.delay) ++missed;
  }
  EXPECT_GT(missed, 50);  // half-second halves are shorter than fall x interval
  ASSERT_EQ(r.verdicts.size(), 1u);
  EXPECT_TRUE(r.verdicts[0].pass) << r.verdicts[0].evidence;  // only the initial transition is judged
  EXPECT_NE(r.verdicts[0].evidence.find("too short to judge"), std::string::npos);
}

TEST(OwnChecks, DetectsFailsWhenTheBoundIsTooTight) {
  const ClusterScenario s = scenario(R"([{"kind": "detects", "target": "a", "within_intervals": 2},
                                         {"kind": "detects", "target": "a", "within_intervals": 4}])");
  const auto r = run_cluster_scenario(s, {5, nullptr});
  ASSERT_EQ(r.verdicts.size(), 2u);
  EXPECT_FALSE(r.verdicts[0].pass);  // fall 3 cannot be seen within 2 intervals
  EXPECT_NE(r.verdicts[0].evidence.find("late"), std::string::npos) << r.verdicts[0].evidence;
  EXPECT_TRUE(r.verdicts[1].pass) << r.verdicts[1].evidence;
  EXPECT_FALSE(r.passed());
}

TEST(OwnChecks, DetectionBound) {
  TargetSpec spec;
  spec.interval = Duration::seconds(10);
  spec.timeout = Duration::seconds(2);
  // J = min(0.1 x 10 s, (10 s - 2 s) / 2) = 1 s: 3 x 10 + 2 x 1 + 2 = 34 s.
  EXPECT_EQ(detection_bound(spec, 3, SchedulerConfig{}, NodeClock()), Duration::seconds(34));
  // A slow clock stretches it in true time.
  EXPECT_GT(detection_bound(spec, 3, SchedulerConfig{}, NodeClock(Duration::zero(), -500)), Duration::seconds(34));
}

TEST(OwnChecks, EachKindPassesAndFails) {
  const ClusterScenario s = scenario(R"([
    {"kind": "never", "target": "a", "status": "unhealthy"},
    {"kind": "never", "target": "a", "status": "healthy", "member": "n2"},
    {"kind": "status_at", "target": "a", "at_ms": 60000, "status": "unhealthy"},
    {"kind": "status_at", "target": "*", "at_ms": 30000, "status": "healthy"},
    {"kind": "status_at", "target": "a", "at_ms": 0, "status": "unknown"},
    {"kind": "status_at", "target": "a", "at_ms": 60000, "status": "healthy"},
    {"kind": "checks", "target": "a", "min": 99, "max": 101},
    {"kind": "checks", "target": "*", "max": 50},
    {"kind": "changes", "target": "a", "min": 3, "max": 3},
    {"kind": "changes", "target": "a", "max": 2}
  ])");
  const auto r = run_cluster_scenario(s, {5, nullptr});
  ASSERT_EQ(r.verdicts.size(), 10u);
  const bool want[] = {false, false, true, true, true, false, true, false, true, false};
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(r.verdicts[i].pass, want[i]) << s.expectations[i].describe() << ": " << r.verdicts[i].evidence;
  }
  EXPECT_NE(r.verdicts[0].evidence.find("became unhealthy at 4"), std::string::npos) << r.verdicts[0].evidence;
  EXPECT_NE(r.verdicts[5].evidence.find("n1/a is unhealthy"), std::string::npos) << r.verdicts[5].evidence;
  EXPECT_NE(r.verdicts[7].evidence.find("outside the range"), std::string::npos) << r.verdicts[7].evidence;
  EXPECT_EQ(r.failed(), 5u);
}

TEST(OwnChecks, WrongExpectationFailsWithSeedAndReplayCommand) {
  auto s = load_cluster_scenario(HECK_SIM_TEST_DATA "/wrong_expectation.json");
  ASSERT_TRUE(s) << s.error();
  const auto r = run_cluster_scenario(*s, {s->seed, nullptr});
  EXPECT_FALSE(r.passed());
  ASSERT_GE(r.verdicts.size(), 2u);
  EXPECT_FALSE(r.verdicts[0].pass);
  EXPECT_NE(r.verdicts[0].evidence.find("n1/web is healthy"), std::string::npos) << r.verdicts[0].evidence;
  EXPECT_FALSE(r.verdicts[1].pass);
  EXPECT_NE(r.verdicts[1].evidence.find("n1/web became healthy"), std::string::npos) << r.verdicts[1].evidence;
  const std::string text = format_cluster_report(*s, r, {"tests/sim/data/wrong_expectation.json"});
  EXPECT_NE(text.find("FAIL  never web healthy"), std::string::npos) << text;
  EXPECT_NE(text.find("expectations failed (seed 7)"), std::string::npos) << text;
  EXPECT_NE(text.find("replay     heck sim tests/sim/data/wrong_expectation.json --seed 7"), std::string::npos)
      << text;
}

TEST(OwnChecks, ReplayCommandQuotesOddPaths) {
  EXPECT_EQ(replay_command("scenarios/x.json", 3), "heck sim scenarios/x.json --seed 3");
  EXPECT_EQ(replay_command("my dir/it's.json", 3), R"(heck sim 'my dir/it'\''s.json' --seed 3)");
}

TEST(OwnChecks, ParseErrorsNameTheField) {
  EXPECT_EQ(error_of(R"([{"kind": "detects", "target": "a", "within_intervals": 3, "member": "n1"}])"), "");
  EXPECT_NE(error_of(R"([{"kind": "detects", "target": "zz", "within_intervals": 3}])")
                .find("expectations[0].target: 'zz' matches no configured target"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "detects", "target": "a", "within_intervals": 0}])")
                .find("expectations[0].within_intervals"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "never", "target": "a", "status": "unknown"}])")
                .find("expectations[0].status: 'unknown' is not healthy or unhealthy"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "status_at", "target": "a", "at_ms": 5000, "status": "healthy"}])")
                .find("expectations[0].at_ms"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "checks", "target": "a"}])").find("expectations[0]: needs min, max or both"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "changes", "target": "a", "max": 1, "node": "n1"}])").find("expectations[0]"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"kind": "changes", "target": "a", "max": 1, "member": "n9"}])")
                .find("expectations[0].member: 'n9' matches no member"),
            std::string::npos);
}

TEST(OwnChecks, KindMarkerIsOptionalButChecked) {
  json j = json::parse(R"({"name": "k", "safety_ms": 1000, "liveness_ms": 0, "members": [{"name": "n1"}]})");
  EXPECT_TRUE(parse_cluster_scenario(j));
  j["kind"] = "cluster";  // older files carry it
  EXPECT_TRUE(parse_cluster_scenario(j));
  j["kind"] = "single";
  auto bad = parse_cluster_scenario(j);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("kind: must be \"cluster\""), std::string::npos) << bad.error();
}

TEST(OwnChecks, EveryShippedScenarioLoads) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(HECK_SCENARIO_DIR)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto s = load_cluster_scenario(entry.path().string());
    ASSERT_TRUE(s) << s.error();
    EXPECT_FALSE(s->expectations.empty()) << entry.path();
  }
  EXPECT_GE(files, 19);
}

}  // namespace
}  // namespace heck::sim
