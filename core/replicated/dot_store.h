// Dot stores and their causal join (Almeida et al. 2018, §4.2–4.3).
//
// A causal CRDT is a pair (store, context). A dot in the context but not in the
// store was seen and then removed (or superseded); that is how removals need no
// tombstones. Joining (s, c) with (s', c') keeps a dot that both stores have,
// or that one store has and the other context has never seen:
//
//   s ⊔ s' = (s ∩ s') ∪ (s \ c') ∪ (s' \ c),      c ⊔ c' = c ∪ c'
//
// DotSet      — a set of dots (presence: add-wins sets, map keys)
// DotFun<V>   — dots mapped to immutable values (multi-value registers,
//               causal counters); both sides agree on a common dot's value
// DotMap<K,S> — keys mapped to nested dot stores, joined per key; a key whose
//               store becomes empty disappears
//
// Stores are small sorted vectors (one or two dots is the common case).
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <utility>
#include <vector>

#include "core/replicated/causal_context.h"
#include "core/replicated/dot.h"

namespace heck {

class DotSet {
 public:
  DotSet() = default;
  explicit DotSet(Dot d) : dots_{d} {}

  bool empty() const { return dots_.empty(); }
  std::size_t size() const { return dots_.size(); }
  bool contains(Dot d) const { return std::binary_search(dots_.begin(), dots_.end(), d); }
  void insert(Dot d) {
    auto it = std::lower_bound(dots_.begin(), dots_.end(), d);
    if (it == dots_.end() || *it != d) dots_.insert(it, d);
  }
  template <typename F>
  void for_each_dot(F&& f) const {
    for (const Dot& d : dots_) f(d);
  }
  const std::vector<Dot>& dots() const { return dots_; }

  static DotSet join(const DotSet& a, const CausalContext& ca, const DotSet& b, const CausalContext& cb) {
    DotSet out;
    std::size_t i = 0, j = 0;
    while (i < a.dots_.size() || j < b.dots_.size()) {
      if (j == b.dots_.size() || (i < a.dots_.size() && a.dots_[i] < b.dots_[j])) {
        if (!cb.contains(a.dots_[i])) out.dots_.push_back(a.dots_[i]);
        ++i;
      } else if (i == a.dots_.size() || b.dots_[j] < a.dots_[i]) {
        if (!ca.contains(b.dots_[j])) out.dots_.push_back(b.dots_[j]);
        ++j;
      } else {
        out.dots_.push_back(a.dots_[i]);
        ++i, ++j;
      }
    }
    return out;
  }

  bool operator==(const DotSet&) const = default;

 private:
  std::vector<Dot> dots_;  // sorted, unique
};

template <typename V>
class DotFun {
 public:
  using Entry = std::pair<Dot, V>;

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  void insert(Dot d, V v) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), d,
                               [](const Entry& e, const Dot& x) { return e.first < x; });
    if (it == entries_.end() || it->first != d) entries_.insert(it, Entry{d, std::move(v)});
  }
  template <typename F>
  void for_each_dot(F&& f) const {
    for (const auto& e : entries_) f(e.first);
  }
  const std::vector<Entry>& entries() const { return entries_; }

  static DotFun join(const DotFun& a, const CausalContext& ca, const DotFun& b, const CausalContext& cb) {
    DotFun out;
    std::size_t i = 0, j = 0;
    const auto& x = a.entries_;
    const auto& y = b.entries_;
    while (i < x.size() || j < y.size()) {
      if (j == y.size() || (i < x.size() && x[i].first < y[j].first)) {
        if (!cb.contains(x[i].first)) out.entries_.push_back(x[i]);
        ++i;
      } else if (i == x.size() || y[j].first < x[i].first) {
        if (!ca.contains(y[j].first)) out.entries_.push_back(y[j]);
        ++j;
      } else {
        out.entries_.push_back(x[i]);  // a dot names one write: same value on both sides
        ++i, ++j;
      }
    }
    return out;
  }

  bool operator==(const DotFun&) const = default;

 private:
  std::vector<Entry> entries_;  // sorted by dot, unique dots
};

template <typename K, typename S>
class DotMap {
 public:
  bool empty() const { return map_.empty(); }
  std::size_t size() const { return map_.size(); }
  const S* find(const K& k) const {
    auto it = map_.find(k);
    return it == map_.end() ? nullptr : &it->second;
  }
  // REQUIRES: `s` is not empty (an empty nested store is the absent key).
  void put(K k, S s) { map_.insert_or_assign(std::move(k), std::move(s)); }
  void erase(const K& k) { map_.erase(k); }
  template <typename F>
  void for_each_dot(F&& f) const {
    for (const auto& [k, s] : map_) s.for_each_dot(f);
  }
  const std::map<K, S>& entries() const { return map_; }

  static DotMap join(const DotMap& a, const CausalContext& ca, const DotMap& b, const CausalContext& cb) {
    static const S kEmpty{};
    DotMap out;
    auto ia = a.map_.begin();
    auto ib = b.map_.begin();
    while (ia != a.map_.end() || ib != b.map_.end()) {
      S joined;
      const K* key;
      if (ib == b.map_.end() || (ia != a.map_.end() && ia->first < ib->first)) {
        key = &ia->first;
        joined = S::join(ia->second, ca, kEmpty, cb);
        ++ia;
      } else if (ia == a.map_.end() || ib->first < ia->first) {
        key = &ib->first;
        joined = S::join(kEmpty, ca, ib->second, cb);
        ++ib;
      } else {
        key = &ia->first;
        joined = S::join(ia->second, ca, ib->second, cb);
        ++ia, ++ib;
      }
      if (!joined.empty()) out.map_.emplace_hint(out.map_.end(), *key, std::move(joined));
    }
    return out;
  }

  // In place: *this = join(*this, mine, other, theirs), touching only what
  // changes. Keys of `other` are joined one by one (O(k log n)); a context
  // dot of `theirs` that is outside other's store and that we may hold live
  // (it is in `mine`) but was not found under other's keys costs one scan of
  // our keys (no copies). A large `theirs` (a state, not a delta) falls back
  // to the full join. REQUIRES: `mine` is this store's context.
  // Returns whether the store changed.
  bool join_into(const CausalContext& mine, const DotMap& other, const CausalContext& theirs) {
    static const S kEmpty{};
    constexpr std::size_t kSmallContext = 256;
    if (theirs.vv().size() + theirs.cloud().size() > kSmallContext ||
        std::any_of(theirs.vv().begin(), theirs.vv().end(), [](const auto& e) { return e.second > kSmallContext; })) {
      DotMap joined = join(*this, mine, other, theirs);
      const bool changed = !(joined == *this);
      *this = std::move(joined);
      return changed;
    }
    bool changed = false;
    // Removal candidates: dots `theirs` has seen, not in other's store, that we have seen too.
    std::vector<Dot> removed;
    for (const Dot& d : theirs.all_dots()) {
      if (mine.contains(d)) removed.push_back(d);
    }
    std::vector<Dot> kept;  // other's store dots
    other.for_each_dot([&](Dot d) { kept.push_back(d); });
    std::sort(kept.begin(), kept.end());
    std::erase_if(removed, [&](Dot d) { return std::binary_search(kept.begin(), kept.end(), d); });
    std::size_t unaccounted = removed.size();
    auto account = [&](const S& s) {
      s.for_each_dot([&](Dot d) {
        if (unaccounted > 0 && std::binary_search(removed.begin(), removed.end(), d)) --unaccounted;
      });
    };
    for (const auto& [k, theirs_k] : other.map_) {
      auto it = map_.find(k);
      if (it != map_.end()) account(it->second);
      S joined = S::join(it == map_.end() ? kEmpty : it->second, mine, theirs_k, theirs);
      if (joined.empty()) {
        if (it != map_.end()) {
          map_.erase(it);
          changed = true;
        }
      } else if (it != map_.end()) {
        if (!(joined == it->second)) {
          it->second = std::move(joined);
          changed = true;
        }
      } else {
        map_.emplace(k, std::move(joined));
        changed = true;
      }
    }
    if (unaccounted == 0) return changed;
    for (auto it = map_.begin(); it != map_.end();) {
      if (other.map_.contains(it->first)) {
        ++it;
        continue;
      }
      std::size_t hits = 0;
      it->second.for_each_dot([&](Dot d) { hits += std::binary_search(removed.begin(), removed.end(), d) ? 1 : 0; });
      if (hits == 0) {
        ++it;
        continue;
      }
      S joined = S::join(it->second, mine, kEmpty, theirs);
      changed = true;  // a dot of it was removed
      if (joined.empty()) {
        it = map_.erase(it);
      } else {
        it->second = std::move(joined);
        ++it;
      }
      unaccounted -= std::min(unaccounted, hits);
      if (unaccounted == 0) return true;
    }
    return changed;
  }

  bool operator==(const DotMap&) const = default;

 private:
  std::map<K, S> map_;
};

// A causal CRDT state or delta: a dot store and the dots it has seen.
template <typename S>
struct Causal {
  S store;
  CausalContext context;

  // Returns whether anything changed (the store, or the context grew).
  bool join(const Causal& other) {
    bool changed = !context.includes(other.context);
    if constexpr (requires { store.join_into(context, other.store, other.context); }) {
      changed = store.join_into(context, other.store, other.context) || changed;
    } else {
      S joined = S::join(store, context, other.store, other.context);
      changed = changed || !(joined == store);
      store = std::move(joined);
    }
    if (changed) context.join(other.context);
    return changed;
  }
  bool operator==(const Causal&) const = default;
};

// The dots of a store, as a context (what a mutator's delta covers).
template <typename S>
CausalContext context_of(const S& store) {
  CausalContext c;
  store.for_each_dot([&](Dot d) { c.insert(d); });
  return c;
}

}  // namespace heck
