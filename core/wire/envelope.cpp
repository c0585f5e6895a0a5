#include "core/wire/envelope.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include <fmt/format.h>

#include "core/wire/msgpack_writer.h"

namespace heck::wire {
namespace {

// Worst-case size of a MessagePack array header for up to 3 * kMaxParts items.
constexpr std::size_t kMaxCountPrefixBytes = 3;
static_assert(3 * kMaxParts <= 0xffff);
// Bytes reserved for the parts of a packet (the usual datagram budget,
// core/net.h); a larger limit (a stream) grows as parts come.
constexpr std::size_t kDatagramReserve = 2048;

}  // namespace

EncodedPart encode_part(PartType type, std::span<const std::uint8_t> body) {
  Bytes bytes;
  bytes.reserve(8 + body.size());
  MsgpackWriter w(bytes);
  w.uint(static_cast<std::uint64_t>(type));
  w.uint(body.size());
  bytes.insert(bytes.end(), body.begin(), body.end());
  return EncodedPart{type, std::move(bytes)};
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
  MsgpackWriter(out).array(3 * count_);
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

namespace {

// One pass over `bytes` (which `env`'s parts will view): the envelope's
// shape, each body framed (format 2: by its length; format 1: read whole at
// its depth, the same checks as one whole() over the input), then nothing
// after it.
std::optional<Error> parse(std::span<const std::uint8_t> bytes, const DecodeLimits& limits, Envelope& env) {
  if (bytes.empty()) return Error{"empty"};
  if (bytes.size() > limits.max_bytes) {
    return Error{fmt::format("too large: {} bytes (limit {})", bytes.size(), limits.max_bytes)};
  }
  // Depths as whole() counts them: the envelope 0, its fields 1, the parts
  // (or a part's type, length and body) 2, a format 1 part's type and body 3.
  MsgpackReader r(bytes, limits.max_depth);
  MsgValue v, version, sender, address, parts;
  if (!r.header(v)) return Error{r.error()};
  if (v.type != MsgType::array || v.size != 4) return Error{"envelope: expected an array of 4"};
  if (limits.max_depth < 3) return Error{fmt::format("nested deeper than {}", limits.max_depth)};
  if (!r.value_at(version, 1) || !r.value_at(sender, 1) || !r.value_at(address, 1) || !r.header(parts)) {
    return Error{r.error()};
  }
  if (version.type != MsgType::uint) return Error{"envelope: format version is not an unsigned integer"};
  if (version.u < kOldestFormatVersion || version.u > kFormatVersion) {
    return Error{fmt::format("envelope: unsupported format version {} (this build speaks {} to {})", version.u,
                             kOldestFormatVersion, kFormatVersion)};
  }
  if (sender.type != MsgType::str || sender.size == 0 || sender.size > kMaxNameBytes) {
    return Error{fmt::format("envelope: sender must be a string of 1-{} bytes", kMaxNameBytes)};
  }
  if (address.type != MsgType::str || address.size == 0 || address.size > kMaxAddressBytes) {
    return Error{fmt::format("envelope: address must be a string of 1-{} bytes", kMaxAddressBytes)};
  }
  if (parts.type != MsgType::array) return Error{"envelope: parts is not an array"};
  const bool framed = version.u >= 2;
  if (framed && parts.size % 3 != 0) {
    return Error{fmt::format("envelope: parts holds {} items, not [type, length, body] per part", parts.size)};
  }
  const std::size_t count = framed ? parts.size / 3 : parts.size;
  if (count > kMaxParts) return Error{fmt::format("envelope: {} parts (limit {})", count, kMaxParts)};
  env.header.sender = sender.text();
  env.header.address = address.text();
  env.parts.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    MsgValue type, body;
    if (framed) {
      MsgValue length;
      if (!r.header(type) || !r.header(length)) return Error{r.error()};
      if (type.type != MsgType::uint || type.u > 0xffff) {
        return Error{fmt::format("envelope: parts[{}]: the type is not an integer 0-65535", i)};
      }
      const std::size_t left = bytes.size() - r.offset();
      if (length.type != MsgType::uint || length.u == 0 || length.u > left) {
        return Error{fmt::format("envelope: parts[{}]: the body length is not 1-{} (the bytes left)", i, left)};
      }
      if (!r.raw(static_cast<std::size_t>(length.u), body.encoded)) return Error{r.error()};
    } else {
      MsgValue p;
      if (!r.header(p)) return Error{r.error()};
      if (p.type != MsgType::array || p.size != 2) {
        return Error{fmt::format("envelope: parts[{}] is not [type, body]", i)};
      }
      if (!r.value_at(type, 3)) return Error{r.error()};
      if (type.type != MsgType::uint || type.u > 0xffff) {
        return Error{fmt::format("envelope: parts[{}] is not [type, body]", i)};
      }
      if (!r.value_at(body, 3)) return Error{r.error()};
    }
    env.parts.push_back(Part{static_cast<PartType>(type.u), body.encoded});
  }
  if (!r.at_end()) return Error{fmt::format("malformed: {} bytes after the value", bytes.size() - r.offset())};
  return std::nullopt;
}

}  // namespace

Result<Envelope> decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  Envelope env;
  env.bytes.assign(bytes.begin(), bytes.end());
  if (auto error = parse(env.bytes, limits, env)) return std::move(*error);
  return env;
}

Result<Envelope> decode_view(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  Envelope env;
  if (auto error = parse(bytes, limits, env)) return std::move(*error);
  return env;
}

Result<Bytes> to_format1(std::span<const std::uint8_t> bytes) {
  auto env = decode_view(bytes, DecodeLimits{.max_bytes = bytes.size()});
  if (!env) return Error{env.error()};
  Bytes out;
  out.reserve(bytes.size());
  MsgpackWriter w(out);
  w.array(4);
  w.uint(1);
  w.str(env->header.sender);
  w.str(env->header.address);
  w.array(env->parts.size());
  for (const Part& p : env->parts) {
    w.array(2);
    w.uint(static_cast<std::uint64_t>(p.type));
    w.raw(p.body);
  }
  return out;
}

}  // namespace heck::wire
