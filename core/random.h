// The project's one PRNG: xoshiro256** (Blackman & Vigna), seeded through
// splitmix64. Every random choice in core/ and sim/ comes from an instance that
// was explicitly seeded; there is no global generator. The helpers below are
// our own (no std::*_distribution, whose output differs between standard
// libraries), so a seed gives the same stream on every platform.
#pragma once

#include <cstdint>

#include "core/time.h"

namespace heck {

// splitmix64 step: also a good 64-bit mixer for deriving child seeds.
std::uint64_t splitmix64(std::uint64_t& state);

class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  // Uniform 64-bit value.
  std::uint64_t next();

  // Uniform integer in [0, bound). REQUIRES: bound > 0. Unbiased (Lemire's
  // multiply-and-reject method).
  std::uint64_t below(std::uint64_t bound);

  // Uniform integer in [lo, hi]. REQUIRES: lo <= hi.
  std::int64_t between(std::int64_t lo, std::int64_t hi);

  // Uniform real in [0, 1) with 53 bits of precision.
  double unit();

  // True with probability p (p outside [0, 1] is clamped).
  bool chance(double p);

  // Exponentially distributed value with the given mean (inverse transform).
  double exponential(double mean);

  // Uniform duration in [lo, hi]. REQUIRES: lo <= hi.
  Duration duration_between(Duration lo, Duration hi);

  // An independent generator derived from this one (for a child component),
  // so adding draws in one component does not shift another's stream.
  Rng fork();

 private:
  std::uint64_t s_[4];
};

}  // namespace heck
