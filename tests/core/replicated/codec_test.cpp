#include "core/replicated/codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/wire/envelope.h"
#include "core/wire/msgpack_writer.h"
#include "tests/core/wire/json_reference.h"

namespace heck {
namespace {

using json = nlohmann::json;

TargetSpec spec(const std::string& id, int port = 9000) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:" + std::to_string(port) + "/healthz");
  return s;
}

Observation obs(HealthStatus st, std::uint64_t ms, ReplicaId who, std::uint64_t seq, int latency_ms = 3) {
  Observation o;
  o.status = st;
  o.reason = st == HealthStatus::healthy ? CheckReason::ok : CheckReason::timeout;
  o.status_code = st == HealthStatus::healthy ? 200 : 0;
  o.latency = Duration::milliseconds(latency_ms);
  o.observed_at = HlcTimestamp::make(ms, static_cast<std::uint16_t>(seq % 7));
  o.observer = who;
  o.check_seq = seq;
  return o;
}

// Random histories over three agents give realistic deltas and states: single
// writes, removals, counters, and states with version vectors and clouds.
struct Generated {
  std::vector<HealthDelta> deltas;
  std::vector<HealthDelta> states;
};

Generated gen_history() {
  const ReplicaId ids[] = {0x1234567890abcdefULL, 7, 0xffffffffffffffffULL};
  std::vector<HealthState> agents{HealthState(ids[0]), HealthState(ids[1]), HealthState(ids[2])};
  Generated g;
  const int steps = *rc::gen::inRange(0, 40);
  for (int i = 0; i < steps; ++i) {
    const int at = *rc::gen::inRange(0, 3);
    const std::string id = "t" + std::to_string(*rc::gen::inRange(0, 5));
    HealthState& s = agents[static_cast<std::size_t>(at)];
    switch (*rc::gen::inRange(0, 6)) {
      case 0: g.deltas.push_back(s.put_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 1), spec(id, 9000 + i))); break;
      case 1: g.deltas.push_back(s.remove_target(HlcTimestamp::make(static_cast<std::uint64_t>(i), 1), id)); break;
      case 2:
        g.deltas.push_back(s.observe(id, obs(*rc::gen::element(HealthStatus::healthy, HealthStatus::unhealthy,
                                                                HealthStatus::unknown),
                                             static_cast<std::uint64_t>(*rc::gen::inRange(0, 1 << 30)), ids[at],
                                             static_cast<std::uint64_t>(i), *rc::gen::inRange(0, 5000))));
        break;
      case 3: g.deltas.push_back(s.add_to_counter("likes", *rc::gen::inRange(-100, 100))); break;
      default: {
        const int from = *rc::gen::inRange(0, 3);
        if (!g.deltas.empty() && *rc::gen::arbitrary<bool>()) {
          s.join(g.deltas[static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, g.deltas.size()))]);
        } else {
          s.join(agents[static_cast<std::size_t>(from)].state());
        }
      }
    }
  }
  for (const auto& a : agents) g.states.push_back(a.state());
  return g;
}

// Through the real wire path: part -> envelope bytes -> envelope -> body.
Bytes via_wire(wire::PartType type, const Bytes& body) {
  const Bytes bytes = wire::encode(wire::Header{"n1", "n1:7946"}, {wire::encode_part(type, body)});
  auto env = wire::decode(bytes);
  RC_ASSERT(env.ok());
  RC_ASSERT(env->parts.size() == 1u);
  return Bytes(env->parts[0].body.begin(), env->parts[0].body.end());
}

RC_GTEST_PROP(Codec, DeltaRoundTrips, ()) {
  const auto g = gen_history();
  for (const auto* list : {&g.deltas, &g.states}) {
    for (const HealthDelta& d : *list) {
      auto back = decode_delta(via_wire(wire::PartType::delta, encode_delta(d)));
      RC_ASSERT(back.ok());
      RC_ASSERT(*back == d);
    }
  }
}

Digest gen_digest(const Generated& g) {
  Digest d;
  d.registry = g.states[0].registry.context;
  d.observations = g.states[1].observations.context;
  d.counters = g.states[2].counters.context;
  d.hashes = *rc::gen::container<std::vector<std::uint64_t>>(kDigestBuckets, rc::gen::arbitrary<std::uint64_t>());
  d.reply = *rc::gen::arbitrary<bool>();
  d.replica = *rc::gen::inRange<std::uint64_t>(1, UINT64_MAX);
  return d;
}

RC_GTEST_PROP(Codec, DigestRoundTrips, ()) {
  const auto g = gen_history();
  const Digest d = gen_digest(g);
  auto back = decode_digest(via_wire(wire::PartType::digest, encode_digest(d)));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == d);
}

Repair gen_repair(const Generated& g) {
  Repair r;
  const HealthDelta& st = g.states[static_cast<std::size_t>(*rc::gen::inRange(0, 3))];
  r.scoped = *rc::gen::arbitrary<bool>();
  if (r.scoped) {
    // Buckets of some keys; entries of those keys, some dots elided.
    std::set<std::uint16_t> buckets;
    auto take = [&](const auto& store, auto& out_store, auto& elided) {
      for (const auto& [k, fun] : store.entries()) {
        if (!*rc::gen::arbitrary<bool>()) continue;
        buckets.insert(bucket_of(k));
        std::decay_t<decltype(fun)> kept;
        for (const auto& [dot, v] : fun.entries()) {
          if (*rc::gen::arbitrary<bool>()) {
            kept.insert(dot, v);
          } else {
            elided.add(k, dot);
          }
        }
        if (!kept.empty()) out_store.put(k, kept);
      }
    };
    take(st.registry.store, r.delta.registry.store, r.elided.registry);
    take(st.observations.store, r.delta.observations.store, r.elided.observations);
    take(st.counters.store, r.delta.counters.store, r.elided.counters);
    r.buckets.assign(buckets.begin(), buckets.end());
    r.delta.registry.context = st.registry.context;
    r.delta.observations.context = st.observations.context;
    r.delta.counters.context = st.counters.context;
    r.partial = *rc::gen::arbitrary<bool>();
    r.for_replica = *rc::gen::inRange<std::uint64_t>(1, UINT64_MAX);
  } else {
    r.delta = st;
  }
  return r;
}

RC_GTEST_PROP(Codec, RepairRoundTrips, ()) {
  const auto g = gen_history();
  const Repair r = gen_repair(g);
  auto back = decode_repair(via_wire(wire::PartType::repair, encode_repair(r)));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
}

// --- the bytes on the wire ------------------------------------------------------
//
// The encoders write MessagePack straight from the structs; their bytes must
// be exactly those of the JSON encoders heck used before
// (tests/core/wire/json_reference.h) through nlohmann::json::to_msgpack, so
// simulated runs, traces and byte counts do not change.

// A delta with values at the edges of every MessagePack width: replica ids,
// HLCs and sequence numbers of any size, long observer names, counters of
// any sign, contexts with large version vectors and clouds.
HealthDelta gen_wide_delta() {
  HealthState s(*rc::gen::inRange<std::uint64_t>(1, UINT64_MAX));
  HealthDelta d;
  const int n = *rc::gen::inRange(0, 20);
  for (int i = 0; i < n; ++i) {
    const std::string id = "t" + std::to_string(*rc::gen::inRange(0, 40));
    switch (*rc::gen::inRange(0, 3)) {
      case 0: d.join(s.put_target(HlcTimestamp{*rc::gen::arbitrary<std::uint64_t>()}, spec(id, 1 + i))); break;
      case 1: {
        Observation o = obs(*rc::gen::element(HealthStatus::healthy, HealthStatus::unhealthy, HealthStatus::unknown),
                            0, *rc::gen::inRange<std::uint64_t>(1, UINT64_MAX), *rc::gen::arbitrary<std::uint64_t>());
        o.observed_at = HlcTimestamp{*rc::gen::arbitrary<std::uint64_t>()};
        o.status_code = *rc::gen::inRange(0, 1000);
        o.latency = Duration::microseconds(*rc::gen::inRange<std::int64_t>(0, std::int64_t{1} << 40));
        o.observer_name = detached_name(std::string(*rc::gen::element<std::size_t>(0, 31, 32, 255, 256), 'n'));
        d.join(s.observe(id, o));
        break;
      }
      default: d.join(s.add_to_counter(id, *rc::gen::arbitrary<std::int64_t>() / 64)); break;
    }
  }
  // Contexts beyond what one agent makes: many replicas, big counters.
  std::map<ReplicaId, std::uint64_t> vv;
  std::set<Dot> cloud;
  for (int i = *rc::gen::inRange(0, 40); i > 0; --i) {
    vv[*rc::gen::inRange<std::uint64_t>(1, UINT64_MAX)] = *rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 62);
  }
  for (int i = *rc::gen::inRange(0, 20); i > 0; --i) {
    cloud.insert(Dot{*rc::gen::inRange<std::uint64_t>(1, UINT64_MAX), *rc::gen::inRange<std::uint64_t>(1, 1 << 20)});
  }
  d.counters.context.join(CausalContext::from_parts({vv.begin(), vv.end()}, {cloud.begin(), cloud.end()}));
  return d;
}

RC_GTEST_PROP(Codec, DeltaBytesEqualTheJsonEncoding, ()) {
  const auto g = gen_history();
  for (const auto* list : {&g.deltas, &g.states}) {
    for (const HealthDelta& d : *list) RC_ASSERT(encode_delta(d) == json::to_msgpack(json_reference::delta_body(d)));
  }
  const HealthDelta wide = gen_wide_delta();
  RC_ASSERT(encode_delta(wide) == json::to_msgpack(json_reference::delta_body(wide)));
  RC_ASSERT(encode_delta(HealthDelta{}) == json::to_msgpack(json_reference::delta_body(HealthDelta{})));
  // And through a part: type, length, body.
  const auto part = wire::encode_part(wire::PartType::delta, encode_delta(wide));
  RC_ASSERT(part.bytes == json_reference::part_bytes(wire::PartType::delta, json_reference::delta_body(wide)));
}

RC_GTEST_PROP(Codec, DigestBytesEqualTheJsonEncoding, ()) {
  const auto g = gen_history();
  Digest d = gen_digest(g);
  if (*rc::gen::arbitrary<bool>()) d.counters = gen_wide_delta().counters.context;
  if (*rc::gen::arbitrary<bool>()) d.hashes.clear();
  RC_ASSERT(encode_digest(d) == json::to_msgpack(json_reference::digest_body(d)));
}

RC_GTEST_PROP(Codec, RepairBytesEqualTheJsonEncoding, ()) {
  const auto g = gen_history();
  Repair r = gen_repair(g);
  if (!r.scoped && *rc::gen::arbitrary<bool>()) r.delta = gen_wide_delta();
  RC_ASSERT(encode_repair(r) == json::to_msgpack(json_reference::repair_body(r)));
}

TEST(Codec, OneObservationDeltaIsSmall) {
  HealthState a(0x1234567890abcdefULL);
  a.put_target(HlcTimestamp::make(1, 0), spec("web-frontend-01"));
  const auto d = a.observe("web-frontend-01", obs(HealthStatus::unhealthy, 1'700'000'000'000, a.self(), 42));
  const auto part = wire::encode_part(wire::PartType::delta, encode_delta(d));
  // key 15 B, replica id 9 B, HLC 9 B, check_seq, status, reason, latency, context.
  EXPECT_LE(part.bytes.size(), 80u) << wire::json_of(encode_delta(d)).dump();
}

// --- strictness ---------------------------------------------------------------

struct BadCase {
  const char* body;
  const char* error;  // a substring of the message
};

class DeltaRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(DeltaRejects, WithAMessageNamingTheField) {
  const auto body = json::parse(GetParam().body);
  auto d = decode_delta(wire::msgpack_of(body));
  ASSERT_FALSE(d.ok()) << GetParam().body;
  EXPECT_NE(d.error().find(GetParam().error), std::string::npos) << d.error();
}

INSTANTIATE_TEST_SUITE_P(
    Codec, DeltaRejects,
    ::testing::Values(
        BadCase{R"([])", "delta: must be an object"},
        BadCase{R"({"g": []})", "delta.r: missing"},
        BadCase{R"({"r": [], "z": 1})", "delta: unknown key 'z'"},
        BadCase{R"({"r": [0]})", "delta.r[0]: must be a replica id"},
        BadCase{R"({"r": [5, 5]})", "delta.r[1]: duplicate replica id"},
        BadCase{R"({"r": [5], "o": [[], [[], []], 1]})", "delta.o: must be [store, context]"},
        BadCase{R"({"r": [5], "o": [[["web", 1, 1, [0,0,0,0,0,0,0,""]]], [[], [0, 1]]]})",
                "delta.o[0] dot 0 replica: must be an index into the replica table (size 1)"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 0, [0,0,0,0,0,0,0,""]]], [[], [0, 1]]]})",
                "delta.o[0] dot 0 counter: 0 is out of range"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 2, [0,0,0,0,0,0,0,""]]], [[], [0, 1]]]})",
                "delta.o: dot 2 of key 'web' is not in the context"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [3,0,0,0,0,0,0,""]]], [[0, 1], []]]})",
                "delta.o[0] dot 0 status: 3 is out of range"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [1,0,1000,0,0,0,0,""]]], [[0, 1], []]]})",
                "status_code: must be at most 999"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [1,0,200,0,0,0]]], [[0, 1], []]]})",
                "observation must be [status, reason"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [1,0,200,0,0,0,0,7]]], [[0, 1], []]]})",
                "observer_name: must be a string"},
        BadCase{R"({"r": [5], "o": [[["bad id!", 0, 1, [1,0,200,0,0,0,0,""]]], [[0, 1], []]]})",
                "'bad id!' is neither a valid target id nor '@' and a member name"},
        BadCase{R"({"r": [5], "o": [[["@", 0, 1, [1,0,200,0,0,0,0,""]]], [[0, 1], []]]})",
                "'@' is neither a valid target id nor '@' and a member name"},
        BadCase{R"({"r": [5], "g": [[["@n1", 0, 1, [{"id": "@n1", "url": "http://a/"}, 1, 0]]], [[0, 1], []]]})",
                "'@n1' is not a valid target id"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [1,0,200,0,0,0,0,""]], ["web", 0, 1, [1,0,200,0,0,0,0,""]]], [[0, 1], []]]})",
                "delta.o[1]: duplicate key 'web'"},
        BadCase{R"({"r": [5], "o": [[["web", 0, 1, [1,0,200,0,0,0,0,""], 0, 1, [1,0,200,0,0,0,0,""]]], [[0, 1], []]]})",
                "delta.o[0] dot 1: duplicate dot"},
        BadCase{R"({"r": [5], "o": [[["web"]], [[], []]]})", "with at least one dot"},
        BadCase{R"({"r": [5], "o": [[], [[0], []]]})", "version vector must hold (replica, max) pairs"},
        BadCase{R"({"r": [5], "o": [[], [[0, 1, 0, 2], []]]})", "replica listed twice"},
        BadCase{R"({"r": [5], "g": [[["web", 0, 1, [{"id": "other", "url": "http://a/"}, 1, 0]]], [[0, 1], []]]})",
                "spec id 'other' differs from its key 'web'"},
        BadCase{R"({"r": [5], "g": [[["web", 0, 1, [{"id": "web"}, 1, 0]]], [[0, 1], []]]})", "delta.g[0] dot 0 spec"},
        BadCase{R"({"r": [5], "c": [[["likes", 0, 1, "many"]], [[0, 1], []]]})", "delta.c[0] dot 0: must be an integer"}));

// The observation store also holds members' vouches (health_state.h).
TEST(Codec, AVouchRoundTrips) {
  HealthState a(5);
  Observation o;
  o.observer = 5;
  o.observer_name = detached_name("n1");
  const HealthDelta d = a.observe(vouch_subject("n1"), o);
  auto back = decode_delta(encode_delta(d));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, d);
  HealthState b(6);
  b.join(*back);
  ASSERT_NE(b.vouch_of("n1"), nullptr);
  EXPECT_EQ(b.vouch_of("n1")->observer_name, "n1");
  EXPECT_EQ(b.vouch_of("n2"), nullptr);
}

TEST(SpecPool, DecodersShareOneSpecPerDistinctBytes) {
  HealthState a(5);
  const Bytes one = encode_delta(a.put_target(HlcTimestamp::make(1, 0), spec("web")));
  const Bytes two = encode_delta(a.put_target(HlcTimestamp::make(2, 0), spec("db", 5432)));
  SpecPool pool;
  auto x = decode_delta(one, {}, &pool);
  auto y = decode_delta(one, {}, &pool);  // another agent, or a duplicate
  auto z = decode_delta(two, {}, &pool);
  ASSERT_TRUE(x.ok() && y.ok() && z.ok());
  const auto spec_of = [](const HealthDelta& d) { return d.registry.store.entries().begin()->second.entries().begin()->second.spec; };
  EXPECT_EQ(spec_of(*x).get(), spec_of(*y).get());  // one object, parsed once
  EXPECT_NE(spec_of(*x).get(), spec_of(*z).get());
  EXPECT_EQ(*x, *decode_delta(one));  // what a decode without the pool gives
  EXPECT_EQ(pool.counters().hits, 1u);
  EXPECT_EQ(pool.counters().misses, 2u);
  EXPECT_EQ(pool.size(), 2u);
}

// Every agent holds one observation per target by one of a few observers:
// their names are interned in the pool, one copy per observer, not per
// observation (an Observation holds an 8-byte Name, not a std::string).
TEST(SpecPool, DecodersShareOneCopyOfEachObserversNameAndKey) {
  static_assert(sizeof(Observation) <= 48);
  HealthState a(5);
  Observation o;
  o.observer = 5;
  o.observer_name = detached_name("agent-with-a-long-name-7");
  const Bytes one = encode_delta(a.observe("web", o));
  const Bytes two = encode_delta(a.observe("db", o));
  SpecPool pool;
  auto x = decode_delta(one, {}, &pool);
  auto y = decode_delta(two, {}, &pool);
  ASSERT_TRUE(x.ok() && y.ok());
  const auto name_of = [](const HealthDelta& d) {
    return d.observations.store.entries().begin()->second.entries().begin()->second.observer_name;
  };
  EXPECT_EQ(name_of(*x), "agent-with-a-long-name-7");
  EXPECT_EQ(&name_of(*x).str(), &name_of(*y).str());  // one copy of the text
  EXPECT_EQ(pool.names().size(), 3u);                   // the observer's name and the two keys
  const auto key_of = [](const HealthDelta& d) { return d.observations.store.entries().begin()->first; };
  EXPECT_EQ(key_of(*x), "web");
  EXPECT_EQ(key_of(*x).hash(), text_hash("web"));
  auto again = decode_delta(one, {}, &pool);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(&key_of(*again).str(), &key_of(*x).str());  // a key decoded twice: one copy
  EXPECT_EQ(pool.names().size(), 3u);
  EXPECT_EQ(*x, *decode_delta(one));  // what a decode without the pool gives
  const auto alone = decode_delta(two);
  ASSERT_TRUE(alone.ok());
  EXPECT_NE(&name_of(*alone).str(), &name_of(*y).str());  // its own copy, outliving the decode
  EXPECT_EQ(name_of(*alone), name_of(*y));
}

TEST(SpecPool, AHitIsStillCheckedAgainstItsKey) {
  // The same spec bytes under another key: the pool holds the spec, the
  // decoder must still refuse the mismatch.
  HealthState a(5);
  SpecPool pool;
  ASSERT_TRUE(decode_delta(encode_delta(a.put_target(HlcTimestamp::make(1, 0), spec("web"))), {}, &pool).ok());
  json body = json::parse(R"({"r": [5], "g": [[["api", 0, 2, [null, 1, 0]]], [[0, 2], []]]})");
  body["g"][0][0][3][0] = spec("web").to_json();  // the canonical bytes: a hit
  auto first = decode_delta(wire::msgpack_of(body), {}, &pool);
  auto again = decode_delta(wire::msgpack_of(body), {}, &pool);
  EXPECT_EQ(pool.counters().hits, 2u);
  ASSERT_FALSE(first.ok());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("spec id 'web' differs from its key 'api'"), std::string::npos) << again.error();
  EXPECT_EQ(again.error(), first.error());
}

Bytes spec_bytes(const TargetSpec& s) {
  Bytes out;
  wire::MsgpackWriter w(out);
  s.write_msgpack(w);
  return out;
}

// The pool keeps no bytes: a hit is one whose bytes are those the pooled
// spec writes. Bytes in another form (here: only the keys given, not the
// defaults the canonical form spells out) decode to the same spec but never
// hit; the pool then keeps the spec under those bytes' hash, and a later
// lookup finds the entry, writes its spec, sees other bytes: a miss.
TEST(SpecPool, OnlyTheCanonicalBytesOfASpecHit) {
  SpecPool pool;
  const Bytes short_form = wire::msgpack_of(json::parse(R"({"id": "web", "url": "http://127.0.0.1:9000/"})"));
  json body = json::parse(R"({"r": [5], "g": [[["web", 0, 2, [null, 1, 0]]], [[0, 2], []]]})");
  body["g"][0][0][3][0] = json::from_msgpack(short_form);
  auto first = decode_delta(wire::msgpack_of(body), {}, &pool);
  auto again = decode_delta(wire::msgpack_of(body), {}, &pool);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_EQ(pool.counters().hits, 0u);
  EXPECT_EQ(pool.counters().misses, 2u);
  EXPECT_EQ(pool.counters().collisions, 1u);
  const auto parsed = TargetSpec::from_json(json::from_msgpack(short_form));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(pool.find(spec_bytes(*parsed)), nullptr);  // not pooled under its canonical bytes yet
  // A spec pooled under bytes it does not write is never returned for them.
  pool.insert(short_form, std::make_shared<const TargetSpec>(spec("db")));
  EXPECT_EQ(pool.find(short_form), nullptr);
  auto canonical = std::make_shared<const TargetSpec>(*parsed);
  pool.insert(spec_bytes(*canonical), canonical);
  EXPECT_EQ(pool.find(spec_bytes(*parsed)).get(), canonical.get());
}

TEST(SpecPool, PurgesSpecsNobodyHoldsAnyMore) {
  SpecPool pool;
  std::vector<std::shared_ptr<const TargetSpec>> held;
  for (int i = 0; i < 3000; ++i) {
    auto s = std::make_shared<const TargetSpec>(spec("t" + std::to_string(i)));
    pool.insert(spec_bytes(*s), s);
    if (i % 2 == 0) held.push_back(s);  // the odd ones are dropped by their holder at once
  }
  EXPECT_GT(pool.counters().purged, 0u);
  EXPECT_LT(pool.size(), 3000u);
  // Every spec still held elsewhere is still found.
  for (const auto& s : held) EXPECT_EQ(pool.find(spec_bytes(*s)).get(), s.get());
}

TEST(Codec, LimitsBoundEveryCount) {
  CodecLimits lim;
  lim.max_dots_per_key = 1;
  lim.max_keys = 1;
  lim.max_cloud_dots = 1;
  lim.max_replicas = 1;
  lim.max_key_bytes = 3;
  auto err = [&](const char* body) {
    auto d = decode_delta(wire::msgpack_of(json::parse(body)), lim);
    return d.ok() ? std::string("ok") : d.error();
  };
  EXPECT_NE(err(R"({"r": [5, 6]})").find("2 replica ids (limit 1)"), std::string::npos);
  EXPECT_NE(err(R"({"r": [5], "c": [[["a", 0, 1, 1], ["b", 0, 2, 1]], [[0, 2], []]]})").find("2 keys (limit 1)"),
            std::string::npos);
  EXPECT_NE(err(R"({"r": [5], "c": [[["a", 0, 1, 1, 0, 2, 1]], [[0, 2], []]]})").find("2 dots (limit 1)"),
            std::string::npos);
  EXPECT_NE(err(R"({"r": [5], "c": [[], [[], [0, 3, 0, 5]]]})").find("2 cloud dots (limit 1)"), std::string::npos);
  EXPECT_NE(err(R"({"r": [5], "c": [[["abcd", 0, 1, 1]], [[0, 1], []]]})").find("key must be 1-3 bytes"),
            std::string::npos);
}

TEST(Codec, DigestAndRepairReject) {
  EXPECT_NE(decode_digest(wire::msgpack_of(json::parse(R"({"r": [], "x": [[[],[]],[[],[]],[[],[]]]})"))).error().find("digest.i: missing"),
            std::string::npos);
  EXPECT_NE(decode_digest(wire::msgpack_of(json::parse(R"({"i": 3, "r": [], "x": [[[],[]],[[],[]],[[],[]]]})"))).error().find("digest.h: missing"),
            std::string::npos);
  json d = json::parse(R"({"i": 3, "r": [], "x": [[[],[]],[[],[]],[[],[]]]})");
  d["h"] = json::binary(std::vector<std::uint8_t>(10));
  EXPECT_NE(decode_digest(wire::msgpack_of(d)).error().find("digest.h: must be 2048 bytes"), std::string::npos);
  const char* empty_triple = R"([[[], [[], []]], [[], [[], []]], [[], [[], []]]])";
  json r = json::parse(std::string(R"({"r": [], "d": )") + empty_triple + "}");
  r["b"] = {3, 2};
  r["t"] = 9;
  EXPECT_NE(decode_repair(wire::msgpack_of(r)).error().find("repair.b[1]: buckets must be sorted and unique"), std::string::npos);
  r["b"] = {256};
  EXPECT_NE(decode_repair(wire::msgpack_of(r)).error().find("repair.b[0]"), std::string::npos);
  r.erase("b");
  r["p"] = true;
  EXPECT_NE(decode_repair(wire::msgpack_of(r)).error().find("need 'b'"), std::string::npos);
  r.erase("p");
  r["b"] = json::array();
  EXPECT_TRUE(decode_repair(wire::msgpack_of(r)).ok()) << decode_repair(wire::msgpack_of(r)).error();
  r.erase("t");
  EXPECT_NE(decode_repair(wire::msgpack_of(r)).error().find("repair.t: missing"), std::string::npos);
  // An entry outside the listed buckets.
  json s = json::parse(R"({"r": [5], "d": [[[], [[], []]], [[], [[], []]], [[["likes", 0, 1, 4]], [[0, 1], []]]]})");
  const auto b = bucket_of("likes");
  s["t"] = 77;
  s["b"] = json::array({static_cast<int>((b + 1) % kDigestBuckets)});
  EXPECT_NE(decode_repair(wire::msgpack_of(s)).error().find("key 'likes' lies outside the listed buckets"), std::string::npos);
  s["b"] = json::array({static_cast<int>(b)});
  EXPECT_TRUE(decode_repair(wire::msgpack_of(s)).ok()) << decode_repair(wire::msgpack_of(s)).error();
  // Elided dots must be in the context.
  s["e"] = json::parse(R"([[], [], [["likes", 0, 1]]])");
  EXPECT_TRUE(decode_repair(wire::msgpack_of(s)).ok()) << decode_repair(wire::msgpack_of(s)).error();
  s["e"] = json::parse(R"([[], [], [["likes", 0, 9]]])");
  EXPECT_NE(decode_repair(wire::msgpack_of(s)).error().find("repair.e.c: dot 9 of key 'likes' is not in the context"), std::string::npos);
}

TEST(CausalContext, FromPartsIncludesAndMissing) {
  const CausalContext a = CausalContext::from_parts({{1, 3}, {2, 0}}, {Dot{1, 4}, Dot{1, 6}, Dot{3, 2}});
  EXPECT_EQ(a.vv().entries(), (std::vector<std::pair<ReplicaId, std::uint64_t>>{{1, 4}}));  // 4 folded in, 2:0 ignored
  EXPECT_EQ(a.cloud().dots(), (std::vector<Dot>{Dot{1, 6}, Dot{3, 2}}));
  const CausalContext b = CausalContext::from_parts({{1, 6}}, {});
  EXPECT_FALSE(a.includes(b));
  EXPECT_EQ(a.missing_count(b, 100), 1u);  // (1,5)
  EXPECT_EQ(b.missing_count(a, 100), 1u);  // (3,2)
  EXPECT_TRUE(a.includes(CausalContext::from_parts({{1, 4}}, {Dot{1, 6}})));
  std::vector<Dot> missing;
  EXPECT_TRUE(a.for_each_missing(b, 10, [&](Dot d) { missing.push_back(d); }));
  EXPECT_EQ(missing, (std::vector<Dot>{Dot{1, 5}}));
  EXPECT_EQ(CausalContext::from_parts({{2, 5}, {1, 4}, {2, 3}}, {Dot{1, 9}, Dot{1, 6}, Dot{1, 9}}),
            CausalContext::from_parts({{1, 4}, {2, 5}}, {Dot{1, 6}, Dot{1, 9}}))
      << "any order; a replica's highest max; a repeated dot once";
  const CausalContext big = CausalContext::from_parts({{1, 1'000'000'000}}, {});
  EXPECT_EQ(a.missing_count(big, 50), 50u);  // saturates, no billion-step loop
  missing.clear();
  EXPECT_FALSE(a.for_each_missing(big, 3, [&](Dot d) { missing.push_back(d); }));
  EXPECT_EQ(missing.size(), 3u);
}

}  // namespace
}  // namespace heck
