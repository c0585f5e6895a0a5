// What one agent observed of one target, as replicated to every agent, and the
// rule that turns concurrent observations (siblings) into one answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/health.h"
#include "core/name_table.h"
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
  // The observer's member name (for people and for quorum votes), interned:
  // every agent holds one observation per target, written by one of a few
  // hundred observers (a std::string was 24 of the 72 bytes).
  Name observer_name;

  bool operator==(const Observation&) const = default;
};

// The sibling rule. Causality first: a write supersedes exactly what its
// writer had seen (dots, health_state.h), whatever the clocks say. Siblings
// only exist while observations are truly concurrent (e.g. both sides of a
// partition checked the target), and the next observation by anyone who has
// seen them supersedes them all. Until then every agent answers with the same
// sibling, the greatest by:
//   1. the worse status (unhealthy > unknown > healthy): among concurrent
//      observations the conservative answer wins, so a failure seen on either
//      side is never hidden;
//   2. observed_at (HLC): among equal statuses, the most recent;
//   3. then the lower observer id, then the higher check_seq (a total order).
// Why status before time: concurrent timestamps come from different clocks. A
// node whose clock runs an hour ahead stamps its observations an hour ahead;
// with time first, its stale observation would outrank every concurrent one
// from correct clocks for as long as siblings last. With status first, no
// clock can change which status the cluster reports; skew can only pick among
// siblings that agree on the status (which latency and reason are shown).
// HLC adoption is bounded as well (hlc.h), so the skewed node cannot drag
// other clocks forward either.
// REQUIRES: !siblings.empty().
const Observation& resolve(const std::vector<const Observation*>& siblings);

// True when `a` ranks above `b` under the rule above.
bool ranks_above(const Observation& a, const Observation& b);

}  // namespace heck
