// A transmit-limited broadcast queue: updates that ride on outgoing packets
// (piggybacking, SWIM section 4.1 "infection-style dissemination") until each
// has been sent often enough to reach the whole group with high probability.
// memberlist calls it TransmitLimitedQueue; every layer (membership,
// replication) shares one instance per node so that their updates share the
// spare room in each packet.
//
// Contract:
// - push(key, part) queues `part`. A queued broadcast with the same non-empty
//   `key` is replaced and its transmit count restarts: a newer update about
//   the same member or object supersedes the older one. Keys are namespaced by
//   layer: "m:<member>" for membership, "r:..." for replication. An empty key
//   is never replaced.
// - Two lanes, as memberlist fills its own broadcasts before its delegate's:
//   membership updates (Lane::membership) are packed before any other
//   layer's parts (Lane::after), and a full queue evicts from the later lane
//   first. A burst of replication deltas (a registration, a takeover of
//   thousands of targets) then delays other deltas, never a suspicion or a
//   refutation: fresh deltas used to outrank an older suspicion (fewer
//   transmits, then newer), so a node writing faster than it sent could
//   hold its suspicions back until it broadcast the death.
// - fill(b, n) packs queued parts into `b` while they fit: lane by lane, in
//   each lane fewest-transmitted first (ties: newest first). Each packed part counts one transmit and is
//   dropped once it reached transmit_limit(n) =
//   retransmit_mult * ceil(log10(n + 1)) (at least 1). A part that does not fit
//   is skipped, a smaller one behind it may still be packed (the scan stops
//   once the room left is below the smallest queued part, or after
//   kMaxMisfits parts in a row did not fit). `n` is the cluster size
//   including this node.
// - At most max_items parts are queued; pushing into a full queue first
//   evicts the most-transmitted (then oldest) part of the last non-empty
//   lane and counts it in dropped().
//
// Deterministic: the order depends only on the calls made, never on hashing
// (the key index only finds).
//
// Cost model (n queued parts):
//   push:  O(1) expected to find a replaced key; the replaced or evicted
//          part leaves its bucket in O(1) amortised. A bucket is a vector of
//          16-byte refs sorted by age whose front is taken by advancing a
//          head, and a part replaced in the middle leaves a stale ref behind
//          (a ref whose id is no longer its slot's) that scans skip; a
//          bucket is compacted once stale refs and the taken front are half
//          of it. A full queue evicts on every push: erasing the front of a
//          4,096-ref vector each time was a fifth of a 1,000-agent
//          simulation.
//   fill:  O(parts looked at) to pack, at most parts packed + kMaxMisfits,
//          whatever n (plus stale refs passed over, at most as many as the
//          bucket's live refs); then the same again to take the packed
//          parts out of their buckets, plus a merge into the next bucket of
//          the refs newer than the oldest part moved up. work() counts the
//          parts looked at, ref_moves() the refs moved or dropped by
//          erases and compactions.
// Memory per part: its bytes, ~56 bytes of record (the key is interned), a
// 16-byte ref (and at most one stale ref) and an 8-byte key index entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/name_index.h"
#include "core/name_table.h"
#include "core/wire/envelope.h"

namespace heck {

class BroadcastQueue {
 public:
  // Keys are interned in `names` (core/name_table.h; null: its own).
  explicit BroadcastQueue(std::size_t retransmit_mult = 4, std::size_t max_items = 4096,
                          std::shared_ptr<NameTable> names = nullptr);

  enum class Lane : std::uint8_t { membership = 0, after = 1 };
  static constexpr std::size_t kLanes = 2;

  // Queues `part` in `lane`, replacing a queued broadcast with the same
  // non-empty key (whatever its lane).
  void push(std::string_view key, wire::EncodedPart part, Lane lane = Lane::membership);
  // Packs queued parts into `b` while they fit (see above). Returns parts packed.
  std::size_t fill(wire::PacketBuilder& b, std::size_t cluster_size);

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::uint64_t dropped() const { return dropped_; }  // evicted because the queue was full
  bool contains(const std::string& key) const { return find_key(key) != kNoSlot; }
  // Forgets every queued part (e.g. a node that left and rejoins).
  void clear();

  // retransmit_mult * ceil(log10(cluster_size + 1)), at least 1.
  std::size_t transmit_limit(std::size_t cluster_size) const;
  // Parts fill() has looked at, in total (a work counter for tests).
  std::uint64_t work() const { return work_; }
  // Refs moved or dropped to take parts out of their buckets (a work
  // counter for tests).
  std::uint64_t ref_moves() const { return ref_moves_; }

 private:
  struct Item {
    Name key;
    wire::EncodedPart part;
    std::uint64_t id = 0;  // push order: larger is newer; 0 = a free slot
    std::uint32_t transmits = 0;
    Lane lane = Lane::membership;
    bool packed = false;   // during fill()
  };
  // An entry of a bucket: live while its slot holds the part it was made for.
  struct Ref {
    std::uint64_t id = 0;
    std::uint32_t slot = 0;
  };
  // The parts of one lane with one transmit count, oldest first: the refs
  // from `head` on, `stale` of them for parts gone.
  struct Bucket {
    std::vector<Ref> refs;
    std::size_t head = 0;
    std::size_t stale = 0;
    std::size_t live() const { return refs.size() - head - stale; }
  };
  static constexpr std::uint32_t kNoSlot = static_cast<std::uint32_t>(-1);
  static constexpr std::size_t kMaxMisfits = 64;
  static constexpr std::size_t kCompactFrom = 64;  // slots or refs: smaller is left alone

  std::uint32_t find_key(std::string_view key) const;
  bool is_live(const Ref& r) const { return items_[r.slot].id == r.id; }
  // Takes the part out of its bucket (its ref goes stale) and frees its slot.
  void erase(std::uint32_t slot);
  // Takes the oldest part of `b` out (REQUIRES: b.live() > 0).
  void erase_oldest(Bucket& b);
  void release(std::uint32_t slot);
  Bucket& bucket(Lane lane, std::size_t transmits);
  // A bucket fill() packed parts from, and the index of the oldest part it
  // looked at there: the packed parts are at or behind it.
  struct Visited {
    std::size_t bucket = 0;
    std::size_t first = 0;
  };
  // After a fill: the packed parts of `lane` leave the buckets `left`
  // (ascending) for the next one up, or the queue at the transmit limit.
  // O(parts looked at + the refs of the next bucket newer than the oldest
  // part moved), not O(bucket).
  void move_up_packed(Lane lane, const std::vector<Visited>& left, std::size_t limit);
  // Drops the taken front and the stale refs of `b` once they are half of
  // it (always with `now`): O(refs), amortised over the removals that made
  // them.
  void tidy(Bucket& b, bool now = false);
  // Memory follows what is queued, not the high-water mark: a bucket below a
  // quarter of its capacity is shrunk, and once fewer than a quarter of the
  // slots are used the records are moved into dense slots (O(n), amortised
  // over the removals that emptied them).
  void shrink(std::vector<Ref>& b);
  void compact();

  std::shared_ptr<NameTable> names_;
  std::size_t retransmit_mult_;
  std::size_t max_items_;
  std::uint64_t next_id_ = 1;
  std::uint64_t dropped_ = 0;
  std::uint64_t work_ = 0;
  std::uint64_t ref_moves_ = 0;
  std::size_t count_ = 0;
  std::vector<Item> items_;  // by slot; a free slot has id 0
  std::vector<std::uint32_t> free_slots_;
  NameIndex by_key_;                             // non-empty key -> slot
  // Per lane, by transmit count, oldest first.
  std::array<std::vector<Bucket>, kLanes> buckets_;
  std::map<std::size_t, std::size_t> sizes_;     // encoded size -> parts of that size
};

}  // namespace heck
