#include "core/membership/broadcast_queue.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/core/wire/json_reference.h"

namespace heck {
namespace {

using json = nlohmann::json;
using wire::PartType;

wire::EncodedPart part(const std::string& tag, std::size_t pad = 0) {
  return wire::json_part(PartType::alive, json::array({tag, std::string(pad, 'x')}));
}

// The tags of the parts `fill` packs, in packing order.
std::vector<std::string> packed(BroadcastQueue& q, std::size_t cluster_size, std::size_t limit = 1400) {
  wire::PacketBuilder b(wire::Header{"me", "me:1"}, limit);
  q.fill(b, cluster_size);
  auto env = wire::decode(b.finish());
  EXPECT_TRUE(env.ok());
  std::vector<std::string> tags;
  for (const auto& p : env->parts) tags.push_back(wire::json_of(p.body)[0].get<std::string>());
  return tags;
}

TEST(BroadcastQueue, TransmitLimitIsMultTimesCeilLog10) {
  BroadcastQueue q(4);
  EXPECT_EQ(q.transmit_limit(0), 1u);  // never zero
  EXPECT_EQ(q.transmit_limit(1), 4u);  // ceil(log10 2) = 1
  EXPECT_EQ(q.transmit_limit(9), 4u);
  EXPECT_EQ(q.transmit_limit(10), 8u);  // ceil(log10 11) = 2
  EXPECT_EQ(q.transmit_limit(99), 8u);
  EXPECT_EQ(q.transmit_limit(100), 12u);
  EXPECT_EQ(q.transmit_limit(1000), 16u);
}

TEST(BroadcastQueue, SameKeyReplacesTheOlderUpdate) {
  BroadcastQueue q;
  q.push("m:a", part("a1"));
  q.push("m:b", part("b1"));
  q.push("m:a", part("a2"));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"a2", "b1"}));
}

TEST(BroadcastQueue, EmptyKeysAreNeverReplaced) {
  BroadcastQueue q;
  q.push("", part("x"));
  q.push("", part("y"));
  EXPECT_EQ(q.size(), 2u);
}

TEST(BroadcastQueue, FewestTransmittedFirstThenNewest) {
  BroadcastQueue q(4);
  q.push("m:a", part("a"));
  q.push("m:b", part("b"));
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"b", "a"}));  // newest first
  q.push("m:c", part("c"));  // never sent: goes before a and b
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"c", "b", "a"}));
}

// A node that writes faster than it sends (a registration burst, a takeover
// of many targets) must not hold back a suspicion or a refutation: before the
// lanes, fresh deltas (no transmits yet, newer) were packed ahead of an older
// membership update, so a suspicion queued behind a steady stream of deltas
// was never sent while the death that replaced it went out at once.
TEST(BroadcastQueue, MembershipUpdatesGoBeforeOtherLayersParts) {
  BroadcastQueue q(4);
  q.push("m:suspect", part("suspect"));
  for (int tick = 0; tick < 5; ++tick) {
    for (int i = 0; i < 20; ++i) {  // more than a packet of new deltas each tick
      q.push(fmt::format("r:{}-{}", tick, i), part(fmt::format("d{}-{}", tick, i), 100),
             BroadcastQueue::Lane::after);
    }
    const auto tags = packed(q, 5);
    ASSERT_FALSE(tags.empty());
    if (tick < 4) {
      EXPECT_EQ(tags.front(), "suspect") << "tick " << tick;  // 4 transmits, then done
    }
    EXPECT_LT(tags.size(), 21u);  // the packet is full: deltas wait
  }
  EXPECT_FALSE(q.contains("m:suspect"));
  // Within a lane the order is as before: fewest transmits, then newest.
  BroadcastQueue r(4);
  r.push("r:old", part("old"), BroadcastQueue::Lane::after);
  r.push("m:a", part("a"));
  r.push("r:new", part("new"), BroadcastQueue::Lane::after);
  EXPECT_EQ(packed(r, 5), (std::vector<std::string>{"a", "new", "old"}));
}

TEST(BroadcastQueue, AFullQueueEvictsFromTheLaterLaneFirst) {
  BroadcastQueue q(4, 3);
  q.push("m:a", part("a"));
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"a"}));  // a: 1 transmit, the most
  q.push("r:x", part("x"), BroadcastQueue::Lane::after);
  q.push("r:y", part("y"), BroadcastQueue::Lane::after);
  q.push("r:z", part("z"), BroadcastQueue::Lane::after);  // full: x goes, not a
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_TRUE(q.contains("m:a"));
  EXPECT_FALSE(q.contains("r:x"));
  // Only membership parts left: those are evicted as before.
  BroadcastQueue m(4, 2);
  m.push("m:a", part("a"));
  m.push("m:b", part("b"));
  m.push("m:c", part("c"));
  EXPECT_EQ(m.dropped(), 1u);
  EXPECT_FALSE(m.contains("m:a"));
  // A key keeps one entry whatever the lane it was pushed in.
  BroadcastQueue k(4);
  k.push("k", part("first"), BroadcastQueue::Lane::after);
  k.push("k", part("second"));
  EXPECT_EQ(k.size(), 1u);
  EXPECT_EQ(packed(k, 5), (std::vector<std::string>{"second"}));
}

TEST(BroadcastQueue, DroppedAfterTheTransmitLimit) {
  BroadcastQueue q(2);
  q.push("m:a", part("a"));
  // n = 5: limit 2 * ceil(log10 6) = 2.
  EXPECT_EQ(packed(q, 5).size(), 1u);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(packed(q, 5).size(), 1u);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(packed(q, 5).empty());
  EXPECT_EQ(q.dropped(), 0u);  // sent out, not evicted
}

TEST(BroadcastQueue, ACappedPartIsDroppedAfterItsOwnTransmitsAndAReplacementCountsAfresh) {
  BroadcastQueue q(4);  // n = 5: limit 4
  q.push("r:a", part("a1"), BroadcastQueue::Lane::after, 2);
  q.push("r:b", part("b"), BroadcastQueue::Lane::after);
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"b", "a1"}));
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"b", "a1"}));
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"b"}));  // a1 went after 2
  EXPECT_FALSE(q.contains("r:a"));
  q.push("r:a", part("a2"), BroadcastQueue::Lane::after, 1);
  q.push("r:a", part("a3"), BroadcastQueue::Lane::after);  // replaces a2, uncapped
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"a3", "b"}));
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"a3"}));  // b reached 4
  EXPECT_EQ(packed(q, 5), (std::vector<std::string>{"a3"}));
  EXPECT_EQ(q.size(), 1u);
  // A cap above the queue's limit changes nothing: the limit still holds.
  BroadcastQueue k(1);  // n = 5: limit 1
  k.push("r:c", part("c"), BroadcastQueue::Lane::after, 3);
  EXPECT_EQ(packed(k, 5), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(packed(k, 5).empty());
  EXPECT_EQ(q.dropped() + k.dropped(), 0u);  // sent out, not evicted
}

TEST(BroadcastQueue, PacksUnderTheSizeLimitAndSkipsWhatDoesNotFit) {
  BroadcastQueue q;
  q.push("m:small", part("small"));
  q.push("m:big", part("big", 300));  // newest: tried first, does not fit
  auto tags = packed(q, 5, 120);
  EXPECT_EQ(tags, (std::vector<std::string>{"small"}));
  EXPECT_EQ(q.size(), 2u);  // big still waits for a roomier packet
  EXPECT_EQ(packed(q, 5, 1400), (std::vector<std::string>{"big", "small"}));
}

TEST(BroadcastQueue, FullQueueEvictsTheMostTransmittedAndCounts) {
  BroadcastQueue q(4, 3);
  q.push("m:a", part("a"));
  packed(q, 5);  // a sent once
  q.push("m:b", part("b"));
  q.push("m:c", part("c"));
  q.push("m:d", part("d"));  // full: a (most sent) goes
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_FALSE(q.contains("m:a"));
  EXPECT_TRUE(q.contains("m:d"));
}

RC_GTEST_PROP(BroadcastQueue, NeverExceedsItsLimitsAndEveryPartIsSentAtMostLimitTimes, ()) {
  const auto max_items = *rc::gen::inRange<std::size_t>(1, 20);
  const auto n = *rc::gen::inRange<std::size_t>(1, 200);
  BroadcastQueue q(3, max_items);
  std::map<std::string, std::size_t> sent;
  std::map<std::string, std::uint32_t> cap;  // by tag: 0 = none
  const auto ops = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 12));
  int serial = 0;
  for (int op : ops) {
    if (op < 8) {
      std::string tag = "t" + std::to_string(serial++);
      const auto max_transmits = *rc::gen::inRange<std::uint32_t>(0, 4);
      cap[tag] = max_transmits;
      q.push("m:" + std::to_string(op), part(tag, static_cast<std::size_t>(op) * 40), BroadcastQueue::Lane::membership,
             max_transmits);
    } else {
      for (const auto& t : packed(q, n, 300)) ++sent[t];
    }
    RC_ASSERT(q.size() <= max_items);
  }
  for (const auto& [tag, count] : sent) {
    RC_ASSERT(count <= q.transmit_limit(n));
    if (cap[tag] > 0) RC_ASSERT(count <= cap[tag]);
  }
}


// The cost of a fill is the parts it looks at: what it packs plus at most
// kMaxMisfits that do not fit, whatever the number of queued parts.
TEST(BroadcastQueue, AFillLooksAtWhatItPacksWhateverTheQueueSize) {
  const auto work_of_one_fill = [](std::size_t queued) {
    BroadcastQueue q(4, 8192);
    for (std::size_t i = 0; i < queued; ++i) {
      const std::string tag = "t" + std::to_string(100000 + i);  // one size for all
      q.push("m:" + tag, part(tag));
    }
    const std::uint64_t before = q.work();
    const std::size_t n = packed(q, 1000).size();
    EXPECT_GT(n, 10u);
    return std::make_pair(n, q.work() - before);
  };
  const auto [packed_small, work_small] = work_of_one_fill(1000);
  const auto [packed_large, work_large] = work_of_one_fill(5000);
  EXPECT_EQ(packed_small, packed_large);
  EXPECT_EQ(work_small, packed_small);  // all parts of one size: the first misfit stops it
  EXPECT_EQ(work_large, packed_large);
}

// A part leaves the queue in O(1) amortised, however full it is: a full
// queue evicts the oldest part on every push (a gossip-mode forwarder's
// queue is full), and a replaced key leaves from the middle. The holes they
// leave are closed by moving the parts behind them once holes are half the
// positions, so at most about one move per part gone. (Erasing each from a
// vector of 4,096 refs moved ~4,000 refs a push.)
TEST(BroadcastQueue, EvictingOrReplacingMovesAFewPartsAPartWhateverTheQueueSize) {
  constexpr std::size_t kMax = 4096;
  BroadcastQueue q(4, kMax);
  for (std::size_t i = 0; i < kMax; ++i) q.push(fmt::format("r:{}", i), part(fmt::format("t{}", i)));
  const std::uint64_t before = q.moves();
  for (std::size_t i = kMax; i < 3 * kMax; ++i) q.push(fmt::format("r:{}", i), part(fmt::format("t{}", i)));
  EXPECT_EQ(q.dropped(), 2 * kMax);
  EXPECT_LE(q.moves() - before, 2 * 2 * kMax) << "evictions";
  const std::uint64_t mid = q.moves();
  for (std::size_t i = 0; i < 2 * kMax; ++i) {  // replace keys spread over the queue
    const std::size_t k = 2 * kMax + (i * 2654435761u) % kMax;
    q.push(fmt::format("r:{}", k), part(fmt::format("u{}", i)));
  }
  EXPECT_EQ(q.size(), kMax);
  EXPECT_LE(q.moves() - mid, 2 * 2 * kMax) << "replacements";
  // What is left still packs newest first.
  const auto first = packed(q, 1000);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.front(), fmt::format("u{}", 2 * kMax - 1));
}

// Against a naive queue: a list scanned in (lane, transmits, newest first)
// order, evicting its last part in that order.
RC_GTEST_PROP(BroadcastQueue, PacksInTheSameOrderAsANaiveQueue, ()) {
  struct Naive {
    std::string key, tag;
    wire::EncodedPart part;
    int lane = 0;
    std::size_t transmits = 0;
    std::uint64_t id = 0;
  };
  // Past 64 positions the queue closes the holes parts left: covered too.
  const auto max_items = *rc::gen::inRange<std::size_t>(1, 150);
  const auto n = *rc::gen::inRange<std::size_t>(1, 200);
  BroadcastQueue q(2, max_items);
  std::vector<Naive> model;
  std::uint64_t id = 0;
  const auto by_order = [](const Naive& a, const Naive& b) {
    return std::tie(a.lane, a.transmits, b.id) < std::tie(b.lane, b.transmits, a.id);
  };
  const auto count = *rc::gen::inRange<std::size_t>(0, 400);
  const auto ops = *rc::gen::container<std::vector<int>>(count, rc::gen::inRange(0, 24));
  for (int op : ops) {
    const int lane = op % 2;  // membership or after
    op /= 2;
    if (op < 8) {
      const std::string key = op < 6 ? "m:" + std::to_string(id % 97) : "";
      const std::string tag = "t" + std::to_string(id);
      const auto p = part(tag, static_cast<std::size_t>(op) * 30);
      std::erase_if(model, [&](const Naive& x) { return !key.empty() && x.key == key; });
      if (model.size() >= max_items) model.erase(std::max_element(model.begin(), model.end(), by_order));
      model.push_back(Naive{key, tag, p, lane, 0, id++});
      q.push(key, p, lane == 0 ? BroadcastQueue::Lane::membership : BroadcastQueue::Lane::after);
      continue;
    }
    const std::vector<std::string> got = packed(q, n, 200);
    std::sort(model.begin(), model.end(), by_order);
    wire::PacketBuilder b(wire::Header{"me", "me:1"}, 200);
    std::vector<std::string> want;
    std::size_t misfits = 0;  // 64 in a row end the scan
    for (Naive& x : model) {
      if (misfits == 64) break;
      if (!b.try_add(x.part)) {
        ++misfits;
        continue;
      }
      misfits = 0;
      want.push_back(x.tag);
      ++x.transmits;
    }
    std::erase_if(model, [&](const Naive& x) { return x.transmits >= q.transmit_limit(n); });
    RC_ASSERT(got == want);
    RC_ASSERT(q.size() == model.size());
  }
}

}  // namespace
}  // namespace heck
