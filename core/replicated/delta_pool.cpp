#include "core/replicated/delta_pool.h"

namespace heck {

const HealthDelta* DeltaPool::find(std::span<const std::uint8_t> body, const CodecLimits& limits) {
  auto it = by_bytes_.find(bytes_text(body));
  if (it == by_bytes_.end() || !(it->second.limits == limits)) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return it->second.delta.get();
}

void DeltaPool::insert(std::span<const std::uint8_t> body, const CodecLimits& limits,
                       std::shared_ptr<const HealthDelta> delta) {
  auto [it, fresh] = by_bytes_.insert_or_assign(std::string(bytes_text(body)), Entry{limits, std::move(delta)});
  if (!fresh) return;
  order_.push_back(it->first);
  while (by_bytes_.size() > capacity_) {
    by_bytes_.erase(by_bytes_.find(order_.front()));
    order_.pop_front();
    ++counters_.evicted;
  }
}

}  // namespace heck
