#include "core/wire/envelope.h"

#include <cassert>

#include <fmt/format.h>

namespace heck::wire {
namespace {

using json = nlohmann::json;

// Worst-case size of a MessagePack array header for up to kMaxParts items.
constexpr std::size_t kCountPrefixMax = 3;

void append_array_header(Bytes& out, std::size_t n) {
  if (n < 16) {
    out.push_back(static_cast<std::uint8_t>(0x90 | n));
  } else {
    assert(n <= 0xffff);
    out.push_back(0xdc);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
  }
}

void append_msgpack(Bytes& out, const json& value) {
  json::to_msgpack(value, out);
}

}  // namespace

EncodedPart encode_part(PartType type, const json& body) {
  EncodedPart p{type, {}};
  p.bytes.reserve(16);
  p.bytes.push_back(0x92);  // array of 2
  append_msgpack(p.bytes, json(static_cast<std::uint64_t>(type)));
  append_msgpack(p.bytes, body);
  return p;
}

PacketBuilder::PacketBuilder(const Header& header, std::size_t size_limit) : size_limit_(size_limit) {
  assert(header.sender.size() <= kMaxNameBytes && header.address.size() <= kMaxAddressBytes);
  prefix_.push_back(0x94);  // array of 4
  append_msgpack(prefix_, json(kFormatVersion));
  append_msgpack(prefix_, json(header.sender));
  append_msgpack(prefix_, json(header.address));
}

std::size_t PacketBuilder::remaining() const {
  std::size_t used = prefix_.size() + kCountPrefixMax + body_.size();
  return used >= size_limit_ ? 0 : size_limit_ - used;
}

bool PacketBuilder::try_add(const EncodedPart& part) {
  if (count_ >= kMaxParts || part.bytes.size() > remaining()) return false;
  add(part);
  return true;
}

void PacketBuilder::add(const EncodedPart& part) {
  assert(count_ < kMaxParts);
  body_.insert(body_.end(), part.bytes.begin(), part.bytes.end());
  ++count_;
}

Bytes PacketBuilder::finish() {
  Bytes out;
  out.reserve(prefix_.size() + kCountPrefixMax + body_.size());
  out.insert(out.end(), prefix_.begin(), prefix_.end());
  append_array_header(out, count_);
  out.insert(out.end(), body_.begin(), body_.end());
  body_.clear();
  count_ = 0;
  return out;
}

Bytes encode(const Header& header, const std::vector<EncodedPart>& parts) {
  PacketBuilder b(header, SIZE_MAX);
  for (const auto& p : parts) b.add(p);
  return b.finish();
}

Result<Envelope> decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  auto parsed = decode_msgpack(bytes, limits);
  if (!parsed) return Error{parsed.error()};
  const json& v = *parsed;
  if (!v.is_array() || v.size() != 4) return Error{"envelope: expected an array of 4"};
  if (!v[0].is_number_unsigned()) return Error{"envelope: format version is not an unsigned integer"};
  if (v[0].get<std::uint64_t>() != kFormatVersion) {
    return Error{fmt::format("envelope: unsupported format version {} (this build speaks {})",
                             v[0].get<std::uint64_t>(), kFormatVersion)};
  }
  if (!v[1].is_string() || v[1].get_ref<const std::string&>().empty() ||
      v[1].get_ref<const std::string&>().size() > kMaxNameBytes) {
    return Error{fmt::format("envelope: sender must be a string of 1-{} bytes", kMaxNameBytes)};
  }
  if (!v[2].is_string() || v[2].get_ref<const std::string&>().empty() ||
      v[2].get_ref<const std::string&>().size() > kMaxAddressBytes) {
    return Error{fmt::format("envelope: address must be a string of 1-{} bytes", kMaxAddressBytes)};
  }
  if (!v[3].is_array()) return Error{"envelope: parts is not an array"};
  if (v[3].size() > kMaxParts) {
    return Error{fmt::format("envelope: {} parts (limit {})", v[3].size(), kMaxParts)};
  }
  Envelope env;
  env.header.sender = v[1].get<std::string>();
  env.header.address = v[2].get<std::string>();
  env.parts.reserve(v[3].size());
  std::size_t i = 0;
  for (const json& p : v[3]) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_unsigned() || p[0].get<std::uint64_t>() > 0xffff) {
      return Error{fmt::format("envelope: parts[{}] is not [type, body]", i)};
    }
    env.parts.push_back(Part{static_cast<PartType>(p[0].get<std::uint64_t>()), p[1]});
    ++i;
  }
  return env;
}

}  // namespace heck::wire
