// The recent check latencies of each target, kept by the members that check
// it, and moved with its ownership so that a new owner (a takeover after a
// crash, or a member that joined and now ranks first) starts with the
// previous owner's samples instead of an empty ring.
//
// Latencies are not replicated state: every check would be a delta for
// every member. They go only where the target may move next:
// - every handoff interval, each owner hands the samples it has not handed
//   yet to the target's standby (the member ranked right after the
//   owners), which is the member that takes over when an owner dies; a new
//   standby gets the whole ring (datagrams: small, lost at worst);
// - a member that stops checking a target while it stays registered hands
//   its whole ring to the target's owners (a join that moved the target),
//   all the rings for one receiver in one stream frame;
// - a member keeps a ring while it is an owner or the standby, and forgets
//   it when it falls further down the ranking or the target is deleted;
// - a ring handed over for a target the receiver has not seen registered
//   yet (a member that just joined is handed rings before the registry
//   reaches it) is parked, at most kMaxParked targets, until the registry
//   says whether this member keeps it, or until expire_parked (the node
//   calls it every observation refresh: a target deleted meanwhile).
// So after a crash the new owner lacks at most one handoff interval of the
// dead owner's samples (and those a lost datagram carried). Samples are
// ordered by the time their checker took them (its clock: skew between
// members shows as skew here; the node accepts handed samples only within
// [now - kMaxAge, now + kMaxAhead] of its own clock, so a far-off clock
// cannot pin a ring) and bounded to kMaxSamples, oldest dropped. Times are
// kept in whole milliseconds, as the wire carries them, so a sample handed
// back to a member that holds it is recognised as the same sample.
//
// Wire: one part per target, PartType::latency_handoff:
//   [target id, base_ms, count, samples]
// where `samples` is binary, per sample (in time order) two LEB128
// varints: the milliseconds since the previous sample's time (the first's
// since base_ms), and latency_us * 2 + ok; about 5 bytes a sample at a
// 1 s interval. Decoding is strict: a valid target id, at most
// kMaxSamples samples, exactly `count` of them, times within a year of
// base_ms, latencies within an hour; an error names what is wrong (the
// node counts the part as malformed and drops it).
//
// Cost: record and merge are O(1) expected + O(kMaxSamples); the map holds
// only the targets this member checks or stands by for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/name_table.h"
#include "core/result.h"
#include "core/slot_map.h"
#include "core/time.h"
#include "core/wire/envelope.h"

namespace heck {

struct LatencySample {
  Instant at;                     // when the check finished, on its checker's clock (whole ms)
  std::uint32_t latency_us = 0;   // saturated at kMaxLatencyUs
  bool ok = false;                // the check passed (a failed check took time too)
  bool here = false;              // measured by this member (not handed over)
  bool sent = false;              // bookkeeping: handed to the ring's last receiver (not on the wire)
  bool operator==(const LatencySample&) const = default;
};

class LatencyHistory {
 public:
  static constexpr std::size_t kMaxSamples = 60;
  static constexpr std::uint32_t kMaxLatencyUs = 3'600'000'000U;  // one hour
  static constexpr std::size_t kMaxParked = 4096;
  static constexpr Duration kMaxAge = Duration::seconds(30LL * 86'400);
  static constexpr Duration kMaxAhead = Duration::seconds(600);

  static LatencySample sample(Instant at, Duration latency, bool ok);
  // `at` down to a whole millisecond.
  static Instant whole_ms(Instant at);

  // Where a target's ring was found last. A caller that records for the
  // same target check after check (a node, one per scheduler slot) keeps
  // one and passes it back: while it still names that target's ring, the
  // ring is found without a hash lookup (one cold read per check, not two).
  // Checked against the history that gave it and the ring's key before
  // use, so a hint whose ring was forgotten, whose slot now holds another
  // target's, or that came from another history (a copy's, a moved one's)
  // just falls back to the lookup. Keep hints beside the history they come
  // from (a node keeps both): a hint must not outlive it.
  class RingHint {
    const LatencyHistory* from_ = nullptr;
    const void* entry_ = nullptr;
    friend class LatencyHistory;
  };

  // A check this member ran (here = true).
  void record(NameRef id, LatencySample s, RingHint* hint = nullptr);
  // Samples another member handed over (here = false), merged by time; a
  // sample at a time the ring already holds is kept once.
  void merge(NameRef id, std::span<const LatencySample> samples);
  // Oldest first; empty when the target has no ring here.
  std::span<const LatencySample> samples(NameRef id) const;
  bool contains(NameRef id) const { return by_id_.contains(id); }
  void forget(NameRef id);
  std::size_t size() const { return by_id_.size(); }

  // A ring handed over for a target not registered here (yet): set aside,
  // merged with what is parked for it already. Past kMaxParked targets the
  // one parked first is dropped (an O(kMaxParked) scan, at the cap only).
  void park(NameRef id, std::span<const LatencySample> samples, Instant now);
  bool is_parked(NameRef id) const { return parked_.contains(id); }
  // The registry decided: merge the parked ring in (keep) or drop it.
  void unpark(NameRef id, bool keep);
  // Drops what was parked before `before` (its target never came).
  void expire_parked(Instant before);
  std::size_t parked() const { return parked_.size(); }

  // The samples to hand to `to` now: when the last handoff of this ring
  // went to `to` too, only those not handed to it yet (whatever their
  // times), else the whole ring (a new standby). Marks them handed to `to`.
  // Empty when nothing is new.
  std::vector<LatencySample> take_for(NameRef id, std::string_view to);

 private:
  // A full ring is circular: a check that is the newest (the common case)
  // overwrites the oldest sample in place, O(1), instead of shifting 60.
  // Readers see it in time order: in_order() rotates it back first (the
  // rotation changes no sample, so it is done from const readers too).
  struct Ring {
    mutable std::vector<LatencySample> samples;  // by time from `head`, oldest first
    mutable std::size_t head = 0;                // the oldest sample (0 unless full)
    std::string handed_to;                       // the last handoff's receiver
    std::vector<LatencySample>& in_order() const;
  };
  Ring& ring(NameRef id, RingHint* hint = nullptr);  // found or made
  // Flat hash maps (a lookup per check), hashed as Names are (text_hash):
  // a lookup by a spec's id reads the hash its Name carries. Never iterated
  // on the way to an output.
  SlotMap<std::string, Ring> by_id_;
  struct Parked {
    std::vector<LatencySample> samples;  // by time
    std::uint64_t seq = 0;               // parking order
    Instant at;                          // when it was parked
  };
  SlotMap<std::string, Parked> parked_;
  std::uint64_t park_seq_ = 0;
};

// One target's samples on the wire (see the header comment).
struct LatencyHandoff {
  std::string target;
  std::vector<LatencySample> samples;  // `here` is not sent: false when decoded
  bool operator==(const LatencyHandoff&) const = default;
};

wire::EncodedPart encode_latency_handoff(const LatencyHandoff& h);
Result<LatencyHandoff> decode_latency_handoff(std::span<const std::uint8_t> body);

}  // namespace heck
