#include "sim/network.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace heck::sim {
namespace {

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }
Bytes bytes_of(std::size_t n, std::uint8_t fill = 7) { return Bytes(n, fill); }

LinkConfig constant_link(std::int64_t ms) {
  LinkConfig c;
  c.latency = LatencyDist::constant(Duration::milliseconds(ms));
  return c;
}

TEST(Network, DeliversADatagramAfterItsLatency) {
  Network net(2, constant_link(3), Rng(1));
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(10), 0, 1, Channel::datagram, bytes_of(100), out), Fate::delivered);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, at_ms(13));
  EXPECT_EQ(net.in_flight(), 1u);
  const Message m = net.take(out[0].index);
  EXPECT_EQ(m.from, 0u);
  EXPECT_EQ(m.to, 1u);
  EXPECT_EQ(m.bytes, bytes_of(100));
  EXPECT_EQ(m.sent_at, at_ms(10));
  EXPECT_EQ(net.in_flight(), 0u);
  EXPECT_EQ(net.counters().bytes_sent, 100u);
}

// The peak of bytes held at once: a taken message and a lost one no longer
// count, a duplicate counts twice.
TEST(Network, CountsThePeakOfBytesInFlight) {
  LinkConfig c = constant_link(3);
  Network net(3, c, Rng(4));
  std::vector<Arrival> out;
  net.send(at_ms(0), 0, 1, Channel::datagram, bytes_of(100), out);
  net.send(at_ms(0), 0, 2, Channel::datagram, bytes_of(200), out);
  EXPECT_EQ(net.counters().peak_in_flight_bytes, 300u);
  (void)net.take(out[0].index);
  net.send(at_ms(1), 0, 1, Channel::datagram, bytes_of(150), out);
  EXPECT_EQ(net.counters().peak_in_flight_bytes, 350u) << "200 held, then 150 more";
  (void)net.take(out[1].index);
  (void)net.take(out[2].index);
  net.send(at_ms(2), 0, 1, Channel::datagram, bytes_of(300), out);
  EXPECT_EQ(net.counters().peak_in_flight_bytes, 350u) << "only 300 held now";
  (void)net.take(out[3].index);
  LinkConfig lossy = constant_link(3);
  lossy.loss = 1.0;
  net.set_defaults(lossy);
  EXPECT_EQ(net.send(at_ms(3), 0, 2, Channel::datagram, bytes_of(340), out), Fate::lost);
  EXPECT_EQ(net.send(at_ms(3), 0, 2, Channel::datagram, bytes_of(340), out), Fate::lost);
  EXPECT_EQ(net.counters().peak_in_flight_bytes, 350u) << "a lost message is let go";
  LinkConfig doubling = constant_link(3);
  doubling.duplicate = 1.0;
  net.set_defaults(doubling);
  EXPECT_EQ(net.send(at_ms(3), 0, 2, Channel::datagram, bytes_of(200), out), Fate::duplicated);
  EXPECT_EQ(net.counters().peak_in_flight_bytes, 400u) << "a duplicate is a second copy";
}

TEST(Network, LosesAboutTheConfiguredFraction) {
  LinkConfig c = constant_link(1);
  c.loss = 0.1;
  Network net(2, c, Rng(2));
  std::vector<Arrival> out;
  int lost = 0;
  constexpr int kSends = 100'000;
  for (int i = 0; i < kSends; ++i) {
    if (net.send(at_ms(0), 0, 1, Channel::datagram, {}, out) == Fate::lost) ++lost;
  }
  EXPECT_NEAR(lost, kSends / 10, 600);  // sd ~95
  EXPECT_EQ(out.size() + static_cast<std::size_t>(lost), static_cast<std::size_t>(kSends));
  EXPECT_EQ(net.in_flight(), out.size());  // lost messages free their slot
}

TEST(Network, DuplicatesArriveTwiceWithTheSameBytes) {
  LinkConfig c;
  c.latency = LatencyDist::uniform(Duration::milliseconds(1), Duration::milliseconds(5));
  c.duplicate = 1.0;
  Network net(2, c, Rng(3));
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 1, 0, Channel::datagram, bytes_of(9, 42), out), Fate::duplicated);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].index, out[1].index);
  EXPECT_EQ(net.take(out[0].index).bytes, bytes_of(9, 42));
  EXPECT_EQ(net.take(out[1].index).bytes, bytes_of(9, 42));
}

TEST(Network, ReorderingLetsLaterDatagramsOvertake) {
  LinkConfig c = constant_link(1);
  c.reorder = 0.5;
  c.reorder_delay = LatencyDist::constant(Duration::milliseconds(50));
  Network net(2, c, Rng(4));
  std::vector<Arrival> out;
  for (int i = 0; i < 100; ++i) net.send(at_ms(i), 0, 1, Channel::datagram, {}, out);
  int overtaken = 0;
  for (std::size_t i = 1; i < out.size(); ++i) overtaken += out[i].at < out[i - 1].at;
  EXPECT_GT(overtaken, 10);
  EXPECT_GT(net.counters().reordered, 30u);
  EXPECT_LT(net.counters().reordered, 70u);
}

TEST(Network, OneWayPartitionDropsOneDirectionOnly) {
  Network net(3, constant_link(1), Rng(5));
  // B (1) does not hear A (0); A still hears B.
  net.partition(EndpointSet::of(3, {0}), EndpointSet::of(3, {1}), /*one_way=*/true);
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 0, 1, Channel::datagram, {}, out), Fate::partitioned);
  EXPECT_EQ(net.send(at_ms(0), 1, 0, Channel::datagram, {}, out), Fate::delivered);
  EXPECT_EQ(net.send(at_ms(0), 0, 2, Channel::datagram, {}, out), Fate::delivered);
  EXPECT_TRUE(net.partitioned(0, 1));
  EXPECT_FALSE(net.partitioned(1, 0));
  // A stream needs both directions.
  EXPECT_EQ(net.send(at_ms(0), 1, 0, Channel::stream, {}, out), Fate::refused);
  EXPECT_EQ(net.counters().refused, 1u);
}

TEST(Network, SymmetricPartitionThenHeal) {
  Network net(4, constant_link(1), Rng(6));
  const auto id = net.partition(EndpointSet::of(4, {0, 1}), EndpointSet::of(4, {2, 3}), false);
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 0, 3, Channel::datagram, {}, out), Fate::partitioned);
  EXPECT_EQ(net.send(at_ms(0), 3, 1, Channel::datagram, {}, out), Fate::partitioned);
  EXPECT_EQ(net.send(at_ms(0), 0, 1, Channel::datagram, {}, out), Fate::delivered);
  EXPECT_EQ(net.send(at_ms(0), 2, 3, Channel::datagram, {}, out), Fate::delivered);
  net.heal(id);
  EXPECT_EQ(net.active_partitions(), 0u);
  EXPECT_EQ(net.send(at_ms(1), 0, 3, Channel::datagram, {}, out), Fate::delivered);
}

TEST(Network, ClogHoldsThenReleasesInSendOrder) {
  Network net(2, constant_link(2), Rng(7));
  const auto id = net.clog(EndpointSet::of(2, {0}), EndpointSet::of(2, {1}), /*one_way=*/true);
  std::vector<Arrival> out;
  for (std::uint8_t i = 0; i < 5; ++i) {
    EXPECT_EQ(net.send(at_ms(i), 0, 1, Channel::datagram, bytes_of(1, i), out), Fate::clogged);
  }
  EXPECT_EQ(net.send(at_ms(0), 1, 0, Channel::datagram, {}, out), Fate::delivered);  // one way
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  net.release(id, at_ms(1000), out);
  ASSERT_EQ(out.size(), 5u);
  for (std::uint8_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].at, at_ms(1002));
    EXPECT_EQ(net.take(out[i].index).bytes, bytes_of(1, i));
  }
  EXPECT_EQ(net.counters().released, 5u);
  EXPECT_EQ(net.active_clogs(), 0u);
}

TEST(Network, ClogHoldsStreamsToo) {
  Network net(2, constant_link(1), Rng(8));
  net.clog(EndpointSet::of(2, {0}), EndpointSet::of(2, {1}), false);
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 1, 0, Channel::stream, {}, out), Fate::clogged);
  net.release_all(at_ms(50), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, at_ms(53));  // three legs from the release
}

TEST(Network, ReleaseOfOneClogKeepsMessagesAnotherClogCovers) {
  Network net(2, constant_link(1), Rng(9));
  const auto a = net.clog(EndpointSet::of(2, {0}), EndpointSet::of(2, {1}), true);
  net.clog(EndpointSet::all(2), EndpointSet::all(2), false);
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 0, 1, Channel::datagram, {}, out), Fate::clogged);
  net.release(a, at_ms(10), out);
  EXPECT_TRUE(out.empty());
  net.release_all(at_ms(20), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, at_ms(21));
}

TEST(Network, HeldMessagesAreBounded) {
  Network net(2, constant_link(1), Rng(10));
  net.clog(EndpointSet::all(2), EndpointSet::all(2), false);
  std::vector<Arrival> out;
  for (std::size_t i = 0; i < Network::kMaxHeld; ++i) net.send(at_ms(0), 0, 1, Channel::datagram, {}, out);
  EXPECT_EQ(net.send(at_ms(0), 0, 1, Channel::datagram, {}, out), Fate::overflow);
  EXPECT_EQ(net.counters().overflow, 1u);
  EXPECT_EQ(net.in_flight(), Network::kMaxHeld);
}

TEST(Network, StreamsTakeThreeLegsPlusTransferAndAreNotLostOrDuplicated) {
  LinkConfig c = constant_link(2);
  c.duplicate = 1.0;
  c.stream_bytes_per_ms = 1000;
  Network net(2, c, Rng(11));
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 0, 1, Channel::stream, bytes_of(5000), out), Fate::delivered);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, at_ms(6 + 5));
}

TEST(Network, LossyStreamsRetransmitOrTimeOut) {
  LinkConfig c = constant_link(1);
  c.loss = 0.5;
  Network net(2, c, Rng(12));
  std::vector<Arrival> out;
  int delivered = 0, timed_out = 0;
  for (int i = 0; i < 2000; ++i) {
    const Fate f = net.send(at_ms(0), 0, 1, Channel::stream, {}, out);
    delivered += f == Fate::delivered;
    timed_out += f == Fate::timed_out;
  }
  EXPECT_EQ(delivered + timed_out, 2000);
  // A leg fails with 0.5^6 = 1/64; three legs: ~4.6% time out.
  EXPECT_GT(timed_out, 40);
  EXPECT_LT(timed_out, 150);
  const auto late = std::count_if(out.begin(), out.end(), [](const Arrival& a) { return a.at >= at_ms(1000); });
  EXPECT_GT(late, 1000);  // most needed a handshake retransmission
}

TEST(Network, OverridesReplaceFieldsNewestFirst) {
  Network net(3, constant_link(1), Rng(13));
  LinkOverride slow;
  slow.latency = LatencyDist::constant(Duration::milliseconds(100));
  net.add_override(EndpointSet::of(3, {0}), EndpointSet::of(3, {1, 2}), false, slow);
  LinkOverride lossy;
  lossy.loss = 1.0;
  const auto id = net.add_override(EndpointSet::of(3, {0}), EndpointSet::of(3, {2}), true, lossy);
  EXPECT_EQ(net.link(0, 1).latency.mean(), Duration::milliseconds(100));
  EXPECT_EQ(net.link(1, 0).latency.mean(), Duration::milliseconds(100));  // both ways
  EXPECT_EQ(net.link(1, 2).latency.mean(), Duration::milliseconds(1));
  EXPECT_EQ(net.link(0, 2).loss, 1.0);
  EXPECT_EQ(net.link(0, 2).latency.mean(), Duration::milliseconds(100));  // kept from the older rule
  EXPECT_EQ(net.link(2, 0).loss, 0.0);  // one way
  std::vector<Arrival> out;
  EXPECT_EQ(net.send(at_ms(0), 0, 2, Channel::datagram, {}, out), Fate::lost);
  net.remove_override(id);
  EXPECT_EQ(net.send(at_ms(0), 0, 2, Channel::datagram, {}, out), Fate::delivered);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at, at_ms(100));
}

TEST(Network, SameSeedSameFates) {
  auto run = [](std::uint64_t seed) {
    LinkConfig c;
    c.latency = LatencyDist::exponential(Duration::milliseconds(5), Duration::milliseconds(1));
    c.loss = 0.2;
    c.duplicate = 0.1;
    c.reorder = 0.1;
    Network net(5, c, Rng(seed));
    std::vector<Arrival> out;
    std::vector<std::int64_t> trace;
    for (std::uint32_t i = 0; i < 1000; ++i) {
      const Fate f = net.send(at_ms(i), i % 5, (i * 3 + 1) % 5, i % 7 == 0 ? Channel::stream : Channel::datagram,
                              bytes_of(i % 50), out);
      trace.push_back(static_cast<std::int64_t>(f));
    }
    for (const auto& a : out) trace.push_back(a.at.ns());
    return trace;
  };
  EXPECT_EQ(run(21), run(21));
  EXPECT_NE(run(21), run(22));
}

}  // namespace
}  // namespace heck::sim
