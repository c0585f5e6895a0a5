#include "core/target_spec.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <xxhash.h>

#include "core/wire/msgpack_writer.h"

namespace heck {
namespace {

using json = nlohmann::json;

std::string error_of(const json& j) {
  auto r = TargetSpec::from_json(j, "targets[0]");
  EXPECT_FALSE(r.ok()) << j.dump();
  return r.ok() ? std::string{} : r.error();
}

TEST(Url, ParsesHttpWithDefaults) {
  auto u = Url::parse("http://example.org");
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->scheme, Scheme::http);
  EXPECT_EQ(u->host, "example.org");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
}

TEST(Url, ParsesPortPathQueryAndIpv6) {
  auto u = Url::parse("http://127.0.0.1:8080/healthz?deep=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/healthz?deep=1");
  auto v6 = Url::parse("http://[::1]:9000/x");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "http://[::1]:9000/x");
  auto q = Url::parse("http://h:1?x=y");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->target, "/?x=y");
  auto s = Url::parse("https://h/");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->port, 443);
}

TEST(Url, ParsesTcp) {
  auto u = Url::parse("tcp://db.local:5432");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Scheme::tcp);
  EXPECT_EQ(u->port, 5432);
  EXPECT_EQ(u->target, "");
}

TEST(Url, RefusesMalformed) {
  for (const char* bad : {"", "127.0.0.1:80", "ftp://h/", "http://", "http://:80/", "http://h:0/",
                          "http://h:65536/", "http://h:80x/", "http://h:/", "tcp://h", "tcp://h:1/path",
                          "http://user:pw@h/", "http://h h/", "http://[::1/", "http://h/a b",
                          "http://[zz]/"}) {
    EXPECT_FALSE(Url::parse(bad).ok()) << bad;
  }
}

// The HTTP options most targets leave at their defaults live out of line:
// a spec with none of them set holds no box (an explicit default neither),
// copies are deep, and equality goes by value.
TEST(TargetSpec, KeepsItsHttpOptionsOutOfLineWhileAtTheirDefaults) {
  EXPECT_LE(sizeof(TargetSpec), 160u) << "method, headers, expect_body and TLS options took 128 bytes in place";
  auto plain = TargetSpec::from_json(json{{"id", "a"}, {"url", "http://h/"}, {"method", "GET"}});
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_FALSE(plain->http.boxed());
  EXPECT_EQ(plain->http->method, "GET");
  auto head = TargetSpec::from_json(json{{"id", "a"}, {"url", "http://h/"}, {"method", "HEAD"}});
  ASSERT_TRUE(head.ok()) << head.error();
  EXPECT_TRUE(head->http.boxed());
  EXPECT_NE(*head, *plain);

  TargetSpec copy = *head;
  copy.http.edit().method = "GET";
  EXPECT_EQ(head->http->method, "HEAD") << "a copy has a box of its own";
  EXPECT_TRUE(copy.http.boxed());
  EXPECT_EQ(copy, *plain) << "a box holding the defaults equals none";
  copy.http.shrink();
  EXPECT_FALSE(copy.http.boxed());
  EXPECT_EQ(copy, *plain);
}

// The small fields live in the padding at the end of the url: assigning a
// url (a potentially-overlapping member) must leave them as they are.
TEST(TargetSpec, SmallFieldsShareTheUrlsPaddingAndSurviveItsAssignment) {
  EXPECT_LE(sizeof(TargetSpec), 120u) << "the id as a Name, rise/fall/checkers/quorum in the url's tail padding";
  TargetSpec s;
  s.id = detached_name("a");
  s.rise = 100;
  s.fall = 99;
  s.checkers = 16;
  s.quorum = 15;
  auto url = Url::parse("https://a-rather-long-host-name.example.org:8443/a/long/path?with=query");
  ASSERT_TRUE(url.ok());
  s.url = *url;
  s.url = Url{};
  s.url = std::move(*url);
  EXPECT_EQ(s.rise, 100);
  EXPECT_EQ(s.fall, 99);
  EXPECT_EQ(s.checkers, 16);
  EXPECT_EQ(s.quorum, 15);
  EXPECT_EQ(s.url.host, "a-rather-long-host-name.example.org");
  const TargetSpec copy = s;
  EXPECT_EQ(copy, s);
  EXPECT_EQ(copy.quorum, 15);
  EXPECT_EQ(copy.to_json()["quorum"], 15) << "written as a number, not a character";
  EXPECT_EQ(fmt::format("{}", copy.checkers), "16");
}

TEST(TargetSpec, MinimalGetsDefaults) {
  auto r = TargetSpec::from_json(json::parse(R"({"id": "web", "url": "http://127.0.0.1:8080/healthz"})"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->interval, Duration::milliseconds(10'000));
  EXPECT_EQ(r->timeout, Duration::milliseconds(2'000));
  EXPECT_EQ(r->rise, 2);
  EXPECT_EQ(r->fall, 3);
  EXPECT_EQ(r->http->method, "GET");
  EXPECT_TRUE(r->status_expected(200));
  EXPECT_TRUE(r->status_expected(399));
  EXPECT_FALSE(r->status_expected(400));
  EXPECT_FALSE(r->http->expect_body.has_value());
}

TEST(TargetSpec, ParsesEveryField) {
  auto r = TargetSpec::from_json(json::parse(R"({
    "id": "api", "url": "http://h:81/ready", "interval_ms": 500, "timeout_ms": 300,
    "rise": 1, "fall": 5, "expect_status": [200, "204-206"], "expect_body": "ok",
    "method": "HEAD", "headers": {"Host": "example.org", "X-Probe": "heck"}})"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->interval, Duration::milliseconds(500));
  EXPECT_EQ(r->timeout, Duration::milliseconds(300));
  EXPECT_EQ(r->fall, 5);
  EXPECT_TRUE(r->status_expected(205));
  EXPECT_FALSE(r->status_expected(201));
  EXPECT_EQ(r->http->expect_body, "ok");
  EXPECT_EQ(r->http->method, "HEAD");
  EXPECT_EQ(r->http->headers.at("X-Probe"), "heck");
}

TEST(TargetSpec, ErrorsNameTheField) {
  const json base = {{"id", "web"}, {"url", "http://127.0.0.1:8080/"}};
  auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return error_of(j);
  };
  EXPECT_NE(with("colour", "red").find("targets[0].colour: unknown key"), std::string::npos);
  EXPECT_NE(with("interval_ms", "10s").find("targets[0].interval_ms: must be an integer"), std::string::npos);
  EXPECT_NE(with("interval_ms", 0).find("targets[0].interval_ms: must be positive"), std::string::npos);
  EXPECT_NE(with("interval_ms", -5).find("targets[0].interval_ms: must be positive"), std::string::npos);
  EXPECT_NE(with("interval_ms", 1000).find("targets[0].timeout_ms: 2000 must be below interval_ms (1000)"),
            std::string::npos);
  EXPECT_NE(with("url", "http//x").find("targets[0].url:"), std::string::npos);
  EXPECT_NE(with("url", 5).find("targets[0].url: must be a string"), std::string::npos);
  EXPECT_NE(with("id", "has space").find("targets[0].id:"), std::string::npos);
  EXPECT_NE(with("rise", 0).find("targets[0].rise"), std::string::npos);
  EXPECT_NE(with("expect_status", 700).find("targets[0].expect_status"), std::string::npos);
  EXPECT_NE(with("expect_status", "300-200").find("targets[0].expect_status"), std::string::npos);
  EXPECT_NE(with("method", "BREW").find("targets[0].method"), std::string::npos);
  EXPECT_NE(with("headers", json{{"X", 1}}).find("targets[0].headers.X: must be a string"), std::string::npos);
  EXPECT_NE(with("headers", json{{"X", "a\r\nb"}}).find("line breaks"), std::string::npos);
  EXPECT_NE(with("tls_verify", false).find("only applies to https"), std::string::npos);
  EXPECT_NE(with("tls_expiry_min_days", 14).find("targets[0].tls_expiry_min_days: only applies to https"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"url", "http://h/"}}).find("targets[0].id: missing"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("targets[0]: must be an object"), std::string::npos);
}

TEST(TargetSpec, TlsExpiryMinDaysIsForHttpsOnlyAndBounded) {
  auto ok = TargetSpec::from_json(json{{"id", "w"}, {"url", "https://h/"}, {"tls_expiry_min_days", 14}});
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->http->tls_expiry_min_days, 14);
  EXPECT_EQ(ok->to_json()["tls_expiry_min_days"], 14);
  // Off by default, and then not written (older agents read the same bytes).
  auto off = TargetSpec::from_json(json{{"id", "w"}, {"url", "https://h/"}});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->http->tls_expiry_min_days, 0);
  EXPECT_FALSE(off->to_json().contains("tls_expiry_min_days"));
  auto big = TargetSpec::from_json(json{{"id", "w"}, {"url", "https://h/"}, {"tls_expiry_min_days", 3651}});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("tls_expiry_min_days: must be at most 3650"), std::string::npos) << big.error();
}

TEST(TargetSpec, TcpRefusesHttpOnlyFields) {
  auto e = error_of(json{{"id", "db"}, {"url", "tcp://h:5432"}, {"expect_body", "x"}});
  EXPECT_NE(e.find("targets[0].expect_body: only applies to http"), std::string::npos);
}

TEST(TargetList, RefusesDuplicateIds) {
  auto r = parse_target_list(json::parse(R"([{"id": "a", "url": "http://h/"}, {"id": "a", "url": "http://g/"}])"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "targets[1].id: duplicate id 'a'");
}

TEST(TargetList, NotAnArray) {
  auto r = parse_target_list(json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "targets: must be an array, got an object");
}

TEST(TargetSpec, CheckersAndQuorumAreBoundedAndConsistent) {
  auto parse = [](std::string extra) {
    return TargetSpec::from_json(nlohmann::json::parse(
        R"({"id": "a", "url": "http://127.0.0.1:1/")" + extra + "}"));
  };
  auto ok = parse(R"(, "checkers": 3, "quorum": 2)");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->checkers, 3);
  EXPECT_EQ(ok->quorum, 2);
  auto too_many = parse(R"(, "checkers": 17)");
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().find("target.checkers"), std::string::npos) << too_many.error();
  auto bad_quorum = parse(R"(, "checkers": 2, "quorum": 3)");
  ASSERT_FALSE(bad_quorum.ok());
  EXPECT_NE(bad_quorum.error().find("must not exceed checkers (2)"), std::string::npos) << bad_quorum.error();
}

// Text of `n` characters from [a-z0-9.-] (valid in hosts, paths, header
// values and bodies alike): lengths up to 300 reach every MessagePack
// string form (fixstr, str8, str16).
std::string gen_text(std::size_t min, std::size_t max) {
  const auto n = *rc::gen::inRange(min, max + 1);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(*rc::gen::element('a', 'z', '0', '9', '.', '-'));
  return out;
}

// A spec with every optional field sometimes set, sized so that its
// MessagePack uses each width: long ids, hosts, paths and bodies; up to 20
// headers (map16); several status ranges; intervals past 2^16 and 2^32 ms
// are out of range (a day at most), so up to 86,400,000 (uint32).
TargetSpec gen_spec() {
  TargetSpec s;
  s.id = detached_name("t" + gen_text(0, TargetSpec::kMaxIdLength - 1));
  const auto scheme = *rc::gen::element(Scheme::http, Scheme::https, Scheme::tcp);
  const int port = *rc::gen::inRange(1, 65536);
  const std::string host = *rc::gen::arbitrary<bool>() ? "[::1]" : "h" + gen_text(0, 60) + ".example";
  s.url = *Url::parse(scheme == Scheme::tcp
                          ? fmt::format("tcp://{}:{}", host, port)
                          : fmt::format("{}://{}:{}/p{}?q={}", to_string(scheme), host, port, gen_text(0, 300), port));
  const int interval_ms = *rc::gen::element(2, 127, 128, 255, 256, 65535, 65536, 86'400'000);
  s.interval = Duration::milliseconds(interval_ms);
  s.timeout = Duration::milliseconds(*rc::gen::inRange(1, interval_ms));
  s.rise = *rc::gen::inRange(1, 101);
  s.fall = *rc::gen::inRange(1, 101);
  if (scheme != Scheme::tcp) {
    s.expect_status.clear();
    const int ranges = *rc::gen::inRange(1, 4);
    for (int i = 0; i < ranges; ++i) {
      const int lo = *rc::gen::inRange(100, 600);
      s.expect_status.push_back(StatusRange{lo, *rc::gen::element(lo, *rc::gen::inRange(lo, 600))});
    }
    if (*rc::gen::arbitrary<bool>()) s.http.edit().expect_body = "n" + gen_text(0, 300);
    s.http.edit().method = *rc::gen::element(std::string("GET"), std::string("HEAD"), std::string("POST"));
    const int headers = *rc::gen::element(0, 1, 3, 15, 16, 20);
    for (int i = 0; i < headers; ++i) s.http.edit().headers["X-" + gen_text(1, 12)] = gen_text(0, 40);
  }
  if (scheme == Scheme::https) {
    s.http.edit().tls_verify = *rc::gen::arbitrary<bool>();
    s.http.edit().tls_expiry_min_days = *rc::gen::inRange(0, TargetSpec::kMaxTlsExpiryMinDays + 1);
  }
  s.checkers = *rc::gen::inRange(1, TargetSpec::kMaxCheckers + 1);
  s.quorum = *rc::gen::inRange(1, s.checkers + 1);
  return s;
}

RC_GTEST_PROP(TargetSpec, JsonRoundTrip, ()) {
  const TargetSpec s = gen_spec();
  auto back = TargetSpec::from_json(s.to_json());
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == s);
}

// The codec writes specs with write_msgpack and the spec pool trusts a hit
// that re-encodes to the received bytes: both rest on these being the bytes
// of the JSON form, and on those bytes decoding back to the spec.
RC_GTEST_PROP(TargetSpec, WriteMsgpackIsTheJsonFormsBytes, ()) {
  const TargetSpec s = gen_spec();
  Bytes direct;
  wire::MsgpackWriter w(direct);
  s.write_msgpack(w);
  RC_ASSERT(direct == json::to_msgpack(s.to_json()));
  auto back = TargetSpec::from_json(json::from_msgpack(direct));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == s);
}

TEST(TargetSpec, WriteMsgpackOfTheDefaultsAndOfEveryField) {
  for (const char* text : {R"({"id": "a", "url": "tcp://h:1"})", R"({"id": "a", "url": "http://h/"})",
                           R"({"id": "web", "url": "https://[::1]:8443/healthz?x=1", "interval_ms": 70000,
                               "timeout_ms": 300, "rise": 5, "fall": 7, "expect_status": ["200", "301-302"],
                               "expect_body": "ok", "method": "HEAD", "headers": {"B": "2", "A": "1"},
                               "tls_verify": false, "tls_expiry_min_days": 14, "checkers": 3, "quorum": 2})"}) {
    auto spec = TargetSpec::from_json(json::parse(text));
    ASSERT_TRUE(spec.ok()) << spec.error();
    Bytes direct;
    wire::MsgpackWriter w(direct);
    spec->write_msgpack(w);
    const Bytes json_form = json::to_msgpack(spec->to_json());
    EXPECT_EQ(direct, json_form) << text;
    // Snapshots keep fingerprints: they stay the hash of the JSON form.
    EXPECT_EQ(spec_fingerprint(*spec), XXH3_64bits(json_form.data(), json_form.size())) << text;
  }
}

}  // namespace
}  // namespace heck
