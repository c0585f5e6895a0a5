// An in-memory network of Replicators for tests and benchmarks: bytes pass
// through the real envelope codec; latency, loss, duplication and partitions
// are injected from one seed. Not a simulator: no membership, no checks —
// only replication traffic (and optionally a membership-like piggyback round
// that drains each node's BroadcastQueue, as SWIM's gossip would).
#pragma once

#include <cassert>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/membership/broadcast_queue.h"
#include "core/random.h"
#include "core/replicated/replicator.h"
#include "core/timer_table.h"
#include "core/wire/envelope.h"

namespace heck::testing {

struct NetOptions {
  Duration latency = Duration::milliseconds(100);
  double drop = 0.0;       // probability a message is lost
  double duplicate = 0.0;  // probability a delivered message arrives twice
  bool streams_reliable = true;  // stream messages ignore `drop` (TCP)
  // Membership-like piggyback: every gossip_interval each node packs its
  // BroadcastQueue into one datagram to one random peer. Zero: off.
  Duration gossip_interval = Duration::zero();
};

class ReplicaNet {
 public:
  struct Delivery {
    Instant at;
    std::size_t from;
    std::size_t to;
    Channel channel;
    SharedBytes bytes;
  };

  ReplicaNet(std::size_t n, ReplicatorConfig config, NetOptions options, std::uint64_t seed)
      : options_(options), rng_(seed) {
    for (std::size_t i = 0; i < n; ++i) {
      peers_.push_back(Peer::interned(names_, "n" + std::to_string(i), "n" + std::to_string(i) + ":7946"));
      by_address_[peers_.back().address] = i;
    }
    for (std::size_t i = 0; i < n; ++i) {
      queues_.push_back(std::make_unique<BroadcastQueue>());
      nodes_.push_back(std::make_unique<Replicator>(config, wire::Header{peers_[i].name, peers_[i].address},
                                                    make_replica_id(peers_[i].name, seed & ~kRestartBit), rng_.next(),
                                                    queues_[i].get()));
    }
    up_.assign(n, true);
    timers_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      Effects out;
      nodes_[i]->start(now_, out);
      apply(i, out);
      if (options_.gossip_interval > Duration::zero()) {
        gossip_at_[i] = now_ + rng_.duration_between(Duration::zero(), options_.gossip_interval);
      }
    }
    config_ = config;
    seed_ = seed;
  }

  Replicator& node(std::size_t i) { return *nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }
  Instant now() const { return now_; }
  const std::vector<Peer>& peers() const { return peers_; }

  // Partition: a message from a to b is delivered only when cut(a, b) is false.
  void set_cut(std::function<bool(std::size_t, std::size_t)> cut) { cut_ = std::move(cut); }
  void heal() { cut_ = nullptr; }
  void set_drop(double p) { options_.drop = p; }
  void set_duplicate(double p) { options_.duplicate = p; }

  // Replaces node i by a fresh incarnation with empty state (a restart that
  // lost its state): a new replica id from a boot nonce never used before.
  void restart(std::size_t i) {
    const std::uint64_t boot_nonce = kRestartBit | ++restarts_;
    queues_[i] = std::make_unique<BroadcastQueue>();
    nodes_[i] = std::make_unique<Replicator>(config_, wire::Header{peers_[i].name, peers_[i].address},
                                             make_replica_id(peers_[i].name, boot_nonce), rng_.next(),
                                             queues_[i].get());
    timers_[i].clear();
    Effects out;
    nodes_[i]->start(now_, out);
    apply(i, out);
  }

  // Calls f(node, effects) at now() and applies the effects.
  template <typename F>
  void act(std::size_t i, F&& f) {
    Effects out;
    f(*nodes_[i], out);
    apply(i, out);
  }

  void run_for(Duration d) { run_until(now_ + d); }

  void run_until(Instant end) {
    for (std::size_t guard = 0; guard < 50'000'000; ++guard) {
      Instant next = end;
      int kind = -1;
      if (!in_flight_.empty() && in_flight_.begin()->first.first < next) {
        next = in_flight_.begin()->first.first;
        kind = 0;
      }
      std::size_t timer_node = 0;  // ties: the lowest node, then TimerTable order
      for (std::size_t i = 0; i < timers_.size(); ++i) {
        if (const auto at = timers_[i].next_deadline(); at && *at < next) {
          next = *at;
          kind = 1;
          timer_node = i;
        }
      }
      for (const auto& [i, at] : gossip_at_) {
        if (at < next) {
          next = at;
          kind = 2;
        }
      }
      if (kind < 0) {
        now_ = end;
        return;
      }
      now_ = next;
      if (kind == 0) {
        auto it = in_flight_.begin();
        Delivery d = std::move(it->second);
        in_flight_.erase(it);
        deliver(d);
      } else if (kind == 1) {
        const std::size_t i = timer_node;
        const TimerKey key = *timers_[i].pop_due(now_);
        Effects out;
        nodes_[i]->handle_timer(now_, key, peers_of(i), out);
        apply(i, out);
      } else {
        for (auto& [i, at] : gossip_at_) {
          if (at != now_) continue;
          at = now_ + options_.gossip_interval;
          gossip(i);
          break;
        }
      }
    }
    assert(false && "run_until: event guard exceeded");
  }

  // Runs anti-entropy until no repair was sent during `quiet` (or `max`).
  // Returns true when quiet.
  bool settle(Duration quiet, Duration max) {
    const Instant stop = now_ + max;
    while (now_ < stop) {
      const auto before = repairs_sent();
      run_for(quiet);
      if (repairs_sent() == before) return true;
    }
    return false;
  }

  std::uint64_t repairs_sent() const {
    std::uint64_t n = 0;
    for (const auto& r : nodes_) n += r->counters().repairs_sent;
    return n;
  }

  // Observer of every delivered message (benchmarks count them).
  std::function<void(const Delivery&)> on_deliver;
  std::function<void(const Delivery&)> after_deliver;
  std::uint64_t messages_delivered = 0;
  std::uint64_t bytes_delivered = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_sent = 0;

 private:
  std::span<const Peer> peers_of(std::size_t) const { return peers_; }

  void apply(std::size_t i, Effects& out) {
    apply_effects(timers_[i], out, [&](Effect& e) {
      if (auto* snd = std::get_if<Send>(&e)) {
        auto to = by_address_.find(snd->to);
        assert(to != by_address_.end());
        transmit(i, to->second, snd->channel, std::move(snd->bytes));
      }
    });
    out.clear();
  }

  void transmit(std::size_t from, std::size_t to, Channel channel, SharedBytes bytes) {
    ++messages_sent;
    bytes_sent += bytes.size();
    if (cut_ && cut_(from, to)) return;
    const bool lossy = channel == Channel::datagram || !options_.streams_reliable;
    if (lossy && rng_.chance(options_.drop)) return;
    const int copies = lossy && rng_.chance(options_.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      const Instant at = now_ + options_.latency + Duration::nanoseconds(static_cast<std::int64_t>(seq_ % 1000));
      in_flight_.emplace(std::make_pair(at, seq_++), Delivery{at, from, to, channel, bytes});
    }
  }

  void deliver(const Delivery& d) {
    ++messages_delivered;
    bytes_delivered += d.bytes.size();
    if (on_deliver) on_deliver(d);
    auto env = wire::decode(d.bytes);
    assert(env.ok());
    Effects out;
    for (const wire::Part& p : env->parts) {
      nodes_[d.to]->handle_part(now_, env->header, p, d.channel, peers_of(d.to), out);
    }
    apply(d.to, out);
    if (after_deliver) after_deliver(d);
  }

  void gossip(std::size_t i) {
    if (queues_[i]->empty() || peers_.size() < 2) return;
    std::size_t to = static_cast<std::size_t>(rng_.below(peers_.size() - 1));
    if (to >= i) ++to;
    wire::PacketBuilder b(wire::Header{peers_[i].name, peers_[i].address}, config_.max_packet_bytes);
    if (queues_[i]->fill(b, peers_.size()) == 0) return;
    transmit(i, to, Channel::datagram, b.finish());
  }

  NetOptions options_;
  ReplicatorConfig config_;
  std::uint64_t seed_ = 0;
  Rng rng_;
  Instant now_ = Instant::from_ns(0) + Duration::seconds(1'700'000'000);  // a Unix-epoch-like clock
  NameTable names_;
  std::vector<Peer> peers_;
  std::map<Address, std::size_t> by_address_;
  std::vector<std::unique_ptr<BroadcastQueue>> queues_;
  std::vector<std::unique_ptr<Replicator>> nodes_;
  std::vector<bool> up_;
  std::function<bool(std::size_t, std::size_t)> cut_;
  std::map<std::pair<Instant, std::uint64_t>, Delivery> in_flight_;
  std::vector<TimerTable> timers_;  // per node
  std::map<std::size_t, Instant> gossip_at_;
  std::uint64_t seq_ = 0;
  std::uint64_t restarts_ = 0;
  // First incarnations use the seed's low 63 bits as boot nonce, restarts a
  // counter with the top bit set: no two incarnations of a node share an id.
  static constexpr std::uint64_t kRestartBit = std::uint64_t{1} << 63;
};

}  // namespace heck::testing
