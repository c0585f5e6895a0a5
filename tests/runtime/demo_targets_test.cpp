// The demo targets answer as documented (over a loopback socket, io_context
// in a background thread; every read has a receive timeout).
#include "runtime/demo_targets.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

namespace heck::runtime {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

class DemoTargets : public ::testing::Test {
 protected:
  void start(DemoTargetOptions options) {
    server = std::make_unique<DemoTargetServer>(io, clock, options);
    auto ep = server->listen();
    ASSERT_TRUE(ep.ok()) << ep.error();
    endpoint = *ep;
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    if (!thread.joinable()) return;
    asio::post(io, [this] {
      server->stop();
      guard.reset();
    });
    thread.join();
  }

  // Status code of GET `path`, or 0 when the server closed without answering.
  unsigned get(const std::string& path) {
    asio::ip::tcp::socket s(client_io);
    s.connect(endpoint);
    timeval tv{5, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    asio::write(s, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    boost::beast::flat_buffer buf;
    http::response<http::string_body> r;
    boost::system::error_code ec;
    http::read(s, buf, r, ec);
    return ec ? 0 : r.result_int();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  asio::io_context client_io;
  Clock clock;
  std::unique_ptr<DemoTargetServer> server;
  asio::ip::tcp::endpoint endpoint;
  std::thread thread;
};

TEST_F(DemoTargets, PathsBehave) {
  DemoTargetOptions o;
  o.slow_delay = Duration::milliseconds(10);
  o.max_hang = Duration::milliseconds(100);
  start(o);
  EXPECT_EQ(endpoint.address().to_string(), "127.0.0.1");
  EXPECT_EQ(get("/ok"), 200u);
  EXPECT_EQ(get("/fail"), 503u);
  EXPECT_EQ(get("/slow"), 200u);
  EXPECT_EQ(get("/slow?ms=20"), 200u);
  EXPECT_EQ(get("/slow?ms=99999"), 400u);
  EXPECT_EQ(get("/slow?ms=x"), 400u);
  EXPECT_EQ(get("/nope"), 404u);
  EXPECT_EQ(get("/hang"), 0u);  // dropped after max_hang, never answered
  const unsigned flap = get("/flap");
  EXPECT_TRUE(flap == 200u || flap == 503u) << flap;
  const unsigned flap2 = get("/flap?period_ms=100000&phase_ms=0");
  EXPECT_EQ(flap2, 200u);  // the first 100 s of a period are up
  EXPECT_EQ(get("/flap?period_ms=100000&phase_ms=100000"), 503u);  // shifted by one period: down
  EXPECT_EQ(get("/flap?period_ms=5"), 400u);
  EXPECT_EQ(get("/flap?period_ms=1000&phase_ms=-1"), 400u);
  EXPECT_EQ(get("/flap?period_ms=abc"), 400u);
  EXPECT_EQ(get("/ok?n=17"), 200u);  // other query parameters are ignored
}

TEST(DemoTargetsFlap, AlternatesEveryPeriodFromStart) {
  asio::io_context io;
  Clock clock(Instant::from_ns(1'000'000'000));
  DemoTargetOptions o;
  o.flap_period = Duration::seconds(2);
  DemoTargetServer server(io, clock, o);
  const Instant t0 = clock.now();  // started_at is set at construction (and again by start())
  // Phases are counted from the server's start: up, down, up, ...
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(server.flap_up(t0 + Duration::seconds(2 * k) + Duration::milliseconds(1000)), k % 2 == 0) << k;
  }
}

TEST(DemoTargetsFlap, PeriodAndPhasePerRequest) {
  asio::io_context io;
  Clock clock(Instant::from_ns(1'000'000'000));
  DemoTargetServer server(io, clock);
  const Instant t0 = clock.now();
  const Duration p = Duration::milliseconds(1000);
  EXPECT_TRUE(server.flap_up(t0 + Duration::milliseconds(500), p, Duration::zero()));
  EXPECT_FALSE(server.flap_up(t0 + Duration::milliseconds(1500), p, Duration::zero()));
  // Shifted by half a period: down from 500 ms, up again from 1500 ms.
  EXPECT_FALSE(server.flap_up(t0 + Duration::milliseconds(600), p, Duration::milliseconds(500)));
  EXPECT_TRUE(server.flap_up(t0 + Duration::milliseconds(1600), p, Duration::milliseconds(500)));
}

}  // namespace
}  // namespace heck::runtime
