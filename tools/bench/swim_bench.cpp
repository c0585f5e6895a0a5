// Membership figures in the simulator (issue 3's benchmarks): failure
// detection and false positives under loss, Lifeguard on and off, with and
// without slow (paused) members; and the message load per member as the
// cluster grows. Prints tables; every row is a deterministic simulation
// (same flags, same figures).
//
//   detection rows: 100 members (memberlist LAN defaults, 1 s probe interval,
//     0.1-2 ms links). After a warm-up, one member crashes every
//     --crash-every-s seconds (round robin over members 0-79) and restarts
//     --down-s later with a new process; the row runs for --duration-s.
//     first p50/p99: crash -> first suspicion anywhere (sim/cluster_analysis.h),
//     also in probe periods (SWIM expects e/(e-1) = 1.58 on average).
//     FP/member-h: false suspicions and false deaths (distinct member and
//     incarnation) per member-hour of running time. "healthy" leaves out the
//     slow members themselves, as the Lifeguard paper counts.
//     slow members (--paused yes): members 90-94 each freeze for --pause-ms
//     every --pause-every-s (staggered), like a process starved of CPU.
//     (--paused late): members 90-94 run but answer late, like the
//     Lifeguard paper's CPU-starved members: every message to or from them
//     takes an extra exponential delay (mean --late-ms, at least a tenth of
//     it), so their acks come back after their own probe timeouts.
//   load rows: N members, no faults; messages and bytes each member sends
//     per second over --load-window-s after everyone has joined: membership
//     (Swim's own counters) and all layers (every Send). "join stale %": of
//     the membership updates received until then, the share that changed
//     nothing (Swim's updates_ignored; mostly alives it had already heard).
//
// Run: build-sim/tools/bench/swim_bench [--rows detection,load] [--loss 0,5,10]
//        [--lifeguard on,off] [--paused no,yes] [--members 10,100,1000] ...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/cluster_analysis.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"

namespace {

using heck::Duration;
using heck::Instant;
using namespace heck::sim;

struct Options {
  std::vector<std::string> rows{"detection", "load"};
  std::vector<int> loss_percent{0, 5, 10};
  std::vector<std::string> lifeguard{"on", "off"};
  std::vector<std::string> paused{"no", "yes"};
  std::vector<int> members{10, 100, 1000};
  int detection_members = 100;
  double duration_s = 300;
  double warmup_s = 30;
  double crash_every_s = 10;
  double down_s = 30;
  double pause_every_s = 8;
  int pause_ms = 2000;
  int late_ms = 400;
  int slow_members = 5;
  double load_window_s = 20;
  std::uint64_t seed = 1;
  bool verbose = false;
};

Instant at_s(double s) { return Instant::from_ns(static_cast<std::int64_t>(s * 1e9)); }
Duration secs(double s) { return Duration::nanoseconds(static_cast<std::int64_t>(s * 1e9)); }

ClusterScenario base_scenario(int n, double safety_s, double liveness_s) {
  ClusterScenario s;
  s.name = "swim-bench";
  for (int i = 0; i < n; ++i) s.members.push_back(MemberScenario{fmt::format("m{}", i), {}, 0, true});
  s.seeds = {0, 1, 2};
  s.start_spread = Duration::seconds(std::max(2, n / 50));
  s.network.latency = heck::sim::LatencyDist::uniform(Duration::microseconds(100), Duration::milliseconds(2));
  // Membership is measured here: anti-entropy (an empty replicated state)
  // every 30 s instead of every few seconds.
  s.replication.anti_entropy_interval = Duration::seconds(30);
  s.safety = secs(safety_s);
  s.liveness = secs(liveness_s);
  return s;
}

TimelineEvent event(double at, FaultKind kind, std::uint32_t member) {
  TimelineEvent e;
  e.at = secs(at);
  e.kind = kind;
  e.members = {member};
  return e;
}

struct DetectionRow {
  int loss = 0;
  bool lifeguard = true;
  std::string slow = "no";
  ClusterMetrics m;
  double member_hours = 0;
  std::uint64_t fp_dead_healthy = 0, fp_susp_healthy = 0;
  double wall_s = 0;
};

DetectionRow run_detection(const Options& o, int loss, bool lifeguard, const std::string& kind) {
  const bool paused = kind != "no";
  const int n = o.detection_members;
  const double end_s = o.warmup_s + o.duration_s;
  ClusterScenario s = base_scenario(n, end_s, 0.001);
  s.swim.lifeguard = lifeguard;
  s.metrics_from = secs(o.warmup_s);
  s.network.loss = loss / 100.0;
  const int crashable = std::max(1, n * 8 / 10);
  int k = 0;
  for (double t = o.warmup_s + 1; t + o.down_s < end_s; t += o.crash_every_s, ++k) {
    TimelineEvent r = event(t, FaultKind::restart, static_cast<std::uint32_t>(3 + k % (crashable - 3)));
    r.down = secs(o.down_s);
    s.timeline.push_back(r);
  }
  std::set<std::uint32_t> slow;
  if (paused) {
    for (int i = 0; i < o.slow_members && n - 10 + i < n; ++i) slow.insert(static_cast<std::uint32_t>(n - 10 + i));
  }
  if (kind == "late") {
    // Every message to or from a slow member is late (both directions).
    ClusterScenario::LinkRule rule;
    rule.from = EndpointSet(static_cast<std::size_t>(n));
    for (std::uint32_t m : slow) rule.from.insert(m);
    rule.to = EndpointSet::all(static_cast<std::size_t>(n));
    rule.link.latency = heck::sim::LatencyDist::exponential(Duration::milliseconds(o.late_ms),
                                                            Duration::milliseconds(std::max(1, o.late_ms / 10)));
    s.links.push_back(rule);
  } else if (kind == "yes") {
    int j = 0;
    for (std::uint32_t m : slow) {
      const double offset = o.pause_every_s * j++ / static_cast<double>(slow.size());
      for (double t = o.warmup_s / 2 + offset; t < end_s - 1; t += o.pause_every_s) {
        TimelineEvent p = event(t, FaultKind::pause, m);
        p.pause_for = Duration::milliseconds(o.pause_ms);
        s.timeline.push_back(p);
      }
    }
  }
  std::stable_sort(s.timeline.begin(), s.timeline.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  for (std::size_t i = 0; i < s.timeline.size(); ++i) s.timeline[i].source = i;

  DetectionRow row;
  row.loss = loss;
  row.lifeguard = lifeguard;
  row.slow = kind;
  const auto t0 = std::chrono::steady_clock::now();
  ClusterWorld w(s, ClusterWorldOptions{o.seed, nullptr});
  w.run_until(at_s(end_s));
  row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  row.m = measure(w, at_s(end_s));
  row.member_hours = row.m.member_seconds / 3600.0;
  const Instant from = at_s(o.warmup_s);
  for (const FalsePositive& f : row.m.false_positives) {
    if (f.at < from || slow.contains(f.member)) continue;
    ++(f.state == heck::MemberState::dead ? row.fp_dead_healthy : row.fp_susp_healthy);
  }
  if (!w.error().empty()) fmt::print(stderr, "warning: run stopped early: {}\n", w.error());
  if (o.verbose) {
    for (const FalsePositive& f : row.m.false_positives) {
      if (f.state != heck::MemberState::dead) continue;
      std::string events;
      for (const FaultRecord& e : w.faults()) {
        if (e.member == f.member) events += fmt::format(" {}@{:.1f}(inc {})", to_string(e.what), e.at.ns() / 1e9, e.incarnation);
      }
      fmt::print("    false death: {} incarnation {} at {:.3f} s by {} members{}; process:{}\n", s.members[f.member].name,
                 f.incarnation, f.at.ns() / 1e9, f.reports, slow.contains(f.member) ? " (slow member)" : "", events);
    }
  }
  return row;
}

struct LoadRow {
  int members = 0;
  double swim_msgs = 0, swim_bytes = 0, all_msgs = 0, all_bytes = 0;
  double join_stale = 0;  // of the updates received while joining, the share that changed nothing
  double wall_s = 0;
};

LoadRow run_load(const Options& o, int n) {
  const double join_s = std::max(10.0, 2.0 * std::max(2, n / 50));
  const double end_s = join_s + o.load_window_s;
  ClusterScenario s = base_scenario(n, end_s, 0.001);
  s.metrics_from = secs(join_s);
  LoadRow row;
  row.members = n;
  const auto t0 = std::chrono::steady_clock::now();
  ClusterWorld w(s, ClusterWorldOptions{o.seed, nullptr});
  w.run_until(at_s(join_s));
  std::vector<std::uint64_t> packets(n), bytes(n);
  double applied = 0, ignored = 0;
  for (int m = 0; m < n; ++m) {
    const auto& c = w.node(m)->membership().counters();
    packets[m] = c.packets_sent;
    bytes[m] = c.bytes_sent;
    applied += static_cast<double>(c.updates_applied);
    ignored += static_cast<double>(c.updates_ignored);
  }
  row.join_stale = applied + ignored > 0 ? ignored / (applied + ignored) : 0;
  w.run_until(at_s(end_s));
  row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double sp = 0, sb = 0, ap = 0, ab = 0;
  for (int m = 0; m < n; ++m) {
    const auto& c = w.node(m)->membership().counters();
    sp += static_cast<double>(c.packets_sent - packets[m]);
    sb += static_cast<double>(c.bytes_sent - bytes[m]);
    ap += static_cast<double>(w.traffic(m).messages);
    ab += static_cast<double>(w.traffic(m).bytes);
  }
  const double member_s = n * o.load_window_s;
  row.swim_msgs = sp / member_s;
  row.swim_bytes = sb / member_s;
  row.all_msgs = ap / member_s;
  row.all_bytes = ab / member_s;
  return row;
}

std::string ms(Duration d) { return fmt::format("{:.0f}", d.ms_f()); }

template <typename T>
bool wanted(const std::vector<T>& list, const T& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("swim_bench: SWIM + Lifeguard figures in the simulator");
  app.add_option("--rows", o.rows, "detection, load")->delimiter(',');
  app.add_option("--loss", o.loss_percent, "datagram loss in percent for detection rows")->delimiter(',');
  app.add_option("--lifeguard", o.lifeguard, "on, off")->delimiter(',');
  app.add_option("--paused", o.paused, "no, yes (slow members freeze now and then), late (they answer late)")
      ->delimiter(',');
  app.add_option("--late-ms", o.late_ms, "late members: mean extra delay per message")->check(CLI::Range(1, 60'000));
  app.add_option("--members", o.members, "cluster sizes for load rows")->delimiter(',');
  app.add_option("--detection-members", o.detection_members, "cluster size for detection rows")->check(CLI::Range(20, 2000));
  app.add_option("--duration-s", o.duration_s, "measured time per detection row (simulated)")->check(CLI::Range(10.0, 86400.0));
  app.add_option("--warmup-s", o.warmup_s, "join time before measuring")->check(CLI::Range(5.0, 3600.0));
  app.add_option("--crash-every-s", o.crash_every_s, "one crash every so often")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--down-s", o.down_s, "how long a crashed member stays down")->check(CLI::Range(0.0, 3600.0));
  app.add_option("--pause-every-s", o.pause_every_s, "slow members freeze this often")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--pause-ms", o.pause_ms, "for this long")->check(CLI::Range(1, 3'600'000));
  app.add_option("--slow-members", o.slow_members, "how many slow members")->check(CLI::Range(1, 10));
  app.add_option("--load-window-s", o.load_window_s, "measured time per load row")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--seed", o.seed, "seed");
  app.add_flag("--verbose", o.verbose, "list every false death and the member's process events");
  CLI11_PARSE(app, argc, argv);

  const auto start = std::chrono::steady_clock::now();
  if (wanted<std::string>(o.rows, "detection")) {
    fmt::print("detection: {} members, probe 1 s (memberlist LAN), a crash every {:.0f} s (down {:.0f} s), {:.0f} s "
               "per row after {:.0f} s warm-up, seed {}\n",
               o.detection_members, o.crash_every_s, o.down_s, o.duration_s, o.warmup_s, o.seed);
    fmt::print("slow members: {} members; yes: each freezes for {} ms every {:.0f} s (staggered); late: every message to "
               "or from them takes an extra exponential delay, mean {} ms\n\n",
               o.slow_members, o.pause_ms, o.pause_every_s, o.late_ms);
    fmt::print("{:>5} {:>9} {:>5} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9} {:>9} {:>12} {:>12} {:>7}\n", "loss", "lifeguard",
               "slow", "crashes", "first p50", "first p99", "periods", "dead-all p50", "susp/m-h", "dead/m-h",
               "healthy s/m-h", "healthy d/m-h", "wall s");
    struct Rates {
      double on = -1, off = -1, on_hours = 0;
    };
    std::map<std::pair<int, std::string>, Rates> dead_rate;  // (loss, slow) -> rates
    for (const std::string& slow : o.paused) {
      for (int loss : o.loss_percent) {
        for (const std::string& lg : o.lifeguard) {
          const DetectionRow r = run_detection(o, loss, lg == "on", slow);
          const double h = r.member_hours > 0 ? r.member_hours : 1;
          fmt::print("{:>4}% {:>9} {:>5} {:>7} {:>7} ms {:>6} ms {:>8.2f} {:>8} ms {:>9.3f} {:>9.3f} {:>12.3f} {:>12.3f} {:>7.1f}\n",
                     loss, lg, slow, r.m.crashes.size(), ms(r.m.first_detection.p50), ms(r.m.first_detection.p99),
                     r.m.first_detection.p50.seconds_f(), ms(r.m.dead_everywhere.p50),
                     static_cast<double>(r.m.false_suspicions) / h, static_cast<double>(r.m.false_deaths) / h,
                     static_cast<double>(r.fp_susp_healthy) / h, static_cast<double>(r.fp_dead_healthy) / h, r.wall_s);
          std::fflush(stdout);
          Rates& rate = dead_rate[{loss, slow}];
          (lg == "on" ? rate.on : rate.off) = static_cast<double>(r.fp_dead_healthy) / h;
          if (lg == "on") rate.on_hours = h;
        }
      }
    }
    fmt::print("\nfalse deaths of healthy members per member-hour, Lifeguard off / on:\n");
    for (const auto& [key, rate] : dead_rate) {
      if (rate.on < 0 || rate.off < 0) continue;
      // With none under Lifeguard, its rate is below one per on_hours: the
      // ratio is at least off x on_hours.
      const std::string ratio = rate.on > 0    ? fmt::format("{:.1f}x fewer with Lifeguard", rate.off / rate.on)
                                : rate.off > 0 ? fmt::format(">= {:.0f}x fewer (none with Lifeguard in {:.1f} member-h)",
                                                             rate.off * rate.on_hours, rate.on_hours)
                                               : std::string("none either way");
      fmt::print("  loss {:>2}%, slow members {:>4}: {:.3f} / {:.3f}: {}\n", key.first, key.second,
                 rate.off, rate.on, ratio);
    }
    fmt::print("\n");
  }
  if (wanted<std::string>(o.rows, "load")) {
    fmt::print("load: members join, then {:.0f} s without faults; per member per second\n\n", o.load_window_s);
    fmt::print("{:>8} {:>14} {:>14} {:>14} {:>14} {:>12} {:>7}\n", "members", "swim msg/s", "swim B/s", "all msg/s",
               "all B/s", "join stale %", "wall s");
    for (int n : o.members) {
      const LoadRow r = run_load(o, n);
      fmt::print("{:>8} {:>14.2f} {:>14.0f} {:>14.2f} {:>14.0f} {:>12.1f} {:>7.1f}\n", n, r.swim_msgs, r.swim_bytes,
                 r.all_msgs, r.all_bytes, 100 * r.join_stale, r.wall_s);
      std::fflush(stdout);
    }
  }
  fmt::print("\ntotal wall time {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
