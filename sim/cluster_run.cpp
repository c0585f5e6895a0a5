#include "sim/cluster_run.h"

#include <algorithm>
#include <chrono>
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

std::string delay_text(const Detection& d) {
  if (!d.delay) return "missed";  // not reported while the truth held
  return "+" + seconds_text(*d.delay);
}

// Delays of a member's detections: changes, or first verdicts.
struct DelayStats {
  std::size_t transitions = 0;
  std::vector<Duration> delays;  // detected ones
  std::string describe() const {
    if (transitions == 0) return "none";
    const std::size_t missed = transitions - delays.size();
    if (delays.empty()) return fmt::format("{} transitions, all missed", transitions);
    const Percentiles p = percentiles(delays);  // the rank rule of every other row
    return fmt::format("{} transitions, p50 {}, max {}{}", transitions, seconds_text(p.p50), seconds_text(p.max),
                       missed ? fmt::format(", {} missed", missed) : "");
  }
};

// Own checks: one row per (target, transition), one column per member.
void format_detections(std::string& out, const ClusterScenario& s, const ClusterRunReport& r, const ReportOptions& o) {
  auto w = std::back_inserter(out);
  const std::size_t members = s.members.size();
  fmt::format_to(w, "\nown checks truth transition -> delay until each member's own checks reported it\n");
  const std::size_t rows = members == 0 ? 0 : r.detections.size() / members;
  std::size_t listed = 0;
  std::vector<DelayStats> changes(members), first(members);
  for (std::size_t row = 0; row < rows; ++row) {
    const Detection& d0 = r.detections[row * members];
    const bool initial = d0.transition.from == HealthStatus::unknown;
    for (std::size_t m = 0; m < members; ++m) {
      const Detection& d = r.detections[row * members + m];
      DelayStats& st = initial ? first[m] : changes[m];
      ++st.transitions;
      if (d.delay) st.delays.push_back(*d.delay);
    }
    if (initial) continue;  // first verdicts are summarised, not listed
    if (listed++ >= o.max_transition_rows) continue;
    fmt::format_to(w, "  {:<14} {:>9}->{:<9} at {:>11}:", s.targets[d0.target].spec().id, to_string(d0.transition.from),
                   to_string(d0.transition.to), seconds_text(d0.transition.at - Instant::from_ns(0)));
    for (std::size_t m = 0; m < members; ++m) {
      fmt::format_to(w, "  {} {}", s.members[m].name, delay_text(r.detections[row * members + m]));
    }
    fmt::format_to(w, "\n");
  }
  if (listed == 0) fmt::format_to(w, "  (no truth transitions after the start)\n");
  if (listed > o.max_transition_rows) {
    fmt::format_to(w, "  ... {} more transitions not listed\n", listed - o.max_transition_rows);
  }
  for (std::size_t m = 0; m < members; ++m) {
    fmt::format_to(w, "  {}: changes: {}; first verdicts: {}\n", s.members[m].name, changes[m].describe(),
                   first[m].describe());
  }
}

// One line per expectation verdict, the result line and the replay command.
void format_verdicts(std::string& out, const ClusterScenario& s, const ClusterRunReport& r,
                     const std::string& scenario_path) {
  auto w = std::back_inserter(out);
  fmt::format_to(w, "\nexpectations\n");
  if (s.expectations.empty()) fmt::format_to(w, "  (none)\n");
  for (const auto& v : r.verdicts) {
    fmt::format_to(w, "  {}  {}: {}\n", v.pass ? "PASS" : "FAIL", s.expectations[v.expectation].describe(), v.evidence);
  }
  fmt::format_to(w, "\n");
  if (!r.error.empty()) fmt::format_to(w, "error      the run stopped early: {}\n", r.error);
  if (r.passed()) {
    fmt::format_to(w, "result     PASS: {} of {} expectations hold\n", r.verdicts.size(), r.verdicts.size());
  } else {
    fmt::format_to(w, "result     FAIL: {} of {} expectations failed{} (seed {})\n", r.failed(), r.verdicts.size(),
                   r.error.empty() ? "" : ", run stopped early", r.seed);
  }
  fmt::format_to(w, "replay     {}\n", replay_command(scenario_path, s, r.seed));
}

}  // namespace

std::string replay_command(const std::string& scenario_path, const ClusterScenario& scenario, std::uint64_t seed) {
  return replay_command(scenario_path, seed, scenario.knob_mode == KnobMode::swarm);
}

std::string replay_command(const std::string& scenario_path, std::uint64_t seed, bool swarm) {
  const bool plain = !scenario_path.empty() && std::all_of(scenario_path.begin(), scenario_path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '/' || c == ':' || c == '+';
  });
  std::string quoted = scenario_path;
  if (!plain) {
    quoted = "'";
    for (char c : scenario_path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
  }
  return fmt::format("heck sim {} --seed {}{}", quoted, seed, swarm ? " --swarm" : "");
}

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
  // A recorder (RunRecorder) samples on a grid of its own.
  std::optional<Instant> next_check, next_state, next_record;
  if (checker) next_check = Instant::from_ns(0) + scenario.invariants.sample_every;
  if (state) next_state = world.liveness_start();
  if (options.recorder != nullptr) next_record = Instant::from_ns(0) + options.recorder->sample_every();
  while (world.error().empty()) {
    Instant next = end;
    if (next_check) next = std::min(next, *next_check);
    if (next_state) next = std::min(next, *next_state);
    if (next_record) next = std::min(next, *next_record);
    world.run_until(next);
    if (!world.error().empty()) break;
    if (next_check && next == *next_check) {
      checker->sample(world);
      next_check = next + scenario.invariants.sample_every;
    }
    if (next_record && next == *next_record) {
      options.recorder->sample(world);
      next_record = next + options.recorder->sample_every();
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
  r.coverage = world.coverage();
  r.error = world.error();
  r.metrics = measure(world, end);
  if (checker) r.invariants = checker->report();
  std::optional<StatusIndex> index;
  if (scenario.judges_own_checks()) {
    index.emplace(world);
    r.detections = detect_transitions(world, *index, end);
  }
  const OwnChecks own{index ? &*index : nullptr, index ? &r.detections : nullptr};
  r.verdicts =
      judge_cluster(world, r.metrics, end, r.state_converged_after, checker ? &checker->report() : nullptr, own);
  if (options.trace != nullptr) options.trace->line("{}", metrics_json(scenario, r));
  if (options.recorder != nullptr) options.recorder->finish(world, r);
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
      {"max_messages_per_member_s", m.max_messages_per_member_s},
      {"max_bytes_per_member_s", m.max_bytes_per_member_s},
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
                {"max_gap_ns", v.max_gap.ns()},
                {"max_herd", v.max_herd},
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
  if (!s.knobs.empty()) {
    fmt::format_to(w, "knobs      {}: {}\n",
                   s.knob_mode == KnobMode::swarm ? "drawn from the seed (--swarm)" : "the ranges' defaults (no --swarm)",
                   knobs_text(s.knobs));
  }
  const double speedup = r.wall_seconds > 0 ? r.simulated.seconds_f() / r.wall_seconds : 0.0;
  fmt::format_to(w, "simulated  {} ({} members; safety {}, liveness {}) in {:.3f} s wall: {:.0f}x real time\n",
                 seconds_text(r.simulated), s.members.size(), seconds_text(s.safety), seconds_text(s.liveness),
                 r.wall_seconds, speedup);
  const auto& c = r.counters;
  fmt::format_to(w, "events     {} processed ({} timers fired, {} deferred while paused), {} member changes\n",
                 c.events, c.timers_fired, c.timers_deferred, c.member_changes);
  fmt::format_to(w, "checks     {} started, {} status changes\n", c.checks_started, c.status_changes);
  const auto& n = r.network;
  fmt::format_to(w,
                 "network    {} datagrams, {} streams, {} bytes; lost {}, duplicated {}, reordered {}, partitioned {}, "
                 "refused {}, timed out {}, clogged {}\n",
                 n.datagrams_sent, n.streams_sent, n.bytes_sent, n.lost, n.duplicated, n.reordered, n.partitioned,
                 n.refused, n.timed_out, n.clogged);
  fmt::format_to(w, "           delivered {}, to a member down {}, buffered while paused {} ({} dropped: buffer full)\n",
                 c.packets_delivered, c.packets_to_down, c.packets_buffered, c.packets_buffer_full);
  {
    std::vector<std::string> hit, never;
    const auto marks = coverage_marks();
    for (std::size_t i = 0; i < marks.size(); ++i) {
      if (r.coverage[i] > 0) {
        hit.push_back(fmt::format("{} {}", marks[i].name, r.coverage[i]));
      } else {
        never.push_back(std::string(marks[i].name));
      }
    }
    fmt::format_to(w, "coverage   hit: {}\n", hit.empty() ? "none" : fmt::format("{}", fmt::join(hit, ", ")));
    if (!never.empty()) fmt::format_to(w, "           never hit: {}\n", fmt::join(never, ", "));
  }
  if (c.unroutable > 0 || c.records_dropped > 0 || c.status_records_dropped > 0 || c.ignored_faults > 0 ||
      n.overflow > 0) {
    fmt::format_to(w,
                   "warnings   {} unroutable sends, {} member records dropped, {} status records dropped, {} faults "
                   "ignored, {} network overflows\n",
                   c.unroutable, c.records_dropped, c.status_records_dropped, c.ignored_faults, n.overflow);
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
                 m.messages_per_member_s, m.bytes_per_member_s, m.max_messages_per_member_s, m.max_bytes_per_member_s);
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
                       replay_command(o.scenario_path, s, r.seed));
      }
    }
  }

  if (s.judges_own_checks()) format_detections(out, s, r, o);
  format_verdicts(out, s, r, o.scenario_path);
  return out;
}

}  // namespace heck::sim
