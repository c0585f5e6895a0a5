#include "sim/scenario.h"

#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/clock.h"
#include "sim/json_fields.h"

namespace heck::sim {

namespace jf = json_fields;
using nlohmann::json;

std::string_view to_string(ExpectationKind k) {
  switch (k) {
    case ExpectationKind::detects: return "detects";
    case ExpectationKind::never: return "never";
    case ExpectationKind::status_at: return "status_at";
    case ExpectationKind::checks: return "checks";
    case ExpectationKind::changes: return "changes";
  }
  return "?";
}

std::string Expectation::describe() const {
  const std::string on = node ? fmt::format(" on {}", *node) : "";
  auto range = [&] {
    if (max == UINT64_MAX) return fmt::format(">= {}", min);
    return fmt::format("in [{}, {}]", min, max);
  };
  switch (kind) {
    case ExpectationKind::detects:
      return fmt::format("detects {} within {} intervals{}", target, within_intervals, on);
    case ExpectationKind::never: return fmt::format("never {} {}{}", target, to_string(status), on);
    case ExpectationKind::status_at:
      return fmt::format("status_at {} {} at {} ms{}", target, to_string(status), at.ms(), on);
    case ExpectationKind::checks: return fmt::format("checks {} {}{}", target, range(), on);
    case ExpectationKind::changes: return fmt::format("changes {} {}{}", target, range(), on);
  }
  return "?";
}

bool target_pattern_matches(std::string_view pattern, std::string_view id) {
  if (!pattern.empty() && pattern.back() == '*') {
    const auto prefix = pattern.substr(0, pattern.size() - 1);
    return id.substr(0, prefix.size()) == prefix;
  }
  return pattern == id;
}

namespace {

constexpr std::size_t kMaxTextField = 4096;

NodeScenario parse_node(const json& j, const std::string& where) {
  jf::expect_object(j, where, {"name", "clock"});
  NodeScenario n;
  n.name = jf::get_string(j, where, "name", TargetSpec::kMaxIdLength);
  if (!valid_target_id(n.name)) {
    jf::fail(fmt::format("{}: '{}' must be 1-{} characters of A-Z a-z 0-9 . _ : -", jf::path(where, "name"), n.name,
                         TargetSpec::kMaxIdLength));
  }
  if (auto it = j.find("clock"); it != j.end()) {
    const auto w = jf::path(where, "clock");
    jf::expect_object(*it, w, {"offset_ms", "drift_ppm"});
    n.clock_offset = Duration::milliseconds(
        jf::opt_int(*it, w, "offset_ms", -Scenario::kMaxClockOffsetMs, Scenario::kMaxClockOffsetMs).value_or(0));
    n.drift_ppm = jf::opt_int(*it, w, "drift_ppm", -NodeClock::kMaxDriftPpm, NodeClock::kMaxDriftPpm).value_or(0);
  }
  return n;
}

HealthStatus read_status(const json& j, const std::string& where, bool allow_unknown) {
  const auto text = jf::get_string(j, where, "status", 16);
  const auto s = parse_health_status(text);
  if (!s || (!allow_unknown && *s == HealthStatus::unknown)) {
    jf::fail(fmt::format("{}: '{}' is not {}", jf::path(where, "status"), text,
                         allow_unknown ? "healthy, unhealthy or unknown" : "healthy or unhealthy"));
  }
  return *s;
}

void read_range(const json& j, const std::string& where, Expectation& e) {
  constexpr std::int64_t kMax = std::int64_t{1} << 53;
  const auto lo = jf::opt_int(j, where, "min", 0, kMax);
  const auto hi = jf::opt_int(j, where, "max", 0, kMax);
  if (!lo && !hi) jf::fail(fmt::format("{}: needs min, max or both", where));
  e.min = static_cast<std::uint64_t>(lo.value_or(0));
  e.max = hi ? static_cast<std::uint64_t>(*hi) : UINT64_MAX;
  if (e.min > e.max) jf::fail(fmt::format("{}: {} is below min ({})", jf::path(where, "max"), e.max, e.min));
}

Expectation parse_expectation(const json& j, const std::string& where, const Scenario& s) {
  if (!j.is_object()) jf::fail(fmt::format("{}: must be an object, got {}", where, jf::type_name(j)));
  Expectation e;
  const auto kind = jf::get_string(j, where, "kind", 32);
  if (kind == "detects") {
    jf::expect_object(j, where, {"kind", "target", "node", "within_intervals"});
    e.kind = ExpectationKind::detects;
    e.within_intervals = static_cast<int>(jf::get_int(j, where, "within_intervals", 1, 1000));
  } else if (kind == "never") {
    jf::expect_object(j, where, {"kind", "target", "node", "status"});
    e.kind = ExpectationKind::never;
    e.status = read_status(j, where, false);
  } else if (kind == "status_at") {
    jf::expect_object(j, where, {"kind", "target", "node", "at_ms", "status"});
    e.kind = ExpectationKind::status_at;
    e.at = Duration::milliseconds(jf::get_int(j, where, "at_ms", 0, s.duration.ms()));
    e.status = read_status(j, where, true);
  } else if (kind == "checks") {
    jf::expect_object(j, where, {"kind", "target", "node", "min", "max"});
    e.kind = ExpectationKind::checks;
    read_range(j, where, e);
  } else if (kind == "changes") {
    jf::expect_object(j, where, {"kind", "target", "node", "min", "max"});
    e.kind = ExpectationKind::changes;
    read_range(j, where, e);
  } else {
    jf::fail(fmt::format("{}: '{}' is not one of detects, never, status_at, checks, changes",
                         jf::path(where, "kind"), kind));
  }
  e.target = jf::get_string(j, where, "target", TargetSpec::kMaxIdLength + 1);
  for (std::uint32_t i = 0; i < s.targets.size(); ++i) {
    if (target_pattern_matches(e.target, s.targets[i].spec().id)) e.targets.push_back(i);
  }
  if (e.targets.empty()) {
    jf::fail(fmt::format("{}: '{}' matches no target (use an id, a prefix ending in '*', or '*')",
                         jf::path(where, "target"), e.target));
  }
  e.node = jf::opt_string(j, where, "node", TargetSpec::kMaxIdLength);
  for (std::uint32_t i = 0; i < s.nodes.size(); ++i) {
    if (!e.node || *e.node == s.nodes[i].name) e.nodes.push_back(i);
  }
  if (e.nodes.empty()) jf::fail(fmt::format("{}: '{}' is not a node of this scenario", jf::path(where, "node"), *e.node));
  return e;
}

// Parses one entry of "targets" (which may stand for a generated group) and
// appends its targets to `out` (at most `max_targets` in all).
void parse_targets(const json& j, const std::string& where, std::vector<TargetModel>& out, std::size_t max_targets) {
  jf::expect_object(j, where, {"spec", "behaviour", "count", "stagger_ms"});
  if (!j.contains("spec")) jf::fail(fmt::format("{}: missing", jf::path(where, "spec")));
  if (!j.contains("behaviour")) jf::fail(fmt::format("{}: missing", jf::path(where, "behaviour")));
  auto spec = TargetSpec::from_json(j.at("spec"), jf::path(where, "spec"));
  if (!spec) jf::fail(spec.error());
  auto model = TargetModel::from_json(*spec, j.at("behaviour"), jf::path(where, "behaviour"));
  if (!model) jf::fail(model.error());
  const auto count = jf::opt_int(j, where, "count", 1, static_cast<std::int64_t>(max_targets));
  const auto stagger_ms = jf::opt_int(j, where, "stagger_ms", 0, TargetModel::kMaxAtMs);
  if (!count) {
    if (stagger_ms) jf::fail(fmt::format("{}: only applies with count", jf::path(where, "stagger_ms")));
    if (out.size() >= max_targets) jf::fail(fmt::format("{}: more than {} targets in the scenario", where, max_targets));
    out.push_back(std::move(*model));
    return;
  }
  if (out.size() + static_cast<std::size_t>(*count) > max_targets) {
    jf::fail(fmt::format("{}: more than {} targets in the scenario", jf::path(where, "count"), max_targets));
  }
  const int width = static_cast<int>(fmt::format("{}", *count - 1).size());
  for (std::int64_t i = 0; i < *count; ++i) {
    TargetSpec copy = *spec;
    copy.id = fmt::format("{}-{:0{}}", spec->id, i, width);
    if (!valid_target_id(copy.id)) {
      jf::fail(fmt::format("{}: generated id '{}' is too long", jf::path(where, "spec.id"), copy.id));
    }
    auto m = TargetModel::from_json(std::move(copy), j.at("behaviour"), jf::path(where, "behaviour"));
    if (!m) jf::fail(m.error());
    m->shift_phases(Duration::milliseconds(stagger_ms.value_or(0) * i));
    out.push_back(std::move(*m));
  }
}

// Parses a "targets" array; ids must be unique.
std::vector<TargetModel> parse_target_array(const json& targets, std::size_t max_targets) {
  std::vector<TargetModel> out;
  std::map<std::string, std::string, std::less<>> ids;  // id -> where it was defined
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto w = fmt::format("targets[{}]", i);
    const std::size_t first = out.size();
    parse_targets(targets[i], w, out, max_targets);
    for (std::size_t k = first; k < out.size(); ++k) {
      const auto& id = out[k].spec().id;
      auto [it, fresh] = ids.emplace(id, w);
      if (!fresh) jf::fail(fmt::format("{}.spec.id: duplicate id '{}' (also in {})", w, id, it->second));
    }
  }
  return out;
}

Scenario parse(const json& j) {
  if (!j.is_object()) jf::fail(fmt::format("scenario: must be an object, got {}", jf::type_name(j)));
  jf::expect_object(j, "",
                    {"name", "description", "seed", "duration_ms", "jitter_fraction", "nodes", "targets", "expectations"});
  Scenario s;
  const std::string top;  // top-level fields are named bare: "duration_ms: …"
  s.name = jf::get_string(j, top, "name", 256);
  s.description = jf::opt_string(j, top, "description", kMaxTextField).value_or("");
  if (j.contains("seed")) s.seed = jf::get_u64(j, top, "seed");
  s.duration = Duration::milliseconds(jf::get_int(j, top, "duration_ms", 1, Scenario::kMaxDurationMs));
  if (auto jitter = jf::opt_number(j, top, "jitter_fraction", 0.0, 0.5)) s.scheduler.jitter_fraction = *jitter;

  const json& nodes = jf::get_array(j, top, "nodes", Scenario::kMaxNodes);
  if (nodes.empty()) jf::fail("nodes: must have at least one node");
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto w = fmt::format("nodes[{}]", i);
    NodeScenario n = parse_node(nodes[i], w);
    if (!names.insert(n.name).second) jf::fail(fmt::format("{}.name: duplicate name '{}'", w, n.name));
    s.nodes.push_back(std::move(n));
  }

  const json& targets = jf::get_array(j, top, "targets", Scenario::kMaxTargets);
  if (targets.empty()) jf::fail("targets: must have at least one target");
  s.targets = parse_target_array(targets, Scenario::kMaxTargets);

  if (s.nodes.size() * s.targets.size() > Scenario::kMaxNodeTargetPairs) {
    jf::fail(fmt::format("targets: {} nodes x {} targets is more than {} node/target pairs", s.nodes.size(),
                         s.targets.size(), Scenario::kMaxNodeTargetPairs));
  }

  if (j.contains("expectations")) {
    const json& ex = jf::get_array(j, top, "expectations", Scenario::kMaxExpectations);
    for (std::size_t i = 0; i < ex.size(); ++i) {
      s.expectations.push_back(parse_expectation(ex[i], fmt::format("expectations[{}]", i), s));
    }
  }
  return s;
}

}  // namespace

Result<Scenario> parse_scenario(const json& j) {
  try {
    return parse(j);
  } catch (const jf::FieldError& e) {
    return Error{e.message};
  }
}

Result<std::vector<TargetModel>> parse_target_models(const nlohmann::json& targets, std::size_t max_targets) {
  try {
    if (!targets.is_array()) jf::fail(fmt::format("targets: must be an array, got {}", jf::type_name(targets)));
    return parse_target_array(targets, max_targets);
  } catch (const jf::FieldError& e) {
    return Error{e.message};
  }
}

Result<Scenario> parse_scenario_text(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return Error{fmt::format("not valid JSON: {}", e.what())};
  }
  return parse_scenario(j);
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open", path)};
  std::string text;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > Scenario::kMaxFileBytes) {
      return Error{fmt::format("{}: larger than {} bytes", path, Scenario::kMaxFileBytes)};
    }
  }
  if (in.bad()) return Error{fmt::format("{}: read error", path)};
  auto s = parse_scenario_text(text);
  if (!s) return Error{fmt::format("{}: {}", path, s.error())};
  return s;
}

}  // namespace heck::sim
