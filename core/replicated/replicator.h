// The replicator: the pure state machine that owns an agent's HealthState and
// spreads it — deltas by gossip, gaps repaired by anti-entropy.
//
// Dissemination (delta-state CRDTs, Almeida et al. 2018, §5, Algorithm 2, with
// infection-style forwarding as in SWIM §4.1):
// - A local write (put_target, remove_target, observe, add_to_counter) applies
//   its delta, joins it into the *delta buffer* — one delta-group per
//   replicated key ("o:<target>", "g:<target>", "c:<counter>"), so a newer
//   write to a key absorbs (supersedes) the older unacked one — and pushes the
//   key's group, encoded as `delta` parts that each fit one packet, into the
//   BroadcastQueue under "r:<key>" (same key replaces). Membership datagrams
//   piggyback them from there (transmit-limited). The queue is the driver's:
//   given at construction (a standalone replicator), or, without one, the
//   parts wait in an outbox the driver moves into the membership layer's
//   queue with take_broadcasts() after each call (ClusterNode), so the
//   replicator holds no pointer into a sibling and moves as a value.
// - Eager push: the key is also marked dirty and replica_flush is armed
//   flush_delay ahead (an observation: flush_gap after the last flush, if
//   that is later); when it fires, every dirty group goes in datagrams
//   (max_packet_bytes each). In a cluster of at most max_direct_peers they go
//   to every peer (one hop, n - 1 datagrams per flush however many updates it
//   batches); in a larger one to `fanout` random peers, and a receiver that
//   learnt something forwards it the same way (infect-and-forward). Batching
//   over flush_delay keeps messages per update low under load; losses are
//   covered by the piggybacked copies and by anti-entropy. A flush of a
//   burst (combine_from groups or more: configured targets, a bulk write)
//   joins consecutive groups of its own into one part per datagram (a
//   forwarder sends received bodies on as they came): receivers then
//   decode and join a delta per datagram, not one per key (the main row's
//   registration: ~10,000 single-key joins per agent became ~1,250).
// - A received delta that brought something new (a dot or a removal this
//   agent had not seen) is joined. Past max_direct_peers it is also
//   buffered, re-queued for piggybacking and pushed on (infect-and-forward).
//   Up to max_direct_peers the writer reached every peer itself and piggybacks its
//   own copies, so a receiver neither buffers nor forwards it by datagram
//   (that would multiply the traffic by the cluster size). A status change
//   (a delta of one target that carries an observation; not a vouch, which
//   is a refresh) is rumoured: the
//   receiver queues the part for piggybacking on its own membership packets
//   (rumor mongering, Demers et al. 1987, beside direct mail and
//   anti-entropy), no extra datagram, while the membership queue holds
//   fewer than max_rumor_queue parts. A member that lost the writer's
//   datagram then hears the change from the others' gossip within a few
//   gossip rounds instead of waiting for an anti-entropy exchange (which
//   under loss may wait on TCP retransmissions). Anti-entropy repairs the
//   rest. A delta that brought nothing is counted and dropped, so
//   forwarding and rumours die out.
//
// Anti-entropy (one random peer every anti_entropy_interval, Channel::stream):
//   A -> B  digest{A's causal context, 256 bucket hashes, reply=1}
//   B -> A  repair{...} + digest{B's, reply=0}   (nothing when in sync)
//   A -> B  repair{...}                         (when B lacks something)
// A bucket hash is the sum of xxh64(store, key, dot) over live entries whose
// key hashes into that bucket. The repair is the cheaper of:
// - delta repair: when every dot the peer lacks (B's context minus A's) is
//   covered by B's delta buffer (at most max_missing_dots of them), the
//   buffered groups holding them;
// - state repair: for each differing bucket, every live entry of B in it
//   (values elided for dots A has already seen) and B's causal context; A joins
//   only over those buckets' keys ("scoped join", see health_state.h on the
//   pitfall). A repair that would exceed max_repair_bytes carries a subset of
//   the buckets and is marked partial: then A adds to its context only the
//   dots of the entries it received, never B's whole context.
// - none, when A is ahead: A's contexts hold every dot of B's and some B
//   lacks. The buckets differ by what A has; B's digest back lets A repair
//   B. (With equal contexts, differing buckets mean that one holds an entry
//   the other removed, the partial-repair gap below: the state repair goes.)
// So an agent that is nearly current gets a few entries, never the whole
// state; one back from a long absence gets state parts, bucket by bucket.
// Known gap of partial repairs: their entries travel without their causal
// past (which superseded dots they replace). The receiver can then accept an
// older superseded dot of the same key from a third agent; a later repair by
// anyone who knows the supersession removes it again, but if every such agent
// loses its state first, the older entry survives beside the newer one.
//   - A counter stays exact: its value reads each replica's newest total
//     only (crdts.h: ccounter_for_each_total), so a replica's old running
//     total beside its new one is not counted twice.
//   - A spec: a sibling; the newest written_at wins, which is the newer
//     write unless the two writers' clocks disagree by more than the gap.
//   - An observation: a sibling, and the sibling rule puts the worse status
//     first (observation.h), so an old failure can show at that receiver
//     beside the newer healthy result.
//   - A removed target whose put comes back this way stays removed: the
//     removal is a newer version beside it (health_state.h), until the
//     removal is collected (removal_retention). A removed set member whose
//     add comes back this way is present again at that receiver.
//   All of these last until such a repair or the key's next write.
// Exact fix: send C minus the sender's live dots outside the repaired
// buckets, which needs holes in CausalContext (a version vector with
// exceptions, through every context operation and the codecs). Partial
// repairs only happen past max_repair_bytes (a state over 3 MiB that
// differs almost everywhere: an agent back from a long absence).
//
// Memory bounds: the delta buffer holds at most max_pending_keys groups. A
// group is trimmed once every live peer's last known causal context (learnt
// from its digests) covers its dots; past the cap the least recently written
// group is evicted (counted), and what it carried reaches late peers by
// state repair instead. Groups not yet eagerly pushed are never evicted: a
// burst of local writes may exceed the cap until the next flush
// (flush_delay later). Peers' contexts are kept only while the view holds
// at most max_known_peers other peers: each is as wide as the replicas
// that wrote, so n peers' cost O(n x replicas) per agent (16 MB at 1,000
// agents, 16 GB for a simulated cluster of them), and trimming needs one
// from every peer, which takes ~n ln n / 2 anti-entropy rounds to gather
// (over 2 hours at 1,000). Past it the cap alone bounds the buffer.
//
// Clocks: observe() stamps the observation with this agent's HLC; every
// remote observation's timestamp is offered to the HLC, which accepts at most
// max_hlc_forward ahead of `now` (hlc.h).
//
// Effects (appended in a deterministic order): Send (datagram deltas, stream
// digests and repairs; envelopes carry the Header given at construction),
// SetTimer/CancelTimer (anti_entropy, replica_flush). All randomness comes
// from one Rng seeded at construction; nothing iterates an unordered
// container on the way to an output.
//
// Bad input: a body that does not decode (codec.h) is dropped and counted in
// counters().malformed_parts, with the codec's message kept in
// last_malformed(); it never asserts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/effects.h"
#include "core/name_table.h"
#include "core/net.h"
#include "core/random.h"
#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/replicated/hlc.h"
#include "core/replicated/seen_bodies.h"
#include "core/slot_map.h"
#include "core/time.h"
#include "core/wire/envelope.h"

namespace heck {

class BroadcastQueue;
class DeltaPool;

// A live member the replicator may talk to (the caller's membership view).
struct Peer {
  Peer() : name_hash(name.hash()) {}
  Peer(Name n, Name a) : name(std::move(n)), address(std::move(a)), name_hash(name.hash()) {}

  Name name;     // interned (core/name_table.h): one copy per node, not per list
  Name address;
  // name.hash(), kept in the view itself: a flush's pick of peers tells this
  // node apart from the others by it, reading the view's block in order, not
  // each peer's name entry (a cold read per peer: 1,000 per flush at 1,000
  // agents). Set with the name; a peer's name never changes after.
  std::uint64_t name_hash;

  static Peer interned(NameTable& names, std::string_view name, std::string_view address) {
    return Peer{names.intern(name), names.intern(address)};
  }
};

struct ReplicatorConfig {
  // One datagram, envelope included. In a ClusterNode it is set from
  // SwimConfig::max_packet_bytes (the node's one datagram budget).
  std::size_t max_packet_bytes = kMaxPacketBytes;
  std::size_t max_direct_peers = 128;              // push to every peer up to this many peers
  std::size_t fanout = 3;                          // else to this many, forwarding; 0: piggyback only
  Duration flush_delay = Duration::milliseconds(10);
  // Observations (check results and vouches) are paced: their flush goes
  // flush_delay after the write and no sooner than flush_gap after the
  // last flush. An observation after a quiet spell goes flush_delay later;
  // observations that come faster wait and go together, in fewer
  // datagrams (and, from combine_from groups, as combined deltas). The
  // first checks of many targets (each owner's first observations come as
  // their checks fall due, ~100 per second per owner in the main row) went
  // one or two per 10 ms flush, each flush a datagram to every peer. Every
  // other write (the registry, counters, sets, the request record: the
  // API answers after the flush that carries it) and a forwarded delta go
  // flush_delay later, and take the pending observations with them.
  // 0: no pacing.
  Duration flush_gap = Duration::milliseconds(100);
  Duration anti_entropy_interval = Duration::seconds(2);
  std::size_t max_pending_keys = 4096;             // delta buffer: groups held
  std::size_t max_repair_bytes = 3 << 20;          // one repair message (stream frames: 4 MiB)
  std::size_t max_missing_dots = 1024;             // delta repair only below this many
  std::size_t max_known_peers = 128;               // peer contexts remembered for trimming (see above)
  // Rumours (above): a received status change is queued for piggybacking
  // only while the membership queue holds fewer parts than this (0: never).
  std::size_t max_rumor_queue = 32;
  // A flush of at least this many groups (a burst: configured targets, a
  // bulk write) sends them as combined deltas, as
  // many groups joined into one part as fit a datagram: a receiver decodes
  // and joins one delta per datagram, not one per key. A smaller flush
  // sends a part per group, so that a status change arrives alone and its
  // receivers can rumour it (above). 0: never combine.
  std::size_t combine_from = 8;
  // Delta bodies remembered as joined (seen_bodies.h): another copy of one
  // is dropped unread. 0: every copy is decoded and joined. At least as
  // many as a peer's broadcast queue holds (BroadcastQueue's max_items,
  // 4,096): a queued body rides on packets until sent transmit_limit
  // times, which in a full queue takes minutes, so its copies keep coming
  // that long. With 1,024, the agents of 300 × 3,000 (gossip mode) had
  // forgotten most bodies still circulating and joined their copies
  // again: ~60,000 joins a simulated second after the registration, most
  // of them news to no one, against ~4,000 with any window from 4,096 to
  // 32,768. 32 bytes a body at most: 128 KiB.
  std::size_t seen_bodies = 4096;
  // Past max_direct_peers, a received delta that was news is pushed on by
  // datagram to `fanout` peers and queued for piggybacking too; its
  // piggybacked copies are sent at most this many times (0: as often as
  // the membership layer's own updates, transmit_limit(n): 16 at 1,000
  // members). The default is one gossip round's worth (gossip_nodes, 3).
  // Infect-and-forward already gives every member ~fanout copies; the
  // piggybacked ones reach the ~e^-fanout it missed (anti-entropy repairs
  // any left). Uncapped, a registration's bodies rode on packets for
  // minutes in queues too full to send them out (the most-sent part is
  // evicted first, so the least-sent stay), and agents re-joined copies
  // they had forgotten: at 1,000 agents × 10,000 targets, 65.3M delta parts
  // received, 42 KB/s per agent; capped at 3, 56.5M and 32.5 KB/s, with
  // the same agreement (p50 / p99 2.1 / 2.8 s against 2.1 / 3.0 s); at 1,
  // 45.2M and 23 KB/s, but 2.5 / 3.1 s (cluster_bench --forward-transmits).
  // Capped at 3, the registration's bodies are gone 35 s after it and the
  // agents receive 100,000–300,000 parts a second, against ~500,000 still
  // at the end of the run (65 s after it) uncapped.
  // The writer's own deltas are not capped.
  std::size_t forward_transmits = 3;
  Duration max_hlc_forward = Duration::seconds(5);
  // The record of applied idempotent writes (record_request): kept this
  // long after the apply, at most this many (the oldest go first), at most
  // max_request_removals removed per round.
  Duration request_retention = Duration::seconds(24 * 3600);
  std::size_t max_request_records = 100'000;
  std::size_t max_request_removals = 4096;
  // Target removals (HealthState::remove_target) are kept this long after
  // the removal, then collected (at most max_request_removals per round).
  // A put concurrent with a removal that reaches this agent only after the
  // removal was collected comes back: keep it well above the longest
  // partition to ride out.
  Duration removal_retention = Duration::seconds(24 * 3600);
  CodecLimits codec;
  // Decoded target specs shared by their bytes (spec_pool.h). Null: the
  // replicator makes its own. The simulator gives every agent one pool.
  std::shared_ptr<SpecPool> spec_pool;
  // Decoded delta bodies shared by their bytes (delta_pool.h). Null: every
  // body is decoded (the daemon). The simulator gives every agent one pool.
  std::shared_ptr<DeltaPool> delta_pool;
};

struct ReplicatorCounters {
  std::uint64_t local_writes = 0;
  std::uint64_t deltas_sent = 0;          // delta parts in eager-push datagrams
  std::uint64_t deltas_combined = 0;      // combined parts built (combine_from), each sent to every peer of its flush
  std::uint64_t deltas_queued = 0;        // delta parts pushed to the BroadcastQueue
  std::uint64_t deltas_received = 0;      // delta parts received
  std::uint64_t deltas_joined = 0;        // ... that brought something new
  std::uint64_t deltas_seen = 0;          // ... dropped unread: a copy of a body joined before
  std::uint64_t deltas_regrouped = 0;     // received news joined into an older buffered group (a new body)
  std::uint64_t rumors_queued = 0;        // received status changes queued for piggybacking
  std::uint64_t rumors_skipped = 0;       // ... not queued: the membership queue was full enough
  std::uint64_t digests_sent = 0;
  std::uint64_t digests_received = 0;
  std::uint64_t digests_in_sync = 0;      // digests that needed no repair
  std::uint64_t repairs_sent = 0;
  std::uint64_t repairs_received = 0;
  std::uint64_t delta_repairs_sent = 0;   // repairs made of buffered deltas
  std::uint64_t state_repairs_sent = 0;   // repairs made of bucket state
  std::uint64_t state_repairs_skipped = 0;  // not sent: the peer was ahead (plan_repair)
  std::uint64_t partial_repairs_sent = 0; // state repairs cut at max_repair_bytes
  std::uint64_t repair_entries_sent = 0;  // live entries (key, dot) in state repairs
  std::uint64_t packets_sent = 0;         // Send effects
  std::uint64_t bytes_sent = 0;           // their bytes
  std::uint64_t datagram_bytes_sent = 0;
  std::uint64_t stream_bytes_sent = 0;
  std::uint64_t malformed_parts = 0;      // bodies that did not decode
  std::uint64_t misaddressed_repairs = 0; // state repairs made for another incarnation
  std::uint64_t unknown_parts = 0;        // part types that are not replication's
  std::uint64_t pending_trimmed = 0;      // buffered groups acked by every peer
  std::uint64_t pending_evicted = 0;      // buffered groups dropped at the cap
  std::uint64_t oversized_deltas = 0;     // groups over one datagram: eager push by stream
  std::uint64_t hlc_rejected_ahead = 0;   // remote timestamps too far ahead
  std::uint64_t flushes = 0;              // replica_flush rounds run (dirty groups pushed)
  std::uint64_t request_gc_rounds = 0;    // expire_requests rounds that removed records
  std::uint64_t removal_gc_rounds = 0;    // expire_removals rounds that collected target removals
};

// How many peers a flush pushes a delta to directly, of `others` live peers
// (this node excluded): every one up to max_direct_peers, else `fanout` of them.
std::size_t eager_push_peers(const ReplicatorConfig& config, std::size_t others);

// True for part types in the replication range (32-63).
bool is_replication_part(wire::PartType type);

class Replicator {
 public:
  // `self` is the envelope header of every message sent. `broadcasts`: a
  // queue the driver owns and keeps alive as long as the replicator; null =
  // parts to piggyback wait in the outbox for take_broadcasts(). REQUIRES:
  // replica != 0 (a fresh one per incarnation, dot.h).
  Replicator(ReplicatorConfig config, wire::Header self, ReplicaId replica, std::uint64_t seed,
             BroadcastQueue* broadcasts);

  // ---- inputs ----
  // Arms the first anti-entropy round (jittered within one interval).
  void start(Instant now, Effects& out);

  // Local writes: apply, buffer, queue for piggybacking, arm replica_flush.
  void put_target(Instant now, TargetSpec spec, Effects& out);
  void remove_target(Instant now, const std::string& id, Effects& out);
  // Writes `winner` (a spec version this replica wrote) once more, with its
  // own written_at, superseding every version of the target seen here: the
  // spec siblings left by concurrent writes collapse into one, and the
  // rewrite ranks exactly where the winner did, so it never beats a
  // concurrent version that is newer than the winner (as a fresh timestamp
  // would: a client's put written elsewhere meanwhile would be lost).
  // REQUIRES: winner.spec and winner.writer == this replica's id.
  void settle_target(Instant now, const SpecVersion& winner, Effects& out);
  // Stamps `o.observed_at` from this agent's HLC, `o.observer` with its
  // replica id and `o.observer_name` with its name; returns the observation
  // as written. `keep_observers`: the observers (by name) whose observations
  // of `id` the write keeps (the target's other current owners: one vote
  // each); empty = it supersedes every one this agent has seen
  // (HealthState::observe).
  Observation observe(Instant now, const std::string& id, Observation o, Effects& out,
                      std::span<const std::string> keep_observers = {});
  // This agent's name as observe() stamps it.
  const Name& self_name() const { return self_name_; }
  void add_to_counter(Instant now, const std::string& name, std::int64_t amount, Effects& out);
  // The likes service: adds (removes) a member of a replicated add-wins set.
  // REQUIRES: valid_set_name(name), valid_set_member(member).
  void add_to_set(Instant now, const std::string& name, const std::string& member, Effects& out);
  void remove_from_set(Instant now, const std::string& name, const std::string& member, Effects& out);
  // Records the first answer of an idempotent write under `key`, stamped
  // with this agent's HLC (r.applied_at) and replica (r.writer). REQUIRES:
  // called right after the local write it answers, in the same step (the
  // record is buffered under "k:<key>" joined with that write's buffered
  // group, so both travel in one delta part), and no record of `key` here
  // (HealthState::first_request).
  // Expires due records first (expire_requests).
  void record_request(Instant now, const std::string& key, AppliedRequest r, Effects& out);
  // Records a delivered alert notification (HealthState::record_alert),
  // stamped with this replica's clock, and disseminates it.
  void record_alert(Instant now, const std::string& target, const std::string& route, AlertRecord r, Effects& out);
  // Writes (removes) an alert route (HealthState::put_route, remove_route).
  void put_route(Instant now, AlertRoute route, Effects& out);
  void remove_route(Instant now, const std::string& name, Effects& out);
  // Removes the records applied more than request_retention before `now`
  // and, past max_request_records, the oldest (HealthState::expire_requests:
  // a deterministic order), as one replicated removal. Also run after each
  // anti-entropy round while the record is not empty. O(1) when nothing is due.
  void expire_requests(Instant now, Effects& out);
  // Collects the target removals written more than removal_retention
  // before `now` (HealthState::expire_removals), on the anti-entropy timer.
  void expire_removals(Instant now, Effects& out);

  // One decoded part of an incoming envelope. Replication part types are
  // handled (a digest may be answered over the stream to from.address);
  // others are counted in unknown_parts. `peers` is the caller's current view
  // of live members (this node excluded or not; it is skipped by name).
  void handle_part(Instant now, const wire::Header& from, const wire::Part& part, Channel channel,
                   std::span<const Peer> peers, Effects& out);
  // Timers anti_entropy and replica_flush; stale or early firings tolerated.
  void handle_timer(Instant now, TimerKey key, std::span<const Peer> peers, Effects& out);

  // Joins a state snapshot without disseminating it (a restored state, a
  // benchmark's bootstrap); anti-entropy spreads whatever peers lack.
  void join_snapshot(const HealthDelta& snapshot);

  // Registry change tracking (HealthState::take_registry_changes): the
  // composed node reconciles only the targets whose entry changed.
  void track_registry_changes() { state_.track_registry_changes(); }
  std::vector<Name> take_registry_changes() { return state_.take_registry_changes(); }

  // ---- outputs ----
  // Moves the parts queued for piggybacking since the last call (constructed
  // without a queue), in order, into `queue`. The outbox keeps at most
  // max_pending_keys parts (the oldest are dropped first).
  void take_broadcasts(BroadcastQueue& queue);

  // ---- views ----
  // A replica_flush is armed: local writes wait for it to reach the peers.
  bool flush_pending() const { return flush_at_ != Instant::max(); }
  const HealthState& state() const { return state_; }
  ReplicaId replica() const { return state_.self(); }
  const HybridClock& clock() const { return clock_; }
  const ReplicatorCounters& counters() const { return counters_; }
  const ReplicatorConfig& config() const { return config_; }
  const std::string& last_malformed() const { return last_malformed_; }
  std::size_t pending_keys() const { return pending_.size(); }
  // Peers whose last digest's contexts are kept (for trimming).
  std::size_t known_peers() const { return known_.size(); }
  // This agent's digest as it would send it now (tests, benchmarks).
  Digest digest() const;
  // True when the incremental digest index (bucket hashes and keys) equals
  // one computed afresh from the state (tests; O(state)).
  bool digest_index_consistent() const;

  // ---- for tests and benchmarks: one anti-entropy round with `peer` now ----
  void start_anti_entropy(Instant now, const Peer& peer, Effects& out);

 private:
  struct Pending {
    // The join of every unacked delta of this key; immutable and shared: a
    // forwarded delta's group is the decoded delta itself, held by the
    // delta pool and every forwarder that shares it (a copy per forwarder
    // was most of a gossip-mode cluster's memory); a later delta of the
    // key makes a new group.
    std::shared_ptr<const HealthDelta> group;
    // The sequence of its latest change (its live entry in by_written_).
    std::uint64_t written = 0;
    // The cached encoding of `group`; empty bytes until it is encoded (a
    // part is never empty: a std::optional cost 8 bytes per pending key).
    wire::EncodedPart part;
    // `group` is a received delta and `part` its body as it came: a flush
    // sends it on unchanged, never combined with other groups, so every
    // forwarder of one body sends the same bytes and a receiver drops the
    // copies unread (seen_bodies.h).
    bool as_received = false;
    // `group` holds a write of this agent's (not only received deltas): its
    // piggybacked copies are not capped at forward_transmits.
    bool own = false;
    bool dirty = false;  // due for eager push (listed in dirty_)
  };
  struct RepairPlan {
    std::optional<Repair> repair;  // what the peer lacks
    bool we_lack = false;          // the peer has something we lack
  };

  // When a write's flush goes: `prompt` flush_delay after it (someone may
  // wait on it: the API answers after the flush); `paced` also no sooner
  // than flush_gap after the last flush (observations).
  enum class Flush : std::uint8_t { prompt, paced };
  void apply_local(Instant now, const std::string& key, const HealthDelta& d, Effects& out,
                   Flush when = Flush::prompt);
  // Buffers `d` under `key` (joined with the key's group, if any).
  // `encoded_d`, when given, is `d` as a part (a received body): kept if
  // `d` becomes the group, so it is not encoded again.
  void buffer(const std::string& key, std::shared_ptr<const HealthDelta> d,
              std::optional<wire::EncodedPart> encoded_d = std::nullopt);
  // The parts of an eager push of `groups` (each fits `room`): runs of
  // consecutive groups joined into one part while their parts fit.
  std::vector<wire::EncodedPart> combine(std::span<Pending* const> groups, std::size_t room);
  void evict_over_cap();
  const wire::EncodedPart& encoded(Pending& p);
  void arm_flush(Instant now, Effects& out, Flush when);
  void flush(Instant now, std::span<const Peer> peers, Effects& out);
  bool is_self(const Peer& p) const { return p.name_hash == self_name_.hash() && p.name == self_name_; }
  void anti_entropy(Instant now, std::span<const Peer> peers, Effects& out);
  void trim(std::span<const Peer> peers);
  std::vector<const Peer*> pick_peers(std::span<const Peer> peers, std::size_t k);

  void on_delta(Instant now, const wire::Part& part, std::span<const Peer> peers, Effects& out);
  std::size_t other_peers(std::span<const Peer> peers) const;
  void on_digest(Instant now, const wire::Header& from, const wire::Part& part, Effects& out);
  void on_repair(Instant now, const wire::Part& part);
  RepairPlan plan_repair(const Digest& peer);
  std::optional<Repair> delta_repair(const Digest& peer);
  Repair state_repair(const Digest& peer, const std::vector<std::uint16_t>& differing);
  void observe_clock(Instant now, const HealthDelta& d);
  void remember(const std::string& peer, const Digest& d);
  void send(const Address& to, Channel channel, const std::vector<wire::EncodedPart>& parts, Effects& out);
  void malformed(std::string what);
  // The digest's bucket hashes, kept up to date as live dots come and go:
  // O(1) per dot (two hashes of its key), never O(state). On the heap so
  // the state's stores can point at it while the replicator moves.
  struct DigestIndex final : LiveDotSink<Name> {
    std::vector<std::uint64_t> hashes = std::vector<std::uint64_t>(kDigestBuckets, 0);
    void live_dot(int store, const Name& key, Dot dot, bool added) override;
  };
  // A key held here, in one store (a view of the state's own key).
  struct KeyRef {
    const Name* key = nullptr;  // the store's own key
    std::uint64_t hash = 0;   // XXH64(key): orders a bucket's keys
    std::uint32_t store = 0;  // the HealthState::set_live_sink tag: 0 registry .. 6 routes
  };
  // The keys held here in each of `buckets` (indexed by bucket; the others
  // empty), each by (store, hash, key). A scan of every key, O(n) hashes:
  // it serves a state repair, sent or received (a few per anti-entropy
  // round at most), where a per-bucket key list kept up to date cost a
  // cold write per new key (8-10% of the main row's registration burst).
  std::vector<std::vector<KeyRef>> keys_by_bucket(const std::vector<std::uint16_t>& buckets) const;
  // The keys held here in `buckets`, per store (a scoped join's scope).
  ScopeKeys keys_in(const std::vector<std::uint16_t>& buckets) const;

  ReplicatorConfig config_;
  wire::Header self_;
  Name self_name_;  // self_.sender, interned in the spec pool's names: what observe() stamps
  Rng rng_;
  BroadcastQueue* broadcasts_;  // the driver's; null = outbox_
  struct Outgoing {
    std::string key;
    wire::EncodedPart part;
    bool rumor = false;  // a received status change (queued only below max_rumor_queue)
    std::uint32_t max_transmits = 0;  // BroadcastQueue::push's cap (0: none)
  };
  std::deque<Outgoing> outbox_;
  std::size_t queue_size_seen_ = 0;  // the driver's queue after the last take_broadcasts
  // Queues a received part for piggybacking under `key` (a rumour).
  void rumor(const std::string& key, const wire::Part& part);
  std::unique_ptr<DigestIndex> digest_index_ = std::make_unique<DigestIndex>();  // before state_: it points here
  HealthState state_;
  HybridClock clock_;
  ReplicatorCounters counters_;
  std::string last_malformed_;
  SeenBodies seen_{config_.seen_bodies};

  // Buffer key -> delta-group. Hashed: no output depends on its order (a
  // flush sorts its dirty keys, a delta repair takes the most recently
  // changed group holding each missing dot, by_written_); in gossip mode
  // every received delta is buffered, and the ordered map's string
  // compares were a tenth of a 1,000-agent run.
  SlotMap<std::string, Pending> pending_;
  // Eviction order: (sequence, entry) for each change, oldest first. An
  // entry is live while it is pending with that sequence
  // (Pending::written); a key changed again, trimmed or evicted leaves a
  // stale entry behind, skipped when it reaches the front and dropped when
  // stale entries are most of the queue (compact_written(): O(1) amortised
  // per change). A tree node per change, allocated and rebalanced, was 3%
  // of a 1,000-agent registration. The entry is a pointer into pending_
  // (16 bytes an entry, where a copy of the key made 40: 47 MiB at the
  // peak of a 300-agent run): a slot stays put, erased or not, for the
  // map's life (core/slot_map.h), and sequences are never reused, so an
  // entry whose slot was erased or reused for another key is seen as stale.
  struct Written {
    std::uint64_t seq = 0;
    const SlotMap<std::string, Pending>::value_type* entry = nullptr;
  };
  std::deque<Written> by_written_;
  void compact_written();
  // The most bytes a part may have to ride in one datagram with our header
  // (what a fresh PacketBuilder has room for; the header never changes).
  std::size_t datagram_room_ = 0;
  // The keys marked dirty since the last flush (Pending::dirty; a key
  // trimmed meanwhile is skipped, one listed twice is pushed once).
  std::vector<std::string> dirty_;
  std::string last_write_key_;                    // buffer key of the last local write (record_request)
  std::uint64_t write_seq_ = 0;
  std::optional<Instant> last_flush_;             // when a flush last pushed dirty groups (flush_gap)
  Instant flush_at_ = Instant::max();             // replica_flush armed for
  Instant anti_entropy_at_ = Instant::max();
  std::map<std::string, Digest> known_;           // peer name -> its last digest (contexts only)
  bool tracking_peers_ = true;                    // the view is small enough to keep known_ (trim)

};

}  // namespace heck
