#include "core/wire/envelope_cache.h"

#include <algorithm>
#include <bit>

#include "core/slot_map.h"

namespace heck::wire {
namespace {

bool same_limits(const DecodeLimits& a, const DecodeLimits& b) {
  return a.max_bytes == b.max_bytes && a.max_depth == b.max_depth;
}

}  // namespace

EnvelopeCache::EnvelopeCache(std::size_t slots, std::size_t max_bytes)
    : slots_(std::bit_ceil(std::max<std::size_t>(slots, 1))), max_bytes_(max_bytes) {}

const Result<Envelope>& EnvelopeCache::decode(const SharedBytes& bytes, const DecodeLimits& limits) {
  if (bytes.size() > max_bytes_) {  // a stream frame (a repair): sent to one peer
    ++counters_.uncached;
    uncached_ = decode_view(bytes.span(), limits);
    return uncached_;
  }
  // Only the slot's choice depends on the address, never a result.
  const auto address = reinterpret_cast<std::uintptr_t>(bytes.data());
  Entry& e = slots_[KeyLookup::hash_of(address) & (slots_.size() - 1)];
  if (!bytes.empty() && e.bytes.data() == bytes.data() && same_limits(e.limits, limits)) {
    ++counters_.hits;
    return e.envelope;
  }
  ++counters_.misses;
  Result<Envelope> env = decode_view(bytes.span(), limits);
  if (!env) {
    uncached_ = std::move(env);
    return uncached_;
  }
  e.envelope = std::move(env);  // views `bytes`, which the entry holds from here
  e.bytes = bytes;
  e.limits = limits;
  return e.envelope;
}

}  // namespace heck::wire
