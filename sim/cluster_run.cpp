#include "sim/cluster_run.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace heck::sim {

std::size_t ClusterRunReport::failed() const {
  return static_cast<std::size_t>(std::count_if(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return !v.pass; }));
}

namespace {

bool needs_state(const ClusterScenario& s) {
  return std::any_of(s.expectations.begin(), s.expectations.end(), [](const ClusterExpectation& e) {
    return e.kind == ClusterExpectationKind::state_converges;
  });
}

// True when every running member holds the same replicated state.
bool states_equal(const ClusterWorld& w) {
  const HealthDelta* first = nullptr;
  for (std::uint32_t m = 0; m < w.member_count(); ++m) {
    const ClusterNode* n = w.node(m);
    if (n == nullptr) continue;
    const HealthDelta& s = n->replication().state().state();
    if (first == nullptr) {
      first = &s;
    } else if (!(s == *first)) {
      return false;
    }
  }
  return true;
}

}  // namespace

ClusterRunReport run_cluster_scenario(const ClusterScenario& scenario, const RunOptions& options) {
  ClusterRunReport r;
  r.seed = options.seed;
  r.simulated = scenario.duration();
  std::optional<InvariantChecker> checker;
  if (scenario.target_count() > 0 && scenario.invariants.enabled) checker.emplace(scenario);
  ClusterWorldOptions world_options{options.seed, options.trace};
  world_options.observer = checker ? &*checker : nullptr;
  ClusterWorld world(scenario, world_options);
  const Instant end = Instant::from_ns(0) + scenario.duration();
  const auto t0 = std::chrono::steady_clock::now();
  // Two samplers share the run: the invariant checker (freshness) every
  // sample_every from the start, and the replicated state every 100 ms of
  // the liveness phase when an expectation needs it: the first sample at
  // which every running member holds the same state is when it converged
  // (owners keep writing observations, so equality need not last).
  // Splitting run_until() does not change the run.
  constexpr Duration kStateStep = Duration::milliseconds(100);
  const bool state = needs_state(scenario);
  std::optional<Instant> next_check, next_state;
  if (checker) next_check = Instant::from_ns(0) + scenario.invariants.sample_every;
  if (state) next_state = world.liveness_start();
  while (world.error().empty()) {
    Instant next = end;
    if (next_check) next = std::min(next, *next_check);
    if (next_state) next = std::min(next, *next_state);
    world.run_until(next);
    if (!world.error().empty()) break;
    if (next_check && next == *next_check) {
      checker->sample(world);
      next_check = next + scenario.invariants.sample_every;
    }
    if (next_state && next == *next_state) {
      if (states_equal(world)) {
        r.state_converged_after = next - world.liveness_start();
        next_state.reset();
      } else {
        next_state = next < end ? std::min(next + kStateStep, end) : std::optional<Instant>();
      }
    }
    if (next >= end) break;
  }
  if (checker && world.error().empty()) checker->finish(world);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.counters = world.counters();
  r.network = world.network().counters();
  r.error = world.error();
  r.metrics = measure(world, end);
  if (checker) r.invariants = checker->report();
  r.verdicts = judge_cluster(world, r.metrics, end, r.state_converged_after, checker ? &checker->report() : nullptr);
  if (options.trace != nullptr) options.trace->line("{}", metrics_json(scenario, r));
  return r;
}

std::string metrics_json(const ClusterScenario& scenario, const ClusterRunReport& r) {
  using nlohmann::json;
  const ClusterMetrics& m = r.metrics;
  auto pct = [](const Percentiles& p) {
    return json{{"count", p.count}, {"p50_ns", p.p50.ns()}, {"p99_ns", p.p99.ns()}, {"max_ns", p.max.ns()}};
  };
  json crashes = json::array();
  for (const CrashDetection& c : m.crashes) {
    crashes.push_back(json{{"member", scenario.members[c.member].name},
                           {"at_ns", c.at.ns()},
                           {"first_ns", c.first ? json(c.first->ns()) : json(nullptr)},
                           {"everywhere_ns", c.everywhere ? json(c.everywhere->ns()) : json(nullptr)},
                           {"observers", c.observers},
                           {"marked", c.marked}});
  }
  json j = {
      {"t", scenario.duration().ns()},
      {"ev", "metrics"},
      {"crashes", crashes},
      {"first_detection", pct(m.first_detection)},
      {"dead_everywhere", pct(m.dead_everywhere)},
      {"undetected", m.undetected},
      {"incomplete", m.incomplete},
      {"false_suspicions", m.false_suspicions},
      {"false_suspicion_reports", m.false_suspicion_reports},
      {"false_deaths", m.false_deaths},
      {"false_death_reports", m.false_death_reports},
      {"member_seconds", m.member_seconds},
      {"messages_per_member_s", m.messages_per_member_s},
      {"bytes_per_member_s", m.bytes_per_member_s},
      {"messages_per_member_s_max", m.messages_per_member_s_max},
      {"bytes_per_member_s_max", m.bytes_per_member_s_max},
      {"dissemination", pct(m.dissemination)},
      {"updates", m.updates},
      {"updates_incomplete", m.updates_incomplete},
      {"converged_after_ns", m.converged_after ? json(m.converged_after->ns()) : json(nullptr)},
      {"incarnations_agree", m.incarnations_agree},
      {"state_converged_after_ns", r.state_converged_after ? json(r.state_converged_after->ns()) : json(nullptr)},
      {"passed", r.passed()},
  };
  if (r.invariants) {
    const InvariantReport& v = *r.invariants;
    json inv = {{"settle_ns", v.settle.ns()},
                {"checks", v.checks},
                {"owner_checks", v.owner_checks},
                {"gap_max_ns", v.gap_max.ns()},
                {"herd_max", v.herd_max},
                {"flips", v.flips},
                {"flips_judged", v.flips_judged},
                {"flips_excused", v.flips_excused},
                {"agree_delay", pct(v.agree_delay)},
                {"takeover", pct(v.takeover)}};
    for (Invariant i : kInvariants) inv[std::string(to_string(i)) + "_violations"] = v.count(i);
    j["invariants"] = inv;
  }
  // Doubles are printed with the shortest round-trip form: deterministic.
  return j.dump();
}

std::string format_cluster_report(const ClusterScenario& s, const ClusterRunReport& r, const ReportOptions& o) {
  std::string out;
  auto w = std::back_inserter(out);
  const ClusterMetrics& m = r.metrics;
  fmt::format_to(w, "scenario   {}{}\n", s.name, s.description.empty() ? "" : " - " + s.description);
  fmt::format_to(w, "seed       {}\n", r.seed);
  const double speedup = r.wall_seconds > 0 ? r.simulated.seconds_f() / r.wall_seconds : 0.0;
  fmt::format_to(w, "simulated  {} ({} members; safety {}, liveness {}) in {:.3f} s wall: {:.0f}x real time\n",
                 seconds_text(r.simulated), s.members.size(), seconds_text(s.safety), seconds_text(s.liveness),
                 r.wall_seconds, speedup);
  const auto& c = r.counters;
  fmt::format_to(w, "events     {} processed ({} timers fired, {} deferred while paused), {} member changes\n",
                 c.events, c.timers_fired, c.timers_deferred, c.member_changes);
  const auto& n = r.network;
  fmt::format_to(w,
                 "network    {} datagrams, {} streams, {} bytes; lost {}, duplicated {}, reordered {}, partitioned {}, "
                 "refused {}, timed out {}, clogged {}\n",
                 n.datagrams_sent, n.streams_sent, n.bytes_sent, n.lost, n.duplicated, n.reordered, n.partitioned,
                 n.refused, n.timed_out, n.clogged);
  fmt::format_to(w, "           delivered {}, to a member down {}, buffered while paused {} ({} dropped: buffer full)\n",
                 c.packets_delivered, c.packets_to_down, c.packets_buffered, c.packets_buffer_full);
  if (c.unroutable > 0 || c.records_dropped > 0 || c.ignored_faults > 0 || n.overflow > 0) {
    fmt::format_to(w, "warnings   {} unroutable sends, {} member records dropped, {} faults ignored, {} network overflows\n",
                   c.unroutable, c.records_dropped, c.ignored_faults, n.overflow);
  }

  fmt::format_to(w, "\ndetection  crash -> first suspicion anywhere / dead at every live member\n");
  std::size_t listed = 0;
  for (const CrashDetection& d : m.crashes) {
    if (listed++ >= o.max_transition_rows) continue;
    fmt::format_to(w, "  {:<12} crashed at {:>10}: first {:>9}, dead everywhere {} ({} of {} members)\n",
                   s.members[d.member].name, seconds_text(d.at - Instant::from_ns(0)),
                   d.first ? "+" + seconds_text(*d.first) : std::string("never"),
                   d.everywhere ? "+" + seconds_text(*d.everywhere) : std::string("incomplete"), d.marked, d.observers);
  }
  if (m.crashes.empty()) fmt::format_to(w, "  (no crashes)\n");
  if (listed > o.max_transition_rows) fmt::format_to(w, "  ... {} more crashes not listed\n", listed - o.max_transition_rows);
  fmt::format_to(w, "  first detection: {}\n  dead everywhere: {}{}\n", m.first_detection.describe(),
                 m.dead_everywhere.describe(),
                 m.undetected + m.incomplete > 0
                     ? fmt::format("\n  {} undetected, {} incomplete (restarted or run ended first)", m.undetected, m.incomplete)
                     : std::string());
  fmt::format_to(w, "false pos. {} suspicions ({} reports), {} deaths ({} reports) of live members\n",
                 m.false_suspicions, m.false_suspicion_reports, m.false_deaths, m.false_death_reports);
  fmt::format_to(w, "load       {:.2f} msg/s and {:.0f} B/s per member (busiest {:.2f} msg/s, {:.0f} B/s)\n",
                 m.messages_per_member_s, m.bytes_per_member_s, m.messages_per_member_s_max, m.bytes_per_member_s_max);
  fmt::format_to(w, "updates    {} membership updates, {} incomplete; to all members: {}\n", m.updates,
                 m.updates_incomplete, m.dissemination.describe());
  fmt::format_to(w, "converged  {}{}\n",
                 m.converged_after ? fmt::format("{} after the liveness start", seconds_text(*m.converged_after))
                                   : std::string("no (views still disagree at the end)"),
                 m.incarnations_agree ? "" : "; " + m.incarnation_mismatch);
  if (r.state_converged_after) {
    fmt::format_to(w, "state      equal everywhere {} after the liveness start\n", seconds_text(*r.state_converged_after));
  }

  if (r.invariants) {
    const InvariantReport& v = *r.invariants;
    fmt::format_to(w, "invariants settle window {} after each membership change; sampled every {}\n",
                   seconds_text(v.settle), seconds_text(v.sample_every));
    for (Invariant i : kInvariants) fmt::format_to(w, "  {:<10} {}\n", to_string(i), v.summary(i));
    if (v.takeover.count > 0 || v.takeovers_pending > 0) {
      fmt::format_to(w, "  takeover   crash of a true owner -> first check by a new one: {}{}\n", v.takeover.describe(),
                     v.takeovers_pending > 0 ? fmt::format(", {} never taken over", v.takeovers_pending) : "");
    }
    std::size_t listed_violations = 0;
    for (Invariant i : kInvariants) {
      auto it = v.violations.find(i);
      if (it == v.violations.end() || !s.invariants.judged(i)) continue;
      for (const InvariantViolation& x : it->second) {
        if (listed_violations++ == o.max_transition_rows) break;
        fmt::format_to(w, "  VIOLATED   {} target {} at {}: {} [members: {}] (seed {}; replay: {})\n", to_string(i),
                       x.target, seconds_text(x.at - Instant::from_ns(0)), x.what, fmt::join(x.members, ", "), r.seed,
                       replay_command(o.scenario_path, r.seed));
      }
    }
  }

  format_verdicts(out, s.expectations, r, o.scenario_path);
  return out;
}

Result<AnyScenario> load_any_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open", path)};
  std::string text;
  char buf[64 * 1024];
  const std::size_t limit = std::max(Scenario::kMaxFileBytes, ClusterScenario::kMaxFileBytes);
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > limit) return Error{fmt::format("{}: larger than {} bytes", path, limit)};
  }
  if (in.bad()) return Error{fmt::format("{}: read error", path)};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Error{fmt::format("{}: not valid JSON: {}", path, e.what())};
  }
  if (is_cluster_scenario(j)) {
    if (text.size() > ClusterScenario::kMaxFileBytes) {
      return Error{fmt::format("{}: larger than {} bytes", path, ClusterScenario::kMaxFileBytes)};
    }
    auto s = parse_cluster_scenario(j);
    if (!s) return Error{fmt::format("{}: {}", path, s.error())};
    return AnyScenario(std::move(*s));
  }
  auto s = parse_scenario(j);
  if (!s) return Error{fmt::format("{}: {}", path, s.error())};
  return AnyScenario(std::move(*s));
}

}  // namespace heck::sim
