// Who checks a target: weighted rendezvous (highest-random-weight) hashing,
// Thaler & Ravishankar 1998, with the logarithmic weighting of Schindelhauer &
// Schomaker 2005 ("Weighted distributed hash tables").
//
// Every member gets a score for a target; members ranked by score, highest
// first, are the target's owners (the first r) and then its fallbacks, in
// priority order. Properties:
// - Stable everywhere: the hash is XXH64 (a fixed, portable specification) of
//   the target id seeded with XXH64 of the member name, and the score uses only
//   IEEE basic operations (no libm), so every machine and every version ranks
//   the same way. Ties (equal scores) break by member name.
// - Minimal movement: adding a member moves only the targets it now ranks
//   first on (about 1/n of them); removing one moves only the targets it owned.
// - Weights: a member of weight w owns a share of targets proportional to w.
//   With all weights equal the ranking compares hashes directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace heck {

struct RankedMember {
  std::string name;
  double weight = 1.0;  // > 0
};

// The stable 64-bit hash of (member, target) =
// rendezvous_hash_seeded(rendezvous_member_seed(member), target).
std::uint64_t rendezvous_hash(std::string_view member, std::string_view target);
std::uint64_t rendezvous_member_seed(std::string_view member);
std::uint64_t rendezvous_hash_seeded(std::uint64_t member_seed, std::string_view target);

// The score of a member for a target: weight / -ln(u), u = hash mapped into
// (0, 1). Higher wins.
double rendezvous_score(std::uint64_t hash, double weight);

// Indices into `members`, best first, for `target`; at most `limit` of them
// (limit 0 = all). REQUIRES: member names are unique and weights positive.
std::vector<std::size_t> rank_members(std::string_view target, std::span<const RankedMember> members,
                                      std::size_t limit = 0);

// Member names in priority order (owners first, then fallbacks).
std::vector<std::string> ranked_names(std::string_view target, std::span<const RankedMember> members,
                                      std::size_t limit = 0);

}  // namespace heck
