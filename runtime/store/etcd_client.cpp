#include "runtime/store/etcd_client.h"

#include <chrono>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace heck::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<std::vector<EtcdEndpoint>> parse_etcd_endpoints(std::string_view text) {
  std::vector<EtcdEndpoint> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (one.empty()) continue;
    constexpr std::string_view kScheme = "http://";
    if (!one.starts_with(kScheme)) {
      return Error{fmt::format("etcd endpoint '{}': must start with http://", one)};
    }
    one.remove_prefix(kScheme.size());
    if (!one.empty() && one.back() == '/') one.remove_suffix(1);
    const auto colon = one.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == one.size() ||
        one.find('/') != std::string_view::npos) {
      return Error{fmt::format("etcd endpoint 'http://{}': expected http://HOST:PORT", one)};
    }
    std::string_view host = one.substr(0, colon);
    const std::string_view port = one.substr(colon + 1);
    for (char c : port) {
      if (c < '0' || c > '9') return Error{fmt::format("etcd endpoint 'http://{}': bad port", one)};
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    out.push_back(EtcdEndpoint{std::string(host), std::string(port)});
  }
  if (out.empty()) return Error{"no etcd endpoint given (e.g. http://127.0.0.1:2379)"};
  return out;
}

namespace {

constexpr std::uint64_t kMaxAnswerBytes = 512ull << 20;

std::string error_text(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// etcd's own message from an error answer, else the start of the body.
std::string etcd_message(unsigned status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("message") && j["message"].is_string()) return fmt::format("HTTP {}: {}", status, j["message"].get<std::string>());
    if (j.contains("error") && j["error"].is_string()) return fmt::format("HTTP {}: {}", status, j["error"].get<std::string>());
  }
  return fmt::format("HTTP {}: {}", status, body.substr(0, 200));
}

http::request<http::string_body> post(const EtcdEndpoint& e, const std::string& path, std::string body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, e.to_string());
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

}  // namespace

struct EtcdClient::Call {
  Call(asio::io_context& io) : resolver(io), stream(io) {}
  std::string path;
  std::string body;
  std::function<void(store::EtcdReply)> done;
  std::size_t endpoint = 0;
  std::size_t tries = 0;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response_parser<http::string_body> response;
};

struct EtcdClient::Watch {
  Watch(asio::io_context& io) : resolver(io), stream(io) {}
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response_parser<http::string_body> parser;
  std::string pending;  // text after the last newline
  std::function<void(std::string_view)> on_message;
  std::function<void(std::string)> on_closed;
  std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> on_chunk;
  bool closed = false;
  std::string where;
  void close(std::string reason) {
    if (closed) return;
    closed = true;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    if (on_closed) on_closed(std::move(reason));
  }
};

EtcdClient::EtcdClient(asio::io_context& io, std::vector<EtcdEndpoint> endpoints, Duration call_timeout)
    : io_(io), endpoints_(std::move(endpoints)), call_timeout_(call_timeout), alive_(std::make_shared<bool>(true)) {}

EtcdClient::~EtcdClient() { stop(); }

void EtcdClient::stop() {
  *alive_ = false;
  close_watch();
}

void EtcdClient::failed_on(std::size_t endpoint) {
  if (endpoint == current_ % endpoints_.size()) current_ = (endpoint + 1) % endpoints_.size();
}

void EtcdClient::call(std::string path, std::string body, std::function<void(store::EtcdReply)> done) {
  auto c = std::make_shared<Call>(io_);
  c->path = std::move(path);
  c->body = std::move(body);
  c->done = std::move(done);
  c->endpoint = current_ % endpoints_.size();
  attempt(std::move(c));
}

void EtcdClient::attempt(std::shared_ptr<Call> c) {
  const EtcdEndpoint& e = endpoints_[c->endpoint];
  ++c->tries;
  auto alive = alive_;
  auto finish = [this, c, alive](bool ok, std::string error) {
    if (!*alive) return;
    beast::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.close();
    if (!ok) failed_on(c->endpoint);
    store::EtcdReply r;
    r.ok = ok;
    if (ok) r.body = std::move(c->response.get().body());
    r.error = std::move(error);
    c->done(std::move(r));
  };
  c->stream.expires_after(std::chrono::nanoseconds(call_timeout_.ns()));
  c->resolver.async_resolve(e.host, e.port, [this, c, alive, finish](beast::error_code ec, tcp::resolver::results_type results) {
    if (!*alive) return;
    const std::string where = endpoints_[c->endpoint].to_string();
    if (ec) return finish(false, fmt::format("{}: resolve: {}", where, error_text(ec)));
    c->stream.async_connect(results, [this, c, alive, finish, where](beast::error_code ec, const tcp::endpoint&) {
      if (!*alive) return;
      if (ec) {
        // Refused at once: the next member, while there is one left to try.
        if (ec != beast::error::timeout && c->tries < endpoints_.size()) {
          failed_on(c->endpoint);
          c->endpoint = (c->endpoint + 1) % endpoints_.size();
          c->stream.close();
          return attempt(c);
        }
        return finish(false, fmt::format("{}: connect: {}", where, error_text(ec)));
      }
      c->request = post(endpoints_[c->endpoint], c->path, c->body);
      // A full read of a large registry is one answer: far above Beast's 8 MiB default.
      c->response.body_limit(kMaxAnswerBytes);
      http::async_write(c->stream, c->request, [c, alive, finish, where](beast::error_code ec, std::size_t) {
        if (!*alive) return;
        if (ec) return finish(false, fmt::format("{}: write: {}", where, error_text(ec)));
        http::async_read(c->stream, c->buffer, c->response, [c, alive, finish, where](beast::error_code ec, std::size_t) {
          if (!*alive) return;
          if (ec) return finish(false, fmt::format("{}: read: {}", where, error_text(ec)));
          const unsigned status = c->response.get().result_int();
          if (status != 200) {
            return finish(false, fmt::format("{}: {}", where, etcd_message(status, c->response.get().body())));
          }
          finish(true, {});
        });
      });
    });
  });
}

void EtcdClient::close_watch() {
  if (!watch_) return;
  auto w = std::move(watch_);
  w->on_closed = nullptr;
  w->on_message = nullptr;
  w->close("closed");
}

void EtcdClient::open_watch(std::string body, std::function<void(std::string_view)> on_message,
                            std::function<void(std::string)> on_closed) {
  close_watch();
  auto w = std::make_shared<Watch>(io_);
  watch_ = w;
  w->on_message = std::move(on_message);
  w->on_closed = std::move(on_closed);
  const std::size_t endpoint = current_ % endpoints_.size();
  const EtcdEndpoint& e = endpoints_[endpoint];
  w->where = e.to_string();
  w->request = post(e, "/v3/watch", std::move(body));
  w->parser.body_limit(boost::none);
  // The parser keeps a reference to the callback: it lives in the Watch.
  Watch* self = w.get();
  w->on_chunk = [self](std::uint64_t, std::string_view data, beast::error_code&) -> std::size_t {
    self->pending.append(data);
    std::size_t start = 0;
    for (std::size_t nl; (nl = self->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl > start && self->on_message && !self->closed) {
        self->on_message(std::string_view(self->pending).substr(start, nl - start));
      }
    }
    self->pending.erase(0, start);
    return data.size();
  };
  w->parser.on_chunk_body(w->on_chunk);
  auto alive = alive_;
  auto fail = [this, w, alive, endpoint](std::string what) {
    if (!*alive) return;
    failed_on(endpoint);
    w->close(fmt::format("{}: {}", w->where, what));
  };
  w->stream.expires_after(std::chrono::nanoseconds(call_timeout_.ns()));
  w->resolver.async_resolve(e.host, e.port, [w, alive, fail](beast::error_code ec, tcp::resolver::results_type results) {
    if (!*alive || w->closed) return;
    if (ec) return fail(fmt::format("resolve: {}", error_text(ec)));
    w->stream.async_connect(results, [w, alive, fail](beast::error_code ec, const tcp::endpoint&) {
      if (!*alive || w->closed) return;
      if (ec) return fail(fmt::format("connect: {}", error_text(ec)));
      http::async_write(w->stream, w->request, [w, alive, fail](beast::error_code ec, std::size_t) {
        if (!*alive || w->closed) return;
        if (ec) return fail(fmt::format("write: {}", error_text(ec)));
        // The header within the call timeout; then no deadline.
        http::async_read_header(w->stream, w->buffer, w->parser, [w, alive, fail](beast::error_code ec, std::size_t) {
          if (!*alive || w->closed) return;
          if (ec) return fail(fmt::format("read: {}", error_text(ec)));
          if (w->parser.get().result_int() != 200) {
            return fail(fmt::format("HTTP {}", w->parser.get().result_int()));
          }
          w->stream.expires_never();
          auto read_more = std::make_shared<std::function<void()>>();
          *read_more = [w, alive, fail, read_more]() {
            http::async_read_some(w->stream, w->buffer, w->parser, [w, alive, fail, read_more](beast::error_code ec, std::size_t) {
              if (!*alive || w->closed) {
                *read_more = nullptr;  // break the cycle
                return;
              }
              if (ec) {
                *read_more = nullptr;
                return fail(fmt::format("read: {}", error_text(ec)));
              }
              if (w->parser.is_done()) {
                *read_more = nullptr;
                return fail("the stream ended");
              }
              (*read_more)();
            });
          };
          (*read_more)();
        });
      });
    });
  });
}

}  // namespace heck::runtime
