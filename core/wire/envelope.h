// The envelope of every packet and stream frame: a versioned header naming
// the sender, then a list of parts (a compound packet). Each layer encodes its
// own part bodies; the envelope only frames them.
//
// Encoding (MessagePack), format 2, what this build writes:
//   [ 2, sender name, sender advertised address,
//     [ type, length, body, type, length, body, ... ] ]
// one flat array of three items per part: the part type, the byte length
// of its body, and the body (one MessagePack value). Format 1 (builds
// before 2026-12-07) had no lengths:
//   [ 1, sender name, sender advertised address, [ [type, body], ... ] ]
// and is still read. A format 1 agent cannot read format 2 (it counts such
// packets as malformed), so a running cluster of older builds is upgraded
// in two rollouts: first to this build told to write format 1
// (ClusterNodeConfig::wire_format, the agent config's "wire_format": 1),
// which every agent reads, then, once none of the old builds is left, to
// format 2 (the default).
//
// Why the lengths: a receiver finds where each body ends without reading
// it. In format 1 every receiver walked every body to find the next one,
// and in a gossip-mode cluster most delta parts that arrive are copies of
// bodies already joined, dropped by a hash of their bytes (300 agents ×
// 3,000 targets: 3.56M of the 5.89M received): the walk was ~12% of that
// simulation's profile. With the lengths it runs in 0.79-0.94 of the time,
// the 1,000 × 10,000 one in 0.94 (cluster_bench, docs/benchmark-history.md).
// A length costs nothing for a body under 128 bytes (format 1 spent that
// byte on each part's [type, body] array header), one byte more to 255,
// two to 65,535, four beyond (a stream's state repair of megabytes).
//
// Decoding is strict: the input must be the envelope and nothing after it,
// within DecodeLimits (core/wire/msgpack_reader.h); wrong shape, wrong
// types, an unknown format version, a name or address over its limit, a
// body length past the end or zero, or more parts than allowed is an error
// that names what is wrong. In format 2 a body is only framed here: the
// layer that decodes it reads it whole (MsgpackReader::whole, or at_end()
// after its last field) and refuses anything else, so a malformed body is
// that layer's error (its part is counted and dropped), and a body nobody
// decodes (a copy already joined, an unknown part type) is never read. A
// format 1 envelope is checked whole, bodies included, as before. Unknown
// part types are kept (the receiving layer counts and drops them) so a
// newer sender can add part kinds.
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

inline constexpr std::uint64_t kFormatVersion = 2;
inline constexpr std::uint64_t kOldestFormatVersion = 1;  // still read
inline constexpr std::size_t kMaxNameBytes = 128;
inline constexpr std::size_t kMaxAddressBytes = 256;
inline constexpr std::size_t kMaxParts = 1024;

struct Header {
  std::string sender;
  Address address;
};

// One part as decoded: its body is a view into bytes its producer keeps
// alive (an Envelope's own copy), meant to be one MessagePack value: checked
// so in format 1, only framed in format 2 (the decoding layer checks it).
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

// A part already framed for the envelope (type, length, body), so that its size is
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
// decode() checks the input in one walk (the shape, every body framed, in
// format 1 read whole under limits.max_depth, nothing after it) and keeps
// its own copy of the bytes; decode_view() is the same without the copy: the parts view
// `bytes`, which the caller keeps alive while it reads them (a node's
// packet handler).
Result<Envelope> decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});
Result<Envelope> decode_view(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

// The same envelope in format 1 (header and parts unchanged), for agents of
// older builds during a rolling upgrade. Never longer than its input (a
// part's format 1 framing is no longer than its format 2 framing), so what
// fitted a packet still does. An input that does not decode is an error.
Result<Bytes> to_format1(std::span<const std::uint8_t> bytes);

}  // namespace heck::wire
