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
// Stores are small sorted vectors (one or two dots is the common case; a
// DotFun keeps a single entry inline, without an allocation); DotMap's keys
// live in a SlotMap (core/slot_map.h).
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/replicated/causal_context.h"
#include "core/replicated/dot.h"
#include "core/slot_map.h"
#include "core/small_vector.h"

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
  struct Entry {
    Dot first;
    V second;
    bool operator==(const Entry&) const = default;
  };

  DotFun() : many_{} {}
  DotFun(const DotFun& o) {
    if (const Entry* e = o.one()) {
      new (&one_) Entry(*e);
    } else {
      new (&many_) Many{o.many_.more ? new std::vector<Entry>(*o.many_.more) : nullptr, 0};
    }
  }
  DotFun(DotFun&& o) noexcept { take(std::move(o)); }
  DotFun& operator=(const DotFun& o) {
    if (this != &o) {
      DotFun copy(o);
      destroy();
      take(std::move(copy));
    }
    return *this;
  }
  DotFun& operator=(DotFun&& o) noexcept {
    if (this != &o) {
      destroy();
      take(std::move(o));
    }
    return *this;
  }
  ~DotFun() { destroy(); }

  bool empty() const { return size() == 0; }
  std::size_t size() const { return one() ? 1 : many_.more ? many_.more->size() : 0; }
  bool contains(Dot d) const {
    const auto e = entries();
    auto it = std::lower_bound(e.begin(), e.end(), d, [](const Entry& x, const Dot& y) { return x.first < y; });
    return it != e.end() && it->first == d;
  }
  void insert(Dot d, V v) {
    if (empty()) {
      set_one(Entry{d, std::move(v)});
      return;
    }
    std::vector<Entry>& more = spill();
    auto it = std::lower_bound(more.begin(), more.end(), d, [](const Entry& x, const Dot& y) { return x.first < y; });
    if (it == more.end() || it->first != d) more.insert(it, Entry{d, std::move(v)});
  }
  template <typename F>
  void for_each_dot(F&& f) const {
    for (const auto& e : entries()) f(e.first);
  }
  // Sorted by dot.
  std::span<const Entry> entries() const {
    if (const Entry* e = one()) return std::span<const Entry>(e, 1);
    if (many_.more) return std::span<const Entry>(*many_.more);
    return {};
  }

  static DotFun join(const DotFun& a, const CausalContext& ca, const DotFun& b, const CausalContext& cb) {
    DotFun out;
    std::size_t i = 0, j = 0;
    const auto x = a.entries();
    const auto y = b.entries();
    while (i < x.size() || j < y.size()) {
      if (j == y.size() || (i < x.size() && x[i].first < y[j].first)) {
        if (!cb.contains(x[i].first)) out.append(x[i]);
        ++i;
      } else if (i == x.size() || y[j].first < x[i].first) {
        if (!ca.contains(y[j].first)) out.append(y[j]);
        ++j;
      } else {
        out.append(x[i]);  // a dot names one write: same value on both sides
        ++i, ++j;
      }
    }
    return out;
  }

  bool operator==(const DotFun& o) const { return std::ranges::equal(entries(), o.entries()); }

 private:
  // The entries, sorted by dot, unique dots. Most keys hold one (one
  // writer, nothing concurrent): it lives in place, so a key's store costs
  // no allocation of its own; two or more live in a vector on the heap.
  // Which of the two the union holds is told by the 8 bytes where an
  // entry's dot counter lies: a counter is never 0 (dots count from 1, and
  // the codec refuses 0), so 0 there means the vector (null: no entries).
  // A std::variant kept its index in 8 more bytes per key, in every store
  // of every agent.
  struct Many {
    std::vector<Entry>* more = nullptr;  // null: empty
    std::uint64_t zero = 0;              // where one_.first.counter lies
  };
  static_assert(std::is_standard_layout_v<Dot> && offsetof(Dot, counter) == sizeof(std::uint64_t));
  static_assert(std::is_standard_layout_v<Many> && offsetof(Many, zero) == offsetof(Dot, counter));
  const Entry* one() const {
    // Entry's first member, the dot, is at its start (and one_ at the
    // union's): the counter's bytes are read as bytes, whichever member
    // is live.
    std::uint64_t counter;
    std::memcpy(&counter, reinterpret_cast<const unsigned char*>(&many_) + offsetof(Dot, counter), sizeof counter);
    return counter != 0 ? &one_ : nullptr;
  }
  void set_one(Entry e) {
    assert(e.first.counter != 0);
    destroy();
    new (&one_) Entry(std::move(e));
  }
  // REQUIRES: e's dot above every dot held.
  void append(const Entry& e) {
    if (empty()) {
      set_one(e);
    } else {
      spill().push_back(e);
    }
  }
  // The entries as a vector (moving an inline one there).
  std::vector<Entry>& spill() {
    if (one()) {
      auto more = std::make_unique<std::vector<Entry>>();
      more->reserve(2);
      more->push_back(std::move(one_));
      one_.~Entry();
      new (&many_) Many{more.release(), 0};
    } else if (!many_.more) {
      many_.more = new std::vector<Entry>();
    }
    return *many_.more;
  }
  void destroy() {
    if (one()) {
      one_.~Entry();
    } else {
      delete many_.more;
    }
    new (&many_) Many{};
  }
  // REQUIRES: this holds nothing (destroyed or never built).
  void take(DotFun&& o) {
    if (o.one()) {
      new (&one_) Entry(std::move(o.one_));
    } else {
      new (&many_) Many{std::exchange(o.many_.more, nullptr), 0};
    }
  }

  union {
    Entry one_;
    Many many_;
  };
};

// A live-dot index: dot -> pointer to its key. Per replica, a run of
// (counter, key) slots sorted by counter, cut into leaves of at most kLeaf
// slots (the leaf level of a B-tree) found through the leaves' first
// counters: a replica's new dots have growing counters, so an insert is
// almost always an append to the last leaf; a dot that arrives out of
// counter order (a burst of one writer's deltas reordered on the way, a
// repair) goes into its leaf, O(kLeaf), splitting it in half when full. An
// erase marks the slot dead (compacted once half are dead). 16 bytes per
// live dot plus the leaves' slack (none in the leaves appends filled),
// against ~64 for a tree node. Lookups O(log n); a range of one replica's
// counters is a scan of consecutive leaves.
//
// (A run as one sorted vector, with a side vector of late dots merged
// every ~sqrt(n) of them, moved the run above the lowest late dot at each
// merge: in the main row's registration burst, whose 10,000 registry dots
// reach each agent in the order its packets arrive, 5% of the run.)
template <typename K, std::size_t kLeaf = 256>
class LiveDotIndex {
  static_assert(kLeaf >= 2 && kLeaf % 2 == 0);

 public:
  void insert(Dot d, const K* key) {
    Run& run = run_of(d.replica);
    if (run.leaves.empty() || run.last < d.counter) {
      if (run.leaves.empty() || run.leaves.back().size() == kLeaf) add_leaf(run, run.leaves.size(), Leaf{});
      run.leaves.back().push_back(Slot{d.counter, key});
      if (run.leaves.back().size() == 1) set_first(run, run.leaves.size() - 1);
      run.last = d.counter;
      ++run.slots;
      ++live_;
      return;
    }
    std::size_t i = leaf_of(run, d.counter);
    Leaf* leaf = &run.leaves[i];
    auto it = lower(*leaf, d.counter);
    if (it != leaf->end() && it->counter == d.counter) {
      if (!it->key) {
        --run.dead;
        ++live_;
      }
      it->key = key;
      return;
    }
    if (leaf->size() == kLeaf) {  // split in half: the upper half goes to a new leaf after it
      const bool upper_half = it - leaf->begin() > static_cast<std::ptrdiff_t>(kLeaf / 2);
      Leaf upper(leaf->begin() + kLeaf / 2, leaf->end());
      leaf->resize(kLeaf / 2);
      add_leaf(run, i + 1, std::move(upper));
      if (upper_half) ++i;
      leaf = &run.leaves[i];
      it = lower(*leaf, d.counter);
    }
    leaf->insert(it, Slot{d.counter, key});
    set_first(run, i);
    ++run.slots;
    ++live_;
  }
  void erase(Dot d) {
    auto rit = lower_run(d.replica);
    if (rit == order_.end() || rit->replica != d.replica) return;
    Run& run = runs_[rit->slot];
    Slot* s = find_slot(run, d.counter);
    if (!s || !s->key) return;
    s->key = nullptr;
    ++run.dead;
    --live_;
    if (run.dead == run.slots) {
      run = Run{};
      free_.push_back(rit->slot);
      order_.erase(rit);
    } else if (run.dead > 16 && run.dead * 2 > run.slots) {
      drop_dead(run);
    }
  }
  const K* find(Dot d) const {
    const Run* run = find_run(d.replica);
    if (!run) return nullptr;
    const Slot* s = find_slot(*run, d.counter);
    return s ? s->key : nullptr;
  }
  // f(key) for every live dot of `replica` with counter <= top, in counter order.
  template <typename F>
  void for_each_up_to(ReplicaId replica, std::uint64_t top, F&& f) const {
    const Run* run = find_run(replica);
    if (!run) return;
    for (const Leaf& leaf : run->leaves) {
      for (const Slot& x : leaf) {
        if (x.counter > top) return;
        if (x.key) f(x.key);
      }
    }
  }
  std::size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  // Leaves held, over every replica's run (tests).
  std::size_t leaves() const {
    std::size_t n = 0;
    for (const RunRef& r : order_) n += runs_[r.slot].leaves.size();
    return n;
  }
  void clear() {
    order_.clear();
    runs_.clear();
    free_.clear();
    live_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t counter = 0;
    const K* key = nullptr;  // nullptr: erased
  };
  using Leaf = std::vector<Slot>;  // sorted by counter; 1..kLeaf slots
  struct Run {
    std::vector<Leaf> leaves;           // by counter, none empty
    std::vector<std::uint64_t> firsts;  // each leaf's first counter, once there are two leaves or more
    // The last slot's counter (live or dead), 0 with no slot: whether a
    // dot is an append is read here, in the run, instead of through the
    // last leaf (two dependent loads of memory an agent seldom holds in
    // cache: 10% of a 1,000-agent registration, whose dots arrive at the
    // index of each of the 1,000 agents in turn).
    std::uint64_t last = 0;
    std::uint32_t slots = 0;            // in all leaves
    std::uint32_t dead = 0;             // erased slots
  };
  // The leaf where `c` is or would go: the last whose first counter is <= c
  // (the first leaf for a counter below all). REQUIRES: !run.leaves.empty().
  static std::size_t leaf_of(const Run& run, std::uint64_t c) {
    if (run.leaves.size() == 1) return 0;
    const auto it = std::upper_bound(run.firsts.begin(), run.firsts.end(), c);
    return it == run.firsts.begin() ? 0 : static_cast<std::size_t>(it - run.firsts.begin()) - 1;
  }
  // Inserts `leaf` at `at` (an empty one is given its first counter when
  // its first slot goes in).
  static void add_leaf(Run& run, std::size_t at, Leaf leaf) {
    run.leaves.insert(run.leaves.begin() + static_cast<std::ptrdiff_t>(at), std::move(leaf));
    if (run.leaves.size() < 2) return;
    if (run.firsts.empty()) {  // a second leaf: the first counters are kept from now on
      run.firsts.assign(run.leaves.size(), 0);
      for (std::size_t j = 0; j < run.leaves.size(); ++j) set_first(run, j);
    } else {
      run.firsts.insert(run.firsts.begin() + static_cast<std::ptrdiff_t>(at), 0);
      set_first(run, at);
    }
  }
  static void set_first(Run& run, std::size_t i) {
    if (!run.firsts.empty() && !run.leaves[i].empty()) run.firsts[i] = run.leaves[i].front().counter;
  }
  static Slot* find_slot(const Run& run, std::uint64_t c) {
    if (run.leaves.empty()) return nullptr;
    // A slot of this index: find() hands out only its key, never a way to write.
    auto& leaf = const_cast<Leaf&>(run.leaves[leaf_of(run, c)]);
    auto it = lower(leaf, c);
    return it != leaf.end() && it->counter == c ? &*it : nullptr;
  }
  // In place, leaf by leaf; a leaf that fits beside the one kept before it
  // joins it, and emptied leaves go. So after a compaction any two
  // neighbouring leaves hold more than kLeaf slots between them: at most
  // 2 n / kLeaf + 1 leaves for n slots, however the live dots were spread
  // (a leaf keeps its capacity: one live dot left in each of many leaves
  // would otherwise hold a leaf's 4 KB apiece, in a daemon that runs for
  // months while some targets' dots stay and others churn).
  static void drop_dead(Run& run) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < run.leaves.size(); ++i) {
      Leaf& leaf = run.leaves[i];
      std::erase_if(leaf, [](const Slot& x) { return x.key == nullptr; });
      if (leaf.empty()) continue;
      if (kept != 0 && run.leaves[kept - 1].size() + leaf.size() <= kLeaf) {
        Leaf& before = run.leaves[kept - 1];
        before.insert(before.end(), leaf.begin(), leaf.end());
        continue;
      }
      if (kept != i) run.leaves[kept] = std::move(leaf);
      ++kept;
    }
    run.leaves.resize(kept);
    run.last = kept == 0 ? 0 : run.leaves.back().back().counter;
    run.firsts.clear();
    if (kept >= 2) {
      run.firsts.resize(kept);
      for (std::size_t i = 0; i < kept; ++i) set_first(run, i);
    }
    run.slots -= run.dead;
    run.dead = 0;
  }
  static typename Leaf::iterator lower(Leaf& e, std::uint64_t c) {
    return std::lower_bound(e.begin(), e.end(), c, [](const Slot& x, std::uint64_t v) { return x.counter < v; });
  }
  struct RunRef {
    ReplicaId replica = 0;
    std::uint32_t slot = 0;  // in runs_
  };
  typename std::vector<RunRef>::iterator lower_run(ReplicaId r) const {
    auto& order = const_cast<std::vector<RunRef>&>(order_);  // an iterator, not a write
    return std::lower_bound(order.begin(), order.end(), r, [](const RunRef& x, ReplicaId v) { return x.replica < v; });
  }
  const Run* find_run(ReplicaId r) const {
    auto it = lower_run(r);
    return it != order_.end() && it->replica == r ? &runs_[it->slot] : nullptr;
  }
  Run& run_of(ReplicaId r) {
    auto it = lower_run(r);
    if (it == order_.end() || it->replica != r) {
      std::uint32_t slot;
      if (free_.empty()) {
        slot = static_cast<std::uint32_t>(runs_.size());
        runs_.emplace_back();
      } else {
        slot = free_.back();
        free_.pop_back();
      }
      it = order_.insert(it, RunRef{r, slot});
    }
    return runs_[it->slot];
  }

  // One run per replica, found through a block of (replica, slot) sorted by
  // replica: a lookup reads no scattered tree nodes, and a new replica is an
  // insert of 16 trivially copied bytes per replica after it. (The runs
  // themselves sorted in one block moved two vectors each per insert: at
  // 1,000 agents, where every agent's observation index meets each of the
  // 1,000 observers, that was 8% of the run.) A replica's run keeps its slot
  // while it has live dots; an emptied run's slot is reused.
  std::vector<RunRef> order_;
  std::vector<Run> runs_;
  std::vector<std::uint32_t> free_;  // slots of runs_ emptied
  std::size_t live_ = 0;
};

template <typename K>
class LiveDotSink {
 public:
  virtual ~LiveDotSink() = default;
  virtual void live_dot(int tag, const K& key, Dot dot, bool added) = 0;
};

// DotMap's keys and nested stores live in a SlotMap (core/slot_map.h): entries
// that never move, found by hash, in key order only where an output asks
// (entries()). It keeps, when asked to (enable_dot_index(): the replicated
// state does, deltas do not), an index from every live dot to its key, so
// that a join finds where the dots a delta removes live without scanning
// the keys.
//
// Cost of join_into(mine, delta, theirs), with n keys here (indexed):
//   O(|delta keys| + |theirs.vv| log n + |theirs.cloud| log n + m log n)
// where m is the number of our live dots that theirs' version vector covers
// (the dots the delta may remove: for a delta, a handful; for a whole state,
// everything, as a full join would). Never O(n) for a small delta: a key is
// found in O(1) expected, and nothing walks a tree.
template <typename K, typename S>
class DotMap {
 public:
  using Entries = SlotMap<K, S>;
  using Entry = typename Entries::value_type;

  DotMap() = default;
  // A copy is indexed like its source but has no live-dot sink.
  DotMap(const DotMap& o) {
    if (!o.body_) return;
    body_ = std::make_unique<Body>();
    body_->map = o.body_->map;
    if (o.indexing()) {
      tracking().indexed = true;
      rebuild_index();
    }
  }
  DotMap& operator=(const DotMap& o) {
    if (this == &o) return *this;
    const Tracking* mine = body_ ? body_->tracking.get() : nullptr;
    if (mine && mine->sink) {
      body_->map.for_each_slot([&](const Entry& e) { unindex(e); });  // tells the sink of the removals
    }
    if (!o.body_ && (!mine || (!mine->indexed && !mine->sink))) {
      body_.reset();
      return *this;
    }
    Body& me = body();
    me.map = o.view().map;
    const bool indexed = indexing() || o.indexing();
    if (me.tracking) me.tracking->index.clear();
    if (indexed) {
      tracking().indexed = true;
      rebuild_index();
    }
    return *this;
  }
  // Moving keeps the entries where they are, so the index's key pointers
  // stay valid; the source is left empty, unindexed and without a sink.
  DotMap(DotMap&& o) noexcept = default;
  DotMap& operator=(DotMap&& o) noexcept = default;

  // Keeps a dot -> key index from now on (costs one index entry per live dot).
  void enable_dot_index() {
    if (indexing()) return;
    tracking().indexed = true;
    rebuild_index();
  }
  bool dot_indexed() const { return indexing() != nullptr; }
  // A sink told of every live dot that comes or goes from now on (indexed
  // maps only), with `tag` to tell maps apart: a caller keeps a sum over the
  // live entries (the replicator's digest hashes) in O(changes). Not owned;
  // must outlive the map's use of it. A copy of the map has no sink; a move
  // carries it along.
  void set_live_sink(LiveDotSink<K>* sink, int tag) {
    Tracking& t = tracking();
    t.sink = sink;
    t.sink_tag = tag;
  }
  // Work done by join_into so far: per-key joins plus index entries visited
  // (tests pin the cost model with it).
  std::uint64_t join_work() const { return view().join_work; }
  // The key holding live dot `d` (indexed maps only), or nullptr.
  const K* key_of(Dot d) const {
    const Tracking* t = indexing();
    return t ? t->index.find(d) : nullptr;
  }

  bool empty() const { return view().map.empty(); }
  std::size_t size() const { return view().map.size(); }
  // O(1) expected. `k`: a key, or a view of one (a string_view of a Name key).
  template <typename Q>
  const S* find(const Q& k) const {
    const Entry* e = view().map.find(k);
    return e ? &e->second : nullptr;
  }
  // REQUIRES: `s` is not empty (an empty nested store is the absent key).
  void put(K k, S s) {
    Body& me = body();
    if (Entry* e = me.map.find(k)) {
      S old = std::exchange(e->second, std::move(s));
      reindex(*e, old);
    } else {
      index(*me.map.insert(std::move(k), std::move(s)));
    }
  }
  template <typename Q>
  void erase(const Q& k) {
    if (!body_) return;
    if (const Entry* e = body_->map.find(k)) remove(*e);
  }
  // f(key) for every key, in no particular order.
  template <typename F>
  void for_each_key(F&& f) const {
    view().map.for_each_slot([&](const Entry& e) { f(e.first); });
  }
  // f(key, embedded store) for every key, in no particular order: for a
  // pass whose result no order changes (entries() sorts the keys first,
  // O(n log n) once the keys changed).
  template <typename F>
  void for_each_entry(F&& f) const {
    view().map.for_each_slot([&](const Entry& e) { f(e.first, e.second); });
  }
  // f(dot) for every live dot, in no particular order.
  template <typename F>
  void for_each_dot(F&& f) const {
    view().map.for_each_slot([&](const Entry& e) { e.second.for_each_dot(f); });
  }
  // The entries in key order (built on demand after keys came or went:
  // O(n log n) then, O(1) after). For outputs: encodings and listings.
  typename Entries::Ordered entries() const { return view().map.ordered(); }

  static DotMap join(const DotMap& a, const CausalContext& ca, const DotMap& b, const CausalContext& cb) {
    static const S kEmpty{};
    DotMap out;
    const auto ea = a.entries();
    const auto eb = b.entries();
    auto ia = ea.begin();
    auto ib = eb.begin();
    while (ia != ea.end() || ib != eb.end()) {
      S joined;
      const K* key;
      if (ib == eb.end() || (ia != ea.end() && ia->first < ib->first)) {
        key = &ia->first;
        joined = S::join(ia->second, ca, kEmpty, cb);
        ++ia;
      } else if (ia == ea.end() || ib->first < ia->first) {
        key = &ib->first;
        joined = S::join(kEmpty, ca, ib->second, cb);
        ++ib;
      } else {
        key = &ia->first;
        joined = S::join(ia->second, ca, ib->second, cb);
        ++ia, ++ib;
      }
      if (!joined.empty()) out.body().map.insert(*key, std::move(joined));
    }
    return out;
  }

  // In place: *this = join(*this, mine, other, theirs), touching only the
  // keys that can change: other's keys, and the keys holding live dots of
  // ours that `theirs` has seen (found through the dot index; an unindexed
  // map scans its keys for them, O(n)). The keys whose store changed are
  // appended to `changed` (when not null), in key order, each once.
  // REQUIRES: `mine` is this store's context. Returns whether the store changed.
  bool join_into(const CausalContext& mine, const DotMap& other, const CausalContext& theirs,
                 std::vector<K>* changed = nullptr) {
    static const S kEmpty{};
    // Nothing here and nothing there: the join is empty, and this map keeps
    // no body (a delta's untouched stores stay 8 bytes).
    if (!body_ && other.empty()) return false;
    Body& me = body();
    const Entries& their_map = other.view().map;
    // Each of other's keys is found here once: its entry (or null) is
    // joined below, and the touched-key search tells our keys that other
    // holds by their entries' addresses, not by hashing a key again (a
    // find reads a cold node: most of a join's cost at 200 agents).
    struct Pair {
      const Entry* theirs;
      Entry* ours;
    };
    std::vector<Pair> pairs;
    pairs.reserve(their_map.size());
    // A delta's keys are mostly cold here (a registration burst brings
    // keys this map has never held): their table slots are loaded all at
    // once before the finds below read them one by one.
    if (their_map.size() > 1) their_map.for_each_slot([&](const Entry& e) { me.map.prefetch(e.first); });
    std::vector<const K*> shared;  // our keys that other holds, sorted by address
    their_map.for_each_slot([&](const Entry& e) {
      Entry* ours = me.map.find(e.first);
      pairs.push_back(Pair{&e, ours});
      if (ours) shared.push_back(&ours->first);
    });
    std::sort(shared.begin(), shared.end(), std::less<const K*>{});
    std::vector<const K*> touched;  // keys outside other's store that lose a dot
    if (const Tracking* t = indexing()) {
      auto consider = [&](const K* k) {
        if (!std::binary_search(shared.begin(), shared.end(), k, std::less<const K*>{})) touched.push_back(k);
      };
      for (const auto& [r, top] : theirs.vv()) {
        t->index.for_each_up_to(r, top, [&](const K* k) {
          ++me.join_work;
          consider(k);
        });
      }
      // A cloud dot of other's own entries, or of ours at a key other holds,
      // can only be held here at a key of other's (a dot names one write at
      // one key), which the pairs settle: only the rest are looked up. A
      // delta's cloud is mostly such dots (the dots it writes and those they
      // replace), and each lookup reads cold index leaves.
      SmallVector<Dot, 16> settled;
      if (!theirs.cloud().empty()) {
        for (const Pair& p : pairs) {
          p.theirs->second.for_each_dot([&](Dot d) { settled.push_back(d); });
          if (p.ours) p.ours->second.for_each_dot([&](Dot d) { settled.push_back(d); });
        }
        std::sort(settled.begin(), settled.end());
      }
      for (const Dot& d : theirs.cloud()) {
        ++me.join_work;
        if (std::binary_search(settled.begin(), settled.end(), d)) continue;
        if (const K* k = t->index.find(d)) consider(k);
      }
    } else {
      me.map.for_each_slot([&](const Entry& e) {
        ++me.join_work;
        if (their_map.contains(e.first)) return;
        bool hit = false;
        e.second.for_each_dot([&](Dot d) { hit = hit || theirs.contains(d); });
        if (hit) touched.push_back(&e.first);
      });
    }
    std::sort(touched.begin(), touched.end(), [](const K* a, const K* b) { return *a < *b; });
    touched.erase(std::unique(touched.begin(), touched.end(), [](const K* a, const K* b) { return *a == *b; }),
                  touched.end());

    bool any = false;
    std::vector<K> changed_keys;
    auto settle = [&](Entry* e, const K& k, S joined) {
      ++me.join_work;
      // `e` is k's entry here or null.
      if (joined.empty()) {
        if (!e) return;
        remove(*e);
      } else if (e) {
        if (joined == e->second) return;
        S old = std::exchange(e->second, std::move(joined));
        reindex(*e, old);
      } else {
        index(*me.map.insert(k, std::move(joined)));
      }
      any = true;
      if (changed) changed_keys.push_back(k);
    };
    // An entry found above stays where it is until its own key is settled:
    // entries never move, and each key of other's is settled once.
    for (const Pair& p : pairs) {
      settle(p.ours, p.theirs->first, S::join(p.ours ? p.ours->second : kEmpty, mine, p.theirs->second, theirs));
    }
    for (const K* kp : touched) {
      const K k = *kp;  // kp points into the map, which settle() may erase
      Entry* e = me.map.find(k);
      settle(e, k, S::join(e->second, mine, kEmpty, theirs));
    }
    if (changed && !changed_keys.empty()) {
      std::sort(changed_keys.begin(), changed_keys.end());
      for (K& k : changed_keys) changed->push_back(std::move(k));
    }
    return any;
  }

  bool operator==(const DotMap& o) const { return view().map == o.view().map; }

  // True when the dot index holds exactly the live dots, each under its key
  // (tests; O(n)).
  bool index_consistent() const {
    const Body& me = view();
    const Tracking* t = me.tracking.get();
    if (!t || !t->indexed) return !t || t->index.empty();
    std::size_t dots = 0;
    bool ok = true;
    me.map.for_each_slot([&](const Entry& entry) {
      const K* key = &entry.first;
      ok = ok && me.map.find(entry.first) == &entry;
      entry.second.for_each_dot([&](Dot d) {
        ++dots;
        ok = ok && t->index.find(d) == key;
      });
    });
    return ok && dots == t->index.size();
  }

 private:
  // Everything but the pointer to it: a map that is empty, unindexed and
  // without a sink has none (a delta's untouched stores: a HealthDelta of
  // seven stores was 1.7 KB before its entries, and a gossip-mode
  // forwarder holds thousands of joined ones).
  // The live-dot index and sink, behind a pointer of their own: only a
  // state's stores have them, never a delta's (40 bytes a delta's store).
  struct Tracking {
    LiveDotIndex<K> index;  // live dot -> its key (only when indexed)
    LiveDotSink<K>* sink = nullptr;  // not owned
    int sink_tag = 0;
    bool indexed = false;
  };
  struct Body {
    Entries map;
    std::unique_ptr<Tracking> tracking;  // null: unindexed, no sink
    std::uint64_t join_work = 0;
  };
  const Body& view() const {
    if (body_) return *body_;
    static const Body kNone;  // its guard is read on this path only
    return kNone;
  }
  Body& body() {
    if (!body_) body_ = std::make_unique<Body>();
    return *body_;
  }
  Tracking& tracking() {
    Body& b = body();
    if (!b.tracking) b.tracking = std::make_unique<Tracking>();
    return *b.tracking;
  }
  // The tracking of an indexed map, else null.
  Tracking* indexing() { return const_cast<Tracking*>(std::as_const(*this).indexing()); }
  const Tracking* indexing() const {
    const Tracking* t = body_ ? body_->tracking.get() : nullptr;
    return t && t->indexed ? t : nullptr;
  }

  // The helpers below run on a map with a body.
  void remove(const Entry& e) {
    unindex(e);
    body_->map.erase(e.first);
  }
  void index(const Entry& e) {
    Tracking* t = indexing();
    if (!t) return;
    const K* k = &e.first;
    e.second.for_each_dot([&](Dot d) {
      t->index.insert(d, k);
      if (t->sink) t->sink->live_dot(t->sink_tag, *k, d, true);
    });
  }
  // After `e`'s store replaced `old`: indexes the dots it gained, then
  // unindexes those it lost (a sink never sees the key's count touch zero
  // while the key stays; dots kept are not touched).
  void reindex(const Entry& e, const S& old) {
    Tracking* t = indexing();
    if (!t) return;
    const K* k = &e.first;
    e.second.for_each_dot([&](Dot d) {
      if (old.contains(d)) return;
      t->index.insert(d, k);
      if (t->sink) t->sink->live_dot(t->sink_tag, *k, d, true);
    });
    old.for_each_dot([&](Dot d) {
      if (e.second.contains(d)) return;
      t->index.erase(d);
      if (t->sink) t->sink->live_dot(t->sink_tag, *k, d, false);
    });
  }
  void unindex(const Entry& e) {
    Tracking* t = indexing();
    if (!t) return;
    e.second.for_each_dot([&](Dot d) {
      t->index.erase(d);
      if (t->sink) t->sink->live_dot(t->sink_tag, e.first, d, false);
    });
  }
  // REQUIRES: indexed.
  void rebuild_index() {
    indexing()->index.clear();
    body_->map.for_each_slot([&](const Entry& e) { index(e); });
  }

  std::unique_ptr<Body> body_;
};

// A causal CRDT state or delta: a dot store and the dots it has seen.
template <typename S>
struct Causal {
  S store;
  CausalContext context;

  // Returns whether anything changed (the store, or the context grew).
  bool join(const Causal& other) {
    // The store joins against the context as it was; then the context grows.
    bool changed = false;
    if constexpr (requires { store.join_into(context, other.store, other.context); }) {
      changed = store.join_into(context, other.store, other.context);
    } else {
      S joined = S::join(store, context, other.store, other.context);
      changed = !(joined == store);
      store = std::move(joined);
    }
    return context.join(other.context) || changed;
  }
  bool operator==(const Causal&) const = default;
};

// Causal::join for dot maps, appending the keys whose store changed to
// `changed` (DotMap::join_into).
template <typename K, typename S>
bool join_tracking_keys(Causal<DotMap<K, S>>& state, const Causal<DotMap<K, S>>& delta, std::vector<K>* changed) {
  // The store joins against the context as it was; then the context grows.
  const bool stored = state.store.join_into(state.context, delta.store, delta.context, changed);
  const bool grew = state.context.join(delta.context);
  return grew || stored;
}

// The dots of a store, as a context (what a mutator's delta covers).
template <typename S>
CausalContext context_of(const S& store) {
  CausalContext c;
  store.for_each_dot([&](Dot d) { c.insert(d); });
  return c;
}

}  // namespace heck
