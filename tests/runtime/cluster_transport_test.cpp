// The cluster transport (runtime/cluster/transport.h) on 127.0.0.1 and ::1:
// delivery over UDP and TCP, the keyring in the path, and hostile bytes
// (garbage, oversize, truncated frames, foreign keys, replays, connection
// floods) that are rejected and counted, never delivered, never a crash.
// Every wait is bounded (5 s); nothing asserts on elapsed time.
#include "runtime/cluster/transport.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck::runtime::cluster {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

Key key_of(std::uint8_t fill) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill * 3 + i);
  return k;
}

Bytes pattern(std::size_t n, std::uint8_t seed = 1) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

std::uint64_t rejected(const Transport& t, RejectReason r) {
  return t.keyring().counters().rejected[static_cast<std::size_t>(r)];
}

// One transport plus everything it delivered and logged.
struct Peer {
  Peer(asio::io_context& io, std::vector<Key> keys, std::string host = "127.0.0.1",
       TransportOptions options = {}) {
    options.bind = HostPort{host, 0};
    transport = std::make_unique<Transport>(
        io, options, Keyring(std::move(keys)), [this](Packet p) { received.push_back(std::move(p)); },
        [this](std::string_view line) { log.emplace_back(line); });
    auto r = transport->start();
    if (r) {
      address = r->to_string();
    } else {
      error = r.error();
    }
  }
  std::unique_ptr<Transport> transport;
  std::vector<Packet> received;
  std::vector<std::string> log;
  std::string address;
  std::string error;
};

class TransportTest : public ::testing::Test {
 protected:
  template <typename P>
  bool run_until(P pred) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > limit) return false;
      io.restart();
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  // Runs what is ready for a short while (to give a wrongly delivered packet
  // its chance to show up).
  void settle() {
    for (int i = 0; i < 20; ++i) {
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
  }

  udp::endpoint udp_endpoint(const Peer& p) {
    auto a = parse_peer_address(p.address);
    return udp::endpoint(asio::ip::make_address(a->host), a->port);
  }
  tcp::endpoint tcp_endpoint(const Peer& p) {
    auto a = parse_peer_address(p.address);
    return tcp::endpoint(asio::ip::make_address(a->host), a->port);
  }
  void raw_datagram(const Peer& to, const Bytes& bytes) {
    udp::socket s(io);
    s.open(udp_endpoint(to).protocol());
    s.send_to(asio::buffer(bytes), udp_endpoint(to));
  }
  // Connects, writes `bytes`, and keeps the socket (closed on destruction).
  std::unique_ptr<tcp::socket> raw_stream(const Peer& to, const Bytes& bytes) {
    auto s = std::make_unique<tcp::socket>(io);
    s->connect(tcp_endpoint(to));
    if (!bytes.empty()) asio::write(*s, asio::buffer(bytes));
    return s;
  }
  static Bytes frame(const Bytes& body, std::optional<std::uint32_t> length = {}) {
    const std::uint32_t n = length.value_or(static_cast<std::uint32_t>(body.size()));
    Bytes f(4 + body.size());
    f[0] = static_cast<std::uint8_t>(n >> 24);
    f[1] = static_cast<std::uint8_t>(n >> 16);
    f[2] = static_cast<std::uint8_t>(n >> 8);
    f[3] = static_cast<std::uint8_t>(n);
    std::copy(body.begin(), body.end(), f.begin() + 4);
    return f;
  }

  asio::io_context io;
};

TEST(PeerAddress, Parses) {
  auto a = parse_peer_address("127.0.0.1:7946");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7946);
  EXPECT_TRUE(a->is_ip);
  a = parse_peer_address("[::1]:80");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_TRUE(a->is_ip);
  a = parse_peer_address("agent-3.example.org:7946");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "agent-3.example.org");
  EXPECT_FALSE(a->is_ip);
}

TEST(PeerAddress, RefusesWithAReason) {
  struct Case {
    std::string text;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{{"", "empty"},
                                         {"127.0.0.1", "HOST:PORT"},
                                         {"127.0.0.1:0", "not a port"},
                                         {"127.0.0.1:65536", "not a port"},
                                         {"127.0.0.1:x", "not a port"},
                                         {"::1:80", "brackets"},
                                         {"[::1:80", "unterminated"},
                                         {"[nope]:80", "IPv6"},
                                         {"bad host!:80", "neither"},
                                         {std::string(300, 'a') + ":1", "too long"},
                                         {"a\nb:1", "neither"}}) {
    auto a = parse_peer_address(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_THAT(a.error(), HasSubstr(c.says)) << c.text;
    EXPECT_EQ(a.error().find('\n'), std::string::npos);
  }
}

TEST_F(TransportTest, DatagramAndStreamArriveSealed) {
  Peer a(io, {key_of(1)});
  Peer b(io, {key_of(1)});
  ASSERT_TRUE(a.error.empty()) << a.error;
  ASSERT_TRUE(b.error.empty()) << b.error;
  const Bytes small = pattern(1400);
  const Bytes big = pattern(1024 * 1024, 9);
  a.transport->send(Send{b.address, Channel::datagram, small});
  a.transport->send(Send{b.address, Channel::stream, big});
  ASSERT_TRUE(run_until([&] { return b.received.size() == 2; }));
  std::sort(b.received.begin(), b.received.end(),
            [](const Packet& x, const Packet& y) { return x.channel < y.channel; });
  EXPECT_EQ(b.received[0].channel, Channel::datagram);
  EXPECT_EQ(b.received[0].bytes, small);
  EXPECT_EQ(b.received[0].from, a.address);  // UDP: the sender's bound address
  EXPECT_EQ(b.received[1].channel, Channel::stream);
  EXPECT_EQ(b.received[1].bytes, big);
  EXPECT_THAT(b.received[1].from, HasSubstr("127.0.0.1:"));  // TCP: an ephemeral port
  ASSERT_TRUE(run_until([&] { return a.transport->counters().streams_sent == 1; }));
  const auto& ca = a.transport->counters();
  const auto& cb = b.transport->counters();
  EXPECT_EQ(ca.datagrams_sent, 1u);
  EXPECT_EQ(ca.datagram_bytes_sent, small.size() + kSealOverheadBytes);
  EXPECT_EQ(cb.datagrams_received, 1u);
  EXPECT_EQ(cb.streams_received, 1u);
  EXPECT_EQ(cb.stream_bytes_received, 4 + big.size() + kSealOverheadBytes);
  EXPECT_EQ(b.transport->keyring().counters().rejected_total(), 0u);
}

TEST_F(TransportTest, WorksOverIpv6Loopback) {
  Peer a(io, {key_of(1)}, "::1");
  if (!a.error.empty()) GTEST_SKIP() << "no IPv6 loopback here: " << a.error;
  Peer b(io, {key_of(1)}, "::1");
  ASSERT_TRUE(b.error.empty()) << b.error;
  EXPECT_THAT(b.address, HasSubstr("[::1]:"));
  a.transport->send(Send{b.address, Channel::datagram, pattern(10)});
  a.transport->send(Send{b.address, Channel::stream, pattern(5000)});
  ASSERT_TRUE(run_until([&] { return b.received.size() == 2; }));
  for (const auto& p : b.received) EXPECT_THAT(p.from, HasSubstr("[::1]:"));
}

TEST_F(TransportTest, PlaintextWithoutKeys) {
  Peer a(io, {});
  Peer b(io, {});
  a.transport->send(Send{b.address, Channel::datagram, pattern(100)});
  ASSERT_TRUE(run_until([&] { return b.received.size() == 1; }));
  EXPECT_EQ(a.transport->counters().datagram_bytes_sent, 100u);  // no overhead
  EXPECT_EQ(b.received[0].bytes, pattern(100));
}

TEST_F(TransportTest, ForeignKeyIsRejectedOnBothChannels) {
  Peer a(io, {key_of(1)});
  Peer b(io, {key_of(2)});
  Peer plain(io, {});
  a.transport->send(Send{b.address, Channel::datagram, pattern(50)});
  a.transport->send(Send{b.address, Channel::stream, pattern(5000)});
  plain.transport->send(Send{b.address, Channel::datagram, pattern(50, 5)});
  ASSERT_TRUE(run_until([&] {
    return rejected(*b.transport, RejectReason::auth_failed) == 2 &&
           rejected(*b.transport, RejectReason::bad_format) == 1;
  }));
  settle();
  EXPECT_TRUE(b.received.empty());
  // Logged, without flooding.
  EXPECT_FALSE(b.log.empty());
  EXPECT_THAT(b.log.front(), HasSubstr("rejected"));
}

TEST_F(TransportTest, RotatedKeyringsInteroperate) {
  Peer a(io, {key_of(2), key_of(1)});  // new key primary
  Peer b(io, {key_of(1), key_of(2)});  // old key primary, new one known
  a.transport->send(Send{b.address, Channel::datagram, pattern(20)});
  b.transport->send(Send{a.address, Channel::datagram, pattern(20)});
  ASSERT_TRUE(run_until([&] { return a.received.size() == 1 && b.received.size() == 1; }));
}

TEST_F(TransportTest, HostileDatagramsAreCountedNeverDelivered) {
  Peer b(io, {key_of(1)});
  Keyring same({key_of(1)});
  std::uint64_t x = 88172645463325252ULL;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int sent = 0;
  for (int i = 0; i < 200; ++i, ++sent) {
    Bytes junk(next() % 1500);
    for (auto& c : junk) c = static_cast<std::uint8_t>(next());
    if (i % 2 == 0 && !junk.empty()) junk[0] = kSealFormat;
    raw_datagram(b, junk);
    // Let the transport keep up (the kernel drops what overflows its buffer).
    if (i % 10 == 9) {
      ASSERT_TRUE(run_until([&] { return b.transport->keyring().counters().rejected_total() == std::uint64_t(i + 1); }));
    }
  }
  raw_datagram(b, Bytes(3000, 0x01));   // oversize
  raw_datagram(b, Bytes{});             // empty
  raw_datagram(b, Bytes{kSealFormat});  // truncated
  sent += 3;
  Bytes valid = *same.seal(pattern(64));
  Bytes tampered = valid;
  tampered[20] ^= 0x40;
  raw_datagram(b, tampered);
  ++sent;
  ASSERT_TRUE(run_until([&] { return b.transport->keyring().counters().rejected_total() == std::uint64_t(sent); }))
      << b.transport->keyring().counters().rejected_total() << " of " << sent << ", delivered " << b.received.size()
      << ", receive errors " << b.transport->counters().receive_errors;
  EXPECT_GE(rejected(*b.transport, RejectReason::oversize), 1u);
  EXPECT_TRUE(b.received.empty());
  // A replay of an authentic datagram: the first copy is delivered, the second is not.
  raw_datagram(b, valid);
  raw_datagram(b, valid);
  ASSERT_TRUE(run_until([&] { return rejected(*b.transport, RejectReason::replayed) == 1; }));
  ASSERT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.received[0].bytes, pattern(64));
  // Log lines at counts 1, 2, 4, ... only.
  EXPECT_LT(b.log.size(), 40u);
}

TEST_F(TransportTest, HostileStreamsAreCountedNeverDelivered) {
  TransportOptions o;
  o.max_frame_bytes = 64 * 1024;
  o.io_timeout = Duration::milliseconds(300);
  Peer b(io, {key_of(1)}, "127.0.0.1", o);
  Keyring same({key_of(1)});

  auto s1 = raw_stream(b, frame({}, 0x7fffffffu));  // a frame far over the limit
  auto s2 = raw_stream(b, frame({}, 0));            // an empty frame
  auto s3 = raw_stream(b, frame(pattern(10), 100)); // cut short...
  s3->close();                                      // ...and closed
  auto s4 = raw_stream(b, frame(pattern(100, 5)));  // garbage that fits (not a sealed format)
  auto s5 = raw_stream(b, Bytes{0x00, 0x00});       // half a header, then silence (deadline)
  ASSERT_TRUE(run_until([&] {
    const auto& c = b.transport->counters();
    return rejected(*b.transport, RejectReason::oversize) == 1 &&
           rejected(*b.transport, RejectReason::truncated) == 1 && c.stream_read_errors == 1 &&
           rejected(*b.transport, RejectReason::bad_format) == 1 && c.stream_timeouts == 1;
  })) << b.transport->counters().stream_read_errors << " " << b.transport->counters().stream_timeouts;
  EXPECT_TRUE(b.received.empty());

  // Still serving: a valid frame is delivered.
  auto ok = raw_stream(b, frame(*same.seal(pattern(2000))));
  ASSERT_TRUE(run_until([&] { return b.received.size() == 1; }));
  EXPECT_EQ(b.received[0].bytes, pattern(2000));
}

TEST_F(TransportTest, InboundConnectionsAreBounded) {
  TransportOptions o;
  o.max_inbound_connections = 3;
  o.io_timeout = Duration::seconds(5);
  Peer b(io, {key_of(1)}, "127.0.0.1", o);
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 6; ++i) idle.push_back(raw_stream(b, {}));
  ASSERT_TRUE(run_until([&] { return b.transport->counters().inbound_refused == 3; }));
  // Freeing the slots lets a real sender through again.
  idle.clear();
  Peer a(io, {key_of(1)});
  ASSERT_TRUE(run_until([&] {
    if (b.received.empty()) a.transport->send(Send{b.address, Channel::stream, pattern(10)});
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
    return !b.received.empty();
  }));
}

TEST_F(TransportTest, RefusesOversizeSendsAndBadAddresses) {
  Peer a(io, {key_of(1)});
  Peer b(io, {key_of(1)});
  TransportOptions small;
  small.max_frame_bytes = 1000;
  Peer c(io, {key_of(1)}, "127.0.0.1", small);
  a.transport->send(Send{b.address, Channel::datagram, pattern(1401)});
  c.transport->send(Send{b.address, Channel::stream, pattern(1000)});
  a.transport->send(Send{"no port", Channel::datagram, pattern(1)});
  a.transport->send(Send{"[::1:2", Channel::stream, pattern(1)});
  EXPECT_EQ(a.transport->counters().sends_refused_oversize, 1u);
  EXPECT_EQ(c.transport->counters().sends_refused_oversize, 1u);
  EXPECT_EQ(a.transport->counters().bad_addresses, 2u);
  settle();
  EXPECT_TRUE(b.received.empty());
}

TEST_F(TransportTest, ConnectFailureIsCounted) {
  Peer a(io, {key_of(1)});
  // A port nothing listens on: bound, then closed.
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  a.transport->send(Send{"127.0.0.1:" + std::to_string(port), Channel::stream, pattern(10)});
  ASSERT_TRUE(run_until([&] { return a.transport->counters().connect_failures == 1; }));
}

TEST_F(TransportTest, ResolvesNames) {
  Peer a(io, {key_of(1)});
  Peer b(io, {key_of(1)});
  const std::string port = b.address.substr(b.address.rfind(':') + 1);
  a.transport->send(Send{"localhost:" + port, Channel::datagram, pattern(5)});
  a.transport->send(Send{"localhost:" + port, Channel::stream, pattern(5)});
  a.transport->send(Send{"no-such-host.invalid:" + port, Channel::datagram, pattern(5)});
  ASSERT_TRUE(run_until([&] { return b.received.size() == 2 && a.transport->counters().resolve_failures == 1; }));
}

TEST_F(TransportTest, BindConflictNamesTheAddress) {
  Peer a(io, {});
  TransportOptions o;
  auto hp = HostPort::parse(a.address);
  o.bind = *hp;
  Transport second(io, o, Keyring(), [](Packet) {});
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr(a.address));
  EXPECT_THAT(r.error(), HasSubstr("udp"));
}

TEST_F(TransportTest, NothingIsDeliveredAfterStop) {
  Peer a(io, {key_of(1)});
  Peer b(io, {key_of(1)});
  a.transport->send(Send{b.address, Channel::stream, pattern(100)});
  a.transport->send(Send{b.address, Channel::datagram, pattern(100)});
  b.transport->stop();
  b.transport->stop();  // idempotent
  settle();
  EXPECT_TRUE(b.received.empty());
  // Destroying transports with work pending is safe.
  a.transport->send(Send{b.address, Channel::stream, pattern(100)});
  a.transport.reset();
  b.transport.reset();
  settle();
}

}  // namespace
}  // namespace heck::runtime::cluster
