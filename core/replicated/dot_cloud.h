// The dot cloud of a causal context: the dots seen above the version vector
// (causal_context.h), kept as sparse bitmaps.
//
// Why not a std::set<Dot>: a cloud is large exactly when it is hot. When
// an agent registers 10,000 targets, its parts reach each peer in key order,
// not counter order, so every peer's context holds thousands of dots of
// that writer above the gap until the gap fills (the simulator's main row,
// 100 agents x 10,000 targets: `cluster_bench --rows main --joins` prints
// the largest cloud an agent held). A tree costs a 48-byte node per dot and
// a dozen cold pointer hops per lookup at that size; a bitmap costs a bit
// per dot and one binary search over a few blocks.
//
// Layout: per replica (sorted by replica, one contiguous vector), a sorted
// vector of blocks, each holding 512 consecutive counters as bits. No block
// is empty and no replica has no block, so two clouds holding the same dots
// are equal member by member. A sparse cloud (dots far apart: a partial
// repair's entries) costs a 72-byte block per dot, about what a tree node
// costs; a dense one a bit per dot.
//
// Cost, with b the blocks of the dot's replica and R the replicas:
// contains O(log R + log b); insert the same plus O(b) when it opens a
// block; fold (the version vector catching up) O(dots folded / 64 + blocks
// dropped * b); iteration O(dots + blocks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "core/replicated/dot.h"
#include "core/small_vector.h"

namespace heck {

class DotCloud {
  static constexpr std::uint64_t kBlockBits = 512;
  static constexpr std::size_t kWords = kBlockBits / 64;
  struct Block {
    std::uint64_t first = 0;  // the counter of bit 0 (a multiple of kBlockBits)
    std::array<std::uint64_t, kWords> bits{};
    bool operator==(const Block&) const = default;
  };
  // A replica's blocks, sorted by first, none empty. The first one lives in
  // the run itself: a delta's cloud (a dot or two) costs one allocation,
  // the runs' vector, as a tree node did.
  struct Run {
    ReplicaId replica = 0;
    SmallVector<Block, 1> blocks;
    bool operator==(const Run&) const = default;
  };

 public:
  // Dots in order (replica, then counter).
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;  // yields Dots by value
    using value_type = Dot;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Dot;

    const_iterator() = default;
    Dot operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& o) const { return run_ == o.run_ && block_ == o.block_ && bit_ == o.bit_; }

   private:
    friend class DotCloud;
    const_iterator(const std::vector<Run>* runs, std::size_t run, std::size_t block, std::uint64_t bit)
        : runs_(runs), run_(run), block_(block), bit_(bit) {}
    // Moves to the first set bit at or after the current position.
    void settle();

    const std::vector<Run>* runs_ = nullptr;
    std::size_t run_ = 0;
    std::size_t block_ = 0;
    std::uint64_t bit_ = 0;
  };

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  const_iterator begin() const;
  const_iterator end() const { return const_iterator(&runs_, runs_.size(), 0, 0); }

  bool contains(Dot d) const;
  // Returns whether `d` was new.
  bool insert(Dot d);
  // The version vector of `replica` is at `have`: drops the dots of
  // `replica` at or below it, then folds the run of dots right above it
  // (have + 1, have + 2, ...). Returns the new top.
  std::uint64_t fold(ReplicaId replica, std::uint64_t have);
  // The highest counter of `replica` held, 0 if none.
  std::uint64_t max_counter(ReplicaId replica) const;
  // How many dots of `replica` with counter in [lo, hi].
  std::uint64_t count(ReplicaId replica, std::uint64_t lo, std::uint64_t hi) const;
  // The dots in order (tests, small clouds).
  std::vector<Dot> dots() const { return std::vector<Dot>(begin(), end()); }

  bool operator==(const DotCloud&) const = default;

 private:
  const Run* find_run(ReplicaId r) const;
  Run* find_run(ReplicaId r) { return const_cast<Run*>(std::as_const(*this).find_run(r)); }
  // Clears the bits of `run` for counters in [lo, hi]; drops emptied blocks
  // (and the run, when it empties: `run` is then dangling).
  void clear_range(Run& run, std::uint64_t lo, std::uint64_t hi);

  std::vector<Run> runs_;  // sorted by replica; none without blocks
  std::size_t size_ = 0;
};

}  // namespace heck
