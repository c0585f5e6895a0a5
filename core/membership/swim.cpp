#include "core/membership/swim.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <tuple>
#include <utility>

#include <xxhash.h>

namespace heck {
namespace {

constexpr std::uint64_t kSingleton = 0;  // timer id of the once-per-node timers

std::string broadcast_key(std::string_view member) {
  std::string key = "m:";
  key += member;
  return key;
}

// Precedence of updates about one member: (incarnation, state, address),
// lexicographic. A total order, so "keep the greatest" is a join.
auto rank(std::uint64_t incarnation, MemberState state, std::string_view address) {
  return std::make_tuple(incarnation, static_cast<std::uint8_t>(state), std::string_view(address));
}

bool is_live(MemberState s) { return s == MemberState::alive || s == MemberState::suspect; }

// What `m` holds outranks or equals an update at (incarnation, state,
// address): applying it changes nothing.
bool holds_at_least(const MemberInfo& m, std::uint64_t incarnation, MemberState state, std::string_view address) {
  return rank(incarnation, state, address) <= rank(m.incarnation, m.state, m.address);
}

}  // namespace

bool is_membership_part(wire::PartType type) {
  const auto t = static_cast<std::uint16_t>(type);
  return t >= 1 && t <= 31;
}

Swim::Swim(SwimConfig config, std::string name, Address address, std::uint64_t seed)
    : config_(config),
      self_(std::move(name)),
      address_(std::move(address)),
      rng_(seed),
      names_(own_names(config_.names)),
      broadcasts_(config.retransmit_mult, std::max<std::size_t>(1, config.max_broadcasts), names_),
      awareness_(config.lifeguard ? config.max_awareness_multiplier : 1),
      join_backoff_(config.min_join_backoff) {
  assert(!self_.empty() && self_.size() <= wire::kMaxNameBytes);
  assert(!address_.empty() && address_.size() <= wire::kMaxAddressBytes);
  assert(config_.probe_interval > Duration::zero() && config_.probe_timeout > Duration::zero());
  assert(config_.gossip_interval > Duration::zero() && config_.push_pull_interval > Duration::zero());
  Member m;
  m.info = MemberInfo{names_->intern(self_), names_->intern(address_), MemberState::alive, 0, Instant{}};
  m.used = true;
  members_.push_back(std::move(m));
  index_.insert(self_, 0);
  by_name_.push_back(0);
  ring_insert(0);
}

// ---------------------------------------------------------------- views

Swim::Member& Swim::self_member() { return members_[0]; }

std::uint64_t Swim::incarnation() const { return members_[0].info.incarnation; }

const Swim::Member* Swim::find_member(std::string_view name) const {
  const auto id = index_.find(name, [this](MemberId i) { return std::string_view(members_[i].info.name); });
  return id ? &members_[*id] : nullptr;
}

Swim::Member* Swim::find_member(std::string_view name) {
  return const_cast<Member*>(std::as_const(*this).find_member(name));
}

const MemberInfo* Swim::member(std::string_view name) const {
  const Member* m = find_member(name);
  return m == nullptr ? nullptr : &m->info;
}

std::vector<MemberInfo> Swim::members() const {
  std::vector<MemberInfo> out;
  out.reserve(by_name_.size());
  for (MemberId id : by_name_) out.push_back(members_[id].info);
  return out;
}

std::vector<const MemberInfo*> Swim::live_members() const {
  std::vector<const MemberInfo*> out;
  out.reserve(live_.size());
  for (MemberId id : by_name_) {
    if (id != 0 && is_live(members_[id].info.state)) out.push_back(&members_[id].info);
  }
  return out;
}

std::size_t Swim::live_count() const { return live_.size() + 1; }

// ---------------------------------------------------------------- sending

void Swim::set_timer(TimerKind kind, std::uint64_t id, Instant at, Effects& out) {
  out.push_back(SetTimer{TimerKey{kind, id}, at});
}

void Swim::cancel_timer(TimerKind kind, std::uint64_t id, Effects& out) {
  out.push_back(CancelTimer{TimerKey{kind, id}});
}

void Swim::send(const Address& to, Channel channel, const std::vector<const wire::EncodedPart*>& parts,
                bool piggyback, Effects& out) {
  const std::size_t limit = channel == Channel::datagram ? config_.max_packet_bytes : SIZE_MAX;
  wire::PacketBuilder b(header(), limit);
  for (const auto* p : parts) {
    if (!b.try_add(*p)) b.add(*p);  // a lone oversized part still goes out
  }
  if (piggyback && channel == Channel::datagram) broadcasts_.fill(b, live_count());
  if (b.empty()) return;
  Bytes bytes = b.finish();
  ++counters_.packets_sent;
  counters_.bytes_sent += bytes.size();
  out.push_back(Send{to, channel, std::move(bytes)});
}

void Swim::send_message(const Address& to, Channel channel, const SwimMessage& m, Effects& out) {
  const wire::EncodedPart part = encode_message(m);
  send(to, channel, {&part}, true, out);
}

void Swim::broadcast(const std::string& about, const SwimMessage& m) {
  broadcasts_.push(broadcast_key(about), encode_message(m));
}

// ---------------------------------------------------------------- the view

Swim::MemberId Swim::add_member(Instant now, const Update& u) {
  MemberId id = static_cast<MemberId>(members_.size());
  if (free_slots_.empty()) {
    members_.emplace_back();
  } else {
    id = free_slots_.back();
    free_slots_.pop_back();
  }
  Member& m = members_[id];
  m = Member{};
  m.info = MemberInfo{names_->intern(u.name), names_->intern(u.address), u.state, u.incarnation, now};
  m.used = true;
  index_.insert(u.name, id);
  const auto at = std::lower_bound(by_name_.begin(), by_name_.end(), u.name,
                                   [this](MemberId i, std::string_view n) { return members_[i].info.name < n; });
  by_name_.insert(at, id);
  return id;
}

void Swim::reap(const std::vector<MemberId>& ids) {
  for (MemberId id : ids) {
    Member& m = members_[id];
    index_.erase(m.info.name, id);
    m = Member{};
    free_slots_.push_back(id);
  }
  // Forget the slots everywhere they are listed: a reused slot is someone else.
  const auto reaped = [this](MemberId id) { return !members_[id].used; };
  std::erase_if(by_name_, reaped);
  std::erase_if(recently_dead_, [&](const auto& e) { return reaped(e.first); });
}

void Swim::live_insert(MemberId id) {
  Member& m = members_[id];
  if (m.live_index != kNoIndex || id == 0) return;
  m.live_index = static_cast<std::uint32_t>(live_.size());
  live_.push_back(id);
}

void Swim::live_erase(MemberId id) {
  Member& m = members_[id];
  if (m.live_index == kNoIndex) return;
  const std::uint32_t i = m.live_index;
  if (i + 1 != live_.size()) {
    live_[i] = live_.back();
    members_[live_[i]].live_index = i;
  }
  live_.pop_back();
  m.live_index = kNoIndex;
}

namespace {
// Stable everywhere (XXH64 is a fixed specification), so every member puts
// the ring in the same order; seeded apart from rendezvous ownership. Not
// by name: names follow failure domains (rack-1-host-3), and a partition
// or a rack lost along a block of adjacent names would shift every
// disagreeing view's offsets the same way (cluster_likes, a crash 5 s after
// n0-n2 | n3-n5 heals: 75 of 500 crashes restarted undetected by name,
// 14 by hash).
std::uint64_t probe_ring_key(std::string_view name) {
  return XXH64(name.data(), name.size(), 0x68656b2d72696e67ULL /* "hek-ring" */);
}
}  // namespace

// The ring holds self and exactly the members in live_ (change() keeps the
// two in step).
std::vector<Swim::RingSlot>::const_iterator Swim::ring_place(MemberId id) const {
  // Ring order: probe_ring_key, then the name. The full key is not kept (a
  // 1,000-member simulation holds a million ring slots); its top 32 bits
  // decide, and on a tie of those the full keys and names are read.
  const std::string_view name = members_[id].info.name;
  const std::uint64_t key = probe_ring_key(name);
  const auto hi = static_cast<std::uint32_t>(key >> 32);
  return std::lower_bound(ring_.begin(), ring_.end(), hi, [&](const RingSlot& a, std::uint32_t) {
    if (a.key_hi != hi) return a.key_hi < hi;
    const std::string_view x = members_[a.id].info.name;
    const std::uint64_t kx = probe_ring_key(x);
    return kx != key ? kx < key : x < name;
  });
}

void Swim::ring_insert(MemberId id) {
  const auto hi = static_cast<std::uint32_t>(probe_ring_key(members_[id].info.name) >> 32);
  ring_.insert(ring_place(id), RingSlot{hi, id});
}

void Swim::ring_erase(MemberId id) {
  const auto at = ring_place(id);
  assert(at != ring_.end() && at->id == id);
  ring_.erase(at);
}

void Swim::change(Instant now, MemberId id, MemberState to, std::uint64_t incarnation,
                  std::string_view address, bool is_new, Effects& out) {
  Member& m = members_[id];
  const MemberState from = m.info.state;
  if (from == MemberState::suspect && to != MemberState::suspect) {
    cancel_timer(TimerKind::swim_suspicion, id, out);
    suspicions_.erase(id);
  }
  if (from != to || is_new) m.info.state_since = now;
  if (!is_new && from == MemberState::dead) --dead_count_;
  if (to == MemberState::dead) ++dead_count_;
  m.info.state = to;
  m.info.incarnation = incarnation;
  if (m.info.address != address) m.info.address = names_->intern(address);
  if (id != 0) {
    if (is_live(to)) {
      if (members_[id].live_index == kNoIndex) ring_insert(id);
      live_insert(id);
    } else {
      if (members_[id].live_index != kNoIndex) ring_erase(id);
      live_erase(id);
      if (from != to || is_new) {
        if (recently_dead_.size() >= config_.max_members) recently_dead_.erase(recently_dead_.begin());
        recently_dead_.emplace_back(id, now);
      }
    }
  }
  out.push_back(MemberChanged{m.info.name, m.info.address, is_new ? to : from, to, incarnation, is_new});
}

SuspicionBounds Swim::suspicion_bounds_now() const {
  return suspicion_bounds(config_.suspicion_mult, config_.max_suspicion_timeout_mult, live_count(),
                          config_.probe_interval, config_.lifeguard);
}

void Swim::start_suspicion(Instant now, MemberId id, std::string_view from, Effects& out) {
  ++counters_.suspicions;
  Suspicion& s = suspicions_[id];
  s.confirmers.assign(1, std::string(from));
  s.start = now;
  s.deadline = now + suspicion_timeout(suspicion_bounds_now(), 0);
  set_timer(TimerKind::swim_suspicion, id, s.deadline, out);
}

bool Swim::Suspicion::confirmed_by(std::string_view name) const {
  return std::find(confirmers.begin(), confirmers.end(), name) != confirmers.end();
}

void Swim::confirm_suspicion(Instant now, MemberId id, std::string_view from, Effects& out) {
  const SuspicionBounds b = suspicion_bounds_now();
  Suspicion& s = suspicions_.at(id);
  if (b.k == 0 || s.confirmers.size() > b.k || s.confirmed_by(from)) return;
  s.confirmers.emplace_back(from);
  ++counters_.confirmations;
  // The shrunk timeout may already have passed: expire at once, never in the past.
  s.deadline = std::max(now, s.start + suspicion_timeout(b, s.confirmers.size() - 1));
  set_timer(TimerKind::swim_suspicion, id, s.deadline, out);
}

void Swim::refute(Instant now, std::uint64_t heard, Effects& out) {
  Member& me = self_member();
  ++counters_.refutes;
  if (config_.lifeguard) awareness_.apply(1);
  change(now, 0, MemberState::alive, std::max(heard, me.info.incarnation) + 1, address_, false, out);
  broadcast(self_, AliveMsg{self_, address_, me.info.incarnation});
  refuted_.push_back(0);  // self
}

void Swim::apply_about_self(Instant now, const Update& u, Effects& out) {
  const Member& me = self_member();
  if (left_) {
    ++counters_.updates_ignored;  // we are leaving: nothing to refute
    return;
  }
  const bool newer_alive = u.state == MemberState::alive && u.incarnation > me.info.incarnation;
  const bool accusation = u.state != MemberState::alive && u.incarnation >= me.info.incarnation;
  const bool other_address = u.state == MemberState::alive && u.incarnation == me.info.incarnation &&
                             u.address != address_;
  // Whoever accuses us, now or with an old incarnation, is told our alive
  // directly at the end of the packet (spread_refutations): its suspicion
  // timeout is racing our refutation, and the random gossip picks may miss
  // it (cluster_alerts seed 62: a paused member's refutation reached its
  // first accuser 1 ms after that accuser's deadline).
  if (u.state != MemberState::alive && !u.from.empty() && u.from != self_ && accusers_.size() < 64 &&
      std::find(accusers_.begin(), accusers_.end(), u.from) == accusers_.end()) {
    accusers_.emplace_back(u.from);
  }
  if (newer_alive || accusation || other_address) {
    const bool foreign = u.state == MemberState::alive && u.address != address_;
    if (foreign && refuted_foreign_at_ != 0 && u.incarnation >= refuted_foreign_at_) {
      ++counters_.name_conflicts;
      name_conflict_address_ = u.address;
    }
    refute(now, u.incarnation, out);
    if (foreign) refuted_foreign_at_ = me.info.incarnation;
    return;
  }
  ++counters_.updates_ignored;
  if (u.state != MemberState::alive && !broadcasts_.contains(broadcast_key(self_))) {
    // A stale accusation: someone still believes it after our refutation
    // stopped circulating. Re-queue our alive so the reply (the ack to a
    // buddy ping, the next gossip) corrects them before their timeout.
    ++counters_.stale_accusations;
    broadcast(self_, AliveMsg{self_, address_, me.info.incarnation});
  }
}

// Applies one update to the view. Returns true when the view changed (the
// update is then re-broadcast, infection-style).
bool Swim::apply(Instant now, const Update& u, Effects& out) {
  if (u.name == self_) {
    apply_about_self(now, u, out);
    return false;
  }
  Member* found = find_member(u.name);
  if (found == nullptr) {
    if (by_name_.size() >= config_.max_members) {
      ++counters_.members_refused;
      return false;
    }
    const MemberId id = add_member(now, u);
    change(now, id, u.state, u.incarnation, u.address, true, out);
    if (u.state == MemberState::suspect) start_suspicion(now, id, u.from, out);
    ++counters_.updates_applied;
    return true;
  }
  const Member& m = *found;
  const auto id = static_cast<MemberId>(found - members_.data());
  if (holds_at_least(m.info, u.incarnation, u.state, u.address)) {
    // Same suspicion from another member: an independent confirmation.
    if (u.state == MemberState::suspect && m.info.state == MemberState::suspect &&
        u.incarnation == m.info.incarnation && !suspicions_.at(id).confirmed_by(u.from)) {
      const std::size_t before = suspicions_.at(id).confirmers.size();
      confirm_suspicion(now, id, u.from, out);
      return suspicions_.at(id).confirmers.size() != before;
    }
    ++counters_.updates_ignored;
    return false;
  }
  // Still suspect at the same incarnation (only the address differs): the
  // same suspicion. At a newer incarnation the member refuted in between and
  // was accused again: a new suspicion with a fresh timeout.
  const bool same_suspicion = m.info.state == MemberState::suspect && u.state == MemberState::suspect &&
                              m.info.incarnation == u.incarnation;
  if (m.info.state == MemberState::suspect && u.state == MemberState::alive) refuted_.push_back(id);
  change(now, id, u.state, u.incarnation, u.address, false, out);
  if (u.state == MemberState::suspect) {
    if (same_suspicion) {
      confirm_suspicion(now, id, u.from, out);
    } else {
      start_suspicion(now, id, u.from, out);
    }
  }
  ++counters_.updates_applied;
  return true;
}

// ---------------------------------------------------------------- inputs

void Swim::join(Instant now, std::vector<Address> seeds, Effects& out) {
  Member& me = self_member();
  if (started_ && !left_) return;  // already running
  const bool first_time = !ever_started_;
  started_ = ever_started_ = true;
  if (left_) {
    left_ = false;
    change(now, 0, MemberState::alive, me.info.incarnation + 1, address_, false, out);
  } else if (first_time) {
    change(now, 0, MemberState::alive, me.info.incarnation, address_, true, out);
  }
  broadcast(self_, AliveMsg{self_, address_, me.info.incarnation});

  seeds_.clear();
  for (auto& s : seeds) {
    if (s.empty() || s == address_ || s.size() > wire::kMaxAddressBytes) continue;
    if (std::find(seeds_.begin(), seeds_.end(), s) != seeds_.end()) continue;
    if (seeds_.size() >= config_.max_seeds) break;
    seeds_.push_back(std::move(s));
  }
  joined_ = seeds_.empty();
  join_backoff_ = config_.min_join_backoff;
  if (!joined_) attempt_join(now, out);
  start_timers(now, out);
}

void Swim::start_timers(Instant now, Effects& out) {
  // Staggered first firings (as memberlist does) so nodes started together
  // do not probe and gossip in lockstep.
  next_probe_at_ = now + rng_.duration_between(Duration::zero(), config_.probe_interval);
  next_gossip_at_ = now + rng_.duration_between(Duration::zero(), config_.gossip_interval);
  next_push_pull_at_ = now + rng_.duration_between(Duration::zero(), push_pull_interval_now());
  push_pull_staggered_ = false;
  next_reconnect_at_ = now + rng_.duration_between(Duration::zero(), config_.reconnect_interval);
  next_reap_at_ = now + std::clamp(config_.dead_reap_after / 4, Duration::milliseconds(100),
                                   Duration::seconds(15));
  set_timer(TimerKind::swim_probe, kSingleton, next_probe_at_, out);
  set_timer(TimerKind::swim_gossip, kSingleton, next_gossip_at_, out);
  set_timer(TimerKind::swim_push_pull, kSingleton, std::min(next_push_pull_at_, next_reconnect_at_), out);
  set_timer(TimerKind::swim_reap, kSingleton, next_reap_at_, out);
}

void Swim::attempt_join(Instant now, Effects& out) {
  ++counters_.join_attempts;
  for (const Address& seed : seeds_) send_push_pull(seed, false, true, out);
  // Full jitter in [backoff/2, backoff], then double up to the maximum.
  const Duration wait = rng_.duration_between(join_backoff_ / 2, join_backoff_);
  join_at_ = now + wait;
  set_timer(TimerKind::swim_join, kSingleton, join_at_, out);
  join_backoff_ = std::min(join_backoff_ * 2, config_.max_join_backoff);
}

void Swim::leave(Instant now, Effects& out) {
  if (!started_ || left_) return;
  left_ = true;
  Member& me = self_member();
  change(now, 0, MemberState::left, me.info.incarnation, address_, false, out);
  const DeadMsg msg{self_, address_, me.info.incarnation, self_, true};
  broadcast(self_, msg);
  if (probe_) {
    cancel_timer(TimerKind::swim_ack_timeout, probe_->seq, out);
    cancel_timer(TimerKind::swim_probe_deadline, probe_->seq, out);
    probe_.reset();
  }
  cancel_timer(TimerKind::swim_probe, kSingleton, out);
  cancel_timer(TimerKind::swim_push_pull, kSingleton, out);
  cancel_timer(TimerKind::swim_join, kSingleton, out);
  gossip_round(now, out);  // tell a few members at once; gossip drains the rest
}

void Swim::handle_timer(Instant now, TimerKey key, Effects& out) {
  switch (key.kind) {
    case TimerKind::swim_probe:
      on_probe_timer(now, out);
      return;
    case TimerKind::swim_ack_timeout: {
      if (probe_ && probe_->seq == key.id) {
        if (probe_->indirect) return;
        if (now < probe_->ack_timeout_at) {
          set_timer(key.kind, key.id, probe_->ack_timeout_at, out);
          return;
        }
        send_ping_reqs(now, out);
        return;
      }
      auto r = relays_.find(key.id);
      if (r == relays_.end() || !r->second.want_nack || r->second.nacked) return;
      if (now < r->second.nack_at) {
        set_timer(key.kind, key.id, r->second.nack_at, out);
        return;
      }
      // Lifeguard 4.2: the target did not answer us in time either; tell the
      // origin we are alive and trying, so it does not blame its own health.
      r->second.nacked = true;
      ++counters_.nacks_sent;
      send_message(r->second.origin, r->second.channel, NackMsg{r->second.origin_seq}, out);
      return;
    }
    case TimerKind::swim_probe_deadline: {
      if (probe_ && probe_->seq == key.id) {
        if (!probe_->indirect) {
          // The ack timeout has not fired yet (both overdue after a pause):
          // probe indirectly first, with its full window.
          send_ping_reqs(now, out);
          return;
        }
        if (now < probe_->deadline_at) {
          set_timer(key.kind, key.id, probe_->deadline_at, out);
          return;
        }
        conclude_probe(now, out);
        return;
      }
      auto r = relays_.find(key.id);
      if (r == relays_.end()) return;
      if (now < r->second.expire_at) {
        set_timer(key.kind, key.id, r->second.expire_at, out);
        return;
      }
      relays_.erase(r);
      return;
    }
    case TimerKind::swim_suspicion: {
      if (key.id >= members_.size()) return;
      const Member& m = members_[key.id];
      if (!m.used || m.info.state != MemberState::suspect) return;
      const Instant deadline = suspicions_.at(static_cast<MemberId>(key.id)).deadline;
      if (now < deadline) {
        set_timer(key.kind, key.id, deadline, out);
        return;
      }
      ++counters_.deaths_declared;
      const DeadMsg msg{m.info.name, m.info.address, m.info.incarnation, self_, false};
      if (apply(now, Update{msg.name, msg.address, MemberState::dead, msg.incarnation, self_}, out)) {
        broadcast(msg.name, msg);
      }
      return;
    }
    case TimerKind::swim_gossip:
      on_gossip_timer(now, out);
      return;
    case TimerKind::swim_push_pull:
      on_push_pull_timer(now, out);
      return;
    case TimerKind::swim_join:
      if (!started_ || left_ || joined_) return;
      if (now < join_at_) {
        set_timer(key.kind, key.id, join_at_, out);
        return;
      }
      attempt_join(now, out);
      return;
    case TimerKind::swim_reap:
      on_reap_timer(now, out);
      return;
    default:
      return;  // not ours
  }
}

std::optional<SwimMessage> Swim::decode_part(const wire::Part& part) {
  if (!is_membership_part(part.type) ||
      static_cast<std::uint16_t>(part.type) > static_cast<std::uint16_t>(wire::PartType::push_pull)) {
    ++counters_.unknown_parts;
    return std::nullopt;
  }
  auto decoded = decode_message(part);
  if (!decoded) {
    ++counters_.malformed_parts;
    return std::nullopt;
  }
  return std::move(*decoded);
}

bool Swim::holds_already(const AliveView& a) const {
  if (a.name == self_) return false;  // apply_about_self may refute it
  const Member* m = find_member(a.name);
  return m != nullptr && holds_at_least(m->info, a.incarnation, MemberState::alive, a.address);
}

void Swim::handle_part(Instant now, const wire::Header& from, const wire::Part& part, Channel channel,
                       Effects& out) {
  if (const auto a = view_alive(part); a && holds_already(*a)) {
    ++counters_.updates_ignored;
  } else if (auto m = decode_part(part)) {
    handle_message(now, from, *m, channel, out);
  }
  spread_refutations(out);
  pull_stranger(now, from, channel, out);
}

void Swim::handle_parts(Instant now, const wire::Header& from, std::span<const wire::Part> parts, Channel channel,
                        Effects& out) {
  if (parts.size() == 1) return handle_part(now, from, parts.front(), channel, out);
  // Alives are only viewed (most turn out stale); other parts are decoded.
  // Not kept between packets: a scratch vector per member would cost more
  // memory in a 1,000-member simulation than its allocation costs time.
  std::vector<std::variant<AliveView, SwimMessage>> batch;
  batch.reserve(parts.size());
  for (const wire::Part& part : parts) {
    if (const auto a = view_alive(part)) {
      batch.emplace_back(*a);
    } else if (auto m = decode_part(part)) {
      batch.emplace_back(std::move(*m));
    }
  }
  prefetch_members(batch);
  for (const auto& item : batch) {
    if (const auto* a = std::get_if<AliveView>(&item)) {
      // What apply() would find, without the copies: exact in any order
      // within the packet, since apply() only raises a member's rank.
      if (holds_already(*a)) {
        ++counters_.updates_ignored;
      } else {
        handle_message(now, from, AliveMsg{std::string(a->name), std::string(a->address), a->incarnation},
                       channel, out);
      }
    } else {
      handle_message(now, from, std::get<SwimMessage>(item), channel, out);
    }
  }
  spread_refutations(out);
  pull_stranger(now, from, channel, out);
}

// cluster_crash_100 seed 190: n76 missed n26's join (9.3 s) and held no
// entry for it until a push-pull 88 s later, while n26's gossip reached it
// every few seconds.
void Swim::pull_stranger(Instant now, const wire::Header& from, Channel channel, Effects& out) {
  if (!started_ || left_ || !joined_ || channel != Channel::datagram || from.sender == self_) return;
  if (now < next_stranger_pull_at_ || find_member(from.sender) != nullptr) return;
  next_stranger_pull_at_ = now + config_.push_pull_interval;
  ++counters_.stranger_pulls;
  send_push_pull(from.address, false, false, out);
}

// A refutation races the suspicion timeouts of every member that holds the
// suspicion (Lifeguard shortens them to the minimum once confirmed). So a
// member that refutes, or first hears a refutation of a suspicion it held,
// sends it at once to gossip_nodes random members, in one datagram per
// member, instead of waiting for its next gossip tick: each hop costs a link
// latency, not up to a gossip interval. These are extra datagrams: the
// queued broadcast keeps its whole transmit budget for the ticks (spent in
// one burst right after a heal, it reached only the members already in
// view, and one that refuted its own death a moment later missed it).
void Swim::spread_refutations(Effects& out) {
  tell_accusers(out);
  if (refuted_.empty()) return;
  std::vector<MemberId> ids = std::move(refuted_);
  refuted_.clear();
  if (!started_ || live_.empty() || config_.gossip_nodes == 0) return;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<wire::EncodedPart> parts;
  for (MemberId id : ids) {
    const MemberInfo& m = members_[id].info;
    if (m.state != MemberState::alive) continue;  // accused again since
    parts.push_back(encode_message(AliveMsg{m.name, m.address, m.incarnation}));
  }
  // One datagram's worth (a push-pull can end many suspicions at once); the
  // rest ride the gossip as ever.
  wire::PacketBuilder fits(header(), config_.max_packet_bytes);
  std::vector<const wire::EncodedPart*> refs;
  for (const auto& p : parts) {
    if (fits.try_add(p)) refs.push_back(&p);
  }
  if (refs.empty()) return;
  ++counters_.eager_gossip_rounds;
  for (std::size_t j : random_picks(live_.size())) {
    send(members_[live_[j]].info.address, Channel::datagram, refs, false, out);
  }
}

void Swim::tell_accusers(Effects& out) {
  if (accusers_.empty()) return;
  std::vector<std::string> names = std::move(accusers_);
  accusers_.clear();
  if (!started_ || left_) return;
  const MemberInfo& me = self_member().info;
  if (me.state != MemberState::alive) return;
  if (accusers_told_incarnation_ != me.incarnation) {
    accusers_told_.clear();
    accusers_told_incarnation_ = me.incarnation;
  }
  for (const std::string& name : names) {
    if (std::find(accusers_told_.begin(), accusers_told_.end(), name) != accusers_told_.end()) continue;
    const Member* m = find_member(name);
    if (m == nullptr || !is_live(m->info.state)) continue;
    if (accusers_told_.size() < config_.max_members) accusers_told_.push_back(name);
    ++counters_.accusers_told;
    send_message(m->info.address, Channel::datagram, AliveMsg{self_, address_, me.incarnation}, out);
  }
}

void Swim::prefetch_members(std::span<const std::variant<AliveView, SwimMessage>> batch) const {
  const auto name_of = [](const std::variant<AliveView, SwimMessage>& item) -> std::optional<std::string_view> {
    if (const auto* v = std::get_if<AliveView>(&item)) return v->name;
    const SwimMessage& m = std::get<SwimMessage>(item);
    if (const auto* s = std::get_if<SuspectMsg>(&m)) return s->name;
    if (const auto* d = std::get_if<DeadMsg>(&m)) return d->name;
    return std::nullopt;
  };
  // Two rounds: the index entries, then (once they are in) the records.
  for (const auto& item : batch) {
    if (const auto name = name_of(item)) index_.prefetch(*name);
  }
  for (const auto& item : batch) {
    if (const auto name = name_of(item)) {
      index_.for_each_candidate(*name, [this](MemberId id) {
        const char* record = reinterpret_cast<const char*>(&members_[id]);
        __builtin_prefetch(record);
        __builtin_prefetch(record + sizeof(Member) - 1);
      });
    }
  }
}

void Swim::handle_message(Instant now, const wire::Header& from, const SwimMessage& message, Channel channel,
                          Effects& out) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, PingMsg>) {
          on_ping(now, from, m, channel, out);
        } else if constexpr (std::is_same_v<T, PingReqMsg>) {
          on_ping_req(now, from, m, channel, out);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          on_ack(now, m, out);
        } else if constexpr (std::is_same_v<T, NackMsg>) {
          on_nack(m);
        } else if constexpr (std::is_same_v<T, AliveMsg>) {
          if (apply(now, Update{m.name, m.address, MemberState::alive, m.incarnation, {}}, out)) {
            broadcast(m.name, m);
          }
        } else if constexpr (std::is_same_v<T, SuspectMsg>) {
          answer_stale_accusation(from, m.name, m.incarnation, channel, out);
          if (apply(now, Update{m.name, m.address, MemberState::suspect, m.incarnation, m.from}, out)) {
            broadcast(m.name, m);
          }
        } else if constexpr (std::is_same_v<T, DeadMsg>) {
          const MemberState s = m.left ? MemberState::left : MemberState::dead;
          if (!m.left) answer_stale_accusation(from, m.name, m.incarnation, channel, out);
          if (!m.left && accuser_out_of_the_group(m.name, m.from)) return;
          if (apply(now, Update{m.name, m.address, s, m.incarnation, m.from}, out)) {
            broadcast(m.name, m);
          }
        } else if constexpr (std::is_same_v<T, PushPullMsg>) {
          on_push_pull(now, from, m, out);
        }
      },
      message);
}

// A death of another member declared by a member this node holds dead or
// left: the accuser is out of the group here, and its view stopped being
// updated (a member cut off from everyone suspects everyone it probes, and
// its suspicions expire). Applying it would let an isolated member's
// timeouts kill members it merely cannot hear: a member that missed both the
// suspicion and its refutation (transmit-limited gossip reaches most
// members, not all) applied the isolated member's death of a healthy one
// (cluster_one_way_partition seed 44). The same holds for a death listed in
// its push-pull (on_push_pull). Its suspicions are still applied: they
// reach the accused, which refutes, and the refutation is what ends the
// suspicion in the accuser's own view once it is back. Were they ignored,
// the accused would never hear of them, and the accuser would declare the
// death right after the heal (seed 1 of the same scenario). Deaths declared by members held alive or
// suspect, or unknown, apply as in SWIM; about this node we refute whoever
// accuses (apply_about_self).
bool Swim::accuser_out_of_the_group(std::string_view accused, std::string_view accuser) {
  if (accused == self_ || accuser == accused || accuser == self_) return false;
  const Member* m = find_member(accuser);
  if (m == nullptr || is_live(m->info.state)) return false;
  // Counted when it spared a member held live (else nothing was at stake).
  if (const Member* a = find_member(accused); a != nullptr && is_live(a->info.state)) {
    ++counters_.deaths_from_the_dead;
  }
  return true;
}

// Someone tells us that `about` is suspect or dead at an incarnation it has
// already refuted: we hold it alive at a higher one. The sender missed the
// refutation (it lost every gossiped copy, or the gossip ran out while it
// was cut off), and nothing else would tell it before a push-pull. Answer
// it directly with the alive we hold, rather than hoping the gossip reaches
// it. About ourselves that is our own alive (apply() also re-queues it for
// gossip); about another member, the alive we learnt. One datagram per
// stale copy received, and a stale copy only travels until its holder
// learns better, so the answers die out with the rumour.
void Swim::answer_stale_accusation(const wire::Header& from, const std::string& about, std::uint64_t incarnation,
                                   Channel channel, Effects& out) {
  if (left_ || channel != Channel::datagram || from.sender == self_) return;
  const Member* m = about == self_ ? &self_member() : find_member(about);
  if (m == nullptr || m->info.state != MemberState::alive) return;
  if (incarnation >= m->info.incarnation) return;  // a current accusation: apply() handles it
  ++counters_.stale_accusers_answered;
  send_message(from.address, Channel::datagram, AliveMsg{m->info.name, m->info.address, m->info.incarnation}, out);
}

// ---------------------------------------------------------------- probing

void Swim::on_probe_timer(Instant now, Effects& out) {
  if (!started_ || left_) return;
  if (now < next_probe_at_) {
    set_timer(TimerKind::swim_probe, kSingleton, next_probe_at_, out);
    return;
  }
  if (probe_) {
    if (now < probe_->deadline_at) {
      // The previous probe's indirect phase is still running (it started
      // late): one probe at a time, the next period waits for it.
      next_probe_at_ = probe_->deadline_at;
      set_timer(TimerKind::swim_probe, kSingleton, next_probe_at_, out);
      return;
    }
    conclude_probe(now, out);  // its deadline did not fire first
  }
  start_probe(now, out);
  next_probe_at_ = now + awareness_.scale(config_.probe_interval);
  set_timer(TimerKind::swim_probe, kSingleton, next_probe_at_, out);
}

// The slotted ring (see "Failure detection" in swim.h). Global step
// s = floor(now / probe_interval); this node probes the member k + 1 places
// after itself on the ring, k = s mod (n - 1), or the next offset not yet
// probed in its cycle when that one was (it ticked twice in a step, or its
// interval is stretched). A cycle probes each offset once: n - 1 probes.
const Swim::Member* Swim::next_probe_target(Instant now) {
  const std::size_t n = ring_.size();
  if (n < 2) return nullptr;
  const std::size_t offsets = n - 1;
  if (cycle_probed_.size() != offsets) {
    cycle_probed_.assign(offsets, false);
    cycle_count_ = 0;
  }
  const std::int64_t step = std::max<std::int64_t>(0, now.ns()) / config_.probe_interval.ns();
  std::size_t k = static_cast<std::size_t>(step) % offsets;
  while (cycle_probed_[k]) k = (k + 1) % offsets;  // ends: the cycle is not full
  cycle_probed_[k] = true;
  if (++cycle_count_ == offsets) {
    cycle_probed_.assign(offsets, false);
    cycle_count_ = 0;
  }
  const std::size_t self_pos = static_cast<std::size_t>(ring_place(0) - ring_.begin());
  return &members_[ring_[(self_pos + 1 + k) % n].id];
}

void Swim::start_probe(Instant now, Effects& out) {
  const Member* target = next_probe_target(now);
  if (target == nullptr) return;

  ++counters_.probes;
  ++counters_.pings_sent;
  Probe p;
  p.seq = next_seq_++;
  p.target = target->info.name;
  p.target_incarnation = target->info.incarnation;
  p.ack_timeout_at = now + awareness_.scale(config_.probe_timeout);
  p.deadline_at = now + awareness_.scale(config_.probe_interval);
  const wire::EncodedPart ping = encode_message(PingMsg{p.seq, p.target});
  if (target->info.state == MemberState::suspect) {
    // Buddy system (Lifeguard 4.3): the suspect hears of its suspicion first.
    const wire::EncodedPart sus = encode_message(
        SuspectMsg{p.target, target->info.address, target->info.incarnation, self_});
    send(target->info.address, Channel::datagram, {&sus, &ping}, true, out);
  } else {
    send(target->info.address, Channel::datagram, {&ping}, true, out);
  }
  set_timer(TimerKind::swim_ack_timeout, p.seq, p.ack_timeout_at, out);
  set_timer(TimerKind::swim_probe_deadline, p.seq, p.deadline_at, out);
  probe_ = std::move(p);
}

void Swim::send_ping_reqs(Instant now, Effects& out) {
  Probe& p = *probe_;
  p.indirect = true;
  // The indirect phase always gets its full window (probe interval minus
  // probe timeout, scaled as at the start), even when this fires late.
  const Duration window = p.deadline_at - p.ack_timeout_at;
  if (p.deadline_at < now + window) {
    p.deadline_at = now + window;
    set_timer(TimerKind::swim_probe_deadline, p.seq, p.deadline_at, out);
  }
  const Member* target = find_member(p.target);
  if (target == nullptr) return;
  const Address target_address = target->info.address;
  const auto helpers = random_live(config_.indirect_checks, true, p.target);
  const PingReqMsg req{p.seq, p.target, target_address, config_.lifeguard};
  const wire::EncodedPart part = encode_message(req);
  for (const Member* h : helpers) {
    ++counters_.ping_reqs_sent;
    send(h->info.address, Channel::datagram, {&part}, true, out);
  }
  p.expected_nacks = config_.lifeguard ? helpers.size() : 0;
}

void Swim::conclude_probe(Instant now, Effects& out) {
  Probe p = std::move(*probe_);
  probe_.reset();
  cancel_timer(TimerKind::swim_ack_timeout, p.seq, out);
  cancel_timer(TimerKind::swim_probe_deadline, p.seq, out);
  ++counters_.probes_failed;
  // Lifeguard 4.2: missing nacks mean we, not the target, may be the slow one.
  if (config_.lifeguard) {
    if (p.expected_nacks > 0) {
      if (p.nacks < p.expected_nacks) awareness_.apply(static_cast<std::int64_t>(p.expected_nacks - p.nacks));
    } else {
      awareness_.apply(1);
    }
  }
  const Member* target = find_member(p.target);
  if (target == nullptr || !is_live(target->info.state)) return;
  const Member& m = *target;
  const SuspectMsg msg{m.info.name, m.info.address, p.target_incarnation, self_};
  if (apply(now, Update{msg.name, msg.address, MemberState::suspect, msg.incarnation, self_}, out)) {
    broadcast(msg.name, msg);
  }
}

std::vector<const Swim::Member*> Swim::random_live(std::size_t k, bool alive_only,
                                                   std::string_view exclude) {
  std::vector<const Member*> chosen;
  if (k == 0 || live_.empty()) return chosen;
  auto eligible = [&](const Member& m) {
    if (m.info.name == exclude) return false;
    if (alive_only && m.info.state != MemberState::alive) return false;
    return std::find(chosen.begin(), chosen.end(), &m) == chosen.end();
  };
  // Rejection sampling, then a linear scan when the pool is mostly ineligible.
  const std::size_t tries = 4 * k + 8;
  for (std::size_t t = 0; t < tries && chosen.size() < k; ++t) {
    const Member& m = members_[live_[rng_.below(live_.size())]];
    if (eligible(m)) chosen.push_back(&m);
  }
  if (chosen.size() < k) {
    std::vector<const Member*> rest;
    for (MemberId id : live_) {
      if (eligible(members_[id])) rest.push_back(&members_[id]);
    }
    while (chosen.size() < k && !rest.empty()) {
      const std::size_t j = rng_.below(rest.size());
      chosen.push_back(rest[j]);
      rest[j] = rest.back();
      rest.pop_back();
    }
  }
  return chosen;
}

void Swim::on_ping(Instant now, const wire::Header& from, const PingMsg& m, Channel channel,
                   Effects& out) {
  (void)now;
  if (m.target != self_) {
    ++counters_.misdirected_pings;  // an old address now used by someone else
    return;
  }
  ++counters_.acks_sent;
  // A member we hold suspect or dead is pinging us: it has not heard the
  // accusation (its gossip may have run out while the two could not talk,
  // e.g. across a partition that has healed since). Tell it with the ack,
  // so it refutes now instead of at the next push-pull, up to 30 s later,
  // or never hearing of a suspicion that then ends in a false death.
  const wire::EncodedPart ack = encode_message(AckMsg{m.seq});
  const Member* sender = find_member(from.sender);
  if (sender != nullptr && from.sender != self_ &&
      (sender->info.state == MemberState::suspect || sender->info.state == MemberState::dead)) {
    const MemberInfo& info = sender->info;
    const wire::EncodedPart accusation =
        info.state == MemberState::suspect
            ? encode_message(SuspectMsg{info.name, info.address, info.incarnation, self_})
            : encode_message(DeadMsg{info.name, info.address, info.incarnation, self_, false});
    ++counters_.accusations_told;
    send(from.address, channel, {&ack, &accusation}, true, out);
    return;
  }
  send(from.address, channel, {&ack}, true, out);
}

void Swim::on_ping_req(Instant now, const wire::Header& from, const PingReqMsg& m, Channel channel,
                       Effects& out) {
  if (m.target == self_) {  // asked to probe ourselves: just answer
    ++counters_.acks_sent;
    send_message(from.address, channel, AckMsg{m.seq}, out);
    return;
  }
  if (relays_.size() >= config_.max_relays) {
    ++counters_.relays_refused;
    return;
  }
  ++counters_.relays;
  const std::uint64_t seq = next_seq_++;
  Relay r;
  r.origin_seq = m.seq;
  r.origin = from.address;
  r.channel = channel;
  r.want_nack = m.want_nack;
  const auto nack_after = Duration::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(config_.probe_timeout.ns()) * config_.nack_timeout_fraction));
  r.nack_at = now + nack_after;
  r.expire_at = now + config_.probe_timeout;
  relays_.emplace(seq, std::move(r));
  ++counters_.pings_sent;
  send_message(m.target_address, Channel::datagram, PingMsg{seq, m.target}, out);
  if (m.want_nack) set_timer(TimerKind::swim_ack_timeout, seq, now + nack_after, out);
  set_timer(TimerKind::swim_probe_deadline, seq, now + config_.probe_timeout, out);
}

void Swim::on_ack(Instant now, const AckMsg& m, Effects& out) {
  (void)now;
  if (probe_ && probe_->seq == m.seq) {
    ++counters_.acks_received;
    if (probe_->indirect) ++counters_.indirect_acks;
    if (config_.lifeguard) awareness_.apply(-1);
    cancel_timer(TimerKind::swim_ack_timeout, m.seq, out);
    cancel_timer(TimerKind::swim_probe_deadline, m.seq, out);
    probe_.reset();
    return;
  }
  auto r = relays_.find(m.seq);
  if (r == relays_.end()) {
    ++counters_.stale_acks;
    return;
  }
  ++counters_.acks_received;
  ++counters_.acks_sent;
  const Relay relay = std::move(r->second);
  relays_.erase(r);
  if (relay.want_nack) cancel_timer(TimerKind::swim_ack_timeout, m.seq, out);
  cancel_timer(TimerKind::swim_probe_deadline, m.seq, out);
  send_message(relay.origin, relay.channel, AckMsg{relay.origin_seq}, out);
}

void Swim::on_nack(const NackMsg& m) {
  if (probe_ && probe_->seq == m.seq) {
    ++counters_.nacks_received;
    if (probe_->nacks < probe_->expected_nacks) ++probe_->nacks;
    return;
  }
  ++counters_.stale_acks;
}

// ---------------------------------------------------------------- gossip

void Swim::on_gossip_timer(Instant now, Effects& out) {
  if (!started_) return;
  if (now < next_gossip_at_) {
    set_timer(TimerKind::swim_gossip, kSingleton, next_gossip_at_, out);
    return;
  }
  gossip_round(now, out);
  next_gossip_at_ = now + config_.gossip_interval;
  set_timer(TimerKind::swim_gossip, kSingleton, next_gossip_at_, out);
}

// Up to gossip_nodes distinct random indices below `pool` (bounded tries).
std::vector<std::size_t> Swim::random_picks(std::size_t pool) {
  std::vector<std::size_t> picks;
  const std::size_t k = std::min(config_.gossip_nodes, pool);
  for (std::size_t t = 0; t < 4 * k + 8 && picks.size() < k; ++t) {
    const std::size_t j = rng_.below(pool);
    if (std::find(picks.begin(), picks.end(), j) == picks.end()) picks.push_back(j);
  }
  return picks;
}

// Up to gossip_nodes distinct indices below `pool`, the next ones of a
// random cycle through all of them: offset + i * stride (mod pool), the
// stride coprime to pool, both drawn anew when a cycle ends or the pool's
// size changes. So a member's gossip reaches every other member once per
// ceil(pool / gossip_nodes) rounds, as its probes do (the probe ring): a
// broadcast sent retransmit_mult * ceil(log10(n + 1)) times by one member
// reaches that many distinct members. With independent random picks a
// member could miss every copy: in cluster_alerts seed 617 no gossip pick of
// the others named n1 while they gossiped two confirmations of n6's
// suspicion (0.8 s) and then their seven deaths of n6 (0.6 s), and n1 held
// n6 suspect for 21 s more.
std::vector<std::size_t> Swim::gossip_picks(std::size_t pool) {
  std::vector<std::size_t> picks;
  const std::size_t k = std::min(config_.gossip_nodes, pool);
  for (std::size_t t = 0; t < 2 * pool + 2 && picks.size() < k; ++t) {
    if (gossip_cycle_.pool != pool || gossip_cycle_.step >= pool) {
      std::size_t stride = 1;
      if (pool > 2) {
        do {
          stride = 1 + rng_.below(pool - 1);
        } while (std::gcd(stride, pool) != 1);
      }
      gossip_cycle_ = GossipCycle{pool, stride, rng_.below(pool), 0};
    }
    const std::size_t j = (gossip_cycle_.offset + gossip_cycle_.step * gossip_cycle_.stride) % pool;
    ++gossip_cycle_.step;
    if (std::find(picks.begin(), picks.end(), j) == picks.end()) picks.push_back(j);
  }
  return picks;
}

void Swim::gossip_round(Instant now, Effects& out) {
  // Forget members dead for longer than gossip_to_the_dead (or alive again).
  std::erase_if(recently_dead_, [&](const auto& e) {
    const MemberInfo& info = members_[e.first].info;
    return now - e.second >= config_.gossip_to_the_dead || is_live(info.state) || info.state_since != e.second;
  });
  if (broadcasts_.empty()) return;
  const std::size_t pool = live_.size() + recently_dead_.size();
  if (pool == 0) return;
  for (std::size_t j : gossip_picks(pool)) {
    if (broadcasts_.empty()) break;
    const MemberId id = j < live_.size() ? live_[j] : recently_dead_[j - live_.size()].first;
    const Address to = members_[id].info.address;
    ++counters_.gossip_packets;
    send(to, Channel::datagram, {}, true, out);
  }
}

// ---------------------------------------------------------------- push-pull

Duration Swim::push_pull_interval_now() const {
  // memberlist's pushPullScale: past 32 members, add one interval per
  // doubling so the cluster-wide push-pull rate stays bounded.
  constexpr double kThreshold = 32;
  const auto n = static_cast<double>(live_count());
  if (n <= kThreshold) return config_.push_pull_interval;
  const auto mult = static_cast<std::int64_t>(std::ceil(std::log2(n) - std::log2(kThreshold))) + 1;
  return config_.push_pull_interval * mult;
}

void Swim::on_push_pull_timer(Instant now, Effects& out) {
  if (!started_ || left_) return;
  // One timer for two cadences: push-pull with a live member, and the
  // reconnect try to a dead one.
  if (now >= next_push_pull_at_) {
    // The first firing ends the start's stagger and pushes nothing: the
    // first exchange is one interval later, scaled by the view the join
    // brought (memberlist's pushPullTrigger). A joiner holds the seeds'
    // full views already; pushing at the stagger would have every member
    // of a cluster started together exchange its whole view within one
    // unscaled interval of joining (cluster_crash_1000: ~900 exchanges of
    // 1,000 members in 30 s).
    if (push_pull_staggered_) {
      const auto peer = random_live(1, true, {});
      if (!peer.empty()) send_push_pull(peer.front()->info.address, false, false, out);
    }
    push_pull_staggered_ = true;
    next_push_pull_at_ = now + push_pull_interval_now();
  }
  if (now >= next_reconnect_at_) {
    if (config_.reconnect_dead && dead_count_ > 0 &&
        rng_.chance(static_cast<double>(dead_count_) / static_cast<double>(live_count()))) {
      // Uniform among dead members: the k-th one in name order.
      std::size_t k = rng_.below(dead_count_);
      for (MemberId id : by_name_) {
        const Member& m = members_[id];
        if (m.info.state != MemberState::dead) continue;
        if (k-- == 0) {
          ++counters_.reconnects;
          send_push_pull(m.info.address, false, false, out);
          break;
        }
      }
    }
    next_reconnect_at_ = now + config_.reconnect_interval;
  }
  set_timer(TimerKind::swim_push_pull, kSingleton, std::min(next_push_pull_at_, next_reconnect_at_), out);
}

void Swim::send_push_pull(const Address& to, bool reply, bool join, Effects& out) {
  PushPullMsg msg;
  msg.reply = reply;
  msg.join = join;
  msg.members.reserve(by_name_.size());
  // Bounded by max_stream_bytes: an entry costs its strings plus at most 16
  // bytes of framing and integers; room is kept for the header.
  // This node's own entry always goes (a joiner must be learned).
  const auto entry_cost = [](const Member& m) { return m.info.name.size() + m.info.address.size() + 16; };
  std::size_t budget = config_.max_stream_bytes > 1024 ? config_.max_stream_bytes - 1024 : 0;
  budget -= std::min(budget, entry_cost(self_member()));
  bool truncated = false;
  for (MemberId id : by_name_) {
    const Member& m = members_[id];
    if (id != 0) {
      if (truncated || msg.members.size() + 1 >= kMaxPushPullMembers || entry_cost(m) > budget) {
        truncated = true;
        continue;
      }
      budget -= entry_cost(m);
    }
    msg.members.push_back(PushPullEntry{m.info.name, m.info.address, m.info.state, m.info.incarnation});
  }
  if (truncated) ++counters_.push_pulls_truncated;
  ++counters_.push_pulls_sent;
  const wire::EncodedPart part = encode_message(SwimMessage{std::move(msg)});  // moved: no copy of the list
  send(to, Channel::stream, {&part}, false, out);
}

void Swim::on_push_pull(Instant now, const wire::Header& from, const PushPullMsg& m, Effects& out) {
  ++counters_.push_pulls_received;
  if (m.reply && !joined_) {
    joined_ = true;
    cancel_timer(TimerKind::swim_join, kSingleton, out);
  }
  for (const auto& e : m.members) {
    Update u{e.name, e.address, e.state, e.incarnation, from.sender};
    // Looked up only for the entries the rules below read it for (most
    // entries are alive; apply() finds the member again either way).
    const Member* held =
        e.state == MemberState::dead || e.state == MemberState::suspect ? find_member(e.name) : nullptr;
    const bool suspected_here = held != nullptr && held->info.state == MemberState::suspect &&
                                held->info.incarnation == e.incarnation;
    // A push-pull lists the partner's view, not who accused whom:
    // - dead: memberlist's mergeState makes a remote death a local
    //   suspicion, so the member gets its chance to refute here before it is
    //   declared dead. A member this node already suspects at that
    //   incarnation has that chance already (the suspicion runs here): the
    //   partner's death is then the dead broadcast this node missed, and
    //   taken as one. Otherwise an accuser that missed every confirmation
    //   and every dead broadcast (transmit-limited gossip reaches most, not
    //   all) held the member suspect for its whole Lifeguard maximum
    //   although its push-pull partners had long declared it dead
    //   (cluster_alerts seed 94: 20 s after the others).
    // - suspect: a suspicion this node already holds at that incarnation is
    //   not confirmed by the partner, which may only have heard the
    //   accuser's gossip; Lifeguard's confirmations come from suspect
    //   messages, one per accuser (seed 301: two members that had only
    //   heard the accuser became its "confirmers" this way).
    // - dead, from a partner this node holds dead or left: a suspicion as
    //   above, and nothing where this node suspects the member already (its
    //   deaths of others are not taken here: accuser_out_of_the_group).
    if (e.state == MemberState::dead && suspected_here && accuser_out_of_the_group(e.name, from.sender)) continue;
    if (e.state == MemberState::dead && !suspected_here) u.state = MemberState::suspect;
    if (e.state == MemberState::left) u.from = e.name;
    if (e.state == MemberState::suspect && suspected_here) continue;
    const bool changed = apply(now, u, out);
    if (!changed) continue;
    const std::string from_name(u.from);
    switch (u.state) {
      case MemberState::alive: broadcast(e.name, AliveMsg{e.name, e.address, u.incarnation}); break;
      case MemberState::suspect:
        broadcast(e.name, SuspectMsg{e.name, e.address, u.incarnation, from_name});
        break;
      case MemberState::dead:
      case MemberState::left:
        broadcast(e.name, DeadMsg{e.name, e.address, u.incarnation, from_name, u.state == MemberState::left});
        break;
    }
  }
  if (!m.reply) send_push_pull(from.address, true, false, out);
}

// ---------------------------------------------------------------- reaping

void Swim::on_reap_timer(Instant now, Effects& out) {
  if (!started_) return;
  if (now < next_reap_at_) {
    set_timer(TimerKind::swim_reap, kSingleton, next_reap_at_, out);
    return;
  }
  std::vector<MemberId> reaped;
  for (MemberId id : by_name_) {
    const Member& m = members_[id];
    if (id != 0 && !is_live(m.info.state) && now - m.info.state_since >= config_.dead_reap_after) {
      if (m.info.state == MemberState::dead) --dead_count_;
      ++counters_.reaped;
      reaped.push_back(id);
    }
  }
  if (!reaped.empty()) reap(reaped);
  next_reap_at_ = now + std::clamp(config_.dead_reap_after / 4, Duration::milliseconds(100),
                                   Duration::seconds(15));
  set_timer(TimerKind::swim_reap, kSingleton, next_reap_at_, out);
}

}  // namespace heck
