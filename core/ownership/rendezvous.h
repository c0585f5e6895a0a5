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

// One target hashed under many member seeds: h(seed) ==
// rendezvous_hash_seeded(seed, target), bit for bit, for every seed. An
// agent ranks each target over every live member (100 hashes a target at
// 100 members); XXH64 of an input under 32 bytes folds in each 8-, 4- and
// 1-byte piece with a step whose input term does not depend on the seed, so
// those terms are computed once here and each seed costs only the chain of
// multiplies, inline, where the caller's loop over members can overlap them.
// Longer ids (rare: ids are at most 128 bytes) call XXH64 per seed.
class TargetHasher {
 public:
  explicit TargetHasher(std::string_view target);
  std::uint64_t operator()(std::uint64_t member_seed) const {
    if (long_) return rendezvous_hash_seeded(member_seed, target_);
    std::uint64_t h = member_seed + kP5 + len_;
    for (std::uint32_t i = 0; i < words_; ++i) h = rotl(h ^ word_[i], 27) * kP1 + kP4;
    if (half_) h = rotl(h ^ half_term_, 23) * kP2 + kP3;
    for (std::uint32_t i = 0; i < bytes_; ++i) h = rotl(h ^ byte_[i], 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
  }

 private:
  // XXH64's primes (its specification, xxhash.h).
  static constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr std::uint64_t kP3 = 0x165667B19E3779F9ULL;
  static constexpr std::uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr std::uint64_t kP5 = 0x27D4EB2F165667C5ULL;
  static constexpr std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

  std::string_view target_;    // read only when long_
  std::uint64_t word_[3] = {};  // round(0, each 8-byte little-endian word)
  std::uint64_t half_term_ = 0;  // the 4-byte piece times kP1
  std::uint64_t byte_[3] = {};  // each last byte times kP5
  std::uint64_t len_ = 0;
  std::uint32_t words_ = 0, bytes_ = 0;
  bool half_ = false, long_ = false;
};

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
