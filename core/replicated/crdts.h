// Delta-state CRDTs built on dot stores (Almeida et al. 2018, §6, Fig. 8–11):
//
// MVRegister<V> — multi-value register: a write supersedes every value its
//                 writer has seen; concurrent writes stay as siblings.
// AWSet<E>      — add-wins set: an add concurrent with a remove survives.
// CCounter      — causal counter: increments/decrements made at any replica
//                 are counted exactly once in the joined total.
// ORMap<K, T>   — add-wins map of embedded causal CRDTs sharing one context;
//                 removing a key forgets exactly the dots it had seen.
//
// Every mutator returns its delta and joins it into the state. Deltas join into
// delta-groups with the same join; join is commutative, associative and
// idempotent, and a delta is always below the state it came from.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/replicated/dot_store.h"

namespace heck {

// --- mutators on a (store, context) pair, usable embedded in an ORMap -------

template <typename V>
Causal<DotFun<V>> mvreg_write(const DotFun<V>& store, const CausalContext& ctx, ReplicaId self, V value) {
  Causal<DotFun<V>> delta;
  const Dot d = ctx.next_dot(self);
  delta.store.insert(d, std::move(value));
  delta.context = context_of(store);
  delta.context.insert(d);
  return delta;
}

inline Causal<DotSet> dotset_add(const DotSet& store, const CausalContext& ctx, ReplicaId self) {
  Causal<DotSet> delta;
  const Dot d = ctx.next_dot(self);
  delta.store.insert(d);
  delta.context = context_of(store);
  delta.context.insert(d);
  return delta;
}

// Counter arithmetic is done in 128 bits, where no sum of int64 totals can
// overflow, and brought back to int64 only when it fits (or clamped).
__extension__ typedef __int128 CounterWide;

// Each replica keeps one dot holding its running total; its next add writes
// a new dot and supersedes the old one (a replica has seen all its own
// writes, so its newest total includes every older one). Normally one entry
// per replica is live. A partial state repair (replicator.h) carries entries
// without the dots they superseded, so a receiver may then accept an older
// total of the same replica from a third agent and hold both until a later
// repair removes the old one. Reading only each replica's newest entry (the
// highest counter of its dots) keeps the value exact meanwhile: summing both
// would count the replica's older adds twice.
// `f(dot, total)` for each replica's newest entry; entries sorted by dot.
template <typename Entries, typename F>
void ccounter_for_each_total(const Entries& entries, F&& f) {
  for (auto it = entries.begin(); it != entries.end();) {
    auto next = std::next(it);
    if (next == entries.end() || next->first.replica != it->first.replica) f(it->first, it->second);
    it = next;
  }
}

// A causal counter's value: the sum of every replica's (newest) total,
// clamped to the int64 range. Each add is refused when it would take its
// replica's total or the value it sees past a bound (ccounter_add_fits), but
// adds made concurrently at different replicas can still pass one together;
// the value then reads as the bound, the same everywhere. Joins do no
// arithmetic.
template <typename Entries>
std::int64_t ccounter_value(const Entries& entries) {
  CounterWide sum = 0;
  ccounter_for_each_total(entries, [&](const Dot&, std::int64_t v) { sum += v; });
  if (sum > std::numeric_limits<std::int64_t>::max()) return std::numeric_limits<std::int64_t>::max();
  if (sum < std::numeric_limits<std::int64_t>::min()) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(sum);
}

// Whether adding `amount` at `self` may be made: neither the replica's own
// total nor the value (unclamped) would leave the int64 range, or move
// further out of it.
inline bool ccounter_add_fits(const DotFun<std::int64_t>& store, ReplicaId self, std::int64_t amount) {
  constexpr CounterWide kMax = std::numeric_limits<std::int64_t>::max();
  constexpr CounterWide kMin = std::numeric_limits<std::int64_t>::min();
  CounterWide sum = 0;
  CounterWide mine = 0;
  ccounter_for_each_total(store.entries(), [&](const Dot& dot, std::int64_t v) {
    sum += v;
    if (dot.replica == self) mine = v;
  });
  const CounterWide after = sum + amount;
  const bool value_out = amount > 0 ? after > kMax : amount < 0 && after < kMin;
  const bool mine_out = mine + amount > kMax || mine + amount < kMin;
  return !value_out && !mine_out;
}

// REQUIRES: ccounter_add_fits(store, self, amount).
inline Causal<DotFun<std::int64_t>> ccounter_add(const DotFun<std::int64_t>& store, const CausalContext& ctx,
                                                 ReplicaId self, std::int64_t amount) {
  // The new dot holds the newest total plus `amount` and supersedes every
  // dot of this replica seen here.
  Causal<DotFun<std::int64_t>> delta;
  CounterWide mine = 0;
  for (const auto& [dot, v] : store.entries()) {
    if (dot.replica == self) {
      mine = v;  // sorted by dot: the last one is the newest
      delta.context.insert(dot);
    }
  }
  const Dot d = ctx.next_dot(self);
  delta.store.insert(d, static_cast<std::int64_t>(mine + amount));
  delta.context.insert(d);
  return delta;
}

// --- mutators on a map of embedded stores (ORMap-shaped states) -------------

// Applies an embedded delta-mutator to the store at `k` (an absent key reads
// as the empty store): mutate(store, shared context) -> Causal<S>. Returns the
// map-level delta; does not apply it.
template <typename K, typename S, typename Mutator>
Causal<DotMap<K, S>> ormap_apply(const Causal<DotMap<K, S>>& state, const std::type_identity_t<K>& k,
                                 Mutator&& mutate) {
  static const S kEmpty{};
  const S* cur = state.store.find(k);
  Causal<S> inner = mutate(cur ? *cur : kEmpty, state.context);
  Causal<DotMap<K, S>> d;
  if (!inner.store.empty()) d.store.put(k, std::move(inner.store));
  d.context = std::move(inner.context);
  return d;
}

// Forgets every dot under `k` that `state` has seen; a concurrent write
// elsewhere survives (add wins). Returns the delta; does not apply it.
// `k`: a key, or a view of one.
template <typename K, typename S, typename Q>
Causal<DotMap<K, S>> ormap_remove(const Causal<DotMap<K, S>>& state, const Q& k) {
  Causal<DotMap<K, S>> d;
  if (const S* cur = state.store.find(k)) d.context = context_of(*cur);
  return d;
}

// --- the CRDTs as standalone values -------------------------------------------

template <typename V>
class MVRegister {
 public:
  using Delta = Causal<DotFun<V>>;

  Delta write(ReplicaId self, V value) {
    Delta d = mvreg_write(state_.store, state_.context, self, std::move(value));
    state_.join(d);
    return d;
  }
  void join(const Delta& d) { state_.join(d); }

  // The current values (siblings), in dot order.
  std::vector<V> values() const {
    std::vector<V> out;
    for (const auto& [dot, v] : state_.store.entries()) out.push_back(v);
    return out;
  }
  const Delta& state() const { return state_; }
  bool operator==(const MVRegister&) const = default;

 private:
  Delta state_;
};

template <typename E>
class AWSet {
 public:
  using Delta = Causal<DotMap<E, DotSet>>;

  Delta add(ReplicaId self, const E& e) {
    Delta d = ormap_apply(state_, e, [&](const DotSet& s, const CausalContext& c) { return dotset_add(s, c, self); });
    state_.join(d);
    return d;
  }
  Delta remove(const E& e) {
    Delta d = ormap_remove(state_, e);
    state_.join(d);
    return d;
  }
  void join(const Delta& d) { state_.join(d); }

  bool contains(const E& e) const { return state_.store.find(e) != nullptr; }
  std::vector<E> elements() const {
    std::vector<E> out;
    for (const auto& [e, s] : state_.store.entries()) out.push_back(e);
    return out;
  }
  const Delta& state() const { return state_; }
  bool operator==(const AWSet&) const = default;

 private:
  Delta state_;
};

class CCounter {
 public:
  using Delta = Causal<DotFun<std::int64_t>>;

  // An add that does not fit (ccounter_add_fits) is refused: empty delta.
  Delta add(ReplicaId self, std::int64_t amount) {
    if (!ccounter_add_fits(state_.store, self, amount)) return {};
    Delta d = ccounter_add(state_.store, state_.context, self, amount);
    state_.join(d);
    return d;
  }
  void join(const Delta& d) { state_.join(d); }
  std::int64_t value() const { return ccounter_value(state_.store.entries()); }
  const Delta& state() const { return state_; }
  bool operator==(const CCounter&) const = default;

 private:
  Delta state_;
};

// An add-wins map from K to embedded causal CRDTs with store type S.
template <typename K, typename S>
class ORMap {
 public:
  using Delta = Causal<DotMap<K, S>>;

  // Applies an embedded delta-mutator to the value at `k` (an absent key reads
  // as the empty store): mutate(store, shared context) -> Causal<S>.
  template <typename Mutator>
  Delta apply(const K& k, Mutator&& mutate) {
    Delta d = ormap_apply(state_, k, std::forward<Mutator>(mutate));
    state_.join(d);
    return d;
  }
  // Forgets every dot under `k` that this replica has seen; a concurrent write
  // elsewhere survives (add wins).
  Delta remove(const K& k) {
    Delta d = ormap_remove(state_, k);
    state_.join(d);
    return d;
  }
  void join(const Delta& d) { state_.join(d); }

  const S* find(const K& k) const { return state_.store.find(k); }
  std::size_t size() const { return state_.store.size(); }
  const Delta& state() const { return state_; }
  bool operator==(const ORMap&) const = default;

 private:
  Delta state_;
};

}  // namespace heck
