// How a target's ranked members split into owners and fallbacks: the one
// rule the node, the API and `heck owners` share.
//
// A target has `checkers` owners: the first `checkers` members of its
// rendezvous ranking (rendezvous.h). A spec always has at least one checker,
// so a value below 1 (an unset or malformed count) counts as 1. The members
// ranked after the owners are its fallbacks, in priority order, at most
// `max_fallbacks` of them. Fewer members than owners: all are owners.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace heck {

// max(1, checkers): how many owners a target with this spec value has.
std::size_t owner_count(int checkers);

struct OwnerSplit {
  std::vector<std::string> owners;     // best first, at most owner_count(checkers)
  std::vector<std::string> fallbacks;  // then these, at most max_fallbacks
};

// Splits `ranked` (best first) into owners and fallbacks.
OwnerSplit split_owners(std::vector<std::string> ranked, int checkers, std::size_t max_fallbacks);

// How many ranked members to ask for to fill both lists.
inline std::size_t ranked_needed(int checkers, std::size_t max_fallbacks) {
  return owner_count(checkers) + max_fallbacks;
}

}  // namespace heck
