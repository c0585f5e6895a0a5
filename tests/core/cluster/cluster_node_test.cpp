// ClusterNode end to end in a tiny deterministic loop: nodes exchange their
// Send effects with a fixed 2 ms latency, checks answer from a truth table.
// The full fault model lives in sim/; these tests pin the composition:
// joining, ownership (exactly one checker per target), takeover after a crash,
// registry writes from any agent, the replicated counter.
#include "core/cluster/cluster_node.h"
#include "core/replicated/snapshot.h"
#include "core/timer_table.h"
#include "core/wire/envelope.h"
#include "core/wire/msgpack_writer.h"

#include <map>
#include <memory>
#include <set>
#include <type_traits>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace heck {
namespace {

TargetSpec target(const std::string& id) {
  auto spec = TargetSpec::from_json(nlohmann::json{
      {"id", id}, {"url", "http://127.0.0.1:9/" + id}, {"interval_ms", 1000}, {"timeout_ms", 500},
      {"rise", 1}, {"fall", 1}});
  EXPECT_TRUE(spec.ok());
  return *spec;
}

class TestCluster {
 public:
  explicit TestCluster(int n, std::vector<TargetSpec> targets = {}) {
    for (int i = 0; i < n; ++i) add_node(i == 0 ? targets : std::vector<TargetSpec>{});
  }

  // Starts node n<size()> now, joining through n0, writing packets in
  // `wire_format`.
  void add_node(std::vector<TargetSpec> targets = {}, std::uint64_t wire_format = wire::kFormatVersion) {
    const int i = size();
    ClusterNodeConfig c;
    c.name = fmt::format("n{}", i);
    c.address = fmt::format("n{}:7946", i);
    if (i > 0) c.seeds = {"n0:7946"};
    c.swim.probe_interval = Duration::milliseconds(200);
    c.swim.probe_timeout = Duration::milliseconds(100);
    c.swim.gossip_interval = Duration::milliseconds(50);
    c.swim.push_pull_interval = Duration::seconds(5);
    c.replication.anti_entropy_interval = Duration::milliseconds(500);
    c.latency_handoff_interval = Duration::seconds(10);
    c.targets = std::move(targets);
    c.wire_format = wire_format;
    nodes_.push_back(std::make_unique<ClusterNode>(std::move(c), 100 + i));
    Effects out;
    nodes_.back()->start(now_, out);
    apply(i, out);
  }

  // Runs every queued input and due timer up to now + d, in time order (an
  // input before a timer at the same instant; nodes by index).
  void run_for(Duration d) {
    const Instant end = now_ + d;
    for (;;) {
      int timer_node = -1;
      Instant timer_at = Instant::max();
      for (int i = 0; i < size(); ++i) {
        const auto at = timers_[i].next_deadline();
        if (nodes_[i] && at && *at < timer_at) timer_at = *at, timer_node = i;
      }
      const bool input_first = !queue_.empty() && queue_.begin()->first.first <= timer_at;
      if (!input_first && timer_node < 0) break;
      const Instant at = input_first ? queue_.begin()->first.first : timer_at;
      if (at > end) break;
      now_ = std::max(now_, at);  // a timer armed in the past fires now
      if (input_first) {
        auto it = queue_.begin();
        Event e = std::move(it->second);
        queue_.erase(it);
        if (nodes_[e.node]) step(e.node, e.input);
      } else {
        step(timer_node, TimerFired{*timers_[timer_node].pop_due(now_)});
      }
    }
    now_ = end;
  }

  void step(int node, const ClusterInput& in) {
    Effects out;
    nodes_[node]->step(now_, in, out);
    apply(node, out);
  }

  // Moves node i into new storage (a move constructor) and frees the old
  // object; the cluster keeps stepping the moved node.
  void move_node(int node) {
    auto moved = std::make_unique<ClusterNode>(std::move(*nodes_[node]));
    nodes_[node] = std::move(moved);
  }

  void crash(int node) {
    nodes_[node].reset();
    timers_[node].clear();
  }

  ClusterNode& node(int i) { return *nodes_[i]; }
  bool alive(int i) const { return nodes_[i] != nullptr; }
  int size() const { return static_cast<int>(nodes_.size()); }
  Instant now() const { return now_; }
  std::map<std::string, bool> healthy;  // truth per target id; default healthy
  std::set<std::pair<std::string, int>> fails_for;  // (target, node): that node sees it fail
  std::map<std::string, std::set<int>> checked_by;  // who started checks, per target
  std::vector<std::pair<int, AlertNotification>> notified;  // (sender, notification), in order
  std::set<int> format1_only;  // nodes that drop packets not in format 1 (an older build)
  int unreadable = 0;          // packets they dropped

 private:
  struct Event {
    int node;
    ClusterInput input;
  };

  void push(Instant at, Event e) { queue_.emplace(std::make_pair(at, seq_++), std::move(e)); }

  void apply(int node, Effects& out) {
    if (timers_.size() <= static_cast<std::size_t>(node)) timers_.resize(static_cast<std::size_t>(node) + 1);
    apply_effects(timers_[static_cast<std::size_t>(node)], out, [&](Effect& e) {
      if (auto* s = std::get_if<Send>(&e)) {
        const int to = std::stoi(s->to.substr(1, s->to.find(':') - 1));
        // A node of a build before format 2 reads format 1 only: [1, ...].
        if (format1_only.contains(to) && !(s->bytes.size() > 1 && s->bytes.data()[1] == 0x01)) {
          ++unreadable;
          return;
        }
        push(now_ + Duration::milliseconds(2),
             Event{to, Packet{nodes_[node]->config().address, s->channel, std::move(s->bytes)}});
      } else if (auto* n = std::get_if<Notify>(&e)) {
        // A receiver that accepts every notification 5 ms later.
        notified.emplace_back(node, n->notification);
        push(now_ + Duration::milliseconds(5), Event{node, NotifyDone{n->notification.id, true, {}}});
      } else if (auto* sc = std::get_if<StartCheck>(&e)) {
        checked_by[sc->spec->id].insert(node);
        const bool up = (!healthy.contains(sc->spec->id) || healthy[sc->spec->id]) &&
                        !fails_for.contains({sc->spec->id, node});
        // The latency names the checker: 5 ms + its index in µs.
        const Duration latency = Duration::milliseconds(5) + Duration::microseconds(node);
        CheckOutcome o = up ? CheckOutcome::response(200, latency) : CheckOutcome::response(503, latency);
        push(now_ + Duration::milliseconds(5), Event{node, CheckDone{sc->check, o}});
      }
    });
  }

  Instant now_ = Instant::from_ns(0);
  std::vector<std::unique_ptr<ClusterNode>> nodes_;
  std::multimap<std::pair<Instant, std::uint64_t>, Event> queue_;
  std::vector<TimerTable> timers_;  // per node
  std::uint64_t seq_ = 0;
};

std::vector<TargetSpec> targets(int n) {
  std::vector<TargetSpec> v;
  for (int i = 0; i < n; ++i) v.push_back(target(fmt::format("t{}", i)));
  return v;
}

TEST(ClusterNode, MembersJoinAndTheRegistryReachesEveryone) {
  TestCluster c(4, targets(20));
  c.run_for(Duration::seconds(5));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).membership().live_count(), 4u) << "n" << i;
    EXPECT_EQ(c.node(i).replication().state().targets().size(), 20u) << "n" << i;
  }
}

// A rolling upgrade's first step: agents of this build told to write format
// 1 run beside one that reads only format 1 (an older build); the cluster
// forms and replicates as usual. Left at format 2, they cannot reach it.
TEST(ClusterNode, AgentsWritingFormat1WorkBesideAnOlderBuild) {
  for (std::uint64_t format : {std::uint64_t{1}, std::uint64_t{2}}) {
    TestCluster c(0);
    c.format1_only = {3};
    for (int i = 0; i < 3; ++i) c.add_node(i == 0 ? targets(10) : std::vector<TargetSpec>{}, format);
    c.add_node({}, 1);  // the older build writes format 1, which everyone reads
    c.run_for(Duration::seconds(5));
    if (format == 1) {
      EXPECT_EQ(c.unreadable, 0);
      for (int i = 0; i < c.size(); ++i) {
        EXPECT_EQ(c.node(i).membership().live_count(), 4u) << "n" << i;
        EXPECT_EQ(c.node(i).replication().state().targets().size(), 10u) << "n" << i;
      }
    } else {
      EXPECT_GT(c.unreadable, 0);
      EXPECT_EQ(c.node(3).replication().state().targets().size(), 0u);
    }
  }
}

TEST(ClusterNode, TargetsConfiguredAtEveryAgentEndWithOneSpecEach) {
  // Each agent writes its configured targets at start, before it has heard
  // the others' writes: one spec sibling per agent. The first owner writes
  // the winner once more, which supersedes them all.
  TestCluster c(0);
  std::map<ReplicaId, std::uint64_t> started_ms;  // each writer's start: when it wrote its configured targets
  for (int i = 0; i < 4; ++i) {
    c.add_node(targets(20));
    started_ms[c.node(i).replication().state().self()] = static_cast<std::uint64_t>(c.now().ms());
    c.run_for(Duration::milliseconds(700));
  }
  c.run_for(Duration::seconds(5));
  std::uint64_t settled = 0;
  for (int i = 0; i < c.size(); ++i) {
    const auto listed = c.node(i).replication().state().targets();
    ASSERT_EQ(listed.size(), 20u) << "n" << i;
    for (const auto& [id, resolved] : listed) {
      EXPECT_EQ(resolved.spec_siblings, 1u) << id << " at n" << i;
      // The settling write kept the winner's timestamp (its writer's
      // start), so it cannot outrank a put written elsewhere meanwhile.
      ASSERT_TRUE(started_ms.contains(resolved.spec->writer));
      EXPECT_EQ(resolved.spec->written_at.wall_ms(), started_ms[resolved.spec->writer]) << id << " at n" << i;
    }
    settled += c.node(i).counters().sibling_specs_settled;
  }
  // About one settling write per target and join (three joins wrote
  // siblings), not a write storm.
  EXPECT_GE(settled, 20u);
  EXPECT_LE(settled, 4u * 20u);
  // Settled: nothing more is written.
  std::vector<std::uint64_t> versions;
  for (int i = 0; i < c.size(); ++i) versions.push_back(c.node(i).replication().state().registry_version());
  c.run_for(Duration::seconds(10));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).replication().state().registry_version(), versions[static_cast<std::size_t>(i)]) << "n" << i;
  }
}

TEST(ClusterNode, EveryTargetHasExactlyOneCheckerAndEveryoneAgreesOnOwners) {
  TestCluster c(4, targets(40));
  c.run_for(Duration::seconds(5));
  std::set<int> checkers_used;
  for (int t = 0; t < 40; ++t) {
    const std::string id = fmt::format("t{}", t);
    int checking = 0;
    for (int i = 0; i < c.size(); ++i) {
      if (c.node(i).checks(id)) {
        ++checking;
        checkers_used.insert(i);
        // The scheduler holds the registry's spec, not a copy of it.
        const auto resolved = c.node(i).replication().state().target(id);
        ASSERT_TRUE(resolved && resolved->spec && c.node(i).scheduler().find(id));
        EXPECT_EQ(c.node(i).scheduler().find(id)->spec.get(), resolved->spec->spec.get()) << id;
      }
      EXPECT_EQ(c.node(i).owners(id), c.node(0).owners(id)) << id << " at n" << i;
    }
    EXPECT_EQ(checking, 1) << id;
    ASSERT_EQ(c.node(0).owners(id).size(), 1u);
    EXPECT_TRUE(c.node(std::stoi(c.node(0).owners(id)[0].substr(1))).checks(id));
  }
  EXPECT_EQ(checkers_used.size(), 4u) << "40 targets should spread over all 4 members";
}

TEST(ClusterNode, AnotherMemberTakesOverWhenTheOwnerCrashes) {
  TestCluster c(4, targets(40));
  c.run_for(Duration::seconds(5));
  std::string victim_target;
  for (int t = 0; t < 40 && victim_target.empty(); ++t) {
    const std::string id = fmt::format("t{}", t);
    if (c.node(2).checks(id)) victim_target = id;
  }
  ASSERT_FALSE(victim_target.empty());
  c.crash(2);
  c.run_for(Duration::seconds(20));
  int checking = 0;
  for (int i = 0; i < c.size(); ++i) {
    if (!c.alive(i)) continue;
    EXPECT_EQ(c.node(i).membership().member("n2")->state, MemberState::dead) << "n" << i;
    checking += c.node(i).checks(victim_target) ? 1 : 0;
  }
  EXPECT_EQ(checking, 1) << victim_target << " must have exactly one new checker";
  // The standby that checked while n2 was suspect kept n2's vote (n2 was
  // still an owner then); once n2 is dead its next result supersedes it,
  // though its own status is unchanged: one observation, the new owner's.
  for (int i = 0; i < c.size(); ++i) {
    if (!c.alive(i)) continue;
    const auto v = c.node(i).target_view(victim_target, c.now());
    ASSERT_TRUE(v);
    ASSERT_EQ(v->observations.size(), 1u) << "n" << i;
    EXPECT_EQ(v->observations[0].observer_name, v->owners.at(0)) << "n" << i;
  }
}

TEST(ClusterNode, TakeoverContinuesFromTheReportedStatus) {
  auto specs = targets(30);
  for (auto& t : specs) t.rise = 3;  // a fresh checker would sit at unknown for 3 checks
  TestCluster c(4, specs);
  c.run_for(Duration::seconds(8));
  std::vector<std::string> moved;
  for (const auto& t : specs) {
    if (c.node(3).checks(t.id)) moved.push_back(t.id);
  }
  ASSERT_FALSE(moved.empty());
  c.crash(3);
  std::map<std::string, Instant> first_check_after;
  for (int step = 0; step < 150; ++step) {
    c.run_for(Duration::milliseconds(100));
    for (int i = 0; i < 3; ++i) {
      for (const auto& id : moved) {
        const auto v = c.node(i).target_view(id, c.now());
        ASSERT_TRUE(v);
        ASSERT_EQ(v->status, HealthStatus::healthy) << id << " at n" << i << " after " << step * 100 << " ms";
      }
    }
  }
  for (const auto& id : moved) {
    int checkers = 0;
    for (int i = 0; i < 3; ++i) checkers += c.node(i).checks(id) ? 1 : 0;
    EXPECT_EQ(checkers, 1) << id;
    // The new owner has reported: the newest observation is its own.
    const auto v = c.node(0).target_view(id, c.now());
    EXPECT_NE(v->newest->observer_name, "n3") << id;
  }
}

TEST(ClusterNode, TargetStatusIsReplicatedToEveryAgent) {
  TestCluster c(3, targets(6));
  c.healthy["t3"] = false;
  c.run_for(Duration::seconds(6));
  for (int i = 0; i < c.size(); ++i) {
    auto t3 = c.node(i).replication().state().target("t3");
    ASSERT_TRUE(t3 && t3->observation) << "n" << i;
    EXPECT_EQ(t3->observation->status, HealthStatus::unhealthy) << "n" << i;
    auto t1 = c.node(i).replication().state().target("t1");
    ASSERT_TRUE(t1 && t1->observation) << "n" << i;
    EXPECT_EQ(t1->observation->status, HealthStatus::healthy) << "n" << i;
  }
}

TEST(ClusterNode, TargetsAddedAndRemovedAtAnyAgentReachAll) {
  TestCluster c(3);
  c.run_for(Duration::seconds(3));
  c.step(2, PutTarget{target("added")});
  c.run_for(Duration::seconds(3));
  int checking = 0;
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_TRUE(c.node(i).replication().state().target("added").has_value()) << "n" << i;
    checking += c.node(i).checks("added") ? 1 : 0;
  }
  EXPECT_EQ(checking, 1);
  c.step(1, DeleteTarget{"added"});
  c.run_for(Duration::seconds(3));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_FALSE(c.node(i).replication().state().target("added").has_value()) << "n" << i;
    EXPECT_FALSE(c.node(i).checks("added")) << "n" << i;
  }
}

TEST(ClusterNode, CounterIncrementsAtAnyAgentsAreCountedOnce) {
  TestCluster c(3);
  c.run_for(Duration::seconds(2));
  c.step(0, AddToCounter{"likes", 3});
  c.step(1, AddToCounter{"likes", 4});
  c.step(2, AddToCounter{"likes", 5});
  c.step(2, AddToCounter{"likes", -2});
  c.run_for(Duration::seconds(3));
  for (int i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).replication().state().counter("likes"), 10) << "n" << i;
}

TargetSpec quorum_target(const std::string& id, int checkers, int quorum) {
  TargetSpec t = target(id);
  t.checkers = checkers;
  t.quorum = quorum;
  return t;
}

TEST(ClusterNode, EveryOwnerKeepsItsOwnVote) {
  TestCluster c(5, {quorum_target("q", 3, 2)});
  c.run_for(Duration::seconds(6));
  const auto owners = c.node(0).owners("q");
  ASSERT_EQ(owners.size(), 3u);
  for (int i = 0; i < c.size(); ++i) {
    const auto v = c.node(i).target_view("q", c.now());
    ASSERT_TRUE(v) << "n" << i;
    EXPECT_EQ(v->status, HealthStatus::healthy) << "n" << i;
    EXPECT_EQ(v->healthy_votes, 3u) << "n" << i;
    std::set<std::string> observers;
    for (const auto& o : v->observations) observers.insert(o.observer_name);
    EXPECT_EQ(observers, std::set<std::string>(owners.begin(), owners.end())) << "n" << i;
    EXPECT_EQ(v->owners, owners);
  }
}

TEST(ClusterNode, OneBadVantagePointDoesNotReachTheQuorum) {
  TestCluster c(5, {quorum_target("q", 3, 2)});
  c.run_for(Duration::seconds(4));
  const auto owners = c.node(0).owners("q");
  ASSERT_EQ(owners.size(), 3u);
  const int first = std::stoi(owners[0].substr(1));
  const int second = std::stoi(owners[1].substr(1));
  c.fails_for.insert({"q", first});
  c.run_for(Duration::seconds(4));
  for (int i = 0; i < c.size(); ++i) {
    const auto v = c.node(i).target_view("q", c.now());
    ASSERT_TRUE(v);
    EXPECT_EQ(v->unhealthy_votes, 1u) << "n" << i;
    EXPECT_EQ(v->status, HealthStatus::healthy) << "n" << i << ": one vote of 2 needed";
    EXPECT_EQ(c.node(i).target_status("q"), v->status) << "n" << i << ": the view's rule without the view";
  }
  c.fails_for.insert({"q", second});
  c.run_for(Duration::seconds(4));
  for (int i = 0; i < c.size(); ++i) {
    const auto v = c.node(i).target_view("q", c.now());
    ASSERT_TRUE(v);
    EXPECT_EQ(v->unhealthy_votes, 2u) << "n" << i;
    EXPECT_EQ(v->status, HealthStatus::unhealthy) << "n" << i;
    EXPECT_EQ(c.node(i).target_status("q"), v->status) << "n" << i;
  }
  EXPECT_EQ(c.node(0).target_status("nope"), std::nullopt);
}

TEST(ClusterNode, SingleOwnerReplacesEveryEarlierObservation) {
  TestCluster c(3, targets(5));
  c.run_for(Duration::seconds(4));
  c.healthy["t1"] = false;
  c.run_for(Duration::seconds(4));
  for (int i = 0; i < c.size(); ++i) {
    const auto v = c.node(i).target_view("t1", c.now());
    ASSERT_TRUE(v);
    EXPECT_EQ(v->observations.size(), 1u);
    EXPECT_EQ(v->status, HealthStatus::unhealthy);
    ASSERT_TRUE(v->newest);
    EXPECT_EQ(v->newest->observer_name, v->owners.at(0));
    EXPECT_FALSE(v->stale);
    EXPECT_EQ(v->checked_here, v->owners.at(0) == c.node(i).name());
  }
}

// Unchanged statuses are not re-written: one vouch per member per
// observation_refresh keeps every owner's observations fresh everywhere.
TEST(ClusterNode, OwnersVouchInsteadOfRewritingUnchangedStatuses) {
  TestCluster c(3, targets(12));
  c.run_for(Duration::seconds(5));
  std::uint64_t written = 0, vouched = 0;
  for (int i = 0; i < c.size(); ++i) written += c.node(i).counters().observations_written;
  // Three observation_refresh periods (30 s) with nothing changing.
  c.run_for(Duration::seconds(95));
  std::uint64_t written_after = 0;
  for (int i = 0; i < c.size(); ++i) {
    written_after += c.node(i).counters().observations_written;
    vouched += c.node(i).counters().vouches_written;
  }
  EXPECT_EQ(written_after, written) << "unchanged statuses were re-written";
  EXPECT_GE(vouched, 3u * 3u);
  for (int i = 0; i < c.size(); ++i) {
    for (const TargetView& v : c.node(i).target_views(c.now())) {
      EXPECT_EQ(v.status, HealthStatus::healthy) << v.id;
      EXPECT_FALSE(v.stale) << v.id << " at n" << i << ": age " << (v.age ? v.age->ms() : -1) << " ms";
      ASSERT_TRUE(v.age);
      EXPECT_LT(*v.age, Duration::seconds(31)) << v.id;
    }
  }
  // A status change is still written at once.
  c.healthy["t3"] = false;
  c.run_for(Duration::seconds(3));
  std::uint64_t written_last = 0;
  for (int i = 0; i < c.size(); ++i) written_last += c.node(i).counters().observations_written;
  EXPECT_GT(written_last, written_after);
  for (int i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).target_view("t3", c.now())->status, HealthStatus::unhealthy);
}

TEST(ClusterNode, DurableStateRoundTripsThroughASnapshot) {
  TestCluster c(2, targets(3));
  c.run_for(Duration::seconds(3));
  const auto epoch = c.node(1).durable_epoch();
  Effects out;
  c.step(1, AddToCounter{"hits", 5});
  c.step(1, PutTarget{target("extra")});
  EXPECT_GT(c.node(1).durable_epoch(), epoch);

  const auto bytes = encode_snapshot(c.node(1).durable_state());
  auto restored = decode_snapshot(bytes);
  ASSERT_TRUE(restored.ok()) << restored.error();
  ClusterNodeConfig cfg;
  cfg.name = "n1";
  cfg.address = "n1:7946";
  cfg.restored = restored->state;
  ClusterNode fresh(cfg, 999);
  fresh.start(c.now(), out);
  EXPECT_EQ(fresh.counter("hits"), 5);
  EXPECT_EQ(fresh.target_views(c.now()).size(), 4u);
  EXPECT_TRUE(fresh.checks("extra")) << "a lone restored member owns everything";
}

// An agent restarted with the config file it started with does not write
// its configured targets again: one deleted through the API stays deleted,
// one replaced through the API keeps the new spec. An edited spec in the
// config is written; a version-1 snapshot (no record) writes them all, as
// before the record existed.
TEST(ClusterNode, ARestartDoesNotBringBackAConfiguredTargetDeletedThroughTheApi) {
  const Instant t0 = Instant::from_ns(1'700'000'000'000'000'000);
  ClusterNodeConfig cfg;
  cfg.name = "n1";
  cfg.address = "n1:7946";
  cfg.targets = {target("web"), target("db"), target("api")};
  Effects out;
  ClusterNode first(cfg, 7);
  first.start(t0, out);
  ASSERT_EQ(first.target_views(t0).size(), 3u);
  EXPECT_EQ(first.configured_seeds().size(), 3u);
  first.step(t0 + Duration::seconds(1), DeleteTarget{"web"}, out);
  TargetSpec replaced = target("db");
  replaced.interval = Duration::seconds(7);
  first.step(t0 + Duration::seconds(1), PutTarget{replaced}, out);

  const auto saved = decode_snapshot(encode_snapshot(first.durable_state(), first.configured_seeds()));
  ASSERT_TRUE(saved.ok()) << saved.error();
  const auto restart = [&](ClusterNodeConfig c, const Snapshot& from) {
    c.restored = from.state;
    c.configured = from.configured;
    auto node = std::make_unique<ClusterNode>(c, 8);
    node->start(t0 + Duration::seconds(60), out);
    return node;
  };
  {
    auto again = restart(cfg, *saved);
    EXPECT_FALSE(again->health_state().target("web").has_value()) << "the API's delete stands";
    ASSERT_TRUE(again->health_state().target("db").has_value());
    EXPECT_EQ(again->health_state().target("db")->spec->spec->interval, Duration::seconds(7)) << "the API's spec stands";
    EXPECT_TRUE(again->health_state().target("api").has_value());
    EXPECT_EQ(again->configured_seeds(), first.configured_seeds());
  }
  {
    ClusterNodeConfig edited = cfg;
    edited.targets[0].interval = Duration::seconds(3);  // the operator changed web in the file
    auto again = restart(edited, *saved);
    ASSERT_TRUE(again->health_state().target("web").has_value()) << "an edited configured spec is written";
    EXPECT_EQ(again->health_state().target("web")->spec->spec->interval, Duration::seconds(3));
    EXPECT_EQ(again->health_state().target("db")->spec->spec->interval, Duration::seconds(7));
    EXPECT_NE(again->configured_seeds().at("web"), first.configured_seeds().at("web"));
    EXPECT_GT(again->durable_epoch(), 0u) << "the new record is saved";
  }
  {
    // A version-1 file, [magic, 1, state]: read, with no record.
    std::vector<std::uint8_t> v1;
    wire::MsgpackWriter w(v1);
    w.array(3);
    w.str("heck-snapshot");
    w.uint(1);
    w.raw(encode_delta(first.durable_state()));
    const auto old = decode_snapshot(v1);
    ASSERT_TRUE(old.ok()) << old.error();
    EXPECT_TRUE(old->configured.empty());
    auto again = restart(cfg, *old);
    EXPECT_TRUE(again->health_state().target("web").has_value());
  }
}

TEST(ClusterNode, CorruptSnapshotsAreRefusedWithAReason) {
  const std::vector<std::uint8_t> garbage{0x93, 0x01, 0x02, 0x03};
  auto r = decode_snapshot(garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a heck snapshot"), std::string::npos) << r.error();
  auto empty = decode_snapshot({});
  EXPECT_FALSE(empty.ok());
  auto bytes = encode_snapshot(HealthDelta{});
  bytes.back() ^= 0xff;
  bytes.push_back(0xc1);  // never valid MessagePack
  EXPECT_FALSE(decode_snapshot(bytes).ok());
  // A version that is not a number, and not valid text either: an error, never an exception.
  const std::vector<std::uint8_t> odd_version{0x93, 0xad, 'h', 'e', 'c', 'k', '-', 's', 'n', 'a', 'p', 's', 'h', 'o',
                                              't', 0xa2, 0xa1, 0xff, 0x80};
  auto v = decode_snapshot(odd_version);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().find("unsupported version (a string)"), std::string::npos) << v.error();
  const std::vector<std::uint8_t> version_9{0x93, 0xad, 'h', 'e', 'c', 'k', '-', 's', 'n', 'a', 'p', 's', 'h', 'o',
                                            't', 0x09, 0x80};
  auto nine = decode_snapshot(version_9);
  ASSERT_FALSE(nine.ok());
  EXPECT_NE(nine.error().find("unsupported version 9"), std::string::npos) << nine.error();
}

TEST(ClusterNode, GarbagePacketsAreCountedNotFatal) {
  TestCluster c(1);
  c.step(0, Packet{"x:1", Channel::datagram, Bytes{0xc1, 0x00, 0xff}});
  c.step(0, Packet{"x:1", Channel::datagram, Bytes(70000, 0x90)});
  EXPECT_EQ(c.node(0).counters().malformed_packets, 1u);
  EXPECT_EQ(c.node(0).counters().oversized_packets, 1u);
  EXPECT_NE(c.node(0).last_malformed().find("x:1"), std::string::npos);
}

TEST(ClusterNode, AMovedNodeKeepsRunning) {
  static_assert(std::is_move_constructible_v<ClusterNode>);
  TestCluster c(3, targets(6));
  c.run_for(Duration::seconds(3));
  c.move_node(1);
  // A write at the moved node queues its delta for piggybacking in the moved
  // node's own membership queue (no part points into the old object).
  c.step(1, PutTarget{target("after-move")});
  EXPECT_TRUE(c.node(1).membership().broadcasts().contains("r:t:after-move"));
  c.run_for(Duration::seconds(3));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).membership().live_count(), 3u) << "n" << i;
    EXPECT_TRUE(c.node(i).replication().state().target("after-move").has_value()) << "n" << i;
  }
  // Ownership still works across the moved node: every target has one checker.
  for (const std::string id : {"t0", "t1", "t2", "t3", "t4", "t5", "after-move"}) {
    int checking = 0;
    for (int i = 0; i < c.size(); ++i) checking += c.node(i).checks(id) ? 1 : 0;
    EXPECT_EQ(checking, 1) << id;
  }
}

TEST(ClusterNode, ATimerKindNoPartOwnsIsCountedNotSentToMembership) {
  TestCluster c(1);
  const auto probes = c.node(0).membership().counters().probes;
  Effects out;
  c.node(0).step(c.now(), TimerFired{TimerKey{static_cast<TimerKind>(99), 7}}, out);
  EXPECT_EQ(c.node(0).counters().unknown_timers, 1u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.node(0).membership().counters().probes, probes);
  // The kinds the parts own are not counted.
  c.node(0).step(c.now(), TimerFired{TimerKey{TimerKind::swim_gossip, 0}}, out);
  c.node(0).step(c.now(), TimerFired{TimerKey{TimerKind::replica_flush, 0}}, out);
  c.node(0).step(c.now(), TimerFired{TimerKey{TimerKind::check, 0}}, out);
  EXPECT_EQ(c.node(0).counters().unknown_timers, 1u);
}

// An alert route written through one agent reaches every agent, and the
// target's first owner (another agent) sends on it; removing it at a third
// agent stops every sender.
TEST(ClusterNode, ARouteWrittenAtOneAgentIsSentOnByTheFirstOwner) {
  TestCluster c(3, {target("web")});
  c.run_for(Duration::seconds(3));
  auto route = AlertRoute::from_json(nlohmann::json{{"name", "ops"}, {"url", "http://127.0.0.1:9/hook"}});
  ASSERT_TRUE(route.ok()) << route.error();
  // The writer is an agent that does not own "web", so the send below is
  // not the writer's own.
  const std::string owner = c.node(0).owners("web").front();
  const int owner_index = owner[1] - '0';
  const int writer = owner_index == 1 ? 2 : 1;
  const int third = 3 - owner_index - writer;
  c.step(writer, PutRoute{*route});
  c.run_for(Duration::seconds(2));
  for (int i = 0; i < c.size(); ++i) {
    ASSERT_EQ(c.node(i).alerts().config().routes.size(), 1u) << "n" << i;
    EXPECT_EQ(c.node(i).alerts().config().routes[0], *route);
  }
  EXPECT_TRUE(c.notified.empty());  // healthy: nothing to say
  c.healthy["web"] = false;
  c.run_for(Duration::seconds(4));
  ASSERT_EQ(c.notified.size(), 1u);
  EXPECT_EQ(fmt::format("n{}", c.notified[0].first), owner);
  EXPECT_EQ(c.notified[0].second.route, "ops");
  EXPECT_EQ(c.notified[0].second.kind, AlertKind::firing);
  // Every agent holds the record of that delivery.
  for (int i = 0; i < c.size(); ++i) EXPECT_NE(c.node(i).health_state().last_alert("web", "ops"), nullptr) << "n" << i;
  // Removed at the third agent: no route anywhere, no resolved notification.
  c.step(third, DeleteRoute{"ops"});
  c.run_for(Duration::seconds(2));
  for (int i = 0; i < c.size(); ++i) EXPECT_TRUE(c.node(i).alerts().config().routes.empty()) << "n" << i;
  c.healthy["web"] = true;
  c.run_for(Duration::seconds(4));
  EXPECT_EQ(c.notified.size(), 1u);
}

// A route in a node's config shadows a written route of the same name there.
TEST(ClusterNode, AConfigRouteShadowsAWrittenOneOfTheSameName) {
  ClusterNodeConfig config;
  config.name = "n0";
  config.address = "n0:7946";
  auto mine = AlertRoute::from_json(nlohmann::json{{"name", "ops"}, {"url", "http://127.0.0.1:9/config"}});
  auto theirs = AlertRoute::from_json(nlohmann::json{{"name", "ops"}, {"url", "http://127.0.0.1:9/api"}});
  auto other = AlertRoute::from_json(nlohmann::json{{"name", "pager"}, {"url", "http://127.0.0.1:9/pager"}});
  ASSERT_TRUE(mine.ok() && theirs.ok() && other.ok());
  config.alerts.routes = {*mine};
  ClusterNode node(config, 7);
  Effects out;
  node.start(Instant{}, out);
  node.step(Instant{}, PutRoute{*theirs}, out);
  node.step(Instant{}, PutRoute{*other}, out);
  const auto& routes = node.alerts().config().routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0], *mine);
  EXPECT_EQ(routes[1], *other);
  ASSERT_NE(node.health_state().route("ops"), nullptr);  // replicated all the same
}

// --- latencies move with the ownership (latency_history.h) -------------------

// Which node measured a sample: TestCluster's latency is 5 ms + its index µs.
int measured_by(const LatencySample& s) { return static_cast<int>(s.latency_us) - 5'000; }

int index_of(const std::string& name) { return std::stoi(name.substr(1)); }

// Every ring a node holds is for a target it owns or stands by for.
void expect_rings_only_near_the_top(TestCluster& c) {
  for (int i = 0; i < c.size(); ++i) {
    if (!c.alive(i)) continue;
    for (const auto& [id, spec] : c.node(i).health_state().state().registry.store.entries()) {
      if (!c.node(i).latencies().contains(id)) continue;
      const auto ranked = c.node(i).ranked_members(id, 2);
      EXPECT_NE(std::find(ranked.begin(), ranked.end(), c.node(i).name()), ranked.end())
          << "n" << i << " keeps a ring for " << id.str() << ", ranked below its standby";
    }
  }
}

TEST(ClusterNode, TheStandbyHoldsTheOwnersLatenciesAndKeepsThemWhenItTakesOver) {
  TestCluster c(4, targets(20));
  c.run_for(Duration::seconds(15));  // one handoff at 10 s
  std::string victim;
  for (int t = 0; t < 20 && victim.empty(); ++t) {
    const std::string id = fmt::format("t{}", t);
    if (c.node(2).checks(id)) victim = id;
  }
  ASSERT_FALSE(victim.empty());
  const auto ranked = c.node(0).ranked_members(victim, 2);
  ASSERT_EQ(ranked.size(), 2u);
  ASSERT_EQ(ranked[0], "n2");
  const int standby = index_of(ranked[1]);
  const auto handed = c.node(standby).latencies().samples(victim);
  ASSERT_GE(handed.size(), 5u) << "n2's samples up to its handoff at 10 s";
  for (const LatencySample& s : handed) {
    EXPECT_EQ(measured_by(s), 2);
    EXPECT_FALSE(s.here);
  }
  EXPECT_GE(c.node(2).counters().latency_handoffs_sent, 1u);
  EXPECT_GE(c.node(standby).counters().latency_handoffs_received, 1u);
  for (int i = 0; i < 4; ++i) {
    if (i != 2 && i != standby) EXPECT_FALSE(c.node(i).latencies().contains(victim)) << "n" << i;
  }
  const Instant crash_at = c.now();
  c.crash(2);
  c.run_for(Duration::seconds(20));
  ASSERT_TRUE(c.node(standby).checks(victim));
  std::size_t old_owner = 0, mine = 0;
  for (const LatencySample& s : c.node(standby).latencies().samples(victim)) {
    if (measured_by(s) == 2) {
      ++old_owner;
      EXPECT_LT(s.at, crash_at);
    } else {
      EXPECT_EQ(measured_by(s), standby);
      EXPECT_TRUE(s.here);
      ++mine;
    }
  }
  EXPECT_GE(old_owner, 5u) << "the crashed owner's samples survive the takeover";
  EXPECT_GE(mine, 10u);
  expect_rings_only_near_the_top(c);
}

TEST(ClusterNode, AMemberThatStopsCheckingHandsItsRingToTheNewOwner) {
  TestCluster c(3, targets(30));
  c.run_for(Duration::seconds(8));
  std::map<std::string, int> owner_before;
  for (int t = 0; t < 30; ++t) {
    const std::string id = fmt::format("t{}", t);
    owner_before[id] = index_of(c.node(0).owners(id).at(0));
  }
  const Instant join_at = c.now();
  c.add_node();
  c.run_for(Duration::seconds(3));  // before the next periodic handoff
  int moved = 0;
  for (const auto& [id, before] : owner_before) {
    if (!c.node(3).checks(id)) continue;
    ++moved;
    std::size_t handed = 0;
    for (const LatencySample& s : c.node(3).latencies().samples(id)) {
      if (s.here) continue;
      EXPECT_EQ(measured_by(s), before) << id;
      EXPECT_LT(s.at, join_at + Duration::seconds(3));
      ++handed;
    }
    EXPECT_GE(handed, 5u) << id << ": n" << before << "'s ring, handed over when the target moved";
  }
  EXPECT_GT(moved, 0) << "the new member should rank first for some of 30 targets";
  EXPECT_GT(c.node(3).counters().latency_handoffs_parked, 0u) << "handed over before the registry reached n3";
  EXPECT_EQ(c.node(3).latencies().parked(), 0u) << "every parked ring resolved once the registry arrived";
  expect_rings_only_near_the_top(c);
}

// Every ring holds each sample once, and a member's own sample handed back
// to it is still its own.
void expect_no_sample_twice(TestCluster& c) {
  for (int i = 0; i < c.size(); ++i) {
    if (!c.alive(i)) continue;
    for (const auto& [id, spec] : c.node(i).health_state().state().registry.store.entries()) {
      const auto ring = c.node(i).latencies().samples(id);
      for (std::size_t k = 0; k < ring.size(); ++k) {
        if (k > 0) EXPECT_LT(ring[k - 1].at, ring[k].at) << "n" << i << " " << id.str() << " sample " << k;
        if (!ring[k].here) EXPECT_NE(measured_by(ring[k]), i) << "n" << i << " " << id.str() << ": its own sample, handed back";
      }
    }
  }
}

TEST(ClusterNode, EachHandoffRoundSendsTheStandbyWhatIsNewOnce) {
  TestCluster c(4, targets(20));
  c.run_for(Duration::seconds(45));  // handoffs at 10, 20, 30 and 40 s
  int rings_checked = 0;
  for (int t = 0; t < 20; ++t) {
    const std::string id = fmt::format("t{}", t);
    const auto ranked = c.node(0).ranked_members(id, 2);
    const int owner = index_of(ranked.at(0)), standby = index_of(ranked.at(1));
    const auto mine = c.node(owner).latencies().samples(id);
    const auto held = c.node(standby).latencies().samples(id);
    ASSERT_GE(mine.size(), 40u) << id;
    ASSERT_LT(mine.size(), LatencyHistory::kMaxSamples) << id << ": nothing evicted yet";
    std::size_t before_last_round = 0;
    for (const LatencySample& s : mine) before_last_round += s.at < Instant::from_ns(0) + Duration::seconds(39);
    EXPECT_GE(held.size(), before_last_round) << id << ": every round's new samples reached n" << standby;
    for (const LatencySample& s : held) {
      EXPECT_FALSE(s.here);
      EXPECT_EQ(measured_by(s), owner);
      EXPECT_TRUE(std::any_of(mine.begin(), mine.end(), [&](const LatencySample& m) {
        return m.at == s.at && m.latency_us == s.latency_us;
      })) << id << ": n" << standby << " holds a sample n" << owner << " never took";
    }
    ++rings_checked;
  }
  EXPECT_EQ(rings_checked, 20);
  expect_no_sample_twice(c);
}

TEST(ClusterNode, ASampleHandedBackToItsCheckerIsNotASecondSample) {
  // A join moves targets to n3; their old owners become standbys, and n3's
  // periodic handoff sends them their own samples back.
  TestCluster c(3, targets(30));
  c.run_for(Duration::seconds(8));
  c.add_node();
  c.run_for(Duration::seconds(25));
  int old_owner_is_standby = 0;
  for (int t = 0; t < 30; ++t) {
    const std::string id = fmt::format("t{}", t);
    if (!c.node(3).checks(id)) continue;
    const int standby = index_of(c.node(3).ranked_members(id, 2).at(1));
    const auto ring = c.node(standby).latencies().samples(id);
    old_owner_is_standby += std::any_of(ring.begin(), ring.end(), [](const LatencySample& s) { return s.here; });
  }
  EXPECT_GT(old_owner_is_standby, 0) << "no old owner became the standby: the case is not exercised";
  expect_no_sample_twice(c);
}

TEST(ClusterNode, LatencyHandoffsFromOutsideAreCheckedNotTrusted) {
  TestCluster c(2, targets(4));
  c.run_for(Duration::seconds(3));
  // Handed to n0: a ring for a target nobody registered (parked, and
  // dropped when the registry settles it), a part that does not decode
  // (counted), and one for t0 (with two members n0 is t0's owner or
  // standby: merged).
  const wire::Header from{"n1", "n1:7946"};
  auto send = [&](const wire::EncodedPart& part) {
    c.step(0, Packet{"n1:7946", Channel::datagram, wire::encode(from, {part})});
  };
  send(encode_latency_handoff(LatencyHandoff{"nope", {LatencySample{c.now(), 5, true, false}}}));
  EXPECT_EQ(c.node(0).counters().latency_handoffs_parked, 1u);
  EXPECT_FALSE(c.node(0).latencies().contains("nope"));
  EXPECT_TRUE(c.node(0).latencies().is_parked("nope"));
  c.step(1, PutTarget{target("nope")});  // registered after all: n0 keeps it (2 members)
  c.run_for(Duration::seconds(2));
  EXPECT_FALSE(c.node(0).latencies().is_parked("nope"));
  EXPECT_FALSE(c.node(0).latencies().samples("nope").empty());
  c.step(1, DeleteTarget{"nope"});
  c.run_for(Duration::seconds(2));
  EXPECT_FALSE(c.node(0).latencies().contains("nope")) << "deleted: its ring goes";
  Bytes garbage;
  wire::MsgpackWriter(garbage).str("not a handoff");
  send(wire::encode_part(wire::PartType::latency_handoff, garbage));
  EXPECT_EQ(c.node(0).counters().latency_handoffs_malformed, 1u);
  EXPECT_NE(c.node(0).last_malformed().find("latency_handoff"), std::string::npos) << c.node(0).last_malformed();
  const std::size_t before = c.node(0).latencies().samples("t0").size();
  send(encode_latency_handoff(LatencyHandoff{"t0", {LatencySample{Instant::from_ns(1), 7, true, false}}}));
  EXPECT_EQ(c.node(0).latencies().samples("t0").size(), before + 1);
  EXPECT_EQ(c.node(0).counters().latency_handoffs_received, 1u);
  // Dated a day ahead of n0's clock, or 31 days behind: dropped, counted.
  send(encode_latency_handoff(LatencyHandoff{"t0", {LatencySample{c.now() + Duration::seconds(86'400), 7, true, false},
                                                    LatencySample{c.now() - Duration::seconds(31 * 86'400), 7, true, false}}}));
  EXPECT_EQ(c.node(0).latencies().samples("t0").size(), before + 1);
  EXPECT_EQ(c.node(0).counters().latency_samples_out_of_range, 2u);
}

}  // namespace
}  // namespace heck
