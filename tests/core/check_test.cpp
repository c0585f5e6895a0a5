#include "core/check.h"

#include <gtest/gtest.h>

namespace heck {
namespace {

TargetSpec http_spec() {
  TargetSpec s;
  s.id = detached_name("t");
  s.url = *Url::parse("http://127.0.0.1:8080/healthz");
  return s;
}

TEST(Evaluate, DefaultExpectsTwoHundredToThreeNinetyNine) {
  const auto spec = http_spec();
  EXPECT_TRUE(evaluate(spec, CheckOutcome::response(200, Duration::milliseconds(3))).ok());
  EXPECT_TRUE(evaluate(spec, CheckOutcome::response(399, {})).ok());
  const auto r = evaluate(spec, CheckOutcome::response(503, {}));
  EXPECT_EQ(r.reason, CheckReason::bad_status);
  EXPECT_EQ(r.describe(), "status 503");
  EXPECT_EQ(evaluate(spec, CheckOutcome::response(400, {})).reason, CheckReason::bad_status);
}

TEST(Evaluate, BodySubstring) {
  auto spec = http_spec();
  spec.http.edit().expect_body = "ok";
  EXPECT_TRUE(evaluate(spec, CheckOutcome::response(200, {}, "all ok\n")).ok());
  const auto r = evaluate(spec, CheckOutcome::response(200, {}, "degraded"));
  EXPECT_EQ(r.reason, CheckReason::body_mismatch);
  // A bad status is reported before the body.
  EXPECT_EQ(evaluate(spec, CheckOutcome::response(500, {}, "ok")).reason, CheckReason::bad_status);
}

TEST(Evaluate, TransportFailuresPassThroughWithDetail) {
  const auto r = evaluate(http_spec(), CheckOutcome::failure(CheckReason::connection_refused,
                                                             Duration::milliseconds(1), "connect: refused"));
  EXPECT_EQ(r.reason, CheckReason::connection_refused);
  EXPECT_EQ(r.describe(), "connection refused: connect: refused");
  EXPECT_EQ(r.latency, Duration::milliseconds(1));
}

TEST(Evaluate, TcpConnectIsEnough) {
  TargetSpec s;
  s.id = detached_name("db");
  s.url = *Url::parse("tcp://127.0.0.1:5432");
  EXPECT_TRUE(evaluate(s, CheckOutcome::connected(Duration::milliseconds(1))).ok());
  EXPECT_EQ(evaluate(s, CheckOutcome::failure(CheckReason::timeout, {})).reason, CheckReason::timeout);
}

}  // namespace
}  // namespace heck
