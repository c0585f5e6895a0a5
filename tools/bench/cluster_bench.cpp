// Cluster figures in the simulator (issue 5's first benchmark): N agents
// running the composed node share T targets (1 s interval by default).
// Every row is one deterministic simulation (same flags, same figures), with
// the standing invariants checked (sim/cluster_invariants.h).
//
// Timeline of one row:
//   0 .. join_s        the agents start (spread over join_s); no targets yet
//   join_s + 5 s       the last agent starts, configured with the T targets:
//                      it writes them to the registry and joins; replication
//                      brings them to everyone (one registry write, not N)
//   warm               = join_s + 5 s + settle: steady state from here
//   warm .. warm+10 s  --flip-fraction of the targets (at least 10) go down (staggered)
//   crash_at           = warm + 20 s: one agent crashes: the owner of the first
//                      target no seed owns (about T/N targets, at least one)
//   end                = crash_at + 25 s (+ 5 s liveness)
// Figures:
//   takeover p50/p99   crash -> first check by a new true owner, over the
//                      targets the crashed agent owned
//   agree p50/p99      a target flips -> every live agent reports the new
//                      status (sampled every --sample-ms); rise/fall as given
//   checks/target/int  check starts per target per interval in [warm, crash_at)
//   msg/s, B/s         Send effects (all layers) per agent per second from warm
//   violations         invariant violations in the row (coverage, herd,
//                      agreement, freshness): 0 expected
// --joins adds, under the row: delta joins per simulated second (news), the
// deltas joined whether news or not, the stores' join work and the delta
// parts received (copies included) per second, and the
// replication totals (local writes; delta parts pushed, combined parts built
// from a flush's burst, parts queued for piggybacking, received and joined;
// state repairs and their entries; bodies decoded once and reused through
// the shared pool), the most message bytes the simulated network held at once
// (every receiver's message counted; a datagram sent to many is held once),
// the largest dot cloud an agent's context held at a sample, and the
// ownership indexes' work (full ranks of a target over the live members,
// rendezvous hashes).
//
// Run: build-sim/tools/bench/cluster_bench [--members 100] [--targets 10000]
//        [--interval-ms 1000] [--seed 1] [--rows main,scale]
//        [--scale 10,100,1000] [--scale-targets 10000,10000,1000]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/ownership/rendezvous.h"
#include "sim/huge_pages.h"
#include "sim/cluster_analysis.h"
#include "sim/cluster_invariants.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"

namespace {

using heck::Duration;
using heck::Instant;
using namespace heck::sim;

struct Options {
  int members = 100;
  int targets = 10'000;
  int interval_ms = 1000;
  int timeout_ms = 500;
  int rise = 1, fall = 1;
  int checkers = 1;
  double flip_fraction = 0.01;
  int sample_ms = 100;
  bool joins = false;
  int anti_entropy_ms = 0;  // 0: the replicator's default
  int seen_bodies = -1;     // -1: the replicator's default
  int forward_transmits = -1;  // -1: the replicator's default
  std::uint64_t seed = 1;
  std::vector<std::string> rows{"main", "scale"};
  std::vector<int> scale{10, 100, 1000};
  std::vector<int> scale_targets{10'000, 10'000, 1'000};
};

Instant at_s(double s) { return Instant::from_ns(static_cast<std::int64_t>(s * 1e9)); }
Duration secs(double s) { return Duration::nanoseconds(static_cast<std::int64_t>(s * 1e9)); }

// Counts check starts in [from, to), then tells the invariant checker.
class Counting final : public ClusterObserver {
 public:
  Counting(InvariantChecker& next, Instant from, Instant to) : next_(next), from_(from), to_(to) {}
  void on_process(Instant at, std::uint32_t m, ProcessEvent what) override { next_.on_process(at, m, what); }
  void on_network(Instant at, const Network& n, std::size_t d) override { next_.on_network(at, n, d); }
  void on_registry(Instant at, std::uint32_t t, const heck::TargetSpec* s) override { next_.on_registry(at, t, s); }
  void on_check(Instant at, std::uint32_t m, std::uint32_t t) override {
    if (at >= from_ && at < to_) ++checks;
    next_.on_check(at, m, t);
  }
  std::uint64_t checks = 0;

 private:
  InvariantChecker& next_;
  Instant from_, to_;
};

struct Row {
  int members = 0, targets = 0;
  double sim_s = 0, wall_s = 0;
  Percentiles takeover, agree;
  std::uint64_t takeovers_pending = 0;
  double checks_per_interval = 0;
  double msgs = 0, bytes = 0;
  std::uint64_t violations[4] = {0, 0, 0, 0};
  std::uint64_t flips = 0;
  std::string error;
  std::vector<std::string> violations_seen;  // the first few, for the notes under the row
  std::vector<std::uint64_t> joins_per_s;    // --joins: delta joins, all agents, per simulated second
  std::vector<std::uint64_t> tries_per_s;    // --joins: deltas joined, news or not (copies dropped unread aside)
  std::vector<std::uint64_t> work_per_s;     // --joins: the stores' join work (keys and index dots visited)
  std::vector<std::uint64_t> received_per_s;  // --joins: delta parts received, copies included
  // --joins: replication totals over the agents alive at the end, and the
  // shared delta pool's decodes saved.
  std::uint64_t local_writes = 0, deltas_received = 0, deltas_seen = 0, deltas_joined = 0, state_repairs = 0, repair_entries = 0;
  std::uint64_t deltas_regrouped = 0;       // forwarded joined with an older group: a new body
  std::uint64_t state_repairs_skipped = 0;  // not sent: the peer was ahead
  std::uint64_t deltas_sent = 0, deltas_combined = 0, deltas_queued = 0;
  std::uint64_t pool_hits = 0, pool_misses = 0;
  std::uint64_t envelopes_decoded = 0, envelopes_shared = 0;
  std::uint64_t full_ranks = 0, rank_hashes = 0;  // the ownership indexes' work, agents alive at the end
  std::uint64_t shared_ranks = 0;                  // full ranks read from the world's rank cache instead
  std::size_t rank_sets = 0, rankings_kept = 0;    // the rank cache at the end
  std::uint64_t peak_in_flight_bytes = 0;  // the simulated network's, every receiver's copy counted
  std::size_t peak_cloud_dots = 0;         // the most dots above an agent's version vector, at a sample
};

// Delta joins (deltas that brought something new) summed over the agents,
// per simulated second: where a row's wall time goes.
class JoinCounter {
 public:
  explicit JoinCounter(std::size_t members) : last_(members) {}
  void sample(const ClusterWorld& w, Row& row) {
    Totals sum;
    for (std::uint32_t m = 0; m < last_.size(); ++m) {
      const heck::ClusterNode* node = w.node(m);
      if (node == nullptr) continue;
      const heck::HealthDelta& state = node->health_state().state();
      peak_cloud_ = std::max({peak_cloud_, state.registry.context.cloud().size(),
                              state.observations.context.cloud().size()});
      const heck::ReplicatorCounters& c = node->replication().counters();
      const Totals now{c.deltas_joined, c.deltas_received - c.deltas_seen,
                       state.registry.store.join_work() + state.observations.store.join_work() +
                           state.counters.store.join_work() + state.sets.store.join_work(),
                       c.deltas_received};
      Totals& last = last_[m];
      // Since the last sample; a restarted node counts from zero.
      const auto since = [](std::uint64_t now, std::uint64_t last) { return now >= last ? now - last : now; };
      sum.joined += since(now.joined, last.joined);
      sum.tried += since(now.tried, last.tried);
      sum.work += since(now.work, last.work);
      sum.received += since(now.received, last.received);
      last = now;
    }
    const auto second = static_cast<std::size_t>((w.now() - Instant::from_ns(0)).seconds_f() - 1e-9);
    for (auto* per_s : {&row.joins_per_s, &row.tries_per_s, &row.work_per_s, &row.received_per_s}) {
      if (per_s->size() <= second) per_s->resize(second + 1, 0);
    }
    row.joins_per_s[second] += sum.joined;
    row.tries_per_s[second] += sum.tried;
    row.work_per_s[second] += sum.work;
    row.received_per_s[second] += sum.received;
  }
  // The most dots an agent's registry or observation context held above
  // its version vector (its dot cloud), over the samples.
  std::size_t peak_cloud() const { return peak_cloud_; }

 private:
  struct Totals {
    std::uint64_t joined = 0, tried = 0, work = 0, received = 0;
  };
  std::vector<Totals> last_;
  std::size_t peak_cloud_ = 0;
};

Row run(const Options& o, int n, int t) {
  ClusterScenario s;
  s.name = "cluster-bench";
  s.seed = o.seed;
  // n agents plus the one that brings the targets.
  for (int i = 0; i < n; ++i) s.members.push_back(MemberScenario{fmt::format("a{}", i), {}, 0, i < n - 1});
  s.seeds = {0, 1, 2};
  s.seeds.resize(std::min<std::size_t>(3, n - 1));
  const double join_s = std::max(5.0, 2.0 * std::max(1, n / 50));
  s.start_spread = secs(join_s);
  s.network.latency = LatencyDist::uniform(Duration::microseconds(100), Duration::milliseconds(2));
  s.targets_at = {static_cast<std::uint32_t>(n - 1)};
  s.invariants.sample_every = Duration::milliseconds(o.sample_ms);
  if (o.anti_entropy_ms > 0) s.replication.anti_entropy_interval = Duration::milliseconds(o.anti_entropy_ms);
  if (o.seen_bodies >= 0) s.replication.seen_bodies = static_cast<std::size_t>(o.seen_bodies);
  if (o.forward_transmits >= 0) s.replication.forward_transmits = static_cast<std::size_t>(o.forward_transmits);

  const double targets_s = join_s + 5;
  const double settle_s = 15;  // generous: replication of the registry and ownership after the last join
  const double warm = targets_s + settle_s;
  const double crash_at = warm + 20;
  const double end = crash_at + 25;
  s.safety = secs(end);
  s.liveness = secs(5);
  s.metrics_from = secs(warm);

  const int flips = std::min(t, std::max(10, static_cast<int>(t * o.flip_fraction)));
  for (int i = 0; i < t; ++i) {
    heck::TargetSpec spec;
    spec.id = heck::detached_name(fmt::format("t{:05}", i));
    auto url = heck::Url::parse(fmt::format("http://t{}.example/health", i));
    if (!url) throw std::runtime_error(url.error());
    spec.url = *url;
    spec.interval = Duration::milliseconds(o.interval_ms);
    spec.timeout = Duration::milliseconds(o.timeout_ms);
    spec.rise = static_cast<std::uint8_t>(o.rise);
    spec.fall = static_cast<std::uint8_t>(o.fall);
    spec.checkers = static_cast<std::uint8_t>(o.checkers);
    nlohmann::json behaviour = nlohmann::json::array({{{"at_ms", 0}, {"mode", "up"}}});
    if (i % std::max(1, t / flips) == 0) {
      const double flip_s = warm + 10.0 * (i / std::max(1, t / flips)) / flips;
      behaviour.push_back({{"at_ms", static_cast<std::int64_t>(flip_s * 1000)}, {"mode", "down"}});
    }
    auto model = TargetModel::from_json(spec, behaviour);
    if (!model) throw std::runtime_error(model.error());
    s.targets.push_back(std::move(*model));
  }
  TimelineEvent start;
  start.at = secs(targets_s);
  start.kind = FaultKind::join;
  start.members = {static_cast<std::uint32_t>(n - 1)};
  TimelineEvent crash;
  crash.at = secs(crash_at);
  crash.kind = FaultKind::crash;
  // The victim is the owner of the first target that neither a seed nor the
  // agent with the targets owns (so it owns at least one target even when
  // targets are fewer than agents).
  std::vector<heck::RankedMember> everyone;
  for (const auto& m : s.members) everyone.push_back(heck::RankedMember{m.name, 1.0});
  std::uint32_t victim = static_cast<std::uint32_t>(n / 2);
  for (const TargetModel& m : s.targets) {
    const auto owner = static_cast<std::uint32_t>(heck::rank_members(m.spec().id, everyone, 1).front());
    if (owner >= 3 && owner < static_cast<std::uint32_t>(n - 1)) {
      victim = owner;
      break;
    }
  }
  crash.members = {victim};
  crash.source = 1;
  s.timeline = {start, crash};

  Row row;
  row.members = n;
  row.targets = t;
  row.sim_s = end + 5;
  InvariantChecker checker(s);
  Counting counting(checker, at_s(warm), at_s(crash_at));
  ClusterWorldOptions wo{o.seed, nullptr};
  wo.observer = &counting;
  const auto t0 = std::chrono::steady_clock::now();
  ClusterWorld w(s, wo);
  JoinCounter joins(s.members.size());
  const Instant stop = at_s(end + 5);
  Instant report_at = at_s(10);
  for (Instant next = Instant::from_ns(0) + s.invariants.sample_every; w.error().empty();) {
    w.run_until(std::min(next, stop));
    checker.sample(w);
    if (o.joins) joins.sample(w, row);
    if (w.now() >= report_at) {  // progress on stderr: rows can take minutes
      fmt::print(stderr, "  [{} agents, {} targets] simulated {:.0f} of {:.0f} s, wall {:.0f} s\n", n, t,
                 (w.now() - Instant::from_ns(0)).seconds_f(), end + 5,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      report_at = report_at + Duration::seconds(10);
    }
    if (next >= stop) break;
    next = next + s.invariants.sample_every;
  }
  if (w.error().empty()) checker.finish(w);
  row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  row.error = w.error();
  const InvariantReport& r = checker.report();
  row.takeover = r.takeover;
  row.takeovers_pending = r.takeovers_pending;
  row.agree = r.agree_delay;
  row.flips = r.flips;
  for (Invariant i : kInvariants) {
    row.violations[static_cast<int>(i)] = r.count(i);
    auto it = r.violations.find(i);
    if (it == r.violations.end()) continue;
    for (const InvariantViolation& v : it->second) {
      if (row.violations_seen.size() == 5) break;
      row.violations_seen.push_back(fmt::format("{} {} at {:.3f} s: {} [{}]", to_string(i), v.target,
                                                (v.at - Instant::from_ns(0)).seconds_f(), v.what,
                                                fmt::join(v.members, ", ")));
    }
  }
  for (std::uint32_t m = 0; m < s.members.size(); ++m) {
    const heck::ClusterNode* node = w.node(m);
    if (node == nullptr) continue;
    const heck::ReplicatorCounters& c = node->replication().counters();
    row.local_writes += c.local_writes;
    row.deltas_received += c.deltas_received;
    row.deltas_joined += c.deltas_joined;
    row.deltas_seen += c.deltas_seen;
    row.deltas_regrouped += c.deltas_regrouped;
    row.deltas_sent += c.deltas_sent;
    row.deltas_combined += c.deltas_combined;
    row.deltas_queued += c.deltas_queued;
    row.state_repairs += c.state_repairs_sent;
    row.state_repairs_skipped += c.state_repairs_skipped;
    row.repair_entries += c.repair_entries_sent;
    row.full_ranks += node->ownership().full_ranks();
    row.rank_hashes += node->ownership().hashes();
    row.shared_ranks += node->ownership().shared_ranks();
  }
  row.rank_sets = w.rank_cache().sets();
  row.rankings_kept = w.rank_cache().rankings();
  row.pool_hits = w.delta_pool().counters().hits;
  row.pool_misses = w.delta_pool().counters().misses;
  row.envelopes_decoded = w.envelope_cache().counters().misses + w.envelope_cache().counters().uncached;
  row.envelopes_shared = w.envelope_cache().counters().hits;
  row.peak_in_flight_bytes = w.network().counters().peak_in_flight_bytes;
  row.peak_cloud_dots = joins.peak_cloud();
  const double intervals = (crash_at - warm) * 1000.0 / o.interval_ms;
  row.checks_per_interval = static_cast<double>(counting.checks) / (t * intervals);
  const ClusterMetrics m = measure(w, stop);
  row.msgs = m.messages_per_member_s;
  row.bytes = m.bytes_per_member_s;
  return row;
}

std::string ms(Duration d) { return fmt::format("{:.0f}", d.ms_f()); }

void header() {
  fmt::print("{:>7} {:>7} | {:>9} {:>9} {:>5} | {:>8} {:>8} {:>5} | {:>11} | {:>8} {:>9} | {:>11} | {:>7} {:>7}\n",
             "agents", "targets", "takeover", "takeover", "n", "agree", "agree", "flips", "checks/tgt", "msg/s",
             "B/s", "violations", "sim s", "wall s");
  fmt::print("{:>7} {:>7} | {:>9} {:>9} {:>5} | {:>8} {:>8} {:>5} | {:>11} | {:>8} {:>9} | {:>11} | {:>7} {:>7}\n", "",
             "", "p50 ms", "p99 ms", "", "p50 ms", "p99 ms", "", "/interval", "/agent", "/agent", "c/h/a/f", "", "");
}

void print(const Row& r) {
  fmt::print("{:>7} {:>7} | {:>9} {:>9} {:>5} | {:>8} {:>8} {:>5} | {:>11.3f} | {:>8.1f} {:>9.0f} | {:>11} | {:>7.0f} {:>7.1f}{}\n",
             r.members, r.targets, ms(r.takeover.p50), ms(r.takeover.p99), r.takeover.count, ms(r.agree.p50),
             ms(r.agree.p99), r.agree.count, r.checks_per_interval, r.msgs, r.bytes,
             fmt::format("{}/{}/{}/{}", r.violations[0], r.violations[1], r.violations[2], r.violations[3]), r.sim_s,
             r.wall_s, r.error.empty() ? "" : "  stopped: " + r.error);
  if (r.takeovers_pending > 0) fmt::print("        ({} targets never taken over)\n", r.takeovers_pending);
  for (const std::string& v : r.violations_seen) fmt::print("        violated: {}\n", v);
  if (!r.joins_per_s.empty()) {
    std::vector<std::string> seconds;
    for (std::size_t i = 0; i < r.joins_per_s.size(); ++i) seconds.push_back(fmt::format("{}:{}", i, r.joins_per_s[i]));
    fmt::print("        delta joins per simulated second (second:joins, all agents): {}\n", fmt::join(seconds, " "));
    seconds.clear();
    for (std::size_t i = 0; i < r.tries_per_s.size(); ++i) {
      seconds.push_back(fmt::format("{}:{}/{}/{}", i, r.tries_per_s[i], r.work_per_s[i], r.received_per_s[i]));
    }
    fmt::print("        deltas joined, news or not, per simulated second, the stores' join work (keys and indexed "
               "dots visited) and the delta parts received, copies included (second:deltas/work/received, all agents): {}\n",
               fmt::join(seconds, " "));
    fmt::print("        replication, agents alive at the end: {} local writes; delta parts: {} pushed (one per peer; "
               "{} combined parts built), {} queued for piggybacking, {} received ({} copies of bodies joined before dropped unread), "
               "{} joined ({} forwarded joined with an older group, as a new body); {} state repairs sent ({} entries; {} skipped: the peer was ahead); "
               "shared decodes: {} bodies decoded, {} reused; {} envelopes decoded, {} reused\n",
               r.local_writes, r.deltas_sent, r.deltas_combined, r.deltas_queued, r.deltas_received, r.deltas_seen,
               r.deltas_joined, r.deltas_regrouped,
               r.state_repairs, r.repair_entries, r.state_repairs_skipped, r.pool_misses, r.pool_hits, r.envelopes_decoded, r.envelopes_shared);
    fmt::print("        network: at most {:.1f} MiB of messages in flight at once (per receiver; a datagram sent to many is held once)\n",
               static_cast<double>(r.peak_in_flight_bytes) / (1024.0 * 1024.0));
    fmt::print("        contexts: at most {} dots above an agent's version vector (its dot cloud) at a sample\n",
               r.peak_cloud_dots);
    fmt::print("        ownership, agents alive at the end: {} full ranks of a target made, {} rendezvous hashes, "
               "{} read from the shared rank cache ({:.2f} ranks per target-agent pair, {:.4f} made); "
               "the cache holds {} rankings over {} live sets\n",
               r.full_ranks, r.rank_hashes, r.shared_ranks,
               static_cast<double>(r.full_ranks + r.shared_ranks) /
                   (static_cast<double>(r.members) * static_cast<double>(r.targets)),
               static_cast<double>(r.full_ranks) / (static_cast<double>(r.members) * static_cast<double>(r.targets)),
               r.rankings_kept, r.rank_sets);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // The whole cluster in one process (sim/huge_pages.h).
  heck::sim::reexec_on_huge_pages(argv);
  heck::sim::keep_freed_heap();
  Options o;
  CLI::App app{"cluster_bench: takeover, agreement, load and scaling of the composed node in the simulator"};
  app.add_option("--members", o.members, "agents in the main row (the last one brings the targets)");
  app.add_option("--targets", o.targets, "targets in the main row");
  app.add_option("--interval-ms", o.interval_ms, "check interval");
  app.add_option("--timeout-ms", o.timeout_ms, "check timeout");
  app.add_option("--rise", o.rise, "successes to become healthy")->check(CLI::Range(1, 100));
  app.add_option("--fall", o.fall, "failures to become unhealthy")->check(CLI::Range(1, 100));
  app.add_option("--checkers", o.checkers, "owners per target (r)")->check(CLI::Range(1, heck::TargetSpec::kMaxCheckers));
  app.add_option("--flip-fraction", o.flip_fraction, "targets that go down during the row");
  app.add_option("--sample-ms", o.sample_ms, "freshness sampling period");
  app.add_option("--seed", o.seed, "simulation seed");
  app.add_option("--anti-entropy-ms", o.anti_entropy_ms, "anti-entropy interval (default: the replicator's)");
  app.add_option("--seen-bodies", o.seen_bodies, "delta bodies an agent remembers as joined (default: the replicator's)");
  app.add_option("--forward-transmits", o.forward_transmits,
                 "piggybacked transmits of a forwarded delta, gossip mode (0: uncapped; default: the replicator's)");
  app.add_flag("--joins", o.joins, "print delta joins per simulated second, and replication totals, summed over the agents");
  app.add_option("--rows", o.rows, "main, scale")->delimiter(',');
  app.add_option("--scale", o.scale, "agents per scaling row")->delimiter(',');
  app.add_option("--scale-targets", o.scale_targets, "targets per scaling row")->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  if (o.members < 4 || o.targets < 1 || o.scale.size() != o.scale_targets.size()) {
    fmt::print(stderr, "need --members >= 4, --targets >= 1, and as many --scale-targets as --scale\n");
    return 2;
  }
  fmt::print("cluster_bench: interval {} ms, timeout {} ms, rise {}, fall {}, checkers {}, seed {}\n", o.interval_ms,
             o.timeout_ms, o.rise, o.fall, o.checkers, o.seed);
  std::optional<Row> main_row;
  for (const std::string& rows : o.rows) {
    if (rows == "main") {
      fmt::print("\nmain row\n");
      header();
      main_row = run(o, o.members, o.targets);
      print(*main_row);
    } else if (rows == "scale") {
      fmt::print("\nscaling\n");
      header();
      for (std::size_t i = 0; i < o.scale.size(); ++i) {
        // The main row's configuration is not simulated twice.
        const bool same = main_row && o.scale[i] == main_row->members && o.scale_targets[i] == main_row->targets;
        print(same ? *main_row : run(o, o.scale[i], o.scale_targets[i]));
      }
    } else {
      fmt::print(stderr, "unknown row kind '{}' (main, scale)\n", rows);
      return 2;
    }
  }
  return 0;
}
