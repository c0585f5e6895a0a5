// Shared readers for strict JSON parsing: every config, scenario and API
// parser in heck reports errors the same way, naming the field:
//   "targets[2].interval_ms: must be positive, got 0".
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace heck::json_fields {

// "a string", "an object", "null", … for messages.
std::string_view type_name(const nlohmann::json& v);

// An integer in [lo, hi] (inclusive); `field` names it in the error.
Result<std::int64_t> read_int(const nlohmann::json& v, std::string_view field, std::int64_t lo, std::int64_t hi);

}  // namespace heck::json_fields
