#include "core/membership/broadcast_queue.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

namespace heck {
namespace {

bool older(const auto& a, const auto& b) { return a.id < b.id; }

}  // namespace

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
  const auto slot = by_key_.find(key, [this](std::uint32_t s) { return std::string_view(items_[s].key); });
  return slot ? *slot : kNoSlot;
}

BroadcastQueue::Bucket& BroadcastQueue::bucket(Lane lane, std::size_t transmits) {
  auto& lane_buckets = buckets_[static_cast<std::size_t>(lane)];
  if (lane_buckets.size() <= transmits) lane_buckets.resize(transmits + 1);
  return lane_buckets[transmits];
}

void BroadcastQueue::release(std::uint32_t slot) {
  Item& item = items_[slot];
  if (!item.key.empty()) by_key_.erase(item.key, slot);
  auto size = sizes_.find(item.part.bytes.size());
  assert(size != sizes_.end());
  if (--size->second == 0) sizes_.erase(size);
  item = Item{};
  free_slots_.push_back(slot);
  --count_;
}

void BroadcastQueue::erase(std::uint32_t slot) {
  Bucket& b = bucket(items_[slot].lane, items_[slot].transmits);
  release(slot);  // its ref is stale from now on
  ++b.stale;
  tidy(b);
}

void BroadcastQueue::erase_oldest(Bucket& b) {
  assert(b.live() > 0);
  while (!is_live(b.refs[b.head])) {
    ++b.head;
    --b.stale;
  }
  const std::uint32_t slot = b.refs[b.head].slot;
  ++b.head;
  release(slot);
  tidy(b);
}

void BroadcastQueue::tidy(Bucket& b, bool now) {
  const std::size_t gone = b.head + b.stale;
  if (gone == 0 || (!now && gone * 2 <= b.refs.size())) return;
  ref_moves_ += b.refs.size() - b.head;
  auto out = b.refs.begin();
  for (auto r = b.refs.begin() + static_cast<std::ptrdiff_t>(b.head); r != b.refs.end(); ++r) {
    if (is_live(*r)) *out++ = *r;
  }
  b.refs.erase(out, b.refs.end());
  b.head = 0;
  b.stale = 0;
  shrink(b.refs);
}

void BroadcastQueue::push(std::string_view key_text, wire::EncodedPart part, Lane lane) {
  Name key = names_->intern(key_text);  // before the erase: a replaced key keeps its text
  if (const std::uint32_t old = find_key(key); old != kNoSlot) erase(old);
  if (count_ >= max_items_) {
    // Evict from the last non-empty lane its most-transmitted part; among
    // those the oldest.
    const auto non_empty = [](const Bucket& b) { return b.live() > 0; };
    for (auto l = buckets_.rbegin(); l != buckets_.rend(); ++l) {
      auto top = std::find_if(l->rbegin(), l->rend(), non_empty);
      if (top == l->rend()) continue;
      erase_oldest(*top);
      ++dropped_;
      break;
    }
  }
  std::uint32_t slot = static_cast<std::uint32_t>(items_.size());
  if (free_slots_.empty()) {
    items_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  const std::uint64_t id = next_id_++;
  if (!key.empty()) by_key_.insert(key, slot);
  ++sizes_[part.bytes.size()];
  items_[slot] = Item{std::move(key), std::move(part), id, 0, lane, false};
  bucket(lane, 0).refs.push_back(Ref{id, slot});
  ++count_;
}

std::size_t BroadcastQueue::fill(wire::PacketBuilder& b, std::size_t cluster_size) {
  if (count_ == 0) return 0;
  const std::size_t limit = transmit_limit(cluster_size);
  const std::size_t smallest = sizes_.begin()->first;
  // Per lane, ascending: the buckets packed parts leave, each with the
  // index of the oldest part looked at (the packed parts are behind it).
  std::array<std::vector<Visited>, kLanes> left;
  std::size_t packed = 0;
  std::size_t misfits = 0;
  const auto full = [&] { return b.remaining() < smallest || misfits >= kMaxMisfits; };
  for (std::size_t lane = 0; lane < kLanes && !full(); ++lane) {
    for (std::size_t t = 0; t < buckets_[lane].size(); ++t) {
      const Bucket& from = buckets_[lane][t];
      bool any = false;
      std::size_t i = from.refs.size();
      while (i > from.head && !full()) {  // newest first
        --i;
        if (!is_live(from.refs[i])) continue;
        ++work_;
        Item& item = items_[from.refs[i].slot];
        if (b.try_add(item.part)) {
          item.packed = true;
          any = true;
          ++packed;
          misfits = 0;
        } else {
          ++misfits;
        }
      }
      if (any) left[lane].push_back(Visited{t, i});
      if (full()) break;
    }
  }
  for (std::size_t lane = 0; lane < kLanes; ++lane) move_up_packed(static_cast<Lane>(lane), left[lane], limit);
  if (items_.size() > kCompactFrom && count_ * 4 < items_.size()) compact();
  return packed;
}

void BroadcastQueue::move_up_packed(Lane lane, const std::vector<Visited>& left, std::size_t limit) {
  // Highest bucket first, so a part moved up is not moved again (and a
  // bucket is still as fill() left it when its turn comes).
  for (auto v = left.rbegin(); v != left.rend(); ++v) {
    Bucket& b = bucket(lane, v->bucket);
    std::vector<Ref> up;
    const auto first = b.refs.begin() + static_cast<std::ptrdiff_t>(v->first);
    const auto kept = std::remove_if(first, b.refs.end(), [&](const Ref& r) {
      if (!is_live(r)) {  // passed over by fill(): dropped here
        --b.stale;
        return true;
      }
      Item& item = items_[r.slot];
      if (!item.packed) return false;
      item.packed = false;
      if (item.transmits + 1 >= limit) {
        release(r.slot);  // sent often enough
      } else {
        ++item.transmits;
        up.push_back(r);
      }
      return true;
    });
    b.refs.erase(kept, b.refs.end());
    tidy(b);
    shrink(b.refs);
    if (up.empty()) continue;
    // Both runs are oldest first (stale refs of `to` keep their places):
    // only the refs of `to` newer than the oldest moved part take part in
    // the merge, never the taken front (a moved part may be older than a
    // part evicted from there).
    Bucket& into = bucket(lane, v->bucket + 1);
    std::vector<Ref>& to = into.refs;
    const auto mid = static_cast<std::ptrdiff_t>(to.size());
    const auto from =
        std::upper_bound(to.begin() + static_cast<std::ptrdiff_t>(into.head), to.end(), up.front(), older<Ref, Ref>) -
        to.begin();
    to.insert(to.end(), up.begin(), up.end());
    std::inplace_merge(to.begin() + from, to.begin() + mid, to.end(), older<Ref, Ref>);
  }
}

void BroadcastQueue::shrink(std::vector<Ref>& b) {
  if (b.capacity() > kCompactFrom && b.size() * 4 < b.capacity()) b.shrink_to_fit();
}

void BroadcastQueue::compact() {
  for (auto& lane : buckets_) {
    for (Bucket& b : lane) tidy(b, true);  // every ref left is live: its slot moves with it
  }
  std::vector<std::uint32_t> moved_to(items_.size(), kNoSlot);
  std::vector<Item> dense;
  dense.reserve(count_);
  for (std::uint32_t slot = 0; slot < items_.size(); ++slot) {
    if (items_[slot].id == 0) continue;  // free
    moved_to[slot] = static_cast<std::uint32_t>(dense.size());
    dense.push_back(std::move(items_[slot]));
  }
  items_ = std::move(dense);
  free_slots_ = {};
  by_key_.clear();
  for (std::uint32_t slot = 0; slot < items_.size(); ++slot) {
    if (!items_[slot].key.empty()) by_key_.insert(items_[slot].key, slot);
  }
  for (auto& lane : buckets_) {
    for (Bucket& b : lane) {
      for (Ref& r : b.refs) r.slot = moved_to[r.slot];
    }
  }
}

void BroadcastQueue::clear() {
  items_.clear();
  free_slots_.clear();
  by_key_.clear();
  for (auto& lane : buckets_) lane.clear();
  sizes_.clear();
  count_ = 0;
}

}  // namespace heck
