// The alert sender: one heap object per delivery (Delivery) holding its
// resolver, socket, optional TLS stream, deadline timer, request text, read
// buffer and response parser, kept alive by the handlers that refer to it.
// The sender keeps an intrusive list of live deliveries (for shutdown) and
// owns the queued ones (the FIFO behind max_concurrent), which no handler
// holds yet.
//
// Finishing a delivery (finish()) is the one place that: marks it finished,
// unlinks it, cancels its timer and lookup, closes its socket (so pending
// operations complete with an error), frees its slot, posts the callback and
// starts queued deliveries. Every handler starts by returning if its delivery
// is already finished, and a finished delivery never touches the sender
// again, so late handlers are harmless even after the sender is gone.
#include "runtime/alert_sender.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/intrusive/list.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/target_spec.h"
#include "runtime/clock.h"
#include "runtime/http_request.h"

namespace heck::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace bi = boost::intrusive;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using json = nlohmann::json;

namespace {

// --- the bodies --------------------------------------------------------------

// Wall milliseconds as an Instant (clamped to what an Instant holds).
Instant wall_instant(std::uint64_t ms) {
  constexpr std::uint64_t kMaxMs = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / 1'000'000;
  return Instant::from_ns(static_cast<std::int64_t>(std::min(ms, kMaxMs)) * 1'000'000);
}

std::string rfc3339_ms(std::uint64_t ms) { return format_rfc3339(wall_instant(ms), true); }

// Never throws: invalid UTF-8 in a field becomes U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Slack's message text escaping: &, < and > only.
std::string slack_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// --- the request -------------------------------------------------------------

bool field_value_ok(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

std::string host_header(const Url& url) {
  std::string out;
  const bool v6 = url.host.find(':') != std::string::npos;
  if (v6) out += '[';
  out += url.host;
  if (v6) out += ']';
  if (!default_port(url)) out += fmt::format(":{}", url.port);
  return out;
}

std::string build_request(const Url& url, std::string_view user_agent, std::string_view idempotency_key,
                          std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append("POST ").append(url.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host_header(url)).append("\r\n");
  if (!user_agent.empty()) out.append("User-Agent: ").append(user_agent).append("\r\n");
  if (!idempotency_key.empty()) out.append("Idempotency-Key: ").append(idempotency_key).append("\r\n");
  out.append("Content-Type: application/json\r\n");
  out.append(fmt::format("Content-Length: {}\r\n", body.size()));
  out.append("Connection: close\r\n\r\n");
  out.append(body);
  return out;
}

// One line of printable ASCII for an error message, from at most `max` bytes
// of `text` (a non-2xx answer's body, a URL): anything else becomes a space,
// runs of spaces one, "..." marks a cut.
std::string ascii_line(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    const char printable = (u >= 0x20 && u < 0x7f) ? c : ' ';
    if (printable == ' ' && (out.empty() || out.back() == ' ')) continue;  // collapse runs, no leading space
    out += printable;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!out.empty() && text.size() > max) out += "...";
  return out;
}

// --- the delivery ------------------------------------------------------------

using Parser = http::response_parser<http::string_body>;
using TlsStream = beast::ssl_stream<tcp::socket&>;

enum class Phase : std::uint8_t { queued, resolving, connecting, handshaking, writing, reading };

std::string_view describe(Phase p) {
  switch (p) {
    case Phase::queued: return "waiting for a free slot";
    case Phase::resolving: return "resolving the host name";
    case Phase::connecting: return "connecting";
    case Phase::handshaking: return "in the TLS handshake";
    case Phase::writing: return "sending the request";
    case Phase::reading: return "waiting for the response";
  }
  return "running";
}

std::string endpoint_text(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

constexpr int kMaxInterimResponses = 4;  // 1xx answers skipped before the final one

}  // namespace

// --- the bodies (public) -------------------------------------------------------

std::string alert_body_json(const AlertNotification& n) {
  json j = json::object();
  j["id"] = fmt::format("{}-{}", n.sender, n.id);
  j["kind"] = std::string(to_string(n.kind));
  j["repeat"] = n.repeat;
  j["target"] = n.target;
  j["route"] = n.route;
  j["status"] = std::string(to_string(n.status));
  j["reason"] = n.reason;
  j["status_code"] = n.status_code;
  j["observer"] = n.observer;
  j["since"] = n.since_ms == 0 ? json(nullptr) : json(rfc3339_ms(n.since_ms));
  j["at"] = rfc3339_ms(n.at_ms);
  j["sender"] = n.sender;
  j["attempt"] = n.attempt;
  j["dedup_key"] = n.dedup_key;
  return dump(j);
}

std::string alert_body_slack(const AlertNotification& n) {
  const bool resolved = n.kind == AlertKind::resolved;
  std::string text = resolved ? ":large_green_circle: RESOLVED " : ":red_circle: FIRING ";
  if (!resolved && n.repeat) text += "(repeat) ";
  text += slack_escape(n.target);
  text += " is ";
  text += to_string(n.status);
  if (resolved) text += " again";
  std::string detail = slack_escape(n.reason);
  if (n.status_code != 0) detail += fmt::format("{}HTTP {}", detail.empty() ? "" : ", ", n.status_code);
  if (!detail.empty()) text += fmt::format(" ({})", detail);
  if (n.since_ms != 0) text += " since " + rfc3339_ms(n.since_ms);
  std::string by;
  if (!n.observer.empty()) by += "observed by " + slack_escape(n.observer);
  if (!n.sender.empty()) by += (by.empty() ? "sent by " : ", sent by ") + slack_escape(n.sender);
  if (!by.empty()) text += " \u2014 " + by;
  return dump(json{{"text", text}});
}

// --- the sender ----------------------------------------------------------------

struct AlertSender::Impl {
  struct Delivery : std::enable_shared_from_this<Delivery> {
    Delivery(asio::io_context& io, std::uint64_t notification_id, Callback d, std::size_t buffer_limit)
        : id(notification_id), done(std::move(d)), timer(io), resolver(io), socket(io), buffer(buffer_limit) {}

    Impl* impl = nullptr;  // null once finished
    std::uint64_t id = 0;
    Callback done;
    Url url;
    std::string request;
    asio::steady_timer timer;
    tcp::resolver resolver;
    tcp::socket socket;
    std::optional<TlsStream> tls;
    std::optional<Parser> parser;
    beast::flat_buffer buffer;
    std::vector<tcp::endpoint> endpoints;
    std::size_t next_endpoint = 0;
    tcp::endpoint endpoint;  // the one tried last
    error_code connect_error;
    bool host_is_ip = false;
    Phase phase = Phase::queued;
    bool finished = false;
    bool active = false;  // holds a concurrency slot
    int interim_responses = 0;
    bi::list_member_hook<> all_hook;
  };

  using AllList = bi::list<Delivery, bi::member_hook<Delivery, bi::list_member_hook<>, &Delivery::all_hook>>;

  Impl(asio::io_context& io_context, AlertSenderOptions opts)
      : io(io_context), options(std::move(opts)), tls_ctx(ssl::context::tls_client) {
    if (options.max_concurrent == 0) options.max_concurrent = 1;
    init_tls();
  }

  ~Impl() { shutdown(); }

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

  void send(const AlertNotification& n, Callback done) {
    assert(done);
    if (shut_down) {
      reject(n.id, std::move(done), "shutting down");
      return;
    }
    if (active >= options.max_concurrent && queue.size() >= options.max_queued) {
      reject(n.id, std::move(done), "alert queue full");
      return;
    }
    auto url = Url::parse(n.url);
    std::string invalid;
    if (!url) {
      invalid = fmt::format("invalid url '{}': {}", n.url, url.error());
    } else if (url->scheme != Scheme::http && url->scheme != Scheme::https) {
      invalid = fmt::format("invalid url '{}': use http:// or https://", n.url);
    } else if (!field_value_ok(options.user_agent)) {
      invalid = "invalid user_agent option: control characters";
    }
    if (!invalid.empty()) {
      ++counters.failed;
      post_done(std::move(done), NotifyDone{n.id, false, ascii_line(invalid, 400)});
      return;
    }
    auto d = std::make_shared<Delivery>(io, n.id, std::move(done), std::max<std::size_t>(options.max_response_bytes, 1024));
    d->impl = this;
    d->url = std::move(*url);
    d->request = build_request(d->url, options.user_agent, n.dedup_key,
                               n.format == AlertFormat::slack ? alert_body_slack(n) : alert_body_json(n));
    all.push_back(*d);
    if (active < options.max_concurrent && queue.empty()) {
      begin(*d);
    } else {
      queue.push_back(std::move(d));
      pump();
    }
  }

  void shutdown() {
    shut_down = true;
    const std::deque<std::shared_ptr<Delivery>> waiting = std::move(queue);  // alive until every one is failed
    queue.clear();
    while (!all.empty()) fail(all.front(), "shutting down");
  }

  // --- the steps of one delivery ------------------------------------------

  void begin(Delivery& d) {
    assert(!d.active && !d.finished);
    d.active = true;
    ++active;
    ++counters.sent;
    d.timer.expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(options.timeout.ns(), 0)));
    d.timer.async_wait([self = d.shared_from_this()](const error_code& ec) {
      if (ec || self->finished) return;
      self->impl->on_deadline(*self);
    });
    error_code ec;
    const auto literal = asio::ip::make_address(d.url.host, ec);
    if (!ec) {
      d.host_is_ip = true;
      d.endpoints.emplace_back(literal, d.url.port);
      connect_next(d);
      return;
    }
    d.phase = Phase::resolving;
    d.resolver.async_resolve(
        d.url.host, std::to_string(d.url.port), tcp::resolver::address_configured | tcp::resolver::numeric_service,
        [self = d.shared_from_this()](const error_code& e, const tcp::resolver::results_type& results) {
          if (self->finished) return;
          self->impl->on_resolved(*self, e, results);
        });
  }

  void on_resolved(Delivery& d, const error_code& ec, const tcp::resolver::results_type& results) {
    if (ec || results.empty()) {
      fail(d, fmt::format("resolve {}: {}", d.url.host, ec ? ec.message() : "no addresses"));
      return;
    }
    for (const auto& entry : results) d.endpoints.push_back(entry.endpoint());
    connect_next(d);
  }

  void connect_next(Delivery& d) {
    d.phase = Phase::connecting;
    while (d.next_endpoint < d.endpoints.size()) {
      d.endpoint = d.endpoints[d.next_endpoint++];
      error_code ec;
      if (d.socket.is_open()) d.socket.close(ec);
      d.socket.open(d.endpoint.protocol(), ec);
      if (ec) {
        d.connect_error = ec;
        continue;
      }
      d.socket.async_connect(d.endpoint, [self = d.shared_from_this()](const error_code& e) {
        if (self->finished) return;
        self->impl->on_connect(*self, e);
      });
      return;
    }
    fail(d, fmt::format("connect: {} ({})", d.connect_error ? d.connect_error.message() : "no usable address",
                        endpoint_text(d.endpoint)));
  }

  void on_connect(Delivery& d, const error_code& ec) {
    if (ec) {
      d.connect_error = ec;
      connect_next(d);  // the next address, or fail with this error
      return;
    }
    if (d.url.scheme == Scheme::https) {
      start_tls(d);
    } else {
      write_request(d, d.socket);
    }
  }

  void start_tls(Delivery& d) {
    if (!tls_setup_error.empty()) {
      fail(d, "tls: " + tls_setup_error);
      return;
    }
    d.phase = Phase::handshaking;
    d.tls.emplace(d.socket, tls_ctx);
    SSL* ssl = d.tls->native_handle();
    const std::string& host = d.url.host;
    bool ok = true;
    if (!d.host_is_ip) ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;  // SNI is for names only
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (d.host_is_ip) {
      ok = ok && X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
    } else {
      ok = ok && SSL_set1_host(ssl, host.c_str()) == 1;
    }
    if (!ok) {
      fail(d, fmt::format("tls: cannot set up TLS for host '{}'", host));
      return;
    }
    d.tls->async_handshake(ssl::stream_base::client, [self = d.shared_from_this()](const error_code& ec) {
      if (self->finished) return;
      self->impl->on_handshake(*self, ec);
    });
  }

  void on_handshake(Delivery& d, const error_code& ec) {
    if (ec) {
      const long verify = SSL_get_verify_result(d.tls->native_handle());
      if (verify != X509_V_OK) {
        fail(d, fmt::format("tls: certificate verification failed: {}", X509_verify_cert_error_string(verify)));
      } else {
        fail(d, fmt::format("tls: handshake failed: {}", ec.message()));
      }
      return;
    }
    write_request(d, *d.tls);
  }

  template <typename Stream>
  void write_request(Delivery& d, Stream& stream) {
    d.phase = Phase::writing;
    asio::async_write(stream, asio::buffer(d.request),
                      [self = d.shared_from_this(), &stream](const error_code& ec, std::size_t) {
                        if (self->finished) return;
                        if (ec) {
                          self->impl->fail(*self, fmt::format("write: {}", ec.message()));
                          return;
                        }
                        self->impl->read_response(*self, stream);
                      });
  }

  template <typename Stream>
  void read_response(Delivery& d, Stream& stream) {
    d.phase = Phase::reading;
    d.parser.emplace();
    d.parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(options.max_response_bytes, std::numeric_limits<std::uint32_t>::max())));
    d.parser->body_limit(static_cast<std::uint64_t>(options.max_response_bytes));
    http::async_read(stream, d.buffer, *d.parser,
                     [self = d.shared_from_this(), &stream](const error_code& ec, std::size_t) {
                       if (self->finished) return;
                       self->impl->on_response(*self, stream, ec);
                     });
  }

  // A final (non-1xx) status is in: the verdict no longer depends on the body.
  static bool has_final_status(const Delivery& d) {
    return d.parser && d.parser->is_header_done() && d.parser->get().result_int() >= 200;
  }

  template <typename Stream>
  void on_response(Delivery& d, Stream& stream, const error_code& ec) {
    if (!ec && !has_final_status(d) && ++d.interim_responses <= kMaxInterimResponses) {
      read_response(d, stream);  // an interim answer (100 Continue, 103 Early Hints): the final one follows
      return;
    }
    if (has_final_status(d)) {
      conclude(d);  // complete, or its body was too large, cut short or broken: the status decides
      return;
    }
    if (!ec) {
      fail(d, "read: too many interim (1xx) responses");
    } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      fail(d, fmt::format("read: response headers exceed {} bytes", options.max_response_bytes));
    } else if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      fail(d, "read: connection closed before a response");
    } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
      fail(d, fmt::format("read: invalid HTTP response: {}", ec.message()));
    } else {
      fail(d, fmt::format("read: {}", ec.message()));
    }
  }

  void conclude(Delivery& d) {
    const int status = d.parser->get().result_int();
    if (status >= 200 && status < 300) {
      finish(d, NotifyDone{d.id, true, {}});
      return;
    }
    const std::string snippet = ascii_line(d.parser->get().body(), 200);
    fail(d, snippet.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, snippet));
  }

  void on_deadline(Delivery& d) {
    if (has_final_status(d)) {
      conclude(d);  // the answer's head came in time; its body did not
      return;
    }
    fail(d, fmt::format("timeout after {} ms ({})", options.timeout.ms(), describe(d.phase)));
  }

  // --- completion -------------------------------------------------------

  void fail(Delivery& d, std::string error) { finish(d, NotifyDone{d.id, false, std::move(error)}); }

  void finish(Delivery& d, NotifyDone result) {
    assert(!d.finished);
    d.finished = true;
    d.impl = nullptr;
    all.erase(all.iterator_to(d));
    d.timer.cancel();
    d.resolver.cancel();
    error_code ignored;
    d.socket.close(ignored);  // pending operations complete with an error and find the delivery finished
    if (d.active) {
      d.active = false;
      --active;
    }
    if (result.delivered) {
      ++counters.delivered;
    } else {
      ++counters.failed;
    }
    post_done(std::move(d.done), std::move(result));
    pump();
  }

  void reject(std::uint64_t id, Callback done, std::string error) {
    ++counters.rejected;
    post_done(std::move(done), NotifyDone{id, false, std::move(error)});
  }

  void post_done(Callback done, NotifyDone result) {
    asio::post(io, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  // Starts queued deliveries while slots are free. Not re-entrant: a delivery
  // that fails at once inside begin() calls finish() -> pump(), which returns
  // and leaves the loop here to go on.
  void pump() {
    if (pumping) return;
    pumping = true;
    while (!shut_down && active < options.max_concurrent && !queue.empty()) {
      const std::shared_ptr<Delivery> d = std::move(queue.front());
      queue.pop_front();
      begin(*d);  // its handlers own it from here
    }
    pumping = false;
  }

  asio::io_context& io;
  AlertSenderOptions options;
  ssl::context tls_ctx;
  std::string tls_setup_error;
  AllList all;                                    // queued and running, in send() order
  std::deque<std::shared_ptr<Delivery>> queue;  // waiting for a slot, FIFO
  std::size_t active = 0;
  bool pumping = false;
  bool shut_down = false;
  AlertSenderCounters counters;
};

AlertSender::AlertSender(asio::io_context& io, AlertSenderOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

AlertSender::~AlertSender() = default;

void AlertSender::send(const AlertNotification& n, Callback done) { impl_->send(n, std::move(done)); }

void AlertSender::shutdown() { impl_->shutdown(); }

std::size_t AlertSender::in_flight() const { return impl_->active; }

std::size_t AlertSender::queued() const { return impl_->queue.size(); }

const AlertSenderCounters& AlertSender::counters() const { return impl_->counters; }

const AlertSenderOptions& AlertSender::options() const { return impl_->options; }

}  // namespace heck::runtime
