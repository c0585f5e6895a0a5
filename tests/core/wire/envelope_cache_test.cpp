#include "core/wire/envelope_cache.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/wire/json_reference.h"

namespace heck::wire {
namespace {

using json = nlohmann::json;

SharedBytes message(const std::string& tag) {
  return encode(Header{"n1", "127.0.0.1:7946"}, {json_part(PartType::ping, json::array({7, tag})),
                                                  json_part(PartType::delta, json{{"k", tag}})});
}

// What decode_view gives, as comparable values.
struct Seen {
  std::string sender, address;
  std::vector<std::pair<PartType, json>> parts;
  bool operator==(const Seen&) const = default;
};
Seen seen(const Result<Envelope>& env) {
  EXPECT_TRUE(env.ok()) << env.error();
  Seen s{env->header.sender, env->header.address, {}};
  for (const Part& p : env->parts) s.parts.emplace_back(p.type, json_of(p.body));
  return s;
}

TEST(EnvelopeCache, TheSameBlockUnderTheSameLimitsIsDecodedOnce) {
  EnvelopeCache cache;
  const SharedBytes m = message("a");
  const DecodeLimits limits{.max_bytes = 1400};
  const Result<Envelope>& first = cache.decode(m, limits);
  const Seen want = seen(decode_view(m.span(), limits));
  EXPECT_EQ(seen(first), want);
  const SharedBytes copy = m;  // another receiver's reference to the same block
  const Result<Envelope>& again = cache.decode(copy, limits);
  EXPECT_EQ(&again, &first);  // no new decode, no copy
  EXPECT_EQ(seen(again), want);
  EXPECT_EQ(cache.counters().misses, 1u);
  EXPECT_EQ(cache.counters().hits, 1u);
}

// Keyed by the block, not by its content: the same bytes in another block
// are decoded on their own (still to the same envelope).
TEST(EnvelopeCache, EqualBytesInAnotherBlockAreDecodedAgain) {
  EnvelopeCache cache;
  const SharedBytes a = message("a");
  const SharedBytes b(a.span());
  EXPECT_EQ(seen(cache.decode(a, {})), seen(cache.decode(b, {})));
  EXPECT_EQ(cache.counters().misses, 2u);
  EXPECT_EQ(cache.counters().hits, 0u);
}

// Other limits may give another answer: a message over a datagram's limit
// is an error there and fine on a stream.
TEST(EnvelopeCache, OtherLimitsAreAnotherDecode) {
  EnvelopeCache cache;
  const SharedBytes m = message(std::string(300, 'x'));
  EXPECT_TRUE(cache.decode(m, DecodeLimits{.max_bytes = 1 << 20}).ok());
  EXPECT_FALSE(cache.decode(m, DecodeLimits{.max_bytes = 100}).ok());
  EXPECT_TRUE(cache.decode(m, DecodeLimits{.max_bytes = 1 << 20}).ok());
  EXPECT_EQ(cache.counters().hits, 1u);
}

// Each receiver finds and counts its own malformed packets: an error is
// never kept.
TEST(EnvelopeCache, AMalformedMessageIsDecodedByEveryReceiver) {
  EnvelopeCache cache;
  const SharedBytes good = message("a");
  Bytes bad(good.begin(), good.end());
  bad.pop_back();
  const SharedBytes m(bad);
  for (int i = 0; i < 3; ++i) {
    const Result<Envelope>& env = cache.decode(m, {});
    ASSERT_FALSE(env.ok());
    EXPECT_EQ(env.error(), decode_view(m.span(), {}).error());
  }
  EXPECT_EQ(cache.counters().misses, 3u);
  EXPECT_EQ(cache.counters().hits, 0u);
}

// An entry holds its block, so the block (and its address, the key)
// outlives every sender and receiver of the message while the entry lives;
// a message that takes its slot releases it.
TEST(EnvelopeCache, AnEntryHoldsItsBlockUntilItsSlotIsTaken) {
  EnvelopeCache cache(1);
  const SharedBytes m = message("kept");
  EXPECT_EQ(m.use_count(), 1u);
  ASSERT_TRUE(cache.decode(m, {}).ok());
  EXPECT_EQ(m.use_count(), 2u);
  const SharedBytes other = message("other");
  ASSERT_TRUE(cache.decode(other, {}).ok());
  EXPECT_EQ(m.use_count(), 1u);
  EXPECT_EQ(other.use_count(), 2u);
}

TEST(EnvelopeCache, AMessageOverMaxBytesIsDecodedAndNotKept) {
  EnvelopeCache cache(16, 64);
  const SharedBytes m = message(std::string(100, 'x'));
  ASSERT_GT(m.size(), 64u);
  EXPECT_TRUE(cache.decode(m, {}).ok());
  EXPECT_TRUE(cache.decode(m, {}).ok());
  EXPECT_EQ(cache.counters().uncached, 2u);
  EXPECT_EQ(cache.counters().hits, 0u);
}

// Direct-mapped: many messages through a small cache evict each other, and
// every answer is still decode_view's.
TEST(EnvelopeCache, ASmallCacheStillGivesEveryMessagesOwnEnvelope) {
  EnvelopeCache cache(4);
  std::vector<SharedBytes> ms;
  for (int i = 0; i < 64; ++i) ms.push_back(message("m" + std::to_string(i)));
  for (int round = 0; round < 3; ++round) {
    for (const SharedBytes& m : ms) EXPECT_EQ(seen(cache.decode(m, {})), seen(decode_view(m.span(), {})));
  }
  EXPECT_EQ(cache.counters().hits + cache.counters().misses, 3u * 64u);
}

}  // namespace
}  // namespace heck::wire
