#include "sim/determinism.h"

#include <string>

#include <gtest/gtest.h>

#include "sim/trace.h"

namespace heck::sim {
namespace {

ClusterScenario small() {
  auto s = load_cluster_scenario(HECK_SIM_TEST_DATA "/sweep_small.json");
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return std::move(*s);
}

// Keeps every block it is given.
struct CollectingSink final : TraceSink {
  std::string text;
  void write(std::string_view block) override { text += block; }
};

TEST(TraceSink, GetsTheWholeTraceThatMemoryModeKeeps) {
  const ClusterScenario s = small();
  TraceWriter memory;
  run_cluster_scenario(s, {3, &memory});
  CollectingSink sink;
  {
    TraceWriter to_sink(sink);
    run_cluster_scenario(s, {3, &to_sink});
  }  // the destructor hands on the rest
  EXPECT_GT(memory.memory().size(), 10'000u);
  EXPECT_EQ(sink.text, memory.memory());
}

TEST(Determinism, TwoRunsOfOneSeedAreIdentical) {
  const ClusterScenario s = small();
  const TwiceRun t = run_twice(s, 3);
  EXPECT_TRUE(t.deterministic()) << t.describe();
  EXPECT_GT(t.first.trace_lines, 500u);  // sends, member and status changes, faults, metrics
  EXPECT_NE(t.describe().find("identical in two runs"), std::string::npos);
}

TEST(Determinism, TheFingerprintTellsSeedsApart) {
  const ClusterScenario s = small();
  RunFingerprint a, b;
  run_fingerprinted(s, 3, a);
  run_fingerprinted(s, 4, b);
  EXPECT_NE(a.hash, b.hash);
  const TwiceRun mismatch{{}, a, b};
  EXPECT_NE(mismatch.describe().find("nondeterministic: run 1"), std::string::npos);
}

}  // namespace
}  // namespace heck::sim
