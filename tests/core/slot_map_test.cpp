// SlotMap (core/slot_map.h) at sizes past its geometric chunks,
// and its key lookup's cost.
#include "core/slot_map.h"

#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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
TEST(SlotMap, EraseIfRemovesExactlyWhatMatchesAndFreesItsSlots) {
  SlotMap<std::string, int> m;
  for (int i = 0; i < 3000; ++i) m.insert(key(i), i);
  EXPECT_EQ(m.erase_if([](const auto& e) { return e.second % 3 == 0; }), 1000u);
  EXPECT_EQ(m.size(), 2000u);
  for (int i = 0; i < 3000; ++i) {
    const auto* e = m.find(key(i));
    ASSERT_EQ(e != nullptr, i % 3 != 0) << key(i);
    if (e) EXPECT_EQ(e->second, i);
  }
  EXPECT_EQ(m.ordered().size(), 2000u);
  // The freed slots take new keys before the arena grows.
  const std::size_t bytes = m.heap_bytes();
  for (int i = 0; i < 1000; ++i) m.insert(key(5000 + i), i);
  EXPECT_EQ(m.heap_bytes(), bytes);
  EXPECT_EQ(m.erase_if([](const auto&) { return false; }), 0u);
}

// A caller's hash (here: byte strings hashed another way) finds by view.
TEST(SlotMap, TakesTheCallersHash) {
  struct Fnv {
    std::uint64_t operator()(std::string_view s) const {
      std::uint64_t h = 1469598103934665603ULL;
      for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      return KeyLookup::hash_of(h);
    }
  };
  SlotMap<std::string, int, Fnv> m;
  for (int i = 0; i < 500; ++i) m.insert(key(i), i);
  for (int i = 0; i < 500; ++i) {
    const auto* e = m.find(std::string_view(key(i)));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->second, i);
  }
  m.erase(std::string_view(key(7)));
  EXPECT_FALSE(m.contains(key(7)));
  EXPECT_EQ(m.size(), 499u);
}

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

namespace heck {
namespace {

// Any run of inserts, erases and erase_ifs, across chunk and bit-word
// boundaries (1, 2, 4, ... 1,024 slots; 64 slots a word): the map holds
// exactly what a std::map does, for_each_slot visits each entry once, and
// an erase_if that matches nothing visits them all.
RC_GTEST_PROP(SlotMap, HoldsWhatAStdMapHoldsAfterAnyChanges, ()) {
  SlotMap<std::string, int> map;
  std::map<std::string, int> model;
  const int ops = *rc::gen::inRange(1, 400);
  const int keys = *rc::gen::inRange(1, 3000);
  for (int op = 0; op < ops; ++op) {
    const int kind = *rc::gen::inRange(0, 10);
    if (kind < 6) {  // a burst of inserts
      const int n = *rc::gen::inRange(1, 40);
      for (int i = 0; i < n; ++i) {
        const std::string k = key(*rc::gen::inRange(0, keys));
        if (model.contains(k)) continue;
        map.insert(k, i);
        model[k] = i;
      }
    } else if (kind < 9) {
      const std::string k = key(*rc::gen::inRange(0, keys));
      map.erase(k);
      model.erase(k);
    } else {
      const int mod = *rc::gen::inRange(2, 7);
      const std::size_t erased = map.erase_if([&](const auto& e) { return e.second % mod == 0; });
      RC_ASSERT(erased == static_cast<std::size_t>(std::erase_if(model, [&](const auto& e) { return e.second % mod == 0; })));
    }
  }
  RC_ASSERT(map.size() == model.size());
  std::map<std::string, int> seen;
  map.for_each_slot([&](const auto& e) { RC_ASSERT(seen.emplace(e.first, e.second).second); });
  RC_ASSERT(seen == model);
  for (const auto& [k, v] : model) {
    const auto* e = map.find(k);
    RC_ASSERT(e != nullptr);
    RC_ASSERT(e->second == v);
  }
  std::size_t visited = 0;
  RC_ASSERT(map.erase_if([&](const auto&) { return ++visited, false; }) == 0u);
  RC_ASSERT(visited == model.size());
}

}  // namespace
}  // namespace heck
