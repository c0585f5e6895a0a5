// TargetHistory (runtime/target_history.h): uptime over a window from the
// transitions, its limits when history was dropped, and its bounds.
#include <gtest/gtest.h>

#include "runtime/target_history.h"

namespace heck::runtime {
namespace {

Instant at_s(int s) { return Instant::from_ns(0) + Duration::seconds(s); }

TargetHistory::Transition tr(int s, HealthStatus from, HealthStatus to) {
  return TargetHistory::Transition{at_s(s), from, to, "n1", ""};
}

constexpr auto U = HealthStatus::unknown, H = HealthStatus::healthy, D = HealthStatus::unhealthy;

TEST(TargetHistory, UptimeIsHealthyTimeOverKnownTimeInTheWindow) {
  TargetHistory h;
  h.transition("web", tr(100, U, H));  // first seen at 100, healthy
  h.transition("web", tr(400, H, D));  // down 400-500
  h.transition("web", tr(500, D, H));
  // Window of the last 1000 s at 1000: known 100..1000 = 900 s, 800 healthy.
  auto u = h.uptime("web", at_s(1000), Duration::seconds(1000));
  ASSERT_TRUE(u.fraction);
  EXPECT_NEAR(*u.fraction, 800.0 / 900.0, 1e-9);
  EXPECT_EQ(u.known, Duration::seconds(900));
  EXPECT_EQ(u.observed, Duration::seconds(900));
  // A window that starts inside the outage: 450..1000, 50 s down of 550.
  u = h.uptime("web", at_s(1000), Duration::seconds(550));
  EXPECT_NEAR(*u.fraction, 500.0 / 550.0, 1e-9);
  // A window after the last change: all healthy.
  u = h.uptime("web", at_s(1000), Duration::seconds(100));
  EXPECT_DOUBLE_EQ(*u.fraction, 1.0);
  // Unknown target: nothing known.
  u = h.uptime("db", at_s(1000), Duration::seconds(100));
  EXPECT_FALSE(u.fraction);
  EXPECT_EQ(u.observed, Duration::zero());
}

TEST(TargetHistory, UnknownTimeIsNotCountedAndDroppedHistoryIsNotGuessed) {
  TargetHistory h;
  h.transition("t", tr(0, U, D));
  h.transition("t", tr(10, D, U));  // unknown 10..20
  h.transition("t", tr(20, U, H));
  auto u = h.uptime("t", at_s(30), Duration::seconds(30));
  EXPECT_DOUBLE_EQ(*u.fraction, 0.5);  // 10 s down, 10 s up
  EXPECT_EQ(u.known, Duration::seconds(20));
  EXPECT_EQ(u.observed, Duration::seconds(30));
  // More transitions than kept: the oldest go, and the time before the
  // oldest kept one is not counted (its status is not known here).
  TargetHistory f;
  const int n = static_cast<int>(TargetHistory::kMaxTransitions) + 2;
  for (int i = 0; i < n; ++i) f.transition("flap", tr(i * 10, i % 2 ? D : H, i % 2 ? H : D));
  ASSERT_EQ(f.find("flap")->transitions.size(), TargetHistory::kMaxTransitions);
  EXPECT_TRUE(f.find("flap")->truncated);
  u = f.uptime("flap", at_s(n * 10), Duration::seconds(n * 10));
  EXPECT_EQ(u.observed, Duration::seconds(static_cast<int>(TargetHistory::kMaxTransitions) * 10));
}

TEST(TargetHistory, SamplesAreBoundedAndForgetDropsEverything) {
  TargetHistory h;
  for (int i = 0; i < 100; ++i) h.sample("web", TargetHistory::Sample{at_s(i), Duration::milliseconds(i), true});
  ASSERT_EQ(h.find("web")->samples.size(), TargetHistory::kMaxSamples);
  EXPECT_EQ(h.find("web")->samples.front().latency, Duration::milliseconds(100 - TargetHistory::kMaxSamples));
  h.forget("web");
  EXPECT_EQ(h.find("web"), nullptr);
  EXPECT_EQ(h.size(), 0u);
}

}  // namespace
}  // namespace heck::runtime
