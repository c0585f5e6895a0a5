// The confirmation rule and the freshness facts of core/cluster/target_view.h.
#include "core/cluster/target_view.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace heck {
namespace {

Observation vote(HealthStatus s, const std::string& who, std::uint64_t wall_ms = 1000) {
  Observation o;
  o.status = s;
  o.observer_name = detached_name(who);
  o.observer = std::hash<std::string>{}(who) | 1;
  o.observed_at = HlcTimestamp::make(wall_ms, 0);
  return o;
}

TEST(ResolveVotes, AnyUnhealthyVoteWinsWithQuorumOne) {
  std::size_t bad = 0, good = 0;
  EXPECT_EQ(resolve_votes({vote(HealthStatus::healthy, "a"), vote(HealthStatus::unhealthy, "b")}, 1, &bad, &good),
            HealthStatus::unhealthy);
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(good, 1u);
}

TEST(ResolveVotes, QuorumNeedsThatManyUnhealthyVotes) {
  const std::vector<Observation> one_bad{vote(HealthStatus::unhealthy, "a"), vote(HealthStatus::healthy, "b"),
                                         vote(HealthStatus::healthy, "c")};
  EXPECT_EQ(resolve_votes(one_bad, 2, nullptr, nullptr), HealthStatus::healthy);
  auto two_bad = one_bad;
  two_bad[1].status = HealthStatus::unhealthy;
  EXPECT_EQ(resolve_votes(two_bad, 2, nullptr, nullptr), HealthStatus::unhealthy);
}

TEST(ResolveVotes, NoVotesOrOnlyUnknownIsUnknown) {
  EXPECT_EQ(resolve_votes({}, 1, nullptr, nullptr), HealthStatus::unknown);
  EXPECT_EQ(resolve_votes({vote(HealthStatus::unknown, "a")}, 1, nullptr, nullptr), HealthStatus::unknown);
  // Below quorum, one unhealthy and one unknown vote: nobody says healthy.
  EXPECT_EQ(resolve_votes({vote(HealthStatus::unhealthy, "a"), vote(HealthStatus::unknown, "b")}, 2, nullptr, nullptr),
            HealthStatus::unknown);
}

class TargetViewTest : public ::testing::Test {
 protected:
  TargetViewTest() : state_(7) {
    auto spec = TargetSpec::from_json(nlohmann::json{
        {"id", "web"}, {"url", "http://127.0.0.1:9/"}, {"interval_ms", 1000}, {"timeout_ms", 500}, {"checkers", 2}, {"quorum", 1}});
    EXPECT_TRUE(spec.ok());
    state_.put_target(HlcTimestamp::make(500, 0), *spec);
  }
  HealthState state_;
  TargetViewRules rules_{Duration::seconds(30), 3};
};

TEST_F(TargetViewTest, MissingTargetHasNoView) {
  EXPECT_FALSE(make_target_view(state_, "nope", {"a"}, 2, false, Instant::from_ns(0), rules_));
}

TEST_F(TargetViewTest, OwnersThenBoundedFallbacks) {
  auto v = make_target_view(state_, "web", {"a", "b", "c", "d", "e"}, 2, true, Instant::from_ns(0), rules_);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->owners, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v->fallbacks, (std::vector<std::string>{"c", "d"}));
  EXPECT_TRUE(v->checked_here);
  EXPECT_EQ(v->status, HealthStatus::unknown);
  EXPECT_FALSE(v->newest);
  auto few = make_target_view(state_, "web", {"a"}, 2, false, Instant::from_ns(0), rules_);
  EXPECT_EQ(few->owners, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(few->fallbacks.empty());
}

TEST_F(TargetViewTest, AgeAndStaleComeFromTheNewestObservation) {
  state_.observe("web", vote(HealthStatus::healthy, "a", 10'000));
  const Instant now = Instant::from_ns(0) + Duration::milliseconds(12'500);
  auto v = make_target_view(state_, "web", {"a", "b"}, 2, false, now, rules_);
  ASSERT_TRUE(v && v->newest && v->age);
  EXPECT_EQ(v->age->ms(), 2'500);
  EXPECT_FALSE(v->stale);
  // 30 s refresh + 3 x 1 s interval: stale after 33 s without a report.
  auto later = make_target_view(state_, "web", {"a", "b"}, 2, false, now + Duration::seconds(31), rules_);
  EXPECT_TRUE(later->stale);
  // An observer clock ahead of ours gives age 0, never negative.
  auto early = make_target_view(state_, "web", {"a", "b"}, 2, false, Instant::from_ns(0), rules_);
  EXPECT_EQ(early->age->ns(), 0);
}

// A current owner's vouch renews its observations; a vouch renews nothing of
// a member that no longer owns the target, nor of another replica (an
// earlier run of the member).
TEST_F(TargetViewTest, AnOwnersVouchRenewsItsObservations) {
  state_.observe("web", vote(HealthStatus::healthy, "a", 10'000));
  const Instant now = Instant::from_ns(0) + Duration::seconds(60);
  EXPECT_TRUE(make_target_view(state_, "web", {"a", "b"}, 2, false, now, rules_)->stale);
  Observation vouch = vote(HealthStatus::unknown, "a", 55'000);
  state_.observe(vouch_subject("a"), vouch);
  auto v = make_target_view(state_, "web", {"a", "b"}, 2, false, now, rules_);
  ASSERT_TRUE(v && v->age && v->reported_at);
  EXPECT_FALSE(v->stale);
  EXPECT_EQ(v->age->ms(), 5'000);
  EXPECT_EQ(v->newest->observed_at, HlcTimestamp::make(10'000, 0));  // the observation itself is unchanged
  // "a" is not an owner in this view (checkers = 2: c, b): its vouch does not count.
  EXPECT_TRUE(make_target_view(state_, "web", {"c", "b", "a"}, 2, false, now, rules_)->stale);
  // A vouch by another replica of "a" does not renew the old replica's observation.
  Observation other_run = vouch;
  other_run.observer ^= 2;
  other_run.observed_at = HlcTimestamp::make(58'000, 0);
  state_.observe(vouch_subject("a"), other_run);
  EXPECT_TRUE(make_target_view(state_, "web", {"a", "b"}, 2, false, now, rules_)->stale);
}

TEST_F(TargetViewTest, ATargetNobodyReportsOnBecomesStale) {
  EXPECT_FALSE(make_target_view(state_, "web", {"a"}, 2, false, Instant::from_ns(0) + Duration::seconds(10), rules_)
                   ->stale);
  EXPECT_TRUE(make_target_view(state_, "web", {"a"}, 2, false, Instant::from_ns(0) + Duration::seconds(40), rules_)
                  ->stale);
}

TEST_F(TargetViewTest, KeptVotesStayAsSiblings) {
  state_.observe("web", vote(HealthStatus::healthy, "a", 1000));
  // Another replica's vote, kept by the next write of ours.
  HealthState other(9);
  other.join(state_.state());
  other.observe("web", vote(HealthStatus::unhealthy, "b", 1100),
                [](const Observation& o) { return o.observer_name == "a"; });
  auto v = make_target_view(other, "web", {"a", "b"}, 2, false, Instant::from_ns(0), rules_);
  ASSERT_EQ(v->observations.size(), 2u);
  EXPECT_EQ(v->observations.front().status, HealthStatus::unhealthy) << "best first";
  EXPECT_EQ(v->status, HealthStatus::unhealthy);
  EXPECT_EQ(v->newest->observer_name, "b");
  // Without keep, the write supersedes both.
  other.observe("web", vote(HealthStatus::healthy, "b", 1200));
  EXPECT_EQ(make_target_view(other, "web", {"a", "b"}, 2, false, Instant::from_ns(0), rules_)->observations.size(), 1u);
}

TEST(ResolveVotes, OneVotePerMemberItsNewest) {
  // A restarted member (a new replica id, same name) whose first result is
  // concurrent with its old incarnation's observation: the newer decides.
  Observation before = vote(HealthStatus::unhealthy, "a", 1000);
  Observation after = vote(HealthStatus::healthy, "a", 2000);
  after.observer = before.observer + 2;
  std::size_t bad = 9, good = 9;
  EXPECT_EQ(resolve_votes({before, after}, 1, &bad, &good), HealthStatus::healthy);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(good, 1u);
  EXPECT_TRUE(outvoted(before, {before, after}));
  // Two unhealthy observations of one member are one vote, short of quorum 2.
  after.status = HealthStatus::unhealthy;
  EXPECT_EQ(resolve_votes({before, after, vote(HealthStatus::healthy, "b")}, 2, &bad, &good), HealthStatus::healthy);
  EXPECT_EQ(bad, 1u);
  // Other members still vote each.
  EXPECT_EQ(resolve_votes({before, after, vote(HealthStatus::unhealthy, "b")}, 2, &bad, &good), HealthStatus::unhealthy);
}

// The siblings as the replicated state holds them give the same answer as
// a copy of them (ClusterNode::target_status reads them in place).
TEST(ResolveVotes, OverTheReplicatedSiblingsAsOverACopy) {
  Observation before = vote(HealthStatus::unhealthy, "a", 1000);
  Observation after = vote(HealthStatus::healthy, "a", 2000);
  after.observer = before.observer + 2;
  const std::vector<std::vector<Observation>> cases{
      {},
      {vote(HealthStatus::unknown, "a")},
      {vote(HealthStatus::healthy, "a"), vote(HealthStatus::unhealthy, "b")},
      {vote(HealthStatus::unhealthy, "a"), vote(HealthStatus::unhealthy, "b"), vote(HealthStatus::healthy, "c")},
      {before, after},
      {before, after, vote(HealthStatus::unhealthy, "b")},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    DotFun<Observation> siblings;
    for (std::size_t k = 0; k < cases[i].size(); ++k) siblings.insert(Dot{7, k + 1}, cases[i][k]);
    for (int quorum : {1, 2, 3}) {
      EXPECT_EQ(resolve_votes(siblings, quorum), resolve_votes(cases[i], quorum, nullptr, nullptr))
          << "case " << i << ", quorum " << quorum;
    }
  }
}

TEST_F(TargetViewTest, ARestartedOwnersNewResultOutvotesItsOldIncarnation) {
  // The old incarnation's observation reached this agent; the new one wrote
  // without having seen it (a restart loses observations): both are siblings.
  HealthState old_incarnation(11);
  old_incarnation.join(state_.state());
  old_incarnation.observe("web", vote(HealthStatus::unhealthy, "a", 1000));
  HealthState new_incarnation(12);
  new_incarnation.join(state_.state());
  Observation fresh = vote(HealthStatus::healthy, "a", 5000);
  fresh.observer = 12;
  new_incarnation.observe("web", fresh);
  state_.join(old_incarnation.state());
  state_.join(new_incarnation.state());
  auto v = make_target_view(state_, "web", {"a", "b"}, 2, false, Instant::from_ns(0), rules_);
  ASSERT_EQ(v->observations.size(), 2u) << "both stay as siblings until superseded";
  EXPECT_EQ(v->status, HealthStatus::healthy);
  EXPECT_EQ(v->unhealthy_votes, 0u);
  EXPECT_EQ(v->observations.front().status, HealthStatus::healthy) << "the vote first, the outvoted one after";
  EXPECT_EQ(v->observations.back().status, HealthStatus::unhealthy);
}

}  // namespace
}  // namespace heck
