// The causal context: the set of dots a replica has seen, kept compact as a
// version vector (every dot (r, 1..vv[r])) plus a "dot cloud" of dots beyond
// it; a cloud dot folds into the vector once the gap below it fills
// (Almeida et al. 2018, §4.2).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "core/replicated/dot.h"

namespace heck {

class CausalContext {
 public:
  bool contains(Dot d) const;
  // The next dot for `replica`: one past every counter of it seen so far.
  Dot next_dot(ReplicaId replica) const;
  // The highest counter of `replica` seen (0 if none).
  std::uint64_t max_counter(ReplicaId replica) const;

  void insert(Dot d);
  void join(const CausalContext& other);

  bool empty() const { return vv_.empty() && cloud_.empty(); }
  const std::map<ReplicaId, std::uint64_t>& vv() const { return vv_; }
  const std::set<Dot>& cloud() const { return cloud_; }
  // Every dot, for small contexts (tests, deltas). Cost: the sum of counters.
  std::vector<Dot> all_dots() const;

  bool operator==(const CausalContext&) const = default;

 private:
  void compact();

  std::map<ReplicaId, std::uint64_t> vv_;
  std::set<Dot> cloud_;
};

}  // namespace heck
