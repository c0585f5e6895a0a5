#include "core/wire/envelope.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/wire/msgpack_reader.h"
#include "tests/core/wire/json_reference.h"

namespace heck::wire {
namespace {

using json = nlohmann::json;

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
  EXPECT_NE(bad(json::array({2, "n", "a:1", json::array()})).find("unsupported format version 2"), std::string::npos);
  EXPECT_NE(bad(json::array({1, "", "a:1", json::array()})).find("sender"), std::string::npos);
  EXPECT_NE(bad(json::array({1, "n", 5, json::array()})).find("address"), std::string::npos);
  EXPECT_NE(bad(json::array({1, "n", "a:1", json::array({json::array({1})})})).find("parts[0]"), std::string::npos);
  EXPECT_NE(bad(json{{"a", 1}}).find("array of 4"), std::string::npos);
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
  // The same nesting as a part's body: refused by depth, not by recursion.
  auto r = decode(encode({"n1", "a:1"}, {EncodedPart{PartType::ping, [&] {
                                            Bytes b{0x92, 0x01};
                                            b.insert(b.end(), deep.begin(), deep.end());
                                            return b;
                                          }()}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nested deeper"), std::string::npos);
  // The limit counts from the envelope, as one whole() over the packet
  // does: 13 arrays nested in a body pass, 14 do not.
  for (std::size_t levels = 10; levels <= 16; ++levels) {
    Bytes body{0x92, 0x01};
    body.insert(body.end(), levels, 0x91);
    body.push_back(0x01);
    const Bytes packet = encode({"n1", "a:1"}, {EncodedPart{PartType::ping, body}});
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
