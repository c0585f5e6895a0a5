// The agent's seam to the thing that runs checks. Production uses
// CheckerRunner (a Checker, runtime/checker.h); unit tests use a fake that
// completes checks when the test says so, so the agent's effect handling is
// tested without sockets or real time.
//
// Contract (the Checker's): run() never blocks; `done` is called exactly once
// per run(), on the io_context's thread, no later than `timeout` after run().
// A runner may call `done` from inside run() (the agent tolerates it).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "core/check.h"
#include "core/target_spec.h"
#include "core/time.h"

namespace heck::runtime {

class Checker;

class CheckRunner {
 public:
  using Callback = std::function<void(CheckOutcome)>;

  virtual ~CheckRunner() = default;
  virtual void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) = 0;
  // Cancels everything; pending callbacks still come (as failures).
  virtual void shutdown() = 0;
  virtual std::size_t in_flight() const = 0;
  virtual std::size_t queued() const = 0;
};

// Adapts a Checker (not owned; must outlive the runner).
class CheckerRunner final : public CheckRunner {
 public:
  explicit CheckerRunner(Checker& checker) : checker_(checker) {}
  void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) override;
  void shutdown() override;
  std::size_t in_flight() const override;
  std::size_t queued() const override;

 private:
  Checker& checker_;
};

}  // namespace heck::runtime
