#include "sim/cluster_world.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

namespace heck::sim {

std::string_view to_string(ProcessEvent e) {
  switch (e) {
    case ProcessEvent::start: return "start";
    case ProcessEvent::crash: return "crash";
    case ProcessEvent::stop: return "stop";
    case ProcessEvent::pause: return "pause";
    case ProcessEvent::resume: return "resume";
    case ProcessEvent::leave: return "leave";
  }
  return "?";
}

namespace {

// The seed tree: one independent stream per salt.
std::uint64_t derive(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t s = seed ^ (salt * 0xd1b54a32d192ed03ULL);
  return splitmix64(s);
}

enum Salt : std::uint64_t { kNetwork = 1, kNodes = 2, kStarts = 3, kAnswers = 4, kReceiver = 5 };

std::string_view channel_name(Channel c) { return c == Channel::stream ? "stream" : "datagram"; }

}  // namespace

ClusterWorld::ClusterWorld(const ClusterScenario& scenario, ClusterWorldOptions options)
    : scenario_(scenario),
      seed_(options.seed),
      trace_(options.trace),
      trace_sends_(options.trace_sends),
      observer_(options.observer),
      queue_(options.max_pending_events),
      network_(scenario.members.size(), scenario.network, Rng(derive(options.seed, kNetwork))) {
  node_seed_base_ = derive(seed_, kNodes);
  answers_ = Rng(derive(seed_, kAnswers));
  receiver_ = Rng(derive(seed_, kReceiver));
  Rng starts(derive(seed_, kStarts));

  const std::size_t n = scenario.members.size();
  members_.reserve(n);
  for (std::uint32_t m = 0; m < n; ++m) {
    const MemberScenario& ms = scenario.members[m];
    auto slot = std::make_unique<MemberSlot>();
    slot->name = ms.name;
    slot->address = ClusterScenario::address_of(ms.name);
    slot->clock = NodeClock(ms.clock_offset, ms.drift_ppm);
    by_address_.emplace(slot->address, m);
    if (!by_name_.contains(slot->name)) by_name_.insert(slot->name, m);
    members_.push_back(std::move(slot));
  }
  for (std::uint32_t s : scenario.seeds) seed_addresses_.push_back(members_[s]->address);
  for (std::uint32_t t = 0; t < scenario.targets.size(); ++t) target_specs_.push_back(scenario.targets[t].spec());
  for (std::uint32_t t = 0; t < scenario.target_count(); ++t) {
    if (!target_index_.contains(scenario.target_spec(t).id)) target_index_.insert(scenario.target_spec(t).id, t);
  }
  if (!scenario.vantage.empty()) {
    vantage_.assign(n, std::vector<std::uint8_t>(scenario.target_count(), 0));
    for (const VantageRule& r : scenario.vantage) {
      for (std::uint32_t m : r.members) {
        for (std::uint32_t t : r.targets) vantage_[m][t] = static_cast<std::uint8_t>(1 + static_cast<int>(r.answer));
      }
    }
  }
  for (const auto& rule : scenario.links) network_.add_override(rule.from, rule.to, rule.one_way, rule.link);
  view_.assign(n * n, SeenAs::unknown);
  independent_ = scenario.seeds.empty();
  own_checks_on_ = scenario.judges_own_checks();
  if (own_checks_on_) own_checks_.assign(n * scenario.targets.size(), 0);
  converged_since_ = Instant::from_ns(0);
  effects_.reserve(64);

  if (trace_ != nullptr) {
    trace_->line(R"({{"t":0,"ev":"run","kind":"cluster","scenario":"{}","seed":{},"members":{}}})",
                 JsonEscaped{scenario.name}, seed_, n);
  }
  std::vector<bool> is_seed(n, false);
  for (std::uint32_t s : scenario.seeds) is_seed[s] = true;
  for (std::uint32_t m = 0; m < n; ++m) {
    if (!scenario.members[m].starts) continue;
    // Seeds first, at 0; the others spread over start_spread (one draw each,
    // in member order, so the spread does not depend on anything else).
    const Duration at = is_seed[m] ? Duration::zero() : starts.duration_between(Duration::zero(), scenario.start_spread);
    schedule(Instant::from_ns(0) + at, WorldAction::start, m, 0);
  }
  for (std::uint32_t i = 0; i < scenario.timeline.size(); ++i) {
    schedule(Instant::from_ns(0) + scenario.timeline[i].at, WorldAction::timeline, 0, i);
  }
  schedule(liveness_start(), WorldAction::liveness, 0, 0);
}

ClusterWorld::~ClusterWorld() = default;

bool ClusterWorld::push(Event e) {
  if (queue_.push(e)) return true;
  stop_run(fmt::format("event queue limit reached ({} pending events)", queue_.capacity_limit()));
  return false;
}

void ClusterWorld::stop_run(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

void ClusterWorld::schedule(Instant at, WorldAction action, std::uint32_t member, std::uint64_t argument) {
  push(Event::fault(at < now_ ? now_ : at, action, member, argument));
}

bool ClusterWorld::run_until(Instant end) {
  run_end_ = end;
  while (error_.empty() && !queue_.empty() && queue_.top().at <= end) {
    const Event ev = queue_.pop();
    assert(ev.at >= now_);
    now_ = ev.at;
    ++counters_.events;
    dispatch(ev);
  }
  if (end > now_) now_ = end;
  return error_.empty();
}

void ClusterWorld::dispatch(const Event& ev) {
  switch (ev.kind()) {
    case EventKind::timer: on_timer(ev); break;
    case EventKind::packet: on_packet(ev); break;
    case EventKind::check_done: on_check_done(ev); break;
    case EventKind::notify: on_notify(ev); break;
    case EventKind::fault: on_fault(ev); break;
    case EventKind::none:
    case EventKind::bench: break;
  }
}

// --- processes --------------------------------------------------------------

std::uint64_t ClusterWorld::self_incarnation(std::uint32_t m) const {
  const ClusterNode* n = members_[m]->node.get();
  return n == nullptr ? 0 : n->membership().incarnation();
}

void ClusterWorld::log(std::uint32_t m, ProcessEvent what) {
  const std::uint64_t inc = what == ProcessEvent::start || what == ProcessEvent::resume ? 0 : self_incarnation(m);
  faults_.push_back(FaultRecord{now_, m, what, inc});
  if (observer_ != nullptr) observer_->on_process(now_, m, what);
  if (trace_ != nullptr) {
    const MemberSlot& ms = *members_[m];
    trace_->line(R"({{"t":{},"node":"{}","local":{},"ev":"{}","incarnation":{},"generation":{}}})", now_.ns(),
                 ms.name, ms.clock.local(now_).ns(), to_string(what), inc, ms.generation);
  }
}

void ClusterWorld::start(std::uint32_t m) {
  MemberSlot& ms = *members_[m];
  if (ms.node) {
    ++counters_.ignored_faults;
    return;
  }
  ClusterNodeConfig config;
  config.name = ms.name;
  config.address = ms.address;
  for (const Address& a : seed_addresses_) {
    if (a != ms.address) config.seeds.push_back(a);
  }
  config.swim = scenario_.swim;
  config.swim.names = names_;
  config.replication = scenario_.replication;
  config.replication.spec_pool = spec_pool_;
  config.replication.delta_pool = delta_pool_;
  config.rank_cache = rank_cache_;
  config.envelope_cache = envelope_cache_;
  config.scheduler = scenario_.scheduler;
  config.alerts = scenario_.alerts.config;
  if (scenario_.targets_at.empty() ||
      std::find(scenario_.targets_at.begin(), scenario_.targets_at.end(), m) != scenario_.targets_at.end()) {
    config.targets = target_specs_;
  }
  ++ms.generation;
  std::uint64_t mix = node_seed_base_ ^ ((std::uint64_t{m} << 32) | ms.generation);
  const std::uint64_t node_seed = splitmix64(mix);

  disagreements_ -= contribution(m);
  std::fill(view_.begin() + static_cast<std::ptrdiff_t>(m * members_.size()),
            view_.begin() + static_cast<std::ptrdiff_t>((m + 1) * members_.size()), SeenAs::unknown);
  ms.node = std::make_unique<ClusterNode>(std::move(config), node_seed);
  reset_timers(ms);
  ms.slots.clear();
  ms.paused = false;
  disagreements_ += contribution(m);
  log(m, ProcessEvent::start);
  const Instant local = ms.clock.local(now_);
  ms.node->start(local, effects_);
  apply_effects(m, local);
  update_converged();
}

void ClusterWorld::end_process(std::uint32_t m, ProcessEvent why) {
  MemberSlot& ms = *members_[m];
  if (!ms.node) {
    ++counters_.ignored_faults;
    return;
  }
  log(m, why);
  disagreements_ -= contribution(m);
  const CoverageHits hits = coverage_hits(*ms.node);
  for (std::size_t i = 0; i < hits.size(); ++i) ended_hits_[i] += hits[i];
  ms.node.reset();
  ms.slots.clear();
  reset_timers(ms);
  ms.paused = false;
  ms.backlog.clear();
  ms.backlog_packets = 0;
  disagreements_ += contribution(m);
  update_converged();
}

void ClusterWorld::pause(std::uint32_t m) {
  MemberSlot& ms = *members_[m];
  if (!ms.node || ms.paused) {
    ++counters_.ignored_faults;
    return;
  }
  log(m, ProcessEvent::pause);
  ms.paused = true;
}

void ClusterWorld::resume(std::uint32_t m) {
  MemberSlot& ms = *members_[m];
  if (!ms.node || !ms.paused) {
    ++counters_.ignored_faults;
    return;
  }
  ms.paused = false;
  log(m, ProcessEvent::resume);
  // The backlog in arrival order, all at the resume instant.
  std::vector<Backlog> backlog = std::move(ms.backlog);
  ms.backlog.clear();
  ms.backlog_packets = 0;
  for (Backlog& b : backlog) {
    if (!ms.node || ms.paused) break;  // cannot happen today: nothing stops a node mid-backlog
    switch (b.kind) {
      case Backlog::Kind::timer:
        // Re-armed while the backlog ran: the deferred firing is superseded.
        if (ms.timers.armed(b.key)) break;
        fire_timer(m, b.key);
        break;
      case Backlog::Kind::packet: deliver(m, std::move(b.message)); break;
      case Backlog::Kind::check: finish_check(b.check); break;
    }
  }
}

void ClusterWorld::leave(std::uint32_t m, Duration stop_after) {
  MemberSlot& ms = *members_[m];
  if (!ms.node || ms.paused) {
    ++counters_.ignored_faults;
    return;
  }
  log(m, ProcessEvent::leave);
  input(m, LeaveCluster{});
  schedule(now_ + stop_after, WorldAction::stop, m, ms.generation);
}

void ClusterWorld::input(std::uint32_t m, const ClusterInput& in) {
  MemberSlot& ms = *members_[m];
  if (!ms.node || ms.paused) {
    ++counters_.ignored_faults;
    return;
  }
  const Instant local = ms.clock.local(now_);
  ms.node->step(local, in, effects_);
  apply_effects(m, local);
}

void ClusterWorld::push_arrivals() {
  for (const Arrival& a : arrivals_) push(Event::packet(a.at, network_.peek(a.index).to, a.index));
}

void ClusterWorld::heal_everything() {
  if (trace_ != nullptr) trace_->line(R"({{"t":{},"ev":"liveness"}})", now_.ns());
  network_.heal_all();
  arrivals_.clear();
  network_.release_all(now_, arrivals_);
  push_arrivals();
  for (std::uint32_t id : timeline_links_) network_.remove_override(id);
  timeline_links_.clear();
  named_partitions_.clear();
  named_clogs_.clear();
  named_links_.clear();
  network_changed();
  for (std::uint32_t m = 0; m < members_.size(); ++m) {
    if (members_[m]->node && members_[m]->paused) resume(m);
  }
}

void ClusterWorld::network_changed() {
  if (observer_ != nullptr) observer_->on_network(now_, network_, named_partitions_.size() + named_clogs_.size());
}

// --- events -----------------------------------------------------------------

void ClusterWorld::on_fault(const Event& ev) {
  const std::uint32_t m = ev.member();
  switch (ev.action()) {
    case WorldAction::timeline: apply_timeline(scenario_.timeline[ev.argument()]); break;
    case WorldAction::start:
      if (!running(m)) start(m);
      break;
    case WorldAction::stop:
      if (running(m) && members_[m]->generation == ev.argument()) end_process(m, ProcessEvent::stop);
      break;
    case WorldAction::resume:
      if (running(m) && paused(m) && members_[m]->generation == ev.argument()) resume(m);
      break;
    case WorldAction::liveness: heal_everything(); break;
  }
}

void ClusterWorld::apply_timeline(const TimelineEvent& e) {
  if (trace_ != nullptr) {
    trace_->line(R"({{"t":{},"ev":"fault","event":"{}","source":{},"name":"{}"}})", now_.ns(), to_string(e.kind),
                 e.source, JsonEscaped{e.name});
  }
  auto by_name = [](std::vector<std::pair<std::string, std::uint32_t>>& named, const std::string& name) {
    std::vector<std::uint32_t> ids;
    std::erase_if(named, [&](const auto& p) {
      if (!name.empty() && p.first != name) return false;
      ids.push_back(p.second);
      return true;
    });
    return ids;
  };
  switch (e.kind) {
    case FaultKind::crash:
      for (auto m : e.members) crash(m);
      break;
    case FaultKind::restart:
      for (auto m : e.members) {
        if (running(m)) crash(m);
        if (e.down == Duration::zero()) {
          start(m);
        } else {
          schedule(now_ + e.down, WorldAction::start, m, 0);
        }
      }
      break;
    case FaultKind::pause:
      for (auto m : e.members) {
        pause(m);
        if (e.pause_for && paused(m)) schedule(now_ + *e.pause_for, WorldAction::resume, m, members_[m]->generation);
      }
      break;
    case FaultKind::resume:
      for (auto m : e.members) resume(m);
      break;
    case FaultKind::leave:
      for (auto m : e.members) leave(m, e.stop_after);
      break;
    case FaultKind::join:
      for (auto m : e.members) start(m);
      break;
    case FaultKind::partition: {
      const auto id = network_.partition(e.from, e.to, e.one_way);
      if (id == Network::kNoRule) {
        ++counters_.ignored_faults;
      } else {
        named_partitions_.emplace_back(e.name, id);
      }
      break;
    }
    case FaultKind::heal:
      for (auto id : by_name(named_partitions_, e.name)) network_.heal(id);
      break;
    case FaultKind::clog: {
      const auto id = network_.clog(e.from, e.to, e.one_way);
      if (id == Network::kNoRule) {
        ++counters_.ignored_faults;
      } else {
        named_clogs_.emplace_back(e.name, id);
      }
      break;
    }
    case FaultKind::release:
      arrivals_.clear();
      for (auto id : by_name(named_clogs_, e.name)) network_.release(id, now_, arrivals_);
      push_arrivals();
      break;
    case FaultKind::link: {
      const auto id = network_.add_override(e.from, e.to, e.one_way, e.link);
      if (id == Network::kNoRule) {
        ++counters_.ignored_faults;
      } else {
        named_links_.emplace_back(e.name, id);
        timeline_links_.push_back(id);
      }
      break;
    }
    case FaultKind::unlink:
      for (auto id : by_name(named_links_, e.name)) {
        network_.remove_override(id);
        std::erase(timeline_links_, id);
      }
      break;
    case FaultKind::put_target:
    case FaultKind::delete_target: {
      bool reached = false;
      for (auto m : e.members) {
        reached = reached || (running(m) && !paused(m));
        if (e.kind == FaultKind::put_target) {
          input(m, PutTarget{*e.spec});
        } else {
          input(m, DeleteTarget{e.id});
        }
      }
      const auto it = target_index_.find(e.kind == FaultKind::put_target ? e.spec->id : e.id);
      if (reached && observer_ != nullptr && it != nullptr) {
        observer_->on_registry(now_, it->second, e.kind == FaultKind::put_target ? &*e.spec : nullptr);
      }
      break;
    }
    case FaultKind::add_counter:
    case FaultKind::add_to_set:
    case FaultKind::remove_from_set:
      for (auto m : e.members) write(m, e);
      break;
  }
  switch (e.kind) {
    case FaultKind::partition:
    case FaultKind::heal:
    case FaultKind::clog:
    case FaultKind::release:
    case FaultKind::link:
    case FaultKind::unlink: network_changed(); break;
    default: break;
  }
}

void ClusterWorld::write(std::uint32_t m, const TimelineEvent& e) {
  MemberSlot& ms = *members_[m];
  if (!ms.node || ms.paused) {
    ++counters_.ignored_faults;
    return;
  }
  // With a key, as the API does: a write whose key this member has a record
  // of is a retry, answered from the record and not applied again.
  if (!e.key.empty() && ms.node->health_state().first_request(e.key) != nullptr) {
    ++counters_.writes_deduplicated;
    return;
  }
  if (e.kind == FaultKind::add_counter) input(m, AddToCounter{e.id, e.delta});
  if (e.kind == FaultKind::add_to_set) input(m, AddToSet{e.id, e.element});
  if (e.kind == FaultKind::remove_from_set) input(m, RemoveFromSet{e.id, e.element});
  if (!e.key.empty()) {
    AppliedRequest r;
    const std::string request = fmt::format("{}/{}/{}/{}", to_string(e.kind), e.id, e.element, e.delta);
    r.fingerprint = XXH64(request.data(), request.size(), 0);
    r.status = 200;
    r.body = "{}";
    input(m, RecordRequest{e.key, std::move(r)});
  }
}

void ClusterWorld::reset_timers(MemberSlot& ms) {
  ms.timers.clear();
  ms.wake_seq = kNoWake;  // a wake still queued is stale
  ms.draining = false;
}

void ClusterWorld::schedule_wake(std::uint32_t m) {
  MemberSlot& ms = *members_[m];
  if (ms.draining || !ms.node) return;
  const std::optional<Instant> next = ms.timers.next_deadline();
  if (!next) return;  // a queued wake finds nothing due and lapses
  Instant at = ms.clock.true_at(*next);
  if (at < now_) at = now_;
  // A wake queued no later already covers it (it re-arms for the rest).
  if (ms.wake_seq != kNoWake && ms.wake_at <= at) return;
  const std::uint64_t seq = queue_.next_seq();
  if (!push(Event::timer(at, m))) return;
  ms.wake_seq = seq;
  ms.wake_at = at;
}

void ClusterWorld::on_timer(const Event& ev) {
  const std::uint32_t m = ev.member();
  MemberSlot& ms = *members_[m];
  if (ev.seq != ms.wake_seq || !ms.node) {
    ++counters_.stale_timers;
    return;
  }
  ms.wake_seq = kNoWake;
  for (;;) {
    // Every timer due now, one step each, in the table's order (deadline,
    // then key); a timer a step arms due now fires in the same drain.
    ms.draining = true;
    const Instant local = ms.clock.local(now_);
    while (ms.node) {
      const std::optional<TimerKey> key = ms.timers.pop_due(local);
      if (!key) break;
      if (ms.paused) {
        ++counters_.timers_deferred;
        ms.backlog.push_back(Backlog{Backlog::Kind::timer, *key, {}, 0});
        continue;
      }
      fire_timer(m, *key);
    }
    ms.draining = false;
    if (!ms.node || !error_.empty()) return;
    const std::optional<Instant> next = ms.timers.next_deadline();
    if (!next) return;
    // The next wake would be the queue's very next event (strictly before
    // every queued one, so no tie to order): run it now instead of pushing
    // and popping it. Same order, same outcome, half the heap work.
    const Instant at = ms.clock.true_at(*next);
    if (at > run_end_ || (!queue_.empty() && at >= queue_.top().at)) break;
    now_ = at;
    ++counters_.events;
  }
  schedule_wake(m);
}

void ClusterWorld::fire_timer(std::uint32_t m, TimerKey key) {
  MemberSlot& ms = *members_[m];
  ++counters_.timers_fired;
  const Instant local = ms.clock.local(now_);
  ms.node->step(local, TimerFired{key}, effects_);
  apply_effects(m, local);
}

void ClusterWorld::on_packet(const Event& ev) { deliver(ev.member(), network_.take(ev.message())); }

std::string ClusterWorld::stream_source(std::uint32_t m) {
  // A TCP connection comes from an ephemeral port of the sender's host.
  const std::string& name = members_[m]->name;
  const std::uint64_t port = 32768 + (ephemeral_port_++ % 28232);
  return fmt::format("{}:{}", name, port);
}

void ClusterWorld::deliver(std::uint32_t m, Message message) {
  MemberSlot& ms = *members_[m];
  auto drop = [&](std::string_view why) {
    if (trace_ != nullptr) {
      trace_->line(R"({{"t":{},"node":"{}","ev":"drop","why":"{}","from":"{}","ch":"{}","bytes":{}}})", now_.ns(),
                   ms.name, why, members_[message.from]->name, channel_name(message.channel), message.bytes.size());
    }
  };
  if (!ms.node) {
    ++counters_.packets_to_down;
    drop("down");
    return;
  }
  if (ms.paused) {
    if (ms.backlog_packets >= scenario_.socket_buffer_packets) {
      ++counters_.packets_buffer_full;
      drop("buffer_full");
      return;
    }
    ++counters_.packets_buffered;
    ++ms.backlog_packets;
    ms.backlog.push_back(Backlog{Backlog::Kind::packet, {}, std::move(message), 0});
    return;
  }
  ++counters_.packets_delivered;
  Address from = message.channel == Channel::stream ? stream_source(message.from) : members_[message.from]->address;
  const Instant local = ms.clock.local(now_);
  ms.node->step(local, ClusterInput(std::in_place_type<Packet>, Packet{std::move(from), message.channel, std::move(message.bytes)}),
                effects_);
  apply_effects(m, local);
}

void ClusterWorld::on_check_done(const Event& ev) {
  const std::uint32_t index = ev.pending_check();
  const PendingCheck& p = pending_[index];
  MemberSlot& ms = *members_[p.member];
  if (!ms.node || ms.generation != p.generation) {  // its process is gone
    pending_.release(index);
    return;
  }
  if (ms.paused) {
    ms.backlog.push_back(Backlog{Backlog::Kind::check, {}, {}, index});
    return;
  }
  finish_check(index);
}

void ClusterWorld::start_notify(std::uint32_t m, const Notify& n) {
  std::uint32_t index = 0;
  if (!free_notifies_.empty()) {
    index = free_notifies_.back();
    free_notifies_.pop_back();
  } else if (notifies_.size() < kMaxPendingNotifies) {
    index = static_cast<std::uint32_t>(notifies_.size());
    notifies_.emplace_back();
  } else {
    stop_run(fmt::format("more than {} alert notifications in flight", kMaxPendingNotifies));
    return;
  }
  PendingNotify& p = notifies_[index];
  p = PendingNotify{m, members_[m]->generation, n.notification, false, false};
  push(Event::notify(now_ + scenario_.alerts.latency, m, index));
}

void ClusterWorld::on_notify(const Event& ev) {
  const std::uint32_t index = ev.pending_notify();
  PendingNotify& p = notifies_[index];
  const AlertNotification& n = p.notification;
  if (!p.answering) {
    // At the receiver: accepted or refused, and the answer goes back.
    p.answering = true;
    p.delivered = !(scenario_.alerts.fail_rate > 0 && receiver_.chance(scenario_.alerts.fail_rate));
    if (p.delivered) alert_log_.push_back(AlertDelivery{now_, n});
    if (trace_ != nullptr) {
      trace_->line(
          R"({{"t":{},"node":"{}","ev":"notify","target":"{}","route":"{}","kind":"{}","repeat":{},"attempt":{},"delivered":{}}})",
          now_.ns(), members_[p.member]->name, n.target, n.route, to_string(n.kind), n.repeat, n.attempt, p.delivered);
    }
    push(Event::notify(now_ + scenario_.alerts.latency, p.member, index));
    return;
  }
  MemberSlot& ms = *members_[p.member];
  if (ms.node && ms.generation == p.generation && ms.paused) {
    // A paused process reads the answer when it resumes: look again soon.
    push(Event::notify(now_ + Duration::milliseconds(100), p.member, index));
    return;
  }
  const NotifyDone done{n.id, p.delivered, p.delivered ? std::string() : std::string("HTTP 503")};
  const bool alive = ms.node && ms.generation == p.generation;  // else: its process is gone
  free_notifies_.push_back(index);
  if (alive) input(p.member, done);
}

void ClusterWorld::finish_check(std::uint32_t index) {
  const PendingCheck p = pending_[index];
  pending_.release(index);
  MemberSlot& ms = *members_[p.member];
  const Instant local = ms.clock.local(now_);
  CheckOutcome outcome;
  outcome.latency = local - p.start_local;
  if (p.timed_out) {
    outcome.transport = CheckReason::timeout;
  } else {
    outcome.transport = p.answer.transport;
    outcome.status_code = p.answer.status;
    if (p.answer.body != nullptr) outcome.body = *p.answer.body;
  }
  ms.node->step(local, ClusterInput(std::in_place_type<CheckDone>, p.check, std::move(outcome)), effects_);
  apply_effects(p.member, local);
}

ClusterWorld::SlotBinding* ClusterWorld::bind(MemberSlot& ms, const StartCheck& sc) {
  const std::size_t slot = sc.check.slot;
  if (slot < ms.slots.size() && ms.slots[slot].spec == sc.spec) return &ms.slots[slot];
  if (slot >= kMaxBoundSlots) return nullptr;
  const auto it = target_index_.find(sc.spec->id);
  if (slot >= ms.slots.size()) ms.slots.resize(slot + 1);
  ms.slots[slot] = SlotBinding{sc.spec, it == nullptr ? kNoTarget : it->second};
  return &ms.slots[slot];
}

void ClusterWorld::start_check(std::uint32_t m, Instant local, const StartCheck& sc) {
  MemberSlot& ms = *members_[m];
  ++counters_.checks_started;
  PendingCheck p;
  p.check = sc.check;
  p.start_local = local;
  p.member = m;
  p.generation = ms.generation;
  SlotBinding* binding = bind(ms, sc);
  std::uint32_t target = kNoTarget;
  if (binding != nullptr) {
    target = binding->target;
  } else if (const auto it = target_index_.find(sc.spec->id); it != nullptr) {
    target = it->second;
  }
  const bool known = target != kNoTarget;
  Duration latency = Duration::zero();
  const TargetModel* model = known ? scenario_.target_model(target) : nullptr;
  const std::uint8_t vantage = !known || vantage_.empty() ? 0 : vantage_[m][target];
  if (vantage != 0) {
    // A bad vantage point: this member sees the target fail, whatever it does.
    ++counters_.vantage_answers;
    switch (static_cast<VantageRule::Answer>(vantage - 1)) {
      case VantageRule::Answer::refusing:
        p.answer.transport = CheckReason::connection_refused;
        latency = Duration::milliseconds(1);
        break;
      case VantageRule::Answer::timeout: latency = Duration::max(); break;
      case VantageRule::Answer::down:
        p.answer.transport = CheckReason::ok;
        p.answer.status = 503;
        latency = Duration::milliseconds(5);
        break;
    }
    p.answer.latency = latency;
  } else if (model == nullptr) {
    p.answer.transport = CheckReason::dns_failure;  // the world has no such host
  } else if (binding != nullptr) {
    // The model's reply_at(now_), kept until its next change: the same
    // answer as model->answer(now_, answers_), without touching the model.
    if (!binding->has_reply || now_ >= binding->reply_until) {
      binding->reply = model->reply_at(now_);
      binding->reply_until = model->next_change(now_).value_or(Instant::max());
      binding->has_reply = true;
    }
    p.answer = binding->reply.draw(answers_);
    latency = p.answer.latency;
  } else {
    p.answer = model->answer(now_, answers_);
    latency = p.answer.latency;
  }
  if (observer_ != nullptr && known) observer_->on_check(now_, m, target);
  if (own_checks_on_ && known && target < scenario_.targets.size()) {
    ++own_checks_[static_cast<std::size_t>(m) * scenario_.targets.size() + target];
  }
  Instant deadline = ms.clock.true_at(sc.deadline);
  if (deadline < now_) deadline = now_;
  Instant done_at = now_ + latency;
  if (latency >= deadline - now_) {
    done_at = deadline;
    p.timed_out = true;
  }
  const auto slot = pending_.insert(p);
  if (!slot) {
    stop_run(fmt::format("more than {} checks in flight", kMaxPendingChecks));
    return;
  }
  push(Event::check_done(done_at, m, *slot));
}

// --- effects ----------------------------------------------------------------

void ClusterWorld::apply_effects(std::uint32_t m, Instant local) {
  MemberSlot& ms = *members_[m];
  heck::apply_effects(ms.timers, effects_, [&](Effect& effect) {
    if (auto* s = std::get_if<Send>(&effect)) {
      send(m, *s);
    } else if (const auto* mc = std::get_if<MemberChanged>(&effect)) {
      record_change(m, *mc);
    } else if (const auto* sc = std::get_if<StartCheck>(&effect)) {
      start_check(m, local, *sc);
    } else if (const auto* nt = std::get_if<Notify>(&effect)) {
      start_notify(m, *nt);
    } else if (const auto* ch = std::get_if<StatusChanged>(&effect)) {
      ++counters_.status_changes;
      if (own_checks_on_) record_status(m, *ch);
      if (trace_ != nullptr) {
        trace_->line(R"({{"t":{},"node":"{}","local":{},"ev":"status_change","target":"{}","from":"{}","to":"{}"}})",
                     now_.ns(), ms.name, local.ns(), ch->spec->id, to_string(ch->from), to_string(ch->to));
      }
    }
  });
  effects_.clear();
  schedule_wake(m);
}

std::optional<std::uint32_t> ClusterWorld::member_at(const Address& address) const {
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

void ClusterWorld::send(std::uint32_t m, Send& s) {
  MemberSlot& ms = *members_[m];
  if (now_ >= Instant::from_ns(0) + scenario_.metrics_from) {
    ++ms.traffic.messages;
    ms.traffic.bytes += s.bytes.size();
    ++(s.channel == Channel::stream ? ms.traffic.streams : ms.traffic.datagrams);
  }
  const auto to = member_at(s.to);
  if (!to) {
    ++counters_.unroutable;
    if (trace_ != nullptr && trace_sends_) {
      trace_->line(R"({{"t":{},"node":"{}","ev":"send","to":"{}","ch":"{}","bytes":{},"fate":"unroutable"}})",
                   now_.ns(), ms.name, JsonEscaped{s.to}, channel_name(s.channel), s.bytes.size());
    }
    return;
  }
  arrivals_.clear();
  const std::size_t size = s.bytes.size();
  const Fate fate = network_.send(now_, m, *to, s.channel, std::move(s.bytes), arrivals_);
  if (trace_ != nullptr && trace_sends_) {
    trace_->line(R"({{"t":{},"node":"{}","ev":"send","to":"{}","ch":"{}","bytes":{},"fate":"{}"}})", now_.ns(),
                 ms.name, members_[*to]->name, channel_name(s.channel), size, to_string(fate));
  }
  if (fate == Fate::overflow && network_.in_flight() >= Network::kMaxInFlight) {
    stop_run(fmt::format("more than {} messages in flight", Network::kMaxInFlight));
  }
  for (const Arrival& a : arrivals_) push(Event::packet(a.at, *to, a.index));
}

void ClusterWorld::record_change(std::uint32_t observer, const MemberChanged& c) {
  ++counters_.member_changes;
  auto it = by_name_.find(c.name);
  if (trace_ != nullptr) {
    const MemberSlot& ms = *members_[observer];
    trace_->line(
        R"({{"t":{},"node":"{}","local":{},"ev":"member","member":"{}","from":"{}","to":"{}","incarnation":{},"new":{}}})",
        now_.ns(), ms.name, ms.clock.local(now_).ns(), JsonEscaped{c.name}, to_string(c.from), to_string(c.to),
        c.incarnation, c.is_new);
  }
  if (it == nullptr) return;  // not a member of this scenario
  const std::uint32_t subject = it->second;
  if (records_.size() < kMaxRecords) {
    records_.push_back(MemberRecord{now_, c.incarnation, observer, subject, c.from, c.to, c.is_new});
  } else {
    ++counters_.records_dropped;
  }
  set_view(observer, subject, seen_as(c.to));
  update_converged();
}

void ClusterWorld::record_status(std::uint32_t m, const StatusChanged& c) {
  const auto it = target_index_.find(c.spec->id);
  if (it == nullptr || it->second >= scenario_.targets.size()) return;  // not configured
  if (status_records_.size() >= kMaxRecords) {
    ++counters_.status_records_dropped;
    return;
  }
  status_records_.push_back(StatusRecord{now_, m, it->second, c.from, c.to, c.cause.reason});
}

// --- convergence ------------------------------------------------------------

bool ClusterWorld::agrees(std::uint32_t observer, std::uint32_t subject) const {
  if (observer == subject || independent_ || !members_[observer]->node) return true;
  const SeenAs v = view_[static_cast<std::size_t>(observer) * members_.size() + subject];
  return members_[subject]->node ? v == SeenAs::alive : !live(v);
}

std::size_t ClusterWorld::contribution(std::uint32_t m) const {
  std::size_t bad = 0;
  for (std::uint32_t o = 0; o < members_.size(); ++o) {
    if (o == m) continue;
    bad += !agrees(m, o);  // m's view of o
    bad += !agrees(o, m);  // o's view of m
  }
  return bad;
}

ClusterWorld::SeenAs ClusterWorld::seen_as(MemberState s) {
  switch (s) {
    case MemberState::alive: return SeenAs::alive;
    case MemberState::suspect: return SeenAs::suspect;
    case MemberState::dead: return SeenAs::dead;
    case MemberState::left: return SeenAs::left;
  }
  return SeenAs::unknown;
}

void ClusterWorld::set_view(std::uint32_t observer, std::uint32_t subject, SeenAs v) {
  const bool before = agrees(observer, subject);
  view_[static_cast<std::size_t>(observer) * members_.size() + subject] = v;
  const bool after = agrees(observer, subject);
  if (before && !after) ++disagreements_;
  if (!before && after) --disagreements_;
}

void ClusterWorld::update_converged() {
  if (disagreements_ == 0) {
    if (!converged_since_) converged_since_ = now_;
  } else {
    converged_since_.reset();
  }
}

}  // namespace heck::sim

namespace heck::sim {

CoverageHits ClusterWorld::coverage() const {
  CoverageHits total = ended_hits_;
  for (const auto& ms : members_) {
    if (!ms->node) continue;
    const CoverageHits hits = coverage_hits(*ms->node);
    for (std::size_t i = 0; i < hits.size(); ++i) total[i] += hits[i];
  }
  return total;
}

}  // namespace heck::sim
