#include "core/scheduler.h"
#include "core/timer_table.h"

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace heck {
namespace {

TargetSpec spec(std::string id, int interval_ms = 1000, int timeout_ms = 500, int rise = 2, int fall = 3) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:8080/");
  s.interval = Duration::milliseconds(interval_ms);
  s.timeout = Duration::milliseconds(timeout_ms);
  s.rise = rise;
  s.fall = fall;
  return s;
}

// A virtual-time driver: fires timers in order and answers each check after
// `respond` says how (nullopt = never answer).
struct Harness {
  using Responder = std::function<std::optional<std::pair<Duration, CheckOutcome>>(const TargetSpec&, Instant)>;

  explicit Harness(std::uint64_t seed = 1, SchedulerConfig cfg = {}) : s(seed, cfg) {}

  CheckScheduler s;
  Instant now;
  TimerTable table;
  // The armed timers by key (a copy, for assertions).
  std::map<TimerKey, Instant> timers() const {
    const auto e = table.entries();
    return {e.begin(), e.end()};
  }
  struct Pending {
    Instant at;
    CheckId id;
    CheckOutcome outcome;
  };
  std::vector<Pending> pending;
  std::vector<std::pair<Instant, StartCheck>> starts;
  std::vector<std::pair<Instant, StatusChanged>> changes;
  std::vector<CheckFinished> finished;
  Responder respond = [](const TargetSpec&, Instant) {
    return std::make_optional(std::make_pair(Duration::milliseconds(10), CheckOutcome::response(200, {})));
  };

  void apply(Effects& out) {
    apply_effects(table, out, [&](Effect& e) {
      if (auto* st = std::get_if<StartCheck>(&e)) {
        starts.emplace_back(now, *st);
        if (auto r = respond(*st->spec, now)) {
          const Duration latency = std::min(r->first, st->deadline - now);
          CheckOutcome o = r->first >= st->deadline - now ? CheckOutcome::failure(CheckReason::timeout, latency)
                                                         : r->second;
          o.latency = latency;
          pending.push_back({now + latency, st->check, std::move(o)});
        }
      } else if (auto* ch = std::get_if<StatusChanged>(&e)) {
        changes.emplace_back(now, *ch);
      } else if (auto* f = std::get_if<CheckFinished>(&e)) {
        finished.push_back(*f);
      }
    });
    out.clear();
  }

  void add(TargetSpec t) {
    Effects out;
    s.add_target(now, std::move(t), out);
    apply(out);
  }

  // Runs until `until`, processing timers and check completions in time order.
  void run_until(Instant until) {
    Effects out;
    for (;;) {
      std::optional<Instant> next = table.next_deadline();
      std::optional<std::size_t> done;
      for (std::size_t i = 0; i < pending.size(); ++i) {
        if (!next || pending[i].at < *next) next = pending[i].at, done = i;
      }
      if (!next || *next > until) break;
      now = *next;
      if (done) {
        Pending p = std::move(pending[*done]);
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(*done));
        s.handle_check_done(now, p.id, std::move(p.outcome), out);
      } else {
        s.handle_timer(now, *table.pop_due(now), out);
      }
      apply(out);
    }
    now = until;
  }
};

Instant at_ms(std::int64_t ms) { return Instant::from_ns(0) + Duration::milliseconds(ms); }

TEST(Scheduler, FirstCheckAtRandomPhaseWithinInterval) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    Harness h(seed);
    h.add(spec("a", 1000, 500));
    ASSERT_EQ(h.timers().size(), 1u);
    const Instant first = h.timers().begin()->second;
    EXPECT_GE(first, at_ms(0));
    EXPECT_LT(first, at_ms(1000));
  }
}

TEST(Scheduler, ATakenOverTargetContinuesFromItsStatusAndChecksSoon) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Harness h(seed);
    Effects out;
    h.s.add_target(h.now, spec("a", 10'000, 500, 2, 3), out,
                   TargetStart{HealthStatus::healthy, Duration::milliseconds(500)});
    h.apply(out);
    ASSERT_EQ(h.timers().size(), 1u);
    EXPECT_LT(h.timers().begin()->second, at_ms(500));
    EXPECT_EQ(h.s.find("a")->status, HealthStatus::healthy);
  }
  // Continuing from healthy, it still takes `fall` failures to turn unhealthy.
  Harness h(1);
  h.respond = [](const TargetSpec&, Instant) {
    return std::make_optional(std::make_pair(Duration::milliseconds(10), CheckOutcome::response(503, {})));
  };
  Effects out;
  h.s.add_target(h.now, spec("a", 1000, 500, 2, 3), out, TargetStart{HealthStatus::healthy, Duration::milliseconds(100)});
  h.apply(out);
  h.run_until(at_ms(1500));
  EXPECT_EQ(h.s.find("a")->status, HealthStatus::healthy) << "two failures of three";
  EXPECT_TRUE(h.changes.empty());
  h.run_until(at_ms(2500));
  EXPECT_EQ(h.s.find("a")->status, HealthStatus::unhealthy);
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].second.from, HealthStatus::healthy);
}

TEST(Scheduler, PhasesSpreadAcrossTheInterval) {
  Harness h(3);
  for (int i = 0; i < 100; ++i) h.add(spec("t" + std::to_string(i), 1000, 500));
  int buckets[10] = {};
  for (auto& [k, at] : h.timers()) ++buckets[at.ms() / 100];
  for (int b : buckets) EXPECT_GT(b, 0);  // no empty tenth of the interval
}

TEST(Scheduler, HealthyAfterRiseSuccessesNotBefore) {
  Harness h;
  h.add(spec("a", 1000, 500, /*rise=*/3, /*fall=*/2));
  h.run_until(at_ms(10'000));
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].second.to, HealthStatus::healthy);
  // The third result made it healthy.
  int results_before = 0;
  for (auto& f : h.finished) {
    if (f.status == HealthStatus::healthy) break;
    ++results_before;
  }
  EXPECT_EQ(results_before, 2);
}

TEST(Scheduler, UnhealthyAfterFallFailuresWithReason) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant) {
    return std::make_optional(std::make_pair(Duration::milliseconds(5), CheckOutcome::response(503, {})));
  };
  h.add(spec("a", 1000, 500, 2, 3));
  h.run_until(at_ms(10'000));
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].second.from, HealthStatus::unknown);
  EXPECT_EQ(h.changes[0].second.to, HealthStatus::unhealthy);
  EXPECT_EQ(h.changes[0].second.cause.describe(), "status 503");
  EXPECT_EQ(h.finished[2].status, HealthStatus::unhealthy);
  EXPECT_EQ(h.finished[1].status, HealthStatus::unknown);
}

TEST(Scheduler, HysteresisIgnoresIsolatedFailures) {
  // Healthy target failing every third check with fall=3 never goes unhealthy.
  Harness h;
  int n = 0;
  h.respond = [&](const TargetSpec&, Instant) {
    const int code = (++n % 3 == 0) ? 500 : 200;
    return std::make_optional(std::make_pair(Duration::milliseconds(5), CheckOutcome::response(code, {})));
  };
  h.add(spec("a", 1000, 500, 2, 3));
  h.run_until(at_ms(60'000));
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].second.to, HealthStatus::healthy);
}

TEST(Scheduler, RecoversAfterRiseSuccesses) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant now) {
    const int code = now < at_ms(20'000) ? 503 : 200;
    return std::make_optional(std::make_pair(Duration::milliseconds(5), CheckOutcome::response(code, {})));
  };
  h.add(spec("a", 1000, 500, 2, 3));
  h.run_until(at_ms(30'000));
  ASSERT_EQ(h.changes.size(), 2u);
  EXPECT_EQ(h.changes[1].second.from, HealthStatus::unhealthy);
  EXPECT_EQ(h.changes[1].second.to, HealthStatus::healthy);
  // Two results after the recovery: within 2 intervals plus jitter.
  EXPECT_LE(h.changes[1].first, at_ms(20'000 + 2 * 1000 + 100 + 10));
}

TEST(Scheduler, TimeoutWhenNoAnswerByDeadline) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant) {
    return std::make_optional(std::make_pair(Duration::seconds(100), CheckOutcome::response(200, {})));
  };
  h.add(spec("a", 1000, 300, 2, 1));
  h.run_until(at_ms(3'000));
  ASSERT_FALSE(h.changes.empty());
  EXPECT_EQ(h.changes[0].second.cause.reason, CheckReason::timeout);
  EXPECT_EQ(h.changes[0].second.cause.latency, Duration::milliseconds(300));
}

TEST(Scheduler, LostReportIsCountedAsTimeoutAtTheNextRound) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant) { return std::nullopt; };  // a broken driver
  h.add(spec("a", 1000, 300, 2, 2));
  h.run_until(at_ms(5'000));
  const auto* t = h.s.find("a");
  ASSERT_NE(t, nullptr);
  EXPECT_GE(t->results_lost, 3u);
  EXPECT_EQ(t->status, HealthStatus::unhealthy);
  EXPECT_EQ(t->last_result.reason, CheckReason::timeout);
}

TEST(Scheduler, StaleAndUnknownResultsAreIgnored) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant) { return std::nullopt; };
  h.add(spec("a"));
  h.run_until(at_ms(1'000));
  ASSERT_EQ(h.starts.size(), 1u);
  const CheckId id = h.starts[0].second.check;
  Effects out;
  h.s.handle_check_done(h.now, CheckId{id.slot, id.seq + 7}, CheckOutcome::response(200, {}), out);
  h.s.handle_check_done(h.now, CheckId{99, 1}, CheckOutcome::response(200, {}), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.s.counters().stale_results, 2u);
  h.s.handle_check_done(h.now, id, CheckOutcome::response(200, {}), out);
  EXPECT_EQ(out.size(), 1u);  // CheckFinished
  h.s.handle_check_done(h.now, id, CheckOutcome::response(200, {}), out);  // duplicate
  EXPECT_EQ(h.s.counters().stale_results, 3u);
}

TEST(Scheduler, EarlyOrStaleTimerFiringsAreHarmless) {
  Harness h;
  h.add(spec("a"));
  const auto [key, at] = *h.timers().begin();
  Effects out;
  // Early: no check, the timer is re-armed for its due time.
  h.s.handle_timer(at - Duration::milliseconds(1), key, out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<SetTimer>(out[0]));
  EXPECT_EQ(std::get<SetTimer>(out[0]).at, at);
  out.clear();
  // A timer for a slot that holds no target: nothing at all.
  h.s.handle_timer(at, TimerKey{TimerKind::check, 42}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.s.counters().stale_timers, 2u);
  // Firing on time still checks.
  h.s.handle_timer(at, key, out);
  EXPECT_TRUE(std::holds_alternative<StartCheck>(out[0]));
}

TEST(Scheduler, RemovedTargetStopsAndIgnoresItsLateResult) {
  Harness h;
  h.respond = [](const TargetSpec&, Instant) { return std::nullopt; };
  h.add(spec("a"));
  h.run_until(at_ms(1'000));
  ASSERT_EQ(h.starts.size(), 1u);
  Effects out;
  EXPECT_TRUE(h.s.remove_target(h.now, "a", out));
  EXPECT_FALSE(h.s.remove_target(h.now, "a", out));
  h.apply(out);
  EXPECT_TRUE(h.timers().empty());
  // Re-adding reuses the slot; the old check's result must not leak into it.
  h.add(spec("a"));
  h.s.handle_check_done(h.now, h.starts[0].second.check, CheckOutcome::response(200, {}), out);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(h.s.find("a")->checked);
}

TEST(Scheduler, ChangedSpecRestartsIdenticalSpecIsNoop) {
  Harness h;
  h.add(spec("a"));
  h.run_until(at_ms(5'000));
  EXPECT_EQ(h.s.find("a")->status, HealthStatus::healthy);
  Effects out;
  h.s.add_target(h.now, spec("a"), out);
  EXPECT_TRUE(out.empty());
  h.s.add_target(h.now, spec("a", 2000, 500), out);
  EXPECT_EQ(h.s.find("a")->status, HealthStatus::unknown);
  EXPECT_EQ(h.s.find("a")->spec->interval, Duration::milliseconds(2000));
  EXPECT_EQ(h.s.size(), 1u);
}

TEST(Scheduler, ForEachVisitsInIdOrder) {
  Harness h;
  for (const char* id : {"c", "a", "b"}) h.add(spec(id));
  std::string order;
  h.s.for_each([&](const TargetState& t) { order += t.spec->id; });
  EXPECT_EQ(order, "abc");
}

TEST(Scheduler, LateTimerSkipsMissedRoundsWithoutABurst) {
  Harness h;
  h.add(spec("a", 1000, 500));
  const auto [key, first] = *h.timers().begin();
  Effects out;
  // The process was paused for 10 s: one check, and the next is a round away.
  h.s.handle_timer(first + Duration::seconds(10), key, out);
  int starts = 0;
  Instant next;
  for (auto& e : out) {
    starts += std::holds_alternative<StartCheck>(e);
    if (auto* t = std::get_if<SetTimer>(&e)) next = t->at;
  }
  EXPECT_EQ(starts, 1);
  EXPECT_GT(next, first + Duration::seconds(10));
  EXPECT_LE(next, first + Duration::seconds(11) + Duration::milliseconds(100));
}

// Properties over random specs, seeds and latencies: the jitter bound holds,
// interval is kept on average, and checks of one target never overlap.
RC_GTEST_PROP(Scheduler, JitterBoundedNoOverlapIntervalKept, ()) {
  const int interval_ms = *rc::gen::inRange(10, 5000);
  const int timeout_ms = *rc::gen::inRange(1, interval_ms);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const int latency_ms = *rc::gen::inRange(0, interval_ms * 2);
  Harness h(seed);
  h.respond = [&](const TargetSpec&, Instant) {
    return std::make_optional(std::make_pair(Duration::milliseconds(latency_ms), CheckOutcome::response(200, {})));
  };
  h.add(spec("a", interval_ms, timeout_ms));
  const int rounds = 50;
  h.run_until(at_ms(static_cast<std::int64_t>(interval_ms) * (rounds + 1)));
  const Duration interval = Duration::milliseconds(interval_ms);
  const Duration j = h.s.jitter_bound(*h.s.find("a")->spec);
  RC_ASSERT(j <= interval / 10);
  RC_ASSERT(j * 2 <= interval - Duration::milliseconds(timeout_ms));
  RC_ASSERT(h.starts.size() >= static_cast<std::size_t>(rounds));
  const Instant first = h.starts.front().first;
  for (std::size_t i = 0; i < h.starts.size(); ++i) {
    // Every start is within J of its grid point.
    const Instant grid = first + interval * static_cast<std::int64_t>(i);
    const Duration off = h.starts[i].first - grid;
    RC_ASSERT(off <= j * 2);
    RC_ASSERT(-off <= j * 2);
    if (i > 0) {
      // The previous check's deadline passed before this one started.
      RC_ASSERT(h.starts[i - 1].second.deadline <= h.starts[i].first);
    }
  }
  RC_ASSERT(h.s.find("a")->checks_skipped == 0u);
}

}  // namespace
}  // namespace heck
