// Runs one scenario file with its own seed and exits 0 when
// every expectation holds, 1 when one fails, 2 when the file is bad; prints
// the same summary as `heck sim` (one CTest test per file in scenarios/).
#include <cstdio>

#include <fmt/format.h>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sim_scenario_check SCENARIO.json\n");
    return 2;
  }
  auto scenario = heck::sim::load_cluster_scenario(argv[1]);
  if (!scenario) {
    fmt::print(stderr, "bad scenario: {}\n", scenario.error());
    return 2;
  }
  const auto report = heck::sim::run_cluster_scenario(*scenario, {scenario->seed, nullptr});
  std::fputs(heck::sim::format_cluster_report(*scenario, report, {argv[1]}).c_str(), stdout);
  const std::size_t verdicts = report.verdicts.size();
  const bool passed = report.passed();
  if (verdicts == 0) {
    std::fprintf(stderr, "a scenario in scenarios/ must state at least one expectation\n");
    return 1;
  }
  return passed ? 0 : 1;
}
