// A strict pull reader of MessagePack over a byte span: no allocation, no
// exception, no assert on any input. Every declared length (string, binary,
// array items, map pairs) is checked against the bytes that remain before it
// is believed, so a hostile header cannot make a caller reserve gigabytes;
// skipping a value is bounded by a nesting depth, so it cannot recurse into a
// stack overflow. Ext types and the reserved byte 0xc1 are refused (heck
// never writes them), and so is a map key that is not a string (as
// nlohmann::json refuses it).
//
// Errors are values: a call that fails returns false and leaves a message in
// error(), "malformed: ..." or "nested deeper than D"; after the first
// failure every call fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace heck::wire {

struct DecodeLimits {
  std::size_t max_bytes = 1 << 22;  // 4 MiB: the largest stream frame
  std::size_t max_depth = 16;       // our messages nest 5 deep at most
};

enum class MsgType : std::uint8_t { nil, boolean, uint, sint, float64, str, bin, array, map };

// One value as read. Integers: a non-negative value written by a signed
// encoding (int8..int64) keeps the type `sint`, as nlohmann::json keeps it.
struct MsgValue {
  MsgType type = MsgType::nil;
  bool boolean = false;
  std::uint64_t u = 0;     // uint
  std::int64_t i = 0;      // sint
  double f = 0;            // float64 (a float32 is widened)
  std::uint32_t size = 0;  // str and bin bytes, array items, map pairs
  std::span<const std::uint8_t> payload;  // str and bin: the bytes
  std::span<const std::uint8_t> encoded;  // the value as read (only the header for MsgpackReader::header)

  std::string_view text() const { return {reinterpret_cast<const char*>(payload.data()), payload.size()}; }
  bool is_number() const { return type == MsgType::uint || type == MsgType::sint || type == MsgType::float64; }
  bool is_integer() const { return type == MsgType::uint || type == MsgType::sint; }
  // An integer >= 0, from either encoding.
  bool is_non_negative_integer() const { return type == MsgType::uint || (type == MsgType::sint && i >= 0); }
  std::uint64_t as_u64() const { return type == MsgType::uint ? u : static_cast<std::uint64_t>(i); }
};

// "null", "a boolean", "a number", "a string", "an array", "an object" (a
// map, or binary): the words json_fields::type_name uses for a JSON value.
std::string_view type_name(const MsgValue& v);

class MsgpackReader {
 public:
  explicit MsgpackReader(std::span<const std::uint8_t> bytes, std::size_t max_depth = DecodeLimits{}.max_depth)
      : bytes_(bytes), max_depth_(max_depth) {}

  // Reads the next value's header. A scalar is read whole; for an array or
  // a map the reader then stands on its first item (the caller reads `size`
  // items, or `size` key and value pairs).
  // The one-byte headers (fixint, fixstr, fixarray, fixmap: the bulk of
  // every body) are read before the switch over the others.
  bool header(MsgValue& v);
  // Reads the next value whole: an array or a map is checked and stepped
  // over; `v.encoded` spans all of it (read it with a new reader).
  bool value(MsgValue& v) { return value_at(v, 0); }
  // value() for a value nested `depth` levels inside what this reader
  // started on (its items are at depth + 1, checked against max_depth): a
  // caller that walks the outer levels itself reads an inner value whole
  // under the same limit as one whole() over everything.
  bool value_at(MsgValue& v, std::size_t depth);
  bool skip() {
    MsgValue v;
    return value(v);
  }
  // Reads exactly one value that spans all the bytes (a body, a packet, a
  // file); else fails with "malformed: N bytes after the value".
  bool whole(MsgValue& v);
  // The next `n` bytes, not read as MessagePack (the body after a length
  // the caller read: the envelope's format 2); fails when fewer are left.
  bool raw(std::size_t n, std::span<const std::uint8_t>& out) {
    if (!ok() || !need(n)) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  std::size_t offset() const { return pos_; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool fail(std::string message);

 private:
  bool need(std::size_t n) { return n <= bytes_.size() - pos_ || truncated(n); }
  bool truncated(std::size_t n);  // fails: n bytes needed, fewer left
  // header() for a type byte `b` at `start` (pos_ is past it) that has no
  // fast path there.
  bool header_of(std::uint8_t b, std::size_t start, MsgValue& v);
  std::uint64_t take_be(std::size_t width);
  // Steps over the next value (a map key must be a string) / the items of
  // the container `v` whose header was just read, `depth` deep.
  bool skip_at_depth(std::size_t depth, bool key);
  bool skip_items(const MsgValue& v, std::size_t depth);

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::size_t max_depth_;
  std::string error_;
};

}  // namespace heck::wire
