// The API: routing and JSON shape through handle_api_request (no socket):
// every Version 2 endpoint and its errors (bad JSON, wrong id, missing and
// wrong token, 413, bad filters), the status page, durability with a state
// file; then the HTTP server over a real loopback socket (keep-alive, HEAD,
// malformed requests, limits, the bearer token's headers, a PUT answered
// after the replication flush). Every socket read has a receive timeout, so
// a broken server fails the test instead of hanging it.
#include "runtime/api_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/state_file.h"
#include "tests/runtime/fake_check_runner.h"

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::FakeCheckRunner;
namespace asio = boost::asio;
namespace http = boost::beast::http;

TargetSpec spec(std::string id, int fall = 1) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:9/health");
  s.interval = Duration::milliseconds(40);
  s.timeout = Duration::milliseconds(20);
  s.rise = 1;
  s.fall = fall;
  return s;
}

// --- routing, without a socket ----------------------------------------------------

class ApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterNodeConfig config;
    config.name = "api-test";
    config.address = "127.0.0.1:7946";
    config.targets = {spec("web"), spec("db"), spec("cache", 5)};
    config.alerts.routes = config_routes;
    agent = make_agent(std::move(config));
    agent->start();
  }
  std::unique_ptr<Agent> make_agent(ClusterNodeConfig config) {
    AgentOptions options;
    options.log = [](std::string_view) {};
    options.view_scan_interval = Duration::zero();  // the tests scan
    options.state_path = state_path;
    options.history_path = history_path;
    return std::make_unique<Agent>(io, clock, runner, std::move(config), std::move(options));
  }
  void TearDown() override { agent->stop(); }

  HttpResponse get(std::string target, std::string method = "GET") {
    return handle_api_request(*agent, HttpRequest{std::move(method), std::move(target), "", true}, api);
  }
  HttpResponse send(std::string method, std::string target, std::string body, std::string authorization = "") {
    HttpRequest r{std::move(method), std::move(target), std::move(body), true};
    r.authorization = std::move(authorization);
    return handle_api_request(*agent, r, api);
  }
  json send_json(std::string method, std::string target, std::string body, unsigned expect_status,
                 std::string authorization = "") {
    HttpResponse r = send(std::move(method), std::move(target), std::move(body), std::move(authorization));
    EXPECT_EQ(r.status, expect_status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return json::parse(r.body);
  }
  json get_json(std::string target, unsigned expect_status = 200) {
    HttpResponse r = get(std::move(target));
    EXPECT_EQ(r.status, expect_status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return json::parse(r.body);
  }

  // Completes one check of `id` with `outcome`.
  void check(std::string_view id, CheckOutcome outcome) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      for (auto it = runner.pending.begin(); it != runner.pending.end(); ++it) {
        if (it->spec->id == id) {
          auto call = std::move(*it);
          runner.pending.erase(it);
          call.done(std::move(outcome));
          return;
        }
      }
      ASSERT_LT(std::chrono::steady_clock::now(), limit) << "no check of " << id << " started";
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
  }

  asio::io_context io;
  Clock clock;
  FakeCheckRunner runner;
  std::unique_ptr<Agent> agent;
  ApiOptions api;
  std::string state_path;    // set before SetUp for a durable agent
  std::string history_path;  // ... and its history
  std::vector<AlertRoute> config_routes;  // set before SetUp for routes in the config
};

TEST_F(ApiRoutes, MembersListsThisAgentAlive) {
  json list = get_json("/v1/members");
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  const json& m = list[0];
  EXPECT_EQ(m["name"], "api-test");
  EXPECT_EQ(m["address"], "127.0.0.1:7946");
  EXPECT_EQ(m["state"], "alive");
  EXPECT_EQ(m["incarnation"], 0);
  EXPECT_EQ(m["self"], true);
  EXPECT_TRUE(m["state_since"].is_string());
  EXPECT_EQ(get("/v1/members", "POST").status, 405u);
  EXPECT_EQ(get("/v1/members/x").status, 404u);
  json h = get_json("/v1/health");
  EXPECT_EQ(h["members_live"], 1);
  EXPECT_EQ(h["address"], "127.0.0.1:7946");
  const std::string metrics = get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("heck_members{state=\"alive\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_members{state=\"dead\"} 0\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_member_changes_total{state=\"alive\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_cluster_incarnation 0\n"));
}

TEST_F(ApiRoutes, TargetsAreSortedByIdWithTheDocumentedFields) {
  json list = get_json("/v1/targets");
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["id"], "cache");
  EXPECT_EQ(list[1]["id"], "db");
  EXPECT_EQ(list[2]["id"], "web");
  const json& t = list[2];
  for (const char* key : {"id", "url", "status", "reason", "latency_ms", "checked_at", "status_since", "interval_ms",
                          "timeout_ms", "checks", "consecutive_successes", "consecutive_failures", "result",
                          "status_code", "rise", "fall"}) {
    EXPECT_TRUE(t.contains(key)) << key;
  }
  for (const char* key : {"stale", "age_ms", "observed_at", "last_observer", "owners", "fallbacks", "checked_here",
                          "checkers", "quorum", "unhealthy_votes", "healthy_votes", "siblings", "spec_siblings",
                          "spec", "local"}) {
    EXPECT_TRUE(t.contains(key)) << key;
  }
  EXPECT_EQ(t["url"], "http://127.0.0.1:9/health");
  EXPECT_EQ(t["status"], "unknown");
  EXPECT_TRUE(t["reason"].is_null());
  EXPECT_EQ(t["stale"], false);
  EXPECT_TRUE(t["age_ms"].is_null());
  EXPECT_TRUE(t["observed_at"].is_null());
  EXPECT_TRUE(t["last_observer"].is_null());
  EXPECT_EQ(t["owners"], json::array({"api-test"}));
  EXPECT_EQ(t["fallbacks"], json::array());
  EXPECT_EQ(t["checked_here"], true);
  EXPECT_EQ(t["checkers"], 1);
  EXPECT_EQ(t["quorum"], 1);
  EXPECT_EQ(t["siblings"], json::array());
  EXPECT_EQ(t["spec_siblings"], 1);
  EXPECT_EQ(t["spec"]["id"], "web");
  EXPECT_EQ(t["spec"]["url"], "http://127.0.0.1:9/health");
  ASSERT_TRUE(t["local"].is_object());
  EXPECT_EQ(t["local"]["status"], "unknown");
  EXPECT_EQ(t["local"]["checks"], 0);
  EXPECT_TRUE(t["latency_ms"].is_null());
  EXPECT_TRUE(t["checked_at"].is_null());
  EXPECT_EQ(t["interval_ms"], 40);
  EXPECT_EQ(t["timeout_ms"], 20);
  EXPECT_THAT(t["status_since"].get<std::string>(),
              ::testing::MatchesRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"));
}

TEST_F(ApiRoutes, ACheckedTargetShowsItsLastResult) {
  check("web", CheckOutcome::response(503, Duration::microseconds(2500)));
  json t = get_json("/v1/targets/web");
  EXPECT_EQ(t["status"], "unhealthy");
  EXPECT_EQ(t["reason"], "status 503");
  EXPECT_EQ(t["result"], "bad_status");
  EXPECT_EQ(t["status_code"], 503);
  EXPECT_DOUBLE_EQ(t["latency_ms"].get<double>(), 2.5);
  EXPECT_TRUE(t["checked_at"].is_string());
  EXPECT_EQ(t["checks"], 1);
  EXPECT_EQ(t["consecutive_failures"], 1);
  EXPECT_EQ(t["consecutive_successes"], 0);
  // The replicated view: this agent's observation is the only vote.
  EXPECT_EQ(t["last_observer"], "api-test");
  EXPECT_EQ(t["unhealthy_votes"], 1);
  EXPECT_EQ(t["healthy_votes"], 0);
  EXPECT_TRUE(t["age_ms"].is_number_integer());
  EXPECT_GE(t["age_ms"].get<std::int64_t>(), 0);
  EXPECT_TRUE(t["observed_at"].is_string());
  ASSERT_EQ(t["siblings"].size(), 1u);
  const json& o = t["siblings"][0];
  EXPECT_EQ(o["observer"], "api-test");
  EXPECT_EQ(o["status"], "unhealthy");
  EXPECT_EQ(o["reason"], "status 503");
  EXPECT_EQ(o["status_code"], 503);
  EXPECT_DOUBLE_EQ(o["latency_ms"].get<double>(), 2.5);
  EXPECT_EQ(t["local"]["status"], "unhealthy");
  EXPECT_EQ(t["local"]["reason"], "status 503");
  EXPECT_EQ(t["local"]["checks"], 1);
}

TEST_F(ApiRoutes, StatusFilter) {
  check("web", CheckOutcome::response(503, Duration::milliseconds(1)));
  check("db", CheckOutcome::response(200, Duration::milliseconds(1)));
  json unhealthy = get_json("/v1/targets?status=unhealthy");
  ASSERT_EQ(unhealthy.size(), 1u);
  EXPECT_EQ(unhealthy[0]["id"], "web");
  json healthy = get_json("/v1/targets?status=healthy");
  ASSERT_EQ(healthy.size(), 1u);
  EXPECT_EQ(healthy[0]["id"], "db");
  json unknown = get_json("/v1/targets?status=unknown");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0]["id"], "cache");
}

TEST_F(ApiRoutes, InvalidStatusIs400NamingTheAllowedValues) {
  json e = get_json("/v1/targets?status=sick", 400);
  EXPECT_THAT(e["error"].get<std::string>(), HasSubstr("'sick'"));
  EXPECT_THAT(e["error"].get<std::string>(), HasSubstr("healthy, unhealthy, unknown"));
  EXPECT_EQ(e["allowed"], json::array({"healthy", "unhealthy", "unknown"}));
  EXPECT_THAT(get_json("/v1/targets?colour=red", 400)["error"].get<std::string>(), HasSubstr("'colour'"));
  EXPECT_THAT(get_json("/v1/targets?status=healthy&status=unknown", 400)["error"].get<std::string>(),
              HasSubstr("more than once"));
  json stale = get_json("/v1/targets?stale=maybe", 400);
  EXPECT_THAT(stale["error"].get<std::string>(), HasSubstr("'maybe'"));
  EXPECT_EQ(stale["allowed"], json::array({"true", "false"}));
  EXPECT_THAT(get_json("/v1/targets?stale=true&stale=false", 400)["error"].get<std::string>(),
              HasSubstr("more than once"));
}

TEST_F(ApiRoutes, StaleFilter) {
  EXPECT_EQ(get_json("/v1/targets?stale=false").size(), 3u);
  EXPECT_EQ(get_json("/v1/targets?stale=true").size(), 0u);
  EXPECT_EQ(get_json("/v1/targets?status=unknown&stale=false").size(), 3u);
}

TEST_F(ApiRoutes, UnknownTargetIs404) {
  json e = get_json("/v1/targets/nope", 404);
  EXPECT_EQ(e["error"], "no target 'nope'");
  EXPECT_EQ(e["path"], "/v1/targets/nope");
}

TEST_F(ApiRoutes, UnknownPathIs404WithThePath) {
  json e = get_json("/v2/stuff?x=1", 404);
  EXPECT_EQ(e["error"], "not found");
  EXPECT_EQ(e["path"], "/v2/stuff");
  EXPECT_EQ(get("/v1/targets/a/b").status, 404u);
  EXPECT_EQ(get("/v1/targets/").status, 404u);
}

TEST_F(ApiRoutes, WrongMethodIs405WithAllow) {
  for (const char* path : {"/v1/targets", "/v1/health", "/metrics", "/v1/status", "/v1/owners/web", "/"}) {
    HttpResponse r = get(path, "POST");
    EXPECT_EQ(r.status, 405u) << path;
    EXPECT_EQ(r.allow, "GET, HEAD") << path;
    json e = json::parse(r.body);
    EXPECT_EQ(e["error"], "method POST not allowed");
    EXPECT_EQ(e["path"], path);
  }
  HttpResponse t = get("/v1/targets/web", "POST");
  EXPECT_EQ(t.status, 405u);
  EXPECT_EQ(t.allow, "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(json::parse(t.body)["allowed"], json::array({"GET", "HEAD", "PUT", "DELETE"}));
  HttpResponse c = get("/v1/counters/x", "PUT");
  EXPECT_EQ(c.status, 405u);
  EXPECT_EQ(c.allow, "GET, HEAD, POST");
  EXPECT_EQ(get("/v1/targets", "DELETE").status, 405u);
  EXPECT_EQ(get("/v1/targets", "HEAD").status, 200u);
}

TEST_F(ApiRoutes, Health) {
  json h = get_json("/v1/health");
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["name"], "api-test");
  EXPECT_EQ(h["targets"], 3);
  EXPECT_EQ(h["version"], "0.1.0");
  EXPECT_TRUE(h["uptime_s"].is_number());
  EXPECT_GE(h["uptime_s"].get<double>(), 0.0);
}

TEST_F(ApiRoutes, ChangesListsStatusChangesOfTheReplicatedView) {
  check("web", CheckOutcome::response(503, Duration::milliseconds(1)));
  EXPECT_EQ(get_json("/v1/changes"), json::array());  // not scanned yet
  agent->scan_view_changes();
  json c = get_json("/v1/changes");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]["target"], "web");
  EXPECT_EQ(c[0]["from"], "unknown");
  EXPECT_EQ(c[0]["to"], "unhealthy");
  EXPECT_EQ(c[0]["observer"], "api-test");
  EXPECT_EQ(c[0]["reason"], "status 503");
  EXPECT_TRUE(c[0]["at"].is_string());
  EXPECT_EQ(Agent::describe_view_change(agent->view_changes().back()),
            "target web unknown -> unhealthy (observed by api-test)");
  agent->scan_view_changes();  // nothing new
  EXPECT_EQ(get_json("/v1/changes").size(), 1u);
  check("web", CheckOutcome::response(200, Duration::milliseconds(1)));
  agent->scan_view_changes();
  // Only web's: while the loop runs for web's next check, the other
  // targets' unanswered checks may time out and change too.
  json web = json::array();
  for (const json& e : get_json("/v1/changes")) {
    if (e["target"] == "web") web.push_back(e);
  }
  ASSERT_EQ(web.size(), 2u) << web.dump();
  EXPECT_EQ(web[1]["from"], "unhealthy");  // newest last
  EXPECT_EQ(web[1]["to"], "healthy");
  // The target's history: its transitions newest first, uptime, and the
  // latencies of this agent's own checks.
  json h = get_json("/v1/targets/web/history");
  EXPECT_EQ(h["id"], "web");
  EXPECT_EQ(h["status"], "healthy");
  ASSERT_EQ(h["transitions"].size(), 2u) << h.dump();
  EXPECT_EQ(h["transitions"][0]["to"], "healthy");
  EXPECT_EQ(h["transitions"][1]["to"], "unhealthy");
  EXPECT_EQ(h["transitions"][1]["reason"], "status 503");
  EXPECT_TRUE(h["uptime"]["1h"].contains("fraction"));
  EXPECT_TRUE(h["uptime"]["24h"]["observed_s"].is_number());
  EXPECT_TRUE(h["latency"]["checked_here"]);
  EXPECT_GE(h["latency"]["samples"].size(), 2u);
  EXPECT_EQ(h["latency"]["samples"][0]["here"], true) << "a single agent measured them all itself";
  EXPECT_EQ(get("/v1/targets/nope/history").status, 404u);
  EXPECT_EQ(get("/v1/targets/a%20b/history").status, 400u);
  EXPECT_EQ(get("/v1/targets/web/history", "PUT").status, 405u);
  // The table's row view of it (?recent=true): the statuses of its last
  // transitions and this agent's last latencies, oldest first.
  json rows = get_json("/v1/targets?recent=true");
  json row;
  for (const json& t : rows) {
    if (t["id"] == "web") row = t;
  }
  ASSERT_TRUE(row.contains("recent")) << rows.dump();
  EXPECT_EQ(row["recent"]["statuses"], json({"unhealthy", "healthy"}));
  EXPECT_EQ(row["recent"]["latency_ms"].size(), h["latency"]["samples"].size());
  EXPECT_FALSE(get_json("/v1/targets")[0].contains("recent"));  // only when asked
  EXPECT_THAT(get_json("/v1/targets?recent=yes", 400)["error"].get<std::string>(),
              HasSubstr("invalid recent 'yes' (allowed: true, false)"));
}

TEST_F(ApiRoutes, MetricsIsPrometheusText) {
  check("web", CheckOutcome::response(200, Duration::milliseconds(1)));
  HttpResponse r = get("/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("heck_target_up{target=\"web\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("heck_targets 3\n"));
  // Every sample line's metric name carries the heck_ prefix.
  std::size_t pos = 0;
  while (pos < r.body.size()) {
    const auto end = r.body.find('\n', pos);
    const std::string line = r.body.substr(pos, end - pos);
    if (!line.empty() && line[0] != '#') {
      EXPECT_TRUE(line.starts_with("heck_")) << line;
    }
    pos = end + 1;
  }
}

TEST_F(ApiRoutes, HostileTargetsNeverThrow) {
  for (const char* t : {"", "?", "/v1/targets?", "/v1/targets?&&", "/v1/targets?status", "/v1/targets?status=%zz",
                        "/v1/targets?status=%68ealthy", "/v1/targets/\xff\xfe", "/\xc3(", "//", "/v1/targets/%00"}) {
    HttpResponse r;
    EXPECT_NO_THROW(r = get(t)) << t;
    EXPECT_TRUE(json::accept(r.body)) << t << ": " << r.body;
  }
  EXPECT_EQ(get("/v1/targets?status=%68ealthy").status, 200u);  // percent-decoded "healthy"
}

// --- Version 2 writes, owners, counters, status, page ------------------------------

constexpr const char* kSpecBody = R"({"url": "http://127.0.0.1:9000/", "interval_ms": 1500, "timeout_ms": 300})";

TEST_F(ApiRoutes, PutRegistersANewTargetThenReplacesIt) {
  ApiReply first = route_api_request(*agent, HttpRequest{"PUT", "/v1/targets/api", kSpecBody, true}, api);
  ASSERT_EQ(first.response.status, 201u) << first.response.body;
  EXPECT_TRUE(first.after_flush);  // replied once the delta was pushed
  json j = json::parse(first.response.body);
  EXPECT_EQ(j["id"], "api");
  EXPECT_EQ(j["created"], true);
  EXPECT_EQ(j["owners"], json::array({"api-test"}));
  EXPECT_EQ(j["spec"]["url"], "http://127.0.0.1:9000/");
  EXPECT_EQ(j["spec"]["interval_ms"], 1500);
  EXPECT_EQ(j["durable"], false);  // no state file in this fixture
  EXPECT_EQ(j["replicated_to"], 0);
  json t = get_json("/v1/targets/api");
  EXPECT_EQ(t["url"], "http://127.0.0.1:9000/");
  EXPECT_EQ(t["timeout_ms"], 300);
  EXPECT_EQ(t["checked_here"], true);
  EXPECT_EQ(get_json("/v1/targets").size(), 4u);

  json again = send_json("PUT", "/v1/targets/api",
                         R"({"id": "api", "url": "http://127.0.0.1:9001/", "interval_ms": 1700, "timeout_ms": 300})", 200);
  EXPECT_EQ(again["created"], false);
  EXPECT_EQ(get_json("/v1/targets/api")["url"], "http://127.0.0.1:9001/");
  EXPECT_FALSE(route_api_request(*agent, HttpRequest{"GET", "/v1/targets/api", "", true}, api).after_flush);
}

TEST_F(ApiRoutes, AWriteIsAnsweredAfterTheReplicationFlush) {
  send_json("PUT", "/v1/targets/api", kSpecBody, 201);
  bool answered = false;
  agent->after_replication_flush([&] { answered = true; });
  EXPECT_FALSE(answered);  // never inline: the reply goes out from the io_context
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!answered) {
    ASSERT_LT(std::chrono::steady_clock::now(), limit) << "the waiter never ran";
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(agent->timer_deadline(TimerKey{TimerKind::replica_flush, 0}).has_value());
  // Stopping answers whoever still waits.
  send_json("PUT", "/v1/targets/api2", kSpecBody, 201);
  bool on_stop = false;
  agent->after_replication_flush([&] { on_stop = true; });
  agent->stop();
  io.restart();
  io.poll();
  EXPECT_TRUE(on_stop);
}

TEST_F(ApiRoutes, PutRefusesBadBodiesWith400NamingTheProblem) {
  auto error = [&](std::string target, std::string body) {
    json e = send_json("PUT", std::move(target), std::move(body), 400);
    EXPECT_TRUE(e.contains("path"));
    return e["error"].get<std::string>();
  };
  EXPECT_THAT(error("/v1/targets/x", "{\"url\": "), HasSubstr("not valid JSON"));
  EXPECT_THAT(error("/v1/targets/x", ""), HasSubstr("empty body"));
  EXPECT_THAT(error("/v1/targets/x", "[1, 2]"), HasSubstr("must be a JSON object, got array"));
  EXPECT_THAT(error("/v1/targets/x", R"({"id": "y", "url": "http://127.0.0.1:9/"})"),
              HasSubstr("differs from the path's ('x')"));
  EXPECT_THAT(error("/v1/targets/x", R"({"id": 7, "url": "http://127.0.0.1:9/"})"), HasSubstr("differs"));
  EXPECT_THAT(error("/v1/targets/x", R"({"url": "http://127.0.0.1:9/", "interval_ms": 0})"),
              HasSubstr("interval_ms"));
  EXPECT_THAT(error("/v1/targets/x", R"({"interval_ms": 500})"), HasSubstr("url"));
  EXPECT_THAT(error("/v1/targets/x", R"({"url": "http://127.0.0.1:9/", "colour": "red"})"), HasSubstr("colour"));
  EXPECT_THAT(error("/v1/targets/bad%20id", kSpecBody), HasSubstr("invalid target id"));
  EXPECT_THAT(error("/v1/targets/" + std::string(200, 'a'), kSpecBody), HasSubstr("invalid target id"));
  // Nothing was registered by any of them.
  EXPECT_EQ(get_json("/v1/targets").size(), 3u);
}

TEST_F(ApiRoutes, PutHoldsIntervalsToTheOperatorsFloor) {
  // One API call must not make the cluster check a target 500 times a second.
  const std::string fast = R"({"url": "http://127.0.0.1:9/", "interval_ms": 2, "timeout_ms": 1})";
  json e = send_json("PUT", "/v1/targets/fast", fast, 400);
  EXPECT_THAT(e["error"].get<std::string>(),
              HasSubstr("body.interval_ms: 2 is below this agent's floor for targets written through the API, 1000 ms "
                        "(min_api_interval_ms"));
  send_json("PUT", "/v1/targets/fast", R"({"url": "http://127.0.0.1:9/", "interval_ms": 999})", 400);
  EXPECT_FALSE(get_json("/v1/targets/fast", 404).contains("id"));
  send_json("PUT", "/v1/targets/fast", R"({"url": "http://127.0.0.1:9/", "interval_ms": 1000, "timeout_ms": 500})", 201);
  // The operator may lower it.
  api.min_interval = Duration::milliseconds(2);
  EXPECT_EQ(send_json("PUT", "/v1/targets/fast", fast, 200)["spec"]["interval_ms"], 2);
}

TEST_F(ApiRoutes, ADeletedTargetLeavesTheScanAndComesBackFromUnknown) {
  check("db", CheckOutcome::response(503, Duration::milliseconds(1)));
  agent->scan_view_changes();
  const auto db_changes = [&] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const json& e : get_json("/v1/changes")) {
      if (e["target"] == "db") out.emplace_back(e["from"], e["to"]);
    }
    return out;
  };
  ASSERT_EQ(db_changes().size(), 1u);
  send_json("DELETE", "/v1/targets/db", "", 200);
  agent->scan_view_changes();  // db is gone: nothing to log, its last status forgotten
  EXPECT_EQ(db_changes().size(), 1u);
  send_json("PUT", "/v1/targets/db", R"({"url": "http://127.0.0.1:9000/", "interval_ms": 1500, "timeout_ms": 300, "fall": 1})", 201);
  check("db", CheckOutcome::response(503, Duration::milliseconds(1)));
  agent->scan_view_changes();
  const auto changes = db_changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1], (std::pair<std::string, std::string>{"unknown", "unhealthy"}));
}

TEST_F(ApiRoutes, BodiesOverTheLimitAre413) {
  api.max_body_bytes = 100;
  json e = send_json("PUT", "/v1/targets/x", R"({"url": "http://127.0.0.1:9/"})" + std::string(100, ' '), 413);
  EXPECT_THAT(e["error"].get<std::string>(), HasSubstr("larger than 100 bytes"));
  send_json("POST", "/v1/counters/c", "{\"delta\": 1}" + std::string(100, ' '), 413);
  send_json("PUT", "/v1/targets/x", kSpecBody, 201);  // under the limit
}

TEST_F(ApiRoutes, DeleteRemovesThenIs404) {
  json d = send_json("DELETE", "/v1/targets/db", "", 200);
  EXPECT_EQ(d["id"], "db");
  EXPECT_EQ(d["deleted"], true);
  EXPECT_EQ(d["durable"], false);
  get_json("/v1/targets/db", 404);
  EXPECT_EQ(get_json("/v1/targets").size(), 2u);
  json e = send_json("DELETE", "/v1/targets/db", "", 404);
  EXPECT_EQ(e["error"], "no target 'db'");
  send_json("DELETE", "/v1/targets/nope", "", 404);
}

TEST_F(ApiRoutes, WritesNeedTheBearerTokenWhenOneIsSet) {
  api.token = "s3cret-token";
  for (auto [method, target, body] : {std::tuple{"PUT", "/v1/targets/x", kSpecBody},
                                      std::tuple{"DELETE", "/v1/targets/web", ""},
                                      std::tuple{"POST", "/v1/counters/c", "{\"delta\": 1}"}}) {
    for (const char* auth : {"", "Bearer wrong", "Bearer s3cret-tokenX", "Bearer s3cret-toke", "Basic s3cret-token",
                             "Bearers3cret-token", "s3cret-token", "Bearer "}) {
      HttpResponse r = send(method, target, body, auth);
      EXPECT_EQ(r.status, 401u) << method << " " << target << " with '" << auth << "'";
      EXPECT_EQ(r.www_authenticate, "Bearer");
      json e = json::parse(r.body);
      EXPECT_EQ(e["error"], "missing or wrong bearer token");
      EXPECT_EQ(e["path"], target);
    }
  }
  // Nothing changed.
  EXPECT_EQ(get_json("/v1/targets").size(), 3u);
  EXPECT_EQ(get_json("/v1/counters/c")["value"], 0);
  // The right token, scheme in any case; reads never need it.
  send_json("PUT", "/v1/targets/x", kSpecBody, 201, "Bearer s3cret-token");
  send_json("POST", "/v1/counters/c", "{\"delta\": 2}", 200, "bearer  s3cret-token");
  send_json("DELETE", "/v1/targets/x", "", 200, "BEARER s3cret-token");
  EXPECT_EQ(get_json("/v1/counters/c")["value"], 2);
  EXPECT_EQ(get_json("/v1/status")["auth"], true);
}

TEST_F(ApiRoutes, OwnersForRegisteredAndUnregisteredIds) {
  json o = get_json("/v1/owners/web");
  EXPECT_EQ(o["id"], "web");
  EXPECT_EQ(o["registered"], true);
  EXPECT_EQ(o["checkers"], 1);
  EXPECT_EQ(o["owners"], json::array({"api-test"}));
  EXPECT_EQ(o["fallbacks"], json::array());
  json u = get_json("/v1/owners/not-registered");
  EXPECT_EQ(u["registered"], false);
  EXPECT_EQ(u["checkers"], 1);
  EXPECT_EQ(u["owners"], json::array({"api-test"}));
  send_json("PUT", "/v1/targets/three", R"({"url": "http://127.0.0.1:9/", "checkers": 3})", 201);
  json three = get_json("/v1/owners/three");
  EXPECT_EQ(three["checkers"], 3);
  EXPECT_EQ(three["owners"], json::array({"api-test"}));  // one member: one owner
  EXPECT_THAT(get_json("/v1/owners/a%2Fb", 400)["error"].get<std::string>(), HasSubstr("invalid target id"));
  EXPECT_EQ(get("/v1/owners/a/b").status, 404u);
}

TEST_F(ApiRoutes, CountersAddAndRead) {
  json zero = get_json("/v1/counters/requests");
  EXPECT_EQ(zero, json({{"name", "requests"}, {"value", 0}}));
  EXPECT_EQ(send_json("POST", "/v1/counters/requests", R"({"delta": 3})", 200)["value"], 3);
  EXPECT_EQ(send_json("POST", "/v1/counters/requests", R"({"delta": -1})", 200)["value"], 2);
  EXPECT_EQ(get_json("/v1/counters/requests")["value"], 2);
  EXPECT_EQ(send_json("POST", "/v1/counters/a%20b", R"({"delta": 9223372036854775807})", 200)["name"], "a b");
  EXPECT_EQ(get_json("/v1/counters/a%20b")["value"], 9223372036854775807LL);
  EXPECT_EQ(get_json("/v1/counters/requests")["value"], 2);  // independent
}

TEST_F(ApiRoutes, CounterAddsThatWouldOverflowAreRefusedAndChangeNothing) {
  // Found from outside: two adds of INT64_MAX read -2 (signed wrap-around).
  EXPECT_EQ(send_json("POST", "/v1/counters/max", R"({"delta": 9223372036854775807})", 200)["value"],
            9223372036854775807LL);
  json e = send_json("POST", "/v1/counters/max", R"({"delta": 9223372036854775807})", 400);
  EXPECT_THAT(e["error"].get<std::string>(),
              HasSubstr("delta: adding 9223372036854775807 to counter 'max' (now 9223372036854775807) would take it "
                        "past the int64 maximum"));
  send_json("POST", "/v1/counters/max", R"({"delta": 1})", 400);
  EXPECT_EQ(get_json("/v1/counters/max")["value"], 9223372036854775807LL);
  EXPECT_EQ(send_json("POST", "/v1/counters/max", R"({"delta": -7})", 200)["value"], 9223372036854775800LL);

  send_json("POST", "/v1/counters/min", R"({"delta": -9223372036854775807})", 200);
  EXPECT_THAT(send_json("POST", "/v1/counters/min", R"({"delta": -9223372036854775807})", 400)["error"].get<std::string>(),
              HasSubstr("past the int64 minimum"));
  EXPECT_EQ(send_json("POST", "/v1/counters/min", R"({"delta": -1})", 200)["value"],
            std::numeric_limits<std::int64_t>::min());
  send_json("POST", "/v1/counters/min", R"({"delta": -1})", 400);
  EXPECT_EQ(get_json("/v1/counters/min")["value"], std::numeric_limits<std::int64_t>::min());
}

TEST_F(ApiRoutes, CountersRefuseBadNamesAndBodies) {
  auto error = [&](std::string target, std::string body) {
    return send_json("POST", std::move(target), std::move(body), 400)["error"].get<std::string>();
  };
  EXPECT_THAT(error("/v1/counters/c", "3"), HasSubstr("must be a JSON object"));
  EXPECT_THAT(error("/v1/counters/c", "{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(error("/v1/counters/c", "{}"), HasSubstr("delta: missing"));
  EXPECT_THAT(error("/v1/counters/c", R"({"delta": "3"})"), HasSubstr("must be an integer"));
  EXPECT_THAT(error("/v1/counters/c", R"({"delta": 1.5})"), HasSubstr("must be an integer"));
  EXPECT_THAT(error("/v1/counters/c", R"({"delta": 9223372036854775808})"), HasSubstr("int64"));
  EXPECT_THAT(error("/v1/counters/c", R"({"delta": 1, "by": 2})"), HasSubstr("'by': unknown key"));
  EXPECT_THAT(error("/v1/counters/" + std::string(257, 'n'), R"({"delta": 1})"), HasSubstr("more than 256"));
  EXPECT_THAT(error("/v1/counters/%00", R"({"delta": 1})"), HasSubstr("control character"));
  EXPECT_THAT(get_json("/v1/counters/" + std::string(257, 'n'), 400)["error"].get<std::string>(),
              HasSubstr("more than 256"));
  EXPECT_EQ(get("/v1/counters/").status, 404u);
  EXPECT_EQ(get_json("/v1/counters/c")["value"], 0);
  send_json("POST", "/v1/counters/" + std::string(256, 'n'), R"({"delta": 1})", 200);
}

TEST_F(ApiRoutes, StatusCountsTheReplicatedView) {
  check("web", CheckOutcome::response(503, Duration::milliseconds(1)));
  check("db", CheckOutcome::response(200, Duration::milliseconds(1)));
  json s = get_json("/v1/status");
  EXPECT_EQ(s["name"], "api-test");
  EXPECT_EQ(s["address"], "127.0.0.1:7946");
  EXPECT_EQ(s["version"], "0.1.0");
  EXPECT_EQ(s["members"], json({{"alive", 1}, {"suspect", 0}, {"dead", 0}, {"left", 0}}));
  EXPECT_EQ(s["targets"],
            json({{"total", 3}, {"healthy", 1}, {"unhealthy", 1}, {"unknown", 1}, {"stale", 0}}));
  EXPECT_EQ(s["checked_here"], 3);
  EXPECT_EQ(s["unhealthy"], json::array({"web"}));
  EXPECT_EQ(s["durable"], false);
  EXPECT_EQ(s["auth"], false);
  const std::string metrics = get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("heck_targets_status{status=\"unhealthy\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_targets_status{status=\"healthy\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_targets_status{status=\"unknown\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("heck_targets_stale 0\n"));
}

TEST_F(ApiRoutes, StatusPageIsOneSelfContainedHtmlDocument) {
  HttpResponse r = get("/");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(r.body.starts_with("<!DOCTYPE html>"));
  for (const char* hook : {"id=\"members\"", "id=\"targets\"", "id=\"changes\"", "id=\"summary\"",
                           "\"/v1/status\"", "\"/v1/members\"", "\"/v1/targets?recent=true\"", "\"/v1/changes\"",
                           "data-target", "data-status", "data-member"}) {
    EXPECT_THAT(r.body, HasSubstr(hook));
  }
  // Nothing from elsewhere: no external script, style or font.
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("src=\"http")));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("href=\"http")));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("@import")));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("innerHTML")));
  EXPECT_EQ(get("/", "HEAD").status, 200u);
  EXPECT_EQ(get_json("/v1")["endpoints"].size(), 15u);
  // Without routes /v1/alerts answers with empty lists and zero counters.
  const auto alerts = get_json("/v1/alerts");
  EXPECT_TRUE(alerts["routes"].empty());
  EXPECT_TRUE(alerts["deliveries"].empty());
  EXPECT_EQ(alerts["counters"]["sent"], 0);
  EXPECT_EQ(alerts["in_flight"], 0);
  EXPECT_EQ(get("/v1/alerts", "POST").status, 405u);
}

// --- the likes service and idempotent writes ----------------------------------------

HttpResponse keyed(Agent& agent, const ApiOptions& api, std::string method, std::string target, std::string body,
                   std::string key);

TEST_F(ApiRoutes, SetsAddListPageAndRemoveMembers) {
  json first = send_json("PUT", "/v1/sets/post-1/user-1", "", 201);
  EXPECT_EQ(first["added"], true);
  EXPECT_EQ(first["count"], 1);
  json again = send_json("PUT", "/v1/sets/post-1/user-1", "", 200);
  EXPECT_EQ(again["added"], false);
  EXPECT_EQ(again["count"], 1);
  for (const char* u : {"user-3", "user-2", "user-4"}) send_json("PUT", std::string("/v1/sets/post-1/") + u, "", 201);
  send_json("PUT", "/v1/sets/post-10/user-9", "", 201);  // another set
  json all = get_json("/v1/sets/post-1");
  EXPECT_EQ(all, json({{"name", "post-1"}, {"count", 4}, {"members", {"user-1", "user-2", "user-3", "user-4"}},
                       {"next", nullptr}}));
  json page = get_json("/v1/sets/post-1?limit=3");
  EXPECT_EQ(page["members"], json({"user-1", "user-2", "user-3"}));
  EXPECT_EQ(page["next"], "user-3");
  EXPECT_EQ(get_json("/v1/sets/post-1?limit=3&after=user-3")["members"], json({"user-4"}));
  EXPECT_EQ(get_json("/v1/sets/post-1/user-2")["present"], true);
  json removed = send_json("DELETE", "/v1/sets/post-1/user-2", "", 200);
  EXPECT_EQ(removed["removed"], true);
  EXPECT_EQ(removed["count"], 3);
  EXPECT_EQ(send_json("DELETE", "/v1/sets/post-1/user-2", "", 200)["removed"], false);
  EXPECT_EQ(get_json("/v1/sets/post-1/user-2")["present"], false);
  EXPECT_EQ(get_json("/v1/sets/nothing"), json({{"name", "nothing"}, {"count", 0}, {"members", json::array()},
                                                {"next", nullptr}}));
}

TEST_F(ApiRoutes, SetsRefuseBadNamesMembersAndPages) {
  auto error = [&](std::string method, std::string target) {
    return send_json(std::move(method), std::move(target), "", 400)["error"].get<std::string>();
  };
  EXPECT_THAT(error("PUT", "/v1/sets/" + std::string(65, 'p') + "/u"), HasSubstr("set name of 65 characters, more than 64"));
  EXPECT_THAT(error("PUT", "/v1/sets/p/" + std::string(129, 'u')), HasSubstr("member of 129 characters, more than 128"));
  EXPECT_THAT(error("PUT", "/v1/sets/p/u%2Fv"), HasSubstr("invalid member"));
  EXPECT_THAT(error("DELETE", "/v1/sets/p%20q/u"), HasSubstr("invalid set name"));
  EXPECT_THAT(error("GET", "/v1/sets/p?limit=0"), HasSubstr("limit: must be an integer in [1, 10000]"));
  EXPECT_THAT(error("GET", "/v1/sets/p?limit=x"), HasSubstr("limit"));
  EXPECT_THAT(error("GET", "/v1/sets/p?after=a%20b"), HasSubstr("after: invalid member"));
  EXPECT_THAT(error("GET", "/v1/sets/p?sort=1"), HasSubstr("unknown query parameter"));
  EXPECT_EQ(get("/v1/sets/p/u/v").status, 404u);
  EXPECT_EQ(send("POST", "/v1/sets/p/u", "").status, 405u);
  EXPECT_EQ(get_json("/v1/sets/p")["count"], 0);  // nothing was written
}

TEST_F(ApiRoutes, AKeyedWriteRepeatedGetsTheFirstAnswerAndChangesNothing) {
  HttpResponse first = keyed(*agent, api, "POST", "/v1/counters/likes", R"({"delta": 3})", "req-1");
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_FALSE(first.replayed);
  EXPECT_EQ(json::parse(first.body)["value"], 3);
  send_json("POST", "/v1/counters/likes", R"({"delta": 10})", 200);  // another add in between
  HttpResponse again = keyed(*agent, api, "POST", "/v1/counters/likes", R"({"delta": 3})", "req-1");
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(json::parse(again.body), json({{"name", "likes"}, {"value", 3}}));  // the first answer
  EXPECT_EQ(get_json("/v1/counters/likes")["value"], 13);
  // The same key for another request: 422, nothing applied.
  HttpResponse other = keyed(*agent, api, "POST", "/v1/counters/likes", R"({"delta": 4})", "req-1");
  EXPECT_EQ(other.status, 422u);
  EXPECT_THAT(other.body, HasSubstr("already used for a different request"));
  EXPECT_EQ(get_json("/v1/counters/likes")["value"], 13);
  // Targets and sets alike: a repeated PUT answers 201 again, a repeated DELETE 200.
  EXPECT_EQ(keyed(*agent, api, "PUT", "/v1/targets/keyed", kSpecBody, "req-2").status, 201u);
  HttpResponse put_again = keyed(*agent, api, "PUT", "/v1/targets/keyed", kSpecBody, "req-2");
  EXPECT_EQ(put_again.status, 201u);
  EXPECT_TRUE(put_again.replayed);
  EXPECT_EQ(keyed(*agent, api, "DELETE", "/v1/targets/keyed", "", "req-3").status, 200u);
  EXPECT_EQ(keyed(*agent, api, "DELETE", "/v1/targets/keyed", "", "req-3").status, 200u);
  EXPECT_EQ(send("DELETE", "/v1/targets/keyed", "").status, 404u);  // unkeyed: a new request
  EXPECT_EQ(keyed(*agent, api, "PUT", "/v1/sets/p/u", "", "req-4").status, 201u);
  EXPECT_EQ(keyed(*agent, api, "PUT", "/v1/sets/p/u", "", "req-4").status, 201u);
  // A refused write is not recorded: the key stays free.
  EXPECT_EQ(keyed(*agent, api, "POST", "/v1/counters/likes", "{", "req-5").status, 400u);
  EXPECT_EQ(keyed(*agent, api, "POST", "/v1/counters/likes", R"({"delta": 1})", "req-5").status, 200u);
  EXPECT_EQ(get_json("/v1/counters/likes")["value"], 14);
  EXPECT_EQ(agent->node().replication().state().request_records(), 5u);  // req-1 .. req-5
}

TEST_F(ApiRoutes, MalformedIdempotencyKeysAre400) {
  for (const std::string& key : {std::string(), std::string("a b"), std::string(129, 'k'), std::string("k\x01"),
                                 std::string("a1, a2"), std::string("caf\xc3\xa9")}) {
    HttpResponse r = keyed(*agent, api, "POST", "/v1/counters/c", R"({"delta": 1})", key);
    EXPECT_EQ(r.status, 400u) << key;
    EXPECT_THAT(r.body, HasSubstr("Idempotency-Key: must be 1-128 printable ASCII characters")) << key;
  }
  EXPECT_EQ(keyed(*agent, api, "POST", "/v1/counters/c", R"({"delta": 1})", std::string(128, 'k')).status, 200u);
  EXPECT_EQ(get_json("/v1/counters/c")["value"], 1);
}

HttpResponse keyed(Agent& agent, const ApiOptions& api, std::string method, std::string target, std::string body,
                   std::string key) {
  HttpRequest r{std::move(method), std::move(target), std::move(body), true};
  r.idempotency_key = std::move(key);
  return handle_api_request(agent, r, api);
}

// A fresh temporary directory, removed at the end.
struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "heck-api-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// --- alert routes written through the API ----------------------------------------

class RoutedApiRoutes : public ApiRoutes {
 protected:
  void SetUp() override {
    auto r = AlertRoute::from_json(json{{"name", "ops"}, {"url", "http://127.0.0.1:9/config"}});
    ASSERT_TRUE(r.ok()) << r.error();
    config_routes = {*r};
    ApiRoutes::SetUp();
  }
};

TEST_F(RoutedApiRoutes, RoutesAreWrittenReadReplacedAndRemovedThroughTheApi) {
  json put = send_json("PUT", "/v1/alerts/routes/pager",
                       R"({"url": "https://hooks.example/p", "format": "slack", "for_ms": 30000})", 201);
  EXPECT_EQ(put["created"], true);
  EXPECT_EQ(put["route"]["source"], "api");
  EXPECT_EQ(put["route"]["for_ms"], 30000);
  // Listed after the config's, each with its source; the dispatch sends on both.
  json alerts = get_json("/v1/alerts");
  ASSERT_EQ(alerts["routes"].size(), 2u);
  EXPECT_EQ(alerts["routes"][0]["name"], "ops");
  EXPECT_EQ(alerts["routes"][0]["source"], "config");
  EXPECT_EQ(alerts["routes"][1]["name"], "pager");
  EXPECT_EQ(alerts["routes"][1]["source"], "api");
  EXPECT_EQ(agent->node().alerts().config().routes.size(), 2u);
  EXPECT_EQ(get_json("/v1/alerts/routes/pager")["url"], "https://hooks.example/p");
  EXPECT_EQ(get_json("/v1/alerts/routes/ops")["source"], "config");
  // Replaced: 200, the new version everywhere.
  json again = send_json("PUT", "/v1/alerts/routes/pager", R"({"name": "pager", "url": "https://hooks.example/q"})", 200);
  EXPECT_EQ(again["created"], false);
  EXPECT_EQ(get_json("/v1/alerts/routes/pager")["url"], "https://hooks.example/q");
  EXPECT_EQ(get_json("/v1/alerts/routes/pager")["format"], "json");
  // Removed: gone from the list and the dispatch; a second removal is 404.
  EXPECT_EQ(send_json("DELETE", "/v1/alerts/routes/pager", "", 200)["removed"], true);
  EXPECT_EQ(get_json("/v1/alerts")["routes"].size(), 1u);
  EXPECT_EQ(agent->node().alerts().config().routes.size(), 1u);
  EXPECT_THAT(send_json("DELETE", "/v1/alerts/routes/pager", "", 404)["error"].get<std::string>(),
              HasSubstr("no route 'pager' written through the API"));
  EXPECT_EQ(get("/v1/alerts/routes/pager").status, 404u);
  // Idempotent like every write.
  EXPECT_EQ(keyed(*agent, api, "PUT", "/v1/alerts/routes/k", R"({"url": "http://127.0.0.1:9/k"})", "route-1").status, 201u);
  HttpResponse replay = keyed(*agent, api, "PUT", "/v1/alerts/routes/k", R"({"url": "http://127.0.0.1:9/k"})", "route-1");
  EXPECT_EQ(replay.status, 201u);
  EXPECT_TRUE(replay.replayed);
}

TEST_F(RoutedApiRoutes, BadRouteWritesGetAMessageAndChangeNothing) {
  auto error = [&](std::string method, std::string target, std::string body, unsigned status) {
    return send_json(std::move(method), std::move(target), std::move(body), status)["error"].get<std::string>();
  };
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/x", R"({"url": "ftp://h/x"})", 400), HasSubstr("body.url"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/x", R"({"url": "http://h/x", "repeat_ms": 5})", 400),
              HasSubstr("body.repeat_ms"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/x", R"({"url": "http://h/x", "colour": 1})", 400), HasSubstr("colour"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/x", R"({"name": "y", "url": "http://h/x"})", 400),
              HasSubstr("differs from the path's ('x')"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/x", "{", 400), HasSubstr("JSON"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/a%20b", R"({"url": "http://h/x"})", 400), HasSubstr("invalid route name"));
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/" + std::string(65, 'r'), R"({"url": "http://h/x"})", 400),
              HasSubstr("invalid route name"));
  // A route of this agent's config is changed in the config, not here.
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/ops", R"({"url": "http://h/x"})", 409), HasSubstr("config file"));
  EXPECT_THAT(error("DELETE", "/v1/alerts/routes/ops", "", 409), HasSubstr("config file"));
  EXPECT_EQ(send("POST", "/v1/alerts/routes/x", "").status, 405u);
  EXPECT_EQ(get("/v1/alerts/routes/x/y").status, 404u);
  // Bounded: at most 64 written routes.
  for (int i = 0; i < 64; ++i) {
    send_json("PUT", fmt::format("/v1/alerts/routes/r{}", i), R"({"url": "http://127.0.0.1:9/r"})", 201);
  }
  EXPECT_THAT(error("PUT", "/v1/alerts/routes/r64", R"({"url": "http://127.0.0.1:9/r"})", 409), HasSubstr("the limit"));
  send_json("PUT", "/v1/alerts/routes/r0", R"({"url": "http://127.0.0.1:9/r0"})", 200);  // a replacement is fine
  EXPECT_EQ(agent->node().health_state().routes().size(), 64u);
  EXPECT_EQ(get_json("/v1/alerts/routes/ops")["url"], "http://127.0.0.1:9/config");
}

class DurableApiRoutes : public ApiRoutes {
 protected:
  void SetUp() override {
    state_path = state_file_path(dir.path);
    history_path = history_file_path(dir.path);
    ApiRoutes::SetUp();
  }
  TempDir dir;
};

TEST_F(DurableApiRoutes, TheHistoryIsReadBackAfterARestart) {
  check("web", CheckOutcome::response(503, Duration::milliseconds(1)));
  agent->scan_view_changes();
  ClusterNodeConfig config = agent->node().config();
  agent->stop();
  ASSERT_TRUE(std::filesystem::exists(history_path));
  agent.reset();
  agent = make_agent(config);  // a restart on the same data dir
  agent->start();
  json h = get_json("/v1/targets/web/history");
  ASSERT_EQ(h["transitions"].size(), 2u) << h.dump();
  EXPECT_EQ(h["transitions"][1]["to"], "unhealthy");  // newest first
  EXPECT_EQ(h["transitions"][0]["to"], "unknown");
  EXPECT_EQ(h["transitions"][0]["reason"], "agent stopped");
  // A bad file is set aside, not fatal, and the agent starts afresh.
  agent->stop();
  agent.reset();
  {
    std::ofstream bad(history_path, std::ios::trunc);
    bad << "{\"version\": 7}";
  }
  agent = make_agent(config);
  agent->start();
  EXPECT_EQ(agent->history().size(), 0u);
  EXPECT_TRUE(std::filesystem::exists(history_path + ".bad"));
}

TEST_F(DurableApiRoutes, WritesAreOnDiskBeforeTheReply) {
  json put = send_json("PUT", "/v1/targets/kept", kSpecBody, 201);
  EXPECT_EQ(put["durable"], true);
  // Read the file back as a restarted agent would.
  auto loaded = load_state(state_path);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  HealthState restored(99);
  restored.join((*loaded)->state);
  ASSERT_TRUE(restored.target("kept").has_value());
  EXPECT_EQ(restored.target("kept")->spec->spec->url.to_string(), "http://127.0.0.1:9000/");
  EXPECT_EQ(agent->persisted_epoch(), agent->node().durable_epoch());

  json del = send_json("DELETE", "/v1/targets/kept", "", 200);
  EXPECT_EQ(del["durable"], true);
  loaded = load_state(state_path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  HealthState after(98);
  after.join((*loaded)->state);
  EXPECT_FALSE(after.target("kept").has_value());
  EXPECT_TRUE(after.target("web").has_value());  // the configured ones stay
  EXPECT_EQ(get_json("/v1/status")["durable"], true);
}

TEST_F(DurableApiRoutes, AKeyedSetWriteAndItsRecordAreOnDiskBeforeTheReply) {
  HttpRequest r{"PUT", "/v1/sets/post-1/user-1", "", true};
  r.idempotency_key = "like-1";
  HttpResponse put = handle_api_request(*agent, r, api);
  ASSERT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(json::parse(put.body)["durable"], true);
  auto loaded = load_state(state_path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  HealthState restored(99);
  restored.join((*loaded)->state);
  EXPECT_TRUE(restored.set_contains("post-1", "user-1"));
  ASSERT_NE(restored.first_request("like-1"), nullptr);
  EXPECT_EQ(restored.first_request("like-1")->status, 201);
  EXPECT_EQ(json::parse(restored.first_request("like-1")->body),
            json({{"set", "post-1"}, {"member", "user-1"}, {"added", true}, {"count", 1}}));
}

TEST_F(DurableApiRoutes, ACounterIsWrittenByTheDebouncedPersist) {
  send_json("POST", "/v1/counters/hits", R"({"delta": 5})", 200);
  // The background write comes within persist_debounce (200 ms); bounded wait.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (agent->persisted_epoch() != agent->node().durable_epoch()) {
    ASSERT_LT(std::chrono::steady_clock::now(), limit) << "the snapshot was never written";
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  auto loaded = load_state(state_path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  HealthState restored(99);
  restored.join((*loaded)->state);
  EXPECT_EQ(restored.counter("hits"), 5);
}

TEST_F(DurableApiRoutes, AFailedWriteLeavesTheTargetRegisteredButNotDurable) {
  std::filesystem::remove_all(dir.path);  // the directory is gone: the write fails
  json put = send_json("PUT", "/v1/targets/x", kSpecBody, 201);
  EXPECT_EQ(put["durable"], false);
  EXPECT_THAT(put["durable_error"].get<std::string>(), HasSubstr(state_path + ".tmp"));
  get_json("/v1/targets/x");
  EXPECT_GE(agent->counters().snapshot_errors, 1u);
  std::filesystem::create_directory(dir.path);
}

// --- over a loopback socket -------------------------------------------------------

// An agent and its API on an io_context running in a background thread.
class ApiOverSocket : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = default_api_server_options(), ApiOptions api_options = {}) {
    ClusterNodeConfig config;
    config.name = "socket-test";
    config.address = "127.0.0.1:7946";
    config.targets = {spec("web")};
    AgentOptions agent_options;
    agent_options.log = [](std::string_view) {};
    agent = std::make_unique<Agent>(io, clock, runner, std::move(config), std::move(agent_options));
    api = std::make_unique<ApiServer>(io, *agent, options, api_options);
    auto ep = api->listen(HostPort{"127.0.0.1", 0});
    ASSERT_TRUE(ep.ok()) << ep.error();
    endpoint = *ep;
    agent->start();
    api->start();
    thread = std::thread([this] { io.run(); });
  }

  void TearDown() override {
    if (!thread.joinable()) return;
    asio::post(io, [this] {
      api->stop();
      agent->stop();
      guard.reset();
    });
    thread.join();
  }

  // A connected client socket whose reads give up after 5 s.
  asio::ip::tcp::socket connect() {
    asio::ip::tcp::socket s(client_io);
    s.connect(endpoint);
    timeval tv{5, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  }

  static http::response<http::string_body> read_response(asio::ip::tcp::socket& s, boost::beast::flat_buffer& buf,
                                                          bool head = false) {
    http::response_parser<http::string_body> p;
    p.skip(head);
    p.body_limit(16 * 1024 * 1024);
    http::read(s, buf, p);
    return p.release();
  }

  static void write(asio::ip::tcp::socket& s, std::string_view text) { asio::write(s, asio::buffer(text)); }

  // True when the server closed the connection (EOF), false on a timeout.
  static bool closed_by_server(asio::ip::tcp::socket& s) {
    char c;
    boost::system::error_code ec;
    for (int i = 0; i < 1000; ++i) {
      s.read_some(asio::buffer(&c, 1), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
    return false;
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  asio::io_context client_io;
  Clock clock;
  FakeCheckRunner runner;
  std::unique_ptr<Agent> agent;
  std::unique_ptr<ApiServer> api;
  asio::ip::tcp::endpoint endpoint;
  std::thread thread;
};

TEST_F(ApiOverSocket, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r1 = read_response(s, buf);
  EXPECT_EQ(r1.result_int(), 200u);
  EXPECT_EQ(r1[http::field::content_type], "application/json");
  EXPECT_TRUE(r1.keep_alive());
  EXPECT_EQ(json::parse(r1.body())["name"], "socket-test");
  write(s, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r2 = read_response(s, buf);
  EXPECT_EQ(r2.result_int(), 404u);
  EXPECT_EQ(json::parse(r2.body())["path"], "/nope");
  write(s, "PUT /v1/targets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  auto r3 = read_response(s, buf);
  EXPECT_EQ(r3.result_int(), 405u);
  EXPECT_EQ(r3[http::field::allow], "GET, HEAD");
}

TEST_F(ApiOverSocket, HeadSendsHeadersOnly) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "GET /v1/targets HTTP/1.1\r\nHost: x\r\n\r\n");
  auto get = read_response(s, buf);
  write(s, "HEAD /v1/targets HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = read_response(s, buf, /*head=*/true);
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_TRUE(head.body().empty());
  // No body bytes were sent: the next (pipelined) response parses cleanly.
  auto next = read_response(s, buf);
  EXPECT_EQ(next.result_int(), 200u);
  EXPECT_EQ(json::parse(next.body())["status"], "ok");
}

TEST_F(ApiOverSocket, MalformedRequestGets400AndClose) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "THIS IS NOT HTTP\r\n\r\n");
  auto r = read_response(s, buf);
  EXPECT_EQ(r.result_int(), 400u);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_THAT(json::parse(r.body())["error"].get<std::string>(), HasSubstr("malformed request"));
  EXPECT_TRUE(closed_by_server(s));
}

TEST_F(ApiOverSocket, OversizedBodyGets413) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  // Refused from the Content-Length alone, before any body byte is read.
  write(s, "POST /v1/targets HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  auto r = read_response(s, buf);
  EXPECT_EQ(r.result_int(), 413u);
  EXPECT_FALSE(r.keep_alive());
}

TEST_F(ApiOverSocket, OversizedChunkedBodyGets413) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  std::string req = "POST /v1/targets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) req += "1000\r\n" + std::string(0x1000, 'x') + "\r\n";  // 80 KiB > 64 KiB
  boost::system::error_code ec;
  asio::write(s, asio::buffer(req), ec);  // the server may stop reading early
  auto r = read_response(s, buf);
  EXPECT_EQ(r.result_int(), 413u);
}

TEST_F(ApiOverSocket, OversizedHeaderGets431) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
  auto r = read_response(s, buf);
  EXPECT_EQ(r.result_int(), 431u);
}

TEST_F(ApiOverSocket, IdleConnectionsAreClosed) {
  HttpServerOptions o = default_api_server_options();
  o.read_timeout = Duration::milliseconds(200);
  start(o);
  auto s = connect();
  write(s, "GET /v1/health HTTP/1.1\r\nHost: x\r\n");  // never finished (slowloris)
  EXPECT_TRUE(closed_by_server(s));
}

TEST_F(ApiOverSocket, ConnectionsBeyondTheCapAreRefused) {
  HttpServerOptions o = default_api_server_options();
  o.max_connections = 2;
  start(o);
  boost::beast::flat_buffer b1, b2, b3;
  auto s1 = connect();
  auto s2 = connect();
  // Make sure both are accepted before the third arrives.
  write(s1, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(s1, b1).result_int(), 200u);
  write(s2, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(s2, b2).result_int(), 200u);
  auto s3 = connect();
  auto r = read_response(s3, b3);
  EXPECT_EQ(r.result_int(), 503u);
  EXPECT_TRUE(closed_by_server(s3));
  // The first two still work.
  write(s1, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(s1, b1).result_int(), 200u);
}

TEST_F(ApiOverSocket, ResponsesAreCountedByCode) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  read_response(s, buf);
  write(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto m = read_response(s, buf);
  EXPECT_EQ(m[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.body(), HasSubstr("heck_api_requests_total{code=\"404\"} 1\n"));
}

TEST_F(ApiOverSocket, BearerTokenTravelsInTheAuthorizationHeader) {
  ApiOptions a;
  a.token = "tok-123";
  start(default_api_server_options(), a);
  auto s = connect();
  boost::beast::flat_buffer buf;
  const std::string body = R"({"url": "http://127.0.0.1:9/"})";
  auto put = [&](const std::string& auth) {
    write(s, "PUT /v1/targets/x HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
    return read_response(s, buf);
  };
  auto denied = put("");
  EXPECT_EQ(denied.result_int(), 401u);
  EXPECT_EQ(denied[http::field::www_authenticate], "Bearer");
  EXPECT_EQ(json::parse(denied.body())["error"], "missing or wrong bearer token");
  EXPECT_EQ(put("Authorization: Bearer nope\r\n").result_int(), 401u);
  // The right token: 201, sent once the replication flush has run.
  auto ok = put("Authorization: Bearer tok-123\r\n");
  EXPECT_EQ(ok.result_int(), 201u) << ok.body();
  EXPECT_EQ(json::parse(ok.body())["created"], true);
  write(s, "GET /v1/targets/x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(s, buf).result_int(), 200u);
}

TEST_F(ApiOverSocket, StatusPageIsHtml) {
  start();
  auto s = connect();
  boost::beast::flat_buffer buf;
  write(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = read_response(s, buf);
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_THAT(r.body(), HasSubstr("id=\"targets\""));
}

TEST_F(ApiOverSocket, ListeningOnABusyPortFailsClearly) {
  start();
  asio::io_context other;
  ApiServer second(other, *agent);
  auto ep = second.listen(HostPort{"127.0.0.1", endpoint.port()});
  ASSERT_FALSE(ep.ok());
  EXPECT_THAT(ep.error(), HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(endpoint.port())));
}

TEST(ApiServerIpv6, ListensOnLoopbackV6) {
  asio::io_context io;
  Clock clock;
  FakeCheckRunner runner;
  AgentOptions options;
  options.log = [](std::string_view) {};
  Agent agent(io, clock, runner, ClusterNodeConfig{.name = "v6", .address = "[::1]:7946"}, options);
  ApiServer api(io, agent);
  auto ep = api.listen(HostPort{"::1", 0});
  if (!ep.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << ep.error();
  EXPECT_TRUE(ep->address().is_v6());
  api.stop();
}

}  // namespace
}  // namespace heck::runtime
