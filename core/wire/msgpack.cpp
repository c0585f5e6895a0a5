#include "core/wire/msgpack.h"

#include <fmt/format.h>

namespace heck::wire {
namespace {

using json = nlohmann::json;

// Forwards to nlohmann's DOM builder and stops at a nesting limit, so a
// hostile frame cannot recurse the decoder into a stack overflow.
class DepthLimitedSax {
 public:
  DepthLimitedSax(json& root, std::size_t max_depth) : dom_(root, false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool end_object() { --depth_; return dom_.end_object(); }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_array() { --depth_; return dom_.end_array(); }
  bool parse_error(std::size_t pos, const std::string& token, const nlohmann::detail::exception& e) {
    error_ = fmt::format("malformed: {} (at byte {}{})", e.what(), pos, token.empty() ? "" : ", " + token);
    return false;
  }

  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

}  // namespace

Result<json> decode_msgpack(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.empty()) return Error{"empty"};
  if (bytes.size() > limits.max_bytes) {
    return Error{fmt::format("too large: {} bytes (limit {})", bytes.size(), limits.max_bytes)};
  }
  json root;
  DepthLimitedSax sax(root, limits.max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::msgpack, true);
  } catch (const std::exception& e) {
    return Error{fmt::format("malformed: {}", e.what())};
  }
  if (sax.too_deep()) return Error{fmt::format("nested deeper than {}", limits.max_depth)};
  if (!ok) return Error{sax.error().empty() ? std::string("malformed") : sax.error()};
  return root;
}

}  // namespace heck::wire
