#include "sim/latency.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace heck::sim {
namespace {

using nlohmann::json;

struct Stats {
  Duration min = Duration::max(), max = Duration::zero();
  double mean_ms = 0;
};

Stats sample(const LatencyDist& d, int n, std::uint64_t seed = 42) {
  Rng rng(seed);
  Stats s;
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const Duration x = d.sample(rng);
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    sum += x.ms_f();
  }
  s.mean_ms = sum / n;
  return s;
}

TEST(Latency, ConstantIsConstant) {
  const auto s = sample(LatencyDist::constant(Duration::milliseconds(7)), 100);
  EXPECT_EQ(s.min, Duration::milliseconds(7));
  EXPECT_EQ(s.max, Duration::milliseconds(7));
}

TEST(Latency, UniformStaysInBoundsAndCentres) {
  const auto d = LatencyDist::uniform(Duration::milliseconds(1), Duration::milliseconds(21));
  const auto s = sample(d, 100'000);
  EXPECT_GE(s.min, Duration::milliseconds(1));
  EXPECT_LE(s.max, Duration::milliseconds(21));
  EXPECT_LT(s.min, Duration::milliseconds(1) + Duration::microseconds(100));  // reaches both ends
  EXPECT_GT(s.max, Duration::milliseconds(21) - Duration::microseconds(100));
  EXPECT_NEAR(s.mean_ms, 11.0, 0.1);  // sd of the mean ~0.018 ms
  EXPECT_EQ(d.mean(), Duration::milliseconds(11));
}

TEST(Latency, ExponentialHasItsFloorAndMean) {
  const auto d = LatencyDist::exponential(Duration::milliseconds(30), Duration::milliseconds(2));
  const auto s = sample(d, 200'000);
  EXPECT_GE(s.min, Duration::milliseconds(2));
  EXPECT_LT(s.min, Duration::milliseconds(2) + Duration::microseconds(50));
  EXPECT_NEAR(s.mean_ms, 30.0, 0.4);  // sd of the mean ~0.063 ms
  EXPECT_GT(s.max, Duration::milliseconds(200));  // a tail: P(> 200 ms) ~ 8e-4 per draw
}

TEST(Latency, ExponentialTailIsCapped) {
  const auto d = LatencyDist::exponential(LatencyDist::kMaxLatency, Duration::zero());
  const auto s = sample(d, 10'000);
  EXPECT_LE(s.max, LatencyDist::kMaxLatency);
}

TEST(Latency, SameSeedSameSamples) {
  const auto d = LatencyDist::uniform(Duration::zero(), Duration::seconds(1));
  Rng a(9), b(9), c(10);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const Duration x = d.sample(a);
    EXPECT_EQ(x, d.sample(b));
    differs = differs || x != d.sample(c);
  }
  EXPECT_TRUE(differs);
}

TEST(Latency, ParsesEachKind) {
  auto c = LatencyDist::from_json(json::parse(R"({"kind": "constant", "ms": 0.25})"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->min(), Duration::microseconds(250));
  auto u = LatencyDist::from_json(json::parse(R"({"kind": "uniform", "min_ms": 1, "max_ms": 20})"));
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->kind(), LatencyDist::Kind::uniform);
  EXPECT_EQ(u->max(), Duration::milliseconds(20));
  auto e = LatencyDist::from_json(json::parse(R"({"kind": "exponential", "mean_ms": 30})"));
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->min(), Duration::zero());
  EXPECT_EQ(e->mean(), Duration::milliseconds(30));
}

TEST(Latency, ParseErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"kind": "gaussian"})", "lat.kind: 'gaussian' is not one of"},
      {R"({"ms": 3})", "lat.kind: missing"},
      {R"({"kind": "constant"})", "lat.ms: missing"},
      {R"({"kind": "constant", "ms": -1})", "lat.ms: must be in"},
      {R"({"kind": "constant", "ms": "3"})", "lat.ms: must be a number, got a string"},
      {R"({"kind": "constant", "ms": 3, "max_ms": 4})", "lat.max_ms: unknown key"},
      {R"({"kind": "uniform", "min_ms": 5, "max_ms": 4})", "lat.max_ms: 4 is below min_ms (5)"},
      {R"({"kind": "exponential", "mean_ms": 5, "floor_ms": 6})", "lat.floor_ms: 6 is above mean_ms (5)"},
      {R"({"kind": "constant", "ms": 1e12})", "lat.ms: must be in"},
      {R"([1, 2])", "lat: must be an object, got an array"},
  };
  for (const auto& [text, want] : cases) {
    auto r = LatencyDist::from_json(json::parse(text), "lat");
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().find(want), std::string::npos) << text << " -> " << r.error();
  }
}

}  // namespace
}  // namespace heck::sim
