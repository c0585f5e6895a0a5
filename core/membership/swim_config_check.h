// The one set of rules a SwimConfig must meet, whoever builds it: the daemon's
// config file and --swim overrides (runtime/agent_config.cpp) and the
// simulator's scenario files (sim/cluster_scenario.cpp) both call validate().
//
// Ranges (inclusive; times in ms as the JSON fields name them):
//   probe_interval_ms        10 .. 1 h
//   probe_timeout_ms         1 .. 1 h, and less than probe_interval_ms
//   suspicion_mult, max_suspicion_timeout_mult, retransmit_mult,
//   max_awareness_multiplier 1 .. 100
//   indirect_checks          0 .. 32
//   gossip_interval_ms       1 .. 1 h
//   gossip_nodes             0 .. 64
//   gossip_to_the_dead_ms    0 .. 24 h
//   push_pull_interval_ms, reconnect_interval_ms  100 .. 24 h
//   max_packet_bytes        512 .. 65507 (one UDP datagram)
//   dead_reap_after_ms       1 s .. 30 days
//   min_join_backoff_ms      1 .. 1 h; max_join_backoff_ms min .. 1 h
//   nack_timeout_fraction    0.05 .. 1
// Errors name the field with `prefix` ("swim." or "--swim "), as the JSON
// readers do: "swim.probe_interval_ms: must be at least 10, got 5".
#pragma once

#include <string_view>

#include "core/membership/swim.h"
#include "core/result.h"

namespace heck {

struct SwimConfigOk {};

Result<SwimConfigOk> validate(const SwimConfig& config, std::string_view prefix = "swim.");

}  // namespace heck
