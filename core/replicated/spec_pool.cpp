#include "core/replicated/spec_pool.h"

#include <algorithm>

namespace heck {

std::shared_ptr<const TargetSpec> SpecPool::find(std::span<const std::uint8_t> encoded) {
  auto it = by_bytes_.find(bytes_text(encoded));
  if (it == by_bytes_.end()) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return it->second;
}

void SpecPool::insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec) {
  if (by_bytes_.size() >= purge_at_) purge();
  by_bytes_.insert_or_assign(std::string(bytes_text(encoded)), std::move(spec));
}

void SpecPool::purge() {
  const std::size_t before = by_bytes_.size();
  std::erase_if(by_bytes_, [](const auto& entry) { return entry.second.use_count() == 1; });
  counters_.purged += before - by_bytes_.size();
  purge_at_ = std::max(kPurgeMin, 2 * by_bytes_.size());
}

}  // namespace heck
