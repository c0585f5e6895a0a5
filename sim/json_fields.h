// Strict JSON field readers for the simulator's parsers (internal).
//
// Each reader names the field it was reading in its error ("where.key: must be
// an integer, got a string"), in the style of core/target_spec.cpp. They
// throw FieldError, which the public parsers (scenario, latency, target
// model) catch and return as heck::Error; it never leaves sim/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace heck::sim::json_fields {

using nlohmann::json;

struct FieldError {
  std::string message;
};

[[noreturn]] void fail(std::string message);

// "a string", "an object", … for messages.
std::string_view type_name(const json& v);
// "where.key", or "key" when `where` is empty.
std::string path(std::string_view where, std::string_view key);

// REQUIRES the value to be an object whose keys are all in `known`.
void expect_object(const json& v, std::string_view where, std::initializer_list<std::string_view> known);

// Readers of obj[key]. The get_* variants require the key; the opt_* variants
// return nullopt when it is absent. Bounds are inclusive.
std::int64_t get_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo, std::int64_t hi);
std::optional<std::int64_t> opt_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo,
                                    std::int64_t hi);
std::uint64_t get_u64(const json& obj, std::string_view where, std::string_view key);
// A number (integer or real) in [lo, hi].
double get_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi);
std::optional<double> opt_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi);
std::string get_string(const json& obj, std::string_view where, std::string_view key, std::size_t max_size);
std::optional<std::string> opt_string(const json& obj, std::string_view where, std::string_view key,
                                      std::size_t max_size);
// A required array with at most `max_items` items.
const json& get_array(const json& obj, std::string_view where, std::string_view key, std::size_t max_items);

}  // namespace heck::sim::json_fields
