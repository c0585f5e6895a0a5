// Ownership hashing cost (Google Benchmark): an agent ranks every target
// over every live member, one rendezvous hash per (target, member).
//
//   BM_SeededHash   rendezvous_hash_seeded(seed, id) per member
//   BM_TargetHasher TargetHasher(id)(seed) per member (rendezvous.h: the
//                   id's seed-independent terms mixed once per target)
//
// Both hash 10,000 ids of the main row's form ("t-NNNNNN") under 100 member
// seeds; items/s = hashes/s, and ns per hash = 1e9 / items/s.
//
// Run: build/tools/bench/ownership_bench
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/ownership/rendezvous.h"

namespace {

struct Inputs {
  std::vector<std::string> ids;
  std::vector<std::uint64_t> seeds;
  Inputs() {
    for (int i = 0; i < 10'000; ++i) ids.push_back("t-" + std::to_string(100'000 + i));
    for (int m = 0; m < 100; ++m) seeds.push_back(heck::rendezvous_member_seed("agent-" + std::to_string(m)));
  }
};

const Inputs& inputs() {
  static const Inputs in;
  return in;
}

void BM_SeededHash(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (const std::string& id : in.ids) {
      for (std::uint64_t s : in.seeds) acc += heck::rendezvous_hash_seeded(s, id);
    }
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(in.ids.size() * in.seeds.size()));
}
BENCHMARK(BM_SeededHash)->Unit(benchmark::kMillisecond);

void BM_TargetHasher(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (const std::string& id : in.ids) {
      const heck::TargetHasher hash(id);
      for (std::uint64_t s : in.seeds) acc += hash(s);
    }
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(in.ids.size() * in.seeds.size()));
}
BENCHMARK(BM_TargetHasher)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
