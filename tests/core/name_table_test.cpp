// NameTable and Name: one copy of each text while any Name holds it, gone
// with the last one; Names compare by text (never by where the text lives);
// a Name outlives its table.
#include "core/name_table.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <xxhash.h>
#include <rapidcheck/gtest.h>

#include "core/membership/broadcast_queue.h"
#include "core/slot_map.h"
#include "core/wire/envelope.h"

namespace heck {
namespace {

TEST(NameTable, OneCopyPerTextWhileANameHoldsIt) {
  NameTable table;
  Name a = table.intern("n1:7946");
  Name b = table.intern(std::string("n1:") + "7946");
  EXPECT_EQ(&a.str(), &b.str());  // one copy
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(a, "n1:7946");
  EXPECT_EQ(table.find("n1:7946"), a);
  EXPECT_TRUE(table.find("n2").empty());  // find does not intern
  EXPECT_EQ(table.size(), 1u);
  {
    Name c = a;  // a copy holds it too
    a = Name{};
    b = Name{};
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(c.str(), "n1:7946");
  }
  EXPECT_EQ(table.size(), 0u);  // the last Name took its text along
  EXPECT_TRUE(table.intern("").empty());
  EXPECT_EQ(table.size(), 0u);  // the empty name is never stored
}

TEST(NameTable, ANameOutlivesItsTable) {
  Name kept;
  {
    NameTable table;
    kept = table.intern("survivor");
    Name moved = table.intern("moved");
    Name other = std::move(moved);
    EXPECT_TRUE(moved.empty());  // NOLINT: a moved-from Name is the empty name
    EXPECT_EQ(other, "moved");
  }
  EXPECT_EQ(kept.str(), "survivor");
  Name copy = kept;
  kept = Name{};
  EXPECT_EQ(copy.str(), "survivor");
}

TEST(NameTable, ADetachedNameHoldsItsOwnCopy) {
  NameTable table;
  const Name interned = table.intern("n1");
  const Name detached = detached_name("n1");
  EXPECT_EQ(detached, interned);
  EXPECT_EQ(detached, "n1");
  EXPECT_NE(&detached.str(), &interned.str());
  EXPECT_EQ(table.size(), 1u);  // not in the table
  EXPECT_TRUE(detached_name("").empty());
}

TEST(NameTable, NamesOfDifferentTablesCompareByText) {
  NameTable t1, t2;
  const Name a1 = t1.intern("a"), a2 = t2.intern("a"), b2 = t2.intern("b");
  EXPECT_EQ(a1, a2);
  EXPECT_LT(a1, b2);
  EXPECT_GT(b2, "a");
  EXPECT_LT(Name{}, a1);  // the empty name sorts first
}

// A NameRef looks a key up as the caller holds it: by a Name (its carried
// hash; a Name of another table, or detached, matches by text) or by a
// text, in maps keyed by Names and in maps keyed by strings alike.
TEST(NameTable, ANameRefFindsAKeyByItsNameOrByItsText) {
  NameTable table, other;
  SlotMap<Name, int> by_name;
  SlotMap<std::string, int> by_text;
  for (int i = 0; i < 100; ++i) {
    const std::string id = "target-" + std::to_string(i);
    by_name.insert(table.intern(id), i);
    by_text.insert(id, i);
  }
  for (int i = 0; i < 100; ++i) {
    const std::string id = "target-" + std::to_string(i);
    const Name same = table.find(id);
    const Name foreign = other.intern(id);
    const Name detached = detached_name(id);
    for (const NameRef ref :
         {NameRef(same), NameRef(foreign), NameRef(detached), NameRef(id), NameRef(std::string_view(id))}) {
      EXPECT_EQ(ref.hash(), text_hash(id)) << id;
      EXPECT_EQ(ref.text(), id);
      ASSERT_NE(by_name.find(ref), nullptr) << id;
      EXPECT_EQ(by_name.find(ref)->second, i);
      ASSERT_NE(by_text.find(ref), nullptr) << id;
      EXPECT_EQ(by_text.find(ref)->second, i);
    }
    EXPECT_EQ(NameRef(same).name(), &same);
    EXPECT_EQ(NameRef(id).name(), nullptr);
  }
  const Name absent = other.intern("target-100");
  const Name empty;
  for (const NameRef ref : {NameRef(absent), NameRef("target-100"), NameRef(empty)}) {
    EXPECT_EQ(by_name.find(ref), nullptr);
    EXPECT_EQ(by_text.find(ref), nullptr);
  }
}

// Any sequence of interns and releases: the table holds exactly the texts
// some live Name holds (a model: a multiset of live texts).
RC_GTEST_PROP(NameTableProp, TheTableHoldsExactlyTheTextsOfLiveNames, ()) {
  const auto steps = *rc::gen::container<std::vector<std::pair<bool, int>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange(0, 12)));
  NameTable table;
  std::vector<Name> live;
  std::map<std::string, int> model;
  for (const auto& [add, which] : steps) {
    if (add || live.empty()) {
      const std::string text = "m" + std::to_string(which);
      live.push_back(table.intern(text));
      ++model[text];
    } else {
      const std::size_t i = static_cast<std::size_t>(which) % live.size();
      if (--model[live[i].str()] == 0) model.erase(live[i].str());
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    }
    RC_ASSERT(table.size() == model.size());
    for (const auto& [text, count] : model) RC_ASSERT(table.find(text) == text);
  }
}

// Thousands of texts come and go in a scrambled order (the table grows
// several times, and erases shift probe runs back): every live text is
// found at its one copy, every released one is gone, and each Name carries
// its text's hash.
// A Name carries its text's digest bucket: the fixed function every agent
// buckets its anti-entropy digest by (XXH64 under the seed "bukt", modulo
// 256; a change would split a mixed-version cluster's buckets), the same
// however the Name was made, and computed afresh for a text whose entry
// took the memory of a dropped one.
TEST(NameTable, ANameCarriesItsTextsDigestBucket) {
  auto expected = [](std::string_view text) {
    return static_cast<std::uint16_t>(XXH64(text.data(), text.size(), 0x62756b74) % 256);
  };
  NameTable table;
  std::vector<std::uint16_t> seen(256, 0);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = "t" + std::to_string(i);
    const std::uint16_t b = expected(text);
    ++seen[b];
    EXPECT_EQ(text_bucket(text), b);
    {
      const Name name = table.intern(text);
      EXPECT_EQ(name.bucket(), b) << text;
      EXPECT_EQ(name.bucket(), b) << text;  // the kept value
      EXPECT_EQ(table.intern(text).bucket(), b);
    }
    // Dropped with its last Name: the next text's entry starts unbucketed.
    EXPECT_EQ(detached_name(text).bucket(), b);
  }
  EXPECT_EQ(Name{}.bucket(), expected(""));
  // The buckets spread: every one met by some of 2,000 texts.
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0);
  // Two fixed values: the function is part of the wire format.
  EXPECT_EQ(text_bucket("web"), 188);
  EXPECT_EQ(text_bucket("api"), 179);
}

TEST(NameTable, ManyTextsComeAndGo) {
  NameTable table;
  std::vector<Name> held;
  for (int i = 0; i < 5000; ++i) held.push_back(table.intern("t-" + std::to_string(i)));
  std::vector<bool> live(held.size(), true);
  for (std::size_t k = 0; k < held.size(); k += 2) {
    const std::size_t i = (k * 7919) % held.size();
    held[i] = Name{};
    live[i] = false;
  }
  std::size_t alive = 0;
  for (std::size_t i = 0; i < held.size(); ++i) {
    const std::string text = "t-" + std::to_string(i);
    const Name found = table.find(text);
    if (live[i]) {
      ++alive;
      ASSERT_EQ(&found.str(), &held[i].str()) << text;
      EXPECT_EQ(found.hash(), text_hash(text));
    } else {
      ASSERT_TRUE(found.empty()) << text << " was released";
    }
  }
  EXPECT_EQ(table.size(), alive);
  EXPECT_EQ(Name{}.hash(), text_hash(""));
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (!live[i]) held[i] = table.intern("t-" + std::to_string(i));
  }
  EXPECT_EQ(table.size(), held.size());
}

TEST(NameTable, ABroadcastQueueKeepsItsKeysInTheTableItIsGiven) {
  auto table = std::make_shared<NameTable>();
  {
    BroadcastQueue q(4, 16, table);
    q.push("m:n1", wire::EncodedPart{wire::PartType::alive, {1, 2, 3}});
    q.push("m:n1", wire::EncodedPart{wire::PartType::alive, {4}});  // replaces, same key
    q.push("m:n2", wire::EncodedPart{wire::PartType::alive, {5}});
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(table->size(), 2u);
    EXPECT_TRUE(q.contains("m:n1"));
    q.clear();
    EXPECT_EQ(table->size(), 0u);  // dropped parts release their keys
  }
}

}  // namespace
}  // namespace heck
