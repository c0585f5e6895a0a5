// Replication figures (issue 4), printed as a table. Everything runs in this
// process: many core Replicators joined by the in-memory network of
// tests/core/replicated/replication_harness.h (bytes pass through the real
// envelope codec; simulated time, so the figures do not depend on this
// machine except the throughput section).
//
//   traffic     N members, T targets, a fraction of targets changing status
//               per minute: bytes on the wire per status change per member,
//               anti-entropy bytes per round, against full-state sync.
//   glomers     25 members, 100 ms links: time from an observation to every
//               agent (median, max), messages per update.
//   throughput  delta joins/s into a T-target state, full-state merges/s.
//   change      cost of one received status change and one registry change
//               at 1k / 10k / 100k targets (must stay flat).
//   memory      heap bytes per target of one agent's state (mallinfo2 delta),
//               built by decoding wire bytes, so the agent owns every object;
//               then where those bytes are: the live blocks by allocation
//               site (two innermost project frames), malloc's rounding
//               included.
//
// Run: build/tools/bench/replication_bench [--members 100] [--targets 10000]
//      [--change-per-minute 0.01] [--minutes 3] [--seed 1]
#include <cxxabi.h>
#include <execinfo.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <new>
#include <unordered_map>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/replicated/codec.h"
#include "core/replicated/spec_pool.h"
#include "core/replicated/replicator.h"
#include "tests/core/replicated/replication_harness.h"

// Live heap blocks by allocation site, while `on` (the memory section's
// breakdown): operator new records each block's size and return addresses,
// operator delete forgets it. Off, each costs one branch.
namespace sites {
struct Block {
  std::size_t size = 0;
  void* frames[12] = {};
  int depth = 0;
};
bool on = false;
std::unordered_map<void*, Block>* live = nullptr;
}  // namespace sites

void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (!p) throw std::bad_alloc();
  if (sites::on) {
    sites::on = false;  // the map's own allocations are not recorded
    sites::Block b;
    b.size = malloc_usable_size(p) + sizeof(void*);  // with malloc's header and rounding
    b.depth = backtrace(b.frames, 12);
    (*sites::live)[p] = b;
    sites::on = true;
  }
  return p;
}
void operator delete(void* p) noexcept {
  if (sites::on && p) {
    sites::on = false;
    sites::live->erase(p);
    sites::on = true;
  }
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

using namespace heck;
using heck::testing::NetOptions;
using heck::testing::ReplicaNet;

TargetSpec make_spec(std::size_t i) {
  TargetSpec s;
  s.id = detached_name(fmt::format("svc-{:05}", i));
  s.url = *Url::parse(fmt::format("http://10.{}.{}.{}:8080/healthz", i / 65536 % 256, i / 256 % 256, i % 256));
  return s;
}

Observation make_obs(HealthStatus st, std::uint64_t seq) {
  Observation o;
  o.status = st;
  o.reason = st == HealthStatus::healthy ? CheckReason::ok : CheckReason::timeout;
  o.status_code = st == HealthStatus::healthy ? 200 : 0;
  o.latency = Duration::microseconds(1500 + static_cast<std::int64_t>(seq % 1000));
  o.check_seq = seq;
  return o;
}

std::size_t full_state_bytes(const HealthDelta& state) {
  return wire::encode(wire::Header{"n00", "n00:7946"}, {wire::encode_part(wire::PartType::delta, encode_delta(state))})
      .size();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A snapshot of T targets, each registered by member 0 and observed healthy
// once by its owner (target i is owned by member i % members).
HealthDelta make_snapshot(ReplicaNet& net, std::size_t targets) {
  std::vector<HealthState> owners;
  for (std::size_t m = 0; m < net.size(); ++m) owners.emplace_back(net.node(m).replica());
  const Instant t = net.now();
  for (std::size_t i = 0; i < targets; ++i) {
    owners[0].put_target(HlcTimestamp::make(static_cast<std::uint64_t>(t.ms()), 0), make_spec(i));
    Observation o = make_obs(HealthStatus::healthy, 1);
    o.observer = owners[i % net.size()].self();
    o.observed_at = HlcTimestamp::make(static_cast<std::uint64_t>(t.ms()), 1);
    owners[i % net.size()].observe(make_spec(i).id, o);
  }
  HealthDelta snapshot;
  for (const auto& o : owners) snapshot.join(o.state());
  return snapshot;
}

struct Totals {
  std::uint64_t datagram_bytes = 0, stream_bytes = 0, packets = 0, digests = 0, repairs = 0, delta_repairs = 0,
                state_repairs = 0, deltas_sent = 0;
};

Totals totals(ReplicaNet& net) {
  Totals t;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const auto& c = net.node(i).counters();
    t.datagram_bytes += c.datagram_bytes_sent;
    t.stream_bytes += c.stream_bytes_sent;
    t.packets += c.packets_sent;
    t.digests += c.digests_sent;
    t.repairs += c.repairs_sent;
    t.delta_repairs += c.delta_repairs_sent;
    t.state_repairs += c.state_repairs_sent;
    t.deltas_sent += c.deltas_sent;
  }
  return t;
}

void row(const std::string& what, const std::string& value, const std::string& note = "") {
  std::printf("  %-52s %16s  %s\n", what.c_str(), value.c_str(), note.c_str());
}

// ------------------------------------------------------------------ traffic

void traffic(std::size_t members, std::size_t targets, double change_per_minute, double minutes, std::uint64_t seed,
             bool direct) {
  ReplicatorConfig cfg;  // defaults: flush 10 ms, anti-entropy every 2 s
  if (!direct) cfg.max_direct_peers = 0;
  std::printf("\ntraffic: %zu members, %zu targets, %.2f%% of targets changing per minute, %.1f simulated minutes, %s\n",
              members, targets, change_per_minute * 100, minutes,
              direct ? "eager push to every peer" : fmt::format("gossip fanout {} with forwarding", cfg.fanout).c_str());
  ReplicaNet net(members, cfg, NetOptions{Duration::milliseconds(1), 0, 0}, seed);
  const HealthDelta snapshot = make_snapshot(net, targets);
  for (std::size_t m = 0; m < members; ++m) net.node(m).join_snapshot(snapshot);
  net.run_for(Duration::seconds(3));
  const Totals before = totals(net);
  const auto wall0 = std::chrono::steady_clock::now();

  Rng rng(seed * 31 + 7);
  const double changes_per_s = static_cast<double>(targets) * change_per_minute / 60.0;
  const Duration gap = Duration::nanoseconds(static_cast<std::int64_t>(1e9 / changes_per_s));
  const Instant end = net.now() + Duration::milliseconds(static_cast<std::int64_t>(minutes * 60'000));
  std::vector<HealthStatus> status(targets, HealthStatus::healthy);
  std::uint64_t changes = 0;
  while (net.now() < end) {
    const std::size_t t = static_cast<std::size_t>(rng.below(targets));
    status[t] = status[t] == HealthStatus::healthy ? HealthStatus::unhealthy : HealthStatus::healthy;
    const std::size_t owner = t % members;
    net.act(owner, [&](Replicator& r, Effects& out) { r.observe(net.now(), make_spec(t).id, make_obs(status[t], changes + 2), out); });
    ++changes;
    net.run_for(gap);
  }
  net.run_for(Duration::seconds(5));
  const Totals after = totals(net);
  const double wall_s = seconds_since(wall0);

  // Converged?
  auto what = [&](std::size_t m) {
    Digest d = net.node(m).digest();
    d.replica = 0;  // who sends it; the rest is what it has
    return d;
  };
  const Digest ref = what(0);
  std::size_t same = 0;
  for (std::size_t m = 0; m < members; ++m) same += what(m) == ref ? 1 : 0;

  const double dgram = static_cast<double>(after.datagram_bytes - before.datagram_bytes);
  const double stream = static_cast<double>(after.stream_bytes - before.stream_bytes);
  const double rounds = static_cast<double>(after.digests - before.digests);  // digests sent (requests and replies)
  const double sim_s = minutes * 60 + 5;
  const double ae_rounds = static_cast<double>(members) * sim_s / cfg.anti_entropy_interval.seconds_f();
  const double per_change_member = (dgram + stream) / static_cast<double>(changes) / static_cast<double>(members);
  const std::size_t full = full_state_bytes(snapshot);
  // Full-state sync: every member pushes and pulls its whole state with one
  // peer per anti-entropy interval (memberlist's push-pull, for state).
  const double full_per_round = 2.0 * static_cast<double>(full);
  const double full_per_change_member = full_per_round * ae_rounds / static_cast<double>(changes) / static_cast<double>(members);

  row("status changes", fmt::format("{}", changes));
  row("members holding identical state at the end", fmt::format("{}/{}", same, members));
  row("delta datagram bytes (eager push + forwarding)", fmt::format("{:.0f}", dgram));
  row("anti-entropy stream bytes (digests + repairs)", fmt::format("{:.0f}", stream));
  row("  digests sent / repairs sent (delta, state)",
      fmt::format("{:.0f} / {} ({}, {})", rounds, after.repairs - before.repairs, after.delta_repairs - before.delta_repairs,
                  after.state_repairs - before.state_repairs));
  row("bytes per status change per member", fmt::format("{:.0f}", per_change_member), "all replication traffic");
  row("  of which eager push", fmt::format("{:.0f}", dgram / static_cast<double>(changes) / static_cast<double>(members)));
  row("anti-entropy bytes per round", fmt::format("{:.0f}", stream / ae_rounds), "digest + reply + any repair");
  row("full state, one copy", fmt::format("{}", full));
  row("full-state sync bytes per round (push + pull)", fmt::format("{:.0f}", full_per_round));
  row("full-state sync bytes per status change per member", fmt::format("{:.0f}", full_per_change_member));
  row("delta sync advantage (full / delta)", fmt::format("{:.0f}x", full_per_change_member / per_change_member),
      "target >= 10x");
  row("wall time of this section", fmt::format("{:.1f} s", wall_s));
}

// ------------------------------------------------------------------ glomers

void glomers(std::uint64_t seed, Duration update_every, int updates, bool piggyback, bool direct) {
  const std::size_t n = 25;
  ReplicatorConfig cfg;
  if (!direct) cfg.max_direct_peers = 0;
  NetOptions opt;
  opt.latency = Duration::milliseconds(100);
  if (piggyback) opt.gossip_interval = Duration::milliseconds(200);
  ReplicaNet net(n, cfg, opt, seed);
  net.run_for(Duration::seconds(3));
  const std::uint64_t msgs0 = net.messages_sent;
  std::uint64_t dgram0 = 0;
  for (std::size_t i = 0; i < n; ++i) dgram0 += net.node(i).counters().packets_sent;
  struct Pending {
    std::string id;
    Instant at;
    std::vector<bool> seen;
    std::size_t seen_count = 0;
  };
  std::vector<Pending> open;
  std::vector<double> to_all_ms, per_node_ms;
  Rng rng(seed + 99);
  const Duration step = Duration::milliseconds(5);
  int issued = 0;
  Instant next_update = net.now();
  const Instant give_up = net.now() + update_every * updates + Duration::seconds(10);
  while ((issued < updates || !open.empty()) && net.now() < give_up) {
    if (issued < updates && net.now() >= next_update) {
      const std::size_t at = static_cast<std::size_t>(rng.below(n));
      Pending p{fmt::format("g{}", issued), net.now(), std::vector<bool>(n, false), 0};
      net.act(at, [&](Replicator& r, Effects& out) { r.observe(net.now(), p.id, make_obs(HealthStatus::unhealthy, 1), out); });
      open.push_back(std::move(p));
      ++issued;
      next_update = next_update + update_every;
    }
    net.run_for(step);
    for (auto it = open.begin(); it != open.end();) {
      for (std::size_t i = 0; i < n; ++i) {
        if (it->seen[i] || !net.node(i).state().state().observations.store.find(it->id)) continue;
        it->seen[i] = true;
        ++it->seen_count;
        per_node_ms.push_back((net.now() - it->at).ms_f());
      }
      if (it->seen_count == n) {
        to_all_ms.push_back((net.now() - it->at).ms_f());
        it = open.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::uint64_t eager = 0;
  for (std::size_t i = 0; i < n; ++i) eager += net.node(i).counters().packets_sent;
  std::sort(to_all_ms.begin(), to_all_ms.end());
  std::sort(per_node_ms.begin(), per_node_ms.end());
  auto pct = [](const std::vector<double>& v, double q) {
    return v.empty() ? -1.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  std::printf("\nglomers: 25 members, 100 ms links, %s, one update every %lld ms, %d updates%s (times +-5 ms)\n",
              direct ? "eager push to every peer" : "gossip fanout 3 with forwarding",
              static_cast<long long>(update_every.ms()), updates,
              piggyback ? ", plus membership-like piggyback every 200 ms" : ", eager push and anti-entropy only");
  row("updates reaching all 25 members", fmt::format("{}/{}", to_all_ms.size(), updates));
  row("time to all members: median", fmt::format("{:.0f} ms", pct(to_all_ms, 0.5)), "bar < 400 ms");
  row("time to all members: max", fmt::format("{:.0f} ms", to_all_ms.empty() ? -1.0 : to_all_ms.back()), "bar < 600 ms");
  row("time to one member: median / p99", fmt::format("{:.0f} / {:.0f} ms", pct(per_node_ms, 0.5), pct(per_node_ms, 0.99)));
  row("messages per update (all replication messages)",
      fmt::format("{:.1f}", static_cast<double>(net.messages_sent - msgs0) / updates), "bar < 30 (or < 20)");
  row("  of which Replicator sends (eager push + anti-entropy)", fmt::format("{:.1f}", static_cast<double>(eager - dgram0) / updates));
}

// --------------------------------------------------------------- throughput

void throughput(std::size_t targets) {
  std::printf("\nthroughput: one agent holding %zu targets (this machine, one core)\n", targets);
  ReplicaNet net(2, ReplicatorConfig{}, NetOptions{}, 5);
  const HealthDelta snapshot = make_snapshot(net, targets);
  HealthState agent(777);
  agent.join(snapshot);
  // Deltas as a peer writes them, in order: one observation each.
  HealthState writer(net.node(1).replica());
  writer.join(snapshot);
  const int n = 200'000;
  std::vector<Bytes> bodies;
  std::vector<HealthDelta> deltas;
  bodies.reserve(n);
  for (int i = 0; i < n; ++i) {
    const std::size_t t = static_cast<std::size_t>((static_cast<std::uint64_t>(i) * 7919) % targets);
    Observation o = make_obs(i % 2 ? HealthStatus::healthy : HealthStatus::unhealthy, static_cast<std::uint64_t>(i));
    o.observer = writer.self();
    deltas.push_back(writer.observe(make_spec(t).id, o));
    bodies.push_back(encode_delta(deltas.back()));
  }
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& d : deltas) agent.join(d);
  row("delta joins/s (one observation each, in order)", fmt::format("{:.0f}", n / seconds_since(t0)));
  HealthState agent2(778);
  agent2.join(snapshot);
  t0 = std::chrono::steady_clock::now();
  for (const auto& b : bodies) agent2.join(*decode_delta(b));
  row("delta decode+joins/s (from the part body)", fmt::format("{:.0f}", n / seconds_since(t0)));
  // Deltas whose context names dots the receiver no longer holds (a
  // duplicate-free replay of old, already superseded deltas): the scan path.
  HealthState agent3(779);
  agent3.join(snapshot);
  for (const auto& d : deltas) agent3.join(d);
  const int m = 2000;
  HealthDelta group;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < m; ++i) agent3.join(deltas[static_cast<std::size_t>(i)]);
  row("joins/s of stale deltas (scan of all keys)", fmt::format("{:.0f}", m / seconds_since(t0)));
  // Full-state merge (what a full-state sync costs the receiver).
  const int k = 20;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < k; ++i) {
    HealthState s(900 + static_cast<ReplicaId>(i));
    s.join(snapshot);
    s.join(agent.state());
  }
  const double merge_s = seconds_since(t0) / k;
  row("full-state merges/s", fmt::format("{:.1f}", 1 / merge_s), fmt::format("{:.0f} entries/s", 2.0 * targets / merge_s));
  // Digest index rebuild (per anti-entropy round after any change).
  Replicator r(ReplicatorConfig{}, wire::Header{"x", "x:1"}, 5, 1, nullptr);
  r.join_snapshot(snapshot);
  t0 = std::chrono::steady_clock::now();
  Digest dg;
  for (int i = 0; i < 20; ++i) {
    r.join_snapshot(HealthDelta{});  // marks the index stale
    dg = r.digest();
  }
  row("digest (bucket hashes) rebuild", fmt::format("{:.2f} ms", seconds_since(t0) / 20 * 1000));
}

// ---------------------------------------------------------- cost per change

// Wall time per received delta (decode, join, digest sums, change tracking)
// of `deltas`, each as its own part, into `agent`.
double ns_per_part(Replicator& agent, const std::vector<HealthDelta>& deltas, bool take_changes) {
  std::vector<Bytes> bodies;
  bodies.reserve(deltas.size());
  for (const HealthDelta& d : deltas) bodies.push_back(encode_delta(d));
  NameTable names;
  const std::vector<Peer> peers{Peer::interned(names, "w", "w:1"), Peer::interned(names, "a", "a:1")};
  const wire::Header from{"w", "w:1"};
  Effects out;
  std::size_t changed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const Bytes& body : bodies) {
    agent.handle_part(Instant::from_ns(0), from, wire::Part{wire::PartType::delta, body}, Channel::datagram, peers, out);
    if (take_changes) changed += agent.take_registry_changes().size();
    out.clear();
  }
  const double ns = seconds_since(t0) * 1e9 / static_cast<double>(bodies.size());
  if (take_changes && changed != bodies.size()) {
    std::printf("  (expected one registry change per delta, got %zu: %s)\n", changed, agent.last_malformed().c_str());
  }
  return ns;
}

// One status change and one registry change, received by an agent that
// holds T targets: the cost must not grow with T (issue 11: 100k within 3x
// of 1k).
void change_cost() {
  std::printf("\ncost per change: one received delta into an agent holding T targets (this machine, one core)\n");
  std::printf("  %8s | %18s | %18s\n", "targets", "status change ns", "registry change ns");
  double first_status = 0, first_registry = 0, status = 0, registry = 0;
  for (std::size_t targets : {1'000, 10'000, 100'000}) {
    ReplicaNet net(2, ReplicatorConfig{}, NetOptions{}, 5);
    const HealthDelta snapshot = make_snapshot(net, targets);
    Replicator agent(ReplicatorConfig{}, wire::Header{"a", "a:1"}, 4242, 1, nullptr);
    agent.join_snapshot(snapshot);
    agent.track_registry_changes();
    (void)agent.take_registry_changes();
    (void)agent.digest();
    HealthState writer(net.node(1).replica());
    writer.join(snapshot);
    const std::size_t n = 20'000;
    std::vector<HealthDelta> deltas;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t t = static_cast<std::size_t>((i * 7919) % targets);
      Observation o = make_obs(i % 2 ? HealthStatus::healthy : HealthStatus::unhealthy, i + 2);
      o.observer = writer.self();
      o.observed_at = HlcTimestamp::make(1000 + i, 0);
      deltas.push_back(writer.observe(make_spec(t).id, o));
    }
    status = ns_per_part(agent, deltas, false);
    deltas.clear();
    for (std::size_t i = 0; i < n / 4; ++i) {
      TargetSpec spec = make_spec((i * 7919) % targets);
      spec.interval = spec.timeout + Duration::milliseconds(1 + static_cast<std::int64_t>(i));
      deltas.push_back(writer.put_target(HlcTimestamp::make(1000 + n + i, 0), std::move(spec)));
    }
    registry = ns_per_part(agent, deltas, true);
    if (first_status == 0) first_status = status, first_registry = registry;
    std::printf("  %8zu | %18.0f | %18.0f\n", targets, status, registry);
  }
  row("100k / 1k: status change", fmt::format("{:.2f}x", status / first_status), "target <= 3x");
  row("100k / 1k: registry change", fmt::format("{:.2f}x", registry / first_registry), "target <= 3x");
}

// ------------------------------------------------------------------- memory

std::size_t heap_used() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

// A frame's function, demangled, without its arguments; "" outside the project.
std::string frame_name(void* frame) {
  char** symbols = backtrace_symbols(&frame, 1);
  std::string text = symbols ? symbols[0] : "";
  std::free(symbols);
  const auto open = text.find('('), plus = text.find('+', open);
  if (open == std::string::npos || plus == std::string::npos) return "";
  int status = 0;
  char* demangled = abi::__cxa_demangle(text.substr(open + 1, plus - open - 1).c_str(), nullptr, nullptr, &status);
  std::string name = demangled ? demangled : "";
  std::free(demangled);
  if (name.rfind("heck::", 0) != 0) return "";
  // Cut the argument list: the last '(' at template depth 0.
  int depth = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '<') ++depth;
    if (name[i] == '>') --depth;
    if (name[i] == '(' && depth == 0) return name.substr(0, i);
  }
  return name;
}

// The blocks live now, by their two innermost project frames, per target.
void print_sites(std::size_t targets) {
  std::map<std::string, std::size_t> bytes;
  std::size_t total = 0;
  for (const auto& [p, b] : *sites::live) {
    std::string site;
    int named = 0;
    for (int i = 1; i < b.depth && named < 2; ++i) {  // frame 0 is operator new
      const std::string name = frame_name(b.frames[i]);
      if (name.empty()) continue;
      site += (named++ ? " < " : "") + name;
    }
    bytes[site.empty() ? "(outside the project)" : site] += b.size;
    total += b.size;
  }
  std::vector<std::pair<std::size_t, std::string>> by_size;
  for (const auto& [site, n] : bytes) by_size.emplace_back(n, site);
  std::sort(by_size.rbegin(), by_size.rend());
  std::printf("  where they are: live blocks by allocation site, bytes per target (%.0f in all)\n",
              static_cast<double>(total) / static_cast<double>(targets));
  for (const auto& [n, site] : by_size) {
    if (n < targets) continue;  // under a byte a target
    std::printf("  %8.1f  %s\n", static_cast<double>(n) / static_cast<double>(targets), site.c_str());
  }
}

void memory(std::size_t targets) {
  std::printf("\nmemory: one agent's state built from wire bytes (mallinfo2 uordblks delta), no siblings\n");
  ReplicaNet net(100, ReplicatorConfig{}, NetOptions{}, 9);
  const HealthDelta snapshot = make_snapshot(net, targets);
  const Bytes full = wire::encode(wire::Header{"n0", "n0:1"}, {wire::encode_part(wire::PartType::delta, encode_delta(snapshot))});
  HealthDelta obs_only;
  obs_only.observations = snapshot.observations;
  const Bytes obs_bytes =
      wire::encode(wire::Header{"n0", "n0:1"}, {wire::encode_part(wire::PartType::delta, encode_delta(obs_only))});
  // `pooled`: decoded through the replicator's own spec pool, as an agent
  // decodes what it receives (the pool keeps each spec's bytes to share it
  // between copies, and the name table the keys are interned in); else by
  // a decoder of its own, whose table goes with it.
  auto measure = [&](const Bytes& bytes, bool pooled) {
    const std::size_t before = heap_used();
    ReplicatorConfig config;
    if (pooled) config.spec_pool = std::make_shared<SpecPool>();
    SpecPool* pool = config.spec_pool.get();
    auto* r = new Replicator(std::move(config), wire::Header{"m", "m:1"}, 4242, 1, nullptr);
    {
      auto env = wire::decode(bytes);
      auto d = decode_delta(env->parts[0].body, {}, pool);
      r->join_snapshot(*d);
    }
    (void)r->digest();  // the anti-entropy index is part of the steady state
    const std::size_t after = heap_used();
    delete r;
    return static_cast<double>(after - before) / static_cast<double>(targets);
  };
  const double all = measure(full, false);
  const double obs = measure(obs_bytes, false);
  const double agent = measure(full, true);
  // The same state joined from an in-memory snapshot: the TargetSpec objects
  // stay shared with the snapshot (as they are with the node's scheduler), so
  // this is the replication structure alone.
  const std::size_t before = heap_used();
  auto* shared = new Replicator(ReplicatorConfig{}, wire::Header{"m", "m:1"}, 4243, 1, nullptr);
  shared->join_snapshot(snapshot);
  (void)shared->digest();
  const double structure = static_cast<double>(heap_used() - before) / static_cast<double>(targets);
  delete shared;
  row("bytes per target: spec + observation + index", fmt::format("{:.0f}", all), "target <= 256");
  row("  observations only (+ index)", fmt::format("{:.0f}", obs));
  row("  target registry (spec version, TargetSpec)", fmt::format("{:.0f}", all - obs));
  row("  replication structure alone (TargetSpec objects shared)", fmt::format("{:.0f}", structure));
  row("  as an agent holds it (decoded through its spec pool)", fmt::format("{:.0f}", agent));
  row("sizeof(TargetSpec) / sizeof(Observation)", fmt::format("{} / {}", sizeof(TargetSpec), sizeof(Observation)));

  // The first figure again, its blocks recorded by allocation site.
  sites::live = new std::unordered_map<void*, sites::Block>();
  sites::live->reserve(8 * targets);
  sites::on = true;
  {
    auto* r = new Replicator(ReplicatorConfig{}, wire::Header{"m", "m:1"}, 4242, 1, nullptr);
    {
      auto env = wire::decode(full);
      auto d = decode_delta(env->parts[0].body, {}, nullptr);
      r->join_snapshot(*d);
    }
    (void)r->digest();
    sites::on = false;
    print_sites(targets);
    delete r;
  }
  delete sites::live;
  sites::live = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"replication figures"};
  std::size_t members = 100, targets = 10'000;
  double change = 0.01, minutes = 3;
  std::uint64_t seed = 1;
  std::string only;
  app.add_option("--members", members);
  app.add_option("--targets", targets);
  app.add_option("--change-per-minute", change, "fraction of targets changing status per minute");
  app.add_option("--minutes", minutes, "simulated minutes of steady state");
  app.add_option("--seed", seed);
  app.add_option("--only", only, "traffic, glomers, throughput, change or memory");
  CLI11_PARSE(app, argc, argv);
  if (only.empty() || only == "memory") memory(targets);
  if (only.empty() || only == "throughput") throughput(targets);
  if (only.empty() || only == "change") change_cost();
  if (only.empty() || only == "glomers") {
    glomers(seed, Duration::milliseconds(100), 200, false, true);
    glomers(seed, Duration::milliseconds(20), 500, false, true);
    glomers(seed, Duration::milliseconds(100), 200, false, false);
    glomers(seed, Duration::milliseconds(100), 200, true, false);
  }
  if (only.empty() || only == "traffic") {
    traffic(members, targets, change, minutes, seed, members - 1 <= ReplicatorConfig{}.max_direct_peers);
    if (members - 1 <= ReplicatorConfig{}.max_direct_peers) traffic(members, targets, change, minutes, seed, false);
  }
  return 0;
}
