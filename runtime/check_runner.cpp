#include "runtime/check_runner.h"

#include "runtime/checker.h"

namespace heck::runtime {

void CheckerRunner::run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done) {
  checker_.run(std::move(spec), timeout, std::move(done));
}

void CheckerRunner::shutdown() { checker_.shutdown(); }

std::size_t CheckerRunner::in_flight() const { return checker_.in_flight(); }

std::size_t CheckerRunner::queued() const { return checker_.queued(); }

}  // namespace heck::runtime
