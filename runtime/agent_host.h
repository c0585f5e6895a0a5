// One agent process's parts wired together on one io_context: the Checker,
// the cluster Transport (UDP + TCP, sealed by the Keyring), the Agent driving
// the ClusterNode, and the API server. Used by `heck agent` (`heck demo` runs agents as processes);
// the commands add signals, config and printing around it.
//
// Wiring: the transport's packets are submitted to the agent; the agent's
// Send effects go to the transport; the transport's counters are rendered
// with the agent's metrics (heck_cluster_packets_rejected_total{reason},
// heck_cluster_transport_events_total{event}, bytes and packets by channel).
//
// Durable state: with AgentHostOptions::data_dir set, start() first makes
// sure the directory exists and is writable, reads <data_dir>/state.snapshot
// (runtime/state_file.h) and passes it to the node as
// ClusterNodeConfig::restored; the agent then keeps the file current (see
// runtime/agent.h, "Durability"). A snapshot that cannot be read or decoded
// stops the start with an error naming the file and the decode error: move
// the file away to start empty (the peers' state comes back by
// anti-entropy).
//
// Stores: with AgentHostOptions::etcd set the node runs in its external
// store mode (ClusterNodeConfig::external_store) and an EtcdDriver carries
// its writes to etcd and etcd's watch back to it; the data dir's snapshot
// is neither read nor written then (etcd keeps the registry and counters).
//
// Lifecycle: start() binds the cluster port (UDP and TCP), works out the
// advertised address (AgentHostOptions::advertise, else the bound address;
// binding 0.0.0.0 or :: requires an advertise address), binds the API (so a
// busy port fails before any check runs), then starts the agent (it joins its
// seeds) and the API. shutdown() leaves the cluster and, when there are peers
// to tell, waits leave_timeout for the leave to spread before stop(). stop()
// stops accepting API connections, stops the agent (timers), closes the
// transport and shuts the checker down; the io_context then runs out of work.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/cluster/cluster_node.h"
#include "core/result.h"
#include "runtime/agent.h"
#include "runtime/agent_config.h"
#include "runtime/api_server.h"
#include "runtime/check_runner.h"
#include "runtime/checker.h"
#include "runtime/clock.h"
#include "runtime/cluster/keyring.h"
#include "runtime/cluster/transport.h"
#include "runtime/store/etcd_driver.h"

namespace heck::runtime {

struct AgentHostOptions {
  // name, seeds, SWIM timing and targets; `address` is filled in by start()
  // (from `advertise` or the bound address).
  ClusterNodeConfig node;
  cluster::TransportOptions transport;  // .bind: the cluster address to bind
  std::optional<Address> advertise;
  cluster::Keyring keyring;             // none = plaintext (a warning is logged)
  bool warn_plaintext = true;           // false: no warning (tests on loopback)
  CheckerOptions checker;
  AgentOptions agent;
  HostPort api{"127.0.0.1", 7700};
  ApiOptions api_options;                // .token: bearer token for writes
  std::optional<std::string> data_dir;   // durable state; none = memory only (gossip store only)
  // The etcd store (runtime/store/etcd_driver.h); none = the gossip store.
  // Its store.member is set to the node's name at start().
  std::optional<EtcdDriverOptions> etcd;
  Duration leave_timeout = Duration::seconds(1);
};

// The host options for a parsed config: name (config, else the host name),
// targets, checker limits, cluster (bind, advertise, join, keys, SWIM
// timing), data_dir and api_token; `api` and `bind` are the config's, else
// the defaults.
// REQUIRES: the config passed AgentConfig's validation.
AgentHostOptions host_options_from_config(const AgentConfig& config);

class AgentHost {
 public:
  AgentHost(boost::asio::io_context& io, const Clock& clock, AgentHostOptions options);
  ~AgentHost();

  // Binds the cluster port and the API and starts everything; returns the
  // API endpoint. On error nothing was started and the message says where
  // and why.
  Result<boost::asio::ip::tcp::endpoint> start();
  // Leave, wait (bounded) for the leave to spread, then stop(); `done` runs
  // after stop(). Idempotent (a second call only stops at once).
  void shutdown(std::function<void()> done = {});
  // Idempotent; see the header comment.
  void stop();

  bool started() const { return agent_ != nullptr; }
  // REQUIRES: started().
  Agent& agent() { return *agent_; }
  const Agent& agent() const { return *agent_; }
  ApiServer& api() { return *api_; }
  // The etcd store's driver; null with the gossip store.
  const EtcdDriver* etcd() const { return etcd_.get(); }
  Checker& checker() { return checker_; }
  const cluster::Transport& transport() const { return transport_; }
  boost::asio::ip::tcp::endpoint api_endpoint() const { return api_->local_endpoint(); }
  // The bound cluster address and the one peers are told.
  HostPort cluster_bound() const { return transport_.local_address(); }
  const Address& advertised() const { return advertised_; }
  // Targets and counters restored from the state file at start() (0 = none).
  std::size_t restored_targets() const { return restored_targets_; }
  std::size_t restored_counters() const { return restored_counters_; }

 private:
  void log(std::string_view text);
  void register_transport_metrics();

  boost::asio::io_context& io_;
  const Clock& clock_;
  AgentHostOptions options_;
  Checker checker_;
  CheckerRunner runner_;
  cluster::Transport transport_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<EtcdDriver> etcd_;
  std::unique_ptr<ApiServer> api_;
  boost::asio::steady_timer leave_timer_;
  Address advertised_;
  std::size_t restored_targets_ = 0;
  std::size_t restored_counters_ = 0;
  bool shutting_down_ = false;
  bool stopped_ = false;
};

}  // namespace heck::runtime
