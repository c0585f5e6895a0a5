// What one agent observed of one target, as replicated to every agent, and the
// rule that turns concurrent observations (siblings) into one answer.
#pragma once

#include <cstdint>
#include <vector>

#include "core/check.h"
#include "core/health.h"
#include "core/replicated/dot.h"
#include "core/replicated/hlc.h"
#include "core/time.h"

namespace heck {

struct Observation {
  HealthStatus status = HealthStatus::unknown;
  CheckReason reason = CheckReason::ok;  // of the result behind `status`
  int status_code = 0;
  Duration latency;
  HlcTimestamp observed_at;
  ReplicaId observer = 0;
  std::uint64_t check_seq = 0;  // the observer's check sequence number

  bool operator==(const Observation&) const = default;
};

// The sibling rule. Siblings only exist when observations were truly
// concurrent (e.g. both sides of a partition checked the target); a later
// observation by anyone who has seen them supersedes them all. Until then every
// agent answers with the same sibling, the greatest by:
//   1. observed_at (HLC): the most recent observation wins;
//   2. on equal timestamps, the worse status (unhealthy > unknown > healthy), so
//      a tie never hides a failure;
//   3. then the lower observer id, then the higher check_seq (a total order).
// REQUIRES: !siblings.empty().
const Observation& resolve(const std::vector<const Observation*>& siblings);

// True when `a` ranks above `b` under the rule above.
bool ranks_above(const Observation& a, const Observation& b);

}  // namespace heck
