#include "sim/timer_table.h"

namespace heck::sim {

namespace {

bool dense_key(TimerKey key) {
  return static_cast<unsigned>(key.kind) < TimerTable::kDenseKinds && key.id < TimerTable::kDenseIds;
}

}  // namespace

TimerTable::Live& TimerTable::slot(TimerKey key) {
  if (!dense_key(key)) return sparse_[key];
  const auto kind = static_cast<unsigned>(key.kind);
  if (dense_.size() <= kind) dense_.resize(kind + 1);
  auto& ids = dense_[kind];
  if (ids.size() <= key.id) ids.resize(key.id + 1);
  return ids[key.id];
}

const TimerTable::Live* TimerTable::find(TimerKey key) const {
  if (!dense_key(key)) {
    auto it = sparse_.find(key);
    return it == sparse_.end() ? nullptr : &it->second;
  }
  const auto kind = static_cast<unsigned>(key.kind);
  if (dense_.size() <= kind || dense_[kind].size() <= key.id) return nullptr;
  return &dense_[kind][key.id];
}

void TimerTable::arm(TimerKey key, std::uint64_t seq, Instant due) {
  Live& live = slot(key);
  if (live.seq == kNone) ++armed_;
  live.seq = seq;
  live.due = due;
}

void TimerTable::cancel(TimerKey key) {
  Live* live = find(key);
  if (live == nullptr || live->seq == kNone) return;
  live->seq = kNone;
  --armed_;
}

std::optional<Instant> TimerTable::fire(TimerKey key, std::uint64_t seq) {
  Live* live = find(key);
  if (live == nullptr || live->seq != seq) return std::nullopt;
  live->seq = kNone;
  --armed_;
  return live->due;
}

bool TimerTable::armed(TimerKey key) const {
  const Live* live = find(key);
  return live != nullptr && live->seq != kNone;
}

}  // namespace heck::sim
