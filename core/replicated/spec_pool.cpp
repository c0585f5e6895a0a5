#include "core/replicated/spec_pool.h"

#include <algorithm>

namespace heck {

std::shared_ptr<const TargetSpec> SpecPool::find(std::span<const std::uint8_t> encoded) {
  const auto* e = by_bytes_.find(bytes_text(encoded));
  if (!e) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return e->second;
}

void SpecPool::insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec) {
  if (by_bytes_.size() >= purge_at_) purge();
  if (auto* e = by_bytes_.find(bytes_text(encoded))) {
    e->second = std::move(spec);
  } else {
    by_bytes_.insert(std::string(bytes_text(encoded)), std::move(spec));
  }
}

void SpecPool::purge() {
  counters_.purged += by_bytes_.erase_if([](const auto& entry) { return entry.second.use_count() == 1; });
  purge_at_ = std::max(kPurgeMin, 2 * by_bytes_.size());
}

}  // namespace heck
