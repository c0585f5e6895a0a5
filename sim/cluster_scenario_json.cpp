// serialize_cluster_scenario (sim/cluster_scenario.h): a parsed scenario
// back to the JSON the parser reads, in its plainest form: members as a list
// with their clocks, every target and timeline event spelled out (groups and
// rolling restarts expanded), member sets as names, every setting written.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/cluster_scenario.h"

namespace heck::sim {

using nlohmann::json;

namespace {

// A member selector: one name as a string, several as an array.
json names(const ClusterScenario& s, const std::vector<std::uint32_t>& members) {
  if (members.size() == 1) return s.members[members[0]].name;
  json out = json::array();
  for (std::uint32_t m : members) out.push_back(s.members[m].name);
  return out;
}

json names(const ClusterScenario& s, const EndpointSet& set) {
  std::vector<std::uint32_t> members;
  for (std::uint32_t m = 0; m < s.members.size(); ++m) {
    if (set.contains(m)) members.push_back(m);
  }
  return names(s, members);
}

void put_link_fields(json& j, const LinkOverride& o) {
  if (o.latency) j["latency"] = o.latency->to_json();
  if (o.loss) j["loss"] = *o.loss;
  if (o.duplicate) j["duplicate"] = *o.duplicate;
  if (o.reorder) j["reorder"] = *o.reorder;
  if (o.reorder_delay) j["reorder_delay"] = o.reorder_delay->to_json();
  if (o.stream_bytes_per_ms) j["stream_bytes_per_ms"] = *o.stream_bytes_per_ms;
}

json members_json(const ClusterScenario& s) {
  json out = json::array();
  for (const MemberScenario& m : s.members) {
    json j = {{"name", m.name}, {"clock", {{"offset_ms", m.clock_offset.ms()}, {"drift_ppm", m.drift_ppm}}}};
    if (!m.starts) j["start"] = false;
    out.push_back(std::move(j));
  }
  return out;
}

json swim_json(const SwimConfig& c) {
  return {{"probe_interval_ms", c.probe_interval.ms()},
          {"probe_timeout_ms", c.probe_timeout.ms()},
          {"indirect_checks", c.indirect_checks},
          {"suspicion_mult", c.suspicion_mult},
          {"max_suspicion_timeout_mult", c.max_suspicion_timeout_mult},
          {"retransmit_mult", c.retransmit_mult},
          {"gossip_interval_ms", c.gossip_interval.ms()},
          {"gossip_nodes", c.gossip_nodes},
          {"gossip_to_the_dead_ms", c.gossip_to_the_dead.ms()},
          {"push_pull_interval_ms", c.push_pull_interval.ms()},
          {"reconnect_interval_ms", c.reconnect_interval.ms()},
          {"max_packet_bytes", c.max_packet_bytes},
          {"max_awareness_multiplier", c.max_awareness_multiplier},
          {"dead_reap_after_ms", c.dead_reap_after.ms()},
          {"min_join_backoff_ms", c.min_join_backoff.ms()},
          {"max_join_backoff_ms", c.max_join_backoff.ms()},
          {"nack_timeout_fraction", c.nack_timeout_fraction},
          {"lifeguard", c.lifeguard}};
}

json network_json(const ClusterScenario& s) {
  const LinkConfig& n = s.network;
  json j = {{"latency", n.latency.to_json()},
            {"loss", n.loss},
            {"duplicate", n.duplicate},
            {"reorder", n.reorder},
            {"reorder_delay", n.reorder_delay.to_json()},
            {"stream_bytes_per_ms", n.stream_bytes_per_ms},
            {"socket_buffer_packets", s.socket_buffer_packets}};
  if (!s.links.empty()) {
    json links = json::array();
    for (const ClusterScenario::LinkRule& r : s.links) {
      json l = {{"from", names(s, r.from)}, {"to", names(s, r.to)}, {"one_way", r.one_way}};
      put_link_fields(l, r.link);
      links.push_back(std::move(l));
    }
    j["links"] = std::move(links);
  }
  return j;
}

// The behaviour a runtime target's first put carries (none: no such host).
const TargetModel* runtime_model(const ClusterScenario& s, const std::string& id) {
  for (const auto& r : s.runtime_targets) {
    if (r.spec.id == id) return r.model ? &*r.model : nullptr;
  }
  return nullptr;
}

json event_json(const ClusterScenario& s, const TimelineEvent& e, std::vector<std::string>& behaviours_written) {
  json j = {{"at_ms", e.at.ms()}, {"event", to_string(e.kind)}};
  switch (e.kind) {
    case FaultKind::crash:
    case FaultKind::resume:
    case FaultKind::join: j["members"] = names(s, e.members); break;
    case FaultKind::restart:
      j["members"] = names(s, e.members);
      j["down_ms"] = e.down.ms();
      break;
    case FaultKind::pause:
      j["members"] = names(s, e.members);
      if (e.pause_for) j["for_ms"] = e.pause_for->ms();
      break;
    case FaultKind::leave:
      j["members"] = names(s, e.members);
      j["stop_after_ms"] = e.stop_after.ms();
      break;
    case FaultKind::partition:
    case FaultKind::clog:
    case FaultKind::link:
      j["from"] = names(s, e.from);
      j["to"] = names(s, e.to);
      j["one_way"] = e.one_way;
      if (!e.name.empty()) j["name"] = e.name;
      if (e.kind == FaultKind::link) put_link_fields(j, e.link);
      break;
    case FaultKind::heal:
    case FaultKind::release:
    case FaultKind::unlink:
      if (!e.name.empty()) j["name"] = e.name;
      break;
    case FaultKind::put_target: {
      j["members"] = names(s, e.members);
      j["spec"] = e.spec->to_json();
      // The model rides on the first put of its id, as in a file.
      const std::string& id = e.spec->id;
      const TargetModel* model = runtime_model(s, id);
      if (model != nullptr && std::find(behaviours_written.begin(), behaviours_written.end(), id) == behaviours_written.end()) {
        j["behaviour"] = model->behaviour_json();
        behaviours_written.push_back(id);
      }
      break;
    }
    case FaultKind::delete_target:
      j["members"] = names(s, e.members);
      j["id"] = e.id;
      break;
    case FaultKind::add_counter:
      j["members"] = names(s, e.members);
      j["counter"] = e.id;
      j["delta"] = e.delta;
      if (!e.key.empty()) j["key"] = e.key;
      break;
    case FaultKind::add_to_set:
    case FaultKind::remove_from_set:
      j["members"] = names(s, e.members);
      j["set"] = e.id;
      j["element"] = e.element;
      if (!e.key.empty()) j["key"] = e.key;
      break;
  }
  return j;
}

void put_count_bounds(json& j, const ClusterExpectation& e) {
  j["min"] = e.min;
  if (e.max != UINT64_MAX) j["max"] = e.max;
}

json expectation_json(const ClusterScenario& s, const ClusterExpectation& e) {
  json j = {{"kind", to_string(e.kind)}};
  auto ms = [](Duration d) { return d.ms(); };
  auto all_members = [&] { return e.members.size() == s.members.size(); };
  switch (e.kind) {
    case ClusterExpectationKind::detection:
      if (e.max_first) j["max_first_ms"] = ms(*e.max_first);
      if (e.max_dead) j["max_dead_ms"] = ms(*e.max_dead);
      break;
    case ClusterExpectationKind::false_positives:
      if (e.max_suspected) j["max_suspected"] = *e.max_suspected;
      if (e.max_dead_count) j["max_dead"] = *e.max_dead_count;
      if (e.from > Duration::zero()) j["from_ms"] = ms(e.from);
      if (e.to != Duration::max()) j["to_ms"] = ms(e.to);
      break;
    case ClusterExpectationKind::converges:
    case ClusterExpectationKind::state_converges: j["within_ms"] = ms(e.within); break;
    case ClusterExpectationKind::member_state:
      j["member"] = names(s, e.members);
      j["state"] = to_string(e.state);
      if (e.at) j["at_ms"] = ms(*e.at);
      break;
    case ClusterExpectationKind::suspected:
    case ClusterExpectationKind::declared_dead:
      j["member"] = names(s, e.members);
      if (!e.by.empty()) j["by"] = names(s, e.by);
      put_count_bounds(j, e);
      break;
    case ClusterExpectationKind::load:
      if (e.max_messages) j["max_messages_per_member_per_s"] = *e.max_messages;
      if (e.max_bytes) j["max_bytes_per_member_per_s"] = *e.max_bytes;
      break;
    case ClusterExpectationKind::dissemination:
      if (e.max_p99) j["max_p99_ms"] = ms(*e.max_p99);
      if (e.max_incomplete) j["max_incomplete"] = *e.max_incomplete;
      break;
    case ClusterExpectationKind::counter:
      j["counter"] = e.counter;
      j["value"] = e.value;
      break;
    case ClusterExpectationKind::set:
      j["set"] = e.set;
      j["members"] = e.elements;
      break;
    case ClusterExpectationKind::alerts:
      j["max_duplicates"] = e.max;
      j["min_delivered"] = e.min;
      break;
    case ClusterExpectationKind::registry: j["targets"] = e.target_ids; break;
    case ClusterExpectationKind::marks: j["hit"] = e.marks; break;
    case ClusterExpectationKind::invariant: break;  // implicit: not written
    case ClusterExpectationKind::detects:
    case ClusterExpectationKind::never:
    case ClusterExpectationKind::status_at:
    case ClusterExpectationKind::checks:
    case ClusterExpectationKind::changes:
      j["target"] = e.target_text;
      if (!all_members()) j["member"] = names(s, e.members);
      if (e.kind == ClusterExpectationKind::detects) j["within_intervals"] = e.within_intervals;
      if (e.kind == ClusterExpectationKind::never || e.kind == ClusterExpectationKind::status_at) {
        j["status"] = to_string(e.status);
      }
      if (e.kind == ClusterExpectationKind::status_at) j["at_ms"] = ms(e.at.value_or(Duration::zero()));
      if (e.kind == ClusterExpectationKind::checks || e.kind == ClusterExpectationKind::changes) put_count_bounds(j, e);
      break;
  }
  return j;
}

std::string_view answer_text(VantageRule::Answer a) {
  switch (a) {
    case VantageRule::Answer::refusing: return "refusing";
    case VantageRule::Answer::timeout: return "timeout";
    case VantageRule::Answer::down: return "down";
  }
  return "?";
}

json invariants_json(const InvariantSettings& c) {
  json j = {{"enabled", c.enabled}, {"herd_slack", c.herd_slack}, {"sample_ms", c.sample_every.ms()}};
  if (c.settle) j["settle_ms"] = c.settle->ms();
  if (c.max_freshness) j["max_freshness_ms"] = c.max_freshness->ms();
  if (!c.off.empty()) {
    json off = json::array();
    for (Invariant i : c.off) off.push_back(to_string(i));
    j["off"] = std::move(off);
  }
  return j;
}

}  // namespace

json serialize_cluster_scenario(const ClusterScenario& s) {
  json j = {{"kind", "cluster"}, {"name", s.name}};
  if (!s.description.empty()) j["description"] = s.description;
  j["seed"] = s.seed;
  j["members"] = members_json(s);
  json seeds = json::array();
  for (std::uint32_t m : s.seeds) seeds.push_back(s.members[m].name);
  j["seeds"] = std::move(seeds);
  j["start_spread_ms"] = s.start_spread.ms();
  j["swim"] = swim_json(s.swim);
  j["replication"] = {{"anti_entropy_interval_ms", s.replication.anti_entropy_interval.ms()},
                      {"fanout", s.replication.fanout},
                      {"flush_delay_ms", s.replication.flush_delay.ms()},
                      {"flush_gap_ms", s.replication.flush_gap.ms()},
                      {"max_hlc_forward_ms", s.replication.max_hlc_forward.ms()}};
  j["jitter_fraction"] = s.scheduler.jitter_fraction;
  j["network"] = network_json(s);
  j["safety_ms"] = s.safety.ms();
  j["liveness_ms"] = s.liveness.ms();
  j["metrics_from_ms"] = s.metrics_from.ms();
  json timeline = json::array();
  std::vector<std::string> behaviours_written;
  for (const TimelineEvent& e : s.timeline) timeline.push_back(event_json(s, e, behaviours_written));
  j["timeline"] = std::move(timeline);
  json targets = json::array();
  for (const TargetModel& t : s.targets) targets.push_back({{"spec", t.spec().to_json()}, {"behaviour", t.behaviour_json()}});
  j["targets"] = std::move(targets);
  if (!s.targets_at.empty()) j["targets_at"] = names(s, s.targets_at);
  if (!s.vantage.empty()) {
    json vantage = json::array();
    for (const VantageRule& r : s.vantage) {
      json ids = json::array();
      for (std::uint32_t t : r.targets) ids.push_back(s.target_spec(t).id);
      vantage.push_back({{"target", std::move(ids)}, {"members", names(s, r.members)}, {"answer", answer_text(r.answer)}});
    }
    j["vantage"] = std::move(vantage);
  }
  if (s.alerts.enabled()) {
    json routes = json::array();
    for (const AlertRoute& r : s.alerts.config.routes) routes.push_back(r.to_json());
    j["alerts"] = {{"routes", std::move(routes)},
                   {"tick_ms", s.alerts.config.tick.ms()},
                   {"receiver", {{"latency_ms", s.alerts.latency.ms()}, {"fail_rate", s.alerts.fail_rate}}}};
  }
  j["invariants"] = invariants_json(s.invariants);
  json expectations = json::array();
  for (const ClusterExpectation& e : s.expectations) {
    if (e.kind != ClusterExpectationKind::invariant) expectations.push_back(expectation_json(s, e));
  }
  j["expectations"] = std::move(expectations);
  return j;
}

}  // namespace heck::sim
