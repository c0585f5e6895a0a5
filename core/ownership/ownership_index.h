// Who owns what, kept up to date incrementally: for every target, the first
// few members of its rendezvous ranking (rendezvous.h, equal weights) over
// the live members.
//
// Why: ranking one target over n members costs n hashes; recomputing every
// target on every membership change costs targets x n per change per agent
// (10,000 targets x 100 members = 1M hashes, ~80 ms), and a cluster sees many
// changes (joins, suspicions, refutations). The index keeps each target's top
// `depth` (checkers + spare) members with their hashes and, on a change:
//   - a member joins: one hash per target; it enters the list only where it
//     beats the last entry (about depth/n of targets);
//   - a member goes: only targets that listed it are re-ranked in full
//     (about depth/n of them);
//   - a member's suspicion flag changes: no hashing at all (flags are looked
//     up when the owners are read).
// set_members() can report the targets whose answer to checks() may have
// changed (`affected`): those whose kept list changed and those with an
// owner whose flag changed. A driver reconciles just these. Targets live in
// one SlotMap keyed by id (the id held once; chunks of slots, so a change
// walks arrays, not a tree), each with its kept list in place (no block of
// its own while it holds at most kSpare + 1 members: one checker, the
// default). A kept entry holds the top 32 bits of its member's hash; two
// entries whose top bits tie (one comparison in 2^32) are ordered by the
// full hashes, computed again, so the order is the full ranking's. About
// 88 B per target (120 with whole hashes; a list on the heap and a second
// copy of the id in an id -> slot map cost about 200).
// Cost per set_members: O(targets) integer work plus one hash per target
// per joined member; O(affected) strings.
// Results are identical to rank_members() over the same members: the tests
// compare the two after random changes.
// Indexes may share a RankCache (rank_cache.h; the simulator's agents do):
// a full ranking another index made over the same live set is read from it
// (the cache's member numbers mapped to this index's members through
// by_shared_) instead of hashed again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/name_index.h"
#include "core/name_table.h"
#include "core/ownership/rank_cache.h"
#include "core/slot_map.h"
#include "core/small_vector.h"

namespace heck {

struct IndexedMember {
  std::string name;
  bool suspect = false;
};

class OwnershipIndex {
 public:
  // Member names are interned in `names` (name_table.h; null: its own).
  // Full rankings are shared through `rank_cache` (null: none).
  explicit OwnershipIndex(std::shared_ptr<NameTable> names = nullptr, std::shared_ptr<RankCache> rank_cache = nullptr)
      : names_(own_names(std::move(names))), rank_cache_(std::move(rank_cache)) {}

  // Extra ranked members kept beyond `checkers`: the standby and the members
  // after it (a full re-rank covers a target whose list runs short).
  static constexpr std::size_t kSpare = 3;

  // Replaces the live member set (names unique; a member's suspicion flag
  // may change).
  // `affected` (optional) receives the ids described above, in id order.
  void set_members(std::span<const IndexedMember> members, std::vector<Name>* affected = nullptr);
  // One member's change (joined, left or died, suspicion flag), the same as
  // set_members() with the rest of the set unchanged, without the O(members)
  // work: a driver that sees member changes one by one calls this.
  void update_member(const IndexedMember& member, bool live, std::vector<Name>* affected = nullptr);
  // Adds or updates a target (checkers >= 1); drops one. The index keys
  // the target by `id` itself: a node passes the Name its replicated state
  // holds the target under, so the id's text is not copied again (a text
  // is interned here, in the member names' table).
  void put_target(const Name& id, std::size_t checkers);
  void put_target(std::string_view id, std::size_t checkers) { put_target(names_->intern(id), checkers); }
  void remove_target(NameRef id);
  bool contains(NameRef id) const { return targets_.contains(id); }
  std::vector<std::string> target_ids() const;
  std::size_t target_count() const { return targets_.size(); }
  std::size_t member_count() const { return members_.size(); }

  // The first `limit` members ranked for `id` (0 = as many as are kept;
  // more than kept ranks in full). Works for ids not in the index too.
  std::vector<std::string> ranked(NameRef id, std::size_t limit) const;
  // True when `self` checks `id`: an owner (one of the first `checkers`), or
  // the standby (the member ranked right after the owners) while any owner
  // is suspect. The standby is one fixed member whatever the suspicion
  // flags: if it is suspect too, no one else steps in until a death changes
  // the ranking. So however the members' suspicions differ, at most
  // checkers + 1 of them check a target while they agree on who is live.
  bool checks(NameRef id, std::string_view self) const;
  // True when `self` is ranked first for `id` (its first owner; the one
  // member that sends its alerts, core/alerts/alert_route.h).
  bool ranked_first(NameRef id, std::string_view self) const;

  // Counters for benchmarks and tests: full rankings hashed here, and
  // those read from the rank cache instead.
  std::uint64_t full_ranks() const { return full_ranks_; }
  std::uint64_t shared_ranks() const { return shared_ranks_; }
  std::uint64_t hashes() const { return hashes_; }

 private:
  // A kept entry: the member and the top half of its hash for the target.
  struct Entry {
    std::uint32_t hash_hi = 0;
    std::uint32_t member = 0;  // index into members_
  };
  // A member scored for a target, whole (a full ranking's scratch).
  struct Scored {
    std::uint64_t hash = 0;
    std::uint32_t member = 0;
    Entry kept() const { return Entry{static_cast<std::uint32_t>(hash >> 32), member}; }
  };
  // Best first; size min(checkers + kSpare, live members).
  using TopList = SmallVector<Entry, kSpare + 1>;
  struct Target {
    TopList top;
    std::uint32_t checkers = 1;
  };
  struct Member {
    Name name;
    std::uint64_t seed = 0;
    bool suspect = false;
    bool live = false;
    std::uint32_t shared = 0;  // the rank cache's number for the name (with a cache)
  };

  bool better(const Scored& a, const Scored& b) const;
  // True when `s` ranks above the kept entry `e` for target `id`.
  bool beats(const Scored& s, const Entry& e, std::string_view id) const;
  void rank_full(const Name& id, Target& t);
  // rank_live(id, n) through the rank cache, if there is one.
  TopList rank_shared(const Name& id, std::size_t n);
  // Re-ranks after a change of the live set (added members, some removed,
  // suspicion flags flipped) and collects the affected targets.
  void rescan(std::span<const std::uint32_t> added, bool removed_any, std::span<const std::uint32_t> flipped,
              std::vector<Name>* affected);
  const Target* find(NameRef id) const;
  std::size_t depth(const Target& t) const;
  std::uint32_t intern(const std::string& name);
  TopList rank_live(std::string_view id, std::size_t limit) const;
  void compact();

  std::shared_ptr<NameTable> names_;
  std::vector<Member> members_;                          // interned; `live` marks the current set
  NameIndex by_name_;                                    // name -> index into members_
  std::vector<std::uint32_t> live_;                      // ids of live members
  RankCache::LiveSet live_set_;                          // live_'s fingerprint (rank cache key)
  std::shared_ptr<RankCache> rank_cache_;
  std::vector<std::uint32_t> by_shared_;                 // the cache's member number -> index into members_ + 1
  std::vector<RankCache::Kept> shared_scratch_;          // a ranking made here, for the cache
  SlotMap<Name, Target> targets_;  // by id (hashed; ordered on demand)
  mutable std::vector<Scored> scratch_;   // rank_live's full ranking
  mutable std::uint64_t full_ranks_ = 0;
  mutable std::uint64_t hashes_ = 0;
  std::uint64_t shared_ranks_ = 0;
};

}  // namespace heck
