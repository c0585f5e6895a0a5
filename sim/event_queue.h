// The simulator's event queue: a 4-ary min-heap of small POD events over one
// std::vector, ordered by (true time, sequence number).
//
// Contract
// - push() stamps every event with the next sequence number, so events due at
//   the same instant pop in the order they were pushed (FIFO). Together with a
//   seeded world this makes a run a pure function of its seed.
// - An event is a 32-byte trivially copyable value: no std::function, no
//   allocation per event. Kind-specific data is typed and named per kind
//   (Event::timer(), timer_key(), …); larger payloads (a pending check, a
//   message) live in a slab owned by the world and the event carries the
//   slab index. The sequence number doubles as the identity of a
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
#include <type_traits>
#include <vector>

#include "core/time.h"
#include "core/timer.h"

namespace heck::sim {

enum class EventKind : std::uint8_t {
  none = 0,
  timer,       // a member's timer came due (Event::timer)
  check_done,  // a member's check finished (Event::check_done)
  packet,      // a message reaches a member (Event::packet)
  fault,       // the world acts: timeline, process, liveness (Event::fault)
  bench,       // free for benchmarks and tests (Event::bench)
  notify,      // an alert notification reaches the receiver, or its answer the sender (Event::notify)
};

// What a fault event makes the cluster world do (sim/cluster_world.h).
enum class WorldAction : std::uint8_t {
  timeline = 0,  // apply timeline entry `index`
  start = 1,     // start `member`
  stop = 2,      // stop `member` if still in process generation `generation`
  resume = 3,    // resume `member` if still in process generation `generation`
  liveness = 4,  // the liveness phase begins
};

// One queued event: (at, seq) order it; the rest is per kind, built by the
// named constructors and read by the accessors of that kind only (a read of
// another kind's field is a programmer error: asserted).
struct Event {
  Instant at;              // true (simulated) time
  std::uint64_t seq = 0;   // set by EventQueue::push

  EventKind kind() const { return kind_; }
  // The member the event is for (timer, check_done, packet: destination;
  // fault: the action's member, 0 when it has none).
  std::uint32_t member() const {
    assert(kind_ != EventKind::bench && kind_ != EventKind::none);
    return member_;
  }

  // A member's timer wake-up: its timer table (core/timer_table.h) has a
  // deadline due at `at` (true time). Only the member's latest wake is live.
  static Event timer(Instant at, std::uint32_t member) { return Event(at, EventKind::timer, member, 0); }

  // `pending`: the check's index in the world's slab of pending checks.
  static Event check_done(Instant at, std::uint32_t member, std::uint32_t pending) {
    return Event(at, EventKind::check_done, member, pending);
  }
  std::uint32_t pending_check() const {
    assert(kind_ == EventKind::check_done);
    return static_cast<std::uint32_t>(a_);
  }

  // `message`: the network's index of the message (sim/network.h).
  static Event packet(Instant at, std::uint32_t to, std::uint32_t message) {
    return Event(at, EventKind::packet, to, message);
  }
  std::uint32_t message() const {
    assert(kind_ == EventKind::packet);
    return static_cast<std::uint32_t>(a_);
  }

  // `argument`: the timeline index (timeline) or process generation (stop,
  // resume); 0 otherwise.
  static Event fault(Instant at, WorldAction action, std::uint32_t member, std::uint64_t argument) {
    Event e(at, EventKind::fault, member, argument);
    e.action_ = action;
    return e;
  }
  WorldAction action() const {
    assert(kind_ == EventKind::fault);
    return action_;
  }
  std::uint64_t argument() const {
    assert(kind_ == EventKind::fault);
    return a_;
  }

  // `pending`: the notification's index in the world's list of them.
  static Event notify(Instant at, std::uint32_t member, std::uint32_t pending) {
    return Event(at, EventKind::notify, member, pending);
  }
  std::uint32_t pending_notify() const {
    assert(kind_ == EventKind::notify);
    return static_cast<std::uint32_t>(a_);
  }

  static Event bench(Instant at, std::uint64_t tag) { return Event(at, EventKind::bench, 0, tag); }
  std::uint64_t tag() const {
    assert(kind_ == EventKind::bench);
    return a_;
  }

  Event() = default;

 private:
  Event(Instant when, EventKind kind, std::uint32_t member, std::uint64_t a)
      : at(when), a_(a), member_(member), kind_(kind) {}

  std::uint64_t a_ = 0;  // check_done, packet: an index; fault: argument; bench: tag
  std::uint32_t member_ = 0;
  EventKind kind_ = EventKind::none;
  WorldAction action_ = WorldAction::timeline;  // fault
};
static_assert(sizeof(Event) == 32, "keep events small: the heap moves them");
static_assert(std::is_trivially_copyable_v<Event>);

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
