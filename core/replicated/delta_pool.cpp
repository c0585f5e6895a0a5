#include "core/replicated/delta_pool.h"

#include <xxhash.h>

namespace heck {

namespace {

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::size_t DeltaPool::Hash::operator()(std::string_view bytes) const {
  return static_cast<std::size_t>(XXH3_64bits(bytes.data(), bytes.size()));
}

std::shared_ptr<const HealthDelta> DeltaPool::find(std::span<const std::uint8_t> body, const CodecLimits& limits) {
  auto it = by_bytes_.find(as_text(body));
  if (it == by_bytes_.end() || !(it->second.limits == limits)) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return it->second.delta;
}

void DeltaPool::insert(std::span<const std::uint8_t> body, const CodecLimits& limits,
                       std::shared_ptr<const HealthDelta> delta) {
  auto [it, fresh] = by_bytes_.insert_or_assign(std::string(as_text(body)), Entry{limits, std::move(delta)});
  if (!fresh) return;
  order_.push_back(it->first);
  while (by_bytes_.size() > capacity_) {
    by_bytes_.erase(by_bytes_.find(order_.front()));
    order_.pop_front();
    ++counters_.evicted;
  }
}

}  // namespace heck
