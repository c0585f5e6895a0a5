#include "runtime/agent_host.h"

#include <unistd.h>

#include "core/random.h"

namespace heck::runtime {

AgentHostOptions host_options_from_config(const AgentConfig& config) {
  AgentHostOptions o;
  o.node.name = config.name ? *config.name : default_agent_name();
  o.node.targets = config.targets;
  o.checker.max_concurrent = config.max_concurrent_checks;
  o.checker.max_body_bytes = config.max_body_bytes;
  o.checker.dns_ttl = config.dns_ttl;
  if (config.api) o.api = *config.api;
  // Phases and jitter need not repeat between runs of the daemon.
  std::uint64_t s = static_cast<std::uint64_t>(Clock{}.now().ns()) ^ (static_cast<std::uint64_t>(getpid()) << 32);
  o.agent.seed = splitmix64(s);
  return o;
}

AgentHost::AgentHost(boost::asio::io_context& io, const Clock& clock, AgentHostOptions options)
    : options_(std::move(options)),
      checker_(io, options_.checker),
      runner_(checker_),
      agent_(io, clock, runner_, options_.node, options_.agent),
      api_(io, agent_) {}

AgentHost::~AgentHost() { stop(); }

Result<boost::asio::ip::tcp::endpoint> AgentHost::start() {
  auto ep = api_.listen(options_.api);
  if (!ep) return ep;
  agent_.start();
  api_.start();
  return ep;
}

void AgentHost::stop() {
  if (stopped_) return;
  stopped_ = true;
  api_.stop();
  agent_.stop();
  checker_.shutdown();
}

}  // namespace heck::runtime
