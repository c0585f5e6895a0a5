#include "runtime/agent_config.h"
#include "runtime/store/etcd_client.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;

TEST(AgentConfig, MinimalConfigWorks) {
  auto c = AgentConfig::parse(R"({"targets": [{"id": "web", "url": "http://127.0.0.1:8080/healthz"}]})");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->targets.size(), 1u);
  EXPECT_EQ(c->targets[0].id, "web");
  EXPECT_EQ(c->targets[0].url.port, 8080);
  EXPECT_EQ(c->targets[0].url.target, "/healthz");
  EXPECT_FALSE(c->api.has_value());
  EXPECT_FALSE(c->name.has_value());
  EXPECT_EQ(c->max_concurrent_checks, 512u);
  EXPECT_EQ(c->max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(c->dns_ttl, Duration::seconds(30));
  EXPECT_EQ(c->min_api_interval, Duration::seconds(1));
}

TEST(AgentConfig, EveryTopLevelKey) {
  auto c = AgentConfig::parse(R"({"targets": [], "name": "agent-1", "api": "[::1]:7701",
      "max_concurrent_checks": 8, "max_body_bytes": 4096, "dns_ttl_ms": 0, "min_api_interval_ms": 50,
      "idempotency_retention_ms": 3600000, "max_idempotency_records": 500, "latency_handoff_ms": 0,
      "removal_retention_ms": 7200000, "wire_format": 1})");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->wire_format, 1u);
  EXPECT_EQ(AgentConfig::parse(R"({"targets": []})")->wire_format, wire::kFormatVersion);
  EXPECT_TRUE(c->targets.empty());
  EXPECT_EQ(c->name, "agent-1");
  ASSERT_TRUE(c->api.has_value());
  EXPECT_EQ(c->api->host, "::1");
  EXPECT_EQ(c->api->port, 7701);
  EXPECT_EQ(c->max_concurrent_checks, 8u);
  EXPECT_EQ(c->max_body_bytes, 4096u);
  EXPECT_EQ(c->dns_ttl, Duration::zero());
  EXPECT_EQ(c->min_api_interval, Duration::milliseconds(50));
  EXPECT_EQ(c->idempotency_retention, Duration::seconds(3600));
  EXPECT_EQ(c->removal_retention, Duration::seconds(7200));
  EXPECT_EQ(c->max_idempotency_records, 500u);
  EXPECT_EQ(c->latency_handoff, Duration::zero());
}

struct BadCase {
  const char* text;
  const char* field;  // must appear in the message
};

class AgentConfigRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(AgentConfigRefuses, NamingTheField) {
  auto c = AgentConfig::parse(GetParam().text);
  ASSERT_FALSE(c.ok()) << GetParam().text;
  EXPECT_THAT(c.error(), HasSubstr(GetParam().field)) << c.error();
}

INSTANTIATE_TEST_SUITE_P(
    Table, AgentConfigRefuses,
    ::testing::Values(
        BadCase{R"({"targets": [], "bogus": 1})", "bogus: unknown key"},
        BadCase{R"({"target": []})", "target: unknown key"},
        BadCase{R"({})", "targets: missing"},
        BadCase{R"([])", "must be a JSON object"},
        BadCase{R"({"targets": {}})", "targets: must be an array"},
        BadCase{R"({"targets": [], "api": 7700})", "api: must be a string"},
        BadCase{R"({"targets": [], "api": "7700"})", "api: '7700'"},
        BadCase{R"({"targets": [], "api": "example.org:80"})", "api: 'example.org:80'"},
        BadCase{R"({"targets": [], "api": "127.0.0.1:65536"})", "api:"},
        BadCase{R"({"targets": [], "api": "::1:7700"})", "brackets"},
        BadCase{R"({"targets": [], "name": "a b"})", "name:"},
        BadCase{R"({"targets": [], "max_concurrent_checks": 0})", "max_concurrent_checks: must be positive"},
        BadCase{R"({"targets": [], "max_concurrent_checks": "8"})", "max_concurrent_checks: must be an integer"},
        BadCase{R"({"targets": [], "max_body_bytes": 1.5})", "max_body_bytes: must be an integer"},
        BadCase{R"({"targets": [], "dns_ttl_ms": -1})", "dns_ttl_ms: must be at least 0"},
        BadCase{R"({"targets": [], "min_api_interval_ms": 0})", "min_api_interval_ms: must be positive"},
        BadCase{R"({"targets": [], "latency_handoff_ms": 3600001})", "latency_handoff_ms: must be at most 3600000"},
        BadCase{R"({"targets": [], "wire_format": 3})", "wire_format: must be at most 2"},
        BadCase{R"({"targets": [], "wire_format": 0})", "wire_format: must be positive"},
        BadCase{R"({"targets": [], "idempotency_retention_ms": 10})", "idempotency_retention_ms: must be at least 1000"},
        BadCase{R"({"targets": [], "removal_retention_ms": 999})", "removal_retention_ms: must be at least 1000"},
        BadCase{R"({"targets": [], "max_idempotency_records": 0})", "max_idempotency_records: must be positive"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/", "oops": 1}]})", "targets[0].oops: unknown key"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/", "interval_ms": "1000"}]})",
                "targets[0].interval_ms: must be an integer"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/"}, {"id": "b", "url": "http://h/"},
                                {"id": "c", "url": "http://h/", "interval_ms": 0}]})",
                "targets[2].interval_ms: must be positive"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/", "interval_ms": 1000, "timeout_ms": 1000}]})",
                "targets[0].timeout_ms"},
        BadCase{R"({"targets": [{"id": "a", "url": "htp://h/"}]})", "targets[0].url"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h:99999/"}]})", "targets[0].url"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/"}, {"id": "a", "url": "http://g/"}]})",
                "targets[1].id: duplicate id 'a'"},
        BadCase{R"({"targets": [{"id": "a", "url": "http://h/", "rise": 1, "rise": 2}]})",
                "rise: duplicate key"},
        BadCase{R"({"targets": [], "targets": []})", "targets: duplicate key"},
        BadCase{R"({"targets": [}")", "line 1, column 14"},
        BadCase{"{\"targets\": [\n  {\"id\": \"a\",\n   \"url\": oops}]}", "line 3, column 11"},
        BadCase{"", "not valid JSON"},
        // Clustering keys.
        BadCase{R"({"targets": [], "bind": "nowhere"})", "bind: 'nowhere'"},
        BadCase{R"({"targets": [], "bind": 7946})", "bind: must be a string"},
        BadCase{R"({"targets": [], "advertise": "host:0"})", "advertise: 'host:0'"},
        BadCase{R"({"targets": [], "join": "127.0.0.1:7946"})", "join: must be a list"},
        BadCase{R"({"targets": [], "join": ["127.0.0.1:7946", "x"]})", "join[1]: 'x'"},
        BadCase{R"({"targets": [], "join": ["a:1", 5]})", "join[1]: must be a string"},
        BadCase{R"({"targets": [], "keys": ["short"]})", "keys[0]: a key must be 44 characters"},
        BadCase{R"({"targets": [], "name": "n1", "swim": []})", "swim: must be an object"},
        BadCase{R"({"targets": [], "swim": {"probe_interval": 1}})", "swim.probe_interval: unknown key"},
        BadCase{R"({"targets": [], "swim": {"probe_interval_ms": 5}})", "swim.probe_interval_ms: must be at least 10"},
        BadCase{R"({"targets": [], "swim": {"probe_interval_ms": 100, "probe_timeout_ms": 100}})",
                "swim.probe_timeout_ms: must be less than the probe interval"},
        BadCase{R"({"targets": [], "swim": {"lifeguard": 1}})", "swim.lifeguard: must be true or false"},
        BadCase{R"({"targets": [], "leave_timeout_ms": -1})", "leave_timeout_ms"},
        BadCase{R"({"targets": [], "data_dir": 7})", "data_dir: must be a string"},
        BadCase{R"({"targets": [], "data_dir": ""})", "data_dir: empty path"},
        BadCase{R"({"targets": [], "api_token": ""})", "api_token: empty token"},
        BadCase{R"({"targets": [], "api_token": "with space"})", "api_token: the token must be printable ASCII"},
        BadCase{R"({"targets": [], "api_token": ["x"]})", "api_token: must be a string"},
        BadCase{"{\"targets\": [], \"name\": \"\xff\"}", "not valid JSON"}),
    // Stable names (the default would print the struct's bytes, pointers included).
    [](const ::testing::TestParamInfo<BadCase>& info) { return "case" + std::to_string(info.index); });

TEST(AgentConfig, ClusterKeys) {
  auto c = AgentConfig::parse(R"({"targets": [], "name": "n1", "bind": "0.0.0.0:7946",
      "advertise": "agent-1.example:7946", "join": ["10.0.0.4:7946", "[::1]:7947", "seed.example:7946"],
      "keys": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="],
      "leave_timeout_ms": 250,
      "swim": {"probe_interval_ms": 200, "probe_timeout_ms": 100, "suspicion_mult": 5,
               "max_suspicion_timeout_mult": 3, "indirect_checks": 2, "retransmit_mult": 3,
               "gossip_interval_ms": 50, "gossip_nodes": 4, "push_pull_interval_ms": 5000,
               "dead_reap_after_ms": 60000, "lifeguard": false}})");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->bind, (HostPort{"0.0.0.0", 7946}));
  EXPECT_EQ(c->advertise, "agent-1.example:7946");
  EXPECT_EQ(c->join, (std::vector<std::string>{"10.0.0.4:7946", "[::1]:7947", "seed.example:7946"}));
  EXPECT_EQ(c->keys.size(), 2u);
  EXPECT_EQ(c->leave_timeout, Duration::milliseconds(250));
  EXPECT_EQ(c->swim.probe_interval, Duration::milliseconds(200));
  EXPECT_EQ(c->swim.probe_timeout, Duration::milliseconds(100));
  EXPECT_EQ(c->swim.suspicion_mult, 5u);
  EXPECT_EQ(c->swim.max_suspicion_timeout_mult, 3u);
  EXPECT_EQ(c->swim.indirect_checks, 2u);
  EXPECT_EQ(c->swim.retransmit_mult, 3u);
  EXPECT_EQ(c->swim.gossip_interval, Duration::milliseconds(50));
  EXPECT_EQ(c->swim.gossip_nodes, 4u);
  EXPECT_EQ(c->swim.push_pull_interval, Duration::seconds(5));
  EXPECT_EQ(c->swim.dead_reap_after, Duration::seconds(60));
  EXPECT_FALSE(c->swim.lifeguard);
}

TEST(AgentConfig, ClusterDefaultsAreMemberlistLan) {
  auto c = AgentConfig::parse(R"({"targets": []})");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->bind.has_value());
  EXPECT_FALSE(c->advertise.has_value());
  EXPECT_TRUE(c->join.empty());
  EXPECT_TRUE(c->keys.empty());
  EXPECT_EQ(c->swim.probe_interval, Duration::seconds(1));
  EXPECT_EQ(c->swim.probe_timeout, Duration::milliseconds(500));
  EXPECT_EQ(c->swim.suspicion_mult, 4u);
  EXPECT_TRUE(c->swim.lifeguard);
}

TEST(AgentConfig, StoreAndEtcdEndpoints) {
  auto none = AgentConfig::parse(R"({"targets": []})");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->store, "gossip");
  EXPECT_TRUE(none->etcd.empty());
  auto c = AgentConfig::parse(
      R"({"targets": [], "store": "etcd", "etcd": ["http://127.0.0.1:2379", "http://10.0.0.2:2379/"]})");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->store, "etcd");
  EXPECT_EQ(c->etcd.size(), 2u);
  auto one = AgentConfig::parse(R"({"targets": [], "store": "etcd", "etcd": "http://a:1,http://b:2"})");
  ASSERT_TRUE(one.ok()) << one.error();
  auto endpoints = parse_etcd_endpoints(one->etcd.at(0));
  ASSERT_TRUE(endpoints.ok()) << endpoints.error();
  ASSERT_EQ(endpoints->size(), 2u);
  EXPECT_EQ((*endpoints)[1].to_string(), "b:2");
  EXPECT_THAT(AgentConfig::parse(R"({"targets": [], "store": "etcd"})").error(),
              HasSubstr("etcd: the etcd store needs at least one endpoint"));
  EXPECT_THAT(AgentConfig::parse(R"({"targets": [], "store": "zk"})").error(),
              HasSubstr("store: 'zk' is not a store (allowed: gossip, etcd)"));
  EXPECT_THAT(AgentConfig::parse(R"({"targets": [], "store": "etcd", "etcd": ["https://x:1"]})").error(),
              HasSubstr("must start with http://"));
  EXPECT_THAT(AgentConfig::parse(R"({"targets": [], "store": "etcd", "etcd": ["http://x"]})").error(),
              HasSubstr("expected http://HOST:PORT"));
  EXPECT_THAT(AgentConfig::parse(R"({"targets": [], "etcd": ["http://x:1"]})").error(),
              HasSubstr("the store is \"gossip\""));
}

TEST(AgentConfig, DataDirAndApiToken) {
  auto c = AgentConfig::parse(R"({"targets": [], "data_dir": "/var/lib/heck", "api_token": "s3cret-Token_1"})");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->data_dir, "/var/lib/heck");
  EXPECT_EQ(c->api_token, "s3cret-Token_1");
  auto none = AgentConfig::parse(R"({"targets": []})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->data_dir.has_value());
  EXPECT_FALSE(none->api_token.has_value());
  EXPECT_FALSE(check_token_text(std::string(4097, 'a')).ok());
  EXPECT_TRUE(check_token_text(std::string(4096, 'a')).ok());
  EXPECT_FALSE(check_data_dir(std::string("a\0b", 3)).ok());
}

TEST(AgentConfig, TokenErrorsDoNotEchoTheToken) {
  auto c = AgentConfig::parse(R"({"targets": [], "api_token": "secret with space"})");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), ::testing::Not(HasSubstr("secret")));
}

TEST(AgentConfig, KeyErrorsDoNotEchoTheKey) {
  auto c = AgentConfig::parse(R"({"targets": [], "keys": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*="]})");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("keys[0]"));
  EXPECT_THAT(c.error(), ::testing::Not(HasSubstr("AAAAAAAA")));
}

// Issue 10: the old name of a renamed key is refused with the new one.
TEST(AgentConfig, RenamedSwimKeyIsRefusedWithItsNewName) {
  auto c = AgentConfig::parse(R"({"targets": [], "swim": {"suspicion_max_timeout_mult": 6}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "swim.suspicion_max_timeout_mult: renamed to max_suspicion_timeout_mult");
  auto s = parse_swim_overrides(nlohmann::json{{"suspicion_max_timeout_mult", 6}}, SwimConfig{}, "--swim ");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "--swim suspicion_max_timeout_mult: renamed to max_suspicion_timeout_mult");
  auto ok = AgentConfig::parse(R"({"targets": [], "swim": {"max_suspicion_timeout_mult": 5}})");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->swim.max_suspicion_timeout_mult, 5u);
}

TEST(AgentConfig, SwimOverridesNameTheirPrefix) {
  auto s = parse_swim_overrides(nlohmann::json{{"probe_timeout_ms", 0}}, SwimConfig{}, "--swim ");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error(), HasSubstr("--swim probe_timeout_ms"));
}

TEST(AgentConfig, LoadPrefixesThePath) {
  const std::string path = ::testing::TempDir() + "heck_agent_config_test.json";
  {
    std::ofstream f(path);
    f << R"({"targets": [{"id": "a", "url": "http://h/", "interval_ms": 0}]})";
  }
  auto c = AgentConfig::load(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), path + ": targets[0].interval_ms: must be positive, got 0");
  std::remove(path.c_str());
}

TEST(AgentConfig, LoadMissingFile) {
  auto c = AgentConfig::load("/nonexistent/heck.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error(), HasSubstr("/nonexistent/heck.json: cannot open"));
}

TEST(AgentConfig, LoadGood) {
  const std::string path = ::testing::TempDir() + "heck_agent_config_good.json";
  {
    std::ofstream f(path);
    f << R"({"targets": [{"id": "web", "url": "http://127.0.0.1:8080/healthz"}], "api": "localhost:0"})";
  }
  auto c = AgentConfig::load(path);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->api, (HostPort{"127.0.0.1", 0}));
  std::remove(path.c_str());
}

TEST(HostPort, Parses) {
  auto a = HostPort::parse("127.0.0.1:7700");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7700);
  EXPECT_EQ(a->to_string(), "127.0.0.1:7700");

  auto b = HostPort::parse("[::1]:7700");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:7700");

  auto c = HostPort::parse("localhost:0");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 0);

  for (const char* bad : {"", "7700", ":7700", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "[::1]", "[::1:7700",
                          "::1:7700", "host.example:80", "1.2.3:80", "127.0.0.1:-1"}) {
    EXPECT_FALSE(HostPort::parse(bad).ok()) << bad;
  }
}

TEST(AgentConfig, DefaultNameIsAValidId) {
  EXPECT_TRUE(valid_target_id(default_agent_name()));
}

}  // namespace
}  // namespace heck::runtime
