#include "sim/world.h"

#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/scenario.h"
#include "sim/trace.h"

namespace heck::sim {
namespace {

using nlohmann::json;

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }

// Three nodes with skewed clocks and one target of each mode.
Scenario skewed() {
  auto s = parse_scenario(json::parse(R"({
    "name": "world-test", "duration_ms": 120000,
    "nodes": [{"name": "n1"},
              {"name": "n2", "clock": {"offset_ms": 30000, "drift_ppm": 500}},
              {"name": "n3", "clock": {"offset_ms": -30000, "drift_ppm": -500}}],
    "targets": [
      {"spec": {"id": "up", "url": "http://up/", "interval_ms": 2000, "timeout_ms": 500},
       "behaviour": [{"at_ms": 0, "mode": "up", "latency": {"kind": "uniform", "min_ms": 1, "max_ms": 30}}]},
      {"spec": {"id": "down", "url": "http://down/", "interval_ms": 2000, "timeout_ms": 500, "fall": 1},
       "behaviour": [{"at_ms": 0, "mode": "up"}, {"at_ms": 20000, "mode": "down", "status": 502}]},
      {"spec": {"id": "refused", "url": "tcp://db:5432", "interval_ms": 1500, "timeout_ms": 500},
       "behaviour": [{"at_ms": 0, "mode": "refusing"}]},
      {"spec": {"id": "hang", "url": "http://hang/", "interval_ms": 3000, "timeout_ms": 700},
       "behaviour": [{"at_ms": 0, "mode": "timeout"}]},
      {"spec": {"id": "slow", "url": "http://slow/", "interval_ms": 2000, "timeout_ms": 500},
       "behaviour": [{"at_ms": 0, "mode": "slow", "latency": {"kind": "exponential", "mean_ms": 200, "floor_ms": 10}}]},
      {"spec": {"id": "flap", "url": "http://flap/", "interval_ms": 1000, "timeout_ms": 300},
       "behaviour": [{"at_ms": 0, "mode": "flapping", "period_ms": 20000}]}
    ]})"));
  EXPECT_TRUE(s) << s.error();
  return std::move(*s);
}

std::string traced_run(const Scenario& s, std::uint64_t seed, std::int64_t until_ms = 120000) {
  TraceWriter trace;
  World w(s, WorldOptions{seed, &trace});
  EXPECT_TRUE(w.run_until(at_ms(until_ms))) << w.error();
  EXPECT_FALSE(trace.truncated());
  return std::string(trace.memory());
}

std::vector<json> lines(const std::string& trace) {
  std::vector<json> out;
  std::istringstream in(trace);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));  // throws if malformed
  return out;
}

TEST(World, SameSeedSameTraceBytes) {
  const Scenario s = skewed();
  const std::string a = traced_run(s, 11);
  const std::string b = traced_run(s, 11);
  EXPECT_GT(a.size(), 10'000u);
  EXPECT_EQ(a, b);
}

TEST(World, DifferentSeedDifferentTrace) {
  const Scenario s = skewed();
  EXPECT_NE(traced_run(s, 11), traced_run(s, 12));
}

TEST(World, TracingDoesNotChangeTheRun) {
  const Scenario s = skewed();
  TraceWriter trace;
  World traced(s, WorldOptions{5, &trace});
  World quiet(s, WorldOptions{5, nullptr});
  ASSERT_TRUE(traced.run_until(at_ms(120000)));
  ASSERT_TRUE(quiet.run_until(at_ms(120000)));
  EXPECT_EQ(traced.counters().events, quiet.counters().events);
  ASSERT_EQ(traced.status_records().size(), quiet.status_records().size());
  for (std::size_t i = 0; i < quiet.status_records().size(); ++i) {
    EXPECT_EQ(traced.status_records()[i].at, quiet.status_records()[i].at);
  }
}

TEST(World, TraceLinesAreJsonWithTheirFields) {
  const auto trace = lines(traced_run(skewed(), 3));
  std::map<std::string, int> kinds;
  for (const auto& l : trace) {
    ASSERT_TRUE(l.contains("t") && l.contains("ev")) << l.dump();
    const std::string ev = l["ev"];
    ++kinds[ev];
    if (ev != "run" && ev != "phase") {
      EXPECT_TRUE(l.contains("node") && l.contains("local")) << l.dump();
    }
    if (ev == "check_done") {
      EXPECT_TRUE(l.contains("result") && l.contains("latency_ns") && l.contains("status")) << l.dump();
    }
    if (ev == "status_change") {
      EXPECT_TRUE(l.contains("from") && l.contains("to") && l.contains("reason"));
    }
  }
  EXPECT_EQ(kinds["run"], 1);
  EXPECT_EQ(kinds["node_start"], 3);
  EXPECT_GE(kinds["phase"], 6 + 1 + 11);  // initial phases, down at 20 s, flapping halves
  EXPECT_GT(kinds["timer"], 100);
  EXPECT_GT(kinds["check_start"], 100);
  EXPECT_GT(kinds["check_done"], 100);
  EXPECT_GT(kinds["status_change"], 10);
  // True time never goes backwards.
  for (std::size_t i = 1; i < trace.size(); ++i) EXPECT_LE(trace[i - 1]["t"], trace[i]["t"]);
}

// A timer fires at the first true instant whose local time reaches its due
// time: never early, never later than necessary, on skewed and drifting clocks.
TEST(World, TimersFireAtTheFirstInstantTheNodeSeesTheirTime) {
  const Scenario s = skewed();
  TraceWriter trace;
  World w(s, WorldOptions{8, &trace});
  ASSERT_TRUE(w.run_until(at_ms(120000)));
  std::map<std::string, std::size_t> node_index;
  for (std::size_t n = 0; n < s.nodes.size(); ++n) node_index[s.nodes[n].name] = n;
  int timers = 0;
  for (const auto& l : lines(std::string(trace.memory()))) {
    if (l["ev"] != "timer") continue;
    ++timers;
    const NodeClock& c = w.clock(node_index.at(l["node"]));
    const Instant t = Instant::from_ns(l["t"]);
    const Instant due = Instant::from_ns(l["due"]);
    EXPECT_EQ(c.local(t).ns(), l["local"].get<std::int64_t>());
    EXPECT_GE(c.local(t), due) << l.dump();
    if (t > Instant::from_ns(0)) {
      EXPECT_LT(c.local(t - Duration::nanoseconds(1)), due) << l.dump();
    }
  }
  EXPECT_GT(timers, 300);
  // No node ever saw a timer before the time it asked for.
  for (std::size_t n = 0; n < w.node_count(); ++n) EXPECT_EQ(w.node(n).scheduler().counters().stale_timers, 0u);
}

TEST(World, EveryCheckGetsExactlyOneAnswer) {
  const Scenario s = skewed();
  const auto trace = lines(traced_run(s, 21));
  std::map<std::tuple<std::string, std::uint64_t>, int> starts, dones;
  std::map<std::tuple<std::string, std::uint64_t>, std::int64_t> deadline;
  for (const auto& l : trace) {
    if (l["ev"] == "check_start") {
      ++starts[{l["node"], l["check"]}];
      deadline[{l["node"], l["check"]}] = l["deadline"];
    }
    if (l["ev"] == "check_done") {
      const std::tuple<std::string, std::uint64_t> id{l["node"], l["check"]};
      ++dones[id];
      ASSERT_TRUE(deadline.count(id)) << l.dump();
      EXPECT_LE(l["local"].get<std::int64_t>(), deadline[id] + 1) << l.dump();  // by the deadline (±1 ns of drift rounding)
    }
  }
  for (const auto& [id, n] : dones) EXPECT_EQ(n, 1);
  for (const auto& [id, n] : starts) EXPECT_EQ(n, 1);
  EXPECT_LE(starts.size() - dones.size(), s.nodes.size() * s.targets.size());  // only the last round in flight
}

TEST(World, OutcomesMatchTheTargetsModes) {
  const auto trace = lines(traced_run(skewed(), 4));
  std::map<std::string, std::map<std::string, int>> results;  // target -> result -> count
  for (const auto& l : trace) {
    if (l["ev"] != "check_done" || l["node"] != "n1") continue;
    const std::string target = l["target"];
    ++results[target][l["result"]];
    if (target == "hang") {
      EXPECT_EQ(l["latency_ns"], 700'000'000) << l.dump();  // n1's clock is true time
    }
    if (target == "down" && l["result"] == "bad_status") {
      EXPECT_EQ(l["code"], 502);
    }
  }
  EXPECT_EQ(results["up"].size(), 1u);
  EXPECT_GT(results["up"]["ok"], 50);
  EXPECT_GT(results["down"]["ok"], 5);
  EXPECT_GT(results["down"]["bad_status"], 40);
  EXPECT_EQ(results["refused"].size(), 1u);
  EXPECT_GT(results["refused"]["connection_refused"], 70);
  EXPECT_EQ(results["hang"].size(), 1u);
  EXPECT_GT(results["hang"]["timeout"], 35);
  EXPECT_GT(results["slow"]["ok"], 40);
  EXPECT_GT(results["slow"]["timeout"], 0);  // P(latency > 500 ms) = e^-1.55 = 21%
  EXPECT_GT(results["flap"]["bad_status"], 40);
}

TEST(World, NodesReportStatusChanges) {
  const Scenario s = skewed();
  World w(s, WorldOptions{2});
  ASSERT_TRUE(w.run_until(at_ms(120000)));
  for (std::size_t n = 0; n < w.node_count(); ++n) {
    const auto* down = w.node(n).scheduler().find("down");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->status, HealthStatus::unhealthy);
    EXPECT_EQ(w.node(n).scheduler().find("up")->status, HealthStatus::healthy);
    EXPECT_EQ(w.node(n).scheduler().find("hang")->status, HealthStatus::unhealthy);
    EXPECT_GT(w.checks_started(n, 0), 55u);
  }
  int down_changes = 0;
  for (const auto& r : w.status_records()) {
    if (s.targets[r.target].spec().id == "down" && r.to == HealthStatus::unhealthy) {
      ++down_changes;
      EXPECT_GE(r.at, at_ms(20000));
      EXPECT_LE(r.at, at_ms(20000 + 2000 + 200 + 500));  // fall 1: the next check, plus jitter and latency
      EXPECT_EQ(r.reason, CheckReason::bad_status);
    }
  }
  EXPECT_EQ(down_changes, 3);
  EXPECT_EQ(w.counters().unknown_targets, 0u);
}

TEST(World, RunsInSteps) {
  const Scenario s = skewed();
  TraceWriter whole, steps;
  World a(s, WorldOptions{6, &whole});
  World b(s, WorldOptions{6, &steps});
  ASSERT_TRUE(a.run_until(at_ms(60000)));
  for (int ms = 0; ms <= 60000; ms += 777) ASSERT_TRUE(b.run_until(at_ms(ms)));
  ASSERT_TRUE(b.run_until(at_ms(60000)));
  EXPECT_EQ(a.now(), b.now());
  EXPECT_EQ(whole.memory(), steps.memory());
}

TEST(World, StopsAtTheEventLimit) {
  const Scenario s = skewed();
  World w(s, WorldOptions{1, nullptr, /*max_pending_events=*/12});
  EXPECT_FALSE(w.run_until(at_ms(60000)));
  EXPECT_NE(w.error().find("event queue limit"), std::string::npos) << w.error();
  EXPECT_LE(w.pending_events(), 12u);
}

}  // namespace
}  // namespace heck::sim
