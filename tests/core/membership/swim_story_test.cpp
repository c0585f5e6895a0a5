// Scripted protocol stories over the in-memory test network.
#include <gtest/gtest.h>

#include "tests/core/membership/test_network.h"

namespace heck {
namespace {

using testing::TestNetwork;
using testing::carries;
using wire::PartType;

const std::vector<std::string> kFive = {"a", "b", "c", "d", "e"};

// Starts `names` (the first is the seed) and runs until everyone sees
// everyone alive.
void form_cluster(TestNetwork& net, const std::vector<std::string>& names) {
  net.start(names.front());
  for (std::size_t i = 1; i < names.size(); ++i) net.start(names[i], {names.front()});
  ASSERT_TRUE(net.run_for(Duration::seconds(30), [&] { return net.all_see(names, MemberState::alive); }))
      << "cluster did not form";
}

TEST(SwimStory, ClusterFormsThroughOneSeedAndStaysQuiet) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.run_for(Duration::seconds(60));
  EXPECT_TRUE(net.all_see(kFive, MemberState::alive));
  for (const auto& n : kFive) {
    EXPECT_FALSE(net.ever(n, MemberState::suspect)) << n;
    EXPECT_EQ(net.swim(n).incarnation(), 0u) << n;
    EXPECT_TRUE(net.swim(n).joined());
    EXPECT_EQ(net.swim(n).health_multiplier(), 1u);
    EXPECT_GT(net.swim(n).counters().probes, 40u);
  }
  EXPECT_LE(net.max_datagram_bytes_seen, SwimConfig{}.max_packet_bytes);
}

// SWIM 3.1: a lost direct ack is covered by the indirect probe.
TEST(SwimStory, AckLostIndirectAckArrivesNoSuspicion) {
  TestNetwork net;
  form_cluster(net, kFive);
  // a and b cannot talk directly (in either direction); everyone else can.
  net.drop = [](const std::string& from, const std::string& to, const Send&) {
    return (from == "a" && to == "b") || (from == "b" && to == "a");
  };
  net.run_for(Duration::seconds(60));
  EXPECT_FALSE(net.ever("a", MemberState::suspect));
  EXPECT_FALSE(net.ever("b", MemberState::suspect));
  EXPECT_TRUE(net.all_see(kFive, MemberState::alive));
  EXPECT_GT(net.swim("a").counters().ping_reqs_sent, 0u);
  EXPECT_GT(net.swim("c").counters().relays + net.swim("d").counters().relays +
                net.swim("e").counters().relays,
            0u);
}

// The same cut plus the relays' path to b: now b must be suspected (the
// story above can fail).
TEST(SwimStory, AckLostAndIndirectPathsCutGivesSuspicion) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.drop = [](const std::string& from, const std::string& to, const Send& s) {
    if (to != "b") return false;
    return from == "a" || carries(s, PartType::ping);  // relayed pings to b are lost too
  };
  net.run_for(Duration::seconds(10), [&] { return net.ever("b", MemberState::suspect); });
  EXPECT_TRUE(net.ever("b", MemberState::suspect));
}

// SWIM 4.2 + Lifeguard 4.3 (buddy system): a suspect hears of its suspicion
// and refutes with a higher incarnation; nobody declares it dead.
TEST(SwimStory, SuspectedMemberRefutes) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.drop = [](const std::string&, const std::string& to, const Send&) { return to == "c"; };
  ASSERT_TRUE(net.run_for(Duration::seconds(20), [&] { return net.ever("c", MemberState::suspect); }));
  net.drop = nullptr;
  net.run_for(Duration::seconds(60));
  EXPECT_FALSE(net.ever("c", MemberState::dead));
  EXPECT_TRUE(net.all_see(kFive, MemberState::alive));
  EXPECT_GE(net.swim("c").incarnation(), 1u);
  EXPECT_GE(net.swim("c").counters().refutes, 1u);
  for (const auto& n : kFive) EXPECT_EQ(net.swim(n).member("c")->incarnation, net.swim("c").incarnation());
}

// SWIM 4.2, Lifeguard 4.1: a crashed member is declared dead by every
// survivor within (a full probe round) + (maximal suspicion timeout) +
// (dissemination), and no live member is suspected.
TEST(SwimStory, CrashedMemberDeclaredDeadByAllWithinTheSuspicionBound) {
  SwimConfig cfg;
  TestNetwork net(cfg, 7);
  form_cluster(net, kFive);
  net.run_for(Duration::seconds(5));
  const Instant crash_at = net.now();
  net.crash("e");
  const std::vector<std::string> survivors = {"a", "b", "c", "d"};
  const SuspicionBounds b = suspicion_bounds(cfg.suspicion_mult, cfg.max_suspicion_timeout_mult, 5,
                                             cfg.probe_interval, true);
  const Duration bound = cfg.probe_interval * 2 * 5 + b.max + Duration::seconds(2);
  ASSERT_TRUE(net.run_for(bound, [&] {
    for (const auto& s : survivors) {
      if (net.swim(s).member("e")->state != MemberState::dead) return false;
    }
    return true;
  })) << "not every survivor declared e dead within " << bound.ms() << " ms";
  for (const auto& s : survivors) {
    auto t = net.first_time(s, "e", MemberState::dead);
    ASSERT_TRUE(t.has_value());
    EXPECT_LE(*t - crash_at, bound);
    EXPECT_FALSE(net.ever(s, MemberState::suspect)) << s << " was suspected";
  }
  // Confirmations from several members shorten the timeout below its maximum.
  std::uint64_t confirmations = 0;
  for (const auto& s : survivors) confirmations += net.swim(s).counters().confirmations;
  EXPECT_GT(confirmations, 0u);
}

// Plain SWIM (Lifeguard off): the suspicion timeout is fixed at its minimum.
TEST(SwimStory, PlainSwimDeclaresDeadAfterTheMinimumTimeout) {
  SwimConfig cfg;
  cfg.lifeguard = false;
  TestNetwork net(cfg, 3);
  form_cluster(net, kFive);
  net.crash("e");
  net.run_for(Duration::seconds(40));
  EXPECT_TRUE(net.all_see({"e"}, MemberState::dead));
  for (const auto& s : {"a", "b", "c", "d"}) {
    auto sus = net.first_time(s, "e", MemberState::suspect);
    auto dead = net.first_time(s, "e", MemberState::dead);
    ASSERT_TRUE(dead.has_value());
    if (sus && net.swim(s).counters().deaths_declared > 0) {
      EXPECT_EQ(*dead - *sus, Duration::seconds(4)) << s;  // 4 * max(1, log10 5) * 1 s
    }
    EXPECT_EQ(net.swim(s).counters().nacks_sent, 0u);
    EXPECT_EQ(net.swim(s).health_multiplier(), 1u);
  }
}

TEST(SwimStory, JoinViaADeadSeedThenALiveOne) {
  TestNetwork net;
  // "ghost" never runs; "a" starts 5 s after "x" began trying.
  net.start("x", {"ghost", "a"});
  net.run_for(Duration::seconds(5));
  EXPECT_FALSE(net.swim("x").joined());
  EXPECT_GE(net.swim("x").counters().join_attempts, 3u);  // backoff 1 s, 2 s, ...
  net.start("a");
  ASSERT_TRUE(net.run_for(Duration::seconds(60), [&] { return net.swim("x").joined(); }));
  net.run_for(Duration::seconds(5));
  EXPECT_TRUE(net.all_see({"a", "x"}, MemberState::alive));
  EXPECT_EQ(net.swim("x").member("ghost"), nullptr);
}

TEST(SwimStory, JoinRetriesBackOffUpToTheMaximum) {
  SwimConfig cfg;
  TestNetwork net(cfg);
  net.start("x", {"ghost"});
  net.run_for(Duration::seconds(300));
  const auto attempts = net.swim("x").counters().join_attempts;
  // 1+2+4+8+16 s, then at most one attempt per 15-30 s.
  EXPECT_GE(attempts, 10u);
  EXPECT_LE(attempts, 6u + 285 / 15 + 1);
}

TEST(SwimStory, GracefulLeaveShowsLeftNotDead) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.leave("d");
  EXPECT_EQ(net.swim("d").member("d")->state, MemberState::left);
  net.run_for(Duration::seconds(2));
  net.crash("d");  // the process exits after its leave drained
  net.run_for(Duration::seconds(60));
  for (const auto& s : {"a", "b", "c", "e"}) {
    EXPECT_EQ(net.swim(s).member("d")->state, MemberState::left) << s;
  }
  EXPECT_FALSE(net.ever("d", MemberState::dead));
  EXPECT_FALSE(net.ever("d", MemberState::suspect));
}

TEST(SwimStory, RestartRejoinsWithHigherIncarnation) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.crash("b");
  ASSERT_TRUE(net.run_for(Duration::seconds(60), [&] { return net.all_see({"b"}, MemberState::dead); }));
  const std::uint64_t dead_inc = net.swim("a").member("b")->incarnation;
  net.start("b", {"c"});  // fresh process, incarnation 0, state lost
  ASSERT_TRUE(net.run_for(Duration::seconds(30), [&] { return net.all_see(kFive, MemberState::alive); }));
  EXPECT_GT(net.swim("b").incarnation(), dead_inc);
  EXPECT_GE(net.swim("b").counters().refutes, 1u);
  for (const auto& n : kFive) EXPECT_EQ(net.swim(n).member("b")->incarnation, net.swim("b").incarnation());
  net.run_for(Duration::seconds(30));
  EXPECT_TRUE(net.all_see(kFive, MemberState::alive));
}

// Lifeguard 4.2: intermediaries nack when the target stays silent, and a
// prober whose ping-reqs get no nacks (it is the one cut off) raises its
// awareness score; successful probes bring it back down.
TEST(SwimStory, NacksAndLocalHealthAwareness) {
  TestNetwork net;
  form_cluster(net, kFive);
  net.crash("e");
  net.run_for(Duration::seconds(8));
  std::uint64_t nacks = 0;
  for (const auto& s : {"a", "b", "c", "d"}) nacks += net.swim(s).counters().nacks_sent;
  EXPECT_GT(nacks, 0u);
  for (const auto& s : {"a", "b", "c", "d"}) EXPECT_EQ(net.swim(s).health_multiplier(), 1u) << s;

  // Now "a" hears nothing at all: its probes fail without nacks.
  net.drop = [](const std::string&, const std::string& to, const Send&) { return to == "a"; };
  net.run_for(Duration::seconds(10));
  EXPECT_GT(net.swim("a").health_multiplier(), 2u);
  EXPECT_LE(net.swim("a").health_multiplier(), SwimConfig{}.max_awareness_multiplier);
  net.drop = nullptr;
  net.run_for(Duration::seconds(120));
  EXPECT_EQ(net.swim("a").health_multiplier(), 1u);
}

TEST(SwimStory, PingsToASuspectCarryTheSuspicion) {
  TestNetwork net;
  form_cluster(net, kFive);
  bool buddy_seen = false;
  net.drop = [&](const std::string&, const std::string& to, const Send& s) {
    if (to != "c") return false;
    if (carries(s, PartType::ping) && carries(s, PartType::suspect)) buddy_seen = true;
    return !buddy_seen;  // c hears nothing until a buddy ping arrives
  };
  net.run_for(Duration::seconds(60));
  EXPECT_TRUE(buddy_seen);
  EXPECT_FALSE(net.ever("c", MemberState::dead));
  EXPECT_GE(net.swim("c").incarnation(), 1u);
}

// Both sides of a symmetric partition declare the other dead; after the
// heal, reconnect push-pulls make them refute and the view converges.
TEST(SwimStory, SymmetricPartitionThenHealConverges) {
  for (const bool reconnect : {true, false}) {
    SCOPED_TRACE(reconnect ? "reconnect on" : "reconnect off");
    SwimConfig cfg;
    cfg.reconnect_dead = reconnect;
    TestNetwork net(cfg, 11);
    form_cluster(net, kFive);
    auto side = [](const std::string& n) { return n == "a" || n == "b" || n == "c"; };
    net.drop = [&](const std::string& from, const std::string& to, const Send&) {
      return side(from) != side(to);
    };
    ASSERT_TRUE(net.run_for(Duration::seconds(120), [&] {
      return net.swim("a").member("d")->state == MemberState::dead &&
             net.swim("d").member("a")->state == MemberState::dead;
    }));
    net.run_for(Duration::seconds(30));
    net.drop = nullptr;
    const bool healed =
        net.run_for(Duration::seconds(300), [&] { return net.all_see(kFive, MemberState::alive); });
    EXPECT_EQ(healed, reconnect);
    if (reconnect) {
      std::uint64_t reconnects = 0;
      for (const auto& n : kFive) reconnects += net.swim(n).counters().reconnects;
      EXPECT_GT(reconnects, 0u);
    }
  }
}

// Reconnect tries have their own cadence: with push-pull every 10 minutes,
// a healed partition still converges within a few reconnect intervals.
TEST(SwimStory, ReconnectRunsOnItsOwnIntervalNotPushPulls) {
  SwimConfig cfg;
  cfg.push_pull_interval = Duration::seconds(600);
  cfg.reconnect_interval = Duration::seconds(5);
  TestNetwork net(cfg, 12);
  form_cluster(net, kFive);
  auto side = [](const std::string& n) { return n == "a" || n == "b" || n == "c"; };
  net.drop = [&](const std::string& from, const std::string& to, const Send&) { return side(from) != side(to); };
  ASSERT_TRUE(net.run_for(Duration::seconds(120), [&] {
    return net.swim("a").member("d")->state == MemberState::dead &&
           net.swim("d").member("a")->state == MemberState::dead;
  }));
  net.run_for(cfg.gossip_to_the_dead + Duration::seconds(5));  // no more gossip to the dead: only reconnect heals
  net.drop = nullptr;
  EXPECT_TRUE(net.run_for(Duration::seconds(60), [&] { return net.all_see(kFive, MemberState::alive); }))
      << "a dead member is tried every reconnect_interval, not every push_pull_interval";
}

// Lifeguard's case: a member frozen for 2x and 10x the probe timeout
// resumes with a backlog. It is suspected at most, refutes, and is never
// declared dead; nor does it declare anyone else dead.
TEST(SwimStory, PausedMemberResumesAndIsNotDeclaredDead) {
  for (const int factor : {2, 10}) {
    SCOPED_TRACE(factor);
    TestNetwork net(SwimConfig{}, 5 + factor);
    form_cluster(net, kFive);
    net.run_for(Duration::seconds(3));
    net.pause("c");
    net.run_for(SwimConfig{}.probe_timeout * factor);
    net.resume("c");
    net.run_for(Duration::seconds(60));
    EXPECT_FALSE(net.ever("c", MemberState::dead));
    if (factor == 10) EXPECT_TRUE(net.ever("c", MemberState::suspect));  // the path was exercised
    for (const auto& n : kFive) {
      if (n != "c") EXPECT_FALSE(net.first_time("c", n, MemberState::dead).has_value()) << n;
    }
    EXPECT_TRUE(net.all_see(kFive, MemberState::alive));
  }
}

TEST(SwimStory, SameSeedSameTrace) {
  auto run = [] {
    TestNetwork net(SwimConfig{}, 42);
    form_cluster(net, kFive);
    net.crash("c");
    net.run_for(Duration::seconds(40));
    return net.trace();
  };
  EXPECT_EQ(run(), run());
}

TEST(SwimStory, DeadMembersAreReapedAfterTheirTime) {
  SwimConfig cfg;
  cfg.dead_reap_after = Duration::seconds(60);
  TestNetwork net(cfg);
  form_cluster(net, {"a", "b", "c"});
  net.crash("c");
  ASSERT_TRUE(net.run_for(Duration::seconds(60), [&] { return net.all_see({"c"}, MemberState::dead); }));
  net.run_for(Duration::seconds(30));
  EXPECT_NE(net.swim("a").member("c"), nullptr);
  net.run_for(Duration::seconds(60));
  EXPECT_EQ(net.swim("a").member("c"), nullptr);
  EXPECT_EQ(net.swim("b").member("c"), nullptr);
  EXPECT_EQ(net.swim("a").members().size(), 2u);
}

}  // namespace
}  // namespace heck
