// One agent process's parts wired together on one io_context: the Checker,
// the Agent driving the node, and the API server. Used by `heck agent` and
// `heck demo`; the commands add signals, config and printing around it.
//
// Lifecycle: start() binds the API first (so a busy port fails before any
// check runs), then starts the agent and the API. stop() stops accepting API
// connections, stops the agent (timers) and shuts the checker down; the
// io_context then runs out of work.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/node.h"
#include "core/result.h"
#include "runtime/agent.h"
#include "runtime/agent_config.h"
#include "runtime/api_server.h"
#include "runtime/check_runner.h"
#include "runtime/checker.h"
#include "runtime/clock.h"

namespace heck::runtime {

struct AgentHostOptions {
  NodeConfig node;
  CheckerOptions checker;
  AgentOptions agent;
  HostPort api{"127.0.0.1", 7700};
};

// The host options for a parsed config: name (config, else the host name),
// targets and checker limits; `api` is the config's, else the default.
AgentHostOptions host_options_from_config(const AgentConfig& config);

class AgentHost {
 public:
  AgentHost(boost::asio::io_context& io, const Clock& clock, AgentHostOptions options);
  ~AgentHost();

  // Binds the API and starts everything; on error nothing was started.
  Result<boost::asio::ip::tcp::endpoint> start();
  // Idempotent; see the header comment.
  void stop();

  Agent& agent() { return agent_; }
  ApiServer& api() { return api_; }
  Checker& checker() { return checker_; }
  boost::asio::ip::tcp::endpoint api_endpoint() const { return api_.local_endpoint(); }

 private:
  AgentHostOptions options_;
  Checker checker_;
  CheckerRunner runner_;
  Agent agent_;
  ApiServer api_;
  bool stopped_ = false;
};

}  // namespace heck::runtime
