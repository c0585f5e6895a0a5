// `heck demo [--targets N] [--duration S] [--api HOST:PORT]`: the README's
// main command. In one process: N local HTTP targets on 127.0.0.1 ephemeral
// ports (healthy, failing, flapping, slow, hanging, a TCP port, a refused
// port, ...), an agent checking them with short intervals, its API, and a
// status table every few seconds, until Ctrl-C or --duration. Built-in
// defaults only.
#include <algorithm>
#include <cassert>
#include <functional>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "core/target_spec.h"
#include "runtime/agent_config.h"
#include "runtime/agent_host.h"
#include "runtime/clock.h"
#include "runtime/demo_targets.h"
#include "runtime/log.h"
#include "runtime/version.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

using namespace heck::runtime;
namespace asio = boost::asio;

struct DemoArgs {
  int targets = 12;
  double duration_s = 0;  // 0 = until Ctrl-C
  std::string api = "127.0.0.1:7700";
  double table_every_s = 3;
};

[[noreturn]] void fail(int code, std::string_view message) {
  std::fprintf(stderr, "heck demo: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

// What one demo target does. The list cycles when N is larger than it.
enum class Kind { ok, fail, flap, slow, hang, tcp, refused, flap_slow, slow_timeout, not_found, body };

struct KindInfo {
  Kind kind;
  std::string_view name;
};

constexpr KindInfo kCycle[] = {
    {Kind::ok, "ok"},           {Kind::fail, "fail"},       {Kind::flap, "flap"},
    {Kind::slow, "slow"},       {Kind::hang, "hang"},       {Kind::tcp, "tcp"},
    {Kind::refused, "refused"}, {Kind::ok, "ok"},           {Kind::flap_slow, "flap"},
    {Kind::slow_timeout, "slow-timeout"}, {Kind::body, "body"}, {Kind::not_found, "notfound"},
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed), for the
// "connection refused" target.
std::uint16_t closed_port(asio::io_context& io) {
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

TargetSpec make_spec(std::string id, std::string url, std::int64_t interval_ms, std::int64_t timeout_ms) {
  TargetSpec s;
  s.id = std::move(id);
  auto u = Url::parse(url);
  assert(u.ok());
  s.url = *u;
  s.interval = Duration::milliseconds(interval_ms);
  s.timeout = Duration::milliseconds(timeout_ms);
  s.rise = 2;
  s.fall = 2;
  return s;
}

std::string ago(Duration d) {
  const auto s = d.ms() / 1000;
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  return fmt::format("{}h", s / 3600);
}

void print_table(const Agent& agent) {
  const Instant now = agent.now();
  const CheckScheduler& s = agent.node().scheduler();
  int healthy = 0, unhealthy = 0, unknown = 0;
  std::uint64_t checks = 0;
  s.for_each([&](const TargetState& t) {
    healthy += t.status == HealthStatus::healthy;
    unhealthy += t.status == HealthStatus::unhealthy;
    unknown += t.status == HealthStatus::unknown;
    checks += t.checks_started;
  });
  std::string out = fmt::format("\n--- {}  up {}  healthy {}  unhealthy {}  unknown {}  checks {}\n",
                                format_rfc3339(now), ago(now - agent.started_at()), healthy, unhealthy, unknown,
                                checks);
  out += fmt::format("{:<18} {:<10} {:>6} {:>10}  {}\n", "TARGET", "STATUS", "SINCE", "LATENCY", "LAST RESULT");
  s.for_each([&](const TargetState& t) {
    const std::string latency = t.checked ? fmt::format("{:.1f} ms", t.last_result.latency.ms_f()) : "-";
    const std::string reason = t.checked ? sanitize_for_log(t.last_result.describe(), 60) : "(not checked yet)";
    out += fmt::format("{:<18} {:<10} {:>6} {:>10}  {}\n", t.spec->id, to_string(t.status),
                       ago(now - t.status_since), latency, reason);
  });
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void run_demo(const DemoArgs& args) {
  auto api = HostPort::parse(args.api);
  if (!api) fail(2, fmt::format("--api: {}", api.error()));

  asio::io_context io(1);
  const Clock clock;

  // The local targets: one small HTTP server per HTTP target.
  std::vector<std::unique_ptr<DemoTargetServer>> servers;
  std::vector<TargetSpec> specs;
  auto new_server = [&](Duration flap_period) -> std::uint16_t {
    DemoTargetOptions o;
    o.flap_period = flap_period;
    o.slow_delay = Duration::milliseconds(450);
    o.hang_max = Duration::seconds(5);
    auto srv = std::make_unique<DemoTargetServer>(io, clock, o);
    auto ep = srv->listen();
    if (!ep) fail(1, ep.error());
    srv->start();
    servers.push_back(std::move(srv));
    return ep->port();
  };
  std::uint16_t first_port = 0;
  for (int i = 0; i < args.targets; ++i) {
    const KindInfo& k = kCycle[static_cast<std::size_t>(i) % std::size(kCycle)];
    // Number targets of one name: ok-1, ok-2, ... (names repeat in the cycle).
    int n = 1;
    for (int j = 0; j < i; ++j) n += kCycle[static_cast<std::size_t>(j) % std::size(kCycle)].name == k.name;
    const std::string id = fmt::format("{}-{}", k.name, n);
    switch (k.kind) {
      case Kind::tcp: {
        if (first_port == 0) first_port = new_server(Duration::seconds(6));
        specs.push_back(make_spec(id, fmt::format("tcp://127.0.0.1:{}", first_port), 2000, 800));
        break;
      }
      case Kind::refused:
        specs.push_back(make_spec(id, fmt::format("http://127.0.0.1:{}/ok", closed_port(io)), 2000, 800));
        break;
      default: {
        const Duration flap = k.kind == Kind::flap_slow ? Duration::seconds(10) : Duration::seconds(6);
        const std::uint16_t port = new_server(flap);
        if (first_port == 0) first_port = port;
        std::string path = "/ok";
        std::int64_t interval = 1000;
        switch (k.kind) {
          case Kind::fail: path = "/fail"; break;
          case Kind::flap:
          case Kind::flap_slow: path = "/flap"; break;
          case Kind::slow: path = "/slow"; interval = 2000; break;
          case Kind::hang: path = "/hang"; interval = 2000; break;
          case Kind::slow_timeout: path = "/slow?ms=1500"; interval = 2000; break;
          case Kind::not_found: path = "/missing"; interval = 2000; break;
          default: break;
        }
        TargetSpec spec = make_spec(id, fmt::format("http://127.0.0.1:{}{}", port, path), interval, 800);
        if (k.kind == Kind::body) spec.expect_body = "ok";
        specs.push_back(std::move(spec));
      }
    }
  }

  AgentHostOptions options;
  options.node.name = "demo";
  options.node.targets = specs;
  options.api = *api;
  options.transport.bind = HostPort{"127.0.0.1", 0};  // a one-member cluster on any free port
  options.leave_timeout = Duration::zero();
  options.warn_plaintext = false;
  AgentHost host(io, clock, std::move(options));
  auto ep = host.start();
  if (!ep) {
    for (auto& s : servers) s->stop();
    fail(1, fmt::format("{}\n  Is another heck (demo) running? Pick another address, e.g. --api 127.0.0.1:{} "
                        "(or port 0 for any free port).",
                        ep.error(), api->port == 65535 ? 7701 : api->port + 1));
  }
  const std::string a = HostPort{ep->address().to_string(), ep->port()}.to_string();
  std::string intro = fmt::format(
      "heck demo (version {}): {} local targets on 127.0.0.1, checked every 1-2 s; agent API on http://{}\n"
      "Try, in another terminal:\n"
      "  curl -s {}/v1/targets | python3 -m json.tool\n"
      "  curl -s '{}/v1/targets?status=unhealthy'\n"
      "  curl -s {}/v1/targets/{}\n"
      "  curl -s {}/v1/health\n"
      "  curl -s {}/metrics | grep '^heck_'\n"
      "Status changes are logged below as they happen; a table follows every {} s. {}\n",
      kVersion, specs.size(), a, a, a, a, specs.empty() ? "ok-1" : specs[std::min<std::size_t>(2, specs.size() - 1)].id,
      a, a, args.table_every_s,
      args.duration_s > 0 ? fmt::format("Stops after {} s (or Ctrl-C).", args.duration_s) : "Ctrl-C stops.");
  std::fwrite(intro.data(), 1, intro.size(), stdout);
  std::fflush(stdout);

  bool stopping = false;
  asio::steady_timer table_timer(io);
  asio::steady_timer duration_timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  const auto every = std::chrono::milliseconds(static_cast<std::int64_t>(args.table_every_s * 1000));

  auto stop = [&](std::string_view why) {
    if (stopping) return;
    stopping = true;
    write_stderr_line(log_line(clock.now(), fmt::format("demo stopping: {}", why)));
    boost::system::error_code ignored;
    signals.clear(ignored);  // a second Ctrl-C now ends the process
    signals.cancel(ignored);
    table_timer.cancel();
    duration_timer.cancel();
    host.stop();
    for (auto& s : servers) s->stop();
  };

  std::function<void()> schedule_table = [&] {
    table_timer.expires_after(every);
    table_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      print_table(host.agent());
      schedule_table();
    });
  };
  schedule_table();
  if (args.duration_s > 0) {
    duration_timer.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(args.duration_s * 1000)));
    duration_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) stop("--duration reached");
    });
  }
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) stop(signo == SIGINT ? "SIGINT" : "SIGTERM");
  });

  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      write_stderr_line(log_line(clock.now(), fmt::format("error escaped a handler: {}", e.what())));
    }
  }
  print_table(host.agent());
  const auto& c = host.agent().counters();
  std::string bye = fmt::format("\nheck demo finished: {} checks, {} status changes.\n", c.checks_started,
                                c.status_changes);
  std::fwrite(bye.data(), 1, bye.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void register_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand("demo", "local targets checked by an agent, with its API, on built-in defaults");
  cmd->add_option("--targets", args->targets, "number of local targets")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  cmd->add_option("--duration", args->duration_s, "stop after S seconds (0 = until Ctrl-C)")
      ->check(CLI::Range(0.0, 7.0 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--api", args->api, "API listen address HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  cmd->add_option("--table-every", args->table_every_s, "seconds between status tables")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace heck::cli
