// SlotMap: a key -> value map laid out for 10^4-10^5 keys per agent: the
// storage under every replicated store (DotMap, replicated/dot_store.h) and
// the per-target id indexes (ownership, scheduler).
//
// - Entries live in slots of a chunked arena: an entry never moves while its
//   key is held, so pointers to a key or value stay valid (the live-dot
//   index and the digest index point at keys). An erased slot is reused by
//   the next insert (last freed, first reused: deterministic). A slot's
//   storage stays until clear() or the map's end (a move carries it along):
//   a pointer to an erased entry reads a default value_type, or the entry
//   that reused the slot, never freed memory.
// - A key is found through an open-addressing hash table of (tag, slot):
//   8 bytes a slot, at most 3/4 full, one or two cache lines a lookup, no
//   tree walk over cold nodes. O(1) expected insert, find and erase.
// - Key order is kept only where an output needs it: ordered() builds the
//   sorted list of entries on demand and keeps it until a key comes or goes
//   (a value change keeps it). Hot paths (joins) use for_each_slot(), in
//   slot order; slot order is a function of the operations applied, so it
//   is deterministic too, but nothing reaches an output in that order.
//
// Memory per key: one Node (the pair alone, no allocator header; which
// slots hold an entry is a bit per slot at the head of each chunk, where a
// flag in the node cost 8 bytes of padding in every map of every agent),
// 11-21 bytes of hash table (8-byte slots, 3/8 to 3/4 full; a one-key map's
// table is 2 slots), and 8 bytes in the ordered list once built.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <iterator>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/name_table.h"
#include "core/open_addressing.h"

namespace heck {

// An open-addressing hash index from keys to 32-bit slot numbers; the keys
// themselves live elsewhere (key_at(slot) reads one). Linear probing with
// backward-shift deletion (no tombstones); 8 bytes a slot, at most 3/4 full.
class KeyLookup {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  void clear() {
    slots_.clear();
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }
  // The slot holding a key equal to `k` (whose hash is `h`), or kNone.
  template <typename K, typename KeyAt>
  std::uint32_t find(std::uint64_t h, const K& k, const KeyAt& key_at) const {
    if (slots_.empty()) return kNone;
    const std::uint32_t t = tag(h);
    for (std::size_t i = t & mask(); slots_[i].tag != 0; i = (i + 1) & mask()) {
      if (slots_[i].tag == t && key_at(slots_[i].slot) == k) return slots_[i].slot;
    }
    return kNone;
  }
  // Starts loading the table slot where a key hashing to `h` is probed
  // from: a hint, with no effect on any result. A caller about to look up
  // several keys issues them all first, so their cache misses overlap
  // instead of following one another.
  void prefetch(std::uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[tag(h) & mask()]);
  }
  // REQUIRES: no key equal to slot's is indexed yet; `rehash(slot)` gives
  // the hash of the key in any indexed slot (used when the table grows).
  template <typename Rehash>
  void insert(std::uint64_t h, std::uint32_t slot, const Rehash& rehash) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow(rehash);
    place(Slot{tag(h), slot});
    ++size_;
  }
  // Removes the entry for `slot` (whose key hashes to `h`), if indexed.
  void erase(std::uint64_t h, std::uint32_t slot) {
    if (slots_.empty()) return;
    const std::uint32_t t = tag(h);
    std::size_t i = t & mask();
    for (;; i = (i + 1) & mask()) {
      if (slots_[i].tag == 0) return;
      if (slots_[i].tag == t && slots_[i].slot == slot) break;
    }
    const std::size_t hole = backward_shift(
        slots_, i, [](const Slot& s) { return s.tag != 0; }, [](const Slot& s) { return s.tag; });
    slots_[hole] = Slot{};
    --size_;
  }

  // A key's hash. Text hashes with text_hash (core/name_table.h), so a
  // std::string or Name key is found by a view, and a Name's (or a NameRef
  // to one) is the one it carries (no pass over the text); anything else
  // with std::hash, mixed
  // (std::hash of an integer is the identity).
  template <typename K>
  static std::uint64_t hash_of(const K& k) {
    if constexpr (std::is_same_v<K, Name> || std::is_same_v<K, NameRef>) {
      return k.hash();
    } else if constexpr (std::is_convertible_v<const K&, std::string_view>) {
      return text_hash(std::string_view(k));
    } else {
      auto h = static_cast<std::uint64_t>(std::hash<K>{}(k));
      h ^= h >> 33;
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 33;
      return h;
    }
  }

 private:
  struct Slot {
    std::uint32_t tag = 0;  // 32 bits of the key's hash with the top bit set; 0 = empty
    std::uint32_t slot = 0;
  };
  static std::uint32_t tag(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32) | 0x80000000u; }
  std::size_t mask() const { return slots_.size() - 1; }
  void place(Slot s) {
    std::size_t i = s.tag & mask();
    while (slots_[i].tag != 0) i = (i + 1) & mask();
    slots_[i] = s;
  }
  template <typename Rehash>
  void grow(const Rehash& rehash) {
    std::vector<Slot> old = std::move(slots_);
    // From 2 slots: most maps in flight hold one key (a delta's store), and
    // a gossip-mode forwarder buffers thousands of them.
    slots_.assign(old.empty() ? 2 : old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (s.tag != 0) place(Slot{tag(rehash(s.slot)), s.slot});
    }
  }

  std::vector<Slot> slots_;  // power-of-two size
  std::size_t size_ = 0;
};

// The default hash of a SlotMap key: KeyLookup::hash_of (std::hash, mixed).
struct SlotMapHash {
  template <typename Q>
  std::uint64_t operator()(const Q& k) const { return KeyLookup::hash_of(k); }
};

// Hash: a callable giving a well-mixed 64-bit hash of a key (or of a view
// of one: a string key is found by a string_view), equal for equal keys.
template <typename K, typename V, typename Hash = SlotMapHash>
class SlotMap {
 public:
  using value_type = std::pair<K, V>;

  SlotMap() = default;
  // A copy holds the same entries, inserted in its source's slot order (so
  // without the source's holes).
  SlotMap(const SlotMap& o) { copy_from(o); }
  SlotMap& operator=(const SlotMap& o) {
    if (this != &o) {
      clear();
      copy_from(o);
    }
    return *this;
  }
  SlotMap(SlotMap&& o) noexcept { swap(o); }
  SlotMap& operator=(SlotMap&& o) noexcept {
    if (this != &o) {
      clear();
      swap(o);
    }
    return *this;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  void clear() {
    chunks_.clear();
    used_ = 0;
    size_ = 0;
    free_.clear();
    lookup_.clear();
    order_.clear();
    order_valid_ = true;
  }

  // The entry holding `k` (a key, or for string keys a string_view), or
  // nullptr. O(1) expected.
  template <typename Q = K>
  value_type* find(const Q& k) { return const_cast<value_type*>(std::as_const(*this).find(k)); }
  template <typename Q = K>
  const value_type* find(const Q& k) const {
    const std::uint32_t s = lookup_.find(Hash{}(k), k, [&](std::uint32_t x) -> const K& {
      return node(x).kv.first;
    });
    return s == KeyLookup::kNone ? nullptr : &node(s).kv;
  }
  template <typename Q = K>
  bool contains(const Q& k) const { return find(k) != nullptr; }
  // KeyLookup::prefetch for `k`: a hint before a batch of finds.
  template <typename Q = K>
  void prefetch(const Q& k) const {
    lookup_.prefetch(Hash{}(k));
  }
  // Inserts (k, v). REQUIRES: `k` is not held. The entry stays where it is
  // until erased.
  value_type* insert(K k, V v) {
    std::uint32_t s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
    } else {
      s = static_cast<std::uint32_t>(used_++);
      if (s >= capacity()) add_chunk();
    }
    Node& n = node(s);
    n.kv.first = std::move(k);
    n.kv.second = std::move(v);
    set_live(s, true);
    lookup_.insert(Hash{}(n.kv.first), s, [&](std::uint32_t x) { return Hash{}(node(x).kv.first); });
    ++size_;
    invalidate_order();
    return &n.kv;
  }
  // Erases `k`'s entry, if any. O(1) expected.
  template <typename Q = K>
  void erase(const Q& k) {
    const std::uint64_t h = Hash{}(k);
    const std::uint32_t s = lookup_.find(h, k, [&](std::uint32_t x) -> const K& { return node(x).kv.first; });
    if (s != KeyLookup::kNone) erase_slot(h, s);
  }
  // Erases every entry e with pred(e), visited in slot order; returns how
  // many. O(n).
  template <typename P>
  std::size_t erase_if(P&& pred) {
    std::size_t erased = 0;
    for_each_live([&](std::uint32_t s, Node& n) {
      if (!pred(std::as_const(n.kv))) return;
      erase_slot(Hash{}(n.kv.first), s);
      ++erased;
    });
    return erased;
  }

  // f(entry) for every entry, in slot order (no order reaches an output).
  template <typename F>
  void for_each_slot(F&& f) const {
    const_cast<SlotMap*>(this)->for_each_live([&](std::uint32_t, const Node& n) { f(n.kv); });
  }
  template <typename F>
  void for_each_slot(F&& f) {
    for_each_live([&](std::uint32_t, Node& n) { f(n.kv); });
  }

  // The entries in key order: a random-access range of const value_type&.
  // Built on the first call after a key came or went (O(n log n)), then
  // O(1). Invalidated by the next insert or erase.
  class Ordered {
   public:
    class iterator {
     public:
      using iterator_category = std::random_access_iterator_tag;
      using value_type = SlotMap::value_type;
      using difference_type = std::ptrdiff_t;
      using pointer = const value_type*;
      using reference = const value_type&;
      iterator() = default;
      explicit iterator(const value_type* const* p) : p_(p) {}
      reference operator*() const { return **p_; }
      pointer operator->() const { return *p_; }
      reference operator[](difference_type n) const { return *p_[n]; }
      iterator& operator++() { ++p_; return *this; }
      iterator operator++(int) { auto t = *this; ++p_; return t; }
      iterator& operator--() { --p_; return *this; }
      iterator operator--(int) { auto t = *this; --p_; return t; }
      iterator& operator+=(difference_type n) { p_ += n; return *this; }
      iterator& operator-=(difference_type n) { p_ -= n; return *this; }
      friend iterator operator+(iterator a, difference_type n) { return a += n; }
      friend iterator operator+(difference_type n, iterator a) { return a += n; }
      friend iterator operator-(iterator a, difference_type n) { return a -= n; }
      friend difference_type operator-(iterator a, iterator b) { return a.p_ - b.p_; }
      friend bool operator==(iterator a, iterator b) { return a.p_ == b.p_; }
      friend auto operator<=>(iterator a, iterator b) { return a.p_ <=> b.p_; }

     private:
      const value_type* const* p_ = nullptr;
    };
    using const_iterator = iterator;

    explicit Ordered(const std::vector<const value_type*>& v) : v_(&v) {}
    iterator begin() const { return iterator(v_->data()); }
    iterator end() const { return iterator(v_->data() + v_->size()); }
    std::size_t size() const { return v_->size(); }
    bool empty() const { return v_->empty(); }
    // The first entry whose key is not less than `k`.
    template <typename Q>
    iterator lower_bound(const Q& k) const {
      return std::lower_bound(begin(), end(), k, [](const value_type& e, const Q& x) { return e.first < x; });
    }

   private:
    const std::vector<const value_type*>* v_;
  };
  Ordered ordered() const {
    if (!order_valid_) {
      order_.clear();
      order_.reserve(size_);
      for_each_slot([&](const value_type& e) { order_.push_back(&e); });
      std::sort(order_.begin(), order_.end(), [](const value_type* a, const value_type* b) { return a->first < b->first; });
      order_valid_ = true;
    }
    return Ordered(order_);
  }

  // Equal keys with equal values (any slots). O(n) expected.
  bool operator==(const SlotMap& o) const {
    if (size_ != o.size_) return false;
    bool eq = true;
    for_each_slot([&](const value_type& e) {
      if (!eq) return;
      const value_type* x = o.find(e.first);
      eq = x && x->second == e.second;
    });
    return eq;
  }

  // Bytes held beyond sizeof(*this) (tests).
  std::size_t heap_bytes() const {
    return capacity() * sizeof(Node) + (capacity() + 63) / 64 * 8 + chunks_.capacity() * sizeof(Chunk) +
           lookup_.capacity() * 8 +
           free_.capacity() * 4 + order_.capacity() * sizeof(void*);
  }

 private:
  struct Node {
    value_type kv{};
  };
  // One allocation: a bit per slot (set: it holds an entry), a word per 64
  // slots, then the slots' nodes.
  class Chunk {
   public:
    explicit Chunk(std::size_t n) : n_(n) {
      // Here, not at class scope: the value type may be a nested type of a
      // class still being defined there.
      static_assert(alignof(Node) <= 8, "a chunk's nodes follow its 8-byte bit words");
      mem_ = static_cast<std::byte*>(::operator new(words(n) * 8 + n * sizeof(Node)));
      std::memset(mem_, 0, words(n) * 8);
      std::size_t i = 0;
      try {
        for (; i < n; ++i) new (nodes() + i) Node();
      } catch (...) {
        destroy(i);
        throw;
      }
    }
    Chunk(Chunk&& o) noexcept : mem_(std::exchange(o.mem_, nullptr)), n_(o.n_) {}
    Chunk& operator=(Chunk&& o) noexcept {
      if (this != &o) {
        destroy(n_);
        mem_ = std::exchange(o.mem_, nullptr);
        n_ = o.n_;
      }
      return *this;
    }
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;
    ~Chunk() { destroy(n_); }

    std::uint64_t* bits() const { return reinterpret_cast<std::uint64_t*>(mem_); }
    Node* nodes() const { return std::launder(reinterpret_cast<Node*>(mem_ + words(n_) * 8)); }

   private:
    static std::size_t words(std::size_t n) { return (n + 63) / 64; }
    // Ends the first `built` nodes and frees the block.
    void destroy(std::size_t built) {
      if (!mem_) return;
      for (std::size_t i = 0; i < built; ++i) nodes()[i].~Node();
      ::operator delete(mem_);
      mem_ = nullptr;
    }

    std::byte* mem_ = nullptr;
    std::size_t n_ = 0;
  };
  // Chunk c holds 1 << c slots up to 1,024, then 1,024 each: a small map
  // costs no more than twice its entries (a one-key delta, the most common
  // map there is, one slot: 8-slot first chunks were most of the memory of
  // a gossip-mode cluster's delta buffers), a large one wastes at most one
  // chunk.
  static constexpr std::size_t kFirstShift = 0;   // 1 slot
  static constexpr std::size_t kLastShift = 10;   // 1024 slots
  static constexpr std::size_t kGeometric = kLastShift - kFirstShift;  // chunks before the flat ones
  static constexpr std::size_t kGeometricSlots = (std::size_t{1} << kLastShift) - (std::size_t{1} << kFirstShift);
  static std::size_t chunk_size(std::size_t c) {
    return std::size_t{1} << (kFirstShift + std::min(c, kGeometric));
  }
  // The first slot of chunk c (so chunk_start(chunks) is the capacity).
  static std::size_t chunk_start(std::size_t c) {
    if (c <= kGeometric) return (std::size_t{1} << (kFirstShift + c)) - (std::size_t{1} << kFirstShift);
    return kGeometricSlots + (c - kGeometric) * (std::size_t{1} << kLastShift);
  }
  std::size_t capacity() const { return chunk_start(chunks_.size()); }
  void add_chunk() { chunks_.emplace_back(chunk_size(chunks_.size())); }
  // Slot s's chunk and its place there.
  static std::pair<std::size_t, std::size_t> place(std::uint32_t s) {
    if (s < kGeometricSlots) {
      // Chunk c starts at 2^kFirstShift * (2^c - 1).
      const std::size_t c = std::bit_width((s >> kFirstShift) + 1) - 1;
      return {c, s - chunk_start(c)};
    }
    const std::size_t r = s - kGeometricSlots;
    return {kGeometric + (r >> kLastShift), r & ((std::size_t{1} << kLastShift) - 1)};
  }
  Node& node(std::uint32_t s) { return const_cast<Node&>(std::as_const(*this).node(s)); }
  const Node& node(std::uint32_t s) const {
    const auto [c, i] = place(s);
    return chunks_[c].nodes()[i];
  }
  void set_live(std::uint32_t s, bool on) {
    const auto [c, i] = place(s);
    std::uint64_t& word = chunks_[c].bits()[i / 64];
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    word = on ? word | bit : word & ~bit;
  }
  // f(slot, node) for every slot holding an entry, in slot order, a chunk's
  // bit words at a time (f may erase the slot it is given).
  template <typename F>
  void for_each_live(F&& f) {
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      const std::size_t start = chunk_start(c);
      if (start >= used_) return;
      const std::size_t n = std::min(chunk_size(c), used_ - start);
      const std::uint64_t* bits = chunks_[c].bits();
      Node* nodes = chunks_[c].nodes();
      for (std::size_t w = 0; w * 64 < n; ++w) {
        for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
          const auto b = static_cast<unsigned>(std::countr_zero(word));
          if (((bits[w] >> b) & 1) == 0) continue;  // erased by an earlier f
          f(static_cast<std::uint32_t>(start + w * 64 + b), nodes[w * 64 + b]);
        }
      }
    }
  }
  void erase_slot(std::uint64_t h, std::uint32_t s) {
    Node& n = node(s);
    lookup_.erase(h, s);
    n.kv = value_type{};
    set_live(s, false);
    free_.push_back(s);
    --size_;
    invalidate_order();
  }
  void invalidate_order() {
    order_.clear();
    order_valid_ = false;
  }
  void copy_from(const SlotMap& o) {
    o.for_each_slot([&](const value_type& e) { insert(e.first, e.second); });
  }
  void swap(SlotMap& o) noexcept {
    std::swap(chunks_, o.chunks_);
    std::swap(used_, o.used_);
    std::swap(size_, o.size_);
    std::swap(free_, o.free_);
    std::swap(lookup_, o.lookup_);
    std::swap(order_, o.order_);
    std::swap(order_valid_, o.order_valid_);
  }

  std::vector<Chunk> chunks_;
  std::size_t used_ = 0;  // slots ever handed out (the next fresh one)
  std::size_t size_ = 0;  // live entries
  std::vector<std::uint32_t> free_;  // erased slots, reused last-in first-out
  KeyLookup lookup_;
  mutable std::vector<const value_type*> order_;  // entries by key, when order_valid_
  mutable bool order_valid_ = true;  // an empty map's empty list is valid
};

}  // namespace heck
