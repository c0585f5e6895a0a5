#include "core/store/etcd_layout.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace heck::store {
namespace {

constexpr std::string_view kTargets = "targets/";
constexpr std::string_view kObservations = "obs/";
constexpr std::string_view kCounters = "counters/";

std::optional<CheckReason> parse_reason(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(CheckReason::network_error); ++i) {
    const auto r = static_cast<CheckReason>(i);
    if (to_string(r) == s) return r;
  }
  return std::nullopt;
}

Result<nlohmann::json> parse_object(std::string_view bytes, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error{fmt::format("{} value is not a JSON object", what)};
  return j;
}

template <typename T>
Result<T> field(const nlohmann::json& j, const char* name, std::string_view what) {
  const auto it = j.find(name);
  if (it == j.end()) return Error{fmt::format("{} value: missing '{}'", what, name)};
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return Error{fmt::format("{} value: '{}' has the wrong type", what, name)};
  }
}

}  // namespace

std::string KeyLayout::target(std::string_view id) const { return fmt::format("{}{}{}", prefix_, kTargets, id); }

std::string KeyLayout::observation(std::string_view subject, std::string_view member) const {
  return fmt::format("{}{}{}/{}", prefix_, kObservations, subject, member);
}

std::string KeyLayout::observations_of(std::string_view subject) const {
  return fmt::format("{}{}{}/", prefix_, kObservations, subject);
}

std::string KeyLayout::counter(std::string_view name) const { return fmt::format("{}{}{}", prefix_, kCounters, name); }

ParsedKey KeyLayout::parse(std::string_view key) const {
  if (!key.starts_with(prefix_)) return std::monostate{};
  key.remove_prefix(prefix_.size());
  if (key.starts_with(kTargets)) {
    key.remove_prefix(kTargets.size());
    if (key.empty() || key.find('/') != std::string_view::npos) return std::monostate{};
    return TargetKey{std::string(key)};
  }
  if (key.starts_with(kObservations)) {
    key.remove_prefix(kObservations.size());
    const auto slash = key.rfind('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == key.size()) return std::monostate{};
    return ObservationKey{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
  }
  if (key.starts_with(kCounters)) {
    key.remove_prefix(kCounters.size());
    if (key.empty()) return std::monostate{};
    return CounterKey{std::string(key)};
  }
  return std::monostate{};
}

std::string range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: every key
}

std::string encode_target(const TargetSpec& spec, HlcTimestamp written_at) {
  return nlohmann::json{{"spec", spec.to_json()}, {"written_at", written_at.packed}}.dump();
}

Result<TargetValue> decode_target(std::string_view bytes) {
  auto j = parse_object(bytes, "target");
  if (!j) return Error{j.error()};
  const auto spec_it = j->find("spec");
  if (spec_it == j->end()) return Error{"target value: missing 'spec'"};
  auto spec = TargetSpec::from_json(*spec_it, "target value: spec");
  if (!spec) return Error{spec.error()};
  auto at = field<std::uint64_t>(*j, "written_at", "target");
  if (!at) return Error{at.error()};
  return TargetValue{std::move(*spec), HlcTimestamp{*at}};
}

std::string encode_observation(const Observation& o) {
  return nlohmann::json{{"status", std::string(to_string(o.status))},
                        {"reason", std::string(to_string(o.reason))},
                        {"status_code", o.status_code},
                        {"latency_ns", o.latency.ns()},
                        {"observed_at", o.observed_at.packed},
                        {"observer", o.observer},
                        {"check_seq", o.check_seq},
                        {"observer_name", o.observer_name.str()}}
      .dump();
}

Result<Observation> decode_observation(std::string_view bytes) {
  auto j = parse_object(bytes, "observation");
  if (!j) return Error{j.error()};
  Observation o;
  auto status = field<std::string>(*j, "status", "observation");
  if (!status) return Error{status.error()};
  const auto parsed_status = parse_health_status(*status);
  if (!parsed_status) return Error{fmt::format("observation value: unknown status '{}'", *status)};
  o.status = *parsed_status;
  auto reason = field<std::string>(*j, "reason", "observation");
  if (!reason) return Error{reason.error()};
  const auto parsed_reason = parse_reason(*reason);
  if (!parsed_reason) return Error{fmt::format("observation value: unknown reason '{}'", *reason)};
  o.reason = *parsed_reason;
  auto code = field<int>(*j, "status_code", "observation");
  auto latency = field<std::int64_t>(*j, "latency_ns", "observation");
  auto at = field<std::uint64_t>(*j, "observed_at", "observation");
  auto observer = field<std::uint64_t>(*j, "observer", "observation");
  auto seq = field<std::uint64_t>(*j, "check_seq", "observation");
  auto name = field<std::string>(*j, "observer_name", "observation");
  if (!code) return Error{code.error()};
  if (!latency) return Error{latency.error()};
  if (!at) return Error{at.error()};
  if (!observer) return Error{observer.error()};
  if (!seq) return Error{seq.error()};
  if (!name) return Error{name.error()};
  o.status_code = *code;
  o.latency = Duration::nanoseconds(*latency);
  o.observed_at = HlcTimestamp{*at};
  o.observer = *observer;
  o.check_seq = *seq;
  o.observer_name = detached_name(*name);
  return o;
}

std::string encode_counter(std::int64_t value) { return fmt::format("{}", value); }

Result<std::int64_t> decode_counter(std::string_view bytes) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
  if (ec != std::errc{} || end != bytes.data() + bytes.size() || bytes.empty()) {
    return Error{fmt::format("counter value is not a decimal int64: '{}'", bytes.substr(0, 40))};
  }
  return v;
}

}  // namespace heck::store
