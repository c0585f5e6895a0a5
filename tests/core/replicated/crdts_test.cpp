// Scripted stories for the causal context, the CRDTs, the HLC and the sibling
// rule (the laws live in crdt_laws_test.cpp).
#include <gtest/gtest.h>

#include "core/replicated/crdts.h"
#include "core/replicated/hlc.h"
#include "core/replicated/observation.h"

namespace heck {
namespace {

constexpr ReplicaId A = 1, B = 2;

TEST(CausalContext, CompactsGapsIntoTheVersionVector) {
  CausalContext c;
  c.insert(Dot{A, 2});
  c.insert(Dot{A, 3});
  EXPECT_TRUE(c.vv().empty());
  EXPECT_EQ(c.cloud().size(), 2u);
  EXPECT_FALSE(c.contains(Dot{A, 1}));
  c.insert(Dot{A, 1});
  EXPECT_EQ(c.vv().get(A), 3u);
  EXPECT_TRUE(c.cloud().empty());
  EXPECT_TRUE(c.contains(Dot{A, 2}));
  EXPECT_FALSE(c.contains(Dot{A, 4}));
  EXPECT_EQ(c.next_dot(A), (Dot{A, 4}));
  EXPECT_EQ(c.next_dot(B), (Dot{B, 1}));
}

// An empty context is one null pointer (a delta carries seven, most of
// them empty); copies, moves and equality go by the dots, not the pointer.
TEST(CausalContext, IsOnePointerAndComparesByItsDots) {
  EXPECT_EQ(sizeof(CausalContext), sizeof(void*));
  CausalContext empty, grown;
  grown.insert(Dot{A, 1});
  EXPECT_NE(empty, grown);
  CausalContext copy = grown;
  EXPECT_EQ(copy, grown);
  copy.insert(Dot{A, 3});
  EXPECT_FALSE(grown.contains(Dot{A, 3}));  // a deep copy
  CausalContext moved = std::move(copy);
  EXPECT_TRUE(moved.contains(Dot{A, 3}));
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from context is empty
  EXPECT_EQ(copy, empty);
  // Joining nothing grows nothing; a context built from parts that hold no
  // dot has a body and equals one without.
  CausalContext joined_nothing;
  EXPECT_FALSE(joined_nothing.join(empty));
  EXPECT_EQ(CausalContext::from_parts({}, {}), empty);
  EXPECT_EQ(CausalContext::from_parts({{A, 0}}, {}), empty);
  EXPECT_TRUE(CausalContext::from_parts({{A, 0}}, {}).empty());
  copy = grown;
  EXPECT_EQ(copy, grown);
  copy = empty;
  EXPECT_TRUE(copy.empty());
  EXPECT_FALSE(empty.contains(Dot{A, 1}));
  EXPECT_EQ(empty.max_counter(A), 0u);
  EXPECT_TRUE(grown.includes(empty));
  EXPECT_FALSE(empty.includes(grown));
  EXPECT_EQ(empty.missing_count(grown, 10), 1u);
}

TEST(CausalContext, NextDotIsAboveCloudDots) {
  CausalContext c;
  c.insert(Dot{A, 7});
  EXPECT_EQ(c.next_dot(A), (Dot{A, 8}));
  c.insert(Dot{B, 3});  // a later replica id in the cloud does not confuse A's max
  EXPECT_EQ(c.next_dot(A), (Dot{A, 8}));
}

TEST(CausalContext, JoinIsUnion) {
  CausalContext x, y;
  x.insert(Dot{A, 1});
  y.insert(Dot{A, 2});
  y.insert(Dot{B, 5});
  x.join(y);
  EXPECT_EQ(x.vv().get(A), 2u);
  EXPECT_TRUE(x.contains(Dot{B, 5}));
  EXPECT_FALSE(x.contains(Dot{B, 4}));
}

TEST(MVRegister, ConcurrentWritesAreSiblingsUntilSuperseded) {
  MVRegister<int> a, b;
  auto da = a.write(A, 1);
  auto db = b.write(B, 2);
  a.join(db);
  b.join(da);
  EXPECT_EQ(a.values(), (std::vector<int>{1, 2}));
  EXPECT_EQ(a, b);
  // A write by someone who has seen both supersedes both.
  auto d3 = b.write(B, 3);
  a.join(d3);
  EXPECT_EQ(a.values(), (std::vector<int>{3}));
}

TEST(MVRegister, AWriteSupersedesOnlyWhatItsWriterSaw) {
  MVRegister<int> a, b;
  auto d1 = a.write(A, 1);
  b.join(d1);
  auto d2 = b.write(B, 2);  // B saw 1
  auto d3 = a.write(A, 3);  // A did not see 2
  MVRegister<int> c;
  c.join(d3);
  c.join(d2);
  c.join(d1);  // late and duplicate: changes nothing
  EXPECT_EQ(c.values(), (std::vector<int>{3, 2}));
}

TEST(AWSet, AddWinsOverConcurrentRemove) {
  AWSet<std::string> a, b;
  auto add1 = a.add(A, "x");
  b.join(add1);
  auto rm = b.remove("x");   // B removes what it saw
  auto add2 = a.add(A, "x");  // A re-adds concurrently
  a.join(rm);
  b.join(add2);
  EXPECT_TRUE(a.contains("x"));
  EXPECT_TRUE(b.contains("x"));
  EXPECT_EQ(a, b);
}

TEST(AWSet, RemoveOfSeenAddSticksWithoutTombstonesInTheStore) {
  AWSet<std::string> a, b;
  auto add = a.add(A, "x");
  auto rm = a.remove("x");
  b.join(rm);   // the removal arrives first
  b.join(add);  // the add it covers arrives late: stays removed
  EXPECT_FALSE(b.contains("x"));
  EXPECT_TRUE(b.state().store.empty());  // only the context remembers
}

TEST(ORMap, RemovalForgetsOnlySeenWrites) {
  ORMap<std::string, DotFun<int>> a, b;
  auto w1 = a.apply("t1", [](const DotFun<int>& s, const CausalContext& c) { return mvreg_write(s, c, A, 10); });
  b.join(w1);
  auto rm = a.remove("t1");
  auto w2 = b.apply("t1", [](const DotFun<int>& s, const CausalContext& c) { return mvreg_write(s, c, B, 20); });
  a.join(w2);
  b.join(rm);
  ASSERT_NE(a.find("t1"), nullptr);
  EXPECT_EQ(a.find("t1")->size(), 1u);
  EXPECT_EQ(a.find("t1")->entries()[0].second, 20);
  EXPECT_EQ(a, b);
}

TEST(CCounter, CountsEveryIncrementOnce) {
  CCounter a, b;
  auto d1 = a.add(A, 3);
  auto d2 = a.add(A, 4);
  auto d3 = b.add(B, -2);
  a.join(d3);
  b.join(d2);  // d2 carries A's running total and covers d1
  b.join(d1);  // late: already covered
  EXPECT_EQ(a.value(), 5);
  EXPECT_EQ(b.value(), 5);
  EXPECT_EQ(a.state().store.size(), 2u);  // one dot per replica
}

TEST(HybridClock, MonotonicAndFollowsPhysicalTime) {
  HybridClock c;
  const auto t0 = Instant::from_ns(0) + Duration::seconds(1000);
  auto a = c.tick(t0);
  auto b = c.tick(t0);
  EXPECT_LT(a, b);
  EXPECT_EQ(a.wall_ms(), 1'000'000u);
  auto later = c.tick(t0 + Duration::milliseconds(5));
  EXPECT_EQ(later.wall_ms(), 1'000'005u);
  EXPECT_EQ(later.logical(), 0);
  auto back = c.tick(t0);  // the physical clock stepped back: stays ahead
  EXPECT_GT(back, later);
}

TEST(HybridClock, AdoptsNearbyRemoteTimeRejectsFarAhead) {
  HybridClock c(Duration::seconds(5));
  const auto now = Instant::from_ns(0) + Duration::seconds(1000);
  EXPECT_TRUE(c.observe(now, HlcTimestamp::make(1'003'000, 7)));  // 3 s ahead: adopted
  EXPECT_GT(c.tick(now), HlcTimestamp::make(1'003'000, 7));
  // A clock an hour ahead does not drag this one forward.
  EXPECT_FALSE(c.observe(now, HlcTimestamp::make(1'000'000 + 3'600'000, 0)));
  EXPECT_EQ(c.rejected_ahead(), 1u);
  EXPECT_LT(c.tick(now + Duration::seconds(10)).wall_ms(), 1'000'000u + 3'600'000u);
}

TEST(HybridClock, LogicalOverflowBorrowsAMillisecond) {
  HybridClock c;
  const auto now = Instant::from_ns(0) + Duration::seconds(1);
  c.observe(now, HlcTimestamp::make(1000, 0xffff));
  const auto t = c.tick(now);
  EXPECT_EQ(t, HlcTimestamp::make(1001, 0));
}

Observation obs(HealthStatus s, std::uint64_t ms, ReplicaId who, std::uint64_t seq = 1) {
  Observation o;
  o.status = s;
  o.observed_at = HlcTimestamp::make(ms, 0);
  o.observer = who;
  o.check_seq = seq;
  return o;
}

TEST(SiblingRule, WorseStatusWinsThenNewestThenObserver) {
  const auto old_bad = obs(HealthStatus::unhealthy, 100, A);
  const auto new_good = obs(HealthStatus::healthy, 200, B);
  EXPECT_EQ(&resolve({&old_bad, &new_good}), &old_bad);  // concurrent: the failure is never hidden
  EXPECT_EQ(&resolve({&new_good, &old_bad}), &old_bad);  // order of siblings is irrelevant
  const auto bad_early = obs(HealthStatus::unhealthy, 300, A);
  const auto bad_late = obs(HealthStatus::unhealthy, 350, B);
  EXPECT_EQ(&resolve({&bad_early, &bad_late}), &bad_late);  // equal status: the newest
  const auto x = obs(HealthStatus::healthy, 400, B);
  const auto y = obs(HealthStatus::healthy, 400, A);
  EXPECT_EQ(&resolve({&x, &y}), &y);
  EXPECT_TRUE(ranks_above(y, x));
  EXPECT_FALSE(ranks_above(x, y));
  const auto unknown = obs(HealthStatus::unknown, 1, A);
  EXPECT_TRUE(ranks_above(unknown, x));
  EXPECT_TRUE(ranks_above(old_bad, unknown));
}

// The skew rule (hlc.h, observation.h): a node whose clock runs an hour ahead
// neither drags other clocks forward nor decides which status is reported.
TEST(SkewRule, AClockAnHourAheadIsNotAdoptedAndDoesNotOutrankConcurrentFailures) {
  const std::uint64_t hour_ms = 3'600'000;
  const Instant now = Instant::from_ns(0) + Duration::seconds(1'000);
  HybridClock honest;  // max_forward 5 s
  const HlcTimestamp skewed = HlcTimestamp::make(static_cast<std::uint64_t>(now.ms()) + hour_ms, 0);
  EXPECT_FALSE(honest.observe(now, skewed));
  EXPECT_EQ(honest.rejected_ahead(), 1u);
  const HlcTimestamp mine = honest.tick(now);
  EXPECT_LT(mine.wall_ms(), static_cast<std::uint64_t>(now.ms()) + 1);  // our clock stayed put
  // Within max_forward a remote clock is followed (ordinary HLC behaviour).
  const HlcTimestamp slightly = HlcTimestamp::make(static_cast<std::uint64_t>(now.ms()) + 2'000, 7);
  EXPECT_TRUE(honest.observe(now, slightly));
  EXPECT_GT(honest.tick(now), slightly);

  // Concurrent siblings: the skewed node says healthy an hour "later"; a
  // correct node saw the target fail. The failure is reported.
  const auto from_future = obs(HealthStatus::healthy, static_cast<std::uint64_t>(now.ms()) + hour_ms, A);
  const auto failure_now = obs(HealthStatus::unhealthy, static_cast<std::uint64_t>(now.ms()), B);
  EXPECT_EQ(&resolve({&from_future, &failure_now}), &failure_now);
}

TEST(ReplicaId, DependsOnNameAndBootNonce) {
  EXPECT_EQ(make_replica_id("n1", 1), make_replica_id("n1", 1));
  EXPECT_NE(make_replica_id("n1", 1), make_replica_id("n1", 2));  // a restart takes a new id
  EXPECT_NE(make_replica_id("n1", 1), make_replica_id("n2", 1));
  EXPECT_NE(make_replica_id("", 0), 0u);
}

}  // namespace
}  // namespace heck
