// The composed node: the one state machine both drivers run. Every input
// carries `now` (the node's own clock); outputs are effects appended to `out`
// in a deterministic order. In this version a node is a check scheduler over
// its configured targets; membership, ownership and replicated state join it
// in later versions behind the same step() contract.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/check.h"
#include "core/effects.h"
#include "core/scheduler.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "core/timer.h"

namespace heck {

// --- inputs ---------------------------------------------------------------
struct TimerFired {
  TimerKey key;
};
struct CheckDone {
  CheckId check;
  CheckOutcome outcome;
};
struct AddTarget {
  TargetSpec spec;
};
struct RemoveTarget {
  std::string id;
};
using Input = std::variant<TimerFired, CheckDone, AddTarget, RemoveTarget>;

struct NodeConfig {
  std::string name = "heck";
  SchedulerConfig scheduler;
  std::vector<TargetSpec> targets;  // checked from start()
};

class Node {
 public:
  Node(NodeConfig config, std::uint64_t seed);

  // Adds the configured targets. Call once, before any step().
  void start(Instant now, Effects& out);
  void step(Instant now, Input in, Effects& out);

  const std::string& name() const { return config_.name; }
  const CheckScheduler& scheduler() const { return scheduler_; }

 private:
  NodeConfig config_;
  CheckScheduler scheduler_;
};

}  // namespace heck
