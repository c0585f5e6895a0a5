// The runtime's clock: heck::Instant as nanoseconds since the Unix epoch,
// advanced by std::chrono::steady_clock. The system time is sampled once, when
// the Clock is made; afterwards only the steady clock moves it, so now() is
// monotonic (a wall-clock step or NTP slew never makes time go backwards
// inside the agent). The price is drift from the wall clock over very long
// runs, which is fine for timestamps in an API and a log.
//
// Also: conversions between Instant and steady_clock time points (for Asio
// timers) and RFC 3339 formatting of instants (for the API and log lines).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "core/time.h"

namespace heck::runtime {

class Clock {
 public:
  using steady = std::chrono::steady_clock;

  // Samples the system clock and the steady clock once.
  Clock()
      : steady_start_(steady::now()),
        epoch_start_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()) {}

  // A clock pinned to `start` at the current steady time (tests).
  explicit Clock(Instant start) : steady_start_(steady::now()), epoch_start_ns_(start.ns()) {}

  // Monotonic; ns since the Unix epoch.
  Instant now() const { return from_steady(steady::now()); }

  // The instant the clock was made.
  Instant start() const { return Instant::from_ns(epoch_start_ns_); }

  steady::time_point to_steady(Instant t) const {
    return steady_start_ + std::chrono::nanoseconds(t.ns() - epoch_start_ns_);
  }

  Instant from_steady(steady::time_point tp) const {
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - steady_start_).count();
    return Instant::from_ns(epoch_start_ns_ + since);
  }

 private:
  steady::time_point steady_start_;
  std::int64_t epoch_start_ns_;
};

// RFC 3339 in UTC: "2026-11-21T12:00:00Z", or with milliseconds
// "2026-11-21T12:00:00.123Z". Instants before the epoch are clamped to it.
inline std::string format_rfc3339(Instant t, bool with_ms = false) {
  std::int64_t ns = t.ns() < 0 ? 0 : t.ns();
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  const int ms = static_cast<int>((ns / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  if (with_ms) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace heck::runtime
