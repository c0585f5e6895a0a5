// The durable part of an agent's replicated state (target registry,
// counters, sets and the record of applied idempotent writes) as bytes, for a local snapshot file the runtime writes
// atomically (runtime/state_file.h). Observations are not kept: they are
// re-made by the owners' next checks.
//
// With it, the agent's own record of the targets it wrote from its config
// file (ConfiguredSeeds): a restart with the same config does not write
// them again, so a configured target deleted or replaced through the API
// stays deleted or replaced (cluster_node.h, start()).
//
// Format: MessagePack [ "heck-snapshot", 2, <codec delta body>,
// {id: fingerprint of the configured spec written} ] (the same strict codec
// as replication deltas, codec.h). Version 1 (without the map) is still
// read. Decoding refuses anything else with a message naming what is
// wrong; it never throws.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/result.h"

namespace heck {

inline constexpr std::uint64_t kSnapshotVersion = 2;

// Target id -> spec_fingerprint() of the configured spec this agent wrote.
using ConfiguredSeeds = std::map<std::string, std::uint64_t>;

struct Snapshot {
  HealthDelta state;
  ConfiguredSeeds configured;
};

std::vector<std::uint8_t> encode_snapshot(const HealthDelta& durable, const ConfiguredSeeds& configured = {});
Result<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes, const CodecLimits& limits = {});

}  // namespace heck
