#include "core/ownership/rendezvous.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck {
namespace {

std::vector<RankedMember> named(int n, const char* prefix = "n") {
  std::vector<RankedMember> v;
  for (int i = 0; i < n; ++i) v.push_back({fmt::format("{}{}", prefix, i), 1.0});
  return v;
}

std::string owner(std::string_view target, const std::vector<RankedMember>& members) {
  return ranked_names(target, members, 1).at(0);
}

// Pins the hash and the ranking: if this changes, agents of different
// versions would disagree about owners. Never update these values casually.
TEST(Rendezvous, GoldenValuesAreStableAcrossVersions) {
  EXPECT_EQ(rendezvous_hash("n1", "web"), rendezvous_hash("n1", "web"));
  EXPECT_NE(rendezvous_hash("n1", "web"), rendezvous_hash("n2", "web"));
  EXPECT_NE(rendezvous_hash("n1", "web"), rendezvous_hash("web", "n1"));
  const auto members = named(5);
  EXPECT_EQ(fmt::format("{}", fmt::join(ranked_names("web", members), ",")), "n1,n0,n3,n2,n4");
  EXPECT_EQ(fmt::format("{}", fmt::join(ranked_names("db-7", members), ",")), "n0,n3,n2,n1,n4");
}

TEST(Rendezvous, ScoreMatchesTheFormulaWithinRounding) {
  for (std::uint64_t h : {std::uint64_t{1}, std::uint64_t{1} << 40, ~std::uint64_t{0}, std::uint64_t{0x9e3779b97f4a7c15}}) {
    const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
    const double expected = 3.0 / -std::log(u);
    EXPECT_NEAR(rendezvous_score(h, 3.0), expected, std::abs(expected) * 1e-13) << h;
  }
}

TEST(Rendezvous, AddingAMemberMovesAboutOneNthOfTargets) {
  auto members = named(10);
  std::vector<std::string> before;
  for (int t = 0; t < 10000; ++t) before.push_back(owner(fmt::format("target-{}", t), members));
  members.push_back({"n10", 1.0});
  int moved = 0;
  for (int t = 0; t < 10000; ++t) {
    const std::string now = owner(fmt::format("target-{}", t), members);
    if (now != before[static_cast<std::size_t>(t)]) {
      ++moved;
      EXPECT_EQ(now, "n10") << "a target moved between old members";
    }
  }
  EXPECT_GT(moved, 10000 / 11 * 8 / 10);
  EXPECT_LT(moved, 10000 / 11 * 12 / 10);
}

TEST(Rendezvous, RemovingAMemberMovesOnlyItsTargetsToTheirNextRanked) {
  auto members = named(8);
  for (int t = 0; t < 2000; ++t) {
    const std::string target = fmt::format("t{}", t);
    const auto ranking = ranked_names(target, members);
    auto without = members;
    without.erase(std::find_if(without.begin(), without.end(), [](const RankedMember& m) { return m.name == "n3"; }));
    const std::string expected = ranking[0] == "n3" ? ranking[1] : ranking[0];
    EXPECT_EQ(owner(target, without), expected);
  }
}

TEST(Rendezvous, WeightsSetTheShareOfTargets) {
  std::vector<RankedMember> members{{"a", 2.0}, {"b", 1.0}, {"c", 1.0}};
  std::map<std::string, int> share;
  const int n = 20000;
  for (int t = 0; t < n; ++t) ++share[owner(fmt::format("t{}", t), members)];
  EXPECT_NEAR(share["a"] / double(n), 0.5, 0.02);
  EXPECT_NEAR(share["b"] / double(n), 0.25, 0.02);
  EXPECT_NEAR(share["c"] / double(n), 0.25, 0.02);
}

TEST(Rendezvous, EqualWeightsSpreadEvenly) {
  const auto members = named(4);
  std::map<std::string, int> share;
  for (int t = 0; t < 20000; ++t) ++share[owner(fmt::format("t{}", t), members)];
  for (const auto& [name, count] : share) EXPECT_NEAR(count / 20000.0, 0.25, 0.02) << name;
}

RC_GTEST_PROP(Rendezvous, RankingIsAPermutationAndLimitIsAPrefix, (std::string target, std::uint8_t n_raw, std::uint8_t limit_raw)) {
  const int n = 1 + n_raw % 20;
  const auto members = named(n, "m");
  const auto all = rank_members(target, members);
  RC_ASSERT(all.size() == static_cast<std::size_t>(n));
  RC_ASSERT(std::set<std::size_t>(all.begin(), all.end()).size() == all.size());
  const std::size_t limit = 1 + limit_raw % n;
  const auto top = rank_members(target, members, limit);
  RC_ASSERT(std::equal(top.begin(), top.end(), all.begin()));
}

RC_GTEST_PROP(Rendezvous, OrderOfTheMemberListDoesNotMatter, (std::string target, std::vector<double> weights_raw)) {
  std::vector<RankedMember> members;
  for (std::size_t i = 0; i < weights_raw.size() && i < 12; ++i) {
    const double w = std::isfinite(weights_raw[i]) ? 0.5 + std::fmod(std::abs(weights_raw[i]), 4.0) : 1.0;
    members.push_back({fmt::format("m{}", i), w});
  }
  RC_PRE(!members.empty());
  auto shuffled = members;
  std::reverse(shuffled.begin(), shuffled.end());
  RC_ASSERT(ranked_names(target, members) == ranked_names(target, shuffled));
}

// The batched hasher is XXH64 re-derived for one input under many seeds:
// any difference would move owners. Every length across the 8-, 4- and
// 1-byte pieces and the 32-byte switch, bytes above 0x7f included.
RC_GTEST_PROP(Rendezvous, TargetHasherIsTheSeededHash, (std::vector<std::uint8_t> bytes, std::uint64_t seed)) {
  const std::string target(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(bytes.size(), 48)));
  RC_ASSERT(TargetHasher(target)(seed) == rendezvous_hash_seeded(seed, target));
}

TEST(Rendezvous, TargetHasherMatchesAtEveryShortLength) {
  std::string target;
  for (int len = 0; len <= 40; ++len) {
    const TargetHasher hash(target);
    for (std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, rendezvous_member_seed("n7"), ~std::uint64_t{0}}) {
      EXPECT_EQ(hash(seed), rendezvous_hash_seeded(seed, target)) << "length " << len << " seed " << seed;
    }
    target.push_back(static_cast<char>(0x41 + 37 * len));  // wraps past 0x7f
  }
}

}  // namespace
}  // namespace heck
