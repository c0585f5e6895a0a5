// Ownership indexes that share a rank cache answer exactly what a full
// ranking answers, whatever each one's live set, and agents that agree on
// who is live rank each target once between them.
#include "core/ownership/rank_cache.h"

#include <map>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/ownership/ownership_index.h"
#include "core/ownership/rendezvous.h"

namespace heck {
namespace {

std::vector<std::string> reference_ranked(const std::string& id, const std::map<std::string, IndexedMember>& live,
                                          std::size_t limit) {
  std::vector<RankedMember> ranked;
  for (const auto& [name, m] : live) ranked.push_back(RankedMember{name, 1.0});
  return ranked_names(id, ranked, limit);
}

std::vector<IndexedMember> members_of(const std::map<std::string, IndexedMember>& live) {
  std::vector<IndexedMember> v;
  for (const auto& [name, m] : live) v.push_back(m);
  return v;
}

// Several indexes, one cache, each index's live set changed on its own (one
// member at a time or whole), targets put in any order: every index ranks
// every target as a full ranking over its own live set does. The cache is
// small, so sets are dropped and made again.
RC_GTEST_PROP(RankCache, IndexesSharingACacheRankAsAFullRankingOverTheirOwnLiveSets, ()) {
  // Enough members that a ranking is shorter than the live set, and sets
  // that mostly hold the same members: a ranking kept for one set would
  // often pass for another's.
  const int pool = *rc::gen::inRange(6, 20);
  const int nindexes = *rc::gen::inRange(2, 5);
  auto cache = std::make_shared<RankCache>(static_cast<std::size_t>(*rc::gen::inRange(1, 4)));
  std::vector<std::unique_ptr<OwnershipIndex>> indexes;
  std::vector<std::map<std::string, IndexedMember>> live(static_cast<std::size_t>(nindexes));
  std::vector<std::map<std::string, std::size_t>> targets(static_cast<std::size_t>(nindexes));
  for (int i = 0; i < nindexes; ++i) indexes.push_back(std::make_unique<OwnershipIndex>(nullptr, cache));
  const int steps = *rc::gen::inRange(20, 100);
  for (int step = 0; step < steps; ++step) {
    const auto i = static_cast<std::size_t>(*rc::gen::inRange(0, nindexes));
    OwnershipIndex& index = *indexes[i];
    const int what = *rc::gen::inRange(-1, 5);
    if (what <= 0) {  // a target put (or its checkers changed); few ids, so indexes rank the same ones
      const std::string id = fmt::format("t{}", *rc::gen::inRange(0, 6));
      const auto r = static_cast<std::size_t>(*rc::gen::inRange(1, 4));
      targets[i][id] = r;
      index.put_target(id, r);
    } else if (what == 1) {  // a whole new live set
      live[i].clear();
      for (int m = 0; m < pool; ++m) {
        if (*rc::gen::inRange(0, 6) > 0) live[i][fmt::format("m{}", m)] = IndexedMember{fmt::format("m{}", m), false};
      }
      index.set_members(members_of(live[i]));
    } else {  // one member goes, comes or changes its flag
      const std::string name = fmt::format("m{}", *rc::gen::inRange(0, pool));
      if (what == 2) {
        live[i].erase(name);
        index.update_member(IndexedMember{name, false}, false);
      } else {
        live[i][name] = IndexedMember{name, what == 4};
        index.update_member(live[i][name], true);
      }
    }
    for (std::size_t j = 0; j < indexes.size(); ++j) {
      for (const auto& [id, r] : targets[j]) {
        RC_ASSERT(indexes[j]->ranked(id, r + 2) == reference_ranked(id, live[j], r + 2));
      }
    }
  }
}

TEST(RankCache, AgentsThatAgreeOnWhoIsLiveRankEachTargetOnceBetweenThem) {
  auto cache = std::make_shared<RankCache>();
  std::vector<IndexedMember> live;
  for (int m = 0; m < 100; ++m) live.push_back(IndexedMember{fmt::format("n{}", m), false});
  std::vector<std::unique_ptr<OwnershipIndex>> agents;
  for (int a = 0; a < 10; ++a) {
    agents.push_back(std::make_unique<OwnershipIndex>(nullptr, cache));
    agents.back()->set_members(live);
  }
  for (auto& index : agents) {
    for (int t = 0; t < 1000; ++t) index->put_target(fmt::format("t{}", t), 1);
  }
  EXPECT_EQ(agents[0]->full_ranks(), 1000u);
  EXPECT_EQ(agents[0]->shared_ranks(), 0u);
  for (std::size_t a = 1; a < agents.size(); ++a) {
    EXPECT_EQ(agents[a]->full_ranks(), 0u) << "agent " << a;
    EXPECT_EQ(agents[a]->hashes(), 0u) << "agent " << a;
    EXPECT_EQ(agents[a]->shared_ranks(), 1000u) << "agent " << a;
  }
  // A member dies everywhere: the targets that listed it are ranked again,
  // by the first agent to hear of it; the others read its rankings.
  std::vector<std::uint64_t> made;
  for (auto& index : agents) {
    made.push_back(index->full_ranks());
    index->update_member(IndexedMember{"n17", false}, false);
  }
  const std::uint64_t first = agents[0]->full_ranks() - made[0];
  EXPECT_GT(first, 10u);  // n17 is among the 4 kept for about 4% of the targets
  EXPECT_LT(first, 100u);
  for (std::size_t a = 1; a < agents.size(); ++a) {
    EXPECT_EQ(agents[a]->full_ranks(), made[a]) << "agent " << a;
    EXPECT_EQ(agents[a]->shared_ranks(), 1000u + first) << "agent " << a;
    for (int t = 0; t < 1000; t += 37) {
      const std::string id = fmt::format("t{}", t);
      EXPECT_EQ(agents[a]->ranked(id, 4), agents[0]->ranked(id, 4));
    }
  }
  EXPECT_EQ(cache->sets(), 2u);
}

// Sets of the same size that differ in one member share no ranking.
TEST(RankCache, ASetThatDiffersInOneMemberRanksForItself) {
  auto cache = std::make_shared<RankCache>();
  OwnershipIndex a(nullptr, cache), b(nullptr, cache);
  std::map<std::string, IndexedMember> live_a, live_b;
  for (int m = 0; m < 20; ++m) {
    live_a[fmt::format("m{}", m)] = IndexedMember{fmt::format("m{}", m), false};
    if (m != 7) live_b[fmt::format("m{}", m)] = IndexedMember{fmt::format("m{}", m), false};
  }
  live_b["m20"] = IndexedMember{"m20", false};
  a.set_members(members_of(live_a));
  b.set_members(members_of(live_b));
  for (int t = 0; t < 200; ++t) {
    a.put_target(fmt::format("t{}", t), 2);
    b.put_target(fmt::format("t{}", t), 2);
  }
  EXPECT_EQ(b.full_ranks(), 200u);
  EXPECT_EQ(b.shared_ranks(), 0u);
  for (int t = 0; t < 200; ++t) {
    const std::string id = fmt::format("t{}", t);
    EXPECT_EQ(b.ranked(id, 5), reference_ranked(id, live_b, 5));
  }
  // The same set reached another way (one member at a time, one leaving
  // on the way) is the same set.
  OwnershipIndex c(nullptr, cache);
  for (const auto& [name, m] : live_a) c.update_member(m, true);
  c.update_member(IndexedMember{"m7", false}, false);
  c.update_member(IndexedMember{"m20", false}, true);
  for (int t = 0; t < 200; ++t) c.put_target(fmt::format("t{}", t), 2);
  EXPECT_EQ(c.full_ranks(), 0u);
  EXPECT_EQ(c.shared_ranks(), 200u);
}

TEST(RankCache, KeepsTheMostRecentlyUsedSets) {
  RankCache cache(2);
  RankCache::LiveSet s1, s2, s3;
  s1.add(1, 2);
  s2.add(3, 4);
  s3.add(5, 6);
  const Name t = detached_name("t");
  const std::uint32_t a = cache.member_id(detached_name("a"));
  const std::uint32_t b = cache.member_id(detached_name("b"));
  EXPECT_EQ(cache.member_id(detached_name("a")), a);
  EXPECT_NE(a, b);
  const RankCache::Kept ka[] = {{a, 9}}, kb[] = {{b, 9}}, kab[] = {{a, 9}, {b, 8}};
  cache.insert(s1, t, ka);
  cache.insert(s2, t, kb);
  ASSERT_EQ(cache.find(s1, t, 1).size(), 1u);  // s1 used last: s2 goes next
  EXPECT_TRUE(cache.find(s1, t, 2).empty());   // another depth is another ranking
  cache.insert(s3, t, kab);
  EXPECT_EQ(cache.sets(), 2u);
  EXPECT_EQ(cache.dropped_sets(), 1u);
  EXPECT_TRUE(cache.find(s2, t, 1).empty());
  ASSERT_EQ(cache.find(s1, t, 1).size(), 1u);
  EXPECT_EQ(cache.find(s1, t, 1).front().member, a);
  ASSERT_EQ(cache.find(s3, t, 2).size(), 2u);
  EXPECT_EQ(cache.find(s3, t, 2)[1].member, b);
  // A ranking of another depth for the same target and set replaces it.
  cache.insert(s3, t, kb);
  EXPECT_TRUE(cache.find(s3, t, 2).empty());
  ASSERT_EQ(cache.find(s3, t, 1).size(), 1u);
  EXPECT_EQ(cache.find(s3, t, 1).front().member, b);
}

}  // namespace
}  // namespace heck
