#include "sim/cluster_world.h"

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/cluster_analysis.h"
#include "sim/cluster_run.h"
#include "sim/trace.h"

namespace heck::sim {
namespace {

using nlohmann::json;

Instant at_s(double s) { return Instant::from_ns(static_cast<std::int64_t>(s * 1e9)); }

// Five members on a 1 ms LAN; `extra`'s top-level keys (and the keys of its
// "network") replace the defaults.
ClusterScenario scenario(const std::string& extra = "{}") {
  json j = json::parse(R"({
    "kind": "cluster", "name": "world-test", "seed": 5,
    "members": {"count": 5, "prefix": "m"},
    "seeds": ["m0", "m1"],
    "start_spread_ms": 1000,
    "network": {"latency": {"kind": "uniform", "min_ms": 0.5, "max_ms": 1.5}},
    "safety_ms": 60000, "liveness_ms": 30000, "metrics_from_ms": 10000
  })");
  const json patch = json::parse(extra);
  for (const auto& [key, value] : patch.items()) {
    if (key == "network") {
      for (const auto& [k, v] : value.items()) j["network"][k] = v;
    } else {
      j[key] = value;
    }
  }
  auto s = parse_cluster_scenario(j);
  EXPECT_TRUE(s) << s.error();
  return std::move(*s);
}

// Everything at once: loss, duplication, reordering, a pause, a one-way
// partition, a clog, a crash with a restart, a graceful leave.
const char* kBusy = R"({
  "network": {"latency": {"kind": "exponential", "mean_ms": 2, "floor_ms": 0.2}, "loss": 0.05, "duplicate": 0.02,
              "reorder": 0.05},
  "timeline": [
    {"at_ms": 15000, "event": "pause", "member": "m1", "for_ms": 3000},
    {"at_ms": 20000, "event": "partition", "from": "m2", "to": "m3", "one_way": true, "name": "p"},
    {"at_ms": 25000, "event": "clog", "from": "m0", "to": "m4", "name": "c"},
    {"at_ms": 27000, "event": "release", "name": "c"},
    {"at_ms": 30000, "event": "restart", "member": "m4", "down_ms": 12000},
    {"at_ms": 35000, "event": "heal"},
    {"at_ms": 40000, "event": "loss", "rate": 0.2, "from": "m0", "name": "l"},
    {"at_ms": 45000, "event": "unlink", "name": "l"},
    {"at_ms": 50000, "event": "leave", "member": "m3", "stop_after_ms": 2000}
  ]
})";

std::string traced(const ClusterScenario& s, std::uint64_t seed) {
  TraceWriter trace;
  run_cluster_scenario(s, RunOptions{seed, &trace});
  EXPECT_FALSE(trace.truncated());
  return std::string(trace.memory());
}

TEST(ClusterWorld, SameSeedSameTraceBytes) {
  const ClusterScenario s = scenario(kBusy);
  const std::string a = traced(s, 11);
  const std::string b = traced(s, 11);
  EXPECT_GT(a.size(), 100'000u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, traced(s, 12));
  // Every line is JSON; the last one holds the metrics.
  std::istringstream in(a);
  std::string line, last;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);  // throws if malformed
    EXPECT_TRUE(j.contains("t") && j.contains("ev")) << line;
    last = line;
    ++lines;
  }
  EXPECT_GT(lines, 1000u);
  EXPECT_EQ(json::parse(last).at("ev"), "metrics");
}

TEST(ClusterWorld, TracingDoesNotChangeTheRun) {
  const ClusterScenario s = scenario(kBusy);
  TraceWriter trace;
  ClusterWorld traced_world(s, ClusterWorldOptions{7, &trace});
  ClusterWorld plain(s, ClusterWorldOptions{7, nullptr});
  const Instant end = at_s(90);
  ASSERT_TRUE(traced_world.run_until(end));
  ASSERT_TRUE(plain.run_until(end));
  ASSERT_EQ(traced_world.records().size(), plain.records().size());
  for (std::size_t i = 0; i < plain.records().size(); ++i) {
    const auto& x = traced_world.records()[i];
    const auto& y = plain.records()[i];
    ASSERT_TRUE(x.at == y.at && x.observer == y.observer && x.subject == y.subject && x.to == y.to &&
                x.incarnation == y.incarnation)
        << i;
  }
  EXPECT_EQ(traced_world.counters().events, plain.counters().events);
  EXPECT_EQ(traced_world.network().counters().bytes_sent, plain.network().counters().bytes_sent);
}

// The world's incremental count of disagreeing views equals a brute-force
// count from the nodes' own membership tables (a differential test of the
// bookkeeping, and of MemberChanged telling the whole story).
TEST(ClusterWorld, DisagreementsMatchABruteForceCount) {
  const ClusterScenario s = scenario(kBusy);
  ClusterWorld w(s, ClusterWorldOptions{3, nullptr});
  int checked = 0, nonzero = 0;
  for (double t = 0.5; t <= 90; t += 0.5) {
    ASSERT_TRUE(w.run_until(at_s(t)));
    std::size_t bad = 0;
    for (std::uint32_t o = 0; o < w.member_count(); ++o) {
      const ClusterNode* node = w.node(o);
      if (node == nullptr) continue;
      for (std::uint32_t x = 0; x < w.member_count(); ++x) {
        if (x == o) continue;
        const MemberInfo* info = node->membership().member(s.members[x].name);
        const bool live = info != nullptr && (info->state == MemberState::alive || info->state == MemberState::suspect);
        const bool ok = w.running(x) ? info != nullptr && info->state == MemberState::alive : !live;
        bad += !ok;
      }
    }
    ASSERT_EQ(w.disagreements(), bad) << "at " << t << " s";
    EXPECT_EQ(w.converged_since().has_value(), bad == 0);
    ++checked;
    nonzero += bad > 0;
  }
  EXPECT_EQ(checked, 180);
  EXPECT_GT(nonzero, 10);  // the faults did make views disagree
  EXPECT_EQ(w.disagreements(), 0u);  // and the liveness phase healed them
}

TEST(ClusterWorld, CrashedMemberIsDeclaredDeadEverywhere) {
  const ClusterScenario s = scenario(R"({"timeline": [{"at_ms": 20000, "event": "crash", "member": "m2"}]})");
  ClusterWorld w(s, ClusterWorldOptions{1, nullptr});
  const Instant end = at_s(90);
  ASSERT_TRUE(w.run_until(end));
  EXPECT_FALSE(w.running(2));
  EXPECT_EQ(w.node(2), nullptr);
  EXPECT_GT(w.counters().packets_to_down, 0u);  // pings kept coming until it was dead
  for (const auto& [o, st] : views_at(w, 2, end)) EXPECT_EQ(st, MemberState::dead) << s.members[o].name;
  const ClusterMetrics m = measure(w, end);
  ASSERT_EQ(m.crashes.size(), 1u);
  const CrashDetection& c = m.crashes[0];
  EXPECT_EQ(c.at, at_s(20));
  ASSERT_TRUE(c.first && c.everywhere);
  EXPECT_LE(*c.first, *c.everywhere);
  EXPECT_LT(*c.first, Duration::seconds(5));
  // 4 x max(1, log10 5) x 1 s = 4 s at least, unless confirmations came first.
  EXPECT_GE(*c.everywhere, Duration::seconds(4));
  EXPECT_EQ(c.observers, 4u);
  EXPECT_EQ(c.marked, 4u);
  EXPECT_EQ(m.false_suspicions + m.false_deaths, 0u);
  EXPECT_EQ(m.updates_incomplete, 0u);
  EXPECT_GE(m.updates, 2u);  // m2 suspect, m2 dead
  ASSERT_TRUE(m.converged_after.has_value());
}

TEST(ClusterWorld, RestartRejoinsWithAHigherIncarnation) {
  const ClusterScenario s =
      scenario(R"({"timeline": [{"at_ms": 20000, "event": "restart", "member": "m3", "down_ms": 15000}]})");
  ClusterWorld w(s, ClusterWorldOptions{2, nullptr});
  const Instant end = at_s(90);
  ASSERT_TRUE(w.run_until(end));
  ASSERT_TRUE(w.running(3));
  std::vector<ProcessEvent> events;
  for (const auto& f : w.faults()) {
    if (f.member == 3) events.push_back(f.what);
  }
  EXPECT_EQ(events, (std::vector<ProcessEvent>{ProcessEvent::start, ProcessEvent::crash, ProcessEvent::start}));
  for (const auto& [o, st] : views_at(w, 3, end)) EXPECT_EQ(st, MemberState::alive) << s.members[o].name;
  // Declared dead at incarnation 0 while down, so the new process refuted above it.
  EXPECT_GT(w.node(3)->membership().incarnation(), 0u);
  const ClusterMetrics m = measure(w, end);
  ASSERT_EQ(m.crashes.size(), 1u);
  EXPECT_TRUE(m.crashes[0].everywhere.has_value());
  EXPECT_EQ(m.false_deaths, 0u);  // the death was of the old process
  EXPECT_TRUE(m.converged_after.has_value());
  EXPECT_TRUE(m.incarnations_agree) << m.incarnation_mismatch;
}

TEST(ClusterWorld, ImmediateRestartEndsTheEpisodeUndetected) {
  const ClusterScenario s = scenario(R"({"timeline": [{"at_ms": 20000, "event": "restart", "member": "m3"}]})");
  ClusterWorld w(s, ClusterWorldOptions{2, nullptr});
  ASSERT_TRUE(w.run_until(at_s(90)));
  const ClusterMetrics m = measure(w, at_s(90));
  ASSERT_EQ(m.crashes.size(), 1u);
  EXPECT_EQ(m.crashes[0].episode_end, at_s(20));
  EXPECT_FALSE(m.crashes[0].first.has_value());
  EXPECT_EQ(m.undetected, 1u);
  EXPECT_EQ(m.incomplete, 1u);
}

TEST(ClusterWorld, PausedMemberBuffersPacketsDefersTimersAndCatchesUp) {
  const ClusterScenario s = scenario(R"({"network": {"socket_buffer_packets": 3},
      "timeline": [{"at_ms": 20000, "event": "pause", "member": "m1", "for_ms": 3000}]})");
  ClusterWorld w(s, ClusterWorldOptions{4, nullptr});
  ASSERT_TRUE(w.run_until(at_s(22.9)));
  EXPECT_TRUE(w.paused(1));
  EXPECT_TRUE(w.running(1));
  const auto buffered = w.counters().packets_buffered;
  EXPECT_EQ(buffered, 3u);  // the socket buffer's bound
  EXPECT_GT(w.counters().packets_buffer_full, 0u);
  EXPECT_GT(w.counters().timers_deferred, 0u);
  const auto delivered = w.counters().packets_delivered;
  ASSERT_TRUE(w.run_until(at_s(90)));
  EXPECT_FALSE(w.paused(1));
  EXPECT_GT(w.counters().packets_delivered, delivered + buffered);
  // Suspected while frozen (not a false positive: it was paused), refuted on
  // resume (3 s is less than the 4 s suspicion minimum), never dead.
  const ClusterMetrics m = measure(w, at_s(90));
  EXPECT_EQ(m.false_suspicions + m.false_deaths, 0u);
  EXPECT_EQ(episodes(w, {1}, {}, MemberState::dead), 0u);
  for (const auto& [o, st] : views_at(w, 1, at_s(90))) EXPECT_EQ(st, MemberState::alive);
}

TEST(ClusterWorld, LongPauseIsAFalseDeathButItsSuspicionIsNot) {
  const ClusterScenario s =
      scenario(R"({"timeline": [{"at_ms": 20000, "event": "pause", "member": "m1", "for_ms": 30000}]})");
  ClusterWorld w(s, ClusterWorldOptions{4, nullptr});
  ASSERT_TRUE(w.run_until(at_s(90)));
  const ClusterMetrics m = measure(w, at_s(90));
  EXPECT_EQ(m.false_suspicions, 0u);
  EXPECT_GE(m.false_deaths, 1u);
  for (const FalsePositive& f : m.false_positives) EXPECT_EQ(f.member, 1u);
  EXPECT_GE(episodes(w, {1}, {}, MemberState::dead), 1u);
  EXPECT_TRUE(m.converged_after.has_value());  // it refuted after the resume
  EXPECT_GT(w.node(1)->membership().incarnation(), 0u);
}

TEST(ClusterWorld, LeaveShowsLeftNotDead) {
  const ClusterScenario s =
      scenario(R"({"timeline": [{"at_ms": 20000, "event": "leave", "member": "m4", "stop_after_ms": 3000}]})");
  ClusterWorld w(s, ClusterWorldOptions{6, nullptr});
  ASSERT_TRUE(w.run_until(at_s(22)));
  EXPECT_TRUE(w.running(4));  // still draining its broadcasts
  ASSERT_TRUE(w.run_until(at_s(90)));
  EXPECT_FALSE(w.running(4));
  for (const auto& [o, st] : views_at(w, 4, at_s(90))) EXPECT_EQ(st, MemberState::left) << s.members[o].name;
  const ClusterMetrics m = measure(w, at_s(90));
  EXPECT_TRUE(m.crashes.empty());  // a stop is not a crash
  EXPECT_EQ(m.false_deaths, 0u);
  EXPECT_EQ(episodes(w, {4}, {}, MemberState::dead), 0u);
}

TEST(ClusterWorld, OneWayPartitionSilencesOneDirection) {
  // m4 hears nobody; everyone hears m4.
  const ClusterScenario s = scenario(R"({"timeline": [
      {"at_ms": 20000, "event": "partition", "from": "*", "to": "m4", "one_way": true}]})");
  ClusterWorld w(s, ClusterWorldOptions{8, nullptr});
  ASSERT_TRUE(w.run_until(at_s(59)));
  EXPECT_TRUE(w.network().partitioned(0, 4));
  EXPECT_FALSE(w.network().partitioned(4, 0));
  EXPECT_GT(w.network().counters().partitioned, 0u);
  EXPECT_GE(episodes(w, {4}, {0, 1, 2, 3}, MemberState::dead), 1u);
  ASSERT_TRUE(w.run_until(at_s(90)));  // the liveness phase heals it
  EXPECT_FALSE(w.network().partitioned(0, 4));
  for (const auto& [o, st] : views_at(w, 4, at_s(90))) EXPECT_EQ(st, MemberState::alive);
}

TEST(ClusterWorld, LateJoinerJoinsOnItsEvent) {
  const ClusterScenario s = scenario(R"({
      "members": [{"name": "a"}, {"name": "b"}, {"name": "c", "start": false}], "seeds": "a",
      "timeline": [{"at_ms": 30000, "event": "join", "member": "c"}]})");
  ClusterWorld w(s, ClusterWorldOptions{9, nullptr});
  ASSERT_TRUE(w.run_until(at_s(29)));
  EXPECT_FALSE(w.running(2));
  EXPECT_TRUE(w.converged_since().has_value());  // nobody has heard of c: that agrees
  ASSERT_TRUE(w.run_until(at_s(40)));
  ASSERT_TRUE(w.running(2));
  for (const auto& [o, st] : views_at(w, 2, at_s(40))) EXPECT_EQ(st, MemberState::alive);
  EXPECT_TRUE(w.converged_since().has_value());
}

TEST(ClusterAnalysis, NearestRankPercentiles) {
  std::vector<Duration> v;
  for (int i = 100; i >= 1; --i) v.push_back(Duration::milliseconds(i));
  const Percentiles p = percentiles(v);
  EXPECT_EQ(p.count, 100u);
  EXPECT_EQ(p.p50, Duration::milliseconds(50));
  EXPECT_EQ(p.p99, Duration::milliseconds(99));
  EXPECT_EQ(p.max, Duration::milliseconds(100));
  const Percentiles one = percentiles({Duration::seconds(3)});
  EXPECT_EQ(one.p50, Duration::seconds(3));
  EXPECT_EQ(one.p99, Duration::seconds(3));
  EXPECT_EQ(percentiles({}).count, 0u);
  EXPECT_EQ(percentiles({}).describe(), "none");
}

}  // namespace
}  // namespace heck::sim
