// The likes service's replicated state (health_state.h): add-wins sets of
// (set, member) pairs and the record of applied idempotent writes, with its
// deterministic garbage collection; their laws, their codec, and their way
// through the replicator's dissemination and anti-entropy.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/replicated/snapshot.h"
#include "tests/core/replicated/replication_harness.h"

namespace heck {
namespace {

constexpr ReplicaId A = 101, B = 202, C = 303;

AppliedRequest answer(std::uint64_t fingerprint, std::uint64_t ms, std::string body = "{}") {
  AppliedRequest r;
  r.fingerprint = fingerprint;
  r.status = 200;
  r.body = std::move(body);
  r.applied_at = HlcTimestamp::make(ms, 0);
  r.writer = A;  // record_request writes its own replica
  return r;
}

std::vector<std::string> members(const HealthState& s, const std::string& set) {
  return s.set_members(set, "", 1'000'000).members;
}

TEST(Sets, AMemberAddedOftenCountsOnce) {
  HealthState a(A), b(B);
  for (int i = 0; i < 5; ++i) b.join(a.add_to_set("post-1", "user-7"));
  b.join(b.add_to_set("post-1", "user-7"));
  a.join(b.state());
  EXPECT_EQ(a.set_members("post-1", "", 10).count, 1u);
  EXPECT_EQ(b.set_members("post-1", "", 10).count, 1u);
  EXPECT_EQ(members(a, "post-1"), std::vector<std::string>{"user-7"});
}

TEST(Sets, AnUnlikeRemovesAndAConcurrentLikeWins) {
  HealthState a(A), b(B);
  b.join(a.add_to_set("p", "u"));
  const HealthDelta unlike = a.remove_from_set("p", "u");
  EXPECT_FALSE(a.set_contains("p", "u"));
  const HealthDelta relike = b.add_to_set("p", "u");  // concurrent with the unlike
  a.join(relike);
  b.join(unlike);
  EXPECT_TRUE(a.set_contains("p", "u"));
  EXPECT_TRUE(b.set_contains("p", "u"));
  // A remove that has seen the add removes it everywhere.
  b.join(a.remove_from_set("p", "u"));
  EXPECT_FALSE(b.set_contains("p", "u"));
}

TEST(Sets, SetsWithSimilarNamesDoNotMixAndPagesCoverTheSet) {
  HealthState s(A);
  for (const char* set : {"a", "a-b", "a.b", "a0", "ab", "a:b"}) {
    for (const char* m : {"x", "y"}) s.add_to_set(set, m);
  }
  for (int i = 0; i < 25; ++i) s.add_to_set("a", "m" + std::to_string(100 + i));
  EXPECT_EQ(s.set_members("a", "", 1000).count, 27u);
  EXPECT_EQ(s.set_members("a-b", "", 1000).count, 2u);
  EXPECT_EQ(s.set_members("a0", "", 1000).count, 2u);
  EXPECT_EQ(s.set_members("nope", "", 1000).count, 0u);
  std::vector<std::string> paged;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const SetPage p = s.set_members("a", after, 10);
    EXPECT_EQ(p.count, 27u);
    paged.insert(paged.end(), p.members.begin(), p.members.end());
    if (!p.more) break;
    after = p.members.back();
  }
  EXPECT_EQ(paged, members(s, "a"));
  EXPECT_EQ(paged.size(), 27u);
  EXPECT_TRUE(std::is_sorted(paged.begin(), paged.end()));
}

TEST(Sets, NamesMembersAndKeysAreValidated) {
  EXPECT_TRUE(valid_set_name("post-1"));
  EXPECT_FALSE(valid_set_name(""));
  EXPECT_FALSE(valid_set_name(std::string(kMaxSetNameLength + 1, 'a')));
  EXPECT_TRUE(valid_set_name(std::string(kMaxSetNameLength, 'a')));
  EXPECT_FALSE(valid_set_name("a/b"));
  EXPECT_FALSE(valid_set_member("u 1"));
  EXPECT_TRUE(valid_set_member(std::string(kMaxSetMemberLength, 'u')));
  EXPECT_FALSE(valid_set_member(std::string(kMaxSetMemberLength + 1, 'u')));
  EXPECT_TRUE(valid_set_key("p/u"));
  EXPECT_FALSE(valid_set_key("p/u/v"));
  EXPECT_FALSE(valid_set_key("/u"));
  EXPECT_FALSE(valid_set_key("p/"));
  EXPECT_TRUE(valid_request_key("0b5e1c9e-2f7a-4a57-9a3e-1c2d3e4f5a6b"));
  EXPECT_FALSE(valid_request_key(""));
  EXPECT_FALSE(valid_request_key("has space"));
  EXPECT_FALSE(valid_request_key("tab\there"));
  EXPECT_FALSE(valid_request_key(std::string(kMaxRequestKeyLength + 1, 'k')));
  EXPECT_TRUE(valid_request_key(std::string(kMaxRequestKeyLength, 'k')));
}

TEST(Requests, ConcurrentAppliesAreSiblingsAndEveryReplicaPicksTheSameFirst) {
  HealthState a(A), b(B);
  const HealthDelta da = a.record_request("k1", answer(7, 2000, "{\"at\":\"a\"}"));
  const HealthDelta db = b.record_request("k1", answer(7, 1000, "{\"at\":\"b\"}"));
  a.join(db);
  b.join(da);
  ASSERT_NE(a.first_request("k1"), nullptr);
  EXPECT_EQ(a.first_request("k1")->body, "{\"at\":\"b\"}");  // the earlier apply
  EXPECT_EQ(*a.first_request("k1"), *b.first_request("k1"));
  EXPECT_EQ(a.first_request("k1")->writer, B);
  EXPECT_EQ(a.request_records(), 1u);
}

TEST(Requests, ExpiryDropsTheOldAndTheCapTheOldestInOneOrderEverywhere) {
  HealthState a(A), b(B);
  // Keys written in an order unlike their times.
  const std::vector<std::pair<std::string, std::uint64_t>> recs = {
      {"k-z", 5'000}, {"k-a", 9'000}, {"k-m", 1'000}, {"k-b", 9'000}, {"k-c", 12'000}, {"k-d", 20'000}};
  for (const auto& [k, ms] : recs) b.join(a.record_request(k, answer(1, ms)));
  ASSERT_EQ(a.state().requests, b.state().requests);
  EXPECT_EQ(a.oldest_request()->wall_ms(), 1'000u);
  // Nothing due: an empty delta.
  EXPECT_TRUE(a.expire_requests(1'000, 10, 100).empty());
  // Older than 6 s: k-m (1 s), k-z (5 s).
  const HealthDelta expired = a.expire_requests(6'000, 10, 100);
  EXPECT_EQ(a.request_records(), 4u);
  EXPECT_EQ(a.first_request("k-m"), nullptr);
  EXPECT_EQ(a.first_request("k-z"), nullptr);
  // A cap of 2: the oldest by (time, key) go: k-a before k-b (same time).
  const HealthDelta capped = b.expire_requests(6'000, 2, 100);
  EXPECT_EQ(b.request_records(), 2u);
  EXPECT_NE(b.first_request("k-c"), nullptr);
  EXPECT_NE(b.first_request("k-d"), nullptr);
  // At most max_removals per call.
  HealthState c(C);
  c.join(a.state());
  EXPECT_EQ(c.request_records(), 4u);
  c.expire_requests(0, 0, 1);
  EXPECT_EQ(c.request_records(), 3u);
  EXPECT_EQ(c.first_request("k-a"), nullptr);
  // The removals replicate: a replica that still held them does not bring them back.
  a.join(capped);
  b.join(expired);
  a.join(b.state());
  b.join(a.state());
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(a.request_records(), 2u);
  EXPECT_EQ(a.oldest_request()->wall_ms(), 12'000u);
}

// The laws for the sets and the request record: health_state_test.cpp
// (HealthState.DeltasAreBelowStatesAndJoinInAnyOrder) runs them.

// The likes service as the API runs it, on three agents: a client request
// (like or unlike of (post, user)) carries an idempotency key; the agent it
// reaches replays the first answer when it holds the key's record, and
// otherwise applies the write and records it in the same delta. Requests
// are retried through random agents, deltas dropped, duplicated and
// delivered late, agents restarted (a new replica id, the state of their
// snapshot, which the API writes before it answers). After a full exchange
// every agent holds the same sets and the same first answer for every key;
// with likes only, each post holds exactly the distinct users sent, however
// often each like was retried or applied twice.
RC_GTEST_PROP(LikesState, RetriesDuplicatesAndRestartsConvergeToTheSameSets, ()) {
  const bool likes_only = *rc::gen::arbitrary<bool>();
  std::vector<HealthState> agents{HealthState(A), HealthState(B), HealthState(C)};
  std::uint64_t next_replica = 1000;
  std::vector<std::pair<std::size_t, HealthDelta>> in_flight;
  struct Request {
    std::string key, post, user;
    bool like;
  };
  std::vector<Request> sent;
  std::set<std::pair<std::string, std::string>> distinct;
  const int steps = *rc::gen::inRange(0, 120);
  for (int i = 0; i < steps; ++i) {
    const auto at = static_cast<std::size_t>(*rc::gen::inRange(0, 3));
    const int op = *rc::gen::inRange(0, 10);
    if (op <= 3 || (op == 4 && !sent.empty())) {
      // A new request (op 0-3), or a retry of an earlier one with its key (op 4).
      Request r;
      if (op == 4) {
        r = sent[*rc::gen::inRange<std::size_t>(0, sent.size())];
      } else {
        r = Request{"key-" + std::to_string(sent.size()), "post" + std::to_string(*rc::gen::inRange(0, 3)),
                    "user" + std::to_string(*rc::gen::inRange(0, 6)), likes_only || *rc::gen::inRange(0, 4) != 0};
        sent.push_back(r);
        if (r.like) distinct.emplace(r.post, r.user);
      }
      HealthState& s = agents[at];
      if (s.first_request(r.key)) continue;  // the first answer, nothing changes
      HealthDelta d = r.like ? s.add_to_set(r.post, r.user) : s.remove_from_set(r.post, r.user);
      d.join(s.record_request(r.key, answer(static_cast<std::uint64_t>(r.like), static_cast<std::uint64_t>(i))));
      for (std::size_t to = 0; to < 3; ++to) {
        if (to != at) in_flight.emplace_back(to, d);
      }
    } else if (op <= 7) {
      if (in_flight.empty()) continue;
      const auto k = *rc::gen::inRange<std::size_t>(0, in_flight.size());
      const int fate = *rc::gen::inRange(0, 3);  // 0 drop, 1 deliver, 2 deliver and keep (a duplicate later)
      if (fate > 0) agents[in_flight[k].first].join(in_flight[k].second);
      if (fate < 2) in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (op == 8) {
      // Restart from the snapshot: the same state under a new replica id.
      HealthState fresh(++next_replica);
      fresh.join(agents[at].state());
      agents[at] = std::move(fresh);
    } else {
      // One anti-entropy exchange between two agents.
      const auto other = (at + 1) % 3;
      agents[at].join(agents[other].state());
    }
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& x : agents) {
      for (auto& y : agents) x.join(y.state());
    }
  }
  for (const auto& x : agents) {
    RC_ASSERT(x.state().sets == agents[0].state().sets);
    for (const Request& r : sent) {
      const AppliedRequest* mine = x.first_request(r.key);
      const AppliedRequest* first = agents[0].first_request(r.key);
      RC_ASSERT((mine == nullptr) == (first == nullptr));
      if (mine) RC_ASSERT(*mine == *first);
    }
  }
  if (likes_only) {
    std::size_t total = 0;
    for (const char* post : {"post0", "post1", "post2"}) total += agents[0].set_members(post, "", 1000).count;
    RC_ASSERT(total == distinct.size());
    for (const auto& [post, user] : distinct) RC_ASSERT(agents[1].set_contains(post, user));
  }
}

TEST(LikesCodec, SetsAndRequestsRoundTripAndStayAbsentWhenUnused) {
  HealthState s(A);
  HealthDelta plain = s.add_to_counter("likes", 3);
  const Bytes plain_bytes = encode_delta(plain);
  // A body without sets or requests has neither key.
  auto decoded = decode_delta(plain_bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, plain);
  HealthDelta d = s.add_to_set("post-1", "user-1");
  d.join(s.record_request("req-1", answer(42, 1234, "{\"set\":\"post-1\"}")));
  d.join(s.remove_from_set("post-1", "user-0"));
  auto back = decode_delta(encode_delta(d));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, d);
  auto whole = decode_delta(encode_delta(s.state()));
  ASSERT_TRUE(whole.ok()) << whole.error();
  EXPECT_EQ(*whole, s.state());
  // The snapshot keeps them.
  auto snap = decode_snapshot(encode_snapshot(s.state()));
  ASSERT_TRUE(snap.ok()) << snap.error();
  EXPECT_EQ(snap->state.sets, s.state().sets);
  EXPECT_EQ(snap->state.requests, s.state().requests);
}

TEST(LikesCodec, DigestsAndRepairsCarryFiveStoresOnlyWhenUsed) {
  Digest three;
  three.replica = A;
  three.hashes.assign(kDigestBuckets, 1);
  three.counters.insert(Dot{A, 1});
  Digest five = three;
  five.sets.insert(Dot{B, 2});
  five.requests.insert(Dot{A, 3});
  const Bytes b3 = encode_digest(three), b5 = encode_digest(five);
  EXPECT_LT(b3.size(), b5.size());
  auto d3 = decode_digest(b3);
  auto d5 = decode_digest(b5);
  ASSERT_TRUE(d3.ok() && d5.ok());
  EXPECT_EQ(*d3, three);
  EXPECT_EQ(*d5, five);
  HealthState s(A);
  Repair rep;
  rep.delta = s.add_to_set("p", "u");
  rep.scoped = true;
  rep.buckets = {bucket_of(set_key("p", "u"))};
  rep.for_replica = B;
  rep.elided.sets.add(set_key("p", "u"), rep.delta.sets.store.find(set_key("p", "u"))->entries().front().first);
  rep.delta.sets.store.erase(set_key("p", "u"));
  auto back = decode_repair(encode_repair(rep));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, rep);
}

TEST(LikesCodec, MalformedSetsAndRequestsAreRefusedWithAMessage) {
  // Build bodies through the encoder with values the decoder must refuse.
  auto refuse = [](const HealthDelta& d, std::string_view what) {
    auto r = decode_delta(encode_delta(d));
    EXPECT_FALSE(r.ok()) << what;
    if (!r.ok()) {
      EXPECT_NE(r.error().find(what), std::string::npos) << r.error();
    }
  };
  HealthDelta bad_key;
  {
    DotFun<SetMark> f;
    f.insert(Dot{A, 1}, SetMark{});
    bad_key.sets.store.put(detached_name("no-slash"), f);
    bad_key.sets.context.insert(Dot{A, 1});
  }
  refuse(bad_key, "is not a set name, '/' and a member");
  HealthDelta bad_req;
  {
    DotFun<AppliedRequest> f;
    f.insert(Dot{A, 1}, answer(1, 1));
    bad_req.requests.store.put(detached_name("two words"), f);
    bad_req.requests.context.insert(Dot{A, 1});
  }
  refuse(bad_req, "is not a valid idempotency key");
  HealthDelta big_body;
  {
    DotFun<AppliedRequest> f;
    f.insert(Dot{A, 1}, answer(1, 1, std::string(kMaxRequestBodyBytes + 1, 'x')));
    big_body.requests.store.put(detached_name("k"), f);
    big_body.requests.context.insert(Dot{A, 1});
  }
  refuse(big_body, "body: must be a string of at most");
  HealthDelta bad_status;
  {
    AppliedRequest r = answer(1, 1);
    r.status = 42;
    DotFun<AppliedRequest> f;
    f.insert(Dot{A, 1}, r);
    bad_status.requests.store.put(detached_name("k"), f);
    bad_status.requests.context.insert(Dot{A, 1});
  }
  refuse(bad_status, "status: 42 is out of range");
}

// Through the replicator: local writes, eager pushes that are lost, and
// anti-entropy (digests with five contexts, delta and state repairs) bring
// every agent to the same sets and request record; the digest index agrees.
TEST(LikesReplication, LossyPushesAreRepairedByAntiEntropy) {
  ReplicatorConfig config;
  testing::ReplicaNet net(4, config, testing::NetOptions{.drop = 0.6}, 7);
  for (int i = 0; i < 60; ++i) {
    const std::size_t at = static_cast<std::size_t>(i % 4);
    net.act(at, [&](Replicator& r, Effects& out) {
      r.add_to_set(net.now(), "post" + std::to_string(i % 3), "user" + std::to_string(i % 7), out);
      if (!r.state().first_request("req-" + std::to_string(i))) {
        r.record_request(net.now(), "req-" + std::to_string(i), answer(1, 0), out);
      }
      if (i % 5 == 0) r.remove_from_set(net.now(), "post0", "user" + std::to_string(i % 7), out);
    });
    net.run_for(Duration::milliseconds(50));
  }
  net.set_drop(0.0);
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(120)));
  for (std::size_t i = 0; i < net.size(); ++i) {
    EXPECT_EQ(net.node(i).state().state().sets, net.node(0).state().state().sets) << i;
    EXPECT_EQ(net.node(i).state().state().requests, net.node(0).state().state().requests) << i;
    EXPECT_TRUE(net.node(i).digest_index_consistent()) << i;
    EXPECT_EQ(net.node(i).state().request_records(), 60u) << i;
  }
  EXPECT_GT(net.node(0).state().set_members("post1", "", 100).count, 0u);
}

// A keyed write's record goes out with the write in one eager-push
// datagram, however many keyed writes hit the same counter: the counter's
// buffered group does not collect the records (it would outgrow a datagram
// and go by stream, after the answer).
TEST(LikesReplication, EachRecordTravelsWithItsWriteInOneDatagram) {
  ReplicatorConfig config;
  testing::ReplicaNet net(3, config, testing::NetOptions{.latency = Duration::milliseconds(1)}, 5);
  std::size_t largest = 0;
  net.on_deliver = [&](const testing::ReplicaNet::Delivery& d) {
    if (d.channel == Channel::datagram) largest = std::max(largest, d.bytes.size());
  };
  for (int i = 0; i < 200; ++i) {
    const std::string key = "add-" + std::to_string(i);
    net.act(0, [&](Replicator& r, Effects& out) {
      r.add_to_counter(net.now(), "hits", 1, out);
      r.record_request(net.now(), key, answer(1, 0), out);
    });
    net.run_for(Duration::milliseconds(15));  // past the flush and the 1 ms link
    for (std::size_t n = 1; n < 3; ++n) {
      ASSERT_NE(net.node(n).state().first_request(key), nullptr) << i;
      ASSERT_EQ(net.node(n).state().counter("hits"), i + 1) << i;
    }
  }
  EXPECT_EQ(net.node(0).counters().oversized_deltas, 0u);
  EXPECT_LE(largest, config.max_packet_bytes);
}

TEST(LikesReplication, RecordsExpireAfterTheRetentionEverywhere) {
  ReplicatorConfig config;
  config.request_retention = Duration::seconds(30);
  testing::ReplicaNet net(3, config, testing::NetOptions{}, 3);
  net.run_for(Duration::seconds(1));
  for (int i = 0; i < 5; ++i) {
    net.act(static_cast<std::size_t>(i % 3), [&](Replicator& r, Effects& out) {
      r.add_to_set(net.now(), "p", "u" + std::to_string(i), out);
      r.record_request(net.now(), "req-" + std::to_string(i), answer(1, 0), out);
    });
  }
  net.run_for(Duration::seconds(10));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.node(i).state().request_records(), 5u);
  net.run_for(Duration::seconds(30));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).state().request_records(), 0u) << i;
    EXPECT_EQ(net.node(i).state().set_members("p", "", 10).count, 5u) << i;  // the writes stay
  }
}

}  // namespace
}  // namespace heck
