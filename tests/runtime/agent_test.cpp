// The agent's effect application, with a fake check runner: timers are real
// asio timers (short intervals), but no test asserts on elapsed time; every
// wait is bounded.
#include "runtime/agent.h"

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/runtime/fake_check_runner.h"

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;
using testing::FakeCheckRunner;

TargetSpec spec(std::string id, std::int64_t interval_ms = 40, std::int64_t timeout_ms = 20, int rise = 1,
                int fall = 1) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:9/health");
  s.interval = Duration::milliseconds(interval_ms);
  s.timeout = Duration::milliseconds(timeout_ms);
  s.rise = rise;
  s.fall = fall;
  return s;
}

class AgentTest : public ::testing::Test {
 protected:
  void make(std::vector<TargetSpec> targets, std::size_t log_capacity = 100) {
    ClusterNodeConfig config;
    config.name = "test-agent";
    config.address = "127.0.0.1:7946";  // no transport here: sends are counted and dropped
    config.targets = std::move(targets);
    AgentOptions options;
    options.status_log_capacity = log_capacity;
    options.log = [this](std::string_view line) { lines.emplace_back(line); };
    options.seed = 42;
    agent = std::make_unique<Agent>(io, clock, runner, std::move(config), std::move(options));
  }

  // Runs handlers until `pred` holds; false if 5 s pass first (a hang).
  template <typename P>
  bool run_until(P pred) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > limit) return false;
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  const TargetState& state(std::string_view id) { return *agent->node().scheduler().find(id); }

  boost::asio::io_context io;
  Clock clock;
  FakeCheckRunner runner;
  std::vector<std::string> lines;
  std::unique_ptr<Agent> agent;
};

TEST_F(AgentTest, OneWakeTimerFollowsTheEarliestDeadline) {
  make({spec("a", 1000, 100), spec("b", 1000, 100), spec("c", 1000, 100)});
  agent->start();
  // Check, membership and replication timers, one wait for all of them.
  EXPECT_GT(agent->armed_timers(), 3u);
  ASSERT_TRUE(agent->wake_deadline().has_value());
  EXPECT_EQ(agent->wake_deadline(), agent->timers().next_deadline());
  ASSERT_TRUE(run_until([&] { return agent->counters().checks_started >= 3; }));
  EXPECT_GE(agent->counters().wakeups, 1u);
  EXPECT_EQ(agent->wake_deadline(), agent->timers().next_deadline());
  agent->submit(DeleteTarget{"a"});
  EXPECT_EQ(agent->wake_deadline(), agent->timers().next_deadline());
  agent->stop();
  EXPECT_FALSE(agent->wake_deadline().has_value());
}

TEST_F(AgentTest, StartArmsOneTimerPerTarget) {
  make({spec("a", 1000, 100), spec("b", 1000, 100)});
  const Instant before = clock.now();
  agent->start();
  // One check timer per target (membership and replication arm their own).
  EXPECT_EQ(agent->armed_timers(TimerKind::check), 2u);
  for (std::uint32_t slot = 0; slot < 2; ++slot) {
    auto at = agent->timer_deadline(TimerKey{TimerKind::check, slot});
    ASSERT_TRUE(at.has_value());
    EXPECT_GE(*at, before);
    EXPECT_LT(*at, clock.now() + Duration::milliseconds(1000));
  }
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("agent test-agent started: 2 targets"));
  agent->stop();
}

TEST_F(AgentTest, TimerStartsACheckWhoseResultStepsTheNode) {
  make({spec("web")});
  agent->start();
  ASSERT_TRUE(run_until([&] { return !runner.pending.empty(); }));
  const auto& call = runner.pending.front();
  EXPECT_EQ(call.spec->id, "web");
  EXPECT_GT(call.timeout, Duration::zero());
  EXPECT_LE(call.timeout, Duration::milliseconds(20));
  EXPECT_EQ(agent->counters().checks_started, 1u);

  runner.complete_next(CheckOutcome::response(200, Duration::milliseconds(3)));
  EXPECT_EQ(agent->counters().checks_done, 1u);
  EXPECT_EQ(state("web").status, HealthStatus::healthy);
  EXPECT_TRUE(state("web").checked);

  // One log line per status change, in the documented shape.
  ASSERT_EQ(agent->recent_changes().size(), 1u);
  const auto& change = agent->recent_changes().back();
  EXPECT_EQ(change.target, "web");
  EXPECT_EQ(change.from, HealthStatus::unknown);
  EXPECT_EQ(change.to, HealthStatus::healthy);
  EXPECT_EQ(Agent::describe_change(change), "target web unknown -> healthy (ok (status 200))");
  EXPECT_THAT(lines.back(), ::testing::MatchesRegex(
                                "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z target web unknown -> "
                                "healthy \\(ok \\(status 200\\)\\)$"));

  const std::string m = agent->render_metrics();
  EXPECT_THAT(m, HasSubstr("heck_checks_total{target=\"web\",result=\"ok\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_check_duration_seconds_bucket{target=\"web\",le=\"0.0025\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("heck_check_duration_seconds_bucket{target=\"web\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_check_duration_seconds_count{target=\"web\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_status_changes_total{target=\"web\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_target_up{target=\"web\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_target_status{target=\"web\",status=\"healthy\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_target_status{target=\"web\",status=\"unknown\"} 0\n"));
  agent->stop();
}

TEST_F(AgentTest, UnknownTargetsHaveNoUpSeries) {
  make({spec("web", 1000, 100)});
  agent->start();
  const std::string m = agent->render_metrics();
  EXPECT_THAT(m, ::testing::Not(HasSubstr("heck_target_up{")));
  EXPECT_THAT(m, HasSubstr("heck_target_status{target=\"web\",status=\"unknown\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_build_info{version=\"0.1.0\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("heck_checks_in_flight 0\n"));
  EXPECT_THAT(m, HasSubstr("heck_store_available{kind=\"gossip\"} 1\n"));
  agent->stop();
}

TEST_F(AgentTest, FailuresAndRecoveriesAreLoggedAndTheLogIsBounded) {
  make({spec("web")}, /*log_capacity=*/2);
  agent->start();
  // healthy, unhealthy, healthy: three changes, the log keeps the last two.
  const CheckOutcome outcomes[] = {CheckOutcome::response(200, Duration::milliseconds(1)),
                                   CheckOutcome::response(503, Duration::milliseconds(1)),
                                   CheckOutcome::response(200, Duration::milliseconds(1))};
  for (const auto& o : outcomes) {
    ASSERT_TRUE(run_until([&] { return !runner.pending.empty(); }));
    runner.complete_next(o);
  }
  EXPECT_EQ(agent->counters().status_changes, 3u);
  ASSERT_EQ(agent->recent_changes().size(), 2u);
  EXPECT_EQ(agent->recent_changes().front().to, HealthStatus::unhealthy);
  EXPECT_EQ(agent->recent_changes().front().cause.describe(), "status 503");
  EXPECT_EQ(agent->recent_changes().back().to, HealthStatus::healthy);
  EXPECT_THAT(agent->render_metrics(), HasSubstr("heck_checks_total{target=\"web\",result=\"bad_status\"} 1\n"));
  agent->stop();
}

TEST_F(AgentTest, ReplacingATimerMakesTheOldCompletionStale) {
  make({spec("web", 1000, 100)});
  agent->start();
  const auto key = TimerKey{TimerKind::check, 0};
  const auto first = agent->timer_deadline(key);
  ASSERT_TRUE(first.has_value());
  // A changed spec restarts the target: CancelTimer then SetTimer on the same key.
  TargetSpec changed = spec("web", 2000, 100);
  const auto cancelled = agent->counters().timers_cancelled;
  agent->submit(PutTarget{changed});
  EXPECT_EQ(agent->counters().timers_cancelled, cancelled + 1);
  ASSERT_TRUE(agent->timer_deadline(key).has_value());
  EXPECT_EQ(agent->armed_timers(TimerKind::check), 1u);
  // The cancelled wait completes (operation_aborted) and is dropped.
  ASSERT_TRUE(run_until([&] { return agent->counters().stale_timer_completions >= 1; }));
  EXPECT_EQ(agent->counters().checks_started, 0u);
  EXPECT_EQ(state("web").spec->interval, Duration::milliseconds(2000));
  agent->stop();
}

TEST_F(AgentTest, ARunnerThatCompletesInsideRunIsHandledInOrder) {
  runner.synchronous = true;
  make({spec("a"), spec("b")});
  agent->start();
  ASSERT_TRUE(run_until([&] { return agent->counters().checks_done >= 4; }));
  EXPECT_EQ(state("a").status, HealthStatus::healthy);
  EXPECT_EQ(state("b").status, HealthStatus::healthy);
  EXPECT_EQ(agent->counters().handler_errors, 0u);
  EXPECT_EQ(agent->node().scheduler().counters().stale_results, 0u);
  agent->stop();
}

TEST_F(AgentTest, AnExceptionInAHandlerIsCaughtLoggedAndCounted) {
  runner.throw_on_run = true;
  make({spec("a")});
  agent->start();
  ASSERT_TRUE(run_until([&] { return agent->counters().handler_errors >= 2; }));
  // The agent keeps going: the timer was re-armed after the failing start.
  EXPECT_GE(agent->armed_timers(), 1u);
  EXPECT_THAT(agent->render_metrics(), ::testing::ContainsRegex("heck_handler_errors_total [2-9]"));
  bool logged = false;
  for (const auto& l : lines) logged |= l.find("agent error in effect: fake runner refuses") != std::string::npos;
  EXPECT_TRUE(logged);
  agent->stop();
}

TEST_F(AgentTest, StopCancelsTimersDropsLateResultsAndLetsTheLoopEnd) {
  make({spec("a"), spec("b", 1000, 100)});
  agent->start();
  ASSERT_TRUE(run_until([&] { return !runner.pending.empty(); }));
  agent->stop();
  EXPECT_TRUE(agent->stopped());
  EXPECT_EQ(agent->armed_timers(), 0u);
  runner.complete_next(CheckOutcome::response(200, Duration::milliseconds(1)));
  EXPECT_EQ(agent->counters().dropped_after_stop, 1u);
  EXPECT_FALSE(state("a").checked);
  // Nothing is left to run: the io_context runs out of work.
  io.restart();
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (io.run_one_for(std::chrono::milliseconds(100)) > 0 && std::chrono::steady_clock::now() < limit) {
  }
  io.restart();
  EXPECT_EQ(io.poll(), 0u);
  EXPECT_TRUE(runner.pending.empty());
}

TEST_F(AgentTest, ALateResultCountsAsTimeoutThenTheStaleReportIsIgnored) {
  make({spec("web")});
  agent->start();
  ASSERT_TRUE(run_until([&] { return runner.pending.size() == 1; }));
  // Never answer the first check: at the next round the scheduler records it
  // as lost (a timeout) and starts another.
  ASSERT_TRUE(run_until([&] { return runner.pending.size() == 2; }));
  EXPECT_EQ(state("web").results_lost, 1u);
  EXPECT_EQ(state("web").last_result.reason, CheckReason::timeout);
  runner.complete_next(CheckOutcome::response(200, Duration::milliseconds(1)));  // the stale one
  EXPECT_EQ(agent->node().scheduler().counters().stale_results, 1u);
  EXPECT_THAT(agent->render_metrics(), HasSubstr("heck_stale_results_total 1\n"));
  EXPECT_THAT(agent->render_metrics(), HasSubstr("heck_results_lost_total 1\n"));
  agent->stop();
}

}  // namespace
}  // namespace heck::runtime
