#include "core/replicated/health_state.h"

#include <limits>
#include <optional>
#include <tuple>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck {
namespace {

TargetSpec spec(const std::string& id, const std::string& url = "http://127.0.0.1:9000/") {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse(url);
  return s;
}

Observation obs(HealthStatus st, std::uint64_t ms, ReplicaId who, std::uint64_t seq = 1) {
  Observation o;
  o.status = st;
  o.observed_at = HlcTimestamp::make(ms, 0);
  o.observer = who;
  o.check_seq = seq;
  return o;
}

constexpr ReplicaId A = 101, B = 202;

TEST(HealthState, VersionsCountRegistryAndCounterChangesOnly) {
  HealthState a(1), b(2);
  const auto put = a.put_target(HlcTimestamp::make(1, 0), spec("web"));
  EXPECT_EQ(a.registry_version(), 1u);
  a.observe("web", obs(HealthStatus::healthy, 2, 1));
  EXPECT_EQ(a.registry_version(), 1u) << "observations are not the registry";
  EXPECT_EQ(b.join(put), true);
  EXPECT_EQ(b.join(put), false);
  EXPECT_EQ(b.registry_version(), 1u) << "a delta already held changes nothing";
  const auto add = b.add_to_counter("hits", 2);
  EXPECT_EQ(b.counters_version(), 1u);
  a.join(add);
  EXPECT_EQ(a.counters_version(), 1u);
  a.remove_target(HlcTimestamp::make(3, 0), "web");
  EXPECT_EQ(a.registry_version(), 2u);
}

// The cost model (dot_store.h, health_state.h): joining a one-target delta
// costs the same at 100 and at 10,000 targets, also when it arrives twice
// (its superseded dot is no longer live: the old join scanned every key
// looking for it) and when it removes a target.
std::uint64_t delta_join_work(int targets) {
  HealthState a(A), b(B);
  for (int i = 0; i < targets; ++i) {
    const std::string id = "t" + std::to_string(i);
    b.join(a.put_target(HlcTimestamp::make(1, 0), spec(id)));
    b.join(a.observe(id, obs(HealthStatus::healthy, 2, A)));
  }
  const auto registry_before = b.state().registry.store.join_work();
  const auto observations_before = b.state().observations.store.join_work();
  const auto flip = a.observe("t7", obs(HealthStatus::unhealthy, 3, A, 2));
  EXPECT_TRUE(b.join(flip));
  EXPECT_FALSE(b.join(flip)) << "a duplicate brings nothing";
  const auto again = a.observe("t7", obs(HealthStatus::healthy, 4, A, 3));
  EXPECT_TRUE(b.join(again));
  EXPECT_TRUE(b.join(a.remove_target(HlcTimestamp::make(5, 0), "t9")));
  EXPECT_FALSE(b.target("t9").has_value());
  EXPECT_EQ(b.state().observations.store.find("t7")->size(), 1u);
  EXPECT_EQ(b.state(), a.state());
  EXPECT_TRUE(b.state().registry.store.index_consistent());
  EXPECT_TRUE(b.state().observations.store.index_consistent());
  return b.state().registry.store.join_work() - registry_before + b.state().observations.store.join_work() -
         observations_before;
}

TEST(HealthState, JoiningASmallDeltaCostsTheSameWhateverTheStateSize) {
  const std::uint64_t small = delta_join_work(100);
  const std::uint64_t large = delta_join_work(10'000);
  EXPECT_LE(small, 16u);
  EXPECT_EQ(large, small) << "work must not grow with the number of targets";
}

TEST(HealthState, RegistryChangesNameJustTheTargetsThatChanged) {
  HealthState a(A), b(B);
  b.track_registry_changes();
  for (int i = 0; i < 50; ++i) b.join(a.put_target(HlcTimestamp::make(1, 0), spec("t" + std::to_string(i))));
  EXPECT_EQ(b.take_registry_changes().size(), 50u);
  EXPECT_TRUE(b.take_registry_changes().empty()) << "taken once";
  b.join(a.observe("t3", obs(HealthStatus::healthy, 2, A)));
  EXPECT_TRUE(b.take_registry_changes().empty()) << "observations are not the registry";
  b.join(a.put_target(HlcTimestamp::make(5, 0), spec("t4", "http://127.0.0.1:9001/")));
  b.join(a.remove_target(HlcTimestamp::make(6, 0), "t8"));
  b.join(a.remove_target(HlcTimestamp::make(6, 0), "t8"));
  const std::vector<Name> changed = b.take_registry_changes();
  EXPECT_EQ(std::vector<std::string>(changed.begin(), changed.end()), (std::vector<std::string>{"t4", "t8"}));
  HealthState c(303);  // not tracking: keeps nothing
  c.join(a.put_target(HlcTimestamp::make(6, 0), spec("t5")));
  c.track_registry_changes();
  EXPECT_TRUE(c.take_registry_changes().empty());
}

TEST(HealthState, TargetAddedAnywhereReachesAll) {
  HealthState a(A), b(B);
  b.join(a.put_target(HlcTimestamp::make(1, 0), spec("web")));
  ASSERT_TRUE(b.target("web").has_value());
  EXPECT_EQ(b.target("web")->spec->spec->url.port, 9000);
  EXPECT_EQ(b.target("web")->observation, nullptr);
}

TEST(HealthState, ConcurrentObservationsAreSiblingsResolvedAlikeEverywhere) {
  HealthState a(A), b(B);
  auto reg = a.put_target(HlcTimestamp::make(1, 0), spec("t"));
  b.join(reg);
  // A partition: both sides check the target.
  auto da = a.observe("t", obs(HealthStatus::healthy, 500, A));
  auto db = b.observe("t", obs(HealthStatus::unhealthy, 600, B));
  a.join(db);
  b.join(da);
  const auto ra = *a.target("t");
  const auto rb = *b.target("t");
  EXPECT_EQ(ra.observation_siblings, 2u);
  EXPECT_EQ(*ra.observation, *rb.observation);
  EXPECT_EQ(ra.observation->status, HealthStatus::unhealthy);  // concurrent: the worse one
  // After the heal, A's next observation has seen both and supersedes them.
  b.join(a.observe("t", obs(HealthStatus::healthy, 700, A, 2)));
  EXPECT_EQ(b.target("t")->observation_siblings, 1u);
  EXPECT_EQ(b.target("t")->observation->status, HealthStatus::healthy);
}

TEST(HealthState, ACausallyLaterObservationWinsEvenWithAnOlderTimestamp) {
  // A's clock runs an hour ahead. B, having seen A's observation, writes with
  // an earlier timestamp: causality, not the clock, decides.
  HealthState a(A), b(B);
  b.join(a.put_target(HlcTimestamp::make(1, 0), spec("t")));
  b.join(a.observe("t", obs(HealthStatus::unhealthy, 1'000 + 3'600'000, A)));
  auto later = b.observe("t", obs(HealthStatus::healthy, 1'000, B));
  a.join(later);
  EXPECT_EQ(a.target("t")->observation_siblings, 1u);
  EXPECT_EQ(a.target("t")->observation->status, HealthStatus::healthy);
}

TEST(HealthState, ARemovalDropsObservationsAndLosesToANewerConcurrentPut) {
  HealthState a(A), b(B);
  b.join(a.put_target(HlcTimestamp::make(1, 0), spec("t")));
  b.join(a.observe("t", obs(HealthStatus::healthy, 2, A)));
  auto rm = a.remove_target(HlcTimestamp::make(3, 0), "t");
  EXPECT_FALSE(a.target("t").has_value());
  EXPECT_EQ(a.target_count(), 0u);
  EXPECT_TRUE(a.targets().empty());
  EXPECT_EQ(a.removal_records(), 1u);
  // B concurrently re-registers the target with a new URL, later: it wins.
  auto re = b.put_target(HlcTimestamp::make(4, 0), spec("t", "http://127.0.0.1:9001/"));
  a.join(re);
  b.join(rm);
  ASSERT_TRUE(a.target("t").has_value());
  EXPECT_EQ(a.target("t")->spec->spec->url.port, 9001);
  EXPECT_EQ(a.target("t")->spec_siblings, 2u) << "the removal stays a sibling until a write supersedes it";
  EXPECT_EQ(a.target("t")->observation, nullptr);  // the old observation went with the removal
  EXPECT_EQ(a.removal_records(), 0u);
  EXPECT_EQ(a.target_count(), 1u);
  EXPECT_EQ(a.state(), b.state());
}

// The chaos test's finding (seed 8): a client's put is acknowledged by A,
// then its delete is served by B before B has heard of that put. An
// add-wins registry kept the put (B's removal could not name its dot): the
// acknowledged delete came back. The removal is the newer version: it wins
// wherever the two meet, in either order.
TEST(HealthState, ARemovalWinsOverAnOlderPutItHasNotSeen) {
  HealthState a(A), b(B), c(303);
  const auto v1 = a.put_target(HlcTimestamp::make(1, 0), spec("t"));
  b.join(v1);
  c.join(v1);
  const auto v2 = a.put_target(HlcTimestamp::make(10, 0), spec("t", "http://127.0.0.1:9001/"));  // acked by A
  const auto rm = b.remove_target(HlcTimestamp::make(11, 0), "t");  // B has not seen v2
  a.join(rm);
  b.join(v2);
  c.join(rm);
  c.join(v2);
  for (const HealthState* s : {&a, &b, &c}) {
    EXPECT_FALSE(s->target("t").has_value());
    EXPECT_EQ(s->target_count(), 0u);
    EXPECT_EQ(s->removal_records(), 1u);
  }
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(b.state(), c.state());
  // A put that has seen the removal supersedes it, whatever its clock says.
  const auto again = a.put_target(HlcTimestamp::make(5, 0), spec("t", "http://127.0.0.1:9002/"));
  b.join(again);
  ASSERT_TRUE(b.target("t").has_value());
  EXPECT_EQ(b.target("t")->spec->spec->url.port, 9002);
  EXPECT_EQ(b.target("t")->spec_siblings, 1u);
  EXPECT_EQ(b.removal_records(), 0u);
}

// A removal is collected after its retention; what it held stays in the
// causal context, so a replica still holding the removed versions (it was
// away) loses them instead of bringing them back. Recent removals and live
// targets are left alone.
TEST(HealthState, ExpiredRemovalsAreCollectedAndStayRemoved) {
  HealthState a(A), b(B), away(303);
  for (const char* id : {"old", "new", "kept"}) {
    const auto put = a.put_target(HlcTimestamp::make(1, 0), spec(id));
    b.join(put);
    away.join(put);
  }
  b.join(a.remove_target(HlcTimestamp::make(1'000, 0), "old"));
  b.join(a.remove_target(HlcTimestamp::make(9'000, 0), "new"));
  EXPECT_EQ(b.oldest_removal(), HlcTimestamp::make(1'000, 0));
  EXPECT_TRUE(b.expire_removals(1'000, 10).empty()) << "not before its time";
  const auto gc = b.expire_removals(5'000, 10);
  EXPECT_FALSE(gc.empty());
  EXPECT_EQ(b.removal_records(), 1u);
  EXPECT_EQ(b.oldest_removal(), HlcTimestamp::make(9'000, 0));
  EXPECT_EQ(b.state().registry.store.find("old"), nullptr) << "nothing of it is held";
  EXPECT_NE(b.state().registry.store.find("new"), nullptr);
  EXPECT_TRUE(b.target("kept").has_value());
  EXPECT_EQ(b.target_count(), 1u);
  // The replica that was away still holds "old"'s put: joining either way,
  // it is gone.
  b.join(away.state());
  EXPECT_FALSE(b.target("old").has_value());
  away.join(b.state());
  EXPECT_FALSE(away.target("old").has_value());
  EXPECT_FALSE(away.target("new").has_value());
  a.join(gc);
  EXPECT_EQ(a.state().registry.store.find("old"), nullptr);
  EXPECT_EQ(a.removal_records(), 1u);
  // At most max_removals per call, oldest first.
  EXPECT_TRUE(b.expire_removals(10'000, 0).empty());
}

// A whole state (anti-entropy's, a restored snapshot's) carries a removal
// as a version without a spec; the codec's round trips of random histories
// with removals are in codec_test.cpp.
TEST(HealthState, ARemovalSurvivesTheJoinOfTheWholeState) {
  HealthState a(A), b(B);
  b.join(a.put_target(HlcTimestamp::make(1, 0), spec("t")));
  a.remove_target(HlcTimestamp::make(2, 0), "t");
  b.join(a.state());
  EXPECT_FALSE(b.target("t").has_value());
  EXPECT_EQ(b.removal_records(), 1u);
  EXPECT_EQ(registered_targets(b.state().registry.store), 0u);
}

TEST(HealthState, RestartWithANewReplicaIdNeverReissuesADot) {
  const ReplicaId first = make_replica_id("n1", 1);
  HealthState n1(first), peer(B);
  peer.join(n1.add_to_counter("likes", 5));
  // The agent restarts with empty state. Reusing its replica id would reissue
  // dot (first, 1): the peer has seen it and silently drops the new write.
  HealthState reused(first);
  peer.join(reused.add_to_counter("likes", 1));
  EXPECT_EQ(peer.counter("likes"), 5);  // the increment was lost: the failure mode
  // heck's rule: a restart takes a new replica id (new boot nonce).
  HealthState restarted(make_replica_id("n1", 2));
  peer.join(restarted.add_to_counter("likes", 1));
  EXPECT_EQ(peer.counter("likes"), 6);
}

// The laws for the composed health state (crdt_laws_test.cpp has them for
// each CRDT): every delta is below the state it came from and below the join
// of all states; the deltas of a history joined in any order, with
// duplicates, equal the join of the states.
// A partial state repair (replicator.h) carries an entry without the dots it
// superseded: the receiver then accepts the replica's older total from a
// third agent that missed the newer one, and holds both. The value reads the
// replica's newest total only: 15, not 10 + 15.
TEST(HealthState, ACounterReadsEachReplicasNewestTotalWhenAnOlderOneComesBack) {
  HealthState a(A), b(B), c(303);
  b.join(a.add_to_counter("likes", 10));  // b holds a's total 10
  a.add_to_counter("likes", 5);  // a's total 15 supersedes 10
  // c gets a's state the way a partial repair gives it: the entry, and only
  // the entry's dot in its context.
  ScopeKeys keys;
  keys.counters = {detached_name("likes")};
  c.join_scoped(a.state(), keys, /*adopt_context=*/false);
  EXPECT_EQ(c.counter("likes"), 15);
  c.join(b.state());  // b's older total is not in c's context: it comes back
  const auto* entries = c.state().counters.store.find("likes");
  ASSERT_NE(entries, nullptr);
  EXPECT_EQ(entries->size(), 2u) << "both of a's totals are held";
  EXPECT_EQ(c.counter("likes"), 15);
  // Adds anywhere count once each.
  c.join(c.add_to_counter("likes", 1));
  EXPECT_EQ(c.counter("likes"), 16);
  c.join(a.add_to_counter("likes", 2));
  EXPECT_EQ(c.counter("likes"), 18);
  // The old total lingers (a's delta supersedes only the dots a still
  // holds) until c joins the state of an agent whose context has it.
  EXPECT_EQ(c.state().counters.store.find("likes")->size(), 3u);
  c.join(a.state());
  EXPECT_EQ(c.state().counters.store.find("likes")->size(), 2u) << "a's newest and c's own";
  EXPECT_EQ(c.counter("likes"), 18);
}

TEST(HealthState, CounterAddsThatWouldPassTheInt64RangeAreRefused) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  HealthState a(ReplicaId{1});
  EXPECT_FALSE(a.add_to_counter("c", kMax).empty());
  EXPECT_NE(a.counter_add_problem("c", kMax).value_or("").find("past the int64 maximum"), std::string::npos);
  EXPECT_TRUE(a.add_to_counter("c", kMax).empty());  // refused: was -2 (wrapped)
  EXPECT_TRUE(a.add_to_counter("c", 1).empty());
  EXPECT_EQ(a.counter("c"), kMax);
  EXPECT_FALSE(a.add_to_counter("d", -kMax).empty());
  EXPECT_TRUE(a.add_to_counter("d", -kMax).empty());  // was 2
  EXPECT_FALSE(a.add_to_counter("d", -1).empty());
  EXPECT_EQ(a.counter("d"), kMin);
  EXPECT_TRUE(a.counter_add_problem("d", -1).has_value());
  EXPECT_FALSE(a.counter_add_problem("d", 0).has_value());

  // Concurrent adds that fit alone pass the bound together: the value reads
  // as the bound everywhere, and adds that move back toward it are allowed.
  HealthState b(ReplicaId{2});
  b.join(b.add_to_counter("c", kMax));
  b.join(a.state());
  a.join(b.state());
  EXPECT_EQ(a.counter("c"), kMax);
  EXPECT_EQ(b.counter("c"), kMax);
  EXPECT_TRUE(a.counter_add_problem("c", 1).has_value());
  EXPECT_FALSE(a.add_to_counter("c", kMin).empty());  // back in range: kMax + kMax + kMin
  b.join(a.state());
  EXPECT_EQ(b.counter("c"), kMax - 1);
}

// Any mix of int64 adds at three replicas, joined in any order: every
// accepted add fits where it is made, no total wraps, and the converged value
// is the sum of the accepted adds clamped to the int64 range.
RC_GTEST_PROP(HealthState, CounterValueIsTheClampedSumOfAcceptedAdds, ()) {
  std::vector<HealthState> agents;
  for (std::uint64_t r = 1; r <= 3; ++r) agents.emplace_back(ReplicaId{r});
  CounterWide accepted = 0;
  const auto extreme = rc::gen::element(std::numeric_limits<std::int64_t>::max(),
                                        std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{1});
  const int steps = *rc::gen::inRange(0, 40);
  for (int i = 0; i < steps; ++i) {
    const auto at = static_cast<std::size_t>(*rc::gen::inRange(0, 3));
    if (*rc::gen::inRange(0, 3) == 0) {
      agents[at].join(agents[static_cast<std::size_t>(*rc::gen::inRange(0, 3))].state());
      continue;
    }
    const std::int64_t n = *rc::gen::inRange(0, 2) == 0 ? *extreme : *rc::gen::arbitrary<std::int64_t>();
    const bool refused = agents[at].counter_add_problem("c", n).has_value();
    const HealthDelta d = agents[at].add_to_counter("c", n);
    RC_ASSERT(d.empty() == refused);
    if (!refused) accepted += n;
  }
  for (auto& x : agents) {
    for (auto& y : agents) x.join(y.state());
  }
  const CounterWide lo = std::numeric_limits<std::int64_t>::min();
  const CounterWide hi = std::numeric_limits<std::int64_t>::max();
  const auto expected = static_cast<std::int64_t>(accepted < lo ? lo : accepted > hi ? hi : accepted);
  for (const auto& x : agents) RC_ASSERT(x.counter("c") == expected);
}

RC_GTEST_PROP(HealthState, DeltasAreBelowStatesAndJoinInAnyOrder, ()) {
  const ReplicaId ids[] = {A, B, 303};
  std::vector<HealthState> agents{HealthState(ids[0]), HealthState(ids[1]), HealthState(ids[2])};
  std::vector<HealthDelta> deltas;
  const int steps = *rc::gen::inRange(0, 60);
  for (int i = 0; i < steps; ++i) {
    const int at = *rc::gen::inRange(0, 3);
    HealthState& s = agents[static_cast<std::size_t>(at)];
    const std::string id = "t" + std::to_string(*rc::gen::inRange(0, 4));
    HealthDelta d;
    switch (*rc::gen::inRange(0, 9)) {
      case 0: d = s.put_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 0), spec(id)); break;
      case 1: d = s.remove_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 0), id); break;
      case 2: d = s.observe(id, obs(*rc::gen::element(HealthStatus::healthy, HealthStatus::unhealthy),
                                    static_cast<std::uint64_t>(i), ids[at], static_cast<std::uint64_t>(i))); break;
      case 3: d = s.add_to_counter("likes", *rc::gen::inRange(-5, 5)); break;
      // The likes service: set members and the record of idempotent writes with its GC.
      case 4: d = s.add_to_set("post" + id, "u" + std::to_string(*rc::gen::inRange(0, 3))); break;
      case 5: d = s.remove_from_set("post" + id, "u" + std::to_string(*rc::gen::inRange(0, 3))); break;
      case 6: {
        if (s.first_request("k" + id)) continue;
        AppliedRequest r;
        r.status = 200;
        r.applied_at = HlcTimestamp::make(static_cast<std::uint64_t>(*rc::gen::inRange(0, 100)), 0);
        d = s.record_request("k" + id, r);
        break;
      }
      case 7:
        if (*rc::gen::arbitrary<bool>()) {
          d = s.expire_requests(static_cast<std::uint64_t>(*rc::gen::inRange(0, 60)),
                                static_cast<std::size_t>(*rc::gen::inRange(0, 4)), 2);
        } else {
          d = s.expire_removals(static_cast<std::uint64_t>(*rc::gen::inRange(0, 60)), 2);
        }
        break;
      default:
        if (!deltas.empty()) s.join(deltas[static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, deltas.size()))]);
        continue;
    }
    // Below the state it came from.
    HealthDelta st = s.state();
    st.join(d);
    RC_ASSERT(st == s.state());
    deltas.push_back(d);
  }
  HealthDelta all;
  for (const auto& a : agents) all.join(a.state());
  auto order = deltas;
  const auto dups = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, 1000));
  for (std::size_t k : dups) {
    if (!deltas.empty()) order.push_back(deltas[k % deltas.size()]);
  }
  const auto perm = *rc::gen::container<std::vector<std::uint32_t>>(order.size(), rc::gen::arbitrary<std::uint32_t>());
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[perm[i - 1] % i]);
  HealthDelta replay;
  for (const auto& d : order) {
    HealthDelta below = all;
    below.join(d);
    RC_ASSERT(below == all);
    replay.join(d);
  }
  // Every state is the join of deltas (local ones and those it joined), so
  // replaying all deltas gives the join of the states.
  RC_ASSERT(replay == all);
  // Join is commutative, associative and idempotent on the states.
  auto join = [](HealthDelta p, const HealthDelta& q) {
    p.join(q);
    return p;
  };
  const auto& [x, y, z] = std::tie(agents[0].state(), agents[1].state(), agents[2].state());
  RC_ASSERT(join(x, y) == join(y, x));
  RC_ASSERT(join(join(x, y), z) == join(x, join(y, z)));
  RC_ASSERT(join(x, x) == x);
  // The request record's GC order follows every join: its oldest entry is
  // the minimum over the first answers.
  HealthState joined(999);
  for (const auto& d : order) joined.join(d);
  std::optional<std::uint64_t> oldest;
  for (const auto& [k, fun] : all.requests.store.entries()) {
    const std::uint64_t t = joined.first_request(k)->applied_at.packed;
    oldest = oldest ? std::min(*oldest, t) : t;
  }
  RC_ASSERT(joined.oldest_request().has_value() == oldest.has_value());
  if (oldest) RC_ASSERT(joined.oldest_request()->packed == *oldest);
  // So does the index of removals: a target is live or a removal, never
  // both, and the oldest removal is the minimum over them.
  std::size_t removed = 0;
  std::optional<std::uint64_t> oldest_removal;
  for (const auto& [k, fun] : all.registry.store.entries()) {
    const SpecVersion* w = winning_version(fun);
    RC_ASSERT(joined.target(k).has_value() == (w->spec != nullptr));
    if (w->spec) continue;
    ++removed;
    oldest_removal = oldest_removal ? std::min(*oldest_removal, w->written_at.packed) : w->written_at.packed;
  }
  RC_ASSERT(joined.removal_records() == removed);
  RC_ASSERT(joined.target_count() == joined.targets().size());
  RC_ASSERT(joined.target_count() + removed == all.registry.store.size());
  RC_ASSERT(joined.oldest_removal().has_value() == oldest_removal.has_value());
  if (oldest_removal) RC_ASSERT(joined.oldest_removal()->packed == *oldest_removal);
}

// Random schedules over three agents: mutations, deltas that are dropped,
// duplicated or delivered late, then a full exchange of states (anti-entropy's
// end point): every agent holds the same state and gives the same answers.
RC_GTEST_PROP(HealthState, RandomSchedulesConverge, ()) {
  const ReplicaId ids[] = {A, B, 303};
  std::vector<HealthState> agents{HealthState(ids[0]), HealthState(ids[1]), HealthState(ids[2])};
  std::vector<std::pair<int, HealthDelta>> in_flight;  // (destination, delta)
  std::int64_t likes = 0;
  const int steps = *rc::gen::inRange(0, 80);
  for (int i = 0; i < steps; ++i) {
    const int at = *rc::gen::inRange(0, 3);
    const int op = *rc::gen::inRange(0, 6);
    const std::string id = "t" + std::to_string(*rc::gen::inRange(0, 4));
    HealthState& s = agents[static_cast<std::size_t>(at)];
    HealthDelta d;
    switch (op) {
      case 0: d = s.put_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 0), spec(id)); break;
      case 1: d = s.remove_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 0), id); break;
      case 2:
      case 3: {
        const auto st = *rc::gen::element(HealthStatus::healthy, HealthStatus::unhealthy);
        d = s.observe(id, obs(st, static_cast<std::uint64_t>(*rc::gen::inRange(0, 50)), ids[at],
                              static_cast<std::uint64_t>(i)));
        break;
      }
      case 4: {
        const int n = *rc::gen::inRange(-3, 10);
        likes += n;
        d = s.add_to_counter("likes", n);
        break;
      }
      default:
        // Deliver, drop or duplicate something in flight.
        if (!in_flight.empty()) {
          const auto k = static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, in_flight.size()));
          const int fate = *rc::gen::inRange(0, 3);  // 0 drop, 1 deliver, 2 deliver and keep (dup)
          if (fate > 0) agents[static_cast<std::size_t>(in_flight[k].first)].join(in_flight[k].second);
          if (fate < 2) in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(k));
        }
        continue;
    }
    for (int to = 0; to < 3; ++to) {
      if (to != at) in_flight.emplace_back(to, d);
    }
  }
  // Anti-entropy: every agent joins every other's state.
  for (int round = 0; round < 2; ++round) {
    for (auto& x : agents) {
      for (auto& y : agents) x.join(y.state());
    }
  }
  for (auto& x : agents) {
    RC_ASSERT(x.state() == agents[0].state());
    RC_ASSERT(x.counter("likes") == likes);
    const auto mine = x.targets();
    const auto theirs = agents[0].targets();
    RC_ASSERT(mine.size() == theirs.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      RC_ASSERT(mine[i].first == theirs[i].first);
      RC_ASSERT(*mine[i].second.spec == *theirs[i].second.spec);
      RC_ASSERT((mine[i].second.observation == nullptr) == (theirs[i].second.observation == nullptr));
      if (mine[i].second.observation) RC_ASSERT(*mine[i].second.observation == *theirs[i].second.observation);
    }
  }
}

}  // namespace
}  // namespace heck
