// The envelope of every packet and stream frame: a versioned header naming
// the sender, then a list of parts (a compound packet). Each layer encodes its
// own part bodies; the envelope only frames them.
//
// Encoding (MessagePack):
//   [ format_version (=1), sender name, sender advertised address,
//     [ [part type, body], ... ] ]
//
// Decoding is strict: wrong shape, wrong types, an unknown format version,
// a name or address over its limit, or more parts than allowed is an error
// that names what is wrong. Unknown part types are kept (the receiving layer
// counts and drops them) so a newer sender can add part kinds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/net.h"
#include "core/result.h"
#include "core/wire/msgpack.h"
#include "core/wire/part_type.h"

namespace heck::wire {

inline constexpr std::uint64_t kFormatVersion = 1;
inline constexpr std::size_t kMaxNameBytes = 128;
inline constexpr std::size_t kMaxAddressBytes = 256;
inline constexpr std::size_t kMaxParts = 1024;

struct Header {
  std::string sender;
  Address address;
};

struct Part {
  PartType type = PartType::ping;
  nlohmann::json body;
};

struct Envelope {
  Header header;
  std::vector<Part> parts;
};

// A part already encoded as MessagePack ([type, body]), so that its size is
// known before it is packed and a broadcast can be packed many times without
// being re-encoded.
struct EncodedPart {
  PartType type = PartType::ping;
  Bytes bytes;
};

EncodedPart encode_part(PartType type, const nlohmann::json& body);

// Packs encoded parts behind one header up to `size_limit` bytes in total.
class PacketBuilder {
 public:
  PacketBuilder(const Header& header, std::size_t size_limit);

  // Bytes still free for parts (accounting for the part-count prefix).
  std::size_t remaining() const;
  // Adds `part` when it fits; returns false (and adds nothing) when not.
  bool try_add(const EncodedPart& part);
  // Adds `part` even past the limit (a single part bigger than a packet is
  // still sent alone, e.g. on a stream).
  void add(const EncodedPart& part);
  std::size_t part_count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The whole envelope. The builder is left empty for reuse.
  Bytes finish();

 private:
  Bytes prefix_;  // array(4), version, sender, address
  Bytes body_;    // concatenated parts
  std::size_t count_ = 0;
  std::size_t size_limit_;
};

// One-shot helpers.
Bytes encode(const Header& header, const std::vector<EncodedPart>& parts);
Result<Envelope> decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

}  // namespace heck::wire
