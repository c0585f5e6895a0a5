#include "core/wire/msgpack_writer.h"

#include <bit>
#include <cassert>
#include <limits>

namespace heck::wire {

void MsgpackWriter::be(std::uint8_t marker, std::uint64_t v, int width) {
  out_.push_back(marker);
  for (int i = width - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void MsgpackWriter::uint(std::uint64_t v) {
  if (v < 128) {
    out_.push_back(static_cast<std::uint8_t>(v));
  } else if (v <= 0xff) {
    be(0xcc, v, 1);
  } else if (v <= 0xffff) {
    be(0xcd, v, 2);
  } else if (v <= 0xffffffff) {
    be(0xce, v, 4);
  } else {
    be(0xcf, v, 8);
  }
}

void MsgpackWriter::sint(std::int64_t v) {
  if (v >= 0) {
    uint(static_cast<std::uint64_t>(v));
  } else if (v >= -32) {
    out_.push_back(static_cast<std::uint8_t>(v));
  } else if (v >= INT8_MIN) {
    be(0xd0, static_cast<std::uint64_t>(v), 1);
  } else if (v >= INT16_MIN) {
    be(0xd1, static_cast<std::uint64_t>(v), 2);
  } else if (v >= INT32_MIN) {
    be(0xd2, static_cast<std::uint64_t>(v), 4);
  } else {
    be(0xd3, static_cast<std::uint64_t>(v), 8);
  }
}

void MsgpackWriter::real(double v) {
  // Narrowed only once in range (casting an out-of-range double is undefined).
  if (v >= static_cast<double>(std::numeric_limits<float>::lowest()) &&
      v <= static_cast<double>(std::numeric_limits<float>::max()) &&
      static_cast<double>(static_cast<float>(v)) == v) {
    be(0xca, std::bit_cast<std::uint32_t>(static_cast<float>(v)), 4);
  } else {
    be(0xcb, std::bit_cast<std::uint64_t>(v), 8);
  }
}

void MsgpackWriter::header(std::size_t n, std::uint8_t fix_base, std::size_t fix_limit, std::uint8_t m8,
                           std::uint8_t m16, std::uint8_t m32) {
  assert(n <= 0xffffffff);
  if (n < fix_limit) {
    out_.push_back(static_cast<std::uint8_t>(fix_base | n));
  } else if (m8 != 0 && n <= 0xff) {
    be(m8, n, 1);
  } else if (n <= 0xffff) {
    be(m16, n, 2);
  } else {
    be(m32, n, 4);
  }
}

void MsgpackWriter::str(std::string_view s) {
  header(s.size(), 0xa0, 32, 0xd9, 0xda, 0xdb);
  out_.insert(out_.end(), s.begin(), s.end());
}

void MsgpackWriter::bin(std::span<const std::uint8_t> b) {
  header(b.size(), 0, 0, 0xc4, 0xc5, 0xc6);
  out_.insert(out_.end(), b.begin(), b.end());
}

void MsgpackWriter::array(std::size_t n) { header(n, 0x90, 16, 0, 0xdc, 0xdd); }

void MsgpackWriter::map(std::size_t n) { header(n, 0x80, 16, 0, 0xde, 0xdf); }

}  // namespace heck::wire
