// Suspicion timeout math (SWIM section 4.2 with Lifeguard section 4.1,
// "LHA-Suspicion"): a suspect is declared dead when its timeout expires; the
// timeout starts at its maximum and shrinks logarithmically towards its
// minimum as independent confirmations arrive, so a suspicion that several
// members share expires sooner while a lone (possibly slow) accuser waits
// longer.
#pragma once

#include <cstddef>

#include "core/time.h"

namespace heck {

struct SuspicionBounds {
  Duration min;
  Duration max;
  std::size_t k = 0;  // confirmations expected before the timeout reaches min
};

// min = suspicion_mult * max(1, log10 n) * probe_interval (n: live members,
// including this node); max = max_timeout_mult * min; k = suspicion_mult - 2,
// or 0 when n - 2 < k (too few members to confirm). Without Lifeguard the
// timeout is fixed at min: max = min and k = 0.
SuspicionBounds suspicion_bounds(std::size_t suspicion_mult, std::size_t max_timeout_mult,
                                 std::size_t n, Duration probe_interval, bool lifeguard);

// The timeout after `confirmations` independent confirmations (not counting
// the first accuser): max - (max - min) * log(c + 1) / log(k + 1), never below
// min, truncated to whole milliseconds; min when k == 0.
Duration suspicion_timeout(const SuspicionBounds& b, std::size_t confirmations);

}  // namespace heck
