// A small metrics registry rendered in the Prometheus text exposition format,
// version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Families are registered once with a name, a help text and fixed label names;
// series are created on first use, keyed by their label values. Rendering
// lists families in registration order and each family's series in label
// value order, so the output is deterministic.
//
// Cost: an update names its series by views of the label values (Labels)
// and finds it by hash: no allocation unless the series is new. Rendering
// sorts the series (O(s log s)); it runs per scrape, not per check.
//
// Limits: at most kMaxSeriesPerFamily series per family; updates that would
// create more are dropped and counted (dropped_series()). Names are checked
// by assertion (they are programmer input); label values are arbitrary text
// and are escaped (backslash, double quote, line feed) when rendered.
//
// Not thread-safe: used on the agent's io_context thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace heck::runtime {

using LabelValues = std::vector<std::string>;

// The label values of one series as a caller names it: views, not copies.
class Labels {
 public:
  static constexpr std::size_t kMax = 4;  // label names per family
  Labels() = default;
  Labels(std::initializer_list<std::string_view> values);
  Labels(const LabelValues& values);  // NOLINT: implicit, like the braced form
  std::size_t size() const { return size_; }
  std::string_view operator[](std::size_t i) const { return values_[i]; }

 private:
  std::array<std::string_view, kMax> values_{};
  std::size_t size_ = 0;
};

enum class MetricType : std::uint8_t { counter, gauge, histogram };

class MetricFamily {
 public:
  static constexpr std::size_t kMaxSeriesPerFamily = 100'000;

  MetricFamily(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> bounds = {});

  MetricType type() const { return type_; }
  const std::string& name() const { return name_; }
  std::size_t series_count() const { return series_.size(); }
  std::uint64_t dropped_series() const { return dropped_series_; }

  // Removes one series or all of them (e.g. a target that went away).
  void remove(const Labels& values);
  void clear();

  void render(std::string& out) const;

 protected:
  struct Series {
    double value = 0;                    // counter, gauge
    std::vector<std::uint64_t> buckets;  // histogram: per bucket, not cumulative; last is +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  // The series for `values`, created if needed; nullptr when the family is full.
  // REQUIRES: values.size() == number of label names.
  Series* series(const Labels& values);
  const Series* find(const Labels& values) const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  void render_labels(std::string& out, const LabelValues& values, std::string_view extra_name = {},
                     std::string_view extra_value = {}) const;

  MetricType type_;
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histogram upper bounds, strictly increasing, +Inf implied
  // Hashed by the values; heterogeneous: found by Labels without a copy.
  struct LabelsHash {
    using is_transparent = void;
    std::size_t operator()(const Labels& v) const;
    std::size_t operator()(const LabelValues& v) const { return (*this)(Labels(v)); }
  };
  struct LabelsEqual {
    using is_transparent = void;
    bool operator()(const Labels& a, const Labels& b) const;
  };
  std::unordered_map<LabelValues, Series, LabelsHash, LabelsEqual> series_;
  std::uint64_t dropped_series_ = 0;
};

class Counter : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  // REQUIRES: by >= 0.
  void inc(const Labels& values = {}, double by = 1);
  // Mirrors a monotonic count kept elsewhere (e.g. a scheduler counter).
  void set(const Labels& values, double value);
  double value(const Labels& values = {}) const;
};

class Gauge : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  void set(const Labels& values, double value);
  void set(double value) { set({}, value); }
  double value(const Labels& values = {}) const;
};

class Histogram : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  void observe(const Labels& values, double v);
  // Cumulative bucket counts (one per bound, then +Inf), sum and count.
  std::vector<std::uint64_t> cumulative(const Labels& values) const;
  double sum(const Labels& values) const;
  std::uint64_t count(const Labels& values) const;
};

class MetricsRegistry {
 public:
  static constexpr std::size_t kMaxFamilies = 256;

  // REQUIRES: a valid, not yet registered name ([a-zA-Z_:][a-zA-Z0-9_:]*);
  // at most Labels::kMax valid label names ([a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix, no "le" for
  // histograms); histogram bounds strictly increasing and finite.
  Counter& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Gauge& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Histogram& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds);

  // The whole registry in text format 0.0.4 (ends with a line feed).
  std::string render() const;

  // Series dropped by every family because a family was full.
  std::uint64_t dropped_series() const;

 private:
  std::vector<std::unique_ptr<MetricFamily>> families_;
};

// Buckets for latencies in seconds: 1 ms to 10 s (1-2.5-5 steps).
std::vector<double> latency_buckets_seconds();

// Text-format helpers (exposed for tests).
std::string escape_label_value(std::string_view v);  // \ " and line feed
std::string escape_help(std::string_view v);         // \ and line feed
std::string format_metric_value(double v);           // NaN, +Inf, -Inf, shortest round-trip
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace heck::runtime
