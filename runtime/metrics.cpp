#include "runtime/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>

#include <fmt/format.h>

namespace heck::runtime {

namespace {

bool name_char(char c, bool first, bool allow_colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
  return first ? alpha : alpha || (c >= '0' && c <= '9');
}

std::string_view type_text(MetricType t) {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::vector<double> latency_buckets_seconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- MetricFamily -----------------------------------------------------------

MetricFamily::MetricFamily(MetricType type, std::string name, std::string help,
                           std::vector<std::string> label_names, std::vector<double> bounds)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
  assert(valid_metric_name(name_));
  assert(label_names_.size() <= Labels::kMax);
  for (const auto& l : label_names_) {
    assert(valid_label_name(l));
    assert(type_ != MetricType::histogram || l != "le");
    (void)l;
  }
  assert(type_ == MetricType::histogram || bounds_.empty());
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    assert(std::isfinite(bounds_[i]));
    assert(i == 0 || bounds_[i - 1] < bounds_[i]);
  }
  // A family without labels has exactly one series, present from the start
  // (a counter that never moved still renders as 0).
  if (label_names_.empty()) series({});
}

Labels::Labels(std::initializer_list<std::string_view> values) : size_(std::min(values.size(), kMax)) {
  assert(values.size() <= kMax);
  std::copy_n(values.begin(), size_, values_.begin());
}

Labels::Labels(const LabelValues& values) : size_(std::min(values.size(), kMax)) {
  assert(values.size() <= kMax);
  std::copy_n(values.begin(), size_, values_.begin());
}

std::size_t MetricFamily::LabelsHash::operator()(const Labels& v) const {
  std::size_t h = v.size();
  for (std::size_t i = 0; i < v.size(); ++i) h = (h ^ std::hash<std::string_view>{}(v[i])) * 0x9e3779b97f4a7c15ULL;
  return h;
}

bool MetricFamily::LabelsEqual::operator()(const Labels& a, const Labels& b) const {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

MetricFamily::Series* MetricFamily::series(const Labels& values) {
  assert(values.size() == label_names_.size());
  auto it = series_.find(values);
  if (it != series_.end()) return &it->second;
  if (series_.size() >= kMaxSeriesPerFamily) {
    ++dropped_series_;
    return nullptr;
  }
  Series s;
  if (type_ == MetricType::histogram) s.buckets.assign(bounds_.size() + 1, 0);
  LabelValues key;
  for (std::size_t i = 0; i < values.size(); ++i) key.emplace_back(values[i]);
  return &series_.emplace(std::move(key), std::move(s)).first->second;
}

const MetricFamily::Series* MetricFamily::find(const Labels& values) const {
  auto it = series_.find(values);
  return it == series_.end() ? nullptr : &it->second;
}

void MetricFamily::remove(const Labels& values) {
  if (label_names_.empty()) return;  // the one series stays
  if (auto it = series_.find(values); it != series_.end()) series_.erase(it);
}

void MetricFamily::clear() {
  if (label_names_.empty()) {
    series_.clear();
    series({});
    return;
  }
  series_.clear();
}

void MetricFamily::render_labels(std::string& out, const LabelValues& values, std::string_view extra_name,
                                 std::string_view extra_value) const {
  if (label_names_.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names_[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void MetricFamily::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type_text(type_));
  // In label value order: the output is deterministic.
  std::vector<const decltype(series_)::value_type*> sorted;
  sorted.reserve(series_.size());
  for (const auto& entry : series_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    const auto& [values, s] = *entry;
    if (type_ != MetricType::histogram) {
      out += name_;
      render_labels(out, values);
      out += ' ';
      out += format_metric_value(s.value);
      out += '\n';
      continue;
    }
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < s.buckets.size(); ++b) {
      cumulative += s.buckets[b];
      out += name_;
      out += "_bucket";
      render_labels(out, values, "le", b < bounds_.size() ? format_metric_value(bounds_[b]) : "+Inf");
      out += fmt::format(" {}\n", cumulative);
    }
    out += name_;
    out += "_sum";
    render_labels(out, values);
    out += ' ';
    out += format_metric_value(s.sum);
    out += '\n';
    out += name_;
    out += "_count";
    render_labels(out, values);
    out += fmt::format(" {}\n", s.count);
  }
}

// --- typed families -----------------------------------------------------------

void Counter::inc(const Labels& values, double by) {
  assert(by >= 0);
  if (Series* s = series(values)) s->value += by;
}

void Counter::set(const Labels& values, double value) {
  if (Series* s = series(values)) s->value = value;
}

double Counter::value(const Labels& values) const {
  const Series* s = find(values);
  return s ? s->value : 0;
}

void Gauge::set(const Labels& values, double value) {
  if (Series* s = series(values)) s->value = value;
}

double Gauge::value(const Labels& values) const {
  const Series* s = find(values);
  return s ? s->value : std::nan("");
}

void Histogram::observe(const Labels& values, double v) {
  if (std::isnan(v)) return;  // would poison _sum; never produced by a clock
  Series* s = series(values);
  if (!s) return;
  // The first bucket whose upper bound is >= v ("le" is inclusive); values
  // above every bound land in +Inf.
  const auto b =
      static_cast<std::size_t>(std::lower_bound(bounds().begin(), bounds().end(), v) - bounds().begin());
  ++s->buckets[b];
  s->sum += v;
  ++s->count;
}

std::vector<std::uint64_t> Histogram::cumulative(const Labels& values) const {
  const Series* s = find(values);
  std::vector<std::uint64_t> out(bounds().size() + 1, 0);
  if (!s) return out;
  std::uint64_t c = 0;
  for (std::size_t b = 0; b < s->buckets.size(); ++b) out[b] = c += s->buckets[b];
  return out;
}

double Histogram::sum(const Labels& values) const {
  const Series* s = find(values);
  return s ? s->sum : 0;
}

std::uint64_t Histogram::count(const Labels& values) const {
  const Series* s = find(values);
  return s ? s->count : 0;
}

// --- MetricsRegistry ------------------------------------------------------------

namespace {

template <typename F>
F& add_family(std::vector<std::unique_ptr<MetricFamily>>& families, std::unique_ptr<F> f) {
  assert(families.size() < MetricsRegistry::kMaxFamilies);
  for (const auto& existing : families) {
    assert(existing->name() != f->name());
    (void)existing;
  }
  F& ref = *f;
  families.push_back(std::move(f));
  return ref;
}

}  // namespace

Counter& MetricsRegistry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return add_family(families_, std::make_unique<Counter>(MetricType::counter, std::move(name), std::move(help),
                                                         std::move(label_names)));
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return add_family(families_, std::make_unique<Gauge>(MetricType::gauge, std::move(name), std::move(help),
                                                       std::move(label_names)));
}

Histogram& MetricsRegistry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  return add_family(families_, std::make_unique<Histogram>(MetricType::histogram, std::move(name),
                                                           std::move(help), std::move(label_names),
                                                           std::move(bounds)));
}

std::string MetricsRegistry::render() const {
  std::string out;
  for (const auto& f : families_) f->render(out);
  return out;
}

std::uint64_t MetricsRegistry::dropped_series() const {
  std::uint64_t n = 0;
  for (const auto& f : families_) n += f->dropped_series();
  return n;
}

}  // namespace heck::runtime
