// The dot function's storage (dot_store.h): one entry in place, two or more
// in a vector on the heap, told apart by the bytes of the in-place entry's
// dot counter (never 0). Every copy, move and assignment between the three
// shapes (empty, one, more) is where that could go wrong; the sizes pin the
// memory it saves (no discriminator beside the entry).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/replicated/crdts.h"
#include "core/replicated/health_state.h"

namespace heck {
namespace {

constexpr ReplicaId A = 1, B = 2;

// A value with a heap block (a string past the small-string buffer) and a
// count of live copies, so a leak, a double destruction or a lost value shows.
struct Tracked {
  static inline int live = 0;
  std::string text;
  explicit Tracked(std::string t = "a value long enough to live on the heap") : text(std::move(t)) { ++live; }
  Tracked(const Tracked& o) : text(o.text) { ++live; }
  Tracked(Tracked&& o) noexcept : text(std::move(o.text)) { ++live; }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) noexcept = default;
  ~Tracked() { --live; }
  bool operator==(const Tracked& o) const { return text == o.text; }
};

using Fun = DotFun<Tracked>;

Fun with(std::initializer_list<std::pair<Dot, std::string>> entries) {
  Fun f;
  for (const auto& [d, text] : entries) f.insert(d, Tracked(text));
  return f;
}

std::vector<std::pair<Dot, std::string>> contents(const Fun& f) {
  std::vector<std::pair<Dot, std::string>> out;
  for (const auto& e : f.entries()) out.emplace_back(e.first, e.second.text);
  return out;
}

TEST(DotFun, HoldsNoDiscriminatorBesideItsEntry) {
  EXPECT_EQ(sizeof(DotFun<Observation>), sizeof(DotFun<Observation>::Entry));
  EXPECT_EQ(sizeof(DotFun<SpecVersion>), sizeof(DotFun<SpecVersion>::Entry));
  EXPECT_EQ(sizeof(DotFun<std::int64_t>), 24u);
}

TEST(DotFun, EmptyOneAndMoreReadBackInDotOrder) {
  Fun f;
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(f.entries().empty());
  f.insert(Dot{B, 1}, Tracked("b1"));
  EXPECT_EQ(f.size(), 1u);
  EXPECT_TRUE(f.contains(Dot{B, 1}));
  EXPECT_FALSE(f.contains(Dot{A, 1}));
  f.insert(Dot{A, 7}, Tracked("a7"));
  f.insert(Dot{B, 1}, Tracked("again"));  // a dot held already: unchanged
  f.insert(Dot{A, 2}, Tracked("a2"));
  const std::vector<std::pair<Dot, std::string>> want{{Dot{A, 2}, "a2"}, {Dot{A, 7}, "a7"}, {Dot{B, 1}, "b1"}};
  EXPECT_EQ(contents(f), want);
  EXPECT_TRUE(f.contains(Dot{A, 7}));
}

TEST(DotFun, CopiesMovesAndAssignmentsBetweenEveryShapeKeepValuesAndLeakNothing) {
  const int before = Tracked::live;
  {
    // Each shape built afresh (never copied), with what it must hold.
    const std::vector<std::vector<std::pair<Dot, std::string>>> held{
        {}, {{Dot{A, 1}, "one"}}, {{Dot{A, 1}, "x"}, {Dot{B, 3}, "y"}, {Dot{B, 4}, "z"}}};
    const auto shape = [&](std::size_t i) {
      Fun f;
      for (const auto& [d, text] : held[i]) f.insert(d, Tracked(text));
      return f;
    };
    for (std::size_t i = 0; i < held.size(); ++i) {
      ASSERT_EQ(contents(shape(i)), held[i]);
      for (std::size_t k = 0; k < held.size(); ++k) {
        const Fun from = shape(i);
        Fun copy(from);
        EXPECT_EQ(contents(copy), held[i]);
        EXPECT_EQ(contents(from), held[i]);
        Fun assigned = shape(k);
        assigned = from;
        EXPECT_EQ(contents(assigned), held[i]);
        assigned = *&assigned;  // self-assignment keeps it
        EXPECT_EQ(contents(assigned), held[i]);
        Fun moved_into = shape(k);
        Fun source = shape(i);
        moved_into = std::move(source);
        EXPECT_EQ(contents(moved_into), held[i]);
        Fun constructed(std::move(moved_into));
        EXPECT_EQ(contents(constructed), held[i]);
        EXPECT_TRUE(constructed == from);
      }
    }
  }
  EXPECT_EQ(Tracked::live, before);
}

TEST(DotFun, JoinKeepsWhatTheOtherSideHasNotSeen) {
  CausalContext seen_a, seen_b;
  seen_a.insert(Dot{A, 1});
  seen_a.insert(Dot{A, 2});
  seen_b.insert(Dot{A, 1});  // b saw A:1 and dropped it
  seen_b.insert(Dot{B, 1});
  const Fun a = with({{Dot{A, 1}, "a1"}, {Dot{A, 2}, "a2"}});
  const Fun b = with({{Dot{B, 1}, "b1"}});
  const Fun j = Fun::join(a, seen_a, b, seen_b);
  const std::vector<std::pair<Dot, std::string>> want{{Dot{A, 2}, "a2"}, {Dot{B, 1}, "b1"}};
  EXPECT_EQ(contents(j), want);
  // One side holding one entry the other saw: nothing is left, no vector.
  const Fun gone = Fun::join(with({{Dot{A, 1}, "a1"}}), seen_a, Fun{}, seen_b);
  EXPECT_TRUE(gone.empty());
}

}  // namespace
}  // namespace heck
