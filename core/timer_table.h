// One node's armed timers: the driver rules of core/timer.h, written once for
// every driver: the daemon (one real timer at next_deadline), the simulated
// world (one wake-up event per member at next_deadline, sim/cluster_world.h)
// and the test harnesses.
//
//   arm(key, at)   sets `key` to fire at `at`, replacing its earlier deadline
//   cancel(key)    disarms `key` (an unknown or already fired key is fine)
//   next_deadline  the earliest armed deadline, for the one real timer or the
//                  virtual clock a driver advances
//   pop_due(now)   takes the next due key (deadline <= now) and disarms it
//
// A key fires at most once per arming: a replaced or cancelled deadline never
// comes out (there are no stale firings to filter downstream). Due keys come
// out in (deadline, key) order: ties at the same deadline fire in TimerKey
// order (kind, then id), whatever order they were armed in, so the order
// depends only on the table's contents. Pop one key at a time and step the
// machine before the next pop: a timer the step arms due at `now` or earlier
// then fires in the same drain, in order.
//
// apply_timer_effect / apply_effects apply an Effects batch to a table in
// order (SetTimer -> arm, CancelTimer -> cancel), handing every other effect
// to the driver in the same order.
//
// Cost model (n = armed keys, h = heap entries, h <= 2n + kCompactSlack):
//   arm          O(log h)            one heap push; a replaced entry goes stale
//   cancel       O(1) amortised      the slot is cleared; stale heap tops are
//                                    dropped when they reach the top
//   next_deadline, deadline, armed, size   O(1)
//   pop_due      O(log h) amortised  one heap pop per live key, plus the stale
//                                    entries it drops (each paid by its arm)
//   compaction   O(h) when h > 2n + kCompactSlack; happens at most once per
//                n + kCompactSlack stale entries, so O(1) amortised per arm
// Key lookup: scheduler slots (TimerKind::check, id < kDenseIds) index a flat
// vector; every other key is found in a hash map that is looked up, never
// iterated (its order cannot reach an output). counters() counts the work
// (heap pushes, pops, stale drops, compactions) so tests can pin the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/effects.h"
#include "core/time.h"
#include "core/timer.h"

namespace heck {

struct TimerTableCounters {
  std::uint64_t arms = 0;           // arm() calls (replacements included)
  std::uint64_t replaced = 0;       // arm() of a key that was armed
  std::uint64_t cancels = 0;        // cancel() of a key that was armed
  std::uint64_t fired = 0;          // keys taken by pop_due()
  std::uint64_t heap_pushes = 0;
  std::uint64_t heap_pops = 0;      // live and stale entries popped
  std::uint64_t stale_dropped = 0;  // replaced/cancelled entries discarded (pop or compaction)
  std::uint64_t compactions = 0;
};

class TimerTable {
 public:
  static constexpr std::uint64_t kDenseIds = std::uint64_t{1} << 22;
  static constexpr std::size_t kCompactSlack = 64;

  // --- mutators -------------------------------------------------------------
  // Arms `key` at `at`, replacing its earlier deadline. `at` may be in the past
  // (the key is due at once).
  void arm(TimerKey key, Instant at);
  // Disarms `key`. Returns true when it was armed.
  bool cancel(TimerKey key);
  // Disarms every key.
  void clear();

  // --- outputs --------------------------------------------------------------
  // The earliest armed deadline, or nullopt when nothing is armed.
  std::optional<Instant> next_deadline() const;
  // The earliest due key (deadline <= now, ties in key order), disarmed; or
  // nullopt when no key is due.
  std::optional<TimerKey> pop_due(Instant now);

  // --- getters --------------------------------------------------------------
  bool armed(TimerKey key) const { return find(key) != nullptr; }
  std::optional<Instant> deadline(TimerKey key) const;
  std::size_t size() const { return armed_; }
  bool empty() const { return armed_ == 0; }
  // Armed keys of `kind`. O(h): for tests and metrics, not hot paths.
  std::size_t count(TimerKind kind) const;
  // Every armed key with its deadline, in key order. O(h log h): for tests
  // and debugging.
  std::vector<std::pair<TimerKey, Instant>> entries() const;
  // Heap entries, live and stale (tests pin h <= 2n + kCompactSlack).
  std::size_t heap_size() const { return heap_.size(); }
  const TimerTableCounters& counters() const { return counters_; }

 private:
  struct Slot {
    Instant at;
    std::uint64_t generation = 0;  // 0 = disarmed
  };
  struct Entry {
    Instant at;
    TimerKey key;
    std::uint64_t generation = 0;
  };

  const Slot* find(TimerKey key) const;
  Slot* find(TimerKey key) { return const_cast<Slot*>(static_cast<const TimerTable*>(this)->find(key)); }
  Slot& slot(TimerKey key);
  void disarm(Slot& s, TimerKey key);
  bool live(const Entry& e) const;
  void pop_top();
  // Drops stale entries from the top, so the top is live (or the heap empty).
  void settle();
  void maybe_compact();

  std::vector<Slot> dense_;                       // [id] of TimerKind::check keys
  std::unordered_map<TimerKey, Slot> sparse_;     // every other key; never iterated
  std::vector<Entry> heap_;                       // min-heap on (at, key)
  std::size_t armed_ = 0;
  std::uint64_t next_generation_ = 1;
  TimerTableCounters counters_;
};

// Applies a SetTimer or CancelTimer effect to `timers`; returns false (and
// does nothing) for any other effect.
bool apply_timer_effect(TimerTable& timers, const Effect& effect);

// Applies `effects` in order: the timer effects to `timers`, every other one
// to `other(Effect&)`, which may move from it.
template <class Other>
void apply_effects(TimerTable& timers, Effects& effects, Other&& other) {
  for (Effect& e : effects) {
    if (!apply_timer_effect(timers, e)) other(e);
  }
}

}  // namespace heck
