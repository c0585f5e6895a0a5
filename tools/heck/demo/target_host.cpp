#include "tools/heck/demo/target_host.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "tools/heck/demo/console.h"

namespace heck::cli::demo {

using namespace heck::runtime;
namespace asio = boost::asio;

namespace {

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

}  // namespace

TargetHost::TargetHost(const HostPort& address, std::size_t max_connections) {
  DemoTargetOptions o;
  o.max_connections = max_connections;
  o.slow_delay = Duration::milliseconds(1500);
  o.max_hang = Duration::seconds(5);
  server_ = std::make_unique<DemoTargetServer>(io_, clock_, o);
  auto ep = server_->listen(address);
  if (!ep) fail(1, fmt::format("cannot serve the demo targets on {}: {}", address.to_string(), ep.error()));
  port_ = ep->port();
  server_->start();
  thread_ = std::thread([this] { io_.run(); });
}

void TargetHost::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    server_->stop();
    guard_.reset();
  });
  thread_.join();
}

std::vector<PlannedTarget> plan_targets(int count, std::uint16_t port) {
  const std::uint16_t refused = closed_port();
  std::vector<PlannedTarget> out;
  int steady_n = 0, flap_n = 0, down_n = 0;
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  for (int i = 0; i < count; ++i) {
    const int slot = i % 10;
    if (slot == 2 || slot == 5 || slot == 8) {
      ++flap_n;
      const int period_ms = 8000 + (flap_n % 6) * 2000;
      const int phase_ms = (flap_n * 3700) % period_ms;
      out.push_back({fmt::format("flap-{:02}", flap_n),
                     fmt::format("{}/flap?period_ms={}&phase_ms={}", base, period_ms, phase_ms), "flapping"});
    } else if (slot == 7) {
      ++down_n;
      std::string url;
      switch (down_n % 4) {
        case 1: url = base + "/fail"; break;
        case 2: url = fmt::format("http://127.0.0.1:{}/ok", refused); break;
        case 3: url = base + "/slow?ms=1500"; break;
        default: url = base + "/missing"; break;
      }
      out.push_back({fmt::format("down-{:02}", down_n), url, "down"});
    } else {
      ++steady_n;
      out.push_back({fmt::format("ok-{:02}", steady_n), fmt::format("{}/ok?n={}", base, steady_n), "steady"});
    }
  }
  return out;
}

}  // namespace heck::cli::demo
