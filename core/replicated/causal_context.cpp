#include "core/replicated/causal_context.h"

#include <algorithm>

namespace heck {

bool CausalContext::contains(Dot d) const {
  if (d.counter <= vv_.get(d.replica)) return true;
  return !cloud_.empty() && cloud_.contains(d);
}

std::uint64_t CausalContext::max_counter(ReplicaId replica) const {
  return std::max(vv_.get(replica), cloud_.max_counter(replica));
}

Dot CausalContext::next_dot(ReplicaId replica) const { return Dot{replica, max_counter(replica) + 1}; }

// The cloud never holds vv[r] + 1 (compact folds it), so a dot above that
// lets nothing fold: only the dot right above the vector needs a compact.
bool CausalContext::add_dot(Dot d) {
  const std::uint64_t have = vv_.get(d.replica);
  if (d.counter <= have) return false;
  if (d.counter == have + 1) {
    vv_.set(d.replica, d.counter);
    compact(d.replica);
    return true;
  }
  return cloud_.insert(d);
}

void CausalContext::insert(Dot d) { add_dot(d); }

bool CausalContext::join(const CausalContext& other) {
  bool grew = false;
  for (const auto& [r, n] : other.vv_) {
    if (n <= vv_.get(r)) continue;
    vv_.set(r, n);
    compact(r);
    grew = true;
  }
  for (const Dot& d : other.cloud_) grew = add_dot(d) || grew;
  return grew;
}

CausalContext CausalContext::from_parts(std::vector<std::pair<ReplicaId, std::uint64_t>> vv, std::vector<Dot> cloud) {
  CausalContext c;
  std::sort(vv.begin(), vv.end());
  for (const auto& [r, n] : vv) {
    if (n != 0) c.vv_.set(r, n);  // in order: appends (a repeated replica: its highest max, last)
  }
  std::sort(cloud.begin(), cloud.end());  // runs and blocks in order: appends
  for (const Dot& d : cloud) c.cloud_.insert(d);
  c.compact();
  return c;
}

bool CausalContext::includes(const CausalContext& other) const { return missing_count(other, 1) == 0; }

std::uint64_t CausalContext::missing_count(const CausalContext& other, std::uint64_t cap) const {
  std::uint64_t n = 0;
  for (const auto& [r, top] : other.vv_) {
    const std::uint64_t have = max_vv(r);
    if (top <= have) continue;
    // Cloud dots of r in (have, top] are present; count the rest.
    const std::uint64_t present = cloud_.count(r, have + 1, top);
    n += (top - have) - present;
    if (n >= cap) return cap;
  }
  for (const Dot& d : other.cloud_) {
    if (!contains(d) && !other.vv_contains(d)) ++n;
    if (n >= cap) return cap;
  }
  return n;
}

void CausalContext::compact(ReplicaId r) {
  if (cloud_.empty()) return;
  const std::uint64_t have = vv_.get(r);
  const std::uint64_t top = cloud_.fold(r, have);
  if (top != have) vv_.set(r, top);
}

void CausalContext::compact() {
  std::vector<ReplicaId> replicas;
  for (const Dot& d : cloud_) {
    if (replicas.empty() || replicas.back() != d.replica) replicas.push_back(d.replica);
  }
  for (ReplicaId r : replicas) compact(r);
}

std::vector<Dot> CausalContext::all_dots() const {
  std::vector<Dot> out;
  for (const auto& [r, n] : vv_) {
    for (std::uint64_t c = 1; c <= n; ++c) out.push_back(Dot{r, c});
  }
  out.insert(out.end(), cloud_.begin(), cloud_.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace heck
