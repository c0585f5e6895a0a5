#include "core/timer_table.h"

#include <algorithm>
#include <tuple>

namespace heck {

namespace {

bool dense_key(TimerKey key) { return key.kind == TimerKind::check && key.id < TimerTable::kDenseIds; }

}  // namespace

// A min-heap through std::push_heap/pop_heap, which build max-heaps: "a comes
// later than b" is the comparison.
struct TimerTableLater {
  template <class E>
  bool operator()(const E& a, const E& b) const {
    return std::tie(a.at, a.key) > std::tie(b.at, b.key);
  }
};

const TimerTable::Slot* TimerTable::find(TimerKey key) const {
  const Slot* s = nullptr;
  if (dense_key(key)) {
    if (key.id < dense_.size()) s = &dense_[key.id];
  } else if (auto it = sparse_.find(key); it != sparse_.end()) {
    s = &it->second;
  }
  return s != nullptr && s->generation != 0 ? s : nullptr;
}

TimerTable::Slot& TimerTable::slot(TimerKey key) {
  if (!dense_key(key)) return sparse_[key];
  if (dense_.size() <= key.id) dense_.resize(key.id + 1);
  return dense_[key.id];
}

bool TimerTable::live(const Entry& e) const {
  const Slot* s = find(e.key);
  return s != nullptr && s->generation == e.generation;
}

void TimerTable::pop_top() {
  std::pop_heap(heap_.begin(), heap_.end(), TimerTableLater{});
  heap_.pop_back();
  ++counters_.heap_pops;
}

void TimerTable::settle() {
  while (!heap_.empty() && !live(heap_.front())) {
    pop_top();
    ++counters_.stale_dropped;
  }
}

void TimerTable::maybe_compact() {
  if (heap_.size() <= 2 * armed_ + kCompactSlack) return;
  const std::size_t before = heap_.size();
  std::erase_if(heap_, [&](const Entry& e) { return !live(e); });
  std::make_heap(heap_.begin(), heap_.end(), TimerTableLater{});
  counters_.stale_dropped += before - heap_.size();
  ++counters_.compactions;
}

void TimerTable::disarm(Slot& s, TimerKey key) {
  s.generation = 0;
  --armed_;
  if (!dense_key(key)) sparse_.erase(key);
}

void TimerTable::arm(TimerKey key, Instant at) {
  Slot& s = slot(key);
  ++counters_.arms;
  if (s.generation != 0) {
    ++counters_.replaced;
  } else {
    ++armed_;
  }
  s.generation = next_generation_++;
  s.at = at;
  heap_.push_back(Entry{at, key, s.generation});
  std::push_heap(heap_.begin(), heap_.end(), TimerTableLater{});
  ++counters_.heap_pushes;
  settle();  // the replaced entry may have been the top
  maybe_compact();
}

bool TimerTable::cancel(TimerKey key) {
  Slot* s = find(key);
  if (s == nullptr) return false;
  ++counters_.cancels;
  disarm(*s, key);
  settle();
  maybe_compact();
  return true;
}

void TimerTable::clear() {
  counters_.stale_dropped += heap_.size() - armed_;
  dense_.clear();
  sparse_.clear();
  heap_.clear();
  armed_ = 0;
}

std::optional<Instant> TimerTable::next_deadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().at;  // settle() keeps the top live
}

std::optional<TimerKey> TimerTable::pop_due(Instant now) {
  if (heap_.empty() || heap_.front().at > now) return std::nullopt;
  const TimerKey key = heap_.front().key;
  pop_top();
  disarm(*find(key), key);
  ++counters_.fired;
  settle();
  return key;
}

std::optional<Instant> TimerTable::deadline(TimerKey key) const {
  const Slot* s = find(key);
  if (s == nullptr) return std::nullopt;
  return s->at;
}

std::size_t TimerTable::count(TimerKind kind) const {
  std::size_t n = 0;
  for (const Entry& e : heap_) n += e.key.kind == kind && live(e);
  return n;
}

std::vector<std::pair<TimerKey, Instant>> TimerTable::entries() const {
  std::vector<std::pair<TimerKey, Instant>> out;
  out.reserve(armed_);
  for (const Entry& e : heap_) {
    if (live(e)) out.emplace_back(e.key, e.at);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool apply_timer_effect(TimerTable& timers, const Effect& effect) {
  if (const auto* s = std::get_if<SetTimer>(&effect)) {
    timers.arm(s->key, s->at);
    return true;
  }
  if (const auto* c = std::get_if<CancelTimer>(&effect)) {
    timers.cancel(c->key);
    return true;
  }
  return false;
}

}  // namespace heck
