// The strict JSON field readers (core/json_fields.h): values, and errors
// that name the field.
#include "core/json_fields.h"

#include <gtest/gtest.h>

namespace heck::json_fields {
namespace {

const json kObj = json::parse(R"({"n": 5, "neg": -1, "big": 18446744073709551615, "x": 2.5, "s": "abc",
                                  "a": [1, 2, 3], "o": {"k": 1}, "t": true})");

template <typename T>
std::string error_of(const Result<T>& r) {
  return r ? std::string("(no error)") : r.error();
}

TEST(JsonFields, PathsAndTypeNames) {
  EXPECT_EQ(path("", "k"), "k");
  EXPECT_EQ(path("a[1]", "k"), "a[1].k");
  EXPECT_EQ(type_name(kObj.at("t")), "a boolean");
  EXPECT_EQ(type_name(kObj.at("a")), "an array");
}

TEST(JsonFields, IntegersInRange) {
  EXPECT_EQ(*get_int(kObj, "w", "n", 1, 10), 5);
  EXPECT_EQ(error_of(get_int(kObj, "w", "n", 6, 10)), "w.n: must be at least 6, got 5");
  EXPECT_EQ(error_of(get_int(kObj, "w", "neg", 1, 10)), "w.neg: must be positive, got -1");
  EXPECT_EQ(error_of(get_int(kObj, "w", "n", 0, 4)), "w.n: must be at most 4, got 5");
  EXPECT_EQ(error_of(get_int(kObj, "w", "s", 0, 4)), "w.s: must be an integer, got a string");
  EXPECT_EQ(error_of(get_int(kObj, "w", "zz", 0, 4)), "w.zz: missing");
  EXPECT_FALSE(opt_int(kObj, "w", "zz", 0, 4)->has_value());
  EXPECT_EQ(**opt_int(kObj, "w", "n", 0, 10), 5);
  EXPECT_EQ(error_of(opt_int(kObj, "w", "n", 0, 4)), "w.n: must be at most 4, got 5");
  EXPECT_EQ(*get_u64(kObj, "", "big"), UINT64_MAX);
  EXPECT_EQ(error_of(get_u64(kObj, "", "neg")), "neg: must be a non-negative integer, got -1");
}

TEST(JsonFields, NumbersStringsArraysObjects) {
  EXPECT_EQ(*get_number(kObj, "w", "x", 0, 3), 2.5);
  EXPECT_EQ(error_of(get_number(kObj, "w", "x", 0, 1)), "w.x: must be in [0, 1], got 2.5");
  EXPECT_FALSE(opt_number(kObj, "w", "zz", 0, 1)->has_value());
  EXPECT_EQ(*get_string(kObj, "w", "s", 3), "abc");
  EXPECT_EQ(error_of(get_string(kObj, "w", "s", 2)), "w.s: longer than 2 characters");
  EXPECT_EQ(**opt_string(kObj, "w", "s", 3), "abc");
  EXPECT_EQ((*get_array(kObj, "w", "a", 3))->size(), 3u);
  EXPECT_EQ(error_of(get_array(kObj, "w", "a", 2)), "w.a: more than 2 items");
  EXPECT_EQ(error_of(get_array(kObj, "w", "o", 2)), "w.o: must be an array, got an object");
  EXPECT_TRUE(expect_object(kObj.at("o"), "w.o", {"k"}));
  EXPECT_EQ(error_of(expect_object(kObj.at("o"), "w.o", {"j"})), "w.o.k: unknown key (known: j)");
  EXPECT_EQ(error_of(expect_object(kObj.at("a"), "w.a", {"j"})), "w.a: must be an object, got an array");
}

TEST(JsonFields, TakeUnwrapsOrThrowsTheMessage) {
  EXPECT_EQ(take(get_int(kObj, "w", "n", 1, 10)), 5);
  try {
    take(get_int(kObj, "w", "n", 6, 10));
    FAIL() << "take() of an error must throw";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.message, "w.n: must be at least 6, got 5");
  }
}

}  // namespace
}  // namespace heck::json_fields
