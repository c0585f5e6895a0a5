#include "runtime/demo_targets.h"

#include <charconv>
#include <chrono>
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

bool DemoTargetServer::flap_up(Instant now) const {
  const std::int64_t period = std::max<std::int64_t>(1, options_.flap_period.ns());
  const std::int64_t phase = (now - started_at_).ns() / period;
  return phase % 2 == 0;
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
    return flap_up(clock_.now()) ? reply(text(200, "flap: up\n")) : reply(text(503, "flap: down\n"));
  }
  if (path == "/slow") {
    Duration delay = options_.slow_delay;
    if (query.starts_with("ms=")) {
      std::int64_t ms = 0;
      const auto v = query.substr(3);
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec != std::errc{} || end != v.data() + v.size() || ms < 0 || ms > kMaxSlowMs) {
        return reply(text(400, "ms must be 0-30000\n"));
      }
      delay = Duration::milliseconds(ms);
    }
    return later(delay, std::move(reply), true);
  }
  if (path == "/hang") return later(options_.hang_max, std::move(reply), false);
  if (path == "/") return reply(text(200, "heck demo target: /ok /fail /flap /slow[?ms=N] /hang\n"));
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
