// Addresses and packets: what the core knows of the network. The core never
// opens a socket; it receives Packet inputs and emits Send effects, and its
// driver (sim/ or runtime/) moves the bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
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

// The bytes of a datagram or stream message, immutable and shared by every
// Send and Packet that carries them: a node that sends one datagram to many
// peers (the replicator's eager push, to every peer up to max_direct_peers)
// builds it once, and its driver holds it once however many receivers it
// has. In the simulator's main row (100 agents, 10,000 targets registered
// at once) a copy per receiver meant 158 MiB of messages in flight as the
// burst began. Reads like a const byte vector (data, size, iteration, a
// span); never mutated after construction.
class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(Bytes bytes)  // NOLINT(google-explicit-constructor): a Send is built from fresh bytes
      : buf_(bytes.empty() ? nullptr : std::make_shared<const Bytes>(std::move(bytes))) {}
  SharedBytes(std::initializer_list<std::uint8_t> bytes) : SharedBytes(Bytes(bytes)) {}

  const std::uint8_t* data() const { return buf_ ? buf_->data() : nullptr; }
  std::size_t size() const { return buf_ ? buf_->size() : 0; }
  bool empty() const { return size() == 0; }
  const std::uint8_t* begin() const { return data(); }
  const std::uint8_t* end() const { return data() + size(); }
  std::uint8_t operator[](std::size_t i) const { return (*buf_)[i]; }
  std::span<const std::uint8_t> span() const { return {data(), size()}; }
  operator std::span<const std::uint8_t>() const { return span(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) { return std::ranges::equal(a.span(), b.span()); }
  friend bool operator==(const SharedBytes& a, const Bytes& b) { return std::ranges::equal(a.span(), b); }

 private:
  std::shared_ptr<const Bytes> buf_;  // null: empty
};

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
  SharedBytes bytes;
};

// Effect: send `bytes` to `to` over `channel`. Fire and forget. Sends of
// the same message to several peers share its bytes.
struct Send {
  Address to;
  Channel channel = Channel::datagram;
  SharedBytes bytes;
};

}  // namespace heck
