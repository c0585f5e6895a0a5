#include "runtime/agent.h"

#include <array>
#include <cassert>
#include <cstdio>
#include <exception>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/post.hpp>

#include "core/cluster/coverage_marks.h"
#include "runtime/state_file.h"
#include "runtime/version.h"

namespace heck::runtime {

namespace {

// Runs `f`; an exception is reported to `on_error` instead of escaping.
template <typename F, typename E>
void guarded(F&& f, E&& on_error) {
  try {
    f();
  } catch (const std::exception& e) {
    on_error(e.what());
  } catch (...) {
    on_error("unknown exception");
  }
}

}  // namespace

Agent::Agent(boost::asio::io_context& io, const Clock& clock, CheckRunner& runner, ClusterNodeConfig config,
             AgentOptions options)
    : io_(io),
      clock_(clock),
      runner_(runner),
      options_(std::move(options)),
      node_(std::move(config), options_.seed),
      wake_timer_(io),
      persist_timer_(io),
      scan_timer_(io),
      store_available_(registry_.gauge("heck_store_available",
                                       "1 when the store of targets, observations and counters can be written "
                                       "(always 1 for the gossip store), 0 when the external store is unavailable.",
                                       {"kind"})),
      build_info_(registry_.gauge("heck_build_info", "Always 1; the version of this heck agent.", {"version"})),
      start_time_(registry_.gauge("heck_start_time_seconds", "When the agent started, in seconds since the Unix epoch.")),
      targets_(registry_.gauge("heck_targets", "Targets this agent checks.")),
      target_up_(registry_.gauge("heck_target_up",
                                 "1 if the target is healthy, 0 if unhealthy; absent while its status is unknown "
                                 "(see heck_target_status).",
                                 {"target"})),
      target_status_(registry_.gauge("heck_target_status",
                                     "1 for the target's current status (healthy, unhealthy or unknown), 0 for the others.",
                                     {"target", "status"})),
      tls_cert_expiry_(registry_.gauge("heck_tls_cert_expiry_seconds",
                                       "https targets checked here: seconds until the server's leaf certificate "
                                       "expires (negative once it has), as of the last check.",
                                       {"target"})),
      check_duration_(registry_.histogram("heck_check_duration_seconds",
                                          "Duration of finished checks, from start to outcome.", {"target"},
                                          latency_buckets_seconds())),
      checks_total_(registry_.counter("heck_checks_total", "Checks finished, by target and result.",
                                      {"target", "result"})),
      status_changes_total_(registry_.counter("heck_status_changes_total",
                                              "Status changes (rise/fall thresholds crossed), by target.",
                                              {"target"})),
      in_flight_(registry_.gauge("heck_checks_in_flight", "Checks running now.")),
      queued_(registry_.gauge("heck_checks_queued", "Checks waiting for a free slot (max_concurrent_checks).")),
      stale_results_(registry_.counter("heck_stale_results_total",
                                       "Check results for a check that was superseded or whose target is gone.")),
      stale_timers_(registry_.counter("heck_stale_timers_total",
                                      "Timer firings that found nothing due (replaced, cancelled or late).")),
      results_lost_(registry_.counter("heck_results_lost_total",
                                      "Checks whose result never came by the deadline (counted as timeouts).")),
      handler_errors_(registry_.counter("heck_handler_errors_total",
                                        "Exceptions caught in the agent's event handlers.")),
      api_requests_(registry_.counter("heck_api_requests_total", "API responses, by HTTP status code.", {"code"})),
      members_(registry_.gauge("heck_members",
                               "Cluster members in this agent's view, by state (alive, suspect, dead, left); "
                               "this agent included.",
                               {"state"})),
      member_changes_total_(registry_.counter("heck_member_changes_total",
                                              "Member state or incarnation changes seen, by the new state.",
                                              {"state"})),
      incarnation_(registry_.gauge("heck_cluster_incarnation", "This agent's own incarnation number.")),
      health_score_(registry_.gauge("heck_cluster_health_multiplier",
                                    "Lifeguard local health multiplier (1 = healthy; probes stretch by it).")),
      cluster_packets_received_(registry_.counter("heck_cluster_packets_received_total",
                                                  "Cluster packets (opened) stepped into the node.")),
      cluster_packets_malformed_(registry_.counter(
          "heck_cluster_packets_malformed_total",
          "Opened cluster packets the node dropped: envelope did not decode, or over its size limit.")),
      cluster_sends_(registry_.counter("heck_cluster_sends_total",
                                       "Cluster messages the node asked to send, by channel.", {"channel"})),
      swim_probes_(registry_.counter("heck_swim_probes_total", "SWIM protocol periods that probed a member.")),
      swim_probes_failed_(registry_.counter("heck_swim_probes_failed_total",
                                            "SWIM probes that got no ack at all (direct or indirect).")),
      swim_suspicions_(registry_.counter("heck_swim_suspicions_total", "Suspicions started in this agent's view.")),
      swim_refutes_(registry_.counter("heck_swim_refutes_total",
                                      "Times this agent raised its incarnation to refute a suspicion of itself.")),
      swim_deaths_(registry_.counter("heck_swim_deaths_declared_total",
                                     "Suspicion timeouts that expired here (a member declared dead).")),
      swim_name_conflicts_(registry_.counter(
          "heck_swim_name_conflicts_total",
          "Alives of this agent's name from another process refuting it: two agents share a --name.")),
      latency_handoffs_(registry_.counter(
          "heck_latency_handoffs_total",
          "Targets' latency rings handed to the next owner (sent) or from others (received, parked until the "
          "registry has the target, refused: not an owner or standby here, malformed).",
          {"result"})),
      coverage_marks_(registry_.counter("heck_coverage_mark_hits_total",
                                        "Protocol paths this agent has taken (the simulator's coverage marks).",
                                        {"mark"})),
      registry_targets_(registry_.gauge("heck_registry_targets",
                                        "Targets in the replicated registry (the whole cluster's targets).")),
      request_records_(registry_.gauge("heck_idempotency_records",
                                       "Applied Idempotency-Keys held in the replicated record (their first answers).")),
      request_expiries_(registry_.counter("heck_idempotency_expiry_rounds_total",
                                          "Rounds that removed Idempotency-Key records past the retention or the cap.")),
      removal_records_(registry_.gauge("heck_registry_removals",
                                       "Target removals held in the replicated registry until their retention ends "
                                       "(a removal outranks a concurrent older put).")),
      targets_status_(registry_.gauge("heck_targets_status",
                                      "Targets of the replicated view (what every agent answers), by resolved "
                                      "status (healthy, unhealthy, unknown).",
                                      {"status"})),
      targets_stale_(registry_.gauge("heck_targets_stale",
                                     "Targets of the replicated view whose owners have not reported for "
                                     "observation_refresh + stale_intervals x interval.")),
      view_changes_total_(registry_.counter("heck_view_changes_total",
                                            "Status changes of the replicated view seen by this agent's scans.")),
      snapshot_writes_(registry_.counter("heck_state_snapshot_writes_total",
                                         "State snapshot writes (--data-dir), by result (ok, error).", {"result"})),
      durable_epoch_(registry_.gauge("heck_state_durable_epoch",
                                     "The node's durable epoch last written to the state file (0 = none).")),
      alert_notifications_(registry_.counter("heck_alert_notifications_total",
                                             "Alert notifications this agent sent, by route, kind (firing, "
                                             "resolved) and result (delivered, failed).",
                                             {"route", "kind", "result"})) {
  build_info_.set({std::string(kVersion)}, 1);
  if (node_.alerts().enabled()) alert_sender_ = std::make_unique<AlertSender>(io_, options_.alert_sender);
}

// The sender goes first: its shutdown posts callbacks, which find alive_
// expired.
Agent::~Agent() {
  alive_.reset();
  alert_sender_.reset();
}

void Agent::on_notify(const Notify& n) {
  if (!alert_sender_ || stopped_) {
    feed(NotifyDone{n.notification.id, false, "the agent is stopping"});
    return;
  }
  alert_sender_->send(n.notification, [this, alive = std::weak_ptr<int>(alive_), note = n.notification](NotifyDone d) {
    if (alive.expired()) return;
    alert_notifications_.inc({note.route, std::string(to_string(note.kind)), d.delivered ? "delivered" : "failed"});
    log(fmt::format("alert {} {} for {} to route {}: {}", note.repeat ? "repeat" : "notification", to_string(note.kind),
                    note.target, note.route, d.delivered ? std::string("delivered") : "failed, " + d.error));
    alert_deliveries_.push_back(AlertDeliveryRecord{clock_.now(), note, d.delivered, d.error});
    while (alert_deliveries_.size() > options_.alert_log_capacity) alert_deliveries_.pop_front();
    feed(std::move(d));
  });
}

void Agent::start() {
  assert(!started_);
  started_ = true;
  const Instant now = clock_.now();
  started_at_ = now;
  start_time_.set(static_cast<double>(now.ns()) / 1e9);
  load_history();
  stepping_ = true;
  guarded(
      [&] {
        effects_.clear();
        node_.start(now, effects_);
        for (auto& e : effects_) apply(now, e);
      },
      [&](std::string_view what) { handler_error("start", what); });
  effects_.clear();
  stepping_ = false;
  const auto& seeds = node_.config().seeds;
  log(fmt::format("agent {} started: {} targets, cluster address {}, {}", node_.name(), node_.scheduler().size(),
                  sanitize_for_log(node_.config().address),
                  seeds.empty() ? std::string("no seeds (first member)")
                                : fmt::format("joining through {}", sanitize_for_log(fmt::format("{}", fmt::join(seeds, ", "))))));
  drain();  // anything a runner reported from inside run(); then after_drain()
  arm_scan_timer();
}

void Agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  timers_.clear();
  counters_.stale_timer_completions = timers_.counters().stale_dropped;
  wake_at_.reset();
  wake_timer_.cancel();
  pending_.clear();
  persist_timer_.cancel();
  persist_armed_ = false;
  scan_timer_.cancel();
  // A clean stop leaves the newest state on disk.
  if (durable() && node_.durable_epoch() != persisted_epoch_) {
    auto r = persist_now();
    if (!r) log(fmt::format("cannot write the state snapshot on stop: {}", r.error()));
  }
  save_history(clock_.now());
  run_flush_waiters(/*all=*/true);
}

void Agent::leave() {
  if (stopped_ || node_.membership().left()) return;
  log(fmt::format("agent {} leaving the cluster", node_.name()));
  feed(LeaveCluster{});
}

bool Agent::submit(ClusterInput in) {
  if (stopped_) {
    ++counters_.dropped_after_stop;
    return false;
  }
  return feed(std::move(in));
}

bool Agent::feed(ClusterInput in) {
  if (pending_.size() >= kMaxPendingInputs) {
    ++counters_.inputs_dropped;
    return false;
  }
  pending_.push_back(std::move(in));
  drain();
  return true;
}

void Agent::drain() {
  if (stepping_) return;  // the loop below, further up the stack, picks it up
  stepping_ = true;
  while (!pending_.empty() && !stopped_) {
    ClusterInput next = std::move(pending_.front());
    pending_.pop_front();
    guarded(
        [&] {
          const Instant now = clock_.now();
          ++counters_.inputs;
          if (std::holds_alternative<Packet>(next)) ++counters_.packets_in;
          effects_.clear();
          node_.step(now, next, effects_);
          for (auto& e : effects_) apply(now, e);
        },
        [&](std::string_view what) { handler_error("step", what); });
    effects_.clear();
  }
  stepping_ = false;
  guarded([&] { arm_wake(); }, [&](std::string_view what) { handler_error("timers", what); });
  guarded([&] { after_drain(); }, [&](std::string_view what) { handler_error("after drain", what); });
}

void Agent::apply(Instant now, Effect& effect) {
  // One effect's failure must not stop the effects after it.
  guarded(
      [&] {
        std::visit(
            [&](auto& e) {
              using T = std::decay_t<decltype(e)>;
              if constexpr (std::is_same_v<T, SetTimer>) {
                set_timer(e);
              } else if constexpr (std::is_same_v<T, CancelTimer>) {
                cancel_timer(e);
              } else if constexpr (std::is_same_v<T, StartCheck>) {
                start_check(now, e);
              } else if constexpr (std::is_same_v<T, CheckFinished>) {
                on_check_finished(e);
              } else if constexpr (std::is_same_v<T, StatusChanged>) {
                on_status_changed(now, e);
              } else if constexpr (std::is_same_v<T, Send>) {
                on_send(e);
              } else if constexpr (std::is_same_v<T, MemberChanged>) {
                on_member_changed(e);
              } else if constexpr (std::is_same_v<T, StoreWrite>) {
                if (store_ && !stopped_) store_->write(std::move(e.op));
              } else if constexpr (std::is_same_v<T, Notify>) {
                on_notify(e);
              }
            },
            effect);
      },
      [&](std::string_view what) { handler_error("effect", what); });
}

void Agent::set_timer(const SetTimer& e) {
  if (stopped_) return;
  ++counters_.timers_set;
  timers_.arm(e.key, e.at);
}

void Agent::cancel_timer(const CancelTimer& e) {
  if (timers_.cancel(e.key)) ++counters_.timers_cancelled;
}

void Agent::arm_wake() {
  counters_.stale_timer_completions = timers_.counters().stale_dropped;
  if (stopped_ || waking_) return;  // on_wake arms once, after its last key
  const std::optional<Instant> next = timers_.next_deadline();
  if (next == wake_at_) return;  // already waiting for it
  wake_at_ = next;
  const std::uint64_t generation = ++wake_generation_;
  if (!next) {
    wake_timer_.cancel();
    return;
  }
  wake_timer_.expires_at(clock_.to_steady(*next));  // cancels an earlier wait
  wake_timer_.async_wait([this, generation](const boost::system::error_code& ec) { on_wake(generation, ec); });
}

void Agent::on_wake(std::uint64_t generation, const boost::system::error_code& ec) {
  if (ec || stopped_ || generation != wake_generation_) {
    ++counters_.wakeups_superseded;
    return;
  }
  ++counters_.wakeups;
  wake_at_.reset();
  // One due key at a time, each stepped before the next is taken: a timer the
  // step arms due now fires in this wake too, in order.
  waking_ = true;
  for (std::size_t n = 0; n < kMaxTimersPerWake && !stopped_; ++n) {
    const std::optional<TimerKey> key = timers_.pop_due(clock_.now());
    if (!key) break;
    ++counters_.timers_fired;
    feed(TimerFired{*key});
  }
  waking_ = false;
  arm_wake();
}

void Agent::start_check(Instant now, const StartCheck& e) {
  if (stopped_) return;
  ++counters_.checks_started;
  Duration timeout = e.deadline - now;
  if (timeout < Duration::zero()) timeout = Duration::zero();
  runner_.run(e.spec, timeout, [this, id = e.check](CheckOutcome outcome) {
    on_check_done(id, std::move(outcome));
  });
}

void Agent::on_check_done(CheckId id, CheckOutcome outcome) {
  if (stopped_) {
    ++counters_.dropped_after_stop;
    return;
  }
  ++counters_.checks_done;
  feed(CheckDone{id, std::move(outcome)});
}

void Agent::on_check_finished(const CheckFinished& e) {
  const std::string& id = e.spec->id;
  checks_total_.inc({id, std::string(to_string(e.result.reason))});
  const double seconds = e.result.latency.seconds_f();
  check_duration_.observe({id}, seconds < 0 ? 0 : seconds);
}

void Agent::on_status_changed(Instant now, const StatusChanged& e) {
  ++counters_.status_changes;
  status_changes_total_.inc({e.spec->id});
  StatusChangeRecord rec{now, e.spec->id, e.from, e.to, e.cause};
  log(describe_change(rec));
  if (options_.status_log_capacity == 0) return;
  while (changes_.size() >= options_.status_log_capacity) changes_.pop_front();
  changes_.push_back(std::move(rec));
}

void Agent::on_send(const Send& e) {
  cluster_sends_.inc({e.channel == Channel::datagram ? "datagram" : "stream"});
  if (stopped_ || !options_.send) {
    ++counters_.sends_dropped;
    return;
  }
  ++counters_.sends;
  options_.send(e);
}

void Agent::on_member_changed(const MemberChanged& e) {
  ++counters_.member_changes;
  member_changes_total_.inc({std::string(to_string(e.to))});
  log(describe_member_change(e));
}

std::string Agent::describe_member_change(const MemberChanged& e) {
  if (e.is_new) {
    return fmt::format("member {} ({}) joined: {}, incarnation {}", sanitize_for_log(e.name),
                       sanitize_for_log(e.address), to_string(e.to), e.incarnation);
  }
  if (e.from == e.to) {
    return fmt::format("member {} ({}) {}, incarnation {}", sanitize_for_log(e.name), sanitize_for_log(e.address),
                       to_string(e.to), e.incarnation);
  }
  return fmt::format("member {} ({}) {} -> {}, incarnation {}", sanitize_for_log(e.name),
                     sanitize_for_log(e.address), to_string(e.from), to_string(e.to), e.incarnation);
}

std::string Agent::describe_change(const StatusChangeRecord& c) {
  return fmt::format("target {} {} -> {} ({})", c.target, to_string(c.from), to_string(c.to),
                     sanitize_for_log(c.cause.describe()));
}

void Agent::log(std::string_view text) {
  const std::string line = log_line(clock_.now(), text);
  if (options_.log) {
    options_.log(line);
  } else {
    write_stderr_line(line);
  }
}

void Agent::handler_error(std::string_view where, std::string_view what) {
  ++counters_.handler_errors;
  handler_errors_.inc();
  // Logging itself may throw (a failing sink); never let that escape.
  try {
    log(fmt::format("agent error in {}: {}", where, sanitize_for_log(what)));
  } catch (...) {
  }
}

std::size_t Agent::armed_timers() const { return timers_.size(); }

std::size_t Agent::armed_timers(TimerKind kind) const { return timers_.count(kind); }

std::optional<Instant> Agent::timer_deadline(TimerKey key) const { return timers_.deadline(key); }

std::string Agent::render_metrics() {
  const CheckScheduler& s = node_.scheduler();
  targets_.set(static_cast<double>(s.size()));
  target_up_.clear();
  target_status_.clear();
  tls_cert_expiry_.clear();
  std::uint64_t lost = 0;
  s.for_each([&](const TargetState& t) {
    const std::string& id = t.spec->id;
    if (t.status != HealthStatus::unknown) target_up_.set({id}, t.status == HealthStatus::healthy ? 1 : 0);
    for (HealthStatus st : {HealthStatus::healthy, HealthStatus::unhealthy, HealthStatus::unknown}) {
      target_status_.set({id, std::string(to_string(st))}, t.status == st ? 1 : 0);
    }
    if (t.checked && t.last_result.tls_cert_expires_in) {
      tls_cert_expiry_.set({id}, t.last_result.tls_cert_expires_in->seconds_f());
    }
    lost += t.results_lost;
  });
  in_flight_.set(static_cast<double>(runner_.in_flight()));
  queued_.set(static_cast<double>(runner_.queued()));
  stale_results_.set({}, static_cast<double>(s.counters().stale_results));
  stale_timers_.set({}, static_cast<double>(s.counters().stale_timers));
  results_lost_.set({}, static_cast<double>(lost));

  const Swim& swim = node_.membership();
  std::array<std::size_t, 4> by_state{};
  for (const MemberInfo& m : swim.members()) ++by_state[static_cast<std::size_t>(m.state)];
  for (MemberState st : {MemberState::alive, MemberState::suspect, MemberState::dead, MemberState::left}) {
    members_.set({std::string(to_string(st))}, static_cast<double>(by_state[static_cast<std::size_t>(st)]));
  }
  incarnation_.set(static_cast<double>(swim.incarnation()));
  health_score_.set(static_cast<double>(swim.health_multiplier()));
  const ClusterCounters& cc = node_.counters();
  cluster_packets_received_.set({}, static_cast<double>(cc.packets_received));
  cluster_packets_malformed_.set({}, static_cast<double>(cc.malformed_packets + cc.oversized_packets));
  const SwimCounters& sc = swim.counters();
  swim_probes_.set({}, static_cast<double>(sc.probes));
  swim_probes_failed_.set({}, static_cast<double>(sc.probes_failed));
  swim_suspicions_.set({}, static_cast<double>(sc.suspicions));
  swim_refutes_.set({}, static_cast<double>(sc.refutes));
  swim_deaths_.set({}, static_cast<double>(sc.deaths_declared));
  swim_name_conflicts_.set({}, static_cast<double>(sc.name_conflicts));
  latency_handoffs_.set({"sent"}, static_cast<double>(cc.latency_handoffs_sent));
  latency_handoffs_.set({"received"}, static_cast<double>(cc.latency_handoffs_received));
  latency_handoffs_.set({"parked"}, static_cast<double>(cc.latency_handoffs_parked));
  latency_handoffs_.set({"refused"}, static_cast<double>(cc.latency_handoffs_refused));
  latency_handoffs_.set({"malformed"}, static_cast<double>(cc.latency_handoffs_malformed));
  const CoverageHits hits = coverage_hits(node_);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    coverage_marks_.set({std::string(coverage_marks()[i].name)}, static_cast<double>(hits[i]));
  }
  registry_targets_.set(static_cast<double>(node_.health_state().target_count()));
  request_records_.set(static_cast<double>(node_.health_state().request_records()));
  request_expiries_.set({}, static_cast<double>(node_.replication().counters().request_gc_rounds));
  removal_records_.set(static_cast<double>(node_.health_state().removal_records()));
  std::array<std::size_t, 3> by_status{};  // healthy, unhealthy, unknown
  std::size_t stale = 0;
  node_.for_each_target_view(clock_.now(), [&](const TargetView& v) {
    by_status[v.status == HealthStatus::healthy ? 0 : v.status == HealthStatus::unhealthy ? 1 : 2] += 1;
    stale += v.stale ? 1 : 0;
  });
  targets_status_.set({"healthy"}, static_cast<double>(by_status[0]));
  targets_status_.set({"unhealthy"}, static_cast<double>(by_status[1]));
  targets_status_.set({"unknown"}, static_cast<double>(by_status[2]));
  targets_stale_.set(static_cast<double>(stale));
  store_available_.clear();
  store_available_.set({store_ ? std::string(store_->kind()) : std::string("gossip")},
                       !store_ || store_->available() ? 1 : 0);
  if (render_hook_) render_hook_();
  return registry_.render();
}

void Agent::count_api_request(unsigned status_code) { api_requests_.inc({fmt::format("{}", status_code)}); }

}  // namespace heck::runtime

// --- durability ----------------------------------------------------------------

namespace heck::runtime {

Result<bool> Agent::persist_now() {
  if (!durable()) return false;
  const std::uint64_t epoch = node_.durable_epoch();
  auto written = save_state(options_.state_path, node_.durable_state(), node_.configured_seeds());
  if (!written) {
    ++counters_.snapshot_errors;
    snapshot_writes_.inc({"error"});
    return Error{written.error()};
  }
  persisted_epoch_ = epoch;
  persisted_once_ = true;
  last_persist_at_ = clock_.now();
  ++counters_.snapshots_written;
  snapshot_writes_.inc({"ok"});
  durable_epoch_.set(static_cast<double>(epoch));
  if (!last_persist_error_.empty()) {
    log(fmt::format("state snapshot written again to {}", sanitize_for_log(options_.state_path)));
    last_persist_error_.clear();
  }
  return true;
}

void Agent::after_drain() {
  run_flush_waiters(/*all=*/false);
  report_name_conflicts();
  if (!durable() || stopped_ || persist_armed_) return;
  if (persisted_once_ && node_.durable_epoch() == persisted_epoch_) return;
  if (!persisted_once_ && node_.durable_epoch() == 0) return;  // nothing durable yet
  arm_persist_timer();
}

void Agent::report_name_conflicts() {
  const Swim& swim = node_.membership();
  const std::uint64_t n = swim.counters().name_conflicts;
  if (n == name_conflicts_logged_) return;
  const Instant now = clock_.now();
  if (name_conflicts_logged_ != 0 && now - name_conflict_logged_at_ < Duration::seconds(60)) return;
  log(fmt::format("another process claims this agent's name '{}' at {} (this one is at {}): the two refute "
                  "each other's alive ({} times so far); give every agent its own --name",
                  sanitize_for_log(swim.name()), sanitize_for_log(swim.name_conflict_address()),
                  sanitize_for_log(swim.address()), n));
  name_conflicts_logged_ = n;
  name_conflict_logged_at_ = now;
}

void Agent::arm_persist_timer() {
  Instant at = clock_.now();
  if (persisted_once_ && last_persist_at_ + options_.persist_debounce > at) {
    at = last_persist_at_ + options_.persist_debounce;
  }
  persist_armed_ = true;
  persist_timer_.expires_at(clock_.to_steady(at));
  persist_timer_.async_wait([this](const boost::system::error_code& ec) { on_persist_timer(ec); });
}

void Agent::on_persist_timer(const boost::system::error_code& ec) {
  if (ec || stopped_) return;
  persist_armed_ = false;
  if (persisted_once_ && node_.durable_epoch() == persisted_epoch_) return;
  guarded(
      [&] {
        auto r = persist_now();
        if (!r && r.error() != last_persist_error_) {
          // One line per distinct failure (a full disk would otherwise log every 200 ms).
          last_persist_error_ = r.error();
          log(fmt::format("cannot write the state snapshot: {}", sanitize_for_log(r.error())));
        }
        // Still behind (a failure, or a change while writing): try again later.
        if (!r) {
          last_persist_at_ = clock_.now();
          persisted_once_ = true;
        }
      },
      [&](std::string_view what) { handler_error("persist", what); });
  after_drain();
}

void Agent::after_replication_flush(std::function<void()> done) {
  const bool flush_pending = node_.replication().flush_pending();
  if (stopped_ || !flush_pending || flush_waiters_.size() >= kMaxFlushWaiters) {
    if (!stopped_ && flush_pending) ++counters_.flush_waiters_dropped;
    boost::asio::post(io_, std::move(done));
    return;
  }
  flush_waiters_.emplace_back(node_.replication().counters().flushes, std::move(done));
}

void Agent::run_flush_waiters(bool all) {
  if (flush_waiters_.empty()) return;
  const bool flush_pending = node_.replication().flush_pending();
  const std::uint64_t flushes = node_.replication().counters().flushes;
  while (!flush_waiters_.empty()) {
    auto& [registered_at, done] = flush_waiters_.front();
    if (!all && flush_pending && registered_at >= flushes) break;
    auto f = std::move(done);
    flush_waiters_.pop_front();
    boost::asio::post(io_, std::move(f));
  }
}

std::size_t Agent::replication_targets() const {
  return eager_push_peers(node_.config().replication, node_.membership().live_members().size());
}

// --- the replicated view's changes ---------------------------------------------

void Agent::arm_scan_timer() {
  if (stopped_ || options_.view_scan_interval <= Duration::zero()) return;
  scan_timer_.expires_after(std::chrono::nanoseconds(options_.view_scan_interval.ns()));
  scan_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    guarded([&] { scan_view_changes(); }, [&](std::string_view what) { handler_error("view scan", what); });
    arm_scan_timer();
  });
}

void Agent::scan_view_changes() {
  ++counters_.view_scans;
  const Instant now = clock_.now();
  // The registry and view_status_ are both in id order: one merge pass. A
  // whole view (ranking, observations) is built only for a change, to log it.
  auto it = view_status_.begin();
  node_.for_each_target_status([&](const std::string& id, HealthStatus status) {
    while (it != view_status_.end() && it->first < id) {  // unregistered
      history_.forget(it->first);
      ++history_changes_;
      it = view_status_.erase(it);
    }
    if (it == view_status_.end() || it->first != id) it = view_status_.emplace_hint(it, id, HealthStatus::unknown);
    const HealthStatus before = std::exchange(it->second, status);
    ++it;
    if (before == status) return;
    ViewChangeRecord rec{now, id, before, status, {}, {}};
    const auto v = node_.target_view(id, now);
    if (v && !v->observations.empty()) {
      const Observation& o = v->observations.front();
      rec.observer = o.observer_name;
      CheckResult r;
      r.reason = o.reason;
      r.status_code = o.status_code;
      rec.reason = r.describe();
    }
    history_.transition(id, TargetHistory::Transition{now, before, status, rec.observer, rec.reason});
    ++history_changes_;
    ++counters_.view_changes;
    view_changes_total_.inc();
    log(describe_view_change(rec));
    if (options_.status_log_capacity == 0) return;
    while (view_changes_.size() >= options_.status_log_capacity) view_changes_.pop_front();
    view_changes_.push_back(std::move(rec));
  });
  for (auto gone = it; gone != view_status_.end(); ++gone) {
    history_.forget(gone->first);
    ++history_changes_;
  }
  view_status_.erase(it, view_status_.end());
  if (prune_history_) {
    // The first scan after a history was read: forget targets deleted
    // while this agent was down.
    prune_history_ = false;
    history_.forget_unless([&](std::string_view id) { return view_status_.contains(std::string(id)); });
  }
  if (now - history_saved_at_ >= options_.history_save_interval) save_history(now);
}

void Agent::load_history() {
  history_saved_at_ = clock_.now();
  if (options_.history_path.empty()) return;
  auto bytes = read_file_if_exists(options_.history_path, kMaxStateFileBytes);
  Result<TargetHistory> loaded = Error{""};
  if (bytes && *bytes) {
    loaded = TargetHistory::from_json(std::string_view(reinterpret_cast<const char*>((*bytes)->data()), (*bytes)->size()));
  } else if (!bytes) {
    loaded = Error{bytes.error()};
  } else {
    return;  // no file yet
  }
  if (loaded) {
    history_ = std::move(*loaded);
    prune_history_ = true;
    log(fmt::format("history of {} targets read from {}", history_.size(), sanitize_for_log(options_.history_path)));
    return;
  }
  // History is derived and not worth refusing to start over: keep the bad
  // file aside (nothing is lost) and start afresh.
  const std::string aside = options_.history_path + ".bad";
  std::rename(options_.history_path.c_str(), aside.c_str());
  log(fmt::format("history file {}: {}; starting with an empty history (the file is kept as {})",
                  sanitize_for_log(options_.history_path), loaded.error(), sanitize_for_log(aside)));
}

void Agent::save_history(Instant now) {
  history_saved_at_ = now;
  if (options_.history_path.empty() || history_changes_ == history_saved_changes_) return;
  const std::string text = history_.to_json(now);
  auto r = write_file_atomic(options_.history_path,
                             std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  if (!r) {
    log(fmt::format("cannot write the history: {}", r.error()));
    return;
  }
  history_saved_changes_ = history_changes_;
}

std::string Agent::describe_view_change(const ViewChangeRecord& c) {
  return fmt::format("target {} {} -> {} ({})", c.target, to_string(c.from), to_string(c.to),
                     c.observer.empty() ? std::string("no observation")
                                        : fmt::format("observed by {}", sanitize_for_log(c.observer)));
}

}  // namespace heck::runtime
