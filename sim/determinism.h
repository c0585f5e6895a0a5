// The determinism check: one scenario and seed run twice must give the same
// run. Each run is traced into a hash (sim/trace.h: every event, then the
// metrics line) and the verdicts are hashed after it; the two fingerprints
// must be equal.
#pragma once

#include <cstdint>
#include <string>

#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"

namespace heck::sim {

struct RunFingerprint {
  std::uint64_t hash = 0;        // XXH3-64 over the trace bytes, then the verdicts
  std::size_t trace_lines = 0;

  bool operator==(const RunFingerprint&) const = default;
  // "48213 trace lines, hash 0x1f2e3d4c5b6a7988"
  std::string describe() const;
};

// One run of `scenario` with `seed`, traced into a hash; with `recorder`
// (not owned) watching it when given (the hash must not change).
ClusterRunReport run_fingerprinted(const ClusterScenario& scenario, std::uint64_t seed, RunFingerprint& fingerprint,
                                   RunRecorder* recorder = nullptr);

struct TwiceRun {
  ClusterRunReport report;  // the first run's
  RunFingerprint first, second;

  bool deterministic() const { return first == second; }
  // "identical in two runs: …" or "nondeterministic: run 1 …, run 2 …"
  std::string describe() const;
};

// Runs `scenario` with `seed` twice and fingerprints both runs.
TwiceRun run_twice(const ClusterScenario& scenario, std::uint64_t seed);

}  // namespace heck::sim
