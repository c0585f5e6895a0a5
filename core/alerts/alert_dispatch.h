// The sender side of alerts on one node (the design: alert_route.h): what is
// handed to the driver and not yet done, and the retry backoff of failed
// deliveries. ClusterNode feeds it the facts of each target this node is
// the first owner of, every AlertConfig::tick, and the driver's NotifyDone
// reports; it answers with Notify effects and the records to write.
//
// Bounded: at most max_in_flight notifications at once (the rest wait for a
// later tick: the rule is level-triggered, nothing is lost by waiting); one
// per (target, route) at a time; a failed one is retried no sooner than its
// backoff (min_retry doubling to max_retry), and only while still due.
// Cost: O(routes) per target considered; O(log n) per report.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/alerts/alert_route.h"
#include "core/effects.h"
#include "core/replicated/health_state.h"
#include "core/replicated/observation.h"
#include "core/time.h"

namespace heck {

// What the node knows of one target when it looks for due notifications.
struct AlertFacts {
  std::optional<HealthStatus> status;     // the cluster status (nullopt: not registered)
  std::uint64_t unhealthy_since_ms = 0;   // when the unhealthy episode began (if unhealthy)
  const Observation* newest = nullptr;    // the winning observation (reason, observer), if any
};

struct AlertCounters {
  std::uint64_t sent = 0;        // Notify effects handed to the driver
  std::uint64_t delivered = 0;   // reported delivered
  std::uint64_t failed = 0;      // reported failed (retried while due)
  std::uint64_t retries = 0;     // Notify effects that were retries
  std::uint64_t deferred = 0;    // due but waiting: max_in_flight reached
  std::uint64_t closed = 0;      // recoveries recorded without a send (send_resolved false)
  std::uint64_t unknown_reports = 0;  // NotifyDone for an id not in flight
};

// The receiver's deduplication key of a notification: the same for every
// sender that decides on the same replicated facts, so a takeover owner
// that sends what a crashed owner sent but had not recorded (the crash
// window, alert_route.h) sends it under the same key, and so does every
// retry. Derived from what the decision follows: the pair's last alert
// record (its kind, sent_at and writer), or when there is none the
// target's spec version (a target deleted and added again starts afresh);
// then the route, target, kind and repeat flag. Not the episode's start:
// a takeover owner's own first observation moves it. 16 hex digits.
std::string alert_dedup_key(std::string_view route, std::string_view target, AlertKind kind, bool repeat,
                            const AlertRecord* last, const SpecVersion* spec);

// A record for the node to write (record_alert): a delivery, or a close.
struct AlertToRecord {
  std::string target, route;
  AlertRecord record;  // sent_at and writer are set by the writer
};

class AlertDispatch {
 public:
  explicit AlertDispatch(AlertConfig config) : config_(std::move(config)) {}

  bool enabled() const { return !config_.routes.empty(); }
  // Replaces the routes (ClusterNode: the config's and those written
  // through the API). A notification in flight on a route that is gone is
  // not recorded when it is done, and that route's backoffs are forgotten.
  void set_routes(std::vector<AlertRoute> routes);
  const AlertConfig& config() const { return config_; }
  const AlertCounters& counters() const { return counters_; }
  std::size_t in_flight() const { return in_flight_.size(); }
  // Failed attempts of the (target, route) notification this node is still
  // retrying (0: none held back).
  int failures(std::string_view target, std::string_view route) const;

  // Looks at target `id` (this node is its first owner) for every route
  // covering it: appends a Notify for each notification due and not held
  // back, and a record to `records` for each close.
  void consider(Instant now, const std::string& id, const AlertFacts& facts, const HealthState& state,
                std::string_view sender, Effects& out, std::vector<AlertToRecord>& records);

  // The driver's report. Delivered: the record to write. Failed: nothing
  // (the backoff is noted and the next tick retries if still due).
  std::optional<AlertToRecord> done(Instant now, const NotifyDone& report);

 private:
  struct InFlight {
    std::string target, route, key;
    AlertKind kind = AlertKind::firing;
    std::uint64_t since_ms = 0;
  };
  struct Backoff {
    Instant not_before;
    int failures = 0;
  };

  AlertConfig config_;
  AlertCounters counters_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, InFlight> in_flight_;  // by notification id
  std::map<std::string, std::uint64_t> busy_;    // alert_key -> id in flight
  std::map<std::string, Backoff> backoff_;       // alert_key -> after a failure
};

}  // namespace heck
