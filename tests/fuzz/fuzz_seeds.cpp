// Writes valid example messages as seed corpora: fuzz_seeds DIR writes
// DIR/<target>/seed-N for every fuzz target, so the fuzzers start from real
// message shapes instead of from nothing.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cluster/latency_history.h"
#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/wire/envelope.h"
#include "tests/core/wire/json_reference.h"

namespace {

using heck::Bytes;
using nlohmann::json;
namespace wire = heck::wire;

void write(const std::filesystem::path& dir, const std::vector<Bytes>& seeds) {
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const auto& s : seeds) {
    std::ofstream f(dir / ("seed-" + std::to_string(i++)), std::ios::binary);
    f.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  wire::Header h{"n1", "127.0.0.1:7946"};
  std::vector<Bytes> envelopes = {
      wire::encode(h, {}),
      wire::encode(h, {wire::encode_part(wire::PartType::ping, json::to_msgpack(json::array({1, "n2"})))}),
      wire::encode(h, {wire::encode_part(wire::PartType::alive, json::to_msgpack(json::array({"n3", "127.0.0.1:7947", 4}))),
                       wire::encode_part(wire::PartType::delta, json::to_msgpack(json::object({{"r", json::array()}})))}),
      // Format 1 (still read): [1, sender, address, [[type, body], ...]].
      json::to_msgpack(json::array({1, "n1", "127.0.0.1:7946", json::array({json::array({1, json::array({1, "n2"})})})})),
  };
  // Membership messages of every type, and replication bodies.
  std::vector<heck::SwimMessage> messages = {
      heck::PingMsg{7, "n2"},
      heck::PingReqMsg{8, "n3", "127.0.0.1:7948", true},
      heck::AckMsg{7},
      heck::NackMsg{8},
      heck::AliveMsg{"n4", "127.0.0.1:7949", 3},
      heck::SuspectMsg{"n4", "127.0.0.1:7949", 3, "n1"},
      heck::DeadMsg{"n4", "127.0.0.1:7949", 3, "n1", false},
  };
  std::vector<Bytes> bodies;
  std::vector<wire::EncodedPart> parts;
  for (const auto& m : messages) {
    parts.push_back(heck::encode_message(m));
    const auto body = wire::body_of(parts.back());
    bodies.emplace_back(body.begin(), body.end());
  }
  heck::HealthState state(12345);
  auto spec = heck::TargetSpec::from_json(json{{"id", "web"}, {"url", "http://127.0.0.1:8080/"}});
  heck::HealthDelta d = state.put_target(heck::HlcTimestamp{}, *spec);
  d.join(state.add_to_counter("likes", 3));
  parts.push_back(wire::encode_part(wire::PartType::delta, heck::encode_delta(d)));
  bodies.push_back(heck::encode_delta(d));
  heck::Digest digest;
  digest.replica = 12345;
  digest.registry = d.registry.context;
  digest.counters = d.counters.context;
  digest.hashes.assign(heck::kDigestBuckets, 0x0123456789abcdefULL);
  bodies.push_back(heck::encode_digest(digest));
  heck::Repair repair;
  repair.delta = d;
  bodies.push_back(heck::encode_repair(repair));
  // The seven-store layout: sets, the request record, the alert log and a
  // route written through the API in use.
  heck::HealthDelta six = state.add_to_set("likes-p1", "u7");
  heck::AppliedRequest answer;
  answer.status = 200;
  answer.body = "{}";
  six.join(state.record_request("key-1", answer));
  six.join(state.record_alert("web", "ops", heck::AlertRecord{heck::AlertKind::firing, 1000, heck::HlcTimestamp{}, 0}));
  auto route = heck::AlertRoute::from_json(json{{"name", "ops"}, {"url", "http://127.0.0.1:9/hook"}, {"for_ms", 1000}});
  six.join(state.put_route(heck::HlcTimestamp{}, *route));
  parts.push_back(wire::encode_part(wire::PartType::delta, heck::encode_delta(six)));
  bodies.push_back(heck::encode_delta(six));
  digest.sets = six.sets.context;
  digest.requests = six.requests.context;
  digest.alerts = six.alerts.context;
  digest.routes = six.routes.context;
  bodies.push_back(heck::encode_digest(digest));
  repair.delta = six;
  bodies.push_back(heck::encode_repair(repair));
  // A latency handoff (core/cluster/latency_history.h).
  heck::LatencyHandoff handoff{"web", {heck::LatencySample{heck::Instant::from_ns(1'700'000'000'000'000'000), 5'000, true},
                                       heck::LatencySample{heck::Instant::from_ns(1'700'000'001'000'000'000), 9'000, false}}};
  parts.push_back(heck::encode_latency_handoff(handoff));
  const auto handoff_body = wire::body_of(parts.back());
  bodies.emplace_back(handoff_body.begin(), handoff_body.end());
  write(root / "message_fuzz", bodies);
  for (const auto& p : parts) envelopes.push_back(wire::encode(h, {p}));
  envelopes.push_back(wire::encode(h, parts));
  write(root / "envelope_fuzz", envelopes);
  std::vector<Bytes> node_inputs;
  for (const auto& e : envelopes) {
    for (std::uint8_t channel : {0, 1}) {
      Bytes b{channel};
      b.insert(b.end(), e.begin(), e.end());
      node_inputs.push_back(std::move(b));
    }
  }
  write(root / "node_fuzz", node_inputs);
  return 0;
}
