// The live-dot index against a plain ordered map, with dots arriving in any
// order (appends to a run's last leaf, inserts into earlier leaves, leaves
// split when full and emptied by compaction), at the real leaf size and at
// leaves of 2 and 4 slots, where every path is taken many times.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/replicated/dot_store.h"

namespace heck {
namespace {

struct Op {
  bool erase = false;
  ReplicaId replica = 0;
  std::uint64_t counter = 0;
  int key = 0;
};

// Replicas 1..kReplicas: runs made, emptied and made again in any order.
constexpr ReplicaId kReplicas = 20;

template <typename Index>
void check_same(const Index& index, const std::map<Dot, const std::string*>& model,
                std::uint64_t max_counter) {
  RC_ASSERT(index.size() == model.size());
  for (ReplicaId r = 1; r <= kReplicas; ++r) {
    for (std::uint64_t c = 1; c <= max_counter; ++c) {
      auto it = model.find(Dot{r, c});
      RC_ASSERT(index.find(Dot{r, c}) == (it == model.end() ? nullptr : it->second));
    }
    for (std::uint64_t top : {std::uint64_t{0}, max_counter / 2, max_counter}) {
      std::vector<const std::string*> got, want;
      index.for_each_up_to(r, top, [&](const std::string* k) { got.push_back(k); });
      for (const auto& [d, k] : model) {
        if (d.replica == r && d.counter <= top) want.push_back(k);
      }
      RC_ASSERT(got == want);
    }
  }
}

template <typename Index>
void matches_an_ordered_map() {
  const std::vector<std::string> keys{"a", "b", "c", "d"};
  // Mostly one replica's burst in shuffled order, with erases between, and
  // other replicas' dots (their runs come, go when emptied, and come back).
  const std::uint64_t max_counter = *rc::gen::inRange<std::uint64_t>(1, 400);
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::build<Op>(
      rc::gen::set(&Op::erase, rc::gen::weightedOneOf<bool>({{4, rc::gen::just(false)}, {1, rc::gen::just(true)}})),
      rc::gen::set(&Op::replica, rc::gen::weightedOneOf<ReplicaId>({{6, rc::gen::just<ReplicaId>(1)},
                                                                      {3, rc::gen::inRange<ReplicaId>(2, kReplicas + 1)}})),
      rc::gen::set(&Op::counter, rc::gen::inRange<std::uint64_t>(1, max_counter + 1)),
      rc::gen::set(&Op::key, rc::gen::inRange(0, 4))));
  Index index;
  std::map<Dot, const std::string*> model;
  for (const Op& op : ops) {
    const Dot d{op.replica, op.counter};
    if (op.erase) {
      index.erase(d);
      model.erase(d);
    } else {
      index.insert(d, &keys[static_cast<std::size_t>(op.key)]);
      model[d] = &keys[static_cast<std::size_t>(op.key)];
    }
  }
  check_same(index, model, max_counter);
}

RC_GTEST_PROP(LiveDotIndex, MatchesAnOrderedMapWhateverTheArrivalOrder, ()) {
  matches_an_ordered_map<LiveDotIndex<std::string>>();
}
RC_GTEST_PROP(LiveDotIndex, MatchesAnOrderedMapWithLeavesOfTwoSlots, ()) {
  matches_an_ordered_map<LiveDotIndex<std::string, 2>>();
}
RC_GTEST_PROP(LiveDotIndex, MatchesAnOrderedMapWithLeavesOfFourSlots, ()) {
  matches_an_ordered_map<LiveDotIndex<std::string, 4>>();
}

// A replica's run goes when its last dot is erased and its slot is reused:
// runs emptied and made again, in and out of replica order, never share one.
TEST(LiveDotIndex, EmptiedRunsAreMadeAgainWithoutSharingASlot) {
  const std::vector<std::string> keys{"a", "b", "c"};
  LiveDotIndex<std::string> index;
  std::map<Dot, const std::string*> model;
  auto insert = [&](ReplicaId r, std::uint64_t c) {
    const std::string* k = &keys[(r + c) % keys.size()];
    index.insert(Dot{r, c}, k);
    model[Dot{r, c}] = k;
  };
  for (ReplicaId r = 10; r >= 1; --r) {
    for (std::uint64_t c = 1; c <= 3; ++c) insert(r, c);
  }
  for (ReplicaId r : {2, 5, 9, 7}) {  // four runs emptied
    for (std::uint64_t c = 1; c <= 3; ++c) {
      index.erase(Dot{r, c});
      model.erase(Dot{r, c});
    }
  }
  for (ReplicaId r : {12, 5, 11, 3, 2}) insert(r, 4);  // new runs and old ones, reusing the slots
  ASSERT_EQ(index.size(), model.size());
  for (ReplicaId r = 1; r <= 12; ++r) {
    std::vector<const std::string*> got, want;
    index.for_each_up_to(r, 10, [&](const std::string* k) { got.push_back(k); });
    for (const auto& [d, k] : model) {
      if (d.replica == r) want.push_back(k);
    }
    EXPECT_EQ(got, want) << "replica " << r;
    for (std::uint64_t c = 1; c <= 4; ++c) {
      auto it = model.find(Dot{r, c});
      EXPECT_EQ(index.find(Dot{r, c}), it == model.end() ? nullptr : it->second) << r << ":" << c;
    }
  }
}

template <typename Index>
void shuffled_burst_is_found_whole_and_in_order() {
  // 5,000 dots of one replica, each under its own key, inserted in an order
  // far from sorted (a stride coprime with the count), then every other one
  // erased.
  constexpr std::uint64_t n = 5000;
  std::vector<std::string> keys(n + 1);
  for (std::uint64_t c = 1; c <= n; ++c) keys[c] = std::to_string(c);
  Index index;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t c = (i * 2377) % n + 1;
    index.insert(Dot{7, c}, &keys[c]);
  }
  EXPECT_EQ(index.size(), n);
  for (std::uint64_t c = 2; c <= n; c += 2) index.erase(Dot{7, c});
  EXPECT_EQ(index.size(), n / 2);
  std::vector<const std::string*> seen, odd;
  index.for_each_up_to(7, n, [&](const std::string* k) { seen.push_back(k); });
  for (std::uint64_t c = 1; c <= n; c += 2) odd.push_back(&keys[c]);
  EXPECT_EQ(seen, odd);  // every live dot once, in counter order
  for (std::uint64_t c = 1; c <= n; ++c) EXPECT_EQ(index.find(Dot{7, c}), c % 2 == 1 ? &keys[c] : nullptr) << c;
}

// Compaction joins neighbouring leaves that fit in one: one live dot left
// in each of many leaves (a long-lived daemon's pattern: some targets' dots
// stay, the rest churn) does not keep a leaf apiece.
TEST(LiveDotIndex, CompactionJoinsLeavesThatFitTogether) {
  constexpr std::uint64_t n = 4 * 64;  // 64 full leaves of 4
  std::vector<std::string> keys(n + 1, "k");
  LiveDotIndex<std::string, 4> index;
  for (std::uint64_t c = 1; c <= n; ++c) index.insert(Dot{3, c}, &keys[c]);
  EXPECT_EQ(index.leaves(), 64u);
  for (std::uint64_t c = 1; c <= n; ++c) {
    if (c % 4 != 0) index.erase(Dot{3, c});  // each leaf keeps its last dot
  }
  EXPECT_EQ(index.size(), 64u);
  EXPECT_LE(index.leaves(), 2 * 64 / 4 + 1);  // at most 2 n / kLeaf + 1
  std::vector<const std::string*> seen;
  index.for_each_up_to(3, n, [&](const std::string* k) { seen.push_back(k); });
  ASSERT_EQ(seen.size(), 64u);
  for (std::uint64_t i = 0; i < 64; ++i) EXPECT_EQ(seen[i], &keys[4 * (i + 1)]);
  for (std::uint64_t c = 1; c <= n; ++c) EXPECT_EQ(index.find(Dot{3, c}), c % 4 == 0 ? &keys[c] : nullptr) << c;
}

TEST(LiveDotIndex, AShuffledBurstOfOneWriterIsFoundWholeAndInOrder) {
  shuffled_burst_is_found_whole_and_in_order<LiveDotIndex<std::string>>();
  shuffled_burst_is_found_whole_and_in_order<LiveDotIndex<std::string, 4>>();
}

}  // namespace
}  // namespace heck
