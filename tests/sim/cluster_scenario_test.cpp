#include "sim/cluster_scenario.h"

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace heck::sim {
namespace {

using nlohmann::json;

json base() {
  return json::parse(R"({
    "kind": "cluster", "name": "t", "seed": 3,
    "members": {"count": 5, "prefix": "m", "clock_spread": {"offset_ms": 30000, "drift_ppm": 500}},
    "seeds": ["m0", "m1"],
    "swim": {"probe_interval_ms": 2000, "lifeguard": false},
    "network": {"latency": {"kind": "constant", "ms": 1}, "loss": 0.01,
                "links": [{"from": "m0", "to": "m1", "one_way": true, "loss": 0.5}]},
    "safety_ms": 60000, "liveness_ms": 20000, "metrics_from_ms": 5000,
    "timeline": [
      {"at_ms": 30000, "event": "crash", "member": "m4"},
      {"at_ms": 10000, "event": "partition", "from": ["m0", "m1"], "name": "p"},
      {"at_ms": 20000, "event": "heal", "name": "p"}
    ],
    "expectations": [{"kind": "detection", "max_first_ms": 5000}, {"kind": "converges", "within_ms": 10000}]
  })");
}

std::string error_of(const json& j) {
  auto s = parse_cluster_scenario(j);
  EXPECT_FALSE(s) << "parsed, but should not have: " << j.dump();
  return s ? std::string() : s.error();
}

TEST(ClusterScenario, ParsesAValidScenario) {
  auto s = parse_cluster_scenario(base());
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->seed, 3u);
  ASSERT_EQ(s->members.size(), 5u);
  EXPECT_EQ(s->members[0].name, "m0");
  EXPECT_EQ(s->members[4].name, "m4");
  // Offsets spread evenly over +-30 s; drifts over +-500 ppm.
  EXPECT_EQ(s->members[0].clock_offset, Duration::seconds(-30));
  EXPECT_EQ(s->members[2].clock_offset, Duration::zero());
  EXPECT_EQ(s->members[4].clock_offset, Duration::seconds(30));
  std::int64_t lo = 0, hi = 0;
  for (const auto& m : s->members) {
    lo = std::min(lo, m.drift_ppm);
    hi = std::max(hi, m.drift_ppm);
  }
  EXPECT_EQ(lo, -500);
  EXPECT_EQ(hi, 500);
  EXPECT_EQ(s->seeds, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(s->swim.probe_interval, Duration::seconds(2));
  EXPECT_EQ(s->swim.probe_timeout, Duration::milliseconds(500));  // memberlist default kept
  EXPECT_FALSE(s->swim.lifeguard);
  EXPECT_EQ(s->network.loss, 0.01);
  ASSERT_EQ(s->links.size(), 1u);
  EXPECT_TRUE(s->links[0].one_way);
  EXPECT_EQ(s->links[0].link.loss, 0.5);
  EXPECT_EQ(s->duration(), Duration::seconds(80));
  // The timeline is sorted by time.
  ASSERT_EQ(s->timeline.size(), 3u);
  EXPECT_EQ(s->timeline[0].kind, FaultKind::partition);
  EXPECT_EQ(s->timeline[0].source, 1u);
  EXPECT_EQ(s->timeline[2].kind, FaultKind::crash);
  EXPECT_EQ(s->timeline[2].members, (std::vector<std::uint32_t>{4}));
  // A partition without "to" is from the set to everyone else.
  const auto& p = s->timeline[0];
  EXPECT_TRUE(p.from.contains(0) && p.from.contains(1) && !p.from.contains(2));
  EXPECT_TRUE(!p.to.contains(0) && !p.to.contains(1) && p.to.contains(2) && p.to.contains(4));
  ASSERT_EQ(s->expectations.size(), 2u);
  EXPECT_EQ(s->expectations[0].describe(), "detection: first <= 5000 ms");
  EXPECT_EQ(ClusterScenario::address_of("m3"), "m3:7946");
}

TEST(ClusterScenario, MemberListsAndSelectors) {
  json j = base();
  j["members"] = json::parse(R"([{"name": "a"}, {"name": "b", "clock": {"offset_ms": 5, "drift_ppm": -3}},
                                   {"name": "c", "start": false}, {"name": "web-1"}, {"name": "web-2"}])");
  j["seeds"] = "a";
  j["network"] = json::object();
  j["timeline"] = json::parse(R"([{"at_ms": 100, "event": "pause", "members": ["web-*", "b"], "for_ms": 50},
                                    {"at_ms": 200, "event": "join", "member": "c"}])");
  j["expectations"] = json::parse(R"([{"kind": "suspected", "member": "web-*", "by": "a", "max": 3}])");
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->members[1].clock_offset, Duration::milliseconds(5));
  EXPECT_EQ(s->members[1].drift_ppm, -3);
  EXPECT_FALSE(s->members[2].starts);
  EXPECT_EQ(s->timeline[0].members, (std::vector<std::uint32_t>{1, 3, 4}));
  EXPECT_EQ(s->timeline[0].pause_for, Duration::milliseconds(50));
  EXPECT_EQ(s->expectations[0].members, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_EQ(s->expectations[0].by, (std::vector<std::uint32_t>{0}));
}

TEST(ClusterScenario, RollingRestartExpands) {
  json j = base();
  j["timeline"] = json::parse(R"([{"at_ms": 10000, "event": "rolling_restart", "members": "*", "every_ms": 5000,
                                    "down_ms": 1000}])");
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s) << s.error();
  ASSERT_EQ(s->timeline.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(s->timeline[i].kind, FaultKind::restart);
    EXPECT_EQ(s->timeline[i].at, Duration::milliseconds(10000 + 5000 * i));
    EXPECT_EQ(s->timeline[i].down, Duration::seconds(1));
    EXPECT_EQ(s->timeline[i].members, (std::vector<std::uint32_t>{i}));
  }
  j["timeline"][0]["every_ms"] = 15000;  // the last restart would end after the safety phase
  EXPECT_NE(error_of(j).find("timeline[0]: restart 5 of 5 ends at 71000 ms, after safety_ms (60000)"), std::string::npos)
      << error_of(j);
}

TEST(ClusterScenario, ErrorsNameTheField) {
  struct Case {
    const char* pointer;  // JSON pointer to replace
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"/members/count", "0", "members.count: "},
      {"/members/colour", "1", "members.colour: unknown key"},
      {"/seeds", "[\"m0\", \"x\"]", "seeds[1]: 'x' matches no member"},
      {"/swim/probe_timeout_ms", "5000", "swim.probe_timeout_ms: 5000 is above probe_interval_ms (2000)"},
      {"/swim/lifeguard", "1", "swim.lifeguard: must be true or false, got a number"},
      {"/network/loss", "1.5", "network.loss: must be in [0, 1], got 1.5"},
      {"/network/links/0/from", "\"zz\"", "network.links[0].from: 'zz' matches no member"},
      {"/timeline/0/at_ms", "60000", "timeline[0].at_ms: "},
      {"/timeline/0/event", "\"explode\"", "timeline[0].event: 'explode' is not one of"},
      {"/timeline/1/to", "[]", "timeline[1].to: must name at least one member"},
      {"/timeline/2/colour", "1", "timeline[2].colour: unknown key"},
      {"/expectations/0/kind", "\"nope\"", "expectations[0].kind: 'nope' is not one of"},
      {"/expectations/1/within_ms", "30000", "expectations[1].within_ms: "},
      {"/safety_ms", "0", "safety_ms: "},
      {"/kind", "\"other\"", "kind: must be \"cluster\""},
  };
  for (const auto& c : cases) {
    json j = base();
    j[json::json_pointer(c.pointer)] = json::parse(c.value);
    const std::string e = error_of(j);
    EXPECT_NE(e.find(c.message), std::string::npos) << c.pointer << " gave: " << e;
  }
}

// The likes service's writes: sets and idempotency keys, checked as the API
// checks them, and kept when the scenario is written back (--shrink output).
TEST(ClusterScenario, SetWritesAndKeys) {
  json j = base();
  j["timeline"].push_back(json::parse(
      R"({"at_ms": 12000, "event": "add_to_set", "member": "m1", "set": "likes:p1", "element": "u1", "key": "k-1"})"));
  j["timeline"].push_back(
      json::parse(R"({"at_ms": 13000, "event": "remove_from_set", "member": "m2", "set": "likes:p1", "element": "u1"})"));
  j["timeline"].push_back(json::parse(
      R"({"at_ms": 14000, "event": "add_counter", "member": "m2", "counter": "c", "delta": 2, "key": "k-2"})"));
  j["expectations"].push_back(json::parse(R"({"kind": "set", "set": "likes:p1", "members": ["u2", "u1", "u2"]})"));
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s) << s.error();
  const ClusterExpectation& e = s->expectations.back();
  EXPECT_EQ(e.kind, ClusterExpectationKind::set);
  EXPECT_EQ(e.elements, (std::vector<std::string>{"u1", "u2"}));  // sorted, unique
  int keyed = 0;
  for (const TimelineEvent& t : s->timeline) {
    if (t.kind == FaultKind::add_to_set) {
      EXPECT_EQ(t.id, "likes:p1");
      EXPECT_EQ(t.element, "u1");
      EXPECT_EQ(t.key, "k-1");
    }
    if (t.kind == FaultKind::remove_from_set) EXPECT_EQ(t.key, "");
    keyed += !t.key.empty();
  }
  EXPECT_EQ(keyed, 2);
  const json back = serialize_cluster_scenario(*s);
  auto again = parse_cluster_scenario(back);
  ASSERT_TRUE(again) << again.error() << "\n" << back.dump();
  EXPECT_EQ(serialize_cluster_scenario(*again), back);

  const std::pair<const char*, const char*> bad[] = {
      {R"({"at_ms": 12000, "event": "add_to_set", "member": "m1", "set": "", "element": "u1"})", "timeline[3].set: "},
      {R"({"at_ms": 12000, "event": "add_to_set", "member": "m1", "set": "s", "element": "u1", "key": ""})",
       "timeline[3].key: '' is not a valid idempotency key"},
      {R"({"at_ms": 12000, "event": "remove_from_set", "member": "m1", "set": "s", "colour": 1})", "timeline[3].colour"},
  };
  for (const auto& [event, message] : bad) {
    json b = base();
    b["timeline"].push_back(json::parse(event));
    const std::string err = error_of(b);
    EXPECT_NE(err.find(message), std::string::npos) << event << " gave: " << err;
  }
}

// Issue 10: limits are max_<what>[_<unit>]; a scenario written with an old
// name is refused with the new one (json_fields::kRenamedKeys), never read
// as "no limit".
TEST(ClusterScenario, OldLimitNamesAreRefusedWithTheirNewNames) {
  struct Case {
    const char* pointer;  // JSON pointer to replace
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"/expectations/0", R"({"kind": "detection", "first_ms_max": 5000})",
       "expectations[0].first_ms_max: renamed to max_first_ms"},
      {"/expectations/0", R"({"kind": "detection", "dead_ms_max": 30000})",
       "expectations[0].dead_ms_max: renamed to max_dead_ms"},
      {"/expectations/0", R"({"kind": "false_positives", "suspected_max": 0})",
       "expectations[0].suspected_max: renamed to max_suspected"},
      {"/expectations/0", R"({"kind": "false_positives", "dead_max": 0})",
       "expectations[0].dead_max: renamed to max_dead"},
      {"/expectations/0", R"({"kind": "load", "messages_per_member_per_s_max": 12})",
       "expectations[0].messages_per_member_per_s_max: renamed to max_messages_per_member_per_s"},
      {"/expectations/0", R"({"kind": "load", "bytes_per_member_per_s_max": 8000})",
       "expectations[0].bytes_per_member_per_s_max: renamed to max_bytes_per_member_per_s"},
      {"/expectations/0", R"({"kind": "dissemination", "p99_ms_max": 2000})",
       "expectations[0].p99_ms_max: renamed to max_p99_ms"},
      {"/expectations/0", R"({"kind": "dissemination", "incomplete_max": 0})",
       "expectations[0].incomplete_max: renamed to max_incomplete"},
      {"/invariants", R"({"freshness_ms_max": 6000})", "invariants.freshness_ms_max: renamed to max_freshness_ms"},
      {"/swim/suspicion_max_timeout_mult", "6",
       "swim.suspicion_max_timeout_mult: renamed to max_suspicion_timeout_mult"},
      {"/swim/packet_bytes_max", "1400", "swim.packet_bytes_max: renamed to max_packet_bytes"},
      {"/swim/awareness_max_multiplier", "8", "swim.awareness_max_multiplier: renamed to max_awareness_multiplier"},
      {"/swim/join_backoff_min_ms", "1000", "swim.join_backoff_min_ms: renamed to min_join_backoff_ms"},
      {"/swim/join_backoff_max_ms", "30000", "swim.join_backoff_max_ms: renamed to max_join_backoff_ms"},
      {"/replication", R"({"hlc_max_forward_ms": 5000})",
       "replication.hlc_max_forward_ms: renamed to max_hlc_forward_ms"},
  };
  for (const auto& c : cases) {
    json j = base();
    j[json::json_pointer(c.pointer)] = json::parse(c.value);
    EXPECT_EQ(error_of(j), c.message) << c.pointer << " = " << c.value;
  }
  // The new names are read.
  json j = base();
  j["expectations"][0] = json::parse(R"({"kind": "detection", "max_first_ms": 5000, "max_dead_ms": 30000})");
  j["swim"]["max_packet_bytes"] = 1200;
  j["swim"]["min_join_backoff_ms"] = 500;
  j["replication"] = json::parse(R"({"max_hlc_forward_ms": 2000})");
  j["invariants"] = json::parse(R"({"max_freshness_ms": 6000})");
  auto s = parse_cluster_scenario(j);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->expectations[0].max_first, Duration::seconds(5));
  EXPECT_EQ(s->expectations[0].max_dead, Duration::seconds(30));
  EXPECT_EQ(s->swim.max_packet_bytes, 1200u);
  EXPECT_EQ(s->swim.min_join_backoff, Duration::milliseconds(500));
  EXPECT_EQ(s->replication.max_hlc_forward, Duration::seconds(2));
  EXPECT_EQ(s->invariants.max_freshness, Duration::seconds(6));
}

TEST(ClusterScenario, RefusesDuplicatesAndMissingParts) {
  json j = base();
  j["members"] = json::parse(R"([{"name": "a"}, {"name": "a"}])");
  j["seeds"] = "a";
  j["network"] = json::object();
  j.erase("timeline");
  j.erase("expectations");
  EXPECT_NE(error_of(j).find("members[1].name: duplicate name 'a'"), std::string::npos);
  j = base();
  j["timeline"][0].erase("member");
  EXPECT_NE(error_of(j).find("timeline[0]: needs exactly one of member, members"), std::string::npos);
  j = base();
  j.erase("members");
  EXPECT_NE(error_of(j).find("members: missing"), std::string::npos);
}

}  // namespace
}  // namespace heck::sim
