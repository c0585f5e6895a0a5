#include "core/replicated/health_state.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include <fmt/format.h>

namespace heck {

namespace {

// Writes `value` at `key`, superseding every value there this replica saw.
template <typename V>
Causal<DotMap<Name, DotFun<V>>> write_key(const Causal<DotMap<Name, DotFun<V>>>& state, const Name& key,
                                          ReplicaId self, V value) {
  return ormap_apply(state, key, [&](const DotFun<V>& s, const CausalContext& c) {
    return mvreg_write(s, c, self, std::move(value));
  });
}

bool spec_ranks_above(const SpecVersion& a, const SpecVersion& b) {
  if (a.written_at != b.written_at) return a.written_at > b.written_at;
  return a.writer < b.writer;
}

// The dots of `id`'s observations and alert records this state holds: a
// removal of the target forgets them.
void forget_target_records(const HealthDelta& state, const std::string& id, HealthDelta& d) {
  d.observations = ormap_remove(state.observations, id);
  // Its alert records: keys id + "/" + route sort in [id + "/", id + "0").
  const auto& alerts = state.alerts.store.entries();
  for (auto it = alerts.lower_bound(id + "/"), end = alerts.lower_bound(id + "0"); it != end; ++it) {
    it->second.for_each_dot([&](Dot x) { d.alerts.context.insert(x); });
  }
}

}  // namespace

const SpecVersion* winning_version(const DotFun<SpecVersion>& specs) {
  const SpecVersion* best = nullptr;
  for (const auto& [dot, v] : specs.entries()) {
    if (!best || spec_ranks_above(v, *best)) best = &v;
  }
  return best;
}

std::size_t registered_targets(const RegistryStore& registry) {
  std::size_t n = 0;
  for (const auto& [id, specs] : registry.entries()) {
    const SpecVersion* w = winning_version(specs);
    n += w && w->spec ? 1 : 0;
  }
  return n;
}

HealthDelta HealthState::put_target(HlcTimestamp at, TargetSpec spec) {
  HealthDelta d;
  const Name id = names_->intern(spec.id);
  spec.id = id;  // the key's text, not a copy of it
  d.registry = write_key(state_.registry, id, self_,
                         SpecVersion{std::make_shared<const TargetSpec>(std::move(spec)), at, self_});
  apply(d);
  return d;
}

HealthDelta HealthState::remove_target(HlcTimestamp at, const std::string& id) {
  HealthDelta d;
  d.registry = write_key(state_.registry, names_->intern(id), self_, SpecVersion{nullptr, at, self_});
  forget_target_records(state_, id, d);
  apply(d);
  return d;
}

HealthDelta HealthState::forget_target(const std::string& id) {
  HealthDelta d;
  d.registry = ormap_remove(state_.registry, id);
  forget_target_records(state_, id, d);
  apply(d);
  return d;
}

HealthDelta HealthState::expire_removals(std::uint64_t expire_before_ms, std::size_t max_removals) {
  HealthDelta d;
  const auto& order = removals_.order();
  for (auto it = order.begin(); it != order.end() && max_removals > 0; ++it, --max_removals) {
    if (HlcTimestamp{it->first}.wall_ms() >= expire_before_ms) break;
    if (const auto* fun = state_.registry.store.find(it->second)) {
      fun->for_each_dot([&](Dot x) { d.registry.context.insert(x); });
    }
  }
  if (!d.registry.context.empty()) apply(d);
  return d;
}

void KeyTimeOrder::set(const std::string& key, std::optional<std::uint64_t> time) {
  if (auto it = time_.find(key); it != time_.end()) {
    order_.erase({it->second, key});
    time_.erase(it);
  }
  if (time) {
    time_.emplace(key, *time);
    order_.emplace(*time, key);
  }
}

std::optional<HlcTimestamp> KeyTimeOrder::oldest() const {
  if (order_.empty()) return std::nullopt;
  return HlcTimestamp{order_.begin()->first};
}

void HealthState::index_removals(const std::vector<Name>& keys, std::size_t from) {
  for (std::size_t i = from; i < keys.size(); ++i) {
    const auto* fun = state_.registry.store.find(keys[i]);
    const SpecVersion* winner = fun ? winning_version(*fun) : nullptr;
    removals_.set(keys[i], winner && !winner->spec ? std::optional(winner->written_at.packed) : std::nullopt);
  }
}

HealthDelta HealthState::observe(const std::string& id, Observation o,
                                 const std::function<bool(const Observation&)>& keep) {
  HealthDelta d;
  d.observations = ormap_apply(state_.observations, names_->intern(id), [&](const DotFun<Observation>& s, const CausalContext& c) {
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
  d.counters = ormap_apply(state_.counters, names_->intern(name), [&](const DotFun<std::int64_t>& s, const CausalContext& c) {
    return ccounter_add(s, c, self_, amount);
  });
  apply(d);
  return d;
}

HealthDelta HealthState::drop_observations(const std::string& id,
                                           const std::function<bool(const Observation&)>& drop) {
  HealthDelta d;
  d.observations = ormap_apply(state_.observations, names_->intern(id), [&](const DotFun<Observation>& s, const CausalContext&) {
    Causal<DotFun<Observation>> delta;
    for (const auto& [old, value] : s.entries()) {
      if (drop(value)) delta.context.insert(old);
    }
    return delta;
  });
  apply(d);
  return d;
}

HealthDelta HealthState::add_to_set(const std::string& name, const std::string& member) {
  assert(valid_set_name(name) && valid_set_member(member));
  HealthDelta d;
  d.sets = write_key(state_.sets, names_->intern(set_key(name, member)), self_, SetMark{});
  apply(d);
  return d;
}

HealthDelta HealthState::remove_from_set(const std::string& name, const std::string& member) {
  HealthDelta d;
  d.sets = ormap_remove(state_.sets, set_key(name, member));
  apply(d);
  return d;
}

HealthDelta HealthState::record_request(const std::string& key, AppliedRequest r) {
  assert(valid_request_key(key));
  HealthDelta d;
  r.writer = self_;
  d.requests = write_key(state_.requests, names_->intern(key), self_, std::move(r));
  apply(d);
  return d;
}

HealthDelta HealthState::expire_requests(std::uint64_t expire_before_ms, std::size_t max_records,
                                         std::size_t max_removals) {
  HealthDelta d;
  std::size_t left = request_order_.size();
  const auto& order = request_order_.order();
  for (auto it = order.begin(); it != order.end() && max_removals > 0; ++it, --max_removals) {
    const bool expired = HlcTimestamp{it->first}.wall_ms() < expire_before_ms;
    if (!expired && left <= max_records) break;
    if (const auto* fun = state_.requests.store.find(it->second)) {
      fun->for_each_dot([&](Dot x) { d.requests.context.insert(x); });
    }
    --left;
  }
  if (!d.requests.context.empty()) apply(d);
  return d;
}

HealthDelta HealthState::record_alert(const std::string& target, const std::string& route, AlertRecord r) {
  const std::string key = alert_key(target, route);
  assert(valid_alert_key(key));
  HealthDelta d;
  r.writer = self_;
  d.alerts = write_key(state_.alerts, names_->intern(key), self_, std::move(r));
  apply(d);
  return d;
}

HealthDelta HealthState::put_route(HlcTimestamp at, AlertRoute route) {
  assert(valid_route_name(route.name));
  HealthDelta d;
  const Name name = names_->intern(route.name);
  d.routes = write_key(state_.routes, name, self_,
                       RouteVersion{std::make_shared<const AlertRoute>(std::move(route)), at, self_});
  apply(d);
  return d;
}

HealthDelta HealthState::remove_route(const std::string& name) {
  HealthDelta d;
  d.routes = ormap_remove(state_.routes, name);
  apply(d);
  return d;
}

void HealthState::reorder_requests(const std::vector<Name>& keys) {
  for (const Name& k : keys) {
    const AppliedRequest* r = first_request(k);
    request_order_.set(k, r ? std::optional(r->applied_at.packed) : std::nullopt);
  }
}

bool HealthState::apply(const HealthDelta& d) {
  bool g = false;
  if (!d.registry.store.empty() || !d.registry.context.empty()) {
    std::vector<Name> scratch;
    std::vector<Name>& changed = registry_change_sink(scratch);
    const std::size_t from = changed.size();
    g = join_tracking_keys(state_.registry, d.registry, &changed);
    index_removals(changed, from);
  }
  const bool o = state_.observations.join(d.observations);
  const bool c = state_.counters.join(d.counters);
  bool s = false, k = false, a = false, n = false;
  // The sets, the request record, the alert log and the routes are empty
  // in most states: skip them cheaply.
  if (!d.sets.store.empty() || !d.sets.context.empty()) s = state_.sets.join(d.sets);
  if (!d.alerts.store.empty() || !d.alerts.context.empty()) a = state_.alerts.join(d.alerts);
  if (!d.routes.store.empty() || !d.routes.context.empty()) n = state_.routes.join(d.routes);
  if (!d.requests.store.empty() || !d.requests.context.empty()) {
    std::vector<Name> changed;
    k = join_tracking_keys(state_.requests, d.requests, &changed);
    reorder_requests(changed);
  }
  registry_version_ += g ? 1 : 0;
  observations_version_ += o ? 1 : 0;
  counters_version_ += c ? 1 : 0;
  sets_version_ += s ? 1 : 0;
  requests_version_ += k ? 1 : 0;
  alerts_version_ += a ? 1 : 0;
  routes_version_ += n ? 1 : 0;
  return g || o || c || s || k || a || n;
}

bool HealthState::join(const HealthDelta& d) { return apply(d); }

std::vector<Name> HealthState::take_registry_changes() {
  std::vector<Name> out = std::move(registry_changes_);
  registry_changes_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

template <typename V>
void scoped_join(Causal<DotMap<Name, DotFun<V>>>& mine, const Causal<DotMap<Name, DotFun<V>>>& theirs,
                 const std::vector<Name>& here, bool adopt_context, std::vector<Name>* changed = nullptr) {
  static const DotFun<V> kEmpty{};
  std::vector<Name> keys;
  keys.reserve(here.size() + theirs.store.size());
  keys.insert(keys.end(), here.begin(), here.end());
  for (const auto& [k, fun] : theirs.store.entries()) {
    if (!mine.store.find(k)) keys.push_back(k);
  }
  for (const Name& k : keys) {
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
  std::vector<Name> scratch;
  std::vector<Name>& registry_keys = registry_change_sink(scratch);
  const std::size_t from = registry_keys.size();
  scoped_join(state_.registry, d.registry, here.registry, adopt_context, &registry_keys);
  index_removals(registry_keys, from);
  scoped_join(state_.observations, d.observations, here.observations, adopt_context);
  scoped_join(state_.counters, d.counters, here.counters, adopt_context);
  scoped_join(state_.sets, d.sets, here.sets, adopt_context);
  std::vector<Name> requests_changed;
  scoped_join(state_.requests, d.requests, here.requests, adopt_context, &requests_changed);
  reorder_requests(requests_changed);
  scoped_join(state_.alerts, d.alerts, here.alerts, adopt_context);
  if (!d.alerts.store.empty() || !d.alerts.context.empty()) ++alerts_version_;
  scoped_join(state_.routes, d.routes, here.routes, adopt_context);
  if (!d.routes.store.empty() || !d.routes.context.empty()) ++routes_version_;
  if (!d.registry.store.empty() || !d.registry.context.empty()) ++registry_version_;
  if (!d.counters.store.empty() || !d.counters.context.empty()) ++counters_version_;
  if (!d.sets.store.empty() || !d.sets.context.empty()) ++sets_version_;
  if (!d.requests.store.empty() || !d.requests.context.empty()) ++requests_version_;
  if (!d.observations.store.empty() || !d.observations.context.empty()) ++observations_version_;
}

std::optional<ResolvedTarget> HealthState::target(NameRef id) const {
  const auto* specs = state_.registry.store.find(id);
  if (!specs) return std::nullopt;
  ResolvedTarget r;
  r.spec = winning_version(*specs);
  if (!r.spec || !r.spec->spec) return std::nullopt;  // removed
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
  for (const auto& [id, specs] : state_.registry.store.entries()) {
    if (auto t = target(id)) out.emplace_back(id, *t);
  }
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

namespace {

bool set_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

bool set_part(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), set_char);
}

}  // namespace

bool valid_set_name(std::string_view name) { return set_part(name, kMaxSetNameLength); }
bool valid_set_member(std::string_view member) { return set_part(member, kMaxSetMemberLength); }

std::string set_key(std::string_view set, std::string_view member) {
  std::string key;
  key.reserve(set.size() + 1 + member.size());
  key += set;
  key += '/';
  key += member;
  return key;
}

bool valid_set_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  return valid_set_name(key.substr(0, slash)) && valid_set_member(key.substr(slash + 1));
}

bool valid_request_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxRequestKeyLength) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

SetPage HealthState::set_members(const std::string& name, const std::string& after, std::size_t limit) const {
  SetPage page;
  const auto& entries = state_.sets.store.entries();
  const std::string prefix = name + "/";
  // '/' + 1 = '0': every key of this set sorts below prefix_end.
  const std::string prefix_end = name + "0";
  const auto first = entries.lower_bound(prefix);
  const auto end = entries.lower_bound(prefix_end);
  const std::string from = after.empty() ? prefix : set_key(name, after);
  for (auto it = first; it != end; ++it) {
    ++page.count;
    if (!after.empty() && it->first <= from) continue;
    if (page.members.size() < limit) {
      page.members.push_back(it->first.str().substr(prefix.size()));
    } else {
      page.more = true;
    }
  }
  return page;
}

bool HealthState::set_contains(const std::string& name, const std::string& member) const {
  return state_.sets.store.find(set_key(name, member)) != nullptr;
}

const AppliedRequest* HealthState::first_request(const std::string& key) const {
  const auto* fun = state_.requests.store.find(key);
  if (!fun) return nullptr;
  const AppliedRequest* best = nullptr;
  for (const auto& [dot, r] : fun->entries()) {
    if (!best || r.applied_at < best->applied_at || (r.applied_at == best->applied_at && r.writer < best->writer)) {
      best = &r;
    }
  }
  return best;
}

std::string alert_key(std::string_view target, std::string_view route) {
  std::string k;
  k.reserve(target.size() + 1 + route.size());
  k.append(target).push_back('/');
  k.append(route);
  return k;
}

bool valid_alert_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view route = key.substr(slash + 1);
  return valid_target_id(key.substr(0, slash)) && route.size() <= AlertRoute::kMaxNameLength && valid_target_id(route);
}

const AlertRecord* HealthState::last_alert(std::string_view target, std::string_view route) const {
  const auto* fun = state_.alerts.store.find(alert_key(target, route));
  if (!fun) return nullptr;
  const AlertRecord* best = nullptr;
  for (const auto& [dot, r] : fun->entries()) {
    if (!best || best->sent_at < r.sent_at || (r.sent_at == best->sent_at && r.writer < best->writer)) best = &r;
  }
  return best;
}

namespace {

const RouteVersion* resolve_route(const DotFun<RouteVersion>& fun) {
  const RouteVersion* best = nullptr;
  for (const auto& [dot, v] : fun.entries()) {
    if (!best || best->written_at < v.written_at || (v.written_at == best->written_at && v.writer < best->writer)) {
      best = &v;
    }
  }
  return best;
}

}  // namespace

std::vector<const RouteVersion*> HealthState::routes() const {
  std::vector<const RouteVersion*> out;
  out.reserve(state_.routes.store.size());
  for (const auto& [name, fun] : state_.routes.store.entries()) {
    if (const RouteVersion* v = resolve_route(fun)) out.push_back(v);
  }
  return out;
}

const RouteVersion* HealthState::route(std::string_view name) const {
  const auto* fun = state_.routes.store.find(name);
  return fun ? resolve_route(*fun) : nullptr;
}

std::optional<HlcTimestamp> HealthState::oldest_request() const { return request_order_.oldest(); }

}  // namespace heck
