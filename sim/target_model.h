// A simulated target: what it does to a check at each instant of true time.
//
// A target follows a behaviour timeline of phases, each starting at `at_ms`
// (the first at 0, strictly increasing):
//
//   up        answers `status` (default 200) with `body`, after `latency`
//   down      answers `status` (default 503) after `latency`        (http only)
//   refusing  refuses the connection after `latency` (default 1 ms)
//   timeout   never answers: the check times out at its deadline
//   slow      like up, with a latency that may exceed the timeout
//   flapping  alternates up / down every period_ms / 2, starting up; the
//             down half answers `down_status` (default 503; tcp: refuses)
//
//   {"at_ms": 0, "mode": "up", "latency": {"kind": "uniform", "min_ms": 1, "max_ms": 20}}
//   {"at_ms": 60000, "mode": "down", "status": 503}
//   {"at_ms": 90000, "mode": "slow", "latency": {...}, "truth": "unhealthy"}
//   {"at_ms": 120000, "mode": "flapping", "period_ms": 40000}
//
// The outcome of a check is decided when it starts (at true time t): the
// model draws a latency from the phase's distribution and the world delivers
// the outcome at min(latency, deadline).
//
// Truth. The truth of a target at t is what a check started at t would
// conclude: core's evaluate() applied to the phase's answer (so expect_status
// and expect_body count), refusing and timeout are unhealthy, and an answer
// whose latency can never beat the timeout is unhealthy. A `slow` phase whose
// latency straddles the timeout is healthy unless it declares "truth".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/check.h"
#include "core/health.h"
#include "core/random.h"
#include "core/result.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "sim/latency.h"

namespace heck::sim {

enum class Mode : std::uint8_t { up, down, refusing, timeout, slow, flapping };

std::string_view to_string(Mode m);

// What a target does while one (half-)phase lasts.
struct Behaviour {
  enum class Answer : std::uint8_t { respond, refuse, silent };
  Answer answer = Answer::respond;
  int status = 200;   // respond, http: the status code (tcp targets just accept)
  std::string body;   // respond: the body (sent when the spec has expect_body)
  LatencyDist latency = LatencyDist::constant(Duration::milliseconds(5));
  HealthStatus truth = HealthStatus::healthy;
};

struct Phase {
  Duration at;              // from the start of the run
  Mode mode = Mode::up;
  Behaviour main;           // the behaviour; flapping: the up half
  Behaviour down_half;      // flapping only
  Duration half_period;     // flapping only: period_ms / 2
};

// A target's answer to one check.
struct CheckAnswer {
  CheckReason transport = CheckReason::ok;  // ok (responded / connected) or connection_refused
  int status = 0;                           // http status when responded
  Duration latency;                         // Duration::max(): never answers
  const std::string* body = nullptr;        // responded, and the spec has expect_body: the body
};

// A change of truth: from `from` to `to` at `at`. The first transition of a
// target is at 0 from unknown.
struct TruthTransition {
  Instant at;
  HealthStatus from = HealthStatus::unknown;
  HealthStatus to = HealthStatus::unknown;
};

// The part of a behaviour that answering a check needs, compact enough for
// a world to keep a copy per (member, target).
struct Reply {
  LatencyDist latency = LatencyDist::constant(Duration::zero());
  const std::string* body = nullptr;  // nullptr unless the spec has expect_body
  std::uint16_t status = 0;           // respond: the HTTP status; 0 for tcp targets
  Behaviour::Answer answer = Behaviour::Answer::respond;

  // One check's answer; draws its latency from `rng`.
  CheckAnswer draw(Rng& rng) const;
};

class TargetModel {
 public:
  static constexpr std::size_t kMaxPhases = 10'000;
  static constexpr std::int64_t kMaxAtMs = 30LL * 86'400'000;  // 30 days
  static constexpr std::size_t kMaxTransitions = 1'000'000;     // per target per analysis

  // Parses a behaviour timeline for `spec`. `where` prefixes errors, e.g.
  // "targets[3].behaviour" gives "targets[3].behaviour[1].mode: …".
  static Result<TargetModel> from_json(TargetSpec spec, const nlohmann::json& behaviour,
                                       std::string_view where = "behaviour");

  // The behaviour timeline as JSON that from_json(spec(), …) reads back as
  // this model.
  nlohmann::json behaviour_json() const;

  const TargetSpec& spec() const { return spec_; }
  const std::vector<Phase>& phases() const { return phases_; }

  // The phase in force at true time t (t >= 0).
  const Phase& phase_at(Instant t) const;
  // The behaviour in force at t (the half of a flapping phase).
  const Behaviour& behaviour_at(Instant t) const;
  HealthStatus truth_at(Instant t) const { return behaviour_at(t).truth; }
  // The first instant after t at which the behaviour changes, if any.
  std::optional<Instant> next_change(Instant t) const;

  // How the target answers a check started at t. The reply stays the same
  // until next_change(t).
  Reply reply_at(Instant t) const;
  // The answer to a check started at t; draws its latency from `rng`.
  CheckAnswer answer(Instant t, Rng& rng) const { return reply_at(t).draw(rng); }

  // Every truth transition in [0, end), the first at 0 from unknown; at most
  // kMaxTransitions (then truncated).
  std::vector<TruthTransition> truth_transitions(Instant end) const;

  // Shifts every phase but the first by `d` (for generated target groups).
  void shift_phases(Duration d);

 private:
  TargetSpec spec_;
  std::vector<Phase> phases_;
};

}  // namespace heck::sim
