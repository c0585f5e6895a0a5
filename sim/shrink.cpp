#include "sim/shrink.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "sim/cluster_run.h"
#include "sim/sweep.h"

namespace heck::sim {

using nlohmann::json;

ScenarioSize ScenarioSize::of(const ClusterScenario& s) {
  return {s.timeline.size(), s.members.size(), s.targets.size(), s.safety, s.liveness};
}

namespace {

using Clock = std::chrono::steady_clock;
using Indices = std::vector<std::size_t>;

// ddmin (Zeller & Hildebrandt 2002): a small subset of `items` for which
// `fails` holds, given that it holds for `items`. Tries the empty set, then
// ever finer partitions: a part that fails alone replaces the set, else a
// complement that fails does.
Indices ddmin(Indices items, const std::function<bool(const Indices&)>& fails) {
  if (items.empty() || fails({})) return {};
  std::size_t n = 2;
  while (items.size() >= 2) {
    const std::size_t chunk = (items.size() + n - 1) / n;
    std::vector<Indices> parts;
    for (std::size_t i = 0; i < items.size(); i += chunk) {
      parts.emplace_back(items.begin() + static_cast<std::ptrdiff_t>(i),
                         items.begin() + static_cast<std::ptrdiff_t>(std::min(i + chunk, items.size())));
    }
    bool reduced = false;
    for (const Indices& part : parts) {
      if (fails(part)) {
        items = part;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && parts.size() > 2) {  // with two parts the complements are the parts
      for (const Indices& part : parts) {
        Indices rest;
        std::set_difference(items.begin(), items.end(), part.begin(), part.end(), std::back_inserter(rest));
        if (fails(rest)) {
          items = rest;
          n = std::max<std::size_t>(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= items.size()) break;
      n = std::min(n * 2, items.size());
    }
  }
  return items;
}

Indices all_indices(std::size_t n) {
  Indices out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = i;
  return out;
}

json keep_items(const json& array, const Indices& keep) {
  json out = json::array();
  for (std::size_t i : keep) out.push_back(array[i]);
  return out;
}

std::string seconds_of_ms(std::int64_t ms) { return seconds_text(Duration::milliseconds(ms)); }

// "pause n4 at 31.2 s"
std::string event_text(const json& e) {
  std::string who;
  for (const char* key : {"members", "from"}) {
    if (auto it = e.find(key); it != e.end()) {
      who = " " + (it->is_string() ? it->get<std::string>() : it->dump());
      break;
    }
  }
  return fmt::format("{}{} at {}", e.at("event").get<std::string>(), who, seconds_of_ms(e.at("at_ms").get<std::int64_t>()));
}

// Removes `drop` from one member selector (a name or an array of names);
// false when nothing would be left.
bool drop_from_selector(json& sel, const std::set<std::string>& drop) {
  if (sel.is_string()) return drop.count(sel.get<std::string>()) == 0;
  if (!sel.is_array()) return true;
  json kept = json::array();
  for (const json& name : sel) {
    if (!name.is_string() || drop.count(name.get<std::string>()) == 0) kept.push_back(name);
  }
  if (kept.empty()) return false;
  sel = kept.size() == 1 ? kept[0] : kept;
  return true;
}

// The scenario without the members in `drop`, or nullopt when a member set
// would be left empty.
std::optional<json> without_members(const json& s, const std::set<std::string>& drop) {
  json out = s;
  json members = json::array();
  for (const json& m : s.at("members")) {
    if (drop.count(m.at("name").get<std::string>()) == 0) members.push_back(m);
  }
  if (members.empty()) return std::nullopt;
  out["members"] = std::move(members);
  auto fix = [&](json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || drop_from_selector(*it, drop);
  };
  bool ok = fix(out, "seeds") && fix(out, "targets_at");
  for (json& e : out["timeline"]) ok = ok && fix(e, "members") && fix(e, "from") && fix(e, "to");
  if (out.contains("network") && out["network"].contains("links")) {
    for (json& l : out["network"]["links"]) ok = ok && fix(l, "from") && fix(l, "to");
  }
  if (out.contains("vantage")) {
    for (json& v : out["vantage"]) ok = ok && fix(v, "members");
  }
  for (json& e : out["expectations"]) ok = ok && fix(e, "member") && fix(e, "by");
  if (!ok) return std::nullopt;
  return out;
}

// The scenario with only the configured targets `keep`; registry and vantage
// mentions of the others go too.
std::optional<json> with_targets(const json& s, const Indices& keep) {
  json out = s;
  out["targets"] = keep_items(s.at("targets"), keep);
  std::set<std::string> dropped;
  for (std::size_t i = 0; i < s.at("targets").size(); ++i) {
    if (!std::binary_search(keep.begin(), keep.end(), i)) {
      dropped.insert(s.at("targets")[i].at("spec").at("id").get<std::string>());
    }
  }
  auto filter = [&](json& ids) {
    json kept = json::array();
    for (const json& id : ids) {
      if (dropped.count(id.get<std::string>()) == 0) kept.push_back(id);
    }
    ids = std::move(kept);
  };
  for (json& e : out["expectations"]) {
    if (e.at("kind") == "registry") filter(e["targets"]);
  }
  if (out.contains("vantage")) {
    for (json& v : out["vantage"]) {
      filter(v["target"]);
      if (v["target"].empty()) return std::nullopt;
    }
  }
  return out;
}

class Shrinker {
 public:
  Shrinker(const ShrinkOptions& o, std::string kind, ShrinkResult& r)
      : options_(o), kind_(std::move(kind)), r_(r), t0_(Clock::now()) {}

  // True when `candidate` parses and its run fails with the kind kept.
  // Out of budget, every candidate is taken as passing.
  bool fails(const json& candidate) {
    const std::string key = candidate.dump();
    if (auto it = seen_.find(key); it != seen_.end()) return it->second;
    if (!r_.stopped.empty()) return false;
    if (r_.runs >= options_.max_runs) {
      r_.stopped = fmt::format("the run budget ({} simulations) was spent", options_.max_runs);
      return false;
    }
    if (std::chrono::duration<double>(Clock::now() - t0_).count() >= options_.time_limit_s) {
      r_.stopped = fmt::format("the time limit ({} s) passed", options_.time_limit_s);
      return false;
    }
    bool result = false;
    auto parsed = parse_cluster_scenario(candidate);
    if (!parsed) {
      ++r_.refused;
    } else {
      ++r_.runs;
      const ClusterRunReport report = run_cluster_scenario(*parsed, RunOptions{options_.seed, nullptr});
      for (const FailedExpectation& f : failures_of(*parsed, report)) {
        if (f.kind == kind_) {
          result = true;
          failure_[key] = f.text;
          break;
        }
      }
    }
    seen_.emplace(key, result);
    return result;
  }

  std::string failure_of(const json& s) const {
    auto it = failure_.find(s.dump());
    return it == failure_.end() ? std::string() : it->second;
  }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

 private:
  const ShrinkOptions& options_;
  std::string kind_;
  ShrinkResult& r_;
  Clock::time_point t0_;
  std::map<std::string, bool> seen_;
  std::map<std::string, std::string> failure_;
};

void shrink_timeline(Shrinker& sh, json& s, ShrinkResult& r) {
  const json& events = s.at("timeline");
  const Indices keep = ddmin(all_indices(events.size()), [&](const Indices& k) {
    json c = s;
    c["timeline"] = keep_items(events, k);
    return sh.fails(c);
  });
  if (keep.size() == events.size()) return;
  std::vector<std::string> gone;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!std::binary_search(keep.begin(), keep.end(), i)) gone.push_back(event_text(events[i]));
  }
  r.removed.push_back(fmt::format("timeline   {} -> {} events: removed {}", events.size(), keep.size(), fmt::join(gone, ", ")));
  json kept = keep_items(events, keep);
  s["timeline"] = std::move(kept);
}

void shrink_members(Shrinker& sh, json& s, ShrinkResult& r) {
  std::vector<std::string> names;
  for (const json& m : s.at("members")) names.push_back(m.at("name").get<std::string>());
  auto dropping = [&](const Indices& keep) {
    std::set<std::string> drop;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!std::binary_search(keep.begin(), keep.end(), i)) drop.insert(names[i]);
    }
    return drop;
  };
  const Indices keep = ddmin(all_indices(names.size()), [&](const Indices& k) {
    auto c = without_members(s, dropping(k));
    return c && sh.fails(*c);
  });
  if (keep.size() == names.size()) return;
  const auto drop = dropping(keep);
  r.removed.push_back(fmt::format("members    {} -> {}: removed {}", names.size(), keep.size(), fmt::join(drop, ", ")));
  s = *without_members(s, drop);
}

void shrink_targets(Shrinker& sh, json& s, ShrinkResult& r) {
  const std::size_t n = s.at("targets").size();
  const Indices keep = ddmin(all_indices(n), [&](const Indices& k) {
    auto c = with_targets(s, k);
    return c && sh.fails(*c);
  });
  if (keep.size() == n) return;
  r.removed.push_back(fmt::format("targets    {} -> {}", n, keep.size()));
  s = *with_targets(s, keep);
}

// Tries `field` at each of `values` (smallest first); keeps the first that
// still fails. `adjust` fixes what depends on it.
bool try_values(Shrinker& sh, json& s, const char* field, const std::vector<std::int64_t>& values,
                const std::function<void(json&)>& adjust = {}) {
  const std::int64_t now = s.at(field).get<std::int64_t>();
  for (std::int64_t v : values) {
    if (v >= now) continue;
    json c = s;
    c[field] = v;
    if (adjust) adjust(c);
    if (sh.fails(c)) {
      s = std::move(c);
      return true;
    }
  }
  return false;
}

void shrink_time(Shrinker& sh, json& s, ShrinkResult& r) {
  const std::int64_t safety = s.at("safety_ms").get<std::int64_t>(), liveness = s.at("liveness_ms").get<std::int64_t>();
  std::int64_t last = 0;  // the end of the last event
  for (const json& e : s.at("timeline")) {
    std::int64_t end = e.at("at_ms").get<std::int64_t>();
    for (const char* k : {"for_ms", "down_ms", "stop_after_ms"}) end += e.value(k, std::int64_t{0});
    last = std::max(last, end);
  }
  std::int64_t within = 0;
  for (const json& e : s.at("expectations")) within = std::max(within, e.value("within_ms", std::int64_t{0}));
  auto steps = [](std::int64_t lo, std::int64_t now) {
    return std::vector<std::int64_t>{lo, lo + (now - lo) / 4, lo + (now - lo) / 2};
  };
  try_values(sh, s, "safety_ms", steps(last + 1, safety), [](json& c) {
    const std::int64_t end = c.at("safety_ms").get<std::int64_t>() + c.at("liveness_ms").get<std::int64_t>();
    c["metrics_from_ms"] = std::min(c.at("metrics_from_ms").get<std::int64_t>(), end);
  });
  try_values(sh, s, "liveness_ms", steps(within, liveness));
  const std::int64_t safety_after = s.at("safety_ms").get<std::int64_t>(), liveness_after = s.at("liveness_ms").get<std::int64_t>();
  if (safety_after == safety && liveness_after == liveness) return;
  std::vector<std::string> parts;
  if (safety_after != safety) parts.push_back(fmt::format("safety {} -> {}", seconds_of_ms(safety), seconds_of_ms(safety_after)));
  if (liveness_after != liveness) {
    parts.push_back(fmt::format("liveness {} -> {}", seconds_of_ms(liveness), seconds_of_ms(liveness_after)));
  }
  r.removed.push_back(fmt::format("time       {}", fmt::join(parts, ", ")));
}

void shrink_knobs(Shrinker& sh, json& s, ShrinkResult& r) {
  std::vector<std::string> milder;
  // A number at `ptr`: to each of `values` in turn; the first that fails stays.
  auto soften = [&](const json::json_pointer& ptr, const std::string& name, std::vector<json> values) {
    if (!s.contains(ptr)) return;
    const json before = s.at(ptr);
    for (const json& v : values) {
      if (v == before) continue;
      json c = s;
      c[ptr] = v;
      if (sh.fails(c)) {
        s = std::move(c);
        milder.push_back(fmt::format("{} {} -> {}", name, before.dump(), v.dump()));
        return;
      }
    }
  };
  for (const char* k : {"loss", "duplicate", "reorder"}) {
    const auto p = json::json_pointer("/network/" + std::string(k));
    if (s.contains(p) && s.at(p).get<double>() > 0) soften(p, fmt::format("network.{}", k), {0.0, s.at(p).get<double>() / 2});
  }
  for (std::size_t i = 0; i < s.at("timeline").size(); ++i) {
    const json& e = s.at("timeline")[i];
    const std::string base = fmt::format("/timeline/{}/", i);
    const std::string name = event_text(e);
    for (const char* k : {"loss", "duplicate", "reorder"}) {
      if (e.contains(k) && e.at(k).get<double>() > 0) {
        soften(json::json_pointer(base + k), fmt::format("{} {}", name, k), {0.0, e.at(k).get<double>() / 2});
      }
    }
    for (const char* k : {"for_ms", "down_ms"}) {
      if (e.contains(k) && e.at(k).get<std::int64_t>() > 1) {
        soften(json::json_pointer(base + k), fmt::format("{} {}", name, k), {e.at(k).get<std::int64_t>() / 2});
      }
    }
  }
  bool clocks = false;
  for (const json& m : s.at("members")) clocks = clocks || m.at("clock") != json{{"offset_ms", 0}, {"drift_ppm", 0}};
  if (clocks) {
    json c = s;
    for (json& m : c["members"]) m["clock"] = {{"offset_ms", 0}, {"drift_ppm", 0}};
    if (sh.fails(c)) {
      s = std::move(c);
      milder.push_back("clocks -> offset 0, drift 0");
    }
  }
  if (!milder.empty()) r.removed.push_back(fmt::format("knobs      {}", fmt::join(milder, "; ")));
}

}  // namespace

Result<ShrinkResult> shrink_failure(const ClusterScenario& failing, const ShrinkOptions& options) {
  ShrinkResult r;
  r.before = ScenarioSize::of(failing);
  const ClusterRunReport report = run_cluster_scenario(failing, RunOptions{options.seed, nullptr});
  const auto failures = failures_of(failing, report);
  if (failures.empty()) return Error{fmt::format("seed {} passes: nothing to shrink", options.seed)};
  r.kind = failures.front().kind;
  r.failure = failures.front().text;

  json s = serialize_cluster_scenario(failing);
  s["seed"] = options.seed;
  s["name"] = failing.name + "-shrunk";
  s["description"] = fmt::format("Shrunk by heck sim --shrink from {} seed {}: still fails {}.", options.origin,
                                 options.seed, r.kind);
  Shrinker sh(options, r.kind, r);
  if (!sh.fails(s)) {
    return Error{fmt::format("the scenario written back as JSON does not fail {} with seed {} as the original does{}",
                             r.kind, options.seed, r.stopped.empty() ? "" : " (" + r.stopped + ")")};
  }
  shrink_timeline(sh, s, r);
  shrink_members(sh, s, r);
  shrink_targets(sh, s, r);
  shrink_time(sh, s, r);
  shrink_knobs(sh, s, r);
  r.failure = sh.failure_of(s);
  r.scenario = std::move(s);
  auto after = parse_cluster_scenario(r.scenario);
  if (!after) return Error{fmt::format("the shrunk scenario does not parse: {}", after.error())};
  r.after = ScenarioSize::of(*after);
  r.wall_seconds = sh.elapsed();
  return r;
}

std::string format_shrink(const ShrinkResult& r, const std::string& out_path, std::uint64_t seed) {
  std::string out;
  auto w = std::back_inserter(out);
  fmt::format_to(w, "shrink     keeps failing {}: {} simulations ({} candidates refused by the parser), {:.1f} s wall{}\n",
                 r.kind, r.runs, r.refused, r.wall_seconds, r.stopped.empty() ? "" : "; stopped early: " + r.stopped);
  fmt::format_to(w, "before     {} events, {} members, {} targets, {} simulated\n", r.before.events, r.before.members,
                 r.before.targets, seconds_text(r.before.simulated()));
  fmt::format_to(w, "after      {} events, {} members, {} targets, {} simulated\n", r.after.events, r.after.members,
                 r.after.targets, seconds_text(r.after.simulated()));
  for (const std::string& line : r.removed) fmt::format_to(w, "  {}\n", line);
  if (r.removed.empty()) fmt::format_to(w, "  (nothing could go)\n");
  fmt::format_to(w, "fails      {}\n", r.failure);
  fmt::format_to(w, "wrote      {}\n", out_path);
  fmt::format_to(w, "replay     {}\n", replay_command(out_path, seed));
  return out;
}

}  // namespace heck::sim
