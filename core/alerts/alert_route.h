// Alerts: where a target's status transitions are sent (routes), what one
// notification says, and the rule that decides when one is due. Pure.
//
// Exactly one notification per transition across the cluster (the design;
// ClusterNode carries it out, core/cluster/cluster_node.h):
// - Level-triggered against a replicated log. For each (target, route) the
//   replicated state holds the last notification delivered (AlertRecord,
//   core/replicated/health_state.h): firing or resolved, and when. What is
//   due is the difference between the target's cluster status (the status
//   every agent reports, quorum included) and that record: unhealthy for at
//   least `for` with no firing record -> fire; healthy with a firing record
//   -> resolve; firing for `repeat` since the last send -> repeat.
// - One sender: the target's first owner in its own view of the members.
//   Nobody else sends, so while the members agree there is one sender.
// - Recorded after delivery. The sender writes the record when the receiver
//   accepted the notification (2xx), and the record replicates like any
//   other write. A takeover owner (the first owner died) sends what the
//   record does not hold yet. So: at least once under a crash (a sender that
//   died after delivery and before its record left it is repeated by its
//   successor), never twice otherwise. A partition that splits the owners
//   gives each side a sender: both may send (the price of alerting from
//   both sides); the records then merge and the next transition is sent
//   once again.
// - Retries: a failed delivery is retried with backoff (AlertRules) while it
//   is still due; a notification no longer due (the target recovered before
//   a firing got through) is not sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/check.h"
#include "core/health.h"
#include "core/result.h"
#include "core/time.h"

namespace heck {

enum class AlertFormat : std::uint8_t { json, slack };
std::string_view to_string(AlertFormat f);

struct AlertRoute {
  static constexpr std::size_t kMaxNameLength = 64;
  static constexpr std::size_t kMaxUrlLength = 2048;
  static constexpr std::size_t kMaxTargets = 10'000;
  static constexpr std::int64_t kMaxDurationMs = 7LL * 24 * 3600 * 1000;  // a week

  std::string name;                  // 1-64 of [A-Za-z0-9._:-]
  std::string url;                   // http:// or https:// (parsed like a target URL)
  AlertFormat format = AlertFormat::json;
  std::vector<std::string> targets;  // target ids this route covers, sorted; empty = every target
  Duration for_duration;             // unhealthy at least this long before firing (0 = at once)
  Duration repeat;                   // re-send a firing alert this often (0 = never)
  bool send_resolved = true;         // send a resolved notification when it recovers

  bool covers(std::string_view target_id) const;
  bool operator==(const AlertRoute&) const = default;

  // Parses {"name", "url", "format"?: "json"|"slack", "targets"?: [ids],
  // "for_ms"?, "repeat_ms"?, "send_resolved"?}; errors name the field
  // ("alerts[1].url: ...").
  static Result<AlertRoute> from_json(const nlohmann::json& j, std::string_view where = "route");
  nlohmann::json to_json() const;
};

// 1-64 of [A-Za-z0-9._:-] (a route name is part of replicated keys).
bool valid_route_name(std::string_view name);

// A list of routes with unique names; "alerts[2].name: 'ops' is used twice".
Result<std::vector<AlertRoute>> parse_alert_routes(const nlohmann::json& j, std::string_view where = "alerts");

enum class AlertKind : std::uint8_t { firing, resolved };
std::string_view to_string(AlertKind k);

// One notification to deliver: the Notify effect (core/effects.h). Every
// field a receiver shows is here, so a driver formats it without reading
// any state.
struct AlertNotification {
  std::uint64_t id = 0;          // unique per node run; NotifyDone names it
  std::string route;             // the route's name
  std::string url;               // the route's url
  AlertFormat format = AlertFormat::json;
  std::string target;            // target id
  AlertKind kind = AlertKind::firing;
  bool repeat = false;           // a repeat of a firing already sent
  HealthStatus status = HealthStatus::unknown;  // the cluster status now
  std::string reason;            // the newest observation's reason, e.g. "timeout"
  int status_code = 0;           // ... and HTTP status (0 when none)
  std::string observer;          // ... and who observed it
  std::uint64_t since_ms = 0;    // wall ms the status began (the episode's start)
  std::uint64_t at_ms = 0;       // wall ms of this decision (the sender's clock)
  std::string sender;            // the member that sends it
  int attempt = 1;               // 1 = first try
  std::string dedup_key;         // the same from any sender and on every retry (alert_dedup_key)
};

// What the rule says is due for one (target, route). `close`: the target
// recovered and the route sends no resolved notifications; the record is
// set to resolved without a send, so the next episode fires again.
enum class AlertAction : std::uint8_t { none, fire, repeat, resolve, close };
std::string_view to_string(AlertAction a);

// The last notification delivered for a (target, route), as the rule reads
// it (AlertRecord in the replicated state).
struct AlertLast {
  AlertKind kind = AlertKind::firing;
  std::uint64_t sent_at_ms = 0;
};

// The rule (see the header comment). `status` is the cluster status
// (nullopt: the target is not registered); `unhealthy_since_ms` is when its
// current unhealthy episode began (needed only when unhealthy); `last` the
// record, if any. `*wake_ms` (if given) is set to when the answer may change
// with time alone (a pending `for` or repeat), else left alone.
AlertAction alert_due(const AlertRoute& route, std::optional<HealthStatus> status, std::uint64_t unhealthy_since_ms,
                      const std::optional<AlertLast>& last, std::uint64_t now_ms, std::uint64_t* wake_ms = nullptr);

// Settings of the sender side (ClusterNodeConfig::alerts).
struct AlertConfig {
  std::vector<AlertRoute> routes;
  Duration tick = Duration::seconds(1);        // how often due notifications are looked for
  std::size_t max_in_flight = 64;              // notifications handed to the driver and not yet done
  Duration min_retry = Duration::seconds(1);   // first retry after a failure; doubles per failure
  Duration max_retry = Duration::seconds(60);  // ... up to this
};

}  // namespace heck
