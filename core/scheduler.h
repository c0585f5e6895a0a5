// The check scheduler: a pure state machine that decides when each target is
// checked and turns results into a status with rise/fall hysteresis.
//
// Timing. A target's first check fires at a random phase in [0, interval) after
// it is added; afterwards checks are due every `interval`, measured start to
// start on a nominal grid, and each fires at its nominal time plus a jitter
// drawn uniformly from [-J, +J], J = min(jitter_fraction × interval,
// (interval − timeout) / 2). Jitter never accumulates (the grid does not move)
// and J's bound keeps a check's deadline before the next check can fire, so at
// most one check per target is in flight. If a timer fires late (a paused
// process), missed rounds are skipped, not replayed in a burst.
//
// Status. Every target starts `unknown`. `rise` consecutive successes make it
// `healthy`, `fall` consecutive failures make it `unhealthy`; the reason is the
// result that crossed the threshold.
#pragma once

#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "core/effects.h"
#include "core/health.h"
#include "core/random.h"
#include "core/slot_map.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "core/timer.h"

namespace heck {

struct SchedulerConfig {
  double jitter_fraction = 0.1;  // J as a fraction of the interval (see above)
};

// What the scheduler knows about one target (read-only view).
struct TargetState {
  std::shared_ptr<const TargetSpec> spec;
  HealthStatus status = HealthStatus::unknown;
  Instant status_since;           // when `status` was entered (added_at for unknown)
  Instant added_at;
  bool checked = false;           // at least one result recorded
  CheckResult last_result;        // valid when `checked`
  Instant last_checked_at;        // when last_result arrived
  int successes = 0;              // consecutive
  int failures = 0;               // consecutive
  std::uint64_t checks_started = 0;
  std::uint64_t checks_skipped = 0;   // rounds skipped because a check was still running
  std::uint64_t results_lost = 0;     // checks whose report never came

  // Scheduling (internal, but harmless to read).
  bool in_flight = false;
  std::uint64_t seq = 0;          // sequence of the latest started check
  Instant started_at;
  Instant deadline;
  Instant nominal_next;           // the grid point of the next round
  Instant next_fire;              // nominal_next plus its jitter
};

struct SchedulerCounters {
  std::uint64_t checks_started = 0;
  std::uint64_t results = 0;
  std::uint64_t stale_results = 0;   // CheckDone for an unknown or superseded check
  std::uint64_t stale_timers = 0;    // timer firings that found nothing due
};

// How a target starts (add_target). A fresh target starts unknown, at a
// random phase in [0, interval). A target taken over from another checker
// (core/cluster/) continues from the status the cluster reports for it, so
// the takeover shows no unknown in between and the thresholds keep their
// meaning (a healthy target needs `fall` failures to turn unhealthy), and its
// first check comes within `first_within` (random in [0, first_within)), so
// the gap after an owner's loss is not stretched by a whole interval.
struct TargetStart {
  HealthStatus status = HealthStatus::unknown;
  std::optional<Duration> first_within;  // nullopt: within one interval
};

class CheckScheduler {
 public:
  CheckScheduler(std::uint64_t seed, SchedulerConfig config = {});

  // --- inputs -------------------------------------------------------------
  // Adds a target, or replaces one with the same id. An identical spec is a
  // no-op; a changed spec restarts the target (status back to unknown).
  // The spec is held, not copied: a node passes the one its replicated
  // registry holds (one copy of each spec per node).
  void add_target(Instant now, std::shared_ptr<const TargetSpec> spec, Effects& out, const TargetStart& start = {});
  void add_target(Instant now, TargetSpec spec, Effects& out, const TargetStart& start = {}) {
    add_target(now, std::make_shared<const TargetSpec>(std::move(spec)), out, start);
  }
  // Removes a target; a check in flight is forgotten. Returns false if absent.
  bool remove_target(Instant now, std::string_view id, Effects& out);
  void handle_timer(Instant now, TimerKey key, Effects& out);
  void handle_check_done(Instant now, CheckId check, CheckOutcome outcome, Effects& out);

  // --- views --------------------------------------------------------------
  const TargetState* find(NameRef id) const;
  const TargetState* at(std::uint32_t slot) const;
  // The slot of a target (CheckId::slot of its checks), or nullopt.
  std::optional<std::uint32_t> slot_of(NameRef id) const;
  std::size_t size() const { return by_id_.size(); }
  const SchedulerCounters& counters() const { return counters_; }
  const SchedulerConfig& config() const { return config_; }

  // Visits targets in id order.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [id, slot] : by_id_.ordered()) f(slots_[slot]);
  }

  // The jitter bound J for a spec (see the header comment).
  Duration jitter_bound(const TargetSpec& spec) const;

 private:
  void schedule_next(Instant now, std::uint32_t slot, Effects& out);
  void start_check(Instant now, std::uint32_t slot, Effects& out);
  void record(Instant now, std::uint32_t slot, CheckResult result, Effects& out);

  SchedulerConfig config_;
  Rng rng_;
  std::vector<TargetState> slots_;         // index = slot; empty spec = free
  std::vector<std::uint32_t> free_slots_;
  SlotMap<std::string, std::uint32_t> by_id_;  // id -> slot (hashed; ordered on demand)
  std::uint64_t next_seq_ = 1;
  SchedulerCounters counters_;
};

}  // namespace heck
