// TargetHistory (runtime/target_history.h): uptime over a window from the
// transitions, its limits when history was dropped, and its bounds.
#include <gtest/gtest.h>

#include "runtime/target_history.h"

namespace heck::runtime {
namespace {

Instant at_s(int s) { return Instant::from_ns(0) + Duration::seconds(s); }

TargetHistory::Transition tr(int s, HealthStatus from, HealthStatus to) {
  return TargetHistory::Transition{at_s(s), from, to, "n1", ""};
}

constexpr auto U = HealthStatus::unknown, H = HealthStatus::healthy, D = HealthStatus::unhealthy;

TEST(TargetHistory, UptimeIsHealthyTimeOverKnownTimeInTheWindow) {
  TargetHistory h;
  h.transition("web", tr(100, U, H));  // first seen at 100, healthy
  h.transition("web", tr(400, H, D));  // down 400-500
  h.transition("web", tr(500, D, H));
  // Window of the last 1000 s at 1000: known 100..1000 = 900 s, 800 healthy.
  auto u = h.uptime("web", at_s(1000), Duration::seconds(1000));
  ASSERT_TRUE(u.fraction);
  EXPECT_NEAR(*u.fraction, 800.0 / 900.0, 1e-9);
  EXPECT_EQ(u.known, Duration::seconds(900));
  EXPECT_EQ(u.observed, Duration::seconds(900));
  // A window that starts inside the outage: 450..1000, 50 s down of 550.
  u = h.uptime("web", at_s(1000), Duration::seconds(550));
  EXPECT_NEAR(*u.fraction, 500.0 / 550.0, 1e-9);
  // A window after the last change: all healthy.
  u = h.uptime("web", at_s(1000), Duration::seconds(100));
  EXPECT_DOUBLE_EQ(*u.fraction, 1.0);
  // Unknown target: nothing known.
  u = h.uptime("db", at_s(1000), Duration::seconds(100));
  EXPECT_FALSE(u.fraction);
  EXPECT_EQ(u.observed, Duration::zero());
}

TEST(TargetHistory, UnknownTimeIsNotCountedAndDroppedHistoryIsNotGuessed) {
  TargetHistory h;
  h.transition("t", tr(0, U, D));
  h.transition("t", tr(10, D, U));  // unknown 10..20
  h.transition("t", tr(20, U, H));
  auto u = h.uptime("t", at_s(30), Duration::seconds(30));
  EXPECT_DOUBLE_EQ(*u.fraction, 0.5);  // 10 s down, 10 s up
  EXPECT_EQ(u.known, Duration::seconds(20));
  EXPECT_EQ(u.observed, Duration::seconds(30));
  // More transitions than kept: the oldest go, and the time before the
  // oldest kept one is not counted (its status is not known here).
  TargetHistory f;
  const int n = static_cast<int>(TargetHistory::kMaxTransitions) + 2;
  for (int i = 0; i < n; ++i) f.transition("flap", tr(i * 10, i % 2 ? D : H, i % 2 ? H : D));
  ASSERT_EQ(f.find("flap")->transitions.size(), TargetHistory::kMaxTransitions);
  EXPECT_TRUE(f.find("flap")->truncated);
  u = f.uptime("flap", at_s(n * 10), Duration::seconds(n * 10));
  EXPECT_EQ(u.observed, Duration::seconds(static_cast<int>(TargetHistory::kMaxTransitions) * 10));
}

TEST(TargetHistory, ForgetDropsEverything) {
  TargetHistory h;
  h.transition("web", tr(100, U, H));
  h.forget("web");
  EXPECT_EQ(h.find("web"), nullptr);
  EXPECT_EQ(h.size(), 0u);
}

// Saved and read back (an agent's restart): the transitions survive, and
// the time the agent was down is unknown time, neither up nor down.
TEST(TargetHistory, ReadBackAfterARestartTheDownTimeIsUnknown) {
  TargetHistory h;
  h.transition("web", tr(100, U, H));
  h.transition("web", tr(400, H, D));
  h.transition("db", tr(100, U, H));
  auto back = TargetHistory::from_json(h.to_json(at_s(500)));
  ASSERT_TRUE(back.ok()) << back.error();
  const auto* web = back->find("web");
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->transitions.size(), 3u);
  EXPECT_EQ(web->transitions[1].to, D);
  EXPECT_EQ(web->transitions[2].at, at_s(500));  // saved_at: from then on nothing was seen
  EXPECT_EQ(web->transitions[2].to, U);
  EXPECT_EQ(web->transitions[2].reason, "agent stopped");
  // Restarted at 800, healthy again at once: 100..400 up, 400..500 down,
  // 500..800 unknown, 800..1000 up.
  back->transition("web", tr(800, U, H));
  auto u = back->uptime("web", at_s(1000), Duration::seconds(1000));
  ASSERT_TRUE(u.fraction);
  EXPECT_EQ(u.known, Duration::seconds(600));
  EXPECT_NEAR(*u.fraction, 500.0 / 600.0, 1e-9);
  EXPECT_NE(back->find("db"), nullptr);
}

TEST(TargetHistory, ABadHistoryDocumentSaysWhatIsWrong) {
  auto error = [](const std::string& text) {
    auto r = TargetHistory::from_json(text);
    return r.ok() ? std::string("accepted") : r.error();
  };
  EXPECT_EQ(error("{"), "history: not a JSON object");
  EXPECT_EQ(error(R"({"version": 2, "saved_at_ns": 1, "targets": {}})"), "history.version: must be 1");
  EXPECT_EQ(error(R"({"version": 1, "targets": {}})"), "history.saved_at_ns: must be an integer");
  EXPECT_EQ(error(R"({"version": 1, "saved_at_ns": 1, "targets": {"a b": {}}})"), "history.targets.a b: not a target id");
  EXPECT_EQ(error(R"({"version": 1, "saved_at_ns": 1, "targets": {"web": {"first_seen_ns": 1, "status": "sick",
                      "truncated": false, "transitions": []}}})"),
            "history.targets.web: must be {first_seen_ns, status, truncated, transitions: [...]}");
  EXPECT_EQ(error(R"({"version": 1, "saved_at_ns": 1, "targets": {"web": {"first_seen_ns": 1, "status": "healthy",
                      "truncated": false, "transitions": [[1, "unknown", "healthy", "n1"]]}}})"),
            "history.targets.web.transitions[0]: must be [at_ns, from, to, observer, reason]");
  // Longer than the bound: the oldest go, and it says so.
  TargetHistory many;
  for (int i = 0; i < 100; ++i) many.transition("web", tr(i, i % 2 ? D : H, i % 2 ? H : D));
  std::string text = many.to_json(at_s(200));
  auto back = TargetHistory::from_json(text);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->find("web")->transitions.size(), TargetHistory::kMaxTransitions);
  EXPECT_TRUE(back->find("web")->truncated);
}

}  // namespace
}  // namespace heck::runtime
