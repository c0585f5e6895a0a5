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
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/agent_config.h"
#include "runtime/api_client.h"
#include "runtime/clock.h"
#include "runtime/cluster/keyring.h"
#include "runtime/demo_targets.h"
#include "runtime/log.h"
#include "runtime/version.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

using namespace heck::runtime;
namespace asio = boost::asio;
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

[[noreturn]] void fail(int code, std::string_view message) {
  std::fprintf(stderr, "heck demo: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

void say(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// ---- signals -----------------------------------------------------------------

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signo) {
  g_stop_signal = signo;
  // A second Ctrl-C ends the demo at once (and its agents with it).
  std::signal(signo, SIG_DFL);
}

void install_stop_handlers() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Sleeps up to `d` in short steps; false when a stop signal came.
bool nap(steady::duration d) {
  const auto until = steady::now() + d;
  while (steady::now() < until) {
    if (g_stop_signal) return false;
    std::this_thread::sleep_for(std::min<steady::duration>(std::chrono::milliseconds(50), until - steady::now()));
  }
  return !g_stop_signal;
}

// ---- the local targets -------------------------------------------------------

// The target server on its own io_context thread, so the synchronous API
// polling of the main thread never delays a target's answer.
class TargetHost {
 public:
  explicit TargetHost(const HostPort& address, std::size_t max_connections) {
    DemoTargetOptions o;
    o.max_connections = max_connections;
    o.slow_delay = Duration::milliseconds(1500);
    o.hang_max = Duration::seconds(5);
    server_ = std::make_unique<DemoTargetServer>(io_, clock_, o);
    auto ep = server_->listen(address);
    if (!ep) fail(1, fmt::format("cannot serve the demo targets on {}: {}", address.to_string(), ep.error()));
    port_ = ep->port();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TargetHost() { stop(); }
  TargetHost(const TargetHost&) = delete;
  TargetHost& operator=(const TargetHost&) = delete;

  std::uint16_t port() const { return port_; }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      server_->stop();
      guard_.reset();
    });
    thread_.join();
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  Clock clock_;
  std::unique_ptr<DemoTargetServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

struct PlannedTarget {
  std::string id;
  std::string url;
  std::string kind;  // steady | flapping | down
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

// Per ten targets: six steady, three flapping (periods 8-18 s, out of step),
// one down (503, refused, timeout, 404 in turn).
std::vector<PlannedTarget> plan_targets(int count, std::uint16_t port) {
  const std::uint16_t refused = closed_port();
  std::vector<PlannedTarget> out;
  int steady_n = 0, flap_n = 0, down_n = 0;
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  for (int i = 0; i < count; ++i) {
    const int slot = i % 10;
    if (slot == 2 || slot == 5 || slot == 8) {
      ++flap_n;
      const int period_ms = 8000 + (flap_n % 6) * 2000;
      const int phase_ms = (flap_n * 3700) % period_ms;
      out.push_back({fmt::format("flap-{:02}", flap_n),
                     fmt::format("{}/flap?period_ms={}&phase_ms={}", base, period_ms, phase_ms), "flapping"});
    } else if (slot == 7) {
      ++down_n;
      std::string url;
      switch (down_n % 4) {
        case 1: url = base + "/fail"; break;
        case 2: url = fmt::format("http://127.0.0.1:{}/ok", refused); break;
        case 3: url = base + "/slow?ms=1500"; break;
        default: url = base + "/missing"; break;
      }
      out.push_back({fmt::format("down-{:02}", down_n), url, "down"});
    } else {
      ++steady_n;
      out.push_back({fmt::format("ok-{:02}", steady_n), fmt::format("{}/ok?n={}", base, steady_n), "steady"});
    }
  }
  return out;
}

// ---- the agent processes -----------------------------------------------------

struct Child {
  std::string name;
  HostPort api;
  std::string cluster;
  std::string log_path;
  pid_t pid = -1;
  bool running = false;
  bool killed = false;  // by the demo, on purpose
  int status = 0;
};

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) fail(1, "cannot find this program's path (/proc/self/exe)");
  return std::string(buf, static_cast<std::size_t>(n));
}

// Fork + exec of `heck agent ...` with stdout/stderr to the child's log, in
// its own process group (Ctrl-C reaches only the demo, which then stops the
// agents in order), dying with the demo (PR_SET_PDEATHSIG).
void spawn(Child& c, const std::string& exe, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int fd = ::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(1, fmt::format("cannot create {}", c.log_path));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) fail(1, "fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  ::close(fd);
  c.pid = pid;
  c.running = true;
}

// Reaps children that exited; returns those that exited unexpectedly.
std::vector<Child*> reap(std::vector<Child>& children) {
  std::vector<Child*> died;
  for (auto& c : children) {
    if (!c.running) continue;
    int st = 0;
    if (waitpid(c.pid, &st, WNOHANG) == c.pid) {
      c.running = false;
      c.status = st;
      if (!c.killed) died.push_back(&c);
    }
  }
  return died;
}

std::string last_lines(const std::string& path, std::size_t n) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  std::string text;
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, got);
    if (text.size() > 64 * 1024) text.erase(0, text.size() - 64 * 1024);
  }
  std::fclose(f);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += "    " + sanitize_for_log(lines[i], 300) + "\n";
  }
  return out;
}

std::string describe_exit(int st) {
  if (WIFEXITED(st)) return fmt::format("exit code {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("signal {}", WTERMSIG(st));
  return "stopped";
}

// SIGTERM to every running child (they leave the cluster), then SIGKILL to
// those still running after `grace`.
void stop_children(std::vector<Child>& children, steady::duration grace) {
  for (auto& c : children) {
    if (c.running) kill(c.pid, SIGTERM);
  }
  const auto until = steady::now() + grace;
  while (steady::now() < until) {
    reap(children);
    if (std::none_of(children.begin(), children.end(), [](const Child& c) { return c.running; })) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& c : children) {
    if (!c.running) continue;
    kill(c.pid, SIGKILL);
    int st = 0;
    waitpid(c.pid, &st, 0);
    c.running = false;
    c.status = st;
  }
}

// ---- reading the cluster -----------------------------------------------------

// Milliseconds since the Unix epoch of "2026-11-21T12:00:00.123Z"; nullopt if
// it is not that shape.
std::optional<std::int64_t> parse_rfc3339_ms(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  char z = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z) == 8 && z == 'Z') {
  } else if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) == 7 && z == 'Z') {
    ms = 0;
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t) * 1000 + ms;
}

std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string str_field(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j.at(key).is_string()) return j.at(key).get<std::string>();
  return {};
}

std::int64_t int_field(const nlohmann::json& j, const char* key, std::int64_t fallback = 0) {
  if (j.is_object() && j.contains(key) && j.at(key).is_number_integer()) return j.at(key).get<std::int64_t>();
  return fallback;
}

// The takeover of a killed agent's targets, followed on a survivor's view.
struct Takeover {
  std::string victim;
  std::int64_t killed_wall_ms = 0;
  steady::time_point killed_at;
  std::vector<std::string> targets;                  // what the victim checked
  std::map<std::string, std::string> taken_by;       // target -> new observer
  std::map<std::string, double> taken_after_s;       // target -> seconds after the kill
  std::optional<double> suspect_after_s, dead_after_s;
  bool reported_all = false;

  bool done() const { return taken_by.size() == targets.size(); }
};

// Reads n1's /v1/targets: each of the victim's targets with a live
// observation from another agent, newer than the kill, is taken over.
void follow_takeover(Takeover& t, const nlohmann::json& list) {
  if (!list.is_array()) return;
  const double since_kill_s = std::chrono::duration<double>(steady::now() - t.killed_at).count();
  for (const auto& e : list) {
    const std::string id = str_field(e, "id");
    if (t.taken_by.count(id) || std::find(t.targets.begin(), t.targets.end(), id) == t.targets.end()) continue;
    if (!e.contains("siblings") || !e.at("siblings").is_array()) continue;
    for (const auto& s : e.at("siblings")) {
      const std::string observer = str_field(s, "observer");
      if (observer.empty() || observer == t.victim) continue;
      const auto at = parse_rfc3339_ms(str_field(s, "observed_at"));
      if (!at || *at < t.killed_wall_ms) continue;
      t.taken_by[id] = observer;
      // The observation's own time bounds the takeover more tightly than
      // this poll's time (both on this machine's wall clock).
      t.taken_after_s[id] = std::min(since_kill_s, static_cast<double>(*at - t.killed_wall_ms) / 1000.0);
      break;
    }
  }
}

std::string per_agent_counts(const std::map<std::string, std::string>& by) {
  std::map<std::string, int> n;
  for (const auto& [id, who] : by) ++n[who];
  std::string out;
  for (const auto& [who, k] : n) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", who, k);
  return out;
}

struct Snapshot {
  std::map<std::string, std::string> member_state;  // from n1
  nlohmann::json status;                             // n1's /v1/status
  std::map<std::string, std::int64_t> checking;      // agent -> checked_here
};

Snapshot snapshot(const std::vector<Child>& children, Duration timeout) {
  Snapshot s;
  const ApiClient n1(children.front().api, timeout);
  if (auto m = n1.get("/v1/members"); m && m->is_array()) {
    for (const auto& e : *m) s.member_state[str_field(e, "name")] = str_field(e, "state");
  }
  if (auto st = n1.get("/v1/status"); st) s.status = *st;
  for (const auto& c : children) {
    if (!c.running) continue;
    const ApiClient a(c.api, timeout);
    if (auto st = a.get("/v1/status"); st) s.checking[c.name] = int_field(*st, "checked_here", -1);
  }
  return s;
}

std::string format_snapshot(double t_s, const std::vector<Child>& children, const Snapshot& s) {
  // Alive members by count; the others by name and state.
  std::string others;
  int alive = 0;
  for (const auto& c : children) {
    auto it = s.member_state.find(c.name);
    const std::string state = it == s.member_state.end() ? "not listed" : it->second;
    if (state == "alive") {
      ++alive;
      continue;
    }
    others += fmt::format(", {} {}{}", c.name, state, c.killed ? " (killed)" : "");
  }
  std::string members = fmt::format("{} alive{}", alive, others);
  const auto count = [&](const char* k) {
    return s.status.is_object() && s.status.contains("targets") ? int_field(s.status.at("targets"), k) : 0;
  };
  std::string out = fmt::format("[{:5.1f} s] members   {}\n", t_s, members);
  out += fmt::format("          targets   {} = {} unhealthy + {} unknown + {} healthy ({} stale)", count("total"),
                     count("unhealthy"), count("unknown"), count("healthy"), count("stale"));
  if (s.status.is_object() && s.status.contains("unhealthy") && s.status.at("unhealthy").is_array()) {
    std::string ids;
    int shown = 0;
    for (const auto& id : s.status.at("unhealthy")) {
      if (!id.is_string()) continue;
      if (shown++ == 8) {
        ids += " ...";
        break;
      }
      ids += " " + sanitize_for_log(id.get<std::string>(), 64);
    }
    if (!ids.empty()) out += "   unhealthy:" + ids;
  }
  out += "\n          checking ";
  for (const auto& c : children) {
    auto it = s.checking.find(c.name);
    out += fmt::format(" {} {:<3}", c.name, it == s.checking.end() ? std::string("-") : std::to_string(it->second));
  }
  return out + "\n";
}

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
      if (g_stop_signal) break;
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
  while (ok && !g_stop_signal) {
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
  const bool interrupted = g_stop_signal != 0;
  if (ok && !interrupted && exit_code == 0 && next_table - steady::now() < table_every / 2) {
    say(format_snapshot(elapsed_s(), children, snapshot(children, poll_timeout)));
  }
  say(fmt::format("[{:5.1f} s] stopping{}: SIGTERM to every agent (they leave the cluster)\n", elapsed_s(),
                  interrupted ? (g_stop_signal == SIGINT ? " (Ctrl-C)" : " (SIGTERM)") : ""));
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
