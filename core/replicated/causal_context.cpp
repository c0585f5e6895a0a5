#include "core/replicated/causal_context.h"

#include <algorithm>

namespace heck {


bool CausalContext::contains(Dot d) const {
  if (!body_.boxed()) return false;
  if (d.counter <= body_->vv.get(d.replica)) return true;
  return !body_->cloud.empty() && body_->cloud.contains(d);
}

std::uint64_t CausalContext::max_counter(ReplicaId replica) const {
  if (!body_.boxed()) return 0;
  return std::max(body_->vv.get(replica), body_->cloud.max_counter(replica));
}

Dot CausalContext::next_dot(ReplicaId replica) const { return Dot{replica, max_counter(replica) + 1}; }

// The cloud never holds vv[r] + 1 (compact folds it), so a dot above that
// lets nothing fold: only the dot right above the vector needs a compact.
bool CausalContext::add_dot(Dot d) {
  Body& b = body_.edit();
  const std::uint64_t have = b.vv.get(d.replica);
  if (d.counter <= have) return false;
  if (d.counter == have + 1) {
    b.vv.set(d.replica, d.counter);
    compact(d.replica);
    return true;
  }
  return b.cloud.insert(d);
}

void CausalContext::insert(Dot d) { add_dot(d); }

bool CausalContext::join(const CausalContext& other) {
  if (other.empty()) return false;
  Body& b = body_.edit();
  bool grew = false;
  for (const auto& [r, n] : other.vv()) {
    if (n <= b.vv.get(r)) continue;
    b.vv.set(r, n);
    compact(r);
    grew = true;
  }
  for (const Dot& d : other.cloud()) grew = add_dot(d) || grew;
  return grew;
}

CausalContext CausalContext::from_parts(std::vector<std::pair<ReplicaId, std::uint64_t>> vv, std::vector<Dot> cloud) {
  CausalContext c;
  if (vv.empty() && cloud.empty()) return c;
  Body& b = c.body_.edit();
  std::sort(vv.begin(), vv.end());
  for (const auto& [r, n] : vv) {
    if (n != 0) b.vv.set(r, n);  // in order: appends (a repeated replica: its highest max, last)
  }
  std::sort(cloud.begin(), cloud.end());  // runs and blocks in order: appends
  for (const Dot& d : cloud) b.cloud.insert(d);
  c.compact();
  return c;
}

bool CausalContext::includes(const CausalContext& other) const { return missing_count(other, 1) == 0; }

std::uint64_t CausalContext::missing_count(const CausalContext& other, std::uint64_t cap) const {
  std::uint64_t n = 0;
  const DotCloud& cloud = body_->cloud;
  for (const auto& [r, top] : other.vv()) {
    const std::uint64_t have = max_vv(r);
    if (top <= have) continue;
    // Cloud dots of r in (have, top] are present; count the rest.
    const std::uint64_t present = cloud.count(r, have + 1, top);
    n += (top - have) - present;
    if (n >= cap) return cap;
  }
  for (const Dot& d : other.cloud()) {
    if (!contains(d) && !other.vv_contains(d)) ++n;
    if (n >= cap) return cap;
  }
  return n;
}

void CausalContext::compact(ReplicaId r) {
  if (!body_.boxed() || body_->cloud.empty()) return;
  Body& b = body_.edit();
  const std::uint64_t have = b.vv.get(r);
  const std::uint64_t top = b.cloud.fold(r, have);
  if (top != have) b.vv.set(r, top);
}

void CausalContext::compact() {
  std::vector<ReplicaId> replicas;
  for (const Dot& d : cloud()) {
    if (replicas.empty() || replicas.back() != d.replica) replicas.push_back(d.replica);
  }
  for (ReplicaId r : replicas) compact(r);
}

std::vector<Dot> CausalContext::all_dots() const {
  std::vector<Dot> out;
  for (const auto& [r, n] : vv()) {
    for (std::uint64_t c = 1; c <= n; ++c) out.push_back(Dot{r, c});
  }
  out.insert(out.end(), cloud().begin(), cloud().end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace heck
