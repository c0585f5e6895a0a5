#include "sim/cluster_scenario.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cluster/coverage_marks.h"
#include "core/membership/swim_config_check.h"
#include "core/replicated/health_state.h"
#include "sim/clock.h"
#include "core/json_fields.h"

namespace heck::sim {

namespace jf = heck::json_fields;
using nlohmann::json;

std::string_view to_string(FaultKind k) {
  switch (k) {
    case FaultKind::crash: return "crash";
    case FaultKind::restart: return "restart";
    case FaultKind::pause: return "pause";
    case FaultKind::resume: return "resume";
    case FaultKind::leave: return "leave";
    case FaultKind::join: return "join";
    case FaultKind::partition: return "partition";
    case FaultKind::heal: return "heal";
    case FaultKind::clog: return "clog";
    case FaultKind::release: return "release";
    case FaultKind::link: return "link";
    case FaultKind::unlink: return "unlink";
    case FaultKind::put_target: return "put_target";
    case FaultKind::delete_target: return "delete_target";
    case FaultKind::add_counter: return "add_counter";
    case FaultKind::add_to_set: return "add_to_set";
    case FaultKind::remove_from_set: return "remove_from_set";
  }
  return "?";
}

std::string_view to_string(ClusterExpectationKind k) {
  switch (k) {
    case ClusterExpectationKind::detection: return "detection";
    case ClusterExpectationKind::false_positives: return "false_positives";
    case ClusterExpectationKind::converges: return "converges";
    case ClusterExpectationKind::member_state: return "member_state";
    case ClusterExpectationKind::suspected: return "suspected";
    case ClusterExpectationKind::declared_dead: return "declared_dead";
    case ClusterExpectationKind::load: return "load";
    case ClusterExpectationKind::dissemination: return "dissemination";
    case ClusterExpectationKind::state_converges: return "state_converges";
    case ClusterExpectationKind::counter: return "counter";
    case ClusterExpectationKind::set: return "set";
    case ClusterExpectationKind::alerts: return "alerts";
    case ClusterExpectationKind::registry: return "registry";
    case ClusterExpectationKind::marks: return "marks";
    case ClusterExpectationKind::invariant: return "invariant";
    case ClusterExpectationKind::detects: return "detects";
    case ClusterExpectationKind::never: return "never";
    case ClusterExpectationKind::status_at: return "status_at";
    case ClusterExpectationKind::checks: return "checks";
    case ClusterExpectationKind::changes: return "changes";
  }
  return "?";
}

bool judges_own_checks(ClusterExpectationKind k) {
  switch (k) {
    case ClusterExpectationKind::detects:
    case ClusterExpectationKind::never:
    case ClusterExpectationKind::status_at:
    case ClusterExpectationKind::checks:
    case ClusterExpectationKind::changes: return true;
    default: return false;
  }
}

bool ClusterScenario::judges_own_checks() const {
  return std::any_of(expectations.begin(), expectations.end(),
                     [](const ClusterExpectation& e) { return sim::judges_own_checks(e.kind); });
}

bool target_pattern_matches(std::string_view pattern, std::string_view id) {
  if (!pattern.empty() && pattern.back() == '*') {
    const auto prefix = pattern.substr(0, pattern.size() - 1);
    return id.substr(0, prefix.size()) == prefix;
  }
  return pattern == id;
}

std::string_view to_string(Invariant i) {
  switch (i) {
    case Invariant::coverage: return "coverage";
    case Invariant::no_herd: return "no_herd";
    case Invariant::agreement: return "agreement";
    case Invariant::freshness: return "freshness";
  }
  return "?";
}

bool InvariantSettings::judged(Invariant i) const {
  return enabled && std::find(off.begin(), off.end(), i) == off.end();
}

std::string_view to_string(SeenState s) {
  switch (s) {
    case SeenState::alive: return "alive";
    case SeenState::suspect: return "suspect";
    case SeenState::dead: return "dead";
    case SeenState::left: return "left";
    case SeenState::gone: return "gone";
  }
  return "?";
}

std::string ClusterExpectation::describe() const {
  auto ms = [](Duration d) { return fmt::format("{} ms", d.ms()); };
  auto range = [&] {
    if (max == UINT64_MAX) return fmt::format(">= {}", min);
    return fmt::format("in [{}, {}]", min, max);
  };
  auto on = [&] { return member_text.empty() ? std::string() : " on " + member_text; };
  switch (kind) {
    case ClusterExpectationKind::detection: {
      std::string s = "detection:";
      if (max_first) s += " first <= " + ms(*max_first);
      if (max_dead) s += fmt::format("{} dead everywhere <= {}", max_first ? "," : "", ms(*max_dead));
      return s;
    }
    case ClusterExpectationKind::false_positives: {
      std::string s = "false positives:";
      if (max_suspected) s += fmt::format(" suspected <= {}", *max_suspected);
      if (max_dead_count) s += fmt::format("{} dead <= {}", max_suspected ? "," : "", *max_dead_count);
      if (from > Duration::zero() || to != Duration::max()) {
        s += fmt::format(" in [{}, {}]", ms(from), to == Duration::max() ? std::string("end") : ms(to));
      }
      return s;
    }
    case ClusterExpectationKind::converges: return fmt::format("converges within {} of the liveness phase", ms(within));
    case ClusterExpectationKind::member_state:
      return fmt::format("member_state {} {} at {}", member_text, to_string(state), at ? ms(*at) : std::string("end"));
    case ClusterExpectationKind::suspected:
      return fmt::format("suspected {}{} {}", member_text, by.empty() ? "" : " by some", range());
    case ClusterExpectationKind::declared_dead:
      return fmt::format("declared_dead {}{} {}", member_text, by.empty() ? "" : " by some", range());
    case ClusterExpectationKind::load: {
      std::string s = "load per member:";
      if (max_messages) s += fmt::format(" <= {} msg/s", *max_messages);
      if (max_bytes) s += fmt::format("{} <= {} B/s", max_messages ? "," : "", *max_bytes);
      return s;
    }
    case ClusterExpectationKind::dissemination: {
      std::string s = "dissemination:";
      if (max_p99) s += " p99 <= " + ms(*max_p99);
      if (max_incomplete) s += fmt::format("{} incomplete <= {}", max_p99 ? "," : "", *max_incomplete);
      return s;
    }
    case ClusterExpectationKind::state_converges:
      return fmt::format("state converges within {} of the liveness phase", ms(within));
    case ClusterExpectationKind::counter: return fmt::format("counter {} = {} everywhere", counter, value);
    case ClusterExpectationKind::set: return fmt::format("set {} = [{}] everywhere", set, fmt::join(elements, ", "));
    case ClusterExpectationKind::alerts:
      return fmt::format("alerts: at most {} duplicate(s), at least {} delivered, the last of each matches the end status",
                         max, min);
    case ClusterExpectationKind::registry:
      return fmt::format("registry = [{}] everywhere", fmt::join(target_ids, ", "));
    case ClusterExpectationKind::marks: return fmt::format("marks hit: {}", fmt::join(marks, ", "));
    case ClusterExpectationKind::invariant:
      switch (invariant) {
        case Invariant::coverage:
          return "invariant coverage: outside settle windows every target is checked by a true owner every "
                 "interval (+2 jitter +timeout)";
        case Invariant::no_herd:
          return "invariant no_herd: outside settle windows at most r + herd_slack members check a target per "
                 "interval";
        case Invariant::agreement:
          return "invariant agreement: at the end every running agent reports the truth of every steady target";
        case Invariant::freshness:
          return "invariant freshness: a target's change is reported by every running agent within its bound";
      }
      return "invariant ?";
    case ClusterExpectationKind::detects:
      return fmt::format("detects {} within {} intervals{}", target_text, within_intervals, on());
    case ClusterExpectationKind::never: return fmt::format("never {} {}{}", target_text, to_string(status), on());
    case ClusterExpectationKind::status_at:
      return fmt::format("status_at {} {} at {}{}", target_text, to_string(status), ms(at.value_or(Duration::zero())),
                         on());
    case ClusterExpectationKind::checks: return fmt::format("checks {} {}{}", target_text, range(), on());
    case ClusterExpectationKind::changes: return fmt::format("changes {} {}{}", target_text, range(), on());
  }
  return "?";
}

std::string ClusterScenario::address_of(std::string_view member) { return fmt::format("{}:7946", member); }

std::optional<std::uint32_t> ClusterScenario::member_index(std::string_view name) const {
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    if (members[i].name == name) return i;
  }
  return std::nullopt;
}


namespace {

constexpr std::size_t kMaxTextField = 4096;
constexpr std::size_t kMaxNameLength = 64;

Duration ms_duration(std::int64_t ms) { return Duration::milliseconds(ms); }

// An event's optional idempotency key (empty: none), checked as the API checks it.
std::string request_key(const json& j, const std::string& w) {
  auto key = jf::take(jf::opt_string(j, w, "key", 256));
  if (!key) return {};
  if (!valid_request_key(*key)) jf::fail(fmt::format("{}: '{}' is not a valid idempotency key", jf::path(w, "key"), *key));
  return *key;
}

void check_member_name(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > kMaxNameLength || !valid_target_id(name)) {
    jf::fail(fmt::format("{}: '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -", field, name, kMaxNameLength));
  }
}

void parse_clock(const json& j, const std::string& where, MemberScenario& m) {
  jf::take(jf::expect_object(j, where, {"offset_ms", "drift_ppm"}));
  m.clock_offset = ms_duration(
      jf::take(jf::opt_int(j, where, "offset_ms", -ClusterScenario::kMaxClockOffsetMs, ClusterScenario::kMaxClockOffsetMs))
          .value_or(0));
  m.drift_ppm = jf::take(jf::opt_int(j, where, "drift_ppm", -NodeClock::kMaxDriftPpm, NodeClock::kMaxDriftPpm)).value_or(0);
}

bool opt_bool(const json& j, std::string_view where, std::string_view key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_boolean()) jf::fail(fmt::format("{}: must be true or false, got {}", jf::path(where, key), jf::type_name(*it)));
  return it->get<bool>();
}

void parse_members(const json& j, ClusterScenario& s) {
  if (j.is_array()) {
    if (j.size() > ClusterScenario::kMaxMembers) {
      jf::fail(fmt::format("members: more than {} members", ClusterScenario::kMaxMembers));
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto w = fmt::format("members[{}]", i);
      jf::take(jf::expect_object(j[i], w, {"name", "clock", "start"}));
      MemberScenario m;
      m.name = jf::take(jf::get_string(j[i], w, "name", kMaxNameLength));
      check_member_name(m.name, jf::path(w, "name"));
      if (auto it = j[i].find("clock"); it != j[i].end()) parse_clock(*it, jf::path(w, "clock"), m);
      m.starts = opt_bool(j[i], w, "start", true);
      s.members.push_back(std::move(m));
    }
  } else if (j.is_object()) {
    const std::string w = "members";
    jf::take(jf::expect_object(j, w, {"count", "prefix", "clock_spread"}));
    const auto count = jf::take(jf::get_int(j, w, "count", 1, static_cast<std::int64_t>(ClusterScenario::kMaxMembers)));
    const auto prefix = jf::take(jf::opt_string(j, w, "prefix", 32)).value_or("n");
    std::int64_t offset_ms = 0, drift_ppm = 0;
    if (auto it = j.find("clock_spread"); it != j.end()) {
      const auto cw = jf::path(w, "clock_spread");
      jf::take(jf::expect_object(*it, cw, {"offset_ms", "drift_ppm"}));
      offset_ms = jf::take(jf::opt_int(*it, cw, "offset_ms", 0, ClusterScenario::kMaxClockOffsetMs)).value_or(0);
      drift_ppm = jf::take(jf::opt_int(*it, cw, "drift_ppm", 0, NodeClock::kMaxDriftPpm)).value_or(0);
    }
    // Drifts follow a stride-7 permutation of the members when 7 does not
    // divide the count (so offset and drift are not correlated), otherwise
    // the reverse order.
    const bool stride = std::gcd(count, std::int64_t{7}) == 1;
    for (std::int64_t i = 0; i < count; ++i) {
      MemberScenario m;
      m.name = fmt::format("{}{}", prefix, i);
      check_member_name(m.name, jf::path(w, "prefix"));
      if (count > 1) {
        // Offsets from -max to +max in member order.
        m.clock_offset = ms_duration(-offset_ms + 2 * offset_ms * i / (count - 1));
        const std::int64_t k = stride ? (i * 7 + 3) % count : count - 1 - i;
        m.drift_ppm = drift_ppm - 2 * drift_ppm * k / (count - 1);
      }
      s.members.push_back(std::move(m));
    }
  } else {
    jf::fail(fmt::format("members: must be an array or an object, got {}", jf::type_name(j)));
  }
  if (s.members.empty()) jf::fail("members: must have at least one member");
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < s.members.size(); ++i) {
    if (!names.insert(s.members[i].name).second) {
      jf::fail(fmt::format("members[{}].name: duplicate name '{}'", i, s.members[i].name));
    }
  }
}

// Names a selector matches, as member indices. `v` is a name, "prefix*",
// "*", or an array of those.
std::vector<std::uint32_t> select(const ClusterScenario& s, const json& v, const std::string& field) {
  std::vector<bool> chosen(s.members.size(), false);
  auto one = [&](const json& item, const std::string& f) {
    if (!item.is_string()) jf::fail(fmt::format("{}: must be a member name or pattern, got {}", f, jf::type_name(item)));
    const auto text = item.get<std::string>();
    bool any = false;
    for (std::uint32_t i = 0; i < s.members.size(); ++i) {
      if (target_pattern_matches(text, s.members[i].name)) {
        chosen[i] = true;
        any = true;
      }
    }
    if (!any) jf::fail(fmt::format("{}: '{}' matches no member (use a name, a prefix ending in '*', or '*')", f, text));
  };
  if (v.is_array()) {
    if (v.empty()) jf::fail(fmt::format("{}: must name at least one member", field));
    if (v.size() > ClusterScenario::kMaxMembers) jf::fail(fmt::format("{}: more than {} items", field, ClusterScenario::kMaxMembers));
    for (std::size_t i = 0; i < v.size(); ++i) one(v[i], fmt::format("{}[{}]", field, i));
  } else {
    one(v, field);
  }
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i]) out.push_back(i);
  }
  return out;
}

EndpointSet to_set(const ClusterScenario& s, const std::vector<std::uint32_t>& members) {
  EndpointSet set(s.members.size());
  for (auto m : members) set.insert(m);
  return set;
}

// "from" and "to" of a partition, clog or link; absent "from" = every member
// (when `from_optional`), absent "to" = every member not in "from".
void parse_sets(const json& j, const std::string& w, const ClusterScenario& s, bool from_optional, EndpointSet& from,
                EndpointSet& to) {
  std::vector<std::uint32_t> f;
  if (auto it = j.find("from"); it != j.end()) {
    f = select(s, *it, jf::path(w, "from"));
  } else if (from_optional) {
    for (std::uint32_t i = 0; i < s.members.size(); ++i) f.push_back(i);
  } else {
    jf::fail(fmt::format("{}: missing", jf::path(w, "from")));
  }
  from = to_set(s, f);
  if (auto it = j.find("to"); it != j.end()) {
    to = to_set(s, select(s, *it, jf::path(w, "to")));
  } else if (f.size() == s.members.size()) {
    to = EndpointSet::all(s.members.size());  // every link
  } else {
    to = EndpointSet(s.members.size());
    for (std::uint32_t i = 0; i < s.members.size(); ++i) {
      if (!from.contains(i)) to.insert(i);
    }
  }
}

double probability(const json& j, std::string_view where, std::string_view key) {
  return jf::take(jf::get_number(j, where, key, 0.0, 1.0));
}

LatencyDist latency_at(const json& j, const std::string& where, std::string_view key) {
  auto l = LatencyDist::from_json(j.at(key), jf::path(where, key));
  if (!l) jf::fail(l.error());
  return *l;
}

// The link fields of an object (network defaults, a link rule or event).
LinkOverride parse_link_fields(const json& j, const std::string& w) {
  LinkOverride o;
  if (j.contains("latency")) o.latency = latency_at(j, w, "latency");
  if (j.contains("reorder_delay")) o.reorder_delay = latency_at(j, w, "reorder_delay");
  if (j.contains("loss")) o.loss = probability(j, w, "loss");
  if (j.contains("duplicate")) o.duplicate = probability(j, w, "duplicate");
  if (j.contains("reorder")) o.reorder = probability(j, w, "reorder");
  o.stream_bytes_per_ms = jf::take(jf::opt_number(j, w, "stream_bytes_per_ms", 1.0, 1e12));
  return o;
}

void parse_network(const json& j, ClusterScenario& s) {
  const std::string w = "network";
  jf::take(jf::expect_object(j, w,
                    {"latency", "loss", "duplicate", "reorder", "reorder_delay", "stream_bytes_per_ms",
                     "socket_buffer_packets", "links"}));
  parse_link_fields(j, w).apply_to(s.network);
  s.socket_buffer_packets = static_cast<std::size_t>(
      jf::take(jf::opt_int(j, w, "socket_buffer_packets", 0, static_cast<std::int64_t>(ClusterScenario::kMaxSocketBufferPackets)))
          .value_or(static_cast<std::int64_t>(s.socket_buffer_packets)));
  if (!j.contains("links")) return;
  const json& links = *jf::take(jf::get_array(j, w, "links", Network::kMaxRules));
  for (std::size_t i = 0; i < links.size(); ++i) {
    const auto lw = fmt::format("network.links[{}]", i);
    jf::take(jf::expect_object(links[i], lw,
                      {"from", "to", "one_way", "latency", "loss", "duplicate", "reorder", "reorder_delay",
                       "stream_bytes_per_ms"}));
    ClusterScenario::LinkRule r;
    parse_sets(links[i], lw, s, /*from_optional=*/false, r.from, r.to);
    r.one_way = opt_bool(links[i], lw, "one_way", false);
    r.link = parse_link_fields(links[i], lw);
    s.links.push_back(std::move(r));
  }
}

Duration opt_ms(const json& j, std::string_view where, std::string_view key, std::int64_t lo, std::int64_t hi,
                Duration fallback) {
  if (auto v = jf::take(jf::opt_int(j, where, key, lo, hi))) return ms_duration(*v);
  return fallback;
}

std::size_t opt_size(const json& j, std::string_view where, std::string_view key, std::int64_t lo, std::int64_t hi,
                     std::size_t fallback) {
  if (auto v = jf::take(jf::opt_int(j, where, key, lo, hi))) return static_cast<std::size_t>(*v);
  return fallback;
}

void parse_swim(const json& j, SwimConfig& c) {
  const std::string w = "swim";
  jf::take(jf::expect_object(j, w,
                    {"probe_interval_ms", "probe_timeout_ms", "indirect_checks", "suspicion_mult",
                     "max_suspicion_timeout_mult", "retransmit_mult", "gossip_interval_ms", "gossip_nodes",
                     "gossip_to_the_dead_ms", "push_pull_interval_ms", "reconnect_interval_ms", "max_packet_bytes",
                     "max_awareness_multiplier", "dead_reap_after_ms", "min_join_backoff_ms", "max_join_backoff_ms",
                     "nack_timeout_fraction", "lifeguard"}));
  // Only the JSON types here; the ranges are core's, shared with the daemon
  // (core/membership/swim_config_check.h), checked below.
  constexpr std::int64_t kMaxMs = 9'000'000'000'000;  // fits a Duration in ns
  constexpr std::int64_t kMaxCount = 1'000'000'000;
  c.probe_interval = opt_ms(j, w, "probe_interval_ms", -kMaxMs, kMaxMs, c.probe_interval);
  c.probe_timeout = opt_ms(j, w, "probe_timeout_ms", -kMaxMs, kMaxMs, c.probe_timeout);
  c.indirect_checks = opt_size(j, w, "indirect_checks", 0, kMaxCount, c.indirect_checks);
  c.suspicion_mult = opt_size(j, w, "suspicion_mult", 0, kMaxCount, c.suspicion_mult);
  c.max_suspicion_timeout_mult = opt_size(j, w, "max_suspicion_timeout_mult", 0, kMaxCount, c.max_suspicion_timeout_mult);
  c.retransmit_mult = opt_size(j, w, "retransmit_mult", 0, kMaxCount, c.retransmit_mult);
  c.gossip_interval = opt_ms(j, w, "gossip_interval_ms", -kMaxMs, kMaxMs, c.gossip_interval);
  c.gossip_nodes = opt_size(j, w, "gossip_nodes", 0, kMaxCount, c.gossip_nodes);
  c.gossip_to_the_dead = opt_ms(j, w, "gossip_to_the_dead_ms", -kMaxMs, kMaxMs, c.gossip_to_the_dead);
  c.push_pull_interval = opt_ms(j, w, "push_pull_interval_ms", -kMaxMs, kMaxMs, c.push_pull_interval);
  c.reconnect_interval = opt_ms(j, w, "reconnect_interval_ms", -kMaxMs, kMaxMs, c.reconnect_interval);
  c.max_packet_bytes = opt_size(j, w, "max_packet_bytes", 0, kMaxCount, c.max_packet_bytes);
  c.max_awareness_multiplier = opt_size(j, w, "max_awareness_multiplier", 0, kMaxCount, c.max_awareness_multiplier);
  c.dead_reap_after = opt_ms(j, w, "dead_reap_after_ms", -kMaxMs, kMaxMs, c.dead_reap_after);
  c.min_join_backoff = opt_ms(j, w, "min_join_backoff_ms", -kMaxMs, kMaxMs, c.min_join_backoff);
  c.max_join_backoff = opt_ms(j, w, "max_join_backoff_ms", -kMaxMs, kMaxMs, c.max_join_backoff);
  if (auto f = jf::take(jf::opt_number(j, w, "nack_timeout_fraction", 0.0, 1.0))) c.nack_timeout_fraction = *f;
  c.lifeguard = opt_bool(j, w, "lifeguard", c.lifeguard);
  if (auto valid = validate(c, "swim."); !valid) jf::fail(valid.error());
}

void parse_replication(const json& j, ReplicatorConfig& c) {
  const std::string w = "replication";
  jf::take(jf::expect_object(j, w, {"anti_entropy_interval_ms", "fanout", "flush_delay_ms", "flush_gap_ms", "max_hlc_forward_ms"}));
  c.anti_entropy_interval = opt_ms(j, w, "anti_entropy_interval_ms", 1, 86'400'000, c.anti_entropy_interval);
  c.fanout = opt_size(j, w, "fanout", 0, 64, c.fanout);
  c.flush_delay = opt_ms(j, w, "flush_delay_ms", 0, 60'000, c.flush_delay);
  c.flush_gap = opt_ms(j, w, "flush_gap_ms", 0, 60'000, c.flush_gap);
  c.max_hlc_forward = opt_ms(j, w, "max_hlc_forward_ms", 0, 86'400'000, c.max_hlc_forward);
}

// Parses one entry of "targets" (which may stand for a generated group) and
// appends its targets to `out` (at most `max_targets` in all).
void parse_targets(const json& j, const std::string& where, std::vector<TargetModel>& out, std::size_t max_targets) {
  jf::take(jf::expect_object(j, where, {"spec", "behaviour", "count", "stagger_ms"}));
  if (!j.contains("spec")) jf::fail(fmt::format("{}: missing", jf::path(where, "spec")));
  if (!j.contains("behaviour")) jf::fail(fmt::format("{}: missing", jf::path(where, "behaviour")));
  auto spec = TargetSpec::from_json(j.at("spec"), jf::path(where, "spec"));
  if (!spec) jf::fail(spec.error());
  auto model = TargetModel::from_json(*spec, j.at("behaviour"), jf::path(where, "behaviour"));
  if (!model) jf::fail(model.error());
  const auto count = jf::take(jf::opt_int(j, where, "count", 1, static_cast<std::int64_t>(max_targets)));
  const auto stagger_ms = jf::take(jf::opt_int(j, where, "stagger_ms", 0, TargetModel::kMaxAtMs));
  if (!count) {
    if (stagger_ms) jf::fail(fmt::format("{}: only applies with count", jf::path(where, "stagger_ms")));
    if (out.size() >= max_targets) jf::fail(fmt::format("{}: more than {} targets in the scenario", where, max_targets));
    out.push_back(std::move(*model));
    return;
  }
  if (out.size() + static_cast<std::size_t>(*count) > max_targets) {
    jf::fail(fmt::format("{}: more than {} targets in the scenario", jf::path(where, "count"), max_targets));
  }
  const int width = static_cast<int>(fmt::format("{}", *count - 1).size());
  for (std::int64_t i = 0; i < *count; ++i) {
    TargetSpec copy = *spec;
    copy.id = detached_name(fmt::format("{}-{:0{}}", spec->id.str(), i, width));
    if (!valid_target_id(copy.id)) {
      jf::fail(fmt::format("{}: generated id '{}' is too long", jf::path(where, "spec.id"), copy.id));
    }
    auto m = TargetModel::from_json(std::move(copy), j.at("behaviour"), jf::path(where, "behaviour"));
    if (!m) jf::fail(m.error());
    m->shift_phases(Duration::milliseconds(stagger_ms.value_or(0) * i));
    out.push_back(std::move(*m));
  }
}

// Parses a "targets" array; ids must be unique.
std::vector<TargetModel> parse_target_array(const json& targets, std::size_t max_targets) {
  std::vector<TargetModel> out;
  std::map<std::string, std::string, std::less<>> ids;  // id -> where it was defined
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto w = fmt::format("targets[{}]", i);
    const std::size_t first = out.size();
    parse_targets(targets[i], w, out, max_targets);
    for (std::size_t k = first; k < out.size(); ++k) {
      const auto& id = out[k].spec().id;
      auto [it, fresh] = ids.emplace(id, w);
      if (!fresh) jf::fail(fmt::format("{}.spec.id: duplicate id '{}' (also in {})", w, id, it->second));
    }
  }
  return out;
}

struct EventParser {
  const ClusterScenario& s;
  std::vector<TimelineEvent>& out;
  std::vector<ClusterScenario::RuntimeTarget>& runtime;

  // Registers a put target's id; `behaviour` (may be null) becomes its model.
  void runtime_target(const TargetSpec& spec, const json* behaviour, const std::string& w) {
    const bool configured = std::any_of(s.targets.begin(), s.targets.end(),
                                        [&](const TargetModel& m) { return m.spec().id == spec.id; });
    if (configured) {
      if (behaviour != nullptr) {
        jf::fail(fmt::format("{}: target '{}' is configured; its behaviour is in \"targets\"",
                             jf::path(w, "behaviour"), spec.id));
      }
      return;
    }
    auto it = std::find_if(runtime.begin(), runtime.end(), [&](const auto& r) { return r.spec.id == spec.id; });
    if (it == runtime.end()) {
      if (s.targets.size() + runtime.size() >= ClusterScenario::kMaxTargets) {
        jf::fail(fmt::format("{}: more than {} targets in all", w, ClusterScenario::kMaxTargets));
      }
      runtime.push_back(ClusterScenario::RuntimeTarget{spec, std::nullopt});
      it = runtime.end() - 1;
    }
    if (behaviour == nullptr) return;
    if (it->model) jf::fail(fmt::format("{}: target '{}' already has a behaviour", jf::path(w, "behaviour"), spec.id));
    auto model = TargetModel::from_json(spec, *behaviour, jf::path(w, "behaviour"));
    if (!model) jf::fail(model.error());
    it->model = std::move(*model);
  }

  std::vector<std::uint32_t> members(const json& j, const std::string& w) {
    const bool one = j.contains("member"), many = j.contains("members");
    if (one == many) jf::fail(fmt::format("{}: needs exactly one of member, members", w));
    return one ? select(s, j.at("member"), jf::path(w, "member")) : select(s, j.at("members"), jf::path(w, "members"));
  }

  void push(TimelineEvent e) {
    if (out.size() >= ClusterScenario::kMaxEvents) {
      jf::fail(fmt::format("timeline: more than {} events (rolling restarts expanded)", ClusterScenario::kMaxEvents));
    }
    out.push_back(std::move(e));
  }

  void parse(const json& j, std::size_t index) {
    const auto w = fmt::format("timeline[{}]", index);
    if (!j.is_object()) jf::fail(fmt::format("{}: must be an object, got {}", w, jf::type_name(j)));
    const std::int64_t safety_ms = s.safety.ms();
    TimelineEvent e;
    e.source = index;
    e.at = ms_duration(jf::take(jf::get_int(j, w, "at_ms", 0, safety_ms - 1)));
    const auto kind = jf::take(jf::get_string(j, w, "event", 32));
    auto named = [&] { e.name = jf::take(jf::opt_string(j, w, "name", 64)).value_or(""); };
    if (kind == "crash" || kind == "resume" || kind == "join") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members"}));
      e.kind = kind == "crash" ? FaultKind::crash : kind == "resume" ? FaultKind::resume : FaultKind::join;
      e.members = members(j, w);
    } else if (kind == "restart") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "down_ms"}));
      e.kind = FaultKind::restart;
      e.members = members(j, w);
      e.down = opt_ms(j, w, "down_ms", 0, safety_ms, Duration::zero());
    } else if (kind == "pause") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "for_ms"}));
      e.kind = FaultKind::pause;
      e.members = members(j, w);
      if (auto f = jf::take(jf::opt_int(j, w, "for_ms", 1, safety_ms))) e.pause_for = ms_duration(*f);
    } else if (kind == "leave") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "stop_after_ms"}));
      e.kind = FaultKind::leave;
      e.members = members(j, w);
      e.stop_after = opt_ms(j, w, "stop_after_ms", 0, safety_ms, Duration::seconds(5));
    } else if (kind == "partition" || kind == "clog") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "from", "to", "one_way", "name"}));
      e.kind = kind == "partition" ? FaultKind::partition : FaultKind::clog;
      parse_sets(j, w, s, /*from_optional=*/false, e.from, e.to);
      e.one_way = opt_bool(j, w, "one_way", false);
      named();
    } else if (kind == "heal" || kind == "release" || kind == "unlink") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "name"}));
      e.kind = kind == "heal" ? FaultKind::heal : kind == "release" ? FaultKind::release : FaultKind::unlink;
      named();
    } else if (kind == "link") {
      jf::take(jf::expect_object(j, w,
                        {"at_ms", "event", "from", "to", "one_way", "name", "latency", "loss", "duplicate", "reorder",
                         "reorder_delay", "stream_bytes_per_ms"}));
      e.kind = FaultKind::link;
      parse_sets(j, w, s, /*from_optional=*/true, e.from, e.to);
      e.one_way = opt_bool(j, w, "one_way", false);
      named();
      e.link = parse_link_fields(j, w);
    } else if (kind == "loss") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "from", "to", "one_way", "name", "rate"}));
      e.kind = FaultKind::link;
      parse_sets(j, w, s, /*from_optional=*/true, e.from, e.to);
      e.one_way = opt_bool(j, w, "one_way", false);
      named();
      e.link.loss = probability(j, w, "rate");
    } else if (kind == "rolling_restart") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "every_ms", "down_ms"}));
      const auto chosen = members(j, w);
      const Duration every = ms_duration(jf::take(jf::get_int(j, w, "every_ms", 1, safety_ms)));
      const Duration down = opt_ms(j, w, "down_ms", 0, safety_ms, Duration::zero());
      for (std::size_t k = 0; k < chosen.size(); ++k) {
        TimelineEvent r;
        r.source = index;
        r.kind = FaultKind::restart;
        r.at = e.at + every * static_cast<std::int64_t>(k);
        r.down = down;
        r.members = {chosen[k]};
        if (r.at + down >= s.safety) {
          jf::fail(fmt::format("{}: restart {} of {} ends at {} ms, after safety_ms ({})", w, k + 1, chosen.size(),
                               (r.at + down).ms(), safety_ms));
        }
        push(std::move(r));
      }
      return;
    } else if (kind == "put_target") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "spec", "behaviour"}));
      e.kind = FaultKind::put_target;
      e.members = members(j, w);
      if (!j.contains("spec")) jf::fail(fmt::format("{}: missing", jf::path(w, "spec")));
      auto spec = TargetSpec::from_json(j.at("spec"), jf::path(w, "spec"));
      if (!spec) jf::fail(spec.error());
      runtime_target(*spec, j.contains("behaviour") ? &j.at("behaviour") : nullptr, w);
      e.spec = std::move(*spec);
    } else if (kind == "delete_target") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "id"}));
      e.kind = FaultKind::delete_target;
      e.members = members(j, w);
      e.id = jf::take(jf::get_string(j, w, "id", TargetSpec::kMaxIdLength));
    } else if (kind == "add_counter") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "counter", "delta", "key"}));
      e.kind = FaultKind::add_counter;
      e.members = members(j, w);
      e.id = jf::take(jf::get_string(j, w, "counter", TargetSpec::kMaxIdLength));
      e.delta = jf::take(jf::get_int(j, w, "delta", -(std::int64_t{1} << 40), std::int64_t{1} << 40));
      e.key = request_key(j, w);
    } else if (kind == "add_to_set" || kind == "remove_from_set") {
      jf::take(jf::expect_object(j, w, {"at_ms", "event", "member", "members", "set", "element", "key"}));
      e.kind = kind == "add_to_set" ? FaultKind::add_to_set : FaultKind::remove_from_set;
      e.members = members(j, w);
      e.id = jf::take(jf::get_string(j, w, "set", 256));
      if (!valid_set_name(e.id)) jf::fail(fmt::format("{}: '{}' is not a valid set name", jf::path(w, "set"), e.id));
      e.element = jf::take(jf::get_string(j, w, "element", 256));
      if (!valid_set_member(e.element)) {
        jf::fail(fmt::format("{}: '{}' is not a valid set member", jf::path(w, "element"), e.element));
      }
      e.key = request_key(j, w);
    } else {
      jf::fail(fmt::format(
          "{}: '{}' is not one of crash, restart, pause, resume, leave, join, partition, heal, clog, release, "
          "link, unlink, loss, rolling_restart, put_target, delete_target, add_counter, add_to_set, "
          "remove_from_set",
          jf::path(w, "event"), kind));
    }
    if (e.kind == FaultKind::restart && e.at + e.down >= s.safety) {
      jf::fail(fmt::format("{}: the restart ends at {} ms, after safety_ms ({})", w, (e.at + e.down).ms(), safety_ms));
    }
    push(std::move(e));
  }
};

std::uint64_t opt_u64_bound(const json& j, std::string_view where, std::string_view key, std::uint64_t fallback) {
  if (auto v = jf::take(jf::opt_int(j, where, key, 0, std::int64_t{1} << 53))) return static_cast<std::uint64_t>(*v);
  return fallback;
}

// "min" and "max" (either or both) into e.min, e.max.
void read_range(const json& j, const std::string& w, ClusterExpectation& e) {
  e.min = opt_u64_bound(j, w, "min", 0);
  e.max = opt_u64_bound(j, w, "max", UINT64_MAX);
  if (!j.contains("min") && !j.contains("max")) jf::fail(fmt::format("{}: needs min, max or both", w));
  if (e.min > e.max) jf::fail(fmt::format("{}: {} is below min ({})", jf::path(w, "max"), e.max, e.min));
}

HealthStatus read_status(const json& j, const std::string& where, bool allow_unknown) {
  const auto text = jf::take(jf::get_string(j, where, "status", 16));
  const auto st = parse_health_status(text);
  if (!st || (!allow_unknown && *st == HealthStatus::unknown)) {
    jf::fail(fmt::format("{}: '{}' is not {}", jf::path(where, "status"), text,
                         allow_unknown ? "healthy, unhealthy or unknown" : "healthy or unhealthy"));
  }
  return *st;
}

// detects, never, status_at, checks, changes: a member's own checks of
// configured targets ("target": a pattern; "member": optional selector).
void parse_own_checks(const json& j, const std::string& w, const std::string& kind, const ClusterScenario& s,
                      ClusterExpectation& e) {
  if (kind == "detects") {
    jf::take(jf::expect_object(j, w, {"kind", "target", "member", "within_intervals"}));
    e.kind = ClusterExpectationKind::detects;
    e.within_intervals = static_cast<int>(jf::take(jf::get_int(j, w, "within_intervals", 1, 1000)));
  } else if (kind == "never") {
    jf::take(jf::expect_object(j, w, {"kind", "target", "member", "status"}));
    e.kind = ClusterExpectationKind::never;
    e.status = read_status(j, w, false);
  } else if (kind == "status_at") {
    jf::take(jf::expect_object(j, w, {"kind", "target", "member", "at_ms", "status"}));
    e.kind = ClusterExpectationKind::status_at;
    e.at = ms_duration(jf::take(jf::get_int(j, w, "at_ms", 0, s.duration().ms())));
    e.status = read_status(j, w, true);
  } else {
    jf::take(jf::expect_object(j, w, {"kind", "target", "member", "min", "max"}));
    e.kind = kind == "checks" ? ClusterExpectationKind::checks : ClusterExpectationKind::changes;
    read_range(j, w, e);
  }
  e.target_text = jf::take(jf::get_string(j, w, "target", TargetSpec::kMaxIdLength + 1));
  for (std::uint32_t i = 0; i < s.targets.size(); ++i) {
    if (target_pattern_matches(e.target_text, s.targets[i].spec().id)) e.targets.push_back(i);
  }
  if (e.targets.empty()) {
    jf::fail(fmt::format("{}: '{}' matches no configured target (use an id, a prefix ending in '*', or '*')",
                         jf::path(w, "target"), e.target_text));
  }
  if (auto it = j.find("member"); it != j.end()) {
    e.member_text = it->is_string() ? it->get<std::string>() : it->dump();
    e.members = select(s, *it, jf::path(w, "member"));
  } else {
    for (std::uint32_t i = 0; i < s.members.size(); ++i) e.members.push_back(i);
  }
}

ClusterExpectation parse_expectation(const json& j, std::size_t index, const ClusterScenario& s) {
  const auto w = fmt::format("expectations[{}]", index);
  if (!j.is_object()) jf::fail(fmt::format("{}: must be an object, got {}", w, jf::type_name(j)));
  ClusterExpectation e;
  e.source = index;
  const std::int64_t end_ms = s.duration().ms();
  const auto kind = jf::take(jf::get_string(j, w, "kind", 32));
  auto member_field = [&] {
    if (!j.contains("member")) jf::fail(fmt::format("{}: missing", jf::path(w, "member")));
    e.member_text = j.at("member").is_string() ? j.at("member").get<std::string>() : j.at("member").dump();
    e.members = select(s, j.at("member"), jf::path(w, "member"));
  };
  auto range = [&] { read_range(j, w, e); };
  if (kind == "detection") {
    jf::take(jf::expect_object(j, w, {"kind", "max_first_ms", "max_dead_ms"}));
    e.kind = ClusterExpectationKind::detection;
    if (auto v = jf::take(jf::opt_int(j, w, "max_first_ms", 0, end_ms))) e.max_first = ms_duration(*v);
    if (auto v = jf::take(jf::opt_int(j, w, "max_dead_ms", 0, end_ms))) e.max_dead = ms_duration(*v);
    if (!e.max_first && !e.max_dead) jf::fail(fmt::format("{}: needs max_first_ms, max_dead_ms or both", w));
  } else if (kind == "false_positives") {
    jf::take(jf::expect_object(j, w, {"kind", "max_suspected", "max_dead", "from_ms", "to_ms"}));
    e.kind = ClusterExpectationKind::false_positives;
    if (j.contains("max_suspected")) e.max_suspected = opt_u64_bound(j, w, "max_suspected", 0);
    if (j.contains("max_dead")) e.max_dead_count = opt_u64_bound(j, w, "max_dead", 0);
    if (!e.max_suspected && !e.max_dead_count) jf::fail(fmt::format("{}: needs max_suspected, max_dead or both", w));
    e.from = opt_ms(j, w, "from_ms", 0, end_ms, Duration::zero());
    e.to = opt_ms(j, w, "to_ms", 0, end_ms, Duration::max());
    if (e.to < e.from) jf::fail(fmt::format("{}: {} is below from_ms ({})", jf::path(w, "to_ms"), e.to.ms(), e.from.ms()));
  } else if (kind == "converges" || kind == "state_converges") {
    jf::take(jf::expect_object(j, w, {"kind", "within_ms"}));
    e.kind = kind == "converges" ? ClusterExpectationKind::converges : ClusterExpectationKind::state_converges;
    e.within = ms_duration(jf::take(jf::get_int(j, w, "within_ms", 0, s.liveness.ms())));
  } else if (kind == "member_state") {
    jf::take(jf::expect_object(j, w, {"kind", "member", "state", "at_ms"}));
    e.kind = ClusterExpectationKind::member_state;
    member_field();
    const auto text = jf::take(jf::get_string(j, w, "state", 16));
    if (text == "gone") {
      e.state = SeenState::gone;
    } else if (auto st = member_state_from_string(text)) {
      e.state = static_cast<SeenState>(*st);
    } else {
      jf::fail(fmt::format("{}: '{}' is not alive, suspect, dead, left or gone", jf::path(w, "state"), text));
    }
    if (auto v = jf::take(jf::opt_int(j, w, "at_ms", 0, end_ms))) e.at = ms_duration(*v);
  } else if (kind == "suspected" || kind == "declared_dead") {
    jf::take(jf::expect_object(j, w, {"kind", "member", "by", "min", "max"}));
    e.kind = kind == "suspected" ? ClusterExpectationKind::suspected : ClusterExpectationKind::declared_dead;
    member_field();
    if (auto it = j.find("by"); it != j.end()) e.by = select(s, *it, jf::path(w, "by"));
    range();
  } else if (kind == "load") {
    jf::take(jf::expect_object(j, w, {"kind", "max_messages_per_member_per_s", "max_bytes_per_member_per_s"}));
    e.kind = ClusterExpectationKind::load;
    e.max_messages = jf::take(jf::opt_number(j, w, "max_messages_per_member_per_s", 0, 1e9));
    e.max_bytes = jf::take(jf::opt_number(j, w, "max_bytes_per_member_per_s", 0, 1e12));
    if (!e.max_messages && !e.max_bytes) {
      jf::fail(fmt::format("{}: needs max_messages_per_member_per_s, max_bytes_per_member_per_s or both", w));
    }
  } else if (kind == "dissemination") {
    jf::take(jf::expect_object(j, w, {"kind", "max_p99_ms", "max_incomplete"}));
    e.kind = ClusterExpectationKind::dissemination;
    if (auto v = jf::take(jf::opt_int(j, w, "max_p99_ms", 0, end_ms))) e.max_p99 = ms_duration(*v);
    if (j.contains("max_incomplete")) e.max_incomplete = opt_u64_bound(j, w, "max_incomplete", 0);
    if (!e.max_p99 && !e.max_incomplete) jf::fail(fmt::format("{}: needs max_p99_ms, max_incomplete or both", w));
  } else if (kind == "counter") {
    jf::take(jf::expect_object(j, w, {"kind", "counter", "value"}));
    e.kind = ClusterExpectationKind::counter;
    e.counter = jf::take(jf::get_string(j, w, "counter", TargetSpec::kMaxIdLength));
    e.value = jf::take(jf::get_int(j, w, "value", -(std::int64_t{1} << 53), std::int64_t{1} << 53));
  } else if (kind == "set") {
    jf::take(jf::expect_object(j, w, {"kind", "set", "members"}));
    e.kind = ClusterExpectationKind::set;
    e.set = jf::take(jf::get_string(j, w, "set", 256));
    const json& list = *jf::take(jf::get_array(j, w, "members", 100'000));
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string()) jf::fail(fmt::format("{}[{}]: must be a string", jf::path(w, "members"), i));
      e.elements.push_back(list[i].get<std::string>());
    }
    std::sort(e.elements.begin(), e.elements.end());
    e.elements.erase(std::unique(e.elements.begin(), e.elements.end()), e.elements.end());
  } else if (kind == "alerts") {
    jf::take(jf::expect_object(j, w, {"kind", "max_duplicates", "min_delivered"}));
    e.kind = ClusterExpectationKind::alerts;
    if (!s.alerts.enabled()) jf::fail(fmt::format("{}: the scenario has no alert routes (\"alerts\": {{\"routes\": …}})", w));
    e.max = jf::take(jf::opt_int(j, w, "max_duplicates", 0, 1'000'000)).value_or(0);
    e.min = jf::take(jf::opt_int(j, w, "min_delivered", 0, 1'000'000)).value_or(0);
  } else if (kind == "registry") {
    jf::take(jf::expect_object(j, w, {"kind", "targets"}));
    e.kind = ClusterExpectationKind::registry;
    const json& ids = *jf::take(jf::get_array(j, w, "targets", ClusterScenario::kMaxTargets));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto f = fmt::format("{}.targets[{}]", w, i);
      if (!ids[i].is_string()) jf::fail(fmt::format("{}: must be a target id, got {}", f, jf::type_name(ids[i])));
      e.target_ids.push_back(ids[i].get<std::string>());
    }
    std::sort(e.target_ids.begin(), e.target_ids.end());
  } else if (kind == "marks") {
    jf::take(jf::expect_object(j, w, {"kind", "hit"}));
    e.kind = ClusterExpectationKind::marks;
    const json& names = *jf::take(jf::get_array(j, w, "hit", kCoverageMarkCount));
    if (names.empty()) jf::fail(fmt::format("{}: names no mark", jf::path(w, "hit")));
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto f = fmt::format("{}.hit[{}]", w, i);
      if (!names[i].is_string()) jf::fail(fmt::format("{}: must be a mark name, got {}", f, jf::type_name(names[i])));
      const auto name = names[i].get<std::string>();
      if (!coverage_mark_index(name)) {
        jf::fail(fmt::format("{}: '{}' is not a coverage mark (marks: {})", f, name, coverage_mark_names()));
      }
      e.marks.push_back(name);
    }
  } else if (kind == "detects" || kind == "never" || kind == "status_at" || kind == "checks" || kind == "changes") {
    parse_own_checks(j, w, kind, s, e);
  } else {
    jf::fail(fmt::format(
        "{}: '{}' is not one of detection, false_positives, converges, member_state, suspected, declared_dead, "
        "load, dissemination, state_converges, counter, registry, marks, detects, never, status_at, checks, changes",
        jf::path(w, "kind"), kind));
  }
  return e;
}

// Target selectors: an id, a prefix ending in '*', "*", or an array of
// those, over every target the run can know; each must match one.
std::vector<std::uint32_t> select_targets(const ClusterScenario& s, const json& v, const std::string& field) {
  std::vector<bool> chosen(s.target_count(), false);
  auto one = [&](const json& item, const std::string& f) {
    if (!item.is_string()) jf::fail(fmt::format("{}: must be a target id or pattern, got {}", f, jf::type_name(item)));
    const auto text = item.get<std::string>();
    bool any = false;
    for (std::uint32_t i = 0; i < s.target_count(); ++i) {
      if (target_pattern_matches(text, s.target_spec(i).id)) any = chosen[i] = true;
    }
    if (!any) jf::fail(fmt::format("{}: '{}' matches no target", f, text));
  };
  if (v.is_array()) {
    if (v.empty() || v.size() > ClusterScenario::kMaxTargets) {
      jf::fail(fmt::format("{}: must name 1-{} targets", field, ClusterScenario::kMaxTargets));
    }
    for (std::size_t i = 0; i < v.size(); ++i) one(v[i], fmt::format("{}[{}]", field, i));
  } else {
    one(v, field);
  }
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i]) out.push_back(i);
  }
  return out;
}

void parse_vantage(const json& j, ClusterScenario& s) {
  constexpr std::size_t kMaxRules = 64;
  if (!j.is_array()) jf::fail(fmt::format("vantage: must be an array, got {}", jf::type_name(j)));
  if (j.size() > kMaxRules) jf::fail(fmt::format("vantage: more than {} rules", kMaxRules));
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto w = fmt::format("vantage[{}]", i);
    jf::take(jf::expect_object(j[i], w, {"target", "members", "answer"}));
    VantageRule r;
    if (!j[i].contains("target")) jf::fail(fmt::format("{}: missing", jf::path(w, "target")));
    if (!j[i].contains("members")) jf::fail(fmt::format("{}: missing", jf::path(w, "members")));
    r.targets = select_targets(s, j[i].at("target"), jf::path(w, "target"));
    r.members = select(s, j[i].at("members"), jf::path(w, "members"));
    const auto answer = jf::take(jf::opt_string(j[i], w, "answer", 16)).value_or("refusing");
    if (answer == "refusing") {
      r.answer = VantageRule::Answer::refusing;
    } else if (answer == "timeout") {
      r.answer = VantageRule::Answer::timeout;
    } else if (answer == "down") {
      r.answer = VantageRule::Answer::down;
    } else {
      jf::fail(fmt::format("{}: '{}' is not refusing, timeout or down", jf::path(w, "answer"), answer));
    }
    s.vantage.push_back(std::move(r));
  }
}

void parse_alerts(const json& j, AlertSettings& a) {
  const std::string w = "alerts";
  jf::take(jf::expect_object(j, w, {"routes", "tick_ms", "receiver"}));
  if (!j.contains("routes")) jf::fail("alerts.routes: missing");
  a.config.routes = jf::take(parse_alert_routes(j.at("routes"), "alerts.routes"));
  a.config.tick = opt_ms(j, w, "tick_ms", 10, 60'000, a.config.tick);
  if (auto it = j.find("receiver"); it != j.end()) {
    const std::string r = "alerts.receiver";
    jf::take(jf::expect_object(*it, r, {"latency_ms", "fail_rate"}));
    a.latency = opt_ms(*it, r, "latency_ms", 0, 60'000, a.latency);
    if (auto f = jf::take(jf::opt_number(*it, r, "fail_rate", 0.0, 1.0))) a.fail_rate = *f;
  }
}

void parse_invariants(const json& j, InvariantSettings& c) {
  const std::string w = "invariants";
  jf::take(jf::expect_object(j, w, {"enabled", "settle_ms", "herd_slack", "max_freshness_ms", "sample_ms", "off"}));
  c.enabled = opt_bool(j, w, "enabled", true);
  if (auto v = jf::take(jf::opt_int(j, w, "settle_ms", 0, 3'600'000))) c.settle = ms_duration(*v);
  c.herd_slack = static_cast<int>(jf::take(jf::opt_int(j, w, "herd_slack", 0, 64)).value_or(1));
  if (auto v = jf::take(jf::opt_int(j, w, "max_freshness_ms", 1, 3'600'000))) c.max_freshness = ms_duration(*v);
  c.sample_every = opt_ms(j, w, "sample_ms", 10, 1000, c.sample_every);
  if (j.contains("off")) {
    const json& off = *jf::take(jf::get_array(j, w, "off", 4));
    for (std::size_t i = 0; i < off.size(); ++i) {
      const auto f = fmt::format("{}.off[{}]", w, i);
      const std::string text = off[i].is_string() ? off[i].get<std::string>() : off[i].dump();
      const auto* found = std::find_if(std::begin(kInvariants), std::end(kInvariants),
                                       [&](Invariant inv) { return to_string(inv) == text; });
      if (found == std::end(kInvariants)) {
        jf::fail(fmt::format("{}: '{}' is not coverage, no_herd, agreement or freshness", f, text));
      }
      c.off.push_back(*found);
    }
  }
}

ClusterScenario parse(const json& file, const KnobSettings& knob_settings) {
  if (!file.is_object()) jf::fail(fmt::format("scenario: must be an object, got {}", jf::type_name(file)));
  jf::take(jf::expect_object(file, "",
                    {"kind", "name", "description", "seed", "members", "seeds", "start_spread_ms", "swim",
                     "replication", "jitter_fraction", "network", "safety_ms", "liveness_ms", "metrics_from_ms",
                     "timeline", "targets", "targets_at", "expectations", "vantage", "invariants", "alerts"}));
  if (auto it = file.find("kind"); it != file.end() && !(it->is_string() && it->get<std::string>() == "cluster")) {
    jf::fail("kind: must be \"cluster\" (or absent)");
  }
  // Ranges, any_of and picks (sim/scenario_knobs.h) become values in a copy;
  // the rest of the parser reads only values.
  json j = file;
  KnobResolver knobs(knob_settings);
  ClusterScenario s;
  const std::string top;
  s.name = jf::take(jf::get_string(j, top, "name", 256));
  s.description = jf::take(jf::opt_string(j, top, "description", kMaxTextField)).value_or("");
  if (j.contains("seed")) s.seed = jf::take(jf::get_u64(j, top, "seed"));
  if (!j.contains("members")) jf::fail("members: missing");
  knobs.resolve_members(j.at("members"));
  parse_members(j.at("members"), s);
  {
    std::vector<std::string> names;
    for (const MemberScenario& m : s.members) names.push_back(m.name);
    knobs.resolve_rest(j, names);
  }
  s.knobs = knobs.drawn();
  s.knob_mode = knob_settings.mode;
  if (auto it = j.find("seeds"); it != j.end()) {
    // [] = no seeds: every member starts alone, its own one-member cluster.
    if (!(it->is_array() && it->empty())) s.seeds = select(s, *it, "seeds");
  } else {
    s.seeds = {0};
  }
  s.start_spread = opt_ms(j, top, "start_spread_ms", 0, 3'600'000, Duration::zero());
  if (auto it = j.find("swim"); it != j.end()) parse_swim(*it, s.swim);
  if (auto it = j.find("replication"); it != j.end()) parse_replication(*it, s.replication);
  if (auto jitter = jf::take(jf::opt_number(j, top, "jitter_fraction", 0.0, 0.5))) s.scheduler.jitter_fraction = *jitter;
  if (auto it = j.find("network"); it != j.end()) parse_network(*it, s);
  s.safety = ms_duration(jf::take(jf::get_int(j, top, "safety_ms", 1, ClusterScenario::kMaxPhaseMs)));
  s.liveness = ms_duration(jf::take(jf::get_int(j, top, "liveness_ms", 0, ClusterScenario::kMaxPhaseMs)));
  s.metrics_from = opt_ms(j, top, "metrics_from_ms", 0, s.duration().ms(), Duration::zero());

  if (j.contains("targets")) {
    const json& targets = j.at("targets");
    if (!targets.is_array()) jf::fail(fmt::format("targets: must be an array, got {}", jf::type_name(targets)));
    s.targets = parse_target_array(targets, ClusterScenario::kMaxTargets);
  }
  if (auto it = j.find("targets_at"); it != j.end()) {
    s.targets_at = select(s, *it, "targets_at");
    if (s.targets_at.size() == s.members.size()) s.targets_at.clear();
  }
  if (j.contains("timeline")) {
    const json& tl = *jf::take(jf::get_array(j, top, "timeline", ClusterScenario::kMaxEvents));
    EventParser p{s, s.timeline, s.runtime_targets};
    for (std::size_t i = 0; i < tl.size(); ++i) p.parse(tl[i], i);
    std::stable_sort(s.timeline.begin(), s.timeline.end(),
                     [](const TimelineEvent& a, const TimelineEvent& b) { return a.at < b.at; });
  }
  if (auto it = j.find("vantage"); it != j.end()) parse_vantage(*it, s);
  if (auto it = j.find("invariants"); it != j.end()) parse_invariants(*it, s.invariants);
  if (auto it = j.find("alerts"); it != j.end()) parse_alerts(*it, s.alerts);
  std::size_t count = 0;
  if (j.contains("expectations")) {
    const json& ex = *jf::take(jf::get_array(j, top, "expectations", ClusterScenario::kMaxExpectations));
    for (std::size_t i = 0; i < ex.size(); ++i) s.expectations.push_back(parse_expectation(ex[i], i, s));
    count = ex.size();
  }
  // The standing invariants, whenever the run can know a target.
  if (s.target_count() > 0) {
    for (Invariant inv : kInvariants) {
      if (!s.invariants.judged(inv)) continue;
      ClusterExpectation e;
      e.kind = ClusterExpectationKind::invariant;
      e.invariant = inv;
      e.source = count++;
      s.expectations.push_back(std::move(e));
    }
  }
  return s;
}

}  // namespace

Result<ClusterScenario> parse_cluster_scenario(const json& j, KnobSettings knobs) {
  ClusterScenario s;
  try {
    s = parse(j, knobs);
  } catch (const jf::FieldError& e) {
    return Error{e.message};
  }
  if (!s.knobs.empty() && (knobs.mode == KnobMode::defaults || knobs.mode == KnobMode::swarm)) {
    // The corners too: a bound broken at a range's end is the file's error,
    // not one seed's.
    for (KnobMode corner : {KnobMode::low, KnobMode::high}) {
      try {
        parse(j, KnobSettings{corner, 0});
      } catch (const jf::FieldError& e) {
        return Error{fmt::format("with every range at its {} end: {}", to_string(corner), e.message)};
      }
    }
  }
  return s;
}

Result<json> read_scenario_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open", path)};
  std::string text;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > ClusterScenario::kMaxFileBytes) {
      return Error{fmt::format("{}: larger than {} bytes", path, ClusterScenario::kMaxFileBytes)};
    }
  }
  if (in.bad()) return Error{fmt::format("{}: read error", path)};
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return Error{fmt::format("{}: not valid JSON: {}", path, e.what())};
  }
  return j;
}

Result<ClusterScenario> load_cluster_scenario(const std::string& path, KnobSettings knobs) {
  auto j = read_scenario_json(path);
  if (!j) return Error{j.error()};
  auto s = parse_cluster_scenario(*j, knobs);
  if (!s) return Error{fmt::format("{}: {}", path, s.error())};
  return s;
}

}  // namespace heck::sim
