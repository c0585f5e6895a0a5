#include "sim/analysis.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/run.h"
#include "sim/scenario.h"

namespace heck::sim {
namespace {

using nlohmann::json;

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }

Scenario scenario(const std::string& expectations, const std::string& clock = "{}") {
  auto s = parse_scenario(json::parse(R"({
    "name": "analysis", "seed": 5, "duration_ms": 100000, "jitter_fraction": 0,
    "nodes": [{"name": "n1"}, {"name": "n2", "clock": )" + clock + R"(}],
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

TEST(Analysis, DetectionDelaysFollowRiseAndFall) {
  const Scenario s = scenario("[]");
  const auto r = run_scenario(s, {5, nullptr});
  ASSERT_TRUE(r.error.empty());
  int seen = 0;
  for (const auto& d : r.detections) {
    if (s.targets[d.target].spec().id != "a") continue;
    ++seen;
    ASSERT_TRUE(d.delay.has_value()) << d.transition.at.ms();
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
  EXPECT_EQ(seen, 3 * 2);  // initial, down at 40 s, up at 70 s; two nodes
}

TEST(Analysis, ShortLivedTruthIsMissedNotJudged) {
  const Scenario s = scenario(R"([{"kind": "detects", "target": "b", "within_intervals": 4}])");
  const auto r = run_scenario(s, {5, nullptr});
  int missed = 0;
  for (const auto& d : r.detections) {
    if (s.targets[d.target].spec().id == "b" && d.transition.at > at_ms(50000) && !d.delay) ++missed;
  }
  EXPECT_GT(missed, 50);  // half-second halves are shorter than fall x interval
  ASSERT_EQ(r.verdicts.size(), 1u);
  EXPECT_TRUE(r.verdicts[0].pass) << r.verdicts[0].evidence;  // only the initial transition is judged
  EXPECT_NE(r.verdicts[0].evidence.find("too short to judge"), std::string::npos);
}

TEST(Analysis, DetectsFailsWhenTheBoundIsTooTight) {
  const Scenario s = scenario(R"([{"kind": "detects", "target": "a", "within_intervals": 2},
                                  {"kind": "detects", "target": "a", "within_intervals": 4}])");
  const auto r = run_scenario(s, {5, nullptr});
  ASSERT_EQ(r.verdicts.size(), 2u);
  EXPECT_FALSE(r.verdicts[0].pass);  // fall 3 cannot be seen within 2 intervals
  EXPECT_NE(r.verdicts[0].evidence.find("late"), std::string::npos) << r.verdicts[0].evidence;
  EXPECT_TRUE(r.verdicts[1].pass) << r.verdicts[1].evidence;
  EXPECT_FALSE(r.passed());
}

TEST(Analysis, DetectionBound) {
  TargetSpec spec;
  spec.interval = Duration::seconds(10);
  spec.timeout = Duration::seconds(2);
  // J = min(0.1 x 10 s, (10 s - 2 s) / 2) = 1 s: 3 x 10 + 2 x 1 + 2 = 34 s.
  EXPECT_EQ(detection_bound(spec, 3, SchedulerConfig{}, NodeClock()), Duration::seconds(34));
  // A slow clock stretches it in true time.
  EXPECT_GT(detection_bound(spec, 3, SchedulerConfig{}, NodeClock(Duration::zero(), -500)), Duration::seconds(34));
}

TEST(Analysis, EachKindPassesAndFails) {
  const Scenario s = scenario(R"([
    {"kind": "never", "target": "a", "status": "unhealthy"},
    {"kind": "never", "target": "a", "status": "healthy", "node": "n2"},
    {"kind": "status_at", "target": "a", "at_ms": 60000, "status": "unhealthy"},
    {"kind": "status_at", "target": "*", "at_ms": 30000, "status": "healthy"},
    {"kind": "status_at", "target": "a", "at_ms": 500, "status": "unknown"},
    {"kind": "status_at", "target": "a", "at_ms": 60000, "status": "healthy"},
    {"kind": "checks", "target": "a", "min": 99, "max": 101},
    {"kind": "checks", "target": "*", "max": 50},
    {"kind": "changes", "target": "a", "min": 3, "max": 3},
    {"kind": "changes", "target": "a", "max": 2}
  ])");
  const auto r = run_scenario(s, {5, nullptr});
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

TEST(Analysis, WrongExpectationFailsWithSeedAndReplayCommand) {
  auto s = load_scenario(HECK_SIM_TEST_DATA "/wrong_expectation.json");
  ASSERT_TRUE(s) << s.error();
  const auto r = run_scenario(*s, {s->seed, nullptr});
  EXPECT_FALSE(r.passed());
  ASSERT_EQ(r.verdicts.size(), 2u);
  EXPECT_FALSE(r.verdicts[0].pass);
  EXPECT_NE(r.verdicts[0].evidence.find("n1/web is healthy"), std::string::npos) << r.verdicts[0].evidence;
  EXPECT_FALSE(r.verdicts[1].pass);
  EXPECT_NE(r.verdicts[1].evidence.find("n1/web became healthy"), std::string::npos) << r.verdicts[1].evidence;
  const std::string text = format_report(*s, r, {"tests/sim/data/wrong_expectation.json"});
  EXPECT_NE(text.find("FAIL  never web healthy"), std::string::npos) << text;
  EXPECT_NE(text.find("result     FAIL: 2 of 2 expectations failed (seed 7)"), std::string::npos) << text;
  EXPECT_NE(text.find("replay     heck sim tests/sim/data/wrong_expectation.json --seed 7"), std::string::npos)
      << text;
}

TEST(Analysis, ReplayCommandQuotesOddPaths) {
  EXPECT_EQ(replay_command("scenarios/x.json", 3), "heck sim scenarios/x.json --seed 3");
  EXPECT_EQ(replay_command("my dir/it's.json", 3), R"(heck sim 'my dir/it'\''s.json' --seed 3)");
}

}  // namespace
}  // namespace heck::sim
