// Named timers. A state machine asks its driver for a timer by key; setting a
// key again replaces the earlier deadline. A machine tolerates a late, early or
// stale firing: it re-checks its own state when a timer fires (and re-arms a
// timer that fired before its time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace heck {

enum class TimerKind : std::uint16_t {
  check = 1,  // id = scheduler slot: the next check of a target is due
};

struct TimerKey {
  TimerKind kind = TimerKind::check;
  std::uint64_t id = 0;

  auto operator<=>(const TimerKey&) const = default;
  std::uint64_t packed() const {
    return (static_cast<std::uint64_t>(kind) << 48) ^ id;
  }
};

}  // namespace heck

template <>
struct std::hash<heck::TimerKey> {
  std::size_t operator()(const heck::TimerKey& k) const noexcept {
    std::uint64_t x = k.packed();
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<std::size_t>(x);
  }
};
