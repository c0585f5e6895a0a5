#include "sim/report_recorder.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "sim/cluster_invariants.h"

namespace heck::sim {

namespace {

constexpr Instant kZero = Instant::from_ns(0);
constexpr std::size_t kSetNamesListed = 4;  // members named in a fault's from / to
constexpr std::size_t kMaxTruthSteps = 10'000;

// Index of a member view in LaneCounts (unknown is not counted).
enum View : std::uint8_t { kUnknown, kAlive, kSuspect, kDead, kLeft };

View view_of(MemberState s) {
  switch (s) {
    case MemberState::alive: return kAlive;
    case MemberState::suspect: return kSuspect;
    case MemberState::dead: return kDead;
    case MemberState::left: return kLeft;
  }
  return kUnknown;
}

std::uint16_t clamp16(std::size_t v) { return static_cast<std::uint16_t>(std::min<std::size_t>(v, UINT16_MAX)); }

// True when the model's truth changes before `end` (a target worth showing).
bool truth_changes(const TargetModel* model, Instant end) {
  if (model == nullptr) return false;
  const HealthStatus first = model->truth_at(kZero);
  Instant t = kZero;
  for (std::size_t step = 0; step < kMaxTruthSteps; ++step) {
    const auto next = model->next_change(t);
    if (!next || *next >= end) return false;
    if (model->truth_at(*next) != first) return true;
    t = *next;
  }
  return true;  // changes that often are worth showing
}

HealthStatus truth_of(const ClusterScenario& s, std::uint32_t target, Instant at) {
  const TargetModel* m = s.target_model(target);
  return m == nullptr ? HealthStatus::unhealthy : m->truth_at(at);  // no such host: every check fails
}

std::string set_text(const ClusterScenario& s, const EndpointSet& set) {
  const std::size_t n = s.members.size();
  const std::size_t count = set.count();
  if (count == n) return "*";
  if (count == 0) return "(none)";
  std::string out;
  std::size_t listed = 0;
  for (std::uint32_t m = 0; m < n && listed < kSetNamesListed; ++m) {
    if (!set.contains(m)) continue;
    if (listed++ > 0) out += ", ";
    out += s.members[m].name;
  }
  if (count > listed) out += fmt::format(" +{} more", count - listed);
  return out;
}

std::string link_text(const LinkOverride& o) {
  std::vector<std::string> parts;
  if (o.loss) parts.push_back(fmt::format("loss {:g}%", *o.loss * 100));
  if (o.duplicate) parts.push_back(fmt::format("duplicate {:g}%", *o.duplicate * 100));
  if (o.reorder) parts.push_back(fmt::format("reorder {:g}%", *o.reorder * 100));
  if (o.latency) parts.emplace_back("latency changed");
  if (o.stream_bytes_per_ms) parts.push_back(fmt::format("{:g} B/ms streams", *o.stream_bytes_per_ms));
  return parts.empty() ? std::string("no change") : fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

std::string_view to_string(ProcessSpan::Kind k) {
  switch (k) {
    case ProcessSpan::Kind::not_started: return "not started";
    case ProcessSpan::Kind::down: return "down";
    case ProcessSpan::Kind::paused: return "paused";
    case ProcessSpan::Kind::leaving: return "leaving";
  }
  return "?";
}

std::size_t ReportData::bucket_of(Instant t) const {
  if (buckets == 0 || t < kZero) return 0;
  return std::min<std::size_t>(static_cast<std::size_t>((t - kZero).ns() / bucket.ns()), buckets - 1);
}

ReportRecorder::ReportRecorder(const ClusterScenario& scenario, std::string scenario_path) : scenario_(scenario) {
  ReportData& d = data_;
  d.name = scenario.name;
  d.description = scenario.description;
  d.scenario_path = std::move(scenario_path);
  d.duration = scenario.duration();
  d.safety = scenario.safety;
  d.metrics_from = scenario.metrics_from;
  const std::int64_t second = Duration::seconds(1).ns();
  const auto max_buckets = static_cast<std::int64_t>(ReportData::kMaxBuckets);
  const std::int64_t seconds = (d.duration.ns() + second - 1) / second;
  d.bucket = Duration::seconds(std::max<std::int64_t>(1, (seconds + max_buckets - 1) / max_buckets));
  d.buckets = static_cast<std::size_t>((d.duration.ns() + d.bucket.ns() - 1) / d.bucket.ns());
  for (const MemberScenario& m : scenario.members) d.members.push_back(m.name);

  // Targets sampled each bucket: those whose truth changes first.
  d.target_count = scenario.target_count();
  const std::size_t budget = std::min(ReportData::kMaxSampledTargets,
                                      std::max<std::size_t>(1, ReportData::kMaxViewsPerSample /
                                                                   std::max<std::size_t>(1, scenario.members.size())));
  const Instant end = kZero + d.duration;
  std::vector<std::uint32_t> changing, steady;
  for (std::uint32_t t = 0; t < d.target_count; ++t) {
    (truth_changes(scenario.target_model(t), end) ? changing : steady).push_back(t);
  }
  for (const auto* group : {&changing, &steady}) {
    for (std::uint32_t t : *group) {
      if (sampled_.size() < budget) sampled_.push_back(t);
    }
  }
  std::sort(sampled_.begin(), sampled_.end());
  d.targets_sampled = sampled_.size();
  samples_.assign(sampled_.size(), std::vector<std::array<std::uint16_t, 3>>(d.buckets, {0, 0, 0}));
  d.messages.assign(d.buckets, 0);
  d.bytes.assign(d.buckets, 0);
}

void ReportRecorder::sample(const ClusterWorld& world) {
  ReportData& d = data_;
  if (d.buckets == 0) return;
  // The bucket that ends now (the last one may end at the run's end, short).
  const std::int64_t since = (world.now() - kZero).ns();
  if (since <= 0) return;
  const std::size_t k =
      std::min<std::size_t>(static_cast<std::size_t>((since + d.bucket.ns() - 1) / d.bucket.ns()), d.buckets) - 1;
  if (k < samples_taken_) return;  // sampled already
  samples_taken_ = k + 1;

  const NetworkCounters& n = world.network().counters();
  const std::uint64_t messages = n.datagrams_sent + n.streams_sent;
  d.messages[k] = messages - last_messages_;
  d.bytes[k] = n.bytes_sent - last_bytes_;
  last_messages_ = messages;
  last_bytes_ = n.bytes_sent;

  for (std::uint32_t m = 0; m < world.member_count(); ++m) {
    const ClusterNode* node = world.node(m);
    if (node == nullptr || world.paused(m)) continue;
    for (std::size_t i = 0; i < sampled_.size(); ++i) {
      const TargetSpec& spec = scenario_.target_spec(sampled_[i]);
      const HealthStatus s = agent_status(*node, spec.id, spec.quorum);
      auto& cell = samples_[i][k];
      const std::size_t slot = s == HealthStatus::healthy ? 0 : s == HealthStatus::unhealthy ? 1 : 2;
      if (cell[slot] < UINT16_MAX) ++cell[slot];
    }
  }
}

void ReportRecorder::finish(const ClusterWorld& world, const ClusterRunReport& report) {
  // A run whose end is not on the grid: its last, short bucket.
  if (report.error.empty()) sample(world);
  ReportData& d = data_;
  d.seed = report.seed;
  d.replay = replay_command(d.scenario_path, report.seed);
  d.passed = report.passed();
  d.error = report.error;
  d.member_records_dropped = world.counters().records_dropped;
  build_lanes(world);
  build_processes(world);
  build_network_faults();
  build_targets(report);

  const ClusterMetrics& m = report.metrics;
  d.crashes = m.crashes;
  d.first_detection = m.first_detection;
  d.dead_everywhere = m.dead_everywhere;
  d.false_positives = m.false_positives;
  d.converged_after = m.converged_after;
  d.messages_per_member_s = m.messages_per_member_s;
  d.bytes_per_member_s = m.bytes_per_member_s;
  if (report.invariants) {
    d.agree_delays = report.invariants->agree_delays;
    d.takeover_gaps = report.invariants->takeover_gaps;
  }
  for (const Verdict& v : report.verdicts) {
    d.expectations.push_back({v.pass, scenario_.expectations[v.expectation].describe(), v.evidence});
  }
}

// Replays the member records and the process log in time order (a process
// event before a record at the same instant: a started member's first views
// come after its start; a crashed member's last ones no longer count).
void ReportRecorder::build_lanes(const ClusterWorld& world) {
  ReportData& d = data_;
  const std::size_t n = world.member_count();
  std::vector<std::uint8_t> view(n * n, kUnknown);  // [observer * n + subject]
  std::vector<bool> running(n, false);
  std::size_t running_count = 0;
  std::vector<std::array<std::uint32_t, 5>> counts(n, {0, 0, 0, 0, 0});  // per subject, over running observers
  std::vector<std::array<std::uint32_t, 5>> peaks(n, {0, 0, 0, 0, 0});
  d.lanes.assign(n, std::vector<LaneCell>(d.buckets));

  auto raise = [&](std::uint32_t subject) {
    for (std::size_t v = kSuspect; v <= kLeft; ++v) peaks[subject][v] = std::max(peaks[subject][v], counts[subject][v]);
  };
  auto on_process = [&](const FaultRecord& f) {
    const std::uint32_t o = f.member;
    const bool up = f.what != ProcessEvent::crash && f.what != ProcessEvent::stop;
    if (f.what == ProcessEvent::start) {
      // A new process: it knows nobody yet.
      if (running[o]) {
        for (std::uint32_t s = 0; s < n; ++s) --counts[s][view[o * n + s]];
      }
      std::fill(view.begin() + static_cast<std::ptrdiff_t>(o * n), view.begin() + static_cast<std::ptrdiff_t>((o + 1) * n),
                kUnknown);
      if (!running[o]) ++running_count;
      running[o] = true;
      for (std::uint32_t s = 0; s < n; ++s) ++counts[s][kUnknown];
    } else if (!up && running[o]) {
      running[o] = false;
      --running_count;
      for (std::uint32_t s = 0; s < n; ++s) --counts[s][view[o * n + s]];
    }
  };
  auto on_record = [&](const MemberRecord& r) {
    if (r.observer == r.subject) return;
    std::uint8_t& v = view[static_cast<std::size_t>(r.observer) * n + r.subject];
    const View to = view_of(r.to);
    if (running[r.observer]) {
      --counts[r.subject][v];
      ++counts[r.subject][to];
    }
    v = to;
    raise(r.subject);
  };

  const auto& faults = world.faults();
  const auto& records = world.records();
  std::size_t fi = 0, ri = 0;
  for (std::size_t k = 0; k < d.buckets; ++k) {
    for (std::uint32_t s = 0; s < n; ++s) peaks[s] = counts[s];
    const bool last = k + 1 == d.buckets;
    const Instant bucket_end = kZero + d.bucket * static_cast<std::int64_t>(k + 1);
    auto in_bucket = [&](Instant at) { return last || at < bucket_end; };
    while ((fi < faults.size() && in_bucket(faults[fi].at)) || (ri < records.size() && in_bucket(records[ri].at))) {
      const bool fault_first = fi < faults.size() && (ri == records.size() || faults[fi].at <= records[ri].at);
      if (fault_first) {
        on_process(faults[fi++]);
      } else {
        on_record(records[ri++]);
      }
    }
    for (std::uint32_t s = 0; s < n; ++s) {
      // The subject's own row is never counted: it is not its own observer.
      const std::size_t observers = running_count - (running[s] ? 1 : 0);
      LaneCell& c = d.lanes[s][k];
      c.observers = clamp16(observers);
      c.alive = clamp16(counts[s][kAlive]);
      c.suspect = clamp16(peaks[s][kSuspect]);
      c.dead = clamp16(peaks[s][kDead]);
      c.left = clamp16(peaks[s][kLeft]);
    }
  }
}

void ReportRecorder::build_processes(const ClusterWorld& world) {
  ReportData& d = data_;
  const Instant end = kZero + d.duration;
  d.processes.assign(world.member_count(), {});
  std::vector<std::optional<ProcessSpan>> open(world.member_count());
  for (std::uint32_t m = 0; m < world.member_count(); ++m) {
    open[m] = ProcessSpan{ProcessSpan::Kind::not_started, kZero, end};
  }
  std::size_t kept = 0;
  auto close = [&](std::uint32_t m, Instant at) {
    if (!open[m]) return;
    open[m]->to = at;
    if (open[m]->to > open[m]->from) {
      if (kept < ReportData::kMaxProcessSpans) {
        d.processes[m].push_back(*open[m]);
        ++kept;
      } else {
        ++d.process_spans_dropped;
      }
    }
    open[m].reset();
  };
  for (const FaultRecord& f : world.faults()) {
    const std::uint32_t m = f.member;
    switch (f.what) {
      case ProcessEvent::start:
      case ProcessEvent::resume: close(m, f.at); break;
      case ProcessEvent::crash:
      case ProcessEvent::stop:
        close(m, f.at);
        open[m] = ProcessSpan{ProcessSpan::Kind::down, f.at, end};
        break;
      case ProcessEvent::pause:
        close(m, f.at);
        open[m] = ProcessSpan{ProcessSpan::Kind::paused, f.at, end};
        break;
      case ProcessEvent::leave:
        close(m, f.at);
        open[m] = ProcessSpan{ProcessSpan::Kind::leaving, f.at, end};
        break;
    }
  }
  for (std::uint32_t m = 0; m < world.member_count(); ++m) close(m, end);
}

// Mirrors the world's rules (ClusterWorld::apply_timeline): a heal, release
// or unlink ends the rules of its name, or every rule of its kind without
// one; the liveness phase ends every rule still in force.
void ReportRecorder::build_network_faults() {
  ReportData& d = data_;
  const Instant liveness = kZero + scenario_.safety;
  std::vector<std::size_t> active;  // indices into network_faults
  auto end_rules = [&](FaultKind kind, const std::string& name, Instant at) {
    std::erase_if(active, [&](std::size_t i) {
      NetworkFaultSpan& f = d.network_faults[i];
      if (f.kind != kind || (!name.empty() && f.name != name)) return false;
      f.until = at;
      return true;
    });
  };
  for (const TimelineEvent& e : scenario_.timeline) {
    const Instant at = kZero + e.at;
    switch (e.kind) {
      case FaultKind::partition:
      case FaultKind::clog:
      case FaultKind::link: {
        if (d.network_faults.size() >= ReportData::kMaxNetworkFaults) {
          ++d.network_faults_dropped;
          break;
        }
        NetworkFaultSpan f;
        f.kind = e.kind;
        f.name = e.name;
        f.from = set_text(scenario_, e.from);
        f.to = set_text(scenario_, e.to);
        f.one_way = e.one_way;
        if (e.kind == FaultKind::link) f.detail = link_text(e.link);
        f.at = at;
        f.until = liveness;
        active.push_back(d.network_faults.size());
        d.network_faults.push_back(std::move(f));
        break;
      }
      case FaultKind::heal: end_rules(FaultKind::partition, e.name, at); break;
      case FaultKind::release: end_rules(FaultKind::clog, e.name, at); break;
      case FaultKind::unlink: end_rules(FaultKind::link, e.name, at); break;
      case FaultKind::put_target:
      case FaultKind::delete_target:
      case FaultKind::add_counter:
      case FaultKind::add_to_set:
      case FaultKind::remove_from_set: {
        if (d.marks.size() >= ReportData::kMaxMarks) break;
        std::string what = e.kind == FaultKind::put_target      ? "put_target " + e.spec->id.str()
                           : e.kind == FaultKind::delete_target ? "delete_target " + e.id
                           : e.kind == FaultKind::add_counter   ? fmt::format("add_counter {} {:+}", e.id, e.delta)
                                                                : fmt::format("{} {} {}", to_string(e.kind), e.id, e.element);
        d.marks.push_back({at, std::move(what)});
        break;
      }
      default: break;
    }
  }
}

void ReportRecorder::build_targets(const ClusterRunReport& report) {
  ReportData& d = data_;
  // Violations per target id.
  std::map<std::string, std::pair<std::size_t, std::string>, std::less<>> violated;
  if (report.invariants) {
    for (const auto& [invariant, list] : report.invariants->violations) {
      for (const InvariantViolation& v : list) {
        auto& [count, first] = violated[v.target];
        if (count++ == 0) {
          first = fmt::format("{} at {}: {}", to_string(invariant), seconds_text(v.at - kZero), v.what);
        }
      }
    }
  }
  d.violated_targets = violated.size();
  const Instant end = kZero + d.duration;
  // Rows: violations, then changing truths, then steady ones (see the header).
  std::vector<std::size_t> bad, changing, steady;
  for (std::size_t i = 0; i < sampled_.size(); ++i) {
    const std::string& id = scenario_.target_spec(sampled_[i]).id;
    if (violated.contains(id)) {
      bad.push_back(i);
    } else {
      (truth_changes(scenario_.target_model(sampled_[i]), end) ? changing : steady).push_back(i);
    }
  }
  d.violated_not_sampled = d.violated_targets - bad.size();
  std::vector<std::size_t> rows = bad;
  for (const auto* group : {&changing, &steady}) {
    for (std::size_t i : *group) {
      if (rows.size() < ReportData::kTargetRows) rows.push_back(i);
    }
  }
  std::sort(rows.begin(), rows.end());
  for (std::size_t i : rows) {
    TargetRow row;
    row.target = sampled_[i];
    row.id = scenario_.target_spec(row.target).id;
    if (auto it = violated.find(row.id); it != violated.end()) {
      row.violations = it->second.first;
      row.first_violation = it->second.second;
    }
    row.truth.resize(d.buckets);
    for (std::size_t k = 0; k < d.buckets; ++k) {
      const Instant at = std::min(end, kZero + d.bucket * static_cast<std::int64_t>(k + 1));
      row.truth[k] = truth_of(scenario_, row.target, at);
    }
    row.reports = std::move(samples_[i]);
    d.targets.push_back(std::move(row));
  }
  samples_.clear();
}

}  // namespace heck::sim
