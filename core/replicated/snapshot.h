// The durable part of an agent's replicated state (target registry,
// counters, sets and the record of applied idempotent writes) as bytes, for a local snapshot file the runtime writes
// atomically (runtime/state_file.h). Observations are not kept: they are
// re-made by the owners' next checks.
//
// Format: MessagePack [ "heck-snapshot", 1, <codec delta body> ] (the same
// strict codec as replication deltas, codec.h). Decoding refuses anything
// else with a message naming what is wrong; it never throws.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/result.h"

namespace heck {

inline constexpr std::uint64_t kSnapshotVersion = 1;

std::vector<std::uint8_t> encode_snapshot(const HealthDelta& durable);
Result<HealthDelta> decode_snapshot(std::span<const std::uint8_t> bytes, const CodecLimits& limits = {});

}  // namespace heck
