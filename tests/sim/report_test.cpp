// The visual report (sim/report_recorder.h, sim/report_html.h): what the
// recorder collects for a crash scenario, that recording leaves the run
// alone, and that the page is escaped, self-contained and complete.
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/cluster_run.h"
#include "sim/determinism.h"
#include "sim/report_html.h"
#include "sim/report_recorder.h"

namespace heck::sim {
namespace {

constexpr Instant kZero = Instant::from_ns(0);

ClusterScenario load(const std::string& path) {
  auto s = load_cluster_scenario(path);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return std::move(*s);
}

// One recorded run of cluster_crash_10 with seed 1, shared by the tests.
struct Recorded {
  ClusterScenario scenario = load(HECK_SCENARIO_DIR "/cluster_crash_10.json");
  ReportRecorder recorder{scenario, "scenarios/cluster_crash_10.json"};
  ClusterRunReport report = run_cluster_scenario(scenario, RunOptions{1, nullptr, &recorder});
  std::string html = render_report_html(recorder.data());
};

const Recorded& recorded() {
  static const Recorded r;
  return r;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

TEST(ReportRecorder, CrashedLaneGoesSuspectThenDeadWhenTheAnalysisSays) {
  const Recorded& r = recorded();
  const ReportData& d = r.recorder.data();
  ASSERT_EQ(d.buckets, 150u);  // 150 s in 1 s buckets
  ASSERT_EQ(d.lanes.size(), 10u);
  ASSERT_EQ(r.report.metrics.crashes.size(), 2u);  // n7 at 60 s, n3 at 80 s
  for (const CrashDetection& c : r.report.metrics.crashes) {
    ASSERT_TRUE(c.first && c.everywhere) << d.members[c.member];
    const auto& lane = d.lanes[c.member];
    const std::size_t crash = d.bucket_of(c.at);
    const std::size_t first = d.bucket_of(c.at + *c.first);
    const std::size_t dead = d.bucket_of(c.at + *c.everywhere);
    ASSERT_LT(first, dead);
    // Alive everywhere from the metrics window to the crash.
    for (std::size_t k = d.bucket_of(kZero + d.metrics_from); k < crash; ++k) {
      EXPECT_EQ(lane[k].alive, lane[k].observers) << d.members[c.member] << " bucket " << k;
      EXPECT_EQ(lane[k].suspect + lane[k].dead, 0) << d.members[c.member] << " bucket " << k;
    }
    // Nobody doubts it before the first suspicion; someone does in its bucket.
    for (std::size_t k = crash; k < first; ++k) EXPECT_EQ(lane[k].suspect + lane[k].dead, 0) << "bucket " << k;
    EXPECT_GT(lane[first].suspect, 0) << "bucket " << first;
    // Not dead everywhere before the bucket in which the last survivor marks it.
    for (std::size_t k = crash; k < dead; ++k) EXPECT_LT(lane[k].dead, lane[k].observers) << "bucket " << k;
    EXPECT_EQ(lane[dead].dead, c.observers);
    EXPECT_EQ(lane[dead].observers, c.observers);
    // Its process is down from the crash to the end.
    ASSERT_FALSE(d.processes[c.member].empty());
    const ProcessSpan& down = d.processes[c.member].back();
    EXPECT_EQ(down.kind, ProcessSpan::Kind::down);
    EXPECT_EQ(down.from, c.at);
    EXPECT_EQ(down.to, kZero + d.duration);
  }
  // A member that never crashed: alive at every observer after the start.
  const auto& n0 = d.lanes[0];
  for (std::size_t k = 10; k < d.buckets; ++k) {
    EXPECT_EQ(n0[k].alive, n0[k].observers) << "bucket " << k;
    EXPECT_EQ(n0[k].suspect + n0[k].dead + n0[k].left, 0) << "bucket " << k;
  }
}

TEST(ReportRecorder, TargetsTrafficAndVerdicts) {
  const Recorded& r = recorded();
  const ReportData& d = r.recorder.data();
  EXPECT_EQ(d.target_count, 64u);
  EXPECT_EQ(d.targets_sampled, 64u);
  ASSERT_EQ(d.targets.size(), ReportData::kTargetRows);
  // The targets whose truth changes (edge-*, flaky-*) are all among the rows.
  std::size_t changing = 0;
  for (const TargetRow& row : d.targets) changing += row.id.starts_with("edge") || row.id.starts_with("flaky");
  EXPECT_EQ(changing, 14u);
  // edge-0 goes down at 45 s and up at 95 s; after a while every live agent says so.
  const auto edge = std::find_if(d.targets.begin(), d.targets.end(), [](const TargetRow& t) { return t.id == "edge-0"; });
  ASSERT_NE(edge, d.targets.end());
  EXPECT_EQ(edge->truth[40], HealthStatus::healthy);
  EXPECT_EQ(edge->truth[50], HealthStatus::unhealthy);
  EXPECT_EQ(edge->truth[100], HealthStatus::healthy);
  const auto& at55 = edge->reports[55];  // before the crashes: 10 live agents
  EXPECT_EQ(at55[1], 10u) << at55[0] << " healthy, " << at55[2] << " unknown";
  const auto& at90 = edge->reports[90];  // n7 and n3 down: 8 agents
  EXPECT_EQ(at90[1], 8u);
  // Traffic: every bucket after the start sends something, and the sums match the network's.
  std::uint64_t messages = 0, bytes = 0;
  for (std::size_t k = 0; k < d.buckets; ++k) {
    messages += d.messages[k];
    bytes += d.bytes[k];
    if (k >= 2) {
      EXPECT_GT(d.messages[k], 0u) << "bucket " << k;
    }
  }
  EXPECT_EQ(messages, r.report.network.datagrams_sent + r.report.network.streams_sent);
  EXPECT_EQ(bytes, r.report.network.bytes_sent);
  ASSERT_EQ(d.expectations.size(), r.report.verdicts.size());
  EXPECT_TRUE(d.passed);
  EXPECT_EQ(d.replay, "heck sim scenarios/cluster_crash_10.json --seed 1");
  EXPECT_FALSE(d.agree_delays.empty());
  EXPECT_FALSE(d.takeover_gaps.empty());
}

TEST(ReportRecorder, RecordingDoesNotChangeTheRun) {
  const ClusterScenario s = load(HECK_SCENARIO_DIR "/cluster_crash_10.json");
  RunFingerprint plain, watched;
  const ClusterRunReport a = run_fingerprinted(s, 1, plain);
  ReportRecorder recorder(s, "x.json");
  const ClusterRunReport b = run_fingerprinted(s, 1, watched, &recorder);
  EXPECT_EQ(plain, watched) << plain.describe() << " vs " << watched.describe();
  EXPECT_GT(plain.trace_lines, 5'000u);  // a real run was compared (8,440 lines today)
  ASSERT_EQ(a.verdicts.size(), b.verdicts.size());
  for (std::size_t i = 0; i < a.verdicts.size(); ++i) EXPECT_EQ(a.verdicts[i].evidence, b.verdicts[i].evidence);
  EXPECT_EQ(recorder.data().buckets, 150u);  // it did record
}

TEST(ReportRecorder, AShortLastBucketIsSampledAtTheEnd) {
  ClusterScenario s = load(HECK_SIM_TEST_DATA "/sweep_small.json");
  s.liveness = s.liveness + Duration::milliseconds(500);  // the end is off the 1 s grid
  ReportRecorder recorder(s, "x.json");
  run_cluster_scenario(s, RunOptions{3, nullptr, &recorder});
  const ReportData& d = recorder.data();
  ASSERT_EQ(static_cast<std::int64_t>(d.buckets), (s.duration().ns() + 999'999'999) / 1'000'000'000);
  EXPECT_GT(d.messages.back(), 0u);
}

// Partitions, clogs and link rules with the times they came and went; a
// pause and a restart as process spans.
TEST(ReportRecorder, FaultSpansFollowTheTimeline) {
  auto parsed = parse_cluster_scenario(nlohmann::json::parse(R"({
    "name": "faults", "members": {"count": 5, "prefix": "n"},
    "safety_ms": 20000, "liveness_ms": 5000, "metrics_from_ms": 2000,
    "timeline": [
      {"at_ms": 3000, "event": "loss", "rate": 0.1},
      {"at_ms": 4000, "event": "partition", "from": ["n0", "n1"], "name": "p"},
      {"at_ms": 5000, "event": "clog", "from": "n2", "to": "n3", "one_way": true, "name": "c"},
      {"at_ms": 6000, "event": "pause", "member": "n4", "for_ms": 2000},
      {"at_ms": 7000, "event": "release", "name": "c"},
      {"at_ms": 9000, "event": "heal"},
      {"at_ms": 10000, "event": "restart", "member": "n3", "down_ms": 3000}
    ]})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const ClusterScenario& s = *parsed;
  ReportRecorder recorder(s, "faults.json");
  run_cluster_scenario(s, RunOptions{1, nullptr, &recorder});
  const ReportData& d = recorder.data();
  ASSERT_EQ(d.network_faults.size(), 3u);
  const auto ms = [](std::int64_t v) { return kZero + Duration::milliseconds(v); };
  const NetworkFaultSpan& loss = d.network_faults[0];
  EXPECT_EQ(loss.kind, FaultKind::link);
  EXPECT_EQ(loss.detail, "loss 10%");
  EXPECT_EQ(loss.at, ms(3000));
  EXPECT_EQ(loss.until, ms(20000));  // no unlink: the liveness phase ends it
  const NetworkFaultSpan& p = d.network_faults[1];
  EXPECT_EQ(p.kind, FaultKind::partition);
  EXPECT_EQ(p.from, "n0, n1");
  EXPECT_EQ(p.to, "n2, n3, n4");
  EXPECT_EQ(p.at, ms(4000));
  EXPECT_EQ(p.until, ms(9000));  // a heal without a name heals it
  const NetworkFaultSpan& c = d.network_faults[2];
  EXPECT_EQ(c.kind, FaultKind::clog);
  EXPECT_TRUE(c.one_way);
  EXPECT_EQ(c.until, ms(7000));
  // n4 paused for 2 s; n3 down for 3 s.
  const auto has = [&](std::uint32_t m, ProcessSpan::Kind k, std::int64_t from, std::int64_t to) {
    return std::any_of(d.processes[m].begin(), d.processes[m].end(), [&](const ProcessSpan& x) {
      return x.kind == k && x.from == ms(from) && x.to == ms(to);
    });
  };
  EXPECT_TRUE(has(4, ProcessSpan::Kind::paused, 6000, 8000));
  EXPECT_TRUE(has(3, ProcessSpan::Kind::down, 10000, 13000));
  EXPECT_FALSE(has(4, ProcessSpan::Kind::down, 6000, 8000));
  // While n3 is down it observes nobody; after its restart it does again.
  EXPECT_EQ(d.lanes[0][11].observers, 3);  // n1, n2, n4 (n3 down)
  EXPECT_EQ(d.lanes[0][19].observers, 4);
  const std::string html = render_report_html(d);
  EXPECT_NE(html.find("n0, n1 \u21c4 n2, n3, n4"), std::string::npos);
  EXPECT_NE(html.find("n2 \u2192 n3"), std::string::npos);
}

TEST(ReportHtml, EscapesText) {
  EXPECT_EQ(html_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(html_escape("plain"), "plain");
  ReportData d = recorded().recorder.data();
  d.name = "<script>alert(1)</script>";
  d.description = "a & b <i>";
  d.members[3] = "n<3>";
  d.expectations.front().evidence = "x < y && \"z\" > w";
  const std::string html = render_report_html(d);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &amp; b &lt;i&gt;"), std::string::npos);
  EXPECT_EQ(html.find("n<3>"), std::string::npos);
  EXPECT_NE(html.find("data-member=\"n&lt;3&gt;\""), std::string::npos);
  EXPECT_NE(html.find("x &lt; y &amp;&amp; &quot;z&quot; &gt; w"), std::string::npos);
  // Exactly the page's own two scripts remain.
  EXPECT_EQ(count(html, "<script"), 2u);
}

TEST(ReportHtml, IsSelfContained) {
  const std::string& html = recorded().html;
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  // Every url() is a reference into the page itself.
  EXPECT_EQ(count(html, "url("), count(html, "url(#"));
  // A URL in the scenario's text stays text, not a reference.
  ReportData d = recorded().recorder.data();
  d.description = "see https://example.com/x";
  const std::string with_url = render_report_html(d);
  EXPECT_EQ(count(with_url, "https://"), 1u);
  EXPECT_EQ(with_url.find("href="), std::string::npos);
}

TEST(ReportHtml, HasALaneForEveryMemberAndEveryChart) {
  const Recorded& r = recorded();
  const std::string& html = r.html;
  EXPECT_EQ(count(html, "<g class=\"lane\""), 10u);
  for (const std::string& m : r.recorder.data().members) {
    EXPECT_NE(html.find("data-member=\"" + m + "\""), std::string::npos) << m;
  }
  for (const char* id : {"faults", "lanes", "targets", "traffic", "crash-delays", "agree-cdf", "takeover-cdf"}) {
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(count(html, "<g class=\"trow\""), ReportData::kTargetRows);
  EXPECT_EQ(count(html, "<tr class=\"exp\">"), r.report.verdicts.size());
  EXPECT_NE(html.find("heck sim scenarios/cluster_crash_10.json --seed 1"), std::string::npos);
  EXPECT_NE(html.find("cluster-crash-10"), std::string::npos);
  // One crash marker, first suspicion and dead-everywhere tick per crash.
  EXPECT_EQ(count(html, "class=\"mk-crash\""), 2u);
  EXPECT_EQ(count(html, "class=\"mk-first\""), 2u);
  EXPECT_EQ(count(html, "class=\"mk-dead\""), 2u);
  // The same run renders the same page.
  EXPECT_EQ(render_report_html(r.recorder.data()), html);
}

TEST(ReportHtml, AFailingRunShowsItsFailures) {
  ReportData d = recorded().recorder.data();
  d.passed = false;
  d.expectations.front().pass = false;
  const std::string html = render_report_html(d);
  EXPECT_NE(html.find("class=\"badge fail\">FAIL"), std::string::npos);
  EXPECT_EQ(count(html, "<tr class=\"exp\"><td><span class=\"badge fail\">FAIL</span>"), 1u);  // the one expectation
  EXPECT_EQ(recorded().html.find("badge fail"), std::string::npos);
}

TEST(ReportHtml, WriteReportFileSaysWhatFailed) {
  const auto dir = std::filesystem::temp_directory_path() / "heck_report_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.html").string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(write_report_file(f, path, "<p>hi</p>"), std::nullopt);
  EXPECT_EQ(std::filesystem::file_size(path), 9u);
  // /dev/full takes the open but not the bytes.
  if (std::FILE* full = std::fopen("/dev/full", "wb")) {
    const auto error = write_report_file(full, "/dev/full", std::string(1 << 20, 'x'));
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find("writing the report to /dev/full failed"), std::string::npos) << *error;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace heck::sim
