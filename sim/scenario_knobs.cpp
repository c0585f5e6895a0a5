#include "sim/scenario_knobs.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_fields.h"
#include "core/random.h"
#include "sim/cluster_scenario.h"

namespace heck::sim {

namespace jf = heck::json_fields;
using nlohmann::json;

std::string_view to_string(KnobMode m) {
  switch (m) {
    case KnobMode::defaults: return "defaults";
    case KnobMode::swarm: return "swarm";
    case KnobMode::low: return "low";
    case KnobMode::high: return "high";
  }
  return "?";
}

std::string knobs_text(const std::vector<DrawnKnob>& knobs) {
  std::string out;
  for (const DrawnKnob& k : knobs) {
    if (!out.empty()) out += ' ';
    out += k.field + "=" + k.value;
  }
  return out;
}

namespace {

constexpr std::size_t kMaxChoices = ClusterScenario::kMaxMembers;
constexpr double kRealSteps = 1e4;  // reals are drawn in steps of 1 / kRealSteps
constexpr std::uint64_t kSwarmSalt = 0x5357'4152'4d00'0001ULL;  // apart from the world's salts

// The knob's own stream: (seed, field name), FNV-1a over the name.
Rng stream_of(std::uint64_t seed, const std::string& field) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : field) h = (h ^ c) * 0x100000001b3ULL;
  std::uint64_t s = seed ^ kSwarmSalt ^ (h * 0xd1b54a32d192ed03ULL);
  return Rng(splitmix64(s));
}

enum class Shape : std::uint8_t { none, range, any_of, pick };

// What kind of knob object `v` is, by its keys; unknown keys beside a
// knob key are refused.
Shape shape_of(const json& v, const std::string& field) {
  if (!v.is_object()) return Shape::none;
  if (v.contains("range")) {
    jf::take(jf::expect_object(v, field, {"range"}));
    return Shape::range;
  }
  if (v.contains("any_of")) {
    jf::take(jf::expect_object(v, field, {"any_of"}));
    return Shape::any_of;
  }
  if (v.contains("pick") || v.contains("of")) {
    jf::take(jf::expect_object(v, field, {"pick", "of"}));
    if (!v.contains("pick")) jf::fail(fmt::format("{}: missing", jf::path(field, "pick")));
    if (!v.contains("of")) jf::fail(fmt::format("{}: missing", jf::path(field, "of")));
    return Shape::pick;
  }
  return Shape::none;
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> items;
    for (const json& x : v) items.push_back(value_text(x));
    return fmt::format("[{}]", fmt::join(items, ", "));
  }
  return v.dump();
}

const json& any_of_choices(const json& v, const std::string& field) {
  const json& c = v.at("any_of");
  const auto f = jf::path(field, "any_of");
  if (!c.is_array()) jf::fail(fmt::format("{}: must be an array of choices, got {}", f, jf::type_name(c)));
  if (c.empty() || c.size() > kMaxChoices) jf::fail(fmt::format("{}: must list 1-{} choices", f, kMaxChoices));
  return c;
}

// Refuses a range, any_of or pick anywhere under `v` (not at a knob).
// Target specs are left alone: their headers may use any name.
void refuse_stray(const json& v, const std::string& where) {
  if (v.is_object()) {
    if (v.contains("range") || v.contains("any_of") || v.contains("pick")) {
      jf::fail(fmt::format("{}: a range, any_of or pick is allowed only at a fault knob (network rates and latencies, "
                           "links, clocks, timeline times, lengths and members; see sim/scenario_knobs.h)",
                           where.empty() ? "scenario" : where));
    }
    for (const auto& [key, item] : v.items()) {
      if (key != "spec") refuse_stray(item, jf::path(where, key));
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) refuse_stray(v[i], fmt::format("{}[{}]", where, i));
  }
}

}  // namespace

bool has_knob_ranges(const json& v) {
  if (v.is_object()) {
    if (v.contains("range") || v.contains("any_of") || v.contains("pick")) return true;
    for (const auto& [key, item] : v.items()) {
      if (key != "spec" && has_knob_ranges(item)) return true;
    }
  } else if (v.is_array()) {
    for (const json& item : v) {
      if (has_knob_ranges(item)) return true;
    }
  }
  return false;
}

json KnobResolver::draw_range(const json& range_obj, const std::string& field, Type type) {
  const json& r = range_obj.at("range");
  const auto f = jf::path(field, "range");
  if (!r.is_array() || r.size() != 2) {
    jf::fail(fmt::format("{}: must be [lo, hi], got {}", f, r.is_array() ? fmt::format("{} items", r.size())
                                                                          : std::string(jf::type_name(r))));
  }
  for (std::size_t i = 0; i < 2; ++i) {
    const auto fi = fmt::format("{}[{}]", f, i);
    if (!r[i].is_number()) jf::fail(fmt::format("{}: must be a number, got {}", fi, jf::type_name(r[i])));
    if (type == Type::integer && !r[i].is_number_integer()) {
      jf::fail(fmt::format("{}: must be an integer (an integer field), got {}", fi, r[i].dump()));
    }
    if (!std::isfinite(r[i].get<double>())) jf::fail(fmt::format("{}: must be finite", fi));
  }
  if (type == Type::integer) {
    const auto lo = r[0].get<std::int64_t>(), hi = r[1].get<std::int64_t>();
    if (lo > hi) jf::fail(fmt::format("{}: lo {} is above hi {}", f, lo, hi));
    switch (settings_.mode) {
      case KnobMode::defaults: return lo + (hi - lo) / 2;
      case KnobMode::low: return lo;
      case KnobMode::high: return hi;
      case KnobMode::swarm: {
        Rng rng = stream_of(settings_.seed, field);
        return rng.between(lo, hi);
      }
    }
  }
  const double lo = r[0].get<double>(), hi = r[1].get<double>();
  if (lo > hi) jf::fail(fmt::format("{}: lo {} is above hi {}", f, lo, hi));
  switch (settings_.mode) {
    case KnobMode::defaults: return (lo + hi) / 2;
    case KnobMode::low: return lo;
    case KnobMode::high: return hi;
    case KnobMode::swarm: {
      Rng rng = stream_of(settings_.seed, field);
      // On the 1e-4 grid, as the nearest double to the decimal it prints as.
      const double v = std::round((lo + rng.unit() * (hi - lo)) * kRealSteps) / kRealSteps;
      return std::clamp(v, lo, hi);
    }
  }
  return lo;
}

std::size_t KnobResolver::choose_one(std::size_t n, const std::string& field) {
  switch (settings_.mode) {
    case KnobMode::defaults:
    case KnobMode::low: return 0;
    case KnobMode::high: return n - 1;
    case KnobMode::swarm: {
      Rng rng = stream_of(settings_.seed, field);
      return static_cast<std::size_t>(rng.below(n));
    }
  }
  return 0;
}

std::vector<std::size_t> KnobResolver::choose_k(std::size_t n, std::size_t k, const std::string& field) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  switch (settings_.mode) {
    case KnobMode::defaults:
    case KnobMode::low: order.resize(k); break;
    case KnobMode::high: order.erase(order.begin(), order.end() - static_cast<std::ptrdiff_t>(k)); break;
    case KnobMode::swarm: {
      Rng rng = stream_of(settings_.seed, field);
      for (std::size_t i = 0; i < k; ++i) {  // partial Fisher-Yates
        const std::size_t j = i + static_cast<std::size_t>(rng.below(n - i));
        std::swap(order[i], order[j]);
      }
      order.resize(k);
      std::sort(order.begin(), order.end());
      break;
    }
  }
  return order;
}

void KnobResolver::number(json& obj, const std::string& where, std::string_view key, Type type) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  const auto field = jf::path(where, key);
  json value;
  switch (shape_of(*it, field)) {
    case Shape::none: return;
    case Shape::range: value = draw_range(*it, field, type); break;
    case Shape::any_of: {
      const json& c = any_of_choices(*it, field);
      value = c[choose_one(c.size(), field)];
      break;
    }
    case Shape::pick: jf::fail(fmt::format("{}: pick chooses members; a number takes range or any_of", field));
  }
  drawn_.push_back({field, value_text(value)});
  *it = std::move(value);
}

void KnobResolver::latency(json& obj, const std::string& where, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return;  // the parser names what is wrong
  const auto w = jf::path(where, key);
  for (std::string_view k : {"ms", "min_ms", "max_ms", "mean_ms", "floor_ms"}) number(*it, w, k, Type::real);
}

void KnobResolver::link_fields(json& obj, const std::string& where) {
  for (std::string_view k : {"loss", "duplicate", "reorder", "rate"}) number(obj, where, k, Type::real);
  latency(obj, where, "latency");
  latency(obj, where, "reorder_delay");
}

void KnobResolver::member_field(json& obj, const std::string& where, std::string_view key,
                                const std::vector<std::string>& names) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  const auto field = jf::path(where, key);
  json value;
  switch (shape_of(*it, field)) {
    case Shape::none: return;
    case Shape::range: jf::fail(fmt::format("{}: a member field takes any_of or pick, not range", field));
    case Shape::any_of: {
      const json& c = any_of_choices(*it, field);
      value = c[choose_one(c.size(), field)];
      break;
    }
    case Shape::pick: {
      // The members "of" matches, in member order.
      const json& of = it->at("of");
      const auto of_field = jf::path(field, "of");
      std::vector<bool> chosen(names.size(), false);
      auto one = [&](const json& item, const std::string& f) {
        if (!item.is_string()) jf::fail(fmt::format("{}: must be a member name or pattern, got {}", f, jf::type_name(item)));
        bool any = false;
        for (std::size_t i = 0; i < names.size(); ++i) {
          if (target_pattern_matches(item.get<std::string>(), names[i])) any = chosen[i] = true;
        }
        if (!any) jf::fail(fmt::format("{}: '{}' matches no member", f, item.get<std::string>()));
      };
      if (of.is_array()) {
        if (of.empty() || of.size() > kMaxChoices) jf::fail(fmt::format("{}: must name 1-{} members", of_field, kMaxChoices));
        for (std::size_t i = 0; i < of.size(); ++i) one(of[i], fmt::format("{}[{}]", of_field, i));
      } else {
        one(of, of_field);
      }
      std::vector<std::string> pool;
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (chosen[i]) pool.push_back(names[i]);
      }
      json count = it->at("pick");
      const auto pick_field = jf::path(field, "pick");
      if (shape_of(count, pick_field) == Shape::range) {
        count = draw_range(count, pick_field, Type::integer);
        drawn_.push_back({pick_field, value_text(count)});
      }
      const auto k = jf::take(jf::read_int(count, pick_field, 1, static_cast<std::int64_t>(kMaxChoices)));
      if (static_cast<std::size_t>(k) > pool.size()) {
        jf::fail(fmt::format("{}: {} is more than the {} members 'of' matches", pick_field, k, pool.size()));
      }
      value = json::array();
      for (std::size_t i : choose_k(pool.size(), static_cast<std::size_t>(k), field)) value.push_back(pool[i]);
      break;
    }
  }
  drawn_.push_back({field, value_text(value)});
  *it = std::move(value);
}

void KnobResolver::resolve_members(json& members) {
  if (members.is_object()) {
    if (auto it = members.find("clock_spread"); it != members.end() && it->is_object()) {
      number(*it, "members.clock_spread", "offset_ms", Type::integer);
      number(*it, "members.clock_spread", "drift_ppm", Type::integer);
    }
  } else if (members.is_array()) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (!members[i].is_object()) continue;
      auto it = members[i].find("clock");
      if (it == members[i].end() || !it->is_object()) continue;
      const auto w = fmt::format("members[{}].clock", i);
      number(*it, w, "offset_ms", Type::integer);
      number(*it, w, "drift_ppm", Type::integer);
    }
  }
}

void KnobResolver::resolve_rest(json& s, const std::vector<std::string>& names) {
  if (auto net = s.find("network"); net != s.end() && net->is_object()) {
    link_fields(*net, "network");
    if (auto links = net->find("links"); links != net->end() && links->is_array()) {
      for (std::size_t i = 0; i < links->size(); ++i) {
        json& l = (*links)[i];
        if (!l.is_object()) continue;
        const auto w = fmt::format("network.links[{}]", i);
        link_fields(l, w);
        member_field(l, w, "from", names);
        member_field(l, w, "to", names);
      }
    }
  }
  if (auto tl = s.find("timeline"); tl != s.end() && tl->is_array()) {
    for (std::size_t i = 0; i < tl->size(); ++i) {
      json& e = (*tl)[i];
      if (!e.is_object()) continue;
      const auto w = fmt::format("timeline[{}]", i);
      for (std::string_view k : {"at_ms", "for_ms", "down_ms", "stop_after_ms", "every_ms"}) {
        number(e, w, k, Type::integer);
      }
      link_fields(e, w);
      for (std::string_view k : {"member", "members", "from", "to"}) member_field(e, w, k, names);
    }
  }
  refuse_stray(s, "");
}

}  // namespace heck::sim
