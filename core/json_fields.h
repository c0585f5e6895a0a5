// The strict JSON field readers every config, scenario and API parser in
// heck uses, so errors read the same everywhere, naming the field:
//   "targets[2].interval_ms: must be positive, got 0".
//
// Readers return Result: the value, or an Error whose message names the
// field as "where.key" ("key" when `where` is empty). The get_* readers
// require the key; the opt_* readers give nullopt when it is absent. Bounds
// are inclusive.
//
// A key renamed in the schema is refused under its old name with what it
// became ("expectations[0].dead_ms_max: renamed to max_dead_ms"), never
// read silently and never a bare "unknown key": kRenamedKeys below is the
// one list, and every object reader (expect_object, unknown_key) consults it.
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
#include <span>
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

// Keys renamed in the agent's config and the simulator's scenarios, old ->
// new. Limits are named max_<what>[_<unit>] (min_… for a lower bound): units
// last, one form everywhere (issue 10). The old name is refused only where
// the new one is known, so it can never shadow an unrelated key elsewhere.
struct RenamedKey {
  std::string_view old_name;
  std::string_view new_name;
};
inline constexpr RenamedKey kRenamedKeys[] = {
    // sim scenario: expectations
    {"first_ms_max", "max_first_ms"},
    {"dead_ms_max", "max_dead_ms"},
    {"suspected_max", "max_suspected"},
    {"dead_max", "max_dead"},
    {"messages_per_member_per_s_max", "max_messages_per_member_per_s"},
    {"bytes_per_member_per_s_max", "max_bytes_per_member_per_s"},
    {"p99_ms_max", "max_p99_ms"},
    {"incomplete_max", "max_incomplete"},
    // sim scenario: invariants
    {"freshness_ms_max", "max_freshness_ms"},
    // swim (the daemon's config and the sim scenario)
    {"suspicion_max_timeout_mult", "max_suspicion_timeout_mult"},
    {"packet_bytes_max", "max_packet_bytes"},
    {"awareness_max_multiplier", "max_awareness_multiplier"},
    {"join_backoff_min_ms", "min_join_backoff_ms"},
    {"join_backoff_max_ms", "max_join_backoff_ms"},
    // sim scenario: replication
    {"hlc_max_forward_ms", "max_hlc_forward_ms"},
};

// The error for the key `key` of an object that is not in `known`; `field`
// names it ("where.key"). "FIELD: renamed to NEW" when `key` is the old name
// of a key in `known`, else "FIELD: unknown key (known: a, b, …)".
Error unknown_key(std::string_view field, std::string_view key, std::span<const std::string_view> known);

struct Ok {};
// `v` is an object whose keys are all in `known` (else unknown_key's error).
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
