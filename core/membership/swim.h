// SWIM membership and failure detection with the Lifeguard refinements, as a
// pure state machine: inputs carry `now`, outputs are effects (core/effects.h).
//
// References:
//   [SWIM] Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent
//          Infection-style Process Group Membership Protocol", DSN 2002.
//   [LG]   Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for
//          More Accurate Failure Detection", 2018.
//   Vocabulary and defaults follow hashicorp/memberlist (LAN profile).
//
// Mechanisms:
// - States alive < suspect < dead < left, with incarnation numbers ([SWIM]
//   4.2). An update about a member wins when its (incarnation, state) is
//   greater in lexicographic order (ties broken by address), so applying
//   updates is a join: any delivery order gives the same view. A member that
//   hears suspect/dead (or a newer alive) about itself refutes by raising its
//   incarnation above the one heard and broadcasting alive ([SWIM] 4.2).
//   A stale accusation (older incarnation) re-queues its current alive, so a
//   member that missed the refutation learns it before its timeout expires.
//   A refutation also spreads faster than other updates: the refuting member
//   and each member that first hears it end a suspicion send it at once to
//   gossip_nodes random members, besides the usual gossip (it races the
//   suspicion timeouts; a resumed member's acks to pings buffered before it
//   read the accusation carry nothing).
//   A death of another member declared by a member this node holds dead or
//   left is ignored (not in memberlist): an isolated member suspects
//   everyone it cannot hear, and a member that missed the refutation would
//   otherwise apply its deaths of healthy members, by gossip or in its
//   push-pull. (Its suspicions are applied: they make the accused refute.)
//   Any member that receives an accusation of a member it holds alive at a
//   higher incarnation answers the sender with that alive directly: under
//   loss a member can miss every gossiped copy of a refutation, and would
//   otherwise hold the member suspect until a push-pull.
// - Failure detection ([SWIM] 3.1, 4.3): every protocol period probes one
//   member, chosen on a slotted ring (not in memberlist, which walks a list
//   reshuffled after each round). Every member orders itself and the live
//   members it knows by a hash of the name (the same ring everywhere); in
//   global step s = floor(now / probe_interval) each member probes the one
//   k + 1 places after itself, k = s mod (n - 1). While the views agree,
//   each step is a permutation: every live member is probed exactly once per
//   step, so a crash is first probed within two periods (the probers' phases
//   in a step differ) instead of SWIM's geometric tail, where with shuffled
//   rounds all n - 1 probers could have just passed it (10 members: about
//   1 crash in 10,000 waited over 6 periods for its first probe; see
//   tools/probe_tail_model.py). Each member still probes everyone once per
//   cycle of n - 1 probes (round-robin's bound): an offset already probed in
//   the cycle (two ticks in one step, a stretched interval) gives way to the
//   next one not probed. Clocks that disagree by a fraction of a period, or
//   views that differ, only make some steps probe a member twice and
//   another not at all. ping/ack carry a sequence number;
//   no ack within probe_timeout sends ping-req to indirect_checks random alive
//   members, which relay a ping and forward the ack. With Lifeguard an
//   intermediary that gets no ack within 80% of its timeout sends a nack
//   ([LG] 4.2, LHA-Probe). No ack by the end of the period: suspect.
// - Suspicion ([SWIM] 4.2, [LG] 4.1, LHA-Suspicion): a suspect is declared
//   dead when its timeout expires; the timeout starts at max and shrinks with
//   independent confirmations c (suspect messages from other members):
//     min = suspicion_mult * max(1, log10 n) * probe_interval
//     max = max_suspicion_timeout_mult * min,  k = suspicion_mult - 2
//     timeout = max(min, max - (max - min) * log(c + 1) / log(k + 1))
//   (k = 0 when n - 2 < k: the timeout is min). Without Lifeguard the
//   timeout is min, fixed.
// - Buddy system ([LG] 4.3): a ping to a suspect carries the suspicion so the
//   suspect learns of it at once and can refute.
// - Local health awareness ([LG] 4.2, LHA-Probe): a score in
//   [0, max_awareness_multiplier - 1]; +1 per missed nack (or per failed probe
//   when no nack was expected), +1 when refuting a suspicion about itself, -1
//   per successful probe. Probe interval and probe timeout scale by score + 1.
// - Dissemination ([SWIM] 4.1): updates are queued in the BroadcastQueue and
//   piggybacked on every datagram (ping, ping-req, ack, nack) and on gossip
//   rounds (every gossip_interval to the next gossip_nodes members of a
//   random cycle through the live members and those dead or left for less
//   than gossip_to_the_dead: each gets one round in every
//   ceil(pool / gossip_nodes), so a broadcast's transmits go to distinct
//   members). Push-pull: every
//   push_pull_interval (scaled up past 32 members like memberlist's
//   pushPullScale; the first one a scaled interval after a random stagger
//   in [0, push_pull_interval) from the start, as memberlist's
//   pushPullTrigger) the full membership is exchanged with one random member
//   over a stream and merged (a remote `dead` is merged as `suspect`, as
//   memberlist does, so a member is only declared dead by a local timeout or a
//   dead broadcast).
// - Join: push-pull (join flag) to every seed over a stream; joined when a
//   reply arrives; otherwise retry with exponential backoff (with jitter)
//   between min_join_backoff and max_join_backoff, forever. No seeds: first
//   member. A restarted node learns its old incarnation from the reply (or
//   from a suspect/dead message about itself) and refutes above it.
// - Leave: the node marks itself `left` and broadcasts a dead message with the
//   left flag; it stops probing and push-pull but keeps answering pings and
//   gossiping so the broadcast drains. Others show it as `left`, not `dead`.
// - Reconnect (Serf's, not in memberlist): every reconnect_interval, with
//   probability dead/live, one random dead member gets a push-pull; a member
//   that was only cut off refutes its death and both sides merge, so a
//   healed partition converges. Its own cadence, shorter than push-pull's: at
//   one try per member per 30 s push-pull tick, a healed 3 | 3 split waited
//   for the first try longer than 20 s in about 1 run in 100
//   (cluster_state_partition, seeds 1..500: 5 runs at 20.2-23.2 s; every
//   member's tick had just passed), (1 - T/30)^6 in theory.
// - Strangers (not in memberlist): a datagram from a member this node does
//   not hold at all (it gossips to or probes us, so it holds us) means its
//   alive never reached us: transmit-limited gossip reaches most members,
//   not all, and the periodic push-pull is 90 s apart at 100 members. The
//   node sends that member a push-pull at once, at most one per
//   push_pull_interval, so a start where everyone is a stranger to someone
//   costs a few push-pulls per member.
// - Name conflicts (memberlist logs them too): two processes started with
//   one name each refute the other's alive forever. An alive about this
//   node from another address is refuted; one from another address that
//   outranks an incarnation this node already raised against another
//   address is a second process actively refuting it: counted
//   (counters().name_conflicts) and its address kept
//   (name_conflict_address()) for the driver to report. A restart at a new
//   address refutes its old alive once and is not a conflict.
// - Reaping: dead and left members are forgotten dead_reap_after after they
//   entered that state (no MemberChanged; they just leave members()).
//
// Wire (bodies are compact JSON arrays, encoded by wire::encode_part; see
// core/membership/messages.h for the codec):
//   ping      [seq, target name]
//   ping_req  [seq, target name, target address, want nack]
//   ack       [seq]
//   nack      [seq]
//   alive     [name, address, incarnation]
//   suspect   [name, address, incarnation, from]
//   dead      [name, address, incarnation, from, left]
//   push_pull [is reply, is join, [[name, address, state, incarnation], ...]]
//
// Effects, in a deterministic order: Send (datagrams built with
// wire::PacketBuilder under max_packet_bytes: the message part first, then
// broadcasts().fill(); push-pull over Channel::stream), SetTimer/CancelTimer
// with kinds swim_* (core/timer.h), MemberChanged whenever a member's state or
// incarnation changes in this view (including new members and this node).
//
// Cost model (n members in this view): the members are flat records in
// slots, found by name through a hash index (core/name_index.h)
// and listed in name order by a vector of slot numbers.
//   an update about a known member (alive/suspect/dead, a push-pull entry):
//     O(1) expected (one hash lookup, one record); a new member adds an O(n)
//     insert of a 4-byte slot number into the name order.
//   a suspicion: O(log s) in the s current suspects, confirmers O(k).
//   members(), live_members(), a push-pull: O(n), in name order, no sort.
//   a probe: O(log n) (self's place on the ring); a member that becomes
//     live or stops being live: an O(n) insert/erase of an 8-byte slot
//     (key prefix, slot number) in the ring.
//   reaping: O(n) per reap timer that forgets someone (slots are reused).
// Memory: ~100 bytes a member (MemberInfo plus slot bookkeeping) and 16
// bytes of index per member.
//
// Bad input: a part whose body does not decode is dropped and counted in
// counters().malformed_parts; it never asserts. Every collection is bounded
// (max_members, max_relays, seeds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/effects.h"
#include "core/membership/awareness.h"
#include "core/membership/broadcast_queue.h"
#include "core/membership/member_state.h"
#include "core/membership/messages.h"
#include "core/membership/suspicion.h"
#include "core/name_index.h"
#include "core/name_table.h"
#include "core/net.h"
#include "core/random.h"
#include "core/time.h"
#include "core/timer.h"
#include "core/wire/envelope.h"

namespace heck {

struct SwimConfig {
  // memberlist DefaultLANConfig.
  Duration probe_interval = Duration::seconds(1);
  Duration probe_timeout = Duration::milliseconds(500);
  std::size_t indirect_checks = 3;
  std::size_t suspicion_mult = 4;
  std::size_t max_suspicion_timeout_mult = 6;
  std::size_t retransmit_mult = 4;
  Duration gossip_interval = Duration::milliseconds(200);
  std::size_t gossip_nodes = 3;
  Duration gossip_to_the_dead = Duration::seconds(30);
  Duration push_pull_interval = Duration::seconds(30);
  std::size_t max_packet_bytes = kMaxPacketBytes;  // the node's datagram budget (core/net.h)
  std::size_t max_awareness_multiplier = 8;
  // Our own choices (memberlist has no equivalent).
  Duration dead_reap_after = Duration::seconds(3600);
  Duration min_join_backoff = Duration::seconds(1);
  Duration max_join_backoff = Duration::seconds(30);
  double nack_timeout_fraction = 0.8;  // of probe_timeout, for intermediaries
  std::size_t max_members = 10000;     // new members past this are refused (counted)
  std::size_t max_relays = 1024;       // pending ping-req relays
  std::size_t max_seeds = 64;
  std::size_t max_broadcasts = 4096;   // BroadcastQueue capacity
  std::size_t max_stream_bytes = 1 << 22;  // a push-pull frame (wire::DecodeLimits::max_bytes)
  // Serf's reconnect: every reconnect_interval, with probability
  // dead / live, push-pull with one random dead (not left) member, so the
  // two sides of a healed partition find each other again.
  bool reconnect_dead = true;
  Duration reconnect_interval = Duration::seconds(10);
  // false = plain SWIM: fixed suspicion timeout (= min), no nacks, no
  // awareness multiplier. The buddy system stays on (memberlist always has it).
  bool lifeguard = true;
  // Where member names and addresses are interned (name_table.h); null: the
  // machine makes its own. The simulator gives its nodes one.
  std::shared_ptr<NameTable> names;
};

struct MemberInfo {
  Name name;
  Name address;
  MemberState state = MemberState::alive;
  std::uint64_t incarnation = 0;
  Instant state_since;  // when this node saw the member enter `state`
};

struct SwimCounters {
  std::uint64_t probes = 0;            // protocol periods that probed a member
  std::uint64_t probes_failed = 0;     // periods that ended without any ack
  std::uint64_t pings_sent = 0;        // direct pings, including relayed ones
  std::uint64_t ping_reqs_sent = 0;
  std::uint64_t acks_sent = 0;         // including forwarded acks
  std::uint64_t nacks_sent = 0;
  std::uint64_t acks_received = 0;     // for a probe or relay still pending
  std::uint64_t nacks_received = 0;
  std::uint64_t indirect_acks = 0;     // probes answered after the ping-reqs went out
  std::uint64_t stale_acks = 0;        // acks/nacks for no pending probe or relay
  std::uint64_t relays = 0;            // ping-reqs served as intermediary
  std::uint64_t relays_refused = 0;    // ping-reqs over max_relays
  std::uint64_t misdirected_pings = 0; // pings naming another target
  std::uint64_t suspicions = 0;        // suspicions started in this view
  std::uint64_t confirmations = 0;     // independent suspicion confirmations
  std::uint64_t deaths_declared = 0;   // suspicion timeouts expired here
  std::uint64_t refutes = 0;           // incarnation bumps to refute
  std::uint64_t stale_accusations = 0; // old suspect/dead about self: alive re-queued
  std::uint64_t name_conflicts = 0;    // another process refuting this node's alive (same name)
  std::uint64_t accusations_told = 0;  // acks that told the pinging member it is suspect/dead here
  std::uint64_t stale_accusers_answered = 0;  // senders of an old accusation told the newer alive directly
  std::uint64_t accusers_told = 0;            // members named as our accusers told our refutation directly
  std::uint64_t eager_gossip_rounds = 0;      // refutations sent at once to gossip_nodes members (not on the tick)
  std::uint64_t deaths_from_the_dead = 0;  // deaths of others declared by a member held dead: ignored
  std::uint64_t updates_applied = 0;   // alive/suspect/dead that changed the view
  std::uint64_t updates_ignored = 0;   // superseded or duplicate updates
  std::uint64_t members_refused = 0;   // new members over max_members
  std::uint64_t reaped = 0;
  std::uint64_t gossip_packets = 0;
  std::uint64_t push_pulls_sent = 0;   // requests and replies
  std::uint64_t push_pulls_received = 0;
  std::uint64_t push_pulls_truncated = 0;  // members left out to stay under max_stream_bytes
  std::uint64_t reconnects = 0;        // push-pulls sent to a dead member
  std::uint64_t stranger_pulls = 0;    // push-pulls sent to a sender not in the view
  std::uint64_t join_attempts = 0;
  std::uint64_t packets_sent = 0;      // Send effects
  std::uint64_t bytes_sent = 0;
  std::uint64_t malformed_parts = 0;   // bodies that did not decode
  std::uint64_t unknown_parts = 0;     // part types that are not membership's
};

// True for part types in the membership range (1-31) this machine handles.
bool is_membership_part(wire::PartType type);

class Swim {
 public:
  // REQUIRES: name and address non-empty and within the wire limits.
  Swim(SwimConfig config, std::string name, Address address, std::uint64_t seed);

  // ---- inputs ----
  // Starts the machine: self alive, timers armed. No seeds (or only this
  // node's own address) = first member. Otherwise push-pull to the seeds,
  // retried with backoff until one answers. Calling join again (e.g. after
  // leave) restarts with a higher incarnation.
  void join(Instant now, std::vector<Address> seeds, Effects& out);
  // Graceful leave: self `left`, a dead/left broadcast sent at once to
  // gossip_nodes members and queued for piggybacking.
  void leave(Instant now, Effects& out);
  // Timers of kinds swim_* (core/timer.h). Stale, late and early firings are
  // tolerated (an early firing re-arms the timer).
  void handle_timer(Instant now, TimerKey key, Effects& out);
  // One decoded part of an incoming envelope (membership part types only;
  // others are counted in unknown_parts). Malformed bodies are dropped and
  // counted, never asserted on.
  void handle_part(Instant now, const wire::Header& from, const wire::Part& part, Channel channel,
                   Effects& out);
  // The parts of one envelope, handled in order as handle_part does, with
  // the same results. They are decoded first and the member records their
  // updates name are prefetched, so the cache misses of a packet's updates
  // overlap instead of queueing one behind another (find_member's misses
  // were a quarter of a 1,000-member simulation). An alive is only viewed
  // in place, and copied into an AliveMsg only when it is news: 94% of the
  // updates received while 1,000 members join change nothing
  // (tools/bench/swim_bench --rows load, "join stale %").
  void handle_parts(Instant now, const wire::Header& from, std::span<const wire::Part> parts, Channel channel,
                    Effects& out);

  // ---- dissemination, shared with other layers ----
  BroadcastQueue& broadcasts() { return broadcasts_; }
  const BroadcastQueue& broadcasts() const { return broadcasts_; }

  // ---- views ----
  const std::string& name() const { return self_; }
  const Address& address() const { return address_; }
  const SwimConfig& config() const { return config_; }
  // The table member names are interned in (shared with the node's other
  // member lists).
  const std::shared_ptr<NameTable>& names() const { return names_; }
  std::uint64_t incarnation() const;
  bool joined() const { return joined_; }  // a seed answered (or first member)
  bool left() const { return left_; }
  const MemberInfo* member(std::string_view name) const;
  std::vector<MemberInfo> members() const;              // sorted by name, incl. self
  std::vector<const MemberInfo*> live_members() const;  // alive+suspect, excl. self, by name
  std::size_t live_count() const;                       // alive+suspect, incl. self
  std::size_t health_multiplier() const { return awareness_.multiplier(); }  // LHA score + 1
  const SwimCounters& counters() const { return counters_; }
  // The address of the last process seen claiming this node's name (empty:
  // none); see "Name conflicts" above.
  const Address& name_conflict_address() const { return name_conflict_address_; }

 private:
  using MemberId = std::uint32_t;  // a slot in members_; self is slot 0
  struct Member {
    MemberInfo info;
    std::uint32_t live_index = kNoIndex;  // position in live_, or kNoIndex
    bool used = false;  // false: a free slot (its member was reaped)
  };
  // Valid while the member is suspect (suspicions_ holds one per suspect).
  struct Suspicion {
    Instant start;
    Instant deadline;
    std::vector<std::string> confirmers;  // the first accuser included; at most k + 1
    bool confirmed_by(std::string_view name) const;
  };
  struct Probe {
    std::uint64_t seq = 0;
    std::string target;
    std::uint64_t target_incarnation = 0;
    Instant ack_timeout_at;
    Instant deadline_at;
    bool indirect = false;
    std::size_t expected_nacks = 0;
    std::size_t nacks = 0;
  };
  struct Relay {
    std::uint64_t origin_seq = 0;
    Address origin;
    Channel channel = Channel::datagram;
    bool want_nack = false;
    bool nacked = false;
    Instant nack_at;
    Instant expire_at;
  };
  // Views into the message it came from (which outlives the call).
  struct Update {
    std::string_view name;
    std::string_view address;
    MemberState state = MemberState::alive;
    std::uint64_t incarnation = 0;
    std::string_view from;  // suspect/dead: who says so
  };
  static constexpr std::uint32_t kNoIndex = static_cast<std::uint32_t>(-1);

  // Sending.
  wire::Header header() const { return wire::Header{self_, address_}; }
  void send(const Address& to, Channel channel, const std::vector<const wire::EncodedPart*>& parts,
            bool piggyback, Effects& out);
  void send_message(const Address& to, Channel channel, const SwimMessage& m, Effects& out);
  void broadcast(const std::string& about, const SwimMessage& m);
  void set_timer(TimerKind kind, std::uint64_t id, Instant at, Effects& out);
  void cancel_timer(TimerKind kind, std::uint64_t id, Effects& out);

  // The view.
  Member& self_member();
  bool apply(Instant now, const Update& u, Effects& out);
  void apply_about_self(Instant now, const Update& u, Effects& out);
  // Decodes a membership part (counting unknown and malformed ones).
  std::optional<SwimMessage> decode_part(const wire::Part& part);
  void handle_message(Instant now, const wire::Header& from, const SwimMessage& message, Channel channel,
                      Effects& out);
  void prefetch_members(std::span<const std::variant<AliveView, SwimMessage>> batch) const;
  // An alive that apply() would ignore: its member already holds an equal or
  // greater rank (never true of this node's own name).
  bool holds_already(const AliveView& a) const;
  void spread_refutations(Effects& out);
  // A push-pull to the packet's sender when it is not in the view (above).
  void pull_stranger(Instant now, const wire::Header& from, Channel channel, Effects& out);
  // Sends our alive to the members named as our accusers in this packet,
  // once per accuser and incarnation.
  void tell_accusers(Effects& out);
  std::vector<std::size_t> random_picks(std::size_t pool);
  std::vector<std::size_t> gossip_picks(std::size_t pool);
  // True when `accuser` is dead or left in this view and declares another
  // member dead: the death is ignored (see swim.cpp); counted when the
  // accused is held live.
  bool accuser_out_of_the_group(std::string_view accused, std::string_view accuser);
  void answer_stale_accusation(const wire::Header& from, const std::string& about, std::uint64_t incarnation,
                               Channel channel, Effects& out);
  void refute(Instant now, std::uint64_t heard, Effects& out);
  void change(Instant now, MemberId id, MemberState to, std::uint64_t incarnation,
              std::string_view address, bool is_new, Effects& out);
  void start_suspicion(Instant now, MemberId id, std::string_view from, Effects& out);
  void confirm_suspicion(Instant now, MemberId id, std::string_view from, Effects& out);
  SuspicionBounds suspicion_bounds_now() const;
  Member* find_member(std::string_view name);
  const Member* find_member(std::string_view name) const;
  MemberId add_member(Instant now, const Update& u);
  void reap(const std::vector<MemberId>& ids);
  void live_insert(MemberId id);
  void live_erase(MemberId id);
  void ring_insert(MemberId id);
  void ring_erase(MemberId id);
  // A place on the probe ring: the top 32 bits of the member's ring key
  // beside its slot, so a lookup compares integers and reads a member's
  // name only on a tie of those bits (reading and hashing two names per
  // step was 4.6% of cluster_crash_1000 in perf; the lookups are 0.8% now).
  struct RingSlot {
    std::uint32_t key_hi = 0;  // probe_ring_key(name) >> 32
    MemberId id = 0;
  };
  // Where id is on the ring, or would go: O(log n).
  std::vector<RingSlot>::const_iterator ring_place(MemberId id) const;
  const Member* next_probe_target(Instant now);
  // Up to k distinct random members from live_ (alive only if alive_only),
  // excluding `exclude`.
  std::vector<const Member*> random_live(std::size_t k, bool alive_only, std::string_view exclude);

  // Protocol steps.
  void start_timers(Instant now, Effects& out);
  void attempt_join(Instant now, Effects& out);
  void on_probe_timer(Instant now, Effects& out);
  void start_probe(Instant now, Effects& out);
  void conclude_probe(Instant now, Effects& out);
  void send_ping_reqs(Instant now, Effects& out);
  void on_gossip_timer(Instant now, Effects& out);
  void gossip_round(Instant now, Effects& out);
  void on_push_pull_timer(Instant now, Effects& out);
  void send_push_pull(const Address& to, bool reply, bool join, Effects& out);
  void on_reap_timer(Instant now, Effects& out);
  Duration push_pull_interval_now() const;

  void on_ping(Instant now, const wire::Header& from, const PingMsg& m, Channel channel, Effects& out);
  void on_ping_req(Instant now, const wire::Header& from, const PingReqMsg& m, Channel channel,
                   Effects& out);
  void on_ack(Instant now, const AckMsg& m, Effects& out);
  void on_nack(const NackMsg& m);
  void on_push_pull(Instant now, const wire::Header& from, const PushPullMsg& m, Effects& out);

  SwimConfig config_;
  std::string self_;
  Address address_;
  Rng rng_;
  // gossip_picks' cycle through the gossip pool's indices.
  struct GossipCycle {
    std::size_t pool = 0;
    std::size_t stride = 1;
    std::size_t offset = 0;
    std::size_t step = 0;
  };
  GossipCycle gossip_cycle_;
  std::shared_ptr<NameTable> names_;  // the texts of members_' names and addresses
  BroadcastQueue broadcasts_;
  SwimCounters counters_;
  Awareness awareness_;

  // The members, self included: flat records by slot (a suspicion timer's
  // id is its member's slot), found by name through index_, listed in name
  // order by by_name_. A reaped member's slot is reused.
  std::vector<Member> members_;
  std::vector<MemberId> free_slots_;
  NameIndex index_;
  std::vector<MemberId> by_name_;                       // used slots, by name
  std::map<MemberId, Suspicion> suspicions_;            // one per suspect
  std::vector<MemberId> live_;                          // alive+suspect, excluding self
  std::vector<std::pair<MemberId, Instant>> recently_dead_;  // gossip to the dead
  std::size_t dead_count_ = 0;                          // members in state dead

  bool started_ = false;
  bool ever_started_ = false;
  bool joined_ = false;
  bool left_ = false;
  std::vector<Address> seeds_;
  Duration join_backoff_;
  Instant join_at_;
  Instant next_probe_at_;
  Instant next_gossip_at_;
  Instant next_push_pull_at_;
  bool push_pull_staggered_ = false;  // the first push-pull firing (the stagger) has passed
  Instant next_reconnect_at_;
  Instant next_stranger_pull_at_;
  Instant next_reap_at_;

  // The probe ring: self and every live member, by ring key (see probing).
  std::vector<RingSlot> ring_;
  // The offsets probed in this node's current cycle (one flag per offset
  // 1..n-1, reset when a cycle completes or the ring's size changes).
  std::vector<bool> cycle_probed_;
  std::size_t cycle_count_ = 0;
  std::vector<MemberId> refuted_;  // refutations heard in this packet (spread_refutations)
  // Members named as the source of an accusation of this member (SuspectMsg
  // / DeadMsg `from`) in this packet, to be told our alive directly; and
  // those already told at our current incarnation (answered once each).
  std::vector<std::string> accusers_;
  // The incarnation this node raised to refute an alive of itself from
  // another address (0: never), and the last conflicting address.
  std::uint64_t refuted_foreign_at_ = 0;
  Address name_conflict_address_;
  std::vector<std::string> accusers_told_;
  std::uint64_t accusers_told_incarnation_ = 0;
  std::optional<Probe> probe_;
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, Relay> relays_;  // our relay seq -> origin
};

}  // namespace heck
