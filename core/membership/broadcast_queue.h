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
// - push(key, part, lane, max_transmits) may cap one part's transmits below
//   transmit_limit(n): it is dropped after min(max_transmits,
//   transmit_limit(n)) (0: no cap). The replicator caps the bodies it
//   forwards in a large cluster, whose copies also travel by datagram (see
//   ReplicatorConfig::forward_transmits).
// - At most max_items parts are queued; pushing into a full queue first
//   evicts the most-transmitted (then oldest) part of the last non-empty
//   lane and counts it in dropped().
//
// Deterministic: the order depends only on the calls made, never on hashing
// (the key index only finds).
//
// Layout: the parts in push order (a part's position is its age), with
// holes where parts left, compacted once holes are half of them; each
// (lane, transmit count) is a bucket, a bitset over positions. Newest first
// in a bucket is its highest set bit first; moving a part to the next
// bucket clears one bit and sets another. (Buckets as vectors of parts
// sorted by age merged every part moved up into the next bucket: a part
// older than the ones moved before it went behind all of them: 14% of a
// 300-agent gossip-mode simulation once its targets were registered.)
//
// Cost model (n queued parts, p positions: p <= max(2n + 1, 64) between
// calls):
//   push:  O(1) expected to find a replaced key; a replaced or evicted part
//          leaves its bucket by clearing a bit (the eviction's oldest part
//          is its bucket's lowest bit, found from a hint of the lowest word
//          that may hold one); amortised O(1) for compactions.
//   fill:  O(parts looked at) to pack, at most parts packed + kMaxMisfits,
//          plus the bucket words passed over (p / 64 per non-empty bucket
//          at most); O(1) per packed part to move it up. work() counts the
//          parts looked at, moves() the parts moved by compactions.
// Memory per part: its bytes, a 32-byte record (the key is interned),
// an 8-byte key index entry and, per (lane, transmit count), a bit for each
// position up to its highest part.
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
  // non-empty key (whatever its lane). `max_transmits` > 0: the part is
  // dropped once sent that many times, if before transmit_limit().
  void push(std::string_view key, wire::EncodedPart part, Lane lane = Lane::membership,
            std::uint32_t max_transmits = 0);
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
  // Parts moved to close holes, in total (a work counter for tests).
  std::uint64_t moves() const { return moves_; }

 private:
  struct Item {
    Name key;
    wire::EncodedPart part;
    std::uint32_t transmits = 0;
    std::uint32_t max_transmits = 0;  // 0: transmit_limit() alone
    Lane lane = Lane::membership;
    bool live = false;  // false: a hole left by a part gone
  };
  // The parts of one lane with one transmit count: a bit per position, the
  // words up to the highest set bit (none past it), and the lowest word
  // that may hold a set bit.
  struct Bucket {
    std::vector<std::uint64_t> bits;
    std::size_t count = 0;
    std::size_t low = 0;
  };
  static constexpr std::uint32_t kNoSlot = static_cast<std::uint32_t>(-1);
  static constexpr std::size_t kMaxMisfits = 64;
  static constexpr std::size_t kCompactFrom = 64;  // positions: fewer are left alone

  std::uint32_t find_key(std::string_view key) const;
  Bucket& bucket(Lane lane, std::size_t transmits);
  static void set(Bucket& b, std::uint32_t pos);
  static void unset(Bucket& b, std::uint32_t pos);
  // The oldest part's position (REQUIRES: b.count > 0).
  static std::uint32_t lowest(Bucket& b);
  // Takes the part out of its bucket and leaves a hole.
  void erase(std::uint32_t pos);
  void release(std::uint32_t pos);
  // Closes the holes once they are half the positions: O(n + bucket words),
  // amortised over the removals that made them.
  void maybe_compact();
  void compact();

  std::shared_ptr<NameTable> names_;
  std::size_t retransmit_mult_;
  std::size_t max_items_;
  std::uint64_t dropped_ = 0;
  std::uint64_t work_ = 0;
  std::uint64_t moves_ = 0;
  std::size_t count_ = 0;
  std::vector<Item> items_;  // in push order; holes where parts left
  std::size_t holes_ = 0;
  NameIndex by_key_;         // non-empty key -> position
  // Per lane, by transmit count.
  std::array<std::vector<Bucket>, kLanes> buckets_;
  std::map<std::size_t, std::size_t> sizes_;  // encoded size -> parts of that size
};

}  // namespace heck
