#include "runtime/http_server.h"

#include <array>
#include <chrono>
#include <exception>
#include <map>
#include <optional>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/buffers_generator.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <fmt/format.h>

namespace heck::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::nanoseconds to_chrono(Duration d) { return std::chrono::nanoseconds(d.ns()); }

bool is_http_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

class HttpSession;

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(asio::io_context& io_, Handler handler_, HttpServerOptions options_, Observer observer_)
      : io(io_),
        handler(std::move(handler_)),
        options(std::move(options_)),
        observer(std::move(observer_)),
        acceptor(io_),
        retry_timer(io_) {}

  void do_accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  void reject(tcp::socket& socket);
  void observe(unsigned status) {
    if (!observer) return;
    try {
      observer(status);
    } catch (...) {
    }
  }

  asio::io_context& io;
  Handler handler;
  HttpServerOptions options;
  Observer observer;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  bool listening = false;
  bool accepting = false;
  bool stopped = false;
  HttpServerCounters counters;
  std::uint64_t next_session_id = 1;
  std::map<std::uint64_t, std::weak_ptr<HttpSession>> sessions;
};

// One connection: read a request, hand it to the handler, write the reply,
// repeat while keep-alive holds.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<HttpServer::State> state, std::uint64_t id, tcp::socket socket)
      : state_(std::move(state)),
        id_(id),
        stream_(std::move(socket)),
        buffer_(state_->options.max_header_bytes + state_->options.max_body_bytes + 16 * 1024) {}

  ~HttpSession() {
    // The last reference went away (e.g. a handler dropped its Reply).
    close_socket();
    state_->sessions.erase(id_);
    state_->counters.open = state_->sessions.size();
  }

  void start() { do_read(); }

  // Closes the socket; pending operations complete with an error and end.
  void close() {
    closed_ = true;
    close_socket();
  }

  void send(HttpResponse response, bool head, bool keep_alive) {
    if (closed_) return;
    ++served_;
    const bool ka = keep_alive && served_ < state_->options.max_requests_per_connection && !state_->stopped;
    state_->observe(response.status);
    std::optional<http::message_generator> gen;
    if (head) {
      http::response<http::empty_body> r;
      r.version(11);
      r.result(response.status);
      fill_fields(r, response);
      r.content_length(response.body.size());
      r.keep_alive(ka);
      gen.emplace(std::move(r));
    } else {
      http::response<http::string_body> r;
      r.version(11);
      r.result(response.status);
      fill_fields(r, response);
      r.body() = std::move(response.body);
      r.prepare_payload();
      r.keep_alive(ka);
      gen.emplace(std::move(r));
    }
    stream_.expires_after(to_chrono(state_->options.write_timeout));
    beast::async_write(stream_, std::move(*gen),
                       [self = shared_from_this(), ka](const boost::system::error_code& ec, std::size_t) {
                         self->on_write(ec, ka);
                       });
  }

 private:
  template <typename Message>
  void fill_fields(Message& r, const HttpResponse& response) {
    r.set(http::field::server, state_->options.server_header);
    if (!response.content_type.empty()) r.set(http::field::content_type, response.content_type);
    if (!response.allow.empty()) r.set(http::field::allow, response.allow);
    if (!response.www_authenticate.empty()) r.set(http::field::www_authenticate, response.www_authenticate);
    if (response.replayed) r.set("Idempotent-Replayed", "true");
    r.set(http::field::cache_control, "no-store");
  }

  void do_read() {
    if (closed_ || state_->stopped) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_header_bytes));
    parser_->body_limit(state_->options.max_body_bytes);
    stream_.expires_after(to_chrono(state_->options.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return graceful_close();
    if (ec == beast::error::timeout) {
      ++state_->counters.timeouts;
      return close();
    }
    if (ec && is_http_error(ec)) {
      ++state_->counters.bad_requests;
      HttpResponse r;
      std::string what = ec.message();
      if (ec == http::error::body_limit) {
        r.status = 413;
        what = fmt::format("request body larger than {} bytes", state_->options.max_body_bytes);
      } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        r.status = 431;
        what = fmt::format("request header larger than {} bytes", state_->options.max_header_bytes);
      } else {
        r.status = 400;
      }
      r.body = nlohmann_free_error_json(fmt::format("malformed request: {}", what));
      return send(std::move(r), false, false);
    }
    if (ec) return close();  // reset, aborted, ...

    ++state_->counters.requests;
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    req.keep_alive = msg.keep_alive();
    req.authorization = std::string(msg[http::field::authorization]);
    const auto keys = msg.equal_range("Idempotency-Key");
    for (auto it = keys.first; it != keys.second; ++it) {
      if (req.idempotency_key) {
        *req.idempotency_key += ", ";
        *req.idempotency_key += std::string(it->value());
      } else {
        req.idempotency_key = std::string(it->value());
      }
    }
    const bool head = msg.method() == http::verb::head;
    parser_.reset();

    // The Reply keeps this session alive until it is called or dropped.
    auto guard = std::make_shared<ReplyGuard>(shared_from_this(), head, req.keep_alive);
    HttpServer::Reply reply = [guard](HttpResponse response) {
      if (guard->done) return;
      guard->done = true;
      guard->session->send(std::move(response), guard->head, guard->keep_alive);
    };
    try {
      state_->handler(req, std::move(reply));
    } catch (const std::exception& e) {
      if (!guard->done) {
        guard->done = true;
        HttpResponse r;
        r.status = 500;
        r.body = nlohmann_free_error_json(fmt::format("internal error: {}", e.what()));
        send(std::move(r), head, false);
      }
    }
  }

  void on_write(const boost::system::error_code& ec, bool keep_alive) {
    if (ec == beast::error::timeout) ++state_->counters.timeouts;
    if (ec) return close();
    if (!keep_alive) return graceful_close();
    do_read();
  }

  // Sends FIN, then reads and discards what the client still sends (bounded
  // in bytes and time) before closing: closing a socket with unread data
  // makes the kernel send RST, and the client could lose our last response.
  void graceful_close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    linger_read();
  }

  void linger_read() {
    if (closed_ || lingered_bytes_ > kMaxLingerBytes) return close();
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                              self->lingered_bytes_ += n;
                              if (ec) return self->close();
                              self->linger_read();
                            });
  }

  void close_socket() {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  }

  // {"error": "..."} without pulling a JSON library into the server: the
  // texts here are ours, but escape them anyway.
  static std::string nlohmann_free_error_json(std::string_view message) {
    std::string out = "{\"error\": \"";
    for (char c : message) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20 || u >= 0x7f) {
        out += fmt::format("\\u{:04x}", u);
      } else {
        out += c;
      }
    }
    out += "\"}";
    return out;
  }

  struct ReplyGuard {
    ReplyGuard(std::shared_ptr<HttpSession> s, bool h, bool ka) : session(std::move(s)), head(h), keep_alive(ka) {}
    ~ReplyGuard() {
      if (!done) session->close();  // dropped without an answer
    }
    std::shared_ptr<HttpSession> session;
    bool head;
    bool keep_alive;
    bool done = false;
  };

  std::shared_ptr<HttpServer::State> state_;
  std::uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::size_t served_ = 0;
  bool closed_ = false;
  static constexpr std::size_t kMaxLingerBytes = 256 * 1024;
  std::size_t lingered_bytes_ = 0;
  std::array<char, 4096> scratch_{};
};

void HttpServer::State::do_accept() {
  if (stopped) return;
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void HttpServer::State::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (stopped) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // E.g. out of file descriptors: back off instead of spinning.
    ++counters.accept_errors;
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->do_accept();
    });
    return;
  }
  if (sessions.size() >= options.max_connections) {
    ++counters.rejected;
    reject(socket);
  } else {
    ++counters.accepted;
    const std::uint64_t id = next_session_id++;
    auto session = std::make_shared<HttpSession>(shared_from_this(), id, std::move(socket));
    sessions.emplace(id, session);
    counters.open = sessions.size();
    session->start();
  }
  do_accept();
}

void HttpServer::State::reject(tcp::socket& socket) {
  static constexpr std::string_view kBody = R"({"error": "too many connections"})";
  const std::string msg = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\nRetry-After: 1\r\n\r\n{}",
      kBody.size(), kBody);
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(msg), ignored);  // best effort, never blocks
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  observe(503);
}

// --- HttpServer -------------------------------------------------------------------

HttpServer::HttpServer(asio::io_context& io, Handler handler, HttpServerOptions options, Observer observer)
    : state_(std::make_shared<State>(io, std::move(handler), std::move(options), std::move(observer))) {}

HttpServer::~HttpServer() { stop(); }

Result<tcp::endpoint> HttpServer::listen(const HostPort& address) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address.host, ec);
  if (ec) return Error{fmt::format("cannot listen on {}: not an IP address", address.to_string())};
  const tcp::endpoint ep(ip, address.port);
  auto fail = [&](std::string_view what) -> Result<tcp::endpoint> {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    return Error{fmt::format("cannot listen on {}: {} ({})", address.to_string(), ec.message(), what)};
  };
  state_->acceptor.open(ep.protocol(), ec);
  if (ec) return fail("socket");
  state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  if (ip.is_v6()) state_->acceptor.set_option(asio::ip::v6_only(true), ec);
  state_->acceptor.bind(ep, ec);
  if (ec) return fail("bind");
  state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  state_->listening = true;
  return state_->acceptor.local_endpoint();
}

void HttpServer::start() {
  assert(state_->listening);
  if (state_->accepting || state_->stopped) return;
  state_->accepting = true;
  state_->do_accept();
}

void HttpServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry_timer.cancel();
  // Copy first: closing may destroy sessions, which erase themselves.
  std::vector<std::shared_ptr<HttpSession>> open;
  for (auto& [id, weak] : state_->sessions) {
    if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  for (auto& s : open) s->close();
}

tcp::endpoint HttpServer::local_endpoint() const {
  boost::system::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? tcp::endpoint{} : ep;
}

const HttpServerCounters& HttpServer::counters() const { return state_->counters; }

}  // namespace heck::runtime
