// The simulated network between cluster members: what happens to each
// datagram and stream message one member sends to another.
//
// Endpoints are small integers (the world's member indices); the world maps
// addresses to endpoints. The network decides a message's fate when it is
// sent and, when it is to arrive, holds its bytes in a slab until the world
// takes them at the arrival time.
//
// Link model (per directed link; a default plus overrides, see below)
// - datagram: arrives after one latency sample, unless lost (probability
//   `loss`); a delivered datagram is duplicated with probability `duplicate`
//   (the copy has its own latency sample) and held back by an extra
//   `reorder_delay` sample with probability `reorder`, so later datagrams may
//   overtake it.
// - stream (one framed message on a fresh TCP connection): handshake and data
//   take three one-way latency samples plus size / `stream_bytes_per_ms`. It
//   is never duplicated or reordered; a lost leg (probability `loss` each) is
//   retransmitted after a TCP-like timeout (1 s for the handshake, 200 ms for
//   data, doubling), and after kStreamRetries losses of one leg the message
//   is dropped (timed out). Delivered whole or not at all.
//
// Rules (each over two endpoint sets, directed `from` -> `to`, and also
// `to` -> `from` unless `one_way`):
// - override: replaces fields of the default link (latency, loss, ...) on the
//   links it covers; the newest matching rule wins per field.
// - partition: datagrams are dropped; a stream is refused (a TCP connection
//   needs both directions, so a stream is refused when either direction is
//   partitioned). A one-way partition from A to B: B does not hear A, A
//   still hears B.
// - clog: messages on the link are held (not dropped) until the rule is
//   released; then each departs at the release time with a fresh latency
//   sample, in the order they were sent.
// Rules apply when a message is sent: one already in flight when a partition
// starts still arrives.
//
// Determinism: every draw comes from the network's own Rng (forked by the
// world), in send order. Limits: kMaxInFlight messages in the slab,
// kMaxHeld held per clog rule, kMaxRules rules; past a limit the message is
// dropped and counted (`overflow`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/net.h"
#include "core/random.h"
#include "core/time.h"
#include "sim/latency.h"

namespace heck::sim {

using Endpoint = std::uint32_t;

// A set of endpoints (a bitmap over the world's members).
class EndpointSet {
 public:
  EndpointSet() = default;
  explicit EndpointSet(std::size_t endpoints) : bits_(endpoints, false) {}
  static EndpointSet all(std::size_t endpoints);
  static EndpointSet of(std::size_t endpoints, std::initializer_list<Endpoint> members);

  void insert(Endpoint e);
  bool contains(Endpoint e) const { return e < bits_.size() && bits_[e]; }
  std::size_t universe() const { return bits_.size(); }
  std::size_t count() const;

 private:
  std::vector<bool> bits_;
};

struct LinkConfig {
  LatencyDist latency = LatencyDist::constant(Duration::microseconds(500));  // one way
  double loss = 0;       // datagram drop probability; a stream leg's loss probability
  double duplicate = 0;  // probability a delivered datagram arrives twice
  double reorder = 0;    // probability a datagram gets an extra reorder_delay
  LatencyDist reorder_delay = LatencyDist::uniform(Duration::zero(), Duration::milliseconds(20));
  double stream_bytes_per_ms = 125'000;  // 1 Gbit/s
};

// Fields of a LinkConfig to replace; absent fields keep the value below.
struct LinkOverride {
  std::optional<LatencyDist> latency;
  std::optional<double> loss;
  std::optional<double> duplicate;
  std::optional<double> reorder;
  std::optional<LatencyDist> reorder_delay;
  std::optional<double> stream_bytes_per_ms;

  void apply_to(LinkConfig& c) const;
};

// REQUIRES for a LinkConfig/LinkOverride: probabilities in [0, 1],
// stream_bytes_per_ms > 0.

enum class Fate : std::uint8_t {
  delivered,    // one copy will arrive
  duplicated,   // two copies will arrive
  lost,         // dropped by the link's loss
  partitioned,  // dropped: a partition covers the link (datagram)
  refused,      // stream: a partition covers either direction
  timed_out,    // stream: a leg was lost too many times
  clogged,      // held until the clog is released
  overflow,     // dropped: a limit was reached
};
std::string_view to_string(Fate f);

// A message the world must deliver at `at` (true time): take(index) then.
struct Arrival {
  Instant at;
  std::uint32_t index = 0;
};

struct Message {
  Endpoint from = 0;
  Endpoint to = 0;
  Channel channel = Channel::datagram;
  Instant sent_at;
  SharedBytes bytes;  // shared with the other messages of one datagram sent to many
};

struct NetworkCounters {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t streams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t arrivals = 0;      // copies scheduled to arrive (incl. duplicates, released)
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t partitioned = 0;
  std::uint64_t refused = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t clogged = 0;       // held by a clog
  std::uint64_t released = 0;      // held messages sent on at a release
  std::uint64_t overflow = 0;
  // The most payload bytes in flight at once: sent and not yet delivered or
  // dropped, each message counted (a datagram sent to many peers counts once
  // per receiver, though its bytes are held once: SharedBytes).
  std::uint64_t peak_in_flight_bytes = 0;
};

class Network {
 public:
  static constexpr std::size_t kMaxInFlight = std::size_t{1} << 22;
  static constexpr std::size_t kMaxHeld = std::size_t{1} << 16;  // per clog rule
  static constexpr std::size_t kMaxRules = 1024;                 // of each kind
  static constexpr int kStreamRetries = 5;
  static constexpr std::uint32_t kNoRule = ~std::uint32_t{0};

  // REQUIRES: endpoints > 0.
  Network(std::size_t endpoints, LinkConfig defaults, Rng rng);

  std::size_t endpoints() const { return endpoints_; }
  const LinkConfig& defaults() const { return defaults_; }
  void set_defaults(LinkConfig c) { defaults_ = std::move(c); }
  // The effective configuration of the directed link from -> to.
  LinkConfig link(Endpoint from, Endpoint to) const;

  // --- rules (each returns an id, or kNoRule when kMaxRules are active) ---
  std::uint32_t add_override(EndpointSet from, EndpointSet to, bool one_way, LinkOverride o);
  void remove_override(std::uint32_t id);
  void clear_overrides();
  std::uint32_t partition(EndpointSet from, EndpointSet to, bool one_way);
  void heal(std::uint32_t id);
  void heal_all();
  std::uint32_t clog(EndpointSet from, EndpointSet to, bool one_way);
  // Ends clog `id`; its held messages depart now, in send order (arrivals
  // appended to `out`).
  void release(std::uint32_t id, Instant now, std::vector<Arrival>& out);
  void release_all(Instant now, std::vector<Arrival>& out);

  // True when a partition drops datagrams from -> to.
  bool partitioned(Endpoint from, Endpoint to) const;
  std::size_t active_partitions() const { return partitions_.size(); }
  std::size_t active_clogs() const { return clogs_.size(); }
  std::size_t active_overrides() const { return overrides_.size(); }

  // --- traffic ------------------------------------------------------------
  // Routes a message sent at `now`; appends the copies that will arrive to
  // `out` (none, one or two). REQUIRES: from, to < endpoints().
  Fate send(Instant now, Endpoint from, Endpoint to, Channel channel, SharedBytes bytes, std::vector<Arrival>& out);
  // Removes an arrived message from the slab. REQUIRES: `index` came from an
  // Arrival and was not taken yet.
  Message take(std::uint32_t index);
  // The message at `index` without taking it (same REQUIRES).
  const Message& peek(std::uint32_t index) const;
  std::size_t in_flight() const { return slab_.size() - free_.size(); }
  const NetworkCounters& counters() const { return counters_; }

 private:
  struct Rule {
    std::uint32_t id = 0;
    EndpointSet from, to;
    bool one_way = false;
    bool covers(Endpoint a, Endpoint b) const {
      return (from.contains(a) && to.contains(b)) || (!one_way && from.contains(b) && to.contains(a));
    }
  };
  struct OverrideRule {
    Rule rule;
    LinkOverride o;
  };
  struct ClogRule {
    Rule rule;
    std::vector<std::uint32_t> held;  // slab indices, in send order
  };

  Rule make_rule(EndpointSet from, EndpointSet to, bool one_way);
  // Schedules the message in slab[index] to depart at `now`: samples its
  // delay (and fate for loss), appends arrivals. Frees the slot when lost.
  Fate depart(Instant now, std::uint32_t index, std::vector<Arrival>& out);
  std::optional<Duration> stream_delay(const LinkConfig& c, std::size_t bytes);
  std::optional<std::uint32_t> store(Message m);
  void free_slot(std::uint32_t index);
  ClogRule* clog_of(Endpoint from, Endpoint to);

  std::size_t endpoints_;
  LinkConfig defaults_;
  Rng rng_;
  std::uint32_t next_rule_id_ = 0;
  std::vector<OverrideRule> overrides_;  // oldest first
  std::vector<Rule> partitions_;
  std::vector<ClogRule> clogs_;
  std::vector<std::optional<Message>> slab_;
  std::vector<std::uint32_t> free_;
  NetworkCounters counters_;
  std::uint64_t in_flight_bytes_ = 0;  // payload bytes in slab_
};

}  // namespace heck::sim
