// The replicated health state every agent holds: which targets exist (a
// map of spec versions, the newest written; a removal is a version too),
// what their checkers observed (a map of multi-value
// registers of observations), named counters, named add-wins sets (the likes
// service), the record of applied idempotent writes, the alert log and the
// alert routes written through the API — seven delta CRDTs over one replica
// id, joined and queried together. The last four are empty until a client
// uses them, and then absent from every encoding (codec.h).
//
// Anti-entropy (replicator.h) must avoid a pitfall: a digest made only of
// the peer's causal contexts is not enough. Sending "the entries whose dots
// the peer has not seen, with our whole context" is wrong: the peer would drop
// the entries it already shares with us (their dots are in our context but not
// in the sent part). heck's answer is the scoped join below: per-bucket hashes
// of live (key, dot) pairs in the digest, and for each differing bucket every
// live entry of ours in it, joined only over that bucket's keys.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/alerts/alert_route.h"
#include "core/replicated/crdts.h"
#include "core/replicated/hlc.h"
#include "core/replicated/observation.h"
#include "core/target_spec.h"

namespace heck {

// One version of a target's spec, as written by one agent. A version
// without a spec is a removal (a tombstone): HealthState::remove_target.
struct SpecVersion {
  std::shared_ptr<const TargetSpec> spec;  // null: the target was removed at written_at
  HlcTimestamp written_at;
  ReplicaId writer = 0;

  bool operator==(const SpecVersion& o) const {
    return written_at == o.written_at && writer == o.writer && (spec == o.spec || (spec && o.spec && *spec == *o.spec));
  }
};

using RegistryStore = DotMap<Name, DotFun<SpecVersion>>;
// The winning version among a target's siblings: the newest written_at,
// then the lower writer; a removal included (then the target is not live).
const SpecVersion* winning_version(const DotFun<SpecVersion>& specs);
// The live targets of a registry (those whose winning version has a spec):
// O(n), for a state that is not a HealthState (a restored snapshot).
std::size_t registered_targets(const RegistryStore& registry);
using ObservationStore = DotMap<Name, DotFun<Observation>>;
using CounterStore = DotMap<Name, DotFun<std::int64_t>>;

// A member of a replicated set is present; the value says nothing more. The
// set store is an add-wins set of (set, member) pairs, keyed
// set_key(set, member) = set + "/" + member: an add writes a fresh dot and
// supersedes the dots of that pair it has seen; a remove forgets the dots it
// has seen; an add concurrent with a remove survives (add wins). However
// often a pair is added, it is one key: it counts once.
struct SetMark {
  bool operator==(const SetMark&) const = default;
};
using SetStore = DotMap<Name, DotFun<SetMark>>;

// Set names and members: 1-kMaxSetNameLength (kMaxSetMemberLength)
// characters of A-Z a-z 0-9 . _ : - (never '/', the separator of a key).
inline constexpr std::size_t kMaxSetNameLength = 64;
inline constexpr std::size_t kMaxSetMemberLength = 128;
bool valid_set_name(std::string_view name);
bool valid_set_member(std::string_view member);
std::string set_key(std::string_view set, std::string_view member);
// True for a key of the form set_key(valid name, valid member).
bool valid_set_key(std::string_view key);

// An applied idempotent write (an Idempotency-Key the API has seen): the
// first answer, replayed to any retry with the same key at any agent.
// Keyed by the idempotency key: printable ASCII without spaces, 1 to
// kMaxRequestKeyLength bytes. Two agents that apply the same key before
// either record reached the other both write one: the record then holds
// two siblings and first_request() picks the earlier (applied_at, writer).
inline constexpr std::size_t kMaxRequestKeyLength = 128;
inline constexpr std::size_t kMaxRequestBodyBytes = 4096;
bool valid_request_key(std::string_view key);
struct AppliedRequest {
  std::uint64_t fingerprint = 0;  // of the request (method, path, body): a reuse with another request is refused
  std::uint16_t status = 0;       // the first answer's HTTP status
  std::string body;               // ... and body (at most kMaxRequestBodyBytes)
  HlcTimestamp applied_at;        // when it was applied (the retention window runs from here)
  ReplicaId writer = 0;
  bool operator==(const AppliedRequest&) const = default;
};
using RequestStore = DotMap<Name, DotFun<AppliedRequest>>;

// The alert log (core/alerts/alert_route.h): the last notification
// delivered for a (target, route), keyed alert_key(target, route) = target +
// "/" + route. The sender writes it after the receiver accepted the
// notification, superseding the records of that key it has seen; concurrent
// records (two senders, a partition) are siblings until the next write, and
// last_alert() answers with the latest sent_at (then the lower writer).
// Removing a target removes its records.
struct AlertRecord {
  AlertKind kind = AlertKind::firing;
  std::uint64_t since_ms = 0;  // the episode's start (wall ms), as notified
  HlcTimestamp sent_at;        // when it was delivered
  ReplicaId writer = 0;
  bool operator==(const AlertRecord&) const = default;
};
using AlertStore = DotMap<Name, DotFun<AlertRecord>>;
std::string alert_key(std::string_view target, std::string_view route);
// True for a key of the form alert_key(valid target id, valid route name).
bool valid_alert_key(std::string_view key);

// An alert route written through the API (core/alerts/alert_route.h), as
// one agent wrote it. Keyed by the route's name; like a target's spec, the
// newest written_at (then the lower writer) wins among concurrent versions,
// and a removal concurrent with a write loses to it (add wins).
struct RouteVersion {
  std::shared_ptr<const AlertRoute> route;
  HlcTimestamp written_at;
  ReplicaId writer = 0;

  bool operator==(const RouteVersion& o) const {
    return written_at == o.written_at && writer == o.writer &&
           (route == o.route || (route && o.route && *route == *o.route));
  }
};
using RouteStore = DotMap<Name, DotFun<RouteVersion>>;

struct HealthDelta {
  Causal<RegistryStore> registry;
  Causal<ObservationStore> observations;
  Causal<CounterStore> counters;
  Causal<SetStore> sets;
  Causal<RequestStore> requests;
  Causal<AlertStore> alerts;
  Causal<RouteStore> routes;

  // Returns whether anything changed.
  bool join(const HealthDelta& o) {
    const bool g = registry.join(o.registry);
    const bool b = observations.join(o.observations);
    const bool c = counters.join(o.counters);
    const bool s = sets.join(o.sets);
    const bool k = requests.join(o.requests);
    const bool a = alerts.join(o.alerts);
    const bool n = routes.join(o.routes);
    return g || b || c || s || k || a || n;
  }
  bool empty() const {
    return registry.store.empty() && registry.context.empty() && observations.store.empty() &&
           observations.context.empty() && counters.store.empty() && counters.context.empty() &&
           sets.store.empty() && sets.context.empty() && requests.store.empty() && requests.context.empty() &&
           alerts.store.empty() && alerts.context.empty() && routes.store.empty() && routes.context.empty();
  }
  bool operator==(const HealthDelta&) const = default;
};

// A target's resolved view.
struct ResolvedTarget {
  const SpecVersion* spec = nullptr;           // the winning spec version
  std::size_t spec_siblings = 0;
  const Observation* observation = nullptr;    // the winning observation, if any
  std::size_t observation_siblings = 0;
};

// Observation subjects. The observation store is keyed by subject: a target
// id, or a member's vouch, "@" + the member's name (a target id cannot hold
// '@', target_spec.h). A vouch is an observation a member writes every
// observation_refresh while it checks targets. It says: "each observation of
// mine still live in your state, of a target I still own, holds as of now".
// It replaces re-writing every unchanged observation: one write per member
// per refresh, not one per target (core/cluster/target_view.h: age).
std::string vouch_subject(std::string_view member);
// True for a key of that form ("@" and at least one character).
inline bool is_vouch_subject(std::string_view key) { return key.size() > 1 && key.front() == '@'; }

// Keys held in some scope, per store (HealthState::join_scoped): the
// joining state's own keys as its maps hold them (Replicator::keys_in), so
// that the join finds each without hashing its text again.
struct ScopeKeys {
  std::vector<Name> registry, observations, counters, sets, requests, alerts, routes;
};

// One page of a set's members (HealthState::set_members).
struct SetPage {
  std::size_t count = 0;             // members in the whole set
  std::vector<std::string> members;  // in byte order, after `after`, at most `limit`
  bool more = false;                 // members follow the last one listed
};

// Keys in (time, key) order, with each key's time: the GC order of the
// request record and of the target removals. O(log n) per change.
class KeyTimeOrder {
 public:
  // Sets `key`'s time, or (nullopt) drops the key.
  void set(const std::string& key, std::optional<std::uint64_t> time);
  std::size_t size() const { return time_.size(); }
  // The first key's time, if any: O(1).
  std::optional<HlcTimestamp> oldest() const;
  const std::set<std::pair<std::uint64_t, std::string>>& order() const { return order_; }

 private:
  std::set<std::pair<std::uint64_t, std::string>> order_;
  std::map<std::string, std::uint64_t> time_;
};

class HealthState {
 public:
  // The three stores keep a dot index (dot_store.h), so a join costs
  // O(|delta| log n), not O(n).
  // `names`: the table the stores' keys are interned in (target ids and
  // the other keys: name_table.h); null gives the state one of its own.
  explicit HealthState(ReplicaId self, std::shared_ptr<NameTable> names = nullptr)
      : self_(self), names_(own_names(std::move(names))) {
    state_.registry.store.enable_dot_index();
    state_.observations.store.enable_dot_index();
    state_.counters.store.enable_dot_index();
    state_.sets.store.enable_dot_index();
    state_.requests.store.enable_dot_index();
    state_.alerts.store.enable_dot_index();
    state_.routes.store.enable_dot_index();
  }

  // --- delta-mutators: each returns its delta and applies it -------------
  HealthDelta put_target(HlcTimestamp at, TargetSpec spec);
  // Removes the target as of `at`: writes a removal (a SpecVersion without
  // a spec) that supersedes every version of it this agent has seen, and
  // removes every observation and alert record of it this agent has seen.
  //
  // Why a removal is a version and not only a forgetting: among concurrent
  // versions the newest written_at wins, removal or not. A client that gets
  // a put acknowledged by agent A and then deletes through agent B expects
  // the target gone, also when B has not yet heard of the put (A was paused
  // after its answer, or B served the request before the delta arrived).
  // An add-wins map would keep A's put: B's removal could not name its dot.
  // With clocks in step (HLC, hlc.h), B's removal is the newer version. A
  // put and a removal concurrent within the clocks' skew are ordered by
  // their timestamps, as concurrent puts are.
  //
  // A removal stays in the registry, invisible to target() and targets(),
  // until expire_removals collects it.
  HealthDelta remove_target(HlcTimestamp at, const std::string& id);
  // Forgets every version of the target this agent has seen, its
  // observations and alert records, writing no removal: for a state that
  // is not replicated (the external store's mirror), where the store
  // orders writes and a tombstone would only take room.
  HealthDelta forget_target(const std::string& id);
  // Garbage collection of removals: forgets every version of each target
  // whose winning version is a removal written before `expire_before_ms`
  // (wall clock ms), in (written_at, id) order, at most `max_removals`
  // targets per call. An empty delta when nothing is due. What it forgets
  // stays in the causal context, so no replica brings it back; only a put
  // concurrent with the removal and not seen here within the retention
  // could (replicator.h: removal_retention).
  HealthDelta expire_removals(std::uint64_t expire_before_ms, std::size_t max_removals);
  // Removals held (targets whose winning version is a removal), in O(1).
  std::size_t removal_records() const { return removals_.size(); }
  // The oldest held removal's written_at, if any: O(1).
  std::optional<HlcTimestamp> oldest_removal() const { return removals_.oldest(); }
  // Writes `o` as target `id`'s observation. It supersedes every observation
  // of `id` this agent has seen except those `keep` returns true for (kept
  // ones stay as concurrent values: one vote per other owner, see
  // core/cluster/target_view.h). An empty `keep` supersedes them all.
  HealthDelta observe(const std::string& id, Observation o,
                      const std::function<bool(const Observation&)>& keep = {});
  // Adds `amount` to the named counter; when the add would take this
  // replica's total or the value past the int64 range it is refused and the
  // delta is empty (counter_add_problem says why).
  HealthDelta add_to_counter(const std::string& name, std::int64_t amount);
  // Why add_to_counter(name, amount) would be refused now, or nullopt.
  std::optional<std::string> counter_add_problem(const std::string& name, std::int64_t amount) const;
  // Forgets the observations of `id` that `drop` returns true for (and
  // writes nothing): the external store's deletion of one member's key
  // (core/store/store_types.h). Not used by the gossip mode.
  HealthDelta drop_observations(const std::string& id, const std::function<bool(const Observation&)>& drop);
  // Adds (removes) `member` to (from) set `name`. REQUIRES: valid name and member.
  HealthDelta add_to_set(const std::string& name, const std::string& member);
  HealthDelta remove_from_set(const std::string& name, const std::string& member);
  // Records an applied idempotent write under `key` (REQUIRES: valid key;
  // the caller found no record of it, first_request).
  HealthDelta record_request(const std::string& key, AppliedRequest r);
  // Garbage collection of the request record: removes every record applied
  // before `expire_before` (wall clock ms of its first sibling), then, while
  // more than `max_records` remain, the oldest; order (applied_at of the
  // first sibling, key), so every replica with the same state drops the
  // same ones. At most `max_removals` per call. An empty delta when nothing
  // is due. Removals are ordinary removals: they replicate, and a record
  // removed here is never brought back by a replica that still held it.
  HealthDelta expire_requests(std::uint64_t expire_before_ms, std::size_t max_records, std::size_t max_removals);
  // Records a delivered notification for (target, route), superseding the
  // records of that key this agent has seen (REQUIRES: valid id and name).
  HealthDelta record_alert(const std::string& target, const std::string& route, AlertRecord r);
  // Writes (removes) the alert route named route.name (`name`), superseding
  // (forgetting) every version of it this agent has seen. REQUIRES: a route
  // AlertRoute::from_json accepts.
  HealthDelta put_route(HlcTimestamp at, AlertRoute route);
  HealthDelta remove_route(const std::string& name);

  // Returns whether the state changed (new dots, or removals of live ones).
  bool join(const HealthDelta& d);
  // The scoped join (anti-entropy state repair). `d` holds the sender's
  // complete live entries for every key in a scope (digest buckets), and
  // the sender's whole causal contexts; `here` names the keys this state
  // holds in that scope. Keys in scope are joined as a full join would;
  // keys out of scope are left alone. With adopt_context the sender's
  // contexts are joined into ours — correct only when every key outside the
  // scope already held the same live entries on both sides (the digest
  // showed equal buckets); otherwise only the dots of d's entries are added.
  // Cost: O((|here| + |d|) log n), never a scan of the state.
  // REQUIRES: every key in d's stores is in scope.
  void join_scoped(const HealthDelta& d, const ScopeKeys& here, bool adopt_context);

  // --- queries -------------------------------------------------------------
  // Every live target in id order, siblings resolved (specs: newest
  // written_at, then lower writer id; observations: see observation.h). A
  // target whose winning version is a removal is not live: target() is
  // nullopt for it, and targets() skips it.
  std::vector<std::pair<std::string, ResolvedTarget>> targets() const;
  std::optional<ResolvedTarget> target(NameRef id) const;
  // How many targets targets() lists, in O(1).
  std::size_t target_count() const { return state_.registry.store.size() - removals_.size(); }
  // The counter's value: the sum of every replica's total, clamped to the
  // int64 range (crdts.h: ccounter_value); 0 when never written.
  std::int64_t counter(const std::string& name) const;
  // Set `name`'s members after `after` (exclusive; "" = from the start),
  // at most `limit`, and its member count. O(log n + members of the set).
  SetPage set_members(const std::string& name, const std::string& after, std::size_t limit) const;
  bool set_contains(const std::string& name, const std::string& member) const;
  // The first answer recorded under an idempotency key: of its siblings
  // (concurrent applies) the earliest (applied_at, writer). nullptr if none.
  const AppliedRequest* first_request(const std::string& key) const;
  std::size_t request_records() const { return state_.requests.store.size(); }
  // The oldest record's applied_at (the first sibling's), if any: O(1).
  std::optional<HlcTimestamp> oldest_request() const;
  // The last notification delivered for (target, route): of its siblings
  // the latest sent_at, then the lower writer. nullptr if none.
  const AlertRecord* last_alert(std::string_view target, std::string_view route) const;
  // The alert routes written through the API, in name order, siblings
  // resolved (the newest written_at, then the lower writer).
  std::vector<const RouteVersion*> routes() const;
  const RouteVersion* route(std::string_view name) const;
  // The winning observation under `member`'s vouch subject, if any.
  const Observation* vouch_of(std::string_view member) const;

  ReplicaId self() const { return self_; }
  const HealthDelta& state() const { return state_; }
  // Bumped whenever the registry (the counters) changed here, by a local
  // write or a join: change detection for drivers without comparing
  // contexts (a scoped join bumps whenever it touches the store).
  std::uint64_t registry_version() const { return registry_version_; }
  // Bumped whenever the observation store changed (a local write or a join;
  // a scoped join bumps whenever it touches the store).
  std::uint64_t observations_version() const { return observations_version_; }
  std::uint64_t counters_version() const { return counters_version_; }
  // Bumped whenever the sets (the request record) changed here.
  std::uint64_t sets_version() const { return sets_version_; }
  std::uint64_t requests_version() const { return requests_version_; }
  std::uint64_t alerts_version() const { return alerts_version_; }
  std::uint64_t routes_version() const { return routes_version_; }
  // The target ids whose registry entry changed (added, removed, or a spec
  // version came or went) since the last call, in id order, each once: a
  // driver reconciles just these instead of every target. Kept only after
  // track_registry_changes() (a caller that never takes them pays nothing).
  void track_registry_changes() { tracking_ = true; }
  std::vector<Name> take_registry_changes();
  // Tells `sink` of every live dot that comes or goes in the three stores
  // (tag 0 registry, 1 observations, 2 counters, 3 sets, 4 requests,
  // 5 alerts, 6 routes; DotMap::set_live_sink).
  void set_live_sink(LiveDotSink<Name>* sink) {
    state_.registry.store.set_live_sink(sink, 0);
    state_.observations.store.set_live_sink(sink, 1);
    state_.counters.store.set_live_sink(sink, 2);
    state_.sets.store.set_live_sink(sink, 3);
    state_.requests.store.set_live_sink(sink, 4);
    state_.alerts.store.set_live_sink(sink, 5);
    state_.routes.store.set_live_sink(sink, 6);
  }

 private:
  bool apply(const HealthDelta& d);
  // Keeps request_order_ in step with the request store for `keys`.
  void reorder_requests(const std::vector<Name>& keys);
  // Where a registry join appends the keys it changed: registry_changes_
  // when tracking (no copy), else `scratch`.
  std::vector<Name>& registry_change_sink(std::vector<Name>& scratch) {
    return tracking_ ? registry_changes_ : scratch;
  }
  // Keeps removals_ in step with the registry for keys[from..].
  void index_removals(const std::vector<Name>& keys, std::size_t from);

  ReplicaId self_;
  std::shared_ptr<NameTable> names_;
  HealthDelta state_;
  std::uint64_t registry_version_ = 0;
  std::uint64_t counters_version_ = 0;
  std::uint64_t observations_version_ = 0;
  std::uint64_t sets_version_ = 0;
  std::uint64_t requests_version_ = 0;
  std::uint64_t alerts_version_ = 0;
  std::uint64_t routes_version_ = 0;
  // The request record in GC order: applied_at of each key's first sibling.
  KeyTimeOrder request_order_;
  // The targets whose winning version is a removal, in GC order: its written_at.
  KeyTimeOrder removals_;
  bool tracking_ = false;
  std::vector<Name> registry_changes_;  // unsorted, may repeat; see take_registry_changes
};

}  // namespace heck
