#include "runtime/target_history.h"

#include <algorithm>

namespace heck::runtime {

TargetHistory::Entry& TargetHistory::entry(std::string_view id, Instant now) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    it = by_id_.emplace(std::string(id), Entry{}).first;
    it->second.first_seen = now;
  }
  return it->second;
}

void TargetHistory::transition(std::string_view id, Transition t) {
  Entry& e = entry(id, t.at);
  e.status = t.to;
  e.transitions.push_back(std::move(t));
  if (e.transitions.size() > kMaxTransitions) {
    e.transitions.pop_front();
    e.truncated = true;
  }
}

void TargetHistory::sample(std::string_view id, Sample s) {
  Entry& e = entry(id, s.at);
  e.samples.push_back(s);
  if (e.samples.size() > kMaxSamples) e.samples.pop_front();
}

void TargetHistory::forget(std::string_view id) {
  if (auto it = by_id_.find(id); it != by_id_.end()) by_id_.erase(it);
}

const TargetHistory::Entry* TargetHistory::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

TargetHistory::Uptime TargetHistory::uptime(std::string_view id, Instant now, Duration window) const {
  Uptime u;
  const Entry* e = find(id);
  if (e == nullptr) return u;
  const Instant from = now - window;
  // Segments from the newest back: [start, end) in one status. Before the
  // oldest kept transition the status was its `from`, since first_seen, or
  // unknown to us when transitions were dropped.
  Duration healthy, known, observed;
  auto add = [&](Instant start, Instant end, HealthStatus s) {
    start = std::max(start, from);
    if (end <= start) return;
    const Duration d = end - start;
    observed += d;
    if (s == HealthStatus::unknown) return;
    known += d;
    if (s == HealthStatus::healthy) healthy += d;
  };
  Instant end = now;
  HealthStatus status = e->status;
  for (auto it = e->transitions.rbegin(); it != e->transitions.rend() && end > from; ++it) {
    add(it->at, end, status);
    end = it->at;
    status = it->from;
  }
  if (!e->truncated) add(e->first_seen, end, status);
  u.known = known;
  u.observed = observed;
  if (known.ns() > 0) u.fraction = static_cast<double>(healthy.ns()) / static_cast<double>(known.ns());
  return u;
}

}  // namespace heck::runtime
