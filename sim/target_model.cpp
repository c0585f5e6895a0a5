#include "sim/target_model.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"

namespace heck::sim {

namespace jf = heck::json_fields;
using nlohmann::json;

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::up: return "up";
    case Mode::down: return "down";
    case Mode::refusing: return "refusing";
    case Mode::timeout: return "timeout";
    case Mode::slow: return "slow";
    case Mode::flapping: return "flapping";
  }
  return "?";
}

namespace {

constexpr std::size_t kMaxBodySize = 64 * 1024;

std::optional<Mode> parse_mode(std::string_view s) {
  for (Mode m : {Mode::up, Mode::down, Mode::refusing, Mode::timeout, Mode::slow, Mode::flapping}) {
    if (to_string(m) == s) return m;
  }
  return std::nullopt;
}

// The truth of a responding behaviour: what core's evaluate() makes of the
// answer, and unhealthy when the answer can never beat the timeout.
HealthStatus respond_truth(const TargetSpec& spec, const Behaviour& b) {
  if (b.latency.min() >= spec.timeout) return HealthStatus::unhealthy;
  const bool ok = evaluate(spec, CheckOutcome::response(b.status, Duration::zero(), b.body)).ok();
  return ok ? HealthStatus::healthy : HealthStatus::unhealthy;
}

LatencyDist read_latency(const json& j, const std::string& where, LatencyDist fallback) {
  auto it = j.find("latency");
  if (it == j.end()) return fallback;
  auto l = LatencyDist::from_json(*it, jf::path(where, "latency"));
  if (!l) jf::fail(l.error());
  return *l;
}

int read_status(const json& j, const std::string& where, std::string_view key, int fallback) {
  return static_cast<int>(jf::take(jf::opt_int(j, where, key, 100, 599)).value_or(fallback));
}

Phase parse_phase(const TargetSpec& spec, const json& j, const std::string& where) {
  if (!j.is_object()) jf::fail(fmt::format("{}: must be an object, got {}", where, jf::type_name(j)));
  const std::string mode_text = jf::take(jf::get_string(j, where, "mode", 32));
  const auto mode = parse_mode(mode_text);
  if (!mode) {
    jf::fail(fmt::format("{}: '{}' is not one of up, down, refusing, timeout, slow, flapping",
                         jf::path(where, "mode"), mode_text));
  }
  const bool tcp = spec.url.scheme == Scheme::tcp;
  const auto default_latency = LatencyDist::constant(Duration::milliseconds(5));
  Phase p;
  p.mode = *mode;
  p.at = Duration::milliseconds(jf::take(jf::get_int(j, where, "at_ms", 0, TargetModel::kMaxAtMs)));
  Behaviour& b = p.main;
  auto no_http_fields = [&](std::string_view key) {
    if (tcp && j.contains(key)) {
      jf::fail(fmt::format("{}: only applies to http and https targets", jf::path(where, key)));
    }
  };
  switch (*mode) {
    case Mode::up:
    case Mode::slow:
      jf::take(jf::expect_object(j, where, {"at_ms", "mode", "status", "body", "latency", "truth"}));
      no_http_fields("status");
      no_http_fields("body");
      b.answer = Behaviour::Answer::respond;
      b.status = read_status(j, where, "status", 200);
      b.body = jf::take(jf::opt_string(j, where, "body", kMaxBodySize)).value_or("");
      if (*mode == Mode::slow && !j.contains("latency")) {
        jf::fail(fmt::format("{}: missing (a slow target needs a latency distribution)", jf::path(where, "latency")));
      }
      b.latency = read_latency(j, where, default_latency);
      b.truth = respond_truth(spec, b);
      if (j.contains("truth")) {
        if (*mode != Mode::slow) jf::fail(fmt::format("{}: only applies to slow phases", jf::path(where, "truth")));
        const auto text = jf::take(jf::get_string(j, where, "truth", 16));
        const auto truth = parse_health_status(text);
        if (!truth || *truth == HealthStatus::unknown) {
          jf::fail(fmt::format("{}: '{}' is not healthy or unhealthy", jf::path(where, "truth"), text));
        }
        b.truth = *truth;
      }
      break;
    case Mode::down:
      jf::take(jf::expect_object(j, where, {"at_ms", "mode", "status", "latency"}));
      if (tcp) {
        jf::fail(fmt::format("{}: 'down' answers with an HTTP status; a tcp target can be refusing or timeout",
                             jf::path(where, "mode")));
      }
      b.answer = Behaviour::Answer::respond;
      b.status = read_status(j, where, "status", 503);
      b.latency = read_latency(j, where, default_latency);
      b.truth = respond_truth(spec, b);
      break;
    case Mode::refusing:
      jf::take(jf::expect_object(j, where, {"at_ms", "mode", "latency"}));
      b.answer = Behaviour::Answer::refuse;
      b.latency = read_latency(j, where, LatencyDist::constant(Duration::milliseconds(1)));
      b.truth = HealthStatus::unhealthy;
      break;
    case Mode::timeout:
      jf::take(jf::expect_object(j, where, {"at_ms", "mode"}));
      b.answer = Behaviour::Answer::silent;
      b.truth = HealthStatus::unhealthy;
      break;
    case Mode::flapping: {
      jf::take(jf::expect_object(j, where, {"at_ms", "mode", "period_ms", "body", "down_status", "latency"}));
      no_http_fields("body");
      no_http_fields("down_status");
      const auto period_ms = jf::take(jf::get_int(j, where, "period_ms", 2, TargetModel::kMaxAtMs));
      p.half_period = Duration::milliseconds(period_ms) / 2;
      b.answer = Behaviour::Answer::respond;
      b.status = 200;
      b.body = jf::take(jf::opt_string(j, where, "body", kMaxBodySize)).value_or("");
      b.latency = read_latency(j, where, default_latency);
      b.truth = respond_truth(spec, b);
      Behaviour& d = p.down_half;
      d.latency = b.latency;
      if (tcp) {
        d.answer = Behaviour::Answer::refuse;
        d.truth = HealthStatus::unhealthy;
      } else {
        d.answer = Behaviour::Answer::respond;
        d.status = read_status(j, where, "down_status", 503);
        d.truth = respond_truth(spec, d);
      }
      break;
    }
  }
  return p;
}

}  // namespace

Result<TargetModel> TargetModel::from_json(TargetSpec spec, const json& behaviour, std::string_view where) {
  TargetModel m;
  m.spec_ = std::move(spec);
  try {
    if (!behaviour.is_array()) {
      jf::fail(fmt::format("{}: must be an array of phases, got {}", where, jf::type_name(behaviour)));
    }
    if (behaviour.empty()) jf::fail(fmt::format("{}: must have at least one phase", where));
    if (behaviour.size() > kMaxPhases) jf::fail(fmt::format("{}: more than {} phases", where, kMaxPhases));
    for (std::size_t i = 0; i < behaviour.size(); ++i) {
      const auto w = fmt::format("{}[{}]", where, i);
      Phase p = parse_phase(m.spec_, behaviour[i], w);
      if (i == 0 && p.at != Duration::zero()) jf::fail(fmt::format("{}.at_ms: the first phase must start at 0", w));
      if (i > 0 && p.at <= m.phases_.back().at) {
        jf::fail(fmt::format("{}.at_ms: {} must be after the previous phase ({})", w, p.at.ms(),
                             m.phases_.back().at.ms()));
      }
      m.phases_.push_back(std::move(p));
    }
  } catch (const jf::FieldError& e) {
    return Error{e.message};
  }
  return m;
}

nlohmann::json TargetModel::behaviour_json() const {
  const bool http = spec_.url.scheme != Scheme::tcp;
  json out = json::array();
  for (const Phase& p : phases_) {
    const Behaviour& b = p.main;
    json j = {{"at_ms", p.at.ms()}, {"mode", to_string(p.mode)}};
    switch (p.mode) {
      case Mode::up:
      case Mode::slow:
        if (http) j["status"] = b.status;
        if (http && !b.body.empty()) j["body"] = b.body;
        j["latency"] = b.latency.to_json();
        if (p.mode == Mode::slow) j["truth"] = to_string(b.truth);
        break;
      case Mode::down:
        j["status"] = b.status;
        j["latency"] = b.latency.to_json();
        break;
      case Mode::refusing: j["latency"] = b.latency.to_json(); break;
      case Mode::timeout: break;
      case Mode::flapping:
        j["period_ms"] = (p.half_period * 2).ms();
        if (http && !b.body.empty()) j["body"] = b.body;
        if (http) j["down_status"] = p.down_half.status;
        j["latency"] = b.latency.to_json();
        break;
    }
    out.push_back(std::move(j));
  }
  return out;
}

const Phase& TargetModel::phase_at(Instant t) const {
  assert(!phases_.empty());
  const Duration since = t - Instant::from_ns(0);
  auto it = std::upper_bound(phases_.begin(), phases_.end(), since,
                             [](Duration x, const Phase& p) { return x < p.at; });
  return it == phases_.begin() ? phases_.front() : *(it - 1);
}

const Behaviour& TargetModel::behaviour_at(Instant t) const {
  const Phase& p = phase_at(t);
  if (p.mode != Mode::flapping) return p.main;
  const std::int64_t half = ((t - Instant::from_ns(0)) - p.at).ns() / p.half_period.ns();
  return half % 2 == 0 ? p.main : p.down_half;
}

std::optional<Instant> TargetModel::next_change(Instant t) const {
  const Duration since = t - Instant::from_ns(0);
  auto it = std::upper_bound(phases_.begin(), phases_.end(), since,
                             [](Duration x, const Phase& p) { return x < p.at; });
  std::optional<Instant> next;
  if (it != phases_.end()) next = Instant::from_ns(0) + it->at;
  if (it != phases_.begin()) {
    const Phase& p = *(it - 1);
    if (p.mode == Mode::flapping) {
      const std::int64_t half = (since - p.at).ns() / p.half_period.ns();
      const Instant flip = Instant::from_ns(0) + p.at + p.half_period * (half + 1);
      if (!next || flip < *next) next = flip;
    }
  }
  return next;
}

Reply TargetModel::reply_at(Instant t) const {
  const Behaviour& b = behaviour_at(t);
  Reply r;
  r.answer = b.answer;
  r.latency = b.latency;
  r.status = static_cast<std::uint16_t>(spec_.url.scheme == Scheme::tcp ? 0 : b.status);
  // The body travels only when the spec asks for it, as in the runtime.
  if (spec_.http->expect_body) r.body = &b.body;
  return r;
}

CheckAnswer Reply::draw(Rng& rng) const {
  CheckAnswer a;
  switch (answer) {
    case Behaviour::Answer::respond:
      a.status = status;
      a.body = body;
      a.latency = latency.sample(rng);
      break;
    case Behaviour::Answer::refuse:
      a.transport = CheckReason::connection_refused;
      a.latency = latency.sample(rng);
      break;
    case Behaviour::Answer::silent:
      a.transport = CheckReason::timeout;
      a.latency = Duration::max();
      break;
  }
  return a;
}

std::vector<TruthTransition> TargetModel::truth_transitions(Instant end) const {
  std::vector<TruthTransition> out;
  Instant t = Instant::from_ns(0);
  HealthStatus cur = truth_at(t);
  out.push_back({t, HealthStatus::unknown, cur});
  // Bounded twice: by transitions kept and by behaviour changes walked (a
  // flapping phase whose halves share a truth changes without transitions).
  for (std::size_t steps = 0; out.size() < kMaxTransitions && steps < 16 * kMaxTransitions; ++steps) {
    const auto next = next_change(t);
    if (!next || *next >= end) break;
    t = *next;
    const HealthStatus now = truth_at(t);
    if (now != cur) {
      out.push_back({t, cur, now});
      cur = now;
    }
  }
  return out;
}

void TargetModel::shift_phases(Duration d) {
  assert(d >= Duration::zero());
  for (std::size_t i = 1; i < phases_.size(); ++i) phases_[i].at += d;
}

}  // namespace heck::sim
