#include "sim/run.h"

#include <algorithm>
#include <chrono>
#include <iterator>

#include <fmt/format.h>

namespace heck::sim {

std::size_t RunReport::failed() const {
  return static_cast<std::size_t>(std::count_if(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return !v.pass; }));
}

RunReport run_scenario(const Scenario& scenario, const RunOptions& options) {
  RunReport r;
  r.seed = options.seed;
  r.simulated = scenario.duration;
  World world(scenario, WorldOptions{options.seed, options.trace});
  const Instant end = Instant::from_ns(0) + scenario.duration;
  const auto t0 = std::chrono::steady_clock::now();
  world.run_until(end);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.counters = world.counters();
  r.error = world.error();
  const StatusIndex index(world);
  r.detections = detect_transitions(world, index, end);
  r.verdicts = judge(world, index, r.detections, end);
  return r;
}

std::string replay_command(const std::string& scenario_path, std::uint64_t seed) {
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
  return fmt::format("heck sim {} --seed {}", quoted, seed);
}

namespace {

std::string delay_text(const Detection& d) {
  if (!d.delay) return "missed";  // not reported while the truth held
  return "+" + seconds_text(*d.delay);
}

struct DelayStats {
  std::size_t transitions = 0;
  std::vector<Duration> delays;  // detected ones
  std::string describe() const {
    if (transitions == 0) return "none";
    std::vector<Duration> d = delays;
    std::sort(d.begin(), d.end());
    const std::size_t missed = transitions - d.size();
    if (d.empty()) return fmt::format("{} transitions, all missed", transitions);
    return fmt::format("{} transitions, p50 {}, max {}{}", transitions, seconds_text(d[(d.size() - 1) / 2]),
                       seconds_text(d.back()), missed ? fmt::format(", {} missed", missed) : "");
  }
};

}  // namespace

std::string format_report(const Scenario& s, const RunReport& r, const ReportOptions& o) {
  std::string out;
  auto w = std::back_inserter(out);
  fmt::format_to(w, "scenario   {}{}\n", s.name, s.description.empty() ? "" : " - " + s.description);
  fmt::format_to(w, "seed       {}\n", r.seed);
  const double speedup = r.wall_seconds > 0 ? r.simulated.seconds_f() / r.wall_seconds : 0.0;
  fmt::format_to(w, "simulated  {} ({} nodes, {} targets) in {:.3f} s wall: {:.0f}x real time\n",
                 seconds_text(r.simulated), s.nodes.size(), s.targets.size(), r.wall_seconds, speedup);
  const auto& c = r.counters;
  fmt::format_to(w, "events     {} processed ({} timers fired, {} stale timer entries dropped)\n", c.events,
                 c.timers_fired, c.stale_timers);
  fmt::format_to(w, "checks     {} started, {} results ({} timed out), {} status changes\n", c.checks_started,
                 c.results, c.timeouts, c.status_changes);
  if (c.status_records_dropped > 0 || c.unknown_targets > 0) {
    fmt::format_to(w, "warnings   {} status records dropped (limit), {} checks of unknown targets\n",
                   c.status_records_dropped, c.unknown_targets);
  }

  // Detection: one row per (target, transition), one column per node.
  const std::size_t nodes = s.nodes.size();
  fmt::format_to(w, "\ndetection  truth transition -> delay until each node reported it\n");
  const std::size_t rows = nodes == 0 ? 0 : r.detections.size() / nodes;
  std::size_t listed = 0;
  std::vector<DelayStats> changes(nodes), first(nodes);
  for (std::size_t row = 0; row < rows; ++row) {
    const Detection& d0 = r.detections[row * nodes];
    const bool initial = d0.transition.from == HealthStatus::unknown;
    for (std::size_t n = 0; n < nodes; ++n) {
      const Detection& d = r.detections[row * nodes + n];
      DelayStats& st = initial ? first[n] : changes[n];
      ++st.transitions;
      if (d.delay) st.delays.push_back(*d.delay);
    }
    if (initial) continue;  // first verdicts are summarised, not listed
    if (listed++ >= o.max_transition_rows) continue;
    fmt::format_to(w, "  {:<14} {:>9}->{:<9} at {:>11}:", s.targets[d0.target].spec().id, to_string(d0.transition.from),
                   to_string(d0.transition.to), seconds_text(d0.transition.at - Instant::from_ns(0)));
    for (std::size_t n = 0; n < nodes; ++n) {
      fmt::format_to(w, "  {} {}", s.nodes[n].name, delay_text(r.detections[row * nodes + n]));
    }
    fmt::format_to(w, "\n");
  }
  if (listed == 0) fmt::format_to(w, "  (no truth transitions after the start)\n");
  if (listed > o.max_transition_rows) {
    fmt::format_to(w, "  ... {} more transitions not listed\n", listed - o.max_transition_rows);
  }
  for (std::size_t n = 0; n < nodes; ++n) {
    fmt::format_to(w, "  {}: changes: {}; first verdicts: {}\n", s.nodes[n].name, changes[n].describe(),
                   first[n].describe());
  }

  format_verdicts(out, s.expectations, r, o.scenario_path);
  return out;
}

}  // namespace heck::sim
