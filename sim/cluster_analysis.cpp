#include "sim/cluster_analysis.h"

#include "sim/cluster_invariants.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace heck::sim {

std::string seconds_text(Duration d) { return fmt::format("{:.3f} s", d.seconds_f()); }

std::string Percentiles::describe() const {
  if (count == 0) return "none";
  return fmt::format("p50 {}, p99 {}, max {} (n={})", seconds_text(p50), seconds_text(p99), seconds_text(max), count);
}

Percentiles percentiles(std::vector<Duration> values) {
  return nearest_rank_percentiles<Percentiles>(std::move(values));
}

namespace {

constexpr Instant kForever = Instant::max();

struct Interval {
  Instant start, end = kForever;  // [start, end)
};

// Each member's process lifetimes, from the fault log.
struct Lifetimes {
  std::vector<std::vector<Interval>> running;

  Lifetimes(const ClusterWorld& w) : running(w.member_count()) {
    for (const FaultRecord& f : w.faults()) {
      auto& iv = running[f.member];
      if (f.what == ProcessEvent::start) {
        iv.push_back(Interval{f.at, kForever});
      } else if ((f.what == ProcessEvent::crash || f.what == ProcessEvent::stop) && !iv.empty()) {
        iv.back().end = f.at;
      }
    }
  }
  // The lifetime containing t, if any.
  const Interval* at(std::uint32_t m, Instant t) const {
    for (const Interval& i : running[m]) {
      if (i.start <= t && t < i.end) return &i;
    }
    return nullptr;
  }
  bool runs_through(std::uint32_t m, Instant from, Instant end) const {
    const Interval* i = at(m, from);
    return i != nullptr && i->end >= end;
  }
  // The first start at or after t of a lifetime that does not end at t (a
  // restart at the instant of the crash counts; the crashed one does not).
  Instant next_start_after(std::uint32_t m, Instant t) const {
    for (const Interval& i : running[m]) {
      if (i.start >= t && i.end != t) return i.start;
    }
    return kForever;
  }
};

bool at_least(MemberState state, std::uint64_t inc, MemberState ustate, std::uint64_t uinc) {
  return inc > uinc || (inc == uinc && static_cast<int>(state) >= static_cast<int>(ustate));
}

void measure_crashes(const ClusterWorld& w, const Lifetimes& life, Instant end, ClusterMetrics& out) {
  const auto& records = w.records();
  std::vector<Duration> firsts, everywheres;
  for (const FaultRecord& f : w.faults()) {
    if (f.what != ProcessEvent::crash) continue;
    CrashDetection c;
    c.member = f.member;
    c.at = f.at;
    c.episode_end = std::min(life.next_start_after(f.member, f.at), end);
    // Observers: running at the crash, other than the member.
    std::map<std::uint32_t, std::optional<Instant>> marked;  // observer -> its first dead report
    for (std::uint32_t o = 0; o < w.member_count(); ++o) {
      if (o != f.member && life.at(o, f.at) != nullptr) marked.emplace(o, std::nullopt);
    }
    auto first = std::lower_bound(records.begin(), records.end(), f.at,
                                  [](const MemberRecord& r, Instant t) { return r.at < t; });
    for (auto it = first; it != records.end() && it->at < c.episode_end; ++it) {
      if (it->subject != f.member || it->observer == f.member) continue;
      if (!c.first && (it->to == MemberState::suspect || it->to == MemberState::dead)) c.first = it->at - f.at;
      if (it->to == MemberState::dead) {
        auto m = marked.find(it->observer);
        if (m != marked.end() && !m->second) m->second = it->at;
      }
    }
    Instant last = f.at;
    bool complete = true;
    for (const auto& [o, when] : marked) {
      // An observer whose own process ended before it marked the member is
      // excused; one still running at the episode's end is not.
      const Interval* iv = life.at(o, f.at);
      const bool excused = !when && iv != nullptr && iv->end < c.episode_end;
      if (excused) continue;
      ++c.observers;
      if (when) {
        ++c.marked;
        last = std::max(last, *when);
      } else {
        complete = false;
      }
    }
    if (complete) c.everywhere = last - f.at;
    if (c.first) {
      firsts.push_back(*c.first);
    } else {
      ++out.undetected;
    }
    if (c.everywhere) {
      everywheres.push_back(*c.everywhere);
    } else {
      ++out.incomplete;
    }
    out.crashes.push_back(c);
  }
  out.first_detection = percentiles(std::move(firsts));
  out.dead_everywhere = percentiles(std::move(everywheres));
}

void measure_false_positives(const ClusterWorld& w, ClusterMetrics& out) {
  const std::size_t n = w.member_count();
  std::vector<bool> running(n, false), paused(n, false);
  std::set<std::pair<std::uint32_t, std::uint64_t>> downed, held;  // (member, incarnation) at a crash/stop, a pause
  std::map<std::tuple<std::uint32_t, std::uint64_t, MemberState>, std::size_t> fp_index;
  const auto& faults = w.faults();
  std::size_t fi = 0;
  for (const MemberRecord& r : w.records()) {
    for (; fi < faults.size() && faults[fi].at <= r.at; ++fi) {
      const FaultRecord& f = faults[fi];
      switch (f.what) {
        case ProcessEvent::start: running[f.member] = true; paused[f.member] = false; break;
        case ProcessEvent::crash:
        case ProcessEvent::stop:
          running[f.member] = false;
          paused[f.member] = false;
          downed.emplace(f.member, f.incarnation);
          break;
        case ProcessEvent::pause: paused[f.member] = true; held.emplace(f.member, f.incarnation); break;
        case ProcessEvent::resume: paused[f.member] = false; break;
        case ProcessEvent::leave: break;
      }
    }
    if (r.observer == r.subject) continue;
    if (r.to != MemberState::suspect && r.to != MemberState::dead) continue;
    const auto key = std::make_pair(r.subject, r.incarnation);
    bool is_false = false;
    if (r.to == MemberState::suspect) {
      is_false = running[r.subject] && !paused[r.subject] && !downed.contains(key) && !held.contains(key);
    } else {
      is_false = running[r.subject] && !downed.contains(key);
    }
    if (!is_false) continue;
    const auto fkey = std::make_tuple(r.subject, r.incarnation, r.to);
    auto [it, fresh] = fp_index.emplace(fkey, out.false_positives.size());
    if (fresh) {
      out.false_positives.push_back(FalsePositive{r.at, r.subject, r.incarnation, r.to, 0});
      ++(r.to == MemberState::suspect ? out.false_suspicions : out.false_deaths);
    }
    ++out.false_positives[it->second].reports;
    ++(r.to == MemberState::suspect ? out.false_suspicion_reports : out.false_death_reports);
  }
}

void measure_load(const ClusterWorld& w, const Lifetimes& life, Instant end, ClusterMetrics& out) {
  const Instant from = Instant::from_ns(0) + w.scenario().metrics_from;
  double messages = 0, bytes = 0;
  for (std::uint32_t m = 0; m < w.member_count(); ++m) {
    double up = 0;
    for (const Interval& i : life.running[m]) {
      const Instant a = std::max(i.start, from);
      const Instant b = std::min(i.end, end);
      if (b > a) up += (b - a).seconds_f();
    }
    const MemberTraffic& t = w.traffic(m);
    messages += static_cast<double>(t.messages);
    bytes += static_cast<double>(t.bytes);
    out.member_seconds += up;
    if (up >= 1.0) {
      out.max_messages_per_member_s = std::max(out.max_messages_per_member_s, static_cast<double>(t.messages) / up);
      out.max_bytes_per_member_s = std::max(out.max_bytes_per_member_s, static_cast<double>(t.bytes) / up);
    }
  }
  if (out.member_seconds > 0) {
    out.messages_per_member_s = messages / out.member_seconds;
    out.bytes_per_member_s = bytes / out.member_seconds;
  }
}

void measure_dissemination(const ClusterWorld& w, const Lifetimes& life, Instant end, ClusterMetrics& out) {
  const std::size_t n = w.member_count();
  const Instant from = Instant::from_ns(0) + w.scenario().metrics_from;
  struct View {
    bool known = false;
    MemberState state = MemberState::alive;
    std::uint64_t incarnation = 0;
  };
  std::vector<View> view(n * n);
  struct Update {
    std::uint32_t subject = 0;
    MemberState state = MemberState::alive;
    std::uint64_t incarnation = 0;
    Instant t0;
    std::size_t remaining = 0;
    std::vector<bool> reached;
    bool done = false;
  };
  std::vector<Update> updates;
  std::map<std::tuple<std::uint32_t, MemberState, std::uint64_t>, std::size_t> seen;
  std::vector<std::vector<std::size_t>> open(n);  // per subject: open update indices
  std::vector<Duration> times;
  const auto& faults = w.faults();
  std::size_t fi = 0;

  auto reaches = [&](const Update& u, std::uint32_t o) {
    const View& v = view[static_cast<std::size_t>(o) * n + u.subject];
    return v.known && at_least(v.state, v.incarnation, u.state, u.incarnation);
  };
  auto mark = [&](Update& u, std::uint32_t o, Instant t) {
    if (u.done || u.reached[o]) return;
    u.reached[o] = true;
    if (--u.remaining == 0) {
      u.done = true;
      times.push_back(t - u.t0);
    }
  };

  for (const MemberRecord& r : w.records()) {
    for (; fi < faults.size() && faults[fi].at <= r.at; ++fi) {
      if (faults[fi].what != ProcessEvent::start) continue;
      const std::uint32_t o = faults[fi].member;  // a new process knows nothing yet
      std::fill(view.begin() + static_cast<std::ptrdiff_t>(o * n), view.begin() + static_cast<std::ptrdiff_t>((o + 1) * n),
                View{});
    }
    view[static_cast<std::size_t>(r.observer) * n + r.subject] = View{true, r.to, r.incarnation};
    if (r.observer == r.subject) continue;
    const auto key = std::make_tuple(r.subject, r.to, r.incarnation);
    if (r.at >= from && !seen.contains(key)) {
      seen.emplace(key, updates.size());
      Update u;
      u.subject = r.subject;
      u.state = r.to;
      u.incarnation = r.incarnation;
      u.t0 = r.at;
      u.reached.assign(n, true);
      for (std::uint32_t o = 0; o < n; ++o) {
        if (o == r.subject || !life.runs_through(o, r.at, end)) continue;
        u.reached[o] = false;
        ++u.remaining;
      }
      const std::size_t index = updates.size();
      updates.push_back(std::move(u));
      Update& nu = updates.back();
      if (nu.remaining == 0) {
        nu.done = true;  // nobody to tell
      } else {
        for (std::uint32_t o = 0; o < n && !nu.done; ++o) {
          if (!nu.reached[o] && reaches(nu, o)) mark(nu, o, r.at);
        }
        if (!nu.done) open[r.subject].push_back(index);
      }
    }
    auto& list = open[r.subject];
    for (std::size_t k : list) {
      Update& u = updates[k];
      if (!u.done && !u.reached[r.observer] && reaches(u, r.observer)) mark(u, r.observer, r.at);
    }
    std::erase_if(list, [&](std::size_t k) { return updates[k].done; });
  }
  out.updates = updates.size();
  for (const Update& u : updates) out.updates_incomplete += !u.done;
  out.dissemination = percentiles(std::move(times));
}

void check_incarnations(const ClusterWorld& w, ClusterMetrics& out) {
  // Every running member's view of every alive member: same incarnation.
  std::map<std::string, std::pair<std::uint64_t, std::string>> first;  // member -> (incarnation, who said)
  for (std::uint32_t o = 0; o < w.member_count(); ++o) {
    const ClusterNode* node = w.node(o);
    if (node == nullptr) continue;
    for (const MemberInfo& m : node->membership().members()) {
      if (m.state != MemberState::alive) continue;
      auto [it, fresh] = first.emplace(m.name, std::make_pair(m.incarnation, node->name()));
      if (!fresh && it->second.first != m.incarnation && out.incarnations_agree) {
        out.incarnations_agree = false;
        out.incarnation_mismatch = fmt::format("{} sees {} alive at incarnation {}, {} at {}", node->name(), m.name,
                                               m.incarnation, it->second.second, it->second.first);
      }
    }
  }
}

// An expectation about the replicated state at the end: every running
// member must hold it (and one must be running). `mismatch` says what a
// member holds instead, or nullopt; the first one is the evidence.
template <typename F>
void judge_every_running(const ClusterWorld& w, Verdict& v, F&& mismatch) {
  std::size_t checked = 0;
  std::string first;
  for (std::uint32_t o = 0; o < w.member_count(); ++o) {
    const ClusterNode* node = w.node(o);
    if (node == nullptr) continue;
    ++checked;
    if (!first.empty()) continue;
    if (auto got = mismatch(*node)) first = fmt::format("; {} has {}", node->name(), *got);
  }
  v.pass = first.empty() && checked > 0;
  v.evidence = fmt::format("{} running members checked{}", checked, first);
}

// The "alerts" expectation: the receiver's log per (target, route) in
// arrival order. A duplicate is a notification (not a repeat) of the same
// kind as the previous one, or a first one that is "resolved". A duplicate
// of a notification whose sender crashed while it was on its way, or within
// kAlertCrashWindow after the receiver accepted it (before the answer
// reached it, or before its record left it), is the window the design
// allows (core/alerts/alert_route.h: at least once under a crash): counted
// and shown, not judged, when it carries the first one's dedup key (a
// receiver that keys on it sees one). At the end
// the last notification must match the status the first running member
// reports: firing for unhealthy; resolved or none for healthy (any, when the
// route sends no resolved notifications); unknown is not judged, nor a
// pair whose sender is still retrying what the receiver refused (owed, not
// lost: shown in the evidence).
constexpr Duration kAlertCrashWindow = Duration::seconds(1);

void judge_alerts(const ClusterWorld& w, const ClusterExpectation& e, Verdict& v) {
  const ClusterScenario& s = w.scenario();
  // Whether `sender` crashed within the window around `at`, the receiver's
  // acceptance: from the request's sending (one alert latency before; a
  // sender that crashed with its request in flight never learns the answer,
  // cluster_alerts seed 1083) to the answer's return plus the window.
  auto crashed_after = [&](const std::string& sender, Instant at) {
    const auto m = s.member_index(sender);
    return m && std::any_of(w.faults().begin(), w.faults().end(), [&](const FaultRecord& f) {
             return f.member == *m && f.what == ProcessEvent::crash && f.at >= at - s.alerts.latency &&
                    f.at <= at + s.alerts.latency + kAlertCrashWindow;
           });
  };
  std::map<std::string, const AlertNotification*> last;  // alert_key -> last delivered
  std::map<std::string, bool> last_lost;  // alert_key -> the last one's sender crashed right after
  std::uint64_t duplicates = 0, crash_window = 0, delivered = 0, repeats = 0;
  std::string first_duplicate;
  for (const ClusterWorld::AlertDelivery& d : w.alert_log()) {
    const AlertNotification& n = d.notification;
    ++delivered;
    if (n.repeat) {
      ++repeats;
      continue;
    }
    const std::string key = alert_key(n.target, n.route);
    const AlertNotification*& before = last[key];
    bool& lost = last_lost[key];
    const bool duplicate = before ? before->kind == n.kind : n.kind == AlertKind::resolved;
    // Excused only under the first one's dedup key: a receiver that keys
    // on it sees the notification once.
    if (duplicate && before && lost && n.dedup_key == before->dedup_key) {
      ++crash_window;
    } else if (duplicate) {
      ++duplicates;
      if (first_duplicate.empty()) {
        first_duplicate = fmt::format("; first duplicate: {} {} for {} by {} at {}", n.route, to_string(n.kind), n.target,
                                      n.sender, seconds_text(d.at - Instant::from_ns(0)));
      }
    }
    before = &n;
    lost = crashed_after(n.sender, d.at);
  }
  const ClusterNode* judge = nullptr;
  for (std::uint32_t o = 0; o < w.member_count() && judge == nullptr; ++o) judge = w.node(o);
  std::size_t mismatched = 0, retrying = 0;
  std::string first_mismatch, first_retrying;
  if (judge != nullptr) {
    for (std::size_t t = 0; t < s.target_count(); ++t) {
      const std::string& id = s.target_spec(t).id;
      const auto status = judge->target_status(id);
      if (!status || *status == HealthStatus::unknown) continue;
      for (const AlertRoute& route : s.alerts.config.routes) {
        if (!route.covers(id)) continue;
        const auto it = last.find(alert_key(id, route.name));
        const AlertNotification* n = it == last.end() ? nullptr : it->second;
        const bool ok = *status == HealthStatus::unhealthy
                            ? n != nullptr && n->kind == AlertKind::firing
                            : !route.send_resolved || n == nullptr || n->kind == AlertKind::resolved;
        if (ok) continue;
        // Still owed: the target's sender (its first owner) is retrying a
        // notification the receiver refused. Shown, not judged; a
        // notification nobody retries is a mismatch.
        const auto owners = judge->owners(id);
        const auto sender = owners.empty() ? std::nullopt : s.member_index(owners.front());
        const ClusterNode* by = sender ? w.node(*sender) : nullptr;
        if (const int refused = by ? by->alerts().failures(id, route.name) : 0; refused > 0) {
          ++retrying;
          if (first_retrying.empty()) {
            first_retrying = fmt::format("; {} {} still retried by {} after {} refusal(s)", id, route.name,
                                         owners.front(), refused);
          }
          continue;
        }
        ++mismatched;
        if (first_mismatch.empty()) {
          first_mismatch = fmt::format("; {} is {} at the end but the last {} notification is {}", id,
                                       to_string(*status), route.name, n ? to_string(n->kind) : "none");
        }
      }
    }
  }
  v.pass = judge != nullptr && duplicates <= e.max && delivered >= e.min && mismatched == 0;
  v.evidence = fmt::format("{} delivered ({} repeats), {} duplicate(s) ({} more in a sender's crash window, under the first one's dedup key), {} "
                           "(target, route) pair(s) not matching the end status ({} more still retried){}{}{}{}",
                           delivered, repeats, duplicates, crash_window, mismatched, retrying, first_duplicate,
                           first_mismatch, first_retrying,
                           judge == nullptr ? "; no running member to judge by" : "");
}

}  // namespace

ClusterMetrics measure(const ClusterWorld& world, Instant end) {
  ClusterMetrics out;
  const Lifetimes life(world);
  measure_crashes(world, life, end, out);
  measure_false_positives(world, out);
  measure_load(world, life, end, out);
  measure_dissemination(world, life, end, out);
  if (const auto since = world.converged_since()) {
    out.converged_after = *since > world.liveness_start() ? *since - world.liveness_start() : Duration::zero();
  }
  check_incarnations(world, out);
  return out;
}

std::uint64_t episodes(const ClusterWorld& w, const std::vector<std::uint32_t>& members,
                       const std::vector<std::uint32_t>& by, MemberState state) {
  std::vector<bool> subject(w.member_count(), false), observer(w.member_count(), by.empty());
  for (auto m : members) subject[m] = true;
  for (auto m : by) observer[m] = true;
  std::set<std::pair<std::uint32_t, std::uint64_t>> seen;
  for (const MemberRecord& r : w.records()) {
    if (r.to == state && r.observer != r.subject && subject[r.subject] && observer[r.observer]) {
      seen.emplace(r.subject, r.incarnation);
    }
  }
  return seen.size();
}

std::vector<std::pair<std::uint32_t, std::optional<MemberState>>> views_at(const ClusterWorld& w, std::uint32_t subject,
                                                                           Instant at) {
  const Lifetimes life(w);
  std::vector<std::optional<MemberState>> seen(w.member_count());
  std::vector<Instant> last_start(w.member_count(), kForever);
  for (std::uint32_t o = 0; o < w.member_count(); ++o) {
    if (const Interval* i = life.at(o, at)) last_start[o] = i->start;
  }
  for (const MemberRecord& r : w.records()) {
    if (r.at > at) break;
    if (r.subject != subject || r.at < last_start[r.observer]) continue;  // an earlier process's view
    seen[r.observer] = r.to;
  }
  std::vector<std::pair<std::uint32_t, std::optional<MemberState>>> out;
  for (std::uint32_t o = 0; o < w.member_count(); ++o) {
    if (o == subject || last_start[o] == kForever) continue;
    out.emplace_back(o, seen[o]);
  }
  return out;
}

namespace {

std::string name_of(const ClusterWorld& w, std::uint32_t m) { return w.scenario().members[m].name; }

bool matches(SeenState want, const std::optional<MemberState>& got) {
  if (want == SeenState::gone) return !got || *got == MemberState::dead || *got == MemberState::left;
  return got && static_cast<int>(*got) == static_cast<int>(want);
}


// --- own checks ---------------------------------------------------------------

std::string at_text(Instant t) { return seconds_text(t - Instant::from_ns(0)); }

std::string pair_name(const ClusterWorld& w, std::uint32_t m, std::uint32_t t) {
  return fmt::format("{}/{}", w.scenario().members[m].name, w.scenario().targets[t].spec().id);
}

// The (member, target) pairs an own-check expectation covers, as masks.
class Scope {
 public:
  Scope(const ClusterScenario& s, const ClusterExpectation& e)
      : member_in_(s.members.size(), 0), target_in_(s.targets.size(), 0) {
    for (auto m : e.members) member_in_[m] = 1;
    for (auto t : e.targets) target_in_[t] = 1;
  }
  bool covers(std::uint32_t member, std::uint32_t target) const {
    return target < target_in_.size() && member_in_[member] && target_in_[target];
  }

 private:
  std::vector<char> member_in_, target_in_;
};

Verdict judge_detects(const ClusterWorld& w, const ClusterExpectation& e, const std::vector<Detection>& detections,
                      Instant end) {
  const ClusterScenario& s = w.scenario();
  const Scope scope(s, e);
  std::size_t judged = 0, short_lived = 0, cut_by_end = 0, late = 0;
  const Detection* worst = nullptr;  // largest delay among judged
  Duration worst_bound;
  const Detection* first_late = nullptr;
  Duration first_late_bound;
  for (const auto& d : detections) {
    if (!scope.covers(d.member, d.target)) continue;
    const Duration bound =
        detection_bound(s.targets[d.target].spec(), e.within_intervals, s.scheduler, w.clock(d.member));
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
                             name_of(w, d.member), tr(d),
                             d.delay ? "after " + seconds_text(*d.delay) : std::string("never while it held"),
                             seconds_text(first_late_bound));
    return v;
  }
  const auto skipped =
      fmt::format("{} too short to judge, {} of them cut by the end of the run", short_lived, cut_by_end);
  if (judged == 0) {
    v.evidence = fmt::format("no transition held long enough to judge ({})", skipped);
    return v;
  }
  v.pass = true;
  v.evidence = fmt::format("{} member x transition pairs judged ({}); max delay {} by {} on {} (bound {})", judged,
                           skipped, seconds_text(*worst->delay), name_of(w, worst->member), tr(*worst),
                           seconds_text(worst_bound));
  return v;
}

Verdict judge_never(const ClusterWorld& w, const ClusterExpectation& e) {
  const Scope scope(w.scenario(), e);
  std::size_t hits = 0;
  const StatusRecord* first = nullptr;
  for (const auto& r : w.status_records()) {
    if (!scope.covers(r.member, r.target) || r.to != e.status) continue;
    if (++hits == 1) first = &r;
  }
  Verdict v;
  v.pass = hits == 0;
  if (v.pass) {
    v.evidence =
        fmt::format("{} member/target pairs never {}", e.members.size() * e.targets.size(), to_string(e.status));
  } else {
    v.evidence = fmt::format("{} times; first: {} became {} at {} ({})", hits, pair_name(w, first->member, first->target),
                             to_string(first->to), at_text(first->at), to_string(first->reason));
  }
  return v;
}

Verdict judge_status_at(const ClusterWorld& w, const ClusterExpectation& e, const StatusIndex& index) {
  const Instant at = Instant::from_ns(0) + e.at.value_or(Duration::zero());
  std::size_t wrong = 0;
  std::string first;
  for (auto m : e.members) {
    for (auto t : e.targets) {
      const HealthStatus got = index.status_at(m, t, at);
      if (got != e.status && ++wrong == 1) first = fmt::format("{} is {}", pair_name(w, m, t), to_string(got));
    }
  }
  const std::size_t pairs = e.members.size() * e.targets.size();
  Verdict v;
  v.pass = wrong == 0;
  v.evidence = v.pass ? fmt::format("{} of {} member/target pairs {} at {}", pairs, pairs, to_string(e.status),
                                    at_text(at))
                      : fmt::format("{} of {} pairs not {} at {}; first: {}", wrong, pairs, to_string(e.status),
                                    at_text(at), first);
  return v;
}

// checks / changes: a count per (member, target) pair within [min, max].
template <typename Count>
Verdict judge_counts(const ClusterWorld& w, const ClusterExpectation& e, std::string_view what, Count count) {
  std::uint64_t lo = UINT64_MAX, hi = 0;
  std::string lo_at, hi_at, first_bad;
  std::size_t bad = 0;
  for (auto m : e.members) {
    for (auto t : e.targets) {
      const std::uint64_t c = count(m, t);
      if (c < lo) lo = c, lo_at = pair_name(w, m, t);
      if (c > hi) hi = c, hi_at = pair_name(w, m, t);
      if ((c < e.min || c > e.max) && ++bad == 1) first_bad = fmt::format("{}: {} {}", pair_name(w, m, t), c, what);
    }
  }
  Verdict v;
  v.pass = bad == 0;
  const auto spread = fmt::format("{} per member/target pair: min {} ({}), max {} ({})", what, lo, lo_at, hi, hi_at);
  v.evidence = v.pass ? spread : fmt::format("{} pairs outside the range; first: {}; {}", bad, first_bad, spread);
  return v;
}

Verdict judge_own(const ClusterWorld& w, const ClusterExpectation& e, Instant end, OwnChecks own) {
  if (own.index == nullptr || own.detections == nullptr) return Verdict{e.source, false, "own checks not recorded"};
  switch (e.kind) {
    case ClusterExpectationKind::detects: return judge_detects(w, e, *own.detections, end);
    case ClusterExpectationKind::never: return judge_never(w, e);
    case ClusterExpectationKind::status_at: return judge_status_at(w, e, *own.index);
    case ClusterExpectationKind::checks:
      return judge_counts(w, e, "checks", [&](std::uint32_t m, std::uint32_t t) { return w.checks_started(m, t); });
    case ClusterExpectationKind::changes:
      return judge_counts(w, e, "status changes",
                          [&](std::uint32_t m, std::uint32_t t) { return own.index->of(m, t).size(); });
    default: return Verdict{e.source, false, "not an own-check expectation"};
  }
}

Verdict judge_one(const ClusterWorld& w, const ClusterExpectation& e, const ClusterMetrics& m, Instant end,
                  std::optional<Duration> state_converged_after, const InvariantReport* invariants, OwnChecks own) {
  Verdict v;
  v.expectation = e.source;
  switch (e.kind) {
    case ClusterExpectationKind::detects:
    case ClusterExpectationKind::never:
    case ClusterExpectationKind::status_at:
    case ClusterExpectationKind::checks:
    case ClusterExpectationKind::changes:
      v = judge_own(w, e, end, own);
      v.expectation = e.source;
      break;
    case ClusterExpectationKind::detection: {
      v.pass = !m.crashes.empty();
      std::string bad;
      for (const CrashDetection& c : m.crashes) {
        const std::string who = fmt::format("{} crashed at {}", name_of(w, c.member), seconds_text(c.at - Instant::from_ns(0)));
        if (e.max_first && (!c.first || *c.first > *e.max_first)) {
          v.pass = false;
          if (bad.empty()) bad = c.first ? fmt::format("; {}: first detection after {}", who, seconds_text(*c.first))
                                         : fmt::format("; {}: never detected", who);
        }
        if (e.max_dead && (!c.everywhere || *c.everywhere > *e.max_dead)) {
          v.pass = false;
          if (bad.empty()) {
            bad = c.everywhere ? fmt::format("; {}: dead everywhere after {}", who, seconds_text(*c.everywhere))
                               : fmt::format("; {}: {} of {} marked it dead", who, c.marked, c.observers);
          }
        }
      }
      v.evidence = m.crashes.empty() ? "no crash in the run"
                                     : fmt::format("{} crashes; first {}; dead everywhere {}{}", m.crashes.size(),
                                                   m.first_detection.describe(), m.dead_everywhere.describe(), bad);
      break;
    }
    case ClusterExpectationKind::false_positives: {
      const Instant a = Instant::from_ns(0) + e.from;
      const Instant b = e.to == Duration::max() ? kForever : Instant::from_ns(0) + e.to;
      std::uint64_t s = 0, d = 0;
      std::string first;
      for (const FalsePositive& f : m.false_positives) {
        if (f.at < a || f.at > b) continue;
        ++(f.state == MemberState::suspect ? s : d);
        if (first.empty()) {
          first = fmt::format("; first: {} {} (incarnation {}) at {} by {} members", name_of(w, f.member),
                              to_string(f.state), f.incarnation, seconds_text(f.at - Instant::from_ns(0)), f.reports);
        }
      }
      v.pass = (!e.max_suspected || s <= *e.max_suspected) && (!e.max_dead_count || d <= *e.max_dead_count);
      v.evidence = fmt::format("{} false suspicions, {} false deaths{}", s, d, first);
      break;
    }
    case ClusterExpectationKind::converges: {
      v.pass = m.converged_after && *m.converged_after <= e.within && m.incarnations_agree;
      if (!m.converged_after) {
        v.evidence = fmt::format("not converged at the end ({} disagreeing views)", w.disagreements());
      } else {
        v.evidence = fmt::format("converged {} after the liveness start{}", seconds_text(*m.converged_after),
                                 m.incarnations_agree ? "" : "; but " + m.incarnation_mismatch);
      }
      break;
    }
    case ClusterExpectationKind::member_state: {
      const Instant at = e.at ? Instant::from_ns(0) + *e.at : end;
      v.pass = true;
      std::size_t checked = 0, wrong = 0;
      std::string first;
      for (std::uint32_t subject : e.members) {
        for (const auto& [o, st] : views_at(w, subject, at)) {
          ++checked;
          if (matches(e.state, st)) continue;
          ++wrong;
          v.pass = false;
          if (first.empty()) {
            first = fmt::format("; {} sees {} as {}", name_of(w, o), name_of(w, subject),
                                st ? std::string(to_string(*st)) : std::string("unknown"));
          }
        }
      }
      if (checked == 0) v.pass = false;
      v.evidence = fmt::format("{} of {} views match{}", checked - wrong, checked, first);
      break;
    }
    case ClusterExpectationKind::suspected:
    case ClusterExpectationKind::declared_dead: {
      const auto state = e.kind == ClusterExpectationKind::suspected ? MemberState::suspect : MemberState::dead;
      const std::uint64_t total = episodes(w, e.members, e.by, state);
      v.pass = total >= e.min && total <= e.max;
      v.evidence = fmt::format("{} episodes (distinct incarnations)", total);
      break;
    }
    case ClusterExpectationKind::load:
      v.pass = (!e.max_messages || m.max_messages_per_member_s <= *e.max_messages) &&
               (!e.max_bytes || m.max_bytes_per_member_s <= *e.max_bytes);
      v.evidence = fmt::format("mean {:.2f} msg/s, {:.0f} B/s; busiest member {:.2f} msg/s, {:.0f} B/s",
                               m.messages_per_member_s, m.bytes_per_member_s, m.max_messages_per_member_s,
                               m.max_bytes_per_member_s);
      break;
    case ClusterExpectationKind::dissemination:
      v.pass = (!e.max_p99 || (m.dissemination.count > 0 && m.dissemination.p99 <= *e.max_p99)) &&
               (!e.max_incomplete || m.updates_incomplete <= *e.max_incomplete);
      v.evidence = fmt::format("{} updates, {} incomplete; to all: {}", m.updates, m.updates_incomplete,
                               m.dissemination.describe());
      break;
    case ClusterExpectationKind::counter:
      judge_every_running(w, v, [&](const ClusterNode& node) -> std::optional<std::string> {
        const std::int64_t got = node.replication().state().counter(e.counter);
        if (got == e.value) return std::nullopt;
        return fmt::format("{}", got);
      });
      break;
    case ClusterExpectationKind::set:
      judge_every_running(w, v, [&](const ClusterNode& node) -> std::optional<std::string> {
        const SetPage page = node.health_state().set_members(e.set, "", e.elements.size() + 1);
        if (page.members == e.elements) return std::nullopt;
        return fmt::format("{} member(s): [{}]{}", page.count, fmt::join(page.members, ", "), page.more ? ", …" : "");
      });
      break;
    case ClusterExpectationKind::alerts: judge_alerts(w, e, v); break;
    case ClusterExpectationKind::registry:
      judge_every_running(w, v, [&](const ClusterNode& node) -> std::optional<std::string> {
        std::vector<std::string> ids;
        for (const auto& [id, resolved] : node.replication().state().targets()) {
          if (resolved.spec != nullptr) ids.push_back(id);
        }
        std::sort(ids.begin(), ids.end());
        if (ids == e.target_ids) return std::nullopt;
        return fmt::format("[{}]", fmt::join(ids, ", "));
      });
      break;
    case ClusterExpectationKind::marks: {
      const CoverageHits hits = w.coverage();
      std::vector<std::string> missed, seen;
      for (const std::string& name : e.marks) {
        const std::uint64_t n = hits[*coverage_mark_index(name)];
        if (n == 0) missed.push_back(name);
        seen.push_back(fmt::format("{} {}", name, n));
      }
      v.pass = missed.empty();
      v.evidence = missed.empty() ? fmt::format("hits: {}", fmt::join(seen, ", "))
                                  : fmt::format("never hit: {} (hits: {})", fmt::join(missed, ", "), fmt::join(seen, ", "));
      break;
    }
    case ClusterExpectationKind::invariant:
      if (invariants == nullptr) {
        v.pass = false;
        v.evidence = "not checked (the run had no invariant checker)";
      } else {
        v.pass = invariants->count(e.invariant) == 0;
        v.evidence = invariants->evidence(e.invariant);
      }
      break;
    case ClusterExpectationKind::state_converges:
      v.pass = state_converged_after && *state_converged_after <= e.within;
      v.evidence = state_converged_after
                       ? fmt::format("replicated state equal everywhere {} after the liveness start",
                                     seconds_text(*state_converged_after))
                       : std::string("replicated state differs at the end");
      break;
  }
  return v;
}

}  // namespace

std::vector<Verdict> judge_cluster(const ClusterWorld& world, const ClusterMetrics& metrics, Instant end,
                                   std::optional<Duration> state_converged_after,
                                   const InvariantReport* invariants, OwnChecks own) {
  std::vector<Verdict> out;
  for (const ClusterExpectation& e : world.scenario().expectations) {
    out.push_back(judge_one(world, e, metrics, end, state_converged_after, invariants, own));
  }
  return out;
}

StatusIndex::StatusIndex(const ClusterWorld& w) : targets_(w.scenario().targets.size()) {
  const auto& records = w.status_records();
  const std::size_t pairs = w.member_count() * targets_;
  start_.assign(pairs + 1, 0);
  for (const auto& r : records) ++start_[key(r.member, r.target) + 1];
  for (std::size_t i = 1; i <= pairs; ++i) start_[i] += start_[i - 1];
  sorted_.resize(start_[pairs]);
  std::vector<std::size_t> fill(start_.begin(), start_.end() - 1);
  for (const auto& r : records) sorted_[fill[key(r.member, r.target)]++] = &r;
}

HealthStatus StatusIndex::status_at(std::uint32_t m, std::uint32_t t, Instant at) const {
  const auto records = of(m, t);
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

std::vector<Detection> detect_transitions(const ClusterWorld& w, const StatusIndex& index, Instant end) {
  const ClusterScenario& s = w.scenario();
  std::vector<Detection> out;
  for (std::uint32_t t = 0; t < s.targets.size(); ++t) {
    const auto transitions = s.targets[t].truth_transitions(end);
    for (std::size_t k = 0; k < transitions.size(); ++k) {
      const TruthTransition& tr = transitions[k];
      const Instant until = k + 1 < transitions.size() ? transitions[k + 1].at : end;
      for (std::uint32_t m = 0; m < w.member_count(); ++m) {
        Detection d;
        d.target = t;
        d.member = m;
        d.transition = tr;
        d.held_until = until;
        if (index.status_at(m, t, tr.at) == tr.to) {
          d.delay = Duration::zero();
        } else {
          const auto records = index.of(m, t);
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

}  // namespace heck::sim
