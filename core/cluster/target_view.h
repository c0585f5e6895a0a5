// What any agent answers about a target: the replicated spec and
// observations, resolved into one status, with the ownership and freshness
// facts a person or a script needs. Pure: built from a ClusterNode's state
// and the agent's own time (ClusterNode::target_view / target_views).
//
// Status (the confirmation rule; one rule for every target):
//   The votes are the live observations (the siblings of the target's
//   multi-value register), one per member: its newest. Owners write so that
//   each current owner keeps one observation of its own (ClusterNode): with
//   `checkers` = r there are up to r votes, plus transient siblings from a
//   partition or a takeover. A member's own observations are causally
//   ordered except across its restart: the new incarnation (a new replica id)
//   writes its first result before it has seen the old one's, and both stay
//   as siblings until it supersedes the old one. Its newer observation is
//   its opinion (both were stamped on the same host's clock), so the old one
//   is outvoted at once instead of deciding the status until then.
//   - unhealthy  when at least `quorum` votes say unhealthy (quorum = 1 by
//                default: any owner's failure is reported);
//   - healthy    otherwise, when some vote says healthy;
//   - unknown    otherwise (no observation yet, or every vote unknown).
//   With quorum q > 1, one owner's bad vantage point raises no alarm: the
//   target shows healthy with unhealthy_votes = 1 until q owners agree.
//
// Freshness: an owner writes an observation when the status changes or when
//   its write would otherwise change the state (its own observation is
//   missing, or has siblings it supersedes), and vouches for all its
//   observations every observation_refresh with one write (health_state.h:
//   vouch_subject). An observation is reported at its own time or, when its
//   observer is a current owner here and has vouched since (same replica),
//   at the vouch's time. The target is `stale` when its newest report is
//   older than observation_refresh + stale_intervals x interval (or when it
//   has no observation and the spec is older than that): no owner has
//   reported for that long. An observation by a member that no longer owns
//   the target is not renewed by its vouches, so it ages. Age is measured on
//   this agent's clock against the reporter's HLC wall time (clamped at 0:
//   skew can make a report look young, never negative).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/health.h"
#include "core/replicated/health_state.h"
#include "core/replicated/observation.h"
#include "core/target_spec.h"
#include "core/time.h"

namespace heck {

struct TargetView {
  std::string id;
  std::shared_ptr<const TargetSpec> spec;  // the winning spec version (never null)
  std::size_t spec_siblings = 1;           // concurrent spec versions (1 = none)
  HlcTimestamp spec_written_at;

  HealthStatus status = HealthStatus::unknown;  // the rule above
  std::size_t unhealthy_votes = 0;
  std::size_t healthy_votes = 0;
  int quorum = 1;

  // Live observations: the votes best first by the sibling rule
  // (observation.h), then the outvoted ones (older ones of a voting member).
  std::vector<Observation> observations;
  // The newest observation (greatest observed_at), if any.
  std::optional<Observation> newest;
  // The newest report: an observation's time, or its owner's vouch for it
  // (above); nullopt when no observation.
  std::optional<HlcTimestamp> reported_at;
  // now - reported_at wall time (>= 0); nullopt when no observation.
  std::optional<Duration> age;
  bool stale = false;

  // Owners first (spec.checkers of them), then fallbacks, in priority order
  // over this agent's live members.
  std::vector<std::string> owners;
  std::vector<std::string> fallbacks;  // at most ClusterNodeConfig::view_fallbacks
  bool checked_here = false;           // this agent checks it now
};

struct TargetViewRules {
  Duration observation_refresh = Duration::seconds(30);
  int stale_intervals = 3;
};

// True when another observation of `o`'s member in `observations` is newer
// (greater observed_at; at equal times, the sibling rule): `o` is no vote.
bool outvoted(const Observation& o, const std::vector<Observation>& observations);

// Resolves votes into a status (the rule above; outvoted observations are
// not counted).
HealthStatus resolve_votes(const std::vector<Observation>& observations, int quorum, std::size_t* unhealthy_votes,
                           std::size_t* healthy_votes);
// The same over a target's replicated siblings, read in place (no copies).
HealthStatus resolve_votes(const DotFun<Observation>& siblings, int quorum);

// Builds the view of target `id` from the replicated state; nullopt when the
// registry does not hold it. `ranked` is the target's ranking over this
// agent's live members (best first); `now` is this agent's time.
std::optional<TargetView> make_target_view(const HealthState& state, NameRef id,
                                           std::vector<std::string> ranked, std::size_t max_fallbacks,
                                           bool checked_here, Instant now, const TargetViewRules& rules);

}  // namespace heck
