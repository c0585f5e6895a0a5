#include "sim/clock.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck::sim {
namespace {

Instant ns(std::int64_t n) { return Instant::from_ns(n); }

TEST(NodeClock, IdentityByDefault) {
  NodeClock c;
  EXPECT_EQ(c.local(ns(0)), ns(0));
  EXPECT_EQ(c.local(ns(12345)), ns(12345));
  EXPECT_EQ(c.true_at(ns(12345)), ns(12345));
}

TEST(NodeClock, OffsetShiftsLocalTime) {
  NodeClock ahead(Duration::seconds(30), 0);
  EXPECT_EQ(ahead.local(ns(0)), ns(30'000'000'000));
  EXPECT_EQ(ahead.true_at(ns(31'000'000'000)), ns(1'000'000'000));
  // A local instant the node had passed before the world began maps to 0.
  EXPECT_EQ(ahead.true_at(ns(5)), ns(0));

  NodeClock behind(Duration::seconds(-30), 0);
  EXPECT_EQ(behind.local(ns(0)), ns(-30'000'000'000));
  EXPECT_EQ(behind.true_at(ns(0)), ns(30'000'000'000));
}

TEST(NodeClock, DriftScalesElapsedTime) {
  NodeClock fast(Duration::zero(), 500);  // +500 ppm: 0.5 ms per second
  EXPECT_EQ(fast.local(ns(1'000'000'000)), ns(1'000'500'000));
  NodeClock slow(Duration::zero(), -500);
  EXPECT_EQ(slow.local(ns(1'000'000'000)), ns(999'500'000));
  // Floor, not truncation toward zero, for negative drift.
  EXPECT_EQ(slow.local(ns(1'001)), ns(1'000));
  // A 10 s local interval lasts 10 s / 1.0005 of true time on the fast clock.
  EXPECT_EQ(fast.true_duration_ceil(Duration::seconds(10)), Duration::nanoseconds(9'995'002'499));
  EXPECT_EQ(slow.true_duration_ceil(Duration::seconds(10)), Duration::nanoseconds(10'005'002'502));
}

TEST(NodeClock, HugeTimesUseWideMath) {
  NodeClock c(Duration::zero(), 100'000);
  const Instant t = ns(200'000'000'000'000);  // 55 hours: past the 64-bit fast path
  EXPECT_EQ(c.local(t), ns(220'000'000'000'000));
  EXPECT_EQ(c.true_at(c.local(t)), t);
}

TEST(NodeClock, UnreachableLocalTimeIsMax) {
  NodeClock c(Duration::zero(), -100'000);
  EXPECT_EQ(c.true_at(Instant::max()), Instant::max());
}

// The clock inverse: a timer for local instant L fires at the first true
// time whose local time is >= L: never early, and not a nanosecond late.
RC_GTEST_PROP(NodeClock, TrueAtIsTheFirstInstantReachingLocal, ()) {
  const auto offset_ms = *rc::gen::inRange<std::int64_t>(-86'400'000, 86'400'000);
  const auto drift = *rc::gen::inRange<std::int64_t>(-NodeClock::kMaxDriftPpm, NodeClock::kMaxDriftPpm + 1);
  const NodeClock c(Duration::milliseconds(offset_ms), drift);
  const auto l = ns(*rc::gen::inRange<std::int64_t>(-100'000'000'000'000, 100'000'000'000'000));
  const Instant t = c.true_at(l);
  RC_ASSERT(t >= ns(0));
  RC_ASSERT(c.local(t) >= l);
  if (t > ns(0)) RC_ASSERT(c.local(t - Duration::nanoseconds(1)) < l);
}

RC_GTEST_PROP(NodeClock, LocalIsMonotone, ()) {
  const auto drift = *rc::gen::inRange<std::int64_t>(-NodeClock::kMaxDriftPpm, NodeClock::kMaxDriftPpm + 1);
  const NodeClock c(Duration::milliseconds(*rc::gen::inRange<std::int64_t>(-1000, 1000)), drift);
  const auto a = *rc::gen::inRange<std::int64_t>(0, 400'000'000'000'000);
  const auto step = *rc::gen::inRange<std::int64_t>(0, 1'000'000);
  RC_ASSERT(c.local(ns(a)) <= c.local(ns(a + step)));
  RC_ASSERT(c.local(ns(a)) <= c.local(ns(a + 1)));
}

}  // namespace
}  // namespace heck::sim
