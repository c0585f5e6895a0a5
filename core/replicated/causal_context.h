// The causal context: the set of dots a replica has seen, kept compact as a
// version vector (every dot (r, 1..vv[r])) plus a "dot cloud" of dots beyond
// it; a cloud dot folds into the vector once the gap below it fills
// (Almeida et al. 2018, §4.2).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/defaulted_box.h"
#include "core/replicated/dot.h"
#include "core/replicated/dot_cloud.h"

namespace heck {

// A version vector: (replica, highest counter) pairs sorted by replica in
// one contiguous block. A context holds one entry per replica incarnation
// it has heard of (a handful to a few hundred); a lookup is a binary search
// over one block instead of a walk over scattered tree nodes, which in a
// simulation of a hundred agents are all cold. Insertion moves the entries
// after it: O(n), rare (a new replica).
class VersionVector {
 public:
  using value_type = std::pair<ReplicaId, std::uint64_t>;
  using const_iterator = std::vector<value_type>::const_iterator;

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // The counter of `r`, 0 when absent.
  std::uint64_t get(ReplicaId r) const {
    auto it = lower(r);
    return it != entries_.end() && it->first == r ? it->second : 0;
  }
  // Sets the counter of `r` (inserted in order when absent).
  void set(ReplicaId r, std::uint64_t n) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), r,
                               [](const value_type& e, ReplicaId x) { return e.first < x; });
    if (it != entries_.end() && it->first == r) {
      it->second = n;
    } else {
      entries_.insert(it, value_type{r, n});
    }
  }
  const std::vector<value_type>& entries() const { return entries_; }
  bool operator==(const VersionVector&) const = default;

 private:
  const_iterator lower(ReplicaId r) const {
    return std::lower_bound(entries_.begin(), entries_.end(), r,
                            [](const value_type& e, ReplicaId x) { return e.first < x; });
  }
  std::vector<value_type> entries_;
};

// A context keeps its version vector and cloud in a DefaultedBox, none while
// it is empty: a delta carries a context per store (seven, of which one or
// two hold anything), and a gossip-mode forwarder buffers up to 4,096 deltas
// (replicator.h). Inline, the seven cost 392 bytes a delta; boxed, 56.
class CausalContext {
 public:
  // Copies are deep; a moved-from context is empty (DefaultedBox).

  bool contains(Dot d) const;
  // The next dot for `replica`: one past every counter of it seen so far.
  Dot next_dot(ReplicaId replica) const;
  // The highest counter of `replica` seen (0 if none).
  std::uint64_t max_counter(ReplicaId replica) const;

  // Cost: O(log n) per dot inserted, plus the cloud dots it lets fold into
  // the version vector; join is O(|other| log n), never O(|this|).
  void insert(Dot d);
  // Returns whether this context grew (other held a dot it lacked).
  bool join(const CausalContext& other);
  // Builds a context from a version vector and a cloud in one compaction
  // (decoders), in any order. Entries with max 0 are ignored; a replica
  // listed twice keeps its highest max; a dot listed twice counts once.
  static CausalContext from_parts(std::vector<std::pair<ReplicaId, std::uint64_t>> vv, std::vector<Dot> cloud);

  // True when every dot of `other` is in this context.
  bool includes(const CausalContext& other) const;
  // How many dots of `other` are not in this context (saturates at `cap`).
  std::uint64_t missing_count(const CausalContext& other, std::uint64_t cap) const;
  // Calls f(dot) for every dot of `other` not in this context, in dot order,
  // stopping after `max` dots; returns false when it stopped early.
  template <typename F>
  bool for_each_missing(const CausalContext& other, std::uint64_t max, F&& f) const {
    std::uint64_t n = 0;
    const DotCloud& cloud = body_->cloud;
    for (const auto& [r, top] : other.vv()) {
      for (std::uint64_t c = max_vv(r) + 1; c <= top; ++c) {
        if (cloud.contains(Dot{r, c})) continue;
        if (n++ == max) return false;
        f(Dot{r, c});
      }
    }
    for (const Dot& d : other.cloud()) {
      if (contains(d) || other.vv_contains(d)) continue;
      if (n++ == max) return false;
      f(d);
    }
    return true;
  }

  bool empty() const { return !body_.boxed() || (body_->vv.empty() && body_->cloud.empty()); }
  const VersionVector& vv() const { return body_->vv; }
  const DotCloud& cloud() const { return body_->cloud; }
  // Every dot, for small contexts (tests, deltas). Cost: the sum of counters.
  std::vector<Dot> all_dots() const;

  // Equal dots (an empty context with a body equals one without).
  bool operator==(const CausalContext&) const = default;

 private:
  struct Body {
    VersionVector vv;
    DotCloud cloud;
    bool operator==(const Body&) const = default;
  };

  // Folds cloud dots into the version vector: compact(r) for one replica,
  // O(log n + dots folded); compact() for all, O(cloud).
  void compact();
  void compact(ReplicaId r);
  // Adds d (above the version vector: to the cloud, or folds it in);
  // returns whether it was new.
  bool add_dot(Dot d);
  std::uint64_t max_vv(ReplicaId r) const { return body_.boxed() ? body_->vv.get(r) : 0; }
  bool vv_contains(Dot d) const { return d.counter <= max_vv(d.replica); }

  DefaultedBox<Body> body_;  // none: no dot seen
};

}  // namespace heck
