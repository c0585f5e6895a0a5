// Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// OPODIS 2014), with bounded acceptance of remote time.
//
// A timestamp packs 48 bits of physical milliseconds since the Unix epoch and a
// 16-bit logical counter into one ordered 64-bit value.
//
// The skew rule. Causality in heck's replicated state comes from dots and
// causal contexts, never from timestamps: a write supersedes exactly what its
// writer had seen. HLC timestamps only order *concurrent* siblings and tell the
// age of an observation. So a clock need not follow a remote clock that runs
// far ahead: observe() adopts a remote timestamp only when its physical part is
// at most `max_forward` ahead of the local physical clock. A timestamp further
// ahead is counted and ignored — one node whose clock runs an hour fast cannot
// drag every other clock (and every later observation) an hour forward, and its
// own observations are still superseded by anyone who has seen them. Among
// truly concurrent observations the status, not the clock, decides which one
// is reported (observation.h), so a skewed clock cannot mask a failure seen
// by a correct node. Tests: tests/core/replicated/crdts_test.cpp (SkewRule),
// replicator_test.cpp (SkewedNode*).
#pragma once

#include <compare>
#include <cstdint>

#include "core/time.h"

namespace heck {

struct HlcTimestamp {
  std::uint64_t packed = 0;

  static constexpr HlcTimestamp make(std::uint64_t wall_ms, std::uint16_t logical) {
    return HlcTimestamp{(wall_ms << 16) | logical};
  }
  constexpr std::uint64_t wall_ms() const { return packed >> 16; }
  constexpr std::uint16_t logical() const { return static_cast<std::uint16_t>(packed & 0xffff); }
  auto operator<=>(const HlcTimestamp&) const = default;
};

class HybridClock {
 public:
  explicit HybridClock(Duration max_forward = Duration::seconds(5)) : max_forward_(max_forward) {}

  // A timestamp for a local event (a write, a send) at physical time `now`.
  // Strictly greater than every timestamp this clock returned or adopted.
  HlcTimestamp tick(Instant now);
  // Merges a timestamp received from another node; returns false (and counts
  // it) when it is more than max_forward ahead of `now` and was not adopted.
  bool observe(Instant now, HlcTimestamp remote);

  HlcTimestamp last() const { return last_; }
  std::uint64_t rejected_ahead() const { return rejected_ahead_; }

 private:
  Duration max_forward_;
  HlcTimestamp last_;
  std::uint64_t rejected_ahead_ = 0;
};

}  // namespace heck
