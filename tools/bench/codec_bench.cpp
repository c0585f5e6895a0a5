// Wire codec cost (Google Benchmark): encode and decode of the packets the
// cluster sends most, through the real envelope path.
//
//   BM_Delta*      a typical eager-push delta: one observation of one target
//   BM_Swim*       a 1400-byte datagram packed with alive/suspect messages
//   BM_Digest*     an anti-entropy digest (3 contexts, 256 bucket hashes)
//   BM_Repair*     a state repair of 10,000 targets (spec + observation each)
//
// Encode = body -> part -> envelope bytes; decode = envelope bytes ->
// envelope -> body struct(s). allocs/op counts global operator new calls.
//
// Run: build/tools/bench/codec_bench [--benchmark_filter=...]
// The replaced operator new below uses malloc; GCC cannot see the pairing.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/wire/envelope.h"

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace heck;

const wire::Header kHeader{"agent-042", "10.0.3.42:7946"};

TargetSpec spec_of(const std::string& id, int port) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://10.1." + std::to_string(port % 250) + ".7:" + std::to_string(8000 + port % 1000) +
                      "/healthz");
  return s;
}

Observation obs_of(ReplicaId who, std::uint64_t seq, bool healthy) {
  Observation o;
  o.status = healthy ? HealthStatus::healthy : HealthStatus::unhealthy;
  o.reason = healthy ? CheckReason::ok : CheckReason::timeout;
  o.status_code = healthy ? 200 : 0;
  o.latency = Duration::microseconds(1234 + static_cast<std::int64_t>(seq % 1000));
  o.observed_at = HlcTimestamp::make(1'700'000'000'000 + seq, static_cast<std::uint16_t>(seq % 5));
  o.observer = who;
  o.check_seq = seq;
  o.observer_name = detached_name("agent-042");
  return o;
}

// One agent's state after `targets` puts and one observation each.
HealthState state_with(std::size_t targets) {
  HealthState s(0x1234567890abcdefULL);
  for (std::size_t i = 0; i < targets; ++i) {
    const std::string id = "web-" + std::to_string(i);
    s.put_target(HlcTimestamp::make(1'700'000'000'000 + i, 0), spec_of(id, static_cast<int>(i)));
    s.observe(id, obs_of(s.self(), i + 1, i % 3 != 0));
  }
  return s;
}

struct AllocCounter {
  std::uint64_t start = g_allocs.load(std::memory_order_relaxed);
  void report(benchmark::State& st) const {
    st.counters["allocs/op"] = benchmark::Counter(
        static_cast<double>(g_allocs.load(std::memory_order_relaxed) - start), benchmark::Counter::kAvgIterations);
  }
};

// Times `encode()` (returning the packet bytes); reports their size.
template <typename Encode>
void run_encode(benchmark::State& st, Encode encode) {
  AllocCounter a;
  std::size_t bytes = 0;
  for (auto _ : st) {
    Bytes b = encode();
    bytes = b.size();
    benchmark::DoNotOptimize(b.data());
  }
  a.report(st);
  st.counters["bytes"] = static_cast<double>(bytes);
}

// Times envelope decoding of `packet` plus `decode(part)` for every part.
template <typename Decode>
void run_decode(benchmark::State& st, const Bytes& packet, Decode decode) {
  AllocCounter a;
  for (auto _ : st) {
    auto env = wire::decode(packet, wire::DecodeLimits{.max_bytes = packet.size()});
    if (!env.ok()) {
      st.SkipWithError("envelope decode failed");
      break;
    }
    for (const auto& p : env->parts) {
      auto m = decode(p.body, p);
      if (!m.ok()) {
        st.SkipWithError("decode failed");
        return;
      }
      benchmark::DoNotOptimize(m);
    }
  }
  a.report(st);
}

// ------------------------------------------------------------------ delta

HealthDelta one_observation_delta() {
  HealthState s = state_with(1);
  return s.observe("web-0", obs_of(s.self(), 99, false));
}

void BM_DeltaEncode(benchmark::State& st) {
  const HealthDelta d = one_observation_delta();
  run_encode(st, [&] { return wire::encode(kHeader, {wire::encode_part(wire::PartType::delta, encode_delta(d))}); });
}
BENCHMARK(BM_DeltaEncode);

void BM_DeltaDecode(benchmark::State& st) {
  const Bytes b = wire::encode(kHeader, {wire::encode_part(wire::PartType::delta, encode_delta(one_observation_delta()))});
  run_decode(st, b, [](const auto& body, const auto&) { return decode_delta(body); });
}
BENCHMARK(BM_DeltaDecode);

// ------------------------------------------------------------- SWIM datagram

std::vector<SwimMessage> swim_messages() {
  std::vector<SwimMessage> ms;
  for (std::uint64_t i = 0; i < 200; ++i) {
    const std::string name = "agent-" + std::to_string(100 + i);
    const std::string addr = "10.0." + std::to_string(i % 250) + ".9:7946";
    if (i % 3 == 0) {
      ms.push_back(SuspectMsg{name, addr, 1000 + i, "agent-042"});
    } else {
      ms.push_back(AliveMsg{name, addr, 1000 + i});
    }
  }
  return ms;
}

Bytes swim_datagram(const std::vector<SwimMessage>& ms) {
  wire::PacketBuilder b(kHeader, 1400);
  b.try_add(encode_message(PingMsg{77, "agent-007"}));
  for (const auto& m : ms) {
    if (!b.try_add(encode_message(m))) break;
  }
  return b.finish();
}

void BM_SwimEncode(benchmark::State& st) {
  const auto ms = swim_messages();
  run_encode(st, [&] { return swim_datagram(ms); });
}
BENCHMARK(BM_SwimEncode);

void BM_SwimDecode(benchmark::State& st) {
  const Bytes bytes = swim_datagram(swim_messages());
  run_decode(st, bytes, [](const auto&, const wire::Part& p) { return decode_message(p); });
}
BENCHMARK(BM_SwimDecode);

// ----------------------------------------------------------------- digest

Digest make_digest() {
  // Contexts as after gossip among 100 agents: a version vector entry each.
  HealthState s = state_with(100);
  for (ReplicaId r = 2; r < 101; ++r) {
    HealthState other(r * 0x9e3779b97f4a7c15ULL);
    s.join(other.observe("web-" + std::to_string(r), obs_of(other.self(), r, true)));
  }
  Digest d;
  d.replica = 0x1234567890abcdefULL;
  d.registry = s.state().registry.context;
  d.observations = s.state().observations.context;
  d.counters = s.state().counters.context;
  std::uint64_t x = 88172645463325252ULL;
  for (std::size_t i = 0; i < kDigestBuckets; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    d.hashes.push_back(x);
  }
  d.reply = true;
  return d;
}

void BM_DigestEncode(benchmark::State& st) {
  const Digest d = make_digest();
  run_encode(st, [&] { return wire::encode(kHeader, {wire::encode_part(wire::PartType::digest, encode_digest(d))}); });
}
BENCHMARK(BM_DigestEncode);

void BM_DigestDecode(benchmark::State& st) {
  const Bytes b = wire::encode(kHeader, {wire::encode_part(wire::PartType::digest, encode_digest(make_digest()))});
  run_decode(st, b, [](const auto& body, const auto&) { return decode_digest(body); });
}
BENCHMARK(BM_DigestDecode);

// ----------------------------------------------------------------- repair

Repair make_repair() {
  Repair r;
  r.delta = state_with(10'000).state();
  return r;
}

void BM_RepairEncode(benchmark::State& st) {
  const Repair r = make_repair();
  run_encode(st, [&] { return wire::encode(kHeader, {wire::encode_part(wire::PartType::repair, encode_repair(r))}); });
}
BENCHMARK(BM_RepairEncode)->Unit(benchmark::kMillisecond);

void BM_RepairDecode(benchmark::State& st) {
  const Bytes b = wire::encode(kHeader, {wire::encode_part(wire::PartType::repair, encode_repair(make_repair()))});
  run_decode(st, b, [](const auto& body, const auto&) { return decode_repair(body); });
}
BENCHMARK(BM_RepairDecode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
