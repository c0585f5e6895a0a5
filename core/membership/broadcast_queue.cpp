#include "core/membership/broadcast_queue.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <utility>

namespace heck {

BroadcastQueue::BroadcastQueue(std::size_t retransmit_mult, std::size_t max_items, std::shared_ptr<NameTable> names)
    : names_(own_names(std::move(names))), retransmit_mult_(retransmit_mult), max_items_(max_items) {
  assert(max_items_ > 0);
}

std::size_t BroadcastQueue::transmit_limit(std::size_t cluster_size) const {
  const double scale = std::ceil(std::log10(static_cast<double>(cluster_size) + 1.0));
  const std::size_t limit = retransmit_mult_ * static_cast<std::size_t>(scale);
  return limit < 1 ? 1 : limit;
}

std::uint32_t BroadcastQueue::find_key(std::string_view key) const {
  if (key.empty()) return kNoSlot;
  const auto pos = by_key_.find(key, [this](std::uint32_t p) { return std::string_view(items_[p].key); });
  return pos ? *pos : kNoSlot;
}

BroadcastQueue::Bucket& BroadcastQueue::bucket(Lane lane, std::size_t transmits) {
  auto& lane_buckets = buckets_[static_cast<std::size_t>(lane)];
  if (lane_buckets.size() <= transmits) lane_buckets.resize(transmits + 1);
  return lane_buckets[transmits];
}

void BroadcastQueue::set(Bucket& b, std::uint32_t pos) {
  const std::size_t w = pos / 64;
  if (b.bits.size() <= w) b.bits.resize(w + 1, 0);
  b.bits[w] |= std::uint64_t{1} << (pos % 64);
  b.low = b.count == 0 ? w : std::min(b.low, w);
  ++b.count;
}

void BroadcastQueue::unset(Bucket& b, std::uint32_t pos) {
  b.bits[pos / 64] &= ~(std::uint64_t{1} << (pos % 64));
  --b.count;
  while (!b.bits.empty() && b.bits.back() == 0) b.bits.pop_back();  // scans start at the highest part
}

std::uint32_t BroadcastQueue::lowest(Bucket& b) {
  assert(b.count > 0);
  while (b.bits[b.low] == 0) ++b.low;
  return static_cast<std::uint32_t>(b.low * 64 + static_cast<std::size_t>(std::countr_zero(b.bits[b.low])));
}

void BroadcastQueue::release(std::uint32_t pos) {
  Item& item = items_[pos];
  if (!item.key.empty()) by_key_.erase(item.key, pos);
  auto size = sizes_.find(item.part.bytes.size());
  assert(size != sizes_.end());
  if (--size->second == 0) sizes_.erase(size);
  item = Item{};
  ++holes_;
  --count_;
}

void BroadcastQueue::erase(std::uint32_t pos) {
  unset(bucket(items_[pos].lane, items_[pos].transmits), pos);
  release(pos);
}

void BroadcastQueue::push(std::string_view key_text, wire::EncodedPart part, Lane lane,
                          std::uint32_t max_transmits) {
  Name key = names_->intern(key_text);  // before the erase: a replaced key keeps its text
  if (const std::uint32_t old = find_key(key); old != kNoSlot) erase(old);
  if (count_ >= max_items_) {
    // Evict from the last non-empty lane its most-transmitted part; among
    // those the oldest.
    const auto non_empty = [](const Bucket& b) { return b.count > 0; };
    for (auto l = buckets_.rbegin(); l != buckets_.rend(); ++l) {
      auto top = std::find_if(l->rbegin(), l->rend(), non_empty);
      if (top == l->rend()) continue;
      erase(lowest(*top));
      ++dropped_;
      break;
    }
  }
  maybe_compact();
  const auto pos = static_cast<std::uint32_t>(items_.size());
  if (!key.empty()) by_key_.insert(key, pos);
  ++sizes_[part.bytes.size()];
  items_.push_back(Item{std::move(key), std::move(part), 0, max_transmits, lane, true});
  set(bucket(lane, 0), pos);
  ++count_;
}

std::size_t BroadcastQueue::fill(wire::PacketBuilder& b, std::size_t cluster_size) {
  if (count_ == 0) return 0;
  const std::size_t limit = transmit_limit(cluster_size);
  const std::size_t smallest = sizes_.begin()->first;
  std::vector<std::uint32_t> packed;
  std::size_t misfits = 0;
  const auto full = [&] { return b.remaining() < smallest || misfits >= kMaxMisfits; };
  for (std::size_t lane = 0; lane < kLanes && !full(); ++lane) {
    for (const Bucket& from : buckets_[lane]) {
      // Newest first: the highest position first.
      for (std::size_t w = from.bits.size(); w-- > 0 && !full();) {
        for (std::uint64_t x = from.bits[w]; x != 0 && !full();) {
          const int bit = 63 - std::countl_zero(x);
          x &= ~(std::uint64_t{1} << bit);
          const auto pos = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(bit));
          ++work_;
          if (b.try_add(items_[pos].part)) {
            packed.push_back(pos);
            misfits = 0;
          } else {
            ++misfits;
          }
        }
      }
      if (full()) break;
    }
  }
  // Moved after the scan, so a part moved up is not looked at again.
  for (const std::uint32_t pos : packed) {
    Item& item = items_[pos];
    unset(bucket(item.lane, item.transmits), pos);
    if (item.transmits + 1 >= limit || item.transmits + 1 == item.max_transmits) {
      release(pos);  // sent often enough
    } else {
      ++item.transmits;
      set(bucket(item.lane, item.transmits), pos);
    }
  }
  maybe_compact();
  return packed.size();
}

void BroadcastQueue::maybe_compact() {
  if (count_ == 0) {  // drained: every bucket is empty, the key index too
    if (items_.capacity() > 4 * kCompactFrom) {
      items_ = {};  // memory follows what is queued
    } else {
      items_.clear();
    }
    holes_ = 0;
    return;
  }
  if (items_.size() > kCompactFrom && holes_ * 2 > items_.size()) compact();
}

void BroadcastQueue::compact() {
  std::vector<Item> dense;
  dense.reserve(count_);
  for (Item& item : items_) {
    if (item.live) dense.push_back(std::move(item));
  }
  moves_ += dense.size();
  items_ = std::move(dense);
  holes_ = 0;
  by_key_.clear();
  for (auto& lane : buckets_) {
    for (Bucket& b : lane) b = Bucket{};  // memory follows what is queued
  }
  for (std::uint32_t pos = 0; pos < items_.size(); ++pos) {
    const Item& item = items_[pos];
    if (!item.key.empty()) by_key_.insert(item.key, pos);
    set(bucket(item.lane, item.transmits), pos);
  }
}

void BroadcastQueue::clear() {
  items_.clear();
  holes_ = 0;
  by_key_.clear();
  for (auto& lane : buckets_) lane.clear();
  sizes_.clear();
  count_ = 0;
}

}  // namespace heck
