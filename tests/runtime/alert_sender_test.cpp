// The alert sender (runtime/alert_sender.h): its two bodies as pure
// functions, and deliveries to a small Beast webhook server on 127.0.0.1
// (ephemeral port, on the test's own io_context) that records each request
// and answers with a set status, body and delay, or never. Every wait is
// bounded; the whole file runs in a second or two.
#include "runtime/alert_sender.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/runtime/checker_test_support.h"  // make_self_signed_cert

namespace heck::runtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kSince = 1'796'378'400'000;  // 2026-12-04T10:00:00.000Z

// --- the webhook server ----------------------------------------------------

struct Recorded {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
  bool never = false;  // read the request and never answer (until the client leaves)
};

class WebhookServer {
 public:
  // Plain HTTP, or TLS with `tls` (which must outlive the server).
  explicit WebhookServer(asio::io_context& io, asio::ssl::context* tls = nullptr)
      : state_(std::make_shared<State>(io)), tls_(tls) {
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(io, accept_loop(state_, tls_), asio::detached);
  }
  ~WebhookServer() {
    error_code ec;
    state_->acceptor.close(ec);
  }
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  std::string url(const std::string& path = "/hook") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::uint16_t port() const { return port_; }
  Reply& reply() { return state_->reply; }
  const std::vector<Recorded>& requests() const { return state_->requests; }
  int max_pending() const { return state_->max_pending; }  // requests read and not yet answered, at most

 private:
  struct State {
    explicit State(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    tcp::acceptor acceptor;
    Reply reply;
    std::vector<Recorded> requests;
    int pending = 0;
    int max_pending = 0;
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<State> st, asio::ssl::context* tls) {
    for (;;) {
      auto [ec, socket] = co_await st->acceptor.async_accept(kTuple);
      if (ec) co_return;
      const auto executor = socket.get_executor();
      if (tls) {
        asio::co_spawn(executor, serve_tls(std::move(socket), st, tls), asio::detached);
      } else {
        asio::co_spawn(executor, serve_plain(std::move(socket), st), asio::detached);
      }
    }
  }

  static asio::awaitable<void> serve_plain(tcp::socket socket, std::shared_ptr<State> st) {
    co_await exchange(socket, socket, st);
    error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
  }

  static asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<State> st, asio::ssl::context* tls) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!ec) co_await exchange(stream, stream.next_layer(), st);
    error_code ignored;
    stream.next_layer().close(ignored);
  }

  template <typename Stream>
  static asio::awaitable<void> exchange(Stream& stream, tcp::socket& socket, std::shared_ptr<State> st) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, kTuple);
    if (ec) co_return;
    Recorded r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = std::string(field.value());
    }
    r.body = req.body();
    st->requests.push_back(std::move(r));
    const Reply reply = st->reply;
    ++st->pending;
    st->max_pending = std::max(st->max_pending, st->pending);
    asio::steady_timer timer(socket.get_executor());
    if (reply.never) {
      // Until the client closes (at most 10 s, so a broken client cannot keep it).
      timer.expires_after(10s);
      timer.async_wait([&socket](const error_code& e) {
        error_code ignored;
        if (!e) socket.close(ignored);
      });
      char byte = 0;
      for (;;) {
        auto [e, k] = co_await stream.async_read_some(asio::buffer(&byte, 1), kTuple);
        if (e) break;
      }
      timer.cancel();
      --st->pending;
      co_return;
    }
    if (reply.delay > 0ms) {
      timer.expires_after(reply.delay);
      co_await timer.async_wait(kTuple);
    }
    --st->pending;
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    res.body() = reply.body;
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, kTuple);
  }

  std::shared_ptr<State> state_;
  asio::ssl::context* tls_ = nullptr;
  std::uint16_t port_ = 0;
};

// --- helpers -----------------------------------------------------------------

AlertNotification sample(const std::string& url, AlertFormat format = AlertFormat::json) {
  AlertNotification n;
  n.id = 42;
  n.route = "ops";
  n.url = url;
  n.format = format;
  n.target = "web-1";
  n.kind = AlertKind::firing;
  n.repeat = false;
  n.status = HealthStatus::unhealthy;
  n.reason = "timeout";
  n.status_code = 0;
  n.observer = "n2";
  n.since_ms = kSince;
  n.at_ms = kSince + 30'500;
  n.sender = "n1";
  n.attempt = 2;
  n.dedup_key = "0123456789abcdef";
  return n;
}

// Runs `io` until `done()` or `limit` passes; returns done().
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return done();
}

// Collects the callbacks of several sends; each records how often it ran.
struct Results {
  struct One {
    int calls = 0;
    NotifyDone result;
  };
  std::vector<One> all;

  AlertSender::Callback callback(std::size_t i) {
    if (all.size() <= i) all.resize(i + 1);
    return [this, i](NotifyDone d) {
      ++all[i].calls;
      all[i].result = std::move(d);
    };
  }
  bool done(std::size_t i) const { return i < all.size() && all[i].calls > 0; }
  bool all_done() const {
    return std::all_of(all.begin(), all.end(), [](const One& o) { return o.calls > 0; });
  }
};

// One notification, start to NotifyDone; fails the test if there is no
// callback within 5 s or more than one.
NotifyDone deliver(asio::io_context& io, AlertSender& sender, const AlertNotification& n) {
  Results r;
  sender.send(n, r.callback(0));
  EXPECT_TRUE(run_until(io, [&] { return r.done(0); })) << "no callback within 5 s";
  run_until(io, [] { return false; }, 20ms);  // stray handlers run; a second callback would show
  EXPECT_EQ(r.all[0].calls, 1);
  return r.all[0].result;
}

std::string write_temp_file(const std::string& text) {
  char name[] = "/tmp/heck-alert-ca-XXXXXX";
  const int fd = mkstemp(name);
  if (fd < 0) throw std::runtime_error("mkstemp");
  close(fd);
  std::ofstream(name) << text;
  return name;
}

// --- the bodies ----------------------------------------------------------------

TEST(AlertBodyTest, JsonHasEveryField) {
  const json j = json::parse(alert_body_json(sample("http://x/")));
  EXPECT_EQ(j.size(), 14u) << j.dump();
  EXPECT_EQ(j.at("id"), "n1-42");
  EXPECT_EQ(j.at("kind"), "firing");
  EXPECT_EQ(j.at("repeat"), false);
  EXPECT_EQ(j.at("target"), "web-1");
  EXPECT_EQ(j.at("route"), "ops");
  EXPECT_EQ(j.at("status"), "unhealthy");
  EXPECT_EQ(j.at("reason"), "timeout");
  EXPECT_EQ(j.at("status_code"), 0);
  EXPECT_EQ(j.at("observer"), "n2");
  EXPECT_EQ(j.at("since"), "2026-12-04T10:00:00.000Z");
  EXPECT_EQ(j.at("at"), "2026-12-04T10:00:30.500Z");
  EXPECT_EQ(j.at("sender"), "n1");
  EXPECT_EQ(j.at("attempt"), 2);
  EXPECT_EQ(j.at("dedup_key"), "0123456789abcdef");
}

TEST(AlertBodyTest, JsonResolvedRepeatAndUnknownSince) {
  AlertNotification n = sample("http://x/");
  n.kind = AlertKind::resolved;
  n.status = HealthStatus::healthy;
  n.repeat = true;
  n.status_code = 200;
  n.since_ms = 0;
  const json j = json::parse(alert_body_json(n));
  EXPECT_EQ(j.at("kind"), "resolved");
  EXPECT_EQ(j.at("status"), "healthy");
  EXPECT_EQ(j.at("repeat"), true);
  EXPECT_EQ(j.at("status_code"), 200);
  EXPECT_TRUE(j.at("since").is_null());
}

TEST(AlertBodyTest, SlackFiring) {
  const json j = json::parse(alert_body_slack(sample("http://x/", AlertFormat::slack)));
  EXPECT_EQ(j.size(), 1u) << j.dump();
  EXPECT_EQ(j.at("text"),
            ":red_circle: FIRING web-1 is unhealthy (timeout) since 2026-12-04T10:00:00.000Z"
            " \u2014 observed by n2, sent by n1");
}

TEST(AlertBodyTest, SlackRepeatWithStatusCode) {
  AlertNotification n = sample("http://x/", AlertFormat::slack);
  n.repeat = true;
  n.reason = "status_code_mismatch";
  n.status_code = 503;
  EXPECT_EQ(json::parse(alert_body_slack(n)).at("text"),
            ":red_circle: FIRING (repeat) web-1 is unhealthy (status_code_mismatch, HTTP 503)"
            " since 2026-12-04T10:00:00.000Z \u2014 observed by n2, sent by n1");
}

TEST(AlertBodyTest, SlackResolved) {
  AlertNotification n = sample("http://x/", AlertFormat::slack);
  n.kind = AlertKind::resolved;
  n.status = HealthStatus::healthy;
  n.reason.clear();
  n.since_ms = kSince + 60'000;
  EXPECT_EQ(json::parse(alert_body_slack(n)).at("text"),
            ":large_green_circle: RESOLVED web-1 is healthy again since 2026-12-04T10:01:00.000Z"
            " \u2014 observed by n2, sent by n1");
}

TEST(AlertBodyTest, SlackEscapesMarkup) {
  AlertNotification n = sample("http://x/", AlertFormat::slack);
  n.target = "<!channel>&x";
  const std::string text = json::parse(alert_body_slack(n)).at("text");
  EXPECT_THAT(text, HasSubstr("FIRING &lt;!channel&gt;&amp;x is unhealthy"));
  EXPECT_EQ(text.find('<'), std::string::npos);
}

TEST(AlertBodyTest, InvalidUtf8DoesNotThrow) {
  AlertNotification n = sample("http://x/");
  n.reason = "bad \xff\xfe bytes";
  std::string json_body;
  std::string slack_body;
  ASSERT_NO_THROW(json_body = alert_body_json(n));
  ASSERT_NO_THROW(slack_body = alert_body_slack(n));
  EXPECT_EQ(json::parse(json_body).at("reason"), "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  EXPECT_NO_THROW(json::parse(slack_body));
}

// --- deliveries ------------------------------------------------------------------

TEST(AlertSenderTest, DeliversJsonPost) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSender sender(io);
  const NotifyDone d = deliver(io, sender, sample(server.url("/hook?team=ops")));
  EXPECT_EQ(d.id, 42u);
  EXPECT_TRUE(d.delivered) << d.error;
  EXPECT_EQ(d.error, "");

  ASSERT_EQ(server.requests().size(), 1u);
  const Recorded& r = server.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook?team=ops");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.headers.at("user-agent"), "heck/0.1");
  EXPECT_EQ(r.headers.at("connection"), "close");
  EXPECT_EQ(r.headers.at("idempotency-key"), "0123456789abcdef");  // the receiver's dedup key
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.body, alert_body_json(sample(server.url("/hook?team=ops"))));
  const json j = json::parse(r.body);
  EXPECT_EQ(j.at("id"), "n1-42");
  EXPECT_EQ(j.at("kind"), "firing");
  EXPECT_EQ(j.at("target"), "web-1");
  EXPECT_EQ(j.at("since"), "2026-12-04T10:00:00.000Z");

  // Any 2xx is delivered, with or without a body.
  server.reply().status = 204;
  EXPECT_TRUE(deliver(io, sender, sample(server.url())).delivered);
  server.reply() = Reply{202, "{\"ok\":true}"};
  EXPECT_TRUE(deliver(io, sender, sample(server.url())).delivered);

  EXPECT_EQ(sender.counters().sent, 3u);
  EXPECT_EQ(sender.counters().delivered, 3u);
  EXPECT_EQ(sender.counters().failed, 0u);
  EXPECT_EQ(sender.counters().rejected, 0u);
  EXPECT_EQ(sender.in_flight(), 0u);
}

TEST(AlertSenderTest, DeliversSlackBody) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSenderOptions options;
  options.user_agent = "heck-test/9";
  AlertSender sender(io, options);
  const NotifyDone d = deliver(io, sender, sample(server.url("/services/T0/B0/x"), AlertFormat::slack));
  EXPECT_TRUE(d.delivered) << d.error;
  ASSERT_EQ(server.requests().size(), 1u);
  const Recorded& r = server.requests()[0];
  EXPECT_EQ(r.target, "/services/T0/B0/x");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("user-agent"), "heck-test/9");
  const json j = json::parse(r.body);
  ASSERT_EQ(j.size(), 1u) << r.body;
  EXPECT_THAT(j.at("text").get<std::string>(), StartsWith(":red_circle: FIRING web-1 is unhealthy (timeout)"));
}

TEST(AlertSenderTest, Non2xxIsNotDelivered) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSender sender(io);
  server.reply().status = 503;
  NotifyDone d = deliver(io, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.error, "HTTP 503");
  EXPECT_EQ(d.id, 42u);

  // The start of the body says why (as Slack does), on one line.
  server.reply() = Reply{404, "no_service\r\n"};
  d = deliver(io, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.error, "HTTP 404: no_service");

  server.reply() = Reply{302, ""};  // a redirect is not followed, and not a delivery
  d = deliver(io, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.error, "HTTP 302");

  EXPECT_EQ(sender.counters().sent, 3u);
  EXPECT_EQ(sender.counters().failed, 3u);
  EXPECT_EQ(sender.counters().delivered, 0u);
}

TEST(AlertSenderTest, ConnectionRefused) {
  asio::io_context io{1};
  std::uint16_t port = 0;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  AlertSender sender(io);
  const NotifyDone d = deliver(io, sender, sample("http://127.0.0.1:" + std::to_string(port) + "/hook"));
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.error, "connect: Connection refused (127.0.0.1:" + std::to_string(port) + ")");
  EXPECT_EQ(sender.counters().failed, 1u);
}

TEST(AlertSenderTest, InvalidUrlFails) {
  asio::io_context io{1};
  AlertSender sender(io);
  NotifyDone d = deliver(io, sender, sample("ftp://example.org/x"));
  EXPECT_FALSE(d.delivered);
  EXPECT_THAT(d.error, StartsWith("invalid url 'ftp://example.org/x': "));
  d = deliver(io, sender, sample("tcp://127.0.0.1:9"));
  EXPECT_EQ(d.error, "invalid url 'tcp://127.0.0.1:9': use http:// or https://");
  EXPECT_EQ(sender.counters().sent, 0u);
  EXPECT_EQ(sender.counters().failed, 2u);
}

TEST(AlertSenderTest, HostNameIsResolved) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSender sender(io);
  // localhost may resolve to ::1 first, where nothing listens: the next address is tried.
  const NotifyDone d = deliver(io, sender, sample("http://localhost:" + std::to_string(server.port()) + "/h"));
  EXPECT_TRUE(d.delivered) << d.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.at("host"), "localhost:" + std::to_string(server.port()));
}

TEST(AlertSenderTest, HungReceiverTimesOutWithoutBlockingOthers) {
  asio::io_context io{1};
  WebhookServer hung(io);
  hung.reply().never = true;
  WebhookServer quick(io);
  AlertSenderOptions options;
  options.timeout = Duration::milliseconds(300);
  AlertSender sender(io, options);

  Results r;
  const auto start = std::chrono::steady_clock::now();
  sender.send(sample(hung.url()), r.callback(0));
  sender.send(sample(quick.url()), r.callback(1));
  ASSERT_TRUE(run_until(io, [&] { return r.done(1); }));
  EXPECT_TRUE(r.all[1].result.delivered) << r.all[1].result.error;
  EXPECT_FALSE(r.done(0)) << "the quick one was not held up by the hung one";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);

  ASSERT_TRUE(run_until(io, [&] { return r.done(0); }));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.all[0].result.delivered);
  EXPECT_EQ(r.all[0].result.error, "timeout after 300 ms (waiting for the response)");
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(hung.requests().size(), 1u);  // it got the request; it just never answered
  EXPECT_EQ(sender.in_flight(), 0u);
}

TEST(AlertSenderTest, SlowBodyAfter2xxHeadIsDelivered) {
  // The head of the answer came in time: the status decides, even if the
  // body is still arriving at the deadline.
  asio::io_context io{1};
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  asio::co_spawn(
      io,
      [&acceptor]() -> asio::awaitable<void> {
        auto [ec, s] = co_await acceptor.async_accept(kTuple);
        if (ec) co_return;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        co_await http::async_read(s, buffer, req, kTuple);
        const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
        co_await asio::async_write(s, asio::buffer(head), kTuple);
        char byte = 0;
        co_await s.async_read_some(asio::buffer(&byte, 1), kTuple);  // until the client leaves
      },
      asio::detached);
  AlertSenderOptions options;
  options.timeout = Duration::milliseconds(200);
  AlertSender sender(io, options);
  const NotifyDone d = deliver(io, sender, sample("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_TRUE(d.delivered) << d.error;
}

TEST(AlertSenderTest, LargeAnswerTheStatusDecides) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSenderOptions options;
  options.max_response_bytes = 1024;
  AlertSender sender(io, options);

  server.reply() = Reply{200, std::string(100 * 1024, 'x')};
  NotifyDone d = deliver(io, sender, sample(server.url()));
  EXPECT_TRUE(d.delivered) << d.error;

  server.reply() = Reply{500, std::string(100 * 1024, 'y')};
  d = deliver(io, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_THAT(d.error, StartsWith("HTTP 500"));
  EXPECT_LE(d.error.size(), 220u);
}

TEST(AlertSenderTest, QueueFull) {
  asio::io_context io{1};
  WebhookServer server(io);
  server.reply().never = true;
  AlertSenderOptions options;
  options.max_concurrent = 1;
  options.max_queued = 1;
  AlertSender sender(io, options);

  Results r;
  sender.send(sample(server.url()), r.callback(0));  // runs
  sender.send(sample(server.url()), r.callback(1));  // waits
  AlertNotification third = sample(server.url());
  third.id = 7;
  sender.send(third, r.callback(2));  // refused
  EXPECT_FALSE(r.done(2)) << "posted, not called inside send()";
  EXPECT_EQ(sender.in_flight(), 1u);
  EXPECT_EQ(sender.queued(), 1u);
  EXPECT_EQ(sender.counters().rejected, 1u);

  ASSERT_TRUE(run_until(io, [&] { return r.done(2); }));
  EXPECT_EQ(r.all[2].result.id, 7u);
  EXPECT_FALSE(r.all[2].result.delivered);
  EXPECT_EQ(r.all[2].result.error, "alert queue full");
  run_until(io, [&] { return !server.requests().empty(); }, 1s);
  EXPECT_FALSE(r.done(0));
  EXPECT_FALSE(r.done(1));
  EXPECT_EQ(server.requests().size(), 1u);  // one at a time
}

TEST(AlertSenderTest, ConcurrencyIsBoundedAndFifo) {
  asio::io_context io{1};
  WebhookServer server(io);
  server.reply().delay = 80ms;
  AlertSenderOptions options;
  options.max_concurrent = 2;
  AlertSender sender(io, options);

  Results r;
  for (std::uint64_t i = 0; i < 5; ++i) {
    AlertNotification n = sample(server.url("/" + std::to_string(i)));
    n.id = i;
    sender.send(n, r.callback(i));
  }
  EXPECT_EQ(sender.in_flight(), 2u);
  EXPECT_EQ(sender.queued(), 3u);
  ASSERT_TRUE(run_until(io, [&] { return r.all_done(); }));
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(r.all[i].result.delivered) << i << ": " << r.all[i].result.error;
    EXPECT_EQ(r.all[i].result.id, i);
    EXPECT_EQ(r.all[i].calls, 1);
  }
  EXPECT_EQ(server.max_pending(), 2);
  ASSERT_EQ(server.requests().size(), 5u);
  std::vector<std::string> first_two{server.requests()[0].target, server.requests()[1].target};
  std::sort(first_two.begin(), first_two.end());
  EXPECT_EQ(first_two, (std::vector<std::string>{"/0", "/1"}));
  EXPECT_EQ(server.requests()[4].target, "/4");
}

TEST(AlertSenderTest, DoneIsNeverCalledInsideSendOrShutdown) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSenderOptions options;
  options.max_concurrent = 1;
  options.max_queued = 1;
  AlertSender sender(io, options);

  bool inside = false;
  int calls = 0;
  int synchronous = 0;
  auto cb = [&](NotifyDone) {
    ++calls;
    if (inside) ++synchronous;
  };
  auto send = [&](const std::string& url) {
    inside = true;
    sender.send(sample(url), cb);
    inside = false;
  };
  send(server.url());            // starts
  send(server.url());            // queued
  send(server.url());            // queue full
  send("gopher://example.org");  // invalid url
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(run_until(io, [&] { return calls == 4; }));  // both rejections, then both deliveries

  server.reply().never = true;
  send(server.url());  // running, hung
  send(server.url());  // queued
  inside = true;
  sender.shutdown();
  inside = false;
  EXPECT_EQ(calls, 4);
  send(server.url());  // after shutdown
  EXPECT_EQ(calls, 4);
  ASSERT_TRUE(run_until(io, [&] { return calls == 7; }));
  EXPECT_EQ(synchronous, 0);
}

TEST(AlertSenderTest, ShutdownFailsQueuedAndRunning) {
  asio::io_context io{1};
  WebhookServer server(io);
  server.reply().never = true;
  AlertSenderOptions options;
  options.max_concurrent = 1;
  AlertSender sender(io, options);

  Results r;
  for (std::size_t i = 0; i < 3; ++i) sender.send(sample(server.url()), r.callback(i));
  ASSERT_TRUE(run_until(io, [&] { return server.requests().size() == 1; }));  // the first is running
  EXPECT_EQ(sender.queued(), 2u);
  sender.shutdown();
  EXPECT_EQ(sender.in_flight(), 0u);
  EXPECT_EQ(sender.queued(), 0u);
  sender.send(sample(server.url()), r.callback(3));
  ASSERT_TRUE(run_until(io, [&] { return r.all_done(); }, 1s));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_FALSE(r.all[i].result.delivered) << i;
    EXPECT_EQ(r.all[i].result.error, "shutting down") << i;
    EXPECT_EQ(r.all[i].calls, 1) << i;
  }
  EXPECT_EQ(sender.counters().sent, 1u);
  EXPECT_EQ(sender.counters().failed, 3u);
  EXPECT_EQ(sender.counters().rejected, 1u);
  run_until(io, [] { return false; }, 50ms);
  EXPECT_EQ(server.requests().size(), 1u);  // the queued ones never went out
}

TEST(AlertSenderTest, DestructorFailsPending) {
  asio::io_context io{1};
  WebhookServer server(io);
  server.reply().never = true;
  Results r;
  {
    AlertSender sender(io);
    sender.send(sample(server.url()), r.callback(0));
    ASSERT_TRUE(run_until(io, [&] { return server.requests().size() == 1; }));
  }
  EXPECT_FALSE(r.done(0));
  ASSERT_TRUE(run_until(io, [&] { return r.done(0); }, 1s));
  EXPECT_FALSE(r.all[0].result.delivered);
  EXPECT_EQ(r.all[0].result.error, "shutting down");
}

// --- HTTPS ---------------------------------------------------------------------

class AlertSenderTlsTest : public ::testing::Test {
 protected:
  void use_cert(const std::string& subject_alt_names) {
    cert_ = test_support::make_self_signed_cert(subject_alt_names);
    server_ctx_.use_certificate_chain(asio::buffer(cert_.cert_pem));
    server_ctx_.use_private_key(asio::buffer(cert_.key_pem), asio::ssl::context::pem);
    ca_file_ = write_temp_file(cert_.cert_pem);
  }
  void TearDown() override {
    if (!ca_file_.empty()) std::filesystem::remove(ca_file_);
  }

  asio::io_context io_{1};
  asio::ssl::context server_ctx_{asio::ssl::context::tls_server};
  test_support::TestCert cert_;
  std::string ca_file_;
};

TEST_F(AlertSenderTlsTest, DeliversOverVerifiedHttps) {
  use_cert("IP:127.0.0.1");
  WebhookServer server(io_, &server_ctx_);
  AlertSenderOptions options;
  options.tls_ca_file = ca_file_;
  AlertSender sender(io_, options);
  const NotifyDone d = deliver(io_, sender, sample(server.url("/secure")));
  EXPECT_TRUE(d.delivered) << d.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/secure");
  EXPECT_EQ(json::parse(server.requests()[0].body).at("id"), "n1-42");
}

TEST_F(AlertSenderTlsTest, UntrustedCertificateFails) {
  use_cert("IP:127.0.0.1");
  WebhookServer server(io_, &server_ctx_);
  AlertSender sender(io_);  // the system store only: the self-signed certificate is not trusted
  const NotifyDone d = deliver(io_, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_THAT(d.error, StartsWith("tls: certificate verification failed: "));
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(AlertSenderTlsTest, WrongHostNameFails) {
  use_cert("DNS:hooks.example.org");  // trusted, but not for 127.0.0.1
  WebhookServer server(io_, &server_ctx_);
  AlertSenderOptions options;
  options.tls_ca_file = ca_file_;
  AlertSender sender(io_, options);
  const NotifyDone d = deliver(io_, sender, sample(server.url()));
  EXPECT_FALSE(d.delivered);
  EXPECT_THAT(d.error, StartsWith("tls: certificate verification failed: "));
  EXPECT_THAT(d.error, HasSubstr("mismatch"));
  EXPECT_TRUE(server.requests().empty());
}

TEST(AlertSenderOptionsTest, MissingCaFileFailsHttpsOnly) {
  asio::io_context io{1};
  WebhookServer server(io);
  AlertSenderOptions options;
  options.tls_ca_file = "/nonexistent/heck-alert-ca.pem";
  AlertSender sender(io, options);
  NotifyDone d = deliver(io, sender, sample("https://127.0.0.1:" + std::to_string(server.port()) + "/"));
  EXPECT_FALSE(d.delivered);
  EXPECT_THAT(d.error, StartsWith("tls: cannot load tls_ca_file '/nonexistent/heck-alert-ca.pem'"));
  d = deliver(io, sender, sample(server.url()));  // plain HTTP is unaffected
  EXPECT_TRUE(d.delivered) << d.error;
}

}  // namespace
}  // namespace heck::runtime
