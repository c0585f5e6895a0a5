#include "runtime/demo_targets.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <string_view>

namespace heck::runtime {

namespace {

HttpServerOptions server_options(const DemoTargetOptions& o) {
  HttpServerOptions s;
  s.max_connections = o.max_connections;
  s.max_header_bytes = 8 * 1024;
  s.max_body_bytes = 64 * 1024;
  s.read_timeout = Duration::seconds(10);
  s.write_timeout = Duration::seconds(10);
  s.server_header = "heck-demo-target";
  return s;
}

HttpResponse text(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// The value of `key` in a query string "a=1&b=2": nullopt when absent, -1
// when present but not an integer in [min, max].
std::optional<std::int64_t> query_int(std::string_view query, std::string_view key, std::int64_t min,
                                      std::int64_t max) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != key) continue;
    const std::string_view v = pair.substr(eq + 1);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) return -1;
    return n;
  }
  return std::nullopt;
}

}  // namespace

DemoTargetServer::DemoTargetServer(boost::asio::io_context& io, const Clock& clock, DemoTargetOptions options)
    : io_(io),
      clock_(clock),
      options_(options),
      server_(io, [this](const HttpRequest& req, HttpServer::Reply reply) { handle(req, std::move(reply)); },
              server_options(options)),
      started_at_(clock.now()) {}

DemoTargetServer::~DemoTargetServer() { stop(); }

Result<boost::asio::ip::tcp::endpoint> DemoTargetServer::listen(const HostPort& address) {
  return server_.listen(address);
}

void DemoTargetServer::start() {
  started_at_ = clock_.now();
  server_.start();
}

void DemoTargetServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  server_.stop();
  // Destroying the timers cancels them; their handlers drop the replies.
  timers_.clear();
}

bool DemoTargetServer::flap_up(Instant now) const { return flap_up(now, options_.flap_period, Duration::zero()); }

bool DemoTargetServer::flap_up(Instant now, Duration period, Duration phase) const {
  const std::int64_t p = std::max<std::int64_t>(1, period.ns());
  const std::int64_t elapsed = std::max<std::int64_t>(0, (now - started_at_).ns() + phase.ns());
  return (elapsed / p) % 2 == 0;
}

void DemoTargetServer::handle(const HttpRequest& req, HttpServer::Reply reply) {
  ++requests_;
  const std::string_view target = req.target;
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  if (path == "/ok") return reply(text(200, "ok\n"));
  if (path == "/fail") return reply(text(503, "failing\n"));
  if (path == "/flap") {
    const auto period_ms = query_int(query, "period_ms", kMinFlapPeriodMs, kMaxFlapMs);
    const auto phase_ms = query_int(query, "phase_ms", 0, kMaxFlapMs);
    if (period_ms == -1) return reply(text(400, "period_ms must be 100-3600000\n"));
    if (phase_ms == -1) return reply(text(400, "phase_ms must be 0-3600000\n"));
    const Duration period = period_ms ? Duration::milliseconds(*period_ms) : options_.flap_period;
    const Duration phase = Duration::milliseconds(phase_ms.value_or(0));
    return flap_up(clock_.now(), period, phase) ? reply(text(200, "flap: up\n")) : reply(text(503, "flap: down\n"));
  }
  if (path == "/slow") {
    Duration delay = options_.slow_delay;
    const auto ms = query_int(query, "ms", 0, kMaxSlowMs);
    if (ms == -1) return reply(text(400, "ms must be 0-30000\n"));
    if (ms) delay = Duration::milliseconds(*ms);
    return later(delay, std::move(reply), true);
  }
  if (path == "/hang") return later(options_.max_hang, std::move(reply), false);
  if (path == "/") {
    return reply(text(200, "heck demo target: /ok /fail /flap[?period_ms=N&phase_ms=M] /slow[?ms=N] /hang\n"));
  }
  return reply(text(404, "not found\n"));
}

void DemoTargetServer::later(Duration delay, HttpServer::Reply reply, bool answer) {
  if (stopped_) return;  // dropping the reply closes the connection
  const std::uint64_t id = next_timer_++;
  auto timer = std::make_unique<boost::asio::steady_timer>(io_);
  timer->expires_after(std::chrono::nanoseconds(delay.ns()));
  timer->async_wait([this, id, reply = std::move(reply), answer](const boost::system::error_code& ec) {
    if (ec) return;  // stopped: the reply is dropped with this handler
    timers_.erase(id);
    if (answer) reply(text(200, "slow: ok\n"));
    // !answer: dropping the reply closes the hung connection.
  });
  timers_.emplace(id, std::move(timer));
}

}  // namespace heck::runtime
