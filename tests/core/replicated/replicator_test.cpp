#include "core/replicated/replicator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rapidcheck/gtest.h>

#include "core/membership/broadcast_queue.h"
#include "core/replicated/delta_pool.h"
#include "tests/core/replicated/replication_harness.h"

namespace heck {
namespace {

using testing::NetOptions;
using testing::ReplicaNet;

TargetSpec spec(const std::string& id, int port = 9000) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:" + std::to_string(port) + "/healthz");
  return s;
}

Observation result(HealthStatus st, std::uint64_t seq = 1) {
  Observation o;
  o.status = st;
  o.reason = st == HealthStatus::healthy ? CheckReason::ok : CheckReason::connection_refused;
  o.latency = Duration::milliseconds(2);
  o.check_seq = seq;
  return o;
}

const Instant T0 = Instant::from_ns(0) + Duration::seconds(1'700'000'000);

NameTable& names() {
  static NameTable table;
  return table;
}

std::vector<Peer> peers(std::size_t n) {
  std::vector<Peer> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(Peer::interned(names(), "n" + std::to_string(i), "n" + std::to_string(i) + ":7946"));
  return out;
}

template <typename T>
std::vector<T> effects_of(const Effects& out) {
  std::vector<T> v;
  for (const auto& e : out) {
    if (auto* x = std::get_if<T>(&e)) v.push_back(*x);
  }
  return v;
}

// Same state and same answers to every query.
void expect_identical(ReplicaNet& net) {
  const HealthState& ref = net.node(0).state();
  for (std::size_t i = 1; i < net.size(); ++i) {
    const HealthState& s = net.node(i).state();
    ASSERT_EQ(s.state(), ref.state()) << "node " << i;
    EXPECT_TRUE(net.node(i).digest_index_consistent()) << "node " << i;
    const auto a = s.targets();
    const auto b = ref.targets();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a[k].first, b[k].first);
      ASSERT_EQ(*a[k].second.spec, *b[k].second.spec);
      ASSERT_EQ(a[k].second.observation == nullptr, b[k].second.observation == nullptr);
      if (a[k].second.observation) {
        ASSERT_EQ(*a[k].second.observation, *b[k].second.observation);
      }
    }
    ASSERT_EQ(s.counter("likes"), ref.counter("likes"));
  }
}

TEST(Replicator, LocalWriteIsQueuedForPiggybackAndEagerlyPushedToFanoutPeers) {
  BroadcastQueue q;
  ReplicatorConfig cfg;
  cfg.fanout = 2;
  cfg.max_direct_peers = 3;  // 4 other peers: gossip mode
  Replicator r(cfg, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 42, &q);
  Effects out;
  r.put_target(T0, spec("web"), out);
  EXPECT_TRUE(q.contains("r:t:web"));
  auto timers = effects_of<SetTimer>(out);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].key.kind, TimerKind::replica_flush);
  EXPECT_EQ(timers[0].at, T0 + cfg.flush_delay);
  // A second write before the flush does not re-arm; it joins the batch.
  out.clear();
  r.observe(T0, "web", result(HealthStatus::healthy), out);
  EXPECT_TRUE(effects_of<SetTimer>(out).empty());
  out.clear();
  const auto view = peers(5);
  r.handle_timer(T0 + cfg.flush_delay, timers[0].key, view, out);
  auto sends = effects_of<Send>(out);
  ASSERT_EQ(sends.size(), 2u);  // fanout
  EXPECT_NE(sends[0].to, sends[1].to);
  for (const Send& s : sends) {
    EXPECT_NE(s.to, "n0:7946");
    EXPECT_EQ(s.channel, Channel::datagram);
    EXPECT_LE(s.bytes.size(), cfg.max_packet_bytes);
    auto env = wire::decode(s.bytes);
    ASSERT_TRUE(env.ok());
    ASSERT_EQ(env->parts.size(), 1u);  // one group per key: put and observe of "web" joined
    EXPECT_EQ(env->parts[0].type, wire::PartType::delta);
    HealthState peer(7);
    peer.join(*decode_delta(env->parts[0].body));
    ASSERT_TRUE(peer.target("web").has_value());
    EXPECT_EQ(peer.target("web")->observation->status, HealthStatus::healthy);
  }
  // Nothing dirty: the next flush sends nothing.
  out.clear();
  r.handle_timer(T0 + Duration::seconds(1), timers[0].key, view, out);
  EXPECT_TRUE(effects_of<Send>(out).empty());
}

// Past max_direct_peers a received delta that was news is forwarded by
// datagram and piggybacked too, but its piggybacked copies stop after
// forward_transmits: every member already gets ~fanout copies by the
// forwards. The writer's own delta rides as often as the queue's limit.
TEST(Replicator, AForwardedDeltaIsPiggybackedForwardTransmitsTimesTheWritersOwnUpToTheLimit) {
  ReplicatorConfig cfg;
  cfg.fanout = 2;
  cfg.max_direct_peers = 3;  // 4 other peers: gossip mode
  cfg.forward_transmits = 2;
  const auto view = peers(5);
  BroadcastQueue qa, qb;
  Replicator a(cfg, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 42, &qa);
  Replicator b(cfg, wire::Header{"n1", "n1:7946"}, make_replica_id("n1", 1), 43, &qb);
  Effects out;
  a.put_target(T0, spec("web"), out);
  // Packs a queue into one packet per call until it is empty; returns the
  // packets' delta parts.
  const auto drain = [&](BroadcastQueue& q) {
    std::vector<std::vector<std::uint8_t>> bodies;
    for (int round = 0; round < 100 && !q.empty(); ++round) {
      wire::PacketBuilder pb(wire::Header{"x", "x:1"}, cfg.max_packet_bytes);
      q.fill(pb, view.size());
      auto env = wire::decode(pb.finish());
      EXPECT_TRUE(env.ok());
      for (const wire::Part& part : env->parts) bodies.emplace_back(part.body.begin(), part.body.end());
    }
    return bodies;
  };
  const auto from_a = drain(qa);
  ASSERT_EQ(from_a.size(), qa.transmit_limit(view.size()));  // 4: the writer's own, uncapped
  EXPECT_GT(from_a.size(), cfg.forward_transmits);
  ASSERT_TRUE(std::all_of(from_a.begin(), from_a.end(), [&](const auto& body) { return body == from_a.front(); }));
  out.clear();
  b.handle_part(T0, wire::Header{"n0", "n0:7946"}, wire::Part{wire::PartType::delta, from_a.front()},
                Channel::datagram, view, out);
  ASSERT_EQ(b.counters().deltas_joined, 1u);
  const auto from_b = drain(qb);
  EXPECT_EQ(from_b.size(), cfg.forward_transmits);
  for (const auto& body : from_b) EXPECT_EQ(body, from_a.front());  // sent on as it came
  // Uncapped (0), a forwarder piggybacks it as often as the writer.
  cfg.forward_transmits = 0;
  BroadcastQueue qc;
  Replicator c(cfg, wire::Header{"n2", "n2:7946"}, make_replica_id("n2", 1), 44, &qc);
  c.handle_part(T0, wire::Header{"n0", "n0:7946"}, wire::Part{wire::PartType::delta, from_a.front()},
                Channel::datagram, view, out);
  EXPECT_EQ(drain(qc).size(), qc.transmit_limit(view.size()));
  // A forwarder's own write to the same target joins the forwarded group:
  // that group carries its write, and rides uncapped.
  cfg.forward_transmits = 1;
  BroadcastQueue qd;
  Replicator d(cfg, wire::Header{"n3", "n3:7946"}, make_replica_id("n3", 1), 45, &qd);
  d.handle_part(T0, wire::Header{"n0", "n0:7946"}, wire::Part{wire::PartType::delta, from_a.front()},
                Channel::datagram, view, out);
  d.observe(T0, "web", result(HealthStatus::healthy), out);
  EXPECT_EQ(drain(qd).size(), qd.transmit_limit(view.size()));
}

// Observations are paced: one that comes within flush_gap of the last
// flush waits for the gap, and those that come meanwhile go with it, one
// datagram per peer. Any other write (someone may wait on it) goes
// flush_delay later and takes the waiting observations along. flush_gap = 0
// paces nothing.
TEST(Replicator, ObservationsArePacedByFlushGapOtherWritesAreNot) {
  for (const bool paced : {true, false}) {
    SCOPED_TRACE(paced ? "flush_gap 100 ms" : "flush_gap 0");
    ReplicatorConfig cfg;
    cfg.flush_gap = paced ? Duration::milliseconds(100) : Duration{};
    Replicator r(cfg, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 42, nullptr);
    const auto view = peers(3);
    const TimerKey flush{TimerKind::replica_flush, 0};
    // Fires the flush timer at `at`; returns the datagrams sent and the
    // parts they carried.
    auto fire = [&](Instant at) {
      Effects out;
      r.handle_timer(at, flush, view, out);
      std::pair<std::size_t, std::size_t> sent{0, 0};
      for (const Send& s : effects_of<Send>(out)) {
        ++sent.first;
        auto env = wire::decode(s.bytes);
        EXPECT_TRUE(env.ok());
        if (env.ok()) sent.second += env->parts.size();
      }
      return sent;
    };
    auto armed_at = [](const Effects& out) {
      const auto timers = effects_of<SetTimer>(out);
      return timers.empty() ? Instant::max() : timers.back().at;
    };
    Effects out;
    r.observe(T0, "a", result(HealthStatus::healthy), out);  // after a quiet spell: flush_delay
    EXPECT_EQ(armed_at(out), T0 + cfg.flush_delay);
    const Instant first = T0 + cfg.flush_delay;
    EXPECT_EQ(fire(first), std::make_pair(std::size_t{2}, std::size_t{2}));  // one part to each of 2 peers
    out.clear();
    const Instant second = first + Duration::milliseconds(10);
    r.observe(second, "b", result(HealthStatus::healthy), out);
    const Instant due = paced ? first + cfg.flush_gap : second + cfg.flush_delay;
    EXPECT_EQ(armed_at(out), due);
    out.clear();
    r.observe(second + Duration::milliseconds(5), "c", result(HealthStatus::unhealthy), out);
    EXPECT_EQ(armed_at(out), Instant::max());  // armed already
    if (paced) {
      EXPECT_EQ(fire(second + cfg.flush_delay), std::make_pair(std::size_t{0}, std::size_t{0}));  // not yet
    }
    EXPECT_EQ(fire(due), std::make_pair(std::size_t{2}, std::size_t{4}));  // b and c together, one datagram per peer
    // A registry write goes flush_delay later and takes a waiting observation along.
    out.clear();
    const Instant third = due + Duration::milliseconds(10);
    r.observe(third, "d", result(HealthStatus::healthy), out);
    EXPECT_EQ(armed_at(out), paced ? due + cfg.flush_gap : third + cfg.flush_delay);
    out.clear();
    r.put_target(third + Duration::milliseconds(1), spec("e"), out);
    const Instant prompt = third + Duration::milliseconds(1) + cfg.flush_delay;
    EXPECT_EQ(armed_at(out), paced ? prompt : Instant::max());  // pulled in (unpaced: armed earlier already)
    EXPECT_EQ(fire(paced ? prompt : third + cfg.flush_delay), std::make_pair(std::size_t{2}, std::size_t{4}));
  }
}

TEST(Replicator, ManyDirtyKeysAreSplitIntoPacketsUnderTheLimit) {
  ReplicatorConfig cfg;
  cfg.fanout = 1;
  Replicator r(cfg, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 1, nullptr);
  Effects out;
  for (int i = 0; i < 200; ++i) r.put_target(T0, spec("target-" + std::to_string(i)), out);
  out.clear();
  r.handle_timer(T0 + cfg.flush_delay, TimerKey{TimerKind::replica_flush, 0}, peers(2), out);
  auto sends = effects_of<Send>(out);
  ASSERT_GT(sends.size(), 5u);
  HealthState peer(7);
  for (const Send& s : sends) {
    EXPECT_LE(s.bytes.size(), cfg.max_packet_bytes);
    auto env = wire::decode(s.bytes);
    ASSERT_TRUE(env.ok());
    for (const auto& p : env->parts) peer.join(*decode_delta(p.body));
  }
  EXPECT_EQ(peer.targets().size(), 200u);
}

// A burst (a flush of at least combine_from groups) goes as combined
// deltas: each part joins several groups, fits one datagram, and the
// receiver ends where the writer is. A flush of a few groups sends a part
// per group (a status change arrives alone, so receivers can rumour it).
TEST(Replicator, ABurstGoesAsCombinedDeltasAFewWritesAsOnePartEach) {
  // 200 groups (a target's put and its observation are one group, "t:<id>"),
  // pushed to the one other peer.
  auto burst = [](std::size_t combine_from, HealthState& peer) {
    ReplicatorConfig cfg;
    cfg.combine_from = combine_from;
    auto r = std::make_unique<Replicator>(cfg, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 1, nullptr);
    Effects out;
    for (int i = 0; i < 200; ++i) {
      r->put_target(T0, spec("target-" + std::to_string(i)), out);
      if (i % 3 == 0) r->observe(T0, "target-" + std::to_string(i), result(HealthStatus::healthy), out);
    }
    out.clear();
    r->handle_timer(T0 + cfg.flush_delay, TimerKey{TimerKind::replica_flush, 0}, peers(2), out);
    std::size_t parts = 0;
    for (const Send& s : effects_of<Send>(out)) {
      EXPECT_EQ(s.channel, Channel::datagram);
      EXPECT_LE(s.bytes.size(), cfg.max_packet_bytes);
      auto env = wire::decode(s.bytes);
      EXPECT_TRUE(env.ok());
      for (const auto& p : env->parts) {
        ++parts;
        auto d = decode_delta(p.body);
        EXPECT_TRUE(d.ok());
        if (d.ok()) peer.join(*d);
      }
    }
    EXPECT_EQ(peer.state(), r->state().state());
    return std::pair{std::move(r), parts};
  };
  HealthState apart(7);
  EXPECT_EQ(burst(0, apart).second, 200u);  // 0: never combined, a part per group
  HealthState peer(7);
  auto [r, parts] = burst(ReplicatorConfig{}.combine_from, peer);
  EXPECT_LE(parts, 200u / 4);  // a part joins about ten groups here
  EXPECT_GT(r->counters().deltas_combined, 0u);
  EXPECT_EQ(peer.state(), apart.state());
  const ReplicatorConfig cfg;

  // Three writes: three parts of one key each.
  Effects out;
  for (int i = 0; i < 3; ++i) {
    r->observe(T0 + Duration::seconds(1), "target-" + std::to_string(i), result(HealthStatus::unhealthy, 2), out);
  }
  out.clear();
  r->handle_timer(T0 + Duration::seconds(1) + cfg.flush_delay, TimerKey{TimerKind::replica_flush, 0}, peers(2), out);
  const auto sends = effects_of<Send>(out);
  ASSERT_EQ(sends.size(), 1u);  // one peer besides us, one datagram
  auto env = wire::decode(sends[0].bytes);
  ASSERT_TRUE(env.ok());
  ASSERT_EQ(env->parts.size(), 3u);
  for (const auto& p : env->parts) {
    auto d = decode_delta(p.body);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->observations.store.size(), 1u);
    peer.join(*d);
  }
  EXPECT_EQ(peer.state(), r->state().state());
}

// The digest's bucket hashes are kept from the state's live-dot journal
// (O(changes)); they must equal the hashes of the same state computed from
// scratch, after writes, supersessions, removals, joins and digests taken in
// between.
TEST(Replicator, IncrementalDigestHashesEqualAFreshComputation) {
  Replicator a(ReplicatorConfig{}, wire::Header{"n0", "n0:7946"}, make_replica_id("n0", 1), 1, nullptr);
  Replicator b(ReplicatorConfig{}, wire::Header{"n1", "n1:7946"}, make_replica_id("n1", 1), 2, nullptr);
  Effects out;
  for (int i = 0; i < 300; ++i) {
    const std::string id = "t" + std::to_string(i % 120);
    a.put_target(T0 + Duration::milliseconds(i), spec(id, 9000 + i % 7), out);
    Observation o;
    o.status = i % 3 == 0 ? HealthStatus::unhealthy : HealthStatus::healthy;
    a.observe(T0 + Duration::milliseconds(i), id, o, out);
    if (i % 11 == 0) a.remove_target(T0, "t" + std::to_string((i * 7) % 120), out);
    if (i % 13 == 0) a.add_to_counter(T0, "c" + std::to_string(i % 4), i, out);
    if (i % 17 == 0) {
      b.add_to_counter(T0, "c1", 1, out);
      a.join_snapshot(b.state().state());
    }
    if (i % 50 == 0) (void)a.digest();  // drains the journal part way
  }
  Replicator fresh(ReplicatorConfig{}, wire::Header{"n2", "n2:7946"}, make_replica_id("n2", 1), 3, nullptr);
  fresh.join_snapshot(a.state().state());
  ASSERT_EQ(fresh.state().state(), a.state().state());
  EXPECT_EQ(a.digest().hashes, fresh.digest().hashes);
  EXPECT_TRUE(a.digest_index_consistent());
  EXPECT_TRUE(fresh.digest_index_consistent());
  std::uint64_t nonzero = 0;
  for (std::uint64_t h : a.digest().hashes) nonzero += h != 0 ? 1 : 0;
  EXPECT_GT(nonzero, 50u);
}

TEST(Replicator, MalformedAndForeignPartsAreCountedNeverApplied) {
  Replicator r(ReplicatorConfig{}, wire::Header{"n0", "n0:7946"}, 5, 1, nullptr);
  Effects out;
  const wire::Header from{"n1", "n1:7946"};
  r.handle_part(T0, from, wire::Part{wire::PartType::delta, nlohmann::json::to_msgpack(nlohmann::json::parse(R"({"r": [0]})"))}, Channel::datagram,
                peers(2), out);
  EXPECT_EQ(r.counters().malformed_parts, 1u);
  EXPECT_NE(r.last_malformed().find("delta.r[0]"), std::string::npos) << r.last_malformed();
  r.handle_part(T0, from, wire::Part{wire::PartType::digest, Bytes{0x90}}, Channel::stream, peers(2), out);
  r.handle_part(T0, from, wire::Part{wire::PartType::repair, Bytes{17}}, Channel::stream, peers(2), out);
  EXPECT_EQ(r.counters().malformed_parts, 3u);
  // Bodies that are not one MessagePack value (a format 2 envelope frames
  // bodies without reading them): an unused type byte, a truncated map,
  // bytes after the value; each counted, twice when sent twice.
  for (int twice = 0; twice < 2; ++twice) {
    for (const Bytes& body : {Bytes{0xc1}, Bytes{0x81, 0xa1, 'r'}, Bytes{0x80, 0x01}}) {
      for (auto type : {wire::PartType::delta, wire::PartType::digest, wire::PartType::repair}) {
        r.handle_part(T0, from, wire::Part{type, body}, Channel::stream, peers(2), out);
      }
    }
  }
  EXPECT_EQ(r.counters().malformed_parts, 3u + 18u);
  EXPECT_NE(r.last_malformed().find("malformed"), std::string::npos) << r.last_malformed();
  r.handle_part(T0, from, wire::Part{wire::PartType::ping, Bytes{0x90}}, Channel::datagram, peers(2), out);
  EXPECT_EQ(r.counters().unknown_parts, 1u);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(r.state().state().empty());
}

TEST(Replicator, AnUpdateReachesAll25NodesWellWithinTheGlomersBound) {
  ReplicaNet net(25, ReplicatorConfig{}, NetOptions{}, 7);
  net.run_for(Duration::seconds(3));  // settle timers
  const Instant start = net.now();
  net.act(3, [&](Replicator& r, Effects& out) { r.add_to_counter(net.now(), "likes", 1, out); });
  std::vector<Duration> reached(25, Duration::max());
  for (int step = 0; step < 100; ++step) {
    net.run_for(Duration::milliseconds(10));
    for (std::size_t i = 0; i < 25; ++i) {
      if (reached[i] == Duration::max() && net.node(i).state().counter("likes") == 1) reached[i] = net.now() - start;
    }
  }
  std::sort(reached.begin(), reached.end());
  EXPECT_LT(reached[12], Duration::milliseconds(400)) << "median";
  EXPECT_LT(reached[24], Duration::milliseconds(600)) << "max";
}

TEST(Replicator, SmallClusterPushesToEveryPeerOnceAndReceiversDoNotForward) {
  ReplicatorConfig cfg;
  cfg.max_direct_peers = 8;
  ReplicaNet net(6, cfg, NetOptions{Duration::milliseconds(100)}, 3);
  net.run_for(Duration::seconds(2));
  const auto sent0 = net.messages_sent;
  std::uint64_t digests0 = 0;
  for (std::size_t i = 0; i < net.size(); ++i) digests0 += net.node(i).counters().digests_sent;
  net.act(0, [&](Replicator& r, Effects& out) { r.observe(net.now(), "web", result(HealthStatus::unhealthy), out); });
  net.run_for(Duration::milliseconds(150));
  for (std::size_t i = 0; i < net.size(); ++i) {
    ASSERT_NE(net.node(i).state().state().observations.store.find("web"), nullptr) << "node " << i;
  }
  std::uint64_t digests = 0, deltas = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    digests += net.node(i).counters().digests_sent;
    deltas += net.node(i).counters().deltas_sent;
  }
  EXPECT_EQ(deltas, 5u);  // one datagram per peer, no forwarding
  EXPECT_LE(net.messages_sent - sent0 - (digests - digests0), 5u + 2 * (digests - digests0));
}

// A pool shared by every replicator (as the simulator shares one) decodes
// each pushed body once, and changes nothing any replicator does: the same
// messages, counters and states as a run without it.
TEST(DeltaPool, SharedByReplicatorsDecodesEachPushOnceAndChangesNothing) {
  auto run = [](std::shared_ptr<DeltaPool> pool) {
    ReplicatorConfig cfg;
    cfg.max_direct_peers = 8;
    cfg.delta_pool = std::move(pool);
    auto net = std::make_unique<ReplicaNet>(6, cfg, NetOptions{Duration::milliseconds(20), 0.1, 0.1}, 7);
    net->run_for(Duration::seconds(1));
    for (int i = 0; i < 20; ++i) {
      net->act(i % 3, [&](Replicator& r, Effects& out) {
        r.observe(net->now(), "t" + std::to_string(i % 7), result(i % 2 ? HealthStatus::healthy : HealthStatus::unhealthy),
                  out);
      });
      net->run_for(Duration::milliseconds(30));
    }
    net->run_for(Duration::seconds(5));
    return net;
  };
  auto pool = std::make_shared<DeltaPool>();
  auto with = run(pool);
  auto without = run(nullptr);
  EXPECT_EQ(with->messages_sent, without->messages_sent);
  EXPECT_EQ(with->bytes_delivered, without->bytes_delivered);
  for (std::size_t i = 0; i < with->size(); ++i) {
    EXPECT_EQ(with->node(i).state().state(), without->node(i).state().state()) << "node " << i;
    EXPECT_EQ(with->node(i).counters().deltas_received, without->node(i).counters().deltas_received);
    EXPECT_EQ(with->node(i).counters().deltas_joined, without->node(i).counters().deltas_joined);
  }
  expect_identical(*with);
  // Five receivers per push (plus duplicates): most receptions are hits.
  EXPECT_GT(pool->counters().hits, 3 * pool->counters().misses);
}

// In gossip mode every receiver that learns a delta buffers it to forward
// it. With a shared pool the buffered group is the pool's decoded delta
// itself, not a copy per forwarder (a copy each was most of a 150-agent
// simulation's memory).
TEST(DeltaPool, ForwardersBufferThePoolsDecodedDeltaNotACopy) {
  ReplicatorConfig cfg;
  cfg.max_direct_peers = 2;  // 5 other peers: gossip mode, fanout 3
  auto pool = std::make_shared<DeltaPool>();
  cfg.delta_pool = pool;
  ReplicaNet net(6, cfg, NetOptions{Duration::milliseconds(5)}, 11);
  net.run_for(Duration::seconds(1));
  std::vector<Bytes> bodies;  // of the writer's pushes
  net.on_deliver = [&](const ReplicaNet::Delivery& d) {
    if (d.from != 0 || d.channel != Channel::datagram) return;
    auto env = wire::decode(d.bytes);
    if (!env.ok()) return;
    for (const wire::Part& part : env->parts) {
      if (part.type == wire::PartType::delta) bodies.emplace_back(part.body.begin(), part.body.end());
    }
  };
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("web"), out); });
  net.run_for(Duration::milliseconds(40));  // the push and its forwards have arrived; no digest has trimmed them
  net.on_deliver = nullptr;
  ASSERT_FALSE(bodies.empty());
  const auto shared = pool->share(bodies.front(), cfg.codec);
  ASSERT_TRUE(shared.has_value());
  ASSERT_NE(shared->delta, nullptr);
  // The pool, this test, and the group of each forwarder: at least the
  // writer's 3 receivers (copies would leave the pool and this test alone).
  EXPECT_GE(shared->delta.use_count(), 2 + 3);
  // The part a forwarder sends on is the body as it came, its bytes shared
  // by every forwarder (one block, not one encoding each).
  EXPECT_EQ(shared->part.bytes, wire::encode_part(wire::PartType::delta, bodies.front()).bytes);
  EXPECT_EQ(pool->share(bodies.front(), cfg.codec)->part.bytes.data(), shared->part.bytes.data());
  net.run_for(Duration::seconds(5));
  expect_identical(net);
}

// In gossip mode a forwarder sends every received body on as it came, even
// when a burst fills its flush: combine_from joins a node's own groups,
// never received ones. So every delta body on the wire is one its writer
// built, and a receiver drops the copies unread. (Combined again, each
// forwarder's join of what it happened to receive was a body no one had
// seen: decoded and joined in full by every receiver, and forwarded on
// whenever any of it was news.)
TEST(Replicator, GossipForwardersSendABurstOnAsItCameNotCombinedAgain) {
  ReplicatorConfig cfg;
  cfg.max_direct_peers = 2;  // 7 other peers: gossip mode, fanout 3
  ReplicaNet net(8, cfg, NetOptions{Duration::milliseconds(5)}, 5);
  net.run_for(Duration::seconds(1));
  std::size_t bodies = 0, several = 0;
  net.on_deliver = [&](const ReplicaNet::Delivery& d) {
    if (d.channel != Channel::datagram) return;
    auto env = wire::decode(d.bytes);
    if (!env.ok()) return;
    for (const wire::Part& part : env->parts) {
      if (part.type != wire::PartType::delta) continue;
      auto delta = decode_delta(part.body);
      ASSERT_TRUE(delta.ok());
      ++bodies;
      if (delta->registry.store.size() != 1) ++several;
    }
  };
  // Seven writers, two targets each at once: each writer's flush sends a
  // part per target (fewer than combine_from), so a forwarder receives
  // more than combine_from small parts within one flush of its own.
  for (std::size_t w = 1; w < net.size(); ++w) {
    net.act(w, [&](Replicator& r, Effects& out) {
      for (int i = 0; i < 2; ++i) r.put_target(net.now(), spec(fmt::format("t{}-{}", w, i)), out);
    });
  }
  net.run_for(Duration::milliseconds(60));  // the pushes and two rounds of forwards; no anti-entropy yet
  net.on_deliver = nullptr;
  EXPECT_GT(bodies, 14u);
  EXPECT_EQ(several, 0u) << "a forwarder joined received bodies into a new one";
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < net.size(); ++i) seen += net.node(i).counters().deltas_seen;
  EXPECT_GT(seen, 0u);  // copies arrived, and were dropped unread
  net.run_for(Duration::seconds(5));
  expect_identical(net);
  EXPECT_EQ(net.node(0).state().targets().size(), 14u);
}

TEST(DeltaPool, AHitNeedsTheSameBytesAndLimitsAndTheOldestBodyGoesFirst) {
  HealthState a(5);
  const Bytes one = encode_delta(a.put_target(HlcTimestamp::make(1, 0), spec("web")));
  const Bytes two = encode_delta(a.put_target(HlcTimestamp::make(2, 0), spec("db")));
  const Bytes three = encode_delta(a.put_target(HlcTimestamp::make(3, 0), spec("api")));
  DeltaPool pool(2);
  const CodecLimits limits;
  pool.insert(one, limits, std::make_shared<const HealthDelta>(*decode_delta(one)));
  ASSERT_NE(pool.find(one, limits), nullptr);
  EXPECT_EQ(*pool.find(one, limits), *decode_delta(one));
  EXPECT_EQ(pool.find(two, limits), nullptr);  // other bytes
  CodecLimits tight;
  tight.max_keys = 1;
  EXPECT_EQ(pool.find(one, tight), nullptr);  // checked under other limits: decode again
  pool.insert(two, limits, std::make_shared<const HealthDelta>(*decode_delta(two)));
  pool.insert(three, limits, std::make_shared<const HealthDelta>(*decode_delta(three)));
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.counters().evicted, 1u);
  EXPECT_EQ(pool.find(one, limits), nullptr);  // the oldest went first
  EXPECT_NE(pool.find(two, limits), nullptr);
  EXPECT_NE(pool.find(three, limits), nullptr);
}

TEST(DeltaPool, MalformedBodiesAreNeverKeptEachReceiverCountsItsOwn) {
  auto pool = std::make_shared<DeltaPool>();
  ReplicatorConfig cfg;
  cfg.delta_pool = pool;
  Replicator a(cfg, wire::Header{"n0", "n0:7946"}, 5, 1, nullptr);
  Replicator b(cfg, wire::Header{"n1", "n1:7946"}, 6, 2, nullptr);
  const wire::Part bad{wire::PartType::delta, nlohmann::json::to_msgpack(nlohmann::json::parse(R"({"r": [0]})"))};
  Effects out;
  a.handle_part(T0, wire::Header{"n2", "n2:7946"}, bad, Channel::datagram, peers(3), out);
  b.handle_part(T0, wire::Header{"n2", "n2:7946"}, bad, Channel::datagram, peers(3), out);
  EXPECT_EQ(a.counters().malformed_parts, 1u);
  EXPECT_EQ(b.counters().malformed_parts, 1u);
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(pool->counters().hits, 0u);
}

// A copy of a delta body joined before is dropped unread (seen_bodies.h).
// That is exact: the same run without the memory ends in the same states,
// sends the same messages and joins the same news, under loss and
// duplication, in gossip mode (receivers forward), with every kind of
// write (removals of set members and targets too).
TEST(Replicator, CopiesOfABodyJoinedBeforeAreDroppedUnreadAndChangeNothing) {
  auto run = [](std::size_t seen_bodies) {
    ReplicatorConfig cfg;
    cfg.max_direct_peers = 2;  // gossip mode: receivers forward to `fanout`
    cfg.seen_bodies = seen_bodies;
    auto net = std::make_unique<ReplicaNet>(
        8, cfg, NetOptions{Duration::milliseconds(20), 0.1, 0.2, true, Duration::milliseconds(200)}, 11);
    net->run_for(Duration::seconds(1));
    for (int i = 0; i < 40; ++i) {
      net->act(i % 5, [&](Replicator& r, Effects& out) {
        const Instant now = net->now();
        const std::string t = "t" + std::to_string(i % 6);
        if (i % 9 == 0) r.put_target(now, spec(t), out);
        if (i % 9 == 4) r.remove_target(now, t, out);
        r.observe(now, t, result(i % 3 ? HealthStatus::healthy : HealthStatus::unhealthy), out);
        r.add_to_counter(now, "likes", i, out);
        if (i % 2 == 0) r.add_to_set(now, "fans", "m" + std::to_string(i % 4), out);
        if (i % 4 == 1) r.remove_from_set(now, "fans", "m" + std::to_string((i + 1) % 4), out);
      });
      net->run_for(Duration::milliseconds(25));
    }
    net->run_for(Duration::seconds(6));
    return net;
  };
  auto with = run(ReplicatorConfig{}.seen_bodies);
  auto without = run(0);
  EXPECT_EQ(with->messages_sent, without->messages_sent);
  EXPECT_EQ(with->bytes_delivered, without->bytes_delivered);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < with->size(); ++i) {
    EXPECT_EQ(with->node(i).state().state(), without->node(i).state().state()) << "node " << i;
    EXPECT_EQ(with->node(i).counters().deltas_received, without->node(i).counters().deltas_received);
    EXPECT_EQ(with->node(i).counters().deltas_joined, without->node(i).counters().deltas_joined);
    EXPECT_EQ(without->node(i).counters().deltas_seen, 0u);
    seen += with->node(i).counters().deltas_seen;
  }
  expect_identical(*with);
  // Forwarders, piggybacking and the network's duplicates: most copies are
  // of bodies joined before.
  std::uint64_t received = 0, joined = 0;
  for (std::size_t i = 0; i < with->size(); ++i) {
    received += with->node(i).counters().deltas_received;
    joined += with->node(i).counters().deltas_joined;
  }
  EXPECT_GT(seen, (received - joined) / 2) << received << " received, " << joined << " joined";
}

TEST(Replicator, LargeClusterGossipModeReachesEveryoneByForwardingAndAntiEntropy) {
  ReplicatorConfig cfg;
  cfg.max_direct_peers = 0;
  cfg.fanout = 3;
  ReplicaNet net(40, cfg, NetOptions{Duration::milliseconds(100)}, 8);
  net.run_for(Duration::seconds(2));
  net.act(5, [&](Replicator& r, Effects& out) { r.add_to_counter(net.now(), "likes", 1, out); });
  net.run_for(Duration::milliseconds(800));
  std::size_t reached = 0, forwarded_by = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    reached += net.node(i).state().counter("likes") == 1 ? 1 : 0;
    forwarded_by += i != 5 && net.node(i).counters().deltas_sent > 0 ? 1 : 0;
  }
  EXPECT_GE(reached, 30u) << "infect-and-forward";
  EXPECT_GT(forwarded_by, 5u);
  net.run_for(Duration::seconds(5));
  for (std::size_t i = 0; i < net.size(); ++i) EXPECT_EQ(net.node(i).state().counter("likes"), 1) << "node " << i;
}

// A member that is nearly current gets a few entries by anti-entropy, never
// the whole state.
TEST(Replicator, NearlyCurrentPeerIsRepairedWithoutFullState) {
  ReplicatorConfig cfg;
  cfg.fanout = 0;  // anti-entropy only
  cfg.max_direct_peers = 0;
  ReplicaNet net(2, cfg, NetOptions{}, 3);
  net.act(0, [&](Replicator& r, Effects& out) {
    for (int i = 0; i < 2000; ++i) r.put_target(net.now(), spec("t" + std::to_string(i)), out);
  });
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(60)));
  expect_identical(net);
  const auto full_state_bytes = wire::encode_part(wire::PartType::delta, encode_delta(net.node(0).state().state())).bytes.size();
  const auto before = net.node(0).counters().stream_bytes_sent + net.node(1).counters().stream_bytes_sent;
  // One observation that is not disseminated (fanout 0, no piggyback here).
  net.act(0, [&](Replicator& r, Effects& out) { r.observe(net.now(), "t7", result(HealthStatus::unhealthy), out); });
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(30)));
  expect_identical(net);
  const auto after = net.node(0).counters().stream_bytes_sent + net.node(1).counters().stream_bytes_sent;
  EXPECT_LT((after - before) * 10, full_state_bytes) << "anti-entropy sent " << (after - before) << " B, full state "
                                                     << full_state_bytes << " B";
  EXPECT_GT(net.node(0).counters().delta_repairs_sent + net.node(0).counters().state_repairs_sent, 0u);
}

// A peer that lacks one dot of a buffered group whose context holds
// hundreds (one target observed again and again while a third member,
// cut off, keeps the group from being trimmed) gets that group as a delta
// repair: the walk of the buffer finds the dot in the group's context.
TEST(Replicator, OneMissingDotOfALongBufferedGroupIsRepairedFromTheBuffer) {
  ReplicatorConfig cfg;
  cfg.fanout = 0;  // anti-entropy only
  cfg.max_direct_peers = 0;
  ReplicaNet net(3, cfg, NetOptions{}, 5);
  net.set_cut([](std::size_t a, std::size_t b) { return a == 2 || b == 2; });
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("t7"), out); });
  for (std::uint64_t seq = 1; seq <= 300; ++seq) {
    net.act(0, [&](Replicator& r, Effects& out) {
      r.observe(net.now(), "t7", result(seq % 2 ? HealthStatus::unhealthy : HealthStatus::healthy, seq), out);
    });
    net.run_for(Duration::milliseconds(10));
  }
  // Node 1 catches up by anti-entropy.
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(60)));
  ASSERT_EQ(net.node(1).state().state().observations, net.node(0).state().state().observations);
  const std::uint64_t deltas_before = net.node(0).counters().delta_repairs_sent;
  const std::uint64_t states_before = net.node(0).counters().state_repairs_sent;
  // One more observation, absorbed into the same buffered group (node 2
  // has not seen it, so it stays), which now holds 301 observation dots.
  net.act(0, [&](Replicator& r, Effects& out) { r.observe(net.now(), "t7", result(HealthStatus::unhealthy, 301), out); });
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(60)));
  EXPECT_EQ(net.node(1).state().state().observations, net.node(0).state().state().observations);
  EXPECT_EQ(net.node(1).state().target("t7")->observation->check_seq, 301u);
  EXPECT_GT(net.node(0).counters().delta_repairs_sent, deltas_before);
  EXPECT_EQ(net.node(0).counters().state_repairs_sent, states_before);
}

// A part as sent, with its own copy of the body.
struct SentPart {
  wire::PartType type;
  Bytes body;
  wire::Part part() const { return wire::Part{type, body}; }
};

// The parts of every Send in `out`, in order.
std::vector<SentPart> sent_parts(const Effects& out) {
  std::vector<SentPart> parts;
  for (const Send& s : effects_of<Send>(out)) {
    auto env = wire::decode(s.bytes);
    EXPECT_TRUE(env.ok());
    if (!env.ok()) continue;
    for (const wire::Part& p : env->parts) parts.push_back(SentPart{p.type, Bytes(p.body.begin(), p.body.end())});
  }
  return parts;
}

// Hands `part` from `from` to `to`; returns the parts `to` sends.
std::vector<SentPart> hand(const wire::Header& from, const SentPart& part, Replicator& to) {
  Effects out;
  to.handle_part(T0, from, part.part(), Channel::stream, peers(2), out);
  return sent_parts(out);
}

SentPart digest_part(const Replicator& r) {
  Digest d = r.digest();
  d.reply = true;  // as anti-entropy sends it
  return SentPart{wire::PartType::digest, encode_digest(d)};
}

// A peer ahead (it holds every dot of ours, and some we lack) gets no state
// repair from us, which could bring it nothing: our digest goes back, and it
// repairs us.
TEST(Replicator, AnAgentBehindItsPeerAnswersItsDigestWithItsOwnNotAStateRepair) {
  const wire::Header ha{"n0", "n0:7946"}, hb{"n1", "n1:7946"};
  Replicator a(ReplicatorConfig{}, ha, make_replica_id("n0", 1), 1, nullptr);
  Replicator b(ReplicatorConfig{}, hb, make_replica_id("n1", 1), 2, nullptr);
  Effects out;
  a.put_target(T0, spec("web"), out);
  a.observe(T0, "web", result(HealthStatus::unhealthy), out);
  const auto answer = hand(ha, digest_part(a), b);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].type, wire::PartType::digest);
  EXPECT_EQ(b.counters().state_repairs_sent, 0u);
  EXPECT_EQ(b.counters().state_repairs_skipped, 1u);
  const auto repair = hand(hb, answer[0], a);
  ASSERT_EQ(repair.size(), 1u);
  EXPECT_EQ(repair[0].type, wire::PartType::repair);
  EXPECT_TRUE(hand(ha, repair[0], b).empty());
  EXPECT_EQ(b.state().state(), a.state().state());
  EXPECT_EQ(b.state().target("web")->observation->status, HealthStatus::unhealthy);
}

// Equal contexts with differing buckets: one side holds an entry the other
// removed (here b, an older spec version beside the newer, as a partial
// repair can leave it). The state repairs still go, and the exchange
// removes it.
TEST(Replicator, EqualContextsWithDifferingBucketsStillGetAStateRepair) {
  const wire::Header ha{"n0", "n0:7946"}, hb{"n1", "n1:7946"};
  Replicator a(ReplicatorConfig{}, ha, make_replica_id("n0", 1), 1, nullptr);
  Replicator b(ReplicatorConfig{}, hb, make_replica_id("n1", 1), 2, nullptr);
  Effects out;
  a.put_target(T0, spec("web", 9000), out);
  const HealthDelta first = a.state().state();
  a.put_target(T0 + Duration::seconds(1), spec("web", 9001), out);
  HealthDelta stale = a.state().state();
  const Name web = detached_name("web");
  DotFun<SpecVersion> both = *stale.registry.store.find(web);
  for (const auto& e : first.registry.store.find(web)->entries()) both.insert(e.first, e.second);
  ASSERT_EQ(both.size(), 2u);
  stale.registry.store.put(web, both);
  b.join_snapshot(stale);
  ASSERT_EQ(b.state().state().registry.context, a.state().state().registry.context);
  ASSERT_NE(b.state().state(), a.state().state());
  // b answers a's digest with a state repair (which changes nothing at a)
  // and its digest; a answers that with a state repair, which b joins.
  const auto answer = hand(ha, digest_part(a), b);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0].type, wire::PartType::repair);
  EXPECT_EQ(answer[1].type, wire::PartType::digest);
  EXPECT_TRUE(hand(hb, answer[0], a).empty());
  const auto repair = hand(hb, answer[1], a);
  ASSERT_EQ(repair.size(), 1u);
  EXPECT_EQ(repair[0].type, wire::PartType::repair);
  EXPECT_EQ(a.counters().state_repairs_sent, 1u);
  hand(ha, repair[0], b);
  EXPECT_EQ(b.state().state(), a.state().state());
  EXPECT_EQ(b.state().target("web")->spec->spec->url.port, 9001);
}

// A member back from a long absence (restarted with empty state) catches up
// by state repairs, bucket by bucket when a repair would be too large, and its
// new writes count.
TEST(Replicator, RestartedMemberCatchesUpByPartialStateRepairsAndItsWritesCount) {
  ReplicatorConfig cfg;
  cfg.max_repair_bytes = 16 * 1024;
  ReplicaNet net(4, cfg, NetOptions{}, 11);
  net.act(0, [&](Replicator& r, Effects& out) {
    for (int i = 0; i < 1000; ++i) r.put_target(net.now(), spec("t" + std::to_string(i)), out);
    r.add_to_counter(net.now(), "likes", 5, out);
  });
  net.act(2, [&](Replicator& r, Effects& out) { r.add_to_counter(net.now(), "likes", 2, out); });
  ASSERT_TRUE(net.settle(Duration::seconds(6), Duration::seconds(120)));
  expect_identical(net);
  const ReplicaId old_id = net.node(2).replica();
  net.restart(2);
  const ReplicaId new_id = net.node(2).replica();
  ASSERT_NE(old_id, new_id);
  EXPECT_EQ(net.node(2).state().targets().size(), 0u);
  // The restarted member writes before it has caught up: its first dot is
  // (new_id, 1), never a dot of its previous incarnation.
  net.act(2, [&](Replicator& r, Effects& out) { r.add_to_counter(net.now(), "likes", 1, out); });
  EXPECT_EQ(net.node(2).state().state().counters.context.max_counter(new_id), 1u);
  ASSERT_TRUE(net.settle(Duration::seconds(8), Duration::seconds(300)));
  expect_identical(net);
  EXPECT_EQ(net.node(0).state().counter("likes"), 8);  // 5 + 2 (old incarnation) + 1 (new one)
  EXPECT_EQ(net.node(2).state().targets().size(), 1000u);
  std::uint64_t partial = 0;
  for (std::size_t i = 0; i < net.size(); ++i) partial += net.node(i).counters().partial_repairs_sent;
  EXPECT_GT(partial, 0u) << "the catch-up needed more than one repair";
}

TEST(Replicator, DeltaBufferIsCappedAndTrimmedOnceEveryPeerHasSeenIt) {
  ReplicatorConfig cfg;
  cfg.max_pending_keys = 10;
  ReplicaNet net(3, cfg, NetOptions{}, 5);
  net.act(0, [&](Replicator& r, Effects& out) {
    for (int i = 0; i < 25; ++i) r.put_target(net.now(), spec("t" + std::to_string(i)), out);
  });
  // A burst over the cap is kept until its eager push...
  EXPECT_EQ(net.node(0).pending_keys(), 25u);
  EXPECT_EQ(net.node(0).counters().pending_evicted, 0u);
  net.run_for(cfg.flush_delay + Duration::milliseconds(150));  // one-way latency 100 ms
  // ... which reached both peers before anti-entropy ran; then the oldest
  // groups past the cap go.
  EXPECT_EQ(net.node(0).pending_keys(), 10u);
  EXPECT_EQ(net.node(0).counters().pending_evicted, 15u);
  for (std::size_t i = 1; i < net.size(); ++i) {
    EXPECT_EQ(net.node(i).state().targets().size(), 25u) << "node " << i;
    EXPECT_EQ(net.node(i).counters().state_repairs_sent + net.node(i).counters().repairs_received, 0u);
    // With direct push a receiver neither buffers nor forwards.
    EXPECT_EQ(net.node(i).pending_keys(), 0u) << "node " << i;
  }
  ASSERT_TRUE(net.settle(Duration::seconds(8), Duration::seconds(120)));
  expect_identical(net);
  net.run_for(Duration::seconds(20));  // node 0 hears digests from both peers
  EXPECT_EQ(net.node(0).known_peers(), 2u);
  EXPECT_EQ(net.node(0).pending_keys(), 0u);
  EXPECT_EQ(net.node(0).counters().pending_trimmed, 10u);
}

// Peers' contexts are kept only while the view holds at most
// max_known_peers other peers (each is as wide as the replicas that wrote:
// O(n x replicas) per agent). Past it nothing is trimmed, and the cap alone
// bounds the buffer.
TEST(Replicator, PastMaxKnownPeersTheBufferIsNotTrimmedOnlyCapped) {
  ReplicatorConfig cfg;
  cfg.max_pending_keys = 10;
  cfg.max_known_peers = 1;  // two other peers
  ReplicaNet net(3, cfg, NetOptions{}, 5);
  net.act(0, [&](Replicator& r, Effects& out) {
    for (int i = 0; i < 25; ++i) r.put_target(net.now(), spec("t" + std::to_string(i)), out);
  });
  ASSERT_TRUE(net.settle(Duration::seconds(8), Duration::seconds(120)));
  expect_identical(net);
  net.run_for(Duration::seconds(20));  // node 0 hears digests from both peers, and keeps none
  EXPECT_EQ(net.node(0).known_peers(), 0u);
  EXPECT_EQ(net.node(0).pending_keys(), 10u);
  EXPECT_EQ(net.node(0).counters().pending_evicted, 15u);
  EXPECT_EQ(net.node(0).counters().pending_trimmed, 0u);
  EXPECT_GT(net.node(0).counters().digests_received, 0u);
}

TEST(Replicator, WithDirectPushReceiversDoNotForward) {
  ReplicatorConfig cfg;  // 3 members: every write goes to both peers directly
  ReplicaNet net(3, cfg, NetOptions{}, 6);
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("t1"), out); });
  net.run_for(Duration::milliseconds(200));
  for (std::size_t i = 1; i < net.size(); ++i) {
    EXPECT_EQ(net.node(i).state().targets().size(), 1u) << "node " << i;
    EXPECT_EQ(net.node(i).counters().deltas_joined, 1u) << "node " << i;
    EXPECT_EQ(net.node(i).counters().deltas_queued, 0u) << "node " << i;
    EXPECT_EQ(net.node(i).counters().deltas_sent, 0u) << "node " << i;
  }
  EXPECT_EQ(net.node(0).counters().deltas_sent, 2u);
}

// In a small cluster (direct push) a receiver rumours a status change on
// its own piggyback queue, never by datagram: a member that lost the
// writer's push hears it from another member's gossip. Other writes are
// not rumoured, and a full queue takes no rumour.
TEST(Replicator, ReceiversInASmallClusterRumourStatusChangesOnTheirPiggybackQueue) {
  ReplicatorConfig cfg;
  BroadcastQueue qa, qb, qc;
  const wire::Header ha{"n0", "n0:7946"}, hb{"n1", "n1:7946"}, hc{"n2", "n2:7946"};
  Replicator a(cfg, ha, make_replica_id("n0", 1), 1, &qa);
  Replicator b(cfg, hb, make_replica_id("n1", 1), 2, &qb);
  Replicator c(cfg, hc, make_replica_id("n2", 1), 3, &qc);
  const auto view = peers(3);
  Instant now = T0;
  // Flushes a's writes; delivers its datagrams to the replicators in `to`.
  auto push = [&](std::vector<Replicator*> to) {
    Effects out;
    now = now + std::max(cfg.flush_delay, cfg.flush_gap);  // an observation's flush may be paced
    a.handle_timer(now, TimerKey{TimerKind::replica_flush, 0}, view, out);
    for (const Send& s : effects_of<Send>(out)) {
      Replicator* r = s.to == "n1:7946" ? &b : s.to == "n2:7946" ? &c : nullptr;
      if (std::find(to.begin(), to.end(), r) == to.end()) continue;
      auto env = wire::decode(s.bytes);
      ASSERT_TRUE(env.ok());
      Effects got;
      for (const wire::Part& part : env->parts) r->handle_part(now, env->header, part, Channel::datagram, view, got);
      EXPECT_TRUE(effects_of<Send>(got).empty());  // receivers send no datagram
    }
  };
  Effects out;
  a.put_target(now, spec("web"), out);
  push({&b, &c});
  EXPECT_FALSE(qb.contains("r:rumor:t:web"));  // a registry write: the writer's alone
  a.observe(now, "web", result(HealthStatus::unhealthy), out);
  push({&b});  // c loses it
  EXPECT_TRUE(qb.contains("r:rumor:t:web"));
  EXPECT_EQ(b.counters().rumors_queued, 1u);
  EXPECT_EQ(c.state().target("web")->observation, nullptr);
  // b's next membership packet to c carries it.
  wire::PacketBuilder packet(hb, cfg.max_packet_bytes);
  ASSERT_EQ(qb.fill(packet, 3), 1u);
  auto env = wire::decode(packet.finish());
  ASSERT_TRUE(env.ok());
  Effects got;
  c.handle_part(now, env->header, env->parts[0], Channel::datagram, view, got);
  ASSERT_NE(c.state().target("web")->observation, nullptr);
  EXPECT_EQ(c.state().target("web")->observation->status, HealthStatus::unhealthy);
  EXPECT_TRUE(qc.contains("r:rumor:t:web"));  // c rumours it on in turn (it was news to c)
  // A queue holding max_rumor_queue parts takes no rumour; 0 turns them off.
  ReplicatorConfig small = cfg;
  small.max_rumor_queue = 1;
  BroadcastQueue qd;
  qd.push("m:someone", wire::EncodedPart{wire::PartType::alive, Bytes{0x90}});
  Replicator d(small, wire::Header{"n3", "n3:7946"}, make_replica_id("n3", 1), 4, &qd);
  d.handle_part(now, env->header, env->parts[0], Channel::datagram, view, got);
  EXPECT_EQ(d.counters().deltas_joined, 1u);
  EXPECT_FALSE(qd.contains("r:rumor:t:web"));
  EXPECT_EQ(d.counters().rumors_skipped, 1u);
  ReplicatorConfig off = cfg;
  off.max_rumor_queue = 0;
  BroadcastQueue qe;
  Replicator e(off, wire::Header{"n4", "n4:7946"}, make_replica_id("n4", 1), 5, &qe);
  e.handle_part(now, env->header, env->parts[0], Channel::datagram, view, got);
  EXPECT_EQ(e.counters().deltas_joined, 1u);
  EXPECT_TRUE(qe.empty());
  EXPECT_EQ(e.counters().rumors_queued + e.counters().rumors_skipped, 0u);
}

// The skew rule end to end: one node's clock runs an hour ahead.
TEST(Replicator, SkewedNodeNeitherDragsClocksNorMasksNewerObservations) {
  const Instant skewed_now = T0 + Duration::seconds(3600);
  BroadcastQueue qa, qb;
  Replicator fast(ReplicatorConfig{}, wire::Header{"fast", "fast:1"}, 11, 1, &qa);
  Replicator honest(ReplicatorConfig{}, wire::Header{"honest", "honest:1"}, 22, 2, &qb);
  Replicator third(ReplicatorConfig{}, wire::Header{"third", "third:1"}, 33, 3, nullptr);
  Effects out;
  auto deliver_all = [&](Replicator& from_r, const wire::Header& h, Instant flush_at, Instant now,
                         std::vector<Replicator*> to) {
    Effects o;
    std::vector<Peer> view{Peer::interned(names(), "x", "x:1")};
    from_r.handle_timer(flush_at, TimerKey{TimerKind::replica_flush, 0}, view, o);
    for (const Send& s : effects_of<Send>(o)) {
      auto env = wire::decode(s.bytes);
      for (Replicator* r : to) {
        for (const auto& p : env->parts) r->handle_part(now, h, p, Channel::datagram, view, out);
      }
    }
  };
  fast.put_target(skewed_now, spec("t"), out);
  deliver_all(fast, {"fast", "fast:1"}, skewed_now + Duration::seconds(1), T0, {&honest, &third});
  EXPECT_EQ(honest.clock().rejected_ahead(), 1u);
  EXPECT_EQ(honest.counters().hlc_rejected_ahead, 1u);
  // Concurrent observations: fast says healthy (stamped an hour ahead), honest
  // saw it fail. The cluster reports the failure, not the future timestamp.
  fast.observe(skewed_now, "t", result(HealthStatus::healthy), out);
  const Observation failure = honest.observe(T0, "t", result(HealthStatus::unhealthy), out);
  EXPECT_LT(failure.observed_at.wall_ms(), static_cast<std::uint64_t>(T0.ms()) + 1000);  // not dragged forward
  deliver_all(fast, {"fast", "fast:1"}, skewed_now + Duration::seconds(2), T0, {&honest, &third});
  deliver_all(honest, {"honest", "honest:1"}, T0 + Duration::seconds(2), T0, {&fast, &third});
  for (Replicator* r : {&fast, &honest, &third}) {
    EXPECT_EQ(r->state().target("t")->observation_siblings, 2u);
    EXPECT_EQ(r->state().target("t")->observation->status, HealthStatus::unhealthy);
  }
  // A newer observation by a node that has seen both supersedes both, although
  // its timestamp is an hour "older" than fast's: causality first.
  honest.observe(T0 + Duration::seconds(3), "t", result(HealthStatus::healthy, 2), out);
  deliver_all(honest, {"honest", "honest:1"}, T0 + Duration::seconds(4), T0, {&fast, &third});
  for (Replicator* r : {&fast, &honest, &third}) {
    EXPECT_EQ(r->state().target("t")->observation_siblings, 1u);
    EXPECT_EQ(r->state().target("t")->observation->status, HealthStatus::healthy);
    EXPECT_EQ(r->state().target("t")->observation->observer, honest.replica());
  }
}

// A delete (a removal, health_state.h) reaches every agent, outranks the
// put it raced, and is collected everywhere after removal_retention: the
// target stays gone, and nothing of it is held any more.
TEST(Replicator, RemovalsWinOverTheirOlderPutAndAreCollectedAfterTheRetention) {
  ReplicatorConfig config;
  config.removal_retention = Duration::seconds(30);
  ReplicaNet net(3, config, testing::NetOptions{}, 5);
  net.run_for(Duration::seconds(1));
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("web", 9000), out); });
  net.run_for(Duration::seconds(1));
  // A new version through node 0 and, before it arrives, a delete through node 2.
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("web", 9001), out); });
  net.act(2, [&](Replicator& r, Effects& out) { r.remove_target(net.now() + Duration::milliseconds(1), "web", out); });
  net.run_for(Duration::seconds(10));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(net.node(i).state().target("web").has_value()) << i;
    EXPECT_EQ(net.node(i).state().removal_records(), 1u) << i;
  }
  net.run_for(Duration::seconds(30));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).state().removal_records(), 0u) << i;
    EXPECT_EQ(net.node(i).state().state().registry.store.find("web"), nullptr) << i;
  }
  std::uint64_t rounds = 0;
  for (std::size_t i = 0; i < 3; ++i) rounds += net.node(i).counters().removal_gc_rounds;
  EXPECT_GE(rounds, 1u);
}

// Settling spec siblings (ClusterNode: the winner's writer writes it once
// more) keeps the winner's timestamp: a client's put written meanwhile at
// another agent, newer than the winner, still wins. A fresh timestamp
// (put_target) would have made the old spec win and lost that put.
TEST(Replicator, SettlingSiblingsNeverOutranksANewerConcurrentPut) {
  ReplicaNet net(3, ReplicatorConfig{}, testing::NetOptions{}, 9);
  net.run_for(Duration::seconds(1));
  const Instant t0 = net.now();
  net.act(0, [&](Replicator& r, Effects& out) { r.put_target(t0, spec("web", 9000), out); });
  net.act(1, [&](Replicator& r, Effects& out) { r.put_target(t0 - Duration::milliseconds(5), spec("web", 9001), out); });
  net.run_for(Duration::seconds(2));
  ASSERT_EQ(net.node(0).state().target("web")->spec_siblings, 2u);
  const SpecVersion winner = *net.node(0).state().target("web")->spec;
  ASSERT_EQ(winner.writer, net.node(0).state().self());
  // Node 2 takes a client's put, newer than the winner; before it arrives,
  // node 0 settles (later still on its clock).
  net.act(2, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec("web", 9002), out); });
  net.act(0, [&](Replicator& r, Effects& out) { r.settle_target(net.now() + Duration::seconds(1), winner, out); });
  net.run_for(Duration::seconds(10));
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(net.node(i).state().target("web").has_value()) << i;
    EXPECT_EQ(net.node(i).state().target("web")->spec->spec->url.port, 9002) << i;
  }
}

TEST(Replicator, DeterministicForASeed) {
  auto run = [](std::uint64_t seed) {
    ReplicaNet net(6, ReplicatorConfig{}, NetOptions{Duration::milliseconds(30), 0.2, 0.1}, seed);
    std::vector<std::uint8_t> trace;
    net.on_deliver = [&](const ReplicaNet::Delivery& d) {
      trace.push_back(static_cast<std::uint8_t>(d.from));
      trace.push_back(static_cast<std::uint8_t>(d.to));
      trace.insert(trace.end(), d.bytes.begin(), d.bytes.end());
    };
    for (int i = 0; i < 30; ++i) {
      net.act(static_cast<std::size_t>(i % 6), [&](Replicator& r, Effects& out) {
        r.observe(net.now(), "t" + std::to_string(i % 4), result(i % 3 ? HealthStatus::healthy : HealthStatus::unhealthy), out);
      });
      net.run_for(Duration::milliseconds(50));
    }
    net.run_for(Duration::seconds(5));
    return trace;
  };
  EXPECT_EQ(run(9), run(9));
  EXPECT_NE(run(9), run(10));
}

// The convergence property: N replicas, random writes, random loss,
// duplication and partitions of every message (deltas and anti-entropy
// alike), then the faults heal and anti-entropy runs until quiet: identical
// states and identical answers everywhere.
RC_GTEST_PROP(Replicator, RandomFaultySchedulesConvergeAfterAntiEntropy, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(2, 7);
  ReplicatorConfig cfg;
  cfg.fanout = *rc::gen::inRange<std::size_t>(0, 3);
  cfg.max_direct_peers = *rc::gen::element<std::size_t>(0, 128);
  cfg.max_pending_keys = *rc::gen::element<std::size_t>(2, 64);
  cfg.max_repair_bytes = *rc::gen::element<std::size_t>(600, 1 << 20);
  NetOptions opt;
  opt.latency = Duration::milliseconds(*rc::gen::inRange(1, 200));
  opt.streams_reliable = false;
  opt.gossip_interval = *rc::gen::element(Duration::zero(), Duration::milliseconds(200));
  ReplicaNet net(n, cfg, opt, *rc::gen::arbitrary<std::uint64_t>());
  std::int64_t likes = 0;
  struct Restarted {
    ReplicaId id;
    std::int64_t own;    // the incarnation's total when it restarted
    std::int64_t known;  // the newest total another node had seen of it
  };
  std::vector<Restarted> restarted_totals;
  const int steps = *rc::gen::inRange(1, 60);
  for (int i = 0; i < steps; ++i) {
    const auto at = *rc::gen::inRange<std::size_t>(0, n);
    const std::string id = "t" + std::to_string(*rc::gen::inRange(0, 6));
    switch (*rc::gen::inRange(0, 9)) {
      case 0: net.act(at, [&](Replicator& r, Effects& out) { r.put_target(net.now(), spec(id, 9000 + i), out); }); break;
      case 1: net.act(at, [&](Replicator& r, Effects& out) { r.remove_target(net.now(), id, out); }); break;
      case 2:
      case 3: {
        const auto st = *rc::gen::element(HealthStatus::healthy, HealthStatus::unhealthy);
        net.act(at, [&](Replicator& r, Effects& out) { r.observe(net.now(), id, result(st, static_cast<std::uint64_t>(i)), out); });
        break;
      }
      case 4: {
        const int k = *rc::gen::inRange(-3, 10);
        likes += k;
        net.act(at, [&](Replicator& r, Effects& out) { r.add_to_counter(net.now(), "likes", k, out); });
        break;
      }
      case 5: {
        // A (possibly one-way) partition.
        const auto side = *rc::gen::container<std::vector<bool>>(n, rc::gen::arbitrary<bool>());
        const bool one_way = *rc::gen::arbitrary<bool>();
        net.set_cut([side, one_way](std::size_t a, std::size_t b) { return side[a] != side[b] && (!one_way || side[a]); });
        break;
      }
      case 6:
        net.set_drop(*rc::gen::element(0.0, 0.3, 0.9));
        net.set_duplicate(*rc::gen::element(0.0, 0.3));
        break;
      default: {
        // Restart without state: increments no other node had seen are lost
        // with the old incarnation; everything else must survive.
        const ReplicaId old_id = net.node(at).replica();
        auto running_total = [&](const HealthState& s) -> std::optional<std::int64_t> {
          const auto* c = s.state().counters.store.find("likes");
          if (!c) return std::nullopt;
          std::optional<std::int64_t> newest;  // entries are sorted by dot
          for (const auto& [dot, v] : c->entries()) {
            if (dot.replica == old_id) newest = v;
          }
          return newest;
        };
        const std::int64_t own = running_total(net.node(at).state()).value_or(0);
        std::optional<std::int64_t> known;
        std::uint64_t known_counter = 0;
        for (std::size_t j = 0; j < n; ++j) {
          if (j == at) continue;
          const auto& s = net.node(j).state();
          const auto* c = s.state().counters.store.find("likes");
          if (!c) continue;
          for (const auto& [dot, v] : c->entries()) {
            if (dot.replica == old_id && dot.counter > known_counter) {
              known_counter = dot.counter;
              known = v;
            }
          }
        }
        // Messages still in flight may carry newer totals of the old
        // incarnation; they are delivered after the restart and count.
        restarted_totals.push_back({old_id, own, known.value_or(0)});
        net.restart(at);
        break;
      }
    }
    net.run_for(Duration::milliseconds(*rc::gen::inRange(0, 1500)));
  }
  net.heal();
  net.set_drop(0);
  net.set_duplicate(0);
  RC_ASSERT(net.settle(Duration::seconds(10), Duration::seconds(900)));
  RC_CLASSIFY(!restarted_totals.empty(), "restarts");
  const HealthState& ref = net.node(0).state();
  // A lost incarnation's increments count up to the newest of its totals
  // that reached another node before or after the restart (its dots are
  // never reissued, so nothing else of it can be lost or double counted);
  // every other increment counts exactly once.
  std::int64_t lo = likes;
  // A partial state repair moves entries without their causal past; if every
  // agent that knew an entry's superseded dots then restarts, a superseded
  // counter total can survive beside the newer one (replicator.h, "partial
  // repairs"). The value reads each replica's newest total only
  // (crdts.h: ccounter_for_each_total), so it stays exact even then.
  std::uint64_t partial = 0;
  for (std::size_t i = 0; i < n; ++i) partial += net.node(i).counters().partial_repairs_sent;
  RC_CLASSIFY(partial > 0 && !restarted_totals.empty(), "partial repairs and restarts");
  for (const auto& r : restarted_totals) {
    std::int64_t converged = 0;
    if (const auto* c = ref.state().counters.store.find("likes")) {
      for (const auto& [dot, v] : c->entries()) {
        if (dot.replica == r.id) converged = v;
      }
    }
    // With a single restart, increments another node had seen all survive.
    if (restarted_totals.size() == 1 && r.own == r.known) RC_ASSERT(converged == r.own);
    lo += converged - r.own;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const HealthState& s = net.node(i).state();
    RC_ASSERT(s.state() == ref.state());
    RC_ASSERT(s.counter("likes") == lo);
    const auto a = s.targets();
    const auto b = ref.targets();
    RC_ASSERT(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      RC_ASSERT(a[k].first == b[k].first);
      RC_ASSERT(*a[k].second.spec == *b[k].second.spec);
      RC_ASSERT((a[k].second.observation == nullptr) == (b[k].second.observation == nullptr));
      if (a[k].second.observation) RC_ASSERT(*a[k].second.observation == *b[k].second.observation);
    }
  }
}

}  // namespace
}  // namespace heck
