// Local HTTP targets for `heck demo` (and tests): a tiny server on the
// agent's io_context whose paths behave in known ways.
//
//   /ok              200 "ok"
//   /fail            503 "failing"
//   /flap[?period_ms=N][&phase_ms=M]
//                    200 and 503, alternating every `flap_period` (or N ms,
//                    100-3600000), phase counted from start() and shifted by
//                    M ms (0-3600000): many targets on one server flap
//                    out of step
//   /slow[?ms=N]     200 after `slow_delay` (or N ms, at most 30 s)
//   /hang            never answers; the connection is dropped after
//                    `max_hang` (so hung connections do not pile up)
//   anything else    404
// Other query parameters are ignored (so /ok?n=17 gives many distinct URLs
// on one server, e.g. for a benchmark). A bad period_ms/phase_ms/ms -> 400.
//
// Bounded like every heck server (max_connections, request limits).
// REQUIRES: the server outlives the io_context's run (it schedules handlers
// that refer to it); call stop() before destroying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/result.h"
#include "core/time.h"
#include "runtime/agent_config.h"
#include "runtime/clock.h"
#include "runtime/http_server.h"

namespace heck::runtime {

struct DemoTargetOptions {
  Duration flap_period = Duration::seconds(5);
  Duration slow_delay = Duration::milliseconds(600);
  Duration max_hang = Duration::seconds(10);
  std::size_t max_connections = 64;
};

class DemoTargetServer {
 public:
  static constexpr std::int64_t kMaxSlowMs = 30'000;
  static constexpr std::int64_t kMinFlapPeriodMs = 100;
  static constexpr std::int64_t kMaxFlapMs = 3'600'000;

  DemoTargetServer(boost::asio::io_context& io, const Clock& clock, DemoTargetOptions options = {});
  ~DemoTargetServer();
  DemoTargetServer(const DemoTargetServer&) = delete;
  DemoTargetServer& operator=(const DemoTargetServer&) = delete;

  // Binds (default: 127.0.0.1 on a free port).
  Result<boost::asio::ip::tcp::endpoint> listen(const HostPort& address = HostPort{"127.0.0.1", 0});
  void start();
  // Stops accepting, closes connections and drops delayed answers.
  void stop();

  std::uint16_t port() const { return server_.local_endpoint().port(); }
  std::uint64_t requests() const { return requests_; }
  // True while /flap answers 200 (the default period, no phase shift).
  bool flap_up(Instant now) const;
  // True while /flap?period_ms=...&phase_ms=... answers 200.
  bool flap_up(Instant now, Duration period, Duration phase) const;

 private:
  void handle(const HttpRequest& req, HttpServer::Reply reply);
  void later(Duration delay, HttpServer::Reply reply, bool answer);

  boost::asio::io_context& io_;
  const Clock& clock_;
  DemoTargetOptions options_;
  HttpServer server_;
  Instant started_at_;
  bool stopped_ = false;
  std::uint64_t requests_ = 0;
  std::uint64_t next_timer_ = 1;
  std::map<std::uint64_t, std::unique_ptr<boost::asio::steady_timer>> timers_;
};

}  // namespace heck::runtime
