#include "runtime/agent_host.h"

#include <unistd.h>

#include <chrono>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "core/random.h"
#include "runtime/log.h"
#include "runtime/state_file.h"

namespace heck::runtime {

namespace {

std::string node_restored_text(std::size_t targets, std::size_t counters) {
  if (targets == 0 && counters == 0) return "nothing to restore (new or empty)";
  return fmt::format("restored {} targets and {} counters", targets, counters);
}

}  // namespace

AgentHostOptions host_options_from_config(const AgentConfig& config) {
  AgentHostOptions o;
  o.node.name = config.name ? *config.name : default_agent_name();
  o.node.targets = config.targets;
  o.node.alerts.routes = config.alerts;
  o.node.seeds = config.join;
  o.node.swim = config.swim;
  o.node.replication.request_retention = config.idempotency_retention;
  o.node.replication.removal_retention = config.removal_retention;
  o.node.replication.max_request_records = config.max_idempotency_records;
  o.node.latency_handoff_interval = config.latency_handoff;
  o.node.wire_format = config.wire_format;
  o.checker.max_concurrent = config.max_concurrent_checks;
  o.checker.max_body_bytes = config.max_body_bytes;
  o.checker.dns_ttl = config.dns_ttl;
  if (config.api) o.api = *config.api;
  o.transport.bind = config.bind ? *config.bind : *HostPort::parse(AgentConfig::kDefaultBind);
  o.transport.max_packet_bytes = config.swim.max_packet_bytes;
  o.advertise = config.advertise;
  auto ring = cluster::Keyring::from_base64(config.keys);
  assert(ring.ok());  // validated when the config was parsed
  if (ring) o.keyring = std::move(*ring);
  o.leave_timeout = config.leave_timeout;
  o.data_dir = config.data_dir;
  if (config.api_token) o.api_options.token = *config.api_token;
  o.api_options.min_interval = config.min_api_interval;
  if (config.store == "etcd") {
    EtcdDriverOptions etcd;
    for (const std::string& e : config.etcd) {
      auto parsed = parse_etcd_endpoints(e);
      assert(parsed.ok());  // validated when the config was parsed
      if (parsed) etcd.endpoints.insert(etcd.endpoints.end(), parsed->begin(), parsed->end());
    }
    o.etcd = std::move(etcd);
  }
  // Phases, jitter and the boot nonce need not repeat between runs of the daemon.
  std::uint64_t s = static_cast<std::uint64_t>(Clock{}.now().ns()) ^ (static_cast<std::uint64_t>(getpid()) << 32);
  o.agent.seed = splitmix64(s);
  return o;
}

AgentHost::AgentHost(boost::asio::io_context& io, const Clock& clock, AgentHostOptions options)
    : io_(io),
      clock_(clock),
      options_(std::move(options)),
      checker_(io, options_.checker),
      runner_(checker_),
      transport_(
          io, options_.transport, options_.keyring,
          [this](Packet p) {
            if (agent_ && !stopped_) agent_->submit(std::move(p));
          },
          [this](std::string_view line) { log(line); }),
      leave_timer_(io) {}

AgentHost::~AgentHost() { stop(); }

void AgentHost::log(std::string_view text) {
  const std::string line = log_line(clock_.now(), text);
  if (options_.agent.log) {
    options_.agent.log(line);
  } else {
    write_stderr_line(line);
  }
}

Result<boost::asio::ip::tcp::endpoint> AgentHost::start() {
  assert(!agent_ && !stopped_);
  // The state file first: a bad one must stop the start before anything binds.
  std::optional<Snapshot> restored;
  std::string state_path, history_path;
  if (options_.data_dir && !options_.etcd) {
    auto dir = prepare_data_dir(*options_.data_dir);
    if (!dir) return Error{dir.error()};
    state_path = state_file_path(*dir);
    history_path = history_file_path(*dir);
    auto loaded = load_state(state_path);
    if (!loaded) {
      return Error{fmt::format("cannot restore the state: {} (move the file away to start with an empty state; "
                               "peers bring theirs back)",
                               loaded.error())};
    }
    restored = std::move(*loaded);
  }
  auto bound = transport_.start();
  if (!bound) return Error{bound.error()};
  if (options_.advertise) {
    advertised_ = *options_.advertise;
  } else {
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(bound->host, ec);
    if (!ec && ip.is_unspecified()) {
      transport_.stop();
      return Error{fmt::format("bound the cluster port to {}, which peers cannot use: give --advertise HOST:PORT "
                               "(the address other agents reach this one at)",
                               bound->to_string())};
    }
    advertised_ = bound->to_string();
  }

  ClusterNodeConfig node = options_.node;
  node.address = advertised_;
  if (restored) {
    restored_targets_ = registered_targets(restored->state.registry.store);
    restored_counters_ = restored->state.counters.store.size();
    node.restored = std::move(restored->state);
    node.configured = std::move(restored->configured);
  }
  AgentOptions agent_options = options_.agent;
  agent_options.send = [this](const Send& s) { transport_.send(s); };
  agent_options.state_path = state_path;
  agent_options.history_path = history_path;
  node.external_store = options_.etcd.has_value();
  agent_ = std::make_unique<Agent>(io_, clock_, runner_, std::move(node), std::move(agent_options));
  if (options_.etcd) {
    EtcdDriverOptions etcd = *options_.etcd;
    etcd.store.member = agent_->node().name();
    etcd_ = std::make_unique<EtcdDriver>(
        io_, clock_, std::move(etcd), [this](StoreUpdate u) { if (agent_ && !stopped_) agent_->submit(std::move(u)); },
        [this](std::string_view line) { log(line); });
    agent_->set_external_store(etcd_.get());
  }
  api_ = std::make_unique<ApiServer>(io_, *agent_, default_api_server_options(), options_.api_options);
  auto ep = api_->listen(options_.api);
  if (!ep) {
    transport_.stop();
    api_.reset();
    agent_.reset();
    return ep;
  }
  register_transport_metrics();
  if (!options_.keyring.encrypted() && options_.warn_plaintext) {
    log(fmt::format("cluster traffic on {} is NOT encrypted (no keys): anyone who can reach it can join this "
                    "cluster and feed it; give every agent the same --key (see `heck keygen`)",
                    bound->to_string()));
  }
  if (options_.data_dir && !options_.etcd) {
    log(fmt::format("state file {}: {}", sanitize_for_log(state_path),
                    node_restored_text(restored_targets_, restored_counters_)));
  }
  if (etcd_) etcd_->start();
  agent_->start();
  api_->start();
  return ep;
}

void AgentHost::register_transport_metrics() {
  MetricsRegistry& r = agent_->metrics();
  Counter& rejected = r.counter("heck_cluster_packets_rejected_total",
                                "Cluster packets dropped before the node saw them: truncated, bad_format "
                                "(plaintext or unknown version), auth_failed (foreign key or tampered), "
                                "replayed, oversize.",
                                {"reason"});
  Counter& packets = r.counter("heck_cluster_transport_packets_total",
                               "Cluster packets moved by the transport, by direction and channel.",
                               {"direction", "channel"});
  Counter& bytes = r.counter("heck_cluster_transport_bytes_total",
                             "Bytes on the wire (sealed, with stream framing), by direction and channel.",
                             {"direction", "channel"});
  Counter& events = r.counter("heck_cluster_transport_events_total",
                              "Transport failures and refusals, by event.", {"event"});
  Gauge& encrypted = r.gauge("heck_cluster_encrypted", "1 when cluster traffic is sealed with a key, 0 when plaintext.");
  agent_->set_render_hook([this, &rejected, &packets, &bytes, &events, &encrypted] {
    const auto& kc = transport_.keyring().counters();
    for (std::size_t i = 0; i < kc.rejected.size(); ++i) {
      rejected.set({std::string(cluster::to_string(static_cast<cluster::RejectReason>(i)))},
                   static_cast<double>(kc.rejected[i]));
    }
    const auto& c = transport_.counters();
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    packets.set({"out", "datagram"}, d(c.datagrams_sent));
    packets.set({"in", "datagram"}, d(c.datagrams_received));
    packets.set({"out", "stream"}, d(c.streams_sent));
    packets.set({"in", "stream"}, d(c.streams_received));
    bytes.set({"out", "datagram"}, d(c.datagram_bytes_sent));
    bytes.set({"in", "datagram"}, d(c.datagram_bytes_received));
    bytes.set({"out", "stream"}, d(c.stream_bytes_sent));
    bytes.set({"in", "stream"}, d(c.stream_bytes_received));
    events.set({"send_error"}, d(c.send_errors));
    events.set({"connect_failure"}, d(c.connect_failures));
    events.set({"stream_timeout"}, d(c.stream_timeouts));
    events.set({"stream_read_error"}, d(c.stream_read_errors));
    events.set({"send_refused_oversize"}, d(c.sends_refused_oversize));
    events.set({"send_dropped"}, d(c.sends_dropped));
    events.set({"inbound_refused"}, d(c.inbound_refused));
    events.set({"bad_address"}, d(c.bad_addresses));
    events.set({"resolve_failure"}, d(c.resolve_failures));
    events.set({"receive_error"}, d(c.receive_errors));
    events.set({"seal_error"}, d(c.seal_errors));
    encrypted.set(transport_.keyring().encrypted() ? 1 : 0);
  });
}

void AgentHost::shutdown(std::function<void()> done) {
  if (stopped_) {
    if (done) done();
    return;
  }
  if (shutting_down_ || !agent_ || options_.leave_timeout <= Duration::zero()) {
    stop();
    if (done) done();
    return;
  }
  shutting_down_ = true;
  const bool peers = !agent_->node().membership().live_members().empty();
  agent_->leave();
  if (!peers) {
    stop();
    if (done) done();
    return;
  }
  log(fmt::format("waiting up to {} ms for the leave to spread", options_.leave_timeout.ms()));
  leave_timer_.expires_after(std::chrono::nanoseconds(options_.leave_timeout.ns()));
  leave_timer_.async_wait([this, done = std::move(done)](const boost::system::error_code&) {
    stop();
    if (done) done();
  });
}

void AgentHost::stop() {
  if (stopped_) return;
  stopped_ = true;
  leave_timer_.cancel();
  if (api_) api_->stop();
  if (agent_) agent_->stop();
  if (etcd_) etcd_->stop();
  transport_.stop();
  checker_.shutdown();
}

}  // namespace heck::runtime
