// Time as plain values. core/ never reads a clock: every input carries `now`,
// and only drivers (sim/, runtime/) create instants from their own clocks.
//
// Both types count nanoseconds in a signed 64-bit integer (±292 years).
// An Instant's epoch is the driver's: the simulator starts at 0, the runtime
// uses the Unix epoch (advanced by a monotonic clock, see runtime/).
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace heck {

class Duration {
 public:
  constexpr Duration() = default;

  static constexpr Duration nanoseconds(std::int64_t n) { return Duration(n); }
  static constexpr Duration microseconds(std::int64_t n) { return Duration(n * 1'000); }
  static constexpr Duration milliseconds(std::int64_t n) { return Duration(n * 1'000'000); }
  static constexpr Duration seconds(std::int64_t n) { return Duration(n * 1'000'000'000); }
  static constexpr Duration zero() { return Duration(0); }
  static constexpr Duration max() { return Duration(std::numeric_limits<std::int64_t>::max()); }

  constexpr std::int64_t ns() const { return ns_; }
  constexpr std::int64_t us() const { return ns_ / 1'000; }
  constexpr std::int64_t ms() const { return ns_ / 1'000'000; }
  constexpr double seconds_f() const { return static_cast<double>(ns_) / 1e9; }
  constexpr double ms_f() const { return static_cast<double>(ns_) / 1e6; }

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator-() const { return Duration(-ns_); }
  constexpr Duration operator*(std::int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(std::int64_t k) const { return Duration(ns_ / k); }
  constexpr Duration& operator+=(Duration o) { ns_ += o.ns_; return *this; }
  constexpr Duration& operator-=(Duration o) { ns_ -= o.ns_; return *this; }

 private:
  constexpr explicit Duration(std::int64_t ns) : ns_(ns) {}
  std::int64_t ns_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant from_ns(std::int64_t ns) { Instant t; t.ns_ = ns; return t; }
  static constexpr Instant max() { return from_ns(std::numeric_limits<std::int64_t>::max()); }

  constexpr std::int64_t ns() const { return ns_; }
  constexpr std::int64_t ms() const { return ns_ / 1'000'000; }

  constexpr auto operator<=>(const Instant&) const = default;
  constexpr Instant operator+(Duration d) const { return from_ns(ns_ + d.ns()); }
  constexpr Instant operator-(Duration d) const { return from_ns(ns_ - d.ns()); }
  constexpr Duration operator-(Instant o) const { return Duration::nanoseconds(ns_ - o.ns_); }
  constexpr Instant& operator+=(Duration d) { ns_ += d.ns(); return *this; }

 private:
  std::int64_t ns_ = 0;
};

}  // namespace heck
