// ClusterNode in its external store mode (core/cluster/cluster_node.h,
// "Stores"): writes come out as StoreWrite effects and nothing is gossiped;
// the store's changes (StoreUpdate) drive the registry, the scheduler, the
// observations the node's write rules read, and the counters.
#include "core/cluster/cluster_node.h"
#include "core/timer_table.h"

#include <utility>

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

template <typename T>
std::vector<T> writes(const Effects& out) {
  std::vector<T> found;
  for (const auto& e : out) {
    if (const auto* w = std::get_if<StoreWrite>(&e)) {
      if (const auto* t = std::get_if<T>(&w->op)) found.push_back(*t);
    }
  }
  return found;
}

class StoreNode {
 public:
  explicit StoreNode(std::vector<TargetSpec> targets = {}) : node_(config(std::move(targets)), 7) {
    node_.start(now_, out_);
    take();
  }
  static ClusterNodeConfig config(std::vector<TargetSpec> targets) {
    ClusterNodeConfig c;
    c.name = "n1";
    c.address = "n1:7946";
    c.targets = std::move(targets);
    c.external_store = true;
    return c;
  }
  void step(const ClusterInput& in) {
    node_.step(now_, in, out_);
    take();
  }
  // Runs timers for `d`, answering every check with `status`.
  void run_for(Duration d, int status) {
    const Instant end = now_ + d;
    while (true) {
      const auto next = timers_.next_deadline();
      if (!next || *next > end) break;
      now_ = std::max(now_, *next);
      step(TimerFired{*timers_.pop_due(now_)});
      for (const StartCheck& s : std::exchange(checks_, {})) {
        step(CheckDone{s.check, CheckOutcome::response(status, Duration::milliseconds(1))});
      }
    }
    now_ = end;
  }
  ClusterNode& node() { return node_; }
  Effects all;  // every effect so far

 private:
  void take() {
    for (auto& e : out_) {
      if (const auto* s = std::get_if<StartCheck>(&e)) checks_.push_back(*s);
      all.push_back(e);
    }
    apply_effects(timers_, out_, [](Effect&) {});
    out_.clear();
  }
  ClusterNode node_;
  Instant now_ = Instant::from_ns(1'000'000'000'000);
  Effects out_;
  TimerTable timers_;
  std::vector<StartCheck> checks_;
};

TEST(ClusterNodeStore, WritesGoToTheStoreAndNothingIsGossiped) {
  StoreNode n({target("web")});
  const auto puts = writes<StoreTargetPut>(n.all);
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].spec, target("web"));
  // Not in the view until the store says so.
  EXPECT_FALSE(n.node().target_view("web", Instant::from_ns(0)));
  n.step(AddToCounter{"hits", 3});
  n.step(DeleteTarget{"web"});
  EXPECT_EQ(writes<StoreCounterAdd>(n.all).size(), 1u);
  EXPECT_EQ(writes<StoreTargetRemove>(n.all).size(), 1u);
  EXPECT_EQ(n.node().counter("hits"), 0);
  n.run_for(Duration::seconds(10), 200);
  for (const auto& e : n.all) {
    if (const auto* t = std::get_if<SetTimer>(&e)) {
      EXPECT_NE(t->key.kind, TimerKind::anti_entropy);
      EXPECT_NE(t->key.kind, TimerKind::replica_flush);
    }
  }
  EXPECT_EQ(n.node().replication().counters().local_writes, 0u);
}

TEST(ClusterNodeStore, TheStoresChangesDriveChecksObservationsAndCounters) {
  StoreNode n;
  Observation other;
  other.status = HealthStatus::unhealthy;
  other.observer = 99;
  other.observer_name = detached_name("n9");  // a former owner, no longer a member
  n.step(StoreUpdate{{StoreTargetChanged{target("web"), HlcTimestamp::make(1, 0)},
                      StoreObservationChanged{"web", "n9", other}, StoreCounterChanged{"hits", 41}}});
  EXPECT_TRUE(n.node().checks("web"));
  EXPECT_EQ(n.node().counter("hits"), 41);
  ASSERT_TRUE(n.node().target_view("web", Instant::from_ns(0)));
  n.run_for(Duration::seconds(3), 200);
  // The node's healthy result supersedes n9's observation, in the store too.
  const auto obs = writes<StoreObservationPut>(n.all);
  ASSERT_FALSE(obs.empty());
  EXPECT_EQ(obs.front().subject, "web");
  EXPECT_EQ(obs.front().observation.status, HealthStatus::healthy);
  EXPECT_EQ(obs.front().observation.observer_name, "n1");
  EXPECT_EQ(obs.front().supersede, std::vector<std::string>{"n9"});
  const auto view = n.node().target_view("web", Instant::from_ns(0));
  EXPECT_EQ(view->status, HealthStatus::healthy);
  // An unchanged status is not written again (the vouch keeps it fresh).
  const std::size_t written = writes<StoreObservationPut>(n.all).size();
  n.run_for(Duration::seconds(5), 200);
  std::size_t web_writes = 0;
  for (const auto& o : writes<StoreObservationPut>(n.all)) web_writes += o.subject == "web";
  EXPECT_EQ(web_writes, 1u) << written;
  // The store deletes our observation (our lease expired): the next result writes it again.
  n.step(StoreUpdate{{StoreObservationGone{"web", "n1"}}});
  n.run_for(Duration::seconds(2), 200);
  web_writes = 0;
  for (const auto& o : writes<StoreObservationPut>(n.all)) web_writes += o.subject == "web";
  EXPECT_EQ(web_writes, 2u);
  n.step(StoreUpdate{{StoreCounterChanged{"hits", 50}, StoreTargetGone{"web"}}});
  EXPECT_EQ(n.node().counter("hits"), 50);
  EXPECT_FALSE(n.node().checks("web"));
  EXPECT_FALSE(n.node().target_view("web", Instant::from_ns(0)));
}

}  // namespace
}  // namespace heck
