#include "core/wire/envelope.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

#include "core/wire/msgpack_writer.h"

namespace heck::wire {
namespace {

// Worst-case size of a MessagePack array header for up to kMaxParts items.
constexpr std::size_t kMaxCountPrefixBytes = 3;
// Bytes reserved for the parts of a packet (the usual datagram budget,
// core/net.h); a larger limit (a stream) grows as parts come.
constexpr std::size_t kDatagramReserve = 2048;

}  // namespace

void begin_part(PartType type, Bytes& out) {
  MsgpackWriter w(out);
  w.array(2);
  w.uint(static_cast<std::uint64_t>(type));
}

EncodedPart encode_part(PartType type, std::span<const std::uint8_t> body) {
  EncodedPart p{type, {}};
  p.bytes.reserve(4 + body.size());
  begin_part(type, p.bytes);
  p.bytes.insert(p.bytes.end(), body.begin(), body.end());
  return p;
}

PacketBuilder::PacketBuilder(const Header& header, std::size_t size_limit) : size_limit_(size_limit) {
  assert(header.sender.size() <= kMaxNameBytes && header.address.size() <= kMaxAddressBytes);
  prefix_.reserve(16 + header.sender.size() + header.address.size());
  MsgpackWriter w(prefix_);
  w.array(4);
  w.uint(kFormatVersion);
  w.str(header.sender);
  w.str(header.address);
  // A datagram's room up front: parts are appended without reallocating.
  body_.reserve(std::min<std::size_t>(size_limit_, kDatagramReserve));
}
std::size_t PacketBuilder::remaining() const {
  std::size_t used = prefix_.size() + kMaxCountPrefixBytes + body_.size();
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
  out.reserve(prefix_.size() + kMaxCountPrefixBytes + body_.size());
  out.insert(out.end(), prefix_.begin(), prefix_.end());
  MsgpackWriter(out).array(count_);
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
  if (bytes.empty()) return Error{"empty"};
  if (bytes.size() > limits.max_bytes) {
    return Error{fmt::format("too large: {} bytes (limit {})", bytes.size(), limits.max_bytes)};
  }
  // First the whole input, bodies included, as one well-formed value.
  {
    MsgpackReader whole(bytes, limits.max_depth);
    MsgValue all;
    if (!whole.whole(all)) return Error{whole.error()};
  }
  Envelope env;
  env.bytes.assign(bytes.begin(), bytes.end());
  MsgpackReader r(env.bytes, limits.max_depth);
  MsgValue v, version, sender, address, parts;
  r.header(v);
  if (v.type != MsgType::array || v.size != 4) return Error{"envelope: expected an array of 4"};
  r.value(version);
  r.value(sender);
  r.value(address);
  r.header(parts);
  if (version.type != MsgType::uint) return Error{"envelope: format version is not an unsigned integer"};
  if (version.u != kFormatVersion) {
    return Error{fmt::format("envelope: unsupported format version {} (this build speaks {})", version.u,
                             kFormatVersion)};
  }
  if (sender.type != MsgType::str || sender.size == 0 || sender.size > kMaxNameBytes) {
    return Error{fmt::format("envelope: sender must be a string of 1-{} bytes", kMaxNameBytes)};
  }
  if (address.type != MsgType::str || address.size == 0 || address.size > kMaxAddressBytes) {
    return Error{fmt::format("envelope: address must be a string of 1-{} bytes", kMaxAddressBytes)};
  }
  if (parts.type != MsgType::array) return Error{"envelope: parts is not an array"};
  if (parts.size > kMaxParts) return Error{fmt::format("envelope: {} parts (limit {})", parts.size, kMaxParts)};
  env.header.sender = sender.text();
  env.header.address = address.text();
  env.parts.reserve(parts.size);
  for (std::size_t i = 0; i < parts.size; ++i) {
    MsgValue p, type, body;
    r.header(p);
    if (p.type != MsgType::array || p.size != 2 || !r.value(type) || type.type != MsgType::uint || type.u > 0xffff) {
      return Error{fmt::format("envelope: parts[{}] is not [type, body]", i)};
    }
    r.value(body);
    env.parts.push_back(Part{static_cast<PartType>(type.u), body.encoded});
  }
  return env;
}

}  // namespace heck::wire
