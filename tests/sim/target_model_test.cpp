#include "sim/target_model.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace heck::sim {
namespace {

using nlohmann::json;

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }

TargetSpec spec(const char* json_text) {
  auto s = TargetSpec::from_json(json::parse(json_text));
  EXPECT_TRUE(s) << s.error();
  return *s;
}

TargetSpec http() { return spec(R"({"id": "t", "url": "http://t.example/", "interval_ms": 1000, "timeout_ms": 500})"); }

TargetModel model(const TargetSpec& s, const char* behaviour) {
  auto m = TargetModel::from_json(s, json::parse(behaviour));
  EXPECT_TRUE(m) << m.error();
  return *m;
}

TEST(TargetModel, PhasesApplyFromTheirStart) {
  const auto m = model(http(), R"([{"at_ms": 0, "mode": "up"},
                                   {"at_ms": 1000, "mode": "down"},
                                   {"at_ms": 2000, "mode": "refusing"},
                                   {"at_ms": 3000, "mode": "timeout"}])");
  EXPECT_EQ(m.phase_at(at_ms(0)).mode, Mode::up);
  EXPECT_EQ(m.phase_at(at_ms(999)).mode, Mode::up);
  EXPECT_EQ(m.phase_at(at_ms(1000)).mode, Mode::down);
  EXPECT_EQ(m.phase_at(at_ms(2500)).mode, Mode::refusing);
  EXPECT_EQ(m.phase_at(at_ms(1'000'000)).mode, Mode::timeout);
  EXPECT_EQ(m.truth_at(at_ms(500)), HealthStatus::healthy);
  EXPECT_EQ(m.truth_at(at_ms(1500)), HealthStatus::unhealthy);
  EXPECT_EQ(m.next_change(at_ms(0)), at_ms(1000));
  EXPECT_EQ(m.next_change(at_ms(1000)), at_ms(2000));
  EXPECT_EQ(m.next_change(at_ms(3000)), std::nullopt);
}

TEST(TargetModel, AnswersFollowTheMode) {
  const auto m = model(http(), R"([{"at_ms": 0, "mode": "up", "latency": {"kind": "constant", "ms": 3}},
                                   {"at_ms": 1000, "mode": "down", "status": 500},
                                   {"at_ms": 2000, "mode": "refusing", "latency": {"kind": "constant", "ms": 2}},
                                   {"at_ms": 3000, "mode": "timeout"}])");
  Rng rng(1);
  auto up = m.answer(at_ms(10), rng);
  EXPECT_EQ(up.transport, CheckReason::ok);
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(up.latency, Duration::milliseconds(3));
  auto down = m.answer(at_ms(1010), rng);
  EXPECT_EQ(down.transport, CheckReason::ok);
  EXPECT_EQ(down.status, 500);
  auto refused = m.answer(at_ms(2010), rng);
  EXPECT_EQ(refused.transport, CheckReason::connection_refused);
  EXPECT_EQ(refused.latency, Duration::milliseconds(2));
  auto silent = m.answer(at_ms(3010), rng);
  EXPECT_EQ(silent.latency, Duration::max());
}

TEST(TargetModel, FlappingAlternatesStartingUp) {
  const auto m = model(http(), R"([{"at_ms": 0, "mode": "up"},
                                   {"at_ms": 1000, "mode": "flapping", "period_ms": 400}])");
  EXPECT_EQ(m.truth_at(at_ms(1000)), HealthStatus::healthy);
  EXPECT_EQ(m.truth_at(at_ms(1199)), HealthStatus::healthy);
  EXPECT_EQ(m.truth_at(at_ms(1200)), HealthStatus::unhealthy);
  EXPECT_EQ(m.truth_at(at_ms(1399)), HealthStatus::unhealthy);
  EXPECT_EQ(m.truth_at(at_ms(1400)), HealthStatus::healthy);
  Rng rng(1);
  EXPECT_EQ(m.answer(at_ms(1250), rng).status, 503);
  EXPECT_EQ(m.next_change(at_ms(1250)), at_ms(1400));
  const auto tr = m.truth_transitions(at_ms(1700));
  // unknown->healthy at 0, then flips at 1200, 1400, 1600 (1000 starts up: no change).
  ASSERT_EQ(tr.size(), 4u);
  EXPECT_EQ(tr[0].at, at_ms(0));
  EXPECT_EQ(tr[0].from, HealthStatus::unknown);
  EXPECT_EQ(tr[1].at, at_ms(1200));
  EXPECT_EQ(tr[1].to, HealthStatus::unhealthy);
  EXPECT_EQ(tr[3].at, at_ms(1600));
}

TEST(TargetModel, TcpFlappingRefusesInItsDownHalf) {
  const auto m = model(spec(R"({"id": "db", "url": "tcp://db:5432", "interval_ms": 1000, "timeout_ms": 500})"),
                       R"([{"at_ms": 0, "mode": "flapping", "period_ms": 200}])");
  Rng rng(1);
  EXPECT_EQ(m.answer(at_ms(50), rng).transport, CheckReason::ok);
  EXPECT_EQ(m.answer(at_ms(150), rng).transport, CheckReason::connection_refused);
}

TEST(TargetModel, TruthIsWhatTheSpecConcludes) {
  // An "up" answer the spec does not accept is unhealthy.
  const auto picky = spec(R"({"id": "t", "url": "http://t/", "expect_status": 204, "expect_body": "ok"})");
  EXPECT_EQ(model(picky, R"([{"at_ms": 0, "mode": "up", "status": 204, "body": "all ok"}])").truth_at(at_ms(0)),
            HealthStatus::healthy);
  EXPECT_EQ(model(picky, R"([{"at_ms": 0, "mode": "up"}])").truth_at(at_ms(0)), HealthStatus::unhealthy);
  EXPECT_EQ(model(picky, R"([{"at_ms": 0, "mode": "up", "status": 204, "body": "nope"}])").truth_at(at_ms(0)),
            HealthStatus::unhealthy);
  // A "down" status the spec accepts is healthy (the model does not second-guess it).
  const auto lenient = spec(R"({"id": "t", "url": "http://t/", "expect_status": "200-599"})");
  EXPECT_EQ(model(lenient, R"([{"at_ms": 0, "mode": "down"}])").truth_at(at_ms(0)), HealthStatus::healthy);
}

TEST(TargetModel, SlowTruth) {
  // Always slower than the 500 ms timeout: unhealthy.
  EXPECT_EQ(model(http(), R"([{"at_ms": 0, "mode": "slow", "latency": {"kind": "constant", "ms": 800}}])")
                .truth_at(at_ms(0)),
            HealthStatus::unhealthy);
  // Straddling the timeout: healthy unless declared.
  EXPECT_EQ(model(http(), R"([{"at_ms": 0, "mode": "slow",
                               "latency": {"kind": "uniform", "min_ms": 100, "max_ms": 900}}])")
                .truth_at(at_ms(0)),
            HealthStatus::healthy);
  EXPECT_EQ(model(http(), R"([{"at_ms": 0, "mode": "slow", "truth": "unhealthy",
                               "latency": {"kind": "uniform", "min_ms": 100, "max_ms": 900}}])")
                .truth_at(at_ms(0)),
            HealthStatus::unhealthy);
}

TEST(TargetModel, ShiftMovesLaterPhasesOnly) {
  auto m = model(http(), R"([{"at_ms": 0, "mode": "up"}, {"at_ms": 1000, "mode": "down"}])");
  m.shift_phases(Duration::milliseconds(250));
  EXPECT_EQ(m.phases()[0].at, Duration::zero());
  EXPECT_EQ(m.truth_at(at_ms(1100)), HealthStatus::healthy);
  EXPECT_EQ(m.truth_at(at_ms(1250)), HealthStatus::unhealthy);
}

TEST(TargetModel, ParseErrorsNameTheField) {
  const auto tcp = spec(R"({"id": "db", "url": "tcp://db:5432"})");
  struct Case {
    const TargetSpec s;
    const char* behaviour;
    const char* want;
  };
  const Case cases[] = {
      {http(), R"({})", "b: must be an array of phases, got an object"},
      {http(), R"([])", "b: must have at least one phase"},
      {http(), R"([{"at_ms": 5, "mode": "up"}])", "b[0].at_ms: the first phase must start at 0"},
      {http(), R"([{"at_ms": 0, "mode": "up"}, {"at_ms": 0, "mode": "down"}])",
       "b[1].at_ms: 0 must be after the previous phase (0)"},
      {http(), R"([{"at_ms": 0, "mode": "sideways"}])", "b[0].mode: 'sideways' is not one of"},
      {http(), R"([{"at_ms": 0}])", "b[0].mode: missing"},
      {http(), R"([{"mode": "up"}])", "b[0].at_ms: missing"},
      {http(), R"([{"at_ms": -1, "mode": "up"}])", "b[0].at_ms: must be at least 0, got -1"},
      {http(), R"([{"at_ms": 0, "mode": "up", "period_ms": 5}])", "b[0].period_ms: unknown key"},
      {http(), R"([{"at_ms": 0, "mode": "down", "status": 700}])", "b[0].status: must be at most 599, got 700"},
      {http(), R"([{"at_ms": 0, "mode": "timeout", "latency": {"kind": "constant", "ms": 1}}])",
       "b[0].latency: unknown key"},
      {http(), R"([{"at_ms": 0, "mode": "flapping"}])", "b[0].period_ms: missing"},
      {http(), R"([{"at_ms": 0, "mode": "slow"}])", "b[0].latency: missing (a slow target needs"},
      {http(), R"([{"at_ms": 0, "mode": "up", "truth": "healthy"}])", "b[0].truth: only applies to slow phases"},
      {http(), R"([{"at_ms": 0, "mode": "slow", "truth": "meh", "latency": {"kind": "constant", "ms": 1}}])",
       "b[0].truth: 'meh' is not healthy or unhealthy"},
      {http(), R"([{"at_ms": 0, "mode": "up", "latency": {"kind": "uniform", "min_ms": 1}}])",
       "b[0].latency.max_ms: missing"},
      {tcp, R"([{"at_ms": 0, "mode": "down"}])", "b[0].mode: 'down' answers with an HTTP status"},
      {tcp, R"([{"at_ms": 0, "mode": "up", "status": 200}])", "b[0].status: only applies to http and https targets"},
      {http(), R"([{"at_ms": 0, "mode": "up", "body": 5}])", "b[0].body: must be a string, got a number"},
  };
  for (const auto& c : cases) {
    auto m = TargetModel::from_json(c.s, json::parse(c.behaviour), "b");
    ASSERT_FALSE(m) << c.behaviour;
    EXPECT_NE(m.error().find(c.want), std::string::npos) << c.behaviour << " -> " << m.error();
  }
}

}  // namespace
}  // namespace heck::sim
