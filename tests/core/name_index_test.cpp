// NameIndex: finds what was inserted, forgets what was erased, and a lookup
// costs the same whatever the number of names (the work counter: table
// entries looked at).
#include "core/name_index.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck {
namespace {

struct Names {
  std::vector<std::string> by_slot;
  NameIndex index;

  std::optional<std::uint32_t> find(std::string_view name) const {
    return index.find(name, [this](std::uint32_t s) { return std::string_view(by_slot[s]); });
  }
  void add(std::string name) {
    index.insert(name, static_cast<std::uint32_t>(by_slot.size()));
    by_slot.push_back(std::move(name));
  }
};

// Table entries looked at per lookup, averaged over `lookups` hits and misses.
double probes_per_lookup(std::size_t members) {
  Names n;
  for (std::size_t i = 0; i < members; ++i) n.add("n" + std::to_string(i));
  const std::uint64_t before = n.index.probes();
  constexpr std::size_t kLookups = 2000;
  for (std::size_t i = 0; i < kLookups; ++i) {
    EXPECT_EQ(n.find("n" + std::to_string(i % members)), i % members);
    EXPECT_FALSE(n.find("x" + std::to_string(i)).has_value());
  }
  return static_cast<double>(n.index.probes() - before) / (2 * kLookups);
}

TEST(NameIndex, ALookupCostsTheSameWhateverTheNumberOfMembers) {
  const double small = probes_per_lookup(10);
  const double large = probes_per_lookup(10000);
  // At most half full: ~1.5 entries for a hit, ~2.5 for a miss.
  EXPECT_LT(small, 3.0);
  EXPECT_LT(large, 3.0);
}

TEST(NameIndex, ErasedNamesAreForgottenAndTheRestStillFound) {
  Names n;
  for (int i = 0; i < 100; ++i) n.add("m" + std::to_string(i));
  for (int i = 0; i < 100; i += 3) n.index.erase(n.by_slot[i], static_cast<std::uint32_t>(i));
  for (int i = 0; i < 100; ++i) {
    const auto found = n.find("m" + std::to_string(i));
    if (i % 3 == 0) {
      EXPECT_FALSE(found.has_value()) << i;
    } else {
      EXPECT_EQ(found, static_cast<std::uint32_t>(i));
    }
  }
  EXPECT_EQ(n.index.size(), 66u);
  n.index.erase("absent", 7);  // a no-op
  EXPECT_EQ(n.index.size(), 66u);
}

// Against a std::map over any sequence of inserts and erases.
RC_GTEST_PROP(NameIndex, MatchesAMap, ()) {
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, int>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange(0, 64)));
  std::vector<std::string> by_slot;
  NameIndex index;
  std::map<std::string, std::uint32_t> model;
  const auto name_of = [&](std::uint32_t s) { return std::string_view(by_slot[s]); };
  for (const auto& [insert, k] : ops) {
    const std::string name = "k" + std::to_string(k);
    auto it = model.find(name);
    if (insert && it == model.end()) {
      const auto slot = static_cast<std::uint32_t>(by_slot.size());
      by_slot.push_back(name);
      index.insert(name, slot);
      model.emplace(name, slot);
    } else if (!insert && it != model.end()) {
      index.erase(name, it->second);
      model.erase(it);
    }
  }
  RC_ASSERT(index.size() == model.size());
  for (int k = 0; k < 64; ++k) {
    const std::string name = "k" + std::to_string(k);
    auto it = model.find(name);
    const auto found = index.find(name, name_of);
    RC_ASSERT(found.has_value() == (it != model.end()));
    if (found) RC_ASSERT(*found == it->second);
  }
}

// The prefetch candidates of a name are the slots whose hash bits match: an
// indexed name's own slot always among them (a find() compares only those).
TEST(NameIndex, AnIndexedNameIsAmongItsOwnCandidates) {
  Names names;
  std::vector<std::uint32_t> seen;
  names.index.for_each_candidate("n0", [&](std::uint32_t s) { seen.push_back(s); });
  EXPECT_TRUE(seen.empty()) << "an empty index has no candidates";
  for (int i = 0; i < 1000; ++i) names.add("n" + std::to_string(i));
  for (int i = 0; i < 1000; i += 37) {
    seen.clear();
    const std::string name = "n" + std::to_string(i);
    names.index.prefetch(name);
    names.index.for_each_candidate(name, [&](std::uint32_t s) { seen.push_back(s); });
    ASSERT_FALSE(seen.empty()) << name;
    EXPECT_NE(std::find(seen.begin(), seen.end(), static_cast<std::uint32_t>(i)), seen.end()) << name;
    EXPECT_LE(seen.size(), 2u) << "32 hash bits: another name's match is rare";
  }
  seen.clear();
  names.index.for_each_candidate("absent", [&](std::uint32_t s) { seen.push_back(s); });
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace heck
