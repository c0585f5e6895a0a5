// A hash index from a name to its dense slot number. Swim keeps its
// member records in a flat vector; this finds a record by name without a
// string-keyed tree (a tree walk cost ~log2(n) string compares over cold
// memory per gossiped update, the largest cost of a 1,000-member run).
//
// The names stay in the records: the index holds only 8 bytes a name (the
// slot and 32 bits of the name's hash) and asks the caller for a slot's name
// to confirm a match (`NameOf`: std::string_view(std::uint32_t slot)).
//
// Cost model: open addressing with linear probing over a power-of-two table
// kept at most half full.
//   find, insert:  O(1) expected: one hash of the name, ~1.5 table entries
//                  looked at, a name compare only where the hash bits match.
//   erase:         O(1) expected: the entries of the probe run after the hole
//                  are placed again (no tombstones).
//   growth:        O(n), doubling, amortised O(1) per insert.
// probes() counts the table entries looked at (a work counter for tests).
//
// Deterministic: it only finds, it is never iterated, so the hash never
// reaches an output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace heck {

class NameIndex {
 public:
  template <typename NameOf>
  std::optional<std::uint32_t> find(std::string_view name, const NameOf& name_of) const {
    if (table_.empty()) return std::nullopt;
    const std::uint32_t h = hash(name);
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      ++probes_;
      const Entry& e = table_[i];
      if (e.slot_plus_one == 0) return std::nullopt;
      if (e.hash == h && name_of(e.slot_plus_one - 1) == name) return e.slot_plus_one - 1;
    }
  }
  // Cache warming for a batch of lookups (no effect on any result): asks the
  // memory system for the table entry `name` hashes to...
  void prefetch(std::string_view name) const {
    if (!table_.empty()) __builtin_prefetch(&table_[hash(name) & mask()]);
  }
  // ...and, once that entry has arrived, calls `candidate(slot)` for the
  // entries of its probe run whose hash bits match (no name compare: the
  // caller prefetches the records a find() will compare).
  template <typename Candidate>
  void for_each_candidate(std::string_view name, const Candidate& candidate) const {
    if (table_.empty()) return;
    const std::uint32_t h = hash(name);
    for (std::size_t i = h & mask(); table_[i].slot_plus_one != 0; i = (i + 1) & mask()) {
      if (table_[i].hash == h) candidate(table_[i].slot_plus_one - 1);
    }
  }
  // REQUIRES: `name` is not indexed yet.
  void insert(std::string_view name, std::uint32_t slot) {
    if ((size_ + 1) * 2 > table_.size()) grow();
    place(Entry{slot + 1, hash(name)});
    ++size_;
  }
  // Removes `name` (indexed at `slot`); absent is a no-op.
  void erase(std::string_view name, std::uint32_t slot);
  void clear() {
    table_.clear();
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  std::uint64_t probes() const { return probes_; }

 private:
  struct Entry {
    std::uint32_t slot_plus_one = 0;  // 0 = empty
    std::uint32_t hash = 0;
  };
  static std::uint32_t hash(std::string_view name);
  std::size_t mask() const { return table_.size() - 1; }
  void place(Entry e);
  void grow();

  std::vector<Entry> table_;
  std::size_t size_ = 0;
  mutable std::uint64_t probes_ = 0;
};

}  // namespace heck
