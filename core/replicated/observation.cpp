#include "core/replicated/observation.h"

#include <cassert>

namespace heck {

namespace {
int severity(HealthStatus s) {
  switch (s) {
    case HealthStatus::healthy: return 0;
    case HealthStatus::unknown: return 1;
    case HealthStatus::unhealthy: return 2;
  }
  return 1;
}
}  // namespace

bool ranks_above(const Observation& a, const Observation& b) {
  if (severity(a.status) != severity(b.status)) return severity(a.status) > severity(b.status);
  if (a.observed_at != b.observed_at) return a.observed_at > b.observed_at;
  if (a.observer != b.observer) return a.observer < b.observer;
  return a.check_seq > b.check_seq;
}

const Observation& resolve(const std::vector<const Observation*>& siblings) {
  assert(!siblings.empty());
  const Observation* best = siblings.front();
  for (const Observation* o : siblings) {
    if (ranks_above(*o, *best)) best = o;
  }
  return *best;
}

}  // namespace heck
