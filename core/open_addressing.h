// Linear probing over a power-of-two table: the deletion shared by the two
// open-addressing tables of core (KeyLookup in slot_map.h, the index under
// every SlotMap; NameTable in name_table.h, which holds entry pointers
// directly, 8 bytes a slot, instead of KeyLookup's slot numbers).
#pragma once

#include <cstddef>

namespace heck {

// Backward-shift deletion: `slots[hole]` has just been vacated. Later
// members of its probe run move back into the hole, so every member stays
// reachable from its home slot and no tombstone is left. `occupied(s)` tells
// a filled slot value, `home(s)` the hash its home slot comes from (masked
// here). Returns the slot that ends vacant; the caller clears it.
template <typename Slots, typename Occupied, typename Home>
std::size_t backward_shift(Slots& slots, std::size_t hole, const Occupied& occupied, const Home& home) {
  const std::size_t mask = slots.size() - 1;
  for (std::size_t j = (hole + 1) & mask; occupied(slots[j]); j = (j + 1) & mask) {
    const std::size_t h = static_cast<std::size_t>(home(slots[j])) & mask;
    // j's member may move to the hole when its home is not in (hole, j].
    const bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
    if (movable) {
      slots[hole] = slots[j];
      hole = j;
    }
  }
  return hole;
}

}  // namespace heck
