#include "core/wire/msgpack_reader.h"

#include <bit>

#include <fmt/format.h>

namespace heck::wire {

std::string_view type_name(const MsgValue& v) {
  switch (v.type) {
    case MsgType::nil: return "null";
    case MsgType::boolean: return "a boolean";
    case MsgType::uint:
    case MsgType::sint:
    case MsgType::float64: return "a number";
    case MsgType::str: return "a string";
    case MsgType::array: return "an array";
    case MsgType::bin:
    case MsgType::map: break;
  }
  return "an object";
}

bool MsgpackReader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool MsgpackReader::truncated(std::size_t n) {
  return fail(fmt::format("malformed: truncated: {} bytes needed at byte {}, {} left", n, pos_, bytes_.size() - pos_));
}

// REQUIRES: need(width) held.
std::uint64_t MsgpackReader::take_be(std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < width; ++k) v = (v << 8) | bytes_[pos_ + k];
  pos_ += width;
  return v;
}

bool MsgpackReader::header(MsgValue& v) {
  if (!ok() || !need(1)) return false;
  const std::size_t start = pos_;
  const std::uint8_t b = bytes_[pos_++];
  v = MsgValue{};
  // The one-byte headers (the bulk of every body) here; the rest, 0xc0 to
  // 0xdf, through header_of's switch.
  if (b <= 0x7f) {
    v.type = MsgType::uint;
    v.u = b;
  } else if (b >= 0xe0) {
    v.type = MsgType::sint;
    v.i = static_cast<std::int8_t>(b);
  } else if (b >= 0xa0 && b <= 0xbf) {
    const std::size_t n = b & 0x1f;
    if (!need(n)) return false;
    v.type = MsgType::str;
    v.size = static_cast<std::uint32_t>(n);
    v.payload = bytes_.subspan(pos_, n);
    pos_ += n;
  } else if (b <= 0x9f) {
    const auto t = b <= 0x8f ? MsgType::map : MsgType::array;
    const std::uint64_t n = b & 0x0f;
    if ((t == MsgType::map ? 2 * n : n) > bytes_.size() - pos_) {
      return fail(fmt::format("malformed: {} declares {} items at byte {}, {} bytes left",
                              t == MsgType::map ? "map" : "array", n, start, bytes_.size() - pos_));
    }
    v.type = t;
    v.size = static_cast<std::uint32_t>(n);
  } else if (!header_of(b, start, v)) {
    return false;
  }
  v.encoded = bytes_.subspan(start, pos_ - start);
  return true;
}

bool MsgpackReader::header_of(std::uint8_t b, std::size_t start, MsgValue& v) {
  // A length field of `width` bytes, then (for str/bin) that many bytes.
  auto sized = [&](MsgType t, std::size_t width) {
    if (!need(width)) return false;
    const std::uint64_t n = take_be(width);
    v.type = t;
    if (t == MsgType::str || t == MsgType::bin) {
      if (!need(n)) return false;
      v.payload = bytes_.subspan(pos_, n);
      pos_ += n;
    } else {
      // Every item takes at least one byte: a count the bytes left cannot
      // hold is refused before anyone believes it.
      const std::uint64_t items = t == MsgType::map ? 2 * n : n;
      if (items > bytes_.size() - pos_) {
        return fail(fmt::format("malformed: {} declares {} items at byte {}, {} bytes left",
                                t == MsgType::map ? "map" : "array", n, start, bytes_.size() - pos_));
      }
    }
    v.size = static_cast<std::uint32_t>(n);
    return true;
  };
  auto number = [&](MsgType t, std::size_t width) {
    if (!need(width)) return false;
    const std::uint64_t raw = take_be(width);
    v.type = t;
    if (t == MsgType::uint) {
      v.u = raw;
    } else if (t == MsgType::sint) {
      // Sign-extend from `width` bytes.
      const unsigned shift = static_cast<unsigned>(64 - 8 * width);
      v.i = static_cast<std::int64_t>(raw << shift) >> shift;
    } else {
      v.f = width == 4 ? static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)))
                       : std::bit_cast<double>(raw);
    }
    return true;
  };
  bool good = true;
  switch (b) {
    case 0xc0: v.type = MsgType::nil; break;
    case 0xc2:
    case 0xc3:
      v.type = MsgType::boolean;
      v.boolean = b == 0xc3;
      break;
    case 0xc4: good = sized(MsgType::bin, 1); break;
    case 0xc5: good = sized(MsgType::bin, 2); break;
    case 0xc6: good = sized(MsgType::bin, 4); break;
    case 0xca: good = number(MsgType::float64, 4); break;
    case 0xcb: good = number(MsgType::float64, 8); break;
    case 0xcc: good = number(MsgType::uint, 1); break;
    case 0xcd: good = number(MsgType::uint, 2); break;
    case 0xce: good = number(MsgType::uint, 4); break;
    case 0xcf: good = number(MsgType::uint, 8); break;
    case 0xd0: good = number(MsgType::sint, 1); break;
    case 0xd1: good = number(MsgType::sint, 2); break;
    case 0xd2: good = number(MsgType::sint, 4); break;
    case 0xd3: good = number(MsgType::sint, 8); break;
    case 0xd9: good = sized(MsgType::str, 1); break;
    case 0xda: good = sized(MsgType::str, 2); break;
    case 0xdb: good = sized(MsgType::str, 4); break;
    case 0xdc: good = sized(MsgType::array, 2); break;
    case 0xdd: good = sized(MsgType::array, 4); break;
    case 0xde: good = sized(MsgType::map, 2); break;
    case 0xdf: good = sized(MsgType::map, 4); break;
    default:  // 0xc1 (never used), ext and fixext
      good = fail(fmt::format("malformed: unsupported type byte {:#04x} at byte {}", b, start));
      break;
  }
  return good;
}

namespace {

// The bytes after the type byte of a fixed-width number (0xca to 0xd3), or
// 0 for any other type byte.
constexpr std::size_t number_width(std::uint8_t b) {
  switch (b) {
    case 0xcc:
    case 0xd0: return 1;
    case 0xcd:
    case 0xd1: return 2;
    case 0xca:
    case 0xce:
    case 0xd2: return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3: return 8;
    default: return 0;
  }
}

}  // namespace

bool MsgpackReader::skip_at_depth(std::size_t depth, bool key) {
  // Fast paths: one-byte scalars, fixed-width numbers and strings or binary
  // with a one-byte length (timestamps, counters, ids, hashes: the bulk of
  // our bodies), stepped over when they fit in what is left. Anything else,
  // and anything that does not fit, goes through header(), which says what
  // is wrong.
  if (ok() && pos_ < bytes_.size()) {
    const std::uint8_t b = bytes_[pos_];
    const std::size_t left = bytes_.size() - pos_;
    if (!key && (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)) {
      ++pos_;
      return true;
    }
    if (b >= 0xa0 && b <= 0xbf && static_cast<std::size_t>(b & 0x1f) < left) {
      pos_ += 1 + static_cast<std::size_t>(b & 0x1f);
      return true;
    }
    if (const std::size_t width = number_width(b); !key && width != 0 && width < left) {
      pos_ += 1 + width;
      return true;
    }
    if ((b == 0xd9 || (b == 0xc4 && !key)) && left >= 2 && static_cast<std::size_t>(bytes_[pos_ + 1]) <= left - 2) {
      pos_ += 2 + static_cast<std::size_t>(bytes_[pos_ + 1]);
      return true;
    }
  }
  const std::size_t at = pos_;
  MsgValue v;
  if (!header(v)) return false;
  if (key && v.type != MsgType::str) return fail(fmt::format("malformed: map key at byte {} is not a string", at));
  return skip_items(v, depth);
}

bool MsgpackReader::skip_items(const MsgValue& v, std::size_t depth) {
  if (v.type != MsgType::array && v.type != MsgType::map) return true;
  if (depth + 1 > max_depth_) return fail(fmt::format("nested deeper than {}", max_depth_));
  const bool map = v.type == MsgType::map;
  const std::uint64_t n = map ? 2 * std::uint64_t{v.size} : v.size;
  for (std::uint64_t k = 0; k < n; ++k) {
    if (!skip_at_depth(depth + 1, map && k % 2 == 0)) return false;
  }
  return true;
}

bool MsgpackReader::value_at(MsgValue& v, std::size_t depth) {
  const std::size_t start = pos_;
  if (!header(v)) return false;
  if (v.type != MsgType::array && v.type != MsgType::map) return true;  // header() spanned it whole
  if (!skip_items(v, depth)) return false;
  v.encoded = bytes_.subspan(start, pos_ - start);
  return true;
}

bool MsgpackReader::whole(MsgValue& v) {
  if (!value(v)) return false;
  if (!at_end()) return fail(fmt::format("malformed: {} bytes after the value", bytes_.size() - pos_));
  return true;
}

}  // namespace heck::wire
