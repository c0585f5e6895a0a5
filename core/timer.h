// Named timers. A state machine asks its driver for a timer by key; setting a
// key again replaces the earlier deadline. A machine tolerates a late, early or
// stale firing: it re-checks its own state when a timer fires (and re-arms a
// timer that fired before its time). The driver side of these rules is
// written once, in core/timer_table.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace heck {

enum class TimerKind : std::uint16_t {
  check = 1,  // id = scheduler slot: the next check of a target is due

  // Membership (core/membership/): ids are chosen by the SWIM machine.
  swim_probe = 2,          // the next protocol period starts
  swim_ack_timeout = 3,    // id = probe seq: no direct ack, send ping-req
  swim_probe_deadline = 4, // id = probe seq: the period ends, no ack at all
  swim_suspicion = 5,      // id = member slot: a suspicion may expire
  swim_gossip = 6,         // the next gossip round
  swim_push_pull = 7,      // the next push-pull state sync
  swim_join = 8,           // retry joining through the seeds
  swim_reap = 9,           // forget dead and left members after a while

  // Replicated state (core/replicated/).
  anti_entropy = 10,       // the next anti-entropy round
  replica_flush = 11,      // pending deltas are due for dissemination

  // The composed node (core/cluster/).
  vouch = 12,              // vouch for this agent's observations (ClusterNode)
  alerts = 13,             // look for due alert notifications (ClusterNode, core/alerts/)
  latency_handoff = 14,    // hand new latency samples to the standbys (core/cluster/latency_history.h)
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
