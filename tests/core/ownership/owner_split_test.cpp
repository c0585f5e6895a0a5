#include "core/ownership/owner_split.h"

#include <gtest/gtest.h>

namespace heck {
namespace {

using Names = std::vector<std::string>;

TEST(OwnerSplit, FirstCheckersAreOwnersThenFallbacks) {
  const OwnerSplit s = split_owners({"a", "b", "c", "d", "e"}, 2, 2);
  EXPECT_EQ(s.owners, (Names{"a", "b"}));
  EXPECT_EQ(s.fallbacks, (Names{"c", "d"}));
}

TEST(OwnerSplit, AtLeastOneChecker) {
  EXPECT_EQ(owner_count(0), 1u);
  EXPECT_EQ(owner_count(-3), 1u);
  EXPECT_EQ(owner_count(3), 3u);
  const OwnerSplit s = split_owners({"a", "b", "c"}, 0, 5);
  EXPECT_EQ(s.owners, (Names{"a"}));
  EXPECT_EQ(s.fallbacks, (Names{"b", "c"}));
}

TEST(OwnerSplit, FewerMembersThanOwners) {
  const OwnerSplit s = split_owners({"a", "b"}, 3, 2);
  EXPECT_EQ(s.owners, (Names{"a", "b"}));
  EXPECT_TRUE(s.fallbacks.empty());
  EXPECT_TRUE(split_owners({}, 1, 2).owners.empty());
}

TEST(OwnerSplit, NoFallbacksWhenNoneAsked) {
  const OwnerSplit s = split_owners({"a", "b", "c"}, 1, 0);
  EXPECT_EQ(s.owners, (Names{"a"}));
  EXPECT_TRUE(s.fallbacks.empty());
  EXPECT_EQ(ranked_needed(0, 2), 3u);
  EXPECT_EQ(ranked_needed(2, 1), 3u);
}

}  // namespace
}  // namespace heck
