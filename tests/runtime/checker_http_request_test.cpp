#include "runtime/http_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;

TargetSpec spec_for(const std::string& url) {
  TargetSpec spec;
  spec.id = detached_name("t");
  spec.url = *Url::parse(url);
  return spec;
}

std::string request(const TargetSpec& spec, std::string_view agent = "heck/0.1") {
  std::string out, error;
  EXPECT_TRUE(write_http_request(spec, agent, out, error)) << error;
  return out;
}

TEST(HttpRequest, MinimalGet) {
  EXPECT_EQ(request(spec_for("http://example.org/healthz")),
            "GET /healthz HTTP/1.1\r\nHost: example.org\r\nUser-Agent: heck/0.1\r\nConnection: close\r\n\r\n");
}

TEST(HttpRequest, HostCarriesANonDefaultPort) {
  EXPECT_THAT(request(spec_for("http://example.org:8080/")), HasSubstr("\r\nHost: example.org:8080\r\n"));
  EXPECT_THAT(request(spec_for("https://example.org/")), HasSubstr("\r\nHost: example.org\r\n"));
  EXPECT_THAT(request(spec_for("https://example.org:80/")), HasSubstr("\r\nHost: example.org:80\r\n"));
  EXPECT_THAT(request(spec_for("http://[::1]:81/")), HasSubstr("\r\nHost: [::1]:81\r\n"));
  EXPECT_THAT(request(spec_for("http://[::1]/")), HasSubstr("\r\nHost: [::1]\r\n"));
}

TEST(HttpRequest, SpecHeadersReplaceHostAndAgentAndNeverConnection) {
  auto spec = spec_for("http://10.0.0.1/x?y=1");
  spec.http.edit().method = "HEAD";
  spec.http.edit().headers = {{"HOST", "app.example"}, {"user-agent", "mine"}, {"Connection", "keep-alive"},
                  {"Content-Length", "5"}, {"X-A", "b"}};
  EXPECT_EQ(request(spec),
            "HEAD /x?y=1 HTTP/1.1\r\nHOST: app.example\r\nX-A: b\r\nuser-agent: mine\r\nConnection: close\r\n\r\n");
}

TEST(HttpRequest, EmptyAgentIsOmitted) {
  EXPECT_THAT(request(spec_for("http://h/"), ""), ::testing::Not(HasSubstr("User-Agent")));
}

TEST(HttpRequest, RefusesWhatCannotBeSentSafely) {
  std::string out, error;
  auto spec = spec_for("http://h/");
  spec.http.edit().method = "GET /evil";
  EXPECT_FALSE(write_http_request(spec, "a", out, error));
  EXPECT_THAT(error, HasSubstr("method"));

  spec = spec_for("http://h/");
  spec.url.target = "/a b";
  EXPECT_FALSE(write_http_request(spec, "a", out, error));
  EXPECT_THAT(error, HasSubstr("target"));

  spec = spec_for("http://h/");
  spec.http.edit().headers = {{"X-Ok", "fine"}, {"Bad Name", "v"}};
  EXPECT_FALSE(write_http_request(spec, "a", out, error));
  EXPECT_THAT(error, HasSubstr("Bad Name"));

  spec = spec_for("http://h/");
  spec.http.edit().headers = {{"X-Split", "v\r\nInjected: 1"}};
  EXPECT_FALSE(write_http_request(spec, "a", out, error));
  EXPECT_THAT(error, HasSubstr("X-Split"));

  EXPECT_FALSE(write_http_request(spec_for("http://h/"), "agent\r\nX: y", out, error));
  EXPECT_THAT(error, HasSubstr("User-Agent"));
}

}  // namespace
}  // namespace heck::runtime
