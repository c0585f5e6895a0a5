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
// A spec is found by a 64-bit hash of its bytes (XXH3), and a hit is
// confirmed by writing the pooled spec again (TargetSpec::write_msgpack)
// and comparing: the bytes themselves are not kept. A hit is therefore
// exact, not probabilistic: the bytes equal the canonical encoding of a
// spec that decoding gave, and that encoding decodes back to the same spec
// (TargetSpec.WriteMsgpackIsTheJsonFormsBytes). Bytes that are not the
// canonical form of their spec (another encoder's key order or integer
// widths) never hit and are decoded each time; bytes whose hash collides
// with a pooled spec's are a miss, and their spec replaces it in the pool.
//
// Cost: a lookup hashes the bytes (a spec is ~100-300 B) and, on a hit,
// writes the spec (~10 fields) into a scratch buffer and compares.
// Entries no longer referred to outside the pool are purged when the pool
// has doubled since the last purge: O(1) amortised per insert.
// Memory: one spec and one 24-byte entry (hash, pointer) plus its index
// slot per distinct live spec. Keeping the bytes as the key cost ~200 B per
// target in an agent, most of what the pool held.
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
#include "core/net.h"
#include "core/slot_map.h"
#include "core/target_spec.h"

namespace heck {

struct SpecPoolCounters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t purged = 0;  // entries dropped: nobody else held the spec
  std::uint64_t collisions = 0;  // hash found, bytes not the pooled spec's (counted as misses too)
};

class SpecPool {
 public:
  // The spec decoded earlier from exactly `encoded`, or null.
  std::shared_ptr<const TargetSpec> find(std::span<const std::uint8_t> encoded);
  // Remembers `spec` as what `encoded` decodes to.
  void insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec);

  std::size_t size() const { return by_hash_.size(); }
  NameTable& names() { return names_; }
  const SpecPoolCounters& counters() const { return counters_; }

 private:
  void purge();

  SlotMap<std::uint64_t, std::shared_ptr<const TargetSpec>> by_hash_;  // XXH3 of the bytes
  Bytes scratch_;  // a pooled spec written again, to compare
  NameTable names_;
  std::size_t purge_at_ = kPurgeMin;
  SpecPoolCounters counters_;
  static constexpr std::size_t kPurgeMin = 1024;
};

}  // namespace heck
