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
// - fill(b, n) packs queued parts into `b` while they fit, fewest-transmitted
//   first (ties: newest first). Each packed part counts one transmit and is
//   dropped once it reached transmit_limit(n) =
//   retransmit_mult * ceil(log10(n + 1)) (at least 1). A part that does not fit
//   is skipped, a smaller one behind it may still be packed (the scan stops
//   once the room left is below the smallest queued part, or after
//   kMaxMisfits parts in a row did not fit). `n` is the cluster size
//   including this node.
// - At most max_items parts are queued; pushing into a full queue first
//   evicts the most-transmitted (then oldest) part and counts it in dropped().
//
// Deterministic: the order depends only on the calls made, never on hashing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "core/wire/envelope.h"

namespace heck {

class BroadcastQueue {
 public:
  explicit BroadcastQueue(std::size_t retransmit_mult = 4, std::size_t max_items = 4096);

  // Queues `part`, replacing a queued broadcast with the same non-empty key.
  void push(std::string key, wire::EncodedPart part);
  // Packs queued parts into `b` while they fit (see above). Returns parts packed.
  std::size_t fill(wire::PacketBuilder& b, std::size_t cluster_size);

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::uint64_t dropped() const { return dropped_; }  // evicted because the queue was full
  bool contains(const std::string& key) const { return by_key_.contains(key); }
  // Forgets every queued part (e.g. a node that left and rejoins).
  void clear();

  // retransmit_mult * ceil(log10(cluster_size + 1)), at least 1.
  std::size_t transmit_limit(std::size_t cluster_size) const;

 private:
  struct Item {
    std::string key;
    wire::EncodedPart part;
    std::size_t transmits = 0;
  };
  // Order key: (transmits, -id): fewest transmits first, newest first.
  using Order = std::tuple<std::size_t, std::uint64_t>;  // (transmits, ~id)

  void erase(std::uint64_t id);

  static constexpr std::size_t kMaxMisfits = 64;

  std::size_t retransmit_mult_;
  std::size_t max_items_;
  std::uint64_t next_id_ = 1;
  std::uint64_t dropped_ = 0;
  std::map<std::uint64_t, Item> items_;          // id -> item
  std::map<std::string, std::uint64_t> by_key_;  // non-empty key -> id
  std::set<Order> order_;
  std::multiset<std::size_t> sizes_;  // encoded sizes of the queued parts
};

}  // namespace heck
