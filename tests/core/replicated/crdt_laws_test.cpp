// RapidCheck laws for every delta CRDT: join is commutative, associative and
// idempotent; a delta is below the state it came from; applying the deltas of
// a random history in any order, with duplicates, equals joining the states.
#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/replicated/crdts.h"
#include "core/slot_map.h"

namespace heck {
namespace {

constexpr ReplicaId kReplicas[] = {11, 22, 33};

// One step of a random history: replica `at` mutates (op, arg), or receives a
// previously emitted delta (or a whole state) from elsewhere.
struct Step {
  int at;
  int op;
  int arg;
};

Step gen_step() {
  return Step{*rc::gen::inRange(0, 3), *rc::gen::inRange(0, 4), *rc::gen::inRange(0, 6)};
}

// Runs a random history over three replicas of a CRDT type `T`.
// mutate(T&, ReplicaId, op, arg) -> Delta; op == 3 means "receive" instead.
template <typename T, typename Mutate>
struct History {
  std::vector<T> replicas{3};
  std::vector<typename T::Delta> deltas;

  History(const std::vector<Step>& steps, Mutate mutate) {
    for (const Step& s : steps) {
      T& r = replicas[static_cast<std::size_t>(s.at)];
      if (s.op == 3 && !deltas.empty()) {
        // Gossip: a delta seen earlier, or another replica's whole state.
        if (s.arg % 2 == 0) {
          r.join(deltas[static_cast<std::size_t>(s.arg * 7919) % deltas.size()]);
        } else {
          r.join(replicas[static_cast<std::size_t>((s.at + 1) % 3)].state());
        }
      } else {
        deltas.push_back(mutate(r, kReplicas[s.at], s.op, s.arg));
      }
    }
  }

  typename T::Delta joined_states() const {
    typename T::Delta all;
    for (const T& r : replicas) all.join(r.state());
    return all;
  }
};

template <typename T, typename Mutate>
void check_laws(Mutate mutate) {
  const auto steps = *rc::gen::container<std::vector<Step>>(rc::gen::exec(gen_step));
  History<T, Mutate> h(steps, mutate);
  const auto& a = h.replicas[0].state();
  const auto& b = h.replicas[1].state();
  const auto& c = h.replicas[2].state();
  auto join = [](auto x, const auto& y) {
    x.join(y);
    return x;
  };
  // Commutative, associative, idempotent.
  RC_ASSERT(join(a, b) == join(b, a));
  RC_ASSERT(join(join(a, b), c) == join(a, join(b, c)));
  RC_ASSERT(join(a, a) == a);
  // Every delta is below the join of all states.
  const auto all = h.joined_states();
  for (const auto& d : h.deltas) RC_ASSERT(join(all, d) == all);
  // Deltas in a random order, with duplicates, equal the joined states.
  auto order = h.deltas;
  const auto extra = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(0, std::max<std::size_t>(1, h.deltas.size())));
  for (std::size_t i : extra) {
    if (!h.deltas.empty()) order.push_back(h.deltas[i % h.deltas.size()]);
  }
  const auto perm = *rc::gen::container<std::vector<std::uint32_t>>(order.size(), rc::gen::arbitrary<std::uint32_t>());
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[perm[i - 1] % i]);
  typename T::Delta replay;
  for (const auto& d : order) replay.join(d);
  RC_ASSERT(replay == all);
}

RC_GTEST_PROP(CrdtLaws, MVRegister, ()) {
  check_laws<MVRegister<int>>([](MVRegister<int>& r, ReplicaId self, int, int arg) { return r.write(self, arg); });
}

RC_GTEST_PROP(CrdtLaws, AWSet, ()) {
  check_laws<AWSet<int>>([](AWSet<int>& s, ReplicaId self, int op, int arg) {
    return op == 0 ? s.remove(arg) : s.add(self, arg);
  });
}

RC_GTEST_PROP(CrdtLaws, CCounter, ()) {
  check_laws<CCounter>([](CCounter& c, ReplicaId self, int op, int arg) {
    return c.add(self, op == 0 ? -arg : arg);
  });
}

using RegisterMap = ORMap<int, DotFun<int>>;
RC_GTEST_PROP(CrdtLaws, ORMapOfRegisters, ()) {
  check_laws<RegisterMap>([](RegisterMap& m, ReplicaId self, int op, int arg) {
    if (op == 0) return m.remove(arg % 3);
    return m.apply(arg % 3, [&](const DotFun<int>& s, const CausalContext& ctx) {
      return mvreg_write(s, ctx, self, arg);
    });
  });
}

// Differential: the in-place join of a map (join_into, used by Causal::join)
// equals the plain lattice join DotMap::join, for states and for deltas.
RC_GTEST_PROP(CrdtLaws, InPlaceMapJoinEqualsPlainJoin, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(rc::gen::exec(gen_step));
  auto mutate = [](RegisterMap& m, ReplicaId self, int op, int arg) {
    if (op == 0) return m.remove(arg % 3);
    return m.apply(arg % 3, [&](const DotFun<int>& s, const CausalContext& ctx) { return mvreg_write(s, ctx, self, arg); });
  };
  History<RegisterMap, decltype(mutate)> h(steps, mutate);
  std::vector<RegisterMap::Delta> values;
  for (const auto& r : h.replicas) values.push_back(r.state());
  values.insert(values.end(), h.deltas.begin(), h.deltas.end());
  for (const auto& a : values) {
    for (const auto& b : values) {
      auto in_place = a.store;
      in_place.join_into(a.context, b.store, b.context);
      using Map = DotMap<int, DotFun<int>>;
      const Map plain = Map::join(a.store, a.context, b.store, b.context);
      RC_ASSERT(in_place == plain);
      // The indexed join (the replicated state's) finds the same answer,
      // keeps its index exact, and names exactly the keys that changed.
      auto indexed = a.store;
      indexed.enable_dot_index();
      std::vector<int> changed;
      indexed.join_into(a.context, b.store, b.context, &changed);
      RC_ASSERT(indexed == plain);
      RC_ASSERT(indexed.index_consistent());
      std::vector<int> expected;
      for (int k = 0; k < 3; ++k) {
        const auto* before = a.store.find(k);
        const auto* after = plain.find(k);
        if ((before == nullptr) != (after == nullptr) || (before && !(*before == *after))) expected.push_back(k);
      }
      RC_ASSERT(changed == expected);
    }
  }
}

// The slot map (slot_map.h) finds exactly the keys a std::map holds through
// any mix of inserts and erases (keys from a small range collide and wrap
// around the hash table, so backward-shift deletion and slot reuse are
// exercised), keeps every entry where it was inserted, and lists them in
// key order.
RC_GTEST_PROP(SlotMapProp, FindsExactlyTheKeysAStdMapHoldsAndOrdersThem, ()) {
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, int>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange(0, 40)));
  std::map<int, int> model;
  SlotMap<int, int> map;
  std::map<int, const std::pair<int, int>*> where;  // each live entry's address when inserted
  int next_value = 0;
  for (const auto& [insert, k] : ops) {
    if (insert && !model.contains(k)) {
      model.emplace(k, next_value);
      where[k] = map.insert(k, next_value++);
    } else if (!insert && model.contains(k)) {
      model.erase(k);
      where.erase(k);
      map.erase(k);
    }
    RC_ASSERT(map.size() == model.size());
    for (int q = 0; q < 40; ++q) {
      const auto* e = map.find(q);
      RC_ASSERT((e != nullptr) == model.contains(q));
      if (e) {
        RC_ASSERT(e->first == q);
        RC_ASSERT(e->second == model.at(q));
        RC_ASSERT(e == where.at(q));
      }
    }
    using Pairs = std::vector<std::pair<int, int>>;
    const Pairs listed(map.ordered().begin(), map.ordered().end());
    const Pairs expected(model.begin(), model.end());
    RC_ASSERT(listed == expected);
  }
  const SlotMap<int, int> copy = map;
  RC_ASSERT(copy == map);
}

// The distributed counter: increments made anywhere are counted exactly once
// however the deltas travel.
RC_GTEST_PROP(CCounterProp, ConvergedTotalIsTheSumOfIncrements, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(rc::gen::exec(gen_step));
  std::int64_t expected = 0;
  auto mutate = [&](CCounter& c, ReplicaId self, int, int arg) {
    expected += arg;
    return c.add(self, arg);
  };
  History<CCounter, decltype(mutate)> h(steps, mutate);
  CCounter converged;
  for (const auto& d : h.deltas) converged.join(d);
  for (const auto& d : h.deltas) converged.join(d);  // duplicates change nothing
  RC_ASSERT(converged.value() == expected);
  CCounter from_states;
  for (const auto& r : h.replicas) from_states.join(r.state());
  RC_ASSERT(from_states.value() == expected);
}

}  // namespace
}  // namespace heck
