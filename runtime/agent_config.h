// The agent's configuration file (JSON), parsed strictly:
//
//   {"targets": [ ...TargetSpec objects, see core/target_spec.h... ],
//    "name": "agent-1",                  // optional; default: the host name
//    "api": "127.0.0.1:7700",            // optional; --api overrides
//    "max_concurrent_checks": 512,       // optional
//    "max_body_bytes": 1048576,          // optional; per check response
//    "dns_ttl_ms": 30000}                // optional; 0 = no caching
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

#include "core/result.h"
#include "core/target_spec.h"
#include "core/time.h"

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
  static constexpr std::string_view kDefaultApi = "127.0.0.1:7700";

  std::vector<TargetSpec> targets;
  std::optional<std::string> name;
  std::optional<HostPort> api;
  std::size_t max_concurrent_checks = 512;
  std::size_t max_body_bytes = 1024 * 1024;
  Duration dns_ttl = Duration::seconds(30);

  // Parses a config document. Messages name the field ("targets[0].url: ...").
  static Result<AgentConfig> from_json(const nlohmann::json& j);
  // Parses config text; syntax errors give "line L, column C: ...".
  static Result<AgentConfig> parse(std::string_view text);
  // Reads and parses a file; every message starts with "<path>: ".
  static Result<AgentConfig> load(const std::string& path);
};

// The host name, or "heck" when it cannot be read; made a valid target-id-like
// name (characters outside [A-Za-z0-9._:-] become '-').
std::string default_agent_name();

}  // namespace heck::runtime
