// Agents wired to the real transport (runtime/agent_host.h) in one process,
// on 127.0.0.1 with short SWIM timings: they join, see each other, leave;
// a foreign key keeps an agent out; `heck members`' client
// (runtime/cluster/members_client.h) reads and prints /v1/members. Every
// wait is bounded; nothing asserts on elapsed time.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/agent_host.h"
#include "runtime/cluster/members_client.h"

namespace heck::runtime {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

cluster::Key key_of(std::uint8_t fill) {
  cluster::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
  return k;
}

struct TestAgent {
  TestAgent(asio::io_context& io, const Clock& clock, std::string name, std::vector<Address> seeds,
            std::vector<cluster::Key> keys, std::string bind_host = "127.0.0.1") {
    AgentHostOptions o;
    o.node.name = std::move(name);
    o.node.seeds = std::move(seeds);
    o.node.swim.probe_interval = Duration::milliseconds(100);
    o.node.swim.probe_timeout = Duration::milliseconds(50);
    o.node.swim.gossip_interval = Duration::milliseconds(50);
    o.node.swim.min_join_backoff = Duration::milliseconds(100);
    o.node.swim.max_join_backoff = Duration::milliseconds(400);
    o.transport.bind = HostPort{bind_host, 0};
    o.api = HostPort{"127.0.0.1", 0};
    o.keyring = cluster::Keyring(std::move(keys));
    o.agent.log = [this](std::string_view line) { log.emplace_back(line); };
    o.leave_timeout = Duration::milliseconds(300);
    host = std::make_unique<AgentHost>(io, clock, std::move(o));
    auto r = host->start();
    if (!r) error = r.error();
  }
  // Members this agent lists in `state`.
  std::size_t count(MemberState state) const {
    std::size_t n = 0;
    for (const auto& m : host->agent().node().membership().members()) n += m.state == state;
    return n;
  }
  std::optional<MemberState> state_of(std::string_view name) const {
    const MemberInfo* m = host->agent().node().membership().member(name);
    if (!m) return std::nullopt;
    return m->state;
  }
  bool logged(std::string_view text) const {
    for (const auto& l : log) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> log;
  std::unique_ptr<AgentHost> host;
  std::string error;
};

class AgentHostTest : public ::testing::Test {
 protected:
  template <typename P>
  bool run_until(P pred, int seconds = 10) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > limit) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  void TearDown() override {
    for (auto* a : agents) {
      if (a->host) a->host->stop();
    }
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
  TestAgent& add(std::string name, std::vector<Address> seeds, std::vector<cluster::Key> keys) {
    owned.push_back(std::make_unique<TestAgent>(io, clock, std::move(name), std::move(seeds), std::move(keys)));
    agents.push_back(owned.back().get());
    EXPECT_TRUE(owned.back()->error.empty()) << owned.back()->error;
    return *owned.back();
  }

  asio::io_context io;
  Clock clock;
  std::vector<std::unique_ptr<TestAgent>> owned;
  std::vector<TestAgent*> agents;
};

TEST(AgentHostOptions, TheConfigsLimitsReachTheNodeAndTheApi) {
  auto config = AgentConfig::parse(R"({"targets": [], "min_api_interval_ms": 250,
      "idempotency_retention_ms": 60000, "max_idempotency_records": 7})");
  ASSERT_TRUE(config.ok()) << config.error();
  const AgentHostOptions o = host_options_from_config(*config);
  EXPECT_EQ(o.api_options.min_interval, Duration::milliseconds(250));
  EXPECT_EQ(o.node.replication.request_retention, Duration::seconds(60));
  EXPECT_EQ(o.node.replication.max_request_records, 7u);
}

TEST_F(AgentHostTest, AgentsJoinSeeEachOtherAndLeave) {
  TestAgent& a = add("a", {}, {key_of(1)});
  TestAgent& b = add("b", {a.host->advertised()}, {key_of(1)});
  TestAgent& c = add("c", {a.host->advertised()}, {key_of(1)});
  ASSERT_TRUE(run_until([&] {
    return a.count(MemberState::alive) == 3 && b.count(MemberState::alive) == 3 && c.count(MemberState::alive) == 3;
  }));
  EXPECT_TRUE(a.logged("member b (" + b.host->advertised() + ") joined: alive, incarnation 0"));
  EXPECT_FALSE(a.logged("NOT encrypted"));
  EXPECT_GT(a.host->transport().counters().streams_received, 0u);  // the joins' push-pull
  // Joining needs only push-pull; probes (datagrams) follow.
  ASSERT_TRUE(run_until([&] { return a.host->transport().counters().datagrams_received > 0; }));
  EXPECT_EQ(a.host->transport().keyring().counters().rejected_total(), 0u);

  // c leaves gracefully: the others list it `left`, not dead.
  bool done = false;
  c.host->shutdown([&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done && a.state_of("c") == MemberState::left && b.state_of("c") == MemberState::left; }));
  EXPECT_TRUE(c.logged("leaving the cluster"));

  const std::string metrics = a.host->agent().render_metrics();
  EXPECT_THAT(metrics, HasSubstr("heck_members{state=\"alive\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_members{state=\"left\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_cluster_packets_rejected_total{reason=\"auth_failed\"} 0\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_cluster_encrypted 1\n"));
  // Every coverage mark is a series (core/cluster/coverage_marks.h), zero or not.
  EXPECT_THAT(metrics, HasSubstr("heck_coverage_mark_hits_total{mark=\"swim.suspect_refuted\"} "));
  EXPECT_THAT(metrics, HasSubstr("heck_coverage_mark_hits_total{mark=\"cluster.ownership_change\"} "));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("heck_cluster_transport_packets_total\\{direction=\"in\",channel=\"datagram\"\\} [1-9]"));
}

TEST_F(AgentHostTest, AForeignKeyKeepsAnAgentOut) {
  TestAgent& a = add("a", {}, {key_of(1)});
  TestAgent& b = add("b", {a.host->advertised()}, {key_of(1)});
  TestAgent& intruder = add("intruder", {a.host->advertised()}, {key_of(9)});
  ASSERT_TRUE(run_until([&] {
    return a.count(MemberState::alive) == 2 && a.host->transport().keyring().counters().rejected_total() >= 2;
  }));
  EXPECT_FALSE(a.state_of("intruder").has_value());
  EXPECT_FALSE(b.state_of("intruder").has_value());
  EXPECT_EQ(intruder.count(MemberState::alive), 1u);  // only itself
  EXPECT_THAT(a.host->agent().render_metrics(),
              ::testing::ContainsRegex("heck_cluster_packets_rejected_total\\{reason=\"auth_failed\"\\} [1-9]"));
  EXPECT_TRUE(a.logged("rejected a packet from"));
}

TEST_F(AgentHostTest, PlaintextIsAllowedWithAWarning) {
  TestAgent& a = add("a", {}, {});
  TestAgent& b = add("b", {a.host->advertised()}, {});
  ASSERT_TRUE(run_until([&] { return a.count(MemberState::alive) == 2 && b.count(MemberState::alive) == 2; }));
  EXPECT_TRUE(a.logged("NOT encrypted"));
}

TEST_F(AgentHostTest, BindingEverywhereNeedsAnAdvertiseAddress) {
  TestAgent a(io, clock, "a", {}, {}, "0.0.0.0");
  EXPECT_THAT(a.error, HasSubstr("--advertise"));
  EXPECT_FALSE(a.host->started());
}

TEST_F(AgentHostTest, MembersClientPrintsTheList) {
  TestAgent& a = add("a", {}, {key_of(1)});
  TestAgent& b = add("b", {a.host->advertised()}, {key_of(1)});
  ASSERT_TRUE(run_until([&] { return a.count(MemberState::alive) == 2 && b.count(MemberState::alive) == 2; }));
  const auto ep = a.host->api_endpoint();
  const HostPort api{ep.address().to_string(), ep.port()};
  // The client blocks; the agents' io_context keeps running here meanwhile.
  auto fut = std::async(std::launch::async, [api] {
    std::string raw;
    auto rows = cluster::fetch_members(api, Duration::seconds(5), &raw);
    return std::make_pair(std::move(rows), raw);
  });
  ASSERT_TRUE(run_until([&] { return fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  auto [rows, raw] = fut.get();
  ASSERT_TRUE(rows.ok()) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].name, "a");
  EXPECT_TRUE((*rows)[0].self);
  EXPECT_EQ((*rows)[1].name, "b");
  EXPECT_EQ((*rows)[1].state, "alive");
  EXPECT_EQ((*rows)[1].address, b.host->advertised());
  EXPECT_THAT(raw, HasSubstr("\"incarnation\":0"));
  const std::string table = cluster::format_members_table(*rows);
  EXPECT_THAT(table, HasSubstr("NAME"));
  EXPECT_THAT(table, HasSubstr("(this agent)"));
}

TEST(MembersClient, UnreachableAgentIsAClearError) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  auto rows = cluster::fetch_members(HostPort{"127.0.0.1", port}, Duration::seconds(2));
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(rows.error(), HasSubstr("cannot reach the agent API at 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(rows.error(), HasSubstr("heck agent"));
}

TEST(MembersClient, ParsesStrictlyEnoughAndFormats) {
  auto rows = cluster::parse_members(
      R"([{"name":"n1","address":"127.0.0.1:7946","state":"alive","incarnation":3,"state_since":"T","self":true},
          {"name":"node-two","address":"[::1]:7947","state":"dead","incarnation":12}])");
  ASSERT_TRUE(rows.ok()) << rows.error();
  EXPECT_EQ(cluster::format_members_table(*rows),
            "NAME      ADDRESS         STATE    INCARNATION  SINCE\n"
            "n1        127.0.0.1:7946  alive              3  T  (this agent)\n"
            "node-two  [::1]:7947      dead              12  \n");
  for (const char* bad : {"", "{}", "[1]", R"([{"name":"a"}])",
                          R"([{"name":"a","address":"b","state":"alive","incarnation":-1}])",
                          R"([{"name":"a","address":"b","state":"alive","incarnation":"1"}])"}) {
    EXPECT_FALSE(cluster::parse_members(bad).ok()) << bad;
  }
  // Terminal control characters from a hostile agent are not printed.
  auto evil = cluster::parse_members(R"([{"name":"a\u001b[2J","address":"b","state":"alive","incarnation":0}])");
  ASSERT_TRUE(evil.ok());
  EXPECT_EQ(cluster::format_members_table(*evil).find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace heck::runtime
