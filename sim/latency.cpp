#include "sim/latency.h"

#include <cassert>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"

namespace heck::sim {

namespace jf = heck::json_fields;

LatencyDist LatencyDist::constant(Duration d) {
  assert(d >= Duration::zero() && d <= kMaxLatency);
  LatencyDist l;
  l.kind_ = Kind::constant;
  l.a_ = d;
  l.b_ = d;
  return l;
}

LatencyDist LatencyDist::uniform(Duration lo, Duration hi) {
  assert(lo >= Duration::zero() && lo <= hi && hi <= kMaxLatency);
  LatencyDist l;
  l.kind_ = Kind::uniform;
  l.a_ = lo;
  l.b_ = hi;
  return l;
}

LatencyDist LatencyDist::exponential(Duration mean, Duration floor) {
  assert(floor >= Duration::zero() && floor <= mean && mean <= kMaxLatency);
  LatencyDist l;
  l.kind_ = Kind::exponential;
  l.a_ = floor;
  l.b_ = mean;
  return l;
}

Duration LatencyDist::sample(Rng& rng) const {
  switch (kind_) {
    case Kind::constant: return a_;
    case Kind::uniform: return rng.duration_between(a_, b_);
    case Kind::exponential: {
      const double tail_ns = rng.exponential(static_cast<double>((b_ - a_).ns()));
      const double cap_ns = static_cast<double>((kMaxLatency - a_).ns());
      return a_ + Duration::nanoseconds(static_cast<std::int64_t>(std::min(tail_ns, cap_ns)));
    }
  }
  return a_;
}

Duration LatencyDist::mean() const {
  switch (kind_) {
    case Kind::constant: return a_;
    case Kind::uniform: return a_ + (b_ - a_) / 2;
    case Kind::exponential: return b_;
  }
  return a_;
}

nlohmann::json LatencyDist::to_json() const {
  auto ms = [](Duration d) { return static_cast<double>(d.ns()) / 1e6; };
  switch (kind_) {
    case Kind::constant: return {{"kind", "constant"}, {"ms", ms(a_)}};
    case Kind::uniform: return {{"kind", "uniform"}, {"min_ms", ms(a_)}, {"max_ms", ms(b_)}};
    case Kind::exponential: return {{"kind", "exponential"}, {"mean_ms", ms(b_)}, {"floor_ms", ms(a_)}};
  }
  return nullptr;
}

namespace {

Duration ms_to_duration(double ms) { return Duration::nanoseconds(static_cast<std::int64_t>(std::llround(ms * 1e6))); }

}  // namespace

Result<LatencyDist> LatencyDist::from_json(const nlohmann::json& j, std::string_view where) {
  const double max_ms = kMaxLatency.ms_f();
  try {
    if (!j.is_object()) jf::fail(fmt::format("{}: must be an object, got {}", where, jf::type_name(j)));
    const std::string kind = jf::take(jf::get_string(j, where, "kind", 32));
    if (kind == "constant") {
      jf::take(jf::expect_object(j, where, {"kind", "ms"}));
      return constant(ms_to_duration(jf::take(jf::get_number(j, where, "ms", 0, max_ms))));
    }
    if (kind == "uniform") {
      jf::take(jf::expect_object(j, where, {"kind", "min_ms", "max_ms"}));
      const double lo = jf::take(jf::get_number(j, where, "min_ms", 0, max_ms));
      const double hi = jf::take(jf::get_number(j, where, "max_ms", 0, max_ms));
      if (hi < lo) jf::fail(fmt::format("{}: {} is below min_ms ({})", jf::path(where, "max_ms"), hi, lo));
      return uniform(ms_to_duration(lo), ms_to_duration(hi));
    }
    if (kind == "exponential") {
      jf::take(jf::expect_object(j, where, {"kind", "mean_ms", "floor_ms"}));
      const double mean = jf::take(jf::get_number(j, where, "mean_ms", 0, max_ms));
      const double floor = jf::take(jf::opt_number(j, where, "floor_ms", 0, max_ms)).value_or(0.0);
      if (floor > mean) {
        jf::fail(fmt::format("{}: {} is above mean_ms ({})", jf::path(where, "floor_ms"), floor, mean));
      }
      return exponential(ms_to_duration(mean), ms_to_duration(floor));
    }
    jf::fail(fmt::format("{}: '{}' is not one of constant, uniform, exponential", jf::path(where, "kind"), kind));
  } catch (const jf::FieldError& e) {
    return Error{e.message};
  }
}

}  // namespace heck::sim
