// Exact byte strings as hash-map keys: the decode pools (spec_pool.h,
// delta_pool.h) map the bytes a value was decoded from to the value.
// Lookups take the bytes as a view (no copy); only an insert stores them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <xxhash.h>

namespace heck {

inline std::string_view bytes_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

struct BytesHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view bytes) const {
    return static_cast<std::size_t>(XXH3_64bits(bytes.data(), bytes.size()));
  }
};

// Never iterated on the way to an output: the hash order reaches nothing.
template <typename V>
using BytesMap = std::unordered_map<std::string, V, BytesHash, std::equal_to<>>;

}  // namespace heck
