// A tiny in-memory network for scripted SWIM stories: it delivers the Send
// effects of Swim instances to each other after a fixed latency, through a
// drop filter, and advances virtual time to the next delivery or timer. Each
// node's MemberChanged effects are recorded, so a story can ask "did anyone
// ever suspect B?". Deterministic: ties are broken by insertion order and
// node order, never by hashing. Every run is bounded in events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/membership/swim.h"
#include "core/timer_table.h"
#include "core/wire/envelope.h"

namespace heck::testing {

struct Delivery {
  Instant at;
  std::uint64_t order = 0;
  std::string from;  // sender node name
  std::string to;    // receiver node name (resolved from the address)
  Send send;
};

struct ChangeRecord {
  Instant at;
  MemberChanged change;
};

class TestNetwork {
 public:
  struct Node {
    std::string name;
    Address address;
    std::unique_ptr<Swim> swim;
    bool up = false;
    bool paused = false;  // frozen: no timers, arrivals wait in backlog
    std::vector<Delivery> backlog;
    TimerTable timers;
    std::vector<ChangeRecord> changes;
  };

  explicit TestNetwork(SwimConfig config = {}, std::uint64_t seed = 1) : config_(config), seed_(seed) {}

  // Drop filter: return true to lose the packet (from node, to node, send).
  std::function<bool(const std::string& from, const std::string& to, const Send& s)> drop;
  Duration latency = Duration::milliseconds(1);
  std::size_t max_datagram_bytes_seen = 0;
  std::uint64_t packets_delivered = 0;
  std::uint64_t packets_dropped = 0;

  static Address address_of(const std::string& name) { return name + ":7946"; }

  // Creates (or re-creates, state lost) a node and joins it through `seeds`
  // (node names; an unknown name is an address nobody listens on).
  Swim& start(const std::string& name, const std::vector<std::string>& seeds = {}) {
    Node& n = nodes_[name];
    n.name = name;
    n.address = address_of(name);
    n.swim = std::make_unique<Swim>(config_, name, n.address, seed_ * 1000003 + (++starts_));
    n.up = true;
    n.timers.clear();
    std::vector<Address> addrs;
    for (const auto& s : seeds) addrs.push_back(address_of(s));
    Effects out;
    n.swim->join(now_, addrs, out);
    apply(n, out);
    return *n.swim;
  }

  // The process dies: no more timers, packets to it are lost.
  void crash(const std::string& name) {
    Node& n = nodes_.at(name);
    n.up = false;
    n.timers.clear();
  }

  // A frozen process (SIGSTOP): it neither ticks nor reads; what arrives
  // waits. resume() hands it the backlog at once and overdue timers fire.
  void pause(const std::string& name) { nodes_.at(name).paused = true; }
  void resume(const std::string& name) {
    Node& n = nodes_.at(name);
    n.paused = false;
    for (auto& d : n.backlog) {
      d.at = now_;
      in_flight_.push_back(std::move(d));
    }
    n.backlog.clear();
  }

  void leave(const std::string& name) {
    Node& n = nodes_.at(name);
    Effects out;
    n.swim->leave(now_, out);
    apply(n, out);
  }

  Swim& swim(const std::string& name) { return *nodes_.at(name).swim; }
  Node& node(const std::string& name) { return nodes_.at(name); }
  Instant now() const { return now_; }

  // Runs until `until` (inclusive) or until `stop` returns true after an
  // event. Returns true when stopped by `stop`.
  bool run_until(Instant until, const std::function<bool()>& stop = nullptr) {
    for (std::size_t events = 0; events < kMaxEvents; ++events) {
      // Next delivery.
      const Delivery* d = nullptr;
      for (const auto& x : in_flight_) {
        if (d == nullptr || std::tie(x.at, x.order) < std::tie(d->at, d->order)) d = &x;
      }
      // Next timer (first node by name, then by key: TimerTable order).
      Node* tn = nullptr;
      Instant tat = Instant::max();
      for (auto& [name, n] : nodes_) {
        if (!n.up || n.paused) continue;
        if (const auto at = n.timers.next_deadline(); at && *at < tat) {
          tat = *at;
          tn = &n;
        }
      }
      const Instant next = std::min(d ? d->at : Instant::max(), tat);
      if (next > until) {
        now_ = until;
        return false;
      }
      now_ = std::max(now_, next);  // a timer set in the past fires now
      if (d != nullptr && d->at <= tat) {
        Delivery del = *d;
        in_flight_.erase(in_flight_.begin() + (d - in_flight_.data()));
        deliver(del);
      } else {
        const TimerKey tk = *tn->timers.pop_due(now_);
        Effects out;
        tn->swim->handle_timer(now_, tk, out);
        apply(*tn, out);
      }
      if (stop && stop()) return true;
    }
    ADD_FAILURE() << "test network: event limit reached";
    return false;
  }
  bool run_for(Duration d, const std::function<bool()>& stop = nullptr) {
    return run_until(now_ + d, stop);
  }

  // True when every up node sees every name in `names` in `state`.
  bool all_see(const std::vector<std::string>& names, MemberState state) const {
    for (const auto& [observer, n] : nodes_) {
      if (!n.up) continue;
      for (const auto& name : names) {
        if (name == observer && state != MemberState::alive) continue;
        const MemberInfo* m = n.swim->member(name);
        if (m == nullptr || m->state != state) return false;
      }
    }
    return true;
  }

  // Did any up node (other than `name` itself) ever record `name` in `state`?
  bool ever(const std::string& name, MemberState state) const {
    for (const auto& [observer, n] : nodes_) {
      if (observer == name) continue;
      for (const auto& c : n.changes) {
        if (c.change.name == name && c.change.to == state) return true;
      }
    }
    return false;
  }

  // When `observer` first recorded `name` in `state`, or nullopt.
  std::optional<Instant> first_time(const std::string& observer, const std::string& name,
                                    MemberState state) const {
    for (const auto& c : nodes_.at(observer).changes) {
      if (c.change.name == name && c.change.to == state) return c.at;
    }
    return std::nullopt;
  }

  std::vector<std::string> up_nodes() const {
    std::vector<std::string> out;
    for (const auto& [name, n] : nodes_) {
      if (n.up) out.push_back(name);
    }
    return out;
  }

  // Every effect applied, in order, as text (for determinism checks).
  const std::vector<std::string>& trace() const { return trace_; }

 private:
  static constexpr std::size_t kMaxEvents = 2'000'000;

  void apply(Node& n, Effects& out) {
    for (auto& e : out) {
      if (auto* t = std::get_if<SetTimer>(&e)) {
        trace_.push_back(n.name + " set " + std::to_string(t->key.packed()) + "@" + std::to_string(t->at.ns()));
      }
      if (apply_timer_effect(n.timers, e)) continue;
      if (auto* s = std::get_if<Send>(&e)) {
        if (s->channel == Channel::datagram) {
          max_datagram_bytes_seen = std::max(max_datagram_bytes_seen, s->bytes.size());
        }
        trace_.push_back(n.name + " send " + s->to + " " + std::to_string(s->bytes.size()));
        std::string to = s->to.substr(0, s->to.rfind(':'));
        in_flight_.push_back(Delivery{now_ + latency, next_order_++, n.name, to, std::move(*s)});
      } else if (auto* m = std::get_if<MemberChanged>(&e)) {
        trace_.push_back(n.name + " member " + m->name.str() + " " + std::string(to_string(m->to)) + " " +
                         std::to_string(m->incarnation));
        n.changes.push_back(ChangeRecord{now_, *m});
      }
    }
    out.clear();
  }

  void deliver(const Delivery& d) {
    auto it = nodes_.find(d.to);
    if (it == nodes_.end() || !it->second.up || (drop && drop(d.from, d.to, d.send))) {
      ++packets_dropped;
      return;
    }
    ++packets_delivered;
    Node& n = it->second;
    if (n.paused) {
      --packets_delivered;
      n.backlog.push_back(d);
      return;
    }
    auto env = wire::decode(d.send.bytes);
    if (!env) {
      ADD_FAILURE() << "undecodable packet from " << d.from << ": " << env.error();
      return;
    }
    Effects out;
    for (const auto& part : env->parts) {
      if (is_membership_part(part.type)) n.swim->handle_part(now_, env->header, part, d.send.channel, out);
    }
    apply(n, out);
  }

  SwimConfig config_;
  std::uint64_t seed_;
  std::uint64_t starts_ = 0;
  Instant now_ = Instant::from_ns(1'000'000'000);
  std::map<std::string, Node> nodes_;
  std::vector<Delivery> in_flight_;
  std::uint64_t next_order_ = 0;
  std::vector<std::string> trace_;
};

// Does this packet carry a part of `type`?
inline bool carries(const Send& s, wire::PartType type) {
  auto env = wire::decode(s.bytes);
  if (!env) return false;
  for (const auto& p : env->parts) {
    if (p.type == type) return true;
  }
  return false;
}

}  // namespace heck::testing
