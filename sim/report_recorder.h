// What the visual report of one run shows (sim/report_html.h renders it),
// collected while the run goes by a RunRecorder (sim/cluster_run.h) and from
// the world's own logs at the end.
//
// Time is cut into buckets of `bucket` (1 s; longer for long runs, so that
// there are at most kMaxBuckets). Bucket k covers [k x bucket, (k+1) x bucket).
//
// - Member lanes: for each member, how the others saw it in each bucket.
//   Rebuilt after the run from the world's member records and process log
//   (exact, not sampled): every running member other than the subject is an
//   observer (a paused one too: its view stands, frozen); a member's view of
//   others is reset when its process starts. Per bucket: the observers at
//   its end, how many saw the member alive at its end, and the most that saw
//   it suspect, dead or left at any one instant in the bucket (a suspicion
//   refuted within a second still shows).
// - Process spans: when each member was not started yet, down (crashed or
//   stopped), paused, or leaving (left, process still up), from the log.
// - Network faults: each partition, clog and link rule (loss included) of the
//   timeline with the time it came and went (heal / release / unlink by
//   name, or every one without a name; the liveness heal ends the rest).
// - Targets: for up to kMaxSampledTargets targets (fewer when members x
//   targets would pass kMaxViewsPerSample), sampled at each bucket's end:
//   what every live agent (running, not paused) reports (agent_status, the
//   target_view vote rule) as healthy / unhealthy / unknown counts; and the
//   truth (the target model) at that instant. Targets whose truth changes
//   are sampled first. Kept as rows: every sampled target with an invariant
//   violation, then targets whose truth changes, then steady ones, up to
//   kTargetRows in all (more only for violations), listed in target order.
// - Traffic: messages and bytes sent per bucket (the network's counters).
// - Delays: the analysis's crash detections (sim/cluster_analysis.h), the
//   invariant checker's flip-to-agreement delays and takeover gaps.
// - Verdicts with their evidence, the replay command.
//
// Cost: O(members + sampled targets x live members) per bucket while the
// run goes; O(member records + process events x members + members x
// buckets) at the end. Memory: O((members + rows) x buckets).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/health.h"
#include "core/time.h"
#include "sim/cluster_analysis.h"
#include "sim/cluster_run.h"
#include "sim/cluster_scenario.h"
#include "sim/cluster_world.h"

namespace heck::sim {

// One member in one bucket, as the others saw it.
struct LaneCell {
  std::uint16_t observers = 0;  // running members other than it, at the bucket's end
  std::uint16_t alive = 0;      // of them: saw it alive at the bucket's end
  std::uint16_t suspect = 0;    // most that saw it suspect at one instant in the bucket
  std::uint16_t dead = 0;       // ... dead
  std::uint16_t left = 0;       // ... left

  bool operator==(const LaneCell&) const = default;
};

struct ProcessSpan {
  enum class Kind : std::uint8_t { not_started, down, paused, leaving };
  Kind kind = Kind::down;
  Instant from, to;
};
std::string_view to_string(ProcessSpan::Kind k);

struct NetworkFaultSpan {
  FaultKind kind = FaultKind::partition;  // partition, clog or link
  std::string name;
  std::string from, to;                   // member sets as text ("n0, n1", "*")
  bool one_way = false;
  std::string detail;                     // link: "loss 10%, latency …"
  Instant at, until;
};

// A timeline event drawn as a mark (put_target, delete_target, add_counter).
struct TimelineMark {
  Instant at;
  std::string text;
};

struct TargetRow {
  std::uint32_t target = 0;             // ClusterScenario::target_spec index
  std::string id;
  std::size_t violations = 0;
  std::string first_violation;          // "freshness at 61.2 s: …"
  std::vector<HealthStatus> truth;      // per bucket, at its end
  // Per bucket, at its end: live agents reporting healthy, unhealthy, unknown.
  std::vector<std::array<std::uint16_t, 3>> reports;
};

struct ExpectationRow {
  bool pass = false;
  std::string what;      // ClusterExpectation::describe()
  std::string evidence;
};

struct ReportData {
  static constexpr std::size_t kMaxBuckets = 1'800;
  static constexpr std::size_t kTargetRows = 50;
  static constexpr std::size_t kMaxSampledTargets = 1'000;
  static constexpr std::size_t kMaxViewsPerSample = 100'000;  // agents x sampled targets
  static constexpr std::size_t kMaxNetworkFaults = 1'000;
  static constexpr std::size_t kMaxMarks = 1'000;
  static constexpr std::size_t kMaxProcessSpans = 20'000;

  std::string name, description, scenario_path, replay;
  std::uint64_t seed = 0;
  bool passed = false;
  std::string error;                    // a limit stopped the run
  Duration duration, safety, metrics_from;
  Duration bucket = Duration::seconds(1);
  std::size_t buckets = 0;

  std::vector<std::string> members;
  std::vector<std::vector<LaneCell>> lanes;          // [member][bucket]
  std::vector<std::vector<ProcessSpan>> processes;   // [member], in time order
  std::size_t process_spans_dropped = 0;
  std::uint64_t member_records_dropped = 0;          // the world's (lanes miss them)

  std::vector<NetworkFaultSpan> network_faults;
  std::size_t network_faults_dropped = 0;  // over kMaxNetworkFaults
  std::vector<TimelineMark> marks;

  std::size_t target_count = 0;
  std::size_t targets_sampled = 0;
  std::size_t violated_targets = 0;       // with a violation (sampled or not)
  std::size_t violated_not_sampled = 0;
  std::vector<TargetRow> targets;         // in target order

  std::vector<std::uint64_t> messages, bytes;  // sent per bucket, every member

  std::vector<CrashDetection> crashes;
  Percentiles first_detection, dead_everywhere;
  std::vector<FalsePositive> false_positives;
  std::vector<Duration> agree_delays;     // flip -> every live agent reports it
  std::vector<Duration> takeover_gaps;    // owner crash -> first check by a new owner
  std::optional<Duration> converged_after;
  double messages_per_member_s = 0, bytes_per_member_s = 0;

  std::vector<ExpectationRow> expectations;

  std::size_t bucket_of(Instant t) const;
};

class ReportRecorder final : public RunRecorder {
 public:
  // `scenario` must outlive the recorder; `scenario_path` is for the replay
  // command.
  ReportRecorder(const ClusterScenario& scenario, std::string scenario_path);

  Duration sample_every() const override { return data_.bucket; }
  void sample(const ClusterWorld& world) override;
  void finish(const ClusterWorld& world, const ClusterRunReport& report) override;

  const ReportData& data() const { return data_; }

 private:
  void build_lanes(const ClusterWorld& world);
  void build_processes(const ClusterWorld& world);
  void build_network_faults();
  void build_targets(const ClusterRunReport& report);

  const ClusterScenario& scenario_;
  ReportData data_;
  std::vector<std::uint32_t> sampled_;    // target indices sampled each bucket
  std::vector<std::vector<std::array<std::uint16_t, 3>>> samples_;  // [sampled index][bucket]
  std::size_t samples_taken_ = 0;         // buckets sampled so far
  std::uint64_t last_messages_ = 0, last_bytes_ = 0;
};

}  // namespace heck::sim
