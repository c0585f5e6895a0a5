// Decoded target specs, shared by the exact bytes they were decoded from.
//
// Every agent receives each registry entry many times (eager push, the
// piggybacked copies, repairs), and in the simulator a hundred agents each
// decode the same specs. A decoder that finds the bytes of a spec value
// here reuses the TargetSpec decoded from them before instead of parsing it
// again and holding another copy: one parse and one object per distinct
// spec, however many agents and entries refer to it.
//
// Only successfully decoded specs are kept, and a spec depends on nothing
// but its bytes (TargetSpec::from_json), so a hit yields exactly what a
// fresh decode would: sharing a pool between agents (the simulator does)
// changes no agent's behaviour. The caller still checks the spec against
// its context (its id against the registry key).
//
// Cost: a lookup hashes the bytes (a spec is ~100-300 B) and compares them
// once on a hit. Entries no longer referred to outside the pool are purged
// when the pool has doubled since the last purge: O(1) amortised per insert.
// Memory: one copy of the bytes and of the spec per distinct live spec.
//
// The observers' names in decoded observations are interned in the pool's
// name table (names()) for the same reason: one copy per observer, not per
// observation.
//
// Not thread-safe: one driver thread uses it (the simulator's event loop,
// or one agent).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/name_table.h"
#include "core/replicated/bytes_key.h"
#include "core/target_spec.h"

namespace heck {

struct SpecPoolCounters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t purged = 0;  // entries dropped: nobody else held the spec
};

class SpecPool {
 public:
  // The spec decoded earlier from exactly `encoded`, or null.
  std::shared_ptr<const TargetSpec> find(std::span<const std::uint8_t> encoded);
  // Remembers `spec` as what `encoded` decodes to.
  void insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec);

  std::size_t size() const { return by_bytes_.size(); }
  NameTable& names() { return names_; }
  const SpecPoolCounters& counters() const { return counters_; }

 private:
  void purge();

  BytesMap<std::shared_ptr<const TargetSpec>> by_bytes_;
  NameTable names_;
  std::size_t purge_at_ = kPurgeMin;
  SpecPoolCounters counters_;
  static constexpr std::size_t kPurgeMin = 1024;
};

}  // namespace heck
