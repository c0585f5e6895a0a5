#include "core/membership/broadcast_queue.h"

#include <cassert>
#include <cmath>
#include <vector>

namespace heck {

BroadcastQueue::BroadcastQueue(std::size_t retransmit_mult, std::size_t max_items)
    : retransmit_mult_(retransmit_mult), max_items_(max_items) {
  assert(max_items_ > 0);
}

std::size_t BroadcastQueue::transmit_limit(std::size_t cluster_size) const {
  const double scale = std::ceil(std::log10(static_cast<double>(cluster_size) + 1.0));
  const std::size_t limit = retransmit_mult_ * static_cast<std::size_t>(scale);
  return limit < 1 ? 1 : limit;
}

void BroadcastQueue::erase(std::uint64_t id) {
  auto it = items_.find(id);
  assert(it != items_.end());
  order_.erase(Order{it->second.transmits, ~id});
  if (!it->second.key.empty()) by_key_.erase(it->second.key);
  sizes_.erase(sizes_.find(it->second.part.bytes.size()));
  items_.erase(it);
}

void BroadcastQueue::push(std::string key, wire::EncodedPart part) {
  if (!key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) erase(it->second);
  }
  if (items_.size() >= max_items_) {
    // Evict the most-transmitted part; among those the oldest (largest ~id).
    auto victim = std::prev(order_.end());
    erase(~std::get<1>(*victim));
    ++dropped_;
  }
  const std::uint64_t id = next_id_++;
  if (!key.empty()) by_key_.emplace(key, id);
  sizes_.insert(part.bytes.size());
  items_.emplace(id, Item{std::move(key), std::move(part), 0});
  order_.insert(Order{0, ~id});
}

std::size_t BroadcastQueue::fill(wire::PacketBuilder& b, std::size_t cluster_size) {
  if (items_.empty()) return 0;
  const std::size_t limit = transmit_limit(cluster_size);
  const std::size_t smallest = *sizes_.begin();
  std::vector<std::uint64_t> packed;
  std::size_t misfits = 0;
  for (const Order& o : order_) {
    if (b.remaining() < smallest || misfits >= kMaxMisfits) break;
    const std::uint64_t id = ~std::get<1>(o);
    if (b.try_add(items_.at(id).part)) {
      packed.push_back(id);
      misfits = 0;
    } else {
      ++misfits;
    }
  }
  for (std::uint64_t id : packed) {
    Item& item = items_.at(id);
    if (item.transmits + 1 >= limit) {
      erase(id);  // sent often enough
      continue;
    }
    order_.erase(Order{item.transmits, ~id});
    ++item.transmits;
    order_.insert(Order{item.transmits, ~id});
  }
  return packed.size();
}

void BroadcastQueue::clear() {
  items_.clear();
  by_key_.clear();
  order_.clear();
  sizes_.clear();
}

}  // namespace heck
