// A CheckRunner for unit tests: run() records the request; the test decides
// when and how each check completes. In `synchronous` mode run() completes
// the check at once, from inside run() (the agent must tolerate that).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "runtime/check_runner.h"

namespace heck::runtime::testing {

class FakeCheckRunner final : public CheckRunner {
 public:
  struct Call {
    std::shared_ptr<const TargetSpec> spec;
    Duration timeout;
    Callback done;
  };

  void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) override {
    ++runs;
    if (throw_on_run) throw std::runtime_error("fake runner refuses");
    if (synchronous) {
      done(synchronous_outcome);
      return;
    }
    pending.push_back(Call{std::move(spec), timeout, std::move(done)});
  }
  void shutdown() override { ++shutdowns; }
  std::size_t in_flight() const override { return pending.size(); }
  std::size_t queued() const override { return 0; }

  // Completes the oldest pending check. REQUIRES: one is pending.
  void complete_next(CheckOutcome outcome) {
    Call c = std::move(pending.front());
    pending.pop_front();
    c.done(std::move(outcome));
  }

  std::deque<Call> pending;
  int runs = 0;
  int shutdowns = 0;
  bool synchronous = false;
  bool throw_on_run = false;
  CheckOutcome synchronous_outcome = CheckOutcome::response(200, Duration::milliseconds(1));
};

}  // namespace heck::runtime::testing
