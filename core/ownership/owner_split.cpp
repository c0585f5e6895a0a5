#include "core/ownership/owner_split.h"

#include <algorithm>

namespace heck {

std::size_t owner_count(int checkers) { return static_cast<std::size_t>(std::max(1, checkers)); }

OwnerSplit split_owners(std::vector<std::string> ranked, int checkers, std::size_t max_fallbacks) {
  const std::size_t r = std::min(ranked.size(), owner_count(checkers));
  const std::size_t f = std::min(ranked.size() - r, max_fallbacks);
  OwnerSplit split;
  split.fallbacks.assign(std::make_move_iterator(ranked.begin() + static_cast<std::ptrdiff_t>(r)),
                         std::make_move_iterator(ranked.begin() + static_cast<std::ptrdiff_t>(r + f)));
  ranked.resize(r);
  split.owners = std::move(ranked);
  return split;
}

}  // namespace heck
