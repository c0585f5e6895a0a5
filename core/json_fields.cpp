#include "core/json_fields.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace heck::json_fields {

std::string_view type_name(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

Result<std::int64_t> read_int(const nlohmann::json& v, std::string_view field, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) {
    return Error{fmt::format("{}: must be an integer, got {}", field, type_name(v))};
  }
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
    return Error{fmt::format("{}: must be at most {}, got {}", field, hi, v.get<std::uint64_t>())};
  }
  const auto n = v.get<std::int64_t>();
  if (n < lo) {
    return Error{lo == 1 ? fmt::format("{}: must be positive, got {}", field, n)
                         : fmt::format("{}: must be at least {}, got {}", field, lo, n)};
  }
  if (n > hi) return Error{fmt::format("{}: must be at most {}, got {}", field, hi, n)};
  return n;
}

}  // namespace heck::json_fields
