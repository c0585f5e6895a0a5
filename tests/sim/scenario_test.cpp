#include "sim/scenario.h"

#include <filesystem>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "sim/cluster_run.h"

namespace heck::sim {
namespace {

using nlohmann::json;

// A valid scenario to mutate.
json base() {
  return json::parse(R"({
    "name": "t", "seed": 3, "duration_ms": 60000,
    "nodes": [{"name": "n1"}, {"name": "n2", "clock": {"offset_ms": -30000, "drift_ppm": 500}}],
    "targets": [
      {"spec": {"id": "a", "url": "http://a.example/"}, "behaviour": [{"at_ms": 0, "mode": "up"}]},
      {"spec": {"id": "b", "url": "http://b.example/"},
       "behaviour": [{"at_ms": 0, "mode": "up"}, {"at_ms": 30000, "mode": "down"}]}
    ],
    "expectations": [{"kind": "detects", "target": "*", "within_intervals": 5}]
  })");
}

TEST(Scenario, ParsesAValidScenario) {
  auto s = parse_scenario(base());
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->seed, 3u);
  EXPECT_EQ(s->duration, Duration::seconds(60));
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[1].clock_offset, Duration::seconds(-30));
  EXPECT_EQ(s->nodes[1].drift_ppm, 500);
  ASSERT_EQ(s->targets.size(), 2u);
  EXPECT_EQ(s->targets[1].phases().size(), 2u);
  ASSERT_EQ(s->expectations.size(), 1u);
  EXPECT_EQ(s->expectations[0].targets.size(), 2u);
  EXPECT_EQ(s->expectations[0].nodes.size(), 2u);
  EXPECT_EQ(s->expectations[0].describe(), "detects * within 5 intervals");
}

TEST(Scenario, GeneratesTargetGroups) {
  json j = base();
  j["targets"].push_back(json::parse(R"({
      "spec": {"id": "web", "url": "http://web.example/"},
      "behaviour": [{"at_ms": 0, "mode": "up"}, {"at_ms": 10000, "mode": "down"}],
      "count": 12, "stagger_ms": 1000})"));
  j["expectations"].push_back(json::parse(R"({"kind": "checks", "target": "web-*", "node": "n2", "min": 1})"));
  auto s = parse_scenario(j);
  ASSERT_TRUE(s) << s.error();
  ASSERT_EQ(s->targets.size(), 14u);
  EXPECT_EQ(s->targets[2].spec().id, "web-00");
  EXPECT_EQ(s->targets[13].spec().id, "web-11");
  EXPECT_EQ(s->targets[13].phases()[1].at, Duration::milliseconds(10000 + 11 * 1000));
  const auto& e = s->expectations[1];
  EXPECT_EQ(e.targets.size(), 12u);
  ASSERT_EQ(e.nodes.size(), 1u);
  EXPECT_EQ(e.nodes[0], 1u);
}

TEST(Scenario, TargetPatterns) {
  EXPECT_TRUE(target_pattern_matches("*", "anything"));
  EXPECT_TRUE(target_pattern_matches("web-*", "web-01"));
  EXPECT_FALSE(target_pattern_matches("web-*", "db-01"));
  EXPECT_TRUE(target_pattern_matches("web", "web"));
  EXPECT_FALSE(target_pattern_matches("web", "web-01"));
}

TEST(Scenario, RejectsBadInputNamingTheField) {
  struct Case {
    const char* pointer;  // JSON pointer to set ("" = replace the document)
    const char* value;    // JSON text, or "<delete>"
    const char* want;
  };
  const Case cases[] = {
      {"", "[]", "scenario: must be an object, got an array"},
      {"/colour", R"("red")", "colour: unknown key (known: name, description"},
      {"/name", "<delete>", "name: missing"},
      {"/name", "5", "name: must be a string, got a number"},
      {"/seed", "-1", "seed: must be a non-negative integer, got -1"},
      {"/seed", R"("x")", "seed: must be a non-negative integer, got a string"},
      {"/duration_ms", "0", "duration_ms: must be positive, got 0"},
      {"/duration_ms", "1.5", "duration_ms: must be an integer, got a number"},
      {"/jitter_fraction", "0.9", "jitter_fraction: must be in [0, 0.5], got 0.9"},
      {"/nodes", "[]", "nodes: must have at least one node"},
      {"/nodes", "{}", "nodes: must be an array, got an object"},
      {"/nodes/1/name", R"("n1")", "nodes[1].name: duplicate name 'n1'"},
      {"/nodes/1/name", R"("bad name")", "nodes[1].name: 'bad name' must be 1-128 characters"},
      {"/nodes/1/clock/drift_ppm", "200000", "nodes[1].clock.drift_ppm: must be at most 100000, got 200000"},
      {"/nodes/1/clock/offset_ms", "90000000", "nodes[1].clock.offset_ms: must be at most 86400000"},
      {"/nodes/1/clock/skew", "1", "nodes[1].clock.skew: unknown key"},
      {"/targets", "[]", "targets: must have at least one target"},
      {"/targets/0/spec", "<delete>", "targets[0].spec: missing"},
      {"/targets/0/behaviour", "<delete>", "targets[0].behaviour: missing"},
      {"/targets/0/spec/interval_ms", "0", "targets[0].spec.interval_ms: must be positive"},
      {"/targets/0/spec/colour", "1", "targets[0].spec.colour: unknown key"},
      {"/targets/1/spec/id", R"("a")", "targets[1].spec.id: duplicate id 'a' (also in targets[0])"},
      {"/targets/1/behaviour/1/status", "700", "targets[1].behaviour[1].status: must be at most 599, got 700"},
      {"/targets/0/count", "0", "targets[0].count: must be positive, got 0"},
      {"/targets/0/stagger_ms", "10", "targets[0].stagger_ms: only applies with count"},
      {"/targets/0/extra", "1", "targets[0].extra: unknown key"},
      {"/targets/0/count", "600000", "targets[0].count: must be at most 100000"},
      {"/expectations", "{}", "expectations: must be an array, got an object"},
      {"/expectations/0/kind", R"("eventually")", "expectations[0].kind: 'eventually' is not one of"},
      {"/expectations/0/kind", "<delete>", "expectations[0].kind: missing"},
      {"/expectations/0/target", R"("zz")", "expectations[0].target: 'zz' matches no target"},
      {"/expectations/0/target", "<delete>", "expectations[0].target: missing"},
      {"/expectations/0/node", R"("n9")", "expectations[0].node: 'n9' is not a node of this scenario"},
      {"/expectations/0/within_intervals", "0", "expectations[0].within_intervals: must be positive, got 0"},
      {"/expectations/0/status", R"("healthy")", "expectations[0].status: unknown key"},
      {"/expectations/0", R"({"kind": "never", "target": "a", "status": "unknown"})",
       "expectations[0].status: 'unknown' is not healthy or unhealthy"},
      {"/expectations/0", R"({"kind": "status_at", "target": "a", "status": "healthy", "at_ms": 70000})",
       "expectations[0].at_ms: must be at most 60000, got 70000"},
      {"/expectations/0", R"({"kind": "checks", "target": "a"})", "expectations[0]: needs min, max or both"},
      {"/expectations/0", R"({"kind": "checks", "target": "a", "min": 5, "max": 4})",
       "expectations[0].max: 4 is below min (5)"},
      {"/expectations/0", R"({"kind": "changes", "target": "a", "max": -1})",
       "expectations[0].max: must be at least 0, got -1"},
  };
  for (const auto& c : cases) {
    json j = base();
    const std::string ptr = c.pointer;
    if (ptr.empty()) {
      j = json::parse(c.value);
    } else if (std::string(c.value) == "<delete>") {
      const json::json_pointer p(ptr);
      j[p.parent_pointer()].erase(p.back());
    } else {
      j[json::json_pointer(ptr)] = json::parse(c.value);
    }
    auto s = parse_scenario(j);
    ASSERT_FALSE(s) << ptr << " = " << c.value;
    EXPECT_NE(s.error().find(c.want), std::string::npos) << ptr << " = " << c.value << " -> " << s.error();
  }
}

TEST(Scenario, LimitsNodeTargetPairs) {
  json j = base();
  for (int i = 3; i <= 11; ++i) j["nodes"].push_back({{"name", "n" + std::to_string(i)}});
  j["targets"][0]["count"] = 99'999;  // 11 nodes x 100,000 targets
  auto s = parse_scenario(j);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("targets: 11 nodes x 100000 targets is more than 1000000 node/target pairs"),
            std::string::npos)
      << s.error();
  j["targets"][0]["count"] = 90'000;  // 11 x 90,001: within the limit
  EXPECT_TRUE(parse_scenario(j));
}

TEST(Scenario, TextAndFileErrors) {
  auto bad_json = parse_scenario_text("{\"name\": ");
  ASSERT_FALSE(bad_json);
  EXPECT_NE(bad_json.error().find("not valid JSON"), std::string::npos);

  auto missing = load_scenario(HECK_SIM_TEST_DATA "/no_such_file.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos);

  auto bad_field = load_scenario(HECK_SIM_TEST_DATA "/bad_field.json");
  ASSERT_FALSE(bad_field);
  EXPECT_NE(bad_field.error().find("bad_field.json: targets[1].behaviour[1].status"), std::string::npos)
      << bad_field.error();
}

TEST(Scenario, EveryShippedScenarioParses) {
  int files = 0, cluster = 0;
  for (const auto& entry : std::filesystem::directory_iterator(HECK_SCENARIO_DIR)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto any = load_any_scenario(entry.path().string());
    ASSERT_TRUE(any) << any.error();
    if (const auto* c = std::get_if<ClusterScenario>(&*any)) {
      ++cluster;
      EXPECT_FALSE(c->expectations.empty()) << entry.path();
      continue;
    }
    auto s = load_scenario(entry.path().string());  // the version-1 loader agrees
    EXPECT_TRUE(s) << s.error();
    if (s) {
      EXPECT_FALSE(s->expectations.empty()) << entry.path();
    }
  }
  EXPECT_GE(files, 5);
  EXPECT_GE(cluster, 9);
}

}  // namespace
}  // namespace heck::sim
