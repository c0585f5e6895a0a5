#include "sim/sweep.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "sim/cluster_analysis.h"
#include "sim/cluster_invariants.h"
#include "sim/cluster_run.h"
#include "sim/determinism.h"

namespace heck::sim {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxVerdictChars = 120;  // a verdict's text on a failure line

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::optional<std::uint64_t> parse_seed(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// "detection", or "invariant:coverage" for the implicit invariant expectations.
std::string kind_of(const ClusterExpectation& e) {
  if (e.kind == ClusterExpectationKind::invariant) return fmt::format("invariant:{}", to_string(e.invariant));
  return std::string(to_string(e.kind));
}

// The verdict's first line, cut to kMaxVerdictChars.
std::string short_text(std::string_view evidence) {
  std::string_view s = evidence.substr(0, evidence.find('\n'));
  if (s.size() <= kMaxVerdictChars) return std::string(s);
  return std::string(s.substr(0, kMaxVerdictChars)) + "...";
}

// What failed, as the single run's report words it ("detection: first <= 1 ms:
// 1 crashes; …"); the invariants by their kind (their descriptions are long).
FailedExpectation failure_of(const ClusterExpectation& e, const Verdict& v) {
  const std::string kind = kind_of(e);
  const std::string what = e.kind == ClusterExpectationKind::invariant ? kind : e.describe();
  return {kind, what + ": " + short_text(v.evidence)};
}

// The run's failures and figures, as ClusterRunReport has them.
SeedOutcome outcome_of(const ClusterScenario& scenario, std::uint64_t seed, const ClusterRunReport& report) {
  SeedOutcome o;
  o.seed = seed;
  o.failures = failures_of(scenario, report);
  const ClusterMetrics& m = report.metrics;
  o.crashes = m.crashes.size();
  for (const CrashDetection& c : m.crashes) {
    if (c.first) o.first_detection.push_back(*c.first);
    if (c.everywhere) o.dead_everywhere.push_back(*c.everywhere);
  }
  o.converged_after = m.converged_after;
  o.state_converged_after = report.state_converged_after;
  if (report.invariants) {
    o.takeover = report.invariants->takeover_gaps;
    o.takeovers_pending = report.invariants->takeovers_pending;
  }
  o.messages_per_member_s = m.messages_per_member_s;
  o.bytes_per_member_s = m.bytes_per_member_s;
  o.coverage = report.coverage;
  return o;
}

SeedOutcome judge_seed(const ClusterScenario& scenario, std::uint64_t seed, bool check_determinism) {
  if (!check_determinism) return outcome_of(scenario, seed, run_cluster_scenario(scenario, RunOptions{seed, nullptr}));
  const TwiceRun twice = run_twice(scenario, seed);
  SeedOutcome o = outcome_of(scenario, seed, twice.report);
  if (!twice.deterministic()) o.failures.push_back({"nondeterministic", twice.describe()});
  return o;
}

// With swarm and ranges, the scenario is the file parsed with the knobs
// drawn from the seed (as `heck sim FILE --seed N --swarm` parses it). A run
// that throws is a failed run, not the end of the sweep.
// `scenario`: this thread's copy of s.scenario (see sweep_scenario).
SeedOutcome run_seed(const SweepScenario& s, const ClusterScenario& scenario, std::uint64_t seed,
                     const SweepOptions& options) {
  try {
    // (The knobs are s.scenario's: a copy is concrete, its ranges written out.)
    if (!options.swarm || s.scenario.knobs.empty()) return judge_seed(scenario, seed, options.check_determinism);
    const auto drawn = parse_cluster_scenario(s.source, KnobSettings{KnobMode::swarm, seed});
    if (!drawn) {
      return SeedOutcome{.seed = seed, .failures = {{"error", "error: the scenario refuses this draw: " + drawn.error()}}};
    }
    SeedOutcome o = judge_seed(*drawn, seed, options.check_determinism);
    o.knobs = knobs_text(drawn->knobs);
    return o;
  } catch (const std::exception& e) {
    return SeedOutcome{.seed = seed, .failures = {{"error", fmt::format("error: exception: {}", e.what())}}};
  } catch (...) {
    return SeedOutcome{.seed = seed, .failures = {{"error", "error: unknown exception"}}};
  }
}

// The seeds of one scenario on `jobs` threads. Each thread takes the next
// seed while the deadline has not passed, so the seeds run form a prefix.
ScenarioSweep sweep_scenario(const SweepScenario& s, const SweepOptions& options,
                             std::optional<Clock::time_point> deadline) {
  const auto t0 = Clock::now();
  const std::uint64_t count = options.seeds.count();
  std::vector<std::optional<SeedOutcome>> slots(count);
  std::atomic<std::uint64_t> next{0};
  auto work = [&](const ClusterScenario& scenario) {
    while (!deadline || Clock::now() < *deadline) {
      const std::uint64_t i = next.fetch_add(1);
      if (i >= count) return;
      slots[i] = run_seed(s, scenario, options.seeds.first + i, options);
    }
  };
  const std::size_t jobs = static_cast<std::size_t>(std::clamp<std::uint64_t>(options.jobs, 1, std::min<std::uint64_t>(count, SweepOptions::kMaxJobs)));
  // Each helper thread runs its own copy of the scenario, made here (on this
  // thread) by writing it out and parsing it again, so that it shares no
  // Name with another's: a target spec's id is a Name (core/name_table.h),
  // whose count is not atomic, and a run copies and drops the specs it is
  // given (two threads doing so on one scenario's Names crashed a sweep).
  std::vector<ClusterScenario> copies;
  copies.reserve(jobs - 1);
  for (std::size_t j = 1; j < jobs; ++j) {
    auto copy = parse_cluster_scenario(serialize_cluster_scenario(s.scenario));
    if (!copy) throw std::logic_error("sweep: a scenario does not parse back as itself: " + copy.error());
    copies.push_back(std::move(*copy));
  }
  {
    std::vector<std::jthread> helpers;
    for (std::size_t j = 1; j < jobs; ++j) helpers.emplace_back(work, std::cref(copies[j - 1]));
    work(s.scenario);
  }
  ScenarioSweep sweep{s.path, s.scenario.name, options.seeds, {}, jobs, options.check_determinism, options.swarm, 0};
  for (auto& slot : slots) {
    if (!slot) break;
    sweep.runs.push_back(std::move(*slot));
  }
  sweep.wall_seconds = seconds_since(t0);
  return sweep;
}

// p50, p99 and max of rates, by the rule of percentiles().
struct Spread {
  std::size_t count = 0;
  double p50 = 0, p99 = 0, max = 0;
};

// The summary table: one row per figure, across the scenario's runs.
class FigureTable {
 public:
  explicit FigureTable(std::string& out) : w_(std::back_inserter(out)) {
    row("across seeds", "p50", "p99", "max", "n");
  }
  void durations(std::string_view figure, std::vector<Duration> values, std::string_view n) {
    const Percentiles p = percentiles(std::move(values));
    if (p.count == 0) return row(figure, "-", "-", "-", n);
    row(figure, seconds_text(p.p50), seconds_text(p.p99), seconds_text(p.max), n);
  }
  void rates(std::string_view figure, std::vector<double> values, int decimals) {
    const auto s = nearest_rank_percentiles<Spread>(std::move(values));
    auto text = [&](double v) { return fmt::format("{:.{}f}", v, decimals); };
    row(figure, text(s.p50), text(s.p99), text(s.max), fmt::format("{} runs", s.count));
  }

 private:
  void row(std::string_view figure, std::string_view p50, std::string_view p99, std::string_view max,
           std::string_view n) {
    fmt::format_to(w_, "  {:<28} {:>10} {:>10} {:>10}   {}\n", figure, p50, p99, max, n);
  }
  std::back_insert_iterator<std::string> w_;
};

// Every run's values of one figure, in seed order.
std::vector<Duration> pooled(const std::vector<SeedOutcome>& runs, std::vector<Duration> SeedOutcome::*figure) {
  std::vector<Duration> out;
  for (const SeedOutcome& o : runs) out.insert(out.end(), (o.*figure).begin(), (o.*figure).end());
  return out;
}
std::vector<Duration> pooled(const std::vector<SeedOutcome>& runs, std::optional<Duration> SeedOutcome::*figure) {
  std::vector<Duration> out;
  for (const SeedOutcome& o : runs) {
    if (o.*figure) out.push_back(*(o.*figure));
  }
  return out;
}
std::vector<double> pooled(const std::vector<SeedOutcome>& runs, double SeedOutcome::*figure) {
  std::vector<double> out;
  for (const SeedOutcome& o : runs) out.push_back(o.*figure);
  return out;
}
std::uint64_t total(const std::vector<SeedOutcome>& runs, std::uint64_t SeedOutcome::*count) {
  std::uint64_t n = 0;
  for (const SeedOutcome& o : runs) n += o.*count;
  return n;
}

// "400 crashes" or "398 crashes, 2 undetected"
std::string n_text(std::size_t n, std::string_view what, std::uint64_t missing = 0, std::string_view missing_what = "") {
  if (missing == 0) return fmt::format("{} {}", n, what);
  return fmt::format("{} {}, {} {}", n, what, missing, missing_what);
}

void format_figures(std::string& out, const std::vector<SeedOutcome>& runs) {
  FigureTable t(out);
  const std::uint64_t crashes = total(runs, &SeedOutcome::crashes);
  const auto first = pooled(runs, &SeedOutcome::first_detection);
  t.durations("first detection", first, n_text(first.size(), "crashes", crashes - first.size(), "undetected"));
  const auto dead = pooled(runs, &SeedOutcome::dead_everywhere);
  t.durations("dead everywhere", dead, n_text(dead.size(), "crashes", crashes - dead.size(), "incomplete"));
  const auto converged = pooled(runs, &SeedOutcome::converged_after);
  t.durations("converged (after liveness)", converged,
              n_text(converged.size(), "runs", runs.size() - converged.size(), "not converged"));
  const auto state = pooled(runs, &SeedOutcome::state_converged_after);
  if (!state.empty()) t.durations("state equal (after liveness)", state, n_text(state.size(), "runs"));
  const auto takeover = pooled(runs, &SeedOutcome::takeover);
  const std::uint64_t pending = total(runs, &SeedOutcome::takeovers_pending);
  if (!takeover.empty() || pending > 0) {
    t.durations("takeover", takeover, n_text(takeover.size(), "targets", pending, "never taken over"));
  }
  t.rates("messages per member per s", pooled(runs, &SeedOutcome::messages_per_member_s), 2);
  t.rates("bytes per member per s", pooled(runs, &SeedOutcome::bytes_per_member_s), 0);
  // Coverage marks: in how many runs each was hit, and those no run hit.
  std::vector<std::string> hit, never;
  const auto marks = coverage_marks();
  for (std::size_t i = 0; i < marks.size(); ++i) {
    const auto in_runs = std::count_if(runs.begin(), runs.end(), [&](const SeedOutcome& o) { return o.coverage[i] > 0; });
    if (in_runs > 0) {
      hit.push_back(fmt::format("{} {}", marks[i].name, in_runs));
    } else {
      never.push_back(std::string(marks[i].name));
    }
  }
  auto w = std::back_inserter(out);
  fmt::format_to(w, "  marks hit (in how many runs): {}\n", hit.empty() ? "none" : fmt::format("{}", fmt::join(hit, ", ")));
  if (!never.empty()) fmt::format_to(w, "  marks no run hit: {}\n", fmt::join(never, ", "));
}

std::string range_text(SeedRange r) { return fmt::format("{}..{}", r.first, r.last); }

void format_failure_line(std::string& out, const ScenarioSweep& s, const SeedOutcome& o) {
  std::vector<std::string> parts;
  for (const FailedExpectation& f : o.failures) parts.push_back(f.text);
  fmt::format_to(std::back_inserter(out), "FAIL  {} seed {}: {}  {}replay: {}\n", s.name, o.seed,
                 fmt::join(parts, " | "), o.knobs.empty() ? "" : "knobs: " + o.knobs + "  ",
                 replay_command(s.path, o.seed, s.swarm));
}

// "detection 3, invariant:coverage 1", by kind name; a run counts once per kind.
std::string failures_by_kind(const std::vector<SeedOutcome>& runs) {
  std::map<std::string, std::size_t> kinds;
  for (const SeedOutcome& o : runs) {
    std::vector<std::string> seen;
    for (const FailedExpectation& f : o.failures) {
      if (std::find(seen.begin(), seen.end(), f.kind) != seen.end()) continue;
      seen.push_back(f.kind);
      ++kinds[f.kind];
    }
  }
  std::vector<std::string> parts;
  for (const auto& [kind, n] : kinds) parts.push_back(fmt::format("{} {}", kind, n));
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

std::vector<FailedExpectation> failures_of(const ClusterScenario& scenario, const ClusterRunReport& report) {
  std::vector<FailedExpectation> out;
  if (!report.error.empty()) out.push_back({"error", "error: the run stopped early: " + report.error});
  for (const Verdict& v : report.verdicts) {
    if (!v.pass) out.push_back(failure_of(scenario.expectations[v.expectation], v));
  }
  return out;
}

Result<SeedRange> parse_seed_range(std::string_view text) {
  const auto dots = text.find("..");
  if (dots == std::string_view::npos) return Error{fmt::format("--seeds: '{}': expected A..B, e.g. 1..200", text)};
  const auto first = parse_seed(text.substr(0, dots));
  const auto last = parse_seed(text.substr(dots + 2));
  if (!first || !last) {
    return Error{fmt::format("--seeds: '{}': A and B in A..B must be unsigned integers", text)};
  }
  if (*first > *last) return Error{fmt::format("--seeds: '{}': the range is empty ({} > {})", text, *first, *last)};
  const SeedRange r{*first, *last};
  if (r.last - r.first >= SeedRange::kMaxSeeds) {
    return Error{fmt::format("--seeds: '{}': at most {} seeds per sweep", text, SeedRange::kMaxSeeds)};
  }
  return r;
}

std::size_t ScenarioSweep::failed() const {
  return static_cast<std::size_t>(std::count_if(runs.begin(), runs.end(), [](const SeedOutcome& o) { return !o.passed(); }));
}

std::size_t SweepResult::runs() const {
  std::size_t n = 0;
  for (const ScenarioSweep& s : scenarios) n += s.runs.size();
  return n;
}

std::size_t SweepResult::planned() const {
  std::size_t n = 0;
  for (const ScenarioSweep& s : scenarios) n += s.seeds.count();
  return n;
}

std::size_t SweepResult::failed() const {
  std::size_t n = 0;
  for (const ScenarioSweep& s : scenarios) n += s.failed();
  return n;
}

SweepResult run_sweep(const std::vector<SweepScenario>& scenarios, const SweepOptions& options,
                      const std::function<void(const ScenarioSweep&)>& on_scenario) {
  const auto t0 = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (options.time_limit_s) {
    const double limit = std::clamp(*options.time_limit_s, 0.0, SweepOptions::kMaxTimeLimitS);
    deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit));
  }
  SweepResult result;
  result.time_limit_s = options.time_limit_s;
  for (const SweepScenario& s : scenarios) {
    result.scenarios.push_back(sweep_scenario(s, options, deadline));
    if (on_scenario) on_scenario(result.scenarios.back());
  }
  result.wall_seconds = seconds_since(t0);
  return result;
}

std::string format_sweep_header(std::size_t scenarios, const SweepOptions& options) {
  return fmt::format("sweep      {} scenario{} x seeds {} ({} runs), {} job{}{}{}\n", scenarios,
                     scenarios == 1 ? "" : "s", range_text(options.seeds), scenarios * options.seeds.count(),
                     options.jobs, options.jobs == 1 ? "" : "s",
                     options.swarm ? ", swarm faults (each seed draws its knobs)" : "",
                     options.check_determinism ? ", each seed twice (determinism check)" : "");
}

std::string format_scenario_sweep(const ScenarioSweep& s) {
  std::string out = "\n";
  for (const SeedOutcome& o : s.runs) {
    if (!o.passed()) format_failure_line(out, s, o);
  }
  auto w = std::back_inserter(out);
  fmt::format_to(w, "scenario   {} ({})\n", s.name, s.path);
  const std::size_t runs = s.runs.size();
  if (runs == 0) {
    fmt::format_to(w, "  runs       none of seeds {}: the time limit had passed\n", range_text(s.seeds));
    return out;
  }
  const double per_s = s.wall_seconds > 0 ? static_cast<double>(runs) / s.wall_seconds : 0.0;
  fmt::format_to(w, "  runs       {} of seeds {}: {} passed, {} failed{}\n", runs, range_text(s.seeds), runs - s.failed(),
                 s.failed(), s.cut_short() ? " (cut short by the time limit)" : "");
  fmt::format_to(w, "  failures   {}\n", failures_by_kind(s.runs));
  fmt::format_to(w, "  speed      {:.2f} seeds/s ({:.2f} s wall, {} job{}{})\n", per_s, s.wall_seconds, s.jobs,
                 s.jobs == 1 ? "" : "s", s.check_determinism ? ", each seed twice" : "");
  format_figures(out, s.runs);
  return out;
}

std::string format_sweep_totals(const SweepResult& r) {
  std::string out;
  auto w = std::back_inserter(out);
  fmt::format_to(w, "\n");
  if (r.cut_short()) {
    fmt::format_to(w, "cut short  the time limit ({} s) stopped the sweep after {} of {} runs (not a failure by itself)\n",
                   *r.time_limit_s, r.runs(), r.planned());
  }
  if (r.passed()) {
    fmt::format_to(w, "result     PASS: {} runs, none failed ({:.2f} s wall)\n", r.runs(), r.wall_seconds);
  } else {
    fmt::format_to(w, "result     FAIL: {} of {} runs failed ({:.2f} s wall)\n", r.failed(), r.runs(), r.wall_seconds);
  }
  return out;
}

}  // namespace heck::sim
