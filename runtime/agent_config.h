// The agent's configuration file (JSON), parsed strictly:
//
//   {"targets": [ ...TargetSpec objects, see core/target_spec.h... ],
//    "name": "agent-1",                  // optional; default: the host name
//    "api": "127.0.0.1:7700",            // optional; --api overrides
//    "max_concurrent_checks": 512,       // optional
//    "max_body_bytes": 1048576,          // optional; per check response
//    "dns_ttl_ms": 30000,                // optional; 0 = no caching
//    "min_api_interval_ms": 1000,        // optional; the shortest interval_ms
//                                        //   of a target written through the
//                                        //   API (--min-api-interval-ms)
//    "idempotency_retention_ms": 86400000, // optional; how long the record of
//                                        //   an Idempotency-Key is kept (1 s-30 d)
//    "max_idempotency_records": 100000,  // optional; the oldest go beyond this
//    "removal_retention_ms": 86400000,   // optional; how long a deleted target's
//                                        //   removal is kept (1 s-30 d): a put
//                                        //   concurrent with the delete that
//                                        //   arrives later than this comes back
//    "latency_handoff_ms": 30000,        // optional; how often owners hand new
//                                        //   latency samples to each target's
//                                        //   standby (core/cluster/latency_history.h);
//                                        //   0 = never (--latency-handoff-ms)
//    "wire_format": 2,                   // optional; the packet format written:
//                                        //   1 while agents of builds before
//                                        //   format 2 still run (README:
//                                        //   upgrading); both are read
//    // Clustering (all optional; the command line overrides each):
//    "bind": "127.0.0.1:7946",           // UDP + TCP for the cluster (--bind)
//    "advertise": "10.0.0.5:7946",       // what peers use to reach this agent
//                                        //   (--advertise; default: the bound
//                                        //   address, required when binding
//                                        //   0.0.0.0 or ::)
//    "join": ["10.0.0.4:7946"],          // seeds (--join); none = first member
//    "keys": ["<base64 of 32 bytes>"],   // AES-256-GCM keyring, first = primary
//                                        //   (--key; `heck keygen`); none = plaintext
//    "leave_timeout_ms": 1000,           // how long a stopping agent lets its
//                                        //   leave message spread
//    "data_dir": "/var/lib/heck",        // durable state (--data-dir): the
//                                        //   registry and counters snapshot
//                                        //   (runtime/state_file.h); none =
//                                        //   kept in memory only
//    "api_token": "s3cret",              // bearer token for API writes
//                                        //   (--api-token, HECK_API_TOKEN);
//                                        //   printable ASCII, no spaces
//    "store": "gossip",                  // or "etcd" (--store): targets,
//                                        //   observations and counters in etcd
//    "etcd": ["http://127.0.0.1:2379"],  // etcd members (--etcd, comma-separated),
//                                        //   required with "store": "etcd"
//    "alerts": [{"name": "ops", "url": "https://hooks.example/ops",
//                "format": "json",       // or "slack" (an incoming webhook)
//                "targets": ["web"],     // optional; default every target
//                "for_ms": 30000, "repeat_ms": 3600000, "send_resolved": true}],
//                                        // alert routes (core/alerts/alert_route.h);
//                                        //   give every agent the same routes
//    "swim": {"probe_interval_ms": 1000, "probe_timeout_ms": 500,
//             "suspicion_mult": 4, "max_suspicion_timeout_mult": 6,
//             "indirect_checks": 3, "retransmit_mult": 4,
//             "gossip_interval_ms": 200, "gossip_nodes": 3,
//             "push_pull_interval_ms": 30000, "reconnect_interval_ms": 10000,
//             "dead_reap_after_ms": 3600000,
//             "lifeguard": true}}         // SWIM timing (defaults: memberlist LAN)
//
// Only "targets" is required (it may be empty). An unknown key, a wrong type,
// an out-of-range value, a bad target (see TargetSpec::from_json), a duplicate
// key in any object or a duplicate target id is refused with a message that
// names the field, e.g.
//   "config.json: targets[2].interval_ms: must be positive, got 0"
// A file that is missing, too large or not JSON is refused with the reason
// (and, for JSON syntax errors, the line and column).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/alerts/alert_route.h"
#include "core/membership/swim.h"
#include "core/result.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "core/wire/envelope.h"

namespace heck::runtime {

// A listen address: an IPv4 or IPv6 literal (or "localhost") and a port.
// Port 0 asks the kernel for a free port.
struct HostPort {
  std::string host;  // an IP literal, IPv6 without brackets
  std::uint16_t port = 0;

  // Parses "127.0.0.1:7700", "[::1]:7700" or "localhost:7700" (= 127.0.0.1).
  static Result<HostPort> parse(std::string_view text);
  std::string to_string() const;  // brackets around IPv6
  bool operator==(const HostPort&) const = default;
};

struct AgentConfig {
  static constexpr std::size_t kMaxTargets = 10'000;
  static constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;
  static constexpr std::size_t kMaxSeeds = 64;
  static constexpr std::string_view kDefaultApi = "127.0.0.1:7700";
  static constexpr std::string_view kDefaultBind = "127.0.0.1:7946";
  static constexpr Duration kDefaultMinApiInterval = Duration::seconds(1);

  std::vector<TargetSpec> targets;
  std::optional<std::string> name;
  std::optional<HostPort> api;
  std::size_t max_concurrent_checks = 512;
  std::size_t max_body_bytes = 1024 * 1024;
  Duration dns_ttl = Duration::seconds(30);
  Duration min_api_interval = kDefaultMinApiInterval;
  Duration idempotency_retention = Duration::seconds(24 * 3600);  // ReplicatorConfig::request_retention
  Duration removal_retention = Duration::seconds(24 * 3600);  // ReplicatorConfig::removal_retention
  std::size_t max_idempotency_records = 100'000;                   // ReplicatorConfig::max_request_records
  Duration latency_handoff = Duration::seconds(30);                 // ClusterNodeConfig::latency_handoff_interval
  // The packet format written (ClusterNodeConfig::wire_format): 1 during
  // the first rollout of an upgrade from a build older than format 2.
  std::uint64_t wire_format = wire::kFormatVersion;
  std::optional<HostPort> bind;
  std::optional<std::string> advertise;  // "host:port" (a name is allowed)
  std::vector<std::string> join;         // "host:port" each
  std::vector<std::string> keys;         // base64, validated
  Duration leave_timeout = Duration::seconds(1);
  std::optional<std::string> data_dir;
  std::optional<std::string> api_token;  // validated by check_token_text
  SwimConfig swim;                       // memberlist LAN defaults + overrides
  // Where targets, observations and counters live: "gossip" (the
  // replicated state, the default) or "etcd" (runtime/store/etcd_driver.h).
  std::string store = "gossip";
  std::vector<std::string> etcd;          // "http://host:port" each (store "etcd")
  std::vector<AlertRoute> alerts;         // alert routes (ClusterNodeConfig::alerts)

  // Parses a config document. Messages name the field ("targets[0].url: ...").
  static Result<AgentConfig> from_json(const nlohmann::json& j);
  // Parses config text; syntax errors give "line L, column C: ...".
  static Result<AgentConfig> parse(std::string_view text);
  // Reads and parses a file; every message starts with "<path>: ".
  static Result<AgentConfig> load(const std::string& path);
};

// Applies SWIM overrides (the "swim" object's keys, listed above) to `base`.
// Shared by the config file and the command-line flags; messages name the
// key with `prefix` ("swim.probe_timeout_ms: ...").
Result<SwimConfig> parse_swim_overrides(const nlohmann::json& j, SwimConfig base, std::string_view prefix = "swim.");

// A cluster address a peer can be reached at: "host:port" with an IP literal
// or a host name, port 1-65535 (see runtime/cluster/transport.h).
Result<std::string> check_cluster_address(std::string_view text);

// A data directory path as given (1-4096 bytes, no NUL); whether it exists
// and is writable is checked when the agent starts (runtime/state_file.h).
Result<std::string> check_data_dir(std::string_view path);
// "gossip" or "etcd" with its endpoints (at least one, http://HOST:PORT):
// the message names what is wrong.
Result<bool> check_store(std::string_view store, const std::vector<std::string>& etcd);

// An API bearer token: 1-4096 printable ASCII characters, no spaces. The
// message never repeats the token.
Result<std::string> check_token_text(std::string_view token);

// A member name: 1-128 characters of A-Z a-z 0-9 . _ : -
bool valid_member_name(std::string_view name);

// The host name, or "heck" when it cannot be read; made a valid target-id-like
// name (characters outside [A-Za-z0-9._:-] become '-').
std::string default_agent_name();

}  // namespace heck::runtime
