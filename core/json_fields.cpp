#include "core/json_fields.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace heck::json_fields {

std::string_view type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::string path(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return fmt::format("{}.{}", where, key);
}

Result<std::int64_t> read_int(const json& v, std::string_view field, std::int64_t lo, std::int64_t hi) {
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

Error unknown_key(std::string_view field, std::string_view key, std::span<const std::string_view> known) {
  for (const RenamedKey& r : kRenamedKeys) {
    if (r.old_name == key && std::find(known.begin(), known.end(), r.new_name) != known.end()) {
      return Error{fmt::format("{}: renamed to {}", field, r.new_name)};
    }
  }
  return Error{fmt::format("{}: unknown key (known: {})", field, fmt::join(known, ", "))};
}

Result<Ok> expect_object(const json& v, std::string_view where, std::initializer_list<std::string_view> known) {
  if (!v.is_object()) return Error{fmt::format("{}: must be an object, got {}", where, type_name(v))};
  const std::span<const std::string_view> keys(known.begin(), known.size());
  for (const auto& [key, _] : v.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return unknown_key(path(where, key), key, keys);
  }
  return Ok{};
}

namespace {

const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

Error missing(std::string_view where, std::string_view key) { return Error{fmt::format("{}: missing", path(where, key))}; }

Result<double> as_number(const json& v, const std::string& field, double lo, double hi) {
  if (!v.is_number()) return Error{fmt::format("{}: must be a number, got {}", field, type_name(v))};
  const auto x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) return Error{fmt::format("{}: must be in [{}, {}], got {}", field, lo, hi, x)};
  return x;
}

Result<std::string> as_string(const json& v, const std::string& field, std::size_t max_size) {
  if (!v.is_string()) return Error{fmt::format("{}: must be a string, got {}", field, type_name(v))};
  auto s = v.get<std::string>();
  if (s.size() > max_size) return Error{fmt::format("{}: longer than {} characters", field, max_size)};
  return s;
}

// An optional field: nullopt when absent, else `read`'s result.
template <typename T, typename Read>
Result<std::optional<T>> optional_field(const json& obj, std::string_view key, Read read) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::optional<T>();
  auto r = read(*v);
  if (!r) return Error{r.error()};
  return std::optional<T>(std::move(*r));
}

}  // namespace

Result<std::int64_t> get_int(const json& obj, std::string_view where, std::string_view key, std::int64_t lo,
                             std::int64_t hi) {
  const json* v = member(obj, key);
  if (v == nullptr) return missing(where, key);
  return read_int(*v, path(where, key), lo, hi);
}

Result<std::optional<std::int64_t>> opt_int(const json& obj, std::string_view where, std::string_view key,
                                            std::int64_t lo, std::int64_t hi) {
  return optional_field<std::int64_t>(obj, key, [&](const json& v) { return read_int(v, path(where, key), lo, hi); });
}

Result<std::uint64_t> get_u64(const json& obj, std::string_view where, std::string_view key) {
  const json* v = member(obj, key);
  if (v == nullptr) return missing(where, key);
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  if (v->is_number_integer()) {
    return Error{fmt::format("{}: must be a non-negative integer, got {}", path(where, key), v->get<std::int64_t>())};
  }
  return Error{fmt::format("{}: must be a non-negative integer, got {}", path(where, key), type_name(*v))};
}

Result<double> get_number(const json& obj, std::string_view where, std::string_view key, double lo, double hi) {
  const json* v = member(obj, key);
  if (v == nullptr) return missing(where, key);
  return as_number(*v, path(where, key), lo, hi);
}

Result<std::optional<double>> opt_number(const json& obj, std::string_view where, std::string_view key, double lo,
                                         double hi) {
  return optional_field<double>(obj, key, [&](const json& v) { return as_number(v, path(where, key), lo, hi); });
}

Result<std::string> get_string(const json& obj, std::string_view where, std::string_view key, std::size_t max_size) {
  const json* v = member(obj, key);
  if (v == nullptr) return missing(where, key);
  return as_string(*v, path(where, key), max_size);
}

Result<std::optional<std::string>> opt_string(const json& obj, std::string_view where, std::string_view key,
                                              std::size_t max_size) {
  return optional_field<std::string>(obj, key,
                                     [&](const json& v) { return as_string(v, path(where, key), max_size); });
}

Result<const json*> get_array(const json& obj, std::string_view where, std::string_view key, std::size_t max_items) {
  const json* v = member(obj, key);
  if (v == nullptr) return missing(where, key);
  if (!v->is_array()) return Error{fmt::format("{}: must be an array, got {}", path(where, key), type_name(*v))};
  if (v->size() > max_items) return Error{fmt::format("{}: more than {} items", path(where, key), max_items)};
  return v;
}

void fail(std::string message) { throw FieldError{std::move(message)}; }

}  // namespace heck::json_fields
