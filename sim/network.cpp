#include "sim/network.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace heck::sim {

EndpointSet EndpointSet::all(std::size_t endpoints) {
  EndpointSet s;
  s.bits_.assign(endpoints, true);
  return s;
}

EndpointSet EndpointSet::of(std::size_t endpoints, std::initializer_list<Endpoint> members) {
  EndpointSet s(endpoints);
  for (Endpoint e : members) s.insert(e);
  return s;
}

void EndpointSet::insert(Endpoint e) {
  assert(e < bits_.size());
  bits_[e] = true;
}

std::size_t EndpointSet::count() const {
  return static_cast<std::size_t>(std::count(bits_.begin(), bits_.end(), true));
}

void LinkOverride::apply_to(LinkConfig& c) const {
  if (latency) c.latency = *latency;
  if (loss) c.loss = *loss;
  if (duplicate) c.duplicate = *duplicate;
  if (reorder) c.reorder = *reorder;
  if (reorder_delay) c.reorder_delay = *reorder_delay;
  if (stream_bytes_per_ms) c.stream_bytes_per_ms = *stream_bytes_per_ms;
}

std::string_view to_string(Fate f) {
  switch (f) {
    case Fate::delivered: return "delivered";
    case Fate::duplicated: return "duplicated";
    case Fate::lost: return "lost";
    case Fate::partitioned: return "partitioned";
    case Fate::refused: return "refused";
    case Fate::timed_out: return "timed_out";
    case Fate::clogged: return "clogged";
    case Fate::overflow: return "overflow";
  }
  return "?";
}

Network::Network(std::size_t endpoints, LinkConfig defaults, Rng rng)
    : endpoints_(endpoints), defaults_(std::move(defaults)), rng_(rng) {
  assert(endpoints > 0);
}

LinkConfig Network::link(Endpoint from, Endpoint to) const {
  LinkConfig c = defaults_;
  for (const auto& o : overrides_) {
    if (o.rule.covers(from, to)) o.o.apply_to(c);
  }
  return c;
}

Network::Rule Network::make_rule(EndpointSet from, EndpointSet to, bool one_way) {
  assert(from.universe() == endpoints_ && to.universe() == endpoints_);
  Rule r;
  r.id = next_rule_id_++;
  r.from = std::move(from);
  r.to = std::move(to);
  r.one_way = one_way;
  return r;
}

std::uint32_t Network::add_override(EndpointSet from, EndpointSet to, bool one_way, LinkOverride o) {
  if (overrides_.size() >= kMaxRules) return kNoRule;
  overrides_.push_back(OverrideRule{make_rule(std::move(from), std::move(to), one_way), std::move(o)});
  return overrides_.back().rule.id;
}

void Network::remove_override(std::uint32_t id) {
  std::erase_if(overrides_, [id](const OverrideRule& r) { return r.rule.id == id; });
}

void Network::clear_overrides() { overrides_.clear(); }

std::uint32_t Network::partition(EndpointSet from, EndpointSet to, bool one_way) {
  if (partitions_.size() >= kMaxRules) return kNoRule;
  partitions_.push_back(make_rule(std::move(from), std::move(to), one_way));
  return partitions_.back().id;
}

void Network::heal(std::uint32_t id) {
  std::erase_if(partitions_, [id](const Rule& r) { return r.id == id; });
}

void Network::heal_all() { partitions_.clear(); }

std::uint32_t Network::clog(EndpointSet from, EndpointSet to, bool one_way) {
  if (clogs_.size() >= kMaxRules) return kNoRule;
  clogs_.push_back(ClogRule{make_rule(std::move(from), std::move(to), one_way), {}});
  return clogs_.back().rule.id;
}

void Network::release(std::uint32_t id, Instant now, std::vector<Arrival>& out) {
  auto it = std::find_if(clogs_.begin(), clogs_.end(), [id](const ClogRule& c) { return c.rule.id == id; });
  if (it == clogs_.end()) return;
  std::vector<std::uint32_t> held = std::move(it->held);
  clogs_.erase(it);
  for (std::uint32_t index : held) {
    ++counters_.released;
    // Another clog may still cover the link: the message stays held there.
    const Message& m = *slab_[index];
    if (ClogRule* other = clog_of(m.from, m.to)) {
      other->held.push_back(index);  // bounded: it came from a list of at most kMaxHeld
      continue;
    }
    depart(now, index, out);
  }
}

void Network::release_all(Instant now, std::vector<Arrival>& out) {
  while (!clogs_.empty()) release(clogs_.front().rule.id, now, out);
}

bool Network::partitioned(Endpoint from, Endpoint to) const {
  return std::any_of(partitions_.begin(), partitions_.end(), [&](const Rule& r) { return r.covers(from, to); });
}

Network::ClogRule* Network::clog_of(Endpoint from, Endpoint to) {
  for (auto& c : clogs_) {
    if (c.rule.covers(from, to)) return &c;
  }
  return nullptr;
}

std::optional<std::uint32_t> Network::store(Message m) {
  if (free_.empty() && slab_.size() >= kMaxInFlight) return std::nullopt;
  in_flight_bytes_ += m.bytes.size();
  counters_.peak_in_flight_bytes = std::max(counters_.peak_in_flight_bytes, in_flight_bytes_);
  if (!free_.empty()) {
    const std::uint32_t index = free_.back();
    free_.pop_back();
    slab_[index] = std::move(m);
    return index;
  }
  slab_.push_back(std::move(m));
  return static_cast<std::uint32_t>(slab_.size() - 1);
}

void Network::free_slot(std::uint32_t index) {
  in_flight_bytes_ -= slab_[index]->bytes.size();
  slab_[index].reset();
  free_.push_back(index);
}

Message Network::take(std::uint32_t index) {
  assert(index < slab_.size() && slab_[index].has_value());
  Message m = std::move(*slab_[index]);
  in_flight_bytes_ -= m.bytes.size();
  slab_[index]->bytes = {};  // moved from: counted out above
  free_slot(index);
  return m;
}

const Message& Network::peek(std::uint32_t index) const {
  assert(index < slab_.size() && slab_[index].has_value());
  return *slab_[index];
}

std::optional<Duration> Network::stream_delay(const LinkConfig& c, std::size_t bytes) {
  Duration total;
  // SYN, SYN-ACK (the connection), then the framed message.
  for (int leg = 0; leg < 3; ++leg) {
    Duration rto = leg < 2 ? Duration::seconds(1) : Duration::milliseconds(200);
    int losses = 0;
    while (rng_.chance(c.loss)) {
      if (++losses > kStreamRetries) return std::nullopt;
      total += rto;
      rto = rto * 2;
    }
    total += c.latency.sample(rng_);
  }
  const double transfer_ms = static_cast<double>(bytes) / c.stream_bytes_per_ms;
  total += Duration::nanoseconds(static_cast<std::int64_t>(std::llround(transfer_ms * 1e6)));
  return total;
}

Fate Network::depart(Instant now, std::uint32_t index, std::vector<Arrival>& out) {
  Message& m = *slab_[index];
  const LinkConfig c = link(m.from, m.to);
  if (m.channel == Channel::stream) {
    const auto delay = stream_delay(c, m.bytes.size());
    if (!delay) {
      ++counters_.timed_out;
      free_slot(index);
      return Fate::timed_out;
    }
    out.push_back(Arrival{now + *delay, index});
    ++counters_.arrivals;
    return Fate::delivered;
  }
  if (rng_.chance(c.loss)) {
    ++counters_.lost;
    free_slot(index);
    return Fate::lost;
  }
  auto delay = [&] {
    Duration d = c.latency.sample(rng_);
    if (rng_.chance(c.reorder)) {
      ++counters_.reordered;
      d += c.reorder_delay.sample(rng_);
    }
    return d;
  };
  out.push_back(Arrival{now + delay(), index});
  ++counters_.arrivals;
  if (!rng_.chance(c.duplicate)) return Fate::delivered;
  Message copy{m.from, m.to, m.channel, m.sent_at, m.bytes};
  const auto second = store(std::move(copy));
  if (!second) {
    ++counters_.overflow;
    return Fate::delivered;
  }
  ++counters_.duplicated;
  ++counters_.arrivals;
  out.push_back(Arrival{now + delay(), *second});
  return Fate::duplicated;
}

Fate Network::send(Instant now, Endpoint from, Endpoint to, Channel channel, SharedBytes bytes, std::vector<Arrival>& out) {
  assert(from < endpoints_ && to < endpoints_);
  if (channel == Channel::stream) {
    ++counters_.streams_sent;
  } else {
    ++counters_.datagrams_sent;
  }
  counters_.bytes_sent += bytes.size();
  if (channel == Channel::stream) {
    if (partitioned(from, to) || partitioned(to, from)) {
      ++counters_.refused;
      return Fate::refused;
    }
  } else if (partitioned(from, to)) {
    ++counters_.partitioned;
    return Fate::partitioned;
  }
  const auto index = store(Message{from, to, channel, now, std::move(bytes)});
  if (!index) {
    ++counters_.overflow;
    return Fate::overflow;
  }
  if (ClogRule* c = clog_of(from, to)) {
    if (c->held.size() >= kMaxHeld) {
      free_slot(*index);
      ++counters_.overflow;
      return Fate::overflow;
    }
    c->held.push_back(*index);
    ++counters_.clogged;
    return Fate::clogged;
  }
  return depart(now, *index, out);
}

}  // namespace heck::sim
