// The checker: one heap object per check (CheckOp) holding everything the
// check needs — its socket, optional TLS stream, deadline timer, request text,
// read buffer and response parser — kept alive by the handlers that refer to
// it. The Checker itself keeps intrusive lists of live checks (for shutdown)
// and of queued checks (the FIFO behind max_concurrent), so queueing and
// cancelling never allocate.
//
// Finishing a check (finish()) is the one place that: marks it finished,
// unlinks it, cancels its timer, closes its socket (which makes any pending
// operation complete with an error), frees its slot, starts queued checks, and
// posts the callback. Every handler starts by returning if its check is
// already finished, and a finished check never touches the Checker again, so
// late handlers are harmless even after the Checker is gone.
#include "runtime/checker.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/intrusive/list.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "runtime/dns_cache.h"
#include "runtime/http_request.h"

namespace heck::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace bi = boost::intrusive;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A response body that is either discarded or appended to a string. The
// parser's body_limit bounds it either way, so an endless body fails with
// body_limit instead of being buffered.
struct SinkBody {
  struct value_type {
    std::string* keep = nullptr;  // null: discard
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& v) : v_(v) {}

    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      ec = {};
      if (v_.keep && length && *length < (1u << 20)) v_.keep->reserve(static_cast<std::size_t>(*length));
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
        const asio::const_buffer b = *it;
        if (v_.keep) v_.keep->append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      return n;
    }

    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& v_;
  };
};

using Parser = http::response_parser<SinkBody>;
using TlsStream = beast::ssl_stream<tcp::socket&>;

enum class Phase : std::uint8_t { queued, resolving, connecting, handshaking, writing, reading };

std::string_view describe(Phase p) {
  switch (p) {
    case Phase::queued: return "waiting for a free slot";
    case Phase::resolving: return "resolving the host name";
    case Phase::connecting: return "connecting";
    case Phase::handshaking: return "in the TLS handshake";
    case Phase::writing: return "sending the request";
    case Phase::reading: return "reading the response";
  }
  return "running";
}

Duration since(SteadyClock::time_point start) {
  return Duration::nanoseconds(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count());
}

std::string endpoint_text(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

constexpr int kMaxInterimResponses = 4;  // 1xx responses skipped before the final one

// How long until the peer's leaf certificate expires (negative once it has),
// by the system clock; nullopt without a certificate. Clamped to ±100 years.
std::optional<Duration> leaf_certificate_expires_in(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  int days = 0;
  int seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)) != 1) return std::nullopt;
  constexpr int kMaxDays = 36'525;
  if (days > kMaxDays) return Duration::seconds(std::int64_t{kMaxDays} * 86'400);
  if (days < -kMaxDays) return Duration::seconds(-std::int64_t{kMaxDays} * 86'400);
  return Duration::seconds(std::int64_t{days} * 86'400 + seconds);
}

}  // namespace

struct Checker::Impl {
  struct CheckOp : std::enable_shared_from_this<CheckOp> {
    CheckOp(asio::io_context& io, std::shared_ptr<const TargetSpec> s, Duration t, Callback d,
            SteadyClock::time_point now, std::size_t buffer_limit)
        : spec(std::move(s)),
          done(std::move(d)),
          timeout(t),
          start(now),
          timer(io),
          socket(io),
          buffer(buffer_limit) {}

    Impl* impl = nullptr;  // null once finished
    std::shared_ptr<const TargetSpec> spec;
    Callback done;
    Duration timeout;
    SteadyClock::time_point start;
    SteadyClock::time_point deadline;
    SteadyClock::duration max_wait;  // in the queue; see max_queue_wait_fraction
    asio::steady_timer timer;
    tcp::socket socket;
    std::optional<TlsStream> tls;
    std::optional<Duration> tls_cert_expires_in;  // read after the handshake
    std::optional<Parser> parser;
    beast::flat_buffer buffer;
    std::string request;
    std::string body;
    DnsCache::Addresses addresses;  // from the cache, or null for an IP literal
    asio::ip::address literal;
    bool host_is_ip = false;
    std::size_t next_address = 0;
    tcp::endpoint endpoint;
    error_code connect_error;
    Phase phase = Phase::queued;
    bool finished = false;
    bool active = false;  // holds a concurrency slot
    int interim_responses = 0;
    bi::list_member_hook<> all_hook;
    bi::list_member_hook<> queue_hook;
  };

  using AllList = bi::list<CheckOp, bi::member_hook<CheckOp, bi::list_member_hook<>, &CheckOp::all_hook>>;
  using QueueList = bi::list<CheckOp, bi::member_hook<CheckOp, bi::list_member_hook<>, &CheckOp::queue_hook>>;

  Impl(asio::io_context& io_context, CheckerOptions opts)
      : io(io_context), options(std::move(opts)), dns(io_context, dns_options(options)), tls_ctx(ssl::context::tls_client) {
    assert(options.max_concurrent > 0);
    max_wait_fraction = std::clamp(options.max_queue_wait_fraction, 0.0, 1.0);
    init_tls();
  }

  ~Impl() { shutdown(); }

  static DnsCacheOptions dns_options(const CheckerOptions& o) {
    DnsCacheOptions d;
    d.ttl = o.dns_ttl;
    d.negative_ttl = o.dns_negative_ttl;
    d.max_entries = o.max_dns_entries > 0 ? o.max_dns_entries : 1;
    return d;
  }

  void init_tls() {
    tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(tls_ctx.native_handle(), TLS1_2_VERSION);
    error_code ec;
    tls_ctx.set_default_verify_paths(ec);
    if (ec) tls_setup_error = fmt::format("cannot use the system trust store: {}", ec.message());
    if (!options.tls_ca_file.empty()) {
      tls_ctx.load_verify_file(options.tls_ca_file, ec);
      if (ec) tls_setup_error = fmt::format("cannot load tls_ca_file '{}': {}", options.tls_ca_file, ec.message());
    }
  }

  // --- entry points -----------------------------------------------------

  void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) {
    assert(spec && done);
    if (shut_down) {
      reject(std::move(done), "the checker is shut down");
      return;
    }
    if (active >= options.max_concurrent && queue.size() >= options.max_queued) {
      reject(std::move(done), fmt::format("checker queue full ({} waiting)", queue.size()));
      return;
    }
    const auto now = SteadyClock::now();
    auto op = std::make_shared<CheckOp>(io, std::move(spec), timeout, std::move(done), now,
                                        options.max_header_bytes + 16 * 1024);
    op->impl = this;
    all.push_back(*op);
    op->deadline = now + std::chrono::nanoseconds(std::max<std::int64_t>(timeout.ns(), 0));
    op->max_wait = std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(timeout.ns(), 0)) * max_wait_fraction));
    op->timer.expires_at(op->deadline);
    op->timer.async_wait([op](const error_code& ec) {
      if (ec || op->finished) return;
      op->impl->on_deadline(*op);
    });
    if (active < options.max_concurrent && queue.empty()) {
      begin(*op);
    } else {
      queue.push_back(*op);
      ++counters.queued_total;
      pump();
    }
  }

  void shutdown() {
    shut_down = true;
    dns.cancel();
    while (!all.empty()) {
      fail(all.front(), CheckReason::network_error, "cancelled: the checker is shutting down");
    }
  }

  // --- the steps of one check -------------------------------------------

  void begin(CheckOp& op) {
    assert(!op.active && !op.finished);
    op.active = true;
    ++active;
    ++counters.started;
    const Url& url = op.spec->url;
    if (url.scheme != Scheme::tcp) {
      std::string error;
      if (!write_http_request(*op.spec, options.user_agent, op.request, error)) {
        fail(op, CheckReason::network_error, fmt::format("invalid request: {}", error));
        return;
      }
    }
    error_code ec;
    op.literal = asio::ip::make_address(url.host, ec);
    if (!ec) {
      op.host_is_ip = true;
      connect_next(op);
      return;
    }
    if (const DnsCache::Answer* cached = dns.find(url.host)) {
      if (cached->ok()) {
        op.addresses = cached->value();
        connect_next(op);
      } else {
        fail(op, CheckReason::dns_failure, cached->error());
      }
      return;
    }
    op.phase = Phase::resolving;
    // A weak reference: a check that times out while the lookup runs is freed
    // at once instead of being held by the lookup's list of waiters.
    dns.resolve(url.host, [weak = op.weak_from_this()](const DnsCache::Answer& answer) {
      const auto self = weak.lock();
      if (!self || self->finished) return;
      if (!answer.ok()) {
        self->impl->fail(*self, CheckReason::dns_failure, answer.error());
        return;
      }
      self->addresses = answer.value();
      self->impl->connect_next(*self);
    });
  }

  void connect_next(CheckOp& op) {
    op.phase = Phase::connecting;
    const std::size_t count = op.addresses ? op.addresses->size() : 1;
    while (op.next_address < count) {
      const auto& address = op.addresses ? (*op.addresses)[op.next_address] : op.literal;
      ++op.next_address;
      op.endpoint = tcp::endpoint(address, op.spec->url.port);
      error_code ec;
      if (op.socket.is_open()) op.socket.close(ec);
      op.socket.open(op.endpoint.protocol(), ec);
      if (ec) {
        op.connect_error = ec;
        continue;
      }
      op.socket.async_connect(op.endpoint, [self = op.shared_from_this()](const error_code& e) {
        if (self->finished) return;
        self->impl->on_connect(*self, e);
      });
      return;
    }
    fail_connect(op);
  }

  void on_connect(CheckOp& op, const error_code& ec) {
    if (ec) {
      op.connect_error = ec;
      connect_next(op);  // the next address, or fail with this error
      return;
    }
    switch (op.spec->url.scheme) {
      case Scheme::tcp:
        finish(op, CheckOutcome::connected(since(op.start)));
        return;
      case Scheme::https:
        start_tls(op);
        return;
      case Scheme::http:
        write_request(op, op.socket);
        return;
    }
  }

  void fail_connect(CheckOp& op) {
    const error_code ec = op.connect_error;
    const std::string where = endpoint_text(op.endpoint);
    if (ec == asio::error::connection_refused) {
      fail(op, CheckReason::connection_refused, where);
    } else if (ec == asio::error::timed_out) {
      fail(op, CheckReason::timeout, fmt::format("connecting to {}: {}", where, ec.message()));
    } else {
      fail(op, CheckReason::network_error,
           fmt::format("connecting to {}: {}", where, ec ? ec.message() : "no usable address"));
    }
  }

  void start_tls(CheckOp& op) {
    if (!tls_setup_error.empty()) {
      fail(op, CheckReason::tls_failure, tls_setup_error);
      return;
    }
    op.phase = Phase::handshaking;
    op.tls.emplace(op.socket, tls_ctx);
    SSL* ssl = op.tls->native_handle();
    const std::string& host = op.spec->url.host;
    bool ok = true;
    if (!op.host_is_ip) ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;  // SNI is for names only
    if (op.spec->http->tls_verify) {
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (op.host_is_ip) {
        ok = ok && X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
      } else {
        ok = ok && SSL_set1_host(ssl, host.c_str()) == 1;
      }
    } else {
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    if (!ok) {
      fail(op, CheckReason::tls_failure, fmt::format("cannot set up TLS for host '{}'", host));
      return;
    }
    op.tls->async_handshake(ssl::stream_base::client, [self = op.shared_from_this()](const error_code& ec) {
      if (self->finished) return;
      self->impl->on_handshake(*self, ec);
    });
  }

  void on_handshake(CheckOp& op, const error_code& ec) {
    if (ec) {
      std::string detail;
      const long verify = SSL_get_verify_result(op.tls->native_handle());
      if (op.spec->http->tls_verify && verify != X509_V_OK) {
        detail = fmt::format("certificate verification failed: {}", X509_verify_cert_error_string(verify));
      } else {
        detail = fmt::format("handshake with {} failed: {}", endpoint_text(op.endpoint), ec.message());
      }
      fail(op, CheckReason::tls_failure, std::move(detail));
      return;
    }
    op.tls_cert_expires_in = leaf_certificate_expires_in(op.tls->native_handle());
    write_request(op, *op.tls);
  }

  template <typename Stream>
  void write_request(CheckOp& op, Stream& stream) {
    op.phase = Phase::writing;
    asio::async_write(stream, asio::buffer(op.request),
                      [self = op.shared_from_this(), &stream](const error_code& ec, std::size_t) {
                        if (self->finished) return;
                        if (ec) {
                          self->impl->fail(*self, CheckReason::network_error,
                                           fmt::format("sending the request: {}", ec.message()));
                          return;
                        }
                        self->phase = Phase::reading;
                        if constexpr (std::is_same_v<Stream, tcp::socket>) {
                          // Wait until the answer is there before reading: saves the
                          // read that would only find nothing yet (one syscall a check).
                          self->socket.async_wait(tcp::socket::wait_read, [self](const error_code& e) {
                            if (self->finished) return;
                            if (e) {
                              self->impl->fail(*self, CheckReason::network_error,
                                               fmt::format("waiting for the response: {}", e.message()));
                              return;
                            }
                            self->impl->read_response(*self, self->socket);
                          });
                        } else {
                          self->impl->read_response(*self, stream);
                        }
                      });
  }

  template <typename Stream>
  void read_response(CheckOp& op, Stream& stream) {
    op.phase = Phase::reading;
    op.parser.emplace();
    op.parser->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX)));
    op.parser->body_limit(options.max_body_bytes);
    if (op.spec->http->method == "HEAD") op.parser->skip(true);
    op.body.clear();
    if (op.spec->http->expect_body) op.parser->get().body().keep = &op.body;
    http::async_read(stream, op.buffer, *op.parser,
                     [self = op.shared_from_this(), &stream](const error_code& ec, std::size_t) {
                       if (self->finished) return;
                       self->impl->on_response(*self, stream, ec);
                     });
  }

  template <typename Stream>
  void on_response(CheckOp& op, Stream& stream, error_code ec) {
    if (ec == ssl::error::stream_truncated && op.parser->is_header_done() && op.parser->need_eof()) {
      // A body delimited by the end of the connection, closed without a TLS
      // close_notify: common and harmless for a health check.
      op.parser->put_eof(ec);
    }
    if (ec) {
      fail_read(op, ec);
      return;
    }
    const int status = op.parser->get().result_int();
    if (status >= 100 && status < 200 && status != 101 && ++op.interim_responses <= kMaxInterimResponses) {
      read_response(op, stream);  // an interim response (100 Continue, 103 Early Hints): the final one follows
      return;
    }
    finish(op, CheckOutcome::response(status, since(op.start), std::move(op.body)));
  }

  void fail_read(CheckOp& op, const error_code& ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      fail(op, CheckReason::response_too_large,
           fmt::format("response headers exceed {} bytes", options.max_header_bytes));
    } else if (ec == http::error::body_limit) {
      fail(op, CheckReason::response_too_large, fmt::format("response body exceeds {} bytes", options.max_body_bytes));
    } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
      fail(op, CheckReason::protocol_error,
           ec == http::error::end_of_stream ? std::string("connection closed before a response")
                                            : fmt::format("invalid HTTP response: {}", ec.message()));
    } else if (ec == ssl::error::stream_truncated) {
      fail(op, CheckReason::protocol_error, "connection closed in the middle of the response");
    } else if (ec.category() == asio::error::get_ssl_category()) {
      fail(op, CheckReason::tls_failure, fmt::format("reading the response: {}", ec.message()));
    } else {
      fail(op, CheckReason::network_error, fmt::format("reading the response: {}", ec.message()));
    }
  }

  void on_deadline(CheckOp& op) {
    ++counters.timeouts;
    fail(op, CheckReason::timeout, fmt::format("no answer within {} ms ({})", op.timeout.ms(), describe(op.phase)));
  }

  // --- completion -------------------------------------------------------

  void fail(CheckOp& op, CheckReason why, std::string detail) {
    finish(op, CheckOutcome::failure(why, since(op.start), std::move(detail)));
  }

  void finish(CheckOp& op, CheckOutcome outcome) {
    assert(!op.finished);
    op.finished = true;
    op.impl = nullptr;
    if (op.queue_hook.is_linked()) queue.erase(queue.iterator_to(op));
    all.erase(all.iterator_to(op));
    op.timer.cancel();
    error_code ignored;
    op.socket.close(ignored);  // pending operations complete with an error and find the op finished
    if (op.active) {
      op.active = false;
      --active;
    }
    outcome.tls_cert_expires_in = op.tls_cert_expires_in;
    deliver(std::move(op.done), std::move(outcome));
    pump();
  }

  void reject(Callback done, std::string detail) {
    ++counters.rejected;
    deliver(std::move(done), CheckOutcome::failure(CheckReason::network_error, Duration::zero(), std::move(detail)));
  }

  void deliver(Callback done, CheckOutcome outcome) {
    ++counters.completed;
    asio::post(io, [done = std::move(done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
  }

  // Starts queued checks while slots are free. Not re-entrant: a check that
  // fails at once inside begin() calls finish() -> pump(), which returns and
  // leaves the loop here to go on.
  void pump() {
    if (pumping) return;
    pumping = true;
    while (!shut_down && active < options.max_concurrent && !queue.empty()) {
      CheckOp& op = queue.front();
      queue.pop_front();
      const auto now = SteadyClock::now();
      if (now >= op.deadline) {
        on_deadline(op);  // expired while waiting (its timer has not run yet): no doomed connection
      } else if (now - op.start > op.max_wait) {
        ++counters.shed;
        fail(op, CheckReason::timeout,
             fmt::format("not started: waited {} ms of its {} ms for a free slot (checker overloaded)",
                         since(op.start).ms(), op.timeout.ms()));
      } else {
        begin(op);
      }
    }
    pumping = false;
  }

  asio::io_context& io;
  CheckerOptions options;
  DnsCache dns;
  ssl::context tls_ctx;
  std::string tls_setup_error;
  AllList all;
  QueueList queue;
  std::size_t active = 0;
  double max_wait_fraction = 1.0;
  bool pumping = false;
  bool shut_down = false;
  CheckerCounters counters;
};

Checker::Checker(asio::io_context& io, CheckerOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

Checker::~Checker() = default;

void Checker::run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) {
  impl_->run(std::move(spec), timeout, std::move(done));
}

void Checker::shutdown() { impl_->shutdown(); }

std::size_t Checker::in_flight() const { return impl_->active; }

std::size_t Checker::queued() const { return impl_->queue.size(); }

const CheckerCounters& Checker::counters() const {
  CheckerCounters& c = impl_->counters;
  const DnsCacheCounters& d = impl_->dns.counters();
  c.dns_cache_hits = d.hits + d.negative_hits;
  c.dns_lookups = d.lookups;
  c.dns_coalesced = d.coalesced;
  return c;
}

const CheckerOptions& Checker::options() const { return impl_->options; }

}  // namespace heck::runtime
