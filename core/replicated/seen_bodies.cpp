#include "core/replicated/seen_bodies.h"

#include <xxhash.h>

namespace heck {

SeenBodies::Hash SeenBodies::hash(std::span<const std::uint8_t> body) {
  const XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
  return Hash{h.low64, h.high64};
}

bool SeenBodies::contains(const Hash& h) const {
  return lookup_.find(h.low, h, [&](std::uint32_t slot) -> const Hash& { return ring_[slot]; }) != KeyLookup::kNone;
}

void SeenBodies::insert(const Hash& h) {
  if (capacity_ == 0 || contains(h)) return;
  std::uint32_t slot;
  if (ring_.size() < capacity_) {
    slot = static_cast<std::uint32_t>(ring_.size());
    ring_.push_back(h);
  } else {
    slot = static_cast<std::uint32_t>(next_);
    lookup_.erase(ring_[slot].low, slot);
    ring_[slot] = h;
    next_ = (next_ + 1) % capacity_;
  }
  lookup_.insert(h.low, slot, [&](std::uint32_t s) { return ring_[s].low; });
}

}  // namespace heck
