// The API client (runtime/api_client.h) against a tiny HttpServer on
// 127.0.0.1 run on a background thread: what it sends (method, body, bearer
// token on writes only), how answers and errors come back as values, and the
// helpers (path encoding, error text).
#include "runtime/api_client.h"

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "runtime/http_server.h"

namespace heck::runtime {
namespace {

namespace asio = boost::asio;

struct Seen {
  std::string method, target, body, authorization, idempotency_key;
};

// Answers like the agent API: /ok -> {"value": 1}; /missing -> 404 with a
// JSON error; /plain -> 503 text; /notjson -> 200 text; anything else
// echoes nothing (200 {}). Records what it received.
class ApiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server = std::make_unique<HttpServer>(io, [this](const HttpRequest& req, HttpServer::Reply reply) {
      {
        std::lock_guard lock(mu);
        seen.push_back({req.method, req.target, req.body, req.authorization, req.idempotency_key.value_or("")});
      }
      HttpResponse r;
      if (req.target == "/ok") {
        r.body = R"({"value": 1})";
      } else if (req.target == "/missing") {
        r.status = 404;
        r.body = R"({"error": "no target 'web'", "path": "/missing"})";
      } else if (req.target == "/plain") {
        r.status = 503;
        r.content_type = "text/plain";
        r.body = "busy";
      } else if (req.target == "/keyless-only" && req.idempotency_key) {
        // An agent on --store etcd: keyed writes are refused, not applied.
        r.status = 501;
        r.body = R"({"error": "Idempotency-Key: not supported with --store etcd", "path": "/keyless-only"})";
      } else if (req.target == "/notjson") {
        r.content_type = "text/plain";
        r.body = "hello";
      } else {
        r.body = "{}";
      }
      reply(std::move(r));
    });
    auto ep = server->listen(HostPort{"127.0.0.1", 0});
    ASSERT_TRUE(ep.ok()) << ep.error();
    api = HostPort{"127.0.0.1", ep->port()};
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    asio::post(io, [this] {
      server->stop();
      guard.reset();
    });
    thread.join();
  }
  Seen last() {
    std::lock_guard lock(mu);
    return seen.empty() ? Seen{} : seen.back();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::unique_ptr<HttpServer> server;
  HostPort api;
  std::thread thread;
  std::mutex mu;
  std::vector<Seen> seen;
};

TEST_F(ApiClientTest, GetParsesJsonAndSendsNoToken) {
  ApiClient c(api, Duration::seconds(5), "s3cret");
  std::string raw;
  auto r = c.get("/ok", &raw);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->at("value"), 1);
  EXPECT_EQ(raw, R"({"value": 1})");
  EXPECT_EQ(last().method, "GET");
  EXPECT_EQ(last().authorization, "");  // reads never carry the token
}

TEST_F(ApiClientTest, WritesCarryTheBearerTokenAndBody) {
  ApiClient c(api, Duration::seconds(5), "s3cret");
  ASSERT_TRUE(c.put("/v1/targets/web", nlohmann::json{{"url", "http://x/"}}).ok());
  EXPECT_EQ(last().method, "PUT");
  EXPECT_EQ(last().authorization, "Bearer s3cret");
  EXPECT_EQ(nlohmann::json::parse(last().body), (nlohmann::json{{"url", "http://x/"}}));
  ASSERT_TRUE(c.post("/v1/counters/hits", nlohmann::json{{"delta", -3}}).ok());
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(last().authorization, "Bearer s3cret");
  ASSERT_TRUE(c.del("/v1/targets/web").ok());
  EXPECT_EQ(last().method, "DELETE");
  EXPECT_EQ(last().authorization, "Bearer s3cret");
  // Without a token, no Authorization header at all.
  ApiClient anonymous(api, Duration::seconds(5));
  ASSERT_TRUE(anonymous.del("/v1/targets/web").ok());
  EXPECT_EQ(last().authorization, "");
}

TEST_F(ApiClientTest, AKeyedWriteRefusedForItsKeyIsSentOnceMoreWithout) {
  ApiClient c(api, Duration::seconds(5));
  c.set_request_id("req-1");
  ASSERT_TRUE(c.post("/keyless-only", nlohmann::json{{"delta", 1}}).ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].idempotency_key, "req-1");
  EXPECT_EQ(seen[1].idempotency_key, "");
}

TEST_F(ApiClientTest, ApiErrorsBecomeTheirErrorText) {
  ApiClient c(api, Duration::seconds(5));
  auto missing = c.get("/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "no target 'web'");
  auto plain = c.get("/plain");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error(), "HTTP 503 from agent at " + api.to_string() + " for GET /plain: busy");
  auto notjson = c.get("/notjson");
  ASSERT_FALSE(notjson.ok());
  EXPECT_EQ(notjson.error(), "agent at " + api.to_string() + " sent a bad answer to GET /notjson: not JSON");
  // request() hands back any status as an answer.
  auto raw = c.request("GET", "/missing");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 404u);
}

TEST(ApiClient, UnreachableAgentIsNamed) {
  // A port nothing listens on: bound, then closed.
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = a.local_endpoint().port();
  a.close();
  ApiClient c(HostPort{"127.0.0.1", port}, Duration::seconds(5));
  auto r = c.get("/v1/status");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "cannot reach agent at 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST(ApiClient, NotAnIpAddress) {
  ApiClient c(HostPort{"agent.example", 7700}, Duration::seconds(1));
  auto r = c.get("/v1/status");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("'agent.example' is not an IP address"), std::string::npos) << r.error();
}

TEST(ApiClient, EncodesPathSegments) {
  EXPECT_EQ(encode_path_segment("web-1.a_b~"), "web-1.a_b~");
  EXPECT_EQ(encode_path_segment("a b/c?d%"), "a%20b%2Fc%3Fd%25");
  EXPECT_EQ(encode_path_segment("\xff"), "%FF");
  EXPECT_EQ(encode_path_segment(""), "");
}

TEST(ApiClient, ErrorTextOnlyFromAJsonError) {
  EXPECT_EQ(api_error_text(R"({"error": "missing or wrong bearer token"})"), "missing or wrong bearer token");
  EXPECT_EQ(api_error_text(R"({"error": 3})"), "");
  EXPECT_EQ(api_error_text("[1]"), "");
  EXPECT_EQ(api_error_text("not json"), "");
  EXPECT_EQ(api_error_text(R"({"error": "line\nbreak"})").find('\n'), std::string::npos);  // sanitised
}

}  // namespace
}  // namespace heck::runtime
