#include "sim/report_html.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

namespace heck::sim {

namespace {

constexpr Instant kZero = Instant::from_ns(0);

// Geometry shared by every chart on the time axis (px).
constexpr double kLeft = 150;    // label gutter
constexpr double kPlotW = 960;
constexpr double kRight = 30;
constexpr double kWidth = kLeft + kPlotW + kRight;
constexpr double kAxisH = 20;    // tick labels under a chart
constexpr double kLabelMinGap = 10;  // px between two member labels
constexpr std::size_t kCrashRows = 40;
constexpr std::size_t kFaultRows = 40;  // network faults drawn (one row each)
constexpr std::size_t kLabelChars = 22;

// Colours, light to strong (levels 1..4 = up to 1/4, 1/2, 3/4, all observers).
constexpr const char* kSuspect[] = {"#fde7b0", "#fbcf6b", "#f5b02e", "#e08e00"};
constexpr const char* kDead[] = {"#f7c3be", "#ee8a82", "#dd4a3e", "#a8170c"};
constexpr const char* kLeft_[] = {"#d3dcf7", "#a6b7ee", "#728ee0", "#3c5bc9"};
constexpr const char* kAlive = "#bfe3c6";
constexpr const char* kAlivePartial = "#e2f1e5";
constexpr const char* kUnknown = "#e9e9e9";
constexpr const char* kNoObservers = "#f6f6f6";
constexpr const char* kHealthy = "#6dbb7b";
constexpr const char* kUnhealthy = "#dd4a3e";
constexpr const char* kTruthUnknown = "#c8c8c8";
// Agreement with the truth: all, >= 3/4, >= 1/2, >= 1/4, less.
constexpr const char* kAgree[] = {"#ebeaf5", "#c9c4e8", "#9d94d6", "#6c5fbf", "#3f2f99"};
constexpr const char* kNoAgents = "#f6f6f6";

using Out = std::back_insert_iterator<std::string>;

double secs(Duration d) { return d.seconds_f(); }
double secs(Instant t) { return (t - kZero).seconds_f(); }

// "61.2 s", "0.35 s", "150 s"
std::string short_s(double s) {
  if (s != 0 && std::fabs(s) < 10) return fmt::format("{:.2f} s", s);
  if (std::fabs(s - std::round(s)) < 1e-9) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.1f} s", s);
}

// 1234567 -> "1.23 M"
std::string si(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.3g} G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g} M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:.3g} k", v / 1e3);
  return fmt::format("{:.3g}", v);
}

double nice_step(double range, int ticks) {
  if (!(range > 0)) return 1;
  const double raw = range / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

std::string truncate(std::string_view s, std::size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, n - 1)) + "\u2026";
}

struct TimeAxis {
  double duration_s = 1;
  double x(double s) const { return kLeft + std::clamp(s, 0.0, duration_s) / duration_s * kPlotW; }
  double x(Instant t) const { return x(secs(t)); }
};

// <svg> of the time axis: the script's cursor reads data-x0 / data-w / data-dur.
void open_timeline(Out w, const TimeAxis& a, double height, std::string_view id, std::string_view label) {
  fmt::format_to(w,
                 "<svg class=\"tl\" id=\"{}\" role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{:.0f}\" "
                 "viewBox=\"0 0 {} {:.0f}\" data-x0=\"{}\" data-w=\"{}\" data-dur=\"{}\">\n",
                 id, html_escape(label), kWidth, height, kWidth, height, kLeft, kPlotW, a.duration_s);
}

// Grid lines over [top, bottom) and tick labels under it.
void time_grid(Out w, const TimeAxis& a, double top, double bottom) {
  const double step = nice_step(a.duration_s, 12);
  for (double t = 0; t <= a.duration_s + 1e-9; t += step) {
    const double x = a.x(t);
    fmt::format_to(w, "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", x, top,
                   bottom);
    fmt::format_to(w, "<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", x,
                   bottom + 13, short_s(t));
  }
  w = '\n';
}

// The liveness start and every crash, as faint vertical lines.
void reference_lines(Out w, const ReportData& d, const TimeAxis& a, double top, double bottom) {
  const double xl = a.x(kZero + d.safety);
  fmt::format_to(w, "<line class=\"ref-live\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", xl, top,
                 bottom);
  std::size_t drawn = 0;
  for (const CrashDetection& c : d.crashes) {
    if (drawn++ >= kCrashRows) break;
    fmt::format_to(w, "<line class=\"ref-crash\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>",
                   a.x(c.at), top, bottom);
  }
  w = '\n';
}

void rect(Out w, double x, double y, double width, double height, std::string_view fill, std::string_view title,
          std::string_view cls = {}) {
  fmt::format_to(w, "<rect{}{}{} x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"{:.1f}\" fill=\"{}\">",
                 cls.empty() ? "" : " class=\"", cls, cls.empty() ? "" : "\"", x, y, std::max(width, 0.6), height, fill);
  if (!title.empty()) fmt::format_to(w, "<title>{}</title>", html_escape(title));
  fmt::format_to(w, "</rect>");
}

void label(Out w, double x, double y, std::string_view text, std::string_view cls = "lbl",
           std::string_view anchor = "end") {
  fmt::format_to(w, "<text class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">{}</text>", cls, x, y, anchor,
                 html_escape(text));
}

// Draws runs of equal keys as one rect each: key(k) -> (fill, level key),
// title(from, to) for the run [from, to] of buckets.
template <typename Key, typename Fill, typename Title>
void runs(Out w, const ReportData& d, const TimeAxis& a, double y, double h, Key key, Fill fill, Title title) {
  std::size_t from = 0;
  for (std::size_t k = 1; k <= d.buckets; ++k) {
    if (k < d.buckets && key(k) == key(from)) continue;
    const double x0 = a.x(secs(d.bucket) * static_cast<double>(from));
    const double x1 = a.x(std::min(secs(d.bucket) * static_cast<double>(k), a.duration_s));
    rect(w, x0, y, x1 - x0, h, fill(from), title(from, k - 1));
    from = k;
  }
}

std::string span_text(const ReportData& d, std::size_t from, std::size_t to) {
  const double b = secs(d.bucket);
  return fmt::format("{}\u2013{}", short_s(b * static_cast<double>(from)),
                     short_s(std::min(b * static_cast<double>(to + 1), secs(d.duration))));
}

int level4(double fraction) { return std::clamp(static_cast<int>(std::ceil(fraction * 4 - 1e-9)), 1, 4); }

// --- member lanes -------------------------------------------------------------

enum class LaneKind : std::uint8_t { none, unknown, partial, alive, left, suspect, dead };

struct LaneKey {
  LaneKind kind = LaneKind::none;
  int level = 0;
  bool operator==(const LaneKey&) const = default;
};

LaneKey lane_key(const LaneCell& c) {
  if (c.observers == 0) return {LaneKind::none, 0};
  const double n = c.observers;
  if (c.dead > 0) return {LaneKind::dead, level4(c.dead / n)};
  if (c.suspect > 0) return {LaneKind::suspect, level4(c.suspect / n)};
  if (c.left > 0) return {LaneKind::left, level4(c.left / n)};
  if (c.alive >= c.observers) return {LaneKind::alive, 0};
  if (c.alive > 0) return {LaneKind::partial, 0};
  return {LaneKind::unknown, 0};
}

const char* lane_fill(LaneKey k) {
  switch (k.kind) {
    case LaneKind::none: return kNoObservers;
    case LaneKind::unknown: return kUnknown;
    case LaneKind::partial: return kAlivePartial;
    case LaneKind::alive: return kAlive;
    case LaneKind::left: return kLeft_[k.level - 1];
    case LaneKind::suspect: return kSuspect[k.level - 1];
    case LaneKind::dead: return kDead[k.level - 1];
  }
  return kUnknown;
}

std::string lane_title(const ReportData& d, std::size_t m, std::size_t from, std::size_t to) {
  const auto& lane = d.lanes[m];
  const LaneKey key = lane_key(lane[from]);
  std::size_t obs = 0, most = 0, alive_lo = SIZE_MAX, alive_hi = 0;
  for (std::size_t k = from; k <= to; ++k) {
    const LaneCell& c = lane[k];
    obs = std::max<std::size_t>(obs, c.observers);
    alive_lo = std::min<std::size_t>(alive_lo, c.alive);
    alive_hi = std::max<std::size_t>(alive_hi, c.alive);
    switch (key.kind) {
      case LaneKind::dead: most = std::max<std::size_t>(most, c.dead); break;
      case LaneKind::suspect: most = std::max<std::size_t>(most, c.suspect); break;
      case LaneKind::left: most = std::max<std::size_t>(most, c.left); break;
      default: break;
    }
  }
  std::string what;
  switch (key.kind) {
    case LaneKind::none: what = "no other member running"; break;
    case LaneKind::unknown: what = fmt::format("known to none of its {} observers", obs); break;
    case LaneKind::partial:
      what = fmt::format("alive at {}\u2013{} of {} observers (the others do not know it yet)", alive_lo, alive_hi, obs);
      break;
    case LaneKind::alive: what = fmt::format("alive at all {} observers", obs); break;
    case LaneKind::left: what = fmt::format("left, at up to {} of {} observers", most, obs); break;
    case LaneKind::suspect: what = fmt::format("suspect at up to {} of {} observers", most, obs); break;
    case LaneKind::dead: what = fmt::format("dead at up to {} of {} observers", most, obs); break;
  }
  return fmt::format("{} \u00b7 {} \u00b7 {}", d.members[m], span_text(d, from, to), what);
}

const char* process_fill(ProcessSpan::Kind k) {
  switch (k) {
    case ProcessSpan::Kind::not_started: return "#a9a9a9";
    case ProcessSpan::Kind::down: return "#222222";
    case ProcessSpan::Kind::paused: return "url(#hatch-paused)";
    case ProcessSpan::Kind::leaving: return "#3c5bc9";
  }
  return "#222222";
}

// Labels that fit: members with a process event first, then every member in
// order, each only where it keeps kLabelMinGap from those placed.
std::vector<bool> placed_labels(const ReportData& d, double pitch) {
  const std::size_t n = d.members.size();
  std::vector<bool> shown(n, false);
  if (pitch >= kLabelMinGap) {
    shown.assign(n, true);
    return shown;
  }
  std::vector<std::size_t> order;
  for (std::size_t m = 0; m < n; ++m) {
    const bool eventful = std::any_of(d.processes[m].begin(), d.processes[m].end(), [](const ProcessSpan& p) {
      return p.kind != ProcessSpan::Kind::not_started;
    });
    if (eventful) order.push_back(m);
  }
  for (std::size_t m = 0; m < n; ++m) order.push_back(m);
  std::vector<double> taken;  // y of placed labels
  for (std::size_t m : order) {
    if (shown[m]) continue;
    const double y = static_cast<double>(m) * pitch;
    const bool free = std::none_of(taken.begin(), taken.end(), [&](double t) { return std::fabs(t - y) < kLabelMinGap; });
    if (!free) continue;
    shown[m] = true;
    taken.push_back(y);
  }
  return shown;
}

void member_lanes(Out w, const ReportData& d, const TimeAxis& a) {
  const std::size_t n = d.members.size();
  const double h = std::clamp(600.0 / std::max<std::size_t>(n, 1), 2.0, 16.0);
  const double gap = h >= 6 ? 3 : (h >= 3 ? 1 : 0);
  const double pitch = h + gap;
  const double top = 4;
  const double bottom = top + pitch * static_cast<double>(n);
  open_timeline(w, a, bottom + kAxisH, "lanes", "member lanes");
  time_grid(w, a, top, bottom);
  const std::vector<bool> shown = placed_labels(d, pitch);
  for (std::size_t m = 0; m < n; ++m) {
    const double y = top + pitch * static_cast<double>(m);
    fmt::format_to(w, "<g class=\"lane\" data-member=\"{}\">", html_escape(d.members[m]));
    if (shown[m]) label(w, kLeft - 6, y + h / 2 + 3.5, truncate(d.members[m], kLabelChars));
    const auto& lane = d.lanes[m];
    runs(
        w, d, a, y, h, [&](std::size_t k) { return lane_key(lane[k]); },
        [&](std::size_t k) { return std::string(lane_fill(lane_key(lane[k]))); },
        [&](std::size_t from, std::size_t to) { return lane_title(d, m, from, to); });
    // The process underneath: a strip at the lane's foot.
    const double ph = std::max(1.5, h * 0.3);
    for (const ProcessSpan& p : d.processes[m]) {
      const double x0 = a.x(p.from), x1 = a.x(p.to);
      rect(w, x0, y + h - ph, x1 - x0, ph, process_fill(p.kind),
           fmt::format("{} process {} {}\u2013{}", d.members[m], to_string(p.kind), short_s(secs(p.from)),
                       short_s(secs(p.to))),
           "proc");
    }
    fmt::format_to(w, "</g>\n");
  }
  // Crash, first suspicion and dead everywhere, exact (the analysis).
  std::size_t drawn = 0;
  for (const CrashDetection& c : d.crashes) {
    if (drawn++ >= kCrashRows) break;
    const double y = top + pitch * static_cast<double>(c.member) - 1;
    const std::string& name = d.members[c.member];
    const std::string first = c.first ? "+" + seconds_text(*c.first) : std::string("never");
    const std::string every = c.everywhere ? "+" + seconds_text(*c.everywhere) : std::string("incomplete");
    const std::string title = fmt::format("{} crashed at {}; first suspicion {}; dead everywhere {} ({} of {})", name,
                                          seconds_text(c.at - kZero), first, every, c.marked, c.observers);
    auto tick = [&](Instant at, std::string_view cls) {
      fmt::format_to(w, "<line class=\"{}\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"><title>{}</title></line>",
                     cls, a.x(at), a.x(at), y, y + h + 2, html_escape(title));
    };
    tick(c.at, "mk-crash");
    if (c.first) tick(c.at + *c.first, "mk-first");
    if (c.everywhere) tick(c.at + *c.everywhere, "mk-dead");
  }
  reference_lines(w, d, a, top, bottom);
  fmt::format_to(w, "</svg>\n");
}

// --- faults ---------------------------------------------------------------------

void fault_chart(Out w, const ReportData& d, const TimeAxis& a) {
  const double row = 18;
  // Rows: phases, one per network fault, process events, timeline marks.
  std::vector<std::size_t> process_members;
  for (std::size_t m = 0; m < d.members.size(); ++m) {
    const bool eventful = std::any_of(d.processes[m].begin(), d.processes[m].end(), [](const ProcessSpan& p) {
      return p.kind != ProcessSpan::Kind::not_started;
    });
    if (eventful) process_members.push_back(m);
  }
  // Process events: a row per member when few have any, else one row.
  constexpr std::size_t kMaxProcessRows = 12;
  const bool per_member = !process_members.empty() && process_members.size() <= kMaxProcessRows;
  const std::size_t process_rows = per_member ? process_members.size() : 1;
  const std::size_t fault_rows = std::min(d.network_faults.size(), kFaultRows);
  const std::size_t rows = 1 + fault_rows + process_rows + (d.marks.empty() ? 0 : 1);
  const double top = 4;
  const double bottom = top + row * static_cast<double>(rows);
  open_timeline(w, a, bottom + kAxisH, "faults", "faults and phases");
  time_grid(w, a, top, bottom);
  double y = top;
  // Phases.
  label(w, kLeft - 6, y + 12, "phases");
  rect(w, a.x(0.0), y + 2, a.x(kZero + d.safety) - a.x(0.0), row - 5, "#eef1f6",
       fmt::format("safety phase 0\u2013{}: the timeline runs", short_s(secs(d.safety))), "phase");
  rect(w, a.x(kZero + d.safety), y + 2, a.x(a.duration_s) - a.x(kZero + d.safety), row - 5, "#dbe8fb",
       fmt::format("liveness phase {}\u2013{}: every fault healed, the cluster must converge", short_s(secs(d.safety)),
                   short_s(a.duration_s)),
       "phase");
  label(w, a.x(0.0) + 4, y + 12, "safety", "in", "start");
  label(w, a.x(kZero + d.safety) + 4, y + 12, "liveness", "in", "start");
  y += row;
  for (std::size_t i = 0; i < fault_rows; ++i) {
    const NetworkFaultSpan& f = d.network_faults[i];
    const std::string kind(to_string(f.kind));
    const std::string arrow = f.one_way ? " \u2192 " : " \u21c4 ";
    std::string text = f.from + arrow + f.to;
    if (!f.detail.empty()) text += " \u00b7 " + f.detail;
    const std::string title = fmt::format("{}{} {} \u2013 {}: {}", kind, f.name.empty() ? "" : " '" + f.name + "'",
                                          short_s(secs(f.at)), short_s(secs(f.until)), text);
    label(w, kLeft - 6, y + 12, truncate(kind + (f.name.empty() ? "" : " " + f.name), kLabelChars));
    const char* fill = f.kind == FaultKind::partition ? "#8e6bbf" : f.kind == FaultKind::clog ? "#c0703a" : "#4f8fa8";
    const double x0 = a.x(f.at), x1 = a.x(f.until);
    rect(w, x0, y + 2, x1 - x0, row - 5, fill, title, "fault");
    if (x1 - x0 > 60) {
      const auto chars = static_cast<std::size_t>((x1 - x0 - 8) / 6.2);
      label(w, x0 + 4, y + 12, truncate(text, std::max<std::size_t>(chars, 4)), "in-w", "start");
    }
    y += row;
  }
  // Process events (each member's lane shows them too).
  if (!per_member) label(w, kLeft - 6, y + 12, "processes");
  for (std::size_t m : process_members) {
    if (per_member) label(w, kLeft - 6, y + 12, "process " + truncate(d.members[m], kLabelChars - 8));
    for (const ProcessSpan& p : d.processes[m]) {
      if (p.kind == ProcessSpan::Kind::not_started) continue;
      const double x0 = a.x(p.from), x1 = a.x(p.to);
      const std::string text = fmt::format("{} {}", d.members[m], to_string(p.kind));
      rect(w, x0, y + 3, x1 - x0, row - 7, process_fill(p.kind),
           fmt::format("{} {}\u2013{}", text, short_s(secs(p.from)), short_s(secs(p.to))), "proc");
      if (per_member && x1 - x0 > 60 && p.kind != ProcessSpan::Kind::paused) {
        label(w, x0 + 4, y + 12, truncate(text, static_cast<std::size_t>((x1 - x0 - 8) / 6.2)), "in-w", "start");
      }
    }
    if (per_member) y += row;
  }
  if (process_members.empty()) label(w, a.x(0.0) + 4, y + 12, "no crash, stop, pause or leave", "note", "start");
  if (!per_member) y += row;
  if (!d.marks.empty()) {
    label(w, kLeft - 6, y + 12, "registry");
    for (const TimelineMark& m : d.marks) {
      const double x = a.x(m.at);
      fmt::format_to(w, "<path class=\"mark\" d=\"M{:.1f} {:.1f} l4 7 l-8 0 z\"><title>{} at {}</title></path>", x,
                     y + 4, html_escape(m.text), short_s(secs(m.at)));
    }
  }
  reference_lines(w, d, a, top, bottom);
  fmt::format_to(w, "</svg>\n");
}

// --- targets ----------------------------------------------------------------------

const char* truth_fill(HealthStatus s) {
  return s == HealthStatus::healthy ? kHealthy : s == HealthStatus::unhealthy ? kUnhealthy : kTruthUnknown;
}

std::size_t slot_of(HealthStatus s) { return s == HealthStatus::healthy ? 0 : s == HealthStatus::unhealthy ? 1 : 2; }

// 0: all agree, 1..4: fewer; 5: no live agent.
int agree_level(const TargetRow& r, std::size_t k) {
  const auto& c = r.reports[k];
  const unsigned live = c[0] + c[1] + c[2];
  if (live == 0) return 5;
  const double f = static_cast<double>(c[slot_of(r.truth[k])]) / live;
  if (f >= 1) return 0;
  if (f >= 0.75) return 1;
  if (f >= 0.5) return 2;
  if (f >= 0.25) return 3;
  return 4;
}

void target_rows(Out w, const ReportData& d, const TimeAxis& a) {
  const double strip = 6, pitch = 2 * strip + 5;
  const double top = 4;
  const double bottom = top + pitch * static_cast<double>(d.targets.size());
  open_timeline(w, a, bottom + kAxisH, "targets", "targets: truth and agreement");
  time_grid(w, a, top, bottom);
  for (std::size_t i = 0; i < d.targets.size(); ++i) {
    const TargetRow& r = d.targets[i];
    const double y = top + pitch * static_cast<double>(i);
    fmt::format_to(w, "<g class=\"trow\" data-target=\"{}\">", html_escape(r.id));
    if (r.violations > 0) {
      fmt::format_to(w, "<text class=\"lbl bad\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">\u26a0 {}<title>{} "
                        "violation(s); first: {}</title></text>",
                     kLeft - 6, y + strip + 3.5, html_escape(truncate(r.id, kLabelChars - 2)), r.violations,
                     html_escape(r.first_violation));
    } else {
      label(w, kLeft - 6, y + strip + 3.5, truncate(r.id, kLabelChars));
    }
    runs(
        w, d, a, y, strip, [&](std::size_t k) { return r.truth[k]; },
        [&](std::size_t k) { return std::string(truth_fill(r.truth[k])); },
        [&](std::size_t from, std::size_t to) {
          return fmt::format("{} \u00b7 {} \u00b7 truth {}", r.id, span_text(d, from, to), to_string(r.truth[from]));
        });
    runs(
        w, d, a, y + strip, strip, [&](std::size_t k) { return std::pair(r.truth[k], agree_level(r, k)); },
        [&](std::size_t k) {
          const int level = agree_level(r, k);
          return std::string(level == 5 ? kNoAgents : kAgree[level]);
        },
        [&](std::size_t from, std::size_t to) {
          // The least agreement in the run.
          std::size_t worst = from;
          double worst_f = 2;
          for (std::size_t k = from; k <= to; ++k) {
            const auto& c = r.reports[k];
            const unsigned live = c[0] + c[1] + c[2];
            const double f = live == 0 ? 1 : static_cast<double>(c[slot_of(r.truth[k])]) / live;
            if (f < worst_f) worst_f = f, worst = k;
          }
          const auto& c = r.reports[worst];
          const unsigned live = c[0] + c[1] + c[2];
          if (live == 0) return fmt::format("{} \u00b7 {} \u00b7 no live agent", r.id, span_text(d, from, to));
          return fmt::format("{} \u00b7 {} \u00b7 truth {}; agents report {} healthy, {} unhealthy, {} unknown "
                             "({} of {} agree{})",
                             r.id, span_text(d, from, to), to_string(r.truth[worst]), c[0], c[1], c[2],
                             c[slot_of(r.truth[worst])], live, from == to ? "" : ", the least in this span");
        });
    fmt::format_to(w, "</g>\n");
  }
  reference_lines(w, d, a, top, bottom);
  fmt::format_to(w, "</svg>\n");
}

// --- traffic ------------------------------------------------------------------------

// The y scale fits the busiest bucket from metrics_from on (the start-up
// burst of joins would flatten the rest); earlier peaks above it are
// clipped and said so.
void traffic_panel(Out w, const ReportData& d, const TimeAxis& a, const std::vector<std::uint64_t>& series,
                   double top, double height, std::string_view name, std::string_view unit, std::string_view colour) {
  const double per_s = 1.0 / secs(d.bucket);
  double peak = 0, steady = 0;
  const std::size_t from = d.bucket_of(kZero + d.metrics_from);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const double v = static_cast<double>(series[k]) * per_s;
    peak = std::max(peak, v);
    if (k >= from) steady = std::max(steady, v);
  }
  const double scale = steady > 0 ? steady : peak;
  const double step = nice_step(scale > 0 ? scale : 1, 3);
  const double ymax = std::max(step, std::ceil(scale / step) * step);
  auto y = [&](double v) { return top + height - std::min(v, ymax) / ymax * height; };
  for (double v = 0; v <= ymax + 1e-9; v += step) {
    fmt::format_to(w, "<line class=\"hgrid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", kLeft,
                   kLeft + kPlotW, y(v), y(v));
    label(w, kLeft - 6, y(v) + 3.5, si(v), "tick");
  }
  label(w, kLeft + 6, top - 4,
        peak > ymax ? fmt::format("{} {} (start-up peak {} clipped)", name, unit, si(peak)) : fmt::format("{} {}", name, unit),
        "ptitle", "start");
  std::string line, area;
  auto lo = std::back_inserter(line);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const double x = a.x(secs(d.bucket) * (static_cast<double>(k) + 0.5));
    fmt::format_to(lo, "{}{:.1f} {:.1f}", k == 0 ? "M" : " L", x, y(static_cast<double>(series[k]) * per_s));
  }
  if (!series.empty()) {
    area = fmt::format("{} L{:.1f} {:.1f} L{:.1f} {:.1f} Z", line,
                       a.x(secs(d.bucket) * (static_cast<double>(series.size()) - 0.5)), y(0),
                       a.x(secs(d.bucket) * 0.5), y(0));
    fmt::format_to(w, "<path class=\"area\" d=\"{}\" fill=\"{}\"/>", area, colour);
    fmt::format_to(w, "<path class=\"series\" d=\"{}\" stroke=\"{}\"><title>{}: peak {} {}</title></path>\n", line,
                   colour, html_escape(name), si(peak), html_escape(unit));
  }
}

void traffic_chart(Out w, const ReportData& d, const TimeAxis& a) {
  const double panel = 80, gap = 30, top = 18;
  const double bottom = top + 2 * panel + gap;
  open_timeline(w, a, bottom + kAxisH, "traffic", "messages and bytes per second");
  time_grid(w, a, top, bottom);
  traffic_panel(w, d, a, d.messages, top, panel, "messages", "per s", "#3f6fb5");
  traffic_panel(w, d, a, d.bytes, top + panel + gap, panel, "bytes", "per s", "#8a4fa3");
  reference_lines(w, d, a, top, bottom);
  fmt::format_to(w, "</svg>\n");
}

// --- delay plots --------------------------------------------------------------------

void crash_plot(Out w, const ReportData& d) {
  const std::size_t rows = std::min(d.crashes.size(), kCrashRows);
  const double row = 22, top = 8, left = kLeft, width = 620;
  double max_s = 1;
  for (std::size_t i = 0; i < rows; ++i) {
    const CrashDetection& c = d.crashes[i];
    if (c.first) max_s = std::max(max_s, secs(*c.first));
    if (c.everywhere) max_s = std::max(max_s, secs(*c.everywhere));
    if (!c.everywhere) max_s = std::max(max_s, secs(c.episode_end - c.at));
  }
  const double step = nice_step(max_s, 8);
  max_s = std::ceil(max_s / step) * step;
  auto x = [&](double s) { return left + std::clamp(s, 0.0, max_s) / max_s * width; };
  const double bottom = top + row * static_cast<double>(rows);
  const double total_w = left + width + 300;
  fmt::format_to(w,
                 "<svg class=\"plot\" id=\"crash-delays\" role=\"img\" aria-label=\"crash detection delays\" "
                 "width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\">\n",
                 total_w, bottom + kAxisH + 6);
  for (double s = 0; s <= max_s + 1e-9; s += step) {
    fmt::format_to(w, "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", x(s), top,
                   bottom);
    fmt::format_to(w, "<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">+{}</text>", x(s),
                   bottom + 13, short_s(s));
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const CrashDetection& c = d.crashes[i];
    const double y = top + row * static_cast<double>(i);
    label(w, left - 6, y + 14, fmt::format("{} @ {}", truncate(d.members[c.member], 12), short_s(secs(c.at))));
    const std::string first = c.first ? "+" + seconds_text(*c.first) : std::string("never suspected");
    const std::string every =
        c.everywhere ? "+" + seconds_text(*c.everywhere) : fmt::format("incomplete ({} of {})", c.marked, c.observers);
    const std::string title = fmt::format("{} crashed at {}: first suspicion {}, dead everywhere {}", d.members[c.member],
                                          seconds_text(c.at - kZero), first, every);
    if (c.first) {
      rect(w, x(0), y + 4, x(secs(*c.first)) - x(0), row - 8, "#f5b02e", title, "bar-first");
      const double end = c.everywhere ? secs(*c.everywhere) : secs(c.episode_end - c.at);
      rect(w, x(secs(*c.first)), y + 4, x(end) - x(secs(*c.first)), row - 8, c.everywhere ? "#dd4a3e" : "#f2b8b2",
           title, "bar-dead");
    }
    label(w, left + width + 8, y + 14, fmt::format("first {} \u00b7 dead everywhere {}", first, every), "note", "start");
  }
  fmt::format_to(w, "</svg>\n");
}

// A step plot of the empirical CDF of `values`.
void cdf_plot(Out w, std::string_view id, std::string_view title, std::vector<Duration> values, std::string_view colour) {
  const double left = 50, width = 440, top = 24, height = 150;
  const double total_w = left + width + 24, total_h = top + height + 36;
  fmt::format_to(w,
                 "<svg class=\"plot cdf\" id=\"{0}\" role=\"img\" aria-label=\"{1}\" width=\"{2:.0f}\" height=\"{3:.0f}\" "
                 "viewBox=\"0 0 {2:.0f} {3:.0f}\">\n",
                 id, html_escape(title), total_w, total_h);
  label(w, left, 14, title, "ptitle", "start");
  std::sort(values.begin(), values.end());
  const double max_v = values.empty() ? 1 : std::max(0.001, secs(values.back()));
  const double step = nice_step(max_v, 6);
  const double max_s = std::ceil(max_v / step) * step;
  auto x = [&](double s) { return left + s / max_s * width; };
  auto y = [&](double f) { return top + height - f * height; };
  for (double s = 0; s <= max_s + 1e-9; s += step) {
    fmt::format_to(w, "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", x(s), top,
                   top + height);
    fmt::format_to(w, "<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", x(s),
                   top + height + 13, short_s(s));
  }
  for (double f : {0.0, 0.5, 1.0}) {
    fmt::format_to(w, "<line class=\"hgrid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", left,
                   left + width, y(f), y(f));
    label(w, left - 5, y(f) + 3.5, fmt::format("{:.0f}%", f * 100), "tick");
  }
  if (values.empty()) {
    label(w, left + width / 2, top + height / 2, "none measured in this run", "note", "middle");
  } else {
    std::string path = fmt::format("M{:.1f} {:.1f}", x(0), y(0));
    const double n = static_cast<double>(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double s = secs(values[i]);
      path += fmt::format(" L{:.1f} {:.1f} L{:.1f} {:.1f}", x(s), y(static_cast<double>(i) / n), x(s),
                          y(static_cast<double>(i + 1) / n));
    }
    fmt::format_to(w, "<path class=\"series\" d=\"{}\" stroke=\"{}\"/>", path, colour);
    const Percentiles p = percentiles(values);
    double label_y = top + 9;
    for (auto [q, v] : {std::pair{"p50", p.p50}, std::pair{"p99", p.p99}}) {
      fmt::format_to(w, "<line class=\"q\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", x(secs(v)),
                     top, top + height);
      fmt::format_to(w, "<text class=\"tiny\" x=\"{:.1f}\" y=\"{:.1f}\">{} {}</text>", x(secs(v)) + 3, label_y, q,
                     short_s(secs(v)));
      label_y += 12;  // p99 under p50: they may stand close
    }
    label(w, left + width, top + height + 30, p.describe(), "note", "end");
  }
  fmt::format_to(w, "</svg>\n");
}

// --- page ------------------------------------------------------------------------

constexpr const char* kCss = R"(
*{box-sizing:border-box}
body{margin:0;background:#f3f4f7;color:#1d2330;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1220px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 10px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 16px;margin:14px 0}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;font-size:13px;vertical-align:middle;margin-left:8px}
.pass{background:#d8f0dd;color:#17652b}.fail{background:#fbd9d5;color:#9b1c10}
.desc{color:#4a5263;margin:6px 0 10px;max-width:1100px}
.facts{display:flex;flex-wrap:wrap;gap:6px 22px;color:#323a4a}
.facts b{color:#1d2330}
pre.replay{background:#1f2430;color:#e8ecf3;padding:8px 12px;border-radius:6px;margin:10px 0 0;overflow:auto;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eceef2;padding:5px 8px;vertical-align:top;text-align:left}
th{font-size:12px;color:#5b6374;font-weight:600}
td.ev{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;color:#3b4250;word-break:break-word;white-space:pre-wrap}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#3b4250;margin:2px 0 8px}
.legend span.sw{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px;border:1px solid rgba(0,0,0,.08)}
.sub{font-size:12px;color:#5b6374;margin:4px 0 8px}
svg{display:block;max-width:100%;height:auto;overflow:visible}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
.lbl{font-size:10.5px;fill:#2b3240}
.lbl.bad{fill:#b3160b;font-weight:700}
.tick{font-size:9.5px;fill:#6b7385}
.tiny{font-size:8.5px;fill:#39404d}
.in{font-size:10px;fill:#2b3240}
.in-w{font-size:10px;fill:#fff}
.note{font-size:11px;fill:#4a5263}
.ptitle{font-size:12px;font-weight:600;fill:#1d2330}
.grid{stroke:#e6e8ee;stroke-width:1}
.hgrid{stroke:#eceef2;stroke-width:1}
.ref-live{stroke:#3c6fd1;stroke-width:1.2;stroke-dasharray:4 3;opacity:.75}
.ref-crash{stroke:#222;stroke-width:1;stroke-dasharray:2 3;opacity:.45}
.mk-crash{stroke:#111;stroke-width:2}
.mk-first{stroke:#e08e00;stroke-width:2}
.mk-dead{stroke:#a8170c;stroke-width:2}
.series{fill:none;stroke-width:1.5}
.area{opacity:.14}
.q{stroke:#999;stroke-dasharray:3 3}
.mark{fill:#555}
.cursor{stroke:#111;stroke-width:1;opacity:.55;pointer-events:none}
#readout{position:fixed;pointer-events:none;background:rgba(29,35,48,.92);color:#fff;font-size:12px;padding:4px 8px;border-radius:4px;display:none;white-space:nowrap;z-index:5}
.plots{display:flex;flex-wrap:wrap;gap:10px 30px}
.foot{font-size:12px;color:#5b6374}
button.copy{margin-left:8px;font-size:12px;padding:1px 8px;border:1px solid #c5cad4;border-radius:4px;background:#fff;cursor:pointer}
)";

// The script: a time cursor over every chart on the time axis, with the
// traffic at that time; marks the body when done. Writes no network
// request and reads only this page.
constexpr const char* kScript = R"(
(function () {
  'use strict';
  var charts = Array.prototype.slice.call(document.querySelectorAll('svg.tl'));
  var data = JSON.parse(document.getElementById('series').textContent);
  var readout = document.getElementById('readout');
  var ns = charts.length ? charts[0].namespaceURI : null;
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toPrecision(3) + ' G';
    if (a >= 1e6) return (v / 1e6).toPrecision(3) + ' M';
    if (a >= 1e3) return (v / 1e3).toPrecision(3) + ' k';
    return String(Math.round(v * 10) / 10);
  }
  var cursors = charts.map(function (svg) {
    var line = document.createElementNS(ns, 'line');
    line.setAttribute('class', 'cursor');
    line.setAttribute('y1', '0');
    line.setAttribute('y2', svg.viewBox.baseVal.height);
    line.style.display = 'none';
    svg.appendChild(line);
    return line;
  });
  function timeAt(svg, ev) {
    var r = svg.getBoundingClientRect();
    var px = (ev.clientX - r.left) * (svg.viewBox.baseVal.width / r.width);
    var x0 = +svg.dataset.x0, w = +svg.dataset.w, dur = +svg.dataset.dur;
    var t = (px - x0) / w * dur;
    return t < 0 || t > dur ? null : t;
  }
  function hide() {
    cursors.forEach(function (c) { c.style.display = 'none'; });
    readout.style.display = 'none';
  }
  function show(t, ev) {
    charts.forEach(function (svg, i) {
      var x = +svg.dataset.x0 + t / +svg.dataset.dur * +svg.dataset.w;
      cursors[i].setAttribute('x1', x);
      cursors[i].setAttribute('x2', x);
      cursors[i].style.display = '';
    });
    var k = Math.min(data.messages.length - 1, Math.floor(t / data.bucket_s));
    var text = 't = ' + t.toFixed(1) + ' s';
    if (k >= 0) {
      text += ' \u00b7 ' + fmt(data.messages[k] / data.bucket_s) + ' msg/s \u00b7 ' +
              fmt(data.bytes[k] / data.bucket_s) + 'B/s';
    }
    text += t >= data.safety_s ? ' \u00b7 liveness' : ' \u00b7 safety';
    readout.textContent = text;
    readout.style.display = 'block';
    readout.style.left = Math.min(ev.clientX + 14, window.innerWidth - readout.offsetWidth - 8) + 'px';
    readout.style.top = (ev.clientY + 16) + 'px';
  }
  charts.forEach(function (svg) {
    svg.addEventListener('mousemove', function (ev) {
      var t = timeAt(svg, ev);
      if (t === null) hide(); else show(t, ev);
    });
    svg.addEventListener('mouseleave', hide);
  });
  var copy = document.getElementById('copy-replay');
  if (copy) {
    copy.addEventListener('click', function () {
      var text = document.getElementById('replay').textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
    });
  }
  document.body.setAttribute('data-ready', '1');
  document.body.setAttribute('data-charts', String(charts.length));
})();
)";

void swatch(Out w, std::string_view fill, std::string_view text) {
  fmt::format_to(w, "<span><span class=\"sw\" style=\"background:{}\"></span>{}</span>", fill, text);
}

void header(Out w, const ReportData& d) {
  fmt::format_to(w, "<section class=\"card\" id=\"summary\"><h1>{}<span class=\"badge {}\">{}</span></h1>\n",
                 html_escape(d.name), d.passed ? "pass" : "fail", d.passed ? "PASS" : "FAIL");
  if (!d.description.empty()) fmt::format_to(w, "<p class=\"desc\">{}</p>\n", html_escape(d.description));
  std::size_t failed = 0;
  for (const ExpectationRow& e : d.expectations) failed += e.pass ? 0 : 1;
  fmt::format_to(w, "<div class=\"facts\"><span>seed <b>{}</b></span><span>simulated <b>{}</b> (safety {}, liveness {})</span>"
                    "<span><b>{}</b> members</span><span><b>{}</b> targets</span><span>expectations <b>{} of {}</b> hold</span>"
                    "</div>\n",
                 d.seed, short_s(secs(d.duration)), short_s(secs(d.safety)),
                 short_s(secs(d.duration) - secs(d.safety)), d.members.size(), d.target_count,
                 d.expectations.size() - failed, d.expectations.size());
  if (!d.error.empty()) {
    fmt::format_to(w, "<p class=\"desc\"><b>The run stopped early:</b> {}</p>\n", html_escape(d.error));
  }
  fmt::format_to(w, "<pre class=\"replay\"><span id=\"replay\">{}</span></pre>"
                    "<div class=\"sub\">replay this run exactly<button class=\"copy\" id=\"copy-replay\" "
                    "type=\"button\">copy</button></div></section>\n",
                 html_escape(d.replay));
}

void expectations(Out w, const ReportData& d) {
  fmt::format_to(w, "<section class=\"card\" id=\"expectations\"><h2>Expectations</h2>\n<table><tr><th>result</th>"
                    "<th>expectation</th><th>verdict</th></tr>\n");
  if (d.expectations.empty()) fmt::format_to(w, "<tr><td colspan=\"3\">(none)</td></tr>\n");
  for (const ExpectationRow& e : d.expectations) {
    fmt::format_to(w, "<tr class=\"exp\"><td><span class=\"badge {}\">{}</span></td><td>{}</td><td class=\"ev\">{}</td></tr>\n",
                   e.pass ? "pass" : "fail", e.pass ? "PASS" : "FAIL", html_escape(e.what), html_escape(e.evidence));
  }
  fmt::format_to(w, "</table></section>\n");
}

void timeline_section(Out w, const ReportData& d) {
  const TimeAxis a{std::max(secs(d.duration), 0.001)};
  fmt::format_to(w, "<section class=\"card\" id=\"timeline\"><h2>Timeline</h2>\n");
  fmt::format_to(w, "<div class=\"sub\">Every chart below shares one time axis (true time, {} buckets of {}); move the "
                    "pointer over a chart for a time cursor. Dashed: the liveness start (blue) and each crash (grey).</div>\n",
                 d.buckets, short_s(secs(d.bucket)));
  fmt::format_to(w, "<h2>Faults</h2>\n<div class=\"legend\">");
  swatch(w, "#8e6bbf", "partition");
  swatch(w, "#c0703a", "clog (held, released later)");
  swatch(w, "#4f8fa8", "link rule (loss, latency\u2026)");
  swatch(w, "#222", "process down");
  swatch(w, "#d8ae2a", "paused");
  swatch(w, "#3c5bc9", "leaving");
  fmt::format_to(w, "</div>\n");
  const std::size_t undrawn =
      d.network_faults_dropped + d.network_faults.size() - std::min(d.network_faults.size(), kFaultRows);
  if (undrawn > 0) {
    fmt::format_to(w, "<div class=\"sub\">The first {} network faults are drawn; {} more are not.</div>\n", kFaultRows,
                   undrawn);
  }
  fault_chart(w, d, a);

  fmt::format_to(w, "<h2 style=\"margin-top:16px\">Members as the others saw them</h2>\n<div class=\"legend\">");
  swatch(w, kAlive, "alive at every observer");
  swatch(w, kAlivePartial, "alive at some, unknown to others");
  swatch(w, kUnknown, "known to none");
  swatch(w, kSuspect[1], "suspect");
  swatch(w, kDead[3], "dead");
  swatch(w, kLeft_[2], "left");
  fmt::format_to(w, "</div><div class=\"sub\">One lane per member. A cell is the worst view any running member "
                    "(observer) held of it during that bucket: dead over suspect over left over alive; the shade "
                    "grows with the share of observers holding it (\u2264\u00bc, \u00bd, \u00be, all; hover for the "
                    "counts). The strip at a lane's foot is the truth of its process: dark = down, yellow = paused, "
                    "blue = leaving, grey = not started. Ticks: black = crash, amber = first suspicion anywhere, "
                    "red = dead at every survivor (exact times from the analysis).</div>\n");
  if (d.member_records_dropped > 0) {
    fmt::format_to(w, "<div class=\"sub\">The world dropped {} member records (over its limit): the lanes miss them.</div>\n",
                   d.member_records_dropped);
  }
  member_lanes(w, d, a);

  fmt::format_to(w, "<h2 style=\"margin-top:16px\">Targets: truth and what the agents report</h2>\n<div class=\"legend\">");
  swatch(w, kHealthy, "truth healthy");
  swatch(w, kUnhealthy, "truth unhealthy");
  for (int i = 0; i < 5; ++i) {
    static constexpr const char* kText[] = {"all live agents agree", "\u2265 \u00be agree", "\u2265 \u00bd agree",
                                            "\u2265 \u00bc agree", "fewer agree"};
    swatch(w, kAgree[i], kText[i]);
  }
  fmt::format_to(w, "</div>\n");
  const std::size_t shown_bad = static_cast<std::size_t>(
      std::count_if(d.targets.begin(), d.targets.end(), [](const TargetRow& r) { return r.violations > 0; }));
  fmt::format_to(w, "<div class=\"sub\">Per target: the truth (top strip, the target's model) and how many live agents "
                    "(running, not paused) report that same status (bottom strip, sampled at each bucket's end by "
                    "the agents' own vote rule). Showing {} of {} targets: every one with an invariant violation "
                    "({} here, marked \u26a0), then those whose truth changes, then the others by id, up to {}.",
                 d.targets.size(), d.target_count, shown_bad, ReportData::kTargetRows);
  if (d.targets_sampled < d.target_count) {
    fmt::format_to(w, " Only {} targets were sampled (members \u00d7 targets is capped at {} per sample).",
                   d.targets_sampled, ReportData::kMaxViewsPerSample);
  }
  if (d.violated_not_sampled > 0) {
    fmt::format_to(w, " {} targets with violations were not sampled and are not shown.", d.violated_not_sampled);
  }
  fmt::format_to(w, "</div>\n");
  if (d.targets.empty()) {
    fmt::format_to(w, "<div class=\"sub\">(no targets in this scenario)</div>\n");
  } else {
    target_rows(w, d, a);
  }

  fmt::format_to(w, "<h2 style=\"margin-top:16px\">Traffic</h2>\n<div class=\"sub\">Messages and bytes sent per second "
                    "by all members (every send, as the network counts it). After metrics_from ({}): {:.2f} messages "
                    "and {:.0f} bytes per member per second on average.</div>\n",
                 short_s(secs(d.metrics_from)), d.messages_per_member_s, d.bytes_per_member_s);
  traffic_chart(w, d, a);
  fmt::format_to(w, "</section>\n");
}

void delays_section(Out w, const ReportData& d) {
  fmt::format_to(w, "<section class=\"card\" id=\"delays\"><h2>Detection and convergence delays</h2>\n");
  fmt::format_to(w, "<div class=\"sub\">Per crash: the time to the first suspicion by any member (amber) and until "
                    "every member that was up marked it dead (red; pale red: incomplete by the end of the episode). "
                    "First detection: {}. Dead everywhere: {}.{}</div>\n",
                 d.first_detection.describe(), d.dead_everywhere.describe(),
                 d.crashes.size() > kCrashRows ? fmt::format(" The first {} of {} crashes are drawn.", kCrashRows,
                                                             d.crashes.size())
                                               : std::string());
  if (d.crashes.empty()) {
    fmt::format_to(w, "<div class=\"sub\">(no crashes in this run)</div>\n");
  } else {
    crash_plot(w, d);
  }
  fmt::format_to(w, "<div class=\"plots\">\n");
  cdf_plot(w, "agree-cdf", "target flip \u2192 every live agent reports it", d.agree_delays, "#6c5fbf");
  cdf_plot(w, "takeover-cdf", "owner crash \u2192 first check by a new owner", d.takeover_gaps, "#2e8b57");
  fmt::format_to(w, "</div>\n<div class=\"sub\">Membership convergence after the liveness start: {}.</div>\n",
                 d.converged_after ? seconds_text(*d.converged_after) : std::string("not by the end"));
  if (!d.false_positives.empty()) {
    fmt::format_to(w, "<h2 style=\"margin-top:12px\">False positives</h2><table><tr><th>first report</th><th>member</th>"
                      "<th>state</th><th>incarnation</th><th>reports</th></tr>\n");
    std::size_t listed = 0;
    for (const FalsePositive& f : d.false_positives) {
      if (listed++ >= kCrashRows) break;
      fmt::format_to(w, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", seconds_text(f.at - kZero),
                     html_escape(d.members[f.member]), to_string(f.state), f.incarnation, f.reports);
    }
    fmt::format_to(w, "</table>\n");
  }
  fmt::format_to(w, "</section>\n");
}

// The traffic series for the script (numbers only).
void series_json(Out w, const ReportData& d) {
  fmt::format_to(w, "<script id=\"series\" type=\"application/json\">{{\"bucket_s\":{},\"safety_s\":{},\"messages\":[{}],"
                    "\"bytes\":[{}]}}</script>\n",
                 secs(d.bucket), secs(d.safety), fmt::join(d.messages, ","), fmt::join(d.bytes, ","));
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report_html(const ReportData& d) {
  std::string out;
  out.reserve(256 * 1024);
  auto w = std::back_inserter(out);
  fmt::format_to(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>heck sim \u00b7 {} \u00b7 seed {} \u00b7 {}</title>\n<style>{}</style></head>\n<body>\n<main>\n",
                 html_escape(d.name), d.seed, d.passed ? "PASS" : "FAIL", kCss);
  fmt::format_to(w, "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>"
                    "<pattern id=\"hatch-paused\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
                    "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f3d35c\"/>"
                    "<rect width=\"2\" height=\"4\" fill=\"#b8860b\"/></pattern></defs></svg>\n");
  header(w, d);
  expectations(w, d);
  timeline_section(w, d);
  delays_section(w, d);
  fmt::format_to(w, "<p class=\"foot\">Written by <code>heck sim --report</code> from the simulated run above; the "
                    "same command gives the same file. Lanes and delays are exact; target statuses and traffic are "
                    "per bucket.</p>\n</main>\n<div id=\"readout\"></div>\n");
  series_json(w, d);
  fmt::format_to(w, "<script>{}</script>\n</body></html>\n", kScript);
  return out;
}

std::optional<std::string> write_report_file(std::FILE* file, const std::string& path, const std::string& html) {
  const std::size_t wrote = std::fwrite(html.data(), 1, html.size(), file);
  const int write_errno = wrote == html.size() ? 0 : errno;
  const bool closed = std::fclose(file) == 0;
  if (wrote != html.size()) {
    return fmt::format("writing the report to {} failed: {}", path, write_errno ? std::strerror(write_errno) : "short write");
  }
  if (!closed) return fmt::format("writing the report to {} failed: {}", path, std::strerror(errno));
  return std::nullopt;
}

}  // namespace heck::sim
