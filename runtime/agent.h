// The agent: drives ONE heck::Node on ONE io_context. It feeds the node its
// inputs (timer firings, check results) with `now` from the runtime Clock and
// applies the node's effects in the order they come out:
//
//   SetTimer / CancelTimer  one asio::steady_timer per TimerKey; setting a key
//                           again replaces its deadline. Every arming gets a
//                           new generation number and a completion whose
//                           generation is no longer current is dropped (a
//                           cancelled wait that had already completed).
//   StartCheck              CheckRunner::run(spec, deadline - now, ...); the
//                           callback steps the node with CheckDone.
//   CheckFinished           metrics (checks_total, duration histogram).
//   StatusChanged           metrics, a bounded in-memory log of recent changes,
//                           and one log line, e.g.
//     2026-11-21T12:00:00Z target web unknown -> healthy (ok (status 200))
//
// It never blocks. An exception thrown while handling an input is caught,
// logged and counted (counters().handler_errors); it never escapes into the
// io_context. A callback that arrives while effects are being applied (a
// runner that completes inside run()) is queued and stepped afterwards, so
// effects are always applied in order and node.step() is never re-entered.
//
// Threading: everything runs on the io_context's thread. REQUIRES: the Agent
// outlives every handler it scheduled, i.e. destroy it only after stop() and
// after the io_context has run out of work (or was destroyed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/effects.h"
#include "core/health.h"
#include "core/node.h"
#include "core/time.h"
#include "core/timer.h"
#include "runtime/check_runner.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace heck::runtime {

struct AgentOptions {
  // Recent status changes kept in memory (oldest dropped first).
  std::size_t status_log_capacity = 1000;
  // Where log lines go; empty = stderr.
  LogSink log;
  // Seeds the node's PRNG (check phases and jitter).
  std::uint64_t seed = 1;
};

struct StatusChangeRecord {
  Instant at;
  std::string target;
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
  CheckResult cause;
};

struct AgentCounters {
  std::uint64_t inputs = 0;                   // inputs stepped into the node
  std::uint64_t timers_set = 0;
  std::uint64_t timers_cancelled = 0;
  std::uint64_t timers_fired = 0;             // firings passed to the node
  std::uint64_t stale_timer_completions = 0;  // cancelled/replaced waits that completed
  std::uint64_t checks_started = 0;
  std::uint64_t checks_done = 0;              // runner callbacks stepped into the node
  std::uint64_t dropped_after_stop = 0;       // callbacks that came after stop()
  std::uint64_t status_changes = 0;
  std::uint64_t handler_errors = 0;           // exceptions caught in handlers
};

class Agent {
 public:
  // `clock` and `runner` must outlive the agent.
  Agent(boost::asio::io_context& io, const Clock& clock, CheckRunner& runner, NodeConfig config,
        AgentOptions options = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the node (its configured targets). REQUIRES: called once.
  void start();
  // Cancels every timer; results that arrive later are dropped and no new
  // check starts. Idempotent. Does not shut the runner down (its owner does).
  void stop();
  bool started() const { return started_; }
  bool stopped() const { return stopped_; }

  // Feeds the node an input now (e.g. AddTarget). Timer firings and check
  // results are fed by the agent itself.
  void submit(Input in);

  // --- views --------------------------------------------------------------
  const Node& node() const { return node_; }
  const Clock& clock() const { return clock_; }
  Instant now() const { return clock_.now(); }
  Instant started_at() const { return started_at_; }
  const std::deque<StatusChangeRecord>& recent_changes() const { return changes_; }
  const AgentCounters& counters() const { return counters_; }
  const CheckRunner& runner() const { return runner_; }
  std::size_t armed_timers() const;
  // The deadline of an armed timer (tests, debugging).
  std::optional<Instant> timer_deadline(TimerKey key) const;

  // --- metrics ------------------------------------------------------------
  // Refreshes the gauges that mirror state (target status, in flight,
  // queued, scheduler counters) and renders the whole registry.
  std::string render_metrics();
  // Counts one API response by HTTP status code.
  void count_api_request(unsigned status_code);
  MetricsRegistry& metrics() { return registry_; }

  // The log line for a status change (without the time prefix):
  //   "target web unknown -> healthy (ok (status 200))"
  static std::string describe_change(const StatusChangeRecord& change);

 private:
  struct ArmedTimer {
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::uint64_t generation = 0;  // 0 = not armed
    Instant at;
  };

  void feed(Input in);
  void drain();
  void apply(Instant now, Effect& effect);
  void set_timer(const SetTimer& e);
  void cancel_timer(const CancelTimer& e);
  void on_timer(TimerKey key, std::uint64_t generation, const boost::system::error_code& ec);
  void start_check(Instant now, const StartCheck& e);
  void on_check_done(CheckId id, CheckOutcome outcome);
  void on_check_finished(const CheckFinished& e);
  void on_status_changed(Instant now, const StatusChanged& e);
  void log(std::string_view text);
  void handler_error(std::string_view where, std::string_view what);

  boost::asio::io_context& io_;
  const Clock& clock_;
  CheckRunner& runner_;
  AgentOptions options_;
  Node node_;
  Instant started_at_;
  bool started_ = false;
  bool stopped_ = false;

  std::unordered_map<TimerKey, ArmedTimer> timers_;
  std::uint64_t next_generation_ = 1;

  // Re-entrancy guard: inputs that arrive while effects are being applied.
  bool stepping_ = false;
  std::deque<Input> pending_;
  Effects effects_;

  std::deque<StatusChangeRecord> changes_;
  AgentCounters counters_;

  MetricsRegistry registry_;
  Gauge& build_info_;
  Gauge& start_time_;
  Gauge& targets_;
  Gauge& target_up_;
  Gauge& target_status_;
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
};

}  // namespace heck::runtime
