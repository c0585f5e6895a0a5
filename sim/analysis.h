// What a run showed: how long each node took to report each truth transition
// of each target, and whether the scenario's expectations hold.
//
// Detection. For a truth transition at T (sim/target_model.h) that holds
// until U (the next transition, or the end of the run), a node's detection
// delay is the earliest time in [T, U) at which its status for the target
// equals the new truth, minus T (0 when it already did at T). A node that
// never reports it while it holds has no delay. The first transition of a
// target is at 0, from unknown: the time to a first verdict.
//
// The bound of `detects` within N intervals, for a target and a node, is
//
//   N × interval + 2 × J + timeout      (J: the scheduler's jitter bound)
//
// on the node's clock, converted to true time for its drift: after T the
// k-th check fires by T + k × interval + 2J and reports by + timeout, so
// N = fall (or rise) plus one or two intervals of slack is a fair bound.
// Only transitions that hold at least that long are judged.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/scheduler.h"
#include "core/time.h"
#include "sim/clock.h"
#include "sim/scenario.h"
#include "sim/target_model.h"
#include "sim/world.h"

namespace heck::sim {

// Status records grouped by (node, target), each group in time order.
class StatusIndex {
 public:
  explicit StatusIndex(const World& world);

  // The records of (node, target), in time order.
  std::span<const StatusRecord* const> of(std::uint32_t node, std::uint32_t target) const {
    const std::size_t k = key(node, target);
    return {sorted_.data() + start_[k], sorted_.data() + start_[k + 1]};
  }
  // The node's status for the target at true time `at` (a change at `at` counts).
  HealthStatus status_at(std::uint32_t node, std::uint32_t target, Instant at) const;

 private:
  std::size_t key(std::uint32_t n, std::uint32_t t) const { return static_cast<std::size_t>(n) * targets_ + t; }

  std::size_t targets_;
  std::vector<std::size_t> start_;          // group k is sorted_[start_[k], start_[k + 1])
  std::vector<const StatusRecord*> sorted_;
};

struct Detection {
  std::uint32_t target = 0;
  std::uint32_t node = 0;
  TruthTransition transition;
  Instant held_until;             // next transition, or the end of the run
  std::optional<Duration> delay;  // nullopt: not reported while it held
};

// Detections of every truth transition in [0, end) by every node, ordered by
// (target, transition, node).
std::vector<Detection> detect_transitions(const World& world, const StatusIndex& index, Instant end);

// See the header comment. REQUIRES: intervals >= 1.
Duration detection_bound(const TargetSpec& spec, int intervals, const SchedulerConfig& config,
                         const NodeClock& clock);

struct Verdict {
  std::size_t expectation = 0;  // index into Scenario::expectations
  bool pass = false;
  std::string evidence;         // what was seen, with times and nodes
};

// Judges every expectation of the world's scenario against the run, which
// ended at `end`.
std::vector<Verdict> judge(const World& world, const StatusIndex& index, const std::vector<Detection>& detections,
                           Instant end);

// "12.345 s"
std::string seconds_text(Duration d);

}  // namespace heck::sim
