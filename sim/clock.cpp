#include "sim/clock.h"

#include <cassert>
#include <limits>

namespace heck::sim {

namespace {

constexpr std::int64_t kPpm = 1'000'000;
constexpr std::int64_t kMaxOffsetNs = 100LL * 366 * 86'400 * 1'000'000'000;  // 100 years
__extension__ using i128 = __int128;

std::int64_t floor_div(i128 x, std::int64_t d) {
  i128 q = x / d;
  if ((x % d != 0) && ((x < 0) != (d < 0))) --q;
  return static_cast<std::int64_t>(q);
}

}  // namespace

NodeClock::NodeClock(Duration offset, std::int64_t drift_ppm) : offset_(offset), drift_ppm_(drift_ppm) {
  assert(drift_ppm >= -kMaxDriftPpm && drift_ppm <= kMaxDriftPpm);
  assert(offset.ns() >= -kMaxOffsetNs && offset.ns() <= kMaxOffsetNs);
}

std::int64_t NodeClock::drift_ns(std::int64_t t) const {
  // |drift| <= 1e5, so the product fits 64 bits while |t| < 9.2e13 ns (25 h);
  // beyond that use 128 bits.
  constexpr std::int64_t kFast = std::numeric_limits<std::int64_t>::max() / kMaxDriftPpm;
  if (t < kFast && t > -kFast) {
    const std::int64_t p = drift_ppm_ * t;
    std::int64_t q = p / kPpm;
    if (p % kPpm < 0) --q;
    return q;
  }
  return floor_div(static_cast<i128>(drift_ppm_) * t, kPpm);
}

Instant NodeClock::true_at(Instant l) const {
  const Instant start = local(Instant::from_ns(0));
  if (l <= start) return Instant::from_ns(0);
  if (drift_ppm_ == 0) {  // exact inverse; l - offset cannot overflow because l > offset here
    return Instant::from_ns(l.ns() - offset_.ns());
  }
  // local(t) ≈ t × (1 + d/1e6) + offset, so t ≈ (l − offset) × 1e6 / (1e6 + d);
  // the estimate is within a few ns, then stepped to the exact answer.
  const i128 target = static_cast<i128>(l.ns()) - offset_.ns();
  i128 t = target * kPpm / (kPpm + drift_ppm_);
  constexpr i128 kMax = std::numeric_limits<std::int64_t>::max() / 2;  // headroom for local()
  if (t >= kMax) return Instant::max();
  if (t < 0) t = 0;
  auto local_at = [&](i128 x) { return local(Instant::from_ns(static_cast<std::int64_t>(x))); };
  while (local_at(t) < l) ++t;
  while (t > 0 && local_at(t - 1) >= l) --t;
  return Instant::from_ns(static_cast<std::int64_t>(t));
}

Duration NodeClock::true_duration_ceil(Duration d) const {
  if (drift_ppm_ == 0) return d;
  const i128 num = static_cast<i128>(d.ns()) * kPpm;
  const i128 den = kPpm + drift_ppm_;
  return Duration::nanoseconds(static_cast<std::int64_t>((num + den - 1) / den));
}

}  // namespace heck::sim
