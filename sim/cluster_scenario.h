// A cluster scenario: members running the composed node (core/cluster/),
// the network between them, a timeline of faults, and what must hold.
// Parsed strictly from JSON: unknown keys, wrong types and bad values are refused with a message that
// names the field ("timeline[3].from[1]: 'n99' is not a member").
//
//   {
//     "kind": "cluster",                 // optional (older files carry it; any other value is refused)
//     "name": "crash-10", "description": "…", "seed": 7,
//     "members": {"count": 10, "prefix": "n",           // n0 … n9
//                 "clock_spread": {"offset_ms": 30000, "drift_ppm": 500}},
//       // or a list: [{"name": "a", "clock": {"offset_ms": 0, "drift_ppm": 0}, "start": false}]
//       // clock_spread: offsets spread evenly over ±offset_ms, drifts over
//       // ±drift_ppm in another order; "start": false = joins on a join event
//     "seeds": ["n0"],                   // join addresses (default: the first member);
//                                        // []: none, every member is its own one-member cluster
//     "start_spread_ms": 2000,           // non-seed members start at random times in [0, spread]
//     "swim": {"probe_interval_ms": 1000, "lifeguard": true, …},   // core SwimConfig fields
//     "replication": {"anti_entropy_interval_ms": 1000, "fanout": 3},
//     "network": {"latency": {<sim/latency.h>}, "loss": 0, "duplicate": 0, "reorder": 0,
//                 "reorder_delay": {…}, "stream_bytes_per_ms": 125000,
//                 "socket_buffer_packets": 256,   // a paused member's receive buffer
//                 "links": [{"from": "n1", "to": ["n2"], "one_way": true, "latency": {…}, "loss": 0.1}]},
//     "safety_ms": 120000,               // the timeline runs in [0, safety_ms)
//     "liveness_ms": 60000,              // then every fault heals; convergence is required
//     "metrics_from_ms": 10000,          // load and dissemination figures start here
//     "timeline": [
//       {"at_ms": 30000, "event": "crash", "member": "n3"},
//       {"at_ms": 30000, "event": "restart", "members": ["n3"], "down_ms": 5000},
//       {"at_ms": 30000, "event": "pause", "member": "n4", "for_ms": 1000},
//       {"at_ms": 31000, "event": "resume", "member": "n4"},
//       {"at_ms": 30000, "event": "leave", "member": "n5", "stop_after_ms": 5000},
//       {"at_ms": 30000, "event": "join", "member": "n9"},
//       {"at_ms": 30000, "event": "partition", "from": ["n0", "n1"], "to": "*", "one_way": false, "name": "p"},
//       {"at_ms": 60000, "event": "heal", "name": "p"},            // no name: every partition
//       {"at_ms": 30000, "event": "clog", "from": "n2", "name": "c"}, {"at_ms": …, "event": "release"},
//       {"at_ms": 30000, "event": "link", "from": "*", "loss": 0.1, "name": "l"}, {"event": "unlink"},
//       {"at_ms": 30000, "event": "loss", "rate": 0.1},            // = link over every link
//       {"at_ms": 30000, "event": "rolling_restart", "members": "*", "every_ms": 20000, "down_ms": 3000},
//       {"at_ms": 30000, "event": "put_target", "member": "n1", "spec": {<TargetSpec>}},
//       {"at_ms": 30000, "event": "delete_target", "member": "n1", "id": "t1"},
//       {"at_ms": 30000, "event": "add_counter", "member": "n1", "counter": "likes", "delta": 1},
//       {"at_ms": 30000, "event": "add_to_set", "member": "n1", "set": "likes:p1", "element": "u7"},
//       {"at_ms": 30000, "event": "remove_from_set", "member": "n1", "set": "likes:p1", "element": "u7"}
//       // add_counter, add_to_set, remove_from_set take an optional "key": an
//       // idempotent write, as the API does with an Idempotency-Key: applied
//       // only where no record of the key has arrived, then recorded.
//     ],
//     "targets": [{"spec": {<core TargetSpec: id, url, interval_ms, …>},
//                  "behaviour": [<phases, sim/target_model.h>],
//                  "count": 100, "stagger_ms": 250}],   // optional: 100 targets <id>-000…<id>-099,
//                                                       // phases after the first shifted by i × stagger_ms
//                                        // configured at every member
//     "targets_at": ["n9"],              // or only at these (they write them to the registry when they start)
//     "expectations": [
//       {"kind": "detection", "max_first_ms": 3000, "max_dead_ms": 15000},
//       {"kind": "false_positives", "max_suspected": 0, "max_dead": 0, "from_ms": 0, "to_ms": 120000},
//       {"kind": "converges", "within_ms": 30000},
//       {"kind": "member_state", "member": "n3", "state": "gone", "at_ms": 60000},
//       {"kind": "suspected", "member": "n4", "min": 1},
//       {"kind": "declared_dead", "member": "n4", "by": ["n1", "n2"], "max": 0},   // "by": observers (default all)
//       {"kind": "load", "max_messages_per_member_per_s": 12, "max_bytes_per_member_per_s": 8000},
//       {"kind": "dissemination", "max_p99_ms": 2000, "max_incomplete": 0},
//       {"kind": "state_converges", "within_ms": 30000},
//       {"kind": "counter", "counter": "likes", "value": 8},      // at every running member, at the end
//       {"kind": "set", "set": "likes:p1", "members": ["u1", "u7"]},  // exactly these, everywhere, at the end
//       {"kind": "registry", "targets": ["web", "db"]},           // exactly these targets, everywhere, at the end
//       {"kind": "marks", "hit": ["swim.suspect_refuted"]},       // coverage marks the run must hit (summed over members)
//       {"kind": "alerts", "max_duplicates": 0, "min_delivered": 2},  // the receiver's log (see "alerts" below)
//       // A member's own checks of configured targets (see "Own checks" below):
//       {"kind": "detects",   "target": "t3", "within_intervals": 3},
//       {"kind": "never",     "target": "t1", "status": "unhealthy"},
//       {"kind": "status_at", "target": "t2", "at_ms": 30000, "status": "healthy"},
//       {"kind": "checks",    "target": "t1", "min": 55, "max": 65},
//       {"kind": "changes",   "target": "web-*", "max": 1, "member": "n1"}
//     ],
//     "vantage": [{"target": "web*", "members": "n2", "answer": "refusing"}],   // see below
//     "alerts": {"routes": [{"name": "ops", "url": "http://hooks.example/ops", "for_ms": 2000}],
//                "tick_ms": 1000, "receiver": {"latency_ms": 20, "fail_rate": 0.1}},
//     // Alert routes every member sends to and one simulated receiver
//     // (AlertSettings below). The "alerts" expectation reads the receiver's
//     // log per (target, route): a duplicate is a notification of the same
//     // kind as the one before it (repeats excluded; a first "resolved" counts
//     // too), and at the end the last one must match the status every running
//     // member reports: firing for unhealthy, resolved (or none) for healthy.
//     "invariants": {"settle_ms": 8000, "herd_slack": 1, "max_freshness_ms": 6000, "sample_ms": 200,
//                    "off": ["no_herd"], "enabled": true}                      // see below
//   }
//
// Swarm faults (sim/scenario_knobs.h). A fault knob may hold a range
// instead of a value, drawn per seed with `heck sim --swarm` (without it: the
// midpoint, the first choice):
//     "network": {"loss": {"range": [0.0, 0.05]}, "latency": {"kind": "exponential",
//                 "mean_ms": {"range": [0.3, 3.0]}, "floor_ms": 0.1}},
//     {"at_ms": {"range": [25000, 35000]}, "event": "pause", "member": {"pick": 1, "of": "*"},
//      "for_ms": {"range": [500, 8000]}},
//     {"at_ms": 80000, "event": "partition", "from": {"pick": {"range": [1, 4]}, "of": "*"}},
//     {"at_ms": 60000, "event": "crash", "member": {"any_of": ["n3", "n7"]}}
// The knobs: network and link rates and latencies, clock offsets and drifts,
// and the timeline's times, lengths, rates and members; anywhere else a range
// is refused, naming the field. A file with ranges must parse with every
// range at its low end and at its high end. What each knob got is
// ClusterScenario::knobs (printed as "knobs" in the report and on a failing
// seed's sweep line).
//
// serialize_cluster_scenario writes a parsed scenario back as a file this
// parser reads as the same scenario (concrete: a swarm draw's values).
//
// put_target events may carry a "behaviour" (as in "targets") for an id that
// is not configured: the world answers checks of it by that model. A target
// put without one, and not configured, is a host that does not exist (every
// check fails: truth unhealthy).
//
// Vantage rules give a member a bad vantage point on targets: its checks of
// the matching targets get `answer` ("refusing", "timeout" or "down": 503)
// whatever the target's model says; every other member sees the model. The
// truth stays the model's (the target is fine, one checker's view is not).
//
// Choosing max_first_ms. The first suspicion of a crashed member waits for
// its first probe, then probe timeout and indirect probes (one period). On
// the slotted ring (core/membership/swim.h) every live member is probed once
// per step while the views agree, so that first probe comes within two
// periods: with LAN defaults (1 s) first detection is at most about 3 s
// after a crash (cluster_crash_10, seeds 1..300: p50 1.5 s, max 2.0 s; the
// shuffled rounds it replaced had a tail, p99 4.6 s and max 7.4 s). Views
// that disagree (members joining, a heal, another crash being detected)
// and clocks skewed by whole periods loosen this (cluster_clock_skew:
// max 4.0 s over 500 seeds), so the scenarios' bounds stay at 4-10 s.
//
// Invariants (sim/cluster_invariants.h). When a scenario registers targets
// (configured or put at runtime), four invariants are checked in every run
// and appear as implicit expectations after the file's own (kind
// `invariant`): coverage, no_herd, agreement, freshness. "invariants" tunes
// them: settle_ms (the window after a membership change in which coverage
// and no_herd are not judged; default from the SWIM config), herd_slack
// (no_herd allows r + herd_slack checkers per interval; default 1),
// max_freshness_ms (overrides the computed freshness bound), sample_ms
// (freshness sampling period, 10-1000, default 200), off (invariants not
// judged here, each named) and enabled (false: none).
//
// Own checks. detects, never, status_at, checks and changes judge, for every
// (member, target) pair they select, the status the member's OWN checks give
// the target (the scheduler's StatusChanged effects, not the replicated
// view): "target" is an id, a prefix ending in '*' or "*" over the configured
// targets; "member" (optional, a selector as below) defaults to every member.
// They suit members that check the target for the whole run: a one-member
// cluster ("Version 1"), or several independent ones ("seeds": []), each
// checking every target. A member's status starts unknown.
//   detects    every truth transition (sim/target_model.h) that holds at
//              least the bound is seen within N × interval + 2 × jitter +
//              timeout (on the member's clock, in true time) of its start
//   never      the member never reports `status` for the target
//   status_at  at at_ms the member's status is `status`
//   checks     the member starts between min and max checks of the target
//   changes    the member reports between min and max status changes
//
// Member selectors ("member", "members", "from", "to") are a name, a prefix
// ending in '*' ("n1*"), "*", or an array of those; each must match at least
// one member. A missing "to" means every member not in "from". Partitions,
// clogs and links cover from -> to, and to -> from unless "one_way" (a
// one-way partition from A to B: B does not hear A).
//
// Phases. The safety phase is [0, safety_ms): the timeline runs. At
// safety_ms the liveness phase starts: partitions heal, clogs release, link
// rules go, paused members resume; crashed members stay down. By
// within_ms after that, every running member must agree on the membership
// (see sim/cluster_analysis.h); for state_converges, by within_ms every
// running member must at some instant hold the same replicated state
// (sampled every 100 ms). The run ends at safety_ms + liveness_ms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/alerts/alert_route.h"
#include "core/health.h"
#include "core/membership/member_state.h"
#include "core/membership/swim.h"
#include "core/replicated/replicator.h"
#include "core/result.h"
#include "core/scheduler.h"
#include "core/target_spec.h"
#include "core/time.h"
#include "sim/network.h"
#include "sim/scenario_knobs.h"
#include "sim/target_model.h"

namespace heck::sim {

struct MemberScenario {
  std::string name;
  Duration clock_offset;
  std::int64_t drift_ppm = 0;
  bool starts = true;  // false: not running until a join event
};

enum class FaultKind : std::uint8_t {
  crash, restart, pause, resume, leave, join,
  partition, heal, clog, release, link, unlink,
  put_target, delete_target, add_counter, add_to_set, remove_from_set,
};
std::string_view to_string(FaultKind k);

struct TimelineEvent {
  Duration at;
  FaultKind kind = FaultKind::crash;
  std::size_t source = 0;                // index in the file's timeline, for messages
  std::vector<std::uint32_t> members;    // crash … join, put_target …: the members
  Duration down;                         // restart: time between the crash and the new start
  std::optional<Duration> pause_for;     // pause: resume after this long
  Duration stop_after;                   // leave: the process exits this long after leaving
  EndpointSet from, to;                  // partition, clog, link
  bool one_way = false;
  std::string name;                      // partition, clog, link: for heal/release/unlink by name
  LinkOverride link;                     // link
  std::optional<TargetSpec> spec;        // put_target
  std::string id;                        // delete_target: target id; add_counter: counter; *_set: set
  std::int64_t delta = 0;                // add_counter
  std::string element;                   // add_to_set, remove_from_set
  std::string key;                       // add_counter, *_set: idempotency key (empty: none)
};

enum class ClusterExpectationKind : std::uint8_t {
  detection, false_positives, converges, member_state, suspected, declared_dead, load, dissemination,
  state_converges, counter, registry, marks, invariant, set, alerts,
  // A member's own checks (see "Own checks" in the header comment):
  detects, never, status_at, checks, changes,
};
// True for the kinds that judge members' own checks.
bool judges_own_checks(ClusterExpectationKind k);
std::string_view to_string(ClusterExpectationKind k);

// The simulator's standing invariants (sim/cluster_invariants.h).
enum class Invariant : std::uint8_t { coverage, no_herd, agreement, freshness };
inline constexpr Invariant kInvariants[] = {Invariant::coverage, Invariant::no_herd, Invariant::agreement,
                                            Invariant::freshness};
std::string_view to_string(Invariant i);

struct InvariantSettings {
  bool enabled = true;
  std::optional<Duration> settle;         // settle_ms; default: derived (cluster_invariants.h)
  int herd_slack = 1;                     // no_herd: at most r + herd_slack checkers per interval
  std::optional<Duration> max_freshness;  // max_freshness_ms; default: computed per target
  Duration sample_every = Duration::milliseconds(200);
  std::vector<Invariant> off;             // not judged in this scenario

  bool judged(Invariant i) const;
};

// Alerts (core/alerts/alert_route.h): the routes every member sends to, and
// one simulated webhook receiver behind all of them. A notification reaches
// it `latency` after the Notify, is refused with probability fail_rate
// (drawn from its own stream of the run's seed), and the sender hears the
// answer another `latency` later, if its process still runs: a sender that
// crashes in between never records the delivery (the "at least once under a
// crash" window). The receiver logs every notification it accepted.
struct AlertSettings {
  AlertConfig config;  // routes, tick_ms
  Duration latency = Duration::milliseconds(20);
  double fail_rate = 0.0;
  bool enabled() const { return !config.routes.empty(); }
};

// A member's bad vantage point on some targets (see the header comment).
struct VantageRule {
  enum class Answer : std::uint8_t { refusing, timeout, down };
  std::vector<std::uint32_t> targets;  // target indices (ClusterScenario::target_spec)
  std::vector<std::uint32_t> members;
  Answer answer = Answer::refusing;
};

// What a member looks like from the others, for member_state: `gone` is
// dead, left or forgotten.
enum class SeenState : std::uint8_t { alive, suspect, dead, left, gone };
std::string_view to_string(SeenState s);

struct ClusterExpectation {
  ClusterExpectationKind kind = ClusterExpectationKind::detection;
  std::size_t source = 0;
  std::optional<Duration> max_first;        // detection
  std::optional<Duration> max_dead;         // detection
  std::optional<std::uint64_t> max_suspected, max_dead_count;  // false_positives
  Duration from, to = Duration::max();      // false_positives window (true time)
  Duration within;                          // converges, state_converges (after the liveness start)
  std::string member_text;                  // member_state, suspected, declared_dead: as written
  std::vector<std::uint32_t> members;
  std::vector<std::uint32_t> by;            // suspected, declared_dead: observers (empty: all)
  SeenState state = SeenState::alive;       // member_state
  std::optional<Duration> at;               // member_state (default: the end)
  std::uint64_t min = 0, max = UINT64_MAX;  // suspected, declared_dead; alerts: delivered (min), duplicates (max)
  std::optional<double> max_messages, max_bytes;  // load, per member per second
  std::optional<Duration> max_p99;          // dissemination
  std::optional<std::uint64_t> max_incomplete;    // dissemination
  std::string counter;                      // counter: its name
  std::int64_t value = 0;                   // counter: the expected total
  std::string set;                          // set: its name
  std::vector<std::string> elements;        // set: the expected members, sorted
  std::vector<std::string> target_ids;      // registry: sorted
  std::vector<std::string> marks;           // marks: coverage marks that must be hit (core/cluster/coverage_marks.h)
  Invariant invariant = Invariant::coverage;  // invariant (implicit: source >= the file's count)
  // detects … changes (members: those selected, every member by default;
  // min and max: checks, changes; at: status_at):
  std::string target_text;                  // as written
  std::vector<std::uint32_t> targets;       // configured target indices
  int within_intervals = 0;                 // detects
  HealthStatus status = HealthStatus::unknown;  // never, status_at

  std::string describe() const;
};

struct ClusterScenario {
  static constexpr std::size_t kMaxMembers = 2'000;
  static constexpr std::size_t kMaxEvents = 100'000;  // after expanding rolling restarts
  static constexpr std::size_t kMaxTargets = 10'000;
  static constexpr std::size_t kMaxExpectations = 1'000;
  static constexpr std::int64_t kMaxPhaseMs = 7LL * 86'400'000;   // a week each
  static constexpr std::int64_t kMaxClockOffsetMs = 86'400'000;   // a day
  static constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;
  static constexpr std::size_t kMaxSocketBufferPackets = 1 << 16;

  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  std::vector<MemberScenario> members;
  std::vector<std::uint32_t> seeds;  // indices into members; empty: every member alone
  Duration start_spread;
  SwimConfig swim;
  ReplicatorConfig replication;
  SchedulerConfig scheduler;
  LinkConfig network;
  struct LinkRule {
    EndpointSet from, to;
    bool one_way = false;
    LinkOverride link;
  };
  std::vector<LinkRule> links;  // network.links: per-link rules over the defaults, for the whole run
  std::size_t socket_buffer_packets = 256;
  Duration safety;
  Duration liveness;
  Duration metrics_from;
  std::vector<TimelineEvent> timeline;  // sorted by `at` (stable)
  std::vector<TargetModel> targets;
  std::vector<std::uint32_t> targets_at;  // members configured with `targets` (empty: every member)
  // Targets put at runtime whose ids are not configured, in order of their
  // first put_target event; `model` from the event's "behaviour" (none: a
  // host that does not exist).
  struct RuntimeTarget {
    TargetSpec spec;  // as first put
    std::optional<TargetModel> model;
  };
  std::vector<RuntimeTarget> runtime_targets;
  std::vector<VantageRule> vantage;
  AlertSettings alerts;
  InvariantSettings invariants;
  std::vector<ClusterExpectation> expectations;  // the file's, then the implicit invariants
  // The values the file's ranges, any_of and picks got (sim/scenario_knobs.h;
  // empty when it has none), and how they were chosen.
  std::vector<DrawnKnob> knobs;
  KnobMode knob_mode = KnobMode::defaults;

  // Every target the run can know: configured ones (indices 0 ..
  // targets.size()-1), then runtime ones.
  std::size_t target_count() const { return targets.size() + runtime_targets.size(); }
  const TargetSpec& target_spec(std::size_t i) const {
    return i < targets.size() ? targets[i].spec() : runtime_targets[i - targets.size()].spec;
  }
  // nullptr: no such host (every check fails).
  const TargetModel* target_model(std::size_t i) const {
    if (i < targets.size()) return &targets[i];
    const auto& m = runtime_targets[i - targets.size()].model;
    return m ? &*m : nullptr;
  }

  Duration duration() const { return safety + liveness; }
  // True when an expectation judges members' own checks: the world then
  // records status changes and check counts per (member, configured target).
  bool judges_own_checks() const;
  // "n7:7946"
  static std::string address_of(std::string_view member);
  std::optional<std::uint32_t> member_index(std::string_view name) const;
};

// Parses a scenario; its ranges, any_of and picks (if any) get values as
// `knobs` says (default: midpoints and first choices; see
// sim/scenario_knobs.h). A file with ranges must also parse with every range
// at its low end and at its high end, or it is refused.
Result<ClusterScenario> parse_cluster_scenario(const nlohmann::json& j, KnobSettings knobs = {});
// Reads a scenario file's JSON (at most kMaxFileBytes); errors name the path.
Result<nlohmann::json> read_scenario_json(const std::string& path);
// Reads and parses a scenario file.
Result<ClusterScenario> load_cluster_scenario(const std::string& path, KnobSettings knobs = {});

// The scenario as JSON that parse_cluster_scenario reads back as the same
// scenario (sim/cluster_scenario_json.cpp): concrete (no ranges), every
// setting written, members as a list, target groups and rolling restarts
// expanded, member sets as names, the implicit invariant expectations left
// to be derived again.
nlohmann::json serialize_cluster_scenario(const ClusterScenario& s);

// True when `pattern` ("id", "prefix*" or "*") matches `id`.
bool target_pattern_matches(std::string_view pattern, std::string_view id);

}  // namespace heck::sim
