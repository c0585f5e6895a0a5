// `heck sim SCENARIO [--seed N] [--trace FILE] [--report FILE.html] [--check-determinism]`: runs
// a cluster scenario (sim/cluster_scenario.h; a one-member cluster is the
// single agent) in the simulator, prints the summary (sim/cluster_run.h) and
// exits
//   0 when every expectation holds,
//   1 when one fails or the run stopped early (the seed and replay command
//     are printed), or with --check-determinism when two runs differ,
//   2 when the scenario file (or the trace file) is unusable or the
//     arguments do not go together.
// `heck sim SCENARIO... --seeds A..B [--jobs N] [--time-limit-s S]
// [--check-determinism]`: a seed sweep (sim/sweep.h): one line per failing
// run with its replay command, a summary table per scenario; exits 0 when
// every run passed (also when the time limit cut the sweep short), 1 when
// one failed, 2 as above.
// `--swarm` (with --seed or --seeds): a scenario's ranges (sim/scenario_knobs.h)
// are drawn from each run's seed; without it they take their defaults.
// `heck sim SCENARIO [--seed N] [--swarm] --shrink [--out FILE]
// [--max-shrink-runs R] [--shrink-time-limit-s S]`: shrinks the failing run
// (sim/shrink.h), writes the smallest scenario found that still fails the
// same kind of expectation to FILE (default <scenario>-seed<N>-shrunk.json in
// the current directory) and prints what went and its replay command; exits
// 1 when it wrote one (the run fails), 0 when the run passes (nothing to
// shrink), 2 as above.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/determinism.h"
#include "sim/report_html.h"
#include "sim/report_recorder.h"
#include "sim/shrink.h"
#include "sim/sweep.h"
#include "sim/trace.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

struct SimArgs {
  std::vector<std::string> scenarios;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> seeds;  // A..B: a sweep
  std::optional<std::size_t> jobs;
  std::optional<double> time_limit_s;
  bool check_determinism = false;
  bool swarm = false;
  bool shrink = false;
  std::string out;
  std::optional<std::size_t> max_shrink_runs;
  std::optional<double> shrink_time_limit_s;
  std::string trace;
  std::string report;  // --report FILE.html
  std::size_t rows = 30;
};

// What does not go together, in words; nullopt when the arguments are usable.
std::optional<std::string> usage_error(const SimArgs& a) {
  const bool sweep = a.seeds.has_value();
  if (sweep && a.seed) return "--seed N runs one seed and --seeds A..B sweeps a range: give one of them";
  if (sweep && !a.trace.empty()) return "--trace writes one run's trace: use it with --seed, not with --seeds";
  if (!sweep && a.scenarios.size() > 1) return "several scenario files need --seeds A..B";
  if (!sweep && (a.jobs || a.time_limit_s)) return "--jobs and --time-limit-s go with --seeds A..B";
  if (a.check_determinism && !a.trace.empty()) return "--check-determinism traces into a hash: leave out --trace";
  if (sweep && !a.report.empty()) return "--report draws one run: use it with --seed, not with --seeds";
  if (a.check_determinism && !a.report.empty()) return "--report draws one run: leave out --check-determinism";
  if (a.shrink && !a.report.empty()) return "--report draws one run: leave out --shrink (then report the shrunk file)";
  if (a.shrink && (sweep || !a.trace.empty() || a.check_determinism)) {
    return "--shrink shrinks one failing run: give it --seed N (or the scenario's seed), without --seeds, --trace "
           "or --check-determinism";
  }
  if (!a.shrink && (!a.out.empty() || a.max_shrink_runs || a.shrink_time_limit_s)) {
    return "--out, --max-shrink-runs and --shrink-time-limit-s go with --shrink";
  }
  using ShrinkLimits = sim::ShrinkOptions;
  if (a.max_shrink_runs && (*a.max_shrink_runs == 0 || *a.max_shrink_runs > ShrinkLimits::kMaxRuns)) {
    return fmt::format("--max-shrink-runs: must be 1 to {}, got {}", ShrinkLimits::kMaxRuns, *a.max_shrink_runs);
  }
  if (a.shrink_time_limit_s && !(*a.shrink_time_limit_s > 0 && *a.shrink_time_limit_s <= ShrinkLimits::kMaxTimeLimitS)) {
    return fmt::format("--shrink-time-limit-s: must be above 0 and at most {} (a week), got {}",
                       ShrinkLimits::kMaxTimeLimitS, *a.shrink_time_limit_s);
  }
  using Limits = sim::SweepOptions;
  if (a.jobs && (*a.jobs == 0 || *a.jobs > Limits::kMaxJobs)) {
    return fmt::format("--jobs: must be 1 to {}, got {}", Limits::kMaxJobs, *a.jobs);
  }
  if (a.time_limit_s && !(*a.time_limit_s > 0 && *a.time_limit_s <= Limits::kMaxTimeLimitS)) {
    return fmt::format("--time-limit-s: must be above 0 and at most {} (a year), got {}", Limits::kMaxTimeLimitS,
                       *a.time_limit_s);
  }
  return std::nullopt;
}

int usage(const std::string& message) {
  fmt::print(stderr, "heck sim: {}\n", message);
  return 2;
}

// --check-determinism with one seed: the first run's summary, then the
// comparison of the two runs.
int run_twice_and_report(const SimArgs& args, const sim::ClusterScenario& scenario, std::uint64_t seed) {
  const sim::TwiceRun twice = sim::run_twice(scenario, seed);
  std::string out = sim::format_cluster_report(scenario, twice.report, {args.scenarios[0], args.rows});
  if (twice.deterministic()) {
    out += fmt::format("determinism {}\n", twice.describe());
  } else {
    out += fmt::format("determinism FAIL {} (replay: {})\n", twice.describe(),
                       sim::replay_command(args.scenarios[0], scenario, seed));
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  return twice.report.passed() && twice.deterministic() ? 0 : 1;
}

int run_traced_and_report(const SimArgs& args, const sim::ClusterScenario& scenario, std::uint64_t seed) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> trace_file(nullptr, &std::fclose);
  std::optional<sim::TraceWriter> trace;
  if (!args.trace.empty()) {
    trace_file.reset(std::fopen(args.trace.c_str(), "wb"));
    if (!trace_file) {
      fmt::print(stderr, "heck sim: cannot write trace file {}\n", args.trace);
      return 2;
    }
    trace.emplace(trace_file.get());
  }
  sim::TraceWriter* writer = trace ? &*trace : nullptr;
  // --report: opened before the run, so a bad path fails at once.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> report_file(nullptr, &std::fclose);
  std::optional<sim::ReportRecorder> recorder;
  if (!args.report.empty()) {
    report_file.reset(std::fopen(args.report.c_str(), "wb"));
    if (!report_file) {
      fmt::print(stderr, "heck sim: cannot write report file {}: {}\n", args.report, std::strerror(errno));
      return 2;
    }
    recorder.emplace(scenario, args.scenarios[0]);
  }
  const sim::ReportOptions report_options{args.scenarios[0], args.rows};
  const auto report =
      sim::run_cluster_scenario(scenario, sim::RunOptions{seed, writer, recorder ? &*recorder : nullptr});
  bool report_ok = true;
  if (recorder) {
    const auto error =
        sim::write_report_file(report_file.release(), args.report, sim::render_report_html(recorder->data()));
    if (error) fmt::print(stderr, "heck sim: {}\n", *error);
    report_ok = !error;
  }
  const std::string summary = sim::format_cluster_report(scenario, report, report_options);
  const bool passed = report.passed();
  bool trace_ok = true;
  std::size_t trace_lines = 0;
  if (trace) {
    trace_ok = trace->flush();
    trace_lines = trace->lines();
    trace.reset();
  }
  std::fputs(summary.c_str(), stdout);
  if (!args.trace.empty() && trace_ok) fmt::print("trace      {} lines in {}\n", trace_lines, args.trace);
  if (recorder && report_ok) fmt::print("report     {}\n", args.report);
  if (!trace_ok) fmt::print(stderr, "heck sim: writing the trace to {} failed\n", args.trace);
  std::fflush(stdout);
  return passed && trace_ok && report_ok ? 0 : 1;
}

// "scenarios/x.json", seed 7 -> "x-seed7-shrunk.json"
std::string default_shrink_path(const std::string& scenario, std::uint64_t seed) {
  std::string stem = scenario.substr(scenario.find_last_of('/') == std::string::npos ? 0 : scenario.find_last_of('/') + 1);
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  return fmt::format("{}-seed{}-shrunk.json", stem, seed);
}

int shrink_and_report(const SimArgs& args, const sim::ClusterScenario& scenario, std::uint64_t seed) {
  sim::ShrinkOptions options;
  options.seed = seed;
  if (args.max_shrink_runs) options.max_runs = *args.max_shrink_runs;
  if (args.shrink_time_limit_s) options.time_limit_s = *args.shrink_time_limit_s;
  options.origin = args.scenarios[0] + (args.swarm ? " --swarm" : "");
  const std::string out_path = args.out.empty() ? default_shrink_path(args.scenarios[0], seed) : args.out;
  fmt::print("shrinking  {} seed {}{} (at most {} simulations, {} s)\n", args.scenarios[0], seed,
             args.swarm ? " --swarm" : "", options.max_runs, options.time_limit_s);
  std::fflush(stdout);
  const auto result = sim::shrink_failure(scenario, options);
  if (!result) {
    fmt::print("{}\n", result.error());
    return 0;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(out_path.c_str(), "wb"), &std::fclose);
  const std::string text = result->scenario.dump(2) + "\n";
  if (!file || std::fwrite(text.data(), 1, text.size(), file.get()) != text.size() || std::fflush(file.get()) != 0) {
    fmt::print(stderr, "heck sim: cannot write the shrunk scenario to {}\n", out_path);
    return 2;
  }
  std::fputs(sim::format_shrink(*result, out_path, seed).c_str(), stdout);
  std::fflush(stdout);
  return 1;
}

int run_one(const SimArgs& args) {
  auto scenario = sim::load_cluster_scenario(args.scenarios[0]);
  if (!scenario) {
    fmt::print(stderr, "heck sim: bad scenario: {}\n", scenario.error());
    return 2;
  }
  const std::uint64_t seed = args.seed.value_or(scenario->seed);
  if (args.swarm) {
    // The knobs drawn from the seed, as a sweep with --swarm draws them.
    scenario = sim::load_cluster_scenario(args.scenarios[0], {sim::KnobMode::swarm, seed});
    if (!scenario) {
      fmt::print(stderr, "heck sim: the scenario refuses the draw of seed {}: {}\n", seed, scenario.error());
      return 2;
    }
  }
  if (args.shrink) return shrink_and_report(args, *scenario, seed);
  if (args.check_determinism) return run_twice_and_report(args, *scenario, seed);
  return run_traced_and_report(args, *scenario, seed);
}

std::size_t default_jobs() { return std::max(1u, std::thread::hardware_concurrency()); }

int run_seed_sweep(const SimArgs& args) {
  const auto range = sim::parse_seed_range(*args.seeds);
  if (!range) return usage(range.error());
  std::vector<sim::SweepScenario> scenarios;
  for (const std::string& path : args.scenarios) {
    auto json = sim::read_scenario_json(path);
    if (!json) return usage(fmt::format("bad scenario: {}", json.error()));
    auto scenario = sim::parse_cluster_scenario(*json);
    if (!scenario) return usage(fmt::format("bad scenario: {}: {}", path, scenario.error()));
    scenarios.push_back({path, std::move(*scenario), std::move(*json)});
  }
  const sim::SweepOptions options{*range, args.jobs.value_or(default_jobs()), args.time_limit_s,
                                  args.check_determinism, args.swarm};
  std::fputs(sim::format_sweep_header(scenarios.size(), options).c_str(), stdout);
  std::fflush(stdout);
  const sim::SweepResult result = sim::run_sweep(scenarios, options, [](const sim::ScenarioSweep& s) {
    std::fputs(sim::format_scenario_sweep(s).c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs(sim::format_sweep_totals(result).c_str(), stdout);
  std::fflush(stdout);
  return result.passed() ? 0 : 1;
}

int run_sim(const SimArgs& args) {
  if (const auto error = usage_error(args)) return usage(*error);
  return args.seeds ? run_seed_sweep(args) : run_one(args);
}

}  // namespace

void register_sim_command(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  CLI::App* sub = app.add_subcommand("sim", "run a cluster scenario in the deterministic simulator");
  sub->add_option("scenario", args->scenarios,
                  "scenario file (JSON), e.g. scenarios/basic_mix.json; several with --seeds")
      ->required();
  sub->add_option("--seed", args->seed, "seed (default: the scenario's); the same seed replays the run exactly");
  sub->add_option("--seeds", args->seeds, "sweep: run every seed A..B (inclusive) of every scenario, e.g. 1..200");
  sub->add_option("--jobs", args->jobs, "sweep: runs in parallel (default: the number of cores)");
  sub->add_option("--time-limit-s", args->time_limit_s, "sweep: start no run after S seconds (wall)");
  sub->add_flag("--check-determinism", args->check_determinism,
                "run each seed twice; the two runs must give identical traces and verdicts");
  sub->add_flag("--swarm", args->swarm,
                "draw the scenario's fault ranges (sim/scenario_knobs.h) from each run's seed; without it they take "
                "their midpoints and first choices");
  sub->add_flag("--shrink", args->shrink,
                "shrink the failing run: write the smallest scenario that still fails the same kind of expectation");
  sub->add_option("--out", args->out, "--shrink: the file to write (default <scenario>-seed<N>-shrunk.json)");
  sub->add_option("--max-shrink-runs", args->max_shrink_runs, "--shrink: at most this many simulations (default 300)");
  add_renamed_option(sub, "--shrink-max-runs", "--max-shrink-runs");
  sub->add_option("--shrink-time-limit-s", args->shrink_time_limit_s,
                  "--shrink: start no simulation after S seconds (wall; default 600)");
  sub->add_option("--trace", args->trace, "write a JSON-lines trace of every event to FILE");
  sub->add_option("--report", args->report, "write a self-contained HTML report of the run to FILE (open it in a browser)");
  sub->add_option("--rows", args->rows, "crashes, truth transitions and violations listed in the summary (default 30 each)");
  sub->callback([args] {
    const int code = run_sim(*args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace heck::cli
