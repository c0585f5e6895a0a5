// Strict MessagePack decoding for every wire message: bounded input size and
// nesting depth, errors as values, never an exception out of here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace heck::wire {

struct DecodeLimits {
  std::size_t max_bytes = 1 << 22;  // 4 MiB: the largest stream frame
  std::size_t max_depth = 16;       // our messages nest 5 deep at most
};

// Decodes exactly one MessagePack value that spans all of `bytes`.
// Errors: "empty", "too large: N bytes (limit L)", "nested deeper than D",
// "malformed: <parser message>".
Result<nlohmann::json> decode_msgpack(std::span<const std::uint8_t> bytes,
                                      const DecodeLimits& limits = {});

}  // namespace heck::wire
