#include "core/replicated/health_state.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include <fmt/format.h>

namespace heck {

namespace {

// Writes `value` at `key`, superseding every value there this replica saw.
template <typename V>
Causal<DotMap<std::string, DotFun<V>>> write_key(const Causal<DotMap<std::string, DotFun<V>>>& state,
                                                 const std::string& key, ReplicaId self, V value) {
  return ormap_apply(state, key, [&](const DotFun<V>& s, const CausalContext& c) {
    return mvreg_write(s, c, self, std::move(value));
  });
}

bool spec_ranks_above(const SpecVersion& a, const SpecVersion& b) {
  if (a.written_at != b.written_at) return a.written_at > b.written_at;
  return a.writer < b.writer;
}

}  // namespace

HealthDelta HealthState::put_target(HlcTimestamp at, TargetSpec spec) {
  HealthDelta d;
  const std::string id = spec.id;
  d.registry = write_key(state_.registry, id, self_,
                         SpecVersion{std::make_shared<const TargetSpec>(std::move(spec)), at, self_});
  apply(d);
  return d;
}

HealthDelta HealthState::remove_target(const std::string& id) {
  HealthDelta d;
  d.registry = ormap_remove(state_.registry, id);
  d.observations = ormap_remove(state_.observations, id);
  apply(d);
  return d;
}

HealthDelta HealthState::observe(const std::string& id, Observation o,
                                 const std::function<bool(const Observation&)>& keep) {
  HealthDelta d;
  d.observations = ormap_apply(state_.observations, id, [&](const DotFun<Observation>& s, const CausalContext& c) {
    Causal<DotFun<Observation>> delta;
    const Dot dot = c.next_dot(self_);
    for (const auto& [old, value] : s.entries()) {
      if (!keep || !keep(value)) delta.context.insert(old);
    }
    delta.store.insert(dot, std::move(o));
    delta.context.insert(dot);
    return delta;
  });
  apply(d);
  return d;
}

HealthDelta HealthState::add_to_counter(const std::string& name, std::int64_t amount) {
  HealthDelta d;
  if (counter_add_problem(name, amount)) return d;
  d.counters = ormap_apply(state_.counters, name, [&](const DotFun<std::int64_t>& s, const CausalContext& c) {
    return ccounter_add(s, c, self_, amount);
  });
  apply(d);
  return d;
}

HealthDelta HealthState::drop_observations(const std::string& id,
                                           const std::function<bool(const Observation&)>& drop) {
  HealthDelta d;
  d.observations = ormap_apply(state_.observations, id, [&](const DotFun<Observation>& s, const CausalContext&) {
    Causal<DotFun<Observation>> delta;
    for (const auto& [old, value] : s.entries()) {
      if (drop(value)) delta.context.insert(old);
    }
    return delta;
  });
  apply(d);
  return d;
}

bool HealthState::apply(const HealthDelta& d) {
  const bool g = join_tracking_keys(state_.registry, d.registry, tracking_ ? &registry_changes_ : nullptr);
  const bool o = state_.observations.join(d.observations);
  const bool c = state_.counters.join(d.counters);
  registry_version_ += g ? 1 : 0;
  observations_version_ += o ? 1 : 0;
  counters_version_ += c ? 1 : 0;
  return g || o || c;
}

bool HealthState::join(const HealthDelta& d) { return apply(d); }

std::vector<std::string> HealthState::take_registry_changes() {
  std::vector<std::string> out = std::move(registry_changes_);
  registry_changes_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

template <typename V>
void scoped_join(Causal<DotMap<std::string, DotFun<V>>>& mine, const Causal<DotMap<std::string, DotFun<V>>>& theirs,
                 const std::vector<std::string>& here, bool adopt_context,
                 std::vector<std::string>* changed = nullptr) {
  static const DotFun<V> kEmpty{};
  std::vector<std::string> keys = here;
  for (const auto& [k, fun] : theirs.store.entries()) {
    if (!mine.store.find(k)) keys.push_back(k);
  }
  for (const std::string& k : keys) {
    const DotFun<V>* a = mine.store.find(k);
    const DotFun<V>* b = theirs.store.find(k);
    DotFun<V> joined = DotFun<V>::join(a ? *a : kEmpty, mine.context, b ? *b : kEmpty, theirs.context);
    if (a ? joined == *a : joined.empty()) continue;
    if (changed) changed->push_back(k);
    if (joined.empty()) {
      mine.store.erase(k);
    } else {
      mine.store.put(k, std::move(joined));
    }
  }
  if (adopt_context) {
    mine.context.join(theirs.context);
  } else {
    theirs.store.for_each_dot([&](Dot d) { mine.context.insert(d); });
  }
}

}  // namespace

void HealthState::join_scoped(const HealthDelta& d, const ScopeKeys& here, bool adopt_context) {
  scoped_join(state_.registry, d.registry, here.registry, adopt_context, tracking_ ? &registry_changes_ : nullptr);
  scoped_join(state_.observations, d.observations, here.observations, adopt_context);
  scoped_join(state_.counters, d.counters, here.counters, adopt_context);
  if (!d.registry.store.empty() || !d.registry.context.empty()) ++registry_version_;
  if (!d.counters.store.empty() || !d.counters.context.empty()) ++counters_version_;
  if (!d.observations.store.empty() || !d.observations.context.empty()) ++observations_version_;
}

std::optional<ResolvedTarget> HealthState::target(const std::string& id) const {
  const auto* specs = state_.registry.store.find(id);
  if (!specs) return std::nullopt;
  ResolvedTarget r;
  for (const auto& [dot, v] : specs->entries()) {
    if (!r.spec || spec_ranks_above(v, *r.spec)) r.spec = &v;
  }
  r.spec_siblings = specs->size();
  if (const auto* obs = state_.observations.store.find(id)) {
    for (const auto& [dot, o] : obs->entries()) {
      if (!r.observation || ranks_above(o, *r.observation)) r.observation = &o;
    }
    r.observation_siblings = obs->size();
  }
  return r;
}

std::string vouch_subject(std::string_view member) {
  std::string key;
  key.reserve(member.size() + 1);
  key += '@';
  key += member;
  return key;
}

const Observation* HealthState::vouch_of(std::string_view member) const {
  const auto* obs = state_.observations.store.find(vouch_subject(member));
  if (!obs) return nullptr;
  const Observation* best = nullptr;
  for (const auto& [dot, o] : obs->entries()) {
    if (!best || ranks_above(o, *best)) best = &o;
  }
  return best;
}

std::vector<std::pair<std::string, ResolvedTarget>> HealthState::targets() const {
  std::vector<std::pair<std::string, ResolvedTarget>> out;
  out.reserve(state_.registry.store.size());
  for (const auto& [id, specs] : state_.registry.store.entries()) out.emplace_back(id, *target(id));
  return out;
}

std::int64_t HealthState::counter(const std::string& name) const {
  const auto* c = state_.counters.store.find(name);
  return c ? ccounter_value(c->entries()) : 0;
}

std::optional<std::string> HealthState::counter_add_problem(const std::string& name, std::int64_t amount) const {
  static const DotFun<std::int64_t> kNever{};
  const auto* c = state_.counters.store.find(name);
  if (ccounter_add_fits(c ? *c : kNever, self_, amount)) return std::nullopt;
  const bool up = amount > 0;
  return fmt::format("adding {} to counter '{}' (now {}) would take it past the int64 {} ({}); refused, the counter "
                     "is unchanged",
                     amount, name, counter(name), up ? "maximum" : "minimum",
                     up ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min());
}

}  // namespace heck
