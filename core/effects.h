// What a state machine asks its driver to do, and what it reports. A step
// appends effects to a vector in a deterministic order; the driver applies
// them in that order. The two inputs every driver feeds back (TimerFired for
// a SetTimer, CheckDone for a StartCheck) live here too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/alerts/alert_route.h"
#include "core/check.h"
#include "core/health.h"
#include "core/membership/member_state.h"
#include "core/name_table.h"
#include "core/net.h"
#include "core/store/store_types.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "core/timer.h"

namespace heck {

// Identifies one check: the scheduler slot of its target and a sequence number
// unique within the scheduler (monotonic per target).
struct CheckId {
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
  bool operator==(const CheckId&) const = default;
};

// Arm (or re-arm) the timer `key` to fire at `at` on the node's clock.
struct SetTimer {
  TimerKey key;
  Instant at;
};

// Disarm `key`; firing it anyway is harmless.
struct CancelTimer {
  TimerKey key;
};

// Run one check of `spec` now. The driver reports exactly one CheckDone for
// it, by `deadline` at the latest (a check still running at the deadline is
// a timeout). A report that never comes is noticed at the next round.
struct StartCheck {
  CheckId check;
  std::shared_ptr<const TargetSpec> spec;
  Instant deadline;
};

// A check finished and was evaluated (for traces, metrics and the API).
struct CheckFinished {
  CheckId check;
  std::shared_ptr<const TargetSpec> spec;
  CheckResult result;
  HealthStatus status;  // the target's status after this result
};

// A target's status changed (rise/fall thresholds reached).
struct StatusChanged {
  std::shared_ptr<const TargetSpec> spec;
  HealthStatus from;
  HealthStatus to;
  CheckResult cause;  // the result that crossed the threshold
};

// A member's state or incarnation changed in this node's view (for traces,
// metrics, the API and the simulator's detection figures).
struct MemberChanged {
  Name name;
  Name address;
  MemberState from = MemberState::alive;
  MemberState to = MemberState::alive;
  std::uint64_t incarnation = 0;
  bool is_new = false;  // first time this node hears of the member
};

// Deliver one alert notification (core/alerts/alert_route.h): POST it to
// the route's url. The driver reports exactly one NotifyDone for it.
struct Notify {
  AlertNotification notification;
};

// --- inputs shared by the composed node's drivers ---------------------------
// (the node's own input variant is ClusterInput, core/cluster/cluster_node.h)

// The timer `key` came due (a late or stale firing is tolerated).
struct TimerFired {
  TimerKey key;
};

// The check `check` (a StartCheck) finished with `outcome`.
struct CheckDone {
  CheckId check;
  CheckOutcome outcome;
};

// A Notify finished: `delivered` when the receiver answered 2xx; else
// `error` says what went wrong ("HTTP 503", "connect: connection refused").
struct NotifyDone {
  std::uint64_t id = 0;
  bool delivered = false;
  std::string error;
};

// StoreWrite (core/store/store_types.h): only in the external store mode.
using Effect = std::variant<SetTimer, CancelTimer, StartCheck, CheckFinished, StatusChanged,
                            Send, MemberChanged, StoreWrite, Notify>;
using Effects = std::vector<Effect>;

}  // namespace heck
