// The simulated world (version 1): N heck::Node instances checking simulated
// targets, in true time, driven by one event queue and one seed.
//
// Contract
// - Deterministic: a run is a pure function of (scenario, seed). Every random
//   draw comes from an Rng forked from the seed per component (one per node,
//   one per target), so adding draws in one component does not shift another.
// - Nodes see only their own clock (sim/clock.h): every step() gets the
//   node's local time; SetTimer deadlines are local and fire at the first true
//   time whose local time reaches them. Setting a key again replaces its
//   timer, CancelTimer disarms it (sim/timer_table.h).
// - Effects are applied in the order the node emitted them.
// - A check's outcome is decided by the target model when it starts; the
//   CheckDone comes at min(latency, deadline), a timeout when the deadline
//   comes first. Exactly one CheckDone per StartCheck.
// - Hot path frugality: one reused Effects vector, 32-byte POD events, a slab
//   for in-flight checks, no strings built unless tracing.
// - Limits: the event queue's capacity, kMaxPendingChecks and
//   kMaxStatusRecords. Hitting a queue or slab limit stops the run with
//   error(); status records beyond the limit are counted, not stored.
//
// Later versions add links (packets through the wire codec), crashes and
// membership; they become new event kinds and slabs beside the ones here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/effects.h"
#include "core/node.h"
#include "core/random.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/scenario.h"
#include "sim/slab.h"
#include "sim/timer_table.h"
#include "sim/trace.h"

namespace heck::sim {

struct WorldOptions {
  std::uint64_t seed = 1;
  TraceWriter* trace = nullptr;  // not owned; nullptr = no trace
  std::size_t max_pending_events = EventQueue::kDefaultCapacityLimit;
};

// A node's status for a target changed (true time).
struct StatusRecord {
  Instant at;
  std::uint32_t node = 0;
  std::uint32_t target = 0;
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
  CheckReason reason = CheckReason::ok;
};

struct WorldCounters {
  std::uint64_t events = 0;          // events processed
  std::uint64_t timers_fired = 0;
  std::uint64_t stale_timers = 0;    // superseded or cancelled heap entries dropped
  std::uint64_t checks_started = 0;
  std::uint64_t checks_done = 0;     // CheckDone delivered
  std::uint64_t results = 0;         // CheckFinished reported by nodes
  std::uint64_t timeouts = 0;        // checks that hit their deadline
  std::uint64_t status_changes = 0;
  std::uint64_t status_records_dropped = 0;
  std::uint64_t unknown_targets = 0; // StartCheck for a spec the scenario lacks
};

class World {
 public:
  static constexpr std::size_t kMaxPendingChecks = std::size_t{1} << 24;
  static constexpr std::size_t kMaxStatusRecords = std::size_t{1} << 24;

  // `scenario` must outlive the world. Nodes start at true time 0.
  World(const Scenario& scenario, WorldOptions options);

  // Processes every event due at or before `end`, then sets now() to `end`.
  // Returns false when a limit stopped the run (see error()).
  bool run_until(Instant end);

  // --- views ------------------------------------------------------------
  Instant now() const { return now_; }
  std::uint64_t seed() const { return seed_; }
  const std::string& error() const { return error_; }
  const WorldCounters& counters() const { return counters_; }
  const Scenario& scenario() const { return scenario_; }
  std::size_t node_count() const { return nodes_.size(); }
  const Node& node(std::size_t i) const { return nodes_[i]->node; }
  const NodeClock& clock(std::size_t i) const { return nodes_[i]->clock; }
  const TimerTable& timers(std::size_t i) const { return nodes_[i]->timers; }
  // Status changes in the order they happened (true time).
  const std::vector<StatusRecord>& status_records() const { return status_records_; }
  // Checks node `n` started on target `t`.
  std::uint64_t checks_started(std::size_t n, std::size_t t) const { return checks_[n * targets_ + t]; }
  std::size_t pending_events() const { return queue_.size(); }

 private:
  // What the world keeps per (node, scheduler slot): the target the slot
  // checks and the answer cursor for it, i.e. the pair's Rng and a copy of
  // the target's behaviour in force, valid until the target next changes.
  // A check touches this record (two cache lines) instead of the cold model,
  // and the record is reachable from a timer event alone, so the event loop
  // can prefetch it (see run_until).
  struct alignas(32) SlotState {  // 96 bytes at a 32-byte boundary: always two cache lines
    const TargetSpec* spec = nullptr;  // the spec the slot is bound to (kept alive in held_specs)
    std::uint32_t target = 0;
    Rng rng{0};
    Instant valid_until;               // refresh `reply` when now_ reaches it
    Reply reply;
  };
  struct NodeState {
    NodeState(NodeConfig config, std::uint64_t seed, NodeClock c) : node(std::move(config), seed), clock(c) {}
    Node node;
    NodeClock clock;
    TimerTable timers;
    std::vector<SlotState> slots;  // by scheduler slot
    // Every spec a slot was bound to, so a bound address is never reused by
    // another spec. Grows only when the node replaces a target.
    std::vector<std::shared_ptr<const TargetSpec>> held_specs;
  };
  struct PendingCheck {
    CheckId check;
    Instant start_local;
    const std::string* body = nullptr;  // the target's answer body (nullptr: none)
    std::uint32_t target = 0;
    int status = 0;
    CheckReason transport = CheckReason::ok;
  };
  static constexpr std::uint32_t kNoTarget = ~std::uint32_t{0};

  void dispatch(const Event& ev);
  // Hints the CPU to fetch what handling `next` will touch: the world's
  // lines, and with `core_too` the node's scheduler state and spec too.
  void prefetch(const Event& next, bool core_too) const;
  void on_timer(const Event& ev);
  void on_check_done(const Event& ev);
  void on_target_phase(const Event& ev);
  // Applies effects_ of node `n` stepped at local time `local`, then clears it.
  void apply_effects(std::uint32_t n, Instant local);
  void start_check(std::uint32_t n, Instant local, const StartCheck& sc);
  // The record of (node n, `slot`), bound to `spec`'s target and brought up
  // to now_; nullptr when the scenario has no such target.
  SlotState* slot_for(std::uint32_t n, std::uint32_t slot, const std::shared_ptr<const TargetSpec>& spec);
  std::uint32_t target_by_id(std::string_view id) const;
  bool push(Event e);
  void stop(std::string why);

  const Scenario& scenario_;
  std::uint64_t seed_;
  TraceWriter* trace_;
  std::size_t targets_;
  EventQueue queue_;
  Instant now_;
  std::vector<std::unique_ptr<NodeState>> nodes_;
  std::uint64_t answer_seed_ = 0;  // base of the per-(node, target) answer streams
  std::map<std::string, std::uint32_t, std::less<>> target_index_;
  Slab<PendingCheck> pending_{kMaxPendingChecks};
  std::vector<std::uint64_t> checks_;  // [node * targets + target]
  std::vector<StatusRecord> status_records_;
  Effects effects_;
  WorldCounters counters_;
  std::string error_;
};

}  // namespace heck::sim
