// Exact byte strings as hash-map keys: the delta pool (delta_pool.h) maps
// the bytes a delta was decoded from to the delta. (The spec pool keys by a hash of the bytes only and
// confirms a hit by encoding again: spec_pool.h.)
// Lookups take the bytes as a view (no copy); only an insert stores them.
// The map is a SlotMap (core/slot_map.h) hashed with XXH3: one or two cache
// lines a lookup. A std::unordered_map's bucket-chain walk over cold nodes
// was 7-8% of the main row's registration burst (the delta pool) and 16% of
// its steady state (the latency rings, keyed by text since: they are looked
// up by the Names of specs), perf of cluster_bench --rows main.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <xxhash.h>

#include "core/slot_map.h"

namespace heck {

inline std::string_view bytes_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

struct BytesHash {
  std::uint64_t operator()(std::string_view bytes) const {
    return static_cast<std::uint64_t>(XXH3_64bits(bytes.data(), bytes.size()));
  }
};

// Never iterated on the way to an output: slot order reaches nothing.
template <typename V>
using BytesMap = SlotMap<std::string, V, BytesHash>;

}  // namespace heck
