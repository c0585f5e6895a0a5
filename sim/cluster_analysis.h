// What a cluster run showed: failure-detection times, false positives, load,
// dissemination and convergence, computed after the run from the world's
// member records and process log (sim/cluster_world.h), and the verdicts on a
// cluster scenario's expectations.
//
// Definitions
// - Crash detection. For a crash of S at T (a restart's crash included; a
//   graceful stop is not a crash), the episode lasts until S next starts (or
//   the end). First detection: the first report, by any other member, of S
//   as suspect or dead in the episode, minus T. Dead everywhere: the members
//   running at T (other than S) that stay up until they mark S dead; the
//   last of their first `dead` reports in the episode, minus T. A crash none
//   reports is `undetected`; one that some observer had not marked dead when
//   the episode ended is `incomplete`.
// - False positives. A report of S as suspect is false when S is running and
//   not paused at that time and S's incarnation in the report is not one it
//   held when it crashed, stopped or was paused (so late news of a real fault
//   is not counted). A report of S as dead is false when S is running (paused
//   or not) and the incarnation is not one it held when it crashed or
//   stopped: a paused member declared dead is a false death. Counted as
//   episodes (distinct member and incarnation) and as reports (observers).
// - Load: Send effects after metrics_from per member, divided by the time
//   the member was running after metrics_from; the mean is total over total.
// - Dissemination. An update is (member, state, incarnation) first reported
//   at t0 >= metrics_from by some other member. Its recipients are the
//   members other than S that run from t0 (or before) to the end. It reaches
//   a recipient when the recipient's view of S equals or supersedes it
//   (higher incarnation, or the same with a state at least as strong). Time
//   to reach all: the last recipient's time minus t0; not reached by the end:
//   `incomplete`.
// - Own checks (detects, never, status_at, checks, changes): from the
//   world's status records and check counts per (member, configured target).
//   For a truth transition at T (sim/target_model.h) that holds until U (the
//   next transition, or the end of the run), a member's detection delay is
//   the earliest time in [T, U) at which its own status for the target
//   equals the new truth, minus T (0 when it already did at T); a member
//   that never reports it while it holds has no delay. The first transition
//   of a target is at 0, from unknown: the time to a first verdict. The
//   bound of `detects` within N intervals, for a target and a member, is
//     N × interval + 2 × J + timeout      (J: the scheduler's jitter bound)
//   on the member's clock, converted to true time for its drift: after T the
//   k-th check fires by T + k × interval + 2J and reports by + timeout, so N
//   = fall (or rise) plus one or two intervals of slack is a fair bound.
//   Only transitions that hold at least that long are judged.
// - Convergence: the world's converged_since() (every running member sees
//   every running member alive and every other member not alive/suspect),
//   relative to the liveness phase's start; at the end the incarnations of
//   alive members must also agree across views.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <span>

#include "core/scheduler.h"
#include "core/time.h"
#include "sim/clock.h"
#include "sim/cluster_world.h"
#include "sim/target_model.h"

namespace heck::sim {

struct Verdict {
  std::size_t expectation = 0;  // index into ClusterScenario::expectations
  bool pass = false;
  std::string evidence;         // what was seen, with times and members
};

// "12.345 s"
std::string seconds_text(Duration d);

// The world's status records grouped by (member, configured target), each
// group in time order.
class StatusIndex {
 public:
  explicit StatusIndex(const ClusterWorld& world);

  std::span<const StatusRecord* const> of(std::uint32_t member, std::uint32_t target) const {
    const std::size_t k = key(member, target);
    return {sorted_.data() + start_[k], sorted_.data() + start_[k + 1]};
  }
  // The member's own status for the target at true time `at` (a change at
  // `at` counts); unknown before its first.
  HealthStatus status_at(std::uint32_t member, std::uint32_t target, Instant at) const;

 private:
  std::size_t key(std::uint32_t m, std::uint32_t t) const { return static_cast<std::size_t>(m) * targets_ + t; }

  std::size_t targets_;
  std::vector<std::size_t> start_;  // group k is sorted_[start_[k], start_[k + 1])
  std::vector<const StatusRecord*> sorted_;
};

struct Detection {
  std::uint32_t target = 0;
  std::uint32_t member = 0;
  TruthTransition transition;
  Instant held_until;             // next transition, or the end of the run
  std::optional<Duration> delay;  // nullopt: not reported while it held
};

// Detections of every truth transition of every configured target in
// [0, end) by every member, ordered by (target, transition, member).
std::vector<Detection> detect_transitions(const ClusterWorld& world, const StatusIndex& index, Instant end);

// The `detects` bound (see the header comment). REQUIRES: intervals >= 1.
Duration detection_bound(const TargetSpec& spec, int intervals, const SchedulerConfig& config,
                         const NodeClock& clock);

struct Percentiles {
  std::size_t count = 0;
  Duration p50, p99, max;
  // "p50 1.2 s, p99 2.0 s, max 2.1 s (n=12)" or "none"
  std::string describe() const;
};
// Nearest-rank percentiles. The input need not be sorted.
Percentiles percentiles(std::vector<Duration> values);
// The nearest-rank rule of percentiles(), for any figure: fills count, p50,
// p99 and max of a P (value at 1-based rank ceil(q n) of the sorted values).
template <typename P, typename T>
P nearest_rank_percentiles(std::vector<T> values) {
  P p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  auto rank = [&](double q) {
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(k, 1, values.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = values.back();
  return p;
}

struct CrashDetection {
  std::uint32_t member = 0;
  Instant at;
  Instant episode_end;                // the next start of the member, or the end
  std::optional<Duration> first;      // nullopt: undetected
  std::optional<Duration> everywhere; // nullopt: incomplete
  std::size_t observers = 0;          // members that had to mark it dead
  std::size_t marked = 0;             // ... and did within the episode
};

struct FalsePositive {
  Instant at;                 // first report
  std::uint32_t member = 0;
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::suspect;  // suspect or dead
  std::size_t reports = 0;    // observers that reported it
};

struct ClusterMetrics {
  std::vector<CrashDetection> crashes;
  Percentiles first_detection;  // over detected crashes
  Percentiles dead_everywhere;  // over complete crashes
  std::size_t undetected = 0;
  std::size_t incomplete = 0;

  std::vector<FalsePositive> false_positives;  // in order of first report
  std::uint64_t false_suspicions = 0, false_suspicion_reports = 0;
  std::uint64_t false_deaths = 0, false_death_reports = 0;

  double member_seconds = 0;          // running time after metrics_from, summed
  double messages_per_member_s = 0;   // mean (total / member_seconds)
  double bytes_per_member_s = 0;
  double max_messages_per_member_s = 0;  // the busiest member (running >= 1 s)
  double max_bytes_per_member_s = 0;

  Percentiles dissemination;          // time for an update to reach all recipients
  std::size_t updates = 0;
  std::size_t updates_incomplete = 0;

  std::optional<Duration> converged_after;  // since the liveness start (0 when converged before)
  bool incarnations_agree = true;
  std::string incarnation_mismatch;         // the first mismatch, when any
};

// Computes the metrics of a run that ended at `end`.
ClusterMetrics measure(const ClusterWorld& world, Instant end);

// Episodes of `state` (suspect or dead, true or false): distinct (member,
// incarnation) pairs among `members` that some observer in `by` (every other
// member when empty) reported in that state.
std::uint64_t episodes(const ClusterWorld& world, const std::vector<std::uint32_t>& members,
                       const std::vector<std::uint32_t>& by, MemberState state);

// Each running member's view of `subject` at true time `at`, from the
// records: for every running member other than the subject, its state
// (nullopt: it never heard of the subject).
std::vector<std::pair<std::uint32_t, std::optional<MemberState>>> views_at(const ClusterWorld& world,
                                                                           std::uint32_t subject, Instant at);

// Judges the scenario's expectations. `own` (the status index and the
// detections) is needed by the own-check kinds only; without it they fail
// ("not recorded"). `state_converged_after` is the time,
// after the liveness start, since which every running member holds the same
// replicated state (nullopt: not by the end); only state_converges uses it.
// `invariants` (sim/cluster_invariants.h) judges the implicit invariant
// expectations; without it they fail ("not checked").
struct InvariantReport;
struct OwnChecks {
  const StatusIndex* index = nullptr;
  const std::vector<Detection>* detections = nullptr;
};
std::vector<Verdict> judge_cluster(const ClusterWorld& world, const ClusterMetrics& metrics, Instant end,
                                   std::optional<Duration> state_converged_after,
                                   const InvariantReport* invariants = nullptr, OwnChecks own = {});

}  // namespace heck::sim
