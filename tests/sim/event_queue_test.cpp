#include "sim/event_queue.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck::sim {
namespace {

Event at_ns(std::int64_t ns, std::uint64_t tag) { return Event::bench(Instant::from_ns(ns), tag); }

TEST(EventQueue, PopsInTimeOrder) {
  EventQueue q;
  for (std::int64_t t : {50, 10, 40, 20, 30}) ASSERT_TRUE(q.push(at_ns(t, 0)));
  std::vector<std::int64_t> got;
  while (!q.empty()) got.push_back(q.pop().at.ns());
  EXPECT_EQ(got, (std::vector<std::int64_t>{10, 20, 30, 40, 50}));
}

TEST(EventQueue, EqualTimesPopInPushOrder) {
  EventQueue q;
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(q.push(at_ns(static_cast<std::int64_t>(i % 3), i)));
  std::vector<std::uint64_t> tags;
  std::int64_t last_t = -1;
  std::uint64_t last_seq = 0;
  while (!q.empty()) {
    const Event e = q.pop();
    if (e.at.ns() == last_t) {
      EXPECT_GT(e.seq, last_seq);
    }
    last_t = e.at.ns();
    last_seq = e.seq;
    tags.push_back(e.tag());
  }
  // Time 0 gets 0, 3, 6, … in push order, then time 1, then time 2.
  std::vector<std::uint64_t> want;
  for (int r = 0; r < 3; ++r) {
    for (std::uint64_t i = 0; i < 100; ++i) {
      if (static_cast<int>(i % 3) == r) want.push_back(i);
    }
  }
  EXPECT_EQ(tags, want);
}

TEST(EventQueue, SequenceNumbersAreStampedByPush) {
  EventQueue q;
  Event e = at_ns(5, 0);
  e.seq = 999;  // ignored
  EXPECT_EQ(q.next_seq(), 0u);
  ASSERT_TRUE(q.push(e));
  ASSERT_TRUE(q.push(e));
  EXPECT_EQ(q.next_seq(), 2u);
  EXPECT_EQ(q.pop().seq, 0u);
  EXPECT_EQ(q.pop().seq, 1u);
}

TEST(EventQueue, NegativeTimesOrderBeforePositive) {
  EventQueue q;
  ASSERT_TRUE(q.push(at_ns(5, 0)));
  ASSERT_TRUE(q.push(at_ns(-5, 1)));
  ASSERT_TRUE(q.push(at_ns(0, 2)));
  EXPECT_EQ(q.pop().tag(), 1u);
  EXPECT_EQ(q.pop().tag(), 2u);
  EXPECT_EQ(q.pop().tag(), 0u);
}

TEST(EventQueue, SecondIsTheEventAfterTop) {
  EventQueue q;
  EXPECT_EQ(q.second(), nullptr);
  for (std::int64_t t : {50, 10, 40, 20, 30, 60, 5}) ASSERT_TRUE(q.push(at_ns(t, 0)));
  while (q.size() >= 2) {
    const std::int64_t want = q.second()->at.ns();
    q.pop();
    EXPECT_EQ(q.top().at.ns(), want);
  }
  EXPECT_EQ(q.second(), nullptr);
}

TEST(EventQueue, RefusesPushBeyondItsLimit) {
  EventQueue q(3);
  EXPECT_TRUE(q.push(at_ns(1, 0)));
  EXPECT_TRUE(q.push(at_ns(2, 0)));
  EXPECT_TRUE(q.push(at_ns(3, 0)));
  EXPECT_FALSE(q.push(at_ns(4, 0)));
  EXPECT_EQ(q.size(), 3u);
  q.pop();
  EXPECT_TRUE(q.push(at_ns(4, 0)));
}

// Differential: interleaved pushes and pops against a naive sorted list.
RC_GTEST_PROP(EventQueue, MatchesNaiveOrderedList, ()) {
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, std::int64_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange<std::int64_t>(-50, 50)));
  EventQueue q;
  std::vector<std::tuple<std::int64_t, std::uint64_t>> naive;  // (time, seq)
  std::uint64_t seq = 0;
  for (const auto& [is_push, t] : ops) {
    if (is_push || naive.empty()) {
      RC_ASSERT(q.push(at_ns(t, seq)));
      naive.emplace_back(t, seq++);
    } else {
      auto it = std::min_element(naive.begin(), naive.end());
      const Event e = q.pop();
      RC_ASSERT(e.at.ns() == std::get<0>(*it));
      RC_ASSERT(e.seq == std::get<1>(*it));
      RC_ASSERT(e.tag() == std::get<1>(*it));
      naive.erase(it);
    }
    RC_ASSERT(q.size() == naive.size());
  }
  std::sort(naive.begin(), naive.end());
  for (const auto& [t, s] : naive) {
    const Event e = q.pop();
    RC_ASSERT(e.at.ns() == t);
    RC_ASSERT(e.seq == s);
  }
  RC_ASSERT(q.empty());
}

}  // namespace
}  // namespace heck::sim
