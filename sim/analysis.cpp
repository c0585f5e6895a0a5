#include "sim/analysis.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

namespace heck::sim {

std::string seconds_text(Duration d) { return fmt::format("{:.3f} s", d.seconds_f()); }

namespace {

std::string at_text(Instant t) { return seconds_text(t - Instant::from_ns(0)); }

// The nodes and targets an expectation covers, as lookup masks.
class Scope {
 public:
  Scope(const Scenario& s, const Expectation& e) : node_in_(s.nodes.size(), 0), target_in_(s.targets.size(), 0) {
    for (auto n : e.nodes) node_in_[n] = 1;
    for (auto t : e.targets) target_in_[t] = 1;
  }
  bool covers(std::uint32_t node, std::uint32_t target) const {
    return target < target_in_.size() && node_in_[node] && target_in_[target];
  }

 private:
  std::vector<char> node_in_, target_in_;
};

std::string pair_name(const World& w, std::uint32_t n, std::uint32_t t) {
  return fmt::format("{}/{}", w.scenario().nodes[n].name, w.scenario().targets[t].spec().id);
}

Verdict judge_detects(const World& w, const Expectation& e, const std::vector<Detection>& detections, Instant end) {
  const Scenario& s = w.scenario();
  const Scope scope(s, e);
  std::size_t judged = 0, short_lived = 0, cut_by_end = 0, late = 0;
  const Detection* worst = nullptr;  // largest delay among judged
  Duration worst_bound;
  const Detection* first_late = nullptr;
  Duration first_late_bound;
  for (const auto& d : detections) {
    if (!scope.covers(d.node, d.target)) continue;
    const Duration bound =
        detection_bound(s.targets[d.target].spec(), e.within_intervals, s.scheduler, w.clock(d.node));
    if (d.held_until - d.transition.at < bound) {
      ++short_lived;
      if (d.held_until == end) ++cut_by_end;
      continue;
    }
    ++judged;
    if (!d.delay || *d.delay > bound) {
      if (++late == 1) first_late = &d, first_late_bound = bound;
      continue;
    }
    if (worst == nullptr || *d.delay > *worst->delay) worst = &d, worst_bound = bound;
  }
  Verdict v;
  auto tr = [&](const Detection& d) {
    return fmt::format("{} {}->{} at {}", s.targets[d.target].spec().id, to_string(d.transition.from),
                       to_string(d.transition.to), at_text(d.transition.at));
  };
  if (late > 0) {
    const Detection& d = *first_late;
    v.evidence = fmt::format("{} of {} judged transitions late; first: {} saw {} {} (bound {})", late, judged,
                             s.nodes[d.node].name, tr(d),
                             d.delay ? "after " + seconds_text(*d.delay) : std::string("never while it held"),
                             seconds_text(first_late_bound));
    return v;
  }
  const auto skipped = fmt::format("{} too short to judge, {} of them cut by the end of the run", short_lived,
                                   cut_by_end);
  if (judged == 0) {
    v.evidence = fmt::format("no transition held long enough to judge ({})", skipped);
    return v;
  }
  v.pass = true;
  v.evidence = fmt::format("{} node x transition pairs judged ({}); max delay {} by {} on {} (bound {})", judged,
                           skipped, seconds_text(*worst->delay), s.nodes[worst->node].name, tr(*worst),
                           seconds_text(worst_bound));
  return v;
}

Verdict judge_never(const World& w, const Expectation& e) {
  const Scenario& s = w.scenario();
  const Scope scope(s, e);
  std::size_t hits = 0;
  const StatusRecord* first = nullptr;
  for (const auto& r : w.status_records()) {
    if (!scope.covers(r.node, r.target) || r.to != e.status) continue;
    if (++hits == 1) first = &r;
  }
  Verdict v;
  v.pass = hits == 0;
  if (v.pass) {
    v.evidence = fmt::format("{} node/target pairs never {}", e.nodes.size() * e.targets.size(), to_string(e.status));
  } else {
    v.evidence = fmt::format("{} times; first: {} became {} at {} ({})", hits, pair_name(w, first->node, first->target),
                             to_string(first->to), at_text(first->at), to_string(first->reason));
  }
  return v;
}

Verdict judge_status_at(const World& w, const Expectation& e, const StatusIndex& index) {
  const Instant at = Instant::from_ns(0) + e.at;
  std::size_t wrong = 0;
  std::string first;
  for (auto n : e.nodes) {
    for (auto t : e.targets) {
      const HealthStatus got = index.status_at(n, t, at);
      if (got != e.status && ++wrong == 1) first = fmt::format("{} is {}", pair_name(w, n, t), to_string(got));
    }
  }
  const std::size_t pairs = e.nodes.size() * e.targets.size();
  Verdict v;
  v.pass = wrong == 0;
  v.evidence = v.pass ? fmt::format("{} of {} node/target pairs {} at {}", pairs, pairs, to_string(e.status),
                                    at_text(at))
                      : fmt::format("{} of {} pairs not {} at {}; first: {}", wrong, pairs, to_string(e.status),
                                    at_text(at), first);
  return v;
}

// checks / changes: a count per (node, target) pair within [min, max].
template <typename Count>
Verdict judge_counts(const World& w, const Expectation& e, std::string_view what, Count count) {
  std::uint64_t lo = UINT64_MAX, hi = 0;
  std::string lo_at, hi_at, first_bad;
  std::size_t bad = 0;
  for (auto n : e.nodes) {
    for (auto t : e.targets) {
      const std::uint64_t c = count(n, t);
      if (c < lo) lo = c, lo_at = pair_name(w, n, t);
      if (c > hi) hi = c, hi_at = pair_name(w, n, t);
      if ((c < e.min || c > e.max) && ++bad == 1) first_bad = fmt::format("{}: {} {}", pair_name(w, n, t), c, what);
    }
  }
  Verdict v;
  v.pass = bad == 0;
  const auto spread = fmt::format("{} per node/target pair: min {} ({}), max {} ({})", what, lo, lo_at, hi, hi_at);
  v.evidence = v.pass ? spread : fmt::format("{} pairs outside the range; first: {}; {}", bad, first_bad, spread);
  return v;
}

}  // namespace

StatusIndex::StatusIndex(const World& w) : targets_(w.scenario().targets.size()) {
  const auto& records = w.status_records();
  const std::size_t pairs = w.node_count() * targets_;
  start_.assign(pairs + 1, 0);
  for (const auto& r : records) {
    if (r.target < targets_) ++start_[key(r.node, r.target) + 1];
  }
  for (std::size_t i = 1; i <= pairs; ++i) start_[i] += start_[i - 1];
  sorted_.resize(start_[pairs]);
  std::vector<std::size_t> fill(start_.begin(), start_.end() - 1);
  for (const auto& r : records) {
    if (r.target < targets_) sorted_[fill[key(r.node, r.target)]++] = &r;
  }
}

HealthStatus StatusIndex::status_at(std::uint32_t n, std::uint32_t t, Instant at) const {
  const auto records = of(n, t);
  auto it = std::upper_bound(records.begin(), records.end(), at,
                             [](Instant x, const StatusRecord* r) { return x < r->at; });
  return it == records.begin() ? HealthStatus::unknown : (*(it - 1))->to;
}

Duration detection_bound(const TargetSpec& spec, int intervals, const SchedulerConfig& config,
                         const NodeClock& clock) {
  assert(intervals >= 1);
  const CheckScheduler reference(0, config);  // for its jitter bound only
  const Duration local = spec.interval * intervals + reference.jitter_bound(spec) * 2 + spec.timeout;
  return clock.true_duration_ceil(local);
}

std::vector<Detection> detect_transitions(const World& w, const StatusIndex& index, Instant end) {
  const Scenario& s = w.scenario();
  std::vector<Detection> out;
  for (std::uint32_t t = 0; t < s.targets.size(); ++t) {
    const auto transitions = s.targets[t].truth_transitions(end);
    for (std::size_t k = 0; k < transitions.size(); ++k) {
      const TruthTransition& tr = transitions[k];
      const Instant until = k + 1 < transitions.size() ? transitions[k + 1].at : end;
      for (std::uint32_t n = 0; n < w.node_count(); ++n) {
        Detection d;
        d.target = t;
        d.node = n;
        d.transition = tr;
        d.held_until = until;
        if (index.status_at(n, t, tr.at) == tr.to) {
          d.delay = Duration::zero();
        } else {
          const auto records = index.of(n, t);
          auto it = std::upper_bound(records.begin(), records.end(), tr.at,
                                     [](Instant x, const StatusRecord* r) { return x < r->at; });
          for (; it != records.end() && (*it)->at < until; ++it) {
            if ((*it)->to == tr.to) {
              d.delay = (*it)->at - tr.at;
              break;
            }
          }
        }
        out.push_back(d);
      }
    }
  }
  return out;
}

std::vector<Verdict> judge(const World& w, const StatusIndex& index, const std::vector<Detection>& detections,
                           Instant end) {
  const Scenario& s = w.scenario();
  std::vector<Verdict> out;
  for (std::size_t i = 0; i < s.expectations.size(); ++i) {
    const Expectation& e = s.expectations[i];
    Verdict v;
    switch (e.kind) {
      case ExpectationKind::detects: v = judge_detects(w, e, detections, end); break;
      case ExpectationKind::never: v = judge_never(w, e); break;
      case ExpectationKind::status_at: v = judge_status_at(w, e, index); break;
      case ExpectationKind::checks:
        v = judge_counts(w, e, "checks", [&](std::uint32_t n, std::uint32_t t) { return w.checks_started(n, t); });
        break;
      case ExpectationKind::changes:
        v = judge_counts(w, e, "status changes", [&](std::uint32_t n, std::uint32_t t) { return index.of(n, t).size(); });
        break;
    }
    v.expectation = i;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace heck::sim
