#include "core/wire/envelope.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"
#include "tests/core/wire/json_reference.h"

namespace heck::wire {
namespace {

using json = nlohmann::json;

// An envelope in format 1 (builds before format 2), written by hand:
// [1, sender, address, [[type, body], ...]].
Bytes format1(const Header& h, const std::vector<std::pair<PartType, Bytes>>& parts) {
  Bytes out;
  MsgpackWriter w(out);
  w.array(4);
  w.uint(1);
  w.str(h.sender);
  w.str(h.address);
  w.array(parts.size());
  for (const auto& [type, body] : parts) {
    w.array(2);
    w.uint(static_cast<std::uint64_t>(type));
    w.raw(body);
  }
  return out;
}

TEST(Envelope, RoundTripsHeaderAndParts) {
  Header h{"n1", "127.0.0.1:7946"};
  Bytes bytes = encode(h, {json_part(PartType::ping, json::array({7, "n2"})),
                           json_part(PartType::delta, json{{"k", 1}})});
  auto env = decode(bytes);
  ASSERT_TRUE(env.ok()) << env.error();
  EXPECT_EQ(env->header.sender, "n1");
  EXPECT_EQ(env->header.address, "127.0.0.1:7946");
  ASSERT_EQ(env->parts.size(), 2u);
  EXPECT_EQ(env->parts[0].type, PartType::ping);
  EXPECT_EQ(json_of(env->parts[0].body), json::array({7, "n2"}));
  EXPECT_EQ(env->parts[1].type, PartType::delta);
  EXPECT_EQ(json_of(env->parts[1].body)["k"], 1);
}

TEST(Envelope, BuilderRespectsTheSizeLimitExactly) {
  Header h{"node-a", "10.0.0.1:7946"};
  PacketBuilder b(h, 200);
  EncodedPart part = json_part(PartType::alive, json(std::string(20, 'x')));
  int added = 0;
  while (b.try_add(part)) ++added;
  EXPECT_GT(added, 3);
  Bytes out = b.finish();
  EXPECT_LE(out.size(), 200u);
  auto env = decode(out);
  ASSERT_TRUE(env.ok()) << env.error();
  EXPECT_EQ(env->parts.size(), static_cast<std::size_t>(added));
  EXPECT_TRUE(b.empty());
}

TEST(Envelope, ManyPartsUseTheLongArrayHeader) {
  Header h{"n", "a:1"};
  std::vector<EncodedPart> parts(40, json_part(PartType::ack, json(1)));
  auto env = decode(encode(h, parts));
  ASSERT_TRUE(env.ok()) << env.error();
  EXPECT_EQ(env->parts.size(), 40u);
}

TEST(Envelope, RejectsWrongShapesWithAMessage) {
  auto bad = [](const json& v) {
    Bytes b = json::to_msgpack(v);
    auto r = decode(b);
    EXPECT_FALSE(r.ok()) << v.dump();
    return r.ok() ? std::string() : r.error();
  };
  EXPECT_NE(bad(json::array({3, "n", "a:1", json::array()})).find("unsupported format version 3"), std::string::npos);
  EXPECT_NE(bad(json::array({0, "n", "a:1", json::array()})).find("unsupported format version 0"), std::string::npos);
  for (int version : {1, 2}) {
    EXPECT_NE(bad(json::array({version, "", "a:1", json::array()})).find("sender"), std::string::npos);
    EXPECT_NE(bad(json::array({version, "n", 5, json::array()})).find("address"), std::string::npos);
  }
  // Format 1: [type, body] per part.
  EXPECT_NE(bad(json::array({1, "n", "a:1", json::array({json::array({1})})})).find("parts[0]"), std::string::npos);
  // Format 2: type, length, body per part.
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({1, 1})})).find("not [type, length, body]"), std::string::npos);
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({"x", 1, 1})})).find("parts[0]: the type"), std::string::npos);
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({70000, 1, 1})})).find("parts[0]: the type"), std::string::npos);
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({1, 1, 1, 1, 0, 1})})).find("parts[1]: the body length"),
            std::string::npos);
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({1, -1, 1})})).find("parts[0]: the body length"), std::string::npos);
  // A length past the end of the packet.
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array({1, 2, 1})})).find("parts[0]: the body length is not 1-1"),
            std::string::npos);
  EXPECT_NE(bad(json{{"a", 1}}).find("array of 4"), std::string::npos);
}

TEST(Envelope, WritesFormat2AndReadsFormat1) {
  const Header h{"n1", "127.0.0.1:7946"};
  const Bytes ping = msgpack_of(json::array({7, "n2"}));
  const Bytes delta = msgpack_of(json{{"k", std::string(300, 'x')}});
  const Bytes v2 = encode(h, {encode_part(PartType::ping, ping), encode_part(PartType::delta, delta)});
  EXPECT_EQ(json_of(v2)[0], 2);
  EXPECT_EQ(json_of(v2)[3].size(), 6u);  // type, length, body per part
  const Bytes v1 = format1(h, {{PartType::ping, ping}, {PartType::delta, delta}});
  for (const Bytes* packet : {&v1, &v2}) {
    auto env = decode(*packet);
    ASSERT_TRUE(env.ok()) << env.error();
    EXPECT_EQ(env->header.sender, "n1");
    ASSERT_EQ(env->parts.size(), 2u);
    EXPECT_EQ(env->parts[0].type, PartType::ping);
    EXPECT_TRUE(std::ranges::equal(env->parts[0].body, ping));
    EXPECT_EQ(env->parts[1].type, PartType::delta);
    EXPECT_TRUE(std::ranges::equal(env->parts[1].body, delta));
  }
  // The length costs nothing for a body under 128 bytes (format 1 spent a
  // byte on each part's [type, body] header), and 2 bytes on a 300-byte one.
  EXPECT_EQ(v2.size(), v1.size() + 2);
  EXPECT_EQ(encode_part(PartType::ping, ping).bytes.size(), 2 + ping.size());
}

TEST(Envelope, ToFormat1WritesWhatAnOlderBuildReadsInNoMoreBytes) {
  const Header h{"n1", "127.0.0.1:7946"};
  std::vector<std::pair<PartType, Bytes>> parts;
  for (std::size_t n : {1u, 100u, 127u, 128u, 300u, 70'000u}) {
    parts.emplace_back(PartType::delta, msgpack_of(json(std::string(n, 'x'))));
  }
  std::vector<EncodedPart> encoded;
  for (const auto& [type, body] : parts) encoded.push_back(encode_part(type, body));
  const Bytes v2 = encode(h, encoded);
  auto v1 = to_format1(v2);
  ASSERT_TRUE(v1.ok()) << v1.error();
  EXPECT_EQ(*v1, format1(h, parts));
  EXPECT_LE(v1->size(), v2.size());
  auto back = decode(*v1);
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_EQ(back->parts.size(), parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) EXPECT_TRUE(std::ranges::equal(back->parts[i].body, parts[i].second));
  // Format 1 in, format 1 out; garbage is an error.
  EXPECT_EQ(*to_format1(*v1), *v1);
  EXPECT_FALSE(to_format1(Bytes{0x94, 0x02}).ok());
}

TEST(Envelope, Format2FramesBodiesWithoutReadingThem) {
  // A body is found by its length: the envelope does not read it, so a
  // malformed one (0xc1 is never valid) passes here, whole, and the layer
  // that reads it refuses it (every body decoder reads its body whole).
  const Bytes garbage{0xc1, 0x01, 0x02};
  const Bytes packet = encode({"n1", "a:1"}, {encode_part(PartType::ping, msgpack_of(json::array({1, "n2"}))),
                                              encode_part(PartType::delta, garbage),
                                              encode_part(PartType::ack, msgpack_of(json::array({1})))});
  auto env = decode(packet);
  ASSERT_TRUE(env.ok()) << env.error();
  ASSERT_EQ(env->parts.size(), 3u);
  EXPECT_TRUE(std::ranges::equal(env->parts[1].body, garbage));
  MsgpackReader layer(env->parts[1].body);
  MsgValue v;
  EXPECT_FALSE(layer.whole(v));
  EXPECT_EQ(env->parts[2].type, PartType::ack);
  // In format 1 the same body makes the whole packet malformed.
  EXPECT_FALSE(decode(format1({"n1", "a:1"}, {{PartType::delta, garbage}})).ok());
}

TEST(Envelope, RejectsTruncatedEmptyOversizedAndDeepInput) {
  Bytes good = encode({"n1", "a:1"}, {json_part(PartType::ping, json::array({1, 2, 3}))});
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode(std::span(good.data(), n)).ok()) << "prefix " << n;
  }
  EXPECT_FALSE(decode(good, DecodeLimits{.max_bytes = good.size() - 1}).ok());
  Bytes deep(64, 0x91);  // 64 nested one-element arrays
  deep.push_back(0x01);
  EXPECT_FALSE(decode(deep).ok());  // not an envelope
  // The same nesting as a format 1 part's body: refused by depth, not by
  // recursion. (A format 2 body is read, under the same kind of limit, by
  // the layer that decodes it.)
  auto r = decode(format1({"n1", "a:1"}, {{PartType::ping, deep}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nested deeper"), std::string::npos);
  // The limit counts from the envelope, as one whole() over the packet
  // does: 13 arrays nested in a format 1 body pass, 14 do not.
  for (std::size_t levels = 10; levels <= 16; ++levels) {
    Bytes body(levels, 0x91);
    body.push_back(0x01);
    const Bytes packet = format1({"n1", "a:1"}, {{PartType::ping, body}});
    MsgpackReader whole(packet, DecodeLimits{}.max_depth);
    MsgValue v;
    EXPECT_EQ(decode(packet).ok(), whole.whole(v)) << levels;
    EXPECT_EQ(decode(packet).ok(), levels <= 13) << levels;
  }
  // Bytes after the envelope are refused.
  Bytes trailing = good;
  trailing.push_back(0x01);
  auto t = decode(trailing);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("bytes after"), std::string::npos);
  // decode_view reads the caller's bytes in place, with the same checks.
  auto view = decode_view(good);
  ASSERT_TRUE(view.ok()) << view.error();
  EXPECT_TRUE(view->bytes.empty());
  EXPECT_EQ(view->parts.at(0).body.data(), good.data() + (good.size() - view->parts.at(0).body.size()));
  EXPECT_FALSE(decode_view(trailing).ok());
  // An array header claiming 2^32-1 items in 5 bytes must fail, not allocate.
  Bytes huge{0xdd, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(decode(huge).ok());
}

RC_GTEST_PROP(Envelope, RandomBytesNeverCrashTheDecoder, (std::vector<std::uint8_t> bytes)) {
  auto r = decode(bytes);
  if (r.ok()) RC_ASSERT(r->parts.size() <= kMaxParts);
}

}  // namespace
}  // namespace heck::wire
