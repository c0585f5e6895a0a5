#include "core/membership/suspicion.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/membership/awareness.h"

namespace heck {
namespace {

const Duration kSecond = Duration::seconds(1);

// Lifeguard 4.1: min = mult * max(1, log10 n) * interval, max = 6 * min.
TEST(Suspicion, BoundsFollowTheClusterSize) {
  auto b = suspicion_bounds(4, 6, 5, kSecond, true);
  EXPECT_EQ(b.min, Duration::seconds(4));  // log10 5 < 1
  EXPECT_EQ(b.max, Duration::seconds(24));
  EXPECT_EQ(b.k, 2u);
  b = suspicion_bounds(4, 6, 100, kSecond, true);
  EXPECT_EQ(b.min, Duration::seconds(8));
  EXPECT_EQ(b.max, Duration::seconds(48));
  b = suspicion_bounds(4, 6, 1000, kSecond, true);
  EXPECT_EQ(b.min, Duration::seconds(12));
  b = suspicion_bounds(4, 6, 20, kSecond, true);
  EXPECT_EQ(b.min, Duration::milliseconds(5204));  // 4 * 1.301 s, milli-precision
}

TEST(Suspicion, TooFewMembersToConfirmMeansTheMinimum) {
  auto b = suspicion_bounds(4, 6, 3, kSecond, true);  // n - 2 = 1 < k = 2
  EXPECT_EQ(b.k, 0u);
  EXPECT_EQ(suspicion_timeout(b, 0), Duration::seconds(4));
}

TEST(Suspicion, WithoutLifeguardTheTimeoutIsFixedAtTheMinimum) {
  auto b = suspicion_bounds(4, 6, 50, kSecond, false);
  EXPECT_EQ(b.max, b.min);
  EXPECT_EQ(suspicion_timeout(b, 0), b.min);
  EXPECT_EQ(suspicion_timeout(b, 3), b.min);
}

TEST(Suspicion, TimeoutShrinksLogarithmicallyWithConfirmations) {
  auto b = suspicion_bounds(4, 6, 5, kSecond, true);  // 4 s .. 24 s, k = 2
  EXPECT_EQ(suspicion_timeout(b, 0), Duration::seconds(24));
  // 24 - 20 * ln 2 / ln 3 = 11.381 s
  EXPECT_EQ(suspicion_timeout(b, 1), Duration::milliseconds(11381));
  EXPECT_EQ(suspicion_timeout(b, 2), Duration::seconds(4));
  EXPECT_EQ(suspicion_timeout(b, 10), Duration::seconds(4));  // never below min
}

RC_GTEST_PROP(Suspicion, TimeoutIsMonotoneAndBounded, ()) {
  const auto mult = *rc::gen::inRange<std::size_t>(1, 10);
  const auto maxmult = *rc::gen::inRange<std::size_t>(1, 10);
  const auto n = *rc::gen::inRange<std::size_t>(1, 100000);
  const auto interval = Duration::milliseconds(*rc::gen::inRange<std::int64_t>(1, 5000));
  const auto b = suspicion_bounds(mult, maxmult, n, interval, true);
  Duration prev = Duration::max();
  for (std::size_t c = 0; c < 12; ++c) {
    const Duration t = suspicion_timeout(b, c);
    RC_ASSERT(t >= b.min);
    RC_ASSERT(t <= b.max);
    RC_ASSERT(t <= prev);
    prev = t;
  }
}

// Lifeguard 4.2: the score saturates at [0, max - 1] and scales durations.
TEST(Awareness, SaturatesAndScales) {
  Awareness a(8);
  EXPECT_EQ(a.multiplier(), 1u);
  a.apply(-1);
  EXPECT_EQ(a.score(), 0u);
  a.apply(3);
  EXPECT_EQ(a.score(), 3u);
  EXPECT_EQ(a.scale(Duration::milliseconds(500)), Duration::seconds(2));
  a.apply(100);
  EXPECT_EQ(a.score(), 7u);
  EXPECT_EQ(a.multiplier(), 8u);
  a.apply(-2);
  EXPECT_EQ(a.score(), 5u);
  Awareness off(1);
  off.apply(5);
  EXPECT_EQ(off.multiplier(), 1u);
}

}  // namespace
}  // namespace heck
