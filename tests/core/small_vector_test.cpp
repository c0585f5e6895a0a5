// SmallVector against std::vector: random operations, the same results, and
// values in place until they outgrow N.
#include "core/small_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace heck {
namespace {

struct Pair {
  std::uint64_t a = 0;
  std::uint32_t b = 0;
  bool operator==(const Pair&) const = default;
};

template <typename T, std::uint32_t N>
void expect_same(const SmallVector<T, N>& s, const std::vector<T>& v) {
  ASSERT_EQ(s.size(), v.size());
  EXPECT_EQ(s.empty(), v.empty());
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(s[i], v[i]) << "at " << i;
  EXPECT_EQ(s.is_inline(), s.capacity() == N);
}

TEST(SmallVector, MatchesAVectorUnderRandomOperations) {
  std::mt19937_64 rng(7);
  SmallVector<Pair, 3> s;
  std::vector<Pair> v;
  for (int step = 0; step < 20'000; ++step) {
    const Pair p{rng(), static_cast<std::uint32_t>(step)};
    switch (rng() % 7) {
      case 0:
      case 1:
        s.push_back(p);
        v.push_back(p);
        break;
      case 2: {
        const std::size_t at = v.empty() ? 0 : rng() % (v.size() + 1);
        Pair* where = s.insert(s.begin() + at, p);
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), p);
        EXPECT_EQ(where, s.begin() + at);
        break;
      }
      case 3:
        if (!v.empty() && rng() % 2 == 0) {
          s.pop_back();
          v.pop_back();
        } else if (!v.empty()) {  // a range from the middle
          const std::size_t at = rng() % v.size();
          const std::size_t n = rng() % (v.size() - at + 1);
          Pair* next = s.erase(s.begin() + at, s.begin() + at + n);
          v.erase(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
          EXPECT_EQ(next, s.begin() + at);
        }
        break;
      case 4: {
        const std::size_t n = rng() % 9;
        s.resize(n);
        v.resize(n);
        break;
      }
      case 5: {  // copies and moves keep the values; a moved-from vector is empty
        SmallVector<Pair, 3> copy = s;
        expect_same(copy, v);
        SmallVector<Pair, 3> moved = std::move(copy);
        EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): specified empty
        s = std::move(moved);
        break;
      }
      default:
        if (rng() % 50 == 0) {
          s.clear();
          v.clear();
        } else if (!v.empty()) {  // a value of the vector itself, pushed back
          s.push_back(s.front());
          v.push_back(v.front());
        }
    }
    expect_same(s, v);
    if (HasFatalFailure()) return;
  }
}

TEST(SmallVector, KeepsUpToNInPlaceThenSpills) {
  SmallVector<std::uint32_t, 4> s{1, 2, 3, 4};
  EXPECT_TRUE(s.is_inline());
  const auto* inline_data = s.data();
  s.push_back(5);
  EXPECT_FALSE(s.is_inline());
  EXPECT_NE(s.data(), inline_data);
  EXPECT_EQ(s, (SmallVector<std::uint32_t, 4>{1, 2, 3, 4, 5}));
  s = SmallVector<std::uint32_t, 4>{9};  // a small value moved in frees the block
  EXPECT_TRUE(s.is_inline());
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.front(), 9u);
}

}  // namespace
}  // namespace heck
