#include "core/replicated/spec_pool.h"

#include <algorithm>

#include <xxhash.h>

namespace heck {

namespace {

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::size_t SpecPool::Hash::operator()(std::string_view bytes) const {
  return static_cast<std::size_t>(XXH3_64bits(bytes.data(), bytes.size()));
}

std::shared_ptr<const TargetSpec> SpecPool::find(std::span<const std::uint8_t> encoded) {
  auto it = by_bytes_.find(as_text(encoded));
  if (it == by_bytes_.end()) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return it->second;
}

void SpecPool::insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec) {
  if (by_bytes_.size() >= purge_at_) purge();
  by_bytes_.insert_or_assign(std::string(as_text(encoded)), std::move(spec));
}

void SpecPool::purge() {
  const std::size_t before = by_bytes_.size();
  std::erase_if(by_bytes_, [](const auto& entry) { return entry.second.use_count() == 1; });
  counters_.purged += before - by_bytes_.size();
  purge_at_ = std::max(kPurgeMin, 2 * by_bytes_.size());
}

}  // namespace heck
