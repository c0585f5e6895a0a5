// validate(SwimConfig): the one set of rules the daemon and the simulator
// apply (both call it; tests/runtime/agent_config_test.cpp and the simulator's
// scenario tests check each side refuses the same configs).
#include "core/membership/swim_config_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck {
namespace {

using ::testing::HasSubstr;

std::string error_of(const SwimConfig& c, std::string_view prefix = "swim.") {
  auto r = validate(c, prefix);
  return r ? std::string() : r.error();
}

TEST(SwimConfigCheck, DefaultsAreValid) { EXPECT_TRUE(validate(SwimConfig{})); }

TEST(SwimConfigCheck, ProbeTimeoutMustBeBelowTheInterval) {
  SwimConfig c;
  c.probe_interval = Duration::milliseconds(100);
  c.probe_timeout = Duration::milliseconds(100);
  EXPECT_THAT(error_of(c), HasSubstr("swim.probe_timeout_ms: must be less than the probe interval"));
  c.probe_timeout = Duration::milliseconds(5000);
  c.probe_interval = Duration::milliseconds(2000);
  EXPECT_THAT(error_of(c), HasSubstr("swim.probe_timeout_ms: 5000 is above probe_interval_ms (2000)"));
  c.probe_timeout = Duration::milliseconds(1999);
  EXPECT_TRUE(validate(c));
}

TEST(SwimConfigCheck, RangesNameTheFieldWithThePrefix) {
  SwimConfig c;
  c.probe_interval = Duration::milliseconds(5);
  c.probe_timeout = Duration::milliseconds(1);
  EXPECT_THAT(error_of(c, "--swim "), HasSubstr("--swim probe_interval_ms: must be at least 10, got 5"));
  c = SwimConfig{};
  c.push_pull_interval = Duration::milliseconds(50);
  EXPECT_THAT(error_of(c), HasSubstr("swim.push_pull_interval_ms: must be at least 100"));
  c = SwimConfig{};
  c.indirect_checks = 33;
  EXPECT_THAT(error_of(c), HasSubstr("swim.indirect_checks: must be at most 32"));
  c = SwimConfig{};
  c.max_packet_bytes = 100;
  EXPECT_THAT(error_of(c), HasSubstr("swim.max_packet_bytes: must be at least 512"));
  c = SwimConfig{};
  c.dead_reap_after = Duration::milliseconds(10);
  EXPECT_THAT(error_of(c), HasSubstr("swim.dead_reap_after_ms: must be at least 1000"));
  c = SwimConfig{};
  c.min_join_backoff = Duration::seconds(10);
  c.max_join_backoff = Duration::seconds(5);
  EXPECT_THAT(error_of(c), HasSubstr("swim.max_join_backoff_ms: 5000 is below min_join_backoff_ms (10000)"));
  c = SwimConfig{};
  c.nack_timeout_fraction = 0.0;
  EXPECT_THAT(error_of(c), HasSubstr("swim.nack_timeout_fraction"));
}

}  // namespace
}  // namespace heck
