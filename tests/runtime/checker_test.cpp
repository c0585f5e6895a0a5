// The checker against tiny servers started inside each test (127.0.0.1,
// ephemeral ports). Every test is bounded in time: the harness gives up on a
// callback after 15 s, and every server's connection handler after 30 s.
#include "runtime/checker.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/check.h"
#include "tests/runtime/checker_test_support.h"

namespace heck::runtime {
namespace {

using namespace test_support;  // the servers and the harness
using ::testing::HasSubstr;

constexpr Duration kShort = Duration::milliseconds(300);

// --- server behaviours --------------------------------------------------

// Accepts, reads the request, and never answers (until the client leaves).
asio::awaitable<void> serve_silence(tcp::socket s) {
  co_await read_head(s);
  co_await wait_for_close(s);
}

// Closes the connection right after reading the request.
asio::awaitable<void> serve_hangup(tcp::socket s) {
  co_await read_head(s);
  boost::system::error_code ec;
  s.close(ec);
}

// Streams a body of `total` bytes (with or without Content-Length).
asio::awaitable<void> serve_big_body(tcp::socket s, std::size_t total, bool declare_length) {
  if ((co_await read_head(s)).empty()) co_return;
  std::string head = "HTTP/1.1 200 OK\r\nConnection: close\r\n";
  if (declare_length) head += "Content-Length: " + std::to_string(total) + "\r\n";
  head += "\r\n";
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(head), kTuple);
  const std::string chunk(64 * 1024, 'x');
  for (std::size_t sent = 0; !ec && sent < total; sent += chunk.size()) {
    std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(chunk), kTuple);
  }
  s.close(ec);
}

// A chunked body that never ends (bounded at 1 GiB so a broken client cannot
// keep the server busy for long).
asio::awaitable<void> serve_endless_chunked(tcp::socket s) {
  if ((co_await read_head(s)).empty()) co_return;
  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(head), kTuple);
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
  for (int i = 0; !ec && i < 16 * 1024; ++i) {
    std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(chunk), kTuple);
  }
}

// A response that arrives one byte every 50 ms, forever (at most 30 s).
asio::awaitable<void> serve_trickle(tcp::socket s) {
  if ((co_await read_head(s)).empty()) co_return;
  const std::string text = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(1000, 'z');
  asio::steady_timer timer(s.get_executor());
  for (char c : text) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(&c, 1), kTuple);
    if (ec) co_return;
    timer.expires_after(50ms);
    co_await timer.async_wait(kTuple);
  }
}

// Answers 400 as soon as the client sends anything (as nginx does on a
// plain-HTTP port when a TLS ClientHello arrives).
asio::awaitable<void> serve_400_on_any_bytes(tcp::socket s) {
  char buf[512];
  auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kTuple);
  if (ec) co_return;
  co_await write_all(s, http_response(400, "this is plain http"));
  s.close(ec);
}

// Counts connections being served; answers 200 after `delay`.
struct Gauge {
  std::atomic<int> current{0};
  std::atomic<int> peak{0};
};

asio::awaitable<void> serve_slowly(tcp::socket s, std::shared_ptr<Gauge> gauge, std::chrono::milliseconds delay) {
  const int now = ++gauge->current;
  int peak = gauge->peak.load();
  while (now > peak && !gauge->peak.compare_exchange_weak(peak, now)) {
  }
  co_await read_head(s);
  asio::steady_timer timer(s.get_executor(), delay);
  co_await timer.async_wait(kTuple);
  --gauge->current;  // before answering: the client can only move on after this
  co_await write_all(s, http_response(200, "ok"));
  co_await wait_for_close(s);
}

// Records the request head it receives.
struct Recorder {
  std::mutex mutex;
  std::string head;
};

asio::awaitable<void> serve_recording(tcp::socket s, std::shared_ptr<Recorder> rec, std::string response) {
  std::string head = co_await read_head(s);
  {
    std::lock_guard lock(rec->mutex);
    rec->head = head;
  }
  co_await write_all(s, std::move(response));
  co_await wait_for_close(s);
}

// A port on 127.0.0.1 with nobody listening (just released by us).
std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// --- HTTP ---------------------------------------------------------------

TEST(Checker, Http200IsOk) {
  TestServer server(respond_with(http_response(200, "ok")));
  Harness h;
  auto spec = spec_for(server.url());
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 200);
  EXPECT_TRUE(out.body.empty()) << "the body is kept only for expect_body";
  EXPECT_GT(out.latency, Duration::zero());
  EXPECT_EQ(evaluate(*spec, out).reason, CheckReason::ok);
  EXPECT_EQ(h.checker.counters().started, 1u);
  EXPECT_EQ(h.checker.counters().completed, 1u);
  EXPECT_EQ(h.checker.counters().dns_lookups, 0u) << "IP literals bypass DNS";
  EXPECT_EQ(h.checker.in_flight(), 0u);
}

TEST(Checker, Http503IsBadStatus) {
  TestServer server(respond_with(http_response(503, "down")));
  Harness h;
  auto spec = spec_for(server.url());
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 503);
  EXPECT_EQ(evaluate(*spec, out).reason, CheckReason::bad_status);
}

TEST(Checker, ExpectBodyMatchAndMismatch) {
  TestServer server(respond_with(http_response(200, "status: all systems go")));
  Harness h;
  auto match = spec_for(server.url());
  match->http.edit().expect_body = "systems go";
  CheckOutcome out = h.check(match);
  EXPECT_EQ(out.body, "status: all systems go");
  EXPECT_EQ(evaluate(*match, out).reason, CheckReason::ok);

  auto mismatch = spec_for(server.url());
  mismatch->http.edit().expect_body = "systems down";
  out = h.check(mismatch);
  EXPECT_EQ(out.transport, CheckReason::ok);
  EXPECT_EQ(evaluate(*mismatch, out).reason, CheckReason::body_mismatch);
}

TEST(Checker, ChunkedBodyIsCollected) {
  TestServer server(respond_with(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"));
  Harness h;
  auto spec = spec_for(server.url());
  spec->http.edit().expect_body = "cdef";
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.body, "abcdefg");
  EXPECT_EQ(evaluate(*spec, out).reason, CheckReason::ok);
}

TEST(Checker, BodyUntilEofIsCollected) {
  TestServer server(respond_with("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello until eof"));
  Harness h;
  auto spec = spec_for(server.url());
  spec->http.edit().expect_body = "until eof";
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.body, "hello until eof");
}

TEST(Checker, InterimResponseIsSkipped) {
  TestServer server(respond_with("HTTP/1.1 100 Continue\r\n\r\n" + http_response(204, "")));
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 204);
}

TEST(Checker, HeadRequestExpectsNoBody) {
  // A HEAD response announces a length but sends no body.
  auto rec = std::make_shared<Recorder>();
  TestServer server([rec](tcp::socket s) {
    return serve_recording(std::move(s), rec,
                           "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
  });
  Harness h;
  auto spec = spec_for(server.url());
  spec->http.edit().method = "HEAD";
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 200);
  std::lock_guard lock(rec->mutex);
  EXPECT_THAT(rec->head, ::testing::StartsWith("HEAD / HTTP/1.1\r\n"));
}

TEST(Checker, RequestCarriesHostAgentHeadersAndClose) {
  auto rec = std::make_shared<Recorder>();
  TestServer server(
      [rec](tcp::socket s) { return serve_recording(std::move(s), rec, http_response(200, "ok")); });
  CheckerOptions options;
  options.user_agent = "heck-test/1";
  Harness h(options);
  auto spec = spec_for(server.url("http", "/health?x=1"));
  spec->http.edit().headers = {{"X-Probe", "yes"}, {"connection", "keep-alive"}};
  const CheckOutcome out = h.check(spec);
  ASSERT_EQ(out.transport, CheckReason::ok) << out.detail;
  std::lock_guard lock(rec->mutex);
  EXPECT_THAT(rec->head, ::testing::StartsWith("GET /health?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(rec->head, HasSubstr("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"));
  EXPECT_THAT(rec->head, HasSubstr("\r\nUser-Agent: heck-test/1\r\n"));
  EXPECT_THAT(rec->head, HasSubstr("\r\nX-Probe: yes\r\n"));
  EXPECT_THAT(rec->head, HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(rec->head, ::testing::Not(HasSubstr("keep-alive"))) << "the spec's Connection header is dropped";
}

TEST(Checker, SpecHostHeaderReplacesOurs) {
  auto rec = std::make_shared<Recorder>();
  TestServer server(
      [rec](tcp::socket s) { return serve_recording(std::move(s), rec, http_response(200, "ok")); });
  Harness h;
  auto spec = spec_for(server.url());
  spec->http.edit().headers = {{"host", "example.org"}};
  ASSERT_EQ(h.check(spec).transport, CheckReason::ok);
  std::lock_guard lock(rec->mutex);
  EXPECT_THAT(rec->head, HasSubstr("\r\nhost: example.org\r\n"));
  EXPECT_THAT(rec->head, ::testing::Not(HasSubstr("Host: 127.0.0.1")));
}

TEST(Checker, NeverAnsweringServerTimesOutAtTheDeadline) {
  TestServer server(serve_silence);
  Harness h;
  const CheckOutcome out = h.check(server.url(), kShort);
  EXPECT_EQ(out.transport, CheckReason::timeout) << out.detail;
  EXPECT_GE(out.latency, kShort) << "never before the deadline";
  EXPECT_LT(out.latency, kShort + Duration::seconds(5)) << "bounded: the deadline, not the server, ends it";
  EXPECT_THAT(out.detail, HasSubstr("reading the response"));
  EXPECT_EQ(h.checker.counters().timeouts, 1u);
}

TEST(Checker, SlowTrickleBeyondTheDeadlineTimesOut) {
  TestServer server(serve_trickle);
  Harness h;
  const CheckOutcome out = h.check(server.url(), Duration::milliseconds(500));
  EXPECT_EQ(out.transport, CheckReason::timeout) << out.detail;
  EXPECT_GE(out.latency, Duration::milliseconds(500));
}

TEST(Checker, RefusedConnection) {
  Harness h;
  const std::uint16_t port = free_port();
  const CheckOutcome out = h.check("http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(out.transport, CheckReason::connection_refused) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr(std::to_string(port)));
}

TEST(Checker, GarbageIsAProtocolError) {
  TestServer server(respond_with("SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n"));
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::protocol_error) << out.detail;
}

TEST(Checker, BinaryGarbageIsAProtocolError) {
  TestServer server(respond_with(std::string("\x16\x03\x01\x00\x00\xff\xfe", 7) + std::string(100, '\0')));
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::protocol_error) << out.detail;
}

TEST(Checker, HangUpBeforeAResponseIsAProtocolError) {
  TestServer server(serve_hangup);
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::protocol_error) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("closed"));
}

TEST(Checker, TruncatedBodyIsAProtocolError) {
  TestServer server(respond_with("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a little"));
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::protocol_error) << out.detail;
}

TEST(Checker, TenMegabyteBodyWithLengthIsTooLarge) {
  TestServer server([](tcp::socket s) { return serve_big_body(std::move(s), 10u << 20, true); });
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::response_too_large) << out.detail;
}

TEST(Checker, TenMegabyteBodyUntilEofIsTooLarge) {
  TestServer server([](tcp::socket s) { return serve_big_body(std::move(s), 10u << 20, false); });
  Harness h;
  for (bool keep : {false, true}) {
    auto spec = spec_for(server.url());
    if (keep) spec->http.edit().expect_body = "x";
    const CheckOutcome out = h.check(spec);
    EXPECT_EQ(out.transport, CheckReason::response_too_large) << out.detail << " keep=" << keep;
    EXPECT_LE(out.body.size(), h.checker.options().max_body_bytes);
  }
}

TEST(Checker, EndlessChunkedBodyIsTooLarge) {
  TestServer server(serve_endless_chunked);
  Harness h;
  const CheckOutcome out = h.check(server.url(), Duration::seconds(10));
  EXPECT_EQ(out.transport, CheckReason::response_too_large) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("body"));
}

TEST(Checker, HugeHeadersAreTooLarge) {
  TestServer server(respond_with("HTTP/1.1 200 OK\r\nX-Big: " + std::string(20'000, 'h') + "\r\n\r\n"));
  Harness h;
  const CheckOutcome out = h.check(server.url());
  EXPECT_EQ(out.transport, CheckReason::response_too_large) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("headers"));
}

TEST(Checker, InvalidSpecFailsWithoutSending) {
  TestServer server(respond_with(http_response(200, "ok")));
  Harness h;
  auto spec = spec_for(server.url());
  spec->http.edit().headers = {{"X-Evil", "a\r\nInjected: yes"}};
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::network_error);
  EXPECT_THAT(out.detail, HasSubstr("X-Evil"));
  EXPECT_EQ(server.accepted(), 0);
}

// --- DNS ----------------------------------------------------------------

TEST(Checker, UnresolvableNameIsADnsFailureAndIsCachedBriefly) {
  Harness h;
  const CheckOutcome out = h.check("http://no-such-host.heck-test.invalid/");
  EXPECT_EQ(out.transport, CheckReason::dns_failure) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("no-such-host.heck-test.invalid"));
  EXPECT_EQ(h.checker.counters().dns_lookups, 1u);
  const CheckOutcome again = h.check("http://no-such-host.heck-test.invalid/");
  EXPECT_EQ(again.transport, CheckReason::dns_failure);
  EXPECT_EQ(h.checker.counters().dns_lookups, 1u) << "the failure was cached";
}

TEST(Checker, HostNamesAreResolvedOnceAndCached) {
  TestServer server(respond_with(http_response(200, "ok")));
  Harness h;
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/";
  // Two checks at once: one lookup, one waiter coalesced.
  std::vector<CheckOutcome> outs;
  for (int i = 0; i < 2; ++i) h.checker.run(spec_for(url), Duration::seconds(5), [&](CheckOutcome o) { outs.push_back(o); });
  ASSERT_TRUE(h.run_until([&] { return outs.size() == 2; }));
  for (const auto& o : outs) EXPECT_EQ(o.transport, CheckReason::ok) << o.detail;
  EXPECT_EQ(h.checker.counters().dns_lookups, 1u);
  EXPECT_EQ(h.checker.counters().dns_coalesced, 1u);
  EXPECT_EQ(h.check(url).transport, CheckReason::ok);
  EXPECT_EQ(h.checker.counters().dns_lookups, 1u);
  EXPECT_GE(h.checker.counters().dns_cache_hits, 1u);
}

// --- TCP ----------------------------------------------------------------

TEST(Checker, TcpConnectOkAndRefused) {
  TestServer server(serve_silence);
  Harness h;
  auto spec = spec_for("tcp://127.0.0.1:" + std::to_string(server.port()));
  CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 0);
  EXPECT_EQ(evaluate(*spec, out).reason, CheckReason::ok);
  EXPECT_TRUE(h.run_until([&] { return server.accepted() == 1; }, 5s));

  out = h.check("tcp://127.0.0.1:" + std::to_string(free_port()));
  EXPECT_EQ(out.transport, CheckReason::connection_refused) << out.detail;
}

// --- concurrency, queueing, shutdown -------------------------------------

TEST(Checker, ConcurrencyCapIsRespectedAndEveryCallbackComesOnce) {
  auto gauge = std::make_shared<Gauge>();
  TestServer server([gauge](tcp::socket s) { return serve_slowly(std::move(s), gauge, 100ms); });
  CheckerOptions options;
  options.max_concurrent = 2;
  Harness h(options);
  constexpr int kChecks = 10;
  std::vector<int> calls(kChecks, 0);
  std::vector<CheckOutcome> outs(kChecks);
  std::size_t peak_in_flight = 0;
  for (int i = 0; i < kChecks; ++i) {
    h.checker.run(spec_for(server.url()), Duration::seconds(10), [&, i](CheckOutcome o) {
      ++calls[i];
      outs[i] = std::move(o);
    });
    peak_in_flight = std::max(peak_in_flight, h.checker.in_flight());
  }
  EXPECT_EQ(h.checker.queued(), 8u);
  auto all_called = [&] { return std::all_of(calls.begin(), calls.end(), [](int c) { return c > 0; }); };
  ASSERT_TRUE(h.run_until([&] {
    peak_in_flight = std::max(peak_in_flight, h.checker.in_flight());
    return all_called();
  }));
  h.run_until([] { return false; }, 50ms);
  for (int i = 0; i < kChecks; ++i) {
    EXPECT_EQ(calls[i], 1) << "check " << i;
    EXPECT_EQ(outs[i].transport, CheckReason::ok) << "check " << i << ": " << outs[i].detail;
  }
  EXPECT_EQ(gauge->peak.load(), 2) << "never more than max_concurrent at the server (and the cap is used)";
  EXPECT_EQ(peak_in_flight, 2u);
  EXPECT_EQ(h.checker.counters().queued_total, 8u);
  EXPECT_EQ(h.checker.counters().completed, 10u);
}

TEST(Checker, QueuedChecksTimeOutOnTheirOriginalDeadline) {
  // One slot, held by a check with a long timeout; two checks with a short
  // timeout wait behind it and must expire in the queue at their own deadline.
  TestServer server(serve_silence);
  CheckerOptions options;
  options.max_concurrent = 1;
  Harness h(options);
  std::vector<std::pair<int, CheckOutcome>> outs;
  h.checker.run(spec_for(server.url()), Duration::seconds(2), [&](CheckOutcome o) { outs.emplace_back(0, std::move(o)); });
  for (int i = 1; i <= 2; ++i) {
    h.checker.run(spec_for(server.url()), kShort, [&, i](CheckOutcome o) { outs.emplace_back(i, std::move(o)); });
  }
  ASSERT_TRUE(h.run_until([&] { return outs.size() == 3; }));
  ASSERT_EQ(outs.size(), 3u);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NE(outs[k].first, 0) << "the queued checks finish first";
    EXPECT_EQ(outs[k].second.transport, CheckReason::timeout);
    EXPECT_THAT(outs[k].second.detail, HasSubstr("waiting for a free slot"));
    EXPECT_GE(outs[k].second.latency, kShort);
  }
  EXPECT_EQ(outs[2].first, 0);
  EXPECT_EQ(outs[2].second.transport, CheckReason::timeout);
  EXPECT_THAT(outs[2].second.detail, HasSubstr("reading the response"));
  EXPECT_EQ(server.accepted(), 1) << "expired checks never connect";
  EXPECT_EQ(h.checker.counters().started, 1u);
}

TEST(Checker, OverloadShedsChecksThatWaitedTooLong) {
  // One slot, held for ~600 ms; a check with a 1 s timeout waits behind it.
  // With max_queue_wait_fraction 0.5 it has waited too long when its turn
  // comes and fails without connecting; with 1.0 it is started anyway.
  for (double fraction : {0.5, 1.0}) {
    auto gauge = std::make_shared<Gauge>();
    TestServer server([gauge](tcp::socket s) { return serve_slowly(std::move(s), gauge, 600ms); });
    CheckerOptions options;
    options.max_concurrent = 1;
    options.max_queue_wait_fraction = fraction;
    Harness h(options);
    std::map<int, CheckOutcome> outs;  // 0: the slot holder, 1: the waiter
    h.checker.run(spec_for(server.url()), Duration::seconds(5), [&](CheckOutcome o) { outs[0] = o; });
    h.checker.run(spec_for(server.url()), Duration::seconds(1), [&](CheckOutcome o) { outs[1] = o; });
    ASSERT_TRUE(h.run_until([&] { return outs.size() == 2; }));
    h.run_until([] { return false; }, 50ms);
    EXPECT_EQ(outs[0].transport, CheckReason::ok) << outs[0].detail;
    if (fraction == 0.5) {
      EXPECT_EQ(outs[1].transport, CheckReason::timeout);
      EXPECT_THAT(outs[1].detail, HasSubstr("overloaded"));
      EXPECT_EQ(h.checker.counters().shed, 1u);
      EXPECT_EQ(server.accepted(), 1);
    } else {
      EXPECT_EQ(h.checker.counters().shed, 0u);
      EXPECT_EQ(server.accepted(), 2) << "started with the time it had left";
    }
  }
}

TEST(Checker, FullQueueRejects) {
  TestServer server(serve_silence);
  CheckerOptions options;
  options.max_concurrent = 1;
  options.max_queued = 1;
  Harness h(options);
  std::vector<CheckOutcome> outs;
  for (int i = 0; i < 3; ++i) {
    h.checker.run(spec_for(server.url()), kShort, [&](CheckOutcome o) { outs.push_back(std::move(o)); });
  }
  EXPECT_TRUE(outs.empty()) << "never called from inside run()";
  ASSERT_TRUE(h.run_until([&] { return outs.size() == 3; }));
  EXPECT_EQ(outs[0].transport, CheckReason::network_error);
  EXPECT_THAT(outs[0].detail, HasSubstr("queue full"));
  EXPECT_EQ(h.checker.counters().rejected, 1u);
}

TEST(Checker, ShutdownCallsEveryPendingCallbackOnce) {
  TestServer server(serve_silence);
  CheckerOptions options;
  options.max_concurrent = 2;
  Harness h(options);
  constexpr int kChecks = 5;
  std::vector<int> calls(kChecks, 0);
  std::vector<CheckOutcome> outs(kChecks);
  for (int i = 0; i < kChecks; ++i) {
    h.checker.run(spec_for(server.url()), Duration::seconds(30), [&, i](CheckOutcome o) {
      ++calls[i];
      outs[i] = std::move(o);
    });
  }
  ASSERT_TRUE(h.run_until([&] { return server.accepted() == 2; }, 5s));
  h.run_until([] { return false; }, 50ms);  // the requests are written
  EXPECT_EQ(h.checker.in_flight(), 2u);
  EXPECT_EQ(h.checker.queued(), 3u);
  h.checker.shutdown();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), 0), kChecks) << "callbacks are posted, not called inside shutdown()";
  EXPECT_EQ(h.checker.in_flight(), 0u);
  EXPECT_EQ(h.checker.queued(), 0u);
  // Everything is cancelled: the io_context runs out of work long before the 30 s deadlines.
  h.io.restart();
  h.io.run_for(10s);
  EXPECT_TRUE(h.io.stopped()) << "no work left behind";
  for (int i = 0; i < kChecks; ++i) {
    EXPECT_EQ(calls[i], 1) << "check " << i;
    EXPECT_EQ(outs[i].transport, CheckReason::network_error) << "check " << i;
  }
  // After shutdown, run() refuses (still through a posted callback).
  std::optional<CheckOutcome> late;
  h.checker.run(spec_for(server.url()), kShort, [&](CheckOutcome o) { late = std::move(o); });
  EXPECT_FALSE(late.has_value());
  ASSERT_TRUE(h.run_until([&] { return late.has_value(); }, 5s));
  EXPECT_EQ(late->transport, CheckReason::network_error);
  EXPECT_THAT(late->detail, HasSubstr("shut down"));
}

TEST(Checker, DestroyingTheCheckerWithChecksRunningIsSafe) {
  TestServer server(serve_silence);
  asio::io_context io{1};
  std::vector<CheckOutcome> outs;
  {
    Checker checker(io);
    for (int i = 0; i < 3; ++i) {
      checker.run(spec_for(server.url()), Duration::seconds(30), [&](CheckOutcome o) { outs.push_back(o); });
    }
    checker.run(spec_for("http://resolving.heck-test.invalid/"), Duration::seconds(30),
                [&](CheckOutcome o) { outs.push_back(o); });
    io.run_for(100ms);
  }
  io.restart();
  io.run_for(10s);
  EXPECT_TRUE(io.stopped());
  ASSERT_EQ(outs.size(), 4u);
}

TEST(Checker, CallbackIsNeverCalledFromInsideRun) {
  Harness h;
  h.checker.shutdown();
  bool inside = true;
  bool called_inside = false;
  h.checker.run(spec_for("http://127.0.0.1:1/"), kShort, [&](CheckOutcome) { called_inside = inside; });
  auto bad = spec_for("http://127.0.0.1:1/");
  bad->http.edit().method = "GET /x";
  Harness h2;
  h2.checker.run(bad, kShort, [&](CheckOutcome) { called_inside = called_inside || inside; });
  inside = false;
  h.run_until([] { return false; }, 50ms);
  h2.run_until([] { return false; }, 50ms);
  EXPECT_FALSE(called_inside);
  EXPECT_EQ(h.checker.counters().completed, 1u);
  EXPECT_EQ(h2.checker.counters().completed, 1u);
}

TEST(Checker, CallbackMayStartTheNextCheck) {
  TestServer server(respond_with(http_response(200, "ok")));
  Harness h;
  int done = 0;
  std::function<void(CheckOutcome)> again = [&](CheckOutcome o) {
    EXPECT_EQ(o.transport, CheckReason::ok) << o.detail;
    if (++done < 5) h.checker.run(spec_for(server.url()), Duration::seconds(5), again);
  };
  h.checker.run(spec_for(server.url()), Duration::seconds(5), again);
  ASSERT_TRUE(h.run_until([&] { return done == 5; }));
}

// --- HTTPS --------------------------------------------------------------

std::string write_temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) + ".pem");
  std::ofstream(path) << text;
  return path.string();
}

TEST(CheckerTls, VerifyOffAcceptsASelfSignedCertificate) {
  TlsTestServer server(make_self_signed_cert("DNS:localhost,IP:127.0.0.1"));
  Harness h;
  auto spec = spec_for("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  spec->http.edit().tls_verify = false;
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(out.status_code, 200);
}

TEST(CheckerTls, ReportsWhenTheLeafCertificateExpires) {
  TlsTestServer server(make_self_signed_cert("DNS:localhost,IP:127.0.0.1", 5 * 86'400));
  Harness h;
  auto spec = spec_for("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  spec->http.edit().tls_verify = false;
  const CheckOutcome out = h.check(spec);
  ASSERT_EQ(out.transport, CheckReason::ok) << out.detail;
  ASSERT_TRUE(out.tls_cert_expires_in.has_value());
  EXPECT_GT(*out.tls_cert_expires_in, Duration::seconds(5 * 86'400 - 60));
  EXPECT_LE(*out.tls_cert_expires_in, Duration::seconds(5 * 86'400));
  // Fewer days left than the spec asks for: unhealthy, saying why.
  spec->http.edit().tls_expiry_min_days = 14;
  const CheckResult r = evaluate(*spec, h.check(spec));
  EXPECT_EQ(r.reason, CheckReason::tls_failure);
  EXPECT_THAT(r.describe(), HasSubstr("the certificate expires in 5.0 days, fewer than tls_expiry_min_days 14"));
  spec->http.edit().tls_expiry_min_days = 3;
  EXPECT_TRUE(evaluate(*spec, h.check(spec)).ok());
  // Plain http has no certificate.
  EXPECT_FALSE(h.check("http://127.0.0.1:" + std::to_string(server.port()) + "/").tls_cert_expires_in.has_value());
}

TEST(CheckerTls, AnExpiredCertificateWithVerifyOffIsReportedAsExpired) {
  TlsTestServer server(make_self_signed_cert("DNS:localhost,IP:127.0.0.1", -2 * 86'400));
  Harness h;
  auto spec = spec_for("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  spec->http.edit().tls_verify = false;
  spec->http.edit().tls_expiry_min_days = 1;
  const CheckResult r = evaluate(*spec, h.check(spec));
  EXPECT_EQ(r.reason, CheckReason::tls_failure);
  EXPECT_THAT(r.describe(), HasSubstr("the certificate expired 2.0 days ago"));
}

TEST(CheckerTls, VerifyOnRejectsASelfSignedCertificate) {
  TlsTestServer server(make_self_signed_cert("DNS:localhost,IP:127.0.0.1"));
  Harness h;
  auto spec = spec_for("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::tls_failure) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("certificate"));
}

TEST(CheckerTls, TrustedCaAndMatchingNamePassWithSni) {
  const TestCert cert = make_self_signed_cert("DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(cert);
  CheckerOptions options;
  options.tls_ca_file = write_temp_file("heck-ca", cert.cert_pem);
  Harness h(options);
  CheckOutcome out = h.check("https://localhost:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail;
  EXPECT_EQ(server.sni(), "localhost");
  out = h.check("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(out.transport, CheckReason::ok) << out.detail << " (IP literal matched against the IP SAN)";
  std::filesystem::remove(options.tls_ca_file);
}

TEST(CheckerTls, TrustedCaButWrongNameFails) {
  const TestCert cert = make_self_signed_cert("DNS:other.example");
  TlsTestServer server(cert);
  CheckerOptions options;
  options.tls_ca_file = write_temp_file("heck-ca", cert.cert_pem);
  Harness h(options);
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    const CheckOutcome out = h.check("https://" + host + ":" + std::to_string(server.port()) + "/");
    EXPECT_EQ(out.transport, CheckReason::tls_failure) << host << ": " << out.detail;
    EXPECT_THAT(out.detail, HasSubstr("mismatch")) << host;
  }
  std::filesystem::remove(options.tls_ca_file);
}

TEST(CheckerTls, MissingCaFileFailsChecksWithAMessage) {
  TlsTestServer server(make_self_signed_cert("IP:127.0.0.1"));
  CheckerOptions options;
  options.tls_ca_file = "/nonexistent/heck-ca.pem";
  Harness h(options);
  const CheckOutcome out = h.check("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(out.transport, CheckReason::tls_failure);
  EXPECT_THAT(out.detail, HasSubstr("/nonexistent/heck-ca.pem"));
}

TEST(CheckerTls, HttpsToAPlainHttpServerIsATlsFailure) {
  TestServer server(serve_400_on_any_bytes);
  Harness h;
  auto spec = spec_for(server.url("https"));
  spec->http.edit().tls_verify = false;
  const CheckOutcome out = h.check(spec);
  EXPECT_EQ(out.transport, CheckReason::tls_failure) << out.detail;
}

}  // namespace
}  // namespace heck::runtime
