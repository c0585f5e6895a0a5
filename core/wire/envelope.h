// The envelope of every packet and stream frame: a versioned header naming
// the sender, then a list of parts (a compound packet). Each layer encodes its
// own part bodies; the envelope only frames them.
//
// Encoding (MessagePack):
//   [ format_version (=1), sender name, sender advertised address,
//     [ [part type, body], ... ] ]
//
// Decoding is strict: the whole input must be one well-formed MessagePack
// value within DecodeLimits (core/wire/msgpack_reader.h), part bodies
// included; then wrong shape, wrong types, an unknown format version, a name
// or address over its limit, or more parts than allowed is an error that
// names what is wrong. Unknown part types are kept (the receiving layer
// counts and drops them) so a newer sender can add part kinds.
//
// No JSON tree is built on either side: part bodies are written with
// MsgpackWriter and stay bytes (each layer decodes its own with
// MsgpackReader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/net.h"
#include "core/result.h"
#include "core/wire/msgpack_reader.h"
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

// One part as decoded: its body is one well-formed MessagePack value, a
// view into bytes its producer keeps alive (an Envelope's own copy).
struct Part {
  PartType type = PartType::ping;
  std::span<const std::uint8_t> body;
};

// Move-only: the parts view `bytes`, the envelope's own copy of the input
// (a moved vector keeps its buffer, so the views survive a move), or, from
// decode_view(), the caller's bytes (`bytes` is then empty).
struct Envelope {
  Header header;
  std::vector<Part> parts;
  Bytes bytes;

  Envelope() = default;
  Envelope(Envelope&&) = default;
  Envelope& operator=(Envelope&&) = default;
  Envelope(const Envelope&) = delete;
  Envelope& operator=(const Envelope&) = delete;
};

// A part already encoded as MessagePack ([type, body]), so that its size is
// known before it is packed and a broadcast can be packed many times without
// being re-encoded. Copies share the bytes: a replicator's buffered delta
// and its copy in the piggyback queue were two copies of every forwarded
// delta at every forwarder (a third of a 150-agent gossip-mode cluster's
// peak heap).
struct EncodedPart {
  PartType type = PartType::ping;
  SharedBytes bytes;
};

// `body` is one MessagePack value (e.g. from MsgpackWriter).
EncodedPart encode_part(PartType type, std::span<const std::uint8_t> body);
// Starts a part in `out`: the [type, header; the caller writes the body.
void begin_part(PartType type, Bytes& out);

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
// decode() checks the whole input in one walk (the shape, every body read
// whole under limits.max_depth, nothing after it) and keeps its own copy of
// the bytes; decode_view() is the same without the copy: the parts view
// `bytes`, which the caller keeps alive while it reads them (a node's
// packet handler).
Result<Envelope> decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});
Result<Envelope> decode_view(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

}  // namespace heck::wire
