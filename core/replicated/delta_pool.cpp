#include "core/replicated/delta_pool.h"

namespace heck {

const HealthDelta* DeltaPool::find(std::span<const std::uint8_t> body, const CodecLimits& limits) {
  const auto* e = by_bytes_.find(bytes_text(body));
  if (!e || !(e->second.limits == limits)) {
    ++counters_.misses;
    return nullptr;
  }
  ++counters_.hits;
  return e->second.delta.get();
}

std::optional<DeltaPool::Shared> DeltaPool::share(std::span<const std::uint8_t> body, const CodecLimits& limits) {
  auto* e = by_bytes_.find(bytes_text(body));
  if (!e || !(e->second.limits == limits)) return std::nullopt;
  Entry& entry = e->second;
  if (!entry.part) entry.part = wire::encode_part(wire::PartType::delta, body);
  return Shared{entry.delta, *entry.part};
}

void DeltaPool::insert(std::span<const std::uint8_t> body, const CodecLimits& limits,
                       std::shared_ptr<const HealthDelta> delta) {
  if (auto* e = by_bytes_.find(bytes_text(body))) {
    e->second = Entry{limits, std::move(delta)};
    return;
  }
  order_.push_back(by_bytes_.insert(std::string(bytes_text(body)), Entry{limits, std::move(delta)})->first);
  while (by_bytes_.size() > capacity_) {
    by_bytes_.erase(order_.front());
    order_.pop_front();
    ++counters_.evicted;
  }
}

}  // namespace heck
