#include "core/replicated/hlc.h"

#include <algorithm>

namespace heck {

namespace {
std::uint64_t physical_ms(Instant now) { return now.ns() <= 0 ? 0 : static_cast<std::uint64_t>(now.ms()); }

HlcTimestamp successor(HlcTimestamp t) {
  // Logical overflow borrows a millisecond: still ordered, still unique.
  return t.logical() == 0xffff ? HlcTimestamp::make(t.wall_ms() + 1, 0) : HlcTimestamp{t.packed + 1};
}
}  // namespace

HlcTimestamp HybridClock::tick(Instant now) {
  const auto pt = HlcTimestamp::make(physical_ms(now), 0);
  last_ = pt > last_ ? pt : successor(last_);
  return last_;
}

bool HybridClock::observe(Instant now, HlcTimestamp remote) {
  const std::uint64_t limit = physical_ms(now + max_forward_);
  if (remote.wall_ms() > limit) {
    ++rejected_ahead_;
    return false;
  }
  if (remote > last_) last_ = remote;
  return true;
}

}  // namespace heck
