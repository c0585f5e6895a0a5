// A simulated node's clock: what the node believes the time is, derived from
// the world's true time by an offset and a constant drift.
//
//   local(t) = t + offset + floor(drift_ppm × t / 10^6)        (integer math)
//
// Contract
// - local() is defined for true times t >= 0 and is monotone (non-decreasing):
//   |drift_ppm| <= kMaxDriftPpm < 10^6, so one nanosecond of true time moves
//   the drift term by less than one nanosecond.
// - true_at(L) is the first true time t >= 0 whose local time is >= L, so a
//   timer for local instant L never fires early and fires as soon as the node
//   could see L. Times before the world started map to 0.
// - A node sees only local(); durations it measures (latencies, intervals)
//   are local differences, so a fast clock makes its intervals shorter in
//   true time, as on a real machine.
#pragma once

#include <cstdint>

#include "core/time.h"

namespace heck::sim {

class NodeClock {
 public:
  static constexpr std::int64_t kMaxDriftPpm = 100'000;  // 10%: far beyond any real oscillator

  NodeClock() = default;
  // REQUIRES: |drift_ppm| <= kMaxDriftPpm and |offset| <= 100 years.
  NodeClock(Duration offset, std::int64_t drift_ppm);

  Duration offset() const { return offset_; }
  std::int64_t drift_ppm() const { return drift_ppm_; }

  // The node's time at true time `t`. REQUIRES: t >= 0.
  Instant local(Instant t) const {
    if (drift_ppm_ == 0) return t + offset_;
    return t + offset_ + Duration::nanoseconds(drift_ns(t.ns()));
  }

  // The first true time >= 0 at which local() >= `l`; Instant::max() when the
  // clock never gets there within the range of Instant.
  Instant true_at(Instant l) const;

  // A local duration measured by this clock, converted to true time (rounded
  // up): how long the world waits while the node counts `d`. For bounds.
  Duration true_duration_ceil(Duration d) const;

 private:
  // floor(drift_ppm × t / 10^6) without overflow.
  std::int64_t drift_ns(std::int64_t t) const;

  Duration offset_;
  std::int64_t drift_ppm_ = 0;
};

}  // namespace heck::sim
