#include "core/name_index.h"

#include <utility>

#include <xxhash.h>

namespace heck {

std::uint32_t NameIndex::hash(std::string_view name) {
  return static_cast<std::uint32_t>(XXH3_64bits(name.data(), name.size()));
}

void NameIndex::place(Entry e) {
  std::size_t i = e.hash & mask();
  while (table_[i].slot_plus_one != 0) i = (i + 1) & mask();
  table_[i] = e;
}

void NameIndex::grow() {
  std::vector<Entry> old = std::move(table_);
  table_.assign(old.empty() ? 16 : old.size() * 2, Entry{});
  for (const Entry& e : old) {
    if (e.slot_plus_one != 0) place(e);
  }
}

void NameIndex::erase(std::string_view name, std::uint32_t slot) {
  if (table_.empty()) return;
  std::size_t i = hash(name) & mask();
  for (; table_[i].slot_plus_one != slot + 1; i = (i + 1) & mask()) {
    if (table_[i].slot_plus_one == 0) return;
  }
  table_[i] = Entry{};
  --size_;
  // The rest of the probe run may have passed over the hole: place it again.
  for (std::size_t j = (i + 1) & mask(); table_[j].slot_plus_one != 0; j = (j + 1) & mask()) {
    const Entry e = std::exchange(table_[j], Entry{});
    place(e);
  }
}

}  // namespace heck
