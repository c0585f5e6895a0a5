// `heck sim SCENARIO [--seed N] [--trace FILE]`: runs a cluster scenario
// (sim/cluster_scenario.h; a one-member cluster is the single agent) in the
// simulator, prints the summary (sim/cluster_run.h) and exits
//   0 when every expectation holds,
//   1 when one fails or the run stopped early (the seed and replay command
//     are printed),
//   2 when the scenario file (or the trace file) is unusable.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/trace.h"
#include "tools/heck/commands.h"

namespace heck::cli {

namespace {

struct SimArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string trace;
  std::size_t rows = 30;
};

int run_sim(const SimArgs& args) {
  auto scenario = sim::load_cluster_scenario(args.scenario);
  if (!scenario) {
    fmt::print(stderr, "heck sim: bad scenario: {}\n", scenario.error());
    return 2;
  }
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
  const sim::ReportOptions report_options{args.scenario, args.rows};
  const auto report = sim::run_cluster_scenario(*scenario, sim::RunOptions{args.seed.value_or(scenario->seed), writer});
  const std::string summary = sim::format_cluster_report(*scenario, report, report_options);
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
  if (!trace_ok) fmt::print(stderr, "heck sim: writing the trace to {} failed\n", args.trace);
  std::fflush(stdout);
  return passed && trace_ok ? 0 : 1;
}

}  // namespace

void register_sim_command(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  CLI::App* sub = app.add_subcommand("sim", "run a cluster scenario in the deterministic simulator");
  sub->add_option("scenario", args->scenario, "scenario file (JSON), e.g. scenarios/basic_mix.json")->required();
  sub->add_option("--seed", args->seed, "seed (default: the scenario's); the same seed replays the run exactly");
  sub->add_option("--trace", args->trace, "write a JSON-lines trace of every event to FILE");
  sub->add_option("--rows", args->rows, "crashes, truth transitions and violations listed in the summary (default 30 each)");
  sub->callback([args] {
    const int code = run_sim(*args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace heck::cli
