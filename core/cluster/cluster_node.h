// The composed node: membership (SWIM + Lifeguard), ownership (rendezvous
// hashing), the check scheduler and the replicated health state, as the one
// state machine both drivers run — hundreds per process in the simulator,
// one per process in the daemon.
//
// How the parts meet
// - Packets: every incoming Packet is one envelope (core/wire/envelope.h);
//   its parts go to the layer that owns their type (membership 1-31,
//   replication 32-63). A packet that does not decode is dropped and counted
//   (counters().malformed_packets, last_malformed()); unknown part types are
//   counted and skipped. Replication deltas ride membership datagrams: after
//   each replicator call the node moves the replicator's outbox into Swim's
//   BroadcastQueue (Replicator::take_broadcasts), so no part holds a pointer
//   into another and the node is a value that can be moved.
// - Timers: swim_* kinds go to membership, anti_entropy and replica_flush to
//   replication, check to the scheduler, vouch to the node itself (below);
//   a kind no part owns is counted
//   (counters().unknown_timers) and dropped.
// - Datagram budget: swim.max_packet_bytes is the node's one setting; the
//   replicator's max_packet_bytes is set from it.
// - Targets: the replicated registry (an add-wins map of specs) is the set of
//   targets; PutTarget/DeleteTarget write to it from any agent. Configured
//   targets are written at start() unless the registry already holds that
//   exact spec. Concurrent writes of one target (agents started with the
//   same config, PUTs through two agents) leave a spec sibling each; the
//   writer of the winning sibling writes it once more when it sees
//   siblings, which supersedes them (one spec per target again).
// - Ownership: for each target, the live members (alive or suspect, and this
//   node unless it left) are ranked by rendezvous hashing; the first
//   `spec.checkers` are its owners. This node checks a target when it is an
//   owner, or when it is the member ranked right after the owners (the
//   standby) while an owner is suspect: the standby starts checking at once,
//   so the gap after a crash is the suspicion time only, not suspicion plus
//   death. The standby does not move when it is suspect too (at most r + 1
//   checkers however the members' suspicions differ). Ownership is
//   recomputed when the membership view or the registry changes; only the
//   targets whose owner set changed move. A member that takes over a target
//   continues from the status the cluster reports and checks it within
//   takeover_check_within (no "unknown" in between, no interval-long wait).
// - Observations: each check result updates the local scheduler state; the
//   status is written to the replicated state when the write would change
//   more than a timestamp: the status changed, this node's observation is
//   not live (a first result, a takeover, a restart), or it has siblings the
//   write supersedes (after a partition, or a standby's write). Unchanged
//   statuses are not re-written: every observation_refresh the node writes
//   one vouch for all its observations (health_state.h: vouch_subject), so
//   an owner that stopped reporting still shows as stale elsewhere, at one
//   write per member per refresh instead of one per target. With one owner a
//   write supersedes every observation the writer has seen; with several, it
//   keeps the other current owners' observations: one vote per owner, and
//   the status comes from the votes (target_view.h: quorum).
// - Latencies: each check's latency goes to this node's ring for the target
//   (latency_history.h), which moves with the ownership: every
//   latency_handoff_interval an owner hands its new samples to the
//   target's standby, and a member that stops checking a target hands its
//   ring to the new owners. Not replicated state: a datagram to one member.
//
// Stores (config.external_store). By default the registry, observations and
// counters are the replicated state above (Replicator, gossip). With an
// external store (etcd, core/store/etcd_store.h) SWIM, ownership, takeover
// and the scheduler run unchanged, but the replicator stays idle (never
// started: no anti-entropy, no deltas) and the node keeps a mirror
// HealthState instead, written by one replica, this node:
// - every local write (PutTarget, DeleteTarget, AddToCounter, a check
//   result's observation, a vouch) comes out as a StoreWrite effect for the
//   driver to hand to the store; an observation is also applied to the
//   mirror at once (the node's write rules read it), the rest only when the
//   store says so;
// - the store's view comes in as a StoreUpdate input (watch events, full
//   reads), applied to the mirror: a target put/removed, one member's
//   observation put (replacing that member's) or gone, a counter's value.
// Everything else reads the mirror exactly as it reads the replicated state
// (health_state()), so the two modes answer the same way. The gossip mode
// neither reads nor writes the mirror: its behaviour and traces are as
// before.
//
// Determinism: the node owns no randomness of its own beyond seeds derived
// from `seed` for each layer; effects come out in a deterministic order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/alerts/alert_dispatch.h"
#include "core/cluster/latency_history.h"
#include "core/cluster/peer_table.h"
#include "core/cluster/target_view.h"
#include "core/effects.h"
#include "core/membership/swim.h"
#include "core/net.h"
#include "core/ownership/ownership_index.h"
#include "core/ownership/rendezvous.h"
#include "core/replicated/replicator.h"
#include "core/replicated/snapshot.h"
#include "core/scheduler.h"
#include "core/store/store_types.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "core/wire/envelope.h"
#include "core/wire/envelope_cache.h"

namespace heck {

struct ClusterNodeConfig {
  std::string name;              // unique member name
  Address address;               // advertised "host:port"
  std::vector<Address> seeds;    // join through these; empty = first member
  SwimConfig swim;
  ReplicatorConfig replication;
  SchedulerConfig scheduler;
  // Written to the registry at start(), each unless this agent wrote the
  // same spec from its config before (`configured`, restored with the
  // snapshot): then the cluster's word stands, so a configured target
  // deleted or replaced through the API is not brought back by a restart.
  // An edited spec in the config is written again.
  std::vector<TargetSpec> targets;
  ConfiguredSeeds configured;
  Duration observation_refresh = Duration::seconds(30);
  // A member that takes over a target someone already reports on checks it
  // within this (randomly spread), continuing from the reported status.
  Duration takeover_check_within = Duration::milliseconds(500);
  int stale_intervals = 3;                   // target_view: stale after refresh + this many intervals
  std::size_t view_fallbacks = 2;            // target_view: fallbacks listed after the owners
  // Owners hand new latency samples to each target's standby this often
  // (latency_history.h); zero: never (a takeover starts with no samples).
  Duration latency_handoff_interval = Duration::seconds(30);
  // Durable state restored from a snapshot (core/replicated/snapshot.h):
  // joined at start(), before the configured targets are written.
  std::optional<HealthDelta> restored;
  // The envelope format this node writes (core/wire/envelope.h): 2, or 1
  // while a cluster still runs builds that read only format 1 (the first
  // of the two rollouts of an upgrade). Either is read.
  std::uint64_t wire_format = wire::kFormatVersion;
  std::size_t max_datagram_bytes = 65507;    // larger datagrams are dropped
  std::size_t max_stream_bytes = 1 << 22;    // larger stream frames are dropped
  // The registry, observations and counters live in an external store (see
  // the header comment): writes are StoreWrite effects, the store's view
  // comes in as StoreUpdate. `restored` is ignored then.
  bool external_store = false;
  // Alert routes and the sender's settings (core/alerts/alert_route.h).
  // Without routes nothing of it runs (no timer, no state, no traffic).
  AlertConfig alerts;
  // Rankings shared with other nodes' ownership indexes
  // (core/ownership/rank_cache.h): the simulator gives its agents one.
  // Null: every ranking is made here.
  std::shared_ptr<RankCache> rank_cache;
  // Envelopes shared with other nodes by the message block they came in
  // (core/wire/envelope_cache.h): the simulator gives its agents one. Null:
  // every packet is decoded here.
  std::shared_ptr<wire::EnvelopeCache> envelope_cache;
};

// --- inputs (TimerFired and CheckDone as in core/effects.h) ------------------
struct LeaveCluster {};
struct PutTarget {
  TargetSpec spec;
};
struct DeleteTarget {
  std::string id;
};
struct AddToCounter {
  std::string name;
  std::int64_t delta = 0;
};
// The likes service: a member of a replicated add-wins set (health_state.h).
// REQUIRES: valid_set_name(name), valid_set_member(member).
struct AddToSet {
  std::string name, member;
};
struct RemoveFromSet {
  std::string name, member;
};
// The first answer of an idempotent write, recorded right after the write
// it answers, in the same driver turn (Replicator::record_request).
struct RecordRequest {
  std::string key;
  AppliedRequest answer;
};
// An alert route written (removed) through the API: replicated state,
// cluster-wide (HealthState::put_route). A route of the same name in this
// node's config shadows it here. REQUIRES: a route AlertRoute::from_json
// accepts (valid_route_name(name)). Ignored (counted) with an external store,
// which keeps no routes.
struct PutRoute {
  AlertRoute route;
};
struct DeleteRoute {
  std::string name;
};
// StoreUpdate (core/store/store_types.h): the external store's changes.
// NotifyDone (core/effects.h): a Notify was delivered or failed.
using ClusterInput = std::variant<Packet, TimerFired, CheckDone, LeaveCluster, PutTarget, DeleteTarget, AddToCounter,
                                  AddToSet, RemoveFromSet, RecordRequest, StoreUpdate, NotifyDone, PutRoute,
                                  DeleteRoute>;

struct ClusterCounters {
  std::uint64_t packets_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t malformed_packets = 0;   // envelopes that did not decode
  std::uint64_t oversized_packets = 0;   // over max_datagram_bytes / max_stream_bytes
  std::uint64_t unknown_parts = 0;       // part types no layer owns
  std::uint64_t unknown_timers = 0;      // TimerFired of a kind no layer owns
  std::uint64_t ownership_changes = 0;   // targets this node started or stopped checking
  std::uint64_t takeovers = 0;           // ... started while others already reported on them
  std::uint64_t takeovers_with_latencies = 0;  // ... holding latencies another member handed over
  std::uint64_t quorum_outvoted = 0;     // our unhealthy votes the quorum outvoted (target stays healthy)
  std::uint64_t observations_written = 0;
  std::uint64_t vouches_written = 0;     // vouch observations (health_state.h: vouch_subject)
  std::uint64_t counter_adds_refused = 0;  // would pass the int64 range (HealthState::counter_add_problem)
  std::uint64_t route_writes_refused = 0;  // PutRoute / DeleteRoute with an external store
  std::uint64_t sibling_specs_settled = 0;  // winning specs this node wrote, re-written to end siblings
  // Latency handoffs (latency_history.h), one per target and receiver.
  std::uint64_t latency_handoffs_sent = 0;
  std::uint64_t latency_handoffs_received = 0;   // merged into this node's rings
  std::uint64_t latency_handoffs_parked = 0;     // for a target not registered here yet
  std::uint64_t latency_handoffs_refused = 0;    // this node is neither owner nor standby
  std::uint64_t latency_handoffs_malformed = 0;  // did not decode (last_malformed says why)
  std::uint64_t latency_samples_out_of_range = 0;  // handed samples dated too far from this node's clock
};

class ClusterNode {
 public:
  ClusterNode(ClusterNodeConfig config, std::uint64_t seed);
  // Movable: a moved running node keeps running (no part points into
  // another). Not copyable (the replicator's digest sums live on the heap).

  // Joins config.seeds and writes the configured targets. Call once.
  void start(Instant now, Effects& out);
  void step(Instant now, const ClusterInput& in, Effects& out);

  // ---- views ----
  const ClusterNodeConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const Swim& membership() const { return swim_; }
  const Replicator& replication() const { return replicator_; }
  // Who owns what (benchmarks count its work: full ranks and hashes).
  const OwnershipIndex& ownership() const { return ownership_; }
  const CheckScheduler& scheduler() const { return scheduler_; }
  const ClusterCounters& counters() const { return counters_; }
  const std::string& last_malformed() const { return last_malformed_; }
  // The routes alerts go out on: this node's config routes, then those
  // written through the API that no config route shadows, by name.
  const AlertDispatch& alerts() const { return alerts_; }

  // Members a target's ranking runs over now (alive or suspect), best first
  // for `target_id`, at most `limit` (0 = all).
  std::vector<std::string> ranked_members(NameRef target_id, std::size_t limit = 0) const;
  // The owners of a target (its first spec.checkers ranked members).
  std::vector<std::string> owners(NameRef target_id) const;
  // True when this node checks the target now.
  bool checks(NameRef target_id) const { return scheduler_.find(target_id) != nullptr; }
  // The recent check latencies this node holds: its own checks' and those
  // handed over with the ownership (latency_history.h).
  const LatencyHistory& latencies() const { return latencies_; }

  // What this agent answers about a target (core/cluster/target_view.h);
  // `now` is this agent's time. nullopt when the registry does not hold it.
  std::optional<TargetView> target_view(NameRef id, Instant now) const;
  // Every registered target, by id.
  std::vector<TargetView> target_views(Instant now) const;
  // f(view) for every registered target, by id, one view at a time: a
  // listing or a count over 10^4 targets holds one view, not all of them.
  template <typename F>
  void for_each_target_view(Instant now, F&& f) const {
    for (const auto& [id, specs] : health_state().state().registry.store.entries()) {
      if (auto v = target_view(id, now)) f(*v);
    }
  }
  // The status target_view(id) reports, without building the view (no
  // ranking, no copies for people); nullopt when the registry does not hold
  // it. O(observations of the target).
  std::optional<HealthStatus> target_status(NameRef id) const;
  // f(id, status) for every registered target, by id: target_status over
  // the registry in one pass.
  template <typename F>
  void for_each_target_status(F&& f) const {
    for (const auto& [id, specs] : health_state().state().registry.store.entries()) {
      if (const auto status = target_status(id)) f(id, *status);
    }
  }
  // A replicated counter's value here (0 when never written).
  std::int64_t counter(const std::string& name) const { return health_state().counter(name); }
  // The registry, observations and counters this node answers from: the
  // replicated state, or the external store's mirror.
  const HealthState& health_state() const { return config_.external_store ? mirror_ : replicator_.state(); }
  bool external_store() const { return config_.external_store; }

  // Durability. durable_epoch() changes whenever the durable part of the
  // state (the target registry, the counters, the sets and the record of
  // applied idempotent writes) changes here, by a local
  // write or by replication; durable_state() is that part, to be written
  // with core/replicated/snapshot.h and passed back as config.restored.
  std::uint64_t durable_epoch() const { return durable_epoch_; }
  HealthDelta durable_state() const;
  // The configured targets this node has written (config.configured plus
  // those of this start), saved beside durable_state().
  const ConfiguredSeeds& configured_seeds() const { return configured_; }

 private:
  void handle_packet(Instant now, const Packet& p, Effects& out);
  void after_step(Instant now, std::size_t first_effect, Effects& out);
  // Re-frames this step's sends as format 1 (ClusterNodeConfig::wire_format).
  void write_format1(std::size_t first_effect, Effects& out);
  // Starts or stops checking each of `ids` (sorted, unique) as ownership
  // and the registry say now. O(|ids| log n).
  void reconcile(Instant now, const std::vector<Name>& ids, Effects& out);
  TargetStart takeover_start(NameRef id, const TargetSpec& spec) const;
  void refresh_peers(std::vector<Name>* affected);
  void apply_member_change(const MemberChanged& c, std::vector<Name>* affected);
  void record_results(Instant now, std::size_t first_effect, Effects& out);
  // True when writing `status` as this node's observation of `id` would
  // change the replicated state beyond a timestamp: our own observation is
  // not live or says otherwise, or it has siblings the write would supersede.
  bool write_would_change(NameRef id, HealthStatus status) const;
  void vouch(Instant now, Effects& out);
  // Latency handoffs (latency_history.h): the periodic one to the standbys;
  // a dropped target's ring to its owners; one received.
  using LatencyParts = std::map<std::string, std::vector<wire::EncodedPart>>;  // by receiver
  void hand_off_latencies(Instant now, Effects& out);
  void hand_ring_to_owners(const std::string& id, std::size_t checkers, LatencyParts& to_send);
  void send_latency_parts(const std::string& to, std::span<const wire::EncodedPart> parts, Channel channel,
                          Effects& out);
  void receive_latency_handoff(Instant now, const wire::Part& part, const std::string& from);
  // True when this node is one of the first `checkers + 1` ranked for `id`
  // (an owner or the standby): it keeps the target's latency ring.
  bool keeps_ring(NameRef id, std::size_t checkers) const;
  // Alerts (core/alerts/): every alerts.tick, what is due for the targets
  // this node is the first owner of; a NotifyDone's record.
  void look_for_alerts(Instant now, Effects& out);
  // The routes changed (an API write here or replicated): the dispatch's
  // routes are the config's and the replicated ones; the alerts timer is
  // armed once there is a route.
  void update_routes(Instant now, Effects& out);
  void notify_done(Instant now, const NotifyDone& report, Effects& out);
  void record_alert(Instant now, const AlertToRecord& r, Effects& out);
  AlertFacts alert_facts(NameRef id) const;
  // True when the target's votes, ours included, do not make it unhealthy
  // (a quorum above one that the unhealthy votes do not reach).
  bool quorum_outvotes(NameRef id) const;
  // The status the target's observations resolve to under `quorum`
  // (target_view.h: resolve_votes); nullopt when nobody reports on it.
  std::optional<HealthStatus> reported_status(NameRef id, int quorum) const;
  // Writes this node's observation of `id` (keeping those of `keep`):
  // to the replicated state, or to the mirror and out as a StoreWrite.
  void write_observation(Instant now, const std::string& id, Observation o, std::span<const std::string> keep,
                         Effects& out);
  void write_to_store(Instant now, StoreWriteOp op, Effects& out);
  void apply_store_update(Instant now, const StoreUpdate& update);
  std::vector<Name> take_registry_changes() {
    return config_.external_store ? mirror_.take_registry_changes() : replicator_.take_registry_changes();
  }
  // The replicator's parts for piggybacking go to Swim's queue.
  void pass_broadcasts() { replicator_.take_broadcasts(swim_.broadcasts()); }

  ClusterNodeConfig config_;
  Swim swim_;
  Replicator replicator_;
  CheckScheduler scheduler_;
  // External store mode only: the store's view, and the clock that stamps
  // this node's observations there.
  HealthState mirror_;
  HybridClock store_clock_;
  ClusterCounters counters_;
  std::string last_malformed_;
  LatencyHistory latencies_;

  // The live members except self as of the last after_step: the
  // replicator's view (peer_table.h).
  PeerTable peers_;
  AlertDispatch alerts_;
  // Rankings over the live members (alive or suspect, self unless left),
  // updated incrementally on membership and registry changes.
  OwnershipIndex ownership_;
  bool membership_dirty_ = true;
  // The replicated state's versions last seen (HealthState): a registry
  // change recomputes ownership; either changes durable_epoch_.
  std::uint64_t registry_seen_ = 0;
  std::uint64_t counters_seen_ = 0;
  std::uint64_t sets_requests_seen_ = 0;  // HealthState::sets_version + requests_version + alerts_version
  std::uint64_t routes_seen_ = 0;
  bool alert_timer_armed_ = false;
  std::uint64_t durable_epoch_ = 0;
  ConfiguredSeeds configured_;

  // The last status written per target, by scheduler slot (reset when the
  // target leaves the scheduler), with the observation store's version and
  // the membership epoch after it: while none changes, a result needs no
  // look at the state (record_results).
  struct Published {
    struct Epoch {
      std::uint64_t observations = UINT64_MAX;  // HealthState::observations_version
      std::uint64_t membership = 0;             // membership_epoch_
      bool operator==(const Epoch&) const = default;
    };
    HealthStatus status = HealthStatus::unknown;
    Epoch epoch;
  };
  std::vector<std::optional<Published>> published_;
  // Where each scheduler slot's latency ring was found last (a slot that
  // changes target falls back to the lookup once: LatencyHistory::RingHint).
  std::vector<LatencyHistory::RingHint> ring_hints_;
  std::uint64_t membership_epoch_ = 0;  // bumped by every membership change applied

};

}  // namespace heck
