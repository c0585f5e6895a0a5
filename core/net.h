// Addresses and packets: what the core knows of the network. The core never
// opens a socket; it receives Packet inputs and emits Send effects, and its
// driver (sim/ or runtime/) moves the bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>
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
// span); never mutated after construction. One allocation holds the count
// and the bytes (a std::shared_ptr to a vector took two, and 40 more bytes
// per message: +17 MiB in the 1,000-member simulation, whose broadcast
// queues hold a million encoded parts). Not thread-safe, like a Name
// (core/name_table.h): a node and its driver run on one thread.
class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(std::span<const std::uint8_t> bytes) {  // NOLINT(google-explicit-constructor)
    if (bytes.empty()) return;
    block_ = static_cast<Block*>(::operator new(sizeof(Block) + bytes.size()));
    new (block_) Block{};
    block_->size = bytes.size();
    std::memcpy(block_ + 1, bytes.data(), bytes.size());
  }
  SharedBytes(const Bytes& bytes) : SharedBytes(std::span<const std::uint8_t>(bytes)) {}  // NOLINT
  SharedBytes(std::initializer_list<std::uint8_t> bytes) : SharedBytes(Bytes(bytes)) {}
  SharedBytes(const SharedBytes& o) : block_(o.block_) {
    if (block_) ++block_->refs;
  }
  SharedBytes(SharedBytes&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  SharedBytes& operator=(const SharedBytes& o) {
    SharedBytes copy(o);
    std::swap(block_, copy.block_);
    return *this;
  }
  SharedBytes& operator=(SharedBytes&& o) noexcept {
    if (this != &o) {
      release();
      block_ = std::exchange(o.block_, nullptr);
    }
    return *this;
  }
  ~SharedBytes() { release(); }

  const std::uint8_t* data() const { return block_ ? reinterpret_cast<const std::uint8_t*>(block_ + 1) : nullptr; }
  std::size_t size() const { return block_ ? block_->size : 0; }
  bool empty() const { return size() == 0; }
  const std::uint8_t* begin() const { return data(); }
  const std::uint8_t* end() const { return data() + size(); }
  std::uint8_t operator[](std::size_t i) const { return data()[i]; }
  std::span<const std::uint8_t> span() const { return {data(), size()}; }
  // How many SharedBytes hold this block (0 when empty): for tests.
  std::uint32_t use_count() const { return block_ ? block_->refs : 0; }
  operator std::span<const std::uint8_t>() const { return span(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) { return std::ranges::equal(a.span(), b.span()); }
  friend bool operator==(const SharedBytes& a, const Bytes& b) { return std::ranges::equal(a.span(), b); }

 private:
  void release() {
    if (block_ && --block_->refs == 0) {
      block_->~Block();
      ::operator delete(block_);
    }
    block_ = nullptr;
  }
  struct Block {
    std::uint32_t refs = 1;
    std::size_t size = 0;
    // the bytes follow
  };
  Block* block_ = nullptr;  // null: empty
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
