// Rankings shared between ownership indexes (ownership_index.h) that rank
// over the same live members: the simulator's agents.
//
// Why: an index ranks each target it is given over every live member, one
// hash per member (rendezvous.h). Every agent holds every target, so a
// cluster of n agents and T targets makes n x T rankings of n hashes each:
// 10^10 hashes for 1,000 agents x 10,000 targets, most of the simulator's
// time while the targets are registered. But a ranking is a function of the
// live set, the target and the depth alone, and agents that agree on who is
// live (nearly always, and all of them at rest) make the same rankings. The
// simulator gives all its agents one cache; the first agent to rank a target
// over a live set does the hashing and the others read its result.
//
// Exact, so it changes no output: a ranking is kept under the live set's
// fingerprint (LiveSet: the count and two sums of independent 64-bit hashes
// of the member names, order-free and updated one member at a time), and two
// different sets share a fingerprint only if both sums collide (about 2^-128
// for a pair of sets: the names are not chosen against the hashes).
//
// Compact, since reading a ranking must cost less than making one (100
// hashes, ~0.7 us, at 100 members): the cache numbers the member names it
// meets (member_id) and a ranking is a run of (member number, top 32 bits
// of its hash), 8 bytes an entry, in one array per live set; a target's
// run is found through a SlotMap keyed by its Name. An index keeps a table
// from the cache's numbers to its own members, so a hit is a hash lookup,
// one contiguous read and an array read per kept member.
//
// Bounded: the rankings of at most `max_sets` live sets are kept; a new set
// beyond them drops the least recently used set's rankings whole. Agents
// whose views differ for a moment (a member's death reaching them one by
// one) use two or three sets; a set nobody ranks over any more goes. The
// member numbering is never dropped: it holds each name the simulated
// world ever ranked, once.
//
// Cost model: find and insert are a scan of the kept sets (max_sets
// fingerprint compares) and an expected O(1) lookup keyed by the target's
// Name (its hash is carried); member_id is an expected O(1) lookup. Not
// thread-safe: the simulator runs every node in one thread. A daemon has
// one index and no cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/name_table.h"
#include "core/slot_map.h"

namespace heck {

class RankCache {
 public:
  // An order-free fingerprint of a set of member names. `a` and `b` are two
  // independent 64-bit hashes of a name (an index passes the Name's text
  // hash and its rendezvous seed).
  struct LiveSet {
    std::uint64_t sum_a = 0, sum_b = 0;
    std::uint64_t count = 0;
    void add(std::uint64_t a, std::uint64_t b) {
      sum_a += a;
      sum_b += b;
      ++count;
    }
    void remove(std::uint64_t a, std::uint64_t b) {
      sum_a -= a;
      sum_b -= b;
      --count;
    }
    friend bool operator==(const LiveSet&, const LiveSet&) = default;
  };
  // One ranked member, best first in a ranking.
  struct Kept {
    std::uint32_t member = 0;   // member_id() of its name
    std::uint32_t hash_hi = 0;  // the top 32 bits of rendezvous_hash(member, target)
  };

  explicit RankCache(std::size_t max_sets = 8) : max_sets_(max_sets < 1 ? 1 : max_sets) {}

  // The cache's number for a member name: the same for equal names, dense
  // from 0.
  std::uint32_t member_id(const Name& name);
  std::size_t member_ids() const { return names_.size(); }

  // The ranking of `target`'s first `depth` members over `live`, if kept
  // (empty if not; a kept ranking holds `depth` >= 1 members).
  std::span<const Kept> find(const LiveSet& live, const Name& target, std::size_t depth);
  // Keeps a ranking (`ranking.size()` is its depth), replacing one of
  // another depth kept for the same target and set.
  void insert(const LiveSet& live, const Name& target, std::span<const Kept> ranking);

  // For benchmarks and tests (an index counts its own hits: shared_ranks()).
  std::uint64_t dropped_sets() const { return dropped_sets_; }
  std::size_t sets() const { return sets_.size(); }
  std::size_t rankings() const;

 private:
  struct Run {
    std::uint32_t at = 0;     // into Set::kept
    std::uint32_t depth = 0;  // its length
  };
  struct Set {
    LiveSet live;
    std::uint64_t last_used = 0;
    SlotMap<Name, Run> runs;  // by target
    std::vector<Kept> kept;   // the runs, end to end (a replaced run's entries stay unused)
  };
  Set* set_of(const LiveSet& live);

  std::size_t max_sets_;
  std::vector<std::unique_ptr<Set>> sets_;
  SlotMap<Name, std::uint32_t> ids_;  // member name -> its number
  std::vector<Name> names_;           // by number
  std::uint64_t clock_ = 0;  // a use counter: orders the sets by last use
  std::uint64_t dropped_sets_ = 0;
};

}  // namespace heck
