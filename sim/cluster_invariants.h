// The standing invariants of a simulated cluster with targets, checked while
// it runs (a ClusterObserver, sim/cluster_world.h) and judged at the end as
// implicit expectations of the scenario (sim/cluster_scenario.h).
//
// Definitions (true time; "live" = running, not paused, not left; "true
// owners" of a target = the first spec.checkers live members ranked by
// core/ownership/rendezvous.h, all weights 1):
// - Change. A process event (start, crash, stop, pause, resume, leave),
//   a partition, clog or link rule coming or going, the liveness heal. The
//   settle window after a change lasts `settle`: by default the Lifeguard
//   minimum suspicion timeout (suspicion_mult x max(1, log10 n) x probe
//   interval) + 3 probe intervals + the longest target interval (a new owner's
//   first check comes at a random phase within an interval). When a
//   partition or clog ends, the window is settle + push_pull_interval (the
//   sides may need a push-pull to merge again). A put_target opens the same
//   window for that target only; one put while a partition is in force opens
//   it when the partition ends (the other side cannot know it before).
// - Coverage. Outside settle windows, every registered target is checked by
//   one of its true owners at least every interval + 2J + timeout (J: the
//   scheduler's jitter bound, core/scheduler.h), x (1 + 1e-3) for drift.
//   Gaps are measured between check starts; a window cuts the gap (its end is
//   a fresh start), and so does the target's registration.
// - No herd. Outside settle windows, no target is checked by more than
//   r + herd_slack distinct members within any span of one interval (r =
//   spec.checkers). Only check starts outside windows count. While
//   partitions are in force the bound holds per side (connected component of
//   members that hear each other both ways): each side rightly keeps r
//   owners of its own. Without seeds ("seeds": [], every member its own
//   one-member cluster) every member is a side of its own.
// - Agreement. At the end, for every live agent and every target: a deleted
//   target is absent there and not checked; a registered one has a view
//   (ClusterNode::target_view at the agent's local time) whose status equals
//   the truth when the truth has been steady for the target's freshness
//   bound, and otherwise is one of the truths of that last span (a flapping
//   target: agents may lag by at most the bound, never invent a status).
// - Freshness. When a registered target's truth flips at t (and the new truth
//   lasts at least the bound), every agent that is live from t on reports the
//   new status within the bound B = k x (interval + 2J) + timeout + D,
//   k = max(rise, fall), D = max(flush_delay, flush_gap) +
//   2 x anti_entropy_interval + 1 s (or max_freshness_ms). Sampled every
//   sample_every, only for targets with a pending flip, with the same vote
//   rule as target_view (core/cluster/target_view.h: resolve_votes over the
//   agent's observations). A flip is excused (not judged) when a settle
//   window was open at t or a change came after t, or a partition or clog
//   was in force since t; the agreement at the end still holds it.
//
// Cost: O(1) per check start (a small ring per target for no_herd, cached
// true owners per membership epoch), O(targets) per change, O(agents) per
// pending flip per sample, O(agents x targets) once at the end.
//
// The checker also measures, for benchmarks: takeover gaps (crash of a true
// owner -> the first check by a true owner that was not one before the crash,
// per target it owned; a restarted process of the crashed member counts), the
// delay until all agents report a flip, and owner check counts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/health.h"
#include "core/name_table.h"
#include "core/ownership/rendezvous.h"
#include "core/time.h"
#include "sim/cluster_analysis.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"

namespace heck::sim {

// What an agent reports about a target now, by target_view's vote rule
// (core/cluster/target_view.h) over its replicated observations: cheaper
// than a whole view (no ranking). Unknown when it does not hold the target.
HealthStatus agent_status(const ClusterNode& node, NameRef id, int quorum);

// One broken invariant, with what a person needs to replay and look.
struct InvariantViolation {
  Invariant invariant = Invariant::coverage;
  Instant at;                         // when it was seen broken
  std::string target;
  std::vector<std::string> members;   // involved (owners, checkers, agents that disagree)
  std::string what;                   // "no check by a true owner for 3.4 s (bound 1.6 s)"
};

struct InvariantReport {
  static constexpr std::size_t kMaxViolationsKept = 64;  // per invariant; more are counted

  Duration settle;
  Duration sample_every;
  int herd_slack = 1;
  // Per invariant: violations (kept up to kMaxViolationsKept) and counts.
  std::map<Invariant, std::vector<InvariantViolation>> violations;
  std::map<Invariant, std::uint64_t> violation_count;

  // Coverage.
  std::uint64_t checks = 0;              // every check start of a known target
  std::uint64_t owner_checks = 0;        // ... by a true owner
  std::uint64_t gaps_judged = 0;
  Duration max_gap;                      // longest judged gap between owner checks
  // No herd.
  std::size_t max_herd = 0;              // most distinct checkers in one interval, outside windows
  // Agreement.
  std::size_t agents_checked = 0, views_checked = 0;
  std::size_t unsteady_targets = 0;      // judged by the lag rule
  // Freshness.
  std::uint64_t flips = 0, flips_judged = 0, flips_excused = 0, flips_superseded = 0;
  Percentiles agree_delay;               // flip -> every live agent reports it (judged and excused)
  Duration max_freshness_bound;          // the largest bound used
  // Takeovers (crash of a true owner -> first check by a new true owner).
  Percentiles takeover;
  std::uint64_t takeovers_pending = 0;   // never taken over by the end
  std::vector<Duration> takeover_gaps;   // every measured gap
  std::vector<Duration> agree_delays;    // every measured delay

  std::uint64_t count(Invariant i) const;
  // "coverage: 1234 owner checks of 1300, longest gap 1.1 s" etc.
  std::string summary(Invariant i) const;
  // Evidence for the verdict line: the summary, then the first violations.
  std::string evidence(Invariant i) const;
};

class InvariantChecker final : public ClusterObserver {
 public:
  // `scenario` must outlive the checker.
  explicit InvariantChecker(const ClusterScenario& scenario);

  // The default settle window for a scenario (see the header comment).
  static Duration default_settle(const ClusterScenario& s);

  // ClusterObserver.
  void on_process(Instant at, std::uint32_t m, ProcessEvent what) override;
  void on_network(Instant at, const Network& network, std::size_t disruptions) override;
  void on_registry(Instant at, std::uint32_t target, const TargetSpec* spec) override;
  void on_check(Instant at, std::uint32_t m, std::uint32_t target) override;

  // Freshness: call every settings().sample_every of true time (world.now()).
  void sample(const ClusterWorld& world);
  // At the end of the run (world.now()): closes coverage gaps, judges agreement.
  void finish(const ClusterWorld& world);

  const InvariantReport& report() const { return report_; }
  Duration freshness_bound(std::uint32_t target) const;
  Duration coverage_bound(std::uint32_t target) const;

 private:
  struct Recent {
    Instant at;
    std::uint32_t member = 0;
  };
  struct Track {
    TargetSpec spec;                    // current (configured, or the latest put)
    const TargetModel* model = nullptr; // nullptr: every check fails (truth unhealthy)
    bool registered = false;
    bool registered_in_partition = false;  // put while a partition was in force: judged from its end
    Instant registered_at;
    std::optional<Instant> last_owner_check;
    std::uint64_t owners_epoch = UINT64_MAX;
    std::vector<std::uint32_t> owners;  // true owners at owners_epoch
    std::vector<Recent> recent;         // no_herd: check starts in the last interval (bounded)
    std::optional<Instant> takeover_since;  // a true owner crashed then; no new owner has checked yet
    std::vector<std::uint32_t> owners_before;  // the true owners just before that crash
    HealthStatus truth = HealthStatus::unknown;
    std::optional<Instant> next_change;
    // Freshness: the pending flip, if any.
    bool flip_pending = false;
    Instant flip_at;
    HealthStatus flip_to = HealthStatus::unknown;
  };

  void violate(Invariant i, Instant at, const std::string& target, std::vector<std::string> members,
               std::string what);
  void changed(Instant at);
  void close_gaps(Instant at);
  const std::vector<std::uint32_t>& owners(std::uint32_t target);
  std::vector<std::string> names(std::span<const std::uint32_t> members) const;
  bool live(std::uint32_t m) const { return running_[m] && !paused_[m] && !left_[m]; }
  HealthStatus truth_at(const Track& t, Instant at) const;
  Duration jitter(const TargetSpec& spec) const;
  Instant quiet_from(const Track& t) const;
  void note_truth_changes(Instant now);

  const ClusterScenario& scenario_;
  InvariantReport report_;
  Duration settle_;
  std::vector<Track> tracks_;
  std::vector<bool> running_, paused_, left_;
  std::vector<Instant> started_at_;     // the current process's start
  std::vector<std::uint32_t> side_;     // connected component under the partitions in force (0: none)
  std::uint64_t epoch_ = 0;             // bumps whenever the live set changes
  std::uint64_t live_epoch_ = UINT64_MAX;
  std::vector<RankedMember> live_members_;
  std::vector<std::uint32_t> live_index_;  // live_members_[i] is member live_index_[i]
  Instant quiet_start_;                 // end of the latest settle window
  std::optional<Instant> last_change_;
  std::size_t disruptions_ = 0;
  std::optional<Instant> disrupted_until_;  // when the latest disruption ended (Instant::max while one lasts)
  Instant last_sample_;
  bool configured_registered_ = true;   // the configured targets are registered (targets_at started)
};

}  // namespace heck::sim
