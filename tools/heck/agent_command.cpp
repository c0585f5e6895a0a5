// `heck agent --config FILE [--api HOST:PORT]`: the daemon. Loads and checks
// the config (refused with exit code 2 and a message naming the field), binds
// the API (exit 1 if it cannot), then runs until SIGINT or SIGTERM, which stop
// it cleanly (exit 0). A second signal during shutdown ends it at once.
//
// Later versions add --name, --bind and --join for clustering.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "runtime/agent_config.h"
#include "runtime/agent_host.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/version.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

struct AgentArgs {
  std::string config_path;
  std::string api;
};

[[noreturn]] void fail(int code, std::string_view message) {
  std::fprintf(stderr, "heck agent: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

void run_agent(const AgentArgs& args) {
  using namespace heck::runtime;
  auto config = AgentConfig::load(args.config_path);
  if (!config) fail(2, config.error());
  std::optional<HostPort> api_override;
  if (!args.api.empty()) {
    auto hp = HostPort::parse(args.api);
    if (!hp) fail(2, fmt::format("--api: {}", hp.error()));
    api_override = *hp;
  }

  boost::asio::io_context io(1);
  const Clock clock;
  AgentHostOptions options = host_options_from_config(*config);
  if (api_override) options.api = *api_override;
  const std::string name = options.node.name;
  const std::size_t targets = options.node.targets.size();
  AgentHost host(io, clock, std::move(options));

  auto ep = host.start();
  if (!ep) fail(1, ep.error());
  const HostPort bound{ep->address().to_string(), ep->port()};
  write_stderr_line(log_line(clock.now(), fmt::format("heck agent {} (version {}): {} targets from {}, API on http://{}",
                                                      name, kVersion, targets, args.config_path,
                                                      bound.to_string())));

  // The first SIGINT/SIGTERM stops the agent cleanly. Clearing the set then
  // restores the default action, so a second signal ends a stuck shutdown,
  // and the io_context can run out of work.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    write_stderr_line(log_line(clock.now(), fmt::format("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM")));
    boost::system::error_code ignored;
    signals.clear(ignored);
    host.stop();
  });

  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      // Handlers catch their own exceptions; this is a last line of defence.
      write_stderr_line(log_line(clock.now(), fmt::format("error escaped a handler: {}", e.what())));
    }
  }
  const auto& c = host.agent().counters();
  write_stderr_line(log_line(clock.now(), fmt::format("heck agent {} stopped: {} checks, {} status changes",
                                                      name, c.checks_started, c.status_changes)));
}

}  // namespace

void register_agent_command(CLI::App& app) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* cmd = app.add_subcommand("agent", "run the daemon: check the configured targets, serve the API");
  cmd->add_option("--config", args->config_path, "the agent's JSON config file")->required();
  cmd->add_option("--api", args->api, "API listen address HOST:PORT (default 127.0.0.1:7700; overrides the config)");
  cmd->callback([args] { run_agent(*args); });
}

}  // namespace heck::cli
