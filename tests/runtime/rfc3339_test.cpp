#include "runtime/rfc3339.h"

#include <gtest/gtest.h>

#include "runtime/clock.h"

namespace heck::runtime {
namespace {

TEST(Rfc3339, ParsesWithAndWithoutMilliseconds) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.250Z"), 1250);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-21T12:00:00Z"), 1795262400000);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-21T12:00:00.123Z"), 1795262400123);
}

TEST(Rfc3339, RoundTripsWhatTheApiWrites) {
  const Instant t = Instant::from_ns(1'795'262'400'123'000'000);
  EXPECT_EQ(parse_rfc3339_ms(format_rfc3339(t, /*with_ms=*/true)), t.ms());
  EXPECT_EQ(parse_rfc3339_ms(format_rfc3339(t)), t.ms() / 1000 * 1000);
}

TEST(Rfc3339, RefusesOtherShapes) {
  EXPECT_FALSE(parse_rfc3339_ms(""));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-21 12:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-21T12:00:00+01:00"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-21T12:00:00"));
  EXPECT_FALSE(parse_rfc3339_ms("yesterday"));
}

}  // namespace
}  // namespace heck::runtime
