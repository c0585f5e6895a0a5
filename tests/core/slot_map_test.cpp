// SlotMap (core/slot_map.h) at sizes past its geometric chunks,
// and its key lookup's cost.
#include "core/slot_map.h"

#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace heck {
namespace {

std::string key(int i) { return fmt::format("target-{:05}", i); }

// Thousands of keys span the growing chunks (8, 16, ... 512 slots) and the
// flat 1,024-slot ones: every entry stays at its address, erased slots are
// reused, and the ordered list follows inserts and erases.
TEST(SlotMap, EntriesStayPutAcrossChunksAndFreedSlotsAreReused) {
  SlotMap<std::string, int> map;
  std::map<std::string, const std::pair<std::string, int>*> where;
  for (int i = 0; i < 5000; ++i) where[key(i)] = map.insert(key(i), i);
  for (int i = 0; i < 5000; ++i) {
    const auto* e = map.find(key(i));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e, where.at(key(i)));
    EXPECT_EQ(e->second, i);
  }
  EXPECT_EQ(map.find("target-99999"), nullptr);

  // Erase every third key; the next inserts reuse their slots (no growth).
  const std::size_t bytes = map.heap_bytes();
  for (int i = 0; i < 5000; i += 3) map.erase(key(i));
  EXPECT_EQ(map.size(), 5000u - 1667u);
  for (int i = 0; i < 1667; ++i) map.insert(key(10000 + i), -i);
  EXPECT_LE(map.heap_bytes(), bytes + 5000 * sizeof(void*));  // only the ordered list may have grown
  for (int i = 1; i < 5000; i += 3) EXPECT_EQ(map.find(key(i)), where.at(key(i)));

  std::vector<std::string> listed;
  for (const auto& [k, v] : map.ordered()) listed.push_back(k);
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_EQ(listed.size(), 5000u);
  EXPECT_EQ(listed.front(), key(1));
  EXPECT_EQ(listed.back(), key(11666));
  const auto ordered = map.ordered();
  auto it = ordered.lower_bound(std::string("target-10000"));
  ASSERT_NE(it, ordered.end());
  EXPECT_EQ(it->first, key(10000));
}

// A moved map keeps its entries where they were (the indexes that point at
// keys stay valid); a copy holds equal entries of its own.
TEST(SlotMap, AMoveKeepsEntriesInPlaceACopyOwnsItsOwn) {
  SlotMap<std::string, int> a;
  const auto* e = a.insert("x", 1);
  SlotMap<std::string, int> b = std::move(a);
  EXPECT_EQ(b.find("x"), e);
  EXPECT_TRUE(a.empty());
  SlotMap<std::string, int> c = b;
  EXPECT_NE(c.find("x"), e);
  EXPECT_EQ(c, b);
  c.find("x")->second = 2;
  EXPECT_NE(c, b);
}

}  // namespace
}  // namespace heck
