#include "core/membership/messages.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/membership/swim.h"
#include "tests/core/wire/json_reference.h"

namespace heck {
namespace {

using json = nlohmann::json;
using wire::PartType;

std::string gen_name(std::size_t max_bytes) {
  const auto n = *rc::gen::inRange<std::size_t>(1, std::min<std::size_t>(max_bytes, 40) + 1);
  return *rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
}

MemberState gen_state() { return static_cast<MemberState>(*rc::gen::inRange(0, 4)); }

SwimMessage gen_message() {
  const auto u64 = [] { return *rc::gen::arbitrary<std::uint64_t>(); };
  const auto name = [] { return gen_name(wire::kMaxNameBytes); };
  const auto addr = [] { return gen_name(wire::kMaxAddressBytes); };
  switch (*rc::gen::inRange(0, 8)) {
    case 0: return PingMsg{u64(), name()};
    case 1: return PingReqMsg{u64(), name(), addr(), *rc::gen::arbitrary<bool>()};
    case 2: return AckMsg{u64()};
    case 3: return NackMsg{u64()};
    case 4: return AliveMsg{name(), addr(), u64()};
    case 5: return SuspectMsg{name(), addr(), u64(), name()};
    case 6: return DeadMsg{name(), addr(), u64(), name(), *rc::gen::arbitrary<bool>()};
    default: {
      PushPullMsg m{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<bool>(), {}};
      const auto n = *rc::gen::inRange(0, 6);
      for (int i = 0; i < n; ++i) m.members.push_back(PushPullEntry{name(), addr(), gen_state(), u64()});
      return m;
    }
  }
}

// Every message survives encode -> envelope -> bytes -> envelope -> decode.
RC_GTEST_PROP(SwimMessages, CodecRoundTripsEveryMessageType, ()) {
  const SwimMessage m = gen_message();
  const Bytes bytes = wire::encode(wire::Header{"n1", "n1:7946"}, {encode_message(m)});
  auto env = wire::decode(bytes);
  RC_ASSERT(env.ok());
  RC_ASSERT(env->parts.size() == 1u);
  RC_ASSERT(env->parts[0].type == part_type_of(m));
  auto back = decode_message(env->parts[0]);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == m);
}

// The bytes of every message are exactly those of the JSON encoder heck used
// before (tests/core/wire/json_reference.h) through to_msgpack.
RC_GTEST_PROP(SwimMessages, BytesEqualTheJsonEncoding, ()) {
  const SwimMessage m = gen_message();
  RC_ASSERT(encode_message(m).bytes == json_reference::part_bytes(part_type_of(m), json_reference::message_body(m)));
}

// A push_pull of many members: array16 headers, long names.
TEST(SwimMessages, LargePushPullBytesEqualTheJsonEncoding) {
  PushPullMsg m{true, false, {}};
  for (int i = 0; i < 300; ++i) {
    m.members.push_back(PushPullEntry{std::string(static_cast<std::size_t>(1 + i % 128), 'a'),
                                      std::string(static_cast<std::size_t>(1 + i % 256), 'b'),
                                      static_cast<MemberState>(i % 4), std::uint64_t{1} << (i % 64)});
  }
  const wire::EncodedPart part = encode_message(m);
  EXPECT_EQ(part.bytes, json_reference::part_bytes(PartType::push_pull, json_reference::message_body(m)));
  auto back = decode_message(wire::Part{PartType::push_pull, wire::body_of(part)});
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(std::get<PushPullMsg>(*back), m);
}

TEST(SwimMessages, BodiesAreCompactArrays) {
  auto p = encode_message(AckMsg{7});
  auto env = wire::decode(wire::encode(wire::Header{"a", "a:1"}, {p}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(wire::json_of(env->parts[0].body), json::array({7}));
  EXPECT_EQ(p.bytes.size(), 4u);  // 3, 2, [7]
}

TEST(SwimMessages, ErrorsNameTheTypeAndTheField) {
  auto err = [](PartType t, const json& body) {
    const Bytes bytes = wire::msgpack_of(body);
    auto r = decode_message(wire::Part{t, bytes});
    return r.ok() ? std::string("ok") : r.error();
  };
  EXPECT_EQ(err(PartType::ping, json::array({1})), "ping: expected an array of 2");
  EXPECT_EQ(err(PartType::ping, json::array({-1, "x"})), "ping: seq is not an unsigned integer");
  EXPECT_EQ(err(PartType::ping, json::array({1, ""})), "ping: target must be a string of 1-128 bytes");
  EXPECT_EQ(err(PartType::alive, json::array({"a", std::string(300, 'x'), 1})),
            "alive: address must be a string of 1-256 bytes");
  EXPECT_EQ(err(PartType::dead, json::array({"a", "b", 1, "c", 1})), "dead: left is not a boolean");
  EXPECT_EQ(err(PartType::push_pull, json::array({false, false, json::array({json::array({"a", "b", 9, 1})})})),
            "push_pull: members[0]: unknown state 9");
  EXPECT_EQ(err(PartType::push_pull, json::array({false, false, json::object()})),
            "push_pull: members is not an array");
  EXPECT_EQ(err(PartType::delta, json::array()), "part type 32 is not a membership message");
  EXPECT_EQ(err(static_cast<PartType>(9), json::array()), "part type 9 is not a membership message");
}

json gen_json(int depth) {
  switch (*rc::gen::inRange(0, depth > 0 ? 9 : 7)) {
    case 0: return nullptr;
    case 1: return *rc::gen::arbitrary<bool>();
    case 2: return *rc::gen::arbitrary<std::int64_t>();
    case 3: return *rc::gen::arbitrary<std::uint64_t>();
    case 4: return *rc::gen::arbitrary<double>();
    case 5: return gen_name(200);
    case 6: return *rc::gen::element(json::array(), json::object(), json(""), json(0u));
    case 7: {
      json a = json::array();
      const auto n = *rc::gen::inRange(0, 6);
      for (int i = 0; i < n; ++i) a.push_back(gen_json(depth - 1));
      return a;
    }
    default: {
      json o = json::object();
      const auto n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) o[gen_name(8)] = gen_json(depth - 1);
      return o;
    }
  }
}

// A valid body with one element replaced, dropped or added: reaches the
// deeper checks that purely random bodies rarely pass.
json gen_mutated_body(const SwimMessage& m) {
  const auto part = encode_message(m);
  json body = wire::json_of(wire::body_of(part));
  if (!body.is_array() || body.empty()) return body;
  const auto i = *rc::gen::inRange<std::size_t>(0, body.size());
  switch (*rc::gen::inRange(0, 3)) {
    case 0: body[i] = gen_json(2); break;
    case 1: body.erase(i); break;
    default: body.push_back(gen_json(1)); break;
  }
  return body;
}

// view_alive is set exactly when decode_message gives an AliveMsg, with the
// same fields, for valid and mutated bodies of every type alike.
RC_GTEST_PROP(SwimMessages, ViewAliveAgreesWithDecodeMessage, ()) {
  const SwimMessage m = gen_message();
  const Bytes body = *rc::gen::arbitrary<bool>() ? wire::msgpack_of(gen_mutated_body(m))
                                                 : wire::msgpack_of(json_reference::message_body(m));
  const wire::Part part{part_type_of(m), body};
  const auto decoded = decode_message(part);
  const auto view = view_alive(part);
  const AliveMsg* alive = decoded.ok() ? std::get_if<AliveMsg>(&*decoded) : nullptr;
  RC_ASSERT(view.has_value() == (alive != nullptr));
  if (alive != nullptr) {
    RC_ASSERT(view->name == alive->name);
    RC_ASSERT(view->address == alive->address);
    RC_ASSERT(view->incarnation == alive->incarnation);
  }
}

// Bad input never crashes handle_part: every body that does not decode is
// counted as malformed, every foreign part type as unknown.
RC_GTEST_PROP(SwimMessages, RandomBodiesNeverCrashHandlePart, ()) {
  Swim s(SwimConfig{}, "me", "me:7946", 1);
  Effects out;
  s.join(Instant{}, {}, out);
  const auto count = *rc::gen::inRange(1, 30);
  std::uint64_t expect_malformed = 0;
  std::uint64_t expect_unknown = 0;
  for (int i = 0; i < count; ++i) {
    wire::Part part;
    Bytes body;
    const int kind = *rc::gen::inRange(0, 3);
    if (kind == 0) {
      const SwimMessage m = gen_message();
      body = wire::msgpack_of(gen_mutated_body(m));
      part = wire::Part{part_type_of(m), body};
    } else if (kind == 1) {
      // Any bytes at all: a format 2 envelope frames bodies without
      // reading them, so the layer is the first to see a malformed one.
      part.type = static_cast<PartType>(*rc::gen::inRange(1, 9));
      body = *rc::gen::nonEmpty(rc::gen::arbitrary<Bytes>());
      part.body = body;
    } else {
      part.type = static_cast<PartType>(*rc::gen::inRange(0, 40));
      body = wire::msgpack_of(gen_json(3));
      part.body = body;
    }
    const auto t = static_cast<unsigned>(part.type);
    if (t < 1 || t > 8) {
      ++expect_unknown;
    } else if (!decode_message(part).ok()) {
      ++expect_malformed;
    }
    const std::string sender = gen_name(wire::kMaxNameBytes);
    s.handle_part(Instant::from_ns(i * 1000), wire::Header{sender, "peer:1"}, part,
                  *rc::gen::arbitrary<bool>() ? Channel::datagram : Channel::stream, out);
  }
  RC_ASSERT(s.counters().malformed_parts == expect_malformed);
  RC_ASSERT(s.counters().unknown_parts == expect_unknown);
  RC_ASSERT(s.member("me") != nullptr);
}

}  // namespace
}  // namespace heck
