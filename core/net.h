// Addresses and packets: what the core knows of the network. The core never
// opens a socket; it receives Packet inputs and emits Send effects, and its
// driver (sim/ or runtime/) moves the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace heck {

// Where a member listens, "host:port" ("127.0.0.1:7946", "[::1]:7946"; the
// simulator uses "n7:7946"). Opaque to the core: compared and copied, never
// resolved.
using Address = std::string;

// datagram: one UDP packet, at most the configured packet size, may be lost,
//   duplicated or reordered.
// stream: one framed message over a fresh TCP connection (push-pull,
//   anti-entropy); larger, still bounded, delivered whole or not at all.
enum class Channel : std::uint8_t { datagram = 0, stream = 1 };

using Bytes = std::vector<std::uint8_t>;

// The datagram budget: the largest datagram a node sends, envelope included
// (memberlist's UDP packet size). One setting per node,
// SwimConfig::max_packet_bytes; this is its default.
inline constexpr std::size_t kMaxPacketBytes = 1400;

// Input: bytes arrived. `from` is the transport's peer address (for TCP an
// ephemeral port); replies go to the sender's advertised address, which the
// packet itself carries (core/wire/envelope.h).
struct Packet {
  Address from;
  Channel channel = Channel::datagram;
  Bytes bytes;
};

// Effect: send `bytes` to `to` over `channel`. Fire and forget.
struct Send {
  Address to;
  Channel channel = Channel::datagram;
  Bytes bytes;
};

}  // namespace heck
