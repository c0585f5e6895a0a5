// The cluster transport: moves the node's Send effects to other agents and
// their bytes back in as Packet inputs, on the agent's io_context.
//
//   Channel::datagram  one UDP socket, bound to the agent's --bind address.
//                      A datagram carries one sealed packet; its plaintext
//                      may be at most `max_packet_bytes` (the node packs its
//                      packets under that limit, memberlist's 1400 by
//                      default). Bigger sends are refused; bigger incoming
//                      datagrams are rejected ("oversize").
//   Channel::stream    one TCP acceptor on the same address and port, and an
//                      outbound connector. One message per connection:
//                        [4-byte big-endian length N][N sealed bytes]
//                      then the sender closes. N is at most `max_frame_bytes`
//                      (4 MiB). Connect, write and read each have a deadline;
//                      at most `max_inbound_connections` are read at once
//                      (more are closed at once and counted), at most
//                      `max_outbound_connections` are written at once (more
//                      sends are dropped and counted), and the frames being
//                      read share a byte budget (`max_inbound_buffer_bytes`).
//
// Incoming bytes go through the Keyring (runtime/cluster/keyring.h); what it
// rejects, and what is oversize, is counted by reason in the keyring's
// counters (the agent renders them as heck_cluster_packets_rejected_total
// {reason}). What it accepts is handed to `deliver` as
// Packet{from = "ip:port" of the peer, channel, plaintext}. Decoding is the
// node's business.
//
// Addresses: "host:port" as the node has them: IPv4 literals
// ("127.0.0.1:7946"), bracketed IPv6 literals ("[::1]:7946") or names
// ("agent-3.example:7946"), which are resolved asynchronously through a
// bounded cache (runtime/dns_cache.h); a send to a name still being resolved
// waits for the answer (bounded), then goes to its first address of the
// socket's family. An unparseable address is counted and dropped.
//
// Nothing from the network can crash it: every length is checked before it
// is used, every failure is counted, and handlers never throw. Rejections are
// logged at counts 1, 2, 4, 8, ... per reason, so a flood cannot flood the log.
//
// Threading: one io_context thread. Handlers hold the transport's shared
// state, so the Transport may be destroyed while operations are pending (it
// calls stop(); nothing is delivered afterwards).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "core/net.h"
#include "core/result.h"
#include "core/time.h"
#include "runtime/agent_config.h"
#include "runtime/cluster/keyring.h"

namespace heck::runtime::cluster {

struct TransportOptions {
  HostPort bind{"127.0.0.1", 7946};       // UDP and TCP; port 0 = one free port for both
  std::size_t max_packet_bytes = kMaxPacketBytes;  // plaintext limit of one datagram
  std::size_t max_frame_bytes = 4 * 1024 * 1024;
  Duration connect_timeout = Duration::seconds(2);
  Duration io_timeout = Duration::seconds(5);  // a whole frame must be written / read within it
  std::size_t max_inbound_connections = 32;
  std::size_t max_outbound_connections = 32;
  std::size_t max_inbound_buffer_bytes = 32 * 1024 * 1024;
  std::size_t max_pending_datagrams = 1024;  // UDP sends not yet completed
  // SO_RCVBUF asked for (as memberlist does; the kernel may cap it at
  // net.core.rmem_max). Bursts beyond the buffer are dropped by the kernel.
  std::size_t udp_receive_buffer_bytes = 2 * 1024 * 1024;
};

struct TransportCounters {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_received = 0;     // delivered to the node
  std::uint64_t datagram_bytes_sent = 0;    // on the wire (sealed)
  std::uint64_t datagram_bytes_received = 0;
  std::uint64_t streams_sent = 0;           // frames written completely
  std::uint64_t streams_received = 0;       // delivered to the node
  std::uint64_t stream_bytes_sent = 0;
  std::uint64_t stream_bytes_received = 0;
  std::uint64_t send_errors = 0;            // the OS refused a UDP send, or a TCP write failed
  std::uint64_t connect_failures = 0;       // refused, unreachable, or connect deadline
  std::uint64_t stream_timeouts = 0;        // a read or write deadline passed
  std::uint64_t stream_read_errors = 0;     // the peer closed mid-frame, reset, ...
  std::uint64_t sends_refused_oversize = 0; // a send over max_packet_bytes / max_frame_bytes
  std::uint64_t sends_dropped = 0;          // over max_pending_datagrams / max_outbound_connections
  std::uint64_t inbound_refused = 0;        // over max_inbound_connections or the buffer budget
  std::uint64_t bad_addresses = 0;          // a Send to an address that does not parse
  std::uint64_t resolve_failures = 0;       // a name that did not resolve (the send is dropped)
  std::uint64_t receive_errors = 0;         // UDP receive errors (the loop goes on)
  std::uint64_t seal_errors = 0;
};

// "host:port" split; the host is an IP literal (without brackets) or a name.
struct PeerAddress {
  std::string host;
  std::uint16_t port = 0;
  bool is_ip = false;
};
Result<PeerAddress> parse_peer_address(std::string_view text);

class Transport {
 public:
  using Deliver = std::function<void(Packet)>;
  using Log = std::function<void(std::string_view)>;

  Transport(boost::asio::io_context& io, TransportOptions options, Keyring keyring, Deliver deliver,
            Log log = {});
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds UDP and TCP on options.bind (the same port for both) and starts
  // receiving. The error says where and why ("cannot bind 127.0.0.1:7946
  // (udp): Address already in use"); on error nothing is left open.
  // REQUIRES: called once.
  Result<HostPort> start();
  // Sends (fire and forget; failures are counted). Ignored after stop().
  void send(const Send& send);
  // Closes the sockets and every connection. Idempotent.
  void stop();

  HostPort local_address() const;
  const TransportCounters& counters() const;
  const Keyring& keyring() const;

  struct State;  // implementation detail, shared with pending handlers

 private:
  std::shared_ptr<State> state_;
};

}  // namespace heck::runtime::cluster
