// TimerTable: the driver rules of core/timer.h (replace, cancel, no stale
// firing, ties in key order), a differential test against a naive map, and
// the cost model of the header pinned by its work counters.
#include "core/timer_table.h"

#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.h"

namespace heck {
namespace {

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }
TimerKey check(std::uint64_t id) { return TimerKey{TimerKind::check, id}; }

std::vector<TimerKey> drain(TimerTable& t, Instant now) {
  std::vector<TimerKey> out;
  while (auto k = t.pop_due(now)) out.push_back(*k);
  return out;
}

TEST(TimerTable, EmptyHasNoDeadline) {
  TimerTable t;
  EXPECT_FALSE(t.next_deadline());
  EXPECT_FALSE(t.pop_due(Instant::max()));
  EXPECT_TRUE(t.empty());
}

TEST(TimerTable, ArmAgainReplacesTheDeadline) {
  TimerTable t;
  t.arm(check(1), at_ms(100));
  t.arm(check(1), at_ms(300));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.next_deadline(), at_ms(300));
  EXPECT_EQ(t.deadline(check(1)), at_ms(300));
  EXPECT_TRUE(drain(t, at_ms(200)).empty()) << "the replaced deadline must not fire";
  EXPECT_EQ(drain(t, at_ms(300)), std::vector<TimerKey>{check(1)});
  EXPECT_TRUE(drain(t, at_ms(1000)).empty()) << "a key fires once per arming";
  EXPECT_EQ(t.counters().replaced, 1u);
}

TEST(TimerTable, ArmEarlierReplacesToo) {
  TimerTable t;
  t.arm(check(1), at_ms(300));
  t.arm(check(1), at_ms(100));
  EXPECT_EQ(drain(t, at_ms(100)), std::vector<TimerKey>{check(1)});
  EXPECT_TRUE(drain(t, at_ms(300)).empty());
}

TEST(TimerTable, CancelDisarmsAndUnknownKeysAreFine) {
  TimerTable t;
  t.arm(check(1), at_ms(100));
  t.arm(TimerKey{TimerKind::swim_probe, 0}, at_ms(200));
  EXPECT_TRUE(t.cancel(check(1)));
  EXPECT_FALSE(t.cancel(check(1)));
  EXPECT_FALSE(t.cancel(TimerKey{TimerKind::swim_gossip, 7}));
  EXPECT_EQ(t.next_deadline(), at_ms(200)) << "the cancelled top no longer counts";
  EXPECT_EQ(drain(t, at_ms(1000)), std::vector<TimerKey>{(TimerKey{TimerKind::swim_probe, 0})});
  EXPECT_TRUE(t.empty());
}

TEST(TimerTable, CancelThenArmAgainFiresOnceAtTheNewDeadline) {
  TimerTable t;
  t.arm(check(1), at_ms(100));
  t.cancel(check(1));
  t.arm(check(1), at_ms(100));
  EXPECT_EQ(drain(t, at_ms(100)), std::vector<TimerKey>{check(1)});
}

TEST(TimerTable, DueKeysComeOutByDeadlineThenKey) {
  TimerTable t;
  const TimerKey gossip{TimerKind::swim_gossip, 0};
  const TimerKey probe{TimerKind::swim_probe, 0};
  // Armed in an order unrelated to the firing order.
  t.arm(gossip, at_ms(50));
  t.arm(check(9), at_ms(50));
  t.arm(probe, at_ms(20));
  t.arm(check(2), at_ms(50));
  t.arm(TimerKey{TimerKind::replica_flush, 0}, at_ms(10));
  EXPECT_EQ(drain(t, at_ms(50)), (std::vector<TimerKey>{TimerKey{TimerKind::replica_flush, 0}, probe, check(2),
                                                        check(9), gossip}));
}

TEST(TimerTable, OnlyDueKeysArePopped) {
  TimerTable t;
  t.arm(check(1), at_ms(100));
  t.arm(check(2), at_ms(200));
  EXPECT_FALSE(t.pop_due(at_ms(99)));
  EXPECT_EQ(t.pop_due(at_ms(150)), check(1));
  EXPECT_FALSE(t.pop_due(at_ms(150)));
  EXPECT_EQ(t.next_deadline(), at_ms(200));
  EXPECT_TRUE(t.armed(check(2)));
  EXPECT_FALSE(t.armed(check(1)));
}

TEST(TimerTable, ATimerArmedInThePastIsDueAtOnce) {
  TimerTable t;
  t.arm(check(1), at_ms(100));
  EXPECT_EQ(t.pop_due(at_ms(100)), check(1));
  t.arm(check(3), at_ms(50));  // a step at 100 ms asks for 50 ms
  EXPECT_EQ(t.pop_due(at_ms(100)), check(3));
}

TEST(TimerTable, CountsByKindAndClear) {
  TimerTable t;
  for (std::uint64_t i = 0; i < 5; ++i) t.arm(check(i), at_ms(10 + static_cast<std::int64_t>(i)));
  t.arm(check(2), at_ms(99));  // replaced: still one
  t.arm(TimerKey{TimerKind::swim_suspicion, 4}, at_ms(1));
  EXPECT_EQ(t.count(TimerKind::check), 5u);
  EXPECT_EQ(t.count(TimerKind::swim_suspicion), 1u);
  EXPECT_EQ(t.count(TimerKind::swim_probe), 0u);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.next_deadline());
  EXPECT_FALSE(t.pop_due(Instant::max()));
}

TEST(TimerTable, SparseAndLargeIdsWork) {
  TimerTable t;
  const TimerKey big{TimerKind::check, TimerTable::kDenseIds + 5};
  const TimerKey probe{TimerKind::swim_ack_timeout, 123456789};
  t.arm(big, at_ms(2));
  t.arm(probe, at_ms(1));
  EXPECT_EQ(drain(t, at_ms(2)), (std::vector<TimerKey>{probe, big}));
}

TEST(TimerTable, ApplyEffectsKeepsOrderAndHandsOverTheRest) {
  TimerTable t;
  Effects effects;
  effects.emplace_back(SetTimer{check(1), at_ms(10)});
  effects.emplace_back(Send{"n2:7946", Channel::datagram, {1, 2, 3}});
  effects.emplace_back(SetTimer{check(1), at_ms(20)});
  effects.emplace_back(CancelTimer{check(2)});
  effects.emplace_back(SetTimer{check(2), at_ms(5)});
  effects.emplace_back(CancelTimer{check(2)});
  std::vector<std::size_t> others;
  apply_effects(t, effects, [&](Effect& e) { others.push_back(e.index()); });
  EXPECT_EQ(others, std::vector<std::size_t>{Effect(Send{}).index()});
  EXPECT_EQ(drain(t, at_ms(100)), std::vector<TimerKey>{check(1)});
  EXPECT_EQ(t.counters().fired, 1u);
}

// The table against a naive model (a map scanned in full): same due keys in
// the same order, through random arms, re-arms, cancels and pops.
TEST(TimerTable, MatchesANaiveMapThroughRandomOperations) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    TimerTable t;
    std::map<TimerKey, Instant> model;
    std::int64_t now = 0;
    for (int op = 0; op < 5000; ++op) {
      const TimerKey key{rng.chance(0.7) ? TimerKind::check : TimerKind::swim_suspicion, rng.below(50)};
      const auto r = rng.below(10);
      if (r < 5) {
        const Instant at = at_ms(now + rng.between(-5, 100));
        t.arm(key, at);
        model[key] = at;
      } else if (r < 7) {
        EXPECT_EQ(t.cancel(key), model.erase(key) == 1);
      } else {
        now += rng.between(0, 30);
        for (;;) {
          std::optional<std::pair<Instant, TimerKey>> best;
          for (const auto& [k, at] : model) {
            if (at <= at_ms(now) && (!best || std::tie(at, k) < std::tie(best->first, best->second))) best = {at, k};
          }
          auto got = t.pop_due(at_ms(now));
          ASSERT_EQ(got.has_value(), best.has_value()) << "seed " << seed << " op " << op;
          if (!got) break;
          ASSERT_EQ(*got, best->second) << "seed " << seed << " op " << op;
          model.erase(best->second);
        }
      }
      ASSERT_EQ(t.size(), model.size());
      std::optional<Instant> next;
      for (const auto& [k, at] : model) next = next ? std::min(*next, at) : at;
      ASSERT_EQ(t.next_deadline(), next) << "seed " << seed << " op " << op;
    }
  }
}

// The cost model: 10^4 check timers, each re-armed 50 times (the scheduler
// re-arms after every check) and one in ten cancelled, then all fired. The
// heap stays within 2n + slack, every pop is paid by one push, and the
// compactions are rare.
TEST(TimerTable, WorkStaysWithinTheCostModel) {
  constexpr std::uint64_t kKeys = 10'000;
  constexpr int kRounds = 50;
  TimerTable t;
  Rng rng(7);
  std::size_t max_heap_size = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (std::uint64_t id = 0; id < kKeys; ++id) {
      t.arm(check(id), at_ms(1000 + rng.between(0, 100'000)));
      if (rng.chance(0.1)) t.cancel(check(id));
      max_heap_size = std::max(max_heap_size, t.heap_size());
    }
  }
  const std::size_t armed = t.size();
  EXPECT_GT(armed, kKeys * 8 / 10);
  EXPECT_LE(max_heap_size, 2 * kKeys + TimerTable::kCompactSlack + 1);
  std::size_t fired = 0;
  while (auto k = t.pop_due(Instant::max())) {
    (void)k;
    ++fired;
  }
  EXPECT_EQ(fired, armed);
  const TimerTableCounters& c = t.counters();
  EXPECT_EQ(c.arms, kKeys * kRounds);
  EXPECT_EQ(c.heap_pushes, c.arms) << "one push per arm";
  EXPECT_EQ(c.heap_pops + (c.stale_dropped - (c.heap_pops - c.fired)), c.heap_pushes)
      << "every pushed entry leaves once: fired, or dropped stale by a pop or a compaction";
  // A compaction drops more than n stale entries (n = armed keys, about 0.9
  // kKeys here, above kKeys / 2 once the first round is armed).
  EXPECT_LE(c.compactions, c.stale_dropped / (kKeys / 2) + 1) << "a compaction per n stale entries at most";
  EXPECT_GT(c.compactions, 0u) << "the stale entries were compacted away, not kept";
  EXPECT_EQ(t.heap_size(), 0u);
}

}  // namespace
}  // namespace heck
