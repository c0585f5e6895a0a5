// DotCloud against std::set<Dot>: random inserts, folds, lookups, counts and
// iteration give the same answers, and equal sets compare equal whatever
// order built them.
#include "core/replicated/dot_cloud.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <vector>

namespace heck {
namespace {

// The reference: what std::set-based code did for fold (CausalContext::compact).
std::uint64_t fold_set(std::set<Dot>& s, ReplicaId r, std::uint64_t have) {
  for (auto it = s.lower_bound(Dot{r, 0}); it != s.end() && it->replica == r && it->counter <= have + 1;) {
    have = std::max(have, it->counter);
    it = s.erase(it);
  }
  return have;
}

std::uint64_t count_set(const std::set<Dot>& s, ReplicaId r, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t n = 0;
  for (const Dot& d : s) n += d.replica == r && d.counter >= lo && d.counter <= hi ? 1 : 0;
  return n;
}

std::uint64_t max_set(const std::set<Dot>& s, ReplicaId r) {
  std::uint64_t m = 0;
  for (const Dot& d : s) m = d.replica == r ? std::max(m, d.counter) : m;
  return m;
}

TEST(DotCloud, MatchesASetUnderRandomOperations) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    DotCloud cloud;
    std::set<Dot> ref;
    std::vector<std::uint64_t> have(4, 0);  // a version vector beside the cloud
    // Dense near the vector, sometimes far (a sparse cloud), across block edges.
    const auto counter = [&](ReplicaId r) -> std::uint64_t {
      switch (rng() % 4) {
        case 0: return have[r] + 1 + rng() % 2000;
        case 1: return have[r] + 1 + rng() % 40;
        case 2: return 511 + rng() % 3;  // around a block edge (may be at or below the vector)
        default: return have[r] + 1 + rng() % 5'000'000;
      }
    };
    for (int step = 0; step < 3000; ++step) {
      const auto r = static_cast<ReplicaId>(rng() % 4);
      const Dot d{r, counter(r)};
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2:
          EXPECT_EQ(cloud.insert(d), ref.insert(d).second) << "insert " << d.replica << ":" << d.counter;
          break;
        case 3: {  // the vector catches up by a few: fold
          const std::uint64_t to = have[r] + rng() % 50;
          have[r] = fold_set(ref, r, to);
          EXPECT_EQ(cloud.fold(r, to), have[r]);
          break;
        }
        case 4: {
          const std::uint64_t lo = rng() % 3000, hi = lo + rng() % 3000;
          EXPECT_EQ(cloud.count(r, lo, hi), count_set(ref, r, lo, hi));
          break;
        }
        default:
          EXPECT_EQ(cloud.max_counter(r), max_set(ref, r));
      }
      EXPECT_EQ(cloud.contains(d), ref.contains(d));
      ASSERT_EQ(cloud.size(), ref.size()) << "seed " << seed << " step " << step;
    }
    EXPECT_EQ(cloud.dots(), std::vector<Dot>(ref.begin(), ref.end())) << "seed " << seed;
    EXPECT_EQ(cloud.count(1, 0, std::numeric_limits<std::uint64_t>::max()), count_set(ref, 1, 0, UINT64_MAX));
    // The same dots inserted in another order make an equal cloud.
    std::vector<Dot> shuffled(ref.begin(), ref.end());
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    DotCloud again;
    for (const Dot& x : shuffled) again.insert(x);
    EXPECT_TRUE(again == cloud) << "seed " << seed;
  }
}

TEST(DotCloud, FoldsARunAcrossBlocksAndForgetsWhatItFolded) {
  DotCloud c;
  for (std::uint64_t k = 3; k <= 2000; ++k) c.insert(Dot{7, k});
  c.insert(Dot{7, 2002});
  c.insert(Dot{9, 5});
  EXPECT_EQ(c.fold(7, 1), 1u) << "2 is missing: nothing folds";
  EXPECT_EQ(c.fold(7, 2), 2000u);
  EXPECT_EQ(c.dots(), (std::vector<Dot>{Dot{7, 2002}, Dot{9, 5}}));
  EXPECT_EQ(c.fold(7, 2001), 2002u);
  EXPECT_EQ(c.fold(9, 10), 10u) << "dots at or below the vector are dropped";
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(c == DotCloud{});
  // The highest counters a replica can have.
  const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(c.insert(Dot{1, top}));
  EXPECT_TRUE(c.insert(Dot{1, top - 1}));
  EXPECT_EQ(c.max_counter(1), top);
  EXPECT_EQ(c.count(1, top - 1, top), 2u);
  EXPECT_EQ(c.fold(1, top - 2), top);
  EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace heck
