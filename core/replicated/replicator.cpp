#include "core/replicated/replicator.h"

#include <algorithm>
#include <bitset>
#include <cassert>

#include <fmt/format.h>
#include <xxhash.h>

#include "core/membership/broadcast_queue.h"
#include "core/replicated/delta_pool.h"

namespace heck {

bool is_replication_part(wire::PartType type) {
  const auto t = static_cast<std::uint16_t>(type);
  return t >= 32 && t <= 63;
}

namespace {

constexpr TimerKey kAntiEntropyTimer{TimerKind::anti_entropy, 0};
constexpr TimerKey kFlushTimer{TimerKind::replica_flush, 0};
// A buffered group whose context cloud grew past this restarts from the
// newest delta alone (what the older ones removed reaches late peers by
// anti-entropy).
constexpr std::size_t kMaxGroupCloudDots = 64;
// Dots of one buffered group indexed for a delta repair.
constexpr std::size_t kMaxGroupIndexDots = 4096;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

std::uint64_t entry_hash(std::uint64_t key_hash, int store, Dot d) {
  std::uint64_t h = mix(key_hash ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(store + 1)));
  h = mix(h ^ d.replica);
  return mix(h ^ (d.counter * 0x9e3779b97f4a7c15ULL));
}

// The buffer key of a delta touching one target or one counter, if it does.
std::optional<std::string> subject_of(const HealthDelta& d) {
  // The first key met and its kind; compared as Names, and the subject
  // written out only when it is the one (a burst's combined delta holds
  // many keys: no string made per key).
  const Name* first = nullptr;
  char kind = 0;
  bool single = true;
  auto take = [&](char k, const auto& store) {
    store.for_each_key([&](const Name& key) {  // any order: the subject is the one key, or none
      if (!first) {
        first = &key;
        kind = k;
      } else if (kind != k || *first != key) {
        single = false;
      }
    });
  };
  take('t', d.registry.store);
  if (single) take('t', d.observations.store);
  if (single) take('c', d.counters.store);
  if (single) take('s', d.sets.store);
  if (single) take('k', d.requests.store);
  if (single) take('a', d.alerts.store);
  if (single) take('n', d.routes.store);
  if (!single || !first) return std::nullopt;
  std::string subject(1, kind);
  subject += ':';
  subject += first->str();
  return subject;
}

// A rumour's queue key: apart from this node's own write of the subject (a
// co-owner's observation must not replace ours), a newer rumour replaces.
std::string rumor_key(const std::string& subject) { return "r:rumor:" + subject; }

template <typename F>
void for_each_context_dot(const CausalContext& c, std::size_t max, F&& f) {
  std::size_t n = 0;
  for (const auto& [r, top] : c.vv()) {
    for (std::uint64_t k = 1; k <= top; ++k) {
      if (n++ >= max) return;
      f(Dot{r, k});
    }
  }
  for (const Dot& d : c.cloud()) {
    if (n++ >= max) return;
    f(d);
  }
}

std::size_t context_bytes(const CausalContext& c) { return 4 + 12 * (c.vv().size() + c.cloud().size()); }

std::size_t value_bytes(const SpecVersion& v) {
  std::size_t n = 96;
  if (v.spec) {
    n += v.spec->id.size() + v.spec->url.host.size() + v.spec->url.target.size() + v.spec->http->method.size();
    if (v.spec->http->expect_body) n += v.spec->http->expect_body->size();
    for (const auto& [k, x] : v.spec->http->headers) n += k.size() + x.size() + 4;
  }
  return n;
}
std::size_t value_bytes(const Observation&) { return 32; }
std::size_t value_bytes(std::int64_t) { return 9; }
std::size_t value_bytes(const SetMark&) { return 1; }
std::size_t value_bytes(const AppliedRequest& r) { return 40 + r.body.size(); }
std::size_t value_bytes(const AlertRecord&) { return 24; }
std::size_t value_bytes(const RouteVersion& v) {
  std::size_t n = 128;
  if (v.route) {
    n += v.route->name.size() + v.route->url.size();
    for (const std::string& t : v.route->targets) n += t.size() + 2;
  }
  return n;
}

template <typename V>
const V* find_value(const DotMap<Name, DotFun<V>>& store, const std::string& key, Dot d) {
  const DotFun<V>* fun = store.find(key);
  if (!fun) return nullptr;
  for (const auto& [dot, v] : fun->entries()) {
    if (dot == d) return &v;
  }
  return nullptr;
}

// The spec pool's name table (making the pool when the config gave none),
// held through the pool: the state's keys are interned where decoded keys are.
std::shared_ptr<NameTable> pool_names(std::shared_ptr<SpecPool>& pool) {
  if (!pool) pool = std::make_shared<SpecPool>();
  return std::shared_ptr<NameTable>(pool, &pool->names());
}

}  // namespace

Replicator::Replicator(ReplicatorConfig config, wire::Header self, ReplicaId replica, std::uint64_t seed,
                       BroadcastQueue* broadcasts)
    : config_(std::move(config)),
      self_(std::move(self)),
      rng_(seed),
      broadcasts_(broadcasts),
      state_(replica, pool_names(config_.spec_pool)),
      clock_(config_.max_hlc_forward) {
  assert(replica != 0);
  assert(config_.max_packet_bytes > 0 && config_.max_pending_keys > 0);
  self_name_ = config_.spec_pool->names().intern(self_.sender);
  datagram_room_ = wire::PacketBuilder(self_, config_.max_packet_bytes).remaining();
  state_.set_live_sink(digest_index_.get());
}

// ------------------------------------------------------------------ inputs

void Replicator::start(Instant now, Effects& out) {
  const Duration first = rng_.duration_between(Duration::zero(), config_.anti_entropy_interval);
  anti_entropy_at_ = now + first;
  out.push_back(SetTimer{kAntiEntropyTimer, anti_entropy_at_});
}

void Replicator::put_target(Instant now, TargetSpec spec, Effects& out) {
  const std::string key = "t:" + spec.id.str();
  apply_local(now, key, state_.put_target(clock_.tick(now), std::move(spec)), out);
}

void Replicator::settle_target(Instant now, const SpecVersion& winner, Effects& out) {
  assert(winner.spec && winner.writer == state_.self());
  apply_local(now, "t:" + winner.spec->id.str(), state_.put_target(winner.written_at, *winner.spec), out);
}

void Replicator::remove_target(Instant now, const std::string& id, Effects& out) {
  apply_local(now, "t:" + id, state_.remove_target(clock_.tick(now), id), out);
}

Observation Replicator::observe(Instant now, const std::string& id, Observation o, Effects& out,
                                std::span<const std::string> keep_observers) {
  o.observed_at = clock_.tick(now);
  o.observer = state_.self();
  o.observer_name = self_name_;
  // Nobody waits on an observation: its flush is paced (flush_gap).
  if (keep_observers.empty()) {
    apply_local(now, "t:" + id, state_.observe(id, o), out, Flush::paced);
  } else {
    const auto keep = [&](const Observation& other) {
      return std::find(keep_observers.begin(), keep_observers.end(), other.observer_name) != keep_observers.end();
    };
    apply_local(now, "t:" + id, state_.observe(id, o, keep), out, Flush::paced);
  }
  return o;
}

void Replicator::add_to_counter(Instant now, const std::string& name, std::int64_t amount, Effects& out) {
  apply_local(now, "c:" + name, state_.add_to_counter(name, amount), out);
}

void Replicator::add_to_set(Instant now, const std::string& name, const std::string& member, Effects& out) {
  apply_local(now, "s:" + set_key(name, member), state_.add_to_set(name, member), out);
}

void Replicator::remove_from_set(Instant now, const std::string& name, const std::string& member, Effects& out) {
  apply_local(now, "s:" + set_key(name, member), state_.remove_from_set(name, member), out);
}

void Replicator::record_request(Instant now, const std::string& key, AppliedRequest r, Effects& out) {
  const std::string write = last_write_key_;
  expire_requests(now, out);
  r.applied_at = clock_.tick(now);
  HealthDelta d = state_.record_request(key, std::move(r));
  // The record travels with the write it answers, in its own group (so a
  // hot key's group, such as a counter's, does not collect every record):
  // one delta part holds the record and the write's buffered group, so a
  // peer that gets the record gets the write.
  if (const auto* it = pending_.find(write)) d.join(*it->second.group);
  apply_local(now, "k:" + key, d, out);
}

void Replicator::record_alert(Instant now, const std::string& target, const std::string& route, AlertRecord r,
                              Effects& out) {
  r.sent_at = clock_.tick(now);
  apply_local(now, "a:" + alert_key(target, route), state_.record_alert(target, route, std::move(r)), out);
}

void Replicator::put_route(Instant now, AlertRoute route, Effects& out) {
  const std::string key = "n:" + route.name;
  const HlcTimestamp at = clock_.tick(now);
  apply_local(now, key, state_.put_route(at, std::move(route)), out);
}

void Replicator::remove_route(Instant now, const std::string& name, Effects& out) {
  apply_local(now, "n:" + name, state_.remove_route(name), out);
}

namespace {
// The wall-clock ms before which a record kept `retention` is due at `now`.
std::uint64_t expire_before_ms(Instant now, Duration retention) {
  const std::int64_t ms = now.ms() - retention.ms();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}
}  // namespace

void Replicator::expire_requests(Instant now, Effects& out) {
  if (state_.request_records() == 0) return;
  const std::uint64_t before = expire_before_ms(now, config_.request_retention);
  const auto oldest = state_.oldest_request();
  if (oldest->wall_ms() >= before && state_.request_records() <= config_.max_request_records) return;
  HealthDelta d = state_.expire_requests(before, config_.max_request_records, config_.max_request_removals);
  if (d.requests.context.empty()) return;
  ++counters_.request_gc_rounds;
  apply_local(now, "k:~gc", d, out);
}

void Replicator::expire_removals(Instant now, Effects& out) {
  const auto oldest = state_.oldest_removal();
  if (!oldest) return;
  const std::uint64_t before = expire_before_ms(now, config_.removal_retention);
  if (oldest->wall_ms() >= before) return;
  HealthDelta d = state_.expire_removals(before, config_.max_request_removals);
  if (d.registry.context.empty()) return;
  ++counters_.removal_gc_rounds;
  apply_local(now, "t:~gc", d, out);
}

void Replicator::apply_local(Instant now, const std::string& key, const HealthDelta& d, Effects& out, Flush when) {
  ++counters_.local_writes;
  last_write_key_ = key;
  buffer(key, std::make_shared<const HealthDelta>(d));
  arm_flush(now, out, when);
}

void Replicator::handle_part(Instant now, const wire::Header& from, const wire::Part& part, Channel,
                             std::span<const Peer> peers, Effects& out) {
  switch (part.type) {
    case wire::PartType::delta: on_delta(now, part, peers, out); break;
    case wire::PartType::digest: on_digest(now, from, part, out); break;
    case wire::PartType::repair: on_repair(now, part); break;
    default: ++counters_.unknown_parts; break;
  }
}

void Replicator::handle_timer(Instant now, TimerKey key, std::span<const Peer> peers, Effects& out) {
  if (key == kFlushTimer) {
    if (flush_at_ == Instant::max()) return;  // stale
    if (now < flush_at_) {
      out.push_back(SetTimer{kFlushTimer, flush_at_});
      return;
    }
    flush_at_ = Instant::max();
    ++counters_.flushes;
    flush(now, peers, out);
  } else if (key == kAntiEntropyTimer) {
    if (anti_entropy_at_ != Instant::max() && now < anti_entropy_at_) {
      out.push_back(SetTimer{kAntiEntropyTimer, anti_entropy_at_});
      return;
    }
    anti_entropy(now, peers, out);
    expire_requests(now, out);
    expire_removals(now, out);
  }
}

void Replicator::join_snapshot(const HealthDelta& snapshot) {
  state_.join(snapshot);
}

// ----------------------------------------------------------- dissemination

void Replicator::buffer(const std::string& key, std::shared_ptr<const HealthDelta> d,
                        std::optional<wire::EncodedPart> encoded_d) {
  auto* it = pending_.find(key);
  const bool fresh = it == nullptr;
  if (fresh) it = pending_.insert(key, Pending{});
  Pending& p = it->second;
  const HealthDelta* received = d.get();
  if (fresh) {
    p.group = std::move(d);
  } else {
    auto joined = std::make_shared<HealthDelta>(*p.group);
    joined->join(*d);
    const HealthDelta& g = *joined;
    if (g.registry.context.cloud().size() + g.observations.context.cloud().size() +
            g.counters.context.cloud().size() + g.sets.context.cloud().size() + g.requests.context.cloud().size() +
            g.alerts.context.cloud().size() + g.routes.context.cloud().size() >
        kMaxGroupCloudDots) {
      p.group = std::move(d);
    } else {
      if (encoded_d) ++counters_.deltas_regrouped;  // a received body, sent on as part of a new one
      p.group = std::move(joined);
    }
  }
  // The group is `d` itself (not a join with an older group): its part is
  // the one given, if any.
  p.as_received = p.group.get() == received && encoded_d.has_value();
  if (p.group.get() == received) p.own = false;
  if (!encoded_d) p.own = true;
  const auto max_transmits = p.own ? std::uint32_t{0} : static_cast<std::uint32_t>(config_.forward_transmits);
  p.part = p.as_received ? std::move(*encoded_d) : wire::EncodedPart{};
  // The newest sequence goes last; the key's older entry, if any, is stale now.
  p.written = ++write_seq_;
  by_written_.push_back(Written{p.written, it});
  if (by_written_.size() > 2 * pending_.size() + 64) compact_written();
  if (!p.dirty) {
    p.dirty = true;
    dirty_.push_back(key);
  }
  // Parts over one datagram are not piggybacked (eager push sends them by stream).
  const wire::EncodedPart& part = encoded(p);
  if (part.bytes.size() <= datagram_room_) {
    if (broadcasts_) {
      broadcasts_->push("r:" + key, part, BroadcastQueue::Lane::after, max_transmits);
    } else {
      if (outbox_.size() >= config_.max_pending_keys) outbox_.pop_front();
      outbox_.push_back(Outgoing{"r:" + key, part, false, max_transmits});
    }
    ++counters_.deltas_queued;
  }
  evict_over_cap();
}

void Replicator::evict_over_cap() {
  // A group not yet flushed is kept past the cap until the flush: evicting
  // it would lose its eager push (a burst of local writes larger than the
  // cap would otherwise reach peers only by anti-entropy).
  while (pending_.size() > config_.max_pending_keys) {
    const Written& oldest = by_written_.front();  // pending keys each have a live entry
    const Pending& p = oldest.entry->second;
    if (p.written == oldest.seq) {
      if (p.dirty) break;
      pending_.erase(oldest.entry->first);
      ++counters_.pending_evicted;
    }
    by_written_.pop_front();
  }
}

void Replicator::compact_written() {
  std::erase_if(by_written_, [](const Written& w) { return w.entry->second.written != w.seq; });
}

const wire::EncodedPart& Replicator::encoded(Pending& p) {
  if (p.part.bytes.empty()) p.part = wire::encode_part(wire::PartType::delta, encode_delta(*p.group));
  return p.part;
}

void Replicator::take_broadcasts(BroadcastQueue& queue) {
  for (Outgoing& o : outbox_) {
    if (o.rumor && queue.size() >= config_.max_rumor_queue) {
      ++counters_.rumors_skipped;
      continue;
    }
    if (o.rumor) ++counters_.rumors_queued;
    queue.push(std::move(o.key), std::move(o.part), BroadcastQueue::Lane::after, o.max_transmits);
  }
  outbox_.clear();
  queue_size_seen_ = queue.size();
}

void Replicator::rumor(const std::string& key, const wire::Part& part) {
  // The queue's size as last seen: a full queue costs no copy.
  const std::size_t queued = broadcasts_ ? broadcasts_->size() : queue_size_seen_ + outbox_.size();
  if (queued >= config_.max_rumor_queue) {
    ++counters_.rumors_skipped;
    return;
  }
  wire::EncodedPart encoded = wire::encode_part(wire::PartType::delta, part.body);
  if (encoded.bytes.size() > datagram_room_) return;
  if (broadcasts_) {
    ++counters_.rumors_queued;
    broadcasts_->push(rumor_key(key), std::move(encoded), BroadcastQueue::Lane::after);
    return;
  }
  if (outbox_.size() >= config_.max_pending_keys) outbox_.pop_front();
  outbox_.push_back(Outgoing{rumor_key(key), std::move(encoded), true});
}

std::size_t eager_push_peers(const ReplicatorConfig& config, std::size_t others) {
  return others <= config.max_direct_peers ? others : std::min(others, config.fanout);
}

void Replicator::arm_flush(Instant now, Effects& out, Flush when) {
  Instant at = now + config_.flush_delay;
  if (when == Flush::paced && last_flush_ && config_.flush_gap > Duration{}) {
    at = std::max(at, *last_flush_ + config_.flush_gap);
  }
  if (flush_at_ <= at) return;  // armed already, as early (a prompt write pulls a paced flush in)
  flush_at_ = at;
  out.push_back(SetTimer{kFlushTimer, flush_at_});
}

std::vector<const Peer*> Replicator::pick_peers(std::span<const Peer> peers, std::size_t k) {
  std::vector<const Peer*> pool;
  for (const Peer& p : peers) {
    if (!is_self(p)) pool.push_back(&p);
  }
  const std::size_t n = std::min(k, pool.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng_.below(pool.size() - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(n);
  return pool;
}

void Replicator::flush(Instant now, std::span<const Peer> peers, Effects& out) {
  std::sort(dirty_.begin(), dirty_.end());
  dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
  std::vector<Pending*> small_groups;  // this agent's groups that fit a datagram
  std::vector<const wire::EncodedPart*> small, large, forwarded;
  const std::size_t room = datagram_room_;
  for (const std::string& key : dirty_) {
    auto* it = pending_.find(key);
    if (it == nullptr || !it->second.dirty) continue;  // trimmed since
    it->second.dirty = false;
    const wire::EncodedPart& part = encoded(it->second);
    if (room < part.bytes.size()) {
      large.push_back(&part);
    } else if (it->second.as_received) {
      forwarded.push_back(&part);
    } else {
      small.push_back(&part);
      small_groups.push_back(&it->second);
    }
  }
  dirty_.clear();
  if (small.empty() && large.empty() && forwarded.empty()) return;
  last_flush_ = now;
  // A burst (many groups in one flush) goes as combined deltas: the join of
  // as many groups as fit one datagram, one part, so a receiver decodes
  // and joins one delta per datagram instead of one per key. Received
  // bodies go on as they came, after them. Combined, each forwarder's join
  // of what it happened to receive was a body no one had seen: every
  // receiver decoded and joined it in full, and forwarded it, mixed anew,
  // whenever any of it was news (300 x 3,000, `cluster_bench --joins`: 10,438
  // combined parts built, 71 s wall; sent on as they came: 789, 37 s).
  std::vector<wire::EncodedPart> combined;
  if (config_.combine_from != 0 && small.size() >= config_.combine_from) {
    combined = combine(small_groups, room);
    small.clear();
    for (const wire::EncodedPart& part : combined) small.push_back(&part);
  }
  small.insert(small.end(), forwarded.begin(), forwarded.end());
  // Every peer gets the same datagrams (the envelope names the sender, not
  // the receiver): packed once, their bytes shared by every peer's Send.
  std::vector<SharedBytes> packets;
  {
    wire::PacketBuilder b(self_, config_.max_packet_bytes);
    for (const wire::EncodedPart* part : small) {
      if (!b.try_add(*part)) {
        packets.push_back(b.finish());
        b.add(*part);
      }
    }
    if (!b.empty()) packets.push_back(b.finish());
  }
  for (const Peer* peer : pick_peers(peers, eager_push_peers(config_, other_peers(peers)))) {
    counters_.deltas_sent += small.size();
    for (const SharedBytes& bytes : packets) {
      ++counters_.packets_sent;
      counters_.bytes_sent += bytes.size();
      counters_.datagram_bytes_sent += bytes.size();
      out.push_back(Send{peer->address, Channel::datagram, bytes});
    }
    for (const wire::EncodedPart* part : large) {
      ++counters_.oversized_deltas;
      ++counters_.deltas_sent;
      send(peer->address, Channel::stream, {*part}, out);
    }
  }
  evict_over_cap();
}

std::vector<wire::EncodedPart> Replicator::combine(std::span<Pending* const> groups, std::size_t room) {
  std::vector<wire::EncodedPart> out;
  HealthDelta joined;      // the join of groups[first, i)
  std::size_t first = 0;
  std::size_t bytes = 0;   // their parts' sizes, summed: the combined part is no larger
  auto emit = [&](std::size_t end) {
    if (end - first == 1) {
      out.push_back(encoded(*groups[first]));
    } else if (end > first) {
      wire::EncodedPart part = wire::encode_part(wire::PartType::delta, encode_delta(joined));
      if (part.bytes.size() <= room) {
        ++counters_.deltas_combined;
        out.push_back(std::move(part));
      } else {  // not expected (a join encodes no larger than its parts), but never an oversized datagram
        for (std::size_t k = first; k < end; ++k) out.push_back(encoded(*groups[k]));
      }
    }
    joined = HealthDelta{};
    first = end;
    bytes = 0;
  };
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::size_t size = encoded(*groups[i]).bytes.size();
    if (i > first && bytes + size > room) emit(i);
    joined.join(*groups[i]->group);
    bytes += size;
  }
  emit(groups.size());
  return out;
}

std::size_t Replicator::other_peers(std::span<const Peer> peers) const {
  return static_cast<std::size_t>(
      std::count_if(peers.begin(), peers.end(), [&](const Peer& p) { return !is_self(p); }));
}

void Replicator::on_delta(Instant now, const wire::Part& part, std::span<const Peer> peers, Effects& out) {
  ++counters_.deltas_received;
  // A copy of a body joined here before changes nothing (seen_bodies.h).
  const SeenBodies::Hash seen = SeenBodies::hash(part.body);
  if (seen_.contains(seen)) {
    ++counters_.deltas_seen;
    return;
  }
  // A body decoded before (by any agent sharing the pool) is not decoded again.
  const HealthDelta* d = config_.delta_pool ? config_.delta_pool->find(part.body, config_.codec) : nullptr;
  std::shared_ptr<const HealthDelta> decoded_here;  // keeps d alive past an eviction
  if (!d) {
    auto decoded = decode_delta(part.body, config_.codec, config_.spec_pool.get());
    if (!decoded) return malformed("delta: " + decoded.error());
    decoded_here = std::make_shared<const HealthDelta>(std::move(*decoded));
    if (config_.delta_pool) config_.delta_pool->insert(part.body, config_.codec, decoded_here);
    d = decoded_here.get();
  }
  observe_clock(now, *d);
  // New dots, or the removal of entries we still held: both are news.
  const bool news = state_.join(*d);
  seen_.insert(seen);
  if (!news) return;
  ++counters_.deltas_joined;
  // Up to max_direct_peers the writer pushed it to every peer itself and
  // piggybacks its own copies: a receiver forwarding it too would multiply
  // the traffic by the cluster size, and buffering it would only duplicate
  // what state repair covers.
  // (A view lists this agent at most once, so its size tells the mode but
  // at one size: only there are names compared, not for every delta.)
  if (peers.size() <= config_.max_direct_peers ||
      (peers.size() == config_.max_direct_peers + 1 && other_peers(peers) <= config_.max_direct_peers)) {
    // A status change: rumoured on our own membership packets (see the header).
    // (Not a vouch: a refresh, not a change; its loss only ages a report.)
    const auto& obs = d->observations.store.entries();
    if (config_.max_rumor_queue > 0 && !obs.empty() && !is_vouch_subject(obs.begin()->first)) {
      if (auto subject = subject_of(*d)) rumor(*subject, part);
    }
    return;
  }
  // Infect and forward: buffer it under its subject (or alone), queue it,
  // and push it on at the next flush.
  // The group is the decoded delta itself, and its part the body as it
  // came (sent on unchanged, like a rumour): both shared with the pool
  // (and, in the simulator, with every other forwarder of it), neither
  // copied nor encoded again.
  std::optional<DeltaPool::Shared> pooled;
  if (config_.delta_pool) pooled = config_.delta_pool->share(part.body, config_.codec);
  std::shared_ptr<const HealthDelta> shared = pooled ? std::move(pooled->delta) : decoded_here;
  if (!shared) shared = std::make_shared<const HealthDelta>(*d);
  wire::EncodedPart forwarded =
      pooled ? std::move(pooled->part) : wire::encode_part(wire::PartType::delta, part.body);
  auto subject = subject_of(*d);
  buffer(subject ? *subject : fmt::format("x:{}", write_seq_ + 1), std::move(shared), std::move(forwarded));
  arm_flush(now, out, Flush::prompt);
}

// ------------------------------------------------------------ anti-entropy

void Replicator::anti_entropy(Instant now, std::span<const Peer> peers, Effects& out) {
  anti_entropy_at_ = now + rng_.duration_between(config_.anti_entropy_interval * 9 / 10,
                                                 config_.anti_entropy_interval * 11 / 10);
  out.push_back(SetTimer{kAntiEntropyTimer, anti_entropy_at_});
  trim(peers);
  auto chosen = pick_peers(peers, 1);
  if (chosen.empty()) return;
  start_anti_entropy(now, *chosen.front(), out);
}

void Replicator::start_anti_entropy(Instant, const Peer& peer, Effects& out) {
  Digest d = digest();
  d.reply = true;
  ++counters_.digests_sent;
  send(peer.address, Channel::stream, {wire::encode_part(wire::PartType::digest, encode_digest(d))}, out);
}

void Replicator::trim(std::span<const Peer> peers) {
  // Past max_known_peers peers' contexts are not kept (see the header).
  tracking_peers_ = other_peers(peers) <= config_.max_known_peers;
  if (!tracking_peers_) {
    known_.clear();
    return;
  }
  // Forget peers no longer in the view.
  for (auto it = known_.begin(); it != known_.end();) {
    const bool live = std::any_of(peers.begin(), peers.end(), [&](const Peer& p) { return p.name == it->first; });
    it = live ? std::next(it) : known_.erase(it);
  }
  std::vector<const Digest*> views;
  for (const Peer& p : peers) {
    if (is_self(p)) continue;
    auto it = known_.find(p.name);
    if (it == known_.end()) return;  // a peer we know nothing of: keep everything
    views.push_back(&it->second);
  }
  // A dirty key left in dirty_ is skipped by the flush.
  counters_.pending_trimmed += pending_.erase_if([&](const auto& entry) {
    const HealthDelta& g = *entry.second.group;
    const bool acked = std::all_of(views.begin(), views.end(), [&](const Digest* v) {
      return v->registry.includes(g.registry.context) && v->observations.includes(g.observations.context) &&
             v->counters.includes(g.counters.context) && v->sets.includes(g.sets.context) &&
             v->requests.includes(g.requests.context) && v->alerts.includes(g.alerts.context) &&
             v->routes.includes(g.routes.context);
    });
    return acked;  // its by_written_ entry is stale now
  });
}

void Replicator::remember(const std::string& peer, const Digest& d) {
  if (!tracking_peers_) return;
  if (!known_.contains(peer) && known_.size() >= config_.max_known_peers) return;
  Digest& k = known_[peer];
  k.registry = d.registry;
  k.observations = d.observations;
  k.counters = d.counters;
  k.sets = d.sets;
  k.requests = d.requests;
  k.alerts = d.alerts;
  k.routes = d.routes;
}

void Replicator::DigestIndex::live_dot(int store, const Name& key, Dot dot, bool added) {
  const std::uint16_t b = bucket_of(key);
  const std::uint64_t h = entry_hash(key.hash(), store, dot);  // XXH64(key), seed 0: the Name carries it
  hashes[b] = added ? hashes[b] + h : hashes[b] - h;
}

std::vector<std::vector<Replicator::KeyRef>> Replicator::keys_by_bucket(
    const std::vector<std::uint16_t>& buckets) const {
  std::vector<std::vector<KeyRef>> out(kDigestBuckets);
  std::bitset<kDigestBuckets> wanted;
  for (std::uint16_t b : buckets) wanted.set(b);
  if (wanted.none()) return out;
  const auto& st = state_.state();
  // Each key's bucket and hash are in its Name's entry. (Gathering the keys
  // first and prefetching their entries 16 ahead made no difference a
  // measurement could tell: main row A/B 0.97, 300 x 3,000 0.98 without
  // it: the scan's cost is the walk of the map's nodes.)
  auto scan = [&](std::uint32_t store, const auto& map) {
    map.for_each_key([&](const Name& key) {
      const std::uint16_t b = bucket_of(key);
      if (wanted.test(b)) out[b].push_back(KeyRef{&key, key.hash(), store});
    });
  };
  scan(0, st.registry.store);
  scan(1, st.observations.store);
  scan(2, st.counters.store);
  scan(3, st.sets.store);
  scan(4, st.requests.store);
  scan(5, st.alerts.store);
  scan(6, st.routes.store);
  for (std::uint16_t b : buckets) {
    std::sort(out[b].begin(), out[b].end(), [](const KeyRef& x, const KeyRef& y) {
      if (x.store != y.store) return x.store < y.store;
      if (x.hash != y.hash) return x.hash < y.hash;
      return *x.key < *y.key;
    });
  }
  return out;
}

ScopeKeys Replicator::keys_in(const std::vector<std::uint16_t>& buckets) const {
  ScopeKeys here;
  const auto by_bucket = keys_by_bucket(buckets);
  for (std::uint16_t b : buckets) {
    for (const KeyRef& r : by_bucket[b]) {
      auto& out = r.store == 0   ? here.registry
                  : r.store == 1 ? here.observations
                  : r.store == 2 ? here.counters
                  : r.store == 3 ? here.sets
                  : r.store == 4 ? here.requests
                  : r.store == 5 ? here.alerts
                                 : here.routes;
      out.push_back(*r.key);
    }
  }
  return here;
}

bool Replicator::digest_index_consistent() const {
  DigestIndex fresh;
  const auto& st = state_.state();
  auto add = [&](int store, const auto& entries) {
    for (const auto& [key, fun] : entries) {
      for (const auto& entry : fun.entries()) fresh.live_dot(store, key, entry.first, true);
    }
  };
  add(0, st.registry.store.entries());
  add(1, st.observations.store.entries());
  add(2, st.counters.store.entries());
  add(3, st.sets.store.entries());
  add(4, st.requests.store.entries());
  add(5, st.alerts.store.entries());
  add(6, st.routes.store.entries());
  return fresh.hashes == digest_index_->hashes;
}

Digest Replicator::digest() const {
  const auto& s = state_.state();
  Digest d;
  d.replica = state_.self();
  d.registry = s.registry.context;
  d.observations = s.observations.context;
  d.counters = s.counters.context;
  d.sets = s.sets.context;
  d.requests = s.requests.context;
  d.alerts = s.alerts.context;
  d.routes = s.routes.context;
  d.hashes = digest_index_->hashes;
  return d;
}

void Replicator::on_digest(Instant, const wire::Header& from, const wire::Part& part, Effects& out) {
  auto d = decode_digest(part.body, config_.codec);
  if (!d) return malformed("digest: " + d.error());
  ++counters_.digests_received;
  remember(from.sender, *d);
  RepairPlan plan = plan_repair(*d);
  std::vector<wire::EncodedPart> parts;
  if (plan.repair) {
    ++counters_.repairs_sent;
    parts.push_back(wire::encode_part(wire::PartType::repair, encode_repair(*plan.repair)));
  }
  if (d->reply && plan.we_lack) {
    Digest mine = digest();
    mine.reply = false;
    ++counters_.digests_sent;
    parts.push_back(wire::encode_part(wire::PartType::digest, encode_digest(mine)));
  }
  if (parts.empty()) {
    ++counters_.digests_in_sync;
    return;
  }
  send(from.address, Channel::stream, parts, out);
}

Replicator::RepairPlan Replicator::plan_repair(const Digest& peer) {
  RepairPlan plan;
  const auto& s = state_.state();
  std::vector<std::uint16_t> differing;
  for (std::size_t b = 0; b < kDigestBuckets; ++b) {
    if (peer.hashes.size() != kDigestBuckets || peer.hashes[b] != digest_index_->hashes[b]) {
      differing.push_back(static_cast<std::uint16_t>(b));
    }
  }
  const bool peer_lacks = !peer.registry.includes(s.registry.context) ||
                          !peer.observations.includes(s.observations.context) ||
                          !peer.counters.includes(s.counters.context) || !peer.sets.includes(s.sets.context) ||
                          !peer.requests.includes(s.requests.context) || !peer.alerts.includes(s.alerts.context) ||
                          !peer.routes.includes(s.routes.context);
  const bool we_lack_dots =
      !s.registry.context.includes(peer.registry) || !s.observations.context.includes(peer.observations) ||
      !s.counters.context.includes(peer.counters) || !s.sets.context.includes(peer.sets) ||
      !s.requests.context.includes(peer.requests) || !s.alerts.context.includes(peer.alerts) ||
      !s.routes.context.includes(peer.routes);
  plan.we_lack = !differing.empty() || we_lack_dots;
  if (differing.empty() && !peer_lacks) return plan;
  if (peer_lacks) {
    if (auto r = delta_repair(peer)) {
      ++counters_.delta_repairs_sent;
      plan.repair = std::move(r);
      return plan;
    }
  } else if (we_lack_dots) {
    // The peer is ahead: it has seen every dot of ours, and holds dots we
    // lack, which is why the buckets differ. A state repair would bring it
    // nothing (each entry elided, each removal of ours applied there
    // already) and cost a scan of our keys and every entry of the
    // differing buckets both ways: 70% of a 1,000-agent row's state
    // repairs. Our digest goes back instead (we_lack), so the peer repairs
    // us. With equal contexts, differing buckets mean that one of us holds
    // an entry the other removed (the partial-repair gap, header): that
    // still gets a state repair, below.
    ++counters_.state_repairs_skipped;
    return plan;
  }
  ++counters_.state_repairs_sent;
  plan.repair = state_repair(peer, differing);
  return plan;
}

std::optional<Repair> Replicator::delta_repair(const Digest& peer) {
  const auto& s = state_.state();
  // The dots the peer lacks, per store, at most max_missing_dots in all:
  // usually a few. Only those are looked for in the buffer (an index of
  // every buffered dot, built per digest, cost a forwarder O(buffer log
  // buffer) per digest: 4,096 groups in gossip mode).
  std::vector<Dot> missing[7];
  std::uint64_t budget = config_.max_missing_dots;
  auto collect = [&](const CausalContext& theirs, const CausalContext& ours, std::vector<Dot>& out) {
    const bool all = theirs.for_each_missing(ours, budget, [&](Dot d) { out.push_back(d); });
    budget -= std::min<std::uint64_t>(budget, out.size());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return all;
  };
  if (!collect(peer.registry, s.registry.context, missing[0]) ||
      !collect(peer.observations, s.observations.context, missing[1]) ||
      !collect(peer.counters, s.counters.context, missing[2]) || !collect(peer.sets, s.sets.context, missing[3]) ||
      !collect(peer.requests, s.requests.context, missing[4]) ||
      !collect(peer.alerts, s.alerts.context, missing[5]) || !collect(peer.routes, s.routes.context, missing[6])) {
    return std::nullopt;
  }
  std::size_t wanted = 0;
  for (const auto& m : missing) wanted += m.size();
  if (wanted == 0) return std::nullopt;
  // The buffered group holding each missing dot: the most recently changed
  // one, found by walking the groups newest first and stopping once every
  // missing dot has its holder. What a peer lacks is nearly always recent,
  // so the walk ends after a few groups; walking every group (a gossip-mode
  // forwarder buffers 4,096, each a few cache misses away) to take the
  // least key holding each dot was a quarter of a 300-agent run. A dot held
  // by no group still costs the whole walk (then a state repair follows).
  std::vector<const std::string*> holder[7];
  for (int i = 0; i < 7; ++i) holder[i].assign(missing[i].size(), nullptr);
  std::size_t found = 0;
  auto visit = [&](const std::string& key, const HealthDelta& g) {
    auto look = [&](const CausalContext& c, int store) {
      const std::vector<Dot>& m = missing[store];
      if (m.empty()) return;
      for_each_context_dot(c, kMaxGroupIndexDots, [&](Dot d) {
        auto it = std::lower_bound(m.begin(), m.end(), d);
        if (it == m.end() || *it != d) return;
        const std::string*& h = holder[store][static_cast<std::size_t>(it - m.begin())];
        if (!h) {
          h = &key;
          ++found;
        }
      });
    };
    look(g.registry.context, 0);
    look(g.observations.context, 1);
    look(g.counters.context, 2);
    look(g.sets.context, 3);
    look(g.requests.context, 4);
    look(g.alerts.context, 5);
    look(g.routes.context, 6);
  };
  // Every pending group has one live entry in by_written_ (stale ones are
  // skipped), in the order of their last change.
  for (auto w = by_written_.rbegin(); w != by_written_.rend() && found < wanted; ++w) {
    const Pending& p = w->entry->second;
    if (p.written != w->seq) continue;
    visit(w->entry->first, *p.group);
  }
  if (found != wanted) return std::nullopt;
  // The groups, each once, joined in key order.
  std::vector<const std::string*> ordered;
  for (const auto& h : holder) ordered.insert(ordered.end(), h.begin(), h.end());
  std::sort(ordered.begin(), ordered.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  ordered.erase(std::unique(ordered.begin(), ordered.end()), ordered.end());
  Repair r;
  std::size_t bytes = 0;
  for (const std::string* key : ordered) {
    Pending& p = pending_.find(*key)->second;
    bytes += encoded(p).bytes.size();
    if (bytes > config_.max_repair_bytes) return std::nullopt;
    r.delta.join(*p.group);
  }
  return r;
}

Repair Replicator::state_repair(const Digest& peer, const std::vector<std::uint16_t>& differing) {
  const auto& s = state_.state();
  Repair r;
  r.scoped = true;
  r.delta.registry.context = s.registry.context;
  r.delta.observations.context = s.observations.context;
  r.delta.counters.context = s.counters.context;
  r.delta.sets.context = s.sets.context;
  r.delta.requests.context = s.requests.context;
  r.delta.alerts.context = s.alerts.context;
  r.delta.routes.context = s.routes.context;
  std::size_t bytes = 64 + context_bytes(s.registry.context) + context_bytes(s.observations.context) +
                      context_bytes(s.counters.context) + context_bytes(s.sets.context) +
                      context_bytes(s.requests.context) + context_bytes(s.alerts.context) +
                      context_bytes(s.routes.context);
  // Start at a random differing bucket, so that cut repairs cover all buckets over rounds.
  const std::size_t start = differing.empty() ? 0 : static_cast<std::size_t>(rng_.below(differing.size()));
  auto add_entries = [&](const auto& store, const Name& key, const CausalContext& theirs, auto& out_store,
                         ElidedKeys& elided) {
    const auto* fun = store.find(key);
    if (!fun) return;
    std::decay_t<decltype(*fun)> sent;
    for (const auto& [dot, v] : fun->entries()) {
      ++counters_.repair_entries_sent;
      if (theirs.contains(dot)) {
        elided.add(key, dot);
        bytes += 6;
      } else {
        sent.insert(dot, v);
        bytes += 8 + value_bytes(v);
      }
    }
    bytes += key.size() + 4;
    if (!sent.empty()) out_store.put(key, std::move(sent));
  };
  const auto by_bucket = keys_by_bucket(differing);
  for (std::size_t i = 0; i < differing.size(); ++i) {
    const std::uint16_t b = differing[(start + i) % differing.size()];
    if (bytes > config_.max_repair_bytes) {
      r.partial = true;
      break;
    }
    r.buckets.push_back(b);
    for (const KeyRef& e : by_bucket[b]) {
      const Name& key = *e.key;
      if (e.store == 0) add_entries(s.registry.store, key, peer.registry, r.delta.registry.store, r.elided.registry);
      if (e.store == 1) {
        add_entries(s.observations.store, key, peer.observations, r.delta.observations.store, r.elided.observations);
      }
      if (e.store == 2) add_entries(s.counters.store, key, peer.counters, r.delta.counters.store, r.elided.counters);
      if (e.store == 3) add_entries(s.sets.store, key, peer.sets, r.delta.sets.store, r.elided.sets);
      if (e.store == 4) add_entries(s.requests.store, key, peer.requests, r.delta.requests.store, r.elided.requests);
      if (e.store == 5) add_entries(s.alerts.store, key, peer.alerts, r.delta.alerts.store, r.elided.alerts);
      if (e.store == 6) add_entries(s.routes.store, key, peer.routes, r.delta.routes.store, r.elided.routes);
    }
  }
  if (r.partial) ++counters_.partial_repairs_sent;
  r.for_replica = peer.replica;
  std::sort(r.buckets.begin(), r.buckets.end());
  r.elided.sort();  // keys came bucket by bucket
  return r;
}

void Replicator::on_repair(Instant now, const wire::Part& part) {
  auto r = decode_repair(part.body, config_.codec, config_.spec_pool.get());
  if (!r) return malformed("repair: " + r.error());
  if (r->scoped && r->for_replica != state_.self()) {
    // It answers a digest of another incarnation at our address (we
    // restarted since): its elisions and its buckets assume what we lack.
    ++counters_.misaddressed_repairs;
    return;
  }
  ++counters_.repairs_received;
  observe_clock(now, r->delta);
  if (!r->scoped) {
    state_.join(r->delta);
    return;
  }
  // Elided values: the dots we have seen. Where we still hold the entry we
  // supply our own copy; where we do not, we removed it (the dot is in our
  // context), and the join would drop it anyway.
  const auto& s = state_.state();
  NameTable& names = config_.spec_pool->names();
  auto restore = [&names](const auto& mine, const ElidedKeys& elided, auto& store) {
    for (const auto& [key, dots] : elided) {
      const auto* have = store.find(key);
      auto fun = have ? *have : std::decay_t<decltype(*have)>{};
      for (const Dot& d : dots) {
        if (const auto* v = find_value(mine, key, d)) fun.insert(d, *v);
      }
      if (!fun.empty()) store.put(names.intern(key), std::move(fun));
    }
  };
  restore(s.registry.store, r->elided.registry, r->delta.registry.store);
  restore(s.observations.store, r->elided.observations, r->delta.observations.store);
  restore(s.counters.store, r->elided.counters, r->delta.counters.store);
  restore(s.sets.store, r->elided.sets, r->delta.sets.store);
  restore(s.requests.store, r->elided.requests, r->delta.requests.store);
  restore(s.alerts.store, r->elided.alerts, r->delta.alerts.store);
  restore(s.routes.store, r->elided.routes, r->delta.routes.store);
  state_.join_scoped(r->delta, keys_in(r->buckets), !r->partial);
}

// -------------------------------------------------------------------- misc

void Replicator::observe_clock(Instant now, const HealthDelta& d) {
  // In slot order: the clock keeps the greatest timestamp it accepts and
  // counts each one it rejects, whatever the order (entries() would sort a
  // repair's thousands of keys first).
  auto observe = [&](const auto& store, auto stamp) {
    store.for_each_entry([&](const Name&, const auto& fun) {
      for (const auto& [dot, v] : fun.entries()) clock_.observe(now, stamp(v));
    });
  };
  observe(d.observations.store, [](const Observation& o) { return o.observed_at; });
  observe(d.registry.store, [](const SpecVersion& v) { return v.written_at; });
  observe(d.requests.store, [](const AppliedRequest& v) { return v.applied_at; });
  observe(d.alerts.store, [](const AlertRecord& v) { return v.sent_at; });
  observe(d.routes.store, [](const RouteVersion& v) { return v.written_at; });
  counters_.hlc_rejected_ahead = clock_.rejected_ahead();
}

void Replicator::send(const Address& to, Channel channel, const std::vector<wire::EncodedPart>& parts, Effects& out) {
  Bytes bytes = wire::encode(self_, parts);
  ++counters_.packets_sent;
  counters_.bytes_sent += bytes.size();
  (channel == Channel::stream ? counters_.stream_bytes_sent : counters_.datagram_bytes_sent) += bytes.size();
  out.push_back(Send{to, channel, std::move(bytes)});
}

void Replicator::malformed(std::string what) {
  ++counters_.malformed_parts;
  last_malformed_ = std::move(what);
}

}  // namespace heck
