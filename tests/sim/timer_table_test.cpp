#include "sim/timer_table.h"

#include <vector>

#include <gtest/gtest.h>

#include "sim/event_queue.h"

namespace heck::sim {
namespace {

const TimerKey kA{TimerKind::check, 1};
const TimerKey kB{TimerKind::check, 2};
const TimerKey kSparse{TimerKind::check, TimerTable::kDenseIds + 5};  // beyond the dense range

Instant ms(std::int64_t n) { return Instant::from_ns(0) + Duration::milliseconds(n); }

TEST(TimerTable, FiresTheLiveEntryOnce) {
  TimerTable t;
  t.arm(kA, 10, ms(5));
  EXPECT_TRUE(t.armed(kA));
  EXPECT_EQ(t.armed_count(), 1u);
  EXPECT_EQ(t.fire(kA, 10), ms(5));
  EXPECT_FALSE(t.armed(kA));
  EXPECT_EQ(t.fire(kA, 10), std::nullopt);  // a second pop of the same entry is stale
  EXPECT_EQ(t.armed_count(), 0u);
}

TEST(TimerTable, SettingAKeyAgainReplacesIt) {
  TimerTable t;
  t.arm(kA, 10, ms(5));
  t.arm(kA, 11, ms(7));
  EXPECT_EQ(t.armed_count(), 1u);
  EXPECT_EQ(t.fire(kA, 10), std::nullopt);  // the replaced entry is stale
  EXPECT_EQ(t.fire(kA, 11), ms(7));
}

TEST(TimerTable, CancelDisarms) {
  TimerTable t;
  t.arm(kA, 3, ms(1));
  t.arm(kB, 4, ms(1));
  t.cancel(kA);
  t.cancel(kA);                           // twice is harmless
  t.cancel(TimerKey{TimerKind::check, 99});  // never armed: harmless
  EXPECT_EQ(t.fire(kA, 3), std::nullopt);
  EXPECT_EQ(t.fire(kB, 4), ms(1));
  EXPECT_EQ(t.armed_count(), 0u);
}

TEST(TimerTable, ReArmAfterFireWorks) {
  TimerTable t;
  t.arm(kA, 1, ms(1));
  ASSERT_TRUE(t.fire(kA, 1));
  t.arm(kA, 2, ms(2));
  EXPECT_EQ(t.fire(kA, 2), ms(2));
}

TEST(TimerTable, SparseKeysBehaveTheSame) {
  TimerTable t;
  t.arm(kSparse, 1, ms(1));
  t.arm(kSparse, 2, ms(2));
  EXPECT_EQ(t.fire(kSparse, 1), std::nullopt);
  EXPECT_EQ(t.fire(kSparse, 2), ms(2));
  t.arm(kSparse, 3, ms(3));
  t.cancel(kSparse);
  EXPECT_EQ(t.fire(kSparse, 3), std::nullopt);
  EXPECT_EQ(t.armed_count(), 0u);
}

// The world's use: one heap entry per SetTimer, stale entries dropped on pop.
TEST(TimerTable, WithTheQueueOnlyTheLatestSettingFires) {
  EventQueue q;
  TimerTable t;
  auto set = [&](TimerKey key, std::int64_t at_ms) {
    const Event e = Event::timer(ms(at_ms), 0, key);
    const auto seq = q.next_seq();
    ASSERT_TRUE(q.push(e));
    t.arm(key, seq, e.at);
  };
  set(kA, 30);
  set(kB, 10);
  set(kA, 20);  // replaces A@30
  set(kB, 40);  // replaces B@10 (a later time)
  std::vector<std::pair<std::uint64_t, std::int64_t>> fired;  // (id, ms)
  while (!q.empty()) {
    const Event e = q.pop();
    if (t.fire(e.timer_key(), e.seq)) fired.emplace_back(e.timer_key().id, e.at.ns() / 1'000'000);
  }
  EXPECT_EQ(fired, (std::vector<std::pair<std::uint64_t, std::int64_t>>{{1, 20}, {2, 40}}));
}

}  // namespace
}  // namespace heck::sim
