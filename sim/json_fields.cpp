#include "sim/json_fields.h"

#include "core/json_fields.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace heck::sim::json_fields {

void fail(std::string message) { throw FieldError{std::move(message)}; }

std::string_view type_name(const json& v) { return heck::json_fields::type_name(v); }

std::string path(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return fmt::format("{}.{}", where, key);
}

void expect_object(const json& v, std::string_view where, std::initializer_list<std::string_view> known) {
  if (!v.is_object()) fail(fmt::format("{}: must be an object, got {}", where, type_name(v)));
  for (const auto& [key, _] : v.items()) {
    bool found = false;
    for (auto k : known) found = found || k == key;
    if (!found) {
      fail(fmt::format("{}: unknown key (known: {})", path(where, key), fmt::join(known, ", ")));
    }
  }
}

namespace {

const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json& required(const json& obj, std::string_view where, std::string_view key) {
  const json* v = member(obj, key);
  if (v == nullptr) fail(fmt::format("{}: missing", path(where, key)));
  return *v;
}

std::int64_t as_int(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
  auto n = heck::json_fields::read_int(v, field, lo, hi);
  if (!n) fail(n.error());
  return *n;
}

double as_number(const json& v, const std::string& field, double lo, double hi) {
  if (!v.is_number()) fail(fmt::format("{}: must be a number, got {}", field, type_name(v)));
  const auto x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) fail(fmt::format("{}: must be in [{}, {}], got {}", field, lo, hi, x));
  return x;
}

std::string as_string(const json& v, const std::string& field, std::size_t max_size) {
  if (!v.is_string()) fail(fmt::format("{}: must be a string, got {}", field, type_name(v)));
  auto s = v.get<std::string>();
  if (s.size() > max_size) fail(fmt::format("{}: longer than {} characters", field, max_size));
  return s;
}

}  // namespace

std::int64_t get_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo, std::int64_t hi) {
  return as_int(required(obj, where, key), path(where, key), lo, hi);
}

std::optional<std::int64_t> opt_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo,
                                    std::int64_t hi) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::nullopt;
  return as_int(*v, path(where, key), lo, hi);
}

std::uint64_t get_u64(const json& obj, std::string_view where, std::string_view key) {
  const json& v = required(obj, where, key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    fail(fmt::format("{}: must be a non-negative integer, got {}", path(where, key), v.get<std::int64_t>()));
  }
  fail(fmt::format("{}: must be a non-negative integer, got {}", path(where, key), type_name(v)));
}

double get_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi) {
  return as_number(required(obj, where, key), path(where, key), lo, hi);
}

std::optional<double> opt_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::nullopt;
  return as_number(*v, path(where, key), lo, hi);
}

std::string get_string(const json& obj, std::string_view where, std::string_view key, std::size_t max_size) {
  return as_string(required(obj, where, key), path(where, key), max_size);
}

std::optional<std::string> opt_string(const json& obj, std::string_view where, std::string_view key,
                                      std::size_t max_size) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::nullopt;
  return as_string(*v, path(where, key), max_size);
}

const json& get_array(const json& obj, std::string_view where, std::string_view key, std::size_t max_items) {
  const json& v = required(obj, where, key);
  if (!v.is_array()) fail(fmt::format("{}: must be an array, got {}", path(where, key), type_name(v)));
  if (v.size() > max_items) fail(fmt::format("{}: more than {} items", path(where, key), max_items));
  return v;
}

}  // namespace heck::sim::json_fields
