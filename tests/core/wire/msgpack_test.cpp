#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rapidcheck/gtest.h>

#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck::wire {
namespace {

using json = nlohmann::json;

// Writes a JSON value with MsgpackWriter (object keys in the JSON order).
void write_json(const json& j, MsgpackWriter& w) {
  switch (j.type()) {
    case json::value_t::null: w.nil(); break;
    case json::value_t::boolean: w.boolean(j.get<bool>()); break;
    case json::value_t::number_unsigned: w.uint(j.get<std::uint64_t>()); break;
    case json::value_t::number_integer: w.sint(j.get<std::int64_t>()); break;
    case json::value_t::number_float: w.real(j.get<double>()); break;
    case json::value_t::string: w.str(j.get_ref<const std::string&>()); break;
    case json::value_t::binary: w.bin(j.get_binary()); break;
    case json::value_t::array:
      w.array(j.size());
      for (const auto& x : j) write_json(x, w);
      break;
    case json::value_t::object:
      w.map(j.size());
      for (const auto& [k, v] : j.items()) {
        w.str(k);
        write_json(v, w);
      }
      break;
    case json::value_t::discarded: break;
  }
}

Bytes written(const json& j) {
  Bytes out;
  MsgpackWriter w(out);
  write_json(j, w);
  return out;
}

// Reads one value with MsgpackReader back into JSON.
bool read_json(MsgpackReader& r, json& out) {
  MsgValue v;
  if (!r.header(v)) return false;
  switch (v.type) {
    case MsgType::nil: out = nullptr; return true;
    case MsgType::boolean: out = v.boolean; return true;
    case MsgType::uint: out = v.u; return true;
    case MsgType::sint: out = v.i; return true;
    case MsgType::float64: out = v.f; return true;
    case MsgType::str: out = std::string(v.text()); return true;
    case MsgType::bin: out = json::binary(std::vector<std::uint8_t>(v.payload.begin(), v.payload.end())); return true;
    case MsgType::array:
      out = json::array();
      for (std::uint32_t i = 0; i < v.size; ++i) {
        json x;
        if (!read_json(r, x)) return false;
        out.push_back(std::move(x));
      }
      return true;
    case MsgType::map:
      out = json::object();
      for (std::uint32_t i = 0; i < v.size; ++i) {
        json k, x;
        if (!read_json(r, k) || !read_json(r, x) || !k.is_string()) return false;
        out[k.get<std::string>()] = std::move(x);
      }
      return true;
  }
  return false;
}

json gen_json(int depth) {
  switch (*rc::gen::inRange(0, depth > 0 ? 10 : 8)) {
    case 0: return nullptr;
    case 1: return *rc::gen::arbitrary<bool>();
    case 2: return *rc::gen::arbitrary<std::int64_t>();
    case 3: return *rc::gen::arbitrary<std::uint64_t>();
    case 4: return *rc::gen::arbitrary<double>();
    case 5: return *rc::gen::element(0.5, 1e300, -0.0, 3.25f * 1.0, 1.0 / 3.0);
    case 6: {
      // Lengths around the fixstr/str8/str16 edges.
      const auto n = *rc::gen::element<std::size_t>(0, 1, 31, 32, 255, 256, 300, 65535, 65536);
      return std::string(n, *rc::gen::arbitrary<char>());
    }
    case 7: return json::binary(*rc::gen::container<std::vector<std::uint8_t>>(rc::gen::arbitrary<std::uint8_t>()));
    case 8: {
      json a = json::array();
      const auto n = *rc::gen::element(0, 1, 15, 16, 17);
      for (int i = 0; i < n; ++i) a.push_back(gen_json(depth - 1));
      return a;
    }
    default: {
      json o = json::object();
      const auto n = *rc::gen::element(0, 1, 15, 16, 17);
      for (int i = 0; i < n; ++i) o[*rc::gen::arbitrary<std::string>()] = gen_json(depth - 1);
      return o;
    }
  }
}

RC_GTEST_PROP(Msgpack, WriterBytesEqualNlohmannToMsgpack, ()) {
  const json j = gen_json(2);
  RC_ASSERT(written(j) == json::to_msgpack(j));
}

RC_GTEST_PROP(Msgpack, ReaderReadsWhatNlohmannWrites, ()) {
  const json j = gen_json(2);
  const Bytes b = json::to_msgpack(j);
  MsgpackReader r(b);
  json back;
  RC_ASSERT(read_json(r, back));
  RC_ASSERT(r.at_end());
  // Compare encodings: NaN != NaN as values.
  RC_ASSERT(json::to_msgpack(back) == b);
  MsgpackReader s(b);
  RC_ASSERT(s.skip());
  RC_ASSERT(s.at_end());
}

TEST(Msgpack, EveryIntegerWidthAtItsEdges) {
  for (std::uint64_t u : {0ULL, 127ULL, 128ULL, 255ULL, 256ULL, 65535ULL, 65536ULL, 0xffffffffULL, 0x100000000ULL,
                          ~0ULL}) {
    EXPECT_EQ(written(json(u)), json::to_msgpack(json(u))) << u;
  }
  for (std::int64_t i : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-32}, std::int64_t{-33}, std::int64_t{-128},
                         std::int64_t{-129}, std::int64_t{-32768}, std::int64_t{-32769}, std::int64_t{INT32_MIN},
                         std::int64_t{INT32_MIN} - 1, std::numeric_limits<std::int64_t>::min(), std::int64_t{127},
                         std::int64_t{128}, std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(written(json(i)), json::to_msgpack(json(i))) << i;
    const Bytes b = written(json(i));
    MsgpackReader r(b);
    MsgValue v;
    ASSERT_TRUE(r.value(v));
    EXPECT_EQ(v.type == MsgType::uint ? static_cast<std::int64_t>(v.u) : v.i, i);
  }
  for (std::size_t n : {0u, 15u, 16u, 65535u, 65536u}) {
    Bytes head;
    MsgpackWriter(head).array(n);
    const Bytes full = json::to_msgpack(json(std::vector<json>(n, nullptr)));
    EXPECT_EQ(head, Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(head.size()))) << n;
  }
  EXPECT_EQ(written(json::binary(std::vector<std::uint8_t>(70000, 7))),
            json::to_msgpack(json::binary(std::vector<std::uint8_t>(70000, 7))));
}

std::string error_of(const Bytes& b, std::size_t depth = 16) {
  MsgpackReader r(b, depth);
  if (r.skip() && r.at_end()) return "ok";
  return r.ok() ? "trailing" : r.error();
}

TEST(Msgpack, ReaderRefusesWhatItCannotTrust) {
  // Declared lengths past the end, before anything is believed.
  EXPECT_NE(error_of({0xdd, 0xff, 0xff, 0xff, 0xff}).find("declares 4294967295 items"), std::string::npos);
  EXPECT_NE(error_of({0xdf, 0x00, 0x00, 0x00, 0x02, 0xa0, 0xc0}).find("map declares 2 items"), std::string::npos);
  EXPECT_NE(error_of({0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61}).find("truncated"), std::string::npos);
  EXPECT_NE(error_of({0xc6, 0x00, 0x01, 0x00, 0x00}).find("truncated"), std::string::npos);
  EXPECT_NE(error_of({0xcf, 0x01}).find("truncated"), std::string::npos);
  EXPECT_NE(error_of({}).find("truncated"), std::string::npos);
  // Types heck never writes.
  EXPECT_NE(error_of({0xc1}).find("unsupported type byte 0xc1"), std::string::npos);
  EXPECT_NE(error_of({0xd4, 0x01, 0x02}).find("unsupported type byte 0xd4"), std::string::npos);
  EXPECT_NE(error_of({0xc7, 0x01, 0x01, 0x02}).find("unsupported type byte 0xc7"), std::string::npos);
  // Map keys are strings.
  EXPECT_NE(error_of({0x81, 0x01, 0x02}).find("map key at byte 1 is not a string"), std::string::npos);
  // Depth: 16 nested arrays pass, 17 do not.
  Bytes deep(16, 0x91);
  deep.push_back(0x01);
  EXPECT_EQ(error_of(deep), "ok");
  deep.insert(deep.begin(), 0x91);
  EXPECT_EQ(error_of(deep), "nested deeper than 16");
  EXPECT_EQ(error_of({0x01, 0x02}), "trailing");
  // After a failure every call fails.
  const Bytes bad{0xc1, 0x01};
  MsgpackReader r(bad);
  MsgValue v;
  EXPECT_FALSE(r.header(v));
  EXPECT_FALSE(r.header(v));
}

// Inside a container every value is stepped over by its own length (the
// skip's fast paths for numbers and one-byte-length strings included), and
// one cut short is refused as the general path refuses it.
TEST(Msgpack, SkippingANestedValueStepsOverExactlyItsBytes) {
  const std::vector<Bytes> values = {
      {0x05},                                            // fixint
      {0xc0},                                            // nil
      {0xcc, 0xff},                                      // uint8
      {0xcd, 0x01, 0x00},                                // uint16
      {0xce, 0x00, 0x01, 0x00, 0x00},                    // uint32
      {0xcf, 0, 0, 0, 1, 0, 0, 0, 0},                    // uint64
      {0xd0, 0x80},                                      // int8
      {0xd1, 0x80, 0x00},                                // int16
      {0xd2, 0x80, 0x00, 0x00, 0x00},                    // int32
      {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},                 // int64
      {0xca, 0x3f, 0x00, 0x00, 0x00},                    // float32
      {0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a},  // float64
      {0xa2, 'h', 'i'},                                  // fixstr
      {0xd9, 0x03, 'a', 'b', 'c'},                       // str8
      {0xd9, 0x00},                                      // str8, empty
      {0xc4, 0x02, 0x01, 0x02},                          // bin8
      {0xda, 0x00, 0x01, 'x'},                           // str16
      {0x92, 0xcd, 0x01, 0x00, 0xd9, 0x01, 'z'},         // an array of them
  };
  for (const Bytes& v : values) {
    Bytes arr{0x92};  // [v, 1]
    arr.insert(arr.end(), v.begin(), v.end());
    arr.push_back(0x01);
    EXPECT_EQ(error_of(arr), "ok") << "type byte " << int{v[0]};
    Bytes map{0x81, 0xa1, 'k'};  // {"k": v}
    map.insert(map.end(), v.begin(), v.end());
    EXPECT_EQ(error_of(map), "ok") << "type byte " << int{v[0]};
    if (v.size() < 2) continue;
    Bytes cut{0x91};  // [v] without its last byte
    cut.insert(cut.end(), v.begin(), v.end() - 1);
    EXPECT_NE(error_of(cut).find("truncated"), std::string::npos) << "type byte " << int{v[0]} << ": " << error_of(cut);
  }
  // A key must be a string, however short the value.
  EXPECT_NE(error_of({0x81, 0xc4, 0x01, 'k', 0x01}).find("map key at byte 1 is not a string"), std::string::npos);
  EXPECT_NE(error_of({0x81, 0xcc, 0x01, 0x01}).find("map key at byte 1 is not a string"), std::string::npos);
  EXPECT_EQ(error_of({0x81, 0xd9, 0x01, 'k', 0x01}), "ok");
}

TEST(Msgpack, FloatsAndSignedNonNegativeIntegers) {
  EXPECT_EQ(written(json(0.5)), json::to_msgpack(json(0.5)));  // float32
  EXPECT_EQ(written(json(0.1)), json::to_msgpack(json(0.1)));  // float64
  const Bytes nan = written(json(std::nan("")));
  EXPECT_EQ(nan[0], 0xcb);
  // int8 5: a signed encoding of a non-negative value stays `sint`.
  const Bytes b{0xd0, 0x05};
  MsgpackReader r(b);
  MsgValue v;
  ASSERT_TRUE(r.value(v));
  EXPECT_EQ(v.type, MsgType::sint);
  EXPECT_TRUE(v.is_non_negative_integer());
  EXPECT_EQ(v.as_u64(), 5u);
  EXPECT_EQ(type_name(v), "a number");
}

RC_GTEST_PROP(Msgpack, RandomBytesNeverCrashAndAgreeWithNlohmann, (std::vector<std::uint8_t> bytes)) {
  MsgpackReader r(bytes);
  const bool mine = r.skip() && r.at_end();
  if (mine) {
    // What this reader accepts, nlohmann accepts too (it is the stricter).
    const json j = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
    RC_ASSERT(!j.is_discarded());
  }
}

}  // namespace
}  // namespace heck::wire
