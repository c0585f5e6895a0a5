// The agent: drives ONE heck::ClusterNode (core/cluster/cluster_node.h) on
// ONE io_context. It feeds the node its inputs (timer firings, check results,
// packets from the transport) with `now` from the runtime Clock and applies
// the node's effects in the order they come out:
//
//   SetTimer / CancelTimer  the node's TimerTable (core/timer_table.h: setting
//                           a key again replaces its deadline, cancelling
//                           disarms it, a replaced deadline never fires). ONE
//                           asio::steady_timer (the wake timer) is armed at
//                           the table's next_deadline() after every drain; when
//                           it fires, the due keys are taken in (deadline, key)
//                           order and each is stepped as TimerFired before the
//                           next is taken. A wake whose wait was superseded (the
//                           next deadline moved) is dropped.
//   StartCheck              CheckRunner::run(spec, deadline - now, ...); the
//                           callback steps the node with CheckDone.
//   CheckFinished           metrics (checks_total, duration histogram).
//   StatusChanged           metrics, a bounded in-memory log of recent changes,
//                           and one log line, e.g.
//     2026-11-21T12:00:00Z target web unknown -> healthy (ok (status 200))
//   Send                    AgentOptions::send (the cluster transport,
//                           runtime/cluster/transport.h); without one, sends
//                           are counted and dropped (unit tests).
//   StoreWrite              the external store (etcd mode; see
//                           set_external_store), else dropped.
//   MemberChanged           metrics (heck_members{state},
//                           heck_member_changes_total{state}) and one log line:
//     2026-11-21T12:00:00Z member n2 (127.0.0.1:7947) alive -> suspect, incarnation 3
//     2026-11-21T12:00:00Z member n3 (127.0.0.1:7948) joined: alive, incarnation 0
//
// A single agent without seeds is a one-member cluster that checks every
// target itself.
//
// The replicated view's changes (what /v1/changes serves): every
// view_scan_interval (1 s) the agent resolves every registered target
// (ClusterNode::target_views) and compares each status with the previous
// scan; each difference is kept in a bounded log (view_changes(), oldest
// dropped first) and logged as one line, e.g.
//     2026-11-21T12:00:00Z target web healthy -> unhealthy (observed by n3)
// Every agent sees the same changes (from the replicated state), whoever
// checked the target; the local StatusChanged lines above are only logged by
// the agent that ran the checks.
//
// Durability (AgentOptions::state_path, set from --data-dir): a target
// registered through the API survives the crash of the agent that accepted
// it, and a restart of the whole cluster, because of two things:
//   1. replicated before the reply: a PUT/DELETE is written to the local
//      replicated state at once, and the API replies only after the next
//      replica_flush (flush_delay, 10 ms) has pushed the delta directly to
//      every live peer (eager push, up to replication.max_direct_peers = 128
//      peers; in a larger cluster to `fanout` peers that forward it;
//      after_replication_flush()). Datagrams can be lost; piggybacking on
//      membership traffic and anti-entropy repair what a peer missed, as
//      long as one holder survives.
//   2. a local snapshot with fsync: the durable part of the state (target
//      registry and counters; ClusterNode::durable_state(), encoded by
//      core/replicated/snapshot.h) is written to <data_dir>/state.snapshot
//      atomically (runtime/state_file.h: tmp file, fsync, rename, fsync of
//      the directory). A PUT/DELETE writes it synchronously before replying
//      ("durable": true, persist_now()); any other change of
//      node().durable_epoch() (a write replicated from a peer, a counter
//      add) is written after each drain, debounced to at most one write per
//      persist_debounce (200 ms).
// On start the host reads the snapshot and passes it to the node as
// ClusterNodeConfig::restored (runtime/agent_host.h); a file that does not
// decode stops the start with a message naming the file. So after a restart
// of the whole cluster each agent comes back with every target it had
// written to disk, and anti-entropy merges the agents' snapshots (the
// registry and the counters are CRDTs, so merging is always safe).
// Observations are not kept: the owners' next checks make them again.
//
// It never blocks. An exception thrown while handling an input is caught,
// logged and counted (counters().handler_errors); it never escapes into the
// io_context. A callback that arrives while effects are being applied (a
// runner that completes inside run()) is queued and stepped afterwards, so
// effects are always applied in order and node.step() is never re-entered.
// The queue is bounded (kMaxPendingInputs; the excess is dropped and counted).
//
// Threading: everything runs on the io_context's thread. REQUIRES: the Agent
// outlives every handler it scheduled, i.e. destroy it only after stop() and
// after the io_context has run out of work (or was destroyed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/effects.h"
#include "core/health.h"
#include "core/cluster/cluster_node.h"
#include "core/result.h"
#include "core/time.h"
#include "core/timer.h"
#include "core/timer_table.h"
#include "runtime/alert_sender.h"
#include "runtime/check_runner.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/store/external_store.h"
#include "runtime/target_history.h"

namespace heck::runtime {

struct AgentOptions {
  // Recent status changes kept in memory (oldest dropped first).
  std::size_t status_log_capacity = 1000;
  // Where log lines go; empty = stderr.
  LogSink log;
  // Seeds the node's PRNG (check phases, jitter, probe order, boot nonce).
  std::uint64_t seed = 1;
  // Where Send effects go (the cluster transport). Empty = counted, dropped.
  std::function<void(const Send&)> send;
  // The state file (<data_dir>/state.snapshot, runtime/state_file.h); empty
  // = no durability (nothing is written).
  std::string state_path;
  // At most one background snapshot write per this long.
  Duration persist_debounce = Duration::milliseconds(200);
  // The targets' history (runtime/target_history.h, <data_dir>/history.json):
  // read at start, written every history_save_interval when it changed and
  // at stop. Empty = kept in memory only.
  std::string history_path;
  Duration history_save_interval = Duration::seconds(60);
  // How often the replicated view is scanned for status changes; zero = no
  // timer (tests call scan_view_changes()).
  Duration view_scan_interval = Duration::seconds(1);
  // The webhook sender's settings (runtime/alert_sender.h); used only when
  // the node has alert routes.
  AlertSenderOptions alert_sender;
  // Alert deliveries kept for /v1/alerts (oldest dropped first).
  std::size_t alert_log_capacity = 200;
};

// One alert delivery as the agent saw it end (Notify, then NotifyDone).
struct AlertDeliveryRecord {
  Instant at;  // when it ended
  AlertNotification notification;
  bool delivered = false;
  std::string error;
};

struct StatusChangeRecord {
  Instant at;
  std::string target;
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
  CheckResult cause;
};

// A status change of the replicated view (what any agent answers).
struct ViewChangeRecord {
  Instant at;                 // when this agent's scan saw it
  std::string target;
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
  std::string observer;       // the winning observation's observer; empty if none
  std::string reason;         // the winning observation's result, e.g. "status 503"; empty if none
};

struct AgentCounters {
  std::uint64_t inputs = 0;                   // inputs stepped into the node
  std::uint64_t timers_set = 0;
  std::uint64_t timers_cancelled = 0;
  std::uint64_t timers_fired = 0;             // firings passed to the node
  // Replaced or cancelled deadlines dropped without firing (the timer
  // table's stale entries; each used to be one cancelled asio wait).
  std::uint64_t stale_timer_completions = 0;
  std::uint64_t wakeups = 0;                  // wake timer completions that took due keys
  std::uint64_t wakeups_superseded = 0;       // wake timer waits re-armed or cancelled before firing
  std::uint64_t checks_started = 0;
  std::uint64_t checks_done = 0;              // runner callbacks stepped into the node
  std::uint64_t dropped_after_stop = 0;       // callbacks that came after stop()
  std::uint64_t status_changes = 0;
  std::uint64_t handler_errors = 0;           // exceptions caught in handlers
  std::uint64_t packets_in = 0;               // Packet inputs stepped into the node
  std::uint64_t sends = 0;                    // Send effects handed to the transport
  std::uint64_t sends_dropped = 0;            // Send effects with no transport
  std::uint64_t member_changes = 0;
  std::uint64_t inputs_dropped = 0;           // over kMaxPendingInputs
  std::uint64_t view_changes = 0;             // replicated view status changes seen
  std::uint64_t view_scans = 0;
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshot_errors = 0;
  std::uint64_t flush_waiters_dropped = 0;    // over kMaxFlushWaiters (answered at once)
};

class Agent {
 public:
  static constexpr std::size_t kMaxPendingInputs = 100'000;
  // Due timers stepped per wake; more wait for the next turn of the loop.
  static constexpr std::size_t kMaxTimersPerWake = 4096;
  static constexpr std::size_t kMaxFlushWaiters = 1024;

  // `clock` and `runner` must outlive the agent. REQUIRES: config.name and
  // config.address are non-empty (the address is what peers reply to).
  Agent(boost::asio::io_context& io, const Clock& clock, CheckRunner& runner, ClusterNodeConfig config,
        AgentOptions options = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the node: joins its seeds, checks its configured targets.
  // REQUIRES: called once.
  void start();
  // Leaves the cluster gracefully (members then list this agent as `left`);
  // the agent keeps answering until stop(). Idempotent.
  void leave();
  // Cancels every timer; results that arrive later are dropped and no new
  // check starts. Idempotent. Does not shut the runner down (its owner does).
  void stop();
  bool started() const { return started_; }
  bool stopped() const { return stopped_; }

  // Feeds the node an input now (e.g. PutTarget, or a Packet from the
  // transport). Timer firings and check results are fed by the agent itself.
  // Returns false when the input was dropped (stopped, or the queue is full).
  // Called from outside a step (an API handler), the input has been stepped
  // when it returns.
  bool submit(ClusterInput in);

  // --- durability (see the header comment) ---------------------------------
  // Writes the snapshot now if state_path is set: true = written and
  // fsync'ed, false = no state path. The error names the file and the step.
  Result<bool> persist_now();
  bool durable() const { return !options_.state_path.empty(); }
  const std::string& state_path() const { return options_.state_path; }
  // The durable_epoch() last written to the state file.
  std::uint64_t persisted_epoch() const { return persisted_epoch_; }
  // Runs `done` once the replication deltas written so far have been pushed
  // to the peers (the next replica_flush fired), or at once (posted) when no
  // flush is pending, the agent is stopped, or kMaxFlushWaiters are waiting.
  void after_replication_flush(std::function<void()> done);
  // How many live peers a write's delta is pushed to directly: every other
  // live member up to replication.max_direct_peers, else replication.fanout.
  std::size_t replication_targets() const;

  // --- the external store (etcd mode) ----------------------------------------
  // Where the node's StoreWrite effects go, and what the API asks about
  // writes and availability; null in the gossip mode. `store` must outlive
  // the agent's use of it (set before start()).
  void set_external_store(ExternalStore* store) { store_ = store; }
  ExternalStore* external_store() const { return store_; }

  // --- the replicated view's changes ----------------------------------------
  // Compares every target's resolved status with the previous scan (the
  // view_scan_interval timer calls it).
  void scan_view_changes();
  const std::deque<ViewChangeRecord>& view_changes() const { return view_changes_; }
  // Each target's transitions, uptime and local latencies (target_history.h).
  const TargetHistory& history() const { return history_; }
  // The last alert deliveries, oldest first, and the sender (null without routes).
  const std::deque<AlertDeliveryRecord>& alert_deliveries() const { return alert_deliveries_; }
  const AlertSender* alert_sender() const { return alert_sender_.get(); }
  // "target web healthy -> unhealthy (observed by n3)"
  static std::string describe_view_change(const ViewChangeRecord& change);

  // --- views --------------------------------------------------------------
  const ClusterNode& node() const { return node_; }
  const Clock& clock() const { return clock_; }
  Instant now() const { return clock_.now(); }
  Instant started_at() const { return started_at_; }
  const std::deque<StatusChangeRecord>& recent_changes() const { return changes_; }
  const AgentCounters& counters() const { return counters_; }
  const CheckRunner& runner() const { return runner_; }
  // Armed timers, all or of one kind.
  std::size_t armed_timers() const;
  std::size_t armed_timers(TimerKind kind) const;
  // The deadline of an armed timer (tests, debugging).
  std::optional<Instant> timer_deadline(TimerKey key) const;
  // The node's armed timers, and the deadline the one wake timer waits for
  // (the table's next_deadline() after every drain; nullopt = not waiting).
  const TimerTable& timers() const { return timers_; }
  std::optional<Instant> wake_deadline() const { return wake_at_; }

  // --- metrics ------------------------------------------------------------
  // Refreshes the gauges that mirror state (target status, in flight,
  // queued, scheduler counters) and renders the whole registry.
  std::string render_metrics();
  // Counts one API response by HTTP status code.
  void count_api_request(unsigned status_code);
  MetricsRegistry& metrics() { return registry_; }
  // Called by render_metrics() before rendering, so that a driver part (the
  // transport) can refresh the families it registered in metrics().
  void set_render_hook(std::function<void()> hook) { render_hook_ = std::move(hook); }

  // The log line for a status change (without the time prefix):
  //   "target web unknown -> healthy (ok (status 200))"
  static std::string describe_change(const StatusChangeRecord& change);
  // The log line for a member change (without the time prefix).
  static std::string describe_member_change(const MemberChanged& change);

 private:
  bool feed(ClusterInput in);
  void drain();
  void apply(Instant now, Effect& effect);
  void set_timer(const SetTimer& e);
  void cancel_timer(const CancelTimer& e);
  void arm_wake();
  void on_wake(std::uint64_t generation, const boost::system::error_code& ec);
  void start_check(Instant now, const StartCheck& e);
  void on_check_done(CheckId id, CheckOutcome outcome);
  void on_check_finished(const CheckFinished& e);
  void on_status_changed(Instant now, const StatusChanged& e);
  void on_send(const Send& e);
  void on_member_changed(const MemberChanged& e);
  void log(std::string_view text);
  // Another process with this agent's name (swim.h, "Name conflicts"):
  // logged at the first and then at most once a minute.
  void report_name_conflicts();
  std::uint64_t name_conflicts_logged_ = 0;
  Instant name_conflict_logged_at_;
  void handler_error(std::string_view where, std::string_view what);
  void after_drain();
  void arm_persist_timer();
  void on_persist_timer(const boost::system::error_code& ec);
  void arm_scan_timer();
  void run_flush_waiters(bool all);

  boost::asio::io_context& io_;
  const Clock& clock_;
  CheckRunner& runner_;
  AgentOptions options_;
  ClusterNode node_;
  Instant started_at_;
  bool started_ = false;
  bool stopped_ = false;

  TimerTable timers_;
  boost::asio::steady_timer wake_timer_;
  std::optional<Instant> wake_at_;      // the deadline the wake timer waits for
  std::uint64_t wake_generation_ = 0;   // of the current wait
  bool waking_ = false;                 // in on_wake: arm once at its end

  // Re-entrancy guard: inputs that arrive while effects are being applied.
  bool stepping_ = false;
  std::deque<ClusterInput> pending_;
  Effects effects_;

  std::deque<StatusChangeRecord> changes_;
  AgentCounters counters_;

  // Durability.
  std::uint64_t persisted_epoch_ = 0;
  bool persisted_once_ = false;
  Instant last_persist_at_;
  boost::asio::steady_timer persist_timer_;
  bool persist_armed_ = false;
  std::string last_persist_error_;

  // Waiting for the next replica_flush: (Replicator flushes at registration, done).
  std::deque<std::pair<std::uint64_t, std::function<void()>>> flush_waiters_;

  // Replicated view scans.
  boost::asio::steady_timer scan_timer_;
  std::map<std::string, HealthStatus, std::less<>> view_status_;
  std::deque<ViewChangeRecord> view_changes_;
  TargetHistory history_;
  std::uint64_t history_changes_ = 0;        // transitions recorded (dirty when != history_saved_changes_)
  std::uint64_t history_saved_changes_ = 0;
  Instant history_saved_at_;
  bool prune_history_ = false;  // a history was read: the next scan drops unregistered targets
  void load_history();
  void save_history(Instant now);

  ExternalStore* store_ = nullptr;

  // Alerts: the webhook sender, and the deliveries it ended. The token
  // outlives nothing: a sender callback that runs after the agent is gone
  // finds it expired and does nothing.
  std::unique_ptr<AlertSender> alert_sender_;
  std::deque<AlertDeliveryRecord> alert_deliveries_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  void on_notify(const Notify& n);

  MetricsRegistry registry_;
  Gauge& store_available_;
  Gauge& build_info_;
  Gauge& start_time_;
  Gauge& targets_;
  Gauge& target_up_;
  Gauge& target_status_;
  Gauge& tls_cert_expiry_;
  Histogram& check_duration_;
  Counter& checks_total_;
  Counter& status_changes_total_;
  Gauge& in_flight_;
  Gauge& queued_;
  Counter& stale_results_;
  Counter& stale_timers_;
  Counter& results_lost_;
  Counter& handler_errors_;
  Counter& api_requests_;
  Gauge& members_;
  Counter& member_changes_total_;
  Gauge& incarnation_;
  Gauge& health_score_;
  Counter& cluster_packets_received_;
  Counter& cluster_packets_malformed_;
  Counter& cluster_sends_;
  Counter& swim_probes_;
  Counter& swim_probes_failed_;
  Counter& swim_suspicions_;
  Counter& swim_refutes_;
  Counter& swim_deaths_;
  Counter& swim_name_conflicts_;
  Counter& latency_handoffs_;  // heck_latency_handoffs_total{result}: core/cluster/latency_history.h
  Counter& coverage_marks_;  // heck_coverage_mark_hits_total{mark}: core/cluster/coverage_marks.h
  Gauge& registry_targets_;
  Gauge& request_records_;     // heck_idempotency_records
  Counter& request_expiries_;  // heck_idempotency_expiry_rounds_total
  Gauge& removal_records_;     // heck_registry_removals
  Gauge& targets_status_;
  Gauge& targets_stale_;
  Counter& view_changes_total_;
  Counter& snapshot_writes_;
  Gauge& durable_epoch_;
  Counter& alert_notifications_;  // heck_alert_notifications_total{route, kind, result}
  std::function<void()> render_hook_;
};

}  // namespace heck::runtime
