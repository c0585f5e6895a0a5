// The simulator's event queue: a 4-ary min-heap of small POD events over one
// std::vector, ordered by (true time, sequence number).
//
// Contract
// - push() stamps every event with the next sequence number, so events due at
//   the same instant pop in the order they were pushed (FIFO). Together with a
//   seeded world this makes a run a pure function of its seed.
// - An event is a 32-byte POD: no std::function, no allocation per event.
//   Kind-specific data lives in `a`, `c16` and `c8`; larger payloads (a pending
//   check, later a packet) live in a slab owned by the world and the event
//   carries the slab index. The sequence number doubles as the identity of a
//   heap entry (timers use it to tell a live entry from a superseded one).
// - The queue holds at most `capacity_limit()` events; push() refuses more
//   (returns false) so a runaway scenario stops with a message, not an OOM.
//
// Why this shape: 4-ary halves the depth of a binary heap and a node's four
// children share one or two cache lines; the smallest child is picked by a
// branch-free tournament on a 128-bit (time, seq) key, which avoids the branch
// mispredictions that dominate a heap of random keys; pop moves the hole to
// the bottom first and then sifts the last element up (Floyd), since that
// element usually belongs near the bottom. Measured by tools/bench/sim_bench.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/time.h"

namespace heck::sim {

enum class EventKind : std::uint8_t {
  none = 0,
  node_start,    // node: start the node (it adds its configured targets)
  timer,         // node; a = TimerKey.id, c16 = TimerKind
  check_done,    // node; a = index of the pending check in the world's slab
  target_phase,  // a = target index: the target's behaviour changes now
  bench,         // free for benchmarks and tests
  packet,        // cluster: node = destination member; a = the network's message index
  fault,         // cluster: c8 = the world's action; node, a = its arguments
};

struct Event {
  Instant at;              // true (simulated) time
  std::uint64_t seq = 0;   // set by EventQueue::push
  std::uint64_t a = 0;
  std::uint32_t node = 0;
  EventKind kind = EventKind::none;
  std::uint8_t c8 = 0;
  std::uint16_t c16 = 0;
};
static_assert(sizeof(Event) == 32, "keep events small: the heap moves them");

class EventQueue {
 public:
  static constexpr std::size_t kDefaultCapacityLimit = std::size_t{1} << 26;  // 64 M events, 2 GB

  explicit EventQueue(std::size_t capacity_limit = kDefaultCapacityLimit) : limit_(capacity_limit) {}

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  std::size_t capacity_limit() const { return limit_; }
  // The sequence number the next push will stamp (= events pushed so far).
  std::uint64_t next_seq() const { return next_seq_; }
  void reserve(std::size_t n) { heap_.reserve(n < limit_ ? n : limit_); }

  // The next event. REQUIRES: !empty().
  const Event& top() const {
    assert(!heap_.empty());
    return heap_.front();
  }

  // Adds `e`, stamping it with next_seq(). Returns false, and adds nothing,
  // when the queue is at its limit.
  [[nodiscard]] bool push(Event e) {
    if (heap_.size() >= limit_) return false;
    e.seq = next_seq_++;
    heap_.push_back(e);
    sift_up(heap_.size() - 1, e);
    return true;
  }

  // Removes and returns the next event. REQUIRES: !empty().
  Event pop() {
    assert(!heap_.empty());
    const Event top = heap_.front();
    const Event last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return top;
    Event* h = heap_.data();
    std::size_t hole = 0;
    for (;;) {  // the hole goes down along the smallest children to a leaf
      const std::size_t f = 4 * hole + 1;
      if (f + 4 <= n) {
        const std::size_t b0 = key(h[f + 1]) < key(h[f]) ? f + 1 : f;
        const std::size_t b1 = key(h[f + 3]) < key(h[f + 2]) ? f + 3 : f + 2;
        const std::size_t best = key(h[b1]) < key(h[b0]) ? b1 : b0;
        h[hole] = h[best];
        hole = best;
        continue;
      }
      if (f < n) {  // the one node with fewer than four children
        std::size_t best = f;
        for (std::size_t c = f + 1; c < n; ++c) best = key(h[c]) < key(h[best]) ? c : best;
        h[hole] = h[best];
        hole = best;
      }
      break;
    }
    sift_up(hole, last);
    return top;
  }

  // The event that follows top() (the smallest of the root's children), or
  // nullptr when there is none; for looking ahead. Events pushed meanwhile
  // may come before it.
  const Event* second() const {
    const std::size_t n = heap_.size();
    if (n < 2) return nullptr;
    const Event* h = heap_.data();
    std::size_t best = 1;
    for (std::size_t c = 2; c < 5 && c < n; ++c) best = key(h[c]) < key(h[best]) ? c : best;
    return &h[best];
  }

 private:
  __extension__ using Key = unsigned __int128;

  // (time, seq) as one unsigned number: flipping the sign bit maps signed
  // time order onto unsigned order.
  static Key key(const Event& e) {
    const auto t = static_cast<std::uint64_t>(e.at.ns()) ^ (std::uint64_t{1} << 63);
    return (static_cast<Key>(t) << 64) | e.seq;
  }

  // Places `e` at `hole` or above it.
  void sift_up(std::size_t hole, const Event& e) {
    Event* h = heap_.data();
    const Key k = key(e);
    while (hole > 0) {
      const std::size_t parent = (hole - 1) / 4;
      if (!(k < key(h[parent]))) break;
      h[hole] = h[parent];
      hole = parent;
    }
    h[hole] = e;
  }

  std::vector<Event> heap_;
  std::size_t limit_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace heck::sim
