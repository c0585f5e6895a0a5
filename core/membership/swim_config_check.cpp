#include "core/membership/swim_config_check.h"

#include <cstdint>
#include <optional>

#include <fmt/format.h>

namespace heck {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;

std::optional<Error> in_range(std::string_view prefix, std::string_view field, std::int64_t v, std::int64_t lo,
                              std::int64_t hi) {
  if (v < lo) return Error{fmt::format("{}{}: must be at least {}, got {}", prefix, field, lo, v)};
  if (v > hi) return Error{fmt::format("{}{}: must be at most {}, got {}", prefix, field, hi, v)};
  return std::nullopt;
}

std::optional<Error> ms_in(std::string_view prefix, std::string_view field, Duration d, std::int64_t lo_ms,
                           std::int64_t hi_ms) {
  if (d.ns() % 1'000'000 != 0) {
    return Error{fmt::format("{}{}: must be whole milliseconds, got {} ns", prefix, field, d.ns())};
  }
  return in_range(prefix, field, d.ms(), lo_ms, hi_ms);
}

std::optional<Error> count_in(std::string_view prefix, std::string_view field, std::size_t v, std::int64_t lo,
                              std::int64_t hi) {
  const auto n = v > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
  return in_range(prefix, field, n, lo, hi);
}

}  // namespace

Result<SwimConfigOk> validate(const SwimConfig& c, std::string_view p) {
  for (const auto& e : {
           ms_in(p, "probe_interval_ms", c.probe_interval, 10, kHourMs),
           ms_in(p, "probe_timeout_ms", c.probe_timeout, 1, kHourMs),
           count_in(p, "suspicion_mult", c.suspicion_mult, 1, 100),
           count_in(p, "max_suspicion_timeout_mult", c.max_suspicion_timeout_mult, 1, 100),
           count_in(p, "indirect_checks", c.indirect_checks, 0, 32),
           count_in(p, "retransmit_mult", c.retransmit_mult, 1, 100),
           ms_in(p, "gossip_interval_ms", c.gossip_interval, 1, kHourMs),
           count_in(p, "gossip_nodes", c.gossip_nodes, 0, 64),
           ms_in(p, "gossip_to_the_dead_ms", c.gossip_to_the_dead, 0, 24 * kHourMs),
           ms_in(p, "push_pull_interval_ms", c.push_pull_interval, 100, 24 * kHourMs),
           ms_in(p, "reconnect_interval_ms", c.reconnect_interval, 100, 24 * kHourMs),
           count_in(p, "max_packet_bytes", c.max_packet_bytes, 512, 65507),
           count_in(p, "max_awareness_multiplier", c.max_awareness_multiplier, 1, 100),
           ms_in(p, "dead_reap_after_ms", c.dead_reap_after, 1000, 30 * 24 * kHourMs),
           ms_in(p, "min_join_backoff_ms", c.min_join_backoff, 1, kHourMs),
           ms_in(p, "max_join_backoff_ms", c.max_join_backoff, 1, kHourMs),
       }) {
    if (e) return *e;
  }
  if (c.probe_timeout > c.probe_interval) {
    return Error{fmt::format("{}probe_timeout_ms: {} is above probe_interval_ms ({}); it must be less", p,
                             c.probe_timeout.ms(), c.probe_interval.ms())};
  }
  if (c.probe_timeout == c.probe_interval) {
    return Error{fmt::format("{}probe_timeout_ms: must be less than the probe interval ({} ms), got {} ms", p,
                             c.probe_interval.ms(), c.probe_timeout.ms())};
  }
  if (c.max_join_backoff < c.min_join_backoff) {
    return Error{fmt::format("{}max_join_backoff_ms: {} is below min_join_backoff_ms ({})", p,
                             c.max_join_backoff.ms(), c.min_join_backoff.ms())};
  }
  if (!(c.nack_timeout_fraction >= 0.05 && c.nack_timeout_fraction <= 1.0)) {
    return Error{fmt::format("{}nack_timeout_fraction: must be in [0.05, 1], got {}", p, c.nack_timeout_fraction)};
  }
  return SwimConfigOk{};
}

}  // namespace heck
