// Simulator speed (Google Benchmark).
//
//   BM_EventQueue      the bare event loop: pop one event, push one, with
//                      ~10^4 pending; items/s = events/s (target >= 10 M/s).
//   BM_World10kTargets a one-member cluster (sim/cluster_world.h, no seeds)
//                      checking 10,000 targets every second (all up);
//                      sim_s_per_wall_s = simulated seconds per wall second
//                      (target >= 500), checks/s alongside.
//
// Run: build-sim/tools/bench/sim_bench [--benchmark_filter=...]
#include <cstdint>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"
#include "sim/event_queue.h"

namespace {

using heck::Duration;
using heck::Instant;
using namespace heck::sim;

// xorshift64: cheap deterministic delays, so the loop measures the queue.
std::uint64_t next_delay(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s % 1'000'000;  // up to 1 ms
}

void BM_EventQueue(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  EventQueue q;
  q.reserve(pending + 1);
  std::uint64_t s = 88172645463325252ULL;
  for (std::size_t i = 0; i < pending; ++i) {
    (void)q.push(Event::bench(Instant::from_ns(static_cast<std::int64_t>(next_delay(s))), i));
  }
  std::uint64_t checksum = 0;
  for (auto _ : state) {
    Event e = q.pop();
    checksum += e.tag();
    e.at += Duration::nanoseconds(static_cast<std::int64_t>(next_delay(s)));
    (void)q.push(e);
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueue)->Arg(10'000)->Arg(1'000'000);

ClusterScenario many_targets(int targets) {
  nlohmann::json j = {
      {"kind", "cluster"},
      {"name", "bench-10k"},
      {"members", {{"count", 1}}},
      {"seeds", nlohmann::json::array()},
      {"safety_ms", 86'400'000},
      {"liveness_ms", 0},
      {"targets",
       {{{"spec", {{"id", "t"}, {"url", "http://bench.example/"}, {"interval_ms", 1000}, {"timeout_ms", 500}}},
         {"behaviour", {{{"at_ms", 0}, {"mode", "up"}, {"latency", {{"kind", "uniform"}, {"min_ms", 1}, {"max_ms", 20}}}}}},
         {"count", targets}}}}};
  auto s = parse_cluster_scenario(j);
  if (!s) throw std::runtime_error(s.error());
  return std::move(*s);
}

void BM_World10kTargets(benchmark::State& state) {
  const ClusterScenario scenario = many_targets(static_cast<int>(state.range(0)));
  ClusterWorldOptions options;
  options.seed = 1;
  ClusterWorld world(scenario, options);
  const Duration step = Duration::seconds(10);
  Instant until = Instant::from_ns(0) + Duration::seconds(2);  // warm up: every target started
  world.run_until(until);
  const auto checks_before = world.counters().checks_started;
  std::int64_t simulated_ns = 0;
  for (auto _ : state) {
    until += step;
    if (!world.run_until(until)) state.SkipWithError(world.error().c_str());
    simulated_ns += step.ns();
  }
  state.counters["sim_s_per_wall_s"] =
      benchmark::Counter(static_cast<double>(simulated_ns) / 1e9, benchmark::Counter::kIsRate);
  state.counters["checks"] = benchmark::Counter(
      static_cast<double>(world.counters().checks_started - checks_before), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(static_cast<std::int64_t>(world.counters().events));
}
BENCHMARK(BM_World10kTargets)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
