#include "sim/cluster_invariants.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "core/cluster/target_view.h"
#include "core/ownership/owner_split.h"
#include "core/small_vector.h"

namespace heck::sim {

namespace {

constexpr std::size_t kMaxRecent = 32;          // no_herd ring per target
constexpr std::size_t kMaxTruthSteps = 10'000;  // truth changes walked per target per call
constexpr std::size_t kMembersListed = 6;       // members named in one violation

std::string at_text(Instant t) { return seconds_text(t - Instant::from_ns(0)); }

}  // namespace

HealthStatus agent_status(const ClusterNode& node, NameRef id, int quorum) {
  const auto& state = node.health_state();
  if (!state.target(id)) return HealthStatus::unknown;
  const auto* obs = state.state().observations.store.find(id);
  if (obs == nullptr) return HealthStatus::unknown;
  return resolve_votes(*obs, quorum);
}

// --- report -------------------------------------------------------------------

std::uint64_t InvariantReport::count(Invariant i) const {
  auto it = violation_count.find(i);
  return it == violation_count.end() ? 0 : it->second;
}

std::string InvariantReport::summary(Invariant i) const {
  switch (i) {
    case Invariant::coverage:
      return fmt::format("{} of {} check starts by true owners; {} gaps judged, longest {} (settle {})", owner_checks,
                         checks, gaps_judged, seconds_text(max_gap), seconds_text(settle));
    case Invariant::no_herd:
      return fmt::format("at most {} distinct checkers of a target in one interval outside settle windows "
                         "(allowed r + {})",
                         max_herd, herd_slack);
    case Invariant::agreement:
      return fmt::format("{} views by {} agents checked at the end; {} targets not steady (lag rule)", views_checked,
                         agents_checked, unsteady_targets);
    case Invariant::freshness:
      return fmt::format("{} flips: {} judged, {} excused (changes or partitions), {} superseded; every agent "
                         "reports a flip {}; largest bound {}",
                         flips, flips_judged, flips_excused, flips_superseded, agree_delay.describe(),
                         seconds_text(max_freshness_bound));
  }
  return "?";
}

std::string InvariantReport::evidence(Invariant i) const {
  std::string out = summary(i);
  const std::uint64_t n = count(i);
  if (n == 0) return out;
  fmt::format_to(std::back_inserter(out), "; {} violations", n);
  auto it = violations.find(i);
  if (it == violations.end()) return out;
  std::size_t shown = 0;
  for (const InvariantViolation& v : it->second) {
    if (shown++ == 3) break;
    fmt::format_to(std::back_inserter(out), "; {} at {}: {} [{}]", v.target, at_text(v.at), v.what,
                   fmt::join(v.members, ", "));
  }
  return out;
}

// --- checker --------------------------------------------------------------------

Duration InvariantChecker::default_settle(const ClusterScenario& s) {
  const double n = static_cast<double>(std::max<std::size_t>(1, s.members.size()));
  const double factor = std::max(1.0, std::log10(n));
  const Duration suspicion = Duration::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(s.swim.suspicion_mult) * factor * static_cast<double>(s.swim.probe_interval.ns())));
  Duration max_interval = Duration::zero();
  for (std::size_t t = 0; t < s.target_count(); ++t) max_interval = std::max(max_interval, s.target_spec(t).interval);
  return suspicion + s.swim.probe_interval * 3 + max_interval;
}

InvariantChecker::InvariantChecker(const ClusterScenario& scenario) : scenario_(scenario) {
  settle_ = scenario.invariants.settle.value_or(default_settle(scenario));
  report_.settle = settle_;
  report_.sample_every = scenario.invariants.sample_every;
  report_.herd_slack = scenario.invariants.herd_slack;
  const std::size_t n = scenario.members.size();
  running_.assign(n, false);
  paused_.assign(n, false);
  left_.assign(n, false);
  started_at_.assign(n, Instant::from_ns(0));
  side_.assign(n, 0);
  if (scenario.seeds.empty()) std::iota(side_.begin(), side_.end(), 0u);  // every member alone
  const Instant zero = Instant::from_ns(0);
  tracks_.resize(scenario.target_count());
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    t.spec = scenario.target_spec(i);
    t.model = scenario.target_model(i);
    if (i < scenario.targets.size() && scenario.targets_at.empty()) {
      t.registered = true;
      t.registered_at = zero;
      t.truth = truth_at(t, zero);
      t.next_change = t.model->next_change(zero);
    }
  }
  configured_registered_ = scenario.targets_at.empty();
  quiet_start_ = zero + settle_;
  last_change_ = zero;
  last_sample_ = zero;
}

Duration InvariantChecker::jitter(const TargetSpec& spec) const {
  const double f = scenario_.scheduler.jitter_fraction;
  const Duration by_fraction = Duration::nanoseconds(static_cast<std::int64_t>(f * static_cast<double>(spec.interval.ns())));
  const Duration room = (spec.interval - spec.timeout) / 2;
  return std::max(Duration::zero(), std::min(by_fraction, room));
}

Duration InvariantChecker::coverage_bound(std::uint32_t target) const {
  const TargetSpec& s = tracks_[target].spec;
  const Duration grid = s.interval + jitter(s) * 2;
  return grid + grid / 1000 + s.timeout;
}

Duration InvariantChecker::freshness_bound(std::uint32_t target) const {
  if (scenario_.invariants.max_freshness) return *scenario_.invariants.max_freshness;
  const TargetSpec& s = tracks_[target].spec;
  const int k = std::max({1, int{s.rise}, int{s.fall}});
  const Duration dissemination =
      std::max(scenario_.replication.flush_delay, scenario_.replication.flush_gap) +
      scenario_.replication.anti_entropy_interval * 2 + Duration::seconds(1);
  return (s.interval + jitter(s) * 2) * k + s.timeout + dissemination;
}

HealthStatus InvariantChecker::truth_at(const Track& t, Instant at) const {
  return t.model == nullptr ? HealthStatus::unhealthy : t.model->truth_at(at);
}

Instant InvariantChecker::quiet_from(const Track& t) const {
  Instant from = std::max(quiet_start_, t.registered_at + settle_);
  if (t.last_owner_check) from = std::max(from, *t.last_owner_check);
  return from;
}

std::vector<std::string> InvariantChecker::names(std::span<const std::uint32_t> members) const {
  std::vector<std::string> out;
  for (std::uint32_t m : members) {
    if (out.size() == kMembersListed) {
      out.push_back(fmt::format("... {} more", members.size() - kMembersListed));
      break;
    }
    out.push_back(scenario_.members[m].name);
  }
  return out;
}

void InvariantChecker::violate(Invariant i, Instant at, const std::string& target, std::vector<std::string> members,
                               std::string what) {
  ++report_.violation_count[i];
  auto& kept = report_.violations[i];
  if (kept.size() < InvariantReport::kMaxViolationsKept) {
    kept.push_back(InvariantViolation{i, at, target, std::move(members), std::move(what)});
  }
}

const std::vector<std::uint32_t>& InvariantChecker::owners(std::uint32_t target) {
  Track& t = tracks_[target];
  if (t.owners_epoch == epoch_) return t.owners;
  if (live_epoch_ != epoch_) {
    live_members_.clear();
    live_index_.clear();
    for (std::uint32_t m = 0; m < running_.size(); ++m) {
      if (!live(m)) continue;
      live_members_.push_back(RankedMember{scenario_.members[m].name, 1.0});
      live_index_.push_back(m);
    }
    live_epoch_ = epoch_;
  }
  const std::size_t r = owner_count(t.spec.checkers);
  t.owners.clear();
  if (!live_members_.empty()) {
    for (std::size_t i : rank_members(t.spec.id, live_members_, r)) t.owners.push_back(live_index_[i]);
  }
  t.owners_epoch = epoch_;
  return t.owners;
}

// --- events ------------------------------------------------------------------------

void InvariantChecker::close_gaps(Instant at) {
  if (!scenario_.invariants.judged(Invariant::coverage)) return;
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    if (!t.registered || t.registered_in_partition) continue;
    const Instant from = quiet_from(t);
    if (at <= from) continue;
    const Duration gap = at - from;
    const Duration bound = coverage_bound(i);
    if (gap > bound) {
      ++report_.gaps_judged;
      report_.max_gap = std::max(report_.max_gap, gap);
      violate(Invariant::coverage, at, t.spec.id, names(owners(i)),
              fmt::format("no check by a true owner (listed) since {} ({} > bound {}){}", at_text(from),
                          seconds_text(gap), seconds_text(bound),
                          t.last_owner_check ? "" : "; never checked by an owner"));
    }
  }
}

void InvariantChecker::changed(Instant at) {
  close_gaps(at);
  quiet_start_ = std::max(quiet_start_, at + settle_);
  last_change_ = at;
}

void InvariantChecker::on_process(Instant at, std::uint32_t m, ProcessEvent what) {
  if (what == ProcessEvent::crash || what == ProcessEvent::stop) {
    // Takeovers: every target this member truly owned now needs a new owner.
    if (live(m)) {
      for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
        Track& t = tracks_[i];
        if (!t.registered || t.takeover_since) continue;
        const auto& o = owners(i);
        if (std::find(o.begin(), o.end(), m) != o.end()) {
          t.takeover_since = at;
          t.owners_before = o;
          std::erase(t.owners_before, m);
        }
      }
    }
  }
  changed(at);  // closes gaps with the membership before the event
  switch (what) {
    case ProcessEvent::start:
      // Configured targets count from the first start of a member configured with them.
      if (!configured_registered_ && std::find(scenario_.targets_at.begin(), scenario_.targets_at.end(), m) !=
                                         scenario_.targets_at.end()) {
        configured_registered_ = true;
        for (std::uint32_t i = 0; i < scenario_.targets.size(); ++i) {
          if (!tracks_[i].registered) on_registry(at, i, &scenario_.targets[i].spec());
        }
      }
      running_[m] = true;
      paused_[m] = false;
      left_[m] = false;
      started_at_[m] = at;
      break;
    case ProcessEvent::crash:
    case ProcessEvent::stop:
      running_[m] = false;
      paused_[m] = false;
      left_[m] = false;
      break;
    case ProcessEvent::pause: paused_[m] = true; break;
    case ProcessEvent::resume: paused_[m] = false; break;
    case ProcessEvent::leave: left_[m] = true; break;
  }
  ++epoch_;
}

void InvariantChecker::on_network(Instant at, const Network& network, std::size_t disruptions) {
  const bool ended = disruptions < disruptions_;
  if (disruptions > 0) {
    disrupted_until_ = Instant::max();
  } else if (disruptions_ > 0) {
    disrupted_until_ = at;
    for (Track& t : tracks_) {
      if (t.registered && t.registered_in_partition) {
        t.registered_in_partition = false;
        t.registered_at = at;
        t.last_owner_check.reset();
        t.recent.clear();
      }
    }
  }
  disruptions_ = disruptions;
  changed(at);
  if (ended) quiet_start_ = std::max(quiet_start_, at + settle_ + scenario_.swim.push_pull_interval);
  // Sides: members that hear each other both ways, transitively (without
  // seeds every member stays a side of its own).
  if (scenario_.seeds.empty()) return;
  const std::size_t n = side_.size();
  if (network.active_partitions() == 0) {
    std::fill(side_.begin(), side_.end(), 0u);
    return;
  }
  std::iota(side_.begin(), side_.end(), 0u);
  const auto find = [&](std::uint32_t x) {
    while (side_[x] != x) x = side_[x] = side_[side_[x]];
    return x;
  };
  for (std::uint32_t a = 0; a < n; ++a) {
    for (std::uint32_t b = a + 1; b < n; ++b) {
      if (network.partitioned(a, b) || network.partitioned(b, a)) continue;
      const std::uint32_t ra = find(a), rb = find(b);
      if (ra != rb) side_[std::max(ra, rb)] = std::min(ra, rb);
    }
  }
  for (std::uint32_t a = 0; a < n; ++a) side_[a] = find(a);
}

void InvariantChecker::on_registry(Instant at, std::uint32_t target, const TargetSpec* spec) {
  Track& t = tracks_[target];
  if (spec == nullptr) {
    if (!t.registered) return;
    // Close this target's coverage gap, then stop judging it.
    if (scenario_.invariants.judged(Invariant::coverage) && !t.registered_in_partition) {
      const Instant from = quiet_from(t);
      if (at > from && at - from > coverage_bound(target)) {
        violate(Invariant::coverage, at, t.spec.id, names(owners(target)),
                fmt::format("no check by a true owner since {} (bound {}) until it was deleted", at_text(from),
                            seconds_text(coverage_bound(target))));
      }
    }
    t.registered = false;
    t.flip_pending = false;
    t.takeover_since.reset();
    t.recent.clear();
    return;
  }
  if (t.registered && t.spec == *spec) return;
  t.spec = *spec;
  t.registered = true;
  t.registered_at = at;
  t.registered_in_partition = disruptions_ > 0;
  t.last_owner_check.reset();
  t.owners_epoch = UINT64_MAX;
  t.recent.clear();
  t.flip_pending = false;
  t.truth = truth_at(t, at);
  t.next_change = t.model == nullptr ? std::nullopt : t.model->next_change(at);
}

void InvariantChecker::on_check(Instant at, std::uint32_t m, std::uint32_t target) {
  ++report_.checks;
  Track& t = tracks_[target];
  if (!t.registered) return;
  const auto& o = owners(target);
  const bool owner = std::find(o.begin(), o.end(), m) != o.end();
  const Instant quiet = t.registered_in_partition ? Instant::max() : std::max(quiet_start_, t.registered_at + settle_);
  if (owner) {
    ++report_.owner_checks;
    const Instant from = quiet_from(t);
    if (at >= quiet && at > from && scenario_.invariants.judged(Invariant::coverage)) {
      const Duration gap = at - from;
      ++report_.gaps_judged;
      report_.max_gap = std::max(report_.max_gap, gap);
      const Duration bound = coverage_bound(target);
      if (gap > bound) {
        violate(Invariant::coverage, at, t.spec.id, names(o),
                fmt::format("no check by a true owner (listed) since {} ({} > bound {})", at_text(from),
                            seconds_text(gap), seconds_text(bound)));
      }
    }
    t.last_owner_check = at;
    const bool was_owner = std::find(t.owners_before.begin(), t.owners_before.end(), m) != t.owners_before.end();
    if (t.takeover_since && !was_owner) {
      report_.takeover_gaps.push_back(at - *t.takeover_since);
      t.takeover_since.reset();
    }
  }
  if (at < quiet || !scenario_.invariants.judged(Invariant::no_herd)) return;
  // No herd: distinct checkers in (at - interval, at], outside windows.
  const Instant since = at - t.spec.interval;
  std::erase_if(t.recent, [&](const Recent& r) { return r.at <= since || r.at < quiet; });
  if (t.recent.size() == kMaxRecent) t.recent.erase(t.recent.begin());
  t.recent.push_back(Recent{at, m});
  // Distinct checkers on the side of this one (in place: this runs for
  // every check of the run).
  SmallVector<std::uint32_t, 8> distinct;
  for (const Recent& r : t.recent) {
    if (side_[r.member] != side_[m]) continue;
    if (std::find(distinct.begin(), distinct.end(), r.member) == distinct.end()) distinct.push_back(r.member);
  }
  report_.max_herd = std::max(report_.max_herd, distinct.size());
  const auto allowed = owner_count(t.spec.checkers) + static_cast<std::size_t>(scenario_.invariants.herd_slack);
  if (distinct.size() > allowed) {
    violate(Invariant::no_herd, at, t.spec.id, names(distinct),
            fmt::format("{} distinct members{} checked it within one interval ({}; allowed {}); true owners [{}]",
                        distinct.size(), disruptions_ > 0 ? " on one side of the partition" : "",
                        seconds_text(t.spec.interval), allowed, fmt::join(names(o), ", ")));
    t.recent.clear();  // one report per incident
  }
}

// --- freshness ---------------------------------------------------------------------

void InvariantChecker::note_truth_changes(Instant now) {
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    if (!t.registered) continue;
    for (std::size_t steps = 0; t.next_change && *t.next_change <= now && steps < kMaxTruthSteps; ++steps) {
      const Instant c = *t.next_change;
      const HealthStatus to = truth_at(t, c);
      if (to != t.truth) {
        ++report_.flips;
        if (t.flip_pending) ++report_.flips_superseded;
        t.flip_pending = true;
        t.flip_at = c;
        t.flip_to = to;
        t.truth = to;
      }
      t.next_change = t.model->next_change(c);
    }
  }
}

void InvariantChecker::sample(const ClusterWorld& world) {
  const Instant now = world.now();
  last_sample_ = now;
  note_truth_changes(now);
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    if (!t.flip_pending) continue;
    const Duration bound = freshness_bound(i);
    report_.max_freshness_bound = std::max(report_.max_freshness_bound, bound);
    // The agents that are live and have been since the flip.
    std::vector<std::uint32_t> lagging;
    std::vector<HealthStatus> lagging_status;
    for (std::uint32_t m = 0; m < world.member_count(); ++m) {
      if (!live(m) || started_at_[m] > t.flip_at || world.node(m) == nullptr) continue;
      const HealthStatus s = agent_status(*world.node(m), t.spec.id, t.spec.quorum);
      if (s != t.flip_to) {
        lagging.push_back(m);
        lagging_status.push_back(s);
        if (now - t.flip_at <= bound) break;  // not due yet: one is enough to wait
      }
    }
    if (lagging.empty()) {
      report_.agree_delays.push_back(now - t.flip_at);
      ++report_.flips_judged;
      t.flip_pending = false;
      continue;
    }
    if (now - t.flip_at <= bound) continue;
    t.flip_pending = false;
    // Excused: a settle window was open at the flip or a change came after
    // it, or a partition or clog was in force since.
    const bool excused = quiet_start_ > t.flip_at || (last_change_ && *last_change_ >= t.flip_at) ||
                         (disrupted_until_ && *disrupted_until_ >= t.flip_at) ||
                         t.flip_at < t.registered_at + settle_;
    if (excused) {
      ++report_.flips_excused;
      continue;
    }
    ++report_.flips_judged;
    if (!scenario_.invariants.judged(Invariant::freshness)) continue;
    std::vector<std::string> who = names(lagging);
    violate(Invariant::freshness, now, t.spec.id, who,
            fmt::format("turned {} at {}; after {} (bound {}) {} agents (listed) still report otherwise, the "
                        "first {}",
                        to_string(t.flip_to), at_text(t.flip_at), seconds_text(now - t.flip_at),
                        seconds_text(bound), lagging.size(), to_string(lagging_status.front())));
  }
}

// --- the end ---------------------------------------------------------------------------

void InvariantChecker::finish(const ClusterWorld& world) {
  const Instant now = world.now();
  sample(world);
  if (now > quiet_start_) close_gaps(now);
  report_.takeover = percentiles(report_.takeover_gaps);
  report_.agree_delay = percentiles(report_.agree_delays);
  for (const Track& t : tracks_) report_.takeovers_pending += t.takeover_since.has_value();

  std::vector<std::uint32_t> agents;
  for (std::uint32_t m = 0; m < world.member_count(); ++m) {
    if (live(m) && world.node(m) != nullptr) agents.push_back(m);
  }
  report_.agents_checked = agents.size();
  const bool judged = scenario_.invariants.judged(Invariant::agreement);
  // The truths of each target's last bound (the steady rule and the lag rule).
  std::vector<std::set<HealthStatus>> truths_of(tracks_.size());
  std::vector<Duration> bounds(tracks_.size());
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    const Duration bound = bounds[i] = freshness_bound(i);
    const Instant from = now - bound > Instant::from_ns(0) ? now - bound : Instant::from_ns(0);
    std::set<HealthStatus>& truths = truths_of[i];
    truths.insert(truth_at(t, from));
    if (t.model != nullptr) {
      std::optional<Instant> c = t.model->next_change(from);
      for (std::size_t steps = 0; c && *c <= now && steps < kMaxTruthSteps; ++steps) {
        truths.insert(t.model->truth_at(*c));
        c = t.model->next_change(*c);
      }
    }
    if (t.registered && truths.size() > 1) ++report_.unsteady_targets;
  }
  // The common case first, agent by agent (one agent's state stays in
  // cache across its targets), without building views: registered here
  // and reporting a truth (the status rule of target_view.h).
  std::vector<std::uint8_t> agrees(tracks_.size() * agents.size(), 0);
  // The ids as the agents hold them (their keys' table): each lookup below
  // matches a key by its entry, without hashing or comparing the text.
  std::vector<Name> ids;
  ids.reserve(tracks_.size());
  for (const Track& t : tracks_) ids.push_back(world.key_names().find(t.spec.id));
  for (std::size_t a = 0; a < agents.size(); ++a) {
    const ClusterNode& node = *world.node(agents[a]);
    for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
      if (!tracks_[i].registered) continue;
      const auto status = node.target_status(ids[i]);
      agrees[i * agents.size() + a] = status && truths_of[i].contains(*status);
    }
  }
  for (std::uint32_t i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    const Duration bound = bounds[i];
    const std::set<HealthStatus>& truths = truths_of[i];
    std::vector<std::uint32_t> wrong;
    std::string first;
    for (std::size_t a = 0; a < agents.size(); ++a) {
      const std::uint32_t m = agents[a];
      ++report_.views_checked;
      if (agrees[i * agents.size() + a]) continue;
      const ClusterNode& node = *world.node(m);
      const Instant local = world.clock(m).local(now);
      const auto view = node.target_view(t.spec.id, local);
      std::string problem;
      if (!t.registered) {
        if (view) problem = "still registered after its deletion";
        if (node.checks(t.spec.id)) problem = "still checked after its deletion";
      } else if (!view) {
        problem = "not in its registry";
      } else if (!truths.contains(view->status)) {
        problem = truths.size() == 1
                      ? fmt::format("reports {}, the truth is {}", to_string(view->status), to_string(*truths.begin()))
                      : fmt::format("reports {}, not a truth of the last {}", to_string(view->status),
                                    seconds_text(bound));
        if (view->unhealthy_votes + view->healthy_votes > 0) {
          problem += fmt::format(" ({} unhealthy / {} healthy votes, quorum {})", view->unhealthy_votes,
                                 view->healthy_votes, view->quorum);
        }
      }
      if (problem.empty()) continue;
      if (wrong.empty()) first = fmt::format("{}: {}", scenario_.members[m].name, problem);
      wrong.push_back(m);
    }
    if (!wrong.empty() && judged) {
      violate(Invariant::agreement, now, t.spec.id, names(wrong),
              fmt::format("{} of {} agents (listed) disagree; {}", wrong.size(), agents.size(), first));
    }
  }
}

}  // namespace heck::sim
