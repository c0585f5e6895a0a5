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

// Issue 10: a renamed key under its old name says what it became, but only
// where the new name is a key; elsewhere it is just unknown.
TEST(JsonFields, RenamedKeysAreRefusedWithTheirNewName) {
  const json old = json::parse(R"({"kind": "detection", "dead_ms_max": 30000})");
  EXPECT_EQ(error_of(expect_object(old, "expectations[0]", {"kind", "max_first_ms", "max_dead_ms"})),
            "expectations[0].dead_ms_max: renamed to max_dead_ms");
  EXPECT_EQ(error_of(expect_object(old, "w", {"kind"})), "w.dead_ms_max: unknown key (known: kind)");
  const std::string_view swim_keys[] = {"probe_interval_ms", "max_suspicion_timeout_mult"};
  EXPECT_EQ(unknown_key("--swim suspicion_max_timeout_mult", "suspicion_max_timeout_mult", swim_keys).message,
            "--swim suspicion_max_timeout_mult: renamed to max_suspicion_timeout_mult");
  EXPECT_EQ(unknown_key("colour", "colour", swim_keys).message,
            "colour: unknown key (known: probe_interval_ms, max_suspicion_timeout_mult)");
}

// The table itself: limits read max_<what>[_<unit>] (or min_…), and no old
// name is also a new name (a rename never chains or collides).
TEST(JsonFields, RenamedKeysTableIsConsistent) {
  for (const RenamedKey& r : kRenamedKeys) {
    EXPECT_NE(r.old_name, r.new_name);
    EXPECT_TRUE(r.new_name.starts_with("max_") || r.new_name.starts_with("min_")) << r.new_name;
    for (const RenamedKey& other : kRenamedKeys) {
      EXPECT_NE(r.old_name, other.new_name) << r.old_name;
      if (&r != &other) EXPECT_NE(r.old_name, other.old_name) << r.old_name;
    }
  }
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
