#include "core/cluster/target_view.h"

#include <algorithm>

#include "core/ownership/owner_split.h"

namespace heck {

namespace {

// The voting rule over any range whose elements `get` maps to observations:
// a vector of them (a view), or a DotFun's entries (the replicated siblings,
// read in place: no copies on the hot path of status queries).
template <typename Range, typename Get>
bool outvoted_in(const Observation& o, const Range& observations, Get get) {
  return std::any_of(observations.begin(), observations.end(), [&](const auto& e) {
    const Observation& p = get(e);
    if (&p == &o || p.observer_name != o.observer_name) return false;
    return p.observed_at != o.observed_at ? p.observed_at > o.observed_at : ranks_above(p, o);
  });
}

template <typename Range, typename Get>
HealthStatus resolve_in(const Range& observations, Get get, int quorum, std::size_t* unhealthy_votes,
                        std::size_t* healthy_votes) {
  std::size_t bad = 0, good = 0;
  for (const auto& e : observations) {
    const Observation& o = get(e);
    if (outvoted_in(o, observations, get)) continue;
    if (o.status == HealthStatus::unhealthy) ++bad;
    if (o.status == HealthStatus::healthy) ++good;
  }
  if (unhealthy_votes) *unhealthy_votes = bad;
  if (healthy_votes) *healthy_votes = good;
  const std::size_t q = static_cast<std::size_t>(std::max(1, quorum));
  if (bad >= q) return HealthStatus::unhealthy;
  if (good > 0) return HealthStatus::healthy;
  return HealthStatus::unknown;
}

const Observation& itself(const Observation& o) { return o; }
const Observation& value_of(const DotFun<Observation>::Entry& e) { return e.second; }

}  // namespace

bool outvoted(const Observation& o, const std::vector<Observation>& observations) {
  return outvoted_in(o, observations, itself);
}

HealthStatus resolve_votes(const std::vector<Observation>& observations, int quorum, std::size_t* unhealthy_votes,
                           std::size_t* healthy_votes) {
  return resolve_in(observations, itself, quorum, unhealthy_votes, healthy_votes);
}

HealthStatus resolve_votes(const DotFun<Observation>& siblings, int quorum) {
  return resolve_in(siblings.entries(), value_of, quorum, nullptr, nullptr);
}

std::optional<TargetView> make_target_view(const HealthState& state, NameRef id,
                                           std::vector<std::string> ranked, std::size_t max_fallbacks,
                                           bool checked_here, Instant now, const TargetViewRules& rules) {
  const auto resolved = state.target(id);
  if (!resolved || !resolved->spec || !resolved->spec->spec) return std::nullopt;
  TargetView v;
  v.id = id.text();
  v.spec = resolved->spec->spec;
  v.spec_siblings = resolved->spec_siblings;
  v.spec_written_at = resolved->spec->written_at;
  v.quorum = v.spec->quorum;
  v.checked_here = checked_here;

  if (const auto* obs = state.state().observations.store.find(id)) {
    v.observations.reserve(obs->size());
    for (const auto& [dot, o] : obs->entries()) v.observations.push_back(o);
  }
  std::sort(v.observations.begin(), v.observations.end(),
            [](const Observation& a, const Observation& b) { return ranks_above(a, b); });
  // The votes first, then a member's older observations it has outvoted.
  std::vector<bool> is_vote(v.observations.size());
  for (std::size_t i = 0; i < v.observations.size(); ++i) is_vote[i] = !outvoted(v.observations[i], v.observations);
  std::vector<Observation> ordered;
  ordered.reserve(v.observations.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < v.observations.size(); ++i) {
      if (is_vote[i] == (pass == 0)) ordered.push_back(v.observations[i]);
    }
  }
  v.observations = std::move(ordered);
  v.status = resolve_votes(v.observations, v.quorum, &v.unhealthy_votes, &v.healthy_votes);

  OwnerSplit split = split_owners(std::move(ranked), v.spec->checkers, max_fallbacks);
  v.owners = std::move(split.owners);
  v.fallbacks = std::move(split.fallbacks);

  std::optional<HlcTimestamp> reported;
  for (const Observation& o : v.observations) {
    if (!v.newest || o.observed_at > v.newest->observed_at) v.newest = o;
    HlcTimestamp at = o.observed_at;
    // A current owner's vouch, by the same replica, renews its observation.
    if (std::find(v.owners.begin(), v.owners.end(), o.observer_name) != v.owners.end()) {
      const Observation* vouch = state.vouch_of(o.observer_name);
      if (vouch && vouch->observer == o.observer && vouch->observed_at > at) at = vouch->observed_at;
    }
    if (!reported || at > *reported) reported = at;
  }
  v.reported_at = reported;
  const Duration interval = v.spec->interval;
  const Duration stale_after = rules.observation_refresh + interval * std::max(0, rules.stale_intervals);
  const auto age_since = [&](HlcTimestamp t) {
    const std::int64_t wall_ms = static_cast<std::int64_t>(t.wall_ms());
    return std::max(Duration::zero(), now - Instant::from_ns(wall_ms * 1'000'000));
  };
  if (reported) {
    v.age = age_since(*reported);
    v.stale = *v.age > stale_after;
  } else {
    v.stale = age_since(v.spec_written_at) > stale_after;
  }
  return v;
}

}  // namespace heck
