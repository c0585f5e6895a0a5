// The strict JSON field readers every config, scenario and API parser in
// heck uses, so errors read the same everywhere, naming the field:
//   "targets[2].interval_ms: must be positive, got 0".
//
// Readers return Result: the value, or an Error whose message names the
// field as "where.key" ("key" when `where` is empty). The get_* readers
// require the key; the opt_* readers give nullopt when it is absent. Bounds
// are inclusive.
//
// Parsers that stop at the first error and are written as one deep call
// tree (the simulator's scenario, target-model and latency parsers) may
// unwrap with take() and fail(): they throw FieldError, which the parser's
// public entry point catches and returns as an Error. FieldError never
// leaves that entry point.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace heck::json_fields {

using nlohmann::json;

// "a string", "an object", "null", … for messages.
std::string_view type_name(const json& v);
// "where.key", or "key" when `where` is empty.
std::string path(std::string_view where, std::string_view key);

// An integer in [lo, hi]; `field` names it in the error.
Result<std::int64_t> read_int(const json& v, std::string_view field, std::int64_t lo, std::int64_t hi);

struct Ok {};
// `v` is an object whose keys are all in `known`.
Result<Ok> expect_object(const json& v, std::string_view where, std::initializer_list<std::string_view> known);

Result<std::int64_t> get_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo,
                             std::int64_t hi);
Result<std::optional<std::int64_t>> opt_int(const json& obj, std::string_view where, std::string_view key,
                                            std::int64_t lo, std::int64_t hi);
// A non-negative integer (up to 2^64 - 1).
Result<std::uint64_t> get_u64(const json& obj, std::string_view where, std::string_view key);
// A finite number (integer or real) in [lo, hi].
Result<double> get_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi);
Result<std::optional<double>> opt_number(const json& obj, std::string_view where, std::string_view key, double lo,
                                         double hi);
Result<std::string> get_string(const json& obj, std::string_view where, std::string_view key, std::size_t max_size);
Result<std::optional<std::string>> opt_string(const json& obj, std::string_view where, std::string_view key,
                                              std::size_t max_size);
// A required array with at most `max_items` items (points into `obj`).
Result<const json*> get_array(const json& obj, std::string_view where, std::string_view key, std::size_t max_items);

// --- for parsers that stop at the first error (see the header comment) ---
struct FieldError {
  std::string message;
};
[[noreturn]] void fail(std::string message);
template <typename T>
T take(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}

}  // namespace heck::json_fields
