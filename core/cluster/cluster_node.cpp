#include "core/cluster/cluster_node.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <span>
#include <iterator>
#include <type_traits>

#include <fmt/format.h>

#include "core/ownership/owner_split.h"
#include "core/ownership/rendezvous.h"
#include "core/random.h"
#include "core/wire/envelope.h"

namespace heck {
namespace {

std::uint64_t derive(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t s = seed ^ (salt * 0x9e3779b97f4a7c15ULL);
  return splitmix64(s);
}

bool is_live(MemberState s) { return s == MemberState::alive || s == MemberState::suspect; }

constexpr TimerKey kVouchTimer{TimerKind::vouch, 0};
constexpr TimerKey kAlertTimer{TimerKind::alerts, 0};
constexpr TimerKey kHandoffTimer{TimerKind::latency_handoff, 0};

ClusterNodeConfig with_one_packet_budget(ClusterNodeConfig c) {
  c.replication.max_packet_bytes = c.swim.max_packet_bytes;
  return c;
}

}  // namespace

ClusterNode::ClusterNode(ClusterNodeConfig config, std::uint64_t seed)
    : config_(with_one_packet_budget(std::move(config))),
      swim_(config_.swim, config_.name, config_.address, derive(seed, 1)),
      replicator_(config_.replication, wire::Header{config_.name, config_.address},
                  make_replica_id(config_.name, derive(seed, 2)), derive(seed, 3), /*broadcasts=*/nullptr),
      scheduler_(derive(seed, 4), config_.scheduler),
      mirror_(health_state().self()),
      store_clock_(config_.replication.max_hlc_forward),
      alerts_(config_.alerts),
      ownership_(swim_.names(), config_.rank_cache) {
  if (config_.external_store) {
    mirror_.track_registry_changes();
  } else {
    replicator_.track_registry_changes();
  }
}

void ClusterNode::start(Instant now, Effects& out) {
  const std::size_t first = out.size();
  if (config_.restored && !config_.external_store) replicator_.join_snapshot(*config_.restored);
  swim_.join(now, config_.seeds, out);
  if (!config_.external_store) replicator_.start(now, out);
  configured_.clear();
  for (const TargetSpec& spec : config_.targets) {
    const std::uint64_t fingerprint = spec_fingerprint(spec);
    configured_[spec.id] = fingerprint;
    if (auto seeded = config_.configured.find(spec.id);
        seeded != config_.configured.end() && seeded->second == fingerprint) {
      continue;  // written by an earlier start: deleted, replaced or kept since, it is the cluster's now
    }
    const auto existing = health_state().target(spec.id);
    if (existing && existing->spec && existing->spec->spec && *existing->spec->spec == spec) continue;
    if (config_.external_store) {
      write_to_store(now, StoreTargetPut{spec, {}}, out);
    } else {
      replicator_.put_target(now, spec, out);
    }
  }
  if (configured_ != config_.configured) ++durable_epoch_;  // saved even when nothing was written
  membership_dirty_ = true;
  out.push_back(SetTimer{kVouchTimer, now + config_.observation_refresh});
  if (config_.latency_handoff_interval > Duration::zero()) {
    out.push_back(SetTimer{kHandoffTimer, now + config_.latency_handoff_interval});
  }
  routes_seen_ = health_state().routes_version();
  if (routes_seen_ != 0) update_routes(now, out);  // restored from a snapshot
  if (alerts_.enabled() && !alert_timer_armed_) {
    out.push_back(SetTimer{kAlertTimer, now + config_.alerts.tick});
    alert_timer_armed_ = true;
  }
  after_step(now, first, out);
}

void ClusterNode::step(Instant now, const ClusterInput& in, Effects& out) {
  const std::size_t first = out.size();
  std::visit(
      [&](const auto& input) {
        using T = std::decay_t<decltype(input)>;
        if constexpr (std::is_same_v<T, Packet>) {
          handle_packet(now, input, out);
        } else if constexpr (std::is_same_v<T, TimerFired>) {
          switch (input.key.kind) {
            case TimerKind::check:
              scheduler_.handle_timer(now, input.key, out);
              break;
            case TimerKind::anti_entropy:
            case TimerKind::replica_flush:
              replicator_.handle_timer(now, input.key, peers_.view(), out);
              break;
            case TimerKind::swim_probe:
            case TimerKind::swim_ack_timeout:
            case TimerKind::swim_probe_deadline:
            case TimerKind::swim_suspicion:
            case TimerKind::swim_gossip:
            case TimerKind::swim_push_pull:
            case TimerKind::swim_join:
            case TimerKind::swim_reap:
              swim_.handle_timer(now, input.key, out);
              break;
            case TimerKind::vouch:
              vouch(now, out);
              break;
            case TimerKind::alerts:
              look_for_alerts(now, out);
              break;
            case TimerKind::latency_handoff:
              hand_off_latencies(now, out);
              break;
            default:
              ++counters_.unknown_timers;
              break;
          }
        } else if constexpr (std::is_same_v<T, CheckDone>) {
          scheduler_.handle_check_done(now, input.check, input.outcome, out);
        } else if constexpr (std::is_same_v<T, LeaveCluster>) {
          swim_.leave(now, out);
          membership_dirty_ = true;
        } else if constexpr (std::is_same_v<T, PutTarget>) {
          if (config_.external_store) write_to_store(now, StoreTargetPut{input.spec, {}}, out);
          else replicator_.put_target(now, input.spec, out);
        } else if constexpr (std::is_same_v<T, DeleteTarget>) {
          if (config_.external_store) write_to_store(now, StoreTargetRemove{input.id}, out);
          else replicator_.remove_target(now, input.id, out);
        } else if constexpr (std::is_same_v<T, AddToCounter>) {
          if (health_state().counter_add_problem(input.name, input.delta)) {
            ++counters_.counter_adds_refused;
          } else if (config_.external_store) {
            write_to_store(now, StoreCounterAdd{input.name, input.delta}, out);
          } else {
            replicator_.add_to_counter(now, input.name, input.delta, out);
          }
        } else if constexpr (std::is_same_v<T, StoreUpdate>) {
          if (config_.external_store) apply_store_update(now, input);
        } else if constexpr (std::is_same_v<T, AddToSet>) {
          replicator_.add_to_set(now, input.name, input.member, out);
        } else if constexpr (std::is_same_v<T, RemoveFromSet>) {
          replicator_.remove_from_set(now, input.name, input.member, out);
        } else if constexpr (std::is_same_v<T, RecordRequest>) {
          replicator_.record_request(now, input.key, input.answer, out);
        } else if constexpr (std::is_same_v<T, NotifyDone>) {
          notify_done(now, input, out);
        } else if constexpr (std::is_same_v<T, PutRoute>) {
          if (config_.external_store) ++counters_.route_writes_refused;
          else replicator_.put_route(now, input.route, out);
        } else if constexpr (std::is_same_v<T, DeleteRoute>) {
          if (config_.external_store) ++counters_.route_writes_refused;
          else replicator_.remove_route(now, input.name, out);
        }
      },
      in);
  after_step(now, first, out);
}

void ClusterNode::handle_packet(Instant now, const Packet& p, Effects& out) {
  ++counters_.packets_received;
  counters_.bytes_received += p.bytes.size();
  const std::size_t limit =
      p.channel == Channel::datagram ? config_.max_datagram_bytes : config_.max_stream_bytes;
  if (p.bytes.size() > limit) {
    ++counters_.oversized_packets;
    last_malformed_ = fmt::format("from {}: {} bytes (limit {})", p.from, p.bytes.size(), limit);
    return;
  }
  // The parts view p.bytes, alive for this call: the layers copy what they
  // keep. With a cache (the simulator's), the envelope decoded from this
  // very block by any agent before.
  const wire::DecodeLimits limits{.max_bytes = limit};
  Result<wire::Envelope> own = Error{"not decoded here"};
  if (!config_.envelope_cache) own = wire::decode_view(p.bytes, limits);
  const Result<wire::Envelope>& env = config_.envelope_cache ? config_.envelope_cache->decode(p.bytes, limits) : own;
  if (!env) {
    ++counters_.malformed_packets;
    last_malformed_ = fmt::format("from {}: {}", p.from, env.error());
    return;
  }
  const std::span<const wire::Part> parts(env->parts);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const wire::Part& part = parts[i];
    if (is_membership_part(part.type)) {
      // A run of membership parts goes to Swim in one call (it prefetches).
      std::size_t end = i + 1;
      while (end < parts.size() && is_membership_part(parts[end].type)) ++end;
      swim_.handle_parts(now, env->header, parts.subspan(i, end - i), p.channel, out);
      i = end - 1;
    } else if (is_replication_part(part.type) && !config_.external_store) {
      replicator_.handle_part(now, env->header, part, p.channel, peers_.view(), out);
      pass_broadcasts();  // a membership part after this one may piggyback them
    } else if (part.type == wire::PartType::latency_handoff) {
      receive_latency_handoff(now, part, env->header.sender);
    } else {
      ++counters_.unknown_parts;
    }
  }
}

void ClusterNode::after_step(Instant now, std::size_t first_effect, Effects& out) {
  // Targets whose checker may have changed: those the membership change
  // re-ranked or whose owners' flags changed (OwnershipIndex), and those
  // whose registry entry changed. Never every target. Member changes are
  // applied one by one (O(targets) integer work each, no O(members) copy);
  // a start or a leave rebuilds the member view.
  std::vector<Name> affected;
  if (membership_dirty_) {
    refresh_peers(&affected);
    membership_dirty_ = false;
  } else {
    for (std::size_t i = first_effect; i < out.size(); ++i) {
      if (const auto* c = std::get_if<MemberChanged>(&out[i])) apply_member_change(*c, &affected);
    }
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  }
  const HealthState& state = health_state();
  if (state.registry_version() != registry_seen_) {
    registry_seen_ = state.registry_version();
    ++durable_epoch_;
    const std::vector<Name> changed = take_registry_changes();
    std::vector<SpecVersion> settle;  // winning versions with siblings this node writes once more
    for (const Name& id : changed) {
      const auto resolved = state.target(id);
      if (resolved && resolved->spec && resolved->spec->spec) {
        ownership_.put_target(id, owner_count(resolved->spec->spec->checkers));
        if (resolved->spec_siblings > 1 && !config_.external_store && swim_.joined() &&
            resolved->spec->writer == state.self()) {
          settle.push_back(*resolved->spec);
        }
      } else {
        ownership_.remove_target(id);
      }
    }
    // Concurrent writes of a target (every agent writes its configured
    // targets at start; PUTs through two agents) leave one spec sibling
    // each. The writer of the winning sibling writes it once more, which
    // supersedes every sibling it has seen: one spec per target again, the
    // same one everywhere (the winner is resolved the same way by all). The
    // rewrite keeps the winner's written_at (Replicator::settle_target), so
    // it never outranks a newer put written elsewhere meanwhile.
    // Chosen by the winner, not by this node's view of the ownership: two
    // members that both took themselves for the first owner (a join, a
    // heal) would supersede each other's rewrites over and over; two
    // winners' writers that rewrite at once leave two siblings, of which
    // one wins, and its writer ends it. Not before this node has joined (a
    // restored snapshot's siblings meet the others' first). If the winner's
    // writer is gone, the siblings stay until the target's next write.
    for (const SpecVersion& winner : settle) {
      replicator_.settle_target(now, winner, out);
      ++counters_.sibling_specs_settled;
    }
    if (affected.empty()) {
      affected.assign(changed.begin(), changed.end());
    } else {
      std::vector<Name> merged;
      merged.reserve(affected.size() + changed.size());
      std::set_union(affected.begin(), affected.end(), changed.begin(), changed.end(), std::back_inserter(merged));
      affected = std::move(merged);
    }
  }
  if (state.counters_version() != counters_seen_) {
    counters_seen_ = state.counters_version();
    ++durable_epoch_;
  }
  if (state.sets_version() + state.requests_version() + state.alerts_version() != sets_requests_seen_) {
    sets_requests_seen_ = state.sets_version() + state.requests_version() + state.alerts_version();
    ++durable_epoch_;
  }
  if (state.routes_version() != routes_seen_) {
    routes_seen_ = state.routes_version();
    ++durable_epoch_;
    update_routes(now, out);
  }
  if (!affected.empty()) reconcile(now, affected, out);
  record_results(now, first_effect, out);
  pass_broadcasts();
  if (config_.wire_format == 1) write_format1(first_effect, out);
}

void ClusterNode::write_format1(std::size_t first_effect, Effects& out) {
  // Sends of one message to several peers share its block: re-framed once.
  std::vector<std::pair<const std::uint8_t*, SharedBytes>> done;
  for (std::size_t i = first_effect; i < out.size(); ++i) {
    auto* s = std::get_if<Send>(&out[i]);
    if (!s) continue;
    const std::uint8_t* block = s->bytes.data();
    auto it = std::find_if(done.begin(), done.end(), [&](const auto& d) { return d.first == block; });
    if (it == done.end()) {
      auto v1 = wire::to_format1(s->bytes);
      assert(v1.ok());  // every envelope a layer writes decodes
      if (!v1) continue;
      done.emplace_back(block, SharedBytes(std::move(*v1)));
      it = std::prev(done.end());
    }
    s->bytes = it->second;
  }
}

void ClusterNode::refresh_peers(std::vector<Name>* affected) {
  ++membership_epoch_;
  std::vector<Peer> peers;
  for (const MemberInfo* m : swim_.live_members()) peers.push_back(Peer{m->name, m->address});
  peers_.reset(std::move(peers));
  std::vector<IndexedMember> live;
  for (const MemberInfo& m : swim_.members()) {
    if (m.name == config_.name) {
      if (swim_.left()) continue;
    } else if (!is_live(m.state)) {
      continue;
    }
    live.push_back(IndexedMember{m.name, m.state == MemberState::suspect});
  }
  ownership_.set_members(live, affected);
}

void ClusterNode::apply_member_change(const MemberChanged& c, std::vector<Name>* affected) {
  ++membership_epoch_;
  const bool self = c.name == config_.name;
  const bool live = self ? !swim_.left() : is_live(c.to);
  if (!self) peers_.apply(c.name, c.address, live);
  ownership_.update_member(IndexedMember{c.name, c.to == MemberState::suspect}, live, affected);
}

std::vector<std::string> ClusterNode::ranked_members(NameRef target_id, std::size_t limit) const {
  return ownership_.ranked(target_id, limit);
}

std::vector<std::string> ClusterNode::owners(NameRef target_id) const {
  const auto t = health_state().target(target_id);
  return ranked_members(target_id, owner_count(t && t->spec && t->spec->spec ? t->spec->spec->checkers : 1));
}

void ClusterNode::reconcile(Instant now, const std::vector<Name>& ids, Effects& out) {
  // Starts first, then stops, each in id order (the order effects and random
  // phases come out in).
  std::vector<const Name*> drop;
  LatencyParts rings;  // the rings of dropped targets, for their new owners
  for (const Name& id : ids) {
    const auto resolved = health_state().target(id);
    const TargetSpec* spec = resolved && resolved->spec && resolved->spec->spec ? resolved->spec->spec.get() : nullptr;
    const TargetState* current = scheduler_.find(id);
    if (latencies_.is_parked(id)) latencies_.unpark(id, spec && keeps_ring(id, owner_count(spec->checkers)));
    if (!spec || !ownership_.checks(id, config_.name)) {
      if (current) {
        drop.push_back(&id);
      } else if (latencies_.contains(id) && (!spec || !keeps_ring(id, owner_count(spec->checkers)))) {
        latencies_.forget(id);  // a standby that fell further down, or a deleted target
      }
      continue;
    }
    if (current && *current->spec == *spec) continue;
    TargetStart start;
    if (!current) {
      start = takeover_start(id, *spec);
      if (start.first_within) {  // others report on it: we take it over
        ++counters_.takeovers;
        const auto ring = latencies_.samples(id);
        if (std::any_of(ring.begin(), ring.end(), [](const LatencySample& s) { return !s.here; })) {
          ++counters_.takeovers_with_latencies;
        }
      }
    }
    scheduler_.add_target(now, resolved->spec->spec, out, start);
    ++counters_.ownership_changes;
  }
  for (const Name* id : drop) {
    if (const auto slot = scheduler_.slot_of(*id); slot && *slot < published_.size()) published_[*slot].reset();
    scheduler_.remove_target(now, *id, out);
    ++counters_.ownership_changes;
    // The target moved (it is still registered): its ring goes to the owners.
    const auto resolved = health_state().target(*id);
    if (!resolved || !resolved->spec || !resolved->spec->spec) {
      latencies_.forget(*id);
      continue;
    }
    const std::size_t checkers = owner_count(resolved->spec->spec->checkers);
    hand_ring_to_owners(*id, checkers, rings);
    if (!keeps_ring(*id, checkers)) latencies_.forget(*id);
  }
  // One stream frame per receiver: a join or a leave may move thousands.
  for (const auto& [to, parts] : rings) send_latency_parts(to, parts, Channel::stream, out);
}

TargetStart ClusterNode::takeover_start(NameRef id, const TargetSpec& spec) const {
  // A target someone already reports on: continue from the cluster's status
  // and check soon (scheduler.h, TargetStart).
  TargetStart start;
  const auto reported = reported_status(id, spec.quorum);
  if (!reported) return start;
  start.status = *reported;
  start.first_within = config_.takeover_check_within;
  return start;
}

std::optional<HealthStatus> ClusterNode::reported_status(NameRef id, int quorum) const {
  const auto* obs = health_state().state().observations.store.find(id);
  if (!obs || obs->size() == 0) return std::nullopt;
  return resolve_votes(*obs, quorum);
}

bool ClusterNode::quorum_outvotes(NameRef id) const {
  const auto resolved = health_state().target(id);
  if (!resolved || !resolved->spec || !resolved->spec->spec || resolved->spec->spec->quorum <= 1) return false;
  const auto reported = reported_status(id, resolved->spec->spec->quorum);
  return reported && *reported != HealthStatus::unhealthy;
}

void ClusterNode::vouch(Instant now, Effects& out) {
  out.push_back(SetTimer{kVouchTimer, now + config_.observation_refresh});
  latencies_.expire_parked(now - config_.observation_refresh);  // their targets never came
  if (scheduler_.size() == 0) return;  // nothing of ours to vouch for
  write_observation(now, vouch_subject(config_.name), Observation{}, {}, out);
  ++counters_.vouches_written;
}

// --- latencies (latency_history.h) ---------------------------------------------

bool ClusterNode::keeps_ring(NameRef id, std::size_t checkers) const {
  const std::vector<std::string> ranked = ranked_members(id, checkers + 1);
  return std::find(ranked.begin(), ranked.end(), config_.name) != ranked.end();
}

void ClusterNode::hand_off_latencies(Instant now, Effects& out) {
  out.push_back(SetTimer{kHandoffTimer, now + config_.latency_handoff_interval});
  // Per receiver (a standby), the parts of every target it stands by for
  // here; sent in name order.
  LatencyParts by_standby;
  scheduler_.for_each([&](const TargetState& t) {
    const Name& id = t.spec->id;
    const std::size_t checkers = owner_count(t.spec->checkers);
    const std::vector<std::string> ranked = ranked_members(id, checkers + 1);
    if (ranked.size() <= checkers) return;  // no standby
    // Owners hand over; a standby checking for a suspect owner does not.
    const auto owners_end = ranked.begin() + static_cast<std::ptrdiff_t>(checkers);
    if (std::find(ranked.begin(), owners_end, config_.name) == owners_end) return;
    auto samples = latencies_.take_for(id, ranked[checkers]);
    if (samples.empty()) return;
    by_standby[ranked[checkers]].push_back(encode_latency_handoff(LatencyHandoff{id, std::move(samples)}));
  });
  for (const auto& [to, parts] : by_standby) send_latency_parts(to, parts, Channel::datagram, out);
}

void ClusterNode::hand_ring_to_owners(const std::string& id, std::size_t checkers, LatencyParts& to_send) {
  const std::span<const LatencySample> ring = latencies_.samples(id);
  if (ring.empty()) return;
  const wire::EncodedPart part = encode_latency_handoff(LatencyHandoff{id, {ring.begin(), ring.end()}});
  for (const std::string& owner : ranked_members(id, checkers)) {
    if (owner != config_.name) to_send[owner].push_back(part);
  }
}

void ClusterNode::send_latency_parts(const std::string& to, std::span<const wire::EncodedPart> parts, Channel channel,
                                     Effects& out) {
  const MemberInfo* m = swim_.member(to);
  if (m == nullptr) return;
  const std::size_t limit = channel == Channel::datagram ? config_.swim.max_packet_bytes : config_.max_stream_bytes;
  wire::PacketBuilder packet(wire::Header{config_.name, config_.address}, limit);
  auto flush = [&] {
    if (packet.empty()) return;
    out.push_back(Send{m->address, channel, packet.finish()});
  };
  for (const wire::EncodedPart& part : parts) {
    if (!packet.try_add(part)) {
      flush();
      packet.add(part);  // alone over the limit: sent all the same (a whole ring is ~1 KiB)
    }
    ++counters_.latency_handoffs_sent;
  }
  flush();
}

void ClusterNode::receive_latency_handoff(Instant now, const wire::Part& part, const std::string& from) {
  auto h = decode_latency_handoff(part.body);
  if (!h) {
    ++counters_.latency_handoffs_malformed;
    last_malformed_ = fmt::format("from {}: {}", from, h.error());
    return;
  }
  // Samples dated far from this node's clock would pin the ring's newest
  // end (or its oldest) for good: dropped, counted.
  const std::size_t before = h->samples.size();
  std::erase_if(h->samples, [&](const LatencySample& s) {
    return s.at < now - LatencyHistory::kMaxAge || s.at > now + LatencyHistory::kMaxAhead;
  });
  counters_.latency_samples_out_of_range += before - h->samples.size();
  if (h->samples.empty()) return;  // nothing to keep or park
  const auto resolved = health_state().target(h->target);
  if (!resolved || !resolved->spec || !resolved->spec->spec) {
    latencies_.park(h->target, h->samples, now);  // reconcile() decides once the registry has it
    ++counters_.latency_handoffs_parked;
    return;
  }
  if (!keeps_ring(h->target, owner_count(resolved->spec->spec->checkers))) {
    ++counters_.latency_handoffs_refused;
    return;
  }
  latencies_.merge(h->target, h->samples);
  ++counters_.latency_handoffs_received;
}

void ClusterNode::update_routes(Instant now, Effects& out) {
  std::vector<AlertRoute> routes = config_.alerts.routes;
  const std::size_t configured = routes.size();
  for (const RouteVersion* v : health_state().routes()) {
    const auto shadowed = std::any_of(routes.begin(), routes.begin() + static_cast<std::ptrdiff_t>(configured),
                                      [&](const AlertRoute& r) { return r.name == v->route->name; });
    if (!shadowed) routes.push_back(*v->route);
  }
  alerts_.set_routes(std::move(routes));
  if (alerts_.enabled() && !alert_timer_armed_) {
    out.push_back(SetTimer{kAlertTimer, now + config_.alerts.tick});
    alert_timer_armed_ = true;
  }
}

void ClusterNode::look_for_alerts(Instant now, Effects& out) {
  if (!alerts_.enabled()) {
    alert_timer_armed_ = false;
    return;
  }
  out.push_back(SetTimer{kAlertTimer, now + config_.alerts.tick});
  // The first owner checks its target, so the scheduler lists every target
  // this node may send for: O(checked targets x routes) per tick.
  std::vector<AlertToRecord> records;
  scheduler_.for_each([&](const TargetState& t) {
    const Name& id = t.spec->id;
    if (!ownership_.ranked_first(id, config_.name)) return;
    alerts_.consider(now, id, alert_facts(id), health_state(), config_.name, out, records);
  });
  for (const AlertToRecord& r : records) record_alert(now, r, out);
}

void ClusterNode::notify_done(Instant now, const NotifyDone& report, Effects& out) {
  auto r = alerts_.done(now, report);
  // A target deleted while its notification was on its way keeps no record
  // (its records went with it).
  if (r && health_state().target(r->target)) record_alert(now, *r, out);
}

void ClusterNode::record_alert(Instant now, const AlertToRecord& r, Effects& out) {
  // The external store mode keeps the log in the mirror only: it is not
  // replicated there, so a takeover owner may repeat a notification.
  if (config_.external_store) {
    AlertRecord rec = r.record;
    rec.sent_at = store_clock_.tick(now);
    mirror_.record_alert(r.target, r.route, rec);
  } else {
    replicator_.record_alert(now, r.target, r.route, r.record, out);
  }
}

AlertFacts ClusterNode::alert_facts(NameRef id) const {
  AlertFacts f;
  f.status = target_status(id);
  const auto resolved = health_state().target(id);
  if (resolved) f.newest = resolved->observation;
  if (f.status != HealthStatus::unhealthy) return f;
  // The episode began with the earliest unhealthy vote still standing.
  const auto* obs = health_state().state().observations.store.find(id);
  if (!obs) return f;
  std::vector<Observation> votes;
  for (const auto& [dot, o] : obs->entries()) votes.push_back(o);
  std::uint64_t since = UINT64_MAX;
  for (const Observation& o : votes) {
    if (o.status == HealthStatus::unhealthy && !outvoted(o, votes)) since = std::min(since, o.observed_at.wall_ms());
  }
  f.unhealthy_since_ms = since == UINT64_MAX ? 0 : since;
  return f;
}

bool ClusterNode::write_would_change(NameRef id, HealthStatus status) const {
  const auto* obs = health_state().state().observations.store.find(id);
  if (!obs) return true;
  const ReplicaId self = health_state().self();
  bool mine_current = false;
  std::size_t others = 0;
  for (const auto& [dot, o] : obs->entries()) {
    if (o.observer == self) {
      mine_current = mine_current || o.status == status;
    } else {
      ++others;
    }
  }
  if (!mine_current) return true;
  if (others == 0) return false;
  // Other observations stay only when they are other current owners' votes.
  const std::vector<std::string> current = owners(id);
  for (const auto& [dot, o] : obs->entries()) {
    if (o.observer == self) continue;
    if (o.observer_name == config_.name || std::find(current.begin(), current.end(), o.observer_name) == current.end()) {
      return true;
    }
  }
  return false;
}

void ClusterNode::record_results(Instant now, std::size_t first_effect, Effects& out) {
  // Collect first: observe() appends to `out`.
  struct Result {
    Name id;
    Observation o;
    std::uint32_t slot = 0;
  };
  std::vector<Result> results;
  for (std::size_t i = first_effect; i < out.size(); ++i) {
    const auto* f = std::get_if<CheckFinished>(&out[i]);
    if (!f || !f->spec) continue;
    const Name& id = f->spec->id;
    if (const TargetState* held = scheduler_.at(f->check.slot); held && held->spec == f->spec) {
      if (f->check.slot >= ring_hints_.size()) ring_hints_.resize(f->check.slot + 1);
      latencies_.record(id, LatencyHistory::sample(now, f->result.latency, f->result.reason == CheckReason::ok),
                        &ring_hints_[f->check.slot]);
    }
    // An unchanged status needs no write: the vouch keeps it fresh. Fast
    // path: the same status as our last write here, and neither an
    // observation nor the membership (who owns what) has changed since.
    const std::uint32_t slot = f->check.slot;
    if (slot >= published_.size()) published_.resize(slot + 1);
    auto& last = published_[slot];
    const Published::Epoch epoch{health_state().observations_version(), membership_epoch_};
    if (last && last->status == f->status && last->epoch == epoch) continue;
    if (!write_would_change(id, f->status)) {
      if (last && last->status == f->status) last->epoch = epoch;
      continue;
    }
    // A target dropped in this same step (reconcile ran first) leaves no
    // record behind in its slot.
    const TargetState* held = scheduler_.at(slot);
    if (held && held->spec == f->spec) last = Published{f->status, {}};  // epoch set once written, below
    else last.reset();
    Observation o;
    o.status = f->status;
    o.reason = f->result.reason;
    o.status_code = f->result.status_code;
    o.latency = f->result.latency;
    o.check_seq = f->check.seq;
    results.push_back(Result{id, o, slot});
  }
  for (auto& r : results) {
    // One vote per owner: with several checkers, keep the other current
    // owners' observations; supersede our own, and those of members that no
    // longer own the target (target_view.h).
    std::vector<std::string> others = owners(r.id);
    std::erase(others, config_.name);
    write_observation(now, r.id, r.o, others, out);
    ++counters_.observations_written;
    if (r.o.status == HealthStatus::unhealthy && quorum_outvotes(r.id)) ++counters_.quorum_outvoted;
    if (r.slot < published_.size() && published_[r.slot]) {
      published_[r.slot]->epoch = Published::Epoch{health_state().observations_version(), membership_epoch_};
    }
  }
}

void ClusterNode::write_observation(Instant now, const std::string& id, Observation o,
                                    std::span<const std::string> keep, Effects& out) {
  if (!config_.external_store) {
    replicator_.observe(now, id, std::move(o), out, keep);
    return;
  }
  // As Replicator::observe stamps it; the members whose observations the
  // write supersedes here are deleted from the store with it.
  o.observed_at = store_clock_.tick(now);
  o.observer = mirror_.self();
  o.observer_name = replicator_.self_name();
  auto kept = [&](const Observation& v) { return std::find(keep.begin(), keep.end(), v.observer_name) != keep.end(); };
  StoreObservationPut put{id, o, {}};
  if (const auto* obs = mirror_.state().observations.store.find(id)) {
    for (const auto& [dot, v] : obs->entries()) {
      if (v.observer_name != config_.name && !kept(v)) put.supersede.push_back(v.observer_name);
    }
  }
  std::sort(put.supersede.begin(), put.supersede.end());
  put.supersede.erase(std::unique(put.supersede.begin(), put.supersede.end()), put.supersede.end());
  mirror_.observe(id, std::move(o), kept);
  out.push_back(StoreWrite{std::move(put)});
}

void ClusterNode::write_to_store(Instant now, StoreWriteOp op, Effects& out) {
  if (auto* put = std::get_if<StoreTargetPut>(&op)) put->written_at = store_clock_.tick(now);
  out.push_back(StoreWrite{std::move(op)});
}

void ClusterNode::apply_store_update(Instant now, const StoreUpdate& update) {
  for (const StoreChange& change : update.changes) {
    std::visit(
        [&](const auto& c) {
          using T = std::decay_t<decltype(c)>;
          if constexpr (std::is_same_v<T, StoreTargetChanged>) {
            const auto existing = mirror_.target(c.spec.id);
            if (existing && existing->spec && existing->spec->written_at == c.written_at && existing->spec->spec &&
                *existing->spec->spec == c.spec) {
              return;
            }
            mirror_.put_target(c.written_at, c.spec);
          } else if constexpr (std::is_same_v<T, StoreTargetGone>) {
            if (mirror_.target(c.id)) mirror_.forget_target(c.id);
          } else if constexpr (std::is_same_v<T, StoreObservationChanged>) {
            store_clock_.observe(now, c.observation.observed_at);
            const std::string& member = c.member;
            mirror_.observe(c.subject, c.observation, [&](const Observation& v) { return v.observer_name != member; });
          } else if constexpr (std::is_same_v<T, StoreObservationGone>) {
            const std::string& member = c.member;
            mirror_.drop_observations(c.subject, [&](const Observation& v) { return v.observer_name == member; });
          } else if constexpr (std::is_same_v<T, StoreCounterChanged>) {
            // The mirror is this node's alone (one replica): its value is
            // its total, moved to the store's in int64-sized steps.
            CounterWide diff = CounterWide{c.value} - mirror_.counter(c.name);
            while (diff != 0) {
              const auto step = static_cast<std::int64_t>(
                  std::clamp<CounterWide>(diff, std::numeric_limits<std::int64_t>::min(),
                                          std::numeric_limits<std::int64_t>::max()));
              mirror_.add_to_counter(c.name, step);
              diff -= step;
            }
          }
        },
        change);
  }
}

std::optional<TargetView> ClusterNode::target_view(NameRef id, Instant now) const {
  const auto resolved = health_state().target(id);
  if (!resolved || !resolved->spec || !resolved->spec->spec) return std::nullopt;
  const TargetViewRules rules{config_.observation_refresh, config_.stale_intervals};
  return make_target_view(health_state(), id,
                          ranked_members(id, ranked_needed(resolved->spec->spec->checkers, config_.view_fallbacks)),
                          config_.view_fallbacks, checks(id), now, rules);
}

std::optional<HealthStatus> ClusterNode::target_status(NameRef id) const {
  const auto resolved = health_state().target(id);
  if (!resolved || !resolved->spec || !resolved->spec->spec) return std::nullopt;
  return reported_status(id, resolved->spec->spec->quorum).value_or(HealthStatus::unknown);
}

std::vector<TargetView> ClusterNode::target_views(Instant now) const {
  std::vector<TargetView> out;
  out.reserve(health_state().state().registry.store.size());
  for_each_target_view(now, [&](TargetView& v) { out.push_back(std::move(v)); });
  return out;
}

HealthDelta ClusterNode::durable_state() const {
  HealthDelta d;
  d.registry = health_state().state().registry;
  d.counters = health_state().state().counters;
  d.sets = health_state().state().sets;
  d.requests = health_state().state().requests;
  d.alerts = health_state().state().alerts;
  d.routes = health_state().state().routes;
  return d;
}

}  // namespace heck
