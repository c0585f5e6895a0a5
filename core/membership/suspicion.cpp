#include "core/membership/suspicion.h"

#include <algorithm>
#include <cmath>

namespace heck {

SuspicionBounds suspicion_bounds(std::size_t suspicion_mult, std::size_t max_timeout_mult,
                                 std::size_t n, Duration probe_interval, bool lifeguard) {
  const double scale = std::max(1.0, std::log10(std::max<double>(1.0, static_cast<double>(n))));
  // Milliseconds of scale, as memberlist computes it, so figures are exact.
  const auto scale_milli = static_cast<std::int64_t>(scale * 1000.0);
  SuspicionBounds b;
  b.min = Duration::nanoseconds(static_cast<std::int64_t>(suspicion_mult) * scale_milli *
                                probe_interval.ns() / 1000);
  if (!lifeguard) {
    b.max = b.min;
    b.k = 0;
    return b;
  }
  b.max = b.min * static_cast<std::int64_t>(std::max<std::size_t>(1, max_timeout_mult));
  b.k = suspicion_mult >= 2 ? suspicion_mult - 2 : 0;
  if (n < b.k + 2) b.k = 0;
  return b;
}

Duration suspicion_timeout(const SuspicionBounds& b, std::size_t confirmations) {
  if (b.k == 0) return b.min;
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) /
                      std::log(static_cast<double>(b.k) + 1.0);
  const double raw = std::max(static_cast<double>(b.min.ns()),
                              static_cast<double>(b.max.ns()) -
                                  frac * static_cast<double>((b.max - b.min).ns()));
  const auto ms = static_cast<std::int64_t>(std::floor(raw / 1e6));
  return std::max(b.min, Duration::milliseconds(ms));
}

}  // namespace heck
