// Test support for the checker tests: tiny servers on 127.0.0.1 ephemeral
// ports, each on its own thread and io_context, whose per-connection behaviour
// is a coroutine; a self-signed certificate made with the OpenSSL API; and a
// harness that runs a Checker on the test's thread with a bound on time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "core/target_spec.h"
#include "runtime/checker.h"

namespace heck::runtime::test_support {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Reads one request head (up to 64 KiB); empty on error.
inline asio::awaitable<std::string> read_head(tcp::socket& s) {
  std::string buf;
  auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, 64 * 1024), "\r\n\r\n", kTuple);
  if (ec) co_return std::string{};
  buf.resize(n);
  co_return buf;
}

// Waits until the peer closes (or 30 s, so a server never outlives a test by much).
inline asio::awaitable<void> wait_for_close(tcp::socket& s) {
  char byte;
  asio::steady_timer guard(s.get_executor(), 30s);
  guard.async_wait([&s](auto ec) {
    if (!ec) s.close();
  });
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), kTuple);
    if (ec) break;
  }
  guard.cancel();
}

inline asio::awaitable<void> write_all(tcp::socket& s, std::string text) {
  co_await asio::async_write(s, asio::buffer(text), kTuple);
}

// A server on 127.0.0.1:<ephemeral> that runs `handler` for every connection.
class TestServer {
 public:
  using Handler = std::function<asio::awaitable<void>(tcp::socket)>;

  explicit TestServer(Handler handler)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), handler_(std::move(handler)) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      io_.stop();
    });
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::string url(const std::string& scheme = "http", const std::string& path = "/") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(io_, handler_(std::move(socket)), asio::detached);
    }
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  Handler handler_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads the request head, writes `response` (a whole HTTP response, or
// anything), half-closes and waits for the client to close.
inline asio::awaitable<void> serve_response(tcp::socket s, std::string response) {
  if ((co_await read_head(s)).empty()) co_return;
  co_await write_all(s, std::move(response));
  boost::system::error_code ec;
  s.shutdown(tcp::socket::shutdown_send, ec);
  co_await wait_for_close(s);
}

// Answers every request with `response`.
inline TestServer::Handler respond_with(std::string response) {
  return [response](tcp::socket s) { return serve_response(std::move(s), response); };
}

inline std::string http_response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

// A self-signed certificate and its key, PEM encoded.
struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

// `subject_alt_names` in OpenSSL's syntax, e.g. "DNS:localhost,IP:127.0.0.1".
// Valid from an hour before `valid_seconds` from now (at most a minute ago)
// until `valid_seconds` from now; negative: already expired.
TestCert make_self_signed_cert(const std::string& subject_alt_names, long valid_seconds = 3600);

// A server that speaks TLS with `cert` and answers every request with a 200
// "ok"; records the SNI name of the last handshake.
class TlsTestServer {
 public:
  explicit TlsTestServer(const TestCert& cert);
  ~TlsTestServer();
  std::uint16_t port() const { return server_->port(); }
  std::string sni() const;
  int handshakes() const { return handshakes_->load(); }

  struct State;  // shared with the connection handlers

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<std::atomic<int>> handshakes_;
  std::unique_ptr<TestServer> server_;
};

// A spec for `url` with defaults suited to tests.
inline std::shared_ptr<TargetSpec> spec_for(const std::string& url) {
  auto spec = std::make_shared<TargetSpec>();
  spec->id = detached_name("t");
  auto parsed = Url::parse(url);
  if (!parsed) throw std::runtime_error("bad test URL " + url + ": " + parsed.error());
  spec->url = *parsed;
  spec->interval = Duration::seconds(60);
  spec->timeout = Duration::seconds(5);
  return spec;
}

// Runs a Checker on this thread's io_context.
struct Harness {
  explicit Harness(CheckerOptions options = {}) : checker(io, std::move(options)) {}

  // Runs the io_context until `done()` or `limit` passes. Returns done().
  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = 15s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (io.stopped()) io.restart();
      io.run_one_for(20ms);
    }
    return done();
  }

  // One check, start to outcome. `calls` counts callback invocations.
  CheckOutcome check(std::shared_ptr<const TargetSpec> spec, Duration timeout = Duration::seconds(5)) {
    std::optional<CheckOutcome> out;
    int calls = 0;
    checker.run(std::move(spec), timeout, [&](CheckOutcome o) {
      ++calls;
      out = std::move(o);
    });
    if (!run_until([&] { return out.has_value(); })) {
      return CheckOutcome::failure(CheckReason::network_error, Duration::zero(), "TEST: no callback within 15 s");
    }
    // Let stray handlers run, then make sure the callback came only once.
    run_until([] { return false; }, 20ms);
    if (calls != 1) return CheckOutcome::failure(CheckReason::network_error, Duration::zero(), "TEST: callback called twice");
    return *out;
  }
  CheckOutcome check(const std::string& url, Duration timeout = Duration::seconds(5)) {
    return check(spec_for(url), timeout);
  }

  asio::io_context io{1};
  Checker checker;
};

}  // namespace heck::runtime::test_support
