#include "core/replicated/seen_bodies.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace heck {
namespace {

SeenBodies::Hash body_hash(int i) {
  const std::vector<std::uint8_t> body{0x82, static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
  return SeenBodies::hash(body);
}

TEST(SeenBodies, RemembersBodiesByTheirBytes) {
  SeenBodies seen(8);
  const std::vector<std::uint8_t> a{1, 2, 3}, a_again{1, 2, 3}, b{1, 2, 4}, longer{1, 2, 3, 0};
  EXPECT_FALSE(seen.contains(SeenBodies::hash(a)));
  seen.insert(SeenBodies::hash(a));
  EXPECT_TRUE(seen.contains(SeenBodies::hash(a_again)));
  EXPECT_FALSE(seen.contains(SeenBodies::hash(b)));
  EXPECT_FALSE(seen.contains(SeenBodies::hash(longer)));
  seen.insert(SeenBodies::hash(a_again));  // already held: not a second entry
  EXPECT_EQ(seen.size(), 1u);
}

TEST(SeenBodies, ForgetsTheOldestOnceFull) {
  SeenBodies seen(100);
  for (int i = 0; i < 250; ++i) seen.insert(body_hash(i));
  EXPECT_EQ(seen.size(), 100u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(seen.contains(body_hash(i)), i >= 150) << i;
  // Re-inserting a remembered body does not refresh it: it goes in turn.
  seen.insert(body_hash(150));
  seen.insert(body_hash(250));
  EXPECT_FALSE(seen.contains(body_hash(150)));
  EXPECT_TRUE(seen.contains(body_hash(151)));
  EXPECT_TRUE(seen.contains(body_hash(250)));
}

TEST(SeenBodies, CapacityZeroRemembersNothing) {
  SeenBodies seen(0);
  seen.insert(body_hash(1));
  EXPECT_FALSE(seen.contains(body_hash(1)));
  EXPECT_EQ(seen.size(), 0u);
}

}  // namespace
}  // namespace heck
