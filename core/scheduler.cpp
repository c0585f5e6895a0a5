#include "core/scheduler.h"

#include <algorithm>
#include <cassert>

namespace heck {

CheckScheduler::CheckScheduler(std::uint64_t seed, SchedulerConfig config)
    : config_(config), rng_(seed) {
  assert(config_.jitter_fraction >= 0.0 && config_.jitter_fraction < 1.0);
}

Duration CheckScheduler::jitter_bound(const TargetSpec& spec) const {
  const auto by_fraction =
      Duration::nanoseconds(static_cast<std::int64_t>(static_cast<double>(spec.interval.ns()) * config_.jitter_fraction));
  const Duration by_timeout = (spec.interval - spec.timeout) / 2;
  return std::max(Duration::zero(), std::min(by_fraction, by_timeout));
}

void CheckScheduler::add_target(Instant now, std::shared_ptr<const TargetSpec> spec, Effects& out,
                                const TargetStart& start) {
  assert(spec);
  if (const auto* it = by_id_.find(spec->id)) {
    const TargetSpec& held = *slots_[it->second].spec;
    if (&held == spec.get() || held == *spec) return;
    remove_target(now, spec->id, out);
  }
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  TargetState& t = slots_[slot];
  t = TargetState{};
  t.spec = std::move(spec);
  t.added_at = now;
  t.status_since = now;
  t.status = start.status;
  if (start.status == HealthStatus::healthy) t.successes = t.spec->rise;
  if (start.status == HealthStatus::unhealthy) t.failures = t.spec->fall;
  // First round at a random phase in [0, interval) (or [0, first_within)):
  // targets added together spread out instead of firing as one burst.
  const Duration window =
      start.first_within ? std::clamp(*start.first_within, Duration::nanoseconds(1), t.spec->interval) : t.spec->interval;
  t.nominal_next = now + Duration::nanoseconds(static_cast<std::int64_t>(rng_.below(
                             static_cast<std::uint64_t>(window.ns()))));
  by_id_.insert(t.spec->id, slot);
  t.next_fire = t.nominal_next;
  out.push_back(SetTimer{TimerKey{TimerKind::check, slot}, t.next_fire});
}

bool CheckScheduler::remove_target(Instant /*now*/, std::string_view id, Effects& out) {
  const auto* it = by_id_.find(id);
  if (!it) return false;
  const std::uint32_t slot = it->second;
  by_id_.erase(id);
  slots_[slot] = TargetState{};
  free_slots_.push_back(slot);
  out.push_back(CancelTimer{TimerKey{TimerKind::check, slot}});
  return true;
}

void CheckScheduler::handle_timer(Instant now, TimerKey key, Effects& out) {
  if (key.kind != TimerKind::check || key.id >= slots_.size()) {
    ++counters_.stale_timers;
    return;
  }
  const auto slot = static_cast<std::uint32_t>(key.id);
  TargetState& t = slots_[slot];
  if (!t.spec) {  // a freed slot
    ++counters_.stale_timers;
    return;
  }
  if (now < t.next_fire) {
    // A superseded or early firing. Re-arming is idempotent (setting a key
    // replaces it) and keeps a driver whose timers fire a little early from
    // silently stopping this target's checks.
    ++counters_.stale_timers;
    out.push_back(SetTimer{key, t.next_fire});
    return;
  }
  if (t.in_flight) {
    if (now < t.deadline) {
      // Only reachable when a timer fired late (the process was paused): the
      // running check keeps its slot and this round is skipped.
      ++t.checks_skipped;
      schedule_next(now, slot, out);
      return;
    }
    // The driver never reported the check: count it as a timeout.
    ++t.results_lost;
    t.in_flight = false;
    CheckResult lost;
    lost.reason = CheckReason::timeout;
    lost.latency = now - t.started_at;
    lost.detail = "no result by the deadline";
    record(now, slot, std::move(lost), out);
  }
  start_check(now, slot, out);
  schedule_next(now, slot, out);
}

void CheckScheduler::start_check(Instant now, std::uint32_t slot, Effects& out) {
  TargetState& t = slots_[slot];
  t.in_flight = true;
  t.seq = next_seq_++;
  t.started_at = now;
  t.deadline = now + t.spec->timeout;
  ++t.checks_started;
  ++counters_.checks_started;
  out.push_back(StartCheck{CheckId{slot, t.seq}, t.spec, t.deadline});
}

void CheckScheduler::schedule_next(Instant now, std::uint32_t slot, Effects& out) {
  TargetState& t = slots_[slot];
  const Duration interval = t.spec->interval;
  t.nominal_next += interval;
  if (t.nominal_next <= now) {
    // Late by one or more whole rounds: skip them, stay on the grid.
    const std::int64_t behind = (now - t.nominal_next).ns() / interval.ns() + 1;
    t.nominal_next += interval * behind;
  }
  const Duration j = jitter_bound(*t.spec);
  t.next_fire = t.nominal_next + rng_.duration_between(-j, j);
  if (t.next_fire <= now) t.next_fire = now + Duration::nanoseconds(1);
  out.push_back(SetTimer{TimerKey{TimerKind::check, slot}, t.next_fire});
}

void CheckScheduler::handle_check_done(Instant now, CheckId check, CheckOutcome outcome, Effects& out) {
  if (check.slot >= slots_.size()) {
    ++counters_.stale_results;
    return;
  }
  TargetState& t = slots_[check.slot];
  if (!t.spec || !t.in_flight || t.seq != check.seq) {
    ++counters_.stale_results;
    return;
  }
  t.in_flight = false;
  record(now, check.slot, evaluate(*t.spec, std::move(outcome)), out);
}

void CheckScheduler::record(Instant now, std::uint32_t slot, CheckResult result, Effects& out) {
  TargetState& t = slots_[slot];
  ++counters_.results;
  const HealthStatus before = t.status;
  if (result.ok()) {
    t.failures = 0;
    t.successes = std::min(t.successes + 1, 1'000'000);
    if (before != HealthStatus::healthy && t.successes >= t.spec->rise) t.status = HealthStatus::healthy;
  } else {
    t.successes = 0;
    t.failures = std::min(t.failures + 1, 1'000'000);
    if (before != HealthStatus::unhealthy && t.failures >= t.spec->fall) t.status = HealthStatus::unhealthy;
  }
  t.checked = true;
  t.last_checked_at = now;
  t.last_result = result;
  out.push_back(CheckFinished{CheckId{slot, t.seq}, t.spec, result, t.status});
  if (t.status != before) {
    t.status_since = now;
    out.push_back(StatusChanged{t.spec, before, t.status, std::move(result)});
  }
}

const TargetState* CheckScheduler::find(NameRef id) const {
  const auto* it = by_id_.find(id);
  return it ? &slots_[it->second] : nullptr;
}

std::optional<std::uint32_t> CheckScheduler::slot_of(NameRef id) const {
  const auto* it = by_id_.find(id);
  if (!it) return std::nullopt;
  return it->second;
}

const TargetState* CheckScheduler::at(std::uint32_t slot) const {
  if (slot >= slots_.size() || !slots_[slot].spec) return nullptr;
  return &slots_[slot];
}

}  // namespace heck
