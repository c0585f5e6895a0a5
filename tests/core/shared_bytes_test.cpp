#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/net.h"

namespace heck {
namespace {

TEST(SharedBytes, CopiesShareTheBytesAndReadAsTheVectorTheyCameFrom) {
  const Bytes original{1, 2, 3, 250};
  SharedBytes a(original);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a, original);
  EXPECT_EQ(a[3], 250);
  EXPECT_EQ(Bytes(a.begin(), a.end()), original);
  SharedBytes b = a;  // shares: the same bytes, not a copy
  EXPECT_EQ(b.data(), a.data());
  SharedBytes c;
  c = b;
  EXPECT_EQ(c.data(), a.data());
  c = c;  // self-assignment keeps them
  EXPECT_EQ(c, original);
  SharedBytes d = std::move(c);
  EXPECT_EQ(d.data(), a.data());
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move): a moved-from SharedBytes is empty
  {
    SharedBytes e = a;
  }  // dropping one copy leaves the others whole (ASan checks the rest)
  a = SharedBytes{9};
  EXPECT_EQ(b, original);
  SharedBytes f{7};
  SharedBytes g = b;
  f = std::move(g);  // f lets its own bytes go and takes b's; g is empty
  EXPECT_EQ(f.data(), b.data());
  EXPECT_TRUE(g.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(d, original);
  EXPECT_EQ(a, (Bytes{9}));
  EXPECT_NE(a, b);
}

TEST(SharedBytes, EmptyHoldsNothing) {
  SharedBytes empty(Bytes{});
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_TRUE(empty.span().empty());
  EXPECT_EQ(empty, SharedBytes{});
}

}  // namespace
}  // namespace heck
