// The simulated cluster: N members running the composed node
// (core/cluster/cluster_node.h) over the simulated network (sim/network.h),
// in true time, driven by one event queue and one seed.
//
// Contract
// - Deterministic: a run is a pure function of (scenario, seed). The seed
//   tree: one Rng for the network, one for node seeds, one for start times,
//   one for check answers; a node's seed is derived from (member, process
//   generation), so a restart gets a new seed and no other stream shifts.
// - Each member has its own clock (sim/clock.h, skew and drift from the
//   scenario); every step gets the member's local time. Effects are applied
//   in order; SetTimer/CancelTimer go to the member's timer table
//   (core/timer_table.h, the daemon's and every harness's: deadlines are
//   local, a key fires at most once per arming, ties in key order), and the
//   queue holds one wake-up per member, at its table's next deadline in true
//   time. A wake fires every due timer of the member, one step each.
// - Bytes are real: every Send goes through the network as the envelope the
//   node encoded, and arrives as a Packet the node decodes.
// - Processes:
//   crash    the node is destroyed: state, timers and any receive backlog are
//            lost; packets that arrive for it later are dropped.
//   start    a new node (same name, address and clock; new seed) joins
//            through the scenario's seeds (all but itself). restart = crash,
//            then start after `down`.
//   pause    the process is frozen: no ticks, no sends, no receives. Timers
//            that come due are deferred; arriving datagrams and streams are
//            buffered up to socket_buffer_packets (more are dropped, as a
//            full socket buffer drops them). On resume the backlog is
//            processed in arrival order (deferred timers by due time,
//            interleaved with packets), at the resume instant.
//   leave    the node leaves gracefully (LeaveCluster), keeps running for
//            stop_after, then its process exits (a `stop`, not a crash).
// - Phases: the timeline runs in the safety phase; at safety end every
//   partition heals, clogs release, link rules go, paused members resume.
// - Observation: every MemberChanged is recorded (bounded); every Send is
//   counted per member (messages, bytes); process events go to a fault log.
//   The world also keeps each running member's view of every member and the
//   number of (observer, subject) pairs that disagree with the truth
//   (running -> alive; not running -> dead, left or unknown), so the time
//   the cluster last converged is known without sampling. Without seeds
//   (every member its own one-member cluster) members do not see each
//   other: their views never disagree (always converged).
//   When the scenario judges members' own checks, each StatusChanged of a
//   configured target is recorded and check starts are counted per
//   (member, target).
// - Limits: the event queue's capacity, the network's slab, kMaxRecords
//   member records (more are counted, not stored), kMaxPendingChecks.
//   Hitting a queue or slab limit stops the run with error().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/cluster_node.h"
#include "core/cluster/coverage_marks.h"
#include "core/effects.h"
#include "core/ownership/rank_cache.h"
#include "core/replicated/delta_pool.h"
#include "core/replicated/spec_pool.h"
#include "core/slot_map.h"
#include "core/timer_table.h"
#include "core/random.h"
#include "sim/clock.h"
#include "sim/cluster_scenario.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/slab.h"
#include "sim/trace.h"

namespace heck::sim {

enum class ProcessEvent : std::uint8_t;

// Told what happens in the world as it happens (true time), for checks that
// run alongside a simulation (sim/cluster_invariants.h). Calls come in time
// order, from inside run_until(); an observer must not change the world.
// Targets are indices as in ClusterScenario::target_spec().
class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;
  // A process event of member m (start, crash, stop, pause, resume, leave).
  virtual void on_process(Instant at, std::uint32_t m, ProcessEvent what) = 0;
  // A partition, clog or link rule came or went (the liveness heal too);
  // `disruptions` = partitions and clogs in force now.
  virtual void on_network(Instant at, const Network& network, std::size_t disruptions) = 0;
  // A put_target (spec) or delete_target (nullptr) reached a running member.
  virtual void on_registry(Instant at, std::uint32_t target, const TargetSpec* spec) = 0;
  // Member m started a check of a known target.
  virtual void on_check(Instant at, std::uint32_t m, std::uint32_t target) = 0;
};

struct ClusterWorldOptions {
  std::uint64_t seed = 1;
  TraceWriter* trace = nullptr;  // not owned; nullptr = no trace
  std::size_t max_pending_events = EventQueue::kDefaultCapacityLimit;
  bool trace_sends = true;       // one trace line per Send (with its fate)
  ClusterObserver* observer = nullptr;  // not owned; nullptr = none
};

// A MemberChanged some member reported (true time).
struct MemberRecord {
  Instant at;
  std::uint64_t incarnation = 0;
  std::uint32_t observer = 0;
  std::uint32_t subject = 0;
  MemberState from = MemberState::alive;
  MemberState to = MemberState::alive;
  bool is_new = false;
};

enum class ProcessEvent : std::uint8_t { start, crash, stop, pause, resume, leave };
std::string_view to_string(ProcessEvent e);

// A process event (true time). `incarnation` is the member's own incarnation
// just before the event (crash, stop, pause, leave) or 0 (start, resume).
struct FaultRecord {
  Instant at;
  std::uint32_t member = 0;
  ProcessEvent what = ProcessEvent::start;
  std::uint64_t incarnation = 0;
};

// A member's own status for a configured target changed: a StatusChanged of
// its scheduler (true time). Recorded only when the scenario judges members'
// own checks (ClusterScenario::judges_own_checks).
struct StatusRecord {
  Instant at;
  std::uint32_t member = 0;
  std::uint32_t target = 0;  // index into ClusterScenario::targets
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
  CheckReason reason = CheckReason::ok;  // of the result that crossed the threshold
};

struct MemberTraffic {
  std::uint64_t messages = 0;  // Send effects after metrics_from
  std::uint64_t bytes = 0;
  std::uint64_t datagrams = 0;
  std::uint64_t streams = 0;
};

struct ClusterWorldCounters {
  std::uint64_t events = 0;
  std::uint64_t timers_fired = 0;
  std::uint64_t stale_timers = 0;
  std::uint64_t timers_deferred = 0;     // came due while paused
  std::uint64_t packets_delivered = 0;   // stepped into a node
  std::uint64_t packets_to_down = 0;     // arrived at a member that was not running
  std::uint64_t packets_buffered = 0;    // held for a paused member
  std::uint64_t packets_buffer_full = 0; // dropped: a paused member's buffer was full
  std::uint64_t unroutable = 0;          // Send to an address no member has
  std::uint64_t member_changes = 0;
  std::uint64_t records_dropped = 0;     // member records over kMaxRecords
  std::uint64_t checks_started = 0;
  std::uint64_t status_changes = 0;
  std::uint64_t status_records_dropped = 0;  // status records over kMaxRecords
  std::uint64_t ignored_faults = 0;      // e.g. crash of a member that is not running
  std::uint64_t writes_deduplicated = 0; // keyed timeline writes a member had a record of (retries)
  std::uint64_t vantage_answers = 0;     // checks answered by a vantage rule, not the model
};

class ClusterWorld {
 public:
  static constexpr std::size_t kMaxRecords = std::size_t{1} << 25;
  static constexpr std::size_t kMaxPendingChecks = std::size_t{1} << 22;

  // `scenario` must outlive the world. Members that start do so at their
  // start time (seeds at 0, others spread over start_spread).
  ClusterWorld(const ClusterScenario& scenario, ClusterWorldOptions options);
  ~ClusterWorld();

  // Processes every event due at or before `end`, then sets now() to `end`.
  // Returns false when a limit stopped the run (see error()).
  bool run_until(Instant end);

  // --- faults (the timeline uses these; tests and benchmarks may too) ---
  void crash(std::uint32_t m) { end_process(m, ProcessEvent::crash); }
  void start(std::uint32_t m);
  void pause(std::uint32_t m);
  void resume(std::uint32_t m);
  void leave(std::uint32_t m, Duration stop_after);
  // Heals partitions, releases clogs, drops link rules added since the
  // start, resumes paused members: the liveness phase.
  void heal_everything();
  Network& network() { return network_; }
  const Network& network() const { return network_; }
  // Runs `in` on member m's node now (no-op unless running and not paused).
  void input(std::uint32_t m, const ClusterInput& in);
  // A timeline write (add_counter, add_to_set, remove_from_set) at m.
  void write(std::uint32_t m, const TimelineEvent& e);

  // --- views ------------------------------------------------------------
  Instant now() const { return now_; }
  std::uint64_t seed() const { return seed_; }
  const std::string& error() const { return error_; }
  const ClusterScenario& scenario() const { return scenario_; }
  // The table every agent interns its replicated keys (target ids) in, the
  // shared spec pool's: a Name found here matches an agent's keys by its
  // entry, without the text.
  const NameTable& key_names() const { return spec_pool_->names(); }
  std::size_t member_count() const { return members_.size(); }
  bool running(std::uint32_t m) const { return members_[m]->node != nullptr; }
  bool paused(std::uint32_t m) const { return members_[m]->paused; }
  // nullptr when not running.
  const ClusterNode* node(std::uint32_t m) const { return members_[m]->node.get(); }
  // The decoded delta bodies the agents share (its counters: decodes saved).
  const DeltaPool& delta_pool() const { return *delta_pool_; }
  const RankCache& rank_cache() const { return *rank_cache_; }
  const wire::EnvelopeCache& envelope_cache() const { return *envelope_cache_; }
  // Coverage marks hit so far (core/cluster/coverage_marks.h), summed over
  // every incarnation of every member: ended processes included.
  CoverageHits coverage() const;
  const NodeClock& clock(std::uint32_t m) const { return members_[m]->clock; }
  const MemberTraffic& traffic(std::uint32_t m) const { return members_[m]->traffic; }
  const std::vector<MemberRecord>& records() const { return records_; }
  // The simulated alert receiver's log: every notification it accepted, in
  // arrival order (ClusterScenario::alerts).
  struct AlertDelivery {
    Instant at;  // true time of arrival
    AlertNotification notification;
  };
  const std::vector<AlertDelivery>& alert_log() const { return alert_log_; }
  const std::vector<FaultRecord>& faults() const { return faults_; }
  // Own checks (recorded when the scenario judges them, else empty / 0):
  // status changes in time order, and the checks member m started of
  // configured target t.
  const std::vector<StatusRecord>& status_records() const { return status_records_; }
  std::uint64_t checks_started(std::uint32_t m, std::uint32_t t) const {
    return own_checks_.empty() ? 0 : own_checks_[static_cast<std::size_t>(m) * scenario_.targets.size() + t];
  }
  const ClusterWorldCounters& counters() const { return counters_; }
  // Pairs (running observer, other member) whose view disagrees with the truth.
  std::size_t disagreements() const { return disagreements_; }
  // Since when disagreements() has been 0 (nullopt: it is not 0 now).
  std::optional<Instant> converged_since() const { return converged_since_; }
  Instant liveness_start() const { return Instant::from_ns(0) + scenario_.safety; }

 private:
  struct Backlog {
    enum class Kind : std::uint8_t { timer, packet, check };
    Kind kind = Kind::packet;
    TimerKey key;             // timer
    Message message;          // packet
    std::uint32_t check = 0;  // check: index into pending_
  };
  // A scheduler slot's target, as last seen in a StartCheck: the spec it was
  // bound to (held, so its address is not reused while bound), its index
  // (ClusterScenario::target_spec; kNoTarget when the scenario lacks it) and
  // the model's reply in force until reply_until. Saves a lookup by id and a
  // walk of the (cold) model per check.
  struct SlotBinding {
    std::shared_ptr<const TargetSpec> spec;
    std::uint32_t target = 0;
    bool has_reply = false;
    Instant reply_until;
    Reply reply;
  };
  static constexpr std::uint32_t kNoTarget = ~std::uint32_t{0};
  static constexpr std::size_t kMaxBoundSlots = std::size_t{1} << 20;
  static constexpr std::uint64_t kNoWake = ~std::uint64_t{0};
  struct MemberSlot {
    std::string name;
    Address address;
    NodeClock clock;
    std::unique_ptr<ClusterNode> node;  // null when not running
    TimerTable timers;                  // the node's armed timers (local deadlines)
    std::uint64_t wake_seq = kNoWake;   // the queue's live wake-up event for them
    Instant wake_at;                    // its true time
    bool draining = false;              // firing due timers (on_timer): no new wake yet
    std::uint32_t generation = 0;       // processes started so far
    bool paused = false;
    std::vector<Backlog> backlog;       // paused: deferred timers and buffered packets
    std::size_t backlog_packets = 0;
    MemberTraffic traffic;
    std::vector<SlotBinding> slots;     // by scheduler slot (CheckId::slot)
  };
  struct PendingCheck {
    CheckId check;
    Instant start_local;
    std::uint32_t member = 0;
    std::uint32_t generation = 0;
    CheckAnswer answer;
    bool timed_out = false;
  };

  void end_process(std::uint32_t m, ProcessEvent why);
  void finish_check(std::uint32_t index);
  void dispatch(const Event& ev);
  void on_timer(const Event& ev);
  void on_packet(const Event& ev);
  void on_check_done(const Event& ev);
  void on_notify(const Event& ev);
  void start_notify(std::uint32_t m, const Notify& n);
  void on_fault(const Event& ev);
  void apply_timeline(const TimelineEvent& e);
  void deliver(std::uint32_t m, Message message);
  void fire_timer(std::uint32_t m, TimerKey key);
  // Keeps one wake-up event in the queue at the member's next deadline.
  void schedule_wake(std::uint32_t m);
  void reset_timers(MemberSlot& ms);
  // Applies effects_ of member m stepped at local time `local`, then clears it.
  void apply_effects(std::uint32_t m, Instant local);
  void send(std::uint32_t m, Send& s);
  void start_check(std::uint32_t m, Instant local, const StartCheck& sc);
  // The slot binding of sc's scheduler slot, (re)bound to sc.spec; nullptr
  // past kMaxBoundSlots.
  SlotBinding* bind(MemberSlot& ms, const StartCheck& sc);
  void record_change(std::uint32_t observer, const MemberChanged& c);
  void record_status(std::uint32_t m, const StatusChanged& c);
  void schedule(Instant at, WorldAction action, std::uint32_t member, std::uint64_t argument);
  bool push(Event e);
  // Queues a packet event for each of arrivals_ (released or sent messages).
  void push_arrivals();
  void stop_run(std::string why);
  void log(std::uint32_t m, ProcessEvent what);
  std::uint64_t self_incarnation(std::uint32_t m) const;
  std::optional<std::uint32_t> member_at(const Address& address) const;
  void network_changed();
  std::string stream_source(std::uint32_t m);

  // Convergence bookkeeping: what an observer last reported of a member.
  enum class SeenAs : std::uint8_t { unknown, alive, suspect, dead, left };
  static SeenAs seen_as(MemberState s);
  static bool live(SeenAs v) { return v == SeenAs::alive || v == SeenAs::suspect; }
  bool agrees(std::uint32_t observer, std::uint32_t subject) const;
  // Disagreeing pairs that involve m, as observer or as subject.
  std::size_t contribution(std::uint32_t m) const;
  void set_view(std::uint32_t observer, std::uint32_t subject, SeenAs v);
  void update_converged();

  const ClusterScenario& scenario_;
  std::uint64_t seed_;
  TraceWriter* trace_;
  bool trace_sends_;
  ClusterObserver* observer_;
  EventQueue queue_;
  Network network_;
  Instant now_;
  Instant run_end_;  // the bound of the run_until call in progress
  std::uint64_t node_seed_base_ = 0;
  Rng answers_{0};
  // Alert notifications on their way (Event::notify: to the receiver, then
  // its answer back), by index; freed slots are reused.
  struct PendingNotify {
    std::uint32_t member = 0;
    std::uint32_t generation = 0;
    AlertNotification notification;
    bool answering = false;  // reached the receiver; the answer is on its way back
    bool delivered = false;
  };
  static constexpr std::size_t kMaxPendingNotifies = std::size_t{1} << 20;
  std::vector<PendingNotify> notifies_;
  std::vector<std::uint32_t> free_notifies_;
  std::vector<AlertDelivery> alert_log_;
  Rng receiver_{0};
  std::uint64_t ephemeral_port_ = 0;
  std::vector<std::unique_ptr<MemberSlot>> members_;
  std::map<Address, std::uint32_t, std::less<>> by_address_;
  SlotMap<std::string, std::uint32_t> by_name_;
  SlotMap<std::string, std::uint32_t> target_index_;  // every known target (ClusterScenario::target_spec)
  std::vector<std::vector<std::uint8_t>> vantage_;  // [member][target]: 0 none, else 1 + VantageRule::Answer
  std::vector<TargetSpec> target_specs_;
  // Decoded specs shared by every agent (core/replicated/spec_pool.h): one
  // parse and one copy per distinct spec, not one per agent.
  std::shared_ptr<SpecPool> spec_pool_ = std::make_shared<SpecPool>();
  // Decoded delta bodies shared by every agent (core/replicated/delta_pool.h):
  // an eager push is decoded once, not once per receiver.
  std::shared_ptr<DeltaPool> delta_pool_ = std::make_shared<DeltaPool>();
  // Rankings shared by every agent's ownership index
  // (core/ownership/rank_cache.h): agents that agree on who is live rank a
  // target once between them, not once each.
  std::shared_ptr<RankCache> rank_cache_ = std::make_shared<RankCache>();
  // Envelopes shared by every agent (core/wire/envelope_cache.h): a message
  // sent to many is checked once, not once per receiver.
  std::shared_ptr<wire::EnvelopeCache> envelope_cache_ = std::make_shared<wire::EnvelopeCache>();
  // Member names and addresses interned once for every agent
  // (core/name_table.h), not once per agent and per member list.
  std::shared_ptr<NameTable> names_ = std::make_shared<NameTable>();
  CoverageHits ended_hits_{};  // marks of processes that ended (crash, leave)

  std::vector<Address> seed_addresses_;
  std::vector<std::uint32_t> timeline_links_;      // network rule ids from link events
  std::vector<std::pair<std::string, std::uint32_t>> named_partitions_, named_clogs_, named_links_;
  Slab<PendingCheck> pending_{kMaxPendingChecks};
  std::vector<MemberRecord> records_;
  std::vector<FaultRecord> faults_;
  bool own_checks_on_ = false;             // scenario_.judges_own_checks()
  std::vector<StatusRecord> status_records_;
  std::vector<std::uint64_t> own_checks_;  // [member * configured targets + target]
  std::vector<Arrival> arrivals_;
  Effects effects_;
  ClusterWorldCounters counters_;
  std::string error_;

  std::vector<SeenAs> view_;  // [observer * n + subject]
  bool independent_ = false;  // no seeds: members never meet (see the header comment)
  std::size_t disagreements_ = 0;
  std::optional<Instant> converged_since_;
};

}  // namespace heck::sim
