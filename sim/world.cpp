#include "sim/world.h"

#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "sim/prefetch.h"

namespace heck::sim {

World::World(const Scenario& scenario, WorldOptions options)
    : scenario_(scenario),
      seed_(options.seed),
      trace_(options.trace),
      targets_(scenario.targets.size()),
      queue_(options.max_pending_events) {
  // The seed tree: one fork per component family, then one per component, in
  // scenario order. Later families (links, faults) fork after these.
  Rng root(seed_);
  Rng node_seeds = root.fork();
  answer_seed_ = root.fork().next();

  NodeConfig config;
  config.scheduler = scenario.scheduler;
  config.targets.reserve(targets_);
  for (std::uint32_t t = 0; t < targets_; ++t) {
    const auto& spec = scenario.targets[t].spec();
    config.targets.push_back(spec);
    target_index_.emplace(spec.id, t);
  }
  nodes_.reserve(scenario.nodes.size());
  for (const auto& n : scenario.nodes) {
    NodeConfig c = config;
    c.name = n.name;
    nodes_.push_back(std::make_unique<NodeState>(std::move(c), node_seeds.next(), NodeClock(n.clock_offset, n.drift_ppm)));
    nodes_.back()->slots.reserve(targets_);
  }
  checks_.assign(nodes_.size() * targets_, 0);
  queue_.reserve(2 * nodes_.size() * targets_ + targets_ + 16);
  effects_.reserve(16);

  if (trace_ != nullptr) {
    trace_->line(R"({{"t":0,"ev":"run","scenario":"{}","seed":{},"nodes":{},"targets":{}}})",
                 JsonEscaped{scenario.name}, seed_, nodes_.size(), targets_);
  }
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    Event e;
    e.kind = EventKind::node_start;
    e.node = n;
    if (!push(e)) return;
  }
  for (std::uint32_t t = 0; t < targets_; ++t) {
    Event e;
    e.kind = EventKind::target_phase;
    e.a = t;
    if (!push(e)) return;
  }
}

bool World::push(Event e) {
  if (queue_.push(e)) return true;
  stop(fmt::format("event queue limit reached ({} pending events)", queue_.capacity_limit()));
  return false;
}

void World::stop(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

bool World::run_until(Instant end) {
  while (error_.empty() && !queue_.empty() && queue_.top().at <= end) {
    const Event ev = queue_.pop();
    assert(ev.at >= now_);
    now_ = ev.at;
    ++counters_.events;
    // With 10^4+ targets the lines an event touches are cold (L3 or DRAM):
    // fetching them for the next two events overlaps those misses with this
    // event's work (BM_World10kTargets in tools/bench/sim_bench).
    if (!queue_.empty()) prefetch(queue_.top(), /*core_too=*/true);
    if (const Event* after = queue_.second()) prefetch(*after, /*core_too=*/false);
    dispatch(ev);
  }
  if (end > now_) now_ = end;
  return error_.empty();
}

void World::dispatch(const Event& ev) {
  switch (ev.kind) {
    case EventKind::timer: on_timer(ev); break;
    case EventKind::check_done: on_check_done(ev); break;
    case EventKind::target_phase: on_target_phase(ev); break;
    case EventKind::node_start: {
      NodeState& ns = *nodes_[ev.node];
      const Instant local = ns.clock.local(now_);
      if (trace_ != nullptr) {
        trace_->line(R"({{"t":{},"node":"{}","local":{},"ev":"node_start","offset_ns":{},"drift_ppm":{}}})",
                     now_.ns(), ns.node.name(), local.ns(), ns.clock.offset().ns(), ns.clock.drift_ppm());
      }
      ns.node.start(local, effects_);
      apply_effects(ev.node, local);
      break;
    }
    case EventKind::packet:
    case EventKind::fault:
    case EventKind::none:
    case EventKind::bench: break;
  }
}

void World::prefetch(const Event& next, bool core_too) const {
  if (next.kind != EventKind::timer) return;
  const NodeState& ns = *nodes_[next.node];
  ns.timers.prefetch(TimerKey{static_cast<TimerKind>(next.c16), next.a});
  if (next.a >= ns.slots.size()) return;  // not a check slot the world has seen
  const auto* record = reinterpret_cast<const char*>(&ns.slots[next.a]);
  sim::prefetch(record);
  sim::prefetch(record + sizeof(SlotState) - 1);
  if (!core_too) return;
  // The node will read its scheduler's state for this slot and the target's
  // spec. The scheduler's read-only view gives their addresses; touching
  // them early is a hint only (nothing is written, nothing depends on it).
  if (const TargetState* ts = ns.node.scheduler().at(static_cast<std::uint32_t>(next.a))) {
    const auto* state = reinterpret_cast<const char*>(ts);
    for (std::size_t off = 64; off < sizeof(TargetState); off += 64) sim::prefetch(state + off);
    const auto* spec = reinterpret_cast<const char*>(ts->spec.get());
    for (std::size_t off = 0; off < sizeof(TargetSpec); off += 64) sim::prefetch(spec + off);
  }
}

void World::on_timer(const Event& ev) {
  NodeState& ns = *nodes_[ev.node];
  const TimerKey key{static_cast<TimerKind>(ev.c16), ev.a};
  const auto due = ns.timers.fire(key, ev.seq);
  if (!due) {
    ++counters_.stale_timers;
    return;
  }
  ++counters_.timers_fired;
  const Instant local = ns.clock.local(now_);
  assert(local >= *due);  // never early: true_at() is exact
  if (trace_ != nullptr) {
    trace_->line(R"({{"t":{},"node":"{}","local":{},"ev":"timer","kind":{},"id":{},"due":{}}})", now_.ns(),
                 ns.node.name(), local.ns(), ev.c16, ev.a, due->ns());
  }
  ns.node.step(local, TimerFired{key}, effects_);
  apply_effects(ev.node, local);
}

void World::on_check_done(const Event& ev) {
  NodeState& ns = *nodes_[ev.node];
  const auto index = static_cast<std::uint32_t>(ev.a);
  const PendingCheck p = pending_[index];
  pending_.release(index);
  ++counters_.checks_done;
  const Instant local = ns.clock.local(now_);
  CheckOutcome outcome;
  outcome.transport = p.transport;
  outcome.status_code = p.status;
  outcome.latency = local - p.start_local;
  if (p.body != nullptr) outcome.body = *p.body;
  ns.node.step(local, Input(std::in_place_type<CheckDone>, p.check, std::move(outcome)), effects_);
  apply_effects(ev.node, local);
}

void World::on_target_phase(const Event& ev) {
  const auto t = static_cast<std::uint32_t>(ev.a);
  const TargetModel& m = scenario_.targets[t];
  if (trace_ != nullptr) {
    const Phase& p = m.phase_at(now_);
    const Behaviour& b = m.behaviour_at(now_);
    const std::string_view half = p.mode != Mode::flapping ? "" : (&b == &p.main ? R"(,"half":"up")" : R"(,"half":"down")");
    trace_->line(R"({{"t":{},"ev":"phase","target":"{}","mode":"{}"{},"truth":"{}"}})", now_.ns(), m.spec().id,
                 to_string(p.mode), half, to_string(b.truth));
  }
  if (const auto next = m.next_change(now_)) {
    Event e;
    e.at = *next;
    e.kind = EventKind::target_phase;
    e.a = t;
    push(e);
  }
}

std::uint32_t World::target_by_id(std::string_view id) const {
  auto it = target_index_.find(id);
  return it == target_index_.end() ? kNoTarget : it->second;
}

World::SlotState* World::slot_for(std::uint32_t n, std::uint32_t slot,
                                  const std::shared_ptr<const TargetSpec>& spec) {
  static_assert(sizeof(SlotState) == 96);
  NodeState& ns = *nodes_[n];
  if (slot >= ns.slots.size()) ns.slots.resize(static_cast<std::size_t>(slot) + 1);
  SlotState& s = ns.slots[slot];
  if (s.spec != spec.get()) {  // first check of this slot, or the slot was reused
    const std::uint32_t t = target_by_id(spec->id);
    if (t == kNoTarget) return nullptr;
    ns.held_specs.push_back(spec);
    s = SlotState{};
    s.spec = spec.get();
    s.target = t;
    // One answer stream per (node, target), derived by hashing, so that no
    // other pair's draws (nor the order slots are bound in) can shift it.
    std::uint64_t mix = answer_seed_ ^ ((std::uint64_t{n} << 32) | t);
    s.rng = Rng(splitmix64(mix));
    s.valid_until = Instant::from_ns(0);
  }
  if (now_ >= s.valid_until) {
    const TargetModel& m = scenario_.targets[s.target];
    s.reply = m.reply_at(now_);
    s.valid_until = m.next_change(now_).value_or(Instant::max());
  }
  return &s;
}

void World::start_check(std::uint32_t n, Instant local, const StartCheck& sc) {
  NodeState& ns = *nodes_[n];
  PendingCheck p;
  p.check = sc.check;
  p.start_local = local;
  Duration latency = Duration::max();
  // Evaluating the answer will read the spec's expect_status block, a
  // separate allocation nothing else touches: fetch it while the spec is hot.
  if (!sc.spec->expect_status.empty()) sim::prefetch(sc.spec->expect_status.data());
  if (SlotState* s = slot_for(n, sc.check.slot, sc.spec)) {
    const CheckAnswer a = s->reply.draw(s->rng);
    p.target = s->target;
    p.transport = a.transport;
    p.status = a.status;
    p.body = a.body;
    latency = a.latency;
    ++checks_[n * targets_ + s->target];
  } else {
    ++counters_.unknown_targets;
    p.target = kNoTarget;
    p.transport = CheckReason::dns_failure;  // the world has no such host
    latency = Duration::zero();
  }
  ++counters_.checks_started;
  Instant deadline = ns.clock.true_at(sc.deadline);
  if (deadline < now_) deadline = now_;
  Instant done_at;
  if (latency >= deadline - now_) {
    done_at = deadline;
    p.transport = CheckReason::timeout;
    p.status = 0;
    p.body = nullptr;
    ++counters_.timeouts;
  } else {
    done_at = now_ + latency;
  }

  const auto slot = pending_.insert(p);
  if (!slot) {
    stop(fmt::format("more than {} checks in flight", kMaxPendingChecks));
    return;
  }
  const std::uint32_t index = *slot;
  Event e;
  e.at = done_at;
  e.kind = EventKind::check_done;
  e.node = n;
  e.a = index;
  push(e);

  if (trace_ != nullptr) {
    trace_->line(R"({{"t":{},"node":"{}","local":{},"ev":"check_start","target":"{}","check":{},"deadline":{}}})",
                 now_.ns(), ns.node.name(), local.ns(), sc.spec->id, sc.check.seq, sc.deadline.ns());
  }
}

void World::apply_effects(std::uint32_t n, Instant local) {
  NodeState& ns = *nodes_[n];
  for (const Effect& effect : effects_) {
    if (const auto* st = std::get_if<SetTimer>(&effect)) {
      Event e;
      e.at = ns.clock.true_at(st->at);
      if (e.at < now_) e.at = now_;
      e.kind = EventKind::timer;
      e.node = n;
      e.a = st->key.id;
      e.c16 = static_cast<std::uint16_t>(st->key.kind);
      const std::uint64_t seq = queue_.next_seq();
      if (push(e)) ns.timers.arm(st->key, seq, st->at);
    } else if (const auto* sc = std::get_if<StartCheck>(&effect)) {
      start_check(n, local, *sc);
    } else if (const auto* f = std::get_if<CheckFinished>(&effect)) {
      ++counters_.results;
      if (trace_ != nullptr) {
        trace_->line(
            R"({{"t":{},"node":"{}","local":{},"ev":"check_done","target":"{}","check":{},"result":"{}","code":{},"latency_ns":{},"status":"{}"}})",
            now_.ns(), ns.node.name(), local.ns(), f->spec->id, f->check.seq, to_string(f->result.reason),
            f->result.status_code, f->result.latency.ns(), to_string(f->status));
      }
    } else if (const auto* ch = std::get_if<StatusChanged>(&effect)) {
      ++counters_.status_changes;
      const std::uint32_t t = target_by_id(ch->spec->id);
      if (status_records_.size() < kMaxStatusRecords) {
        status_records_.push_back(StatusRecord{now_, n, t, ch->from, ch->to, ch->cause.reason});
      } else {
        ++counters_.status_records_dropped;
      }
      if (trace_ != nullptr) {
        trace_->line(
            R"({{"t":{},"node":"{}","local":{},"ev":"status_change","target":"{}","from":"{}","to":"{}","reason":"{}"}})",
            now_.ns(), ns.node.name(), local.ns(), ch->spec->id, to_string(ch->from), to_string(ch->to),
            to_string(ch->cause.reason));
      }
    } else if (const auto* c = std::get_if<CancelTimer>(&effect)) {
      ns.timers.cancel(c->key);
    }
  }
  effects_.clear();
}

}  // namespace heck::sim
