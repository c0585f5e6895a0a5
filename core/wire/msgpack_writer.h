// A MessagePack writer that appends to a byte vector. Every value takes its
// smallest encoding, exactly as nlohmann::json::to_msgpack chooses it, so
// bytes written here equal the bytes of the same value built as a JSON tree:
//
//   unsigned   positive fixint (< 128), uint8, uint16, uint32, uint64
//   signed     a value >= 0 as unsigned; negative fixint (>= -32), int8,
//              int16, int32, int64
//   string     fixstr (< 32 bytes), str8, str16, str32
//   binary     bin8, bin16, bin32
//   array/map  fixarray/fixmap (< 16), array16/map16, array32/map32 (the
//              caller then writes the items, or key and value pairs)
//   real       float32 when the value survives the round trip, else float64
//   also       nil, true/false
//
// Contract: the caller writes exactly the announced number of items after
// an array or map header; lengths above 2^32-1 are programmer errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/net.h"

namespace heck::wire {

class MsgpackWriter {
 public:
  explicit MsgpackWriter(Bytes& out) : out_(out) {}

  void nil() { out_.push_back(0xc0); }
  void boolean(bool v) { out_.push_back(v ? 0xc3 : 0xc2); }
  void uint(std::uint64_t v);
  void sint(std::int64_t v);
  void real(double v);
  void str(std::string_view s);
  void bin(std::span<const std::uint8_t> b);
  void array(std::size_t n);
  void map(std::size_t n);
  // Bytes that already hold whole MessagePack values, copied as they are.
  void raw(std::span<const std::uint8_t> encoded) { out_.insert(out_.end(), encoded.begin(), encoded.end()); }

  Bytes& bytes() { return out_; }

 private:
  // A marker byte followed by `width` big-endian bytes of v.
  void be(std::uint8_t marker, std::uint64_t v, int width);
  // The header of a str/bin/array/map of n items: fix form when n < fix_limit.
  void header(std::size_t n, std::uint8_t fix_base, std::size_t fix_limit, std::uint8_t m8, std::uint8_t m16,
              std::uint8_t m32);

  Bytes& out_;
};

}  // namespace heck::wire
