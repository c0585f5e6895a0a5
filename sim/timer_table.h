// One node's armed timers, as the world tracks them (core/timer.h semantics).
//
// The world pushes one heap event per SetTimer and records here which heap
// entry (by its sequence number) is the live one for the key. Setting a key
// again replaces the live entry; cancelling forgets it. An entry that pops and
// is not the live one is stale and dropped, so the heap never needs a delete.
//
// Lookups are O(1) array reads for dense ids (scheduler slots: id < kDenseIds
// and kind < kDenseKinds); any other key goes to a hash map that is looked up
// but never iterated, so its order cannot reach an output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "core/timer.h"

namespace heck::sim {

class TimerTable {
 public:
  static constexpr std::uint64_t kDenseIds = std::uint64_t{1} << 22;
  static constexpr unsigned kDenseKinds = 16;

  // The heap entry `seq` is now the live one for `key` (replacing any other);
  // `due` is the node-local instant the node asked for.
  void arm(TimerKey key, std::uint64_t seq, Instant due);

  // Disarms `key`: its heap entries become stale. Unknown keys are fine.
  void cancel(TimerKey key);

  // The heap entry (key, seq) popped. When it is the live entry, disarms the
  // key and returns its due instant; nullopt when it is stale.
  std::optional<Instant> fire(TimerKey key, std::uint64_t seq);

  bool armed(TimerKey key) const;

  std::size_t armed_count() const { return armed_; }

 private:
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  struct Live {
    std::uint64_t seq = kNone;  // the live heap entry; kNone = disarmed
    Instant due;
  };

  // The slot for `key`, created disarmed when absent.
  Live& slot(TimerKey key);
  // The slot for `key`, or nullptr when it was never armed.
  const Live* find(TimerKey key) const;
  Live* find(TimerKey key) { return const_cast<Live*>(static_cast<const TimerTable*>(this)->find(key)); }

  std::vector<std::vector<Live>> dense_;  // [kind][id]
  std::unordered_map<TimerKey, Live> sparse_;
  std::size_t armed_ = 0;
};

}  // namespace heck::sim
