// `heck demo`: the README's main command — a local cluster on built-in
// defaults, no configuration.
//
//   heck demo [--agents 5] [--targets 50] [--duration-s 60] [--kill-at-s 20]
//             [--base-port 7700] [--table-every-s 3]
//
// 1. Serves --targets local HTTP targets from this process on 127.0.0.1
//    (runtime/demo_targets.h, one server, one path per target): most steady,
//    some flapping out of step, a few down (503, connection refused, timeout,
//    404).
// 2. Starts --agents `heck agent` PROCESSES (this same binary): agent i (from
//    1) is named n<i>, serves its API on 127.0.0.1:<base-port + i - 1> and
//    its cluster on 127.0.0.1:<base-port + 100 + i - 1>; all join through n1,
//    with short SWIM timings and one fresh cluster key. Their logs go to a
//    temporary directory (printed).
// 3. Registers every target through n1's API (PUT /v1/targets/{id}); the
//    cluster spreads them and each agent checks the ones it owns.
// 4. Every --table-every-s prints members, targets by status, and which agent
//    checks how many targets.
// 5. At --kill-at-s (0 = never) SIGKILLs the agent other than n1 that checks
//    the most targets, and follows the takeover: who checks its targets now,
//    and the time from the kill until each of them was checked again (a
//    newer observation from another agent, read from n1's /v1/targets).
// 6. Stops at --duration-s (0 = until Ctrl-C): SIGTERM to every agent (they
//    leave the cluster), SIGKILL after a bound, then a summary.
// Ctrl-C stops every child the same way; a second Ctrl-C ends the demo at
// once (the agents die with it: PR_SET_PDEATHSIG).
//
// `heck demo --serve-targets HOST:PORT` only serves the demo target paths
// (for benchmarks: tools/bench/loopback_bench.py) until SIGINT/SIGTERM.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/agent_config.h"
#include "runtime/api_client.h"
#include "runtime/clock.h"
#include "runtime/cluster/keyring.h"
#include "runtime/log.h"
#include "runtime/version.h"
#include "tools/heck/commands.h"
#include "tools/heck/demo/agent_processes.h"
#include "tools/heck/demo/cluster_reading.h"
#include "tools/heck/demo/console.h"
#include "tools/heck/demo/log_tail.h"
#include "tools/heck/demo/stop_signals.h"
#include "tools/heck/demo/target_host.h"

namespace heck::cli {

namespace {

using namespace heck::runtime;
using namespace heck::cli::demo;
using steady = std::chrono::steady_clock;

struct DemoArgs {
  int agents = 5;
  int targets = 50;
  double duration_s = 60;  // 0 = until Ctrl-C
  double kill_at_s = 20;   // 0 = never
  int base_port = 7700;
  double table_every_s = 3;
  std::string serve_targets;  // HOST:PORT: only serve the target paths
};

constexpr int kClusterPortOffset = 100;
constexpr int kMaxAgents = 64;

// ---- the demo ----------------------------------------------------------------

void serve_targets_only(const DemoArgs& args) {
  auto address = HostPort::parse(args.serve_targets);
  if (!address) fail(2, fmt::format("--serve-targets: {}", address.error()));
  install_stop_handlers();
  TargetHost targets(*address, 4096);
  say(fmt::format("heck demo: serving the demo target paths on http://{}:{}/ (/ok /fail /flap /slow /hang); "
                  "Ctrl-C stops\n",
                  address->host, targets.port()));
  while (nap(std::chrono::seconds(1))) {
  }
  targets.stop();
}

void run_cluster_demo(const DemoArgs& args) {
  if (!args.serve_targets.empty()) return serve_targets_only(args);
  if (args.duration_s > 0 && args.kill_at_s >= args.duration_s) {
    fail(2, fmt::format("--kill-at-s ({}) must be below --duration-s ({}), or 0 for no kill", args.kill_at_s,
                        args.duration_s));
  }
  if (args.base_port + kClusterPortOffset + args.agents > 65535) {
    fail(2, fmt::format("--base-port {}: ports up to {} are needed", args.base_port,
                        args.base_port + kClusterPortOffset + args.agents - 1));
  }
  const std::string exe = self_exe();
  auto key = cluster::generate_key();
  if (!key) fail(1, key.error());
  const std::string key_text = cluster::format_key(*key);
  char dir_template[] = "/tmp/heck-demo-XXXXXX";
  if (!mkdtemp(dir_template)) fail(1, "cannot create a temporary directory under /tmp");
  const std::string log_dir = dir_template;

  install_stop_handlers();
  const auto t0 = steady::now();
  const auto elapsed_s = [&] { return std::chrono::duration<double>(steady::now() - t0).count(); };
  const Duration poll_timeout = Duration::milliseconds(1500);

  TargetHost target_host(HostPort{"127.0.0.1", 0}, 512);
  const auto plan = plan_targets(args.targets, target_host.port());

  std::vector<Child> children(static_cast<std::size_t>(args.agents));
  for (int i = 0; i < args.agents; ++i) {
    Child& c = children[static_cast<std::size_t>(i)];
    c.name = fmt::format("n{}", i + 1);
    c.api = HostPort{"127.0.0.1", static_cast<std::uint16_t>(args.base_port + i)};
    c.cluster = fmt::format("127.0.0.1:{}", args.base_port + kClusterPortOffset + i);
    c.log_path = fmt::format("{}/{}.log", log_dir, c.name);
  }
  for (auto& c : children) {
    std::vector<std::string> a = {"agent",   "--name", c.name, "--bind", c.cluster, "--api", c.api.to_string(),
                                  "--key",   key_text,
                                  // Short SWIM timings so a crash shows within seconds: suspicion
                                  // timeout 4 x 500 ms = 2 s for five members.
                                  "--probe-interval-ms", "500", "--probe-timeout-ms", "200", "--gossip-interval-ms",
                                  "100", "--suspicion-mult", "4", "--push-pull-interval-ms", "5000",
                                  "--leave-timeout-ms", "500"};
    if (&c != &children.front()) {
      a.push_back("--join");
      a.push_back(children.front().cluster);
    }
    spawn(c, exe, a);
  }

  std::string intro = fmt::format(
      "heck demo (version {}): {} agent processes, {} local targets on 127.0.0.1:{}\n"
      "  agents  n1..n{}: API http://127.0.0.1:{}..{}, cluster ports {}..{}, logs in {}/\n"
      "  status page: http://{}/   (also: build/heck status, build/heck targets --unhealthy)\n",
      kVersion, args.agents, plan.size(), target_host.port(), args.agents, args.base_port,
      args.base_port + args.agents - 1, args.base_port + kClusterPortOffset,
      args.base_port + kClusterPortOffset + args.agents - 1, log_dir, children.front().api.to_string());
  say(intro);

  int exit_code = 0;
  auto abort_demo = [&](std::string_view why) {
    say(fmt::format("heck demo: {}\n", why));
    exit_code = 1;
  };

  // Wait for every API, then for n1 to see everyone alive.
  bool ok = true;
  for (auto& c : children) {
    const ApiClient a(c.api, Duration::milliseconds(500));
    const auto until = steady::now() + std::chrono::seconds(15);
    for (;;) {
      for (Child* d : reap(children)) {
        abort_demo(fmt::format("agent {} exited at start ({}); is port {} or {} taken? Try --base-port. Its log:\n{}",
                               d->name, describe_exit(d->status), d->api.port, d->cluster,
                               last_lines(d->log_path, 8)));
        ok = false;
      }
      if (!ok) break;
      auto h = a.request("GET", "/v1/health");
      if (h && h->status == 200) break;
      if (steady::now() > until) {
        abort_demo(fmt::format("agent {} did not answer on {} within 15 s", c.name, c.api.to_string()));
        ok = false;
        break;
      }
      if (!nap(std::chrono::milliseconds(100))) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
  }
  if (ok) {
    const ApiClient n1(children.front().api, poll_timeout);
    const auto until = steady::now() + std::chrono::seconds(20);
    for (;;) {
      std::size_t alive = 0;
      if (auto m = n1.get("/v1/members"); m && m->is_array()) {
        for (const auto& e : *m) alive += str_field(e, "state") == "alive";
      }
      if (alive == children.size()) {
        say(fmt::format("[{:5.1f} s] {} agents joined through n1\n", elapsed_s(), alive));
        break;
      }
      if (steady::now() > until) {
        abort_demo(fmt::format("only {} of {} agents joined within 20 s (logs in {}/)", alive, children.size(),
                               log_dir));
        ok = false;
        break;
      }
      if (!nap(std::chrono::milliseconds(100))) {
        ok = false;
        break;
      }
    }
  }

  // Register the targets through n1.
  if (ok) {
    // The agents inherit HECK_API_TOKEN (then they require it on writes).
    const char* token = std::getenv("HECK_API_TOKEN");
    const ApiClient n1(children.front().api, Duration::seconds(5), token ? token : "");
    for (const auto& t : plan) {
      nlohmann::json spec = {{"url", t.url}, {"interval_ms", 1000}, {"timeout_ms", 500}, {"rise", 2}, {"fall", 2}};
      auto r = n1.put("/v1/targets/" + t.id, spec);
      if (!r) {
        abort_demo(fmt::format("registering {} through n1 failed: {}", t.id, r.error()));
        ok = false;
        break;
      }
      if (stop_signal()) break;
    }
    if (ok) {
      const auto count = [&](const char* kind) {
        return std::count_if(plan.begin(), plan.end(), [&](const PlannedTarget& p) { return p.kind == kind; });
      };
      say(fmt::format("[{:5.1f} s] registered {} targets through n1 (PUT /v1/targets/ID): {} steady, {} flapping, "
                      "{} down; checked every 1 s by their owner\n",
                      elapsed_s(), plan.size(), count("steady"), count("flapping"), count("down")));
    }
  }

  // The main loop: tables, the kill, the takeover.
  std::optional<Takeover> takeover;
  const double kill_at_s = args.kill_at_s;
  auto next_table = steady::now();
  const auto table_every = std::chrono::milliseconds(static_cast<std::int64_t>(args.table_every_s * 1000));
  while (ok && !stop_signal()) {
    if (args.duration_s > 0 && elapsed_s() >= args.duration_s) break;
    for (Child* d : reap(children)) {
      say(fmt::format("heck demo: agent {} exited unexpectedly ({}); its log ends:\n{}", d->name,
                      describe_exit(d->status), last_lines(d->log_path, 8)));
      exit_code = 1;
    }
    if (steady::now() >= next_table) {
      say(format_snapshot(elapsed_s(), children, snapshot(children, poll_timeout)));
      next_table = steady::now() + table_every;
    }
    if (kill_at_s > 0 && !takeover && elapsed_s() >= kill_at_s) {
      // The victim: the agent other than n1 that checks the most targets.
      Child* victim = nullptr;
      std::int64_t most = -1;
      for (auto& c : children) {
        if (&c == &children.front() || !c.running) continue;
        const ApiClient a(c.api, poll_timeout);
        auto st = a.get("/v1/status");
        const std::int64_t n = st ? int_field(*st, "checked_here", 0) : 0;
        if (n > most) {
          most = n;
          victim = &c;
        }
      }
      if (victim) {
        Takeover t;
        t.victim = victim->name;
        const ApiClient a(victim->api, poll_timeout);
        if (auto list = a.get("/v1/targets"); list && list->is_array()) {
          for (const auto& e : *list) {
            if (e.is_object() && e.value("checked_here", false)) t.targets.push_back(str_field(e, "id"));
          }
        }
        victim->killed = true;
        kill(victim->pid, SIGKILL);
        t.killed_at = steady::now();
        t.killed_wall_ms = wall_ms_now();
        std::string ids;
        for (std::size_t i = 0; i < t.targets.size() && i < 10; ++i) ids += " " + t.targets[i];
        if (t.targets.size() > 10) ids += " ...";
        say(fmt::format("[{:5.1f} s] SIGKILL {} (pid {}): it was checking {} targets:{}\n", elapsed_s(), t.victim,
                        victim->pid, t.targets.size(), ids));
        takeover = std::move(t);
      }
    }
    if (takeover && (!takeover->reported_all || !takeover->dead_after_s)) {
      Takeover& t = *takeover;
      const ApiClient n1(children.front().api, poll_timeout);
      const double since = std::chrono::duration<double>(steady::now() - t.killed_at).count();
      if (!t.dead_after_s) {
        if (auto m = n1.get("/v1/members"); m && m->is_array()) {
          for (const auto& e : *m) {
            if (str_field(e, "name") != t.victim) continue;
            const std::string state = str_field(e, "state");
            const bool suspect = state == "suspect" && !t.suspect_after_s;
            const bool dead = state == "dead";
            if (suspect) t.suspect_after_s = since;
            if (dead) t.dead_after_s = since;
            if (suspect || dead) {
              say(fmt::format("[{:5.1f} s] n1 lists {} as {} ({:.1f} s after the kill)\n", elapsed_s(), t.victim,
                              state, since));
            }
          }
        }
      }
      const std::size_t before = t.taken_by.size();
      if (!t.reported_all) {
        if (auto list = n1.get("/v1/targets"); list) follow_takeover(t, *list);
      }
      if (t.taken_by.size() != before) {
        say(fmt::format("[{:5.1f} s] takeover: {}/{} of {}'s targets checked again by others ({})\n", elapsed_s(),
                        t.taken_by.size(), t.targets.size(), t.victim, per_agent_counts(t.taken_by)));
      }
      if (t.done() && !t.reported_all) {
        double last = 0, first = 1e9;
        for (const auto& [id, s] : t.taken_after_s) {
          last = std::max(last, s);
          first = std::min(first, s);
        }
        say(fmt::format("[{:5.1f} s] takeover complete: every one of {}'s {} targets was checked again by a "
                        "survivor {:.1f} s after the SIGKILL (first after {:.1f} s)\n",
                        elapsed_s(), t.victim, t.targets.size(), last, t.targets.empty() ? 0.0 : first));
        std::string moves;
        std::size_t shown = 0;
        for (const auto& [id, who] : t.taken_by) {
          if (shown++ == 6) {
            moves += " ...";
            break;
          }
          moves += fmt::format(" {} {}->{}", id, t.victim, who);
        }
        say(fmt::format("          now checked by:{}\n", moves));
        t.reported_all = true;
      }
    }
    nap(std::chrono::milliseconds(takeover && !takeover->reported_all ? 200 : 100));
  }

  // Stop.
  const bool interrupted = stop_signal() != 0;
  if (ok && !interrupted && exit_code == 0 && next_table - steady::now() < table_every / 2) {
    say(format_snapshot(elapsed_s(), children, snapshot(children, poll_timeout)));
  }
  say(fmt::format("[{:5.1f} s] stopping{}: SIGTERM to every agent (they leave the cluster)\n", elapsed_s(),
                  interrupted ? (stop_signal() == SIGINT ? " (Ctrl-C)" : " (SIGTERM)") : ""));
  stop_children(children, std::chrono::seconds(3));
  target_host.stop();
  if (takeover) {
    const Takeover& t = *takeover;
    double last = 0;
    for (const auto& [id, s] : t.taken_after_s) last = std::max(last, s);
    const auto opt = [](const std::optional<double>& v) { return v ? fmt::format("{:.1f} s", *v) : std::string("-"); };
    say(fmt::format("summary: SIGKILL {} -> suspect after {}, dead after {}; {}/{} of its targets checked again by "
                    "survivors ({}), the last {:.1f} s after the kill\n",
                    t.victim, opt(t.suspect_after_s), opt(t.dead_after_s), t.taken_by.size(), t.targets.size(),
                    t.taken_by.empty() ? std::string("none") : per_agent_counts(t.taken_by), last));
    if (!t.done()) exit_code = 1;
  }
  say(fmt::format("heck demo finished; agent logs in {}/\n", log_dir));
  if (exit_code != 0) throw CLI::RuntimeError(exit_code);
}

}  // namespace

void register_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "a local cluster on built-in defaults: agent processes, local targets, a SIGKILL and the takeover");
  cmd->add_option("--agents", args->agents, "agent processes to start")
      ->check(CLI::Range(2, kMaxAgents))
      ->capture_default_str();
  cmd->add_option("--targets", args->targets, "local HTTP targets to register")
      ->check(CLI::Range(1, 2000))
      ->capture_default_str();
  cmd->add_option("--duration-s", args->duration_s, "stop after S seconds (0 = until Ctrl-C)")
      ->check(CLI::Range(0.0, 7.0 * 24 * 3600))
      ->capture_default_str();
  auto* kill_at = cmd->add_option("--kill-at-s", args->kill_at_s,
                                  "SIGKILL one agent after S seconds (0 = never; default: 20, or a third of a "
                                  "shorter --duration-s)")
                      ->check(CLI::Range(0.0, 7.0 * 24 * 3600));
  cmd->add_option("--base-port", args->base_port,
                  "agent i's API listens on base-port + i - 1, its cluster port on base-port + 100 + i - 1")
      ->check(CLI::Range(1024, 65000))
      ->capture_default_str();
  cmd->add_option("--table-every-s", args->table_every_s, "seconds between status tables")
      ->check(CLI::Range(0.5, 3600.0))
      ->capture_default_str();
  cmd->add_option("--serve-targets", args->serve_targets,
                  "only serve the demo target paths on HOST:PORT until Ctrl-C (for benchmarks)");
  cmd->callback([args, kill_at] {
    if (kill_at->count() == 0 && args->duration_s > 0 && args->kill_at_s >= args->duration_s) {
      args->kill_at_s = args->duration_s / 3;
    }
    run_cluster_demo(*args);
  });
}

}  // namespace heck::cli