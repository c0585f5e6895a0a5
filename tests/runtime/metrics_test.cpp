#include "runtime/metrics.h"

#include <cmath>
#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsText, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value(R"(a"b)"), R"(a\"b)");
  EXPECT_EQ(escape_label_value(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(escape_label_value("a\nb"), R"(a\nb)");
  EXPECT_EQ(escape_label_value("\\\"\n"), R"(\\\"\n)");
}

TEST(MetricsText, EscapesHelp) {
  EXPECT_EQ(escape_help("a \"quoted\" \\ line\nnext"), "a \"quoted\" \\\\ line\\nnext");
}

TEST(MetricsText, FormatsValues) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(3), "3");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(-1.5), "-1.5");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(MetricsText, Names) {
  EXPECT_TRUE(valid_metric_name("heck_checks_total"));
  EXPECT_TRUE(valid_metric_name("a:b_c"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("target"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(MetricsRegistry, RendersCountersAndGaugesWithEscapedLabels) {
  MetricsRegistry r;
  Counter& c = r.counter("heck_checks_total", "Checks finished.", {"target", "result"});
  Gauge& g = r.gauge("heck_up", "Up.", {"target"});
  Counter& plain = r.counter("heck_plain_total", "No labels.");
  c.inc({"web", "ok"});
  c.inc({"web", "ok"}, 2);
  c.inc({"we\"b\\\n", "timeout"});
  g.set({"web"}, 1);
  (void)plain;
  EXPECT_EQ(r.render(),
            "# HELP heck_checks_total Checks finished.\n"
            "# TYPE heck_checks_total counter\n"
            "heck_checks_total{target=\"we\\\"b\\\\\\n\",result=\"timeout\"} 1\n"
            "heck_checks_total{target=\"web\",result=\"ok\"} 3\n"
            "# HELP heck_up Up.\n"
            "# TYPE heck_up gauge\n"
            "heck_up{target=\"web\"} 1\n"
            "# HELP heck_plain_total No labels.\n"
            "# TYPE heck_plain_total counter\n"
            "heck_plain_total 0\n");
  EXPECT_EQ(c.value({"web", "ok"}), 3);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry r;
  Histogram& h = r.histogram("heck_check_duration_seconds", "Durations.", {"target"}, {0.01, 0.1, 1});
  h.observe({"a"}, 0.005);  // <= 0.01
  h.observe({"a"}, 0.01);   // le is inclusive: still the first bucket
  h.observe({"a"}, 0.05);
  h.observe({"a"}, 5);      // only +Inf
  h.observe({"a"}, std::nan(""));  // ignored
  EXPECT_EQ(h.cumulative({"a"}), (std::vector<std::uint64_t>{2, 3, 3, 4}));
  EXPECT_EQ(h.count({"a"}), 4u);
  EXPECT_DOUBLE_EQ(h.sum({"a"}), 5.065);
  const std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("# TYPE heck_check_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("heck_check_duration_seconds_bucket{target=\"a\",le=\"0.01\"} 2\n"
                              "heck_check_duration_seconds_bucket{target=\"a\",le=\"0.1\"} 3\n"
                              "heck_check_duration_seconds_bucket{target=\"a\",le=\"1\"} 3\n"
                              "heck_check_duration_seconds_bucket{target=\"a\",le=\"+Inf\"} 4\n"
                              "heck_check_duration_seconds_sum{target=\"a\"} 5.065\n"
                              "heck_check_duration_seconds_count{target=\"a\"} 4\n"));
}

TEST(MetricsRegistry, LatencyBucketsSpanOneMillisecondToTenSeconds) {
  const auto b = latency_buckets_seconds();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (std::size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(MetricsRegistry, UnlabelledHistogram) {
  MetricsRegistry r;
  Histogram& h = r.histogram("x_seconds", "X.", {}, {1});
  h.observe({}, 0.5);
  EXPECT_THAT(r.render(), HasSubstr("x_seconds_bucket{le=\"1\"} 1\nx_seconds_bucket{le=\"+Inf\"} 1\n"
                                    "x_seconds_sum 0.5\nx_seconds_count 1\n"));
}

TEST(MetricsRegistry, RemoveAndClear) {
  MetricsRegistry r;
  Gauge& g = r.gauge("g", "G.", {"k"});
  g.set({"a"}, 1);
  g.set({"b"}, 2);
  g.remove({"a"});
  EXPECT_THAT(r.render(), Not(HasSubstr("k=\"a\"")));
  EXPECT_THAT(r.render(), HasSubstr("g{k=\"b\"} 2\n"));
  g.clear();
  EXPECT_EQ(g.series_count(), 0u);
  Gauge& u = r.gauge("u", "U.");
  u.set(5);
  u.clear();  // an unlabelled family keeps its one series
  EXPECT_THAT(r.render(), HasSubstr("u 0\n"));
}

TEST(MetricsRegistry, SeriesPerFamilyAreBounded) {
  MetricsRegistry r;
  Counter& c = r.counter("many_total", "Many.", {"k"});
  for (std::size_t i = 0; i < MetricFamily::kMaxSeriesPerFamily + 5; ++i) c.inc({std::to_string(i)});
  EXPECT_EQ(c.series_count(), MetricFamily::kMaxSeriesPerFamily);
  EXPECT_EQ(c.dropped_series(), 5u);
  EXPECT_EQ(r.dropped_series(), 5u);
  // Existing series still update.
  c.inc({"0"});
  EXPECT_EQ(c.value({"0"}), 2);
}

}  // namespace
}  // namespace heck::runtime
