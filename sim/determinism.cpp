#include "sim/determinism.h"

#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <xxhash.h>

#include "sim/trace.h"

namespace heck::sim {

namespace {

// A TraceSink that keeps only a running hash of what it is given.
class HashSink final : public TraceSink {
 public:
  HashSink() : state_(XXH3_createState(), &XXH3_freeState) { XXH3_64bits_reset(state_.get()); }
  void write(std::string_view block) override { XXH3_64bits_update(state_.get(), block.data(), block.size()); }
  std::uint64_t digest() const { return XXH3_64bits_digest(state_.get()); }

 private:
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
};

// The verdicts, after the trace: what a run concluded, not only what happened.
void hash_verdicts(HashSink& sink, const ClusterRunReport& report) {
  for (const Verdict& v : report.verdicts) {
    sink.write(fmt::format("{} {} {}\n", v.expectation, v.pass, v.evidence));
  }
  sink.write(report.error);
}

}  // namespace

std::string RunFingerprint::describe() const {
  return fmt::format("{} trace lines, hash {:#018x}", trace_lines, hash);
}

ClusterRunReport run_fingerprinted(const ClusterScenario& scenario, std::uint64_t seed, RunFingerprint& fingerprint,
                                   RunRecorder* recorder) {
  HashSink sink;
  ClusterRunReport report;
  {
    TraceWriter trace(sink);
    report = run_cluster_scenario(scenario, RunOptions{seed, &trace, recorder});
    trace.flush();
    fingerprint.trace_lines = trace.lines();
  }
  hash_verdicts(sink, report);
  fingerprint.hash = sink.digest();
  return report;
}

std::string TwiceRun::describe() const {
  if (deterministic()) return fmt::format("identical in two runs: {}", first.describe());
  return fmt::format("nondeterministic: run 1 {}; run 2 {}", first.describe(), second.describe());
}

TwiceRun run_twice(const ClusterScenario& scenario, std::uint64_t seed) {
  TwiceRun t;
  t.report = run_fingerprinted(scenario, seed, t.first);
  run_fingerprinted(scenario, seed, t.second);
  return t;
}

}  // namespace heck::sim
