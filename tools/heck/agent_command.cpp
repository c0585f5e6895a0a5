// `heck agent`: the daemon; `heck members`: its member list as a table;
// `heck keygen`: a new cluster key.
//
//   heck agent [--config FILE] [--name NAME] [--bind HOST:PORT] [--advertise HOST:PORT]
//              [--api HOST:PORT] [--join HOST:PORT]... [--key BASE64]...
//              [--data-dir DIR] [--api-token TOKEN] [--min-api-interval-ms N]
//              [--store gossip|etcd] [--etcd URL[,URL...]]
//              [--probe-interval-ms N] [--probe-timeout-ms N] [--suspicion-mult N] ...
//
// No config file is needed: without one the agent has no targets of its own
// (it checks what the cluster's registry holds). Flags override the config
// file's keys (runtime/agent_config.h); --join and --key replace the file's
// lists. A bad config or flag is refused with exit code 2 and a message
// naming the field or flag; a port that cannot be bound exits 1. The agent
// runs until SIGINT or SIGTERM: the first leaves the cluster, lets the leave
// spread (bounded by leave_timeout_ms) and stops cleanly (exit 0); a second
// signal during shutdown ends it at once.
//
// Durability: --data-dir DIR (config "data_dir") keeps the registry and the
// counters in DIR/state.snapshot (runtime/agent.h, "Durability"); a file
// that does not decode stops the start with exit code 1 and a message naming
// the file. API writes (PUT, DELETE, POST) need "Authorization: Bearer
// TOKEN" when a token is set: --api-token, else the environment variable
// HECK_API_TOKEN, else the config's "api_token".
//
// Stores: --store etcd --etcd http://127.0.0.1:2379[,...] (config "store",
// "etcd") keeps the targets, observations and counters in etcd instead of
// the replicated state (runtime/store/etcd_driver.h); --data-dir is then
// not used for them. The default is --store gossip.
//
// Note: --key and --api-token put secrets on the command line (visible in
// `ps`); prefer the config file readable only by the agent's user, or
// HECK_API_TOKEN for the token.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "runtime/agent_config.h"
#include "runtime/agent_host.h"
#include "runtime/clock.h"
#include "runtime/cluster/keyring.h"
#include "runtime/cluster/members_client.h"
#include "runtime/log.h"
#include "runtime/version.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

struct AgentArgs {
  std::string config_path;
  std::string api;
  std::string name;
  std::string bind;
  std::string advertise;
  std::vector<std::string> join;
  std::vector<std::string> keys;
  std::optional<std::int64_t> probe_interval_ms;
  std::optional<std::int64_t> probe_timeout_ms;
  std::optional<std::int64_t> suspicion_mult;
  std::optional<std::int64_t> max_suspicion_timeout_mult;
  std::optional<std::int64_t> gossip_interval_ms;
  std::optional<std::int64_t> push_pull_interval_ms;
  std::optional<std::int64_t> dead_reap_after_ms;
  std::optional<std::int64_t> leave_timeout_ms;
  std::optional<std::int64_t> min_api_interval_ms;
  std::optional<std::int64_t> latency_handoff_ms;
  bool no_lifeguard = false;
  std::string data_dir;
  std::optional<std::string> api_token;
  std::string store;
  std::string etcd;
};

[[noreturn]] void fail(std::string_view command, int code, std::string_view message) {
  std::fprintf(stderr, "heck %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

// The config (file or defaults) with the flags applied; exits 2 on a bad one.
runtime::AgentConfig build_config(const AgentArgs& args) {
  using namespace heck::runtime;
  auto bad = [](std::string_view message) { fail("agent", 2, message); };
  AgentConfig config;
  if (!args.config_path.empty()) {
    auto loaded = AgentConfig::load(args.config_path);
    if (!loaded) bad(loaded.error());
    config = std::move(*loaded);
  }
  if (!args.api.empty()) {
    auto hp = HostPort::parse(args.api);
    if (!hp) bad(fmt::format("--api: {}", hp.error()));
    config.api = *hp;
  }
  if (!args.name.empty()) {
    if (!valid_member_name(args.name)) {
      bad(fmt::format("--name: '{}' must be 1-128 characters of A-Z a-z 0-9 . _ : -", sanitize_for_log(args.name)));
    }
    config.name = args.name;
  }
  if (!args.bind.empty()) {
    auto hp = HostPort::parse(args.bind);
    if (!hp) bad(fmt::format("--bind: {}", hp.error()));
    config.bind = *hp;
  }
  if (!args.advertise.empty()) {
    auto a = check_cluster_address(args.advertise);
    if (!a) bad(fmt::format("--advertise: {}", a.error()));
    config.advertise = *a;
  }
  if (!args.join.empty()) {
    if (args.join.size() > AgentConfig::kMaxSeeds) bad(fmt::format("--join: at most {} seeds", AgentConfig::kMaxSeeds));
    config.join.clear();
    for (const auto& j : args.join) {
      auto a = check_cluster_address(j);
      if (!a) bad(fmt::format("--join {}: {}", sanitize_for_log(j), a.error()));
      config.join.push_back(*a);
    }
  }
  if (!args.keys.empty()) {
    auto ring = cluster::Keyring::from_base64(args.keys, "--key");
    if (!ring) bad(ring.error());
    config.keys = args.keys;
  }
  if (!args.data_dir.empty()) {
    auto d = check_data_dir(args.data_dir);
    if (!d) bad(fmt::format("--data-dir: {}", d.error()));
    config.data_dir = *d;
  }
  if (!args.store.empty() || !args.etcd.empty()) {
    if (!args.store.empty()) config.store = args.store;
    if (!args.etcd.empty()) config.etcd = {args.etcd};
    auto ok = check_store(config.store, config.etcd);
    if (!ok) bad(fmt::format("--store/--etcd: {}", ok.error()));
  }
  if (args.api_token) {
    auto t = check_token_text(*args.api_token);
    if (!t) bad(fmt::format("--api-token: {}", t.error()));
    config.api_token = *t;
  } else if (const char* env = std::getenv("HECK_API_TOKEN"); env != nullptr && *env != '\0') {
    auto t = check_token_text(env);
    if (!t) bad(fmt::format("HECK_API_TOKEN: {}", t.error()));
    config.api_token = *t;
  }
  if (args.leave_timeout_ms) {
    if (*args.leave_timeout_ms < 0 || *args.leave_timeout_ms > 60'000) {
      bad(fmt::format("--leave-timeout-ms: must be 0-60000, got {}", *args.leave_timeout_ms));
    }
    config.leave_timeout = Duration::milliseconds(*args.leave_timeout_ms);
  }
  if (args.min_api_interval_ms) {
    if (*args.min_api_interval_ms < 1 || *args.min_api_interval_ms > 86'400'000) {
      bad(fmt::format("--min-api-interval-ms: must be 1-86400000, got {}", *args.min_api_interval_ms));
    }
    config.min_api_interval = Duration::milliseconds(*args.min_api_interval_ms);
  }
  if (args.latency_handoff_ms) {
    if (*args.latency_handoff_ms < 0 || *args.latency_handoff_ms > 3'600'000) {
      bad(fmt::format("--latency-handoff-ms: must be 0-3600000, got {}", *args.latency_handoff_ms));
    }
    config.latency_handoff = Duration::milliseconds(*args.latency_handoff_ms);
  }
  // SWIM flags go through the config file's validator, named as flags.
  nlohmann::json swim = nlohmann::json::object();
  auto put = [&](const char* key, const std::optional<std::int64_t>& v) {
    if (v) swim[key] = *v;
  };
  put("probe_interval_ms", args.probe_interval_ms);
  put("probe_timeout_ms", args.probe_timeout_ms);
  put("suspicion_mult", args.suspicion_mult);
  put("max_suspicion_timeout_mult", args.max_suspicion_timeout_mult);
  put("gossip_interval_ms", args.gossip_interval_ms);
  put("push_pull_interval_ms", args.push_pull_interval_ms);
  put("dead_reap_after_ms", args.dead_reap_after_ms);
  if (args.no_lifeguard) swim["lifeguard"] = false;
  if (!swim.empty()) {
    auto s = parse_swim_overrides(swim, config.swim, "--swim ");
    if (!s) {
      // "--swim probe_timeout_ms: ..." -> "--probe-timeout-ms: ..."
      std::string m = s.error().substr(7);
      const auto colon = m.find(':');
      std::string flag = m.substr(0, colon);
      for (char& c : flag) c = c == '_' ? '-' : c;
      bad(fmt::format("--{}{}", flag, m.substr(colon)));
    }
    config.swim = *s;
  }
  return config;
}

void run_agent(const AgentArgs& args) {
  using namespace heck::runtime;
  const AgentConfig config = build_config(args);

  boost::asio::io_context io(1);
  const Clock clock;
  AgentHostOptions options = host_options_from_config(config);
  const std::string name = options.node.name;
  const std::size_t targets = options.node.targets.size();
  AgentHost host(io, clock, std::move(options));

  auto ep = host.start();
  if (!ep) fail("agent", 1, ep.error());
  const HostPort bound{ep->address().to_string(), ep->port()};
  const HostPort cluster = host.cluster_bound();
  if (!ep->address().is_loopback() && !config.api_token) {
    write_stderr_line(log_line(clock.now(), fmt::format("the API on {} is not on loopback and has no token: anyone who "
                                                        "can reach it can add and remove targets (give --api-token "
                                                        "or HECK_API_TOKEN)",
                                                        bound.to_string())));
  }
  write_stderr_line(log_line(
      clock.now(),
      fmt::format("heck agent {} (version {}): {} targets from {}, cluster on {} (advertised as {}), API on http://{}",
                  name, kVersion, targets, args.config_path.empty() ? "no config file" : args.config_path,
                  cluster.to_string(), sanitize_for_log(host.advertised()), bound.to_string())));

  // The first SIGINT/SIGTERM leaves the cluster and stops the agent cleanly.
  // Clearing the set then restores the default action, so a second signal
  // ends a stuck shutdown, and the io_context can run out of work.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    write_stderr_line(log_line(clock.now(), fmt::format("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM")));
    boost::system::error_code ignored;
    signals.clear(ignored);
    host.shutdown();
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

struct MembersArgs {
  std::string api{runtime::AgentConfig::kDefaultApi};
  bool json = false;
  std::int64_t timeout_ms = 3000;
};

void run_members(const MembersArgs& args) {
  using namespace heck::runtime;
  auto api = HostPort::parse(args.api);
  if (!api) fail("members", 2, fmt::format("--api: {}", api.error()));
  std::string raw;
  auto rows = cluster::fetch_members(*api, Duration::milliseconds(args.timeout_ms), &raw);
  if (!rows) fail("members", 1, rows.error());
  const std::string out = args.json ? raw : cluster::format_members_table(*rows);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void run_keygen() {
  auto key = runtime::cluster::generate_key();
  if (!key) fail("keygen", 1, key.error());
  const std::string out = runtime::cluster::format_key(*key) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void register_agent_command(CLI::App& app) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* cmd = app.add_subcommand("agent", "run the daemon: a cluster member that checks targets and serves the API");
  cmd->add_option("--config", args->config_path, "the agent's JSON config file (optional)");
  cmd->add_option("--name", args->name, "member name, unique in the cluster (default: config, else the host name)");
  cmd->add_option("--bind", args->bind, "cluster address HOST:PORT, UDP and TCP (default 127.0.0.1:7946)");
  cmd->add_option("--advertise", args->advertise,
                  "address peers reach this agent at (default: the bound address)");
  cmd->add_option("--api", args->api, "API listen address HOST:PORT (default 127.0.0.1:7700; overrides the config)");
  cmd->add_option("--join", args->join, "a seed member HOST:PORT to join through (repeatable)");
  cmd->add_option("--key", args->keys,
                  "cluster key, base64 of 32 bytes (repeatable, first = primary; see `heck keygen`)");
  cmd->add_option("--probe-interval-ms", args->probe_interval_ms, "SWIM protocol period (default 1000)");
  cmd->add_option("--probe-timeout-ms", args->probe_timeout_ms, "SWIM direct-ack timeout (default 500)");
  cmd->add_option("--suspicion-mult", args->suspicion_mult, "SWIM suspicion multiplier (default 4)");
  cmd->add_option("--max-suspicion-timeout-mult", args->max_suspicion_timeout_mult,
                  "Lifeguard max suspicion timeout multiplier (default 6)");
  add_renamed_option(cmd, "--suspicion-max-timeout-mult", "--max-suspicion-timeout-mult");
  cmd->add_option("--gossip-interval-ms", args->gossip_interval_ms, "gossip period (default 200)");
  cmd->add_option("--push-pull-interval-ms", args->push_pull_interval_ms, "full-state sync period (default 30000)");
  cmd->add_option("--dead-reap-after-ms", args->dead_reap_after_ms, "forget dead members after (default 3600000)");
  cmd->add_flag("--no-lifeguard", args->no_lifeguard, "plain SWIM: fixed suspicion timeout, no nacks");
  cmd->add_option("--leave-timeout-ms", args->leave_timeout_ms,
                  "on SIGTERM, how long the leave may spread before exit (default 1000)");
  cmd->add_option("--min-api-interval-ms", args->min_api_interval_ms,
                  "shortest interval_ms of a target written through the API (default 1000)");
  cmd->add_option("--latency-handoff-ms", args->latency_handoff_ms,
                  "how often owners hand new latency samples to each target's standby (default 30000; 0 = never)");
  cmd->add_option("--data-dir", args->data_dir,
                  "keep the target registry and counters in DIR/state.snapshot (fsync'ed; restored on start)");
  cmd->add_option("--store", args->store,
                  "where targets, observations and counters live: gossip (replicated, the default) or etcd");
  cmd->add_option("--etcd", args->etcd,
                  "etcd members for --store etcd: http://HOST:PORT[,http://HOST:PORT...]");
  cmd->add_option("--api-token", args->api_token,
                  "bearer token API writes must carry (default: $HECK_API_TOKEN, else the config's api_token)");
  cmd->callback([args] { run_agent(*args); });
}

void register_members_command(CLI::App& app) {
  auto args = std::make_shared<MembersArgs>();
  CLI::App* cmd = app.add_subcommand("members", "list the cluster members an agent sees (GET /v1/members)");
  cmd->add_option("--api", args->api, "the agent's API address HOST:PORT")->capture_default_str();
  cmd->add_flag("--json", args->json, "print the API's JSON instead of a table");
  cmd->add_option("--timeout-ms", args->timeout_ms, "give up after this long")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  cmd->callback([args] { run_members(*args); });
}

void register_keygen_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("keygen", "print a new random cluster key (base64, for --key or \"keys\")");
  cmd->callback([] { run_keygen(); });
}

}  // namespace heck::cli
