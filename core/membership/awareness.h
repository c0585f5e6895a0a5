// Local health awareness (Lifeguard section 4.2, "LHA-Probe"): a saturating
// score in [0, max_multiplier - 1] that rises when this node sees evidence of
// its own slowness (missed nacks, failed probes without nack peers, having to
// refute a suspicion about itself) and falls with each successful probe. The
// probe interval and probe timeout are stretched by score + 1, so a node that
// is itself slow probes less often and waits longer before accusing others.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/time.h"

namespace heck {

class Awareness {
 public:
  // REQUIRES: max_multiplier >= 1 (1 disables the mechanism).
  explicit Awareness(std::size_t max_multiplier) : max_(std::max<std::size_t>(1, max_multiplier)) {}

  void apply(std::int64_t delta) {
    const std::int64_t top = static_cast<std::int64_t>(max_) - 1;
    score_ = static_cast<std::size_t>(std::clamp(static_cast<std::int64_t>(score_) + delta,
                                                 std::int64_t{0}, top));
  }
  std::size_t score() const { return score_; }
  std::size_t multiplier() const { return score_ + 1; }
  Duration scale(Duration d) const { return d * static_cast<std::int64_t>(multiplier()); }

 private:
  std::size_t max_;
  std::size_t score_ = 0;
};

}  // namespace heck
