#include "runtime/cluster/transport.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <chrono>
#include <exception>
#include <map>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <fmt/format.h>

#include "runtime/dns_cache.h"
#include "runtime/log.h"

namespace heck::runtime::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace {

constexpr std::size_t kMaxHostBytes = 253;
constexpr std::size_t kReceiveBufferBytes = 64 * 1024;  // any UDP datagram fits

std::chrono::nanoseconds to_chrono(Duration d) { return std::chrono::nanoseconds(d.ns()); }

std::string endpoint_text(const asio::ip::address& a, std::uint16_t port) {
  if (a.is_v6()) return fmt::format("[{}]:{}", a.to_string(), port);
  return fmt::format("{}:{}", a.to_string(), port);
}

bool is_timeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > kMaxHostBytes) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
}

}  // namespace

Result<PeerAddress> parse_peer_address(std::string_view text) {
  if (text.empty()) return Error{"empty address (expected HOST:PORT)"};
  if (text.size() > kMaxHostBytes + 8) return Error{"address too long"};
  PeerAddress out;
  std::string_view host;
  std::string_view port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error{fmt::format("'{}': unterminated '['", sanitize_for_log(text))};
    host = text.substr(1, close - 1);
    const auto after = text.substr(close + 1);
    if (after.size() < 2 || after.front() != ':') {
      return Error{fmt::format("'{}': expected [IPv6]:PORT", sanitize_for_log(text))};
    }
    port_text = after.substr(1);
    boost::system::error_code ec;
    const auto a = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return Error{fmt::format("'{}': not an IPv6 address in brackets", sanitize_for_log(text))};
    out.host = a.to_string();
    out.is_ip = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{fmt::format("'{}': expected HOST:PORT", sanitize_for_log(text))};
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{fmt::format("'{}': put IPv6 addresses in brackets, e.g. [::1]:7946", sanitize_for_log(text))};
    }
    boost::system::error_code ec;
    const auto a = asio::ip::make_address_v4(std::string(host), ec);
    if (!ec) {
      out.host = a.to_string();
      out.is_ip = true;
    } else if (valid_host_name(host)) {
      out.host = std::string(host);
    } else {
      return Error{fmt::format("'{}': '{}' is neither an IP address nor a host name", sanitize_for_log(text),
                               sanitize_for_log(host))};
    }
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{fmt::format("'{}': '{}' is not a port (1-65535)", sanitize_for_log(text), sanitize_for_log(port_text))};
  }
  const unsigned long port = std::stoul(std::string(port_text));
  if (port == 0 || port > 65535) {
    return Error{fmt::format("'{}': '{}' is not a port (1-65535)", sanitize_for_log(text), port_text)};
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

// --- shared state -------------------------------------------------------------

struct Connection {
  virtual ~Connection() = default;
  virtual void close() = 0;
};

struct Transport::State : std::enable_shared_from_this<Transport::State> {
  State(asio::io_context& io_, TransportOptions options_, Keyring keyring_, Deliver deliver_, Log log_)
      : io(io_),
        options(std::move(options_)),
        keyring(std::move(keyring_)),
        deliver(std::move(deliver_)),
        log(std::move(log_)),
        udp_socket(io_),
        acceptor(io_),
        accept_retry(io_),
        dns(io_, DnsCacheOptions{.ttl = Duration::seconds(30),
                                 .negative_ttl = Duration::seconds(5),
                                 .max_entries = 1024,
                                 .max_pending = 64,
                                 .max_waiters = 256}),
        receive_buffer(kReceiveBufferBytes) {}

  std::size_t max_datagram_wire_bytes() const {
    return options.max_packet_bytes + (keyring.encrypted() ? kSealOverheadBytes : 0);
  }

  void say(std::string_view text) {
    if (!log) return;
    try {
      log(text);
    } catch (...) {
    }
  }

  // Counts (unless the keyring already did) and logs at counts 1, 2, 4, ...
  void rejected(RejectReason reason, std::string_view from, bool count) {
    if (count) keyring.count_rejected(reason);
    const std::uint64_t n = keyring.counters().rejected[static_cast<std::size_t>(reason)];
    if (std::has_single_bit(n)) {
      say(fmt::format("cluster: rejected a packet from {}: {} ({} so far)", from, to_string(reason), n));
    }
  }

  void hand_over(Packet p) {
    if (stopped || !deliver) return;
    try {
      deliver(std::move(p));
    } catch (const std::exception& e) {
      say(fmt::format("cluster: delivering a packet failed: {}", sanitize_for_log(e.what())));
    } catch (...) {
      say("cluster: delivering a packet failed");
    }
  }

  void do_receive();
  void on_datagram(const boost::system::error_code& ec, std::size_t n);
  void do_accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  void send_datagram(Bytes sealed, const asio::ip::address& to, std::uint16_t port);
  void send_stream(Bytes frame, const asio::ip::address& to, std::uint16_t port);
  std::uint64_t track(const std::shared_ptr<Connection>& c) {
    const std::uint64_t id = next_connection_id++;
    connections[id] = c;
    return id;
  }

  asio::io_context& io;
  TransportOptions options;
  Keyring keyring;
  Deliver deliver;
  Log log;
  udp::socket udp_socket;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  DnsCache dns;
  std::vector<std::uint8_t> receive_buffer;
  udp::endpoint sender;
  HostPort local;
  bool local_is_v6 = false;
  bool started = false;
  bool stopped = false;
  TransportCounters counters;
  std::size_t pending_datagrams = 0;
  std::size_t inbound_open = 0;
  std::size_t outbound_open = 0;
  std::size_t inbound_buffer_bytes = 0;
  std::uint64_t next_connection_id = 1;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections;
};

// --- UDP ----------------------------------------------------------------------

void Transport::State::do_receive() {
  if (stopped) return;
  udp_socket.async_receive_from(asio::buffer(receive_buffer), sender,
                                [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                  self->on_datagram(ec, n);
                                });
}

void Transport::State::on_datagram(const boost::system::error_code& ec, std::size_t n) {
  if (stopped) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // e.g. ECONNREFUSED queued by an ICMP error; the socket still works.
    ++counters.receive_errors;
    do_receive();
    return;
  }
  const std::string from = endpoint_text(sender.address(), sender.port());
  if (n > max_datagram_wire_bytes()) {
    rejected(RejectReason::oversize, from, true);
  } else {
    Opened o = keyring.open(std::span<const std::uint8_t>(receive_buffer.data(), n));
    if (!o.ok) {
      rejected(o.reason, from, false);
    } else {
      ++counters.datagrams_received;
      counters.datagram_bytes_received += n;
      hand_over(Packet{from, Channel::datagram, std::move(o.plaintext)});
    }
  }
  do_receive();
}

void Transport::State::send_datagram(Bytes sealed, const asio::ip::address& to, std::uint16_t port) {
  auto buf = std::make_shared<Bytes>(std::move(sealed));
  udp_socket.async_send_to(asio::buffer(*buf), udp::endpoint(to, port),
                           [self = shared_from_this(), buf](const boost::system::error_code& ec, std::size_t n) {
                             --self->pending_datagrams;
                             if (ec) {
                               if (ec != asio::error::operation_aborted) ++self->counters.send_errors;
                               return;
                             }
                             ++self->counters.datagrams_sent;
                             self->counters.datagram_bytes_sent += n;
                           });
}

// --- TCP: inbound -------------------------------------------------------------

class InboundConnection : public Connection, public std::enable_shared_from_this<InboundConnection> {
 public:
  InboundConnection(std::shared_ptr<Transport::State> state, tcp::socket socket, std::string from)
      : state_(std::move(state)), stream_(std::move(socket)), from_(std::move(from)) {
    ++state_->inbound_open;
  }
  ~InboundConnection() override {
    --state_->inbound_open;
    state_->inbound_buffer_bytes -= reserved_;
    state_->connections.erase(id_);
  }

  void start(std::uint64_t id) {
    id_ = id;
    // One deadline for the whole frame (slow senders cannot hold a slot).
    stream_.expires_after(to_chrono(state_->options.io_timeout));
    asio::async_read(stream_, asio::buffer(header_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->on_header(ec);
                     });
  }

  void close() override {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void failed(const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted && state_->stopped) return;
    if (is_timeout(ec)) {
      ++state_->counters.stream_timeouts;
    } else {
      ++state_->counters.stream_read_errors;
    }
  }

  void on_header(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (ec) return failed(ec);
    const std::uint32_t n = (static_cast<std::uint32_t>(header_[0]) << 24) |
                            (static_cast<std::uint32_t>(header_[1]) << 16) |
                            (static_cast<std::uint32_t>(header_[2]) << 8) | header_[3];
    if (n == 0) return state_->rejected(RejectReason::truncated, from_, true);
    if (n > state_->options.max_frame_bytes) return state_->rejected(RejectReason::oversize, from_, true);
    if (state_->inbound_buffer_bytes + n > state_->options.max_inbound_buffer_bytes) {
      ++state_->counters.inbound_refused;
      return;
    }
    reserved_ = n;
    state_->inbound_buffer_bytes += n;
    body_.resize(n);
    asio::async_read(stream_, asio::buffer(body_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->on_body(ec);
                     });
  }

  void on_body(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (ec) return failed(ec);
    close();
    Opened o = state_->keyring.open(body_);
    if (!o.ok) return state_->rejected(o.reason, from_, false);
    ++state_->counters.streams_received;
    state_->counters.stream_bytes_received += body_.size() + header_.size();
    body_.clear();
    body_.shrink_to_fit();
    state_->hand_over(Packet{from_, Channel::stream, std::move(o.plaintext)});
  }

  std::shared_ptr<Transport::State> state_;
  beast::tcp_stream stream_;
  std::string from_;
  std::uint64_t id_ = 0;
  std::array<std::uint8_t, 4> header_{};
  Bytes body_;
  std::size_t reserved_ = 0;
};

void Transport::State::do_accept() {
  if (stopped) return;
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Transport::State::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (stopped) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Out of descriptors and the like: back off instead of spinning.
    ++counters.stream_read_errors;
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->do_accept();
    });
    return;
  }
  if (inbound_open >= options.max_inbound_connections) {
    ++counters.inbound_refused;
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    boost::system::error_code rec;
    const auto peer = socket.remote_endpoint(rec);
    std::string from = rec ? std::string("?") : endpoint_text(peer.address(), peer.port());
    auto c = std::make_shared<InboundConnection>(shared_from_this(), std::move(socket), std::move(from));
    c->start(track(c));
  }
  do_accept();
}

// --- TCP: outbound ------------------------------------------------------------

class OutboundConnection : public Connection, public std::enable_shared_from_this<OutboundConnection> {
 public:
  OutboundConnection(std::shared_ptr<Transport::State> state, Bytes frame)
      : state_(std::move(state)), stream_(state_->io), frame_(std::move(frame)) {}
  ~OutboundConnection() override {
    --state_->outbound_open;
    state_->connections.erase(id_);
  }

  void start(std::uint64_t id, tcp::endpoint to) {
    id_ = id;
    stream_.expires_after(to_chrono(state_->options.connect_timeout));
    stream_.async_connect(to, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->on_connect(ec);
    });
  }

  void close() override {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void on_connect(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (ec) {
      ++state_->counters.connect_failures;
      return;
    }
    stream_.expires_after(to_chrono(state_->options.io_timeout));
    asio::async_write(stream_, asio::buffer(frame_),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                        self->on_write(ec, n);
                      });
  }

  void on_write(const boost::system::error_code& ec, std::size_t n) {
    if (state_->stopped) return;
    if (ec) {
      if (is_timeout(ec)) {
        ++state_->counters.stream_timeouts;
      } else {
        ++state_->counters.send_errors;
      }
      return;
    }
    ++state_->counters.streams_sent;
    state_->counters.stream_bytes_sent += n;
    // Graceful: FIN after the data; the receiver closes its end.
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
  }

  std::shared_ptr<Transport::State> state_;
  beast::tcp_stream stream_;
  Bytes frame_;
  std::uint64_t id_ = 0;
};

void Transport::State::send_stream(Bytes frame, const asio::ip::address& to, std::uint16_t port) {
  // outbound_open was taken by send(); the connection gives it back.
  auto c = std::make_shared<OutboundConnection>(shared_from_this(), std::move(frame));
  c->start(track(c), tcp::endpoint(to, port));
}

// --- Transport ----------------------------------------------------------------

Transport::Transport(asio::io_context& io, TransportOptions options, Keyring keyring, Deliver deliver, Log log)
    : state_(std::make_shared<State>(io, std::move(options), std::move(keyring), std::move(deliver),
                                     std::move(log))) {
  assert(state_->options.max_packet_bytes > 0);
  assert(state_->options.max_frame_bytes > 0 && state_->options.max_frame_bytes <= 0xffffffffu);
}

Transport::~Transport() { stop(); }

Result<HostPort> Transport::start() {
  State& s = *state_;
  assert(!s.started && !s.stopped);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(s.options.bind.host, ec);
  if (ec) return Error{fmt::format("cannot bind {}: not an IP address", s.options.bind.to_string())};

  auto close_all = [&] {
    boost::system::error_code ignored;
    s.udp_socket.close(ignored);
    s.acceptor.close(ignored);
  };
  // With port 0, the kernel picks a free UDP port; TCP may have it taken,
  // so try a few.
  const int attempts = s.options.bind.port == 0 ? 16 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto fail = [&](std::string_view proto, std::string_view step, std::uint16_t port) -> Error {
      close_all();
      return Error{fmt::format("cannot bind {} ({} {}): {}", HostPort{s.options.bind.host, port}.to_string(), proto,
                               step, ec.message())};
    };
    const udp::endpoint uep(ip, s.options.bind.port);
    s.udp_socket.open(uep.protocol(), ec);
    if (ec) return fail("udp", "socket", uep.port());
    // No SO_REUSEADDR on UDP: on Linux it would let a second agent share the port.
    if (ip.is_v6()) s.udp_socket.set_option(asio::ip::v6_only(true), ec);
    s.udp_socket.bind(uep, ec);
    if (ec) return fail("udp", "bind", uep.port());
    {
      boost::system::error_code ignored;  // best effort: the kernel may cap it
      s.udp_socket.set_option(asio::socket_base::receive_buffer_size(static_cast<int>(
                                  std::min<std::size_t>(s.options.udp_receive_buffer_bytes, 1u << 30))),
                              ignored);
    }
    const std::uint16_t port = s.udp_socket.local_endpoint().port();

    const tcp::endpoint tep(ip, port);
    s.acceptor.open(tep.protocol(), ec);
    if (ec) return fail("tcp", "socket", port);
    s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);  // TIME_WAIT after a restart
    if (ip.is_v6()) s.acceptor.set_option(asio::ip::v6_only(true), ec);
    s.acceptor.bind(tep, ec);
    if (ec == asio::error::address_in_use && attempt + 1 < attempts) {
      close_all();
      continue;
    }
    if (ec) return fail("tcp", "bind", port);
    s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("tcp", "listen", port);
    s.local = HostPort{ip.to_string(), port};
    s.local_is_v6 = ip.is_v6();
    s.started = true;
    s.do_receive();
    s.do_accept();
    return s.local;
  }
  return Error{fmt::format("cannot bind {}: no port free for both UDP and TCP", s.options.bind.to_string())};
}

void Transport::send(const Send& send) {
  State& s = *state_;
  if (!s.started || s.stopped) return;
  auto addr = parse_peer_address(send.to);
  if (!addr) {
    ++s.counters.bad_addresses;
    if (std::has_single_bit(s.counters.bad_addresses)) {
      s.say(fmt::format("cluster: cannot send to {}", addr.error()));
    }
    return;
  }
  const bool datagram = send.channel == Channel::datagram;
  if (datagram ? send.bytes.size() > s.options.max_packet_bytes
               : send.bytes.size() + kSealOverheadBytes > s.options.max_frame_bytes) {
    ++s.counters.sends_refused_oversize;
    if (std::has_single_bit(s.counters.sends_refused_oversize)) {
      s.say(fmt::format("cluster: refused to send {} bytes to {} over {} (limit {})", send.bytes.size(),
                        sanitize_for_log(send.to), datagram ? "udp" : "tcp",
                        datagram ? s.options.max_packet_bytes : s.options.max_frame_bytes));
    }
    return;
  }
  if (datagram ? s.pending_datagrams >= s.options.max_pending_datagrams
               : s.outbound_open >= s.options.max_outbound_connections) {
    ++s.counters.sends_dropped;
    return;
  }
  auto sealed = s.keyring.seal(send.bytes);
  if (!sealed) {
    ++s.counters.seal_errors;
    s.say(fmt::format("cluster: {}", sealed.error()));
    return;
  }
  Bytes payload;
  if (datagram) {
    payload = std::move(*sealed);
  } else {
    const auto n = static_cast<std::uint32_t>(sealed->size());
    payload.reserve(4 + sealed->size());
    payload.push_back(static_cast<std::uint8_t>(n >> 24));
    payload.push_back(static_cast<std::uint8_t>(n >> 16));
    payload.push_back(static_cast<std::uint8_t>(n >> 8));
    payload.push_back(static_cast<std::uint8_t>(n));
    payload.insert(payload.end(), sealed->begin(), sealed->end());
  }
  // Taken now, given back when the send ends (also while a name resolves).
  if (datagram) {
    ++s.pending_datagrams;
  } else {
    ++s.outbound_open;
  }
  const std::uint16_t port = addr->port;
  auto dispatch = [state = state_, datagram, port](Bytes bytes, const asio::ip::address& to) {
    if (datagram) {
      state->send_datagram(std::move(bytes), to, port);
    } else {
      state->send_stream(std::move(bytes), to, port);
    }
  };
  auto give_back = [state = state_, datagram] {
    if (datagram) {
      --state->pending_datagrams;
    } else {
      --state->outbound_open;
    }
  };
  if (addr->is_ip) {
    dispatch(std::move(payload), asio::ip::make_address(addr->host));
    return;
  }
  // A name: first address of the UDP socket's family (TCP takes any).
  auto pick = [state = state_, datagram](const DnsCache::Addresses& list) -> const asio::ip::address* {
    for (const auto& a : *list) {
      if (!datagram || a.is_v6() == state->local_is_v6) return &a;
    }
    return list->empty() ? nullptr : &list->front();
  };
  auto answer = [state = state_, dispatch, give_back, pick, host = addr->host](const DnsCache::Answer& a,
                                                                                Bytes bytes) {
    const asio::ip::address* to = !state->stopped && a.ok() ? pick(*a) : nullptr;
    if (state->stopped || !to) {
      if (!state->stopped) {
        ++state->counters.resolve_failures;
        if (std::has_single_bit(state->counters.resolve_failures)) {
          state->say(fmt::format("cluster: cannot resolve {}: {}", host, a.ok() ? "no address" : a.error()));
        }
      }
      give_back();
      return;
    }
    dispatch(std::move(bytes), *to);
  };
  if (const DnsCache::Answer* cached = s.dns.find(addr->host)) {
    answer(*cached, std::move(payload));
    return;
  }
  auto shared_payload = std::make_shared<Bytes>(std::move(payload));
  s.dns.resolve(addr->host, [answer, shared_payload](const DnsCache::Answer& a) {
    answer(a, std::move(*shared_payload));
  });
}

void Transport::stop() {
  State& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  boost::system::error_code ignored;
  s.udp_socket.close(ignored);
  s.acceptor.close(ignored);
  s.accept_retry.cancel();
  s.dns.cancel();
  // Closing may destroy connections, which erase themselves: copy first.
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [id, weak] : s.connections) {
    if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->close();
}

HostPort Transport::local_address() const { return state_->local; }
const TransportCounters& Transport::counters() const { return state_->counters; }
const Keyring& Transport::keyring() const { return state_->keyring; }

}  // namespace heck::runtime::cluster
