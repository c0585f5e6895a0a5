// The dot map's copies, moves and live-dot sink (dot_store.h): a map keeps
// its entries, index and sink behind one pointer, and an empty, unindexed
// map without a sink keeps none, so these paths are where that could go
// wrong.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "core/replicated/crdts.h"

namespace heck {
namespace {

using Map = DotMap<std::string, DotFun<int>>;
constexpr ReplicaId A = 1;

DotFun<int> one(std::uint64_t counter, int v) {
  DotFun<int> f;
  f.insert(Dot{A, counter}, v);
  return f;
}

// Counts live dots per key, as the replicator's digest index does.
struct CountingSink final : LiveDotSink<std::string> {
  std::map<std::string, int> live;
  void live_dot(int, const std::string& key, Dot, bool added) override { live[key] += added ? 1 : -1; }
};

// An indexed map telling `sink` of its live dots, holding "a" at dot A:1.
Map indexed_with_sink(CountingSink& sink) {
  Map m;
  m.enable_dot_index();
  m.set_live_sink(&sink, 0);
  m.put("a", one(1, 10));
  return m;
}

TEST(DotMap, AnEmptyMapIsOnePointer) {
  // A delta's untouched stores: a HealthDelta has seven.
  EXPECT_EQ(sizeof(Map), sizeof(void*));
  Map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find("a"), nullptr);
  EXPECT_EQ(m.key_of(Dot{A, 1}), nullptr);
  EXPECT_FALSE(m.dot_indexed());
  EXPECT_EQ(m.entries().size(), 0u);
  m.erase("a");  // nothing to erase: no body made
  EXPECT_TRUE(m == Map{});
}

TEST(DotMap, JoiningTwoEmptyMapsChangesNothing) {
  Map m;
  CausalContext mine, theirs;
  theirs.insert(Dot{A, 1});
  EXPECT_FALSE(m.join_into(mine, Map{}, theirs));
  EXPECT_TRUE(m.empty());
}

TEST(DotMap, ACopyIsIndexedLikeItsSourceButHasNoSink) {
  CountingSink sink;
  Map m = indexed_with_sink(sink);
  EXPECT_EQ(sink.live["a"], 1);
  Map copy = m;
  EXPECT_TRUE(copy.dot_indexed());
  EXPECT_TRUE(copy.index_consistent());
  ASSERT_NE(copy.key_of(Dot{A, 1}), nullptr);
  EXPECT_EQ(*copy.key_of(Dot{A, 1}), "a");
  copy.put("b", one(2, 20));  // the copy has no sink: the source's is not told
  EXPECT_EQ(sink.live.count("b"), 0u);
  // An unindexed empty map copies as one.
  const Map empty;
  const Map empty_copy = empty;
  EXPECT_FALSE(empty_copy.dot_indexed());
  EXPECT_TRUE(empty_copy.empty());
}

TEST(DotMap, AssigningOverAMapWithASinkTellsItOfTheRemovalsAndKeepsIndexing) {
  CountingSink sink;
  Map m = indexed_with_sink(sink);
  const Map none;
  m = none;  // a copy of an empty map (no body): the sink and the index stay
  EXPECT_EQ(sink.live["a"], 0);
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.dot_indexed());
  Map other;
  other.put("b", one(2, 20));
  m = other;
  EXPECT_EQ(sink.live["b"], 1);
  EXPECT_TRUE(m.index_consistent());
  ASSERT_NE(m.key_of(Dot{A, 2}), nullptr);
}

TEST(DotMap, AMoveCarriesEntriesIndexAndSinkAndLeavesTheSourceEmpty) {
  CountingSink sink;
  Map m = indexed_with_sink(sink);
  const auto* entry_before = &*m.entries().begin();
  Map moved = std::move(m);
  EXPECT_EQ(&*moved.entries().begin(), entry_before);  // entries stay where they are
  EXPECT_TRUE(moved.index_consistent());
  moved.put("b", one(2, 20));
  EXPECT_EQ(sink.live["b"], 1);  // the sink came along
  EXPECT_TRUE(m.empty());        // NOLINT(bugprone-use-after-move): the source is left empty
  EXPECT_FALSE(m.dot_indexed());
}

}  // namespace
}  // namespace heck
