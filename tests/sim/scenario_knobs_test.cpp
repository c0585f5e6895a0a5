// Swarm faults (sim/scenario_knobs.h): ranges, any_of and picks at a
// scenario's fault knobs, their errors, and the draws.
#include "sim/scenario_knobs.h"

#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/determinism.h"
#include "sim/sweep.h"

namespace heck::sim {
namespace {

using nlohmann::json;

const std::string kSwarmSmall = HECK_SIM_TEST_DATA "/swarm_small.json";
const std::string kSwarm10 = HECK_SCENARIO_DIR "/cluster_swarm_10.json";
const std::string kSweepSmall = HECK_SIM_TEST_DATA "/sweep_small.json";

json read(const std::string& path) {
  auto j = read_scenario_json(path);
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error());
  return *j;
}

// A small scenario with one knob put in by the test.
json base() {
  return json::parse(R"({
    "name": "k", "members": {"count": 4, "prefix": "n"}, "safety_ms": 20000, "liveness_ms": 5000,
    "network": {"loss": 0},
    "timeline": [{"at_ms": 1000, "event": "pause", "member": "n1", "for_ms": 500},
                 {"at_ms": 2000, "event": "partition", "from": "n2"}],
    "expectations": [{"kind": "converges", "within_ms": 5000}]})");
}

std::string error_of(const json& j, KnobSettings k = {}) {
  auto s = parse_cluster_scenario(j, k);
  return s.ok() ? std::string("(parsed)") : s.error();
}

Result<ClusterScenario> swarm(const json& j, std::uint64_t seed) {
  return parse_cluster_scenario(j, KnobSettings{KnobMode::swarm, seed});
}

const TimelineEvent& event_from(const ClusterScenario& s, std::size_t source) {
  for (const TimelineEvent& e : s.timeline) {
    if (e.source == source) return e;
  }
  ADD_FAILURE() << "no event from timeline[" << source << "]";
  return s.timeline.front();
}

TEST(ScenarioKnobs, DefaultsAreMidpointsAndFirstChoices) {
  json j = base();
  j["network"]["loss"] = json::parse(R"({"range": [0.0, 0.2]})");
  j["timeline"][0]["for_ms"] = json::parse(R"({"range": [100, 201]})");
  j["timeline"][0]["member"] = json::parse(R"({"any_of": ["n3", "n1"]})");
  j["timeline"][1]["from"] = json::parse(R"({"pick": 2, "of": "*"})");
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_DOUBLE_EQ(s->network.loss, 0.1);
  const TimelineEvent& pause = event_from(*s, 0);
  EXPECT_EQ(pause.pause_for->ms(), 150);  // 100 + 101 / 2, rounded down
  EXPECT_EQ(pause.members, std::vector<std::uint32_t>{3});
  const TimelineEvent& part = event_from(*s, 1);
  EXPECT_TRUE(part.from.contains(0) && part.from.contains(1) && !part.from.contains(2));
  EXPECT_EQ(knobs_text(s->knobs),
            "network.loss=0.1 timeline[0].for_ms=150 timeline[0].member=n3 timeline[1].from=[n0, n1]");
  EXPECT_EQ(s->knob_mode, KnobMode::defaults);
}

TEST(ScenarioKnobs, AFileWithoutRangesHasNoKnobs) {
  auto s = parse_cluster_scenario(base(), KnobSettings{KnobMode::swarm, 5});
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_TRUE(s->knobs.empty());
  EXPECT_FALSE(has_knob_ranges(base()));
}

TEST(ScenarioKnobs, BadRangesAreRefusedNamingTheField) {
  auto with = [](const char* path, const char* value) {
    json j = base();
    j[json::json_pointer(path)] = json::parse(value);
    return error_of(j);
  };
  EXPECT_EQ(with("/network/loss", R"({"range": [0.3, 0.1]})"), "network.loss.range: lo 0.3 is above hi 0.1");
  EXPECT_EQ(with("/timeline/0/for_ms", R"({"range": [900, 100]})"), "timeline[0].for_ms.range: lo 900 is above hi 100");
  EXPECT_EQ(with("/network/loss", R"({"range": "0..1"})"), "network.loss.range: must be [lo, hi], got a string");
  EXPECT_EQ(with("/network/loss", R"({"range": [0.1]})"), "network.loss.range: must be [lo, hi], got 1 items");
  EXPECT_EQ(with("/network/loss", R"({"range": [0, "x"]})"), "network.loss.range[1]: must be a number, got a string");
  EXPECT_EQ(with("/timeline/0/at_ms", R"({"range": [0, 0.5]})"),
            "timeline[0].at_ms.range[1]: must be an integer (an integer field), got 0.5");
  EXPECT_NE(with("/network/loss", R"({"range": [0, 0.1], "step": 0.01})").find("network.loss.step: unknown key"),
            std::string::npos);
  EXPECT_EQ(with("/network/loss", R"({"any_of": []})"), "network.loss.any_of: must list 1-2000 choices");
  EXPECT_EQ(with("/timeline/0/member", R"({"range": [1, 2]})"),
            "timeline[0].member: a member field takes any_of or pick, not range");
  EXPECT_EQ(with("/network/loss", R"({"pick": 1, "of": "*"})"),
            "network.loss: pick chooses members; a number takes range or any_of");
  EXPECT_EQ(with("/timeline/1/from", R"({"pick": 5, "of": "*"})"),
            "timeline[1].from.pick: 5 is more than the 4 members 'of' matches");
  EXPECT_EQ(with("/timeline/1/from", R"({"pick": 1, "of": "x*"})"), "timeline[1].from.of: 'x*' matches no member");
  EXPECT_EQ(with("/timeline/1/from", R"({"pick": 1})"), "timeline[1].from.of: missing");
  // Not at a knob.
  EXPECT_NE(with("/swim", R"({"probe_interval_ms": {"range": [500, 1000]}})")
                .find("swim.probe_interval_ms: a range, any_of or pick is allowed only at a fault knob"),
            std::string::npos);
  EXPECT_NE(with("/expectations/0/within_ms", R"({"range": [1, 2]})").find("expectations[0].within_ms: a range"),
            std::string::npos);
  // A bound of the field itself, at a range's end: refused up front.
  EXPECT_EQ(with("/network/loss", R"({"range": [0.5, 1.5]})"),
            "with every range at its high end: network.loss: must be in [0, 1], got 1.5");
  EXPECT_EQ(with("/timeline/0/at_ms", R"({"range": [1000, 25000]})"),
            "with every range at its high end: timeline[0].at_ms: must be at most 19999, got 25000");
}

TEST(ScenarioKnobs, TheSameSeedDrawsTheSameKnobs) {
  const json j = read(kSwarm10);
  for (std::uint64_t seed : {1u, 2u, 77u}) {
    auto a = swarm(j, seed), b = swarm(j, seed);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->knobs, b->knobs);
    EXPECT_EQ(a->knob_mode, KnobMode::swarm);
  }
}

TEST(ScenarioKnobs, DifferentSeedsDrawDifferentKnobs) {
  const json j = read(kSwarm10);
  std::set<std::string> draws, pause_members;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto s = swarm(j, seed);
    ASSERT_TRUE(s.ok()) << s.error();
    draws.insert(knobs_text(s->knobs));
    for (const DrawnKnob& k : s->knobs) {
      if (k.field == "timeline[1].member") pause_members.insert(k.value);
    }
  }
  EXPECT_EQ(draws.size(), 40u);
  EXPECT_GE(pause_members.size(), 6u);  // of 10 members, over 40 draws
}

TEST(ScenarioKnobs, DrawnValuesLieInTheirRanges) {
  const json j = read(kSwarm10);
  std::set<std::size_t> split_sizes;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    auto s = swarm(j, seed);
    ASSERT_TRUE(s.ok()) << s.error();
    const TimelineEvent& loss = event_from(*s, 0);
    EXPECT_GE(loss.at.ms(), 10000);
    EXPECT_LE(loss.at.ms(), 20000);
    EXPECT_GE(*loss.link.loss, 0.0);
    EXPECT_LE(*loss.link.loss, 0.05);
    const TimelineEvent& pause = event_from(*s, 1);
    EXPECT_GE(pause.at.ms(), 25000);
    EXPECT_LE(pause.at.ms(), 35000);
    EXPECT_GE(pause.pause_for->ms(), 500);
    EXPECT_LE(pause.pause_for->ms(), 8000);
    EXPECT_EQ(pause.members.size(), 1u);
    const TimelineEvent& split = event_from(*s, 3);
    split_sizes.insert(split.from.count());
    EXPECT_GE(split.from.count(), 1u);
    EXPECT_LE(split.from.count(), 4u);
    EXPECT_GE(s->network.duplicate, 0.0);
    EXPECT_LE(s->network.duplicate, 0.02);
    EXPECT_GE(s->network.latency.mean().ms_f(), 0.3);
    EXPECT_LE(s->network.latency.mean().ms_f(), 3.0);
    for (const DrawnKnob& k : s->knobs) {  // reals in steps of 1e-4, printed as such
      if (k.field.find("rate") != std::string::npos || k.field.find("mean_ms") != std::string::npos) {
        EXPECT_LE(k.value.size(), 6u) << k.field << "=" << k.value;
      }
    }
    for (const MemberScenario& m : s->members) {
      EXPECT_LE(std::abs(m.clock_offset.ms()), 30000);
      EXPECT_LE(std::abs(m.drift_ppm), 500);
    }
  }
  EXPECT_EQ(split_sizes, (std::set<std::size_t>{1, 2, 3, 4}));
}

TEST(ScenarioKnobs, AddingARangeDoesNotMoveTheOtherDraws) {
  json j = read(kSwarmSmall);
  auto before = swarm(j, 9);
  j["network"]["duplicate"] = json::parse(R"({"range": [0.0, 0.01]})");
  auto after = swarm(j, 9);
  ASSERT_TRUE(before.ok() && after.ok());
  for (const DrawnKnob& k : before->knobs) {
    EXPECT_NE(std::find(after->knobs.begin(), after->knobs.end(), k), after->knobs.end()) << k.field;
  }
  EXPECT_EQ(after->knobs.size(), before->knobs.size() + 1);
}

// A run inside a swarm sweep is the run `heck sim FILE --seed N --swarm` replays.
TEST(ScenarioKnobs, ASwarmSeedReplaysTheRunOfTheSweep) {
  const json j = read(kSwarmSmall);
  auto defaults = parse_cluster_scenario(j);
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  SweepOptions options;
  options.seeds = {4, 6};
  options.jobs = 2;
  options.swarm = true;
  const SweepResult r = run_sweep({SweepScenario{kSwarmSmall, *defaults, j}}, options);
  ASSERT_EQ(r.scenarios[0].runs.size(), 3u);
  for (const SeedOutcome& o : r.scenarios[0].runs) {
    auto replay = load_cluster_scenario(kSwarmSmall, KnobSettings{KnobMode::swarm, o.seed});
    ASSERT_TRUE(replay.ok()) << replay.error();
    EXPECT_EQ(o.knobs, knobs_text(replay->knobs));
    const ClusterRunReport report = run_cluster_scenario(*replay, RunOptions{o.seed, nullptr});
    EXPECT_EQ(o.crashes, report.metrics.crashes.size());
    EXPECT_EQ(o.messages_per_member_s, report.metrics.messages_per_member_s);
    EXPECT_EQ(o.bytes_per_member_s, report.metrics.bytes_per_member_s);
    EXPECT_EQ(o.converged_after, report.metrics.converged_after);
    EXPECT_EQ(o.passed(), report.passed());
  }
  // And the draws differ from the defaults' run.
  const ClusterRunReport plain = run_cluster_scenario(*defaults, RunOptions{4, nullptr});
  EXPECT_NE(r.scenarios[0].runs[0].bytes_per_member_s, plain.metrics.bytes_per_member_s);
}

// A scenario without ranges runs the same with --swarm as without: the
// knobs' streams are apart from the world's.
TEST(ScenarioKnobs, ASwarmRunOfAFileWithoutRangesIsThePlainRun) {
  const json j = read(kSweepSmall);
  auto plain = parse_cluster_scenario(j);
  auto drawn = swarm(j, 3);
  ASSERT_TRUE(plain.ok() && drawn.ok());
  RunFingerprint a, b;
  run_fingerprinted(*plain, 3, a);
  run_fingerprinted(*drawn, 3, b);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.trace_lines, 500u);
}

TEST(ScenarioKnobs, TheReplayCommandCarriesSwarm) {
  EXPECT_EQ(replay_command("s.json", 3, true), "heck sim s.json --seed 3 --swarm");
  auto drawn = swarm(read(kSwarmSmall), 3);
  ASSERT_TRUE(drawn.ok());
  EXPECT_EQ(replay_command("s.json", *drawn, 3), "heck sim s.json --seed 3 --swarm");
  EXPECT_EQ(replay_command("s.json", *parse_cluster_scenario(read(kSwarmSmall)), 3), "heck sim s.json --seed 3");
}

}  // namespace
}  // namespace heck::sim
