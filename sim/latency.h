// Latency distributions for simulated targets (and, later, network links).
//
//   {"kind": "constant", "ms": 5}
//   {"kind": "uniform", "min_ms": 1, "max_ms": 20}          // inclusive, ns resolution
//   {"kind": "exponential", "mean_ms": 30, "floor_ms": 2}   // floor + Exp, overall mean = mean_ms
//
// Values are in milliseconds and may be fractional (0.2 ms LAN hops). Every
// sample is drawn from the caller's heck::Rng (no std distributions), is at
// least 0, and is capped at kMaxLatency so a long exponential tail cannot
// overflow the clock.
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "core/random.h"
#include "core/result.h"
#include "core/time.h"

namespace heck::sim {

class LatencyDist {
 public:
  enum class Kind : std::uint8_t { constant, uniform, exponential };
  static constexpr Duration kMaxLatency = Duration::seconds(3600);

  // A constant latency. REQUIRES: 0 <= d <= kMaxLatency.
  static LatencyDist constant(Duration d);
  // Uniform on [lo, hi]. REQUIRES: 0 <= lo <= hi <= kMaxLatency.
  static LatencyDist uniform(Duration lo, Duration hi);
  // floor + Exp(mean − floor). REQUIRES: 0 <= floor <= mean <= kMaxLatency.
  static LatencyDist exponential(Duration mean, Duration floor);

  static Result<LatencyDist> from_json(const nlohmann::json& j, std::string_view where = "latency");
  // The JSON from_json reads back as this distribution.
  nlohmann::json to_json() const;

  Duration sample(Rng& rng) const;

  Kind kind() const { return kind_; }
  // Smallest and largest possible sample, and the mean (before the cap).
  Duration min() const { return a_; }
  Duration max() const { return kind_ == Kind::exponential ? kMaxLatency : b_; }
  Duration mean() const;

 private:
  Kind kind_ = Kind::constant;
  Duration a_;  // constant: the value; uniform: lo; exponential: floor
  Duration b_;  // uniform: hi; exponential: mean
};

}  // namespace heck::sim
